/* safetensors-tensor-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "safetensors-header-private.h"
#include "safetensors-storage-private.h"
#include "safetensors-tensor.h"

G_BEGIN_DECLS

/* @data_start is the absolute offset of the data area (8 + header size). */
SafetensorsTensor *safetensors_tensor_new (SafetensorsStorage          *storage,
                                           const SafetensorsTensorInfo *info,
                                           guint64                      data_start);

G_END_DECLS
