/* fuzz-edit.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Editing in place. Each input is decoded into at most MAX_OPS
 * operations on a new file opened with READ_WRITE | CREATE: add and
 * replace a tensor (dtype, shape and bytes from the input), remove,
 * rename, set and remove a metadata key, write bytes into a tensor,
 * commit with the compact or the keep-free policy, compact, roll back,
 * close and reopen. An in-memory model predicts each outcome: the error
 * code of an operation the API documents as invalid (a name in use or
 * missing, reserved or not UTF-8, a shape that overflows or does not fill
 * whole bytes, data of the wrong size, a write outside the tensor), or
 * success. A failed operation changes nothing.
 *
 * After every commit, the file is checked against the model through the
 * handle and reopened read-only with the strict reader, mapped and with
 * NO_MMAP: names, dtypes, shapes, bytes and metadata must be the model's,
 * every tensor aligned, the entries (hidden fillers included) must tile
 * the data area, no journal be left behind, no filler entry remain after
 * a compact commit. After the last commit of an input, the file is also
 * read in full as fuzz-header reads files.
 *
 * The policy is a flag of the open file: a commit with the other policy
 * rolls the transaction back, reopens the file with that policy and runs
 * the transaction's operations again before committing. */

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "fuzz-common.h"
#include "safetensors-file-private.h"
#include "safetensors-header-private.h"
#include "test-util.h"

#define MAX_OPS          64
#define MAX_TENSOR_BYTES 4096
#define MAX_DIMS         4

static char *path;
static char *file_name;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init ();
  fuzz_use_memory_tmpdir ();
  path = g_build_filename (test_tmpdir (), "edit.safetensors", NULL);
  file_name = g_path_get_basename (path);
  return 0;
}

/* ---- the model ---------------------------------------------------------- */

/* Shared by the committed and the staged state while a tensor is
 * unchanged: a write into it shows in both, as it does in the file. */
typedef struct
{
  gatomicrefcount   ref_count;
  SafetensorsDType  dtype;
  guint             n_dims;
  guint64           shape[MAX_DIMS];
  guint8           *data;
  gsize             len;
} ModelTensor;

static ModelTensor *
model_tensor_ref (ModelTensor *t)
{
  g_atomic_ref_count_inc (&t->ref_count);
  return t;
}

static void
model_tensor_unref (gpointer data)
{
  ModelTensor *t = data;

  if (g_atomic_ref_count_dec (&t->ref_count))
    {
      g_free (t->data);
      g_free (t);
    }
}

typedef struct
{
  GHashTable *tensors;   /* name → ModelTensor* */
  GHashTable *metadata;  /* key → value */
} Model;

static void
model_init (Model *model)
{
  model->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, model_tensor_unref);
  model->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static void
model_clear (Model *model)
{
  g_clear_pointer (&model->tensors, g_hash_table_unref);
  g_clear_pointer (&model->metadata, g_hash_table_unref);
}

