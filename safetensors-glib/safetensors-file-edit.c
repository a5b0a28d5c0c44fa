/* safetensors-file-edit.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Editing in place: the transaction API of SafetensorsFile and its commit.
 */

#include <string.h>

#include "safetensors-error.h"
#include "safetensors-file-private.h"
#include "safetensors-header-writer-private.h"
#include "safetensors-layout-private.h"
#include "safetensors-sparse-private.h"
#include "safetensors-tensor-private.h"

/* Spare header padding left when a commit has to grow the header, so that
 * the next small edit does not move data. */
#define HEADER_SPARE 4096

/* Copies within the file go through a buffer of this size. */
#define MOVE_CHUNK (4 * 1024 * 1024)

G_DEFINE_BOXED_TYPE (SafetensorsCommitStats, safetensors_commit_stats,
                     safetensors_commit_stats_copy, safetensors_commit_stats_free)

/**
 * safetensors_commit_stats_copy:
 * @stats: commit statistics
 *
 * Copies @stats.
 *
 * Returns: (transfer full): a copy
 *
 * Since: 1.0
 */
SafetensorsCommitStats *
safetensors_commit_stats_copy (const SafetensorsCommitStats *stats)
{
  return g_memdup2 (stats, sizeof *stats);
}

/**
 * safetensors_commit_stats_free:
 * @stats: commit statistics
 *
 * Frees @stats.
 *
 * Since: 1.0
 */
void
safetensors_commit_stats_free (SafetensorsCommitStats *stats)
{
  g_free (stats);
}

static const char *
display_name (SafetensorsFile *self)
{
  return safetensors_storage_get_display_name (self->storage);
}

static gboolean
check_user_name (SafetensorsFile  *self,
                 const char       *name,
                 GError          **error)
{
  /* Filler entries of the keep-free policy use these names. */
  if (g_str_has_prefix (name, "__free_"))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_RESERVED_NAME,
                   "%s: tensor names starting with “__free_” are reserved", display_name (self));
      return FALSE;
    }
  return TRUE;
}

static SafetensorsTensor *
lookup_existing (SafetensorsFile  *self,
                 const char       *name,
                 GError          **error)
{
  SafetensorsTensor *tensor = g_hash_table_lookup (self->by_name, name);

  if (tensor == NULL)
    g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_TENSOR_NOT_FOUND,
                 "%s: no tensor named “%s”", display_name (self), name);
  return tensor;
}

static guint
alignment_of (SafetensorsDType dtype)
{
  guint bits = safetensors_dtype_get_bits (dtype);

  return bits < 8 ? 1 : MIN (8, bits / 8);
}

/* New tensor data goes straight to the end of the staged area, past
 * everything the committed header references: a crash or a rollback
 * leaves the committed content intact. Zero blocks stay holes. */
static SafetensorsTensor *
stage_tensor (SafetensorsFile   *self,
              const char        *name,
              SafetensorsDType   dtype,
              const guint64     *shape,
              guint              n_dims,
              GBytes            *data,
              GError           **error)
{
  g_autoptr(SafetensorsTensorInfo) info = NULL;
  guint64 n_bytes, phys, end;

  info = safetensors_tensor_info_new (name, dtype, shape, n_dims, error);
  if (info == NULL)
    {
      g_prefix_error (error, "%s: ", display_name (self));
      return NULL;
    }
  n_bytes = safetensors_tensor_info_n_bytes (info);

  if (data != NULL && g_bytes_get_size (data) != n_bytes)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "%s: tensor “%s”: %" G_GSIZE_FORMAT " bytes of data given, but %s of "
                   "this shape takes %" G_GUINT64_FORMAT, display_name (self), name,
                   g_bytes_get_size (data), safetensors_dtype_to_string (dtype), n_bytes);
      return NULL;
    }

  /* Keep-free: reuse committed free space first. Its bytes are stale (or
   * a hole), so they are written in full. */
  if ((self->flags & SAFETENSORS_OPEN_FLAGS_KEEP_FREE) && n_bytes > 0)
    {
      phys = safetensors_ranges_take_best_fit (self->free_ranges, n_bytes, alignment_of (dtype));
      if (phys != G_MAXUINT64)
        {
          int fd = safetensors_storage_rw_get_fd (self->storage);

          if (data != NULL
              ? !safetensors_pwrite_all (fd, display_name (self), phys,
                                         g_bytes_get_data (data, NULL), n_bytes, NULL, error)
              : !safetensors_zero_range (fd, display_name (self), phys, n_bytes, NULL, error))
            return NULL;
          if (data != NULL)
            self->staged_bytes += n_bytes;
          goto staged;
        }
    }

  phys = (self->staged_end + alignment_of (dtype) - 1) / alignment_of (dtype) * alignment_of (dtype);
  if (!g_uint64_checked_add (&end, phys, n_bytes))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_VALIDATION_OVERFLOW,
                   "%s: tensor “%s” does not fit in the file", display_name (self), name);
      return NULL;
    }

  /* Size first, so that skipped zero blocks read back as holes. */
  if (end > safetensors_storage_get_size (self->storage) &&
      !safetensors_storage_rw_set_size (self->storage, end, error))
    return NULL;

  if (data != NULL &&
      !safetensors_pwrite_sparse (safetensors_storage_rw_get_fd (self->storage), display_name (self),
                                  phys, g_bytes_get_data (data, NULL), n_bytes, 4096, NULL, error))
    return NULL;

  self->staged_end = end;
  if (data != NULL)
    self->staged_bytes += n_bytes;

