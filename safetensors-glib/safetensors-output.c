/* safetensors-output.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "safetensors-output-private.h"
#include "safetensors-sparse-private.h"

/* Copies through this process go in pieces of this size. */
#define COPY_BUFFER_SIZE (1024 * 1024)

/* Writeback of a new file is started every this many bytes, so that the
 * disk writes while the rest is produced and the final fsync() has little
 * left to wait for: the file is synced anyway, and this way it costs about
 * the longer of producing and writing it instead of their sum. */
#define WRITEBACK_INTERVAL (G_GUINT64_CONSTANT (64) << 20)

struct _SafetensorsOutput
{
  char          *display_name;

  /* local file */
  int            fd;
  char          *path;
  char          *tmp_path;
  guint          block_size;
  gboolean       sparse;
  gboolean       committed;
  gboolean       no_kernel_copy;   /* copy_file_range() failed once */
  guint64        unsynced;         /* bytes written since writeback was started */

  /* stream */
  GOutputStream *stream;
  guint64        position;
};

static void
set_errno_error (GError     **error,
                 int          saved_errno,
                 const char  *display_name,
                 const char  *what)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "%s: %s: %s", display_name, what, g_strerror (saved_errno));
}

/* O_EXCL with a random name rather than mkstemp(): the file is created with
 * mode 0666 minus the umask, like any new file, instead of 0600. */
static int
create_temporary (const char  *path,
                  char       **out_tmp_path,
                  GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);

  for (guint attempt = 0; attempt < 100; attempt++)
    {
      g_autofree char *name = g_strdup_printf (".%s.%08x.tmp", base, g_random_int ());
      g_autofree char *tmp_path = g_build_filename (dir, name, NULL);
      int fd = g_open (tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);

      if (fd >= 0)
        {
          *out_tmp_path = g_steal_pointer (&tmp_path);
          return fd;
        }
      if (errno != EEXIST)
        {
          set_errno_error (error, errno, path, "cannot create a temporary file beside it");
          return -1;
        }
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
               "%s: cannot find a free temporary file name", path);
  return -1;
}

SafetensorsOutput *
safetensors_output_new_for_file (GFile         *destination,
                                 guint64        size,
                                 gboolean       sparse,
                                 GCancellable  *cancellable,
                                 GError       **error)
{
  g_autoptr(SafetensorsOutput) self = g_new0 (SafetensorsOutput, 1);
  struct stat st;

  self->fd = -1;
  self->sparse = sparse;
  self->display_name = g_file_get_parse_name (destination);
  self->path = g_file_get_path (destination);
  g_assert (self->path != NULL);

  self->fd = create_temporary (self->path, &self->tmp_path, error);
  if (self->fd < 0)
    return NULL;

  if (ftruncate (self->fd, (off_t) size) != 0)
    {
      set_errno_error (error, errno, self->display_name, "cannot size the new file");
      return NULL;
    }

  /* Without holes, reserve every block now, so that running out of space
   * fails here and not half-way through. */
  if (!sparse && size > 0)
    {
      int err = posix_fallocate (self->fd, 0, (off_t) size);

      /* Other failures (no support) leave the decision to the file system. */
      if (err == ENOSPC || err == EFBIG || err == EIO)
        {
          set_errno_error (error, err, self->display_name, "cannot allocate the new file");
          return NULL;
        }
    }

  self->block_size = fstat (self->fd, &st) == 0 && st.st_blksize > 0 ? st.st_blksize : 4096;

  return g_steal_pointer (&self);
}

SafetensorsOutput *
safetensors_output_new_for_stream (GOutputStream *stream,
                                   const char    *display_name)
{
  SafetensorsOutput *self = g_new0 (SafetensorsOutput, 1);

  self->fd = -1;
  self->stream = g_object_ref (stream);
  self->display_name = g_strdup (display_name);
  return self;
}

gboolean
safetensors_output_is_seekable (SafetensorsOutput *self)
{
  return self->stream == NULL;
}

guint64
safetensors_output_get_position (SafetensorsOutput *self)
{
  return self->position;
}

const char *
safetensors_output_get_display_name (SafetensorsOutput *self)
{
  return self->display_name;
}

/* Starts (does not wait for) writeback of what was written so far. */
static void
note_written (SafetensorsOutput *self,
              guint64            len)
{
  self->unsynced += len;
  if (self->unsynced < WRITEBACK_INTERVAL)
    return;
  self->unsynced = 0;
  /* Offset 0, length 0: the whole file. Failure only loses the overlap. */
  if (sync_file_range (self->fd, 0, 0, SYNC_FILE_RANGE_WRITE) != 0)
    g_debug ("%s: cannot start writeback: %s", self->display_name, g_strerror (errno));
}

