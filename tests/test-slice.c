/* test-slice.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * NumPy basic slicing: the text form, the semantics of each item, and the
 * gatherer checked against a naive element-by-element model.
 */

#include <string.h>

#include "test-util.h"

static void
test_parse_roundtrip (void)
{
  struct { const char *in; const char *out; guint n_items; } cases[] = {
    { "", "", 0 },
    { "1", "1", 1 },
    { " -3 ", "-3", 1 },
    { "1:3", "1:3", 1 },
    { "::2", "::2", 1 },
    { ":", ":", 1 },
    { "::-1", "::-1", 1 },
    { "-5:-1:2, 0, ...", "-5:-1:2, 0, ...", 3 },
    { "...,2", "..., 2", 2 },
    { "1,", "1", 1 },
    { "+2:", "2:", 1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SafetensorsSlice) slice = safetensors_slice_parse (cases[i].in, &error);
      g_autofree char *text = NULL;

      g_assert_no_error (error);
      g_assert_cmpuint (safetensors_slice_get_n_items (slice), ==, cases[i].n_items);
      text = safetensors_slice_to_string (slice);
      g_assert_cmpstr (text, ==, cases[i].out);
    }
}

static void
test_parse_invalid (void)
{
  const char *cases[] = {
    "a", "1:b", "1;2", "1 2", ",", "1,,2", ":::", "1:2:3:4", "--1",
    "99999999999999999999", "-9223372036854775808", "1.5", "[1]", "..", "....",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SafetensorsSlice) slice = safetensors_slice_parse (cases[i], &error);

      g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_SLICE);
      g_assert_null (slice);
    }
}

/* A U16 tensor whose element i holds the value i. */
static SafetensorsFile *
open_iota (const guint64 *shape,
           guint          n_dims,
           TestBackend    backend)
{
  g_autoptr(GString) json = g_string_new ("{\"t\":{\"dtype\":\"U16\",\"shape\":[");
  g_autoptr(GError) error = NULL;
  g_autofree guint16 *data = NULL;
  g_autofree char *path = NULL;
  SafetensorsFile *file;
  guint64 n = 1;

  for (guint d = 0; d < n_dims; d++)
    {
      g_string_append_printf (json, "%s%" G_GUINT64_FORMAT, d ? "," : "", shape[d]);
      n *= shape[d];
    }
  g_string_append_printf (json, "],\"data_offsets\":[0,%" G_GUINT64_FORMAT "]}}", n * 2);

  data = g_new (guint16, MAX (n, 1));
  for (guint64 i = 0; i < n; i++)
    data[i] = (guint16) i;

  path = test_write_safetensors (json->str, 0, data, n * 2);
  file = test_open (path, backend, &error);
  g_assert_no_error (error);
  return file;
}

static void
test_semantics (gconstpointer user_data)
{
  TestBackend backend = GPOINTER_TO_UINT (user_data);
  const guint64 shape[] = { 4, 5 };
  g_autoptr(SafetensorsFile) file = open_iota (shape, 2, backend);
  g_autoptr(SafetensorsTensor) t = safetensors_file_lookup (file, "t", NULL);
  struct {
    const char *expr;
    guint n_dims;
    guint64 shape[2];
    guint n_values;
    guint16 values[20];
  } cases[] = {
    { "1", 1, { 5 }, 5, { 5, 6, 7, 8, 9 } },
    { "-1", 1, { 5 }, 5, { 15, 16, 17, 18, 19 } },
    { "1:3, ::2", 2, { 2, 3 }, 6, { 5, 7, 9, 10, 12, 14 } },
    { "::-1, 4", 1, { 4 }, 4, { 19, 14, 9, 4 } },
    { "2, -2:", 1, { 2 }, 2, { 13, 14 } },
    { "..., 0", 1, { 4 }, 4, { 0, 5, 10, 15 } },
    { "0, ...", 1, { 5 }, 5, { 0, 1, 2, 3, 4 } },
    { "-100:100, 3:-100:-2", 2, { 4, 2 }, 8, { 3, 1, 8, 6, 13, 11, 18, 16 } },
    { "3:1", 2, { 0, 5 }, 0, { 0 } },
    { "1:2, 1:2", 2, { 1, 1 }, 1, { 6 } },
    { "0, 0", 0, { 0 }, 1, { 0 } },
    { "", 2, { 4, 5 }, 20, { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19 } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SafetensorsSlice) slice = safetensors_slice_parse (cases[i].expr, &error);
      g_autoptr(GBytes) bytes = NULL;
      g_autofree guint64 *out_shape = NULL;
      guint out_n_dims = 99;

      g_assert_no_error (error);
      bytes = safetensors_tensor_read_slice (t, slice, &out_shape, &out_n_dims, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (out_n_dims, ==, cases[i].n_dims);
      for (guint d = 0; d < out_n_dims; d++)
        g_assert_cmpuint (out_shape[d], ==, cases[i].shape[d]);
      g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                       cases[i].values, cases[i].n_values * sizeof (guint16));
    }
}

