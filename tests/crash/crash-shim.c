/* crash-shim.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An LD_PRELOAD fault injector for the crash-safety tests. It wraps the
 * libc calls that change a file or a directory (write, pwrite, pwritev,
 * fsync, fdatasync, sync_file_range, syncfs, ftruncate, truncate,
 * fallocate, posix_fallocate, copy_file_range, rename, link, unlink,
 * remove: see crash-shim-wrappers.c), and
 * counts those that target something inside CRASH_DIR. When the count
 * reaches CRASH_AT, it acts according to CRASH_MODE:
 *
 *   count   nothing; every counted call is traced (the dry run)
 *   kill    _exit (137) before the call: a process crash, every earlier
 *           write is in the page cache and survives
 *   torn    for a write, perform part of it (CRASH_TORN: half, one, most,
 *           tail), then _exit (137); other calls behave like kill
 *   power   a power cut before the call: the directory is put back to
 *           what the earlier fsyncs made durable, then _exit (137).
 *           CRASH_AT=exit cuts the power when the process exits normally
 *   enospc, eio
 *           the call fails with that errno without doing anything; the
 *           process goes on
 *
 * CRASH_TRACE names a file that receives one line per counted call:
 * "<n> <op> <path> <details>". CRASH_COUNT_FILE receives the number of
 * counted calls when the process exits normally.
 *
 * The power-cut model is the strict one of POSIX: file content (and size)
 * is durable once fsync or fdatasync returned on that file; the names in
 * the directory are durable once fsync returned on the directory. Before a
 * cut, the shim keeps a copy of the durable content of every file of the
 * directory (by inode) in CRASH_SHADOW, which must be outside CRASH_DIR.
 */

/* Both the plain and the 64-bit entry points are defined here: the
 * project-wide _FILE_OFFSET_BITS would rename the former into the latter. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crash-shim-private.h"

/* Room for a directory of PATH_MAX and one more component. */
#define JOINED_MAX (PATH_MAX + NAME_MAX + 32)

typedef enum
{
  MODE_OFF,
  MODE_COUNT,
  MODE_KILL,
  MODE_TORN,
  MODE_POWER,
  MODE_ENOSPC,
  MODE_EIO,
} Mode;

typedef enum
{
  TORN_HALF,
  TORN_ONE,
  TORN_MOST,
  TORN_TAIL,
} Torn;

ssize_t (*real_write) (int, const void *, size_t);
ssize_t (*real_pwrite) (int, const void *, size_t, off_t);
ssize_t (*real_pwrite64) (int, const void *, size_t, off64_t);
ssize_t (*real_writev) (int, const struct iovec *, int);
ssize_t (*real_pwritev) (int, const struct iovec *, int, off_t);
ssize_t (*real_pwritev64) (int, const struct iovec *, int, off64_t);
ssize_t (*real_pwritev2) (int, const struct iovec *, int, off_t, int);
ssize_t (*real_pwritev64v2) (int, const struct iovec *, int, off64_t, int);
int (*real_fsync) (int);
int (*real_fdatasync) (int);
int (*real_syncfs) (int);
int (*real_sync_file_range) (int, off64_t, off64_t, unsigned int);
int (*real_ftruncate) (int, off_t);
int (*real_ftruncate64) (int, off64_t);
int (*real_truncate) (const char *, off_t);
int (*real_truncate64) (const char *, off64_t);
int (*real_fallocate) (int, int, off_t, off_t);
int (*real_fallocate64) (int, int, off64_t, off64_t);
int (*real_posix_fallocate) (int, off_t, off_t);
int (*real_posix_fallocate64) (int, off64_t, off64_t);
ssize_t (*real_copy_file_range) (int, off64_t *, int, off64_t *, size_t, unsigned int);
int (*real_rename) (const char *, const char *);
int (*real_renameat) (int, const char *, int, const char *);
int (*real_renameat2) (int, const char *, int, const char *, unsigned int);
int (*real_link) (const char *, const char *);
int (*real_linkat) (int, const char *, int, const char *, int);
int (*real_unlink) (const char *);
int (*real_unlinkat) (int, const char *, int);
int (*real_remove) (const char *);

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static Mode mode;
static Torn torn = TORN_HALF;
static long crash_at = -1;         /* -1: never */
static int power_at_exit;
static char crash_dir[PATH_MAX];
static size_t crash_dir_len;
static char shadow_dir[PATH_MAX];
static char count_file[PATH_MAX];
static int trace_fd = -1;
static long counter;
static int crashed;

