/* safetensors-output-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Where a new file's bytes go. Two kinds:
 *
 * - a local file: bytes go to a temporary file in the destination's folder,
 *   created at its final size (so never-written ranges are holes), written
 *   at any offset; commit fsyncs it, gives it the old file's permissions and
 *   renames it over the destination, then fsyncs the folder. Until then the
 *   destination is untouched; abort removes the temporary file.
 *
 * - a stream (a pipe, stdout, a non-local GFile): bytes must come in order,
 *   gaps are written as zeros. */
typedef struct _SafetensorsOutput SafetensorsOutput;

SafetensorsOutput *safetensors_output_new_for_file   (GFile              *destination,
                                                      guint64             size,
                                                      gboolean            sparse,
                                                      GCancellable       *cancellable,
                                                      GError            **error);
SafetensorsOutput *safetensors_output_new_for_stream (GOutputStream      *stream,
                                                      const char         *display_name);
gboolean           safetensors_output_is_seekable    (SafetensorsOutput  *self);
/* Stream outputs: the next offset they accept. */
guint64            safetensors_output_get_position   (SafetensorsOutput  *self);
const char        *safetensors_output_get_display_name (SafetensorsOutput *self);
/* @offset is absolute in the new file. The target range must not have been
 * written before (this is what makes skipping zero blocks correct). */
gboolean           safetensors_output_write_at       (SafetensorsOutput  *self,
                                                      guint64             offset,
                                                      const guint8       *data,
                                                      gsize               len,
                                                      GCancellable       *cancellable,
                                                      GError            **error);
/* Like write_at() with @len bytes read from @src_fd at @src_offset: for a
 * file, copied inside the kernel where it can be (holes of the source
 * stay holes when the output is sparse), else through a small buffer.
 * Read errors name @src_display_name. */
gboolean           safetensors_output_copy_from_fd   (SafetensorsOutput  *self,
                                                      guint64             offset,
                                                      int                 src_fd,
                                                      const char         *src_display_name,
                                                      guint64             src_offset,
                                                      guint64             len,
                                                      GCancellable       *cancellable,
                                                      GError            **error);
/* Makes [position, offset) read as zeros: nothing to do for files. */
gboolean           safetensors_output_zero_fill_to   (SafetensorsOutput  *self,
                                                      guint64             offset,
                                                      GCancellable       *cancellable,
                                                      GError            **error);
gboolean           safetensors_output_commit         (SafetensorsOutput  *self,
                                                      GCancellable       *cancellable,
                                                      GError            **error);
void               safetensors_output_free           (SafetensorsOutput  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SafetensorsOutput, safetensors_output_free)

G_END_DECLS
