/* safetensors-index.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (SAFETENSORS_INSIDE) && !defined (SAFETENSORS_COMPILATION)
# error "Only <safetensors-glib/safetensors-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "safetensors-version-macros.h"
#include "safetensors-file.h"
#include "safetensors-tensor.h"

G_BEGIN_DECLS

#define SAFETENSORS_TYPE_INDEX (safetensors_index_get_type ())

SAFETENSORS_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (SafetensorsIndex, safetensors_index, SAFETENSORS, INDEX, GObject)

SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsIndex  *safetensors_index_open                (GFile             *file,
                                                          GCancellable      *cancellable,
                                                          GError           **error);
SAFETENSORS_AVAILABLE_IN_ALL
GFile             *safetensors_index_get_file            (SafetensorsIndex  *self);
SAFETENSORS_AVAILABLE_IN_ALL
guint64            safetensors_index_get_total_size      (SafetensorsIndex  *self);
SAFETENSORS_AVAILABLE_IN_ALL
char             **safetensors_index_get_tensor_names    (SafetensorsIndex  *self);
SAFETENSORS_AVAILABLE_IN_ALL
char             **safetensors_index_get_shard_names     (SafetensorsIndex  *self);
SAFETENSORS_AVAILABLE_IN_ALL
const char        *safetensors_index_get_shard_name      (SafetensorsIndex  *self,
                                                          const char        *tensor_name);
SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsFile   *safetensors_index_get_shard           (SafetensorsIndex  *self,
                                                          const char        *shard_name);
SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsTensor *safetensors_index_lookup              (SafetensorsIndex  *self,
                                                          const char        *tensor_name,
                                                          GError           **error);
SAFETENSORS_AVAILABLE_IN_ALL
GHashTable        *safetensors_index_get_metadata        (SafetensorsIndex  *self);

G_END_DECLS
