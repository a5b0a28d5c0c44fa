/* crash-shim-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What crash-shim.c (counting, crashing, the power-cut model) gives
 * crash-shim-wrappers.c (the libc entry points it replaces).
 */

#pragma once

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#define EXPORT __attribute__((visibility ("default")))

/* The exit status of a simulated crash, like a process killed by SIGKILL. */
#define CRASH_EXIT_STATUS 137

/* What the caller of shim_hit() must do. */
typedef enum
{
  ACT_PROCEED,
  ACT_FAIL,       /* return -1 with errno set */
  ACT_TEAR,       /* perform part of the write, then shim_crash () */
} Action;

/* The next definitions of these functions, found with dlsym (RTLD_NEXT). */
extern ssize_t (*real_write) (int, const void *, size_t);
extern ssize_t (*real_pwrite) (int, const void *, size_t, off_t);
extern ssize_t (*real_pwrite64) (int, const void *, size_t, off64_t);
extern ssize_t (*real_writev) (int, const struct iovec *, int);
extern ssize_t (*real_pwritev) (int, const struct iovec *, int, off_t);
extern ssize_t (*real_pwritev64) (int, const struct iovec *, int, off64_t);
extern ssize_t (*real_pwritev2) (int, const struct iovec *, int, off_t, int);
extern ssize_t (*real_pwritev64v2) (int, const struct iovec *, int, off64_t, int);
extern int (*real_fsync) (int);
extern int (*real_fdatasync) (int);
extern int (*real_syncfs) (int);
extern int (*real_sync_file_range) (int, off64_t, off64_t, unsigned int);
extern int (*real_ftruncate) (int, off_t);
extern int (*real_ftruncate64) (int, off64_t);
extern int (*real_truncate) (const char *, off_t);
extern int (*real_truncate64) (const char *, off64_t);
extern int (*real_fallocate) (int, int, off_t, off_t);
extern int (*real_fallocate64) (int, int, off64_t, off64_t);
extern int (*real_posix_fallocate) (int, off_t, off_t);
extern int (*real_posix_fallocate64) (int, off64_t, off64_t);
extern ssize_t (*real_copy_file_range) (int, off64_t *, int, off64_t *, size_t, unsigned int);
extern int (*real_rename) (const char *, const char *);
extern int (*real_renameat) (int, const char *, int, const char *);
extern int (*real_renameat2) (int, const char *, int, const char *, unsigned int);
extern int (*real_link) (const char *, const char *);
extern int (*real_linkat) (int, const char *, int, const char *, int);
extern int (*real_unlink) (const char *);
extern int (*real_unlinkat) (int, const char *, int);
extern int (*real_remove) (const char *);

void    shim_ensure_init (void);
/* Whether CRASH_DIR is set: otherwise every call passes straight through. */
int     shim_active      (void);

/* Counts a call on @path (and @path2) if it is in CRASH_DIR, traces it, and
 * says what to do. @is_write: the call writes and can tear. */
Action  shim_hit         (const char *op,
                          const char *path,
                          const char *path2,
                          int         is_write,
                          int        *saved_errno,
                          const char *details_format,
                          ...) __attribute__((format (printf, 6, 7)));
Action  shim_hit_fd      (const char *op,
                          int         fd,
                          int         is_write,
                          int        *saved_errno,
                          const char *details);

int     shim_fd_path     (int         fd,
                          char       *out,
                          size_t      size);
void    shim_at_path     (int         dirfd,
                          const char *path,
                          char       *out,
                          size_t      size);

/* Tearing: the part of a @len-byte write that lands is [*skip, *skip +
 * *keep). */
void    shim_torn_part   (size_t      len,
                          size_t     *skip,
                          size_t     *keep);
char   *shim_flatten     (const struct iovec *iov,
                          int                 iovcnt,
                          size_t             *len);
size_t  shim_iov_len     (const struct iovec *iov,
                          int                 iovcnt);
void    shim_tear_pwrite (int         fd,
                          const void *data,
                          size_t      len,
                          off64_t     offset) __attribute__((noreturn));
void    shim_tear_write  (int         fd,
                          const void *data,
                          size_t      len) __attribute__((noreturn));
void    shim_crash       (void) __attribute__((noreturn));

/* A sync returned: tells the power-cut model what became durable. */
void    shim_synced      (const char *path,
                          int         fd);
void    shim_synced_all  (void);
