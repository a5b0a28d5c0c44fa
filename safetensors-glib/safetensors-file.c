/* safetensors-file.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "safetensors-enums.h"
#include "safetensors-error.h"
#include "safetensors-file-private.h"
#include "safetensors-header-private.h"
#include "safetensors-journal-private.h"
#include "safetensors-storage-private.h"
#include "safetensors-tensor-private.h"

/**
 * SafetensorsFile:
 *
 * A `.safetensors` file: its tensors, in data-offset order, and its
 * metadata.
 *
 * Opening validates the whole header with the same checks, in the same
 * order, as the reference implementation, and rejects repeated tensor names
 * on top of them, so that a file that opens is one every other reader
 * accepts. Nothing but the header is read at open time.
 *
 * The file is a [iface@Gio.ListModel] of [class@Safetensors.Tensor].
 *
 * Since: 1.0
 */

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SafetensorsFile, safetensors_file, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum {
  PROP_0,
  PROP_FILE,
  PROP_FLAGS,
  PROP_COMMIT_PROGRESS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GType
safetensors_file_get_item_type (GListModel *model)
{
  return SAFETENSORS_TYPE_TENSOR;
}

static guint
safetensors_file_get_n_items (GListModel *model)
{
  return SAFETENSORS_FILE (model)->tensors->len;
}

static gpointer
safetensors_file_get_item (GListModel *model,
                           guint       position)
{
  SafetensorsFile *self = SAFETENSORS_FILE (model);

  if (position >= self->tensors->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->tensors, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = safetensors_file_get_item_type;
  iface->get_n_items = safetensors_file_get_n_items;
  iface->get_item = safetensors_file_get_item;
}

static void
safetensors_file_dispose (GObject *object)
{
  SafetensorsFile *self = (SafetensorsFile *) object;

  /* Dropping a file with a pending transaction rolls it back. */
  if ((self->dirty || self->journal_active) && !self->closed)
    safetensors_file_rollback (self);

  G_OBJECT_CLASS (safetensors_file_parent_class)->dispose (object);
}


static void
safetensors_file_finalize (GObject *object)
{
  SafetensorsFile *self = (SafetensorsFile *) object;

  g_clear_pointer (&self->committed, g_array_unref);
  g_clear_pointer (&self->committed_metadata, g_hash_table_unref);
  g_clear_pointer (&self->fillers, g_array_unref);
  g_clear_pointer (&self->free_ranges, g_array_unref);
  g_clear_object (&self->file);
  g_clear_pointer (&self->storage, safetensors_storage_unref);
  g_clear_pointer (&self->header_bytes, g_bytes_unref);
  g_clear_pointer (&self->by_name, g_hash_table_unref);
  g_clear_pointer (&self->tensors, g_ptr_array_unref);
  g_clear_pointer (&self->metadata, g_hash_table_unref);

  G_OBJECT_CLASS (safetensors_file_parent_class)->finalize (object);
}

static void
safetensors_file_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  SafetensorsFile *self = SAFETENSORS_FILE (object);

  switch (prop_id)
    {
    case PROP_FILE:
      g_value_set_object (value, self->file);
      break;
    case PROP_COMMIT_PROGRESS:
      g_value_set_double (value, self->commit_progress);
      break;
    case PROP_FLAGS:
      g_value_set_flags (value, self->flags);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
safetensors_file_class_init (SafetensorsFileClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = safetensors_file_dispose;
  object_class->finalize = safetensors_file_finalize;
  object_class->get_property = safetensors_file_get_property;

  /**
   * SafetensorsFile:file:
   *
   * The file that was opened.
   *
   * Since: 1.0
   */
  properties[PROP_FILE] =
    g_param_spec_object ("file", NULL, NULL, G_TYPE_FILE,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * SafetensorsFile:flags:
   *
   * The flags the file was opened with.
   *
   * Since: 1.0
   */
  properties[PROP_FLAGS] =
    g_param_spec_flags ("flags", NULL, NULL,
                        SAFETENSORS_TYPE_OPEN_FLAGS, SAFETENSORS_OPEN_FLAGS_NONE,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * SafetensorsFile:commit-progress:
   *
   * How far the running commit is, from 0 to 1: the share of the bytes it
   * has to copy that are copied. Notified (about 20 times a second at most)
   * in the thread that called [method@Safetensors.File.commit], or the main
   * context that called [method@Safetensors.File.commit_async]; 1 once a
   * commit is done.
   *
   * Since: 1.0
   */
  properties[PROP_COMMIT_PROGRESS] =
    g_param_spec_double ("commit-progress", NULL, NULL, 0.0, 1.0, 0.0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
safetensors_file_init (SafetensorsFile *self)
{
  self->tensors = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->fillers = g_array_new (FALSE, FALSE, sizeof (SafetensorsRange));
  self->free_ranges = g_array_new (FALSE, FALSE, sizeof (SafetensorsRange));
}

/* Reads and validates the header: the prefix checks, the JSON and its
 * offsets, then that the data area is exactly as long as the tensors
 * say, in the reference's order. */
static gboolean
load_header (SafetensorsFile  *self,
             GCancellable     *cancellable,
             GError          **error)
{
  const char *display_name = safetensors_storage_get_display_name (self->storage);
  guint64 file_size = safetensors_storage_get_size (self->storage);
  g_autoptr(SafetensorsHeader) header = NULL;
  guint8 prefix[8] = { 0 };
  guint64 header_len = 0;
  guint64 expected_size;

  if (file_size >= sizeof prefix &&
      !safetensors_storage_read (self->storage, 0, prefix, sizeof prefix, cancellable, error))
    return FALSE;

  if (!safetensors_header_check_prefix (display_name, prefix, file_size, &header_len, error))
    return FALSE;

  /* A file open for editing has its header rewritten by commits: keep a
   * copy rather than a view. */
  if (safetensors_storage_is_writable (self->storage))
    {
      g_autofree guint8 *copy = g_try_malloc (MAX (header_len, 1));

      if (copy == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "%s: cannot allocate the header",
                       display_name);
          return FALSE;
        }
      if (!safetensors_storage_read (self->storage, 8, copy, header_len, cancellable, error))
        return FALSE;
      self->header_bytes = g_bytes_new_take (g_steal_pointer (&copy), header_len);
    }
  else
    {
      self->header_bytes = safetensors_storage_get_bytes (self->storage, 8, header_len,
                                                          cancellable, error);
      if (self->header_bytes == NULL)
        return FALSE;
    }

  header = safetensors_header_parse (display_name,
                                     g_bytes_get_data (self->header_bytes, NULL),
                                     g_bytes_get_size (self->header_bytes),
                                     error);
  if (header == NULL)
    return FALSE;

  if (!g_uint64_checked_add (&expected_size, 8 + header_len, header->data_size) ||
      expected_size != file_size)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_METADATA_INCOMPLETE_BUFFER,
                   "%s: the tensors declare %" G_GUINT64_FORMAT " bytes of data after "
                   "the header but the file holds %" G_GUINT64_FORMAT,
                   display_name, header->data_size, file_size - 8 - header_len);
      return FALSE;
    }

  for (guint i = 0; i < header->tensors->len; i++)
    {
      const SafetensorsTensorInfo *info = g_ptr_array_index (header->tensors, i);
      SafetensorsTensor *tensor;

      /* Free space of the keep-free policy, not a tensor. */
      if (info->dtype == SAFETENSORS_DTYPE_U8 && info->n_dims == 1 &&
          safetensors_is_filler_name (info->name))
        {
          SafetensorsRange range = { 8 + header_len + info->begin, info->end - info->begin };

          g_array_append_val (self->fillers, range);
          continue;
        }

      tensor = safetensors_tensor_new (self->storage, info, 8 + header_len);

      g_ptr_array_add (self->tensors, tensor);
      /* A name that only differs after an embedded NUL collides here; the
       * first one wins, the others are still in the list model. */
      if (!g_hash_table_contains (self->by_name, safetensors_tensor_get_name (tensor)))
        g_hash_table_insert (self->by_name, (char *) safetensors_tensor_get_name (tensor), tensor);
    }

  self->data_start = 8 + header_len;

  if (header->metadata != NULL)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, header->metadata);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_insert (self->metadata, g_strdup (key), g_strdup (value));
    }

  return TRUE;
}

/* While a reader checks for a journal and parses the header, it holds the
 * commit lock shared, so that it never sees a commit half-way. Files
 * without a local path have no journal or lock. */
typedef struct
{
  int fd;
} ReaderGuard;

static void
reader_guard_release (ReaderGuard *guard)
{
  if (guard->fd >= 0)
    close (guard->fd);
  g_free (guard);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ReaderGuard, reader_guard_release)

static ReaderGuard *
reader_guard_acquire (GFile   *file,
                      GError **error)
{
  g_autoptr(ReaderGuard) guard = g_new0 (ReaderGuard, 1);
  g_autofree char *path = g_file_get_path (file);
  g_autofree char *journal_path = NULL;

  guard->fd = -1;
  if (path == NULL)
    return g_steal_pointer (&guard);

  guard->fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (guard->fd < 0)
    return g_steal_pointer (&guard);   /* the storage reports why */
  safetensors_lock_byte (guard->fd, SAFETENSORS_LOCK_COMMIT_BYTE, F_RDLCK, TRUE);

  journal_path = safetensors_journal_path_for (path);
  if (safetensors_journal_exists (journal_path))
    {
      g_autofree char *display_name = g_file_get_parse_name (file);

      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_NEEDS_RECOVERY,
                   "%s: a commit to this file was interrupted; open it for writing "
                   "(or run `safetensors-tool recover %s`) to repair it",
                   display_name, display_name);
      return NULL;
    }

  return g_steal_pointer (&guard);
}

/**
 * safetensors_file_open: (constructor)
 * @file: the file to open
 * @flags: how to open it
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Opens a `.safetensors` file and validates its header.
 *
 * Local files are memory-mapped unless @flags has
 * %SAFETENSORS_OPEN_FLAGS_NO_MMAP; files without a local path (other GIO
 * backends) are read through a seekable stream.
 *
 * Errors: a malformed file fails with the [error@Safetensors.Error] code of
 * the first check it breaks, naming the file (and the tensor when there is
 * one); failures to read it are in the `G_IO_ERROR` domain.
 *
 * Returns: (transfer full): the opened file, or %NULL on error
 *
 * Since: 1.0
 */
SafetensorsFile *
safetensors_file_open (GFile                *file,
                       SafetensorsOpenFlags  flags,
                       GCancellable         *cancellable,
                       GError              **error)
{
  g_autoptr(SafetensorsFile) self = NULL;
  gboolean use_mmap = (flags & SAFETENSORS_OPEN_FLAGS_NO_MMAP) == 0;

  g_return_val_if_fail (G_IS_FILE (file), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if ((flags & ~(SAFETENSORS_OPEN_FLAGS_NO_MMAP | SAFETENSORS_OPEN_FLAGS_READ_WRITE |
                 SAFETENSORS_OPEN_FLAGS_CREATE | SAFETENSORS_OPEN_FLAGS_KEEP_FREE |
                 SAFETENSORS_OPEN_FLAGS_WAIT_FOR_LOCK)) != 0)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "unknown open flags 0x%x", (guint) flags);
      return NULL;
    }

  if ((flags & (SAFETENSORS_OPEN_FLAGS_CREATE | SAFETENSORS_OPEN_FLAGS_KEEP_FREE |
                SAFETENSORS_OPEN_FLAGS_WAIT_FOR_LOCK)) &&
      !(flags & SAFETENSORS_OPEN_FLAGS_READ_WRITE))
    {
      g_set_error_literal (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                           "CREATE, KEEP_FREE and WAIT_FOR_LOCK need READ_WRITE");
      return NULL;
    }

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  self = g_object_new (SAFETENSORS_TYPE_FILE, NULL);
  self->file = g_object_ref (file);
  self->flags = flags;

  if (flags & SAFETENSORS_OPEN_FLAGS_READ_WRITE)
    {
      self->storage = safetensors_storage_open_rw (file, (flags & SAFETENSORS_OPEN_FLAGS_CREATE) != 0,
                                                   use_mmap,
                                                   (flags & SAFETENSORS_OPEN_FLAGS_WAIT_FOR_LOCK) != 0,
                                                   cancellable, error);
      if (self->storage == NULL || !load_header (self, cancellable, error))
        return NULL;
    }
  else
    {
      g_autoptr(ReaderGuard) guard = reader_guard_acquire (file, error);

      if (guard == NULL)
        return NULL;
      self->storage = safetensors_storage_open (file, use_mmap, cancellable, error);
      if (self->storage == NULL || !load_header (self, cancellable, error))
        return NULL;
    }

  if (flags & SAFETENSORS_OPEN_FLAGS_READ_WRITE)
    safetensors_file_snapshot (self);

  return g_steal_pointer (&self);
}

