/* fuzz-pickle.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The restricted pickle VM, and what a PyTorch import does with the
 * object graph it builds. Each input is a pickle stream, run with the
 * persistent ids of zip archives and, when that fails or the pickle
 * names storages, with those of legacy files. A pickle that loads:
 *
 *  - has its object graph walked: types, strings, dict keys as flattened
 *    names, storages and tensors, and its JSON text, which must parse;
 *  - is wrapped in a checkpoint of that format, as data.pkl of a zip
 *    archive (stored entries, big-endian for some input lengths) or as
 *    the object pickle of a legacy file, with every storage it names
 *    that is small enough filled with known bytes. The checkpoint must
 *    open, and its import is planned with every flag and written: the
 *    output must open with the strict reader and hold exactly what a
 *    naive strided gather of the storages gives.
 *
 * Errors must be SafetensorsErrors of the documented codes. */

#include <string.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "fuzz-torch-common.h"
#include "safetensors-pickle-private.h"
#include "safetensors-zip-private.h"

/* Storages beyond this, in all, are left out of the checkpoint. */
#define MAX_STORAGE_BYTES (64 * 1024)
/* The JSON text of the whole graph is cut at this length. */
#define MAX_JSON (64 * 1024)

static FuzzScratch scratch;
static char *out_dir;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init ();
  fuzz_use_memory_tmpdir ();
  fuzz_scratch_init (&scratch);
  out_dir = fuzz_torch_make_out_dir ();
  return 0;
}

static void
check_load_error (const GError *error)
{
  g_assert_nonnull (error);
  g_assert_true (error->domain == SAFETENSORS_ERROR);
  g_assert_true (error->code == SAFETENSORS_ERROR_INVALID_DATA ||
                 error->code == SAFETENSORS_ERROR_UNSAFE_PICKLE ||
                 error->code == SAFETENSORS_ERROR_UNSUPPORTED);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  /* Every message says where. */
  if (strstr (error->message, "at byte ") == NULL)
    g_error ("“%s” does not give the position", error->message);
}

/* ---- the object graph --------------------------------------------------- */

/* Strings hold UTF-8, NUL-terminated, possibly with NULs inside. */
static void
check_string (const SafetensorsPickleObject *object,
              gboolean                       utf8)
{
  const char *p = object->str.data;
  const char *end = p + object->str.len;

  g_assert_nonnull (object->str.data);
  g_assert_cmpint (object->str.data[object->str.len], ==, '\0');
  while (utf8 && p < end)
    {
      const char *stop = NULL;

      if (g_utf8_validate_len (p, end - p, &stop))
        break;
      g_assert_cmpint (*stop, ==, '\0');
      p = stop + 1;
    }
}

static void
check_storage (SafetensorsPickle              *pickle,
               const SafetensorsPickleStorage *storage)
{
  guint64 n_bytes;

  g_assert_true (g_hash_table_lookup (safetensors_pickle_get_storages (pickle), storage->key) == storage);
  g_assert_cmpuint (strlen (storage->key), >, 0);
  g_assert_true (g_utf8_validate (storage->location, -1, NULL));
  g_assert_true (g_uint64_checked_mul (&n_bytes, storage->numel,
                                       safetensors_torch_dtype_get_itemsize (storage->dtype)));
  g_assert_cmpuint (n_bytes, ==, storage->n_bytes);
  g_assert_nonnull (safetensors_torch_dtype_get_name (storage->dtype));
}

