/* test-writer.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The writer: canonical bytes (the reference writer's vectors), round
 * trips on every backend, streams and pipes, atomic replacement, sparse
 * output, files over 4 GiB with bounded memory.
 */

#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib/gstdio.h>

#include "safetensors-writer-private.h"
#include "test-util.h"

static char *
scratch_path (const char *name)
{
  return g_build_filename (test_tmpdir (), name, NULL);
}

static GBytes *
write_to_bytes (SafetensorsWriter *writer)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = scratch_path ("vector.safetensors");
  g_autoptr(GFile) file = g_file_new_for_path (path);
  char *contents = NULL;
  gsize len = 0;

  safetensors_writer_begin (writer, file, NULL, &error);
  g_assert_no_error (error);
  safetensors_writer_finish (writer, NULL, &error);
  g_assert_no_error (error);

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  g_unlink (path);
  return g_bytes_new_take (contents, len);
}

static GBytes *
tensor_bytes_of (SafetensorsFile *file,
                 const char      *name)
{
  g_autoptr(SafetensorsTensor) t = safetensors_file_lookup (file, name, NULL);

  return safetensors_tensor_get_bytes (t, NULL, NULL);
}

static void
assert_bytes (GBytes     *bytes,
              const char *expected,
              gsize       expected_len)
{
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), expected, expected_len);
}

static void
test_vector_empty (void)
{
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);
  g_autoptr(GBytes) bytes = write_to_bytes (writer);
  static const char expected[] = "\x08\0\0\0\0\0\0\0{}      ";

  assert_bytes (bytes, expected, sizeof expected - 1);
}

static void
test_vector_metadata_only (void)
{
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);
  g_autoptr(GBytes) bytes = NULL;
  static const char expected[] = "\x28\0\0\0\0\0\0\0{\"__metadata__\":{\"framework\":\"pt\"}}     ";

  safetensors_writer_set_metadata_value (writer, "framework", "pt");
  bytes = write_to_bytes (writer);
  assert_bytes (bytes, expected, sizeof expected - 1);
}

static void
test_vector_i32 (void)
{
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = NULL;
  g_autoptr(GBytes) bytes = NULL;
  const gint32 values[4] = { 0, 1, 2, 3 };
  const guint64 shape[2] = { 2, 2 };
  static const char json[] = "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}    ";
  char expected[88];

  data = g_bytes_new (values, sizeof values);
  safetensors_writer_add_tensor (writer, "test", SAFETENSORS_DTYPE_I32, shape, 2, data, &error);
  g_assert_no_error (error);
  bytes = write_to_bytes (writer);

  g_assert_cmpuint (sizeof json - 1, ==, 64);
  memcpy (expected, "\x40\0\0\0\0\0\0\0", 8);
  memcpy (expected + 8, json, 64);
  memcpy (expected + 72, values, 16);
  assert_bytes (bytes, expected, sizeof expected);
}

