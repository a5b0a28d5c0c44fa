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

/* Tensors of a file open for editing follow the transaction: a rename, a
 * commit that moves the data, a removal. These are called by the file only,
 * in the thread that owns it. */
void               safetensors_tensor_set_name      (SafetensorsTensor *self,
                                                     const char        *name);
void               safetensors_tensor_set_location  (SafetensorsTensor *self,
                                                     guint64            data_start,
                                                     guint64            begin);
void               safetensors_tensor_set_removed   (SafetensorsTensor *self,
                                                     gboolean           removed);
gboolean           safetensors_tensor_is_removed    (SafetensorsTensor *self);
/* Alignment of the tensor's first byte: min(8, element size), 1 for
 * sub-byte dtypes. */
guint              safetensors_tensor_get_alignment (SafetensorsTensor *self);
SafetensorsStorage *safetensors_tensor_get_storage  (SafetensorsTensor *self);

G_END_DECLS
