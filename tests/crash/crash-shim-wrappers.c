/* crash-shim-wrappers.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The libc entry points crash-shim replaces. Each one asks shim_hit()
 * whether this call is the one to crash, tear or fail, and otherwise calls
 * the real function.
 */

/* Both the plain and the 64-bit entry points are defined here: the
 * project-wide _FILE_OFFSET_BITS would rename the former into the latter. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crash-shim-private.h"

#define FAIL_WITH(e) do { errno = (e); return -1; } while (0)

EXPORT ssize_t
write (int         fd,
       const void *buf,
       size_t      count)
{
  char details[64];
  int e = 0;

  shim_ensure_init ();
  snprintf (details, sizeof details, "len=%zu", count);
  switch (shim_hit_fd ("write", fd, count >= 2, &e, details))
    {
    case ACT_FAIL:
      FAIL_WITH (e);
    case ACT_TEAR:
      shim_tear_write (fd, buf, count);
    case ACT_PROCEED:
    default:
      return real_write (fd, buf, count);
    }
}

static ssize_t
do_pwrite (const char *op,
           int         fd,
           const void *buf,
           size_t      count,
           off64_t     offset)
{
  char details[96];
  int e = 0;

  shim_ensure_init ();
  snprintf (details, sizeof details, "off=%lld len=%zu", (long long) offset, count);
  switch (shim_hit_fd (op, fd, count >= 2, &e, details))
    {
    case ACT_FAIL:
      FAIL_WITH (e);
    case ACT_TEAR:
      shim_tear_pwrite (fd, buf, count, offset);
    case ACT_PROCEED:
    default:
      return real_pwrite64 (fd, buf, count, offset);
    }
}

EXPORT ssize_t
pwrite (int         fd,
        const void *buf,
        size_t      count,
        off_t       offset)
{
  return do_pwrite ("pwrite", fd, buf, count, offset);
}

EXPORT ssize_t
pwrite64 (int         fd,
          const void *buf,
          size_t      count,
          off64_t     offset)
{
  return do_pwrite ("pwrite64", fd, buf, count, offset);
}

EXPORT ssize_t
writev (int                 fd,
        const struct iovec *iov,
        int                 iovcnt)
{
  char details[64];
  size_t len = shim_iov_len (iov, iovcnt);
  int e = 0;

  shim_ensure_init ();
  snprintf (details, sizeof details, "len=%zu", len);
  switch (shim_hit_fd ("writev", fd, len >= 2, &e, details))
    {
    case ACT_FAIL:
      FAIL_WITH (e);
    case ACT_TEAR:
      {
        char *flat = shim_flatten (iov, iovcnt, &len);

        shim_tear_write (fd, flat, len);
      }
    case ACT_PROCEED:
    default:
      return real_writev (fd, iov, iovcnt);
    }
}

/* pwritev and pwritev2 (flags == -1 for the former). */
static ssize_t
do_pwritev (const char         *op,
            int                 fd,
            const struct iovec *iov,
            int                 iovcnt,
            off64_t             offset,
            int                 flags)
{
  char details[96];
  size_t len = shim_iov_len (iov, iovcnt);
  int e = 0;

  shim_ensure_init ();
  snprintf (details, sizeof details, "off=%lld len=%zu", (long long) offset, len);
  switch (shim_hit_fd (op, fd, len >= 2, &e, details))
    {
    case ACT_FAIL:
      FAIL_WITH (e);
    case ACT_TEAR:
      {
        char *flat = shim_flatten (iov, iovcnt, &len);

        if (offset == -1)
          shim_tear_write (fd, flat, len);
        shim_tear_pwrite (fd, flat, len, offset);
      }
    case ACT_PROCEED:
    default:
      if (flags == -1)
        return real_pwritev64 (fd, iov, iovcnt, offset);
      return real_pwritev64v2 (fd, iov, iovcnt, offset, flags);
    }
}

EXPORT ssize_t
pwritev (int                 fd,
         const struct iovec *iov,
         int                 iovcnt,
         off_t               offset)
{
  return do_pwritev ("pwritev", fd, iov, iovcnt, offset, -1);
}

EXPORT ssize_t
pwritev64 (int                 fd,
           const struct iovec *iov,
           int                 iovcnt,
           off64_t             offset)
{
  return do_pwritev ("pwritev64", fd, iov, iovcnt, offset, -1);
}

EXPORT ssize_t
pwritev2 (int                 fd,
          const struct iovec *iov,
          int                 iovcnt,
          off_t               offset,
          int                 flags)
{
  return do_pwritev ("pwritev2", fd, iov, iovcnt, offset, flags);
}

EXPORT ssize_t
pwritev64v2 (int                 fd,
             const struct iovec *iov,
             int                 iovcnt,
             off64_t             offset,
             int                 flags)
{
  return do_pwritev ("pwritev64v2", fd, iov, iovcnt, offset, flags);
}

/* fsync and friends: after a successful one, the power-cut model learns
 * what became durable. */
