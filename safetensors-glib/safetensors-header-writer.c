/* safetensors-header-writer.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdlib.h>
#include <string.h>

#include "safetensors-error.h"
#include "safetensors-header-writer-private.h"
#include "safetensors-json-private.h"

SafetensorsTensorInfo *
safetensors_tensor_info_new (const char        *name,
                             SafetensorsDType   dtype,
                             const guint64     *shape,
                             guint              n_dims,
                             GError           **error)
{
  g_autoptr(SafetensorsTensorInfo) info = NULL;
  guint64 n_elements = 1;
  guint64 n_bits;

  if (!g_utf8_validate (name, -1, NULL))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "tensor names must be UTF-8");
      return NULL;
    }

  if (strcmp (name, "__metadata__") == 0)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_RESERVED_NAME,
                   "“__metadata__” is reserved for the metadata map and cannot name a tensor");
      return NULL;
    }

  if ((guint) dtype >= SAFETENSORS_DTYPE_COUNT)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "tensor “%s”: %d is not a dtype", name, (int) dtype);
      return NULL;
    }

  if (n_dims > SAFETENSORS_HEADER_MAX_RANK)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "tensor “%s”: %u dimensions, more than the supported %u",
                   name, n_dims, SAFETENSORS_HEADER_MAX_RANK);
      return NULL;
    }

  for (guint d = 0; d < n_dims; d++)
    {
      if (!g_uint64_checked_mul (&n_elements, n_elements, shape[d]))
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_VALIDATION_OVERFLOW,
                       "tensor “%s”: the number of elements does not fit in 64 bits", name);
          return NULL;
        }
    }

  if (!g_uint64_checked_mul (&n_bits, n_elements, safetensors_dtype_get_bits (dtype)))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_VALIDATION_OVERFLOW,
                   "tensor “%s”: its size in bits does not fit in 64 bits", name);
      return NULL;
    }

  if (n_bits % 8 != 0)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_MISALIGNED_SLICE,
                   "tensor “%s”: %" G_GUINT64_FORMAT " elements of %s are not a whole "
                   "number of bytes", name, n_elements, safetensors_dtype_to_string (dtype));
      return NULL;
    }

  info = g_new0 (SafetensorsTensorInfo, 1);
  info->name = g_strdup (name);
  info->name_len = strlen (name);
  info->dtype = dtype;
  info->n_dims = n_dims;
  info->shape = n_dims > 0 ? g_memdup2 (shape, sizeof (guint64) * n_dims) : NULL;
  info->n_elements = n_elements;
  info->end = n_bits / 8;

  return g_steal_pointer (&info);
}

guint64
safetensors_tensor_info_n_bytes (const SafetensorsTensorInfo *info)
{
  return info->n_elements * safetensors_dtype_get_bits (info->dtype) / 8;
}

int
safetensors_tensor_info_compare_canonical (gconstpointer a,
                                           gconstpointer b)
{
  const SafetensorsTensorInfo *info_a = *(SafetensorsTensorInfo * const *) a;
  const SafetensorsTensorInfo *info_b = *(SafetensorsTensorInfo * const *) b;
  int cmp;

  if (info_a->dtype != info_b->dtype)
    return info_a->dtype > info_b->dtype ? -1 : 1;

  cmp = memcmp (info_a->name, info_b->name, MIN (info_a->name_len, info_b->name_len));
  if (cmp != 0)
    return cmp;
  return info_a->name_len < info_b->name_len ? -1 : (info_a->name_len > info_b->name_len);
}

void
safetensors_header_layout_canonical (GPtrArray *tensors,
                                     guint64   *out_data_size)
{
  guint64 offset = 0;

  g_ptr_array_sort (tensors, safetensors_tensor_info_compare_canonical);
  for (guint i = 0; i < tensors->len; i++)
    {
      SafetensorsTensorInfo *info = g_ptr_array_index (tensors, i);
      guint64 n_bytes = safetensors_tensor_info_n_bytes (info);

      info->begin = offset;
      info->end = offset + n_bytes;
      offset = info->end;
    }

  *out_data_size = offset;
}

static int
compare_keys (gconstpointer a,
              gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

static void
append_metadata (GString    *json,
                 GHashTable *metadata)
{
  g_autofree gpointer *keys = NULL;
  guint n_keys = 0;

  keys = g_hash_table_get_keys_as_array (metadata, &n_keys);
  qsort (keys, n_keys, sizeof (gpointer), compare_keys);

  g_string_append (json, "\"__metadata__\":{");
  for (guint i = 0; i < n_keys; i++)
    {
      if (i > 0)
        g_string_append_c (json, ',');
      safetensors_json_append_string (json, keys[i], -1);
      g_string_append_c (json, ':');
      safetensors_json_append_string (json, g_hash_table_lookup (metadata, keys[i]), -1);
    }
  g_string_append_c (json, '}');
}

static void
append_tensor (GString                     *json,
               const SafetensorsTensorInfo *info)
{
  safetensors_json_append_string (json, info->name, info->name_len);
  g_string_append (json, ":{\"dtype\":\"");
  g_string_append (json, safetensors_dtype_to_string (info->dtype));
  g_string_append (json, "\",\"shape\":[");
  for (guint d = 0; d < info->n_dims; d++)
    g_string_append_printf (json, "%s%" G_GUINT64_FORMAT, d > 0 ? "," : "", info->shape[d]);
  g_string_append_printf (json, "],\"data_offsets\":[%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT "]}",
                          info->begin, info->end);
}

static void
append_document (GString    *json,
                 GPtrArray  *tensors,
                 GHashTable *metadata)
{
  gboolean first = TRUE;

  g_string_append_c (json, '{');
  if (metadata != NULL && g_hash_table_size (metadata) > 0)
    {
      append_metadata (json, metadata);
      first = FALSE;
    }
  for (guint i = 0; i < tensors->len; i++)
    {
      if (!first)
        g_string_append_c (json, ',');
      append_tensor (json, g_ptr_array_index (tensors, i));
      first = FALSE;
    }
  g_string_append_c (json, '}');
}

/* No file gets more tensors than the reader accepts. */
static gboolean
check_tensor_count (GPtrArray  *tensors,
                    GError    **error)
{
  if (tensors->len <= SAFETENSORS_HEADER_MAX_TENSORS)
    return TRUE;

  g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_HEADER_TOO_LARGE,
               "the header would list %u tensors, more than the %u this library reads",
               tensors->len, SAFETENSORS_HEADER_MAX_TENSORS);
  return FALSE;
}