/**
 * safetensors_file_new_for_path:
 * @path: (type filename): a path in the local file system
 * @flags: how to open it
 * @error: return location for a #GError
 *
 * Opens a local file; a convenience for [ctor@Safetensors.File.open].
 *
 * Returns: (transfer full): the opened file, or %NULL on error
 *
 * Since: 1.0
 */
SafetensorsFile *
safetensors_file_new_for_path (const char            *path,
                               SafetensorsOpenFlags   flags,
                               GError               **error)
{
  g_autoptr(GFile) file = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  file = g_file_new_for_path (path);
  return safetensors_file_open (file, flags, NULL, error);
}

typedef struct
{
  GFile                *file;
  SafetensorsOpenFlags  flags;
} OpenData;

static void
open_data_free (gpointer data)
{
  OpenData *open_data = data;

  g_object_unref (open_data->file);
  g_free (open_data);
}

static void
open_worker (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  OpenData *open_data = task_data;
  GError *error = NULL;
  SafetensorsFile *self;

  self = safetensors_file_open (open_data->file, open_data->flags, cancellable, &error);
  if (self == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, self, g_object_unref);
}

/**
 * safetensors_file_open_async:
 * @file: the file to open
 * @flags: how to open it
 * @io_priority: the I/O priority of the request
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the file is open
 * @user_data: data for @callback
 *
 * Opens and validates a file in a worker thread. See
 * [ctor@Safetensors.File.open].
 *
 * Since: 1.0
 */
