/* fuzz-torch-common.c — what fuzz-pickle and fuzz-zip check of a PyTorch
 * import, once a checkpoint is open
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <glib/gstdio.h>

#include "fuzz-torch-common.h"
#include "safetensors-header-writer-private.h"
#include "test-util.h"

void
fuzz_torch_check_error (const GError *error,
                        const char   *display_name)
{
  g_assert_nonnull (error);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  if (error->domain != SAFETENSORS_ERROR)
    g_error ("an import failed with an error of domain %s: %s",
             g_quark_to_string (error->domain), error->message);

  switch (error->code)
    {
    case SAFETENSORS_ERROR_INVALID_DATA:
    case SAFETENSORS_ERROR_UNSAFE_PICKLE:
    case SAFETENSORS_ERROR_UNSUPPORTED:
    case SAFETENSORS_ERROR_INVALID_ARGUMENT:
    case SAFETENSORS_ERROR_DUPLICATE_NAME:
    case SAFETENSORS_ERROR_RESERVED_NAME:
    case SAFETENSORS_ERROR_VALIDATION_OVERFLOW:
      break;
    default:
      g_error ("an import failed with code %d: %s", error->code, error->message);
    }

  if (display_name != NULL && !g_str_has_prefix (error->message, display_name))
    g_error ("“%s” does not start with the file's name “%s”", error->message, display_name);
}

static char *made_out_dir;

static void
remove_out_dir (void)
{
  g_rmdir (made_out_dir);
}

char *
fuzz_torch_make_out_dir (void)
{
  g_assert_null (made_out_dir);
  made_out_dir = g_build_filename (test_tmpdir (), "out", NULL);
  g_assert_cmpint (g_mkdir (made_out_dir, 0700), ==, 0);
  /* Before test_tmpdir () removes its folder, which must be empty. */
  atexit (remove_out_dir);
  return g_strdup (made_out_dir);
}

void
fuzz_torch_assert_empty_dir (const char *dir)
{
  g_autoptr(GDir) handle = g_dir_open (dir, 0, NULL);
  const char *name;

  g_assert_nonnull (handle);
  name = g_dir_read_name (handle);
  if (name != NULL)
    g_error ("“%s” was left in %s", name, dir);
}

/* ---- the plan ----------------------------------------------------------- */

static void
check_plan (SafetensorsTorchCheckpoint *checkpoint,
            SafetensorsTorchPlan       *plan)
{
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  guint64 total = 0;

  g_assert_cmpstr (g_hash_table_lookup (plan->metadata, "format"), ==, "pt");

  for (guint i = 0; i < plan->tensors->len; i++)
    {
      SafetensorsTorchPlanTensor *planned = g_ptr_array_index (plan->tensors, i);
      SafetensorsTensorInfo *info = planned->info;
      SafetensorsPickleTensor *tensor = planned->tensor;
      SafetensorsPickleStorage *storage = tensor->storage;
      guint itemsize = safetensors_torch_dtype_get_itemsize (tensor->dtype);
      SafetensorsDType dtype;
      guint64 n_elements = 1, last;

      g_assert_true (g_utf8_validate (info->name, -1, NULL));
      g_assert_cmpstr (info->name, !=, "__metadata__");
      g_assert_false (g_hash_table_contains (names, info->name));
      g_hash_table_add (names, info->name);

      g_assert_false (tensor->quantized);
      g_assert_true (safetensors_torch_dtype_to_safetensors (tensor->dtype, &dtype));
      g_assert_cmpint (dtype, ==, info->dtype);
      g_assert_cmpuint (safetensors_dtype_get_bits (dtype), ==, itemsize * 8);

      g_assert_cmpuint (info->n_dims, ==, tensor->n_dims);
      g_assert_cmpint (tensor->offset, >=, 0);
      last = tensor->offset;
      for (guint d = 0; d < info->n_dims; d++)
        {
          g_assert_cmpint (tensor->size[d], >=, 0);
          g_assert_cmpint (tensor->stride[d], >=, 0);
          g_assert_cmpuint (info->shape[d], ==, (guint64) tensor->size[d]);
          g_assert_true (g_uint64_checked_mul (&n_elements, n_elements, info->shape[d]));
        }
      g_assert_cmpuint (n_elements * itemsize, ==, planned->n_bytes);
      g_assert_cmpuint (safetensors_tensor_info_n_bytes (info), ==, planned->n_bytes);
      g_assert_true (g_uint64_checked_add (&total, total, planned->n_bytes));

      /* Every element it reaches lies in its storage. */
      if (n_elements > 0)
        {
          for (guint d = 0; d < info->n_dims; d++)
            {
              guint64 step;

              g_assert_true (g_uint64_checked_mul (&step, info->shape[d] - 1, tensor->stride[d]));
              g_assert_true (g_uint64_checked_add (&last, last, step));
            }
          g_assert_cmpuint (last, <, storage->n_bytes / itemsize);
        }

      /* In the reference writer's order. */
      if (i > 0)
        {
          SafetensorsTorchPlanTensor *before = g_ptr_array_index (plan->tensors, i - 1);

          g_assert_cmpint (safetensors_tensor_info_compare_canonical (&before->info, &planned->info), <, 0);
        }
    }
  g_assert_cmpuint (total, ==, plan->total_bytes);

  /* removed, kept: a removed name is no tensor, a kept one is, and the
   * metadata records it (but for "format"). */
  g_assert_cmpuint (plan->aliases->len % 2, ==, 0);
  for (guint i = 0; i < plan->aliases->len; i += 2)
    {
      const char *removed = g_ptr_array_index (plan->aliases, i);
      const char *kept = g_ptr_array_index (plan->aliases, i + 1);

      g_assert_false (g_hash_table_contains (names, removed));
      g_assert_true (g_hash_table_contains (names, kept));
      g_assert_cmpint (strcmp (kept, removed), <, 0);
      if (!g_str_equal (removed, "format"))
        g_assert_cmpstr (g_hash_table_lookup (plan->metadata, removed), ==, kept);
      if (i > 0)
        g_assert_cmpint (strcmp (g_ptr_array_index (plan->aliases, i - 2), removed), <, 0);
    }

  for (guint i = 0; i < plan->extras->len; i++)
    {
      SafetensorsTorchExtra *extra = g_ptr_array_index (plan->extras, i);

      g_assert_true (g_utf8_validate (extra->name, -1, NULL));
      g_assert_true (g_utf8_validate (extra->reason, -1, NULL));
      g_assert_false (g_hash_table_contains (names, extra->name));
      if (extra->stored)
        g_assert_nonnull (g_hash_table_lookup (plan->metadata, extra->name));
    }

  {
    GHashTableIter iter;
    gpointer key, value;

    g_hash_table_iter_init (&iter, plan->metadata);
    while (g_hash_table_iter_next (&iter, &key, &value))
      {
        g_assert_true (g_utf8_validate (key, -1, NULL));
        g_assert_true (g_utf8_validate (value, -1, NULL));
      }
  }
}

