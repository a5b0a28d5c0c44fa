/* safetensors-npy-data.c — .npy the other way: headers for arrays, and
 * the byte-order and memory-order conversions of their data
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-error.h"
#include "safetensors-npy-private.h"

/* numpy/lib/format.py: the data starts at a multiple of ARRAY_ALIGN, and
 * np.save() leaves room after the header for the growing axis to reach
 * GROWTH_AXIS_MAX_DIGITS digits. */
#define ARRAY_ALIGN            64
#define GROWTH_AXIS_MAX_DIGITS 21

/* ------------------------------------------------------------------ */
/* Writer                                                             */
/* ------------------------------------------------------------------ */

static void
append_le (GByteArray *out,
           guint32     value,
           guint       n_bytes)
{
  for (guint i = 0; i < n_bytes; i++)
    {
      guint8 byte = (value >> (8 * i)) & 0xff;

      g_byte_array_append (out, &byte, 1);
    }
}

GBytes *
safetensors_npy_build_header (SafetensorsDType   dtype,
                              const guint64     *shape,
                              guint              n_dims,
                              GError           **error)
{
  const char *descr = safetensors_npy_dtype_to_descr (dtype);
  g_autoptr(GString) text = NULL;
  g_autoptr(GByteArray) out = NULL;
  gsize header_len, padding, prefix_len = 10;
  guint8 major = 1;

  g_return_val_if_fail (shape != NULL || n_dims == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (descr == NULL)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   "dtype %s has no NumPy equivalent",
                   (guint) dtype < SAFETENSORS_DTYPE_COUNT ?
                   safetensors_dtype_to_string (dtype) : "(invalid)");
      return NULL;
    }

  /* Exactly the text np.save() makes from
   * repr() of the sorted dict items. */
  text = g_string_new ("{'descr': '");
  g_string_append (text, descr);
  g_string_append (text, "', 'fortran_order': False, 'shape': (");
  for (guint d = 0; d < n_dims; d++)
    {
      if (shape[d] > (guint64) G_MAXINT64)
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                       "dimension %u (%" G_GUINT64_FORMAT ") is too large for NumPy, "
                       "whose dimensions are signed 64-bit integers", d, shape[d]);
          return NULL;
        }
      if (text->len > SAFETENSORS_NPY_MAX_HEADER_LEN)
        break;
      if (d > 0)
        g_string_append (text, ", ");
      g_string_append_printf (text, "%" G_GUINT64_FORMAT, shape[d]);
    }
  if (n_dims == 1)
    g_string_append_c (text, ',');
  g_string_append (text, "), }");

  if (n_dims > 0)
    {
      g_autofree char *first = g_strdup_printf ("%" G_GUINT64_FORMAT, shape[0]);

      for (gsize i = strlen (first); i < GROWTH_AXIS_MAX_DIGITS; i++)
        g_string_append_c (text, ' ');
    }

  /* NumPy's padding: the data starts at a multiple of 64, and a header
   * that already ends there still gets 64 spaces. */
  header_len = text->len + 1;
  padding = ARRAY_ALIGN - (prefix_len + header_len) % ARRAY_ALIGN;
  if (header_len + padding > G_MAXUINT16)
    {
      major = 2;
      prefix_len = 12;
      padding = ARRAY_ALIGN - (prefix_len + header_len) % ARRAY_ALIGN;
    }
  if (header_len + padding > SAFETENSORS_NPY_MAX_HEADER_LEN)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "a .npy header for %u dimensions would exceed %u bytes",
                   n_dims, (guint) SAFETENSORS_NPY_MAX_HEADER_LEN);
      return NULL;
    }

  out = g_byte_array_sized_new (prefix_len + header_len + padding);
  g_byte_array_append (out, (const guint8 *) SAFETENSORS_NPY_MAGIC, SAFETENSORS_NPY_MAGIC_LEN);
  g_byte_array_append (out, &major, 1);
  g_byte_array_append (out, (const guint8 *) "", 1);
  append_le (out, header_len + padding, prefix_len - 8);
  g_byte_array_append (out, (const guint8 *) text->str, text->len);
  for (gsize i = 0; i < padding; i++)
    g_byte_array_append (out, (const guint8 *) " ", 1);
  g_byte_array_append (out, (const guint8 *) "\n", 1);

  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

/* ------------------------------------------------------------------ */
/* Data                                                               */
/* ------------------------------------------------------------------ */

void
safetensors_npy_byteswap (guint8 *data,
                          gsize   len,
                          guint   swap_size)
{
  g_assert (swap_size == 1 || swap_size == 2 || swap_size == 4 || swap_size == 8);
  g_assert (len % swap_size == 0);

  /* memcpy: the buffer need not be aligned. */
  switch (swap_size)
    {
    case 2:
      for (gsize i = 0; i < len; i += 2)
        {
          guint16 v;

          memcpy (&v, data + i, 2);
          v = GUINT16_SWAP_LE_BE (v);
          memcpy (data + i, &v, 2);
        }
      break;

    case 4:
      for (gsize i = 0; i < len; i += 4)
        {
          guint32 v;

          memcpy (&v, data + i, 4);
          v = GUINT32_SWAP_LE_BE (v);
          memcpy (data + i, &v, 4);
        }
      break;

    case 8:
      for (gsize i = 0; i < len; i += 8)
        {
          guint64 v;

          memcpy (&v, data + i, 8);
          v = GUINT64_SWAP_LE_BE (v);
          memcpy (data + i, &v, 8);
        }
      break;

    default:
      break;
    }
}

static inline void
copy_element (guint8       *dest,
              const guint8 *src,
              gsize         element_size)
{
  /* Constant sizes let the compiler inline the copies. */
  switch (element_size)
    {
    case 1: *dest = *src; break;
    case 2: memcpy (dest, src, 2); break;
    case 4: memcpy (dest, src, 4); break;
    case 8: memcpy (dest, src, 8); break;
    default: memcpy (dest, src, element_size); break;
    }
}

void
safetensors_npy_fortran_to_c (const guint8  *src,
                              gsize          element_size,
                              const guint64 *shape,
                              guint          n_dims,
                              guint64        first,
                              guint8        *dest,
                              gsize          n_elements)
{
  g_autofree guint64 *index = NULL;
  g_autofree guint64 *stride = NULL;
  guint64 offset = 0;
  guint64 rest = first;
  guint64 n = 1;

  if (n_elements == 0)
    return;

  if (n_dims == 0)
    {
      g_assert (first == 0 && n_elements == 1);
      copy_element (dest, src, element_size);
      return;
    }

  /* In Fortran order the first index varies fastest. No overflow: the
   * whole array is in memory. */
  index = g_new (guint64, n_dims);
  stride = g_new (guint64, n_dims);
  for (guint d = 0; d < n_dims; d++)
    {
      stride[d] = n;
      n *= shape[d];
    }
  g_assert (first <= n && n_elements <= n - first);

  for (guint d = n_dims; d-- > 0;)
    {
      index[d] = rest % shape[d];
      rest /= shape[d];
      offset += index[d] * stride[d];
    }

  for (gsize i = 0; i < n_elements; i++)
    {
      copy_element (dest + i * element_size, src + offset * element_size, element_size);

      /* Next element in C order: the last index varies fastest. */
      for (guint d = n_dims; d-- > 0;)
        {
          index[d]++;
          offset += stride[d];
          if (index[d] < shape[d])
            break;
          offset -= shape[d] * stride[d];
          index[d] = 0;
        }
    }
}