void
safetensors_file_open_async (GFile                *file,
                             SafetensorsOpenFlags  flags,
                             int                   io_priority,
                             GCancellable         *cancellable,
                             GAsyncReadyCallback   callback,
                             gpointer              user_data)
{
  g_autoptr(GTask) task = NULL;
  OpenData *open_data;

  g_return_if_fail (G_IS_FILE (file));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  open_data = g_new0 (OpenData, 1);
  open_data->file = g_object_ref (file);
  open_data->flags = flags;

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, safetensors_file_open_async);
  g_task_set_priority (task, io_priority);
  g_task_set_task_data (task, open_data, open_data_free);
  g_task_run_in_thread (task, open_worker);
}

/**
 * safetensors_file_open_finish:
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Completes [func@Safetensors.File.open_async].
 *
 * Returns: (transfer full): the opened file, or %NULL on error
 *
 * Since: 1.0
 */
SafetensorsFile *
safetensors_file_open_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        safetensors_file_open_async, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * safetensors_file_get_file:
 * @self: a file
 *
 * Gets the #GFile that was opened.
 *
 * Returns: (transfer none): the file
 *
 * Since: 1.0
 */
GFile *
safetensors_file_get_file (SafetensorsFile *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), NULL);

  return self->file;
}

/**
 * safetensors_file_get_flags:
 * @self: a file
 *
 * Gets the flags the file was opened with.
 *
 * Returns: the flags
 *
 * Since: 1.0
 */
