/* fuzz-common.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "fuzz-common.h"
#include "test-util.h"

void
fuzz_init (void)
{
  /* Only the local VFS: GIO modules from the system are not built with
   * the sanitizers and are not what is being fuzzed. */
  g_setenv ("GIO_USE_VFS", "local", TRUE);
  g_setenv ("GIO_MODULE_DIR", "/nonexistent", TRUE);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

void
fuzz_use_memory_tmpdir (void)
{
  if (g_getenv ("TMPDIR") == NULL && access ("/dev/shm", W_OK) == 0)
    g_setenv ("TMPDIR", "/dev/shm", TRUE);
}

void
fuzz_scratch_init (FuzzScratch *scratch)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp_path = NULL;
  g_autofree char *proc_path = NULL;

  scratch->fd = g_file_open_tmp ("safetensors-fuzz-XXXXXX", &tmp_path, &error);
  g_assert_no_error (error);

  proc_path = g_strdup_printf ("/proc/self/fd/%d", scratch->fd);
  if (g_file_test (proc_path, G_FILE_TEST_EXISTS))
    {
      g_unlink (tmp_path);
      scratch->path = g_steal_pointer (&proc_path);
    }
  else
    {
      /* No /proc: the file stays behind if the fuzzer is killed. */
      scratch->path = g_steal_pointer (&tmp_path);
    }
}

void
fuzz_scratch_write (FuzzScratch  *scratch,
                    const guint8 *data,
                    gsize         len)
{
  gsize done = 0;

  g_assert_cmpint (ftruncate (scratch->fd, 0), ==, 0);
  while (done < len)
    {
      gssize n = pwrite (scratch->fd, data + done, len - done, done);

      g_assert_cmpint (n, >, 0);
      done += n;
    }
}

SafetensorsFile *
fuzz_open (const char   *path,
           FuzzBackend   backend,
           GError      **error)
{
  static const TestBackend backends[] = {
    [FUZZ_BACKEND_MMAP] = TEST_BACKEND_MMAP,
    [FUZZ_BACKEND_PREAD] = TEST_BACKEND_PREAD,
    [FUZZ_BACKEND_STREAM] = TEST_BACKEND_STREAM,
  };
  SafetensorsFile *file = test_open (path, backends[backend], error);

  /* NULL exactly when the error is set. */
  g_assert_true ((file == NULL) == (error != NULL && *error != NULL));
  if (file != NULL)
    g_assert_true (safetensors_file_is_mapped (file) == (backend == FUZZ_BACKEND_MMAP &&
                                                          safetensors_file_get_size (file) > 0));
  return file;
}

/* ---- a model of slicing ------------------------------------------------- */

static gint64
parse_int (const char *text)
{
  gint64 value = 0;
  g_autoptr(GError) error = NULL;

  g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &value, &error);
  g_assert_no_error (error);
  return value;
}

GArray *
fuzz_model_items_from_string (const char *canonical)
{
  GArray *items = g_array_new (FALSE, TRUE, sizeof (ModelItem));
  g_auto(GStrv) tokens = NULL;

  if (*canonical == '\0')
    return items;

  tokens = g_strsplit (canonical, ", ", -1);
  for (guint i = 0; tokens[i] != NULL; i++)
    {
      ModelItem item = { MODEL_RANGE, SAFETENSORS_SLICE_NONE, SAFETENSORS_SLICE_NONE, 1 };
      g_auto(GStrv) parts = NULL;
      guint n_parts;

      if (strcmp (tokens[i], "...") == 0)
        {
          item.kind = MODEL_ELLIPSIS;
          g_array_append_val (items, item);
          continue;
        }

      parts = g_strsplit (tokens[i], ":", -1);
      n_parts = g_strv_length (parts);
      g_assert_cmpuint (n_parts, >=, 1);
      g_assert_cmpuint (n_parts, <=, 3);

      if (n_parts == 1)
        {
          item.kind = MODEL_INDEX;
          item.start = parse_int (parts[0]);
        }
      else
        {
          if (*parts[0] != '\0')
            item.start = parse_int (parts[0]);
          if (*parts[1] != '\0')
            item.stop = parse_int (parts[1]);
          if (n_parts == 3)
            {
              /* The canonical form leaves out a step of 1. */
              item.step = parse_int (parts[2]);
              g_assert_cmpint (item.step, !=, 1);
            }
        }
      g_array_append_val (items, item);
    }

  return items;
}

typedef __int128 wide;

typedef struct
{
  guint64  size;
  gboolean keep;
  guint64  count;
  wide     start;
  wide     step;
} ModelDim;

