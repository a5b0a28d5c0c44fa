/* safetensors-storage-rw.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors-error.h"
#include "safetensors-journal-private.h"
#include "safetensors-mapping-private.h"

#include "safetensors-sparse-private.h"
#include "safetensors-storage-private.h"

/* A file open for editing changes size, so it is not mapped whole: each
 * get_bytes() maps just its range, shared and writable, and the mapping
 * lives as long as the GBytes. Mappings are registered (see
 * safetensors-mapping-private.h) so that shrinking the file never leaves a
 * view that raises SIGBUS. */

typedef struct _RwStorage RwStorage;

struct _RwStorage
{
  SafetensorsStorage parent;
  int fd;
  char *journal_path;
  gboolean use_mmap;
};

static void
rw_storage_finalize (SafetensorsStorage *storage)
{
  RwStorage *self = (RwStorage *) storage;

  if (self->fd >= 0)
    close (self->fd);
  g_free (self->journal_path);
}

static gboolean
rw_storage_read (SafetensorsStorage  *storage,
                 guint64              offset,
                 guint8              *buffer,
                 gsize                len,
                 GCancellable        *cancellable,
                 GError             **error)
{
  RwStorage *self = (RwStorage *) storage;
  gsize done = 0;

  while (done < len)
    {
      gssize n;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      n = pread (self->fd, buffer + done, MIN (len - done, 8 << 20), offset + done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved_errno = n < 0 ? errno : EIO;

          g_set_error (error, G_IO_ERROR, n < 0 ? g_io_error_from_errno (saved_errno) : G_IO_ERROR_PARTIAL_INPUT,
                       "%s: read failed at offset %" G_GUINT64_FORMAT ": %s",
                       storage->display_name, offset + done,
                       n < 0 ? g_strerror (saved_errno) : "unexpected end of file");
          return FALSE;
        }
      done += n;
    }
  return TRUE;
}

static GBytes *
rw_storage_map_range (SafetensorsStorage *storage,
                      guint64             offset,
                      guint64             len)
{
  RwStorage *self = (RwStorage *) storage;
  SafetensorsMapping *mapping;

  if (len == 0)
    return g_bytes_new (NULL, 0);

  mapping = safetensors_mapping_new (self->fd, offset, len, PROT_READ | PROT_WRITE);
  if (mapping == NULL)
    return NULL;

  return g_bytes_new_with_free_func (mapping->addr + (offset - mapping->file_offset), len,
                                     safetensors_mapping_free, mapping);
}

static GBytes *rw_storage_map_range_or_copy (SafetensorsStorage *storage,
                                             guint64             offset,
                                             guint64             len);

static const SafetensorsStorageClass rw_mmap_storage_class = {
  .finalize = rw_storage_finalize,
  .read = rw_storage_read,
  .map_range = rw_storage_map_range_or_copy,
};

static const SafetensorsStorageClass rw_fd_storage_class = {
  .finalize = rw_storage_finalize,
  .read = rw_storage_read,
};

/* mmap() can fail (address space, limits); fall back to a copy then. */
static GBytes *
rw_storage_map_range_or_copy (SafetensorsStorage *storage,
                              guint64             offset,
                              guint64             len)
{
  GBytes *bytes = rw_storage_map_range (storage, offset, len);
  g_autofree guint8 *copy = NULL;

  if (bytes != NULL || len > G_MAXSIZE)
    return bytes;

  copy = g_try_malloc (len);
  if (copy == NULL || !rw_storage_read (storage, offset, copy, len, NULL, NULL))
    return NULL;
  return g_bytes_new_take (g_steal_pointer (&copy), len);
}

SafetensorsStorage *
safetensors_storage_rw_new (int         fd,
                            const char *display_name,
                            guint64     size,
                            gboolean    use_mmap)
{
  RwStorage *self;

  self = safetensors_storage_alloc (sizeof *self,
                                    use_mmap ? &rw_mmap_storage_class : &rw_fd_storage_class,
                                    display_name, size);
  self->fd = fd;
  self->use_mmap = use_mmap;

  return &self->parent;
}

gboolean
safetensors_storage_is_writable (SafetensorsStorage *self)
{
  return self->klass == &rw_mmap_storage_class || self->klass == &rw_fd_storage_class;
}

int
safetensors_storage_rw_get_fd (SafetensorsStorage *self)
{
  g_assert (safetensors_storage_is_writable (self));

  return ((RwStorage *) self)->fd;
}

gboolean
safetensors_storage_write (SafetensorsStorage  *self,
                           guint64              offset,
                           const guint8        *data,
                           gsize                len,
                           GCancellable        *cancellable,
                           GError             **error)
{
  g_assert (safetensors_storage_is_writable (self));

  if (!safetensors_pwrite_all (((RwStorage *) self)->fd, self->display_name, offset, data, len,
                               cancellable, error))
    return FALSE;
  if (offset + len > self->size)
    self->size = offset + len;
  return TRUE;
}