static int
do_sync (const char *op,
         int         fd,
         int         data_only)
{
  char path[PATH_MAX];
  int e = 0, ret;

  shim_ensure_init ();
  if (!shim_active () || !shim_fd_path (fd, path, sizeof path))
    return data_only ? real_fdatasync (fd) : real_fsync (fd);
  if (shim_hit (op, path, NULL, 0, &e, "%s", "") == ACT_FAIL)
    FAIL_WITH (e);
  ret = data_only ? real_fdatasync (fd) : real_fsync (fd);
  if (ret == 0)
    shim_synced (path, fd);
  return ret;
}

EXPORT int
fsync (int fd)
{
  return do_sync ("fsync", fd, 0);
}

EXPORT int
fdatasync (int fd)
{
  return do_sync ("fdatasync", fd, 1);
}

EXPORT int
syncfs (int fd)
{
  char path[PATH_MAX];
  int e = 0, ret;

  shim_ensure_init ();
  if (!shim_active () || !shim_fd_path (fd, path, sizeof path))
    return real_syncfs (fd);
  if (shim_hit ("syncfs", path, NULL, 0, &e, "%s", "") == ACT_FAIL)
    FAIL_WITH (e);
  ret = real_syncfs (fd);
  if (ret == 0)
    shim_synced_all ();
  return ret;
}

/* Starts writeback, but promises nothing: durable only through fsync. */
EXPORT int
sync_file_range (int          fd,
                 off64_t      offset,
                 off64_t      nbytes,
                 unsigned int flags)
{
  char details[96];
  int e = 0;

  shim_ensure_init ();
  snprintf (details, sizeof details, "off=%lld len=%lld", (long long) offset, (long long) nbytes);
  if (shim_hit_fd ("sync_file_range", fd, 0, &e, details) == ACT_FAIL)
    FAIL_WITH (e);
  return real_sync_file_range (fd, offset, nbytes, flags);
}

static int
do_ftruncate (const char *op,
              int         fd,
              off64_t     length)
{
  char details[64];
  int e = 0;

  shim_ensure_init ();
  snprintf (details, sizeof details, "size=%lld", (long long) length);
  if (shim_hit_fd (op, fd, 0, &e, details) == ACT_FAIL)
    FAIL_WITH (e);
  return real_ftruncate64 (fd, length);
}

EXPORT int
ftruncate (int   fd,
           off_t length)
{
  return do_ftruncate ("ftruncate", fd, length);
}

EXPORT int
ftruncate64 (int     fd,
             off64_t length)
{
  return do_ftruncate ("ftruncate64", fd, length);
}

static int
do_truncate (const char *op,
             const char *path,
             off64_t     length)
{
  char full[PATH_MAX];
  int e = 0;

  shim_ensure_init ();
  shim_at_path (AT_FDCWD, path, full, sizeof full);
  if (shim_hit (op, full, NULL, 0, &e, "size=%lld", (long long) length) == ACT_FAIL)
    FAIL_WITH (e);
  return real_truncate64 (path, length);
}

EXPORT int
truncate (const char *path,
          off_t       length)
{
  return do_truncate ("truncate", path, length);
}

EXPORT int
truncate64 (const char *path,
            off64_t     length)
{
  return do_truncate ("truncate64", path, length);
}

static int
do_fallocate (const char *op,
              int         fd,
              int         fmode,
              off64_t     offset,
              off64_t     len)
{
  char details[96];
  int e = 0;

  shim_ensure_init ();
  snprintf (details, sizeof details, "mode=%#x off=%lld len=%lld", fmode, (long long) offset, (long long) len);
  if (shim_hit_fd (op, fd, 0, &e, details) == ACT_FAIL)
    FAIL_WITH (e);
  return real_fallocate64 (fd, fmode, offset, len);
}

EXPORT int
fallocate (int   fd,
           int   fmode,
           off_t offset,
           off_t len)
{
  return do_fallocate ("fallocate", fd, fmode, offset, len);
}

EXPORT int
fallocate64 (int     fd,
             int     fmode,
             off64_t offset,
             off64_t len)
{
  return do_fallocate ("fallocate64", fd, fmode, offset, len);
}

/* posix_fallocate returns the error number instead of setting errno. */
static int
do_posix_fallocate (const char *op,
                    int         fd,
                    off64_t     offset,
                    off64_t     len)
{
  char details[96];
  int e = 0;

  shim_ensure_init ();
  snprintf (details, sizeof details, "off=%lld len=%lld", (long long) offset, (long long) len);
  if (shim_hit_fd (op, fd, 0, &e, details) == ACT_FAIL)
    return e;
  return real_posix_fallocate64 (fd, offset, len);
}

EXPORT int
posix_fallocate (int   fd,
                 off_t offset,
                 off_t len)
{
  return do_posix_fallocate ("posix_fallocate", fd, offset, len);
}

EXPORT int
posix_fallocate64 (int     fd,
                   off64_t offset,
                   off64_t len)
{
  return do_posix_fallocate ("posix_fallocate64", fd, offset, len);
}

