/* tool-npz-export.c — export-npz: tensors to a NumPy .npz archive
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <string.h>

#include <zip.h>

#include "safetensors-npy-private.h"

#include "tool-common.h"
#include "tool-npz.h"

/* What np.savez () writes for no arrays: an end-of-central-directory
 * record alone. libzip deletes an archive that ends up empty instead. */
static const guint8 empty_zip[22] = { 'P', 'K', 0x05, 0x06 };

/* np.savez_compressed () deflates at zlib's default level. */
#define DEFLATE_LEVEL 6

/* ------------------------------------------------------------------ */
/* Writing an archive                                                 */
/* ------------------------------------------------------------------ */

typedef struct
{
  SafetensorsTensor *tensor;
  char              *member;
  GBytes            *header;
  GBytes            *data;     /* between ZIP_SOURCE_OPEN and ZIP_SOURCE_CLOSE */
  guint64            size;
  guint64            pos;
  zip_error_t        zip_error;
  GError           **tensor_error; /* where a failure to read the tensor goes */
} NpySource;

static void
npy_source_free (NpySource *source)
{
  if (source == NULL)
    return;

  g_clear_object (&source->tensor);
  g_clear_pointer (&source->member, g_free);
  g_clear_pointer (&source->header, g_bytes_unref);
  g_clear_pointer (&source->data, g_bytes_unref);
  zip_error_fini (&source->zip_error);
  g_free (source);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NpySource, npy_source_free)

/* Plans the member for @tensor: its name and .npy header. */
static NpySource *
npy_source_new (SafetensorsTensor  *tensor,
                gboolean            raw,
                GError            **error)
{
  g_autoptr(NpySource) source = g_new0 (NpySource, 1);
  const char *name = safetensors_tensor_get_name (tensor);
  SafetensorsDType dtype = safetensors_tensor_get_dtype (tensor);
  guint64 n_bytes = safetensors_tensor_get_n_bytes (tensor);
  guint n_dims = 0;
  const guint64 *shape = safetensors_tensor_get_shape (tensor, &n_dims);
  guint bits = safetensors_dtype_get_bits (dtype);

  zip_error_init (&source->zip_error);
  source->tensor = g_object_ref (tensor);

  if (safetensors_npy_dtype_to_descr (dtype) == NULL)
    {
      if (!raw)
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                       "tensor “%s”: NumPy has no dtype %s (--raw exports its bits as %s)",
                       name, safetensors_dtype_to_string (dtype),
                       bits == 16 ? "uint16" : "uint8");
          return NULL;
        }
      /* Bit patterns: 16-bit and 8-bit types keep their shape, sub-byte
       * ones become their packed bytes. */
      if (bits == 16)
        {
          dtype = SAFETENSORS_DTYPE_U16;
        }
      else
        {
          dtype = SAFETENSORS_DTYPE_U8;
          if (bits < 8)
            {
              shape = &n_bytes;
              n_dims = 1;
            }
        }
    }

  if (!tool_npz_is_safe_member_path (name))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   "tensor “%s”: a name with an absolute path or “..” cannot be an .npz member",
                   name);
      return NULL;
    }

  source->header = safetensors_npy_build_header (dtype, shape, n_dims, error);
  if (source->header == NULL)
    {
      g_prefix_error (error, "tensor “%s”: ", name);
      return NULL;
    }
  source->member = g_strconcat (name, ".npy", NULL);
  source->size = g_bytes_get_size (source->header) + n_bytes;

  return g_steal_pointer (&source);
}

static zip_int64_t
npy_source_read (NpySource *source,
                 guint8    *buffer,
                 guint64    len)
{
  gsize header_len = g_bytes_get_size (source->header);
  guint64 done = 0;

  /* The header, then the tensor's bytes; safetensors and '<' descrs are
   * both little-endian. */
  while (done < len && source->pos < source->size)
    {
      GBytes *part = source->pos < header_len ? source->header : source->data;
      guint64 part_start = source->pos < header_len ? 0 : header_len;
      gsize part_len = 0;
      const guint8 *data = g_bytes_get_data (part, &part_len);
      guint64 n = MIN (len - done, part_start + part_len - source->pos);

      memcpy (buffer + done, data + (source->pos - part_start), n);
      done += n;
      source->pos += n;
    }

  return done;
}

static zip_int64_t
npy_source_callback (void             *user_data,
                     void             *data,
                     zip_uint64_t      len,
                     zip_source_cmd_t  command)
{
  NpySource *source = user_data;

  switch (command)
    {
    case ZIP_SOURCE_OPEN:
      /* The tensor is read when libzip gets to it, so that a file read
       * without mmap holds one tensor at a time. */
      if (source->data == NULL)
        {
          source->data = safetensors_tensor_get_bytes (source->tensor, NULL, source->tensor_error);
          if (source->data == NULL)
            {
              zip_error_set (&source->zip_error, ZIP_ER_READ, EIO);
              return -1;
            }
        }
      source->pos = 0;
      return 0;

    case ZIP_SOURCE_READ:
      return npy_source_read (source, data, len);

    case ZIP_SOURCE_CLOSE:
      g_clear_pointer (&source->data, g_bytes_unref);
      return 0;

    case ZIP_SOURCE_STAT:
      {
        zip_stat_t *stat = ZIP_SOURCE_GET_ARGS (zip_stat_t, data, len, &source->zip_error);

        if (stat == NULL)
          return -1;
        zip_stat_init (stat);
        stat->size = source->size;
        stat->valid |= ZIP_STAT_SIZE;
        return sizeof (zip_stat_t);
      }

    case ZIP_SOURCE_ERROR:
      return zip_error_to_data (&source->zip_error, data, len);

    case ZIP_SOURCE_FREE:
      npy_source_free (source);
      return 0;

    case ZIP_SOURCE_SEEK:
      {
        zip_int64_t pos = zip_source_seek_compute_offset (source->pos, source->size, data, len,
                                                          &source->zip_error);

        if (pos < 0)
          return -1;
        source->pos = pos;
        return 0;
      }

    case ZIP_SOURCE_TELL:
      return source->pos;

    case ZIP_SOURCE_SUPPORTS:
      return ZIP_SOURCE_SUPPORTS_SEEKABLE;

    default:
      zip_error_set (&source->zip_error, ZIP_ER_OPNOTSUPP, 0);
      return -1;
    }
}

