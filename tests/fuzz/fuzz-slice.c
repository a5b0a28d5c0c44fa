/* fuzz-slice.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Slice expressions: parsing, the text form, and slicing a small tensor
 * compared with a naive model. The input is
 *
 *   byte 0       the dtype (an index into `dtypes`, bits 0-6) and, in
 *                bit 7, how the slice is made
 *   byte 1       the rank, modulo MAX_RANK + 1
 *   rank bytes   the dimensions: 0xf0 and above pick a huge one from
 *                `huge_dims` (kept only when the tensor stays empty),
 *                others are taken modulo MAX_DIM + 1
 *   the rest     without bit 7: the slice expression; with it, items
 *                for the builder functions, 4 bytes each: the kind, then
 *                start, stop and step (see decode_value())
 *
 * Inputs shorter than the prefix are parsed as an expression only. */

#include <string.h>

#include "fuzz-common.h"

#define MAX_RANK 5
#define MAX_DIM  4

static const SafetensorsDType dtypes[] = {
  SAFETENSORS_DTYPE_F32, SAFETENSORS_DTYPE_U8, SAFETENSORS_DTYPE_F4,
  SAFETENSORS_DTYPE_F6_E2M3, SAFETENSORS_DTYPE_BOOL, SAFETENSORS_DTYPE_F16,
  SAFETENSORS_DTYPE_C64, SAFETENSORS_DTYPE_F64,
};

static const guint64 huge_dims[] = {
  G_MAXUINT64, G_MAXUINT64 - 1, G_GUINT64_CONSTANT (1) << 63, (G_GUINT64_CONSTANT (1) << 63) - 1,
  (G_GUINT64_CONSTANT (1) << 63) + 1, G_MAXUINT32, G_GUINT64_CONSTANT (1) << 32,
  G_MAXUINT64 / 3,
};

static FuzzScratch scratch;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init ();
  fuzz_scratch_init (&scratch);
  return 0;
}

/* Parses @expression and checks that its text form reads back the same. */
static SafetensorsSlice *
parse_expression (const char *expression)
{
  g_autoptr(SafetensorsSlice) slice = NULL;
  g_autoptr(SafetensorsSlice) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text_again = NULL;

  slice = safetensors_slice_parse (expression, &error);
  g_assert_true ((slice == NULL) == (error != NULL));
  if (slice == NULL)
    {
      g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_SLICE);
      g_assert_true (g_utf8_validate (error->message, -1, NULL) ||
                     !g_utf8_validate (expression, -1, NULL));
      return NULL;
    }

  text = safetensors_slice_to_string (slice);
  again = safetensors_slice_parse (text, &error);
  g_assert_no_error (error);
  text_again = safetensors_slice_to_string (again);
  g_assert_cmpstr (text, ==, text_again);
  g_assert_cmpuint (safetensors_slice_get_n_items (slice), ==,
                    safetensors_slice_get_n_items (again));

  return g_steal_pointer (&slice);
}

static const gint64 extreme_values[] = {
  G_MININT64, G_MAXINT64, G_MININT64 + 1, G_MAXINT64 - 1,
  G_MININT32, G_MAXINT32, G_MAXINT64 / 2, G_MININT64 / 2,
  256, -256, 1000, -1000, 4, -4, 5, -5,
};

/* Small values (-64 … 63) for most bytes, extreme ones for the rest. */
static gint64
decode_value (guint8 byte)
{
  if (byte >= 0xf0)
    return extreme_values[byte - 0xf0];
  return (gint64) (byte % 128) - 64;
}

/* Builds a slice with the builder functions, which take any value,
 * SAFETENSORS_SLICE_NONE included; fills @items in step. */
static SafetensorsSlice *
build_slice (const guint8 *data,
             gsize         size,
             GArray       *items)
{
  g_autoptr(SafetensorsSlice) slice = safetensors_slice_new ();
  g_autoptr(SafetensorsSlice) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text_again = NULL;
  gboolean has_none = FALSE;

  for (gsize i = 0; i + 4 <= size && items->len < 8; i += 4)
    {
      ModelItem item = { data[i] % 3, decode_value (data[i + 1]),
                         decode_value (data[i + 2]), decode_value (data[i + 3]) };

      switch (item.kind)
        {
        case MODEL_INDEX:
          item.stop = 0;
          item.step = 1;
          has_none |= item.start == SAFETENSORS_SLICE_NONE;
          safetensors_slice_add_index (slice, item.start);
          break;
        case MODEL_RANGE:
          has_none |= item.step == SAFETENSORS_SLICE_NONE;
          safetensors_slice_add_range (slice, item.start, item.stop, item.step);
          break;
        case MODEL_ELLIPSIS:
          item.start = item.stop = 0;
          item.step = 1;
          safetensors_slice_add_ellipsis (slice);
          break;
        default:
          g_assert_not_reached ();
        }
      g_array_append_val (items, item);
    }
  g_assert_cmpuint (safetensors_slice_get_n_items (slice), ==, items->len);

  /* The text form reads back, unless it holds SAFETENSORS_SLICE_NONE as
   * an index or a step: no one can type that number. */
  text = safetensors_slice_to_string (slice);
  again = safetensors_slice_parse (text, &error);
  if (has_none)
    {
      g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_SLICE);
      g_assert_null (again);
    }
  else
    {
      g_assert_no_error (error);
      text_again = safetensors_slice_to_string (again);
      g_assert_cmpstr (text, ==, text_again);
    }

  return g_steal_pointer (&slice);
}