gboolean
safetensors_output_write_at (SafetensorsOutput  *self,
                             guint64             offset,
                             const guint8       *data,
                             gsize               len,
                             GCancellable       *cancellable,
                             GError            **error)
{
  if (self->stream == NULL)
    {
      gboolean ok;

      if (self->sparse)
        ok = safetensors_pwrite_sparse (self->fd, self->display_name, offset, data, len,
                                        self->block_size, cancellable, error);
      else
        ok = safetensors_pwrite_all (self->fd, self->display_name, offset, data, len,
                                     cancellable, error);
      if (ok)
        note_written (self, len);
      return ok;
    }

  g_assert (offset == self->position);
  if (!g_output_stream_write_all (self->stream, data, len, NULL, cancellable, error))
    {
      g_prefix_error (error, "%s: ", self->display_name);
      return FALSE;
    }
  self->position += len;
  return TRUE;
}

gboolean
safetensors_output_copy_from_fd (SafetensorsOutput  *self,
                                 guint64             offset,
                                 int                 src_fd,
                                 const char         *src_display_name,
                                 guint64             src_offset,
                                 guint64             len,
                                 GCancellable       *cancellable,
                                 GError            **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree guint8 *buffer = NULL;
  gsize buffer_size = MIN (len, COPY_BUFFER_SIZE);
  guint64 done = 0;

  if (self->stream == NULL && !self->no_kernel_copy)
    {
      if (safetensors_copy_fd_range (self->fd, self->display_name, offset, src_fd, src_offset,
                                     len, self->sparse, cancellable, &local_error))
        {
          note_written (self, len);
          return TRUE;
        }
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      self->no_kernel_copy = TRUE;
    }

  buffer = g_malloc (MAX (buffer_size, 1));
  while (done < len)
    {
      gssize n = pread (src_fd, buffer, MIN (len - done, buffer_size),
                        (off_t) (src_offset + done));

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          if (n < 0)
            set_errno_error (error, errno, src_display_name, "read failed");
          else
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                         "%s: ended %" G_GUINT64_FORMAT " bytes early (it changed?)",
                         src_display_name, len - done);
          return FALSE;
        }
      if (!safetensors_output_write_at (self, offset + done, buffer, n, cancellable, error))
        return FALSE;
      done += n;
    }
  return TRUE;
}

gboolean
safetensors_output_zero_fill_to (SafetensorsOutput  *self,
                                 guint64             offset,
                                 GCancellable       *cancellable,
                                 GError            **error)
{
  static const guint8 zeros[64 * 1024];

  if (self->stream == NULL)
    return TRUE;

  while (self->position < offset)
    {
      gsize n = MIN (offset - self->position, sizeof zeros);

      if (!safetensors_output_write_at (self, self->position, zeros, n, cancellable, error))
        return FALSE;
    }
  return TRUE;
}


/* A replaced file keeps its permissions (and, for root, its owner). */
static void
copy_permissions (SafetensorsOutput *self)
{
  struct stat st;

  if (g_stat (self->path, &st) != 0)
    return;
  if (fchmod (self->fd, st.st_mode & 07777) != 0)
    g_debug ("%s: cannot keep permissions: %s", self->display_name, g_strerror (errno));
  if (fchown (self->fd, st.st_uid, st.st_gid) != 0)
    g_debug ("%s: cannot keep owner: %s", self->display_name, g_strerror (errno));
}

gboolean
safetensors_output_commit (SafetensorsOutput  *self,
                           GCancellable       *cancellable,
                           GError            **error)
{
  if (self->stream != NULL)
    {
      if (!g_output_stream_flush (self->stream, cancellable, error))
        {
          g_prefix_error (error, "%s: ", self->display_name);
          return FALSE;
        }
      return TRUE;
    }

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  copy_permissions (self);

  if (fsync (self->fd) != 0)
    {
      set_errno_error (error, errno, self->display_name, "cannot sync the new file");
      return FALSE;
    }

  if (g_rename (self->tmp_path, self->path) != 0)
    {
      set_errno_error (error, errno, self->display_name, "cannot move the new file into place");
      return FALSE;
    }
  self->committed = TRUE;

  return safetensors_fsync_directory_of (self->path, error);
}

void
safetensors_output_free (SafetensorsOutput *self)
{
  if (self == NULL)
    return;

  if (self->fd >= 0)
    close (self->fd);
  if (self->tmp_path != NULL && !self->committed)
    g_unlink (self->tmp_path);

  g_clear_object (&self->stream);
  g_free (self->tmp_path);
  g_free (self->path);
  g_free (self->display_name);
  g_free (self);
}
