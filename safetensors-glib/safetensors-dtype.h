/* safetensors-dtype.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (SAFETENSORS_INSIDE) && !defined (SAFETENSORS_COMPILATION)
# error "Only <safetensors-glib/safetensors-glib.h> can be included directly."
#endif

#include <glib.h>

#include "safetensors-version-macros.h"

G_BEGIN_DECLS

/**
 * SafetensorsDType:
 * @SAFETENSORS_DTYPE_BOOL: boolean, one byte per element
 * @SAFETENSORS_DTYPE_F4: 4-bit float (E2M1), two elements per byte
 * @SAFETENSORS_DTYPE_F6_E2M3: 6-bit float with 2 exponent and 3 mantissa bits
 * @SAFETENSORS_DTYPE_F6_E3M2: 6-bit float with 3 exponent and 2 mantissa bits
 * @SAFETENSORS_DTYPE_U8: unsigned 8-bit integer
 * @SAFETENSORS_DTYPE_I8: signed 8-bit integer
 * @SAFETENSORS_DTYPE_F8_E5M2: 8-bit float, 5 exponent and 2 mantissa bits
 * @SAFETENSORS_DTYPE_F8_E4M3: 8-bit float, 4 exponent and 3 mantissa bits
 * @SAFETENSORS_DTYPE_F8_E8M0: 8-bit exponent-only scale (E8M0)
 * @SAFETENSORS_DTYPE_F8_E4M3FNUZ: 8-bit float E4M3, finite, unsigned zero
 * @SAFETENSORS_DTYPE_F8_E5M2FNUZ: 8-bit float E5M2, finite, unsigned zero
 * @SAFETENSORS_DTYPE_I16: signed 16-bit integer
 * @SAFETENSORS_DTYPE_U16: unsigned 16-bit integer
 * @SAFETENSORS_DTYPE_F16: IEEE half precision float
 * @SAFETENSORS_DTYPE_BF16: brain float 16
 * @SAFETENSORS_DTYPE_I32: signed 32-bit integer
 * @SAFETENSORS_DTYPE_U32: unsigned 32-bit integer
 * @SAFETENSORS_DTYPE_F32: IEEE single precision float
 * @SAFETENSORS_DTYPE_C64: complex number made of two F32
 * @SAFETENSORS_DTYPE_F64: IEEE double precision float
 * @SAFETENSORS_DTYPE_I64: signed 64-bit integer
 * @SAFETENSORS_DTYPE_U64: unsigned 64-bit integer
 *
 * The element types of the safetensors format.
 *
 * The values follow the order of the reference implementation; the canonical
 * writer sorts tensors by this order, descending.
 *
 * Since: 1.0
 */
typedef enum
{
  SAFETENSORS_DTYPE_BOOL,
  SAFETENSORS_DTYPE_F4,
  SAFETENSORS_DTYPE_F6_E2M3,
  SAFETENSORS_DTYPE_F6_E3M2,
  SAFETENSORS_DTYPE_U8,
  SAFETENSORS_DTYPE_I8,
  SAFETENSORS_DTYPE_F8_E5M2,
  SAFETENSORS_DTYPE_F8_E4M3,
  SAFETENSORS_DTYPE_F8_E8M0,
  SAFETENSORS_DTYPE_F8_E4M3FNUZ,
  SAFETENSORS_DTYPE_F8_E5M2FNUZ,
  SAFETENSORS_DTYPE_I16,
  SAFETENSORS_DTYPE_U16,
  SAFETENSORS_DTYPE_F16,
  SAFETENSORS_DTYPE_BF16,
  SAFETENSORS_DTYPE_I32,
  SAFETENSORS_DTYPE_U32,
  SAFETENSORS_DTYPE_F32,
  SAFETENSORS_DTYPE_C64,
  SAFETENSORS_DTYPE_F64,
  SAFETENSORS_DTYPE_I64,
  SAFETENSORS_DTYPE_U64,
} SafetensorsDType;

/**
 * SAFETENSORS_DTYPE_COUNT:
 *
 * The number of values of [enum@Safetensors.DType].
 *
 * Since: 1.0
 */
#define SAFETENSORS_DTYPE_COUNT 22

SAFETENSORS_AVAILABLE_IN_ALL
guint        safetensors_dtype_get_bits    (SafetensorsDType  dtype);
SAFETENSORS_AVAILABLE_IN_ALL
const char  *safetensors_dtype_to_string   (SafetensorsDType  dtype);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean     safetensors_dtype_from_string (const char       *name,
                                            SafetensorsDType *out_dtype);

G_END_DECLS