static void
model_copy (Model       *dest,
            const Model *src)
{
  GHashTableIter iter;
  gpointer key, value;

  model_clear (dest);
  model_init (dest);
  g_hash_table_iter_init (&iter, src->tensors);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (dest->tensors, g_strdup (key), model_tensor_ref (value));
  g_hash_table_iter_init (&iter, src->metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (dest->metadata, g_strdup (key), g_strdup (value));
}

/* ---- operations --------------------------------------------------------- */

typedef enum
{
  OP_ADD,
  OP_REPLACE,
  OP_REMOVE,
  OP_RENAME,
  OP_SET_METADATA,
  OP_REMOVE_METADATA,
  OP_WRITE,
  OP_COMMIT,
  OP_COMMIT_KEEP_FREE,
  OP_COMPACT,
  OP_ROLLBACK,
  OP_REOPEN,
  OP_ADD_AGAIN,          /* one more add, the common case */
  N_OP_KINDS,
  OP_NOTHING,
} OpKind;

typedef struct
{
  OpKind            kind;
  char             *name;
  char             *name2;      /* the new name, the metadata value */
  int               dtype;      /* may be no dtype at all */
  guint             n_dims;
  guint64           shape[MAX_DIMS];
  GBytes           *data;       /* NULL for zeros */
  guint64           offset;     /* OP_WRITE */
  guint8            bytes[8];
  guint             len;
  gboolean          no_mmap;    /* OP_REOPEN */
} Op;

static void
op_clear (Op *op)
{
  g_free (op->name);
  g_free (op->name2);
  g_clear_pointer (&op->data, g_bytes_unref);
}

typedef struct
{
  const guint8 *data;
  gsize         left;
} Input;

static guint8
next_byte (Input *in)
{
  if (in->left == 0)
    return 0;
  in->left--;
  return *in->data++;
}

static char *
long_name (gsize len,
           char  c)
{
  char *name = g_malloc (len + 1);

  memset (name, c, len);
  name[len] = '\0';
  return name;
}

/* A name from a small set, so that operations meet, with every kind of
 * trouble among them; or up to 31 bytes of the input. */
static char *
next_name (Input *in)
{
  static const char * const names[] = {
    "a", "b", "c", "d", "e", "f", "layer.0.weight", "",
    "\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80", "q\"\\\n\x01\x7f/", "__metadata__", "__free_3__",
    "__free_", "\xff\xfe", NULL, NULL,
  };
  guint8 b = next_byte (in);
  guint8 literal[32];
  guint len;

  if (b < 0xe0)
    {
      guint i = b % G_N_ELEMENTS (names);

      /* Long ones push the header over its padding. */
      if (names[i] == NULL)
        return long_name (i % 2 == 0 ? 300 : 1500, 'L' + i % 2);
      return g_strdup (names[i]);
    }

  len = b - 0xe0;
  for (guint i = 0; i < len; i++)
    literal[i] = next_byte (in);
  return g_strndup ((const char *) literal, len);
}

/* What safetensors_tensor_info_new() refuses, in its order; -1 when the
 * tensor is valid, with its size. */
static int
info_error (const char *name,
            int         dtype,
            guint       n_dims,
            const guint64 *shape,
            guint64    *out_n_bytes)
{
  guint64 n_elements = 1, n_bits;

  if (!g_utf8_validate (name, -1, NULL))
    return SAFETENSORS_ERROR_INVALID_ARGUMENT;
  if (strcmp (name, "__metadata__") == 0)
    return SAFETENSORS_ERROR_RESERVED_NAME;
  if (dtype < 0 || dtype >= SAFETENSORS_DTYPE_COUNT)
    return SAFETENSORS_ERROR_INVALID_ARGUMENT;
  for (guint d = 0; d < n_dims; d++)
    if (!g_uint64_checked_mul (&n_elements, n_elements, shape[d]))
      return SAFETENSORS_ERROR_VALIDATION_OVERFLOW;
  if (!g_uint64_checked_mul (&n_bits, n_elements, safetensors_dtype_get_bits (dtype)))
    return SAFETENSORS_ERROR_VALIDATION_OVERFLOW;
  if (n_bits % 8 != 0)
    return SAFETENSORS_ERROR_MISALIGNED_SLICE;
  *out_n_bytes = n_bits / 8;
  return -1;
}

static void
decode_tensor (Input *in,
               Op    *op,
               guint  index)
{
  guint8 dtype_byte = next_byte (in);
  guint8 fill;
  guint64 n_bytes = 0;
  guint8 *data;

  op->name = next_name (in);
  /* A few values that are no dtype. */
  op->dtype = dtype_byte >= 0xfc ? SAFETENSORS_DTYPE_COUNT + (dtype_byte - 0xfc)
                                 : dtype_byte % SAFETENSORS_DTYPE_COUNT;
  op->n_dims = next_byte (in) % (MAX_DIMS + 1);
  for (guint d = 0; d < op->n_dims; d++)
    {
      guint8 b = next_byte (in);

      op->shape[d] = b == 0xff ? G_MAXUINT64 : b == 0xfe ? G_GUINT64_CONSTANT (1) << 61 : b % 7;
    }
  fill = next_byte (in);

  if (info_error (op->name, op->dtype, op->n_dims, op->shape, &n_bytes) < 0 &&
      n_bytes > MAX_TENSOR_BYTES)
    {
      op->kind = OP_NOTHING;
      return;
    }

  switch (fill % 5)
    {
    case 0:
      /* Zeros, which take no disk space. */
      return;
    case 4:
      /* The wrong size. */
      n_bytes++;
      break;
    default:
      break;
    }
  data = g_malloc (MAX (n_bytes, 1));
  for (guint64 i = 0; i < n_bytes; i++)
    data[i] = fill % 5 == 1 ? fill : fill % 5 == 2 ? i * fill + index : (i * 131 + index) >> 3;
  op->data = g_bytes_new_take (data, n_bytes);
}

/* Decodes the whole input, so that a transaction can be run again. */
static GArray *
decode (const guint8 *data,
        gsize         size,
        SafetensorsOpenFlags *out_flags)
{
  Input in = { data, size };
  GArray *ops = g_array_new (FALSE, TRUE, sizeof (Op));
  guint8 first = next_byte (&in);

  g_array_set_clear_func (ops, (GDestroyNotify) op_clear);
  *out_flags = SAFETENSORS_OPEN_FLAGS_READ_WRITE | SAFETENSORS_OPEN_FLAGS_CREATE |
               (first & 1 ? SAFETENSORS_OPEN_FLAGS_NO_MMAP : 0) |
               (first & 2 ? SAFETENSORS_OPEN_FLAGS_KEEP_FREE : 0);

  while (in.left > 0 && ops->len < MAX_OPS)
    {
      Op op = { 0 };

      op.kind = next_byte (&in) % N_OP_KINDS;
      switch (op.kind)
        {
        case OP_ADD_AGAIN:
          op.kind = OP_ADD;
          G_GNUC_FALLTHROUGH;
        case OP_ADD:
        case OP_REPLACE:
          decode_tensor (&in, &op, ops->len);
          break;
        case OP_REMOVE:
        case OP_REMOVE_METADATA:
          op.name = next_name (&in);
          break;
        case OP_RENAME:
        case OP_SET_METADATA:
          op.name = next_name (&in);
          op.name2 = next_name (&in);
          break;
        case OP_WRITE:
          op.name = next_name (&in);
          op.offset = next_byte (&in);
          op.len = next_byte (&in) % (G_N_ELEMENTS (op.bytes) + 1);
          for (guint i = 0; i < op.len; i++)
            op.bytes[i] = next_byte (&in);
          break;
        case OP_REOPEN:
          op.no_mmap = next_byte (&in) & 1;
          break;
        default:
          break;
        }
      g_array_append_val (ops, op);
    }

  return ops;
}

/* ---- checks ------------------------------------------------------------- */

static void
check_tensor (SafetensorsFile   *file,
              const char        *name,
              const ModelTensor *t)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsTensor) tensor = safetensors_file_lookup (file, name, &error);
  g_autoptr(GBytes) bytes = NULL;
  const guint64 *shape;
  guint n_dims = 0;
  guint bits;
  guint64 begin = 0;

  g_assert_no_error (error);
  g_assert_cmpstr (safetensors_tensor_get_name (tensor), ==, name);
  g_assert_cmpint (safetensors_tensor_get_dtype (tensor), ==, t->dtype);
  shape = safetensors_tensor_get_shape (tensor, &n_dims);
  g_assert_cmpuint (n_dims, ==, t->n_dims);
  if (n_dims > 0)
    g_assert_cmpmem (shape, n_dims * sizeof (guint64), t->shape, n_dims * sizeof (guint64));
  g_assert_cmpuint (safetensors_tensor_get_n_bytes (tensor), ==, t->len);

  bytes = safetensors_tensor_get_bytes (tensor, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), t->data, t->len);

  /* Aligned to min (8, element size), for zero-copy views. */
  bits = safetensors_dtype_get_bits (t->dtype);
  safetensors_tensor_get_data_offsets (tensor, &begin, NULL);
  g_assert_cmpuint (begin % (bits < 8 ? 1 : MIN (8, bits / 8)), ==, 0);
}