/* ---- power-cut model ----------------------------------------------------- */

typedef struct
{
  char name[NAME_MAX + 1];
  ino_t ino;
} Entry;

/* The durable names of the directory. */
static Entry *durable;
static size_t n_durable;

static void
write_all (int         fd,
           const void *data,
           size_t      len)
{
  const char *p = data;

  while (len > 0)
    {
      ssize_t n = real_write (fd, p, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      p += n;
      len -= n;
    }
}

static void
die (const char *what)
{
  char message[512];
  int n = snprintf (message, sizeof message, "crash-shim: %s: %s\n", what, strerror (errno));

  write_all (2, message, n > 0 ? (size_t) n : 0);
  _exit (99);
}

/* Copies the current content of @src_fd (read through /proc, whatever its
 * open mode) to @dst_path. */
static void
copy_fd_to (int         src_fd,
            const char *dst_path)
{
  char proc[64], buffer[65536];
  int in, out;
  ssize_t n;

  snprintf (proc, sizeof proc, "/proc/self/fd/%d", src_fd);
  in = open (proc, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    die ("power: cannot reopen a file to save it");
  out = open (dst_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0)
    die ("power: cannot write to CRASH_SHADOW");
  while ((n = read (in, buffer, sizeof buffer)) > 0)
    write_all (out, buffer, n);
  if (n < 0)
    die ("power: cannot read a file to save it");
  close (in);
  close (out);
}

static void
shadow_path (char   *out,
             size_t  size,
             ino_t   ino)
{
  snprintf (out, size, "%s/%llu", shadow_dir, (unsigned long long) ino);
}

/* fsync of a regular file: its current content is durable. */
static void
power_save_file (int fd)
{
  struct stat st;
  char path[JOINED_MAX];

  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    return;
  shadow_path (path, sizeof path, st.st_ino);
  copy_fd_to (fd, path);
}

/* fsync of the directory: its current names are durable. */
static void
power_save_names (void)
{
  DIR *dir = opendir (crash_dir);
  struct dirent *entry;

  if (dir == NULL)
    die ("power: cannot list CRASH_DIR");
  n_durable = 0;
  while ((entry = readdir (dir)) != NULL)
    {
      if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
        continue;
      durable = realloc (durable, (n_durable + 1) * sizeof *durable);
      if (durable == NULL)
        die ("power: out of memory");
      snprintf (durable[n_durable].name, sizeof durable[n_durable].name, "%s", entry->d_name);
      durable[n_durable].ino = entry->d_ino;
      n_durable++;
    }
  closedir (dir);
}

/* At start everything is durable: the driver prepared the files before. */
static void
power_save_all (void)
{
  power_save_names ();
  for (size_t i = 0; i < n_durable; i++)
    {
      char path[JOINED_MAX];
      int fd;

      snprintf (path, sizeof path, "%s/%s", crash_dir, durable[i].name);
      fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        continue;
      power_save_file (fd);
      close (fd);
    }
}

/* The power goes out: the directory holds its durable names, each with its
 * inode's durable content (empty when it never was synced). */
static void
power_cut (void)
{
  DIR *dir = opendir (crash_dir);
  struct dirent *entry;

  if (dir == NULL)
    die ("power: cannot list CRASH_DIR");
  while ((entry = readdir (dir)) != NULL)
    {
      if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
        continue;
      if (real_unlinkat (dirfd (dir), entry->d_name, 0) != 0)
        die ("power: cannot clear CRASH_DIR");
    }
  closedir (dir);

  for (size_t i = 0; i < n_durable; i++)
    {
      char src[JOINED_MAX], dst[JOINED_MAX], buffer[65536];
      int in, out;
      ssize_t n;

      shadow_path (src, sizeof src, durable[i].ino);
      snprintf (dst, sizeof dst, "%s/%s", crash_dir, durable[i].name);
      out = open (dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (out < 0)
        die ("power: cannot restore a file");
      in = open (src, O_RDONLY | O_CLOEXEC);
      if (in >= 0)
        {
          while ((n = read (in, buffer, sizeof buffer)) > 0)
            write_all (out, buffer, n);
          close (in);
        }
      real_fsync (out);
      close (out);
    }
}

/* ---- set-up ---------------------------------------------------------------- */

#define RESOLVE(name) real_##name = dlsym (RTLD_NEXT, #name)

static void
init (void)
{
  const char *value;

  RESOLVE (write);
  RESOLVE (pwrite);
  RESOLVE (pwrite64);
  RESOLVE (writev);
  RESOLVE (pwritev);
  RESOLVE (pwritev64);
  RESOLVE (pwritev2);
  RESOLVE (pwritev64v2);
  RESOLVE (fsync);
  RESOLVE (fdatasync);
  RESOLVE (syncfs);
  RESOLVE (sync_file_range);
  RESOLVE (ftruncate);
  RESOLVE (ftruncate64);
  RESOLVE (truncate);
  RESOLVE (truncate64);
  RESOLVE (fallocate);
  RESOLVE (fallocate64);
  RESOLVE (posix_fallocate);
  RESOLVE (posix_fallocate64);
  RESOLVE (copy_file_range);
  RESOLVE (rename);
  RESOLVE (renameat);
  RESOLVE (renameat2);
  RESOLVE (link);
  RESOLVE (linkat);
  RESOLVE (unlink);
  RESOLVE (unlinkat);
  RESOLVE (remove);

  value = getenv ("CRASH_DIR");
  if (value == NULL || *value == '\0')
    return;
  if (realpath (value, crash_dir) == NULL)
    die ("CRASH_DIR");
  crash_dir_len = strlen (crash_dir);

  value = getenv ("CRASH_MODE");
  if (value == NULL || strcmp (value, "count") == 0)
    mode = MODE_COUNT;
  else if (strcmp (value, "kill") == 0)
    mode = MODE_KILL;
  else if (strcmp (value, "torn") == 0)
    mode = MODE_TORN;
  else if (strcmp (value, "power") == 0)
    mode = MODE_POWER;
  else if (strcmp (value, "enospc") == 0)
    mode = MODE_ENOSPC;
  else if (strcmp (value, "eio") == 0)
    mode = MODE_EIO;
  else
    {
      errno = EINVAL;
      die ("CRASH_MODE");
    }

  value = getenv ("CRASH_TORN");
  if (value != NULL && strcmp (value, "one") == 0)
    torn = TORN_ONE;
  else if (value != NULL && strcmp (value, "most") == 0)
    torn = TORN_MOST;
  else if (value != NULL && strcmp (value, "tail") == 0)
    torn = TORN_TAIL;

  value = getenv ("CRASH_AT");
  if (value != NULL && strcmp (value, "exit") == 0)
    power_at_exit = 1;
  else if (value != NULL && *value != '\0')
    crash_at = strtol (value, NULL, 10);

  value = getenv ("CRASH_COUNT_FILE");
  if (value != NULL)
    snprintf (count_file, sizeof count_file, "%s", value);

  value = getenv ("CRASH_TRACE");
  if (value != NULL && *value != '\0')
    {
      trace_fd = open (value, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (trace_fd < 0)
        die ("CRASH_TRACE");
    }

  if (mode == MODE_POWER)
    {
      value = getenv ("CRASH_SHADOW");
      if (value == NULL || realpath (value, shadow_dir) == NULL)
        die ("CRASH_SHADOW");
      power_save_all ();
    }
}

void
shim_ensure_init (void)
{
  pthread_once (&init_once, init);
}

__attribute__((constructor)) static void
shim_constructor (void)
{
  shim_ensure_init ();
}

__attribute__((destructor)) static void
shim_destructor (void)
{
  if (crash_dir_len == 0)
    return;
  if (count_file[0] != '\0')
    {
      FILE *out = fopen (count_file, "w");

      if (out != NULL)
        {
          fprintf (out, "%ld\n", counter);
          fclose (out);
        }
    }
  if (mode == MODE_POWER && power_at_exit && !crashed)
    power_cut ();
}

/* ---- which calls count ----------------------------------------------------- */

static int
path_is_watched (const char *path)
{
  return strncmp (path, crash_dir, crash_dir_len) == 0 &&
         (path[crash_dir_len] == '\0' || path[crash_dir_len] == '/');
}

int
shim_fd_path (int     fd,
         char   *out,
         size_t  size)
{
  char proc[64];
  ssize_t n;

  snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
  n = readlink (proc, out, size - 1);
  if (n < 0)
    return 0;
  out[n] = '\0';
  return 1;
}

/* The absolute path of @path relative to @dirfd, without resolving links:
 * the library names files by absolute paths anyway. */
void
shim_at_path (int         dirfd,
         const char *path,
         char       *out,
         size_t      size)
{
  char base[PATH_MAX];

  if (path[0] == '/')
    {
      snprintf (out, size, "%s", path);
      return;
    }
  if (dirfd == AT_FDCWD)
    {
      if (getcwd (base, sizeof base) == NULL)
        base[0] = '\0';
    }
  else if (!shim_fd_path (dirfd, base, sizeof base))
    base[0] = '\0';
  snprintf (out, size, "%s/%s", base, path);
}

static const char *
short_path (const char *path)
{
  if (path_is_watched (path))
    return path[crash_dir_len] == '/' ? path + crash_dir_len + 1 : ".";
  return path;
}

__attribute__((noreturn)) void
shim_crash (void)
{
  crashed = 1;
  if (mode == MODE_POWER)
    power_cut ();
  _exit (CRASH_EXIT_STATUS);
}

/* Counts one call on @path (and @path2) if it is watched, traces it, and
 * says what to do. @is_write: the call writes @len bytes and can tear. */
__attribute__((format (printf, 6, 7))) Action
shim_hit (const char *op,
     const char *path,
     const char *path2,
     int         is_write,
     int        *saved_errno,
     const char *details_format,
     ...)
{
  char details[256];
  char line[PATH_MAX * 2 + 512];
  va_list args;
  long n;
  int len;

  if (crash_dir_len == 0 || mode == MODE_OFF)
    return ACT_PROCEED;
  if (!path_is_watched (path) && (path2 == NULL || !path_is_watched (path2)))
    return ACT_PROCEED;

  pthread_mutex_lock (&count_lock);
  n = ++counter;

  if (trace_fd >= 0)
    {
      va_start (args, details_format);
      vsnprintf (details, sizeof details, details_format, args);
      va_end (args);
      len = snprintf (line, sizeof line, "%ld %s %s%s%s %s\n", n, op, short_path (path),
                      path2 != NULL ? " -> " : "", path2 != NULL ? short_path (path2) : "",
                      details);
      if (len > 0)
        write_all (trace_fd, line, (size_t) len < sizeof line ? (size_t) len : sizeof line - 1);
    }

  if (n != crash_at)
    {
      pthread_mutex_unlock (&count_lock);
      return ACT_PROCEED;
    }

  switch (mode)
    {
    case MODE_KILL:
    case MODE_POWER:
      shim_crash ();
    case MODE_TORN:
      if (!is_write)
        shim_crash ();
      /* The lock stays held: no other thread gets past this point. */
      return ACT_TEAR;
    case MODE_ENOSPC:
      pthread_mutex_unlock (&count_lock);
      *saved_errno = ENOSPC;
      return ACT_FAIL;
    case MODE_EIO:
      pthread_mutex_unlock (&count_lock);
      *saved_errno = EIO;
      return ACT_FAIL;
    case MODE_OFF:
    case MODE_COUNT:
    default:
      pthread_mutex_unlock (&count_lock);
      return ACT_PROCEED;
    }
}

Action
shim_hit_fd (const char *op,
        int         fd,
        int         is_write,
        int        *saved_errno,
        const char *details)
{
  char path[PATH_MAX];

  shim_ensure_init ();
  if (crash_dir_len == 0 || !shim_fd_path (fd, path, sizeof path))
    return ACT_PROCEED;
  return shim_hit (op, path, NULL, is_write, saved_errno, "%s", details);
}

/* The part of a @len-byte write that lands when it tears: [*skip, *skip +
 * *keep). */
void
shim_torn_part (size_t  len,
           size_t *skip,
           size_t *keep)
{
  *skip = 0;
  switch (torn)
    {
    case TORN_ONE:
      *keep = len > 0 ? 1 : 0;
      break;
    case TORN_MOST:
      *keep = len > 0 ? len - 1 : 0;
      break;
    case TORN_TAIL:
      *skip = len / 2;
      *keep = len - len / 2;
      break;
    case TORN_HALF:
    default:
      *keep = len / 2;
      break;
    }
}

/* Gathers an iovec into one buffer, for tearing. */
char *
shim_flatten (const struct iovec *iov,
         int                 iovcnt,
         size_t             *len)
{
  char *buffer;
  size_t total = 0, at = 0;

  for (int i = 0; i < iovcnt; i++)
    total += iov[i].iov_len;
  buffer = malloc (total + 1);
  if (buffer == NULL)
    die ("out of memory");
  for (int i = 0; i < iovcnt; i++)
    {
      memcpy (buffer + at, iov[i].iov_base, iov[i].iov_len);
      at += iov[i].iov_len;
    }
  *len = total;
  return buffer;
}

size_t
shim_iov_len (const struct iovec *iov,
         int                 iovcnt)
{
  size_t total = 0;

  for (int i = 0; i < iovcnt; i++)
    total += iov[i].iov_len;
  return total;
}

/* Tears a positional write, then crashes. */
__attribute__((noreturn)) void
shim_tear_pwrite (int         fd,
             const void *data,
             size_t      len,
             off64_t     offset)
{
  size_t skip, keep;

  shim_torn_part (len, &skip, &keep);
  if (keep > 0)
    real_pwrite64 (fd, (const char *) data + skip, keep, offset + skip);
  shim_crash ();
}

/* Tears a write at the file position, then crashes. */
__attribute__((noreturn)) void
shim_tear_write (int         fd,
            const void *data,
            size_t      len)
{
  size_t skip, keep;
  off64_t position = lseek64 (fd, 0, SEEK_CUR);

  shim_torn_part (len, &skip, &keep);
  if (position >= 0 && keep > 0)
    real_pwrite64 (fd, (const char *) data + skip, keep, position + skip);
  else if (keep > 0 && skip == 0)
    real_write (fd, data, keep);
  shim_crash ();
}

int
shim_active (void)
{
  shim_ensure_init ();
  return crash_dir_len > 0;
}

/* fsync or fdatasync on @path returned: for the power-cut model, the
 * directory's names (@path is the directory) or the file's content is now
 * durable. */
void
shim_synced (const char *path,
             int         fd)
{
  if (mode != MODE_POWER || !path_is_watched (path))
    return;
  pthread_mutex_lock (&count_lock);
  if (strcmp (path, crash_dir) == 0)
    power_save_names ();
  else
    power_save_file (fd);
  pthread_mutex_unlock (&count_lock);
}

void
shim_synced_all (void)
{
  if (mode != MODE_POWER)
    return;
  pthread_mutex_lock (&count_lock);
  power_save_all ();
  pthread_mutex_unlock (&count_lock);
}
