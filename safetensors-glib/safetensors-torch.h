/* safetensors-torch.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (SAFETENSORS_INSIDE) && !defined (SAFETENSORS_COMPILATION)
# error "Only <safetensors-glib/safetensors-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "safetensors-version-macros.h"

G_BEGIN_DECLS

/**
 * SafetensorsImportFlags:
 * @SAFETENSORS_IMPORT_FLAGS_NONE: convert the tensors of the selected
 *   object: the `state_dict` entry when the checkpoint is a dict holding a
 *   dict under that key, else the whole checkpoint
 * @SAFETENSORS_IMPORT_FLAGS_ALL: flatten the whole checkpoint, ignoring a
 *   `state_dict` entry; cannot be combined with a key
 * @SAFETENSORS_IMPORT_FLAGS_EXTRAS_TO_METADATA: store values that are not
 *   tensors (epoch numbers, hyper-parameters…) as JSON text in the
 *   file's metadata, under their flattened names, instead of skipping them
 *
 * Flags for [func@Safetensors.import_pytorch].
 *
 * Since: 1.0
 */
typedef enum /*< flags >*/
{
  SAFETENSORS_IMPORT_FLAGS_NONE               = 0,
  SAFETENSORS_IMPORT_FLAGS_ALL                = 1 << 0,
  SAFETENSORS_IMPORT_FLAGS_EXTRAS_TO_METADATA = 1 << 1,
} SafetensorsImportFlags;

SAFETENSORS_AVAILABLE_IN_ALL
gboolean safetensors_import_pytorch        (GFile                  *source,
                                            GFile                  *destination,
                                            SafetensorsImportFlags  flags,
                                            const char             *key,
                                            GCancellable           *cancellable,
                                            GError                **error);
SAFETENSORS_AVAILABLE_IN_ALL
void     safetensors_import_pytorch_async  (GFile                  *source,
                                            GFile                  *destination,
                                            SafetensorsImportFlags  flags,
                                            const char             *key,
                                            int                     io_priority,
                                            GCancellable           *cancellable,
                                            GFileProgressCallback   progress_callback,
                                            gpointer                progress_data,
                                            GDestroyNotify          progress_data_destroy,
                                            GAsyncReadyCallback     callback,
                                            gpointer                user_data);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean safetensors_import_pytorch_finish (GAsyncResult           *result,
                                            GError                **error);

G_END_DECLS
