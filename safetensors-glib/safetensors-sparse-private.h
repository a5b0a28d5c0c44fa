/* safetensors-sparse-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Writes @len bytes at @offset like pwrite, retrying on short writes and
 * EINTR, checking @cancellable between chunks. Errors name @display_name. */
gboolean safetensors_pwrite_all        (int            fd,
                                        const char    *display_name,
                                        guint64        offset,
                                        const guint8  *data,
                                        gsize          len,
                                        GCancellable  *cancellable,
                                        GError       **error);

/* Like safetensors_pwrite_all() into a range known to read as zeros (a
 * hole, or past the old end): every file-system block of @data that is all
 * zeros is skipped, so it stays a hole. The bytes read back are the same. */
gboolean safetensors_pwrite_sparse     (int            fd,
                                        const char    *display_name,
                                        guint64        offset,
                                        const guint8  *data,
                                        gsize          len,
                                        guint          block_size,
                                        GCancellable  *cancellable,
                                        GError       **error);

/* Copies @len bytes at @src_offset of @src_fd to @dst_offset of @dst_fd
 * inside the kernel (copy_file_range): the bytes never pass through this
 * process, so nothing is mapped or buffered. With @skip_holes, the holes
 * of the source are not copied: the destination range must read as zeros
 * already. G_IO_ERROR_NOT_SUPPORTED, with nothing copied, when the kernel
 * or the file systems cannot; errors name @display_name. */
gboolean safetensors_copy_fd_range     (int            dst_fd,
                                        const char    *display_name,
                                        guint64        dst_offset,
                                        int            src_fd,
                                        guint64        src_offset,
                                        guint64        len,
                                        gboolean       skip_holes,
                                        GCancellable  *cancellable,
                                        GError       **error);

/* Deallocates the file-system blocks of a range (which then reads as
 * zeros), keeping the file size. FALSE when the file system cannot. */
gboolean safetensors_punch_hole        (int            fd,
                                        guint64        offset,
                                        guint64        len);

/* Makes a range read as zeros: a hole where possible, written zeros
 * otherwise. */
gboolean safetensors_zero_range        (int            fd,
                                        const char    *display_name,
                                        guint64        offset,
                                        guint64        len,
                                        GCancellable  *cancellable,
                                        GError       **error);

/* fsyncs the folder holding @path, so that a rename or unlink in it is
 * durable. */
gboolean safetensors_fsync_directory_of (const char   *path,
                                         GError      **error);

/* TRUE when all @len bytes are zero. */
gboolean safetensors_is_zero           (const guint8  *data,
                                        gsize          len);

G_END_DECLS