staged:
  info->begin = phys - self->data_start;
  info->end = info->begin + n_bytes;
  return safetensors_tensor_new (self->storage, info, self->data_start);
}

static void
insert_tensor (SafetensorsFile   *self,
               SafetensorsTensor *tensor,
               guint              position)
{
  g_ptr_array_insert (self->tensors, position, tensor);
  g_hash_table_insert (self->by_name, (char *) safetensors_tensor_get_name (tensor), tensor);
}

/**
 * safetensors_file_add_tensor:
 * @self: a file open with %SAFETENSORS_OPEN_FLAGS_READ_WRITE
 * @name: the new tensor's name
 * @dtype: its element type
 * @shape: (array length=n_dims) (nullable): its dimensions
 * @n_dims: the number of dimensions
 * @data: (nullable): its bytes, or %NULL for zeros (which take no disk
 *   space)
 * @error: return location for a #GError
 *
 * Adds a tensor in the current transaction. Its data is written to the
 * file at once, into space the committed header does not reference, so
 * nothing is held in memory; it becomes part of the file's content at the
 * next [method@Safetensors.File.commit].
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
safetensors_file_add_tensor (SafetensorsFile   *self,
                             const char        *name,
                             SafetensorsDType   dtype,
                             const guint64     *shape,
                             guint              n_dims,
                             GBytes            *data,
                             GError           **error)
{
  SafetensorsTensor *tensor;
  guint old_n = 0;

  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (shape != NULL || n_dims == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!safetensors_file_check_writable (self, error) || !check_user_name (self, name, error))
    return FALSE;

  if (g_hash_table_contains (self->by_name, name))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_DUPLICATE_NAME,
                   "%s: a tensor named “%s” already exists", display_name (self), name);
      return FALSE;
    }

  tensor = stage_tensor (self, name, dtype, shape, n_dims, data, error);
  if (tensor == NULL)
    return FALSE;

  old_n = self->tensors->len;
  insert_tensor (self, tensor, self->tensors->len);
  self->dirty = TRUE;
  safetensors_file_emit_changed (self, old_n);
  return TRUE;
}

/**
 * safetensors_file_replace_tensor:
 * @self: a file open with %SAFETENSORS_OPEN_FLAGS_READ_WRITE
 * @name: the name of an existing tensor
 * @dtype: the new element type
 * @shape: (array length=n_dims) (nullable): the new dimensions
 * @n_dims: the number of dimensions
 * @data: (nullable): the new bytes, or %NULL for zeros
 * @error: return location for a #GError
 *
 * Replaces a tensor by a new one of the same name, any dtype and shape, in
 * the current transaction. [class@Safetensors.Tensor] objects of the old
 * tensor report it as removed.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
safetensors_file_replace_tensor (SafetensorsFile   *self,
                                 const char        *name,
                                 SafetensorsDType   dtype,
                                 const guint64     *shape,
                                 guint              n_dims,
                                 GBytes            *data,
                                 GError           **error)
{
  SafetensorsTensor *old;
  SafetensorsTensor *tensor;
  guint position = 0;

  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (shape != NULL || n_dims == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!safetensors_file_check_writable (self, error))
    return FALSE;
  old = lookup_existing (self, name, error);
  if (old == NULL)
    return FALSE;

  tensor = stage_tensor (self, name, dtype, shape, n_dims, data, error);
  if (tensor == NULL)
    return FALSE;

  g_ptr_array_find (self->tensors, old, &position);
  g_hash_table_remove (self->by_name, name);
  safetensors_tensor_set_removed (old, TRUE);
  g_ptr_array_remove_index (self->tensors, position);
  insert_tensor (self, tensor, position);
  self->dirty = TRUE;
  g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 1);
  return TRUE;
}

/**
 * safetensors_file_remove_tensor:
 * @self: a file open with %SAFETENSORS_OPEN_FLAGS_READ_WRITE
 * @name: the name of an existing tensor
 * @error: return location for a #GError
 *
 * Removes a tensor in the current transaction.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
safetensors_file_remove_tensor (SafetensorsFile  *self,
                                const char       *name,
                                GError          **error)
{
  SafetensorsTensor *tensor;
  guint position = 0;

  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!safetensors_file_check_writable (self, error))
    return FALSE;
  tensor = lookup_existing (self, name, error);
  if (tensor == NULL)
    return FALSE;

  g_ptr_array_find (self->tensors, tensor, &position);
  g_hash_table_remove (self->by_name, name);
  safetensors_tensor_set_removed (tensor, TRUE);
  g_ptr_array_remove_index (self->tensors, position);
  self->dirty = TRUE;
  g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
  return TRUE;
}

/**
 * safetensors_file_rename_tensor:
 * @self: a file open with %SAFETENSORS_OPEN_FLAGS_READ_WRITE
 * @old_name: the name of an existing tensor
 * @new_name: its new name, not in use
 * @error: return location for a #GError
 *
 * Renames a tensor in the current transaction. Only the header changes.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
safetensors_file_rename_tensor (SafetensorsFile  *self,
                                const char       *old_name,
                                const char       *new_name,
                                GError          **error)
{
  SafetensorsTensor *tensor;

  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), FALSE);
  g_return_val_if_fail (old_name != NULL && new_name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!safetensors_file_check_writable (self, error) || !check_user_name (self, new_name, error))
    return FALSE;
  tensor = lookup_existing (self, old_name, error);
  if (tensor == NULL)
    return FALSE;
  if (strcmp (old_name, new_name) == 0)
    return TRUE;

  if (!g_utf8_validate (new_name, -1, NULL) || strcmp (new_name, "__metadata__") == 0)
    {
      g_set_error (error, SAFETENSORS_ERROR,
                   strcmp (new_name, "__metadata__") == 0 ? SAFETENSORS_ERROR_RESERVED_NAME
                                                          : SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "%s: “%s” cannot name a tensor", display_name (self), new_name);
      return FALSE;
    }
  if (g_hash_table_contains (self->by_name, new_name))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_DUPLICATE_NAME,
                   "%s: a tensor named “%s” already exists", display_name (self), new_name);
      return FALSE;
    }

  g_hash_table_remove (self->by_name, old_name);
  safetensors_tensor_set_name (tensor, new_name);
  g_hash_table_insert (self->by_name, (char *) safetensors_tensor_get_name (tensor), tensor);
  self->dirty = TRUE;
  return TRUE;
}

/**
 * safetensors_file_set_metadata_value:
 * @self: a file open with %SAFETENSORS_OPEN_FLAGS_READ_WRITE
 * @key: a metadata key
 * @value: (nullable): the new value, or %NULL to remove @key
 * @error: return location for a #GError
 *
 * Sets or removes one `__metadata__` entry in the current transaction.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
safetensors_file_set_metadata_value (SafetensorsFile  *self,
                                     const char       *key,
                                     const char       *value,
                                     GError          **error)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!safetensors_file_check_writable (self, error))
    return FALSE;

  if (!g_utf8_validate (key, -1, NULL) || (value != NULL && !g_utf8_validate (value, -1, NULL)))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "%s: metadata keys and values must be UTF-8", display_name (self));
      return FALSE;
    }

  if (value == NULL)
    self->dirty |= g_hash_table_remove (self->metadata, key);
  else
    {
      g_hash_table_insert (self->metadata, g_strdup (key), g_strdup (value));
      self->dirty = TRUE;
    }
  return TRUE;
}

/**
 * safetensors_file_has_changes:
 * @self: a file
 *
 * Tells whether the current transaction has changes to commit.
 *
 * Returns: %TRUE if [method@Safetensors.File.commit] has something to do
 *
 * Since: 1.0
 */