SafetensorsOpenFlags
safetensors_file_get_flags (SafetensorsFile *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), 0);

  return self->flags;
}

/**
 * safetensors_file_is_mapped:
 * @self: a file
 *
 * Tells whether the file is memory-mapped, so that
 * [method@Safetensors.Tensor.get_bytes] is zero-copy.
 *
 * Returns: %TRUE if the file is mapped
 *
 * Since: 1.0
 */
gboolean
safetensors_file_is_mapped (SafetensorsFile *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), FALSE);

  return safetensors_storage_is_mapped (self->storage);
}

/**
 * safetensors_file_get_n_tensors:
 * @self: a file
 *
 * Gets the number of tensors.
 *
 * Returns: the number of tensors
 *
 * Since: 1.0
 */
guint
safetensors_file_get_n_tensors (SafetensorsFile *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), 0);

  return self->tensors->len;
}

/**
 * safetensors_file_lookup:
 * @self: a file
 * @name: a tensor name
 * @error: return location for a #GError
 *
 * Finds a tensor by name.
 *
 * Returns: (transfer full): the tensor, or %NULL with
 *   %SAFETENSORS_ERROR_TENSOR_NOT_FOUND
 *
 * Since: 1.0
 */
SafetensorsTensor *
safetensors_file_lookup (SafetensorsFile  *self,
                         const char       *name,
                         GError          **error)
{
  SafetensorsTensor *tensor;

  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  tensor = g_hash_table_lookup (self->by_name, name);
  if (tensor == NULL)
    {
      /* Messages are UTF-8, whatever the caller passed. */
      g_autofree char *shown = g_utf8_make_valid (name, -1);

      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_TENSOR_NOT_FOUND,
                   "%s: no tensor named “%s”",
                   safetensors_storage_get_display_name (self->storage), shown);
      return NULL;
    }

  return g_object_ref (tensor);
}

/**
 * safetensors_file_contains:
 * @self: a file
 * @name: a tensor name
 *
 * Tells whether a tensor called @name exists.
 *
 * Returns: %TRUE if there is such a tensor
 *
 * Since: 1.0
 */
