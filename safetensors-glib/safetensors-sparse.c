/* safetensors-sparse.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <unistd.h>

#include "safetensors-sparse-private.h"

/* Bounded so that cancellation is noticed within a large write. */
#define WRITE_CHUNK (8 * 1024 * 1024)

gboolean
safetensors_is_zero (const guint8 *data,
                     gsize         len)
{
  static const guint8 zeros[256];

  while (len >= sizeof zeros)
    {
      if (memcmp (data, zeros, sizeof zeros) != 0)
        return FALSE;
      data += sizeof zeros;
      len -= sizeof zeros;
    }
  return memcmp (data, zeros, len) == 0;
}

gboolean
safetensors_pwrite_all (int            fd,
                        const char    *display_name,
                        guint64        offset,
                        const guint8  *data,
                        gsize          len,
                        GCancellable  *cancellable,
                        GError       **error)
{
  gsize done = 0;

  while (done < len)
    {
      gssize n;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;

      n = pwrite (fd, data + done, MIN (len - done, WRITE_CHUNK), offset + done);
      if (n < 0)
        {
          int saved_errno = errno;

          if (saved_errno == EINTR)
            continue;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "%s: write failed at offset %" G_GUINT64_FORMAT ": %s",
                       display_name, offset + done, g_strerror (saved_errno));
          return FALSE;
        }
      done += n;
    }

  return TRUE;
}

gboolean
safetensors_pwrite_sparse (int            fd,
                           const char    *display_name,
                           guint64        offset,
                           const guint8  *data,
                           gsize          len,
                           guint          block_size,
                           GCancellable  *cancellable,
                           GError       **error)
{
  gsize pos = 0;

  g_assert (block_size > 0);

  /* Walk the range in pieces that end on block boundaries of the file;
   * consecutive non-zero pieces go out in one write. */
  while (pos < len)
    {
      gsize run_start = pos;
      gsize run_end = pos;

      while (run_end < len)
        {
          guint64 abs = offset + run_end;
          gsize piece = MIN (len - run_end, block_size - abs % block_size);

          if (safetensors_is_zero (data + run_end, piece))
            {
              if (run_end == run_start)
                {
                  run_start += piece;
                  run_end += piece;
                  continue;
                }
              break;
            }
          run_end += piece;
          if (run_end - run_start >= WRITE_CHUNK)
            break;
        }

      if (run_end > run_start &&
          !safetensors_pwrite_all (fd, display_name, offset + run_start, data + run_start,
                                   run_end - run_start, cancellable, error))
        return FALSE;
      pos = run_end;
    }

  return TRUE;
}

gboolean
safetensors_punch_hole (int     fd,
                        guint64 offset,
                        guint64 len)
{
  if (len == 0)
    return TRUE;
  return fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t) offset, (off_t) len) == 0;
}

gboolean
safetensors_zero_range (int            fd,
                        const char    *display_name,
                        guint64        offset,
                        guint64        len,
                        GCancellable  *cancellable,
                        GError       **error)
{
  static const guint8 zeros[64 * 1024];

  /* A punched hole reads as zeros, partial blocks included. */
  if (safetensors_punch_hole (fd, offset, len))
    return TRUE;

  while (len > 0)
    {
      gsize n = MIN (len, sizeof zeros);

      if (!safetensors_pwrite_all (fd, display_name, offset, zeros, n, cancellable, error))
        return FALSE;
      offset += n;
      len -= n;
    }
  return TRUE;
}

gboolean
safetensors_fsync_directory_of (const char  *path,
                                GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved_errno;

  if (fd < 0)
    {
      saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s: cannot open folder to sync it: %s", dir, g_strerror (saved_errno));
      return FALSE;
    }
  /* Some file systems cannot sync a folder (EINVAL): nothing to do then. */
  if (fsync (fd) != 0 && errno != EINVAL)
    {
      saved_errno = errno;
      close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s: cannot sync folder: %s", dir, g_strerror (saved_errno));
      return FALSE;
    }
  close (fd);
  return TRUE;
}