static void
test_errors (gconstpointer user_data)
{
  TestBackend backend = GPOINTER_TO_UINT (user_data);
  const guint64 shape[] = { 4, 5 };
  g_autoptr(SafetensorsFile) file = open_iota (shape, 2, backend);
  g_autoptr(SafetensorsTensor) t = safetensors_file_lookup (file, "t", NULL);
  struct { const char *expr; const char *needle; } cases[] = {
    { "4", "index 4 is out of bounds for dimension 0 with size 4" },
    { "0, -6", "index -6 is out of bounds for dimension 1 with size 5" },
    { "0, 0, 0", "too many indices" },
    { "::0", "step cannot be zero" },
    { "..., 1, ...", "one ellipsis" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SafetensorsSlice) slice = safetensors_slice_parse (cases[i].expr, &error);
      g_autoptr(GBytes) bytes = NULL;

      g_assert_no_error (error);
      bytes = safetensors_tensor_read_slice (t, slice, NULL, NULL, NULL, &error);
      g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_SLICE);
      g_assert_null (bytes);
      g_assert_nonnull (strstr (error->message, cases[i].needle));
      /* The tensor is named. */
      g_assert_nonnull (strstr (error->message, "“t”"));
    }
}

/* Sub-byte dtypes slice only on byte boundaries. */
static void
test_sub_byte (gconstpointer user_data)
{
  TestBackend backend = GPOINTER_TO_UINT (user_data);
  static const guint8 f4_data[6] = { 0x10, 0x32, 0x54, 0x76, 0x98, 0xba };
  g_autoptr(GError) error = NULL;
  g_autofree char *path = test_write_safetensors (
    "{\"f4\":{\"dtype\":\"F4\",\"shape\":[3,4],\"data_offsets\":[0,6]}}", 0, f4_data, 6);
  g_autoptr(SafetensorsFile) file = test_open (path, backend, &error);
  g_autoptr(SafetensorsTensor) t = NULL;
  struct { const char *expr; int code; gsize len; const guint8 *expect; } cases[] = {
    { "1", -1, 2, f4_data + 2 },
    { "0:3:2", -1, 4, (const guint8 *) "\x10\x32\x98\xba" },
    { "..., 2:4", -1, 3, (const guint8 *) "\x32\x76\xba" },
    { "..., 1:3", SAFETENSORS_ERROR_MISALIGNED_SLICE, 0, NULL },
    { "..., ::2", SAFETENSORS_ERROR_MISALIGNED_SLICE, 0, NULL },
    { "1:2, ...", -1, 2, f4_data + 2 },
    { "0, 1", SAFETENSORS_ERROR_MISALIGNED_SLICE, 0, NULL },
  };

  g_assert_no_error (error);
  t = safetensors_file_lookup (file, "f4", &error);
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(SafetensorsSlice) slice = safetensors_slice_parse (cases[i].expr, &error);
      g_autoptr(GBytes) bytes = NULL;

      g_assert_no_error (error);
      bytes = safetensors_tensor_read_slice (t, slice, NULL, NULL, NULL, &error);
      if (cases[i].code < 0)
        {
          g_assert_no_error (error);
          g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                           cases[i].expect, cases[i].len);
        }
      else
        {
          g_assert_error (error, SAFETENSORS_ERROR, cases[i].code);
          g_assert_null (bytes);
          g_clear_error (&error);
        }
    }
}

/* A dimension of size 1 selected by an index or any step is still whole:
 * all these pick the same byte of an F4 [2, 1] tensor. */
