/* safetensors-pytorch-import.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (SAFETENSORS_INSIDE) && !defined (SAFETENSORS_COMPILATION)
# error "Only <safetensors-glib/safetensors-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "safetensors-dtype.h"
#include "safetensors-torch.h"
#include "safetensors-version-macros.h"

G_BEGIN_DECLS

#define SAFETENSORS_TYPE_PYTORCH_IMPORT (safetensors_pytorch_import_get_type ())

SAFETENSORS_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (SafetensorsPytorchImport, safetensors_pytorch_import,
                      SAFETENSORS, PYTORCH_IMPORT, GObject)

SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsPytorchImport *safetensors_pytorch_import_new             (GFile                     *source,
                                                                      SafetensorsImportFlags     flags,
                                                                      const char                *key,
                                                                      GCancellable              *cancellable,
                                                                      GError                   **error);
SAFETENSORS_AVAILABLE_IN_ALL
GFile                    *safetensors_pytorch_import_get_source      (SafetensorsPytorchImport  *self);

SAFETENSORS_AVAILABLE_IN_ALL
guint                     safetensors_pytorch_import_get_n_tensors   (SafetensorsPytorchImport  *self);
SAFETENSORS_AVAILABLE_IN_ALL
const char               *safetensors_pytorch_import_get_tensor_name (SafetensorsPytorchImport  *self,
                                                                      guint                      index);
SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsDType          safetensors_pytorch_import_get_tensor_dtype (SafetensorsPytorchImport *self,
                                                                      guint                      index);
SAFETENSORS_AVAILABLE_IN_ALL
const guint64            *safetensors_pytorch_import_get_tensor_shape (SafetensorsPytorchImport *self,
                                                                      guint                      index,
                                                                      guint                     *n_dims);
SAFETENSORS_AVAILABLE_IN_ALL
guint64                   safetensors_pytorch_import_get_tensor_size (SafetensorsPytorchImport  *self,
                                                                      guint                      index);
SAFETENSORS_AVAILABLE_IN_ALL
guint64                   safetensors_pytorch_import_get_total_bytes (SafetensorsPytorchImport  *self);

SAFETENSORS_AVAILABLE_IN_ALL
GHashTable               *safetensors_pytorch_import_get_aliases     (SafetensorsPytorchImport  *self);
SAFETENSORS_AVAILABLE_IN_ALL
char                    **safetensors_pytorch_import_get_skipped     (SafetensorsPytorchImport  *self);
SAFETENSORS_AVAILABLE_IN_ALL
const char               *safetensors_pytorch_import_get_skip_reason (SafetensorsPytorchImport  *self,
                                                                      const char                *name);
SAFETENSORS_AVAILABLE_IN_ALL
GHashTable               *safetensors_pytorch_import_get_metadata    (SafetensorsPytorchImport  *self);

SAFETENSORS_AVAILABLE_IN_ALL
guint64                   safetensors_pytorch_import_get_bytes_written (SafetensorsPytorchImport *self);

SAFETENSORS_AVAILABLE_IN_ALL
gboolean                  safetensors_pytorch_import_write           (SafetensorsPytorchImport  *self,
                                                                      GFile                     *destination,
                                                                      GCancellable              *cancellable,
                                                                      GError                   **error);
SAFETENSORS_AVAILABLE_IN_ALL
void                      safetensors_pytorch_import_write_async     (SafetensorsPytorchImport  *self,
                                                                      GFile                     *destination,
                                                                      int                        io_priority,
                                                                      GCancellable              *cancellable,
                                                                      GAsyncReadyCallback        callback,
                                                                      gpointer                   user_data);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean                  safetensors_pytorch_import_write_finish    (SafetensorsPytorchImport  *self,
                                                                      GAsyncResult              *result,
                                                                      GError                   **error);

G_END_DECLS
