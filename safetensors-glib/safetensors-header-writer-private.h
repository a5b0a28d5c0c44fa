/* safetensors-header-writer-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "safetensors-header-private.h"

G_BEGIN_DECLS

/* Creates the description of a tensor a writer or an edit is about to
 * store, computing its element count and size with checked arithmetic:
 * VALIDATION_OVERFLOW when they do not fit 64 bits, MISALIGNED_SLICE when
 * a sub-byte dtype does not fill whole bytes, RESERVED_NAME for
 * "__metadata__", INVALID_ARGUMENT for a rank above the cap or a name
 * that is not UTF-8. begin/end are left 0. */
SafetensorsTensorInfo *safetensors_tensor_info_new       (const char        *name,
                                                          SafetensorsDType   dtype,
                                                          const guint64     *shape,
                                                          guint              n_dims,
                                                          GError           **error);
guint64                safetensors_tensor_info_n_bytes   (const SafetensorsTensorInfo *info);

/* The reference writer's order: dtype descending, then name bytewise. It
 * also keeps every tensor aligned to min(8, element size) when packed. */
int                    safetensors_tensor_info_compare_canonical (gconstpointer a,
                                                                  gconstpointer b);

/* Sorts @tensors canonically and packs their offsets from 0. */
void                   safetensors_header_layout_canonical (GPtrArray *tensors,
                                                            guint64   *out_data_size);

/* Serialises a header exactly like the reference writer: compact JSON,
 * "__metadata__" first when @metadata is non-empty (keys sorted bytewise),
 * then @tensors in array order, padded with spaces to a multiple of 8
 * after @reserve extra spaces. Returns the 8-byte length prefix followed
 * by the text; HEADER_TOO_LARGE past 100 000 000 bytes or
 * SAFETENSORS_HEADER_MAX_TENSORS tensors. */
GBytes                *safetensors_header_serialize       (GPtrArray   *tensors,
                                                           GHashTable  *metadata,
                                                           guint64      reserve,
                                                           GError     **error);

/* The same text, padded with spaces to exactly @text_len bytes (used when
 * the data start is fixed by the layout); an error if it does not fit. */
GBytes                *safetensors_header_serialize_sized (GPtrArray   *tensors,
                                                           GHashTable  *metadata,
                                                           guint64      text_len,
                                                           GError     **error);

G_END_DECLS