/* CPython's PySlice_AdjustIndices(), in its own formulation. */
static void
model_range (const ModelItem *item,
             guint64          size,
             ModelDim        *dim)
{
  wide n = size;
  wide step = item->step;
  wide start, stop, count;

  if (item->start == SAFETENSORS_SLICE_NONE)
    start = step < 0 ? n - 1 : 0;
  else
    {
      start = item->start;
      if (start < 0)
        {
          start += n;
          if (start < 0)
            start = step < 0 ? -1 : 0;
        }
      else if (start >= n)
        start = step < 0 ? n - 1 : n;
    }

  if (item->stop == SAFETENSORS_SLICE_NONE)
    stop = step < 0 ? -1 : n;
  else
    {
      stop = item->stop;
      if (stop < 0)
        {
          stop += n;
          if (stop < 0)
            stop = step < 0 ? -1 : 0;
        }
      else if (stop >= n)
        stop = step < 0 ? n - 1 : n;
    }

  if (step < 0)
    count = stop < start ? (start - stop - 1) / (-step) + 1 : 0;
  else
    count = start < stop ? (stop - start - 1) / step + 1 : 0;

  g_assert_true (count >= 0 && count <= n);
  *dim = (ModelDim) { size, TRUE, (guint64) count, start, step };
}

int
fuzz_model_slice (const guint8  *data,
                  guint          bits,
                  const guint64 *shape,
                  guint          n_dims,
                  GArray        *items,
                  GByteArray    *out_bytes,
                  GArray        *out_shape)
{
  static const ModelItem all = { MODEL_RANGE, SAFETENSORS_SLICE_NONE, SAFETENSORS_SLICE_NONE, 1 };
  g_autofree ModelDim *dims = g_new0 (ModelDim, MAX (n_dims, 1));
  g_autofree guint64 *strides = g_new0 (guint64, MAX (n_dims, 1));
  g_autofree guint64 *counter = g_new0 (guint64, MAX (n_dims, 1));
  g_autoptr(GArray) selected = NULL;
  guint n_ellipses = 0, n_explicit = 0;
  guint64 n_selected = 1;
  guint d = 0;

  for (guint i = 0; i < items->len; i++)
    {
      if (g_array_index (items, ModelItem, i).kind == MODEL_ELLIPSIS)
        n_ellipses++;
      else
        n_explicit++;
    }
  if (n_ellipses > 1 || n_explicit > n_dims)
    return SAFETENSORS_ERROR_INVALID_SLICE;

  for (guint i = 0; i < items->len; i++)
    {
      const ModelItem *item = &g_array_index (items, ModelItem, i);

      switch (item->kind)
        {
        case MODEL_ELLIPSIS:
          for (guint k = 0; k < n_dims - n_explicit; k++, d++)
            model_range (&all, shape[d], &dims[d]);
          break;

        case MODEL_INDEX:
          {
            wide index = item->start;

            if (index < 0)
              index += shape[d];
            if (index < 0 || index >= (wide) shape[d])
              return SAFETENSORS_ERROR_INVALID_SLICE;
            dims[d] = (ModelDim) { shape[d], FALSE, 1, index, 1 };
            d++;
          }
          break;

        case MODEL_RANGE:
          if (item->step == 0)
            return SAFETENSORS_ERROR_INVALID_SLICE;
          model_range (item, shape[d], &dims[d]);
          d++;
          break;

        default:
          g_assert_not_reached ();
        }
    }
  for (; d < n_dims; d++)
    model_range (&all, shape[d], &dims[d]);

  for (d = 0; d < n_dims; d++)
    {
      if (dims[d].keep)
        g_array_append_val (out_shape, dims[d].count);
      n_selected *= dims[d].count;
    }
  if (n_selected == 0)
    return -1;

  /* Every dimension selects something, so none is 0 and the tensor is
   * not empty: its element count is small enough to enumerate. */
  for (d = n_dims; d-- > 0;)
    strides[d] = d + 1 == n_dims ? 1 : strides[d + 1] * shape[d + 1];

  selected = g_array_sized_new (FALSE, FALSE, sizeof (guint64), n_selected);
  for (guint64 i = 0; i < n_selected; i++)
    {
      wide element = 0;
      guint64 index;

      for (d = 0; d < n_dims; d++)
        element += (dims[d].start + (wide) counter[d] * dims[d].step) * strides[d];
      g_assert_true (element >= 0 && element < G_MAXUINT64);
      index = (guint64) element;
      g_array_append_val (selected, index);

      for (d = n_dims; d-- > 0;)
        {
          if (++counter[d] < dims[d].count)
            break;
          counter[d] = 0;
        }
    }

  if (bits % 8 == 0)
    {
      for (guint i = 0; i < selected->len; i++)
        g_byte_array_append (out_bytes,
                             data + g_array_index (selected, guint64, i) * (bits / 8),
                             bits / 8);
      return -1;
    }

  /* Sub-byte elements: the selection, cut into runs of consecutive
   * elements, must consist of whole bytes. */
  for (guint i = 0; i < selected->len;)
    {
      guint64 first = g_array_index (selected, guint64, i);
      guint64 n = 1;

      while (i + n < selected->len && g_array_index (selected, guint64, i + n) == first + n)
        n++;
      if ((first * bits) % 8 != 0 || (n * bits) % 8 != 0)
        return SAFETENSORS_ERROR_MISALIGNED_SLICE;
      g_byte_array_append (out_bytes, data + first * bits / 8, n * bits / 8);
      i += n;
    }

  return -1;
}