gboolean
safetensors_file_has_changes (SafetensorsFile *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), FALSE);

  return self->dirty;
}

static int
compare_by_offset (gconstpointer a,
                   gconstpointer b)
{
  guint64 begin_a, end_a, begin_b, end_b;

  safetensors_tensor_get_data_offsets (*(SafetensorsTensor * const *) a, &begin_a, &end_a);
  safetensors_tensor_get_data_offsets (*(SafetensorsTensor * const *) b, &begin_b, &end_b);
  if (begin_a != begin_b)
    return begin_a < begin_b ? -1 : 1;
  return end_a < end_b ? -1 : end_a > end_b;
}

static void
rebuild_index (SafetensorsFile *self)
{
  g_hash_table_remove_all (self->by_name);
  for (guint i = 0; i < self->tensors->len; i++)
    {
      SafetensorsTensor *tensor = g_ptr_array_index (self->tensors, i);

      if (!g_hash_table_contains (self->by_name, safetensors_tensor_get_name (tensor)))
        g_hash_table_insert (self->by_name, (char *) safetensors_tensor_get_name (tensor), tensor);
    }
}

/**
 * safetensors_file_rollback:
 * @self: a file
 *
 * Drops the current transaction: the file's tensors and metadata are those
 * of the last commit again, and data staged for new tensors is released.
 * Writes made with [method@Safetensors.Tensor.write] or through a mapping
 * are not undone.
 *
 * Since: 1.0
 */
