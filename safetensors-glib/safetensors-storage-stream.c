/* safetensors-storage-stream.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <unistd.h>

#include "safetensors-storage-private.h"

/* Reads go to the file on demand. Two flavours: pread on a local descriptor
 * (no shared position, so no lock), and a seekable GInputStream for GFiles
 * without a local path, where seek + read must be done under a lock. */

static gboolean
cancelled (GCancellable  *cancellable,
           GError       **error)
{
  return g_cancellable_set_error_if_cancelled (cancellable, error);
}

/* ---- pread on a local descriptor ---------------------------------------- */

typedef struct
{
  SafetensorsStorage parent;
  int fd;
} FdStorage;

/* Reads in bounded chunks so that cancellation is noticed on large
 * tensors. */
#define READ_CHUNK (8 * 1024 * 1024)

static void
fd_storage_finalize (SafetensorsStorage *storage)
{
  FdStorage *self = (FdStorage *) storage;

  if (self->fd >= 0)
    close (self->fd);
}

static gboolean
fd_storage_read (SafetensorsStorage  *storage,
                 guint64              offset,
                 guint8              *buffer,
                 gsize                len,
                 GCancellable        *cancellable,
                 GError             **error)
{
  FdStorage *self = (FdStorage *) storage;
  gsize done = 0;

  while (done < len)
    {
      gsize want = MIN (len - done, READ_CHUNK);
      gssize n;

      if (cancelled (cancellable, error))
        return FALSE;

      n = pread (self->fd, buffer + done, want, offset + done);
      if (n < 0)
        {
          int saved_errno = errno;

          if (saved_errno == EINTR)
            continue;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "%s: read failed at offset %" G_GUINT64_FORMAT ": %s",
                       storage->display_name, offset + done, g_strerror (saved_errno));
          return FALSE;
        }
      if (n == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                       "%s: file ended at offset %" G_GUINT64_FORMAT
                       " (was it truncated while open?)",
                       storage->display_name, offset + done);
          return FALSE;
        }
      done += n;
    }

  return TRUE;
}

static const SafetensorsStorageClass fd_storage_class = {
  .finalize = fd_storage_finalize,
  .read = fd_storage_read,
};

SafetensorsStorage *
safetensors_storage_fd_new (int         fd,
                            const char *display_name,
                            guint64     size)
{
  FdStorage *self;

  self = safetensors_storage_alloc (sizeof *self, &fd_storage_class, display_name, size);
  self->fd = fd;

  return &self->parent;
}

/* ---- seekable GInputStream ----------------------------------------------- */

typedef struct
{
  SafetensorsStorage parent;
  GMutex lock;
  GInputStream *stream;
} StreamStorage;

static void
stream_storage_finalize (SafetensorsStorage *storage)
{
  StreamStorage *self = (StreamStorage *) storage;

  g_clear_object (&self->stream);
  g_mutex_clear (&self->lock);
}

static gboolean
stream_storage_read (SafetensorsStorage  *storage,
                     guint64              offset,
                     guint8              *buffer,
                     gsize                len,
                     GCancellable        *cancellable,
                     GError             **error)
{
  StreamStorage *self = (StreamStorage *) storage;
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  gsize n_read = 0;

  if (!g_seekable_seek (G_SEEKABLE (self->stream), (goffset) offset,
                        G_SEEK_SET, cancellable, error))
    {
      g_prefix_error (error, "%s: ", storage->display_name);
      return FALSE;
    }

  if (!g_input_stream_read_all (self->stream, buffer, len, &n_read, cancellable, error))
    {
      g_prefix_error (error, "%s: ", storage->display_name);
      return FALSE;
    }

  if (n_read != len)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                   "%s: file ended at offset %" G_GUINT64_FORMAT,
                   storage->display_name, offset + n_read);
      return FALSE;
    }

  return TRUE;
}

static const SafetensorsStorageClass stream_storage_class = {
  .finalize = stream_storage_finalize,
  .read = stream_storage_read,
};

static gboolean
query_stream_size (GFileInputStream  *stream,
                   guint64           *out_size,
                   GCancellable      *cancellable,
                   GError           **error)
{
  g_autoptr(GFileInfo) info = NULL;
  goffset end;

  info = g_file_input_stream_query_info (stream, G_FILE_ATTRIBUTE_STANDARD_SIZE,
                                         cancellable, NULL);
  if (info != NULL && g_file_info_has_attribute (info, G_FILE_ATTRIBUTE_STANDARD_SIZE))
    {
      *out_size = (guint64) g_file_info_get_size (info);
      return TRUE;
    }

  /* Some backends do not report a size; the end of the stream tells. */
  if (!g_seekable_seek (G_SEEKABLE (stream), 0, G_SEEK_END, cancellable, error))
    return FALSE;
  end = g_seekable_tell (G_SEEKABLE (stream));
  if (end < 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "cannot determine the size of the file");
      return FALSE;
    }
  *out_size = (guint64) end;
  return TRUE;
}

SafetensorsStorage *
safetensors_storage_stream_new (GFile         *file,
                                const char    *display_name,
                                GCancellable  *cancellable,
                                GError       **error)
{
  g_autoptr(GFileInputStream) stream = NULL;
  StreamStorage *self;
  guint64 size = 0;

  stream = g_file_read (file, cancellable, error);
  if (stream == NULL)
    {
      g_prefix_error (error, "%s: ", display_name);
      return NULL;
    }

  if (!g_seekable_can_seek (G_SEEKABLE (stream)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s: the file cannot be read at random offsets (not seekable)",
                   display_name);
      return NULL;
    }

  if (!query_stream_size (stream, &size, cancellable, error))
    {
      g_prefix_error (error, "%s: ", display_name);
      return NULL;
    }

  self = safetensors_storage_alloc (sizeof *self, &stream_storage_class, display_name, size);
  g_mutex_init (&self->lock);
  self->stream = G_INPUT_STREAM (g_steal_pointer (&stream));

  return &self->parent;
}