void
fuzz_check_slice (SafetensorsTensor *tensor,
                  const guint8      *data,
                  SafetensorsSlice  *slice,
                  GArray            *slice_items)
{
  g_autofree char *canonical = safetensors_slice_to_string (slice);
  g_autoptr(GArray) items = slice_items != NULL ? g_array_ref (slice_items)
                                                : fuzz_model_items_from_string (canonical);
  g_autoptr(GByteArray) expected = g_byte_array_new ();
  g_autoptr(GArray) expected_shape = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree guint64 *shape = NULL;
  const guint64 *tensor_shape;
  guint n_dims = G_MAXUINT;
  guint tensor_n_dims = 0;
  int code;

  g_assert_cmpuint (items->len, ==, safetensors_slice_get_n_items (slice));

  tensor_shape = safetensors_tensor_get_shape (tensor, &tensor_n_dims);
  code = fuzz_model_slice (data, safetensors_dtype_get_bits (safetensors_tensor_get_dtype (tensor)),
                           tensor_shape, tensor_n_dims, items, expected, expected_shape);

  bytes = safetensors_tensor_read_slice (tensor, slice, &shape, &n_dims, NULL, &error);
  g_assert_true ((bytes == NULL) == (error != NULL));

  if (code >= 0)
    {
      g_assert_error (error, SAFETENSORS_ERROR, code);
      return;
    }

  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                   expected->data, expected->len);
  g_assert_cmpuint (n_dims, ==, expected_shape->len);
  g_assert_true ((shape == NULL) == (n_dims == 0));
  if (n_dims > 0)
    g_assert_cmpmem (shape, n_dims * sizeof (guint64),
                     expected_shape->data, expected_shape->len * sizeof (guint64));
}

/* ---- checks on an opened file ------------------------------------------- */

/* Slices every tensor is read with, whatever its shape. */
static const char * const common_slices[] = {
  "", "...", "0", "-1", "::2", "::-1", "1:", ":0", "..., 0", ":, 1:3",
  "0, ..., ::-2", "1::3, -2", "-1, -1, -1", "..., ...", "::0",
};

