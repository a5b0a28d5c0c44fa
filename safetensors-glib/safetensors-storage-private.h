/* safetensors-storage-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A read-only view of the bytes of one file, shared by a SafetensorsFile and
 * every SafetensorsTensor it hands out, so that tensors stay usable after
 * the file object is gone. Thread-safe: reads may come from GTask workers.
 *
 * Backends: a shared mapping of a local file ("mmap"), pread on a local
 * descriptor ("fd"), or a GSeekable GInputStream for other GFiles. */
typedef struct _SafetensorsStorage SafetensorsStorage;

typedef struct
{
  void     (*finalize)  (SafetensorsStorage  *self);
  gboolean (*read)      (SafetensorsStorage  *self,
                         guint64              offset,
                         guint8              *buffer,
                         gsize                len,
                         GCancellable        *cancellable,
                         GError             **error);
  /* Optional: zero-copy slice; NULL means "copy through read". */
  GBytes  *(*map_range) (SafetensorsStorage  *self,
                         guint64              offset,
                         guint64              len);
} SafetensorsStorageClass;

struct _SafetensorsStorage
{
  const SafetensorsStorageClass *klass;
  char                          *display_name;
  guint64                        size;
};

SafetensorsStorage *safetensors_storage_open         (GFile               *file,
                                                      gboolean             use_mmap,
                                                      GCancellable        *cancellable,
                                                      GError             **error);
SafetensorsStorage *safetensors_storage_ref          (SafetensorsStorage  *self);
void                safetensors_storage_unref        (SafetensorsStorage  *self);
const char         *safetensors_storage_get_display_name (SafetensorsStorage *self);
guint64             safetensors_storage_get_size     (SafetensorsStorage  *self);
gboolean            safetensors_storage_is_mapped    (SafetensorsStorage  *self);
gboolean            safetensors_storage_read         (SafetensorsStorage  *self,
                                                      guint64              offset,
                                                      guint8              *buffer,
                                                      gsize                len,
                                                      GCancellable        *cancellable,
                                                      GError             **error);
GBytes             *safetensors_storage_get_bytes    (SafetensorsStorage  *self,
                                                      guint64              offset,
                                                      guint64              len,
                                                      GCancellable        *cancellable,
                                                      GError             **error);

/* Backend constructors, used by safetensors_storage_open(). */
SafetensorsStorage *safetensors_storage_mmap_new     (int                  fd,
                                                      const char          *display_name,
                                                      guint64              size,
                                                      GError             **error);
SafetensorsStorage *safetensors_storage_fd_new       (int                  fd,
                                                      const char          *display_name,
                                                      guint64              size);
SafetensorsStorage *safetensors_storage_stream_new   (GFile               *file,
                                                      const char          *display_name,
                                                      GCancellable        *cancellable,
                                                      GError             **error);

/* Read-write storage of a local file (READ_WRITE mode): pread/pwrite, and
 * with @use_mmap writable shared mappings made per range on demand, so that
 * the file can grow and shrink under them. Takes ownership of @fd. */
/* Opens a local file for editing: O_RDWR (O_CREAT with @create, an empty
 * file becoming an empty safetensors file), under an exclusive OFD lock
 * (SAFETENSORS_ERROR_LOCKED when another writer holds it, unless
 * @wait_for_lock, which blocks until it is free). */
SafetensorsStorage *safetensors_storage_open_rw      (GFile               *file,
                                                      gboolean             create,
                                                      gboolean             use_mmap,
                                                      gboolean             wait_for_lock,
                                                      GCancellable        *cancellable,
                                                      GError             **error);
SafetensorsStorage *safetensors_storage_rw_new       (int                  fd,
                                                      const char          *display_name,
                                                      guint64              size,
                                                      gboolean             use_mmap);
gboolean            safetensors_storage_is_writable  (SafetensorsStorage  *self);
int                 safetensors_storage_rw_get_fd    (SafetensorsStorage  *self);
gboolean            safetensors_storage_write        (SafetensorsStorage  *self,
                                                      guint64              offset,
                                                      const guint8        *data,
                                                      gsize                len,
                                                      GCancellable        *cancellable,
                                                      GError             **error);
/* Grows or shrinks the file. Before shrinking, every live mapping of the
 * cut-off part is replaced by anonymous memory, so that old views read
 * stale bytes instead of raising SIGBUS. */
gboolean            safetensors_storage_rw_set_size  (SafetensorsStorage  *self,
                                                      guint64              size,
                                                      GError             **error);
const char         *safetensors_storage_rw_get_journal_path (SafetensorsStorage *self);
/* Releases the writer's lock; reads keep working. */
void                safetensors_storage_rw_unlock    (SafetensorsStorage  *self);
gboolean            safetensors_storage_rw_sync      (SafetensorsStorage  *self,
                                                      GError             **error);

/* For backends: allocates the struct of a backend with refcount 1. */
gpointer            safetensors_storage_alloc        (gsize                struct_size,
                                                      const SafetensorsStorageClass *klass,
                                                      const char          *display_name,
                                                      guint64              size);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SafetensorsStorage, safetensors_storage_unref)

G_END_DECLS