static void
test_sub_byte_size_one (gconstpointer user_data)
{
  TestBackend backend = GPOINTER_TO_UINT (user_data);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = test_write_safetensors (
    "{\"f4\":{\"dtype\":\"F4\",\"shape\":[2,1],\"data_offsets\":[0,1]}}", 0, "\x21", 1);
  g_autoptr(SafetensorsFile) file = test_open (path, backend, &error);
  g_autoptr(SafetensorsTensor) t = NULL;
  const char *exprs[] = { ":, 0:1", ":, 0", ":, 0:1:2", "..., -1" };

  g_assert_no_error (error);
  t = safetensors_file_lookup (file, "f4", &error);
  for (guint i = 0; i < G_N_ELEMENTS (exprs); i++)
    {
      g_autoptr(SafetensorsSlice) slice = safetensors_slice_parse (exprs[i], &error);
      g_autoptr(GBytes) bytes = safetensors_tensor_read_slice (t, slice, NULL, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "\x21", 1);
    }
}

/* Alignment is a property of where each run starts, not of the parts of
 * that offset: in an F4 [4, 3, 3] tensor, t[1, 1:] is elements 12 to 17,
 * bytes 6 to 8, although row 1 (element 9) and column 1 (element 3) start
 * mid-byte. t[1:3, 1:] adds a run at element 21, which does not. */
static void
test_sub_byte_offset_sum (gconstpointer user_data)
{
  TestBackend backend = GPOINTER_TO_UINT (user_data);
  guint8 data[18];
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(SafetensorsTensor) t = NULL;
  g_autoptr(SafetensorsSlice) aligned = NULL;
  g_autoptr(SafetensorsSlice) misaligned = NULL;
  g_autoptr(GBytes) bytes = NULL;

  for (guint i = 0; i < sizeof data; i++)
    data[i] = (guint8) (i * 7 + 1);
  path = test_write_safetensors ("{\"t\":{\"dtype\":\"F4\",\"shape\":[4,3,3],"
                                 "\"data_offsets\":[0,18]}}", 0, data, sizeof data);
  file = test_open (path, backend, &error);
  g_assert_no_error (error);
  t = safetensors_file_lookup (file, "t", &error);
  g_assert_no_error (error);

  aligned = safetensors_slice_parse ("1, 1:", &error);
  g_assert_no_error (error);
  bytes = safetensors_tensor_read_slice (t, aligned, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), data + 6, 3);

  misaligned = safetensors_slice_parse ("1:3, 1:", &error);
  g_assert_no_error (error);
  g_assert_null (safetensors_tensor_read_slice (t, misaligned, NULL, NULL, NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_MISALIGNED_SLICE);
}

/* Python's slice.indices(), written the obvious way, as the model. */
static void
model_indices (gint64  start, gint64 stop, gint64 step, gint64 n,
               gint64 *out_start, gint64 *out_count)
{
  if (step > 0)
    {
      start = start == SAFETENSORS_SLICE_NONE ? 0 : (start < 0 ? MAX (start + n, 0) : MIN (start, n));
      stop = stop == SAFETENSORS_SLICE_NONE ? n : (stop < 0 ? MAX (stop + n, 0) : MIN (stop, n));
      *out_count = stop > start ? (stop - start - 1) / step + 1 : 0;
    }
  else
    {
      start = start == SAFETENSORS_SLICE_NONE ? n - 1 : (start < 0 ? MAX (start + n, -1) : MIN (start, n - 1));
      stop = stop == SAFETENSORS_SLICE_NONE ? -1 : (stop < 0 ? MAX (stop + n, -1) : MIN (stop, n - 1));
      *out_count = start > stop ? (start - stop - 1) / (-step) + 1 : 0;
    }
  *out_start = start;
}

static gint64
random_bound (gint64 n)
{
  if (g_test_rand_int_range (0, 4) == 0)
    return SAFETENSORS_SLICE_NONE;
  return g_test_rand_int_range (-(gint32) n - 2, (gint32) n + 3);
}