/* ---- the output --------------------------------------------------------- */

/* The tensor's bytes, gathered element by element in C order from its
 * storage, each element swapped to little-endian. */
static GBytes *
expected_bytes (SafetensorsTorchCheckpoint *checkpoint,
                SafetensorsTorchPlanTensor *planned)
{
  SafetensorsPickleTensor *tensor = planned->tensor;
  guint itemsize = safetensors_torch_dtype_get_itemsize (tensor->dtype);
  guint swap = !safetensors_torch_checkpoint_is_big_endian (checkpoint) ? 1 :
               planned->info->dtype == SAFETENSORS_DTYPE_C64 ? itemsize / 2 : itemsize;
  guint64 n_elements = planned->n_bytes / itemsize;
  g_autofree guint64 *index = g_new0 (guint64, MAX (tensor->n_dims, 1));
  g_autoptr(GError) error = NULL;
  const guint8 *base;
  guint8 *out;

  if (planned->n_bytes == 0)
    return g_bytes_new (NULL, 0);

  base = safetensors_torch_checkpoint_map_storage (checkpoint, tensor->storage, NULL, &error);
  g_assert_no_error (error);
  out = g_malloc (planned->n_bytes);

  for (guint64 e = 0; e < n_elements; e++)
    {
      guint64 element = tensor->offset;
      guint8 *dest = out + e * itemsize;

      for (guint d = 0; d < tensor->n_dims; d++)
        element += index[d] * tensor->stride[d];
      g_assert_cmpuint (element, <, tensor->storage->n_bytes / itemsize);
      memcpy (dest, base + element * itemsize, itemsize);

      for (guint u = 0; u < itemsize; u += swap)
        for (guint a = u, b = u + swap - 1; a < b; a++, b--)
          {
            guint8 t = dest[a];

            dest[a] = dest[b];
            dest[b] = t;
          }

      for (guint d = tensor->n_dims; d-- > 0;)
        {
          if (++index[d] < (guint64) tensor->size[d])
            break;
          index[d] = 0;
        }
    }

  return g_bytes_new_take (out, planned->n_bytes);
}