/* A .safetensors file holding one tensor "t" of @dtype and @shape whose
 * bytes are @data. */
static GBytes *
build_file (SafetensorsDType  dtype,
            const guint64    *shape,
            guint             n_dims,
            const guint8     *data,
            gsize             n_bytes)
{
  GString *json = g_string_new (NULL);
  GByteArray *file = g_byte_array_new ();
  guint64 len;

  g_string_append_printf (json, "{\"t\":{\"dtype\":\"%s\",\"shape\":[",
                          safetensors_dtype_to_string (dtype));
  for (guint d = 0; d < n_dims; d++)
    g_string_append_printf (json, "%s%" G_GUINT64_FORMAT, d > 0 ? "," : "", shape[d]);
  g_string_append_printf (json, "],\"data_offsets\":[0,%" G_GSIZE_FORMAT "]}}", n_bytes);

  len = GUINT64_TO_LE ((guint64) json->len);
  g_byte_array_append (file, (const guint8 *) &len, 8);
  g_byte_array_append (file, (const guint8 *) json->str, json->len);
  g_byte_array_append (file, data, n_bytes);
  g_string_free (json, TRUE);

  return g_byte_array_free_to_bytes (file);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(SafetensorsSlice) slice = NULL;
  g_autoptr(GArray) items = NULL;
  g_autoptr(GBytes) file_bytes = NULL;
  g_autofree char *expression = NULL;
  g_autofree guint8 *tensor_data = NULL;
  guint64 shape[MAX_RANK];
  SafetensorsDType dtype;
  guint64 n_elements = 1;
  guint64 n_bits;
  guint n_dims;

  if (size < 2 || size < 2u + data[1] % (MAX_RANK + 1))
    {
      expression = g_strndup ((const char *) data, size);
      slice = parse_expression (expression);
      return 0;
    }

  dtype = dtypes[(data[0] & 0x7f) % G_N_ELEMENTS (dtypes)];
  n_dims = data[1] % (MAX_RANK + 1);
  for (guint d = 0; d < n_dims; d++)
    {
      guint8 byte = data[2 + d];

      shape[d] = byte >= 0xf0 ? huge_dims[byte % G_N_ELEMENTS (huge_dims)] : byte % (MAX_DIM + 1);
    }
  if (data[0] & 0x80)
    {
      items = g_array_new (FALSE, TRUE, sizeof (ModelItem));
      slice = build_slice (data + 2 + n_dims, size - 2 - n_dims, items);
    }
  else
    {
      expression = g_strndup ((const char *) data + 2 + n_dims, size - 2 - n_dims);
      slice = parse_expression (expression);
      if (slice == NULL)
        return 0;
    }

  /* In order, like the header check: an overflow before a 0 is an
   * error at open, after a 0 it is harmless. */
  for (guint d = 0; d < n_dims; d++)
    if (!g_uint64_checked_mul (&n_elements, n_elements, shape[d]))
      return 0;
  if (n_elements > 1024)
    return 0;   /* a huge dimension in a non-empty tensor */

  n_bits = n_elements * safetensors_dtype_get_bits (dtype);
  if (n_bits % 8 != 0)
    return 0;     /* no such file: MISALIGNED_SLICE at open */

  /* Distinct bytes, so that a wrong element shows. */
  tensor_data = g_malloc (MAX (n_bits / 8, 1));
  for (guint64 i = 0; i < n_bits / 8; i++)
    tensor_data[i] = (guint8) (i * 7 + 1);

  file_bytes = build_file (dtype, shape, n_dims, tensor_data, n_bits / 8);
  fuzz_scratch_write (&scratch, g_bytes_get_data (file_bytes, NULL), g_bytes_get_size (file_bytes));

  for (FuzzBackend backend = 0; backend < FUZZ_N_BACKENDS; backend++)
    {
      g_autoptr(SafetensorsFile) file = NULL;
      g_autoptr(SafetensorsTensor) tensor = NULL;
      g_autoptr(GError) error = NULL;

      file = fuzz_open (scratch.path, backend, &error);
      g_assert_no_error (error);
      tensor = safetensors_file_lookup (file, "t", &error);
      g_assert_no_error (error);

      fuzz_check_slice (tensor, tensor_data, slice, items);
    }

  return 0;
}
