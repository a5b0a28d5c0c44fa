/* safetensors-slice-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "safetensors-slice.h"
#include "safetensors-storage-private.h"

G_BEGIN_DECLS

/* One dimension of a slice applied to a concrete shape, NumPy's
 * slice.indices() already done: positions are start + i * step for i in
 * [0, count). keep is FALSE for an integer index, which drops the
 * dimension from the result. */
typedef struct
{
  guint64  size;
  gint64   start;
  gint64   step;
  guint64  count;
  gboolean keep;
} SafetensorsSliceDim;

/* Resolves @slice against a tensor's shape. Errors (INVALID_SLICE) name the
 * file, the tensor, the dimension, the index and the size. */
GArray  *safetensors_slice_resolve (SafetensorsSlice   *slice,
                                    const char         *display_name,
                                    const char         *tensor_name,
                                    const guint64      *shape,
                                    guint               n_dims,
                                    GError            **error);

/* Copies the selected elements of the tensor whose bytes start at
 * @data_offset in @storage into a new contiguous buffer (or a zero-copy
 * slice of a mapping when the selection is one contiguous run). Sub-byte
 * dtypes must select whole bytes, else MISALIGNED_SLICE. */
GBytes  *safetensors_slice_gather  (GArray             *dims,
                                    guint               bits,
                                    SafetensorsStorage *storage,
                                    guint64             data_offset,
                                    const char         *tensor_name,
                                    GCancellable       *cancellable,
                                    GError            **error);

G_END_DECLS