void
fuzz_check_tensor (SafetensorsTensor *tensor,
                   const guint8      *contents,
                   gsize              size)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  SafetensorsDType dtype = safetensors_tensor_get_dtype (tensor);
  guint64 n_bytes = safetensors_tensor_get_n_bytes (tensor);
  guint64 n_elements = safetensors_tensor_get_n_elements (tensor);
  guint64 file_offset = safetensors_tensor_get_file_offset (tensor);
  guint64 begin = 0, end = 0, product = 1;
  gboolean has_zero = FALSE, overflows = FALSE;
  const guint64 *shape;
  guint n_dims = 0;
  const guint8 *data;

  g_assert_nonnull (safetensors_tensor_get_name (tensor));
  shape = safetensors_tensor_get_shape (tensor, &n_dims);
  g_assert_cmpuint (n_dims, ==, safetensors_tensor_get_n_dims (tensor));
  g_assert_true ((shape == NULL) == (n_dims == 0));
  for (guint d = 0; d < n_dims; d++)
    {
      has_zero |= shape[d] == 0;
      overflows |= !g_uint64_checked_mul (&product, product, shape[d]);
    }
  if (has_zero)
    g_assert_cmpuint (n_elements, ==, 0);
  else
    {
      g_assert_false (overflows);
      g_assert_cmpuint (n_elements, ==, product);
    }

  safetensors_tensor_get_data_offsets (tensor, &begin, &end);
  g_assert_cmpuint (end - begin, ==, n_bytes);
  g_assert_cmpuint (file_offset, <=, size);
  g_assert_cmpuint (n_bytes, <=, size - file_offset);
  /* Both sides fit: n_bytes is at most the file size. */
  g_assert_cmpuint (n_elements * safetensors_dtype_get_bits (dtype), ==, n_bytes * 8);
  data = contents + file_offset;

  bytes = safetensors_tensor_get_bytes (tensor, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), data, n_bytes);
  g_clear_pointer (&bytes, g_bytes_unref);

  bytes = safetensors_tensor_read_range (tensor, n_bytes / 3, n_bytes - n_bytes / 3 - n_bytes / 4,
                                         NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                   data + n_bytes / 3, n_bytes - n_bytes / 3 - n_bytes / 4);
  g_clear_pointer (&bytes, g_bytes_unref);

  bytes = safetensors_tensor_read_range (tensor, n_bytes, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 0);
  g_clear_pointer (&bytes, g_bytes_unref);

  bytes = safetensors_tensor_read_range (tensor, n_bytes, 1, NULL, &error);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
  g_assert_null (bytes);
  g_clear_error (&error);

  bytes = safetensors_tensor_read_range (tensor, 1, G_MAXUINT64, NULL, &error);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
  g_assert_null (bytes);
  g_clear_error (&error);

  for (guint i = 0; i < G_N_ELEMENTS (common_slices); i++)
    {
      g_autoptr(SafetensorsSlice) slice = safetensors_slice_parse (common_slices[i], &error);

      g_assert_no_error (error);
      fuzz_check_slice (tensor, data, slice, NULL);
    }
}

void
fuzz_check_file (SafetensorsFile *file,
                 const guint8    *contents,
                 gsize            size)
{
  GListModel *model = G_LIST_MODEL (file);
  guint n_tensors = safetensors_file_get_n_tensors (file);
  guint64 header_size = safetensors_file_get_header_size (file);
  guint64 data_start = safetensors_file_get_data_start (file);
  g_autoptr(GBytes) header_bytes = safetensors_file_get_header_bytes (file);
  g_auto(GStrv) names = safetensors_file_get_tensor_names (file);
  g_auto(GStrv) keys = safetensors_file_get_metadata_keys (file);
  g_autoptr(GHashTable) metadata = safetensors_file_get_metadata (file);
  guint64 expected_begin = 0;

  g_assert_cmpuint (safetensors_file_get_size (file), ==, size);
  g_assert_cmpuint (data_start, ==, 8 + header_size);
  g_assert_cmpuint (data_start, <=, size);
  g_assert_cmpmem (g_bytes_get_data (header_bytes, NULL), g_bytes_get_size (header_bytes),
                   contents + 8, header_size);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, n_tensors);
  g_assert_cmpuint (g_strv_length (names), ==, n_tensors);
  g_assert_null (g_list_model_get_item (model, n_tensors));

  for (guint i = 0; i < n_tensors; i++)
    {
      g_autoptr(SafetensorsTensor) tensor = g_list_model_get_item (model, i);
      g_autoptr(SafetensorsTensor) found = NULL;
      g_autoptr(GError) error = NULL;
      const char *name = safetensors_tensor_get_name (tensor);
      guint64 begin = 0, end = 0;

      /* Names that only differ after an embedded NUL share a C name:
       * lookup finds one of them. */
      found = safetensors_file_lookup (file, name, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (safetensors_tensor_get_name (found), ==, name);
      g_assert_true (safetensors_file_contains (file, name));

      /* The list is in offset order and tiles the data area. */
      safetensors_tensor_get_data_offsets (tensor, &begin, &end);
      g_assert_cmpuint (begin, ==, expected_begin);
      expected_begin = end;
      g_assert_cmpuint (safetensors_tensor_get_file_offset (tensor), ==, data_start + begin);

      fuzz_check_tensor (tensor, contents, size);
    }
  g_assert_cmpuint (data_start + expected_begin, ==, size);

  g_assert_cmpuint (g_strv_length (keys), ==, g_hash_table_size (metadata));
  for (guint i = 0; keys[i] != NULL; i++)
    {
      const char *value = safetensors_file_get_metadata_value (file, keys[i]);

      g_assert_nonnull (value);
      g_assert_true (g_utf8_validate (keys[i], -1, NULL));
      g_assert_true (g_utf8_validate (value, -1, NULL));
    }
}