gboolean
safetensors_storage_rw_set_size (SafetensorsStorage  *storage,
                                 guint64              size,
                                 GError             **error)
{
  RwStorage *self = (RwStorage *) storage;

  g_assert (safetensors_storage_is_writable (storage));

  if (size < storage->size)
    {
      struct stat st;

      if (fstat (self->fd, &st) == 0)
        safetensors_mappings_detach_beyond (st.st_dev, st.st_ino, size);
    }

  if (ftruncate (self->fd, (off_t) size) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s: cannot resize to %" G_GUINT64_FORMAT " bytes: %s",
                   storage->display_name, size, g_strerror (saved_errno));
      return FALSE;
    }
  storage->size = size;
  return TRUE;
}

gboolean
safetensors_storage_rw_sync (SafetensorsStorage  *storage,
                             GError             **error)
{
  RwStorage *self = (RwStorage *) storage;

  if (fdatasync (self->fd) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s: cannot sync: %s", storage->display_name, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

/* An empty safetensors file, as the reference writer makes it. */
static const char empty_file[16] = "\x08\0\0\0\0\0\0\0{}      ";

static gboolean
sync_new_file (int          fd,
               const char  *path,
               const char  *display_name,
               GError     **error)
{
  if (fsync (fd) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s: cannot sync: %s", display_name, g_strerror (saved_errno));
      return FALSE;
    }
  return safetensors_fsync_directory_of (path, error);
}

SafetensorsStorage *
safetensors_storage_open_rw (GFile         *file,
                             gboolean       create,
                             gboolean       use_mmap,
                             gboolean       wait_for_lock,
                             GCancellable  *cancellable,
                             GError       **error)
{
  g_autofree char *path = g_file_get_path (file);
  g_autofree char *display_name = g_file_get_parse_name (file);
  g_autofree char *journal_path = NULL;
  SafetensorsStorage *storage;
  guint recovered = 0;
  struct stat st;
  int fd;

  if (path == NULL)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   "%s: only local files can be edited in place", display_name);
      return NULL;
    }

  fd = open (path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0666);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s: %s", display_name, g_strerror (saved_errno));
      return NULL;
    }

  /* One writer at a time, across processes and within this one: OFD
   * locks belong to the open file description, not to the process. */
  if (!safetensors_lock_byte (fd, SAFETENSORS_LOCK_WRITER_BYTE, F_WRLCK, wait_for_lock))
    {
      int saved_errno = errno;

      close (fd);
      if (saved_errno == EAGAIN || saved_errno == EACCES)
        g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_LOCKED,
                     "%s: another writer has the file open", display_name);
      else
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                     "%s: cannot lock: %s", display_name, g_strerror (saved_errno));
      return NULL;
    }

  /* An interrupted commit is undone (or finished) before anything else,
   * with readers kept out meanwhile. */
  journal_path = safetensors_journal_path_for (path);
  safetensors_lock_byte (fd, SAFETENSORS_LOCK_COMMIT_BYTE, F_WRLCK, TRUE);
  if (!safetensors_journal_recover (journal_path, fd, display_name, &recovered, error))
    {
      close (fd);
      return NULL;
    }
  safetensors_lock_byte (fd, SAFETENSORS_LOCK_COMMIT_BYTE, F_UNLCK, FALSE);
  if (recovered)
    g_debug ("%s: recovered from an interrupted commit", display_name);

  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                   "%s: not a regular file", display_name);
      close (fd);
      return NULL;
    }

  /* A new (empty) file becomes a valid empty safetensors file. */
  if (create && st.st_size == 0)
    {
      /* Durable before any commit relies on it: a journal records the
       * old bytes it overwrites, not that the file exists. */
      if (!safetensors_pwrite_all (fd, display_name, 0, (const guint8 *) empty_file,
                                   sizeof empty_file, cancellable, error) ||
          !sync_new_file (fd, path, display_name, error))
        {
          close (fd);
          return NULL;
        }
      st.st_size = sizeof empty_file;
    }

  storage = safetensors_storage_rw_new (fd, display_name, st.st_size, use_mmap);
  ((RwStorage *) storage)->journal_path = g_steal_pointer (&journal_path);
  return storage;
}

const char *
safetensors_storage_rw_get_journal_path (SafetensorsStorage *storage)
{
  g_assert (safetensors_storage_is_writable (storage));

  return ((RwStorage *) storage)->journal_path;
}

void
safetensors_storage_rw_unlock (SafetensorsStorage *storage)
{
  RwStorage *self = (RwStorage *) storage;

  g_assert (safetensors_storage_is_writable (storage));

  if (!safetensors_lock_byte (self->fd, SAFETENSORS_LOCK_WRITER_BYTE, F_UNLCK, FALSE))
    g_debug ("%s: cannot unlock: %s", storage->display_name, g_strerror (errno));
}