gboolean
safetensors_file_contains (SafetensorsFile *self,
                           const char      *name)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  return g_hash_table_contains (self->by_name, name);
}

/**
 * safetensors_file_get_tensor_names:
 * @self: a file
 *
 * Gets the names of all tensors in the order of their data in the file.
 *
 * Returns: (transfer full) (array zero-terminated=1): the names
 *
 * Since: 1.0
 */
char **
safetensors_file_get_tensor_names (SafetensorsFile *self)
{
  GStrvBuilder *builder;
  char **names;

  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), NULL);

  builder = g_strv_builder_new ();
  for (guint i = 0; i < self->tensors->len; i++)
    g_strv_builder_add (builder, safetensors_tensor_get_name (g_ptr_array_index (self->tensors, i)));
  names = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);

  return names;
}

/**
 * safetensors_file_get_metadata:
 * @self: a file
 *
 * Gets a copy of the `__metadata__` map. It is empty when the header has no
 * metadata.
 *
 * Returns: (transfer full) (element-type utf8 utf8): the metadata
 *
 * Since: 1.0
 */
GHashTable *
safetensors_file_get_metadata (SafetensorsFile *self)
{
  GHashTable *copy;
  GHashTableIter iter;
  gpointer key, value;

  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), NULL);

  copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_iter_init (&iter, self->metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy, g_strdup (key), g_strdup (value));

  return copy;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b,
                 gpointer      user_data)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/**
 * safetensors_file_get_metadata_keys:
 * @self: a file
 *
 * Gets the keys of the `__metadata__` map, sorted bytewise.
 *
 * Returns: (transfer full) (array zero-terminated=1): the keys
 *
 * Since: 1.0
 */
char **
safetensors_file_get_metadata_keys (SafetensorsFile *self)
{
  g_autofree gpointer *keys = NULL;
  guint n_keys = 0;
  char **result;

  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), NULL);

  keys = g_hash_table_get_keys_as_array (self->metadata, &n_keys);
  result = g_new0 (char *, n_keys + 1);
  for (guint i = 0; i < n_keys; i++)
    result[i] = g_strdup (keys[i]);
  g_qsort_with_data (result, n_keys, sizeof (char *), compare_strings, NULL);

  return result;
}

/**
 * safetensors_file_get_metadata_value:
 * @self: a file
 * @key: a metadata key
 *
 * Looks up one value of the `__metadata__` map.
 *
 * Returns: (transfer none) (nullable): the value, or %NULL if @key is not
 *   set
 *
 * Since: 1.0
 */
const char *
safetensors_file_get_metadata_value (SafetensorsFile *self,
                                     const char      *key)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  return g_hash_table_lookup (self->metadata, key);
}

/**
 * safetensors_file_get_header_bytes:
 * @self: a file
 *
 * Gets the raw JSON text of the header, including any trailing padding, as
 * it is in the file.
 *
 * Returns: (transfer full): the header text
 *
 * Since: 1.0
 */
GBytes *
safetensors_file_get_header_bytes (SafetensorsFile *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), NULL);

  return g_bytes_ref (self->header_bytes);
}

/**
 * safetensors_file_get_header_size:
 * @self: a file
 *
 * Gets the length of the JSON header, the number stored in the first 8
 * bytes of the file.
 *
 * Returns: the header size in bytes
 *
 * Since: 1.0
 */
guint64
safetensors_file_get_header_size (SafetensorsFile *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), 0);

  return g_bytes_get_size (self->header_bytes);
}

/**
 * safetensors_file_get_data_start:
 * @self: a file
 *
 * Gets the absolute offset of the data area, 8 plus the header size.
 * Tensor data offsets are relative to it.
 *
 * Returns: the offset in bytes
 *
 * Since: 1.0
 */
guint64
safetensors_file_get_data_start (SafetensorsFile *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), 0);

  return 8 + g_bytes_get_size (self->header_bytes);
}

/**
 * safetensors_file_get_size:
 * @self: a file
 *
 * Gets the size of the file.
 *
 * Returns: the size in bytes
 *
 * Since: 1.0
 */
guint64
safetensors_file_get_size (SafetensorsFile *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), 0);

  return safetensors_storage_get_size (self->storage);
}

void
safetensors_file_set_commit_progress (SafetensorsFile *self,
                                      double           progress)
{
  if (self->commit_progress == progress)
    return;
  self->commit_progress = progress;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COMMIT_PROGRESS]);
}
