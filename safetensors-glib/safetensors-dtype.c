/* safetensors-dtype.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-dtype.h"

typedef struct
{
  const char *name;
  guint bits;
} DTypeInfo;

/* Indexed by SafetensorsDType; names are the exact, case-sensitive
 * spellings of the file format. */
static const DTypeInfo dtype_infos[SAFETENSORS_DTYPE_COUNT] = {
  [SAFETENSORS_DTYPE_BOOL]        = { "BOOL", 8 },
  [SAFETENSORS_DTYPE_F4]          = { "F4", 4 },
  [SAFETENSORS_DTYPE_F6_E2M3]     = { "F6_E2M3", 6 },
  [SAFETENSORS_DTYPE_F6_E3M2]     = { "F6_E3M2", 6 },
  [SAFETENSORS_DTYPE_U8]          = { "U8", 8 },
  [SAFETENSORS_DTYPE_I8]          = { "I8", 8 },
  [SAFETENSORS_DTYPE_F8_E5M2]     = { "F8_E5M2", 8 },
  [SAFETENSORS_DTYPE_F8_E4M3]     = { "F8_E4M3", 8 },
  [SAFETENSORS_DTYPE_F8_E8M0]     = { "F8_E8M0", 8 },
  [SAFETENSORS_DTYPE_F8_E4M3FNUZ] = { "F8_E4M3FNUZ", 8 },
  [SAFETENSORS_DTYPE_F8_E5M2FNUZ] = { "F8_E5M2FNUZ", 8 },
  [SAFETENSORS_DTYPE_I16]         = { "I16", 16 },
  [SAFETENSORS_DTYPE_U16]         = { "U16", 16 },
  [SAFETENSORS_DTYPE_F16]         = { "F16", 16 },
  [SAFETENSORS_DTYPE_BF16]        = { "BF16", 16 },
  [SAFETENSORS_DTYPE_I32]         = { "I32", 32 },
  [SAFETENSORS_DTYPE_U32]         = { "U32", 32 },
  [SAFETENSORS_DTYPE_F32]         = { "F32", 32 },
  [SAFETENSORS_DTYPE_C64]         = { "C64", 64 },
  [SAFETENSORS_DTYPE_F64]         = { "F64", 64 },
  [SAFETENSORS_DTYPE_I64]         = { "I64", 64 },
  [SAFETENSORS_DTYPE_U64]         = { "U64", 64 },
};

static gboolean
dtype_is_valid (SafetensorsDType dtype)
{
  return (guint) dtype < SAFETENSORS_DTYPE_COUNT;
}

/**
 * safetensors_dtype_get_bits:
 * @dtype: a [enum@Safetensors.DType]
 *
 * Gets the size of one element of @dtype in bits. Sub-byte types (F4, F6)
 * return 4 or 6; a tensor of them is valid only when its total number of
 * bits is a multiple of 8.
 *
 * Returns: the element size in bits, or 0 if @dtype is not a valid value
 *
 * Since: 1.0
 */
guint
safetensors_dtype_get_bits (SafetensorsDType dtype)
{
  g_return_val_if_fail (dtype_is_valid (dtype), 0);

  return dtype_infos[dtype].bits;
}

/**
 * safetensors_dtype_to_string:
 * @dtype: a [enum@Safetensors.DType]
 *
 * Gets the name of @dtype as written in file headers, e.g. `"F32"`.
 *
 * Returns: (transfer none) (nullable): the name, or %NULL if @dtype is not
 *   a valid value
 *
 * Since: 1.0
 */
const char *
safetensors_dtype_to_string (SafetensorsDType dtype)
{
  g_return_val_if_fail (dtype_is_valid (dtype), NULL);

  return dtype_infos[dtype].name;
}

/**
 * safetensors_dtype_from_string:
 * @name: a dtype name as written in headers, e.g. `"BF16"`
 * @out_dtype: (out) (optional): return location for the dtype
 *
 * Parses a dtype name. Names are case-sensitive: `"f32"` is not a dtype.
 *
 * Returns: %TRUE if @name is a dtype name
 *
 * Since: 1.0
 */
gboolean
safetensors_dtype_from_string (const char       *name,
                               SafetensorsDType *out_dtype)
{
  g_return_val_if_fail (name != NULL, FALSE);

  for (guint i = 0; i < SAFETENSORS_DTYPE_COUNT; i++)
    {
      if (strcmp (name, dtype_infos[i].name) == 0)
        {
          if (out_dtype != NULL)
            *out_dtype = (SafetensorsDType) i;
          return TRUE;
        }
    }

  return FALSE;
}