/* Fills in the length prefix and pads the text with spaces to @n bytes. */
static GBytes *
finish_header (GString *json,
               guint64  n)
{
  gsize unpadded = json->len;

  g_string_set_size (json, 8 + n);
  memset (json->str + unpadded, ' ', json->len - unpadded);
  for (guint i = 0; i < 8; i++)
    json->str[i] = (char) ((n >> (8 * i)) & 0xff);

  return g_string_free_to_bytes (json);
}

GBytes *
safetensors_header_serialize (GPtrArray   *tensors,
                              GHashTable  *metadata,
                              guint64      reserve,
                              GError     **error)
{
  GString *json;
  guint64 n;

  if (!check_tensor_count (tensors, error))
    return NULL;

  /* Room for the length prefix, filled in at the end. */
  json = g_string_new (NULL);
  g_string_append_len (json, "\0\0\0\0\0\0\0\0", 8);
  append_document (json, tensors, metadata);

  n = json->len - 8;
  if (reserve > SAFETENSORS_HEADER_MAX_SIZE || n + reserve > SAFETENSORS_HEADER_MAX_SIZE)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_HEADER_TOO_LARGE,
                   "the header would take %" G_GUINT64_FORMAT " bytes, more than the "
                   "100000000 the format allows", n + MIN (reserve, SAFETENSORS_HEADER_MAX_SIZE));
      g_string_free (json, TRUE);
      return NULL;
    }

  /* The cap is a multiple of 8, so rounding up cannot cross it. */
  n += reserve;
  n += (8 - n % 8) % 8;
  return finish_header (json, n);
}

GBytes *
safetensors_header_serialize_sized (GPtrArray   *tensors,
                                    GHashTable  *metadata,
                                    guint64      text_len,
                                    GError     **error)
{
  GString *json;

  if (!check_tensor_count (tensors, error))
    return NULL;

  json = g_string_new (NULL);
  g_string_append_len (json, "\0\0\0\0\0\0\0\0", 8);
  append_document (json, tensors, metadata);

  if (json->len - 8 > text_len)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_HEADER_TOO_LARGE,
                   "the header takes %" G_GSIZE_FORMAT " bytes but only %" G_GUINT64_FORMAT
                   " were planned for it", json->len - 8, text_len);
      g_string_free (json, TRUE);
      return NULL;
    }

  return finish_header (json, text_len);
}