/* Writes @sources (NpySource*, given away) to @path. libzip writes a
 * temporary file beside @path and renames it on success; on failure
 * nothing is left behind. *out_input_failed tells a failure to read a
 * tensor from one to write the archive. */
static gboolean
write_npz (const char  *path,
           GPtrArray   *sources,
           gboolean     compress,
           gboolean    *out_input_failed,
           GError     **error)
{
  g_autoptr(GError) tensor_error = NULL;
  zip_t *archive;
  int code = ZIP_ER_OK;

  if (sources->len == 0)
    return g_file_set_contents_full (path, (const char *) empty_zip, sizeof empty_zip,
                                     G_FILE_SET_CONTENTS_CONSISTENT, 0666, error);

  archive = zip_open (path, ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (archive == NULL)
    {
      zip_error_t zip_error;

      zip_error_init_with_code (&zip_error, code);
      tool_npz_set_zip_error (error, &zip_error, G_IO_ERROR, G_IO_ERROR_FAILED, "");
      zip_error_fini (&zip_error);
      return FALSE;
    }

  for (guint i = 0; i < sources->len; i++)
    {
      /* libzip owns the source from here on. */
      NpySource *source = g_steal_pointer (&sources->pdata[i]);
      zip_source_t *zip_source;
      zip_int64_t index;

      source->tensor_error = &tensor_error;

      zip_source = zip_source_function_create (npy_source_callback, source,
                                               zip_get_error (archive));
      if (zip_source == NULL)
        {
          npy_source_free (source);
          goto failed;
        }
      index = zip_file_add (archive, source->member, zip_source, ZIP_FL_ENC_UTF_8);
      if (index < 0)
        {
          zip_source_free (zip_source);
          goto failed;
        }
      if (zip_set_file_compression (archive, index, compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE,
                                    compress ? DEFLATE_LEVEL : 0) < 0)
        goto failed;
    }

  if (zip_close (archive) == 0)
    return TRUE;

failed:
  *out_input_failed = tensor_error != NULL;
  if (tensor_error != NULL)
    g_propagate_error (error, g_steal_pointer (&tensor_error));
  else
    tool_npz_set_zip_error (error, zip_get_error (archive), G_IO_ERROR, G_IO_ERROR_FAILED, "");
  zip_discard (archive);
  return FALSE;
}

int
tool_npz_command_export (const ToolCommand  *command,
                         int                 argc,
                         char              **argv)
{
  gboolean raw = FALSE;
  gboolean compress = FALSE;
  const GOptionEntry entries[] = {
    { "raw", 0, 0, G_OPTION_ARG_NONE, &raw,
      "Export dtypes NumPy lacks as their bit patterns (uint16 or uint8)", NULL },
    { "compress", 0, 0, G_OPTION_ARG_NONE, &compress,
      "Deflate the arrays, like np.savez_compressed()", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(GPtrArray) tensors = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) sources = g_ptr_array_new_with_free_func ((GDestroyNotify) npy_source_free);
  g_autoptr(GHashTable) chosen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  gboolean input_failed = FALSE;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  file = tool_open_file (args[0], FALSE, &error);
  if (file == NULL)
    {
      tool_print_file_error (args[0], error);
      return TOOL_EXIT_FAILURE;
    }

  if (args[2] == NULL)
    {
      for (guint i = 0; i < safetensors_file_get_n_tensors (file); i++)
        g_ptr_array_add (tensors, g_list_model_get_item (G_LIST_MODEL (file), i));
    }
  for (guint i = 2; args[i] != NULL; i++)
    {
      SafetensorsTensor *tensor;

      /* Naming a tensor twice exports it once. */
      if (!g_hash_table_add (chosen, args[i]))
        continue;
      tensor = safetensors_file_lookup (file, args[i], &error);
      if (tensor == NULL)
        {
          tool_print_file_error (args[0], error);
          return TOOL_EXIT_FAILURE;
        }
      g_ptr_array_add (tensors, tensor);
    }

  /* Every tensor is checked before anything is written. */
  for (guint i = 0; i < tensors->len; i++)
    {
      NpySource *source = npy_source_new (g_ptr_array_index (tensors, i), raw, &error);

      if (source == NULL)
        {
          tool_print_file_error (args[0], error);
          return TOOL_EXIT_FAILURE;
        }
      g_ptr_array_add (sources, source);
    }

  path = tool_npz_get_archive_path (args[1], &error);
  if (path == NULL || !write_npz (path, sources, compress, &input_failed, &error))
    {
      tool_print_file_error (input_failed ? args[0] : args[1], error);
      return TOOL_EXIT_FAILURE;
    }

  return TOOL_EXIT_OK;
}

