/* safetensors-writer.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (SAFETENSORS_INSIDE) && !defined (SAFETENSORS_COMPILATION)
# error "Only <safetensors-glib/safetensors-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "safetensors-version-macros.h"
#include "safetensors-dtype.h"

G_BEGIN_DECLS

/**
 * SafetensorsWriterFlags:
 * @SAFETENSORS_WRITER_FLAGS_NONE: default behaviour: all-zero file-system
 *   blocks of tensor data are left as holes
 * @SAFETENSORS_WRITER_FLAGS_NO_SPARSE: allocate every block of the file
 *
 * Flags for [ctor@Safetensors.Writer.new].
 *
 * Since: 1.0
 */
typedef enum /*< flags >*/
{
  SAFETENSORS_WRITER_FLAGS_NONE      = 0,
  SAFETENSORS_WRITER_FLAGS_NO_SPARSE = 1 << 0,
} SafetensorsWriterFlags;

#define SAFETENSORS_TYPE_WRITER (safetensors_writer_get_type ())

SAFETENSORS_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (SafetensorsWriter, safetensors_writer, SAFETENSORS, WRITER, GObject)

SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsWriter *safetensors_writer_new                  (SafetensorsWriterFlags  flags);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean           safetensors_writer_add_tensor           (SafetensorsWriter      *self,
                                                            const char             *name,
                                                            SafetensorsDType        dtype,
                                                            const guint64          *shape,
                                                            guint                   n_dims,
                                                            GBytes                 *data,
                                                            GError                **error);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean           safetensors_writer_add_tensor_from_stream (SafetensorsWriter    *self,
                                                            const char             *name,
                                                            SafetensorsDType        dtype,
                                                            const guint64          *shape,
                                                            guint                   n_dims,
                                                            GInputStream           *stream,
                                                            GError                **error);
SAFETENSORS_AVAILABLE_IN_ALL
void               safetensors_writer_set_metadata_value   (SafetensorsWriter      *self,
                                                            const char             *key,
                                                            const char             *value);
SAFETENSORS_AVAILABLE_IN_ALL
void               safetensors_writer_set_header_reserve   (SafetensorsWriter      *self,
                                                            guint64                 n_bytes);
SAFETENSORS_AVAILABLE_IN_ALL
GBytes            *safetensors_writer_get_header           (SafetensorsWriter      *self,
                                                            GError                **error);
SAFETENSORS_AVAILABLE_IN_ALL
guint64            safetensors_writer_get_size             (SafetensorsWriter      *self,
                                                            GError                **error);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean           safetensors_writer_begin                (SafetensorsWriter      *self,
                                                            GFile                  *destination,
                                                            GCancellable           *cancellable,
                                                            GError                **error);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean           safetensors_writer_begin_stream         (SafetensorsWriter      *self,
                                                            GOutputStream          *stream,
                                                            GCancellable           *cancellable,
                                                            GError                **error);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean           safetensors_writer_write_chunk          (SafetensorsWriter      *self,
                                                            const char             *name,
                                                            const guint8           *data,
                                                            gsize                   len,
                                                            GCancellable           *cancellable,
                                                            GError                **error);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean           safetensors_writer_finish               (SafetensorsWriter      *self,
                                                            GCancellable           *cancellable,
                                                            GError                **error);
SAFETENSORS_AVAILABLE_IN_ALL
void               safetensors_writer_finish_async         (SafetensorsWriter      *self,
                                                            int                     io_priority,
                                                            GCancellable           *cancellable,
                                                            GAsyncReadyCallback     callback,
                                                            gpointer                user_data);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean           safetensors_writer_finish_finish        (SafetensorsWriter      *self,
                                                            GAsyncResult           *result,
                                                            GError                **error);
SAFETENSORS_AVAILABLE_IN_ALL
guint64            safetensors_writer_get_bytes_written    (SafetensorsWriter      *self);
SAFETENSORS_AVAILABLE_IN_ALL
guint64            safetensors_writer_get_total_bytes      (SafetensorsWriter      *self);
SAFETENSORS_AVAILABLE_IN_ALL
void               safetensors_writer_abort                (SafetensorsWriter      *self);

G_END_DECLS
