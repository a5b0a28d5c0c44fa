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

/* copy_file_range() errors that mean "not here" rather than "failed":
 * old kernels, different file systems, special files. */
static gboolean
is_copy_unsupported (int saved_errno)
{
  return saved_errno == ENOSYS || saved_errno == EXDEV || saved_errno == EINVAL ||
         saved_errno == EOPNOTSUPP || saved_errno == EBADF;
}

/* Copies [@pos, @end) (relative to the two offsets) in the kernel. */
static gboolean
copy_run (int            dst_fd,
          const char    *display_name,
          guint64        dst_offset,
          int            src_fd,
          guint64        src_offset,
          guint64        pos,
          guint64        end,
          gboolean      *copied_any,
          GCancellable  *cancellable,
          GError       **error)
{
  while (pos < end)
    {
      loff_t in = (loff_t) (src_offset + pos);
      loff_t out = (loff_t) (dst_offset + pos);
      gssize n;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;

      n = copy_file_range (src_fd, &in, dst_fd, &out, MIN (end - pos, WRITE_CHUNK), 0);
      if (n < 0)
        {
          int saved_errno = errno;

          if (saved_errno == EINTR)
            continue;
          if (!*copied_any && is_copy_unsupported (saved_errno))
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                         "%s: cannot copy in the kernel: %s", display_name,
                         g_strerror (saved_errno));
          else
            g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                         "%s: copy failed at offset %" G_GUINT64_FORMAT ": %s",
                         display_name, dst_offset + pos, g_strerror (saved_errno));
          return FALSE;
        }
      if (n == 0)
        {
          /* The source is shorter than its caller checked: it changed. */
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "%s: the source ended %" G_GUINT64_FORMAT " bytes early",
                       display_name, end - pos);
          return FALSE;
        }
      pos += n;
      *copied_any = TRUE;
    }
  return TRUE;
}

gboolean
safetensors_copy_fd_range (int            dst_fd,
                           const char    *display_name,
                           guint64        dst_offset,
                           int            src_fd,
                           guint64        src_offset,
                           guint64        len,
                           gboolean       skip_holes,
                           GCancellable  *cancellable,
                           GError       **error)
{
  gboolean copied_any = FALSE;
  guint64 pos = 0;

  while (pos < len)
    {
      guint64 run_end = len;

      if (skip_holes)
        {
          off_t data = lseek (src_fd, (off_t) (src_offset + pos), SEEK_DATA);
          off_t hole;

          if (data < 0)
            {
              /* ENXIO: only a hole is left. Anything else: the file
               * system cannot tell, so copy everything. */
              if (errno == ENXIO)
                return TRUE;
              skip_holes = FALSE;
              continue;
            }
          if ((guint64) data >= src_offset + len)
            return TRUE;
          if ((guint64) data > src_offset + pos)
            pos = (guint64) data - src_offset;
          hole = lseek (src_fd, (off_t) (src_offset + pos), SEEK_HOLE);
          if (hole > 0 && (guint64) hole < src_offset + len)
            run_end = (guint64) hole - src_offset;
        }

      if (!copy_run (dst_fd, display_name, dst_offset, src_fd, src_offset, pos, run_end,
                     &copied_any, cancellable, error))
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