static void
check_graph (SafetensorsPickle       *pickle,
             SafetensorsPickleObject *root)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  g_autoptr(GPtrArray) todo = g_ptr_array_new ();
  g_autoptr(GString) json = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  GHashTableIter iter;
  gpointer value;

  g_ptr_array_add (todo, root);
  while (todo->len > 0)
    {
      SafetensorsPickleObject *object = g_ptr_array_steal_index_fast (todo, todo->len - 1);
      const char *type_name;

      if (object == NULL || !g_hash_table_add (seen, object))
        {
          g_assert_nonnull (object);
          continue;
        }
      type_name = safetensors_pickle_object_type_name (object);
      g_assert_nonnull (type_name);
      g_assert_true (g_utf8_validate (type_name, -1, NULL));

      switch (object->type)
        {
        case SAFETENSORS_PICKLE_STR:
        case SAFETENSORS_PICKLE_DEVICE:
          check_string (object, TRUE);
          break;
        case SAFETENSORS_PICKLE_BYTES:
        case SAFETENSORS_PICKLE_BIGINT:
          check_string (object, FALSE);
          break;
        case SAFETENSORS_PICKLE_DICT:
          g_assert_cmpuint (object->seq.len % 2, ==, 0);
          for (guint i = 0; i < object->seq.len; i += 2)
            {
              g_autofree char *key = safetensors_pickle_object_key_string (object->seq.items[i]);

              g_assert_true (g_utf8_validate (key, -1, NULL));
            }
          G_GNUC_FALLTHROUGH;
        case SAFETENSORS_PICKLE_TUPLE:
        case SAFETENSORS_PICKLE_LIST:
        case SAFETENSORS_PICKLE_SET:
        case SAFETENSORS_PICKLE_FROZENSET:
          g_assert_cmpuint (object->seq.len, <=, object->seq.alloc);
          for (guint i = 0; i < object->seq.len; i++)
            g_ptr_array_add (todo, object->seq.items[i]);
          break;
        case SAFETENSORS_PICKLE_GLOBAL:
          g_assert_nonnull (object->global);
          g_assert_true (safetensors_pickle_find_global (object->global->module,
                                                         object->global->name) == object->global);
          break;
        case SAFETENSORS_PICKLE_STORAGE:
          check_storage (pickle, object->storage);
          break;
        case SAFETENSORS_PICKLE_TENSOR:
          check_storage (pickle, object->tensor->storage);
          g_assert_true ((object->tensor->n_dims == 0) ||
                         (object->tensor->size != NULL && object->tensor->stride != NULL));
          g_assert_nonnull (safetensors_torch_dtype_get_name (object->tensor->dtype));
          break;
        case SAFETENSORS_PICKLE_OBJECT:
          g_assert_nonnull (object->object.cls);
          if (object->object.state != NULL)
            {
              g_assert_cmpint (object->object.state->type, ==, SAFETENSORS_PICKLE_DICT);
              g_ptr_array_add (todo, object->object.state);
            }
          break;
        default:
          break;
        }
    }

  g_hash_table_iter_init (&iter, safetensors_pickle_get_storages (pickle));
  while (g_hash_table_iter_next (&iter, NULL, &value))
    check_storage (pickle, value);

  /* As the metadata of an import stores it: JSON, or an error. */
  if (safetensors_pickle_object_to_json (root, json, MAX_JSON, &error))
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) parse_error = NULL;

      g_assert_cmpuint (json->len, <=, MAX_JSON);
      g_assert_true (g_utf8_validate (json->str, json->len, NULL));
      if (!json_parser_load_from_data (parser, json->str, json->len, &parse_error))
        g_error ("%s is not JSON: %s", json->str, parse_error->message);
    }
  else
    {
      g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
}

/* ---- checkpoints around the pickle -------------------------------------- */

static guint8
storage_byte (const char *key,
              guint64     i)
{
  return (g_str_hash (key) + i * 37 + (i >> 8)) & 0xff;
}

