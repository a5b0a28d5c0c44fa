/* test-file.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Opening files end to end: every rule of the strict reader through the
 * public API, on each storage backend.
 */

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "test-util.h"

#define NO_ERROR (-1)

/* A header, its padding, how many data bytes follow, and the verdict. */
typedef struct
{
  const char *name;
  const char *json;
  guint       pad;
  gsize       data_len;
  int         code;
} HeaderCase;

static const HeaderCase header_cases[] = {
  /* The reference's own vectors. */
  { "reference-ok", "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 0, 16, NO_ERROR },
  { "reference-invalid-info", "{\"test\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 0, 12,
    SAFETENSORS_ERROR_TENSOR_INVALID_INFO },
  { "reference-overflow", "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,18446744073709551614],\"data_offsets\":[0,16]}}", 0, 16,
    SAFETENSORS_ERROR_VALIDATION_OVERFLOW },
  { "reference-f4-misaligned", "{\"test\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 0, 2,
    SAFETENSORS_ERROR_MISALIGNED_SLICE },
  { "trailing-bytes", "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 0, 17,
    SAFETENSORS_ERROR_METADATA_INCOMPLETE_BUFFER },
  { "missing-bytes", "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 0, 15,
    SAFETENSORS_ERROR_METADATA_INCOMPLETE_BUFFER },
  { "empty-header", "", 0, 0, SAFETENSORS_ERROR_INVALID_JSON },
  { "empty-object", "{}", 6, 0, NO_ERROR },
  { "whitespace-around", "\t\n{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}\r \t\n", 0, 1, NO_ERROR },
  { "nul-padding", "{}\0", 0, 0, SAFETENSORS_ERROR_INVALID_JSON },
  { "comment", "{/* x */}", 0, 0, SAFETENSORS_ERROR_INVALID_JSON },
  { "single-quotes", "{'a':{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 0, 1, SAFETENSORS_ERROR_INVALID_JSON },
  { "leading-zero", "{\"a\":{\"dtype\":\"U8\",\"shape\":[01],\"data_offsets\":[0,1]}}", 0, 1, SAFETENSORS_ERROR_INVALID_JSON },
  { "u64-max-wraps-nowhere", "{\"a\":{\"dtype\":\"U8\",\"shape\":[0,18446744073709551615],\"data_offsets\":[0,0]}}", 0, 0, NO_ERROR },
  { "beyond-u64", "{\"a\":{\"dtype\":\"U8\",\"shape\":[0,18446744073709551616],\"data_offsets\":[0,0]}}", 0, 0, SAFETENSORS_ERROR_INVALID_JSON },
  { "not-utf8", "{\"\xff\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 0, 1, SAFETENSORS_ERROR_INVALID_HEADER },
  { "ten-at-zero",
    "{\"t0\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    "\"t1\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    "\"t2\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    "\"t3\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    "\"t4\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    "\"t5\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    "\"t6\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    "\"t7\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    "\"t8\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    "\"t9\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 0, 16, SAFETENSORS_ERROR_INVALID_OFFSET },
  { "hole", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 0, 2, SAFETENSORS_ERROR_INVALID_OFFSET },
  { "duplicate-name",
    "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
    "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 0, 2, SAFETENSORS_ERROR_DUPLICATE_NAME },
  { "zero-size-everywhere",
    "{\"z0\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
    "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
    "\"z1\":{\"dtype\":\"F64\",\"shape\":[3,0,2],\"data_offsets\":[2,2]},"
    "\"b\":{\"dtype\":\"I16\",\"shape\":[],\"data_offsets\":[2,4]},"
    "\"z2\":{\"dtype\":\"BF16\",\"shape\":[0],\"data_offsets\":[4,4]}}", 0, 4, NO_ERROR },
};

typedef struct
{
  const HeaderCase *header_case;
  TestBackend backend;
} HeaderCaseRun;

static void
test_header_case (gconstpointer data)
{
  const HeaderCaseRun *run = data;
  const HeaderCase *c = run->header_case;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *payload = g_malloc0 (MAX (c->data_len, 1));
  g_autofree char *path = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gsize before_len = 0, after_len = 0;
  gsize json_len = strlen (c->json);

  /* The NUL-padding case carries its NUL inside the literal. */
  if (g_str_equal (c->name, "nul-padding"))
    json_len = 3;

  {
    g_autoptr(GByteArray) buf = g_byte_array_new ();
    guint64 n = json_len + c->pad;
    guint8 prefix[8];

    for (guint i = 0; i < 8; i++)
      prefix[i] = (n >> (8 * i)) & 0xff;
    g_byte_array_append (buf, prefix, 8);
    g_byte_array_append (buf, (const guint8 *) c->json, json_len);
    for (guint i = 0; i < c->pad; i++)
      g_byte_array_append (buf, (const guint8 *) " ", 1);
    g_byte_array_append (buf, payload, c->data_len);
    path = test_write_raw (buf->data, buf->len);
  }

  g_file_get_contents (path, &before, &before_len, NULL);
  file = test_open (path, run->backend, &error);

  if (c->code == NO_ERROR)
    {
      g_assert_no_error (error);
      g_assert_nonnull (file);
    }
  else
    {
      g_assert_error (error, SAFETENSORS_ERROR, c->code);
      g_assert_null (file);
      /* Messages name the file. */
      g_assert_nonnull (strstr (error->message, "file-"));
    }

  /* Opening never changes a file. */
  g_file_get_contents (path, &after, &after_len, NULL);
  g_assert_cmpmem (before, before_len, after, after_len);
}

/* Errors decided by the first 8 bytes and the file size. */
static void
test_prefix_errors (gconstpointer data)
{
  TestBackend backend = GPOINTER_TO_UINT (data);
  static const guint8 too_large[] = { 0x3c, 0, 0, 0, 0, 0xff, 0xff, 0xff };
  static const guint8 n60[] = { 60, 0, 0, 0, 0, 0, 0, 0 };
  static const guint8 seven[] = { 1, 2, 3, 4, 5, 6, 7 };
  /* 100 000 001 bytes claimed in a file too small for it: HEADER_TOO_LARGE
   * wins because it is checked before the file size. */
  static const guint8 just_too_large[] = { 0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0 };
  struct { const guint8 *bytes; gsize len; int code; } cases[] = {
    { (const guint8 *) "", 0, SAFETENSORS_ERROR_HEADER_TOO_SMALL },
    { seven, sizeof seven, SAFETENSORS_ERROR_HEADER_TOO_SMALL },
    { too_large, sizeof too_large, SAFETENSORS_ERROR_HEADER_TOO_LARGE },
    { just_too_large, sizeof just_too_large, SAFETENSORS_ERROR_HEADER_TOO_LARGE },
    { n60, sizeof n60, SAFETENSORS_ERROR_INVALID_HEADER_LENGTH },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *path = test_write_raw (cases[i].bytes, cases[i].len);
      g_autoptr(SafetensorsFile) file = test_open (path, backend, &error);

      g_assert_error (error, SAFETENSORS_ERROR, cases[i].code);
      g_assert_null (file);
    }
}

static const char example_json[] =
  "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"a\\u00e9\\n\"},"
  "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
  "\"empty\":{\"dtype\":\"F16\",\"shape\":[0,4],\"data_offsets\":[24,24]},"
  "\"s\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[24,32]},"
  "\"b\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[32,35]}}";

static char *
write_example (void)
{
  guint8 data[35];
  float w[6] = { 0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f };
  gint64 s = -42;

  memcpy (data, w, sizeof w);
  memcpy (data + 24, &s, sizeof s);
  data[32] = 1; data[33] = 0; data[34] = 1;
  /* pad so that N is a multiple of 8 */
  return test_write_safetensors (example_json, (8 - strlen (example_json) % 8) % 8,
                                 data, sizeof data);
}

static void
test_read_example (gconstpointer data)
{
  TestBackend backend = GPOINTER_TO_UINT (data);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_example ();
  g_autoptr(SafetensorsFile) file = test_open (path, backend, &error);
  g_autoptr(SafetensorsTensor) w = NULL;
  g_autoptr(SafetensorsTensor) s = NULL;
  g_autoptr(SafetensorsTensor) missing = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_auto(GStrv) names = NULL;
  g_auto(GStrv) keys = NULL;
  g_autoptr(GHashTable) metadata = NULL;
  const guint64 *shape;
  guint n_dims = 99;
  guint64 begin, end;
  const float *values;

  g_assert_no_error (error);
  g_assert_cmpint (safetensors_file_is_mapped (file), ==, backend == TEST_BACKEND_MMAP);

  names = safetensors_file_get_tensor_names (file);
  g_assert_cmpuint (g_strv_length (names), ==, 4);
  g_assert_cmpstr (names[0], ==, "w");
  /* Offset order; ties (w ends where empty begins) by (begin, end). */
  g_assert_cmpstr (names[1], ==, "empty");
  g_assert_cmpstr (names[2], ==, "s");
  g_assert_cmpstr (names[3], ==, "b");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (file)), ==, 4);
  g_assert_cmpuint (g_list_model_get_item_type (G_LIST_MODEL (file)), ==, SAFETENSORS_TYPE_TENSOR);
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (file), 4));

  g_assert_cmpuint (safetensors_file_get_header_size (file) % 8, ==, 0);
  g_assert_cmpuint (safetensors_file_get_data_start (file), ==,
                    8 + safetensors_file_get_header_size (file));
  g_assert_cmpuint (safetensors_file_get_size (file), ==,
                    safetensors_file_get_data_start (file) + 35);

  w = safetensors_file_lookup (file, "w", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (safetensors_tensor_get_name (w), ==, "w");
  g_assert_cmpint (safetensors_tensor_get_dtype (w), ==, SAFETENSORS_DTYPE_F32);
  shape = safetensors_tensor_get_shape (w, &n_dims);
  g_assert_cmpuint (n_dims, ==, 2);
  g_assert_cmpuint (shape[0], ==, 2);
  g_assert_cmpuint (shape[1], ==, 3);
  g_assert_cmpuint (safetensors_tensor_get_n_elements (w), ==, 6);
  g_assert_cmpuint (safetensors_tensor_get_n_bytes (w), ==, 24);
  safetensors_tensor_get_data_offsets (w, &begin, &end);
  g_assert_cmpuint (begin, ==, 0);
  g_assert_cmpuint (end, ==, 24);
  g_assert_cmpuint (safetensors_tensor_get_file_offset (w), ==,
                    safetensors_file_get_data_start (file));

  bytes = safetensors_tensor_get_bytes (w, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 24);
  values = g_bytes_get_data (bytes, NULL);
  g_assert_cmpfloat (values[0], ==, 0.5f);
  g_assert_cmpfloat (values[5], ==, 5.5f);
  g_clear_pointer (&bytes, g_bytes_unref);

  s = safetensors_file_lookup (file, "s", &error);
  g_assert_no_error (error);
  g_assert_null (safetensors_tensor_get_shape (s, &n_dims));
  g_assert_cmpuint (n_dims, ==, 0);
  g_assert_cmpuint (safetensors_tensor_get_n_elements (s), ==, 1);
  bytes = safetensors_tensor_get_bytes (s, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (*(const gint64 *) g_bytes_get_data (bytes, NULL), ==, -42);

  missing = safetensors_file_lookup (file, "nope", &error);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_TENSOR_NOT_FOUND);
  g_assert_null (missing);
  g_assert_nonnull (strstr (error->message, "nope"));
  g_clear_error (&error);
  g_assert_false (safetensors_file_contains (file, "nope"));
  g_assert_true (safetensors_file_contains (file, "empty"));

  metadata = safetensors_file_get_metadata (file);
  g_assert_cmpuint (g_hash_table_size (metadata), ==, 2);
  g_assert_cmpstr (g_hash_table_lookup (metadata, "format"), ==, "pt");
  g_assert_cmpstr (safetensors_file_get_metadata_value (file, "note"), ==, "a\xc3\xa9\n");
  g_assert_null (safetensors_file_get_metadata_value (file, "other"));
  keys = safetensors_file_get_metadata_keys (file);
  g_assert_cmpuint (g_strv_length (keys), ==, 2);
  g_assert_cmpstr (keys[0], ==, "format");
  g_assert_cmpstr (keys[1], ==, "note");
}

/* A tensor keeps the storage alive: it is usable after the file is gone,
 * and nothing leaks once both are released. */
static void
test_tensor_outlives_file (gconstpointer data)
{
  TestBackend backend = GPOINTER_TO_UINT (data);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_example ();
  SafetensorsFile *file = test_open (path, backend, &error);
  SafetensorsTensor *b;
  GBytes *bytes;

  g_assert_no_error (error);
  b = safetensors_file_lookup (file, "b", &error);
  g_assert_no_error (error);
  g_assert_finalize_object (file);

  bytes = safetensors_tensor_get_bytes (b, NULL, &error);
  g_assert_no_error (error);
  g_assert_finalize_object (b);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "\1\0\1", 3);
  g_bytes_unref (bytes);
}

static void
on_open_ready (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static void
test_open_async (gconstpointer data)
{
  TestBackend backend = GPOINTER_TO_UINT (data);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_example ();
  g_autofree char *bad_path = test_write_raw ("1234", 4);
  g_autoptr(GFile) gfile = test_file_for_backend (path, backend);
  g_autoptr(GFile) bad_gfile = test_file_for_backend (bad_path, backend);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(SafetensorsFile) bad = NULL;
  SafetensorsOpenFlags flags = backend == TEST_BACKEND_PREAD ? SAFETENSORS_OPEN_FLAGS_NO_MMAP : 0;

  safetensors_file_open_async (gfile, flags, G_PRIORITY_DEFAULT, NULL, on_open_ready, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  file = safetensors_file_open_finish (result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (safetensors_file_get_n_tensors (file), ==, 4);
  g_clear_object (&result);

  safetensors_file_open_async (bad_gfile, flags, G_PRIORITY_DEFAULT, NULL, on_open_ready, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  bad = safetensors_file_open_finish (result, &error);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_HEADER_TOO_SMALL);
  g_assert_null (bad);
}

static void
on_bytes_ready (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static void
test_get_bytes_async (gconstpointer data)
{
  TestBackend backend = GPOINTER_TO_UINT (data);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_example ();
  g_autoptr(SafetensorsFile) file = test_open (path, backend, &error);
  g_autoptr(SafetensorsTensor) w = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GBytes) bytes = NULL;

  g_assert_no_error (error);
  w = safetensors_file_lookup (file, "w", &error);
  g_assert_no_error (error);
  safetensors_tensor_get_bytes_async (w, G_PRIORITY_DEFAULT, NULL, on_bytes_ready, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  bytes = safetensors_tensor_get_bytes_finish (w, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 24);
  g_assert_cmpfloat (((const float *) g_bytes_get_data (bytes, NULL))[1], ==, 1.5f);
}

static void
test_cancelled (gconstpointer data)
{
  TestBackend backend = GPOINTER_TO_UINT (data);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = write_example ();
  g_autoptr(GFile) gfile = test_file_for_backend (path, backend);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(SafetensorsTensor) w = NULL;
  g_autoptr(GBytes) bytes = NULL;

  file = safetensors_file_open (gfile, backend == TEST_BACKEND_PREAD ?
                                SAFETENSORS_OPEN_FLAGS_NO_MMAP : 0, NULL, &error);
  g_assert_no_error (error);
  w = safetensors_file_lookup (file, "w", &error);
  g_assert_no_error (error);

  g_cancellable_cancel (cancellable);
  bytes = safetensors_tensor_get_bytes (w, cancellable, &error);
  if (backend == TEST_BACKEND_MMAP)
    {
      /* Nothing is read: a mapped slice is handed out without I/O. */
      g_assert_no_error (error);
      g_assert_nonnull (bytes);
    }
  else
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_null (bytes);
    }
}

static void
test_open_missing (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (test_tmpdir (), "does-not-exist.safetensors", NULL);
  g_autoptr(SafetensorsFile) file = safetensors_file_new_for_path (path, 0, &error);

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "does-not-exist.safetensors"));
  g_assert_null (file);
  g_clear_error (&error);

  file = safetensors_file_new_for_path (test_tmpdir (), 0, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY);
  g_assert_null (file);
}

/* Offsets beyond 4 GiB: a sparse file whose first tensor is 5 GiB of
 * zeros, followed by a small one. */
static void
test_large_sparse (gconstpointer data)
{
  TestBackend backend = GPOINTER_TO_UINT (data);
  const guint64 big = G_GUINT64_CONSTANT (5) << 30;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = g_strdup_printf (
    "{\"big\":{\"dtype\":\"U8\",\"shape\":[%" G_GUINT64_FORMAT "],\"data_offsets\":[0,%" G_GUINT64_FORMAT "]},"
    "\"tail\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT "]}}",
    big, big, big, big + 16);
  g_autofree char *path = test_write_safetensors (json, (8 - strlen (json) % 8) % 8, NULL, 0);
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(SafetensorsTensor) tail = NULL;
  g_autoptr(SafetensorsTensor) big_tensor = NULL;
  g_autoptr(SafetensorsSlice) slice = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree guint64 *shape = NULL;
  guint n_dims = 0;
  double tail_values[2] = { 3.25, -7.5 };
  guint64 data_start = 8 + strlen (json) + (8 - strlen (json) % 8) % 8;
  int fd;

  fd = g_open (path, O_WRONLY, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, tail_values, sizeof tail_values, data_start + big), ==, sizeof tail_values);
  /* A marker past 4 GiB inside "big". */
  g_assert_cmpint (pwrite (fd, "\x7f", 1, data_start + (G_GUINT64_CONSTANT (4) << 30) + 3), ==, 1);
  close (fd);

  file = test_open (path, backend, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (safetensors_file_get_size (file), ==, data_start + big + 16);

  tail = safetensors_file_lookup (file, "tail", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (safetensors_tensor_get_file_offset (tail), ==, data_start + big);
  bytes = safetensors_tensor_get_bytes (tail, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), tail_values, 16);
  g_clear_pointer (&bytes, g_bytes_unref);

  big_tensor = safetensors_file_lookup (file, "big", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (safetensors_tensor_get_n_bytes (big_tensor), ==, big);
  slice = safetensors_slice_parse ("4294967296:4294967300", &error);
  g_assert_no_error (error);
  bytes = safetensors_tensor_read_slice (big_tensor, slice, &shape, &n_dims, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_dims, ==, 1);
  g_assert_cmpuint (shape[0], ==, 4);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "\0\0\0\x7f", 4);
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
  g_autoptr(GPtrArray) runs = g_ptr_array_new_with_free_func (g_free);

  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (header_cases); i++)
    for (guint b = 0; b < G_N_ELEMENTS (test_backend_names); b++)
      {
        HeaderCaseRun *run = g_new0 (HeaderCaseRun, 1);
        g_autofree char *name = NULL;

        run->header_case = &header_cases[i];
        run->backend = b;
        g_ptr_array_add (runs, run);
        name = g_strdup_printf ("/safetensors/file/header/%s/%s",
                                header_cases[i].name, test_backend_names[b]);
        g_test_add_data_func (name, run, test_header_case);
      }

  add_backend_test ("/safetensors/file/prefix-errors", test_prefix_errors);
  add_backend_test ("/safetensors/file/read", test_read_example);
  add_backend_test ("/safetensors/file/tensor-outlives-file", test_tensor_outlives_file);
  add_backend_test ("/safetensors/file/open-async", test_open_async);
  add_backend_test ("/safetensors/file/get-bytes-async", test_get_bytes_async);
  add_backend_test ("/safetensors/file/cancelled", test_cancelled);
  add_backend_test ("/safetensors/file/large-sparse", test_large_sparse);
  g_test_add_func ("/safetensors/file/open-missing", test_open_missing);

  return g_test_run ();
}