/* serde_json's escaping, the sort order and metadata key order. */
static void
test_canonical_order_and_escaping (void)
{
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) header = NULL;
  const guint64 one = 1;
  static const char expected_json[] =
    "{\"__metadata__\":{\"B\":\"2\",\"a\":\"tab\\there\",\"\xc3\xa9\":\"\\u0001/\x7f\"},"
    "\"a\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[0,8]},"
    "\"C\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
    "\"c\\\"q\\\\\\b\\f\\n\\r\\u001f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]},"
    "\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]},"
    "\"\xc3\xa9/\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[20,24]},"
    "\"s\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[24,26]},"
    "\"b\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[26,27]}}";
  gsize padded = (sizeof expected_json - 1 + 7) / 8 * 8;

  safetensors_writer_add_tensor (writer, "b", SAFETENSORS_DTYPE_BOOL, &one, 1, NULL, &error);
  safetensors_writer_add_tensor (writer, "\xc3\xa9/", SAFETENSORS_DTYPE_F32, &one, 1, NULL, &error);
  safetensors_writer_add_tensor (writer, "z", SAFETENSORS_DTYPE_F32, &one, 1, NULL, &error);
  safetensors_writer_add_tensor (writer, "c\"q\\\b\f\n\r\x1f", SAFETENSORS_DTYPE_F32, &one, 1, NULL, &error);
  safetensors_writer_add_tensor (writer, "C", SAFETENSORS_DTYPE_F32, &one, 1, NULL, &error);
  safetensors_writer_add_tensor (writer, "s", SAFETENSORS_DTYPE_BF16, NULL, 0, NULL, &error);
  safetensors_writer_add_tensor (writer, "a", SAFETENSORS_DTYPE_U64, &one, 1, NULL, &error);
  g_assert_no_error (error);
  safetensors_writer_set_metadata_value (writer, "\xc3\xa9", "\x01/\x7f");
  safetensors_writer_set_metadata_value (writer, "a", "tab\there");
  safetensors_writer_set_metadata_value (writer, "B", "2");
  safetensors_writer_set_metadata_value (writer, "gone", "x");
  safetensors_writer_set_metadata_value (writer, "gone", NULL);

  header = safetensors_writer_get_header (writer, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (header), ==, 8 + padded);
  g_assert_cmpmem ((const char *) g_bytes_get_data (header, NULL) + 8, sizeof expected_json - 1,
                   expected_json, sizeof expected_json - 1);
  g_assert_cmpuint (safetensors_writer_get_size (writer, NULL), ==, 8 + padded + 27);

  /* Declarations are frozen once the layout is. */
  g_assert_false (safetensors_writer_add_tensor (writer, "late", SAFETENSORS_DTYPE_U8, &one, 1, NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* And the strict reader agrees with every byte. */
  bytes = write_to_bytes (writer);
  {
    g_autofree char *path = test_write_raw (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    g_autoptr(SafetensorsFile) file = test_open (path, TEST_BACKEND_MMAP, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (safetensors_file_get_n_tensors (file), ==, 7);
    g_assert_cmpstr (safetensors_file_get_metadata_value (file, "a"), ==, "tab\there");
    g_assert_true (safetensors_file_contains (file, "c\"q\\\b\f\n\r\x1f"));
  }
}

static void
test_header_reserve (void)
{
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);
  g_autoptr(GBytes) header = NULL;
  const char *text;

  safetensors_writer_set_header_reserve (writer, 4000);
  header = safetensors_writer_get_header (writer, NULL);
  /* "{}" + 4000 spaces, rounded up to 4008. */
  g_assert_cmpuint (g_bytes_get_size (header), ==, 8 + 4008);
  text = g_bytes_get_data (header, NULL);
  g_assert_cmpmem (text + 8, 2, "{}", 2);
  for (gsize i = 10; i < g_bytes_get_size (header); i++)
    g_assert_cmpint (text[i], ==, ' ');
}

static void
test_declaration_errors (void)
{
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) three = g_bytes_new ("abc", 3);
  const guint64 two = 2, three_dims = 3;
  const guint64 huge[2] = { G_MAXUINT64 / 2, 3 };

  g_assert_false (safetensors_writer_add_tensor (writer, "__metadata__", SAFETENSORS_DTYPE_U8, &two, 1, NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_RESERVED_NAME);
  g_clear_error (&error);

  g_assert_false (safetensors_writer_add_tensor (writer, "x", SAFETENSORS_DTYPE_U8, &two, 1, three, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_false (safetensors_writer_add_tensor (writer, "x", SAFETENSORS_DTYPE_U8, huge, 2, NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_VALIDATION_OVERFLOW);
  g_clear_error (&error);

  g_assert_false (safetensors_writer_add_tensor (writer, "x", SAFETENSORS_DTYPE_F4, &three_dims, 1, NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_MISALIGNED_SLICE);
  g_clear_error (&error);

  g_assert_true (safetensors_writer_add_tensor (writer, "x", SAFETENSORS_DTYPE_U8, &three_dims, 1, three, &error));
  g_assert_false (safetensors_writer_add_tensor (writer, "x", SAFETENSORS_DTYPE_U8, &three_dims, 1, three, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_DUPLICATE_NAME);
  g_clear_error (&error);

  /* finish() before begin() is an error, not a crash. */
  g_assert_false (safetensors_writer_finish (writer, NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
}

/* Random tensor sets: written, then read back on every backend. */
static void
test_random_roundtrip (void)
{
  for (guint round = 0; round < 20; round++)
    {
      g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);
      g_autoptr(GHashTable) expected = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                              (GDestroyNotify) g_bytes_unref);
      g_autoptr(GError) error = NULL;
      g_autofree char *path = scratch_path ("random.safetensors");
      g_autoptr(GFile) gfile = g_file_new_for_path (path);
      guint n = g_test_rand_int_range (0, 12);

      for (guint i = 0; i < n; i++)
        {
          SafetensorsDType dtype = g_test_rand_int_range (0, SAFETENSORS_DTYPE_COUNT);
          guint bits = safetensors_dtype_get_bits (dtype);
          guint n_dims = g_test_rand_int_range (0, 4);
          guint64 shape[3];
          guint64 n_bytes = bits;
          g_autofree char *name = g_strdup_printf ("t%u.%u", i, g_test_rand_int_range (0, 100));
          guint8 *data;

          for (guint d = 0; d < n_dims; d++)
            {
              shape[d] = g_test_rand_int_range (0, 5) * (bits % 8 ? 4 : 1);
              n_bytes *= shape[d];
            }
          if (bits % 8 != 0 && n_dims == 0)
            continue;
          n_bytes /= 8;
          data = g_malloc (MAX (n_bytes, 1));
          for (guint64 k = 0; k < n_bytes; k++)
            data[k] = g_test_rand_int_range (0, 256);

          if (g_hash_table_contains (expected, name))
            {
              g_free (data);
              continue;
            }
          g_hash_table_insert (expected, g_strdup (name), g_bytes_new_take (data, n_bytes));
          if (g_test_rand_bit ())
            safetensors_writer_add_tensor (writer, name, dtype, shape, n_dims,
                                           g_hash_table_lookup (expected, name), &error);
          else
            {
              g_autoptr(GInputStream) stream =
                g_memory_input_stream_new_from_bytes (g_hash_table_lookup (expected, name));

              safetensors_writer_add_tensor_from_stream (writer, name, dtype, shape, n_dims,
                                                         stream, &error);
            }
          g_assert_no_error (error);
        }

      safetensors_writer_begin (writer, gfile, NULL, &error);
      g_assert_no_error (error);
      safetensors_writer_finish (writer, NULL, &error);
      g_assert_no_error (error);

      for (guint b = 0; b < G_N_ELEMENTS (test_backend_names); b++)
        {
          g_autoptr(SafetensorsFile) file = test_open (path, b, &error);
          GHashTableIter iter;
          gpointer key, value;

          g_assert_no_error (error);
          g_assert_cmpuint (safetensors_file_get_n_tensors (file), ==, g_hash_table_size (expected));
          g_hash_table_iter_init (&iter, expected);
          while (g_hash_table_iter_next (&iter, &key, &value))
            {
              g_autoptr(SafetensorsTensor) t = safetensors_file_lookup (file, key, &error);
              g_autoptr(GBytes) bytes = NULL;
              guint64 begin;
              guint bits;

              g_assert_no_error (error);
              bytes = safetensors_tensor_get_bytes (t, NULL, &error);
              g_assert_no_error (error);
              g_assert_true (g_bytes_equal (bytes, value));

              /* DESIGN §4: aligned to min(8, element size). */
              safetensors_tensor_get_data_offsets (t, &begin, NULL);
              bits = safetensors_dtype_get_bits (safetensors_tensor_get_dtype (t));
              g_assert_cmpuint (begin % MAX (1, MIN (8, bits / 8)), ==, 0);
            }
        }
    }
}

/* Chunks to a file can come in any order; tensors without data are zero. */
static void
test_chunks_any_order (void)
{
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = scratch_path ("chunks.safetensors");
  g_autoptr(GFile) gfile = g_file_new_for_path (path);
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(SafetensorsTensor) a = NULL;
  g_autoptr(SafetensorsTensor) z = NULL;
  g_autoptr(GBytes) bytes = NULL;
  const guint64 eight = 8, four = 4;

  safetensors_writer_add_tensor (writer, "a", SAFETENSORS_DTYPE_U8, &eight, 1, NULL, &error);
  safetensors_writer_add_tensor (writer, "b", SAFETENSORS_DTYPE_U8, &four, 1, NULL, &error);
  safetensors_writer_add_tensor (writer, "z", SAFETENSORS_DTYPE_U8, &four, 1, NULL, &error);
  g_assert_no_error (error);
  safetensors_writer_begin (writer, gfile, NULL, &error);
  g_assert_no_error (error);

  safetensors_writer_write_chunk (writer, "b", (const guint8 *) "wxyz", 4, NULL, &error);
  safetensors_writer_write_chunk (writer, "a", (const guint8 *) "0123", 4, NULL, &error);
  safetensors_writer_write_chunk (writer, "a", (const guint8 *) "4567", 4, NULL, &error);
  g_assert_no_error (error);

  g_assert_false (safetensors_writer_write_chunk (writer, "a", (const guint8 *) "8", 1, NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (safetensors_writer_write_chunk (writer, "nope", (const guint8 *) "8", 1, NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_TENSOR_NOT_FOUND);
  g_clear_error (&error);

  safetensors_writer_finish (writer, NULL, &error);
  g_assert_no_error (error);

  file = test_open (path, TEST_BACKEND_MMAP, &error);
  g_assert_no_error (error);
  a = safetensors_file_lookup (file, "a", NULL);
  bytes = safetensors_tensor_get_bytes (a, NULL, NULL);
  assert_bytes (bytes, "01234567", 8);
  g_clear_pointer (&bytes, g_bytes_unref);
  z = safetensors_file_lookup (file, "z", NULL);
  bytes = safetensors_tensor_get_bytes (z, NULL, NULL);
  assert_bytes (bytes, "\0\0\0\0", 4);
}

static void
test_incomplete_tensor (void)
{
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = scratch_path ("incomplete.safetensors");
  g_autoptr(GFile) gfile = g_file_new_for_path (path);
  const guint64 eight = 8;

  safetensors_writer_add_tensor (writer, "a", SAFETENSORS_DTYPE_U8, &eight, 1, NULL, &error);
  safetensors_writer_begin (writer, gfile, NULL, &error);
  safetensors_writer_write_chunk (writer, "a", (const guint8 *) "0123", 4, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (safetensors_writer_finish (writer, NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

typedef struct
{
  int fd;
  GByteArray *received;
} PipeReader;

static gpointer
read_pipe (gpointer data)
{
  PipeReader *reader = data;
  guint8 buf[4096];
  gssize n;

  while ((n = read (reader->fd, buf, sizeof buf)) > 0)
    g_byte_array_append (reader->received, buf, n);
  close (reader->fd);
  return NULL;
}

/* A pipe is not seekable: data in layout order, the same bytes as a file. */
static void
test_pipe_output (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) received = g_byte_array_new ();
  g_autoptr(GBytes) via_file = NULL;
  g_autoptr(GBytes) f32 = g_bytes_new ("abcdefgh", 8);
  g_autoptr(GOutputStream) out = NULL;
  PipeReader reader;
  GThread *thread;
  const guint64 two = 2, four = 4, eight = 8;
  int fds[2];

  for (guint pass = 0; pass < 2; pass++)
    {
      g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);

      safetensors_writer_set_metadata_value (writer, "k", "v");
      /* Layout: f (F32), then u (U8, chunks), then z (U8, nothing). */
      safetensors_writer_add_tensor (writer, "f", SAFETENSORS_DTYPE_F32, &two, 1, f32, &error);
      safetensors_writer_add_tensor (writer, "u", SAFETENSORS_DTYPE_U8, &four, 1, NULL, &error);
      safetensors_writer_add_tensor (writer, "z", SAFETENSORS_DTYPE_U8, &eight, 1, NULL, &error);
      g_assert_no_error (error);

      if (pass == 0)
        {
          g_assert_cmpint (pipe (fds), ==, 0);
          reader.fd = fds[0];
          reader.received = received;
          thread = g_thread_new ("pipe-reader", read_pipe, &reader);
          out = g_unix_output_stream_new (fds[1], TRUE);
          safetensors_writer_begin_stream (writer, out, NULL, &error);
          g_assert_no_error (error);
          /* "u" comes after "f", whose source is written first. */
          safetensors_writer_write_chunk (writer, "u", (const guint8 *) "12", 2, NULL, &error);
          safetensors_writer_write_chunk (writer, "u", (const guint8 *) "34", 2, NULL, &error);
          g_assert_no_error (error);
          /* Going back is impossible on a stream. */
          safetensors_writer_finish (writer, NULL, &error);
          g_assert_no_error (error);
          g_output_stream_close (out, NULL, &error);
          g_assert_no_error (error);
          g_thread_join (thread);
        }
      else
        {
          safetensors_writer_write_chunk (writer, "u", (const guint8 *) "1234", 4, NULL, &error);
          g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
          g_clear_error (&error);
          via_file = NULL;
          {
            g_autofree char *path = scratch_path ("pipe-twin.safetensors");
            g_autoptr(GFile) gfile = g_file_new_for_path (path);
            char *contents;
            gsize len;

            safetensors_writer_begin (writer, gfile, NULL, &error);
            safetensors_writer_write_chunk (writer, "u", (const guint8 *) "1234", 4, NULL, &error);
            safetensors_writer_finish (writer, NULL, &error);
            g_assert_no_error (error);
            g_file_get_contents (path, &contents, &len, NULL);
            via_file = g_bytes_new_take (contents, len);
          }
        }
    }

  g_assert_cmpmem (received->data, received->len,
                   g_bytes_get_data (via_file, NULL), g_bytes_get_size (via_file));
}

typedef struct
{
  int fd;
  guint64 n;
} PipeFeeder;

static gpointer
feed_pipe (gpointer data)
{
  PipeFeeder *feeder = data;
  guint8 buf[1000];

  for (guint64 done = 0; done < feeder->n;)
    {
      gsize n = MIN (sizeof buf, feeder->n - done);

      for (gsize i = 0; i < n; i++)
        buf[i] = (guint8) ((done + i) * 31);
      g_assert_cmpint (write (feeder->fd, buf, n), ==, (gssize) n);
      done += n;
    }
  close (feeder->fd);
  return NULL;
}

/* The writer fed from a pipe: data arrives in small, uneven reads. */
static void
test_pipe_input (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);
  g_autofree char *path = scratch_path ("from-pipe.safetensors");
  g_autoptr(GFile) gfile = g_file_new_for_path (path);
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(GBytes) bytes = NULL;
  PipeFeeder feeder;
  GThread *thread;
  const guint64 n = 3 * 1024 * 1024 + 17;
  const guint8 *data;
  int fds[2];

  g_assert_cmpint (pipe (fds), ==, 0);
  feeder.fd = fds[1];
  feeder.n = n;
  in = g_unix_input_stream_new (fds[0], TRUE);
  thread = g_thread_new ("feeder", feed_pipe, &feeder);

  safetensors_writer_add_tensor_from_stream (writer, "piped", SAFETENSORS_DTYPE_U8, &n, 1, in, &error);
  safetensors_writer_begin (writer, gfile, NULL, &error);
  safetensors_writer_finish (writer, NULL, &error);
  g_assert_no_error (error);
  g_thread_join (thread);

  file = test_open (path, TEST_BACKEND_MMAP, &error);
  g_assert_no_error (error);
  bytes = tensor_bytes_of (file, "piped");
  data = g_bytes_get_data (bytes, NULL);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, n);
  for (guint64 i = 0; i < n; i += 4099)
    g_assert_cmpuint (data[i], ==, (guint8) (i * 31));
}

static void
test_stream_order_violation (void)
{
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  const guint64 four = 4;

  safetensors_writer_add_tensor (writer, "a", SAFETENSORS_DTYPE_U8, &four, 1, NULL, &error);
  safetensors_writer_add_tensor (writer, "b", SAFETENSORS_DTYPE_U8, &four, 1, NULL, &error);
  safetensors_writer_begin_stream (writer, out, NULL, &error);
  g_assert_no_error (error);
  safetensors_writer_write_chunk (writer, "b", (const guint8 *) "bbbb", 4, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (safetensors_writer_write_chunk (writer, "a", (const guint8 *) "aaaa", 4, NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
}

/* Counts the entries of the scratch directory. */
static guint
count_dir_entries (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  while (g_dir_read_name (d) != NULL)
    n++;
  return n;
}

/* A stream that cancels a cancellable after a number of reads. */
static gssize
cancelling_read (GInputStream  *stream,
                 void          *buffer,
                 gsize          count,
                 GCancellable  *cancellable,
                 GError       **error);

typedef struct { GInputStream parent; guint reads; GCancellable *victim; } CancellingStream;
typedef struct { GInputStreamClass parent_class; } CancellingStreamClass;
static GType cancelling_stream_get_type (void);
G_DEFINE_TYPE (CancellingStream, cancelling_stream, G_TYPE_INPUT_STREAM)

static void
cancelling_stream_class_init (CancellingStreamClass *klass)
{
  G_INPUT_STREAM_CLASS (klass)->read_fn = cancelling_read;
}

static void
cancelling_stream_init (CancellingStream *self)
{
}

static gssize
cancelling_read (GInputStream  *stream,
                 void          *buffer,
                 gsize          count,
                 GCancellable  *cancellable,
                 GError       **error)
{
  CancellingStream *self = (CancellingStream *) stream;

  if (++self->reads == 3)
    g_cancellable_cancel (self->victim);
  memset (buffer, 0x5a, count);
  return count;
}

/* A failed or cancelled write leaves the old file as it was, with its
 * permissions, and no temporary file behind. */
static void
test_cancel_keeps_old_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("safetensors-cancel-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "model.safetensors", NULL);
  g_autoptr(GFile) gfile = g_file_new_for_path (path);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);
  CancellingStream *stream;
  char *contents = NULL;
  gsize len = 0;
  const guint64 big = 16 * 1024 * 1024;
  struct stat st;

  g_file_set_contents (path, "old content", -1, &error);
  g_assert_no_error (error);
  g_chmod (path, 0640);

  stream = g_object_new (cancelling_stream_get_type (), NULL);
  stream->victim = cancellable;
  safetensors_writer_add_tensor_from_stream (writer, "t", SAFETENSORS_DTYPE_U8, &big, 1,
                                             G_INPUT_STREAM (stream), &error);
  g_object_unref (stream);
  g_assert_no_error (error);

  safetensors_writer_begin (writer, gfile, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (count_dir_entries (dir), ==, 2);
  g_assert_false (safetensors_writer_finish (writer, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  g_file_get_contents (path, &contents, &len, NULL);
  g_assert_cmpstr (contents, ==, "old content");
  g_free (contents);
  g_assert_cmpuint (count_dir_entries (dir), ==, 1);

  /* A successful replacement keeps the permissions. */
  g_clear_object (&writer);
  g_clear_error (&error);
  writer = safetensors_writer_new (0);
  safetensors_writer_begin (writer, gfile, NULL, &error);
  safetensors_writer_finish (writer, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0640);
  g_assert_cmpuint (count_dir_entries (dir), ==, 1);

  /* Dropping an unfinished writer aborts it. */
  g_clear_object (&writer);
  writer = safetensors_writer_new (0);
  safetensors_writer_begin (writer, gfile, NULL, &error);
  g_assert_cmpuint (count_dir_entries (dir), ==, 2);
  g_clear_object (&writer);
  g_assert_cmpuint (count_dir_entries (dir), ==, 1);

  g_unlink (path);
  g_rmdir (dir);
}

static guint64
disk_bytes (const char *path)
{
  struct stat st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return (guint64) st.st_blocks * 512;
}

static void
test_sparse (void)
{
  g_autoptr(GError) error = NULL;
  const guint64 n = 4 * 1024 * 1024;
  g_autofree guint8 *data = g_malloc0 (n);
  g_autoptr(GBytes) bytes = NULL;

  /* Half zeros, in large runs. */
  for (guint64 i = 0; i < n / 2; i++)
    data[i] = (guint8) (i * 7 + 1);
  bytes = g_bytes_new_static (data, n);

  for (guint flags = 0; flags < 2; flags++)
    {
      g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (flags);
      g_autofree char *path = scratch_path (flags ? "dense.safetensors" : "sparse.safetensors");
      g_autoptr(GFile) gfile = g_file_new_for_path (path);
      g_autoptr(SafetensorsFile) file = NULL;
      g_autoptr(SafetensorsTensor) t = NULL;
      g_autoptr(GBytes) back = NULL;
      guint64 apparent;

      safetensors_writer_add_tensor (writer, "t", SAFETENSORS_DTYPE_U8, &n, 1, bytes, &error);
      safetensors_writer_begin (writer, gfile, NULL, &error);
      safetensors_writer_finish (writer, NULL, &error);
      g_assert_no_error (error);

      file = test_open (path, TEST_BACKEND_PREAD, &error);
      g_assert_no_error (error);
      t = safetensors_file_lookup (file, "t", NULL);
      back = safetensors_tensor_get_bytes (t, NULL, &error);
      g_assert_true (g_bytes_equal (back, bytes));

      apparent = safetensors_file_get_size (file);
      g_test_message ("%s: %" G_GUINT64_FORMAT " bytes on disk for %" G_GUINT64_FORMAT,
                      path, disk_bytes (path), apparent);
      if (flags == SAFETENSORS_WRITER_FLAGS_NO_SPARSE)
        g_assert_cmpuint (disk_bytes (path), >=, apparent);
      else if (disk_bytes (path) >= apparent)
        g_test_incomplete ("the file system of the scratch directory makes no holes");
      else
        g_assert_cmpuint (disk_bytes (path), <=, apparent * 52 / 100);
    }
}

/* Copies from a file descriptor (PyTorch import of stored storages):
 * in the kernel for a file output, through a buffer for a stream; a hole
 * of the source stays a hole. */
static void
test_copy_from_fd (void)
{
  const guint64 n = 6 * 1024 * 1024;
  const guint64 skip = 4096;      /* the tensor starts this far into the source */
  g_autofree guint8 *expected = g_malloc0 (n);
  g_autofree char *source_path = scratch_path ("copy-source.bin");
  int fd;

  /* 2 MiB of data, a 2 MiB hole, 2 MiB of data. */
  for (guint64 i = 0; i < n; i++)
    if (i < 2 * 1024 * 1024 || i >= 4 * 1024 * 1024)
      expected[i] = (guint8) (i * 13 + 5);
  fd = g_open (source_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, skip + n), ==, 0);
  g_assert_cmpint (pwrite (fd, expected, 2 * 1024 * 1024, skip), ==, 2 * 1024 * 1024);
  g_assert_cmpint (pwrite (fd, expected + 4 * 1024 * 1024, 2 * 1024 * 1024,
                           skip + 4 * 1024 * 1024), ==, 2 * 1024 * 1024);

  for (guint to_stream = 0; to_stream < 2; to_stream++)
    {
      g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (SAFETENSORS_WRITER_FLAGS_NONE);
      g_autofree char *path = scratch_path ("copied.safetensors");
      g_autoptr(GFile) gfile = g_file_new_for_path (path);
      g_autoptr(GOutputStream) memory = g_memory_output_stream_new_resizable ();
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) written = NULL;
      g_autoptr(SafetensorsFile) file = NULL;
      g_autoptr(SafetensorsTensor) t = NULL;
      g_autoptr(GBytes) back = NULL;

      safetensors_writer_add_tensor (writer, "t", SAFETENSORS_DTYPE_U8, &n, 1, NULL, &error);
      g_assert_no_error (error);
      if (to_stream)
        safetensors_writer_begin_stream (writer, memory, NULL, &error);
      else
        safetensors_writer_begin (writer, gfile, NULL, &error);
      g_assert_no_error (error);

      /* In three pieces, the middle one all hole. */
      for (guint64 done = 0; done < n; done += 2 * 1024 * 1024)
        {
          safetensors_writer_copy_chunk_from_fd (writer, "t", fd, source_path, skip + done,
                                                 2 * 1024 * 1024, NULL, &error);
          g_assert_no_error (error);
        }
      /* More than the tensor takes is refused. */
      g_assert_false (safetensors_writer_copy_chunk_from_fd (writer, "t", fd, source_path, 0, 1,
                                                             NULL, &error));
      g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);

      safetensors_writer_finish (writer, NULL, &error);
      g_assert_no_error (error);

      if (to_stream)
        {
          g_output_stream_close (memory, NULL, &error);
          g_assert_no_error (error);
          written = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (memory));
          g_file_set_contents (path, g_bytes_get_data (written, NULL),
                               g_bytes_get_size (written), &error);
          g_assert_no_error (error);
        }
      else if (disk_bytes (path) >= n)
        g_test_incomplete ("the file system of the scratch directory makes no holes");
      else
        g_assert_cmpuint (disk_bytes (path), <=, n * 70 / 100);

      file = test_open (path, TEST_BACKEND_PREAD, &error);
      g_assert_no_error (error);
      t = safetensors_file_lookup (file, "t", NULL);
      back = safetensors_tensor_get_bytes (t, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (g_bytes_get_data (back, NULL), g_bytes_get_size (back), expected, n);
    }

  close (fd);
}

/* Generates @size bytes: zeros except a marker at each GiB boundary. */
typedef struct { GInputStream parent; guint64 size; guint64 pos; } MarkerStream;
typedef struct { GInputStreamClass parent_class; } MarkerStreamClass;
static GType marker_stream_get_type (void);
G_DEFINE_TYPE (MarkerStream, marker_stream, G_TYPE_INPUT_STREAM)

static gssize
marker_read (GInputStream  *stream,
             void          *buffer,
             gsize          count,
             GCancellable  *cancellable,
             GError       **error)
{
  MarkerStream *self = (MarkerStream *) stream;
  gsize n = MIN (count, self->size - self->pos);
  guint8 *out = buffer;

  memset (out, 0, n);
  for (guint64 m = (self->pos >> 30 << 30) + 7; m < self->pos + n; m += G_GUINT64_CONSTANT (1) << 30)
    if (m >= self->pos)
      out[m - self->pos] = (guint8) (m >> 30) + 1;
  self->pos += n;
  return n;
}

static void
marker_stream_class_init (MarkerStreamClass *klass)
{
  G_INPUT_STREAM_CLASS (klass)->read_fn = marker_read;
}

static void
marker_stream_init (MarkerStream *self)
{
}

static glong
max_rss_kb (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

/* Over 4 GiB from a stream with bounded memory; sparse on disk. */
static void
test_large_stream (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);
  g_autofree char *path = scratch_path ("large.safetensors");
  g_autoptr(GFile) gfile = g_file_new_for_path (path);
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(SafetensorsTensor) t = NULL;
  g_autoptr(SafetensorsSlice) slice = NULL;
  g_autoptr(GBytes) bytes = NULL;
  const guint64 size = (G_GUINT64_CONSTANT (4) << 30) + 4096 * 3;
  MarkerStream *stream = g_object_new (marker_stream_get_type (), NULL);
  glong rss_before = max_rss_kb ();

  stream->size = size;
  safetensors_writer_add_tensor_from_stream (writer, "big", SAFETENSORS_DTYPE_U8, &size, 1,
                                             G_INPUT_STREAM (stream), &error);
  g_object_unref (stream);
  safetensors_writer_begin (writer, gfile, NULL, &error);
  g_assert_no_error (error);
  safetensors_writer_finish (writer, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("max RSS grew by %ld kB", max_rss_kb () - rss_before);
  g_assert_cmpint (max_rss_kb () - rss_before, <, 64 * 1024);

  file = test_open (path, TEST_BACKEND_MMAP, &error);
  g_assert_no_error (error);
  t = safetensors_file_lookup (file, "big", NULL);
  g_assert_cmpuint (safetensors_tensor_get_n_bytes (t), ==, size);
  slice = safetensors_slice_parse ("4294967296:4294967304", NULL);
  bytes = safetensors_tensor_read_slice (t, slice, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  assert_bytes (bytes, "\0\0\0\0\0\0\0\5", 8);
  if (disk_bytes (path) < (1 << 30))
    g_test_message ("%" G_GUINT64_FORMAT " bytes on disk", disk_bytes (path));
  g_unlink (path);
}

static void
on_progress (GObject    *object,
             GParamSpec *pspec,
             gpointer    data)
{
  SafetensorsWriter *writer = SAFETENSORS_WRITER (object);
  guint64 *last = data;
  guint64 done = safetensors_writer_get_bytes_written (writer);

  /* Notified in this (the main) thread, never backwards. */
  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  g_assert_cmpuint (done, >=, last[0]);
  g_assert_cmpuint (done, <=, safetensors_writer_get_total_bytes (writer));
  last[0] = done;
  last[1]++;
}

static void
on_finished (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  GAsyncResult **out = data;

  *out = g_object_ref (result);
}

static void
test_finish_async (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);
  g_autofree char *path = scratch_path ("async.safetensors");
  g_autoptr(GFile) gfile = g_file_new_for_path (path);
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree guint8 *data = g_malloc0 (40 << 20);
  g_autoptr(GBytes) bytes = g_bytes_new_take (g_steal_pointer (&data), 40 << 20);
  guint64 progress[2] = { 0, 0 };
  const guint64 n = 10 << 20;

  safetensors_writer_add_tensor (writer, "t", SAFETENSORS_DTYPE_F32, &n, 1, bytes, &error);
  safetensors_writer_begin (writer, gfile, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (writer, "notify::bytes-written", G_CALLBACK (on_progress), progress);
  safetensors_writer_finish_async (writer, G_PRIORITY_DEFAULT, NULL, on_finished, &result);

  /* Busy while the worker runs. */
  g_assert_false (safetensors_writer_write_chunk (writer, "t", (const guint8 *) "x", 1, NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  /* Deliver the progress reports queued before the completion. */
  while (g_main_context_iteration (NULL, FALSE));
  g_assert_true (safetensors_writer_finish_finish (writer, result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (progress[0], ==, 40 << 20);
  g_assert_cmpuint (progress[1], >=, 1);
  g_assert_cmpuint (safetensors_writer_get_total_bytes (writer), ==, 40 << 20);
  g_unlink (path);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/safetensors/writer/vector/empty", test_vector_empty);
  g_test_add_func ("/safetensors/writer/vector/metadata-only", test_vector_metadata_only);
  g_test_add_func ("/safetensors/writer/vector/i32", test_vector_i32);
  g_test_add_func ("/safetensors/writer/canonical", test_canonical_order_and_escaping);
  g_test_add_func ("/safetensors/writer/header-reserve", test_header_reserve);
  g_test_add_func ("/safetensors/writer/declaration-errors", test_declaration_errors);
  g_test_add_func ("/safetensors/writer/random-roundtrip", test_random_roundtrip);
  g_test_add_func ("/safetensors/writer/chunks-any-order", test_chunks_any_order);
  g_test_add_func ("/safetensors/writer/incomplete-tensor", test_incomplete_tensor);
  g_test_add_func ("/safetensors/writer/pipe", test_pipe_output);
  g_test_add_func ("/safetensors/writer/stream-order", test_stream_order_violation);
  g_test_add_func ("/safetensors/writer/pipe-input", test_pipe_input);
  g_test_add_func ("/safetensors/writer/cancel-keeps-old-file", test_cancel_keeps_old_file);
  g_test_add_func ("/safetensors/writer/sparse", test_sparse);
  g_test_add_func ("/safetensors/writer/copy-from-fd", test_copy_from_fd);
  g_test_add_func ("/safetensors/writer/large-stream", test_large_stream);
  g_test_add_func ("/safetensors/writer/finish-async", test_finish_async);

  return g_test_run ();
}