EXPORT ssize_t
copy_file_range (int          fd_in,
                 off64_t     *off_in,
                 int          fd_out,
                 off64_t     *off_out,
                 size_t       len,
                 unsigned int flags)
{
  char details[128];
  int e = 0;

  shim_ensure_init ();
  snprintf (details, sizeof details, "in=%lld out=%lld len=%zu",
            off_in != NULL ? (long long) *off_in : -1LL,
            off_out != NULL ? (long long) *off_out : -1LL, len);
  switch (shim_hit_fd ("copy_file_range", fd_out, len >= 2, &e, details))
    {
    case ACT_FAIL:
      FAIL_WITH (e);
    case ACT_TEAR:
      {
        size_t skip, keep;

        shim_torn_part (len, &skip, &keep);
        if (skip > 0)
          {
            off64_t in = (off_in != NULL ? *off_in : 0) + skip;
            off64_t out = (off_out != NULL ? *off_out : 0) + skip;

            if (off_in != NULL && off_out != NULL)
              real_copy_file_range (fd_in, &in, fd_out, &out, keep, flags);
          }
        else if (keep > 0)
          real_copy_file_range (fd_in, off_in, fd_out, off_out, keep, flags);
        shim_crash ();
      }
    case ACT_PROCEED:
    default:
      return real_copy_file_range (fd_in, off_in, fd_out, off_out, len, flags);
    }
}

static Action
hit_two_paths (const char *op,
               int         dirfd1,
               const char *path1,
               int         dirfd2,
               const char *path2,
               int        *saved_errno)
{
  char full1[PATH_MAX], full2[PATH_MAX];

  shim_ensure_init ();
  if (!shim_active ())
    return ACT_PROCEED;
  shim_at_path (dirfd1, path1, full1, sizeof full1);
  shim_at_path (dirfd2, path2, full2, sizeof full2);
  return shim_hit (op, full1, full2, 0, saved_errno, "%s", "");
}

EXPORT int
rename (const char *oldpath,
        const char *newpath)
{
  int e = 0;

  if (hit_two_paths ("rename", AT_FDCWD, oldpath, AT_FDCWD, newpath, &e) == ACT_FAIL)
    FAIL_WITH (e);
  return real_rename (oldpath, newpath);
}

EXPORT int
renameat (int         olddirfd,
          const char *oldpath,
          int         newdirfd,
          const char *newpath)
{
  int e = 0;

  if (hit_two_paths ("renameat", olddirfd, oldpath, newdirfd, newpath, &e) == ACT_FAIL)
    FAIL_WITH (e);
  return real_renameat (olddirfd, oldpath, newdirfd, newpath);
}

EXPORT int
renameat2 (int          olddirfd,
           const char  *oldpath,
           int          newdirfd,
           const char  *newpath,
           unsigned int flags)
{
  int e = 0;

  if (hit_two_paths ("renameat2", olddirfd, oldpath, newdirfd, newpath, &e) == ACT_FAIL)
    FAIL_WITH (e);
  return real_renameat2 (olddirfd, oldpath, newdirfd, newpath, flags);
}

EXPORT int
link (const char *oldpath,
      const char *newpath)
{
  int e = 0;

  if (hit_two_paths ("link", AT_FDCWD, oldpath, AT_FDCWD, newpath, &e) == ACT_FAIL)
    FAIL_WITH (e);
  return real_link (oldpath, newpath);
}

EXPORT int
linkat (int         olddirfd,
        const char *oldpath,
        int         newdirfd,
        const char *newpath,
        int         flags)
{
  int e = 0;

  if (hit_two_paths ("linkat", olddirfd, oldpath, newdirfd, newpath, &e) == ACT_FAIL)
    FAIL_WITH (e);
  return real_linkat (olddirfd, oldpath, newdirfd, newpath, flags);
}

EXPORT int
unlink (const char *path)
{
  char full[PATH_MAX];
  int e = 0;

  shim_ensure_init ();
  shim_at_path (AT_FDCWD, path, full, sizeof full);
  if (shim_hit ("unlink", full, NULL, 0, &e, "%s", "") == ACT_FAIL)
    FAIL_WITH (e);
  return real_unlink (path);
}

EXPORT int
unlinkat (int         dirfd,
          const char *path,
          int         flags)
{
  char full[PATH_MAX];
  int e = 0;

  shim_ensure_init ();
  shim_at_path (dirfd, path, full, sizeof full);
  if (shim_hit ("unlinkat", full, NULL, 0, &e, "%s", "") == ACT_FAIL)
    FAIL_WITH (e);
  return real_unlinkat (dirfd, path, flags);
}

EXPORT int
remove (const char *path)
{
  char full[PATH_MAX];
  int e = 0;

  shim_ensure_init ();
  shim_at_path (AT_FDCWD, path, full, sizeof full);
  if (shim_hit ("remove", full, NULL, 0, &e, "%s", "") == ACT_FAIL)
    FAIL_WITH (e);
  return real_remove (path);
}