static int
compare_keys (gconstpointer a,
              gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/* The storages that fit, in key order. */
static GPtrArray *
storages_to_store (SafetensorsPickle *pickle)
{
  GPtrArray *stored = g_ptr_array_new ();
  g_autofree gpointer *keys = NULL;
  guint n_keys = 0;
  guint64 budget = MAX_STORAGE_BYTES;

  keys = g_hash_table_get_keys_as_array (safetensors_pickle_get_storages (pickle), &n_keys);
  qsort (keys, n_keys, sizeof (gpointer), compare_keys);
  for (guint i = 0; i < n_keys; i++)
    {
      SafetensorsPickleStorage *storage = g_hash_table_lookup (safetensors_pickle_get_storages (pickle),
                                                               keys[i]);

      if (storage->n_bytes > budget)
        continue;
      budget -= storage->n_bytes;
      g_ptr_array_add (stored, storage);
    }
  return stored;
}

static void
put_le (GByteArray *out,
        guint64     value,
        guint       n)
{
  for (guint i = 0; i < n; i++)
    {
      guint8 byte = (value >> (8 * i)) & 0xff;

      g_byte_array_append (out, &byte, 1);
    }
}

static void
put_storage_bytes (GByteArray                     *out,
                   const SafetensorsPickleStorage *storage)
{
  for (guint64 i = 0; i < storage->n_bytes; i++)
    {
      guint8 byte = storage_byte (storage->key, i);

      g_byte_array_append (out, &byte, 1);
    }
}

typedef struct
{
  GByteArray *data;
  GByteArray *central;
  guint       n_entries;
} ZipWriter;

/* A stored entry, as a minimal zip writer makes it. */
static void
zip_add (ZipWriter    *zip,
         const char   *name,
         const guint8 *data,
         gsize         len)
{
  guint32 crc = safetensors_zip_crc32 (0, data, len);
  guint64 offset = zip->data->len;
  gsize name_len = strlen (name);

  put_le (zip->data, 0x04034b50, 4);
  put_le (zip->data, 20, 2);          /* version needed */
  put_le (zip->data, 0, 2);           /* flags */
  put_le (zip->data, 0, 2);           /* stored */
  put_le (zip->data, 0, 4);           /* time, date */
  put_le (zip->data, crc, 4);
  put_le (zip->data, len, 4);
  put_le (zip->data, len, 4);
  put_le (zip->data, name_len, 2);
  put_le (zip->data, 0, 2);           /* extra */
  g_byte_array_append (zip->data, (const guint8 *) name, name_len);
  g_byte_array_append (zip->data, data, len);

  put_le (zip->central, 0x02014b50, 4);
  put_le (zip->central, 20, 2);       /* version made by */
  put_le (zip->central, 20, 2);
  put_le (zip->central, 0, 2);
  put_le (zip->central, 0, 2);
  put_le (zip->central, 0, 4);
  put_le (zip->central, crc, 4);
  put_le (zip->central, len, 4);
  put_le (zip->central, len, 4);
  put_le (zip->central, name_len, 2);
  put_le (zip->central, 0, 2);        /* extra */
  put_le (zip->central, 0, 2);        /* comment */
  put_le (zip->central, 0, 2);        /* disk */
  put_le (zip->central, 0, 2);        /* internal attributes */
  put_le (zip->central, 0, 4);        /* external attributes */
  put_le (zip->central, offset, 4);
  g_byte_array_append (zip->central, (const guint8 *) name, name_len);
  zip->n_entries++;
}

static GByteArray *
make_zip (const guint8 *pickle_data,
          gsize         len,
          GPtrArray    *storages,
          gboolean      big_endian)
{
  ZipWriter zip = { g_byte_array_new (), g_byte_array_new (), 0 };
  guint64 cd_offset;

  zip_add (&zip, "archive/data.pkl", pickle_data, len);
  if (big_endian)
    zip_add (&zip, "archive/byteorder", (const guint8 *) "big", 3);
  for (guint i = 0; i < storages->len; i++)
    {
      SafetensorsPickleStorage *storage = g_ptr_array_index (storages, i);
      g_autoptr(GByteArray) bytes = g_byte_array_new ();
      g_autofree char *name = g_strconcat ("archive/data/", storage->key, NULL);

      put_storage_bytes (bytes, storage);
      zip_add (&zip, name, bytes->data, bytes->len);
    }

  cd_offset = zip.data->len;
  g_byte_array_append (zip.data, zip.central->data, zip.central->len);
  put_le (zip.data, 0x06054b50, 4);
  put_le (zip.data, 0, 4);            /* disks */
  put_le (zip.data, zip.n_entries, 2);
  put_le (zip.data, zip.n_entries, 2);
  put_le (zip.data, zip.central->len, 4);
  put_le (zip.data, cd_offset, 4);
  put_le (zip.data, 0, 2);            /* comment */
  g_byte_array_unref (zip.central);
  return zip.data;
}

/* torch.save (_use_new_zipfile_serialization=False): magic number,
 * protocol version, system information, the object, the storage keys,
 * then each storage as its element count and bytes. */
static GByteArray *
make_legacy (const guint8 *pickle_data,
             gsize         len,
             GPtrArray    *storages)
{
  static const guint8 magic[] = {
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.',
  };
  static const char version[] = "\x80\x02M\xe9\x03.";
  static const char sys_info[] = "\x80\x02}X\x0d\x00\x00\x00little_endian\x88s.";
  GByteArray *out = g_byte_array_new ();

  g_byte_array_append (out, magic, sizeof magic);
  g_byte_array_append (out, (const guint8 *) version, sizeof version - 1);
  g_byte_array_append (out, (const guint8 *) sys_info, sizeof sys_info - 1);
  g_byte_array_append (out, pickle_data, len);

  g_byte_array_append (out, (const guint8 *) "\x80\x02](", 4);
  for (guint i = 0; i < storages->len; i++)
    {
      SafetensorsPickleStorage *storage = g_ptr_array_index (storages, i);

      g_byte_array_append (out, (const guint8 *) "X", 1);
      put_le (out, strlen (storage->key), 4);
      g_byte_array_append (out, (const guint8 *) storage->key, strlen (storage->key));
    }
  g_byte_array_append (out, (const guint8 *) "e.", 2);

  for (guint i = 0; i < storages->len; i++)
    {
      SafetensorsPickleStorage *storage = g_ptr_array_index (storages, i);

      put_le (out, storage->numel, 8);
      put_storage_bytes (out, storage);
    }
  return out;
}

static void
check_checkpoint (SafetensorsPicklePidFormat  format,
                  const guint8               *data,
                  gsize                       size,
                  gsize                       consumed,
                  SafetensorsPickle          *pickle)
{
  g_autoptr(GPtrArray) storages = storages_to_store (pickle);
  g_autoptr(GByteArray) file_data = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(SafetensorsTorchCheckpoint) checkpoint = NULL;
  g_autoptr(GError) error = NULL;
  gboolean big_endian = format == SAFETENSORS_PICKLE_PID_ZIP && size % 5 == 0;

  /* data.pkl is read whole; a legacy file's pickles follow each other. */
  if (format == SAFETENSORS_PICKLE_PID_ZIP)
    file_data = make_zip (data, size, storages, big_endian);
  else
    file_data = make_legacy (data, consumed, storages);
  fuzz_scratch_write (&scratch, file_data->data, file_data->len);

  file = g_file_new_for_path (scratch.path);
  checkpoint = safetensors_torch_checkpoint_open (file, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (safetensors_torch_checkpoint_get_format (checkpoint), ==,
                   format == SAFETENSORS_PICKLE_PID_ZIP ? SAFETENSORS_TORCH_FORMAT_ZIP
                                                        : SAFETENSORS_TORCH_FORMAT_LEGACY);
  g_assert_cmpint (safetensors_torch_checkpoint_is_big_endian (checkpoint), ==, big_endian);
  g_assert_cmpuint (safetensors_torch_checkpoint_get_size (checkpoint), ==, file_data->len);

  /* The storages it holds read back as written. */
  for (guint i = 0; i < storages->len; i++)
    {
      SafetensorsPickleStorage *storage = g_ptr_array_index (storages, i);
      const guint8 *bytes;

      g_assert_true (safetensors_torch_checkpoint_check_storage (checkpoint, storage, &error));
      g_assert_no_error (error);
      bytes = safetensors_torch_checkpoint_map_storage (checkpoint, storage, NULL, &error);
      g_assert_no_error (error);
      for (guint64 b = 0; b < storage->n_bytes; b++)
        g_assert_cmpuint (bytes[b], ==, storage_byte (storage->key, b));
    }

  fuzz_torch_check_checkpoint (checkpoint, out_dir, TRUE);
}

/* Loads @data with @format; returns whether it names storages. */
static gboolean
run (SafetensorsPicklePidFormat  format,
     const guint8               *data,
     gsize                       size,
     gboolean                   *out_loaded)
{
  g_autoptr(SafetensorsPickle) pickle = safetensors_pickle_new (format);
  g_autoptr(GError) error = NULL;
  SafetensorsPickleObject *root;
  gsize consumed = G_MAXSIZE;

  root = safetensors_pickle_load (pickle, data, size, &consumed, &error);
  g_assert_true ((root == NULL) == (error != NULL));
  *out_loaded = root != NULL;
  if (root == NULL)
    {
      check_load_error (error);
      return FALSE;
    }

  g_assert_cmpuint (consumed, >=, 1);
  g_assert_cmpuint (consumed, <=, size);
  g_assert_cmpint (data[consumed - 1], ==, '.');

  check_graph (pickle, root);
  check_checkpoint (format, data, size, consumed, pickle);

  return g_hash_table_size (safetensors_pickle_get_storages (pickle)) > 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  /* A copy of exactly the input's size, so that reading past it is
   * caught. */
  g_autofree guint8 *copy = g_memdup2 (data, size);
  gboolean loaded = FALSE;

  /* Without persistent ids both formats build the same graph. */
  if (run (SAFETENSORS_PICKLE_PID_ZIP, copy, size, &loaded) || !loaded)
    run (SAFETENSORS_PICKLE_PID_LEGACY, copy, size, &loaded);

  return 0;
}