static void
test_random_against_model (gconstpointer user_data)
{
  TestBackend backend = GPOINTER_TO_UINT (user_data);

  for (guint round = 0; round < 60; round++)
    {
      guint n_dims = g_test_rand_int_range (1, 5);
      guint64 shape[4];
      g_autoptr(SafetensorsFile) file = NULL;
      g_autoptr(SafetensorsTensor) t = NULL;

      for (guint d = 0; d < n_dims; d++)
        shape[d] = g_test_rand_int_range (1, 7);
      file = open_iota (shape, n_dims, backend);
      t = safetensors_file_lookup (file, "t", NULL);

      for (guint k = 0; k < 20; k++)
        {
          g_autoptr(SafetensorsSlice) slice = safetensors_slice_new ();
          g_autoptr(GError) error = NULL;
          g_autoptr(GBytes) bytes = NULL;
          g_autofree guint64 *out_shape = NULL;
          g_autoptr(GArray) expect = g_array_new (FALSE, FALSE, sizeof (guint16));
          gint64 starts[4], steps[4], counts[4];
          guint64 strides[4];
          guint out_n_dims = 0;
          guint n_kept = 0;
          guint n_items = g_test_rand_int_range (0, n_dims + 1);
          guint64 idx[4] = { 0 };
          gboolean empty = FALSE;

          for (guint d = n_dims, stride = 1; d-- > 0;)
            {
              strides[d] = stride;
              stride *= shape[d];
            }

          for (guint d = 0; d < n_dims; d++)
            {
              if (d < n_items && g_test_rand_bit ())
                {
                  gint64 index = g_test_rand_int_range (-(gint32) shape[d], (gint32) shape[d]);

                  safetensors_slice_add_index (slice, index);
                  starts[d] = index < 0 ? index + (gint64) shape[d] : index;
                  steps[d] = 1;
                  counts[d] = 1;
                }
              else
                {
                  gint64 start = d < n_items ? random_bound (shape[d]) : SAFETENSORS_SLICE_NONE;
                  gint64 stop = d < n_items ? random_bound (shape[d]) : SAFETENSORS_SLICE_NONE;
                  gint64 step = d < n_items ? g_test_rand_int_range (-3, 4) : 1;

                  if (step == 0)
                    step = 1;
                  if (d < n_items)
                    safetensors_slice_add_range (slice, start, stop, step);
                  model_indices (start, stop, step, shape[d], &starts[d], &counts[d]);
                  steps[d] = step;
                  n_kept++;
                  empty |= counts[d] == 0;
                }
            }

          /* The model: walk every output position, row-major. */
          while (!empty)
            {
              guint64 element = 0;
              guint16 value;
              guint d;

              for (d = 0; d < n_dims; d++)
                element += (starts[d] + (gint64) idx[d] * steps[d]) * strides[d];
              value = (guint16) element;
              g_array_append_val (expect, value);

              for (d = n_dims; d-- > 0;)
                {
                  if ((gint64) ++idx[d] < counts[d])
                    break;
                  idx[d] = 0;
                }
              if (d == G_MAXUINT)
                break;
            }

          bytes = safetensors_tensor_read_slice (t, slice, &out_shape, &out_n_dims, NULL, &error);
          g_assert_no_error (error);
          g_assert_cmpuint (out_n_dims, ==, n_kept);
          g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                           expect->data, expect->len * sizeof (guint16));
        }
    }
}

static void
add_backend_test (const char    *path,
                  GTestDataFunc  func)
{
  for (guint b = 0; b < G_N_ELEMENTS (test_backend_names); b++)
    {
      g_autofree char *name = g_strdup_printf ("%s/%s", path, test_backend_names[b]);

      g_test_add_data_func (name, GUINT_TO_POINTER (b), func);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/safetensors/slice/parse-roundtrip", test_parse_roundtrip);
  g_test_add_func ("/safetensors/slice/parse-invalid", test_parse_invalid);
  add_backend_test ("/safetensors/slice/semantics", test_semantics);
  add_backend_test ("/safetensors/slice/errors", test_errors);
  add_backend_test ("/safetensors/slice/sub-byte", test_sub_byte);
  add_backend_test ("/safetensors/slice/sub-byte-size-one", test_sub_byte_size_one);
  add_backend_test ("/safetensors/slice/sub-byte-offset-sum", test_sub_byte_offset_sum);
  add_backend_test ("/safetensors/slice/random-vs-model", test_random_against_model);

  return g_test_run ();
}