void
safetensors_file_rollback (SafetensorsFile *self)
{
  g_autoptr(GError) error = NULL;
  guint old_n;
  GHashTableIter iter;
  gpointer key, value;

  g_return_if_fail (SAFETENSORS_IS_FILE (self));

  if (!self->dirty || self->committed == NULL)
    return;

  old_n = self->tensors->len;
  for (guint i = 0; i < self->tensors->len; i++)
    safetensors_tensor_set_removed (g_ptr_array_index (self->tensors, i), TRUE);

  g_hash_table_remove_all (self->by_name);
  g_ptr_array_set_size (self->tensors, 0);
  for (guint i = 0; i < self->committed->len; i++)
    {
      CommittedTensor *committed = &g_array_index (self->committed, CommittedTensor, i);

      safetensors_tensor_set_removed (committed->tensor, FALSE);
      if (g_strcmp0 (safetensors_tensor_get_name (committed->tensor), committed->name) != 0)
        safetensors_tensor_set_name (committed->tensor, committed->name);
      g_ptr_array_add (self->tensors, g_object_ref (committed->tensor));
    }
  rebuild_index (self);

  g_hash_table_remove_all (self->metadata);
  g_hash_table_iter_init (&iter, self->committed_metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (self->metadata, g_strdup (key), g_strdup (value));

  /* Staged data lies past the committed end: cut it off. */
  if (!safetensors_storage_rw_set_size (self->storage, self->committed_size, &error))
    g_warning ("%s", error->message);

  self->staged_end = self->committed_size;
  self->staged_bytes = 0;
  g_array_set_size (self->free_ranges, 0);
  g_array_append_vals (self->free_ranges, self->fillers->data, self->fillers->len);
  self->dirty = FALSE;
  safetensors_file_emit_changed (self, old_n);
}

/* Copies [src, src + len) to dst within the file, like memmove. */
static gboolean
move_range (SafetensorsFile  *self,
            guint8           *buffer,
            const SafetensorsMove *move,
            GCancellable     *cancellable,
            GError          **error)
{
  gboolean backwards = move->dst > move->src && move->dst < move->src + move->len;
  guint64 done = 0;

  while (done < move->len)
    {
      gsize n = MIN (move->len - done, MOVE_CHUNK);
      guint64 at = backwards ? move->len - done - n : done;

      if (!safetensors_storage_read (self->storage, move->src + at, buffer, n, cancellable, error) ||
          !safetensors_storage_write (self->storage, move->dst + at, buffer, n, cancellable, error))
        return FALSE;
      done += n;
    }
  return TRUE;
}

/* An upper bound of the header text: every offset printed as wide as the
 * largest position in the file can be. */
static SafetensorsTensorInfo *
filler_info (guint   index,
             guint64 begin,
             guint64 len)
{
  g_autofree char *name = g_strdup_printf ("__free_%u__", index);
  SafetensorsTensorInfo *info = safetensors_tensor_info_new (name, SAFETENSORS_DTYPE_U8, &len, 1, NULL);

  g_assert (info != NULL);
  info->begin = begin;
  info->end = begin + len;
  return info;
}

static guint64
header_upper_bound (SafetensorsFile *self,
                    guint64          max_offset,
                    guint            n_fillers)
{
  g_autoptr(GPtrArray) infos = g_ptr_array_new_with_free_func ((GDestroyNotify) safetensors_tensor_info_free);
  g_autoptr(GBytes) header = NULL;

  for (guint i = 0; i < self->tensors->len; i++)
    {
      SafetensorsTensor *tensor = g_ptr_array_index (self->tensors, i);
      const guint64 *shape;
      guint n_dims;
      SafetensorsTensorInfo *info;

      shape = safetensors_tensor_get_shape (tensor, &n_dims);
      info = safetensors_tensor_info_new (safetensors_tensor_get_name (tensor),
                                          safetensors_tensor_get_dtype (tensor),
                                          shape, n_dims, NULL);
      g_assert (info != NULL);
      info->begin = info->end = max_offset;
      g_ptr_array_add (infos, info);
    }
  for (guint i = 0; i < n_fillers; i++)
    {
      SafetensorsTensorInfo *info = filler_info (i, max_offset, max_offset);

      info->begin = info->end = max_offset;
      g_ptr_array_add (infos, info);
    }

  header = safetensors_header_serialize (infos, self->metadata, 0, NULL);
  return header != NULL ? g_bytes_get_size (header) - 8 : G_MAXUINT64;
}

static GBytes *
build_header (SafetensorsFile  *self,
              GArray           *items,
              GArray           *fillers,
              guint64           data_start,
              GError          **error)
{
  g_autoptr(GPtrArray) infos = g_ptr_array_new_with_free_func ((GDestroyNotify) safetensors_tensor_info_free);
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();

  for (guint i = 0; i < self->tensors->len; i++)
    {
      SafetensorsTensor *tensor = g_ptr_array_index (self->tensors, i);
      const SafetensorsLayoutItem *item = &g_array_index (items, SafetensorsLayoutItem, i);
      const guint64 *shape;
      guint n_dims;
      SafetensorsTensorInfo *info;

      shape = safetensors_tensor_get_shape (tensor, &n_dims);
      info = safetensors_tensor_info_new (safetensors_tensor_get_name (tensor),
                                          safetensors_tensor_get_dtype (tensor),
                                          shape, n_dims, NULL);
      info->begin = item->dst - data_start;
      info->end = info->begin + item->size;
      g_ptr_array_add (infos, info);
      g_ptr_array_add (sorted, info);
    }

  for (guint i = 0; i < fillers->len; i++)
    {
      const SafetensorsRange *range = &g_array_index (fillers, SafetensorsRange, i);
      SafetensorsTensorInfo *info = filler_info (i, range->start - data_start, range->len);

      g_ptr_array_add (infos, info);
      g_ptr_array_add (sorted, info);
    }

  /* In offset order, like every writer does. */
  g_ptr_array_sort (sorted, safetensors_tensor_info_compare_offsets);
  return safetensors_header_serialize_sized (sorted, self->metadata, data_start - 8, error);
}

/* Plans the new layout with the file's policy. The header must hold the
 * tensors and, with keep-free, one filler entry per gap, whose number the
 * plan decides: plan, count, and plan again with a larger header until it
 * fits (the data start only grows, so this ends quickly). */
static gboolean
plan_layout (SafetensorsFile        *self,
             GArray                 *items,
             GArray                 *fillers,
             guint64                 scratch_start,
             SafetensorsLayoutPlan  *plan,
             GError                **error)
{
  gboolean keep_free = (self->flags & SAFETENSORS_OPEN_FLAGS_KEEP_FREE) && !self->compacting;
  guint64 old_header = self->data_start - 8;
  guint64 header_min = header_upper_bound (self, scratch_start, 0);

  for (guint attempt = 0; attempt < 8; attempt++)
    {
      gboolean ok;
      guint64 needed;

      /* Growing: leave spare padding for the next edit. */
      if (header_min > old_header && header_min <= SAFETENSORS_HEADER_MAX_SIZE)
        header_min = MIN (header_min + HEADER_SPARE, SAFETENSORS_HEADER_MAX_SIZE);

      if (keep_free)
        ok = safetensors_layout_plan_keep_free (items, header_min, SAFETENSORS_HEADER_MAX_SIZE,
                                                self->data_start, plan, fillers);
      else
        ok = safetensors_layout_plan_compact (items, header_min, SAFETENSORS_HEADER_MAX_SIZE,
                                              scratch_start, plan);
      if (!ok)
        break;

      needed = fillers->len == 0 ? header_min
                                 : header_upper_bound (self, scratch_start, fillers->len);
      if (needed <= plan->data_start - 8)
        return TRUE;

      safetensors_layout_plan_clear (plan);
      for (guint i = 0; i < items->len; i++)
        g_array_index (items, SafetensorsLayoutItem, i).dst = 0;
      header_min = needed;
    }

  safetensors_layout_plan_clear (plan);
  g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_HEADER_TOO_LARGE,
               "%s: the header would need more than the 100000000 bytes the format allows",
               display_name (self));
  return FALSE;
}