static void
check_against_model (SafetensorsFile *file,
                     const Model     *model)
{
  g_autoptr(GHashTable) metadata = safetensors_file_get_metadata (file);
  g_auto(GStrv) names = safetensors_file_get_tensor_names (file);
  GHashTableIter iter;
  gpointer key, value;

  g_assert_cmpuint (safetensors_file_get_n_tensors (file), ==, g_hash_table_size (model->tensors));
  g_assert_cmpuint (g_strv_length (names), ==, g_hash_table_size (model->tensors));
  g_hash_table_iter_init (&iter, model->tensors);
  while (g_hash_table_iter_next (&iter, &key, &value))
    check_tensor (file, key, value);

  g_assert_cmpuint (g_hash_table_size (metadata), ==, g_hash_table_size (model->metadata));
  g_hash_table_iter_init (&iter, model->metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_assert_cmpstr (g_hash_table_lookup (metadata, key), ==, value);
}

/* Nothing but the file: no journal, no temporary file. */
static void
check_folder (void)
{
  g_autoptr(GDir) dir = g_dir_open (test_tmpdir (), 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (strcmp (name, file_name) != 0)
      g_error ("“%s” was left next to the file", name);
}

/* The committed file, as a reader sees it; read in full when @full. */
static void
check_committed (SafetensorsFile *handle,
                 const Model     *model,
                 gboolean         fillers_allowed,
                 gboolean         full)
{
  static const SafetensorsOpenFlags flags[] = {
    SAFETENSORS_OPEN_FLAGS_NONE, SAFETENSORS_OPEN_FLAGS_NO_MMAP,
  };
  g_autofree char *contents = NULL;
  g_autoptr(SafetensorsHeader) parsed = NULL;
  g_autoptr(GError) error = NULL;
  guint64 header_len = 0, end = 0, filler_bytes = 0;
  guint n_fillers = 0;
  gsize size = 0;

  if (handle != NULL)
    {
      g_assert_false (safetensors_file_has_changes (handle));
      check_against_model (handle, model);
    }
  check_folder ();

  g_file_get_contents (path, &contents, &size, &error);
  g_assert_no_error (error);

  /* What the format demands of every committed file: the entries,
   * fillers included, tile the data area from 0 to the end of the file,
   * which starts on a multiple of 8. Fillers are U8, one dimension. */
  g_assert_cmpuint (size, >=, 8);
  for (guint i = 0; i < 8; i++)
    header_len |= (guint64) (guint8) contents[i] << (8 * i);
  g_assert_cmpuint (header_len, <=, size - 8);
  g_assert_cmpuint ((8 + header_len) % 8, ==, 0);
  parsed = safetensors_header_parse (path, (const guint8 *) contents + 8, header_len, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < parsed->tensors->len; i++)
    {
      SafetensorsTensorInfo *info = g_ptr_array_index (parsed->tensors, i);

      g_assert_cmpuint (info->begin, ==, end);
      end = info->end;
      if (!safetensors_is_filler_name (info->name))
        continue;
      g_assert_cmpint (info->dtype, ==, SAFETENSORS_DTYPE_U8);
      g_assert_cmpuint (info->n_dims, ==, 1);
      n_fillers++;
      filler_bytes += info->end - info->begin;
    }
  g_assert_cmpuint (8 + header_len + end, ==, size);
  if (!fillers_allowed)
    g_assert_cmpuint (n_fillers, ==, 0);

  for (guint f = 0; f < G_N_ELEMENTS (flags); f++)
    {
      g_autoptr(SafetensorsFile) file = safetensors_file_new_for_path (path, flags[f], &error);

      g_assert_no_error (error);
      check_against_model (file, model);
      g_assert_cmpuint (safetensors_file_get_data_start (file), ==, 8 + header_len);
      g_assert_cmpuint (n_fillers + safetensors_file_get_n_tensors (file), ==, parsed->tensors->len);
      g_assert_cmpuint (filler_bytes, ==, safetensors_file_get_free_bytes (file));
      if (!full || flags[f] != SAFETENSORS_OPEN_FLAGS_NONE)
        continue;

      /* As fuzz-header reads files; hidden fillers leave gaps between
       * the tensors a reader sees. */
      if (n_fillers == 0)
        fuzz_check_file (file, (const guint8 *) contents, size);
      else
        for (guint i = 0; i < safetensors_file_get_n_tensors (file); i++)
          {
            g_autoptr(SafetensorsTensor) tensor = g_list_model_get_item (G_LIST_MODEL (file), i);

            fuzz_check_tensor (tensor, (const guint8 *) contents, size);
          }
    }
}

/* ---- running ------------------------------------------------------------ */

typedef struct
{
  SafetensorsFile      *file;
  SafetensorsOpenFlags  flags;
  Model                 committed;
  Model                 staged;
  GArray               *transaction;   /* indices of the ops since the last commit */
  gboolean              fillers;       /* the file may hold filler entries */
} State;

static void
expect (gboolean      ok,
        GError       *error,
        int           code,
        const Op     *op)
{
  g_assert_true (ok == (error == NULL));
  if (code < 0)
    {
      if (error != NULL)
        g_error ("operation %d on “%s” failed: %s", op->kind, op->name, error->message);
      return;
    }
  if (error == NULL)
    g_error ("operation %d on “%s” succeeded, but should fail with code %d", op->kind, op->name, code);
  if (!g_error_matches (error, SAFETENSORS_ERROR, code))
    g_error ("operation %d on “%s” should fail with code %d: %s", op->kind, op->name, code,
             error->message);
  if (!g_utf8_validate (error->message, -1, NULL))
    {
      g_autofree char *escaped = g_strescape (error->message, NULL);

      g_error ("operation %d: the message is not UTF-8: %s", op->kind, escaped);
    }
}

static void
open_file (State *state)
{
  g_autoptr(GError) error = NULL;

  state->file = safetensors_file_new_for_path (path, state->flags, &error);
  g_assert_no_error (error);
  g_assert_true (safetensors_file_get_flags (state->file) == state->flags);
  check_against_model (state->file, &state->committed);
}

/* After a commit with the keep-free policy (@keep_free) or the compact
 * one, of a transaction with or without changes (@dirty). A compact
 * commit that has nothing to do leaves the file as it is. */
static void
committed (State    *state,
           gboolean  keep_free,
           gboolean  dirty)
{
  if (keep_free)
    state->fillers = TRUE;
  else if (dirty)
    state->fillers = FALSE;
  model_copy (&state->committed, &state->staged);
  g_array_set_size (state->transaction, 0);
  check_committed (state->file, &state->committed, state->fillers, FALSE);
}

static void
close_file (State *state)
{
  g_autoptr(GError) error = NULL;
  gboolean keep_free = (state->flags & SAFETENSORS_OPEN_FLAGS_KEEP_FREE) != 0;
  gboolean dirty = safetensors_file_has_changes (state->file);

  /* Closing commits. */
  g_assert_true (safetensors_file_close (state->file, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&state->file);
  committed (state, keep_free, dirty);
}

static void
apply (State    *state,
       GArray   *ops,
       guint     index);

/* The transaction again, in a file opened with the other policy. */
static void
switch_policy (State *state,
               GArray *ops)
{
  g_autoptr(GArray) transaction = g_array_copy (state->transaction);
  g_autoptr(GError) error = NULL;

  safetensors_file_rollback (state->file);
  model_copy (&state->staged, &state->committed);
  check_against_model (state->file, &state->committed);
  g_assert_true (safetensors_file_close (state->file, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&state->file);
  check_committed (NULL, &state->committed, state->fillers, FALSE);

  state->flags ^= SAFETENSORS_OPEN_FLAGS_KEEP_FREE;
  open_file (state);
  g_array_set_size (state->transaction, 0);
  for (guint i = 0; i < transaction->len; i++)
    apply (state, ops, g_array_index (transaction, guint, i));
}

static void
apply_add (State    *state,
           const Op *op)
{
  g_autoptr(GError) error = NULL;
  guint64 n_bytes = 0;
  int code;
  gboolean ok;

  if (op->kind == OP_ADD && g_str_has_prefix (op->name, "__free_"))
    code = SAFETENSORS_ERROR_RESERVED_NAME;
  else if (op->kind == OP_ADD && g_hash_table_contains (state->staged.tensors, op->name))
    code = SAFETENSORS_ERROR_DUPLICATE_NAME;
  else if (op->kind == OP_REPLACE && !g_hash_table_contains (state->staged.tensors, op->name))
    code = SAFETENSORS_ERROR_TENSOR_NOT_FOUND;
  else
    code = info_error (op->name, op->dtype, op->n_dims, op->shape, &n_bytes);
  if (code < 0 && op->data != NULL && g_bytes_get_size (op->data) != n_bytes)
    code = SAFETENSORS_ERROR_INVALID_ARGUMENT;

  if (op->kind == OP_ADD)
    ok = safetensors_file_add_tensor (state->file, op->name, op->dtype, op->shape, op->n_dims,
                                      op->data, &error);
  else
    ok = safetensors_file_replace_tensor (state->file, op->name, op->dtype, op->shape, op->n_dims,
                                          op->data, &error);
  expect (ok, error, code, op);

  if (ok)
    {
      ModelTensor *t = g_new0 (ModelTensor, 1);

      g_atomic_ref_count_init (&t->ref_count);
      t->dtype = op->dtype;
      t->n_dims = op->n_dims;
      memcpy (t->shape, op->shape, sizeof t->shape);
      t->len = n_bytes;
      t->data = g_malloc0 (MAX (n_bytes, 1));
      if (op->data != NULL && n_bytes > 0)
        memcpy (t->data, g_bytes_get_data (op->data, NULL), n_bytes);
      g_hash_table_insert (state->staged.tensors, g_strdup (op->name), t);
    }
}

static void
apply_rename (State    *state,
              const Op *op)
{
  g_autoptr(GError) error = NULL;
  gboolean ok;
  int code = -1;

  if (g_str_has_prefix (op->name2, "__free_"))
    code = SAFETENSORS_ERROR_RESERVED_NAME;
  else if (!g_hash_table_contains (state->staged.tensors, op->name))
    code = SAFETENSORS_ERROR_TENSOR_NOT_FOUND;
  else if (strcmp (op->name, op->name2) == 0)
    code = -1;
  else if (!g_utf8_validate (op->name2, -1, NULL))
    code = SAFETENSORS_ERROR_INVALID_ARGUMENT;
  else if (strcmp (op->name2, "__metadata__") == 0)
    code = SAFETENSORS_ERROR_RESERVED_NAME;
  else if (g_hash_table_contains (state->staged.tensors, op->name2))
    code = SAFETENSORS_ERROR_DUPLICATE_NAME;

  ok = safetensors_file_rename_tensor (state->file, op->name, op->name2, &error);
  expect (ok, error, code, op);

  if (ok && strcmp (op->name, op->name2) != 0)
    {
      gpointer key, value;

      g_assert_true (g_hash_table_steal_extended (state->staged.tensors, op->name, &key, &value));
      g_free (key);
      g_hash_table_insert (state->staged.tensors, g_strdup (op->name2), value);
    }
}

static void
apply_write (State    *state,
             const Op *op)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsTensor) tensor = safetensors_file_lookup (state->file, op->name, &error);
  ModelTensor *t = g_hash_table_lookup (state->staged.tensors, op->name);
  gboolean ok;
  int code = -1;

  if (t == NULL)
    {
      expect (tensor != NULL, error, SAFETENSORS_ERROR_TENSOR_NOT_FOUND, op);
      return;
    }
  g_assert_no_error (error);

  /* Anywhere in or just past the tensor. */
  if (op->offset > t->len || op->len > t->len - op->offset)
    code = SAFETENSORS_ERROR_INVALID_ARGUMENT;
  ok = safetensors_tensor_write (tensor, op->offset, op->bytes, op->len, NULL, &error);
  expect (ok, error, code, op);
  if (ok && op->len > 0)
    memcpy (t->data + op->offset, op->bytes, op->len);
  check_tensor (state->file, op->name, t);
}

static void
apply (State  *state,
       GArray *ops,
       guint   index)
{
  const Op *op = &g_array_index (ops, Op, index);
  g_autoptr(GError) error = NULL;
  gboolean keep_free = (state->flags & SAFETENSORS_OPEN_FLAGS_KEEP_FREE) != 0;
  gboolean ok, dirty;

  switch (op->kind)
    {
    case OP_ADD:
    case OP_REPLACE:
      apply_add (state, op);
      break;

    case OP_REMOVE:
      ok = safetensors_file_remove_tensor (state->file, op->name, &error);
      expect (ok, error, g_hash_table_contains (state->staged.tensors, op->name) ? -1 :
                         SAFETENSORS_ERROR_TENSOR_NOT_FOUND, op);
      if (ok)
        g_hash_table_remove (state->staged.tensors, op->name);
      break;

    case OP_RENAME:
      apply_rename (state, op);
      break;

    case OP_SET_METADATA:
    case OP_REMOVE_METADATA:
      {
        const char *value = op->kind == OP_SET_METADATA ? op->name2 : NULL;
        gboolean valid = g_utf8_validate (op->name, -1, NULL) &&
                         (value == NULL || g_utf8_validate (value, -1, NULL));

        ok = safetensors_file_set_metadata_value (state->file, op->name, value, &error);
        expect (ok, error, valid ? -1 : SAFETENSORS_ERROR_INVALID_ARGUMENT, op);
        if (ok && value != NULL)
          g_hash_table_insert (state->staged.metadata, g_strdup (op->name), g_strdup (value));
        else if (ok)
          g_hash_table_remove (state->staged.metadata, op->name);
      }
      break;

    case OP_WRITE:
      apply_write (state, op);
      break;

    case OP_COMMIT:
    case OP_COMMIT_KEEP_FREE:
      if (keep_free != (op->kind == OP_COMMIT_KEEP_FREE))
        {
          switch_policy (state, ops);
          keep_free = !keep_free;
        }
      dirty = safetensors_file_has_changes (state->file);
      ok = safetensors_file_commit (state->file, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (ok);
      committed (state, keep_free, dirty);
      return;

    case OP_COMPACT:
      ok = safetensors_file_compact (state->file, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (ok);
      /* Whatever the transaction holds. */
      committed (state, FALSE, TRUE);
      return;

    case OP_ROLLBACK:
      safetensors_file_rollback (state->file);
      model_copy (&state->staged, &state->committed);
      g_array_set_size (state->transaction, 0);
      g_assert_false (safetensors_file_has_changes (state->file));
      check_against_model (state->file, &state->committed);
      check_folder ();
      return;

    case OP_REOPEN:
      close_file (state);
      state->flags = (state->flags & ~SAFETENSORS_OPEN_FLAGS_NO_MMAP) |
                     (op->no_mmap ? SAFETENSORS_OPEN_FLAGS_NO_MMAP : 0);
      open_file (state);
      return;

    case OP_NOTHING:
      return;

    default:
      g_assert_not_reached ();
    }

  /* An edit: part of the transaction. */
  g_array_append_val (state->transaction, index);
  g_assert_cmpuint (safetensors_file_get_n_tensors (state->file), ==,
                    g_hash_table_size (state->staged.tensors));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  State state = { 0 };
  g_autoptr(GArray) ops = decode (data, size, &state.flags);

  model_init (&state.committed);
  model_init (&state.staged);
  state.transaction = g_array_new (FALSE, FALSE, sizeof (guint));

  g_unlink (path);
  open_file (&state);
  check_committed (state.file, &state.committed, FALSE, FALSE);

  for (guint i = 0; i < ops->len; i++)
    apply (&state, ops, i);
  close_file (&state);
  /* Once per input: every byte and a few slices of each tensor. */
  check_committed (NULL, &state.committed, state.fillers, TRUE);

  g_unlink (path);
  g_array_unref (state.transaction);
  model_clear (&state.committed);
  model_clear (&state.staged);
  return 0;
}