static void
check_output (SafetensorsTorchCheckpoint *checkpoint,
              SafetensorsTorchPlan       *plan,
              const char                 *path)
{
  g_autoptr(GPtrArray) expected = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  static const SafetensorsOpenFlags flags[] = {
    SAFETENSORS_OPEN_FLAGS_NONE, SAFETENSORS_OPEN_FLAGS_NO_MMAP,
  };

  for (guint i = 0; i < plan->tensors->len; i++)
    g_ptr_array_add (expected, expected_bytes (checkpoint, g_ptr_array_index (plan->tensors, i)));

  for (guint f = 0; f < G_N_ELEMENTS (flags); f++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SafetensorsFile) st = safetensors_file_open (file, flags[f], NULL, &error);
      g_autoptr(GHashTable) metadata = NULL;
      GHashTableIter iter;
      gpointer key, value;

      g_assert_no_error (error);
      g_assert_cmpuint (safetensors_file_get_n_tensors (st), ==, plan->tensors->len);

      for (guint i = 0; i < plan->tensors->len; i++)
        {
          SafetensorsTorchPlanTensor *planned = g_ptr_array_index (plan->tensors, i);
          g_autoptr(SafetensorsTensor) tensor = safetensors_file_lookup (st, planned->info->name, &error);
          g_autoptr(GBytes) bytes = NULL;
          const guint64 *shape;
          guint n_dims = 0;

          g_assert_no_error (error);
          g_assert_cmpint (safetensors_tensor_get_dtype (tensor), ==, planned->info->dtype);
          shape = safetensors_tensor_get_shape (tensor, &n_dims);
          g_assert_cmpuint (n_dims, ==, planned->info->n_dims);
          if (n_dims > 0)
            g_assert_cmpmem (shape, n_dims * sizeof (guint64),
                             planned->info->shape, n_dims * sizeof (guint64));

          bytes = safetensors_tensor_get_bytes (tensor, NULL, &error);
          g_assert_no_error (error);
          g_assert_true (g_bytes_equal (bytes, g_ptr_array_index (expected, i)));
        }

      metadata = safetensors_file_get_metadata (st);
      g_assert_cmpuint (g_hash_table_size (metadata), ==, g_hash_table_size (plan->metadata));
      g_hash_table_iter_init (&iter, plan->metadata);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_assert_cmpstr (g_hash_table_lookup (metadata, key), ==, value);
    }
}

typedef struct
{
  goffset current;
  goffset total;
  guint   n_reports;
} Progress;

static void
on_progress (goffset  current,
             goffset  total,
             gpointer user_data)
{
  Progress *progress = user_data;

  g_assert_cmpint (current, >=, progress->current);
  g_assert_cmpint (current, <=, total);
  if (progress->n_reports > 0)
    g_assert_cmpint (total, ==, progress->total);
  progress->current = current;
  progress->total = total;
  progress->n_reports++;
}

static gboolean
write_plan (SafetensorsTorchCheckpoint *checkpoint,
            SafetensorsTorchPlan       *plan,
            const char                 *out_dir,
            gboolean                    storages_valid)
{
  g_autofree char *path = g_build_filename (out_dir, "out.safetensors", NULL);
  g_autoptr(GFile) destination = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;
  Progress progress = { 0 };

  if (plan->total_bytes > FUZZ_TORCH_MAX_OUTPUT)
    return FALSE;

  if (!safetensors_torch_plan_write (checkpoint, plan, destination, on_progress, &progress,
                                     NULL, &error))
    {
      /* A storage that does not inflate, or fails its CRC. */
      if (storages_valid)
        g_error ("a plan that cannot be written: %s", error->message);
      fuzz_torch_check_error (error, NULL);
      fuzz_torch_assert_empty_dir (out_dir);
      return FALSE;
    }

  g_assert_cmpint (progress.current, ==, plan->total_bytes);
  check_output (checkpoint, plan, path);
  g_assert_cmpint (g_unlink (path), ==, 0);
  fuzz_torch_assert_empty_dir (out_dir);
  return TRUE;
}

guint
fuzz_torch_check_checkpoint (SafetensorsTorchCheckpoint *checkpoint,
                             const char                 *out_dir,
                             gboolean                    storages_valid)
{
  static const SafetensorsImportFlags all_flags[] = {
    SAFETENSORS_IMPORT_FLAGS_NONE,
    SAFETENSORS_IMPORT_FLAGS_EXTRAS_TO_METADATA,
    SAFETENSORS_IMPORT_FLAGS_ALL,
    SAFETENSORS_IMPORT_FLAGS_ALL | SAFETENSORS_IMPORT_FLAGS_EXTRAS_TO_METADATA,
  };
  const char *display_name = safetensors_torch_checkpoint_get_display_name (checkpoint);
  SafetensorsPickleObject *root = safetensors_torch_checkpoint_get_root (checkpoint);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  guint n_written = 0;

  g_assert_nonnull (root);
  fuzz_torch_assert_empty_dir (out_dir);

  /* Keys select inside the checkpoint: the first ones of a root dict. */
  g_ptr_array_add (keys, NULL);
  if (root->type == SAFETENSORS_PICKLE_DICT)
    for (guint i = 0; i < root->seq.len && keys->len < 3; i += 2)
      g_ptr_array_add (keys, safetensors_pickle_object_key_string (root->seq.items[i]));

  for (guint k = 0; k < keys->len; k++)
    for (guint f = 0; f < G_N_ELEMENTS (all_flags); f++)
      {
        const char *key = g_ptr_array_index (keys, k);
        g_autoptr(SafetensorsTorchPlan) plan = NULL;
        g_autoptr(GError) error = NULL;

        plan = safetensors_torch_plan_new (checkpoint, all_flags[f], key, &error);
        g_assert_true ((plan == NULL) == (error != NULL));
        if (key != NULL && (all_flags[f] & SAFETENSORS_IMPORT_FLAGS_ALL))
          {
            g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
            continue;
          }
        if (plan == NULL)
          {
            fuzz_torch_check_error (error, display_name);
            continue;
          }

        check_plan (checkpoint, plan);
        n_written += write_plan (checkpoint, plan, out_dir, storages_valid);
      }

  return n_written;
}
