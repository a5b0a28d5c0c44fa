/* safetensors-tensor.h
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
#include "safetensors-slice.h"

G_BEGIN_DECLS

#define SAFETENSORS_TYPE_TENSOR (safetensors_tensor_get_type ())

SAFETENSORS_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (SafetensorsTensor, safetensors_tensor, SAFETENSORS, TENSOR, GObject)

SAFETENSORS_AVAILABLE_IN_ALL
const char       *safetensors_tensor_get_name         (SafetensorsTensor    *self);
SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsDType  safetensors_tensor_get_dtype        (SafetensorsTensor    *self);
SAFETENSORS_AVAILABLE_IN_ALL
guint             safetensors_tensor_get_n_dims       (SafetensorsTensor    *self);
SAFETENSORS_AVAILABLE_IN_ALL
const guint64    *safetensors_tensor_get_shape        (SafetensorsTensor    *self,
                                                       guint                *n_dims);
SAFETENSORS_AVAILABLE_IN_ALL
guint64           safetensors_tensor_get_n_elements   (SafetensorsTensor    *self);
SAFETENSORS_AVAILABLE_IN_ALL
guint64           safetensors_tensor_get_n_bytes      (SafetensorsTensor    *self);
SAFETENSORS_AVAILABLE_IN_ALL
void              safetensors_tensor_get_data_offsets (SafetensorsTensor    *self,
                                                       guint64              *begin,
                                                       guint64              *end);
SAFETENSORS_AVAILABLE_IN_ALL
guint64           safetensors_tensor_get_file_offset  (SafetensorsTensor    *self);
SAFETENSORS_AVAILABLE_IN_ALL
GBytes           *safetensors_tensor_get_bytes        (SafetensorsTensor    *self,
                                                       GCancellable         *cancellable,
                                                       GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
GBytes           *safetensors_tensor_read_range       (SafetensorsTensor    *self,
                                                       guint64               offset,
                                                       guint64               length,
                                                       GCancellable         *cancellable,
                                                       GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
void              safetensors_tensor_get_bytes_async  (SafetensorsTensor    *self,
                                                       int                   io_priority,
                                                       GCancellable         *cancellable,
                                                       GAsyncReadyCallback   callback,
                                                       gpointer              user_data);
SAFETENSORS_AVAILABLE_IN_ALL
GBytes           *safetensors_tensor_get_bytes_finish (SafetensorsTensor    *self,
                                                       GAsyncResult         *result,
                                                       GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean          safetensors_tensor_write            (SafetensorsTensor    *self,
                                                       guint64               offset,
                                                       const guint8         *data,
                                                       gsize                 len,
                                                       GCancellable         *cancellable,
                                                       GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
GBytes           *safetensors_tensor_read_slice       (SafetensorsTensor    *self,
                                                       SafetensorsSlice     *slice,
                                                       guint64             **out_shape,
                                                       guint                *out_n_dims,
                                                       GCancellable         *cancellable,
                                                       GError              **error);

SAFETENSORS_AVAILABLE_IN_ALL
guintptr          safetensors_bytes_get_address       (GBytes               *bytes);

G_END_DECLS
