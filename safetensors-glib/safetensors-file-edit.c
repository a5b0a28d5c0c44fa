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
#include "safetensors-journal-private.h"
#include "safetensors-sparse-private.h"
#include "safetensors-tensor-private.h"

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

static void
committed_tensor_clear (gpointer data)
{
  CommittedTensor *committed = data;

  g_clear_object (&committed->tensor);
  g_clear_pointer (&committed->name, g_free);
}

/* Records the committed state, which rollback() returns to. */
void
safetensors_file_snapshot (SafetensorsFile *self)
{
  GHashTableIter iter;
  gpointer key, value;

  g_clear_pointer (&self->committed, g_array_unref);
  self->committed = g_array_sized_new (FALSE, FALSE, sizeof (CommittedTensor), self->tensors->len);
  g_array_set_clear_func (self->committed, committed_tensor_clear);

  for (guint i = 0; i < self->tensors->len; i++)
    {
      SafetensorsTensor *tensor = g_ptr_array_index (self->tensors, i);
      CommittedTensor committed;

      committed.tensor = g_object_ref (tensor);
      committed.name = g_strdup (safetensors_tensor_get_name (tensor));
      safetensors_tensor_get_data_offsets (tensor, &committed.begin, NULL);
      g_array_append_val (self->committed, committed);
    }

  g_clear_pointer (&self->committed_metadata, g_hash_table_unref);
  self->committed_metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_iter_init (&iter, self->metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (self->committed_metadata, g_strdup (key), g_strdup (value));

  self->committed_size = safetensors_storage_get_size (self->storage);
  self->staged_end = self->committed_size;
  g_array_set_size (self->free_ranges, 0);
  g_array_append_vals (self->free_ranges, self->fillers->data, self->fillers->len);
  self->staged_bytes = 0;
  self->dirty = FALSE;
}

gboolean
safetensors_file_check_writable (SafetensorsFile  *self,
                                 GError          **error)
{
  if (self->closed)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                   "%s: the file is closed", safetensors_storage_get_display_name (self->storage));
      return FALSE;
    }
  if (!(self->flags & SAFETENSORS_OPEN_FLAGS_READ_WRITE))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_READ_ONLY,
                   "%s: the file is open for reading; open it with READ_WRITE to edit it",
                   safetensors_storage_get_display_name (self->storage));
      return FALSE;
    }
  if (self->committing)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                   "%s: a commit is running", safetensors_storage_get_display_name (self->storage));
      return FALSE;
    }
  return TRUE;
}

/* Simplest honest change notification: everything changed. */
void
safetensors_file_emit_changed (SafetensorsFile *self,
                               guint            old_n_items)
{
  g_list_model_items_changed (G_LIST_MODEL (self), 0, old_n_items, self->tensors->len);
}

gboolean
safetensors_is_filler_name (const char *name)
{
  const char *p;

  if (!g_str_has_prefix (name, "__free_"))
    return FALSE;
  p = name + strlen ("__free_");
  if (!g_ascii_isdigit (*p))
    return FALSE;
  while (g_ascii_isdigit (*p))
    p++;
  return strcmp (p, "__") == 0;
}

/**
 * safetensors_file_get_free_bytes:
 * @self: a file
 *
 * Gets the number of bytes held by the hidden filler entries of the
 * keep-free policy, as of the last commit. They read as zeros and take no
 * disk blocks where the file system supports holes.
 *
 * Returns: the free bytes; 0 for a compact file
 *
 * Since: 1.0
 */
guint64
safetensors_file_get_free_bytes (SafetensorsFile *self)
{
  guint64 total = 0;

  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), 0);

  for (guint i = 0; i < self->fillers->len; i++)
    total += g_array_index (self->fillers, SafetensorsRange, i).len;
  return total;
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
    {
      /* Messages are UTF-8, whatever the caller passed. */
      g_autofree char *shown = g_utf8_make_valid (name, -1);

      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_TENSOR_NOT_FOUND,
                   "%s: no tensor named “%s”", display_name (self), shown);
    }
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

  /* Growing the file makes it invalid until the commit: a journal with the
   * old size comes first, so that a crash is undone on the next open. */
  if (!self->journal_active)
    {
      /* Set first: a journal installed before a later step failed must
       * still be removed by rollback(). */
      self->journal_active = TRUE;
      if (!safetensors_journal_write_hot (safetensors_storage_rw_get_journal_path (self->storage),
                                          safetensors_storage_rw_get_fd (self->storage),
                                          self->committed_size, NULL, NULL, error))
        return NULL;
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
      g_autofree char *shown = g_utf8_make_valid (new_name, -1);

      g_set_error (error, SAFETENSORS_ERROR,
                   strcmp (new_name, "__metadata__") == 0 ? SAFETENSORS_ERROR_RESERVED_NAME
                                                          : SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "%s: “%s” cannot name a tensor", display_name (self), shown);
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

  g_return_if_fail (SAFETENSORS_IS_FILE (self));

  if (self->committed == NULL || self->committing)
    return;
  /* Nothing staged, no journal, no growth: nothing to undo. A failed edit
   * may have left a journal or a longer file without making the
   * transaction dirty. */
  if (!self->dirty && !self->journal_active &&
      safetensors_storage_get_size (self->storage) == self->committed_size)
    return;

  /* Staged data lies past the committed end: cut it off; then the journal
   * that protected the growth has nothing left to protect. */
  if (!safetensors_storage_rw_set_size (self->storage, self->committed_size, &error) ||
      !safetensors_storage_rw_sync (self->storage, &error) ||
      (self->journal_active &&
       !safetensors_journal_remove (safetensors_storage_rw_get_journal_path (self->storage), &error)))
    g_warning ("%s", error->message);
  else
    self->journal_active = FALSE;

  safetensors_file_forget_transaction (self);
}

void
safetensors_file_forget_transaction (SafetensorsFile *self)
{
  guint old_n;
  GHashTableIter iter;
  gpointer key, value;

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

  self->staged_end = self->committed_size;
  self->staged_bytes = 0;
  g_array_set_size (self->free_ranges, 0);
  g_array_append_vals (self->free_ranges, self->fillers->data, self->fillers->len);
  self->dirty = FALSE;
  safetensors_file_emit_changed (self, old_n);
}