/**
 * safetensors_file_compact:
 * @self: a file open with %SAFETENSORS_OPEN_FLAGS_READ_WRITE
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Commits pending changes with the compact policy, whatever the open
 * flags say: the filler entries of the keep-free policy go away and the
 * planner closes their gaps, moving as few bytes as it can.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
safetensors_file_compact (SafetensorsFile  *self,
                          GCancellable     *cancellable,
                          GError          **error)
{
  gboolean ok;

  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!safetensors_file_check_writable (self, error))
    return FALSE;

  if (self->fillers->len > 0)
    self->dirty = TRUE;
  self->compacting = TRUE;
  ok = safetensors_file_commit (self, cancellable, error);
  self->compacting = FALSE;
  return ok;
}

/**
 * safetensors_file_commit:
 * @self: a file open with %SAFETENSORS_OPEN_FLAGS_READ_WRITE
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Applies the current transaction to the file. The planner chooses the
 * layout that moves the fewest bytes: a gap at the front of the data
 * becomes header padding, tensors already in place stay, a hole is closed
 * by shifting the shorter side, the file is truncated at its new end; a
 * header that grows relocates only the tensors it overlaps and leaves
 * spare padding for the next edit. Afterwards the file passes the strict
 * reader, every tensor starts at a multiple of min(8, element size), and
 * [method@Safetensors.File.get_commit_stats] tells what it cost.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
safetensors_file_commit (SafetensorsFile  *self,
                         GCancellable     *cancellable,
                         GError          **error)
{
  g_autoptr(GArray) items = NULL;
  g_autoptr(GArray) fillers = g_array_new (FALSE, FALSE, sizeof (SafetensorsRange));
  g_autoptr(GBytes) header = NULL;
  g_autofree guint8 *buffer = NULL;
  SafetensorsLayoutPlan plan = { 0 };
  guint64 scratch_start;
  guint old_n;

  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!safetensors_file_check_writable (self, error))
    return FALSE;

  memset (&self->last_stats, 0, sizeof self->last_stats);
  if (!self->dirty)
    return TRUE;

  items = g_array_sized_new (FALSE, TRUE, sizeof (SafetensorsLayoutItem), self->tensors->len);
  for (guint i = 0; i < self->tensors->len; i++)
    {
      SafetensorsTensor *tensor = g_ptr_array_index (self->tensors, i);
      SafetensorsLayoutItem item = {
        .src = safetensors_tensor_get_file_offset (tensor),
        .size = safetensors_tensor_get_n_bytes (tensor),
        .align = safetensors_tensor_get_alignment (tensor),
      };

      g_array_append_val (items, item);
    }

  scratch_start = MAX (self->staged_end, safetensors_storage_get_size (self->storage));
  if (!plan_layout (self, items, fillers, scratch_start, &plan, error))
    return FALSE;

  header = build_header (self, items, fillers, plan.data_start, error);
  if (header == NULL)
    {
      safetensors_layout_plan_clear (&plan);
      return FALSE;
    }

  buffer = g_malloc (MOVE_CHUNK);
  for (guint i = 0; i < plan.moves->len; i++)
    {
      if (!move_range (self, buffer, &g_array_index (plan.moves, SafetensorsMove, i),
                       cancellable, error))
        {
          safetensors_layout_plan_clear (&plan);
          return FALSE;
        }
    }

  /* Free space takes no disk blocks (content does not matter). */
  for (guint i = 0; i < fillers->len; i++)
    {
      const SafetensorsRange *range = &g_array_index (fillers, SafetensorsRange, i);

      safetensors_punch_hole (safetensors_storage_rw_get_fd (self->storage), range->start, range->len);
    }

  if (!safetensors_storage_write (self->storage, 0, g_bytes_get_data (header, NULL),
                                  g_bytes_get_size (header), cancellable, error) ||
      !safetensors_storage_rw_set_size (self->storage, plan.end, error) ||
      !safetensors_storage_rw_sync (self->storage, error))
    {
      safetensors_layout_plan_clear (&plan);
      return FALSE;
    }

  /* The new state is on disk: make the objects follow. */
  for (guint i = 0; i < self->tensors->len; i++)
    {
      const SafetensorsLayoutItem *item = &g_array_index (items, SafetensorsLayoutItem, i);

      safetensors_tensor_set_location (g_ptr_array_index (self->tensors, i),
                                       plan.data_start, item->dst - plan.data_start);
    }

  g_array_set_size (self->fillers, 0);
  g_array_append_vals (self->fillers, fillers->data, fillers->len);

  old_n = self->tensors->len;
  g_ptr_array_sort (self->tensors, compare_by_offset);
  self->data_start = plan.data_start;
  g_clear_pointer (&self->header_bytes, g_bytes_unref);
  self->header_bytes = g_bytes_new_from_bytes (header, 8, g_bytes_get_size (header) - 8);

  self->last_stats.header_bytes = g_bytes_get_size (header);
  self->last_stats.bytes_moved = plan.bytes_moved;
  self->last_stats.bytes_written = self->staged_bytes + plan.bytes_copied +
                                   self->last_stats.header_bytes;
  safetensors_layout_plan_clear (&plan);

  safetensors_file_snapshot (self);
  safetensors_file_emit_changed (self, old_n);
  return TRUE;
}

/**
 * safetensors_file_get_commit_stats:
 * @self: a file
 *
 * Gets what the last [method@Safetensors.File.commit] cost. All zero
 * before the first commit and after one with nothing to do.
 *
 * Returns: (transfer full): the statistics
 *
 * Since: 1.0
 */
SafetensorsCommitStats *
safetensors_file_get_commit_stats (SafetensorsFile *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), NULL);

  return safetensors_commit_stats_copy (&self->last_stats);
}

/**
 * safetensors_file_close:
 * @self: a file
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Commits pending changes of a file open for editing and releases its
 * lock. Tensors obtained before stay readable. Further edits fail.
 * Closing a file open for reading only marks it closed.
 *
 * Returns: %TRUE on success; on failure the transaction is still pending
 *
 * Since: 1.0
 */
gboolean
safetensors_file_close (SafetensorsFile  *self,
                        GCancellable     *cancellable,
                        GError          **error)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->closed)
    return TRUE;

  if (self->dirty && !safetensors_file_commit (self, cancellable, error))
    return FALSE;

  if (safetensors_storage_is_writable (self->storage))
    safetensors_storage_rw_unlock (self->storage);
  self->closed = TRUE;
  return TRUE;
}
