/* safetensors-header-validate.c — the reference's checks around the
 * JSON: the UTF-8 of the text before it is parsed, and once it is, that
 * the tensors tile the data area with the sizes their dtypes and shapes
 * give (Metadata::validate)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-error.h"
#include "safetensors-header-private.h"

int
safetensors_tensor_info_compare_offsets (gconstpointer a,
                                         gconstpointer b)
{
  const SafetensorsTensorInfo *info_a = *(SafetensorsTensorInfo * const *) a;
  const SafetensorsTensorInfo *info_b = *(SafetensorsTensorInfo * const *) b;

  if (info_a->begin != info_b->begin)
    return info_a->begin < info_b->begin ? -1 : 1;
  if (info_a->end != info_b->end)
    return info_a->end < info_b->end ? -1 : 1;
  return 0;
}

static gboolean
is_sorted_by_offsets (GPtrArray *tensors)
{
  for (guint i = 1; i < tensors->len; i++)
    if (safetensors_tensor_info_compare_offsets (&tensors->pdata[i - 1], &tensors->pdata[i]) > 0)
      return FALSE;

  return TRUE;
}

static gboolean validation_error (GError                      **error,
                                  SafetensorsError              code,
                                  const char                   *display_name,
                                  const SafetensorsTensorInfo  *info,
                                  const char                   *format,
                                  ...) G_GNUC_PRINTF (5, 6);

static gboolean
validation_error (GError                      **error,
                  SafetensorsError              code,
                  const char                   *display_name,
                  const SafetensorsTensorInfo  *info,
                  const char                   *format,
                  ...)
{
  g_autofree char *name = safetensors_header_shorten_name (info->name);
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, SAFETENSORS_ERROR, code, "%s: tensor “%s”: %s", display_name, name, message);
  return FALSE;
}

/* The reference's Metadata::validate(), check for check: the tensors, in
 * offset order, must tile the data area from 0 and each must be exactly
 * as large as its dtype and shape say. */
gboolean
safetensors_header_validate_tensors (const char         *display_name,
                                     SafetensorsHeader  *header,
                                     GError            **error)
{
  guint64 start = 0;

  /* Stable, so tensors with equal offsets keep their header order (the
   * reference's order for them depends on its hash seed). Writers usually
   * list tensors in offset order already. */
  if (!is_sorted_by_offsets (header->tensors))
    g_ptr_array_sort (header->tensors, safetensors_tensor_info_compare_offsets);

  for (guint i = 0; i < header->tensors->len; i++)
    {
      SafetensorsTensorInfo *info = g_ptr_array_index (header->tensors, i);
      guint bits = safetensors_dtype_get_bits (info->dtype);
      guint64 n_elements = 1;
      guint64 n_bits;

      if (info->begin != start)
        return validation_error (error, SAFETENSORS_ERROR_INVALID_OFFSET, display_name, info,
                                 "data offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                                 "] should start at %" G_GUINT64_FORMAT,
                                 info->begin, info->end, start);
      if (info->end < info->begin)
        return validation_error (error, SAFETENSORS_ERROR_INVALID_OFFSET, display_name, info,
                                 "data offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                                 "] end before they begin", info->begin, info->end);
      start = info->end;

      /* In order, like the reference's try_fold: a 0 met before an
       * overflow makes the rest harmless. */
      for (guint d = 0; d < info->n_dims; d++)
        if (!g_uint64_checked_mul (&n_elements, n_elements, info->shape[d]))
          return validation_error (error, SAFETENSORS_ERROR_VALIDATION_OVERFLOW, display_name, info,
                                   "the number of elements does not fit in 64 bits");

      if (!g_uint64_checked_mul (&n_bits, n_elements, bits))
        return validation_error (error, SAFETENSORS_ERROR_VALIDATION_OVERFLOW, display_name, info,
                                 "its size in bits does not fit in 64 bits");

      if (n_bits % 8 != 0)
        return validation_error (error, SAFETENSORS_ERROR_MISALIGNED_SLICE, display_name, info,
                                 "%" G_GUINT64_FORMAT " × %s is %" G_GUINT64_FORMAT
                                 " bits, not a whole number of bytes",
                                 n_elements, safetensors_dtype_to_string (info->dtype), n_bits);

      if (info->end - info->begin != n_bits / 8)
        return validation_error (error, SAFETENSORS_ERROR_TENSOR_INVALID_INFO, display_name, info,
                                 "%" G_GUINT64_FORMAT " × %s is %" G_GUINT64_FORMAT " bytes but "
                                 "its data offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                                 "] span %" G_GUINT64_FORMAT,
                                 n_elements, safetensors_dtype_to_string (info->dtype), n_bits / 8,
                                 info->begin, info->end, info->end - info->begin);

      info->n_elements = n_elements;
    }

  header->data_size = start;
  return TRUE;
}

/* Rust's str::from_utf8 accepts U+0000 where g_utf8_validate_len() stops,
 * so validate around NUL bytes: a header with a NUL is then rejected as
 * JSON (a raw control character), like the reference does. On failure
 * *bad_offset is where the invalid sequence starts. */
gboolean
safetensors_header_validate_utf8 (const guint8 *text,
                                  gsize         len,
                                  gsize        *bad_offset)
{
  const char *p = (const char *) text;
  const char *end = p + len;

  /* Headers are mostly ASCII, which g_utf8_validate_len() goes through a
   * byte at a time; skip it eight bytes at a time first. */
  while (end - p >= 8)
    {
      guint64 word;

      memcpy (&word, p, sizeof word);
      if (word & G_GUINT64_CONSTANT (0x8080808080808080))
        break;
      p += 8;
    }

  while (p < end)
    {
      const char *stop;

      if (g_utf8_validate_len (p, end - p, &stop))
        return TRUE;

      if (*stop != '\0')
        {
          *bad_offset = stop - (const char *) text;
          return FALSE;
        }

      for (p = stop; p < end && *p == '\0'; p++)
        ;
    }

  return TRUE;
}
