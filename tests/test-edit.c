/* test-edit.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Editing in place: the seed scenario, the classic edits, header growth,
 * costs, locking, rollback, and long random edit sequences checked after
 * every commit against an in-memory model and the strict reader.
 */

#include <string.h>

#include <glib/gstdio.h>

#include "test-util.h"

/* Both backends, both free-space policies. */
static SafetensorsOpenFlags backend_flags[4] = {
  SAFETENSORS_OPEN_FLAGS_READ_WRITE,
  SAFETENSORS_OPEN_FLAGS_READ_WRITE | SAFETENSORS_OPEN_FLAGS_NO_MMAP,
  SAFETENSORS_OPEN_FLAGS_READ_WRITE | SAFETENSORS_OPEN_FLAGS_KEEP_FREE,
  SAFETENSORS_OPEN_FLAGS_READ_WRITE | SAFETENSORS_OPEN_FLAGS_NO_MMAP | SAFETENSORS_OPEN_FLAGS_KEEP_FREE,
};
static const char *backend_labels[4] = { "mmap", "pread", "mmap-keep-free", "pread-keep-free" };

static gboolean
is_keep_free (gconstpointer data)
{
  return (backend_flags[GPOINTER_TO_UINT (data)] & SAFETENSORS_OPEN_FLAGS_KEEP_FREE) != 0;
}

static char *
new_path (const char *name)
{
  static guint counter;
  g_autofree char *file = g_strdup_printf ("%u-%s", ++counter, name);

  return g_build_filename (test_tmpdir (), file, NULL);
}

static SafetensorsFile *
open_rw (const char           *path,
         SafetensorsOpenFlags  flags)
{
  g_autoptr(GError) error = NULL;
  SafetensorsFile *file = safetensors_file_new_for_path (path, flags | SAFETENSORS_OPEN_FLAGS_CREATE, &error);

  g_assert_no_error (error);
  return file;
}

static GBytes *
tensor_bytes (SafetensorsFile *file,
              const char      *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsTensor) t = safetensors_file_lookup (file, name, &error);
  GBytes *bytes;

  g_assert_no_error (error);
  bytes = safetensors_tensor_get_bytes (t, NULL, &error);
  g_assert_no_error (error);
  return bytes;
}

/* The strict reader accepts the file and every tensor is aligned. */
static SafetensorsFile *
reopen_strict_policy (const char *path,
                      gboolean    fillers_allowed)
{
  g_autoptr(GError) error = NULL;
  SafetensorsFile *file = safetensors_file_new_for_path (path, SAFETENSORS_OPEN_FLAGS_NO_MMAP, &error);
  g_autoptr(GBytes) header = NULL;

  g_assert_no_error (error);
  /* The compact policy never leaves filler entries behind. */
  header = safetensors_file_get_header_bytes (file);
  if (!fillers_allowed)
    {
      g_assert_null (g_strstr_len (g_bytes_get_data (header, NULL), g_bytes_get_size (header), "\"__free_"));
      g_assert_cmpuint (safetensors_file_get_free_bytes (file), ==, 0);
    }
  for (guint i = 0; i < safetensors_file_get_n_tensors (file); i++)
    {
      g_autoptr(SafetensorsTensor) t = g_list_model_get_item (G_LIST_MODEL (file), i);
      guint bits = safetensors_dtype_get_bits (safetensors_tensor_get_dtype (t));
      guint align = bits < 8 ? 1 : MIN (8, bits / 8);
      guint64 begin;

      safetensors_tensor_get_data_offsets (t, &begin, NULL);
      g_assert_cmpuint (begin % align, ==, 0);
      g_assert_false (g_str_has_prefix (safetensors_tensor_get_name (t), "__free_"));
    }
  g_assert_cmpuint (safetensors_file_get_data_start (file) % 8, ==, 0);
  return file;
}

static SafetensorsFile *
reopen_strict (const char *path)
{
  return reopen_strict_policy (path, FALSE);
}

static GBytes *
floats (const float *values,
        guint        n)
{
  return g_bytes_new (values, n * sizeof (float));
}

/* The original library's README, in C. */
static void
test_seed_scenario (gconstpointer data)
{
  SafetensorsOpenFlags flags = backend_flags[GPOINTER_TO_UINT (data)];
  g_autoptr(GError) error = NULL;
  g_autofree char *path = new_path ("seed.safetensors");
  g_autoptr(SafetensorsFile) file = open_rw (path, flags);
  g_autoptr(SafetensorsFile) check = NULL;
  g_autoptr(GBytes) hello_bytes = NULL;
  g_autoptr(SafetensorsTensor) hello = NULL;
  float hello_values[12], world_values[6], row[3];
  const guint64 hello_shape[2] = { 4, 3 }, world_shape[2] = { 2, 3 }, qkv_shape[1] = { 5 };
  const float q[5] = { 1, 2, 3, 4, 5 }, k[5] = { 6, 7, 8, 9, 10 }, v[5] = { 0 };

  for (guint i = 0; i < 12; i++)
    hello_values[i] = i * 0.5f;
  hello_bytes = floats (hello_values, 12);
  safetensors_file_add_tensor (file, "hello", SAFETENSORS_DTYPE_F32, hello_shape, 2, hello_bytes, &error);
  g_assert_no_error (error);
  safetensors_file_commit (file, NULL, &error);
  g_assert_no_error (error);

  /* arrays["hello"][3, :] += 420.69 */
  hello = safetensors_file_lookup (file, "hello", &error);
  for (guint i = 0; i < 3; i++)
    row[i] = hello_values[9 + i] + 420.69f;
  safetensors_tensor_write (hello, 9 * sizeof (float), (const guint8 *) row, sizeof row, NULL, &error);
  g_assert_no_error (error);
  memcpy (hello_values + 9, row, sizeof row);

  /* arrays["world"] = arrays["hello"][0:2] * 10 */
  for (guint i = 0; i < 6; i++)
    world_values[i] = hello_values[i] * 10;
  {
    g_autoptr(GBytes) world = floats (world_values, 6);

    safetensors_file_add_tensor (file, "world", SAFETENSORS_DTYPE_F32, world_shape, 2, world, &error);
    g_assert_no_error (error);
  }

  /* arrays.update({"q": ..., "k": ..., "v": ...}); del arrays["v"] */
  {
    g_autoptr(GBytes) qb = floats (q, 5), kb = floats (k, 5), vb = floats (v, 5);

    safetensors_file_add_tensor (file, "q", SAFETENSORS_DTYPE_F32, qkv_shape, 1, qb, &error);
    safetensors_file_add_tensor (file, "k", SAFETENSORS_DTYPE_F32, qkv_shape, 1, kb, &error);
    safetensors_file_add_tensor (file, "v", SAFETENSORS_DTYPE_F32, qkv_shape, 1, vb, &error);
    g_assert_no_error (error);
  }
  safetensors_file_remove_tensor (file, "v", &error);
  g_assert_no_error (error);
  g_assert_true (safetensors_file_has_changes (file));
  safetensors_file_close (file, NULL, &error);
  g_assert_no_error (error);

  check = reopen_strict (path);
  g_assert_cmpuint (safetensors_file_get_n_tensors (check), ==, 4);
  g_assert_false (safetensors_file_contains (check, "v"));
  {
    g_autoptr(GBytes) h = tensor_bytes (check, "hello");
    g_autoptr(GBytes) w = tensor_bytes (check, "world");
    g_autoptr(GBytes) qq = tensor_bytes (check, "q");
    g_autoptr(GBytes) kk = tensor_bytes (check, "k");

    g_assert_cmpmem (g_bytes_get_data (h, NULL), g_bytes_get_size (h), hello_values, sizeof hello_values);
    g_assert_cmpmem (g_bytes_get_data (w, NULL), g_bytes_get_size (w), world_values, sizeof world_values);
    g_assert_cmpmem (g_bytes_get_data (qq, NULL), g_bytes_get_size (qq), q, sizeof q);
    g_assert_cmpmem (g_bytes_get_data (kk, NULL), g_bytes_get_size (kk), k, sizeof k);
  }
}

/* Three F64 tensors a, b, c of 800 bytes each, committed. */
static char *
make_abc (SafetensorsOpenFlags flags)
{
  g_autoptr(GError) error = NULL;
  char *path = new_path ("abc.safetensors");
  g_autoptr(SafetensorsFile) file = open_rw (path, flags);
  const guint64 shape = 100;

  for (guint t = 0; t < 3; t++)
    {
      double values[100];
      g_autoptr(GBytes) bytes = NULL;
      char name[2] = { 'a' + t, 0 };

      for (guint i = 0; i < 100; i++)
        values[i] = t * 1000 + i;
      bytes = g_bytes_new (values, sizeof values);
      safetensors_file_add_tensor (file, name, SAFETENSORS_DTYPE_F64, &shape, 1, bytes, &error);
      g_assert_no_error (error);
    }
  safetensors_file_close (file, NULL, &error);
  g_assert_no_error (error);
  return path;
}

static void
assert_abc_value (SafetensorsFile *file,
                  const char      *name)
{
  g_autoptr(GBytes) bytes = tensor_bytes (file, name);
  const double *values = g_bytes_get_data (bytes, NULL);

  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 800);
  g_assert_cmpfloat (values[0], ==, (name[0] - 'a') * 1000);
  g_assert_cmpfloat (values[99], ==, (name[0] - 'a') * 1000 + 99);
}

static void
test_remove_each (gconstpointer data)
{
  SafetensorsOpenFlags flags = backend_flags[GPOINTER_TO_UINT (data)];

  for (guint victim = 0; victim < 3; victim++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *path = make_abc (flags);
      g_autoptr(SafetensorsFile) file = open_rw (path, flags);
      g_autoptr(SafetensorsFile) check = NULL;
      g_autoptr(SafetensorsCommitStats) stats = NULL;
      char name[2] = { 'a' + victim, 0 };

      safetensors_file_remove_tensor (file, name, &error);
      g_assert_no_error (error);
      safetensors_file_commit (file, NULL, &error);
      g_assert_no_error (error);
      stats = safetensors_file_get_commit_stats (file);
      g_test_message ("remove %s: moved %" G_GUINT64_FORMAT ", written %" G_GUINT64_FORMAT,
                      name, stats->bytes_moved, stats->bytes_written);
      /* First: the gap becomes padding; last: truncation; middle: one
       * neighbour shifts. Never more than one tensor moves. */
      g_assert_cmpuint (stats->bytes_moved, <=, 800);
      if (victim != 1)
        g_assert_cmpuint (stats->bytes_moved, ==, 0);

      check = reopen_strict (path);
      g_assert_cmpuint (safetensors_file_get_n_tensors (check), ==, 2);
      for (guint t = 0; t < 3; t++)
        {
          char other[2] = { 'a' + t, 0 };

          if (t != victim)
            assert_abc_value (check, other);
        }
      /* The live object of the open file reads the same. */
      for (guint t = 0; t < 3; t++)
        {
          char other[2] = { 'a' + t, 0 };

          if (t != victim)
            assert_abc_value (file, other);
        }
    }
}

/* Replacing a middle tensor by one of the same size moves only the new
 * tensor into the hole, and the file keeps its size. */
static void
test_fill_hole_from_tail (gconstpointer data)
{
  SafetensorsOpenFlags flags = backend_flags[GPOINTER_TO_UINT (data)];
  g_autoptr(GError) error = NULL;
  g_autofree char *path = make_abc (flags);
  g_autoptr(SafetensorsFile) file = open_rw (path, flags);
  g_autoptr(SafetensorsFile) check = NULL;
  g_autoptr(SafetensorsCommitStats) stats = NULL;
  g_autoptr(GBytes) bytes = NULL;
  double values[100];
  const guint64 n = 100;
  guint64 size_before = safetensors_file_get_size (file);

  for (guint i = 0; i < 100; i++)
    values[i] = 7000 + i;
  bytes = g_bytes_new (values, sizeof values);
  safetensors_file_remove_tensor (file, "b", &error);
  safetensors_file_add_tensor (file, "d", SAFETENSORS_DTYPE_F64, &n, 1, bytes, &error);
  safetensors_file_commit (file, NULL, &error);
  g_assert_no_error (error);

  stats = safetensors_file_get_commit_stats (file);
  g_assert_cmpuint (stats->bytes_moved, ==, 800);
  g_assert_cmpuint (safetensors_file_get_size (file), ==, size_before);

  check = reopen_strict (path);
  assert_abc_value (check, "a");
  assert_abc_value (check, "c");
  {
    g_autoptr(GBytes) d = tensor_bytes (check, "d");

    g_assert_cmpmem (g_bytes_get_data (d, NULL), g_bytes_get_size (d), values, sizeof values);
  }
}

static char *
long_name (guint n,
           char  c)
{
  char *name = g_malloc (n + 1);

  memset (name, c, n);
  name[n] = '\0';
  return name;
}

/* Header growth past its padding, twice in one transaction and in two
 * consecutive ones: the original library corrupted data here. */
static void
test_header_growth (gconstpointer data)
{
  SafetensorsOpenFlags flags = backend_flags[GPOINTER_TO_UINT (data)];
  g_autoptr(GError) error = NULL;
  g_autofree char *path = make_abc (flags);
  const guint64 one = 1;

  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(SafetensorsFile) file = open_rw (path, flags);
      g_autoptr(SafetensorsFile) check = NULL;

      for (guint k = 0; k < 2; k++)
        {
          g_autofree char *name = long_name (3000 + 1000 * k + round, 'x' + k);
          g_autofree char *value = long_name (5000, 'm');
          g_autoptr(GBytes) bytes = g_bytes_new ("\x2a", 1);

          safetensors_file_add_tensor (file, name, SAFETENSORS_DTYPE_U8, &one, 1, bytes, &error);
          g_assert_no_error (error);
          safetensors_file_set_metadata_value (file, name + 10, value, &error);
          g_assert_no_error (error);
        }
      safetensors_file_commit (file, NULL, &error);
      g_assert_no_error (error);

      check = reopen_strict (path);
      g_assert_cmpuint (safetensors_file_get_n_tensors (check), ==, 3 + 2 * (round + 1));
      assert_abc_value (check, "a");
      assert_abc_value (check, "b");
      assert_abc_value (check, "c");
      assert_abc_value (file, "a");
      assert_abc_value (file, "c");
    }
}

static void
test_rename_and_metadata_costs (gconstpointer data)
{
  SafetensorsOpenFlags flags = backend_flags[GPOINTER_TO_UINT (data)];
  g_autoptr(GError) error = NULL;
  g_autofree char *path = make_abc (flags);
  g_autoptr(SafetensorsFile) file = open_rw (path, flags);
  g_autoptr(SafetensorsCommitStats) stats = NULL;
  g_autoptr(SafetensorsFile) check = NULL;
  g_autofree char *longer = long_name (10000, 'r');

  /* Metadata only: the header is rewritten, nothing else. */
  safetensors_file_set_metadata_value (file, "format", "pt", &error);
  safetensors_file_commit (file, NULL, &error);
  g_assert_no_error (error);
  stats = safetensors_file_get_commit_stats (file);
  g_assert_cmpuint (stats->bytes_moved, ==, 0);
  g_assert_cmpuint (stats->bytes_written, ==, stats->header_bytes);
  g_clear_pointer (&stats, safetensors_commit_stats_free);

  /* A much longer name: the header grows over the first tensors. */
  safetensors_file_rename_tensor (file, "b", longer, &error);
  g_assert_no_error (error);
  safetensors_file_commit (file, NULL, &error);
  g_assert_no_error (error);
  stats = safetensors_file_get_commit_stats (file);
  g_assert_cmpuint (stats->bytes_written, <=, stats->header_bytes + 3 * 800);
  g_clear_pointer (&stats, safetensors_commit_stats_free);

  /* Next small edits fit in the spare padding. */
  safetensors_file_set_metadata_value (file, "note", "spare padding absorbs this", &error);
  safetensors_file_rename_tensor (file, "a", "alpha", &error);
  safetensors_file_commit (file, NULL, &error);
  g_assert_no_error (error);
  stats = safetensors_file_get_commit_stats (file);
  g_assert_cmpuint (stats->bytes_moved, ==, 0);
  g_assert_cmpuint (stats->bytes_written, ==, stats->header_bytes);

  check = reopen_strict (path);
  g_assert_cmpstr (safetensors_file_get_metadata_value (check, "format"), ==, "pt");
  g_assert_true (safetensors_file_contains (check, longer));
  g_assert_true (safetensors_file_contains (check, "alpha"));
  {
    g_autoptr(GBytes) b = tensor_bytes (check, longer);

    g_assert_cmpfloat (((const double *) g_bytes_get_data (b, NULL))[5], ==, 1005);
  }
}

static void
test_rollback_and_lock (gconstpointer data)
{
  SafetensorsOpenFlags flags = backend_flags[GPOINTER_TO_UINT (data)];
  g_autoptr(GError) error = NULL;
  g_autofree char *path = make_abc (flags);
  g_autoptr(SafetensorsFile) file = open_rw (path, flags);
  g_autoptr(SafetensorsFile) second = NULL;
  g_autoptr(SafetensorsFile) reader = NULL;
  g_autoptr(SafetensorsTensor) a = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gsize before_len, after_len;
  const guint64 n = 4096;

  g_file_get_contents (path, &before, &before_len, NULL);

  second = safetensors_file_new_for_path (path, flags, &error);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_LOCKED);
  g_assert_null (second);
  g_clear_error (&error);

  a = safetensors_file_lookup (file, "a", NULL);
  safetensors_file_add_tensor (file, "big", SAFETENSORS_DTYPE_U8, &n, 1, NULL, &error);
  safetensors_file_remove_tensor (file, "a", &error);
  safetensors_file_rename_tensor (file, "b", "bee", &error);
  safetensors_file_set_metadata_value (file, "k", "v", &error);
  g_assert_no_error (error);
  g_assert_false (safetensors_file_contains (file, "a"));
  g_assert_null (safetensors_tensor_get_bytes (a, NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_TENSOR_NOT_FOUND);
  g_clear_error (&error);

  safetensors_file_rollback (file);
  g_assert_false (safetensors_file_has_changes (file));
  g_assert_true (safetensors_file_contains (file, "a"));
  g_assert_true (safetensors_file_contains (file, "b"));
  g_assert_false (safetensors_file_contains (file, "big"));
  g_assert_null (safetensors_file_get_metadata_value (file, "k"));
  assert_abc_value (file, "a");

  g_file_get_contents (path, &after, &after_len, NULL);
  g_assert_cmpmem (before, before_len, after, after_len);

  /* Read-only files refuse edits. */
  reader = safetensors_file_new_for_path (path, 0, &error);
  g_assert_no_error (error);
  g_assert_false (safetensors_file_remove_tensor (reader, "a", &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_READ_ONLY);
  g_clear_error (&error);
  {
    g_autoptr(SafetensorsTensor) ra = safetensors_file_lookup (reader, "a", NULL);

    g_assert_false (safetensors_tensor_write (ra, 0, (const guint8 *) "x", 1, NULL, &error));
    g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_READ_ONLY);
    g_clear_error (&error);
  }

  /* Reserved names. */
  g_assert_false (safetensors_file_add_tensor (file, "__free_0__", SAFETENSORS_DTYPE_U8, &n, 1, NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_RESERVED_NAME);
  g_clear_error (&error);
  g_assert_false (safetensors_file_rename_tensor (file, "a", "__metadata__", &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_RESERVED_NAME);
  g_clear_error (&error);

  /* Closing releases the lock. */
  safetensors_file_close (file, NULL, &error);
  g_assert_no_error (error);
  second = safetensors_file_new_for_path (path, flags, &error);
  g_assert_no_error (error);
}

/* ---- random edit sequences against a model ------------------------------ */

typedef struct
{
  SafetensorsDType dtype;
  guint n_dims;
  guint64 shape[3];
  GBytes *bytes;
} ModelTensor;

static void
model_tensor_free (gpointer data)
{
  ModelTensor *t = data;

  g_bytes_unref (t->bytes);
  g_free (t);
}

static GHashTable *
model_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, model_tensor_free);
}

static GHashTable *
model_copy (GHashTable *model)
{
  GHashTable *copy = model_new ();
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, model);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      ModelTensor *t = g_memdup2 (value, sizeof (ModelTensor));

      g_bytes_ref (t->bytes);
      g_hash_table_insert (copy, g_strdup (key), t);
    }
  return copy;
}

static GHashTable *
strings_copy (GHashTable *table)
{
  GHashTable *copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy, g_strdup (key), g_strdup (value));
  return copy;
}

static void
check_against_model (SafetensorsFile *file,
                     GHashTable      *model,
                     GHashTable      *metadata)
{
  GHashTableIter iter;
  gpointer key, value;

  g_assert_cmpuint (safetensors_file_get_n_tensors (file), ==, g_hash_table_size (model));
  g_hash_table_iter_init (&iter, model);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      ModelTensor *t = value;
      g_autoptr(GBytes) bytes = tensor_bytes (file, key);
      g_autoptr(SafetensorsTensor) tensor = safetensors_file_lookup (file, key, NULL);
      guint n_dims;
      const guint64 *shape = safetensors_tensor_get_shape (tensor, &n_dims);

      g_assert_true (g_bytes_equal (bytes, t->bytes));
      g_assert_cmpint (safetensors_tensor_get_dtype (tensor), ==, t->dtype);
      g_assert_cmpuint (n_dims, ==, t->n_dims);
      if (n_dims > 0)
        g_assert_cmpmem (shape, n_dims * 8, t->shape, n_dims * 8);
    }

  {
    g_autoptr(GHashTable) got = safetensors_file_get_metadata (file);

    g_assert_cmpuint (g_hash_table_size (got), ==, g_hash_table_size (metadata));
    g_hash_table_iter_init (&iter, metadata);
    while (g_hash_table_iter_next (&iter, &key, &value))
      g_assert_cmpstr (g_hash_table_lookup (got, key), ==, value);
  }
}

static char *
random_name (GRand *rand,
             GHashTable *model,
             gboolean existing)
{
  if (existing)
    {
      g_autofree gpointer *keys = NULL;
      guint n = 0;

      keys = g_hash_table_get_keys_as_array (model, &n);
      if (n == 0)
        return NULL;
      return g_strdup (keys[g_rand_int_range (rand, 0, n)]);
    }

  /* Sometimes long, to push the header over its padding. */
  if (g_rand_int_range (rand, 0, 10) == 0)
    {
      g_autofree char *filler = long_name (g_rand_int_range (rand, 100, 900), 'L');

      return g_strdup_printf ("%s.%u", filler, g_rand_int (rand));
    }
  return g_strdup_printf ("t%u", g_rand_int_range (rand, 0, 60));
}

static ModelTensor *
random_tensor (GRand *rand)
{
  static const SafetensorsDType dtypes[] = {
    SAFETENSORS_DTYPE_U8, SAFETENSORS_DTYPE_BOOL, SAFETENSORS_DTYPE_F16, SAFETENSORS_DTYPE_BF16,
    SAFETENSORS_DTYPE_F32, SAFETENSORS_DTYPE_I32, SAFETENSORS_DTYPE_F64, SAFETENSORS_DTYPE_C64,
    SAFETENSORS_DTYPE_U64, SAFETENSORS_DTYPE_F4,
  };
  ModelTensor *t = g_new0 (ModelTensor, 1);
  guint64 n_bits;
  guint8 *data;
  gsize n_bytes;

  t->dtype = dtypes[g_rand_int_range (rand, 0, G_N_ELEMENTS (dtypes))];
  t->n_dims = g_rand_int_range (rand, 0, 4);
  n_bits = safetensors_dtype_get_bits (t->dtype);
  for (guint d = 0; d < t->n_dims; d++)
    {
      t->shape[d] = g_rand_int_range (rand, 0, 7) * (t->dtype == SAFETENSORS_DTYPE_F4 ? 2 : 1);
      n_bits *= t->shape[d];
    }
  if (t->dtype == SAFETENSORS_DTYPE_F4 && t->n_dims == 0)
    {
      t->n_dims = 1;
      t->shape[0] = 2;
      n_bits = 8;
    }
  n_bytes = n_bits / 8;
  data = g_malloc (MAX (n_bytes, 1));
  for (gsize i = 0; i < n_bytes; i++)
    data[i] = g_rand_int_range (rand, 0, 256);
  t->bytes = g_bytes_new_take (data, n_bytes);
  return t;
}

static void
test_random_sequences (gconstpointer data)
{
  SafetensorsOpenFlags flags = backend_flags[GPOINTER_TO_UINT (data)];
  /* 4 variants × 2 500 = 10 000 operations by default; -m slow for more. */
  guint n_ops = g_test_slow () ? 100000 : 2500;
  g_autoptr(GRand) rand = g_rand_new_with_seed (20261129 + GPOINTER_TO_UINT (data));
  g_autofree char *path = new_path ("random.safetensors");
  g_autoptr(SafetensorsFile) file = open_rw (path, flags);
  g_autoptr(GHashTable) model = model_new ();
  g_autoptr(GHashTable) metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  guint n_commits = 0;

  for (guint op = 0; op < n_ops; op++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = NULL;
      guint kind = g_rand_int_range (rand, 0, 100);

      if (kind < 25)
        {
          ModelTensor *t = random_tensor (rand);
          gboolean zeros = g_rand_int_range (rand, 0, 8) == 0;

          name = random_name (rand, model, FALSE);
          if (zeros)
            {
              gsize n = g_bytes_get_size (t->bytes);

              g_bytes_unref (t->bytes);
              t->bytes = g_bytes_new_take (g_malloc0 (MAX (n, 1)), n);
            }
          if (safetensors_file_add_tensor (file, name, t->dtype, t->shape, t->n_dims,
                                           zeros ? NULL : t->bytes, &error))
            g_hash_table_insert (model, g_steal_pointer (&name), t);
          else
            {
              g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_DUPLICATE_NAME);
              g_assert_true (g_hash_table_contains (model, name));
              model_tensor_free (t);
            }
        }
      else if (kind < 35 && (name = random_name (rand, model, TRUE)) != NULL)
        {
          ModelTensor *t = random_tensor (rand);

          safetensors_file_replace_tensor (file, name, t->dtype, t->shape, t->n_dims, t->bytes, &error);
          g_assert_no_error (error);
          g_hash_table_insert (model, g_steal_pointer (&name), t);
        }
      else if (kind < 50 && (name = random_name (rand, model, TRUE)) != NULL)
        {
          safetensors_file_remove_tensor (file, name, &error);
          g_assert_no_error (error);
          g_hash_table_remove (model, name);
        }
      else if (kind < 60 && (name = random_name (rand, model, TRUE)) != NULL)
        {
          g_autofree char *new_name = random_name (rand, model, FALSE);

          if (safetensors_file_rename_tensor (file, name, new_name, &error))
            {
              gpointer key, value;

              g_hash_table_steal_extended (model, name, &key, &value);
              g_free (key);
              g_hash_table_insert (model, g_steal_pointer (&new_name), value);
            }
          else
            g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_DUPLICATE_NAME);
        }
      else if (kind < 68)
        {
          g_autofree char *key = g_strdup_printf ("k%u", g_rand_int_range (rand, 0, 8));

          if (g_rand_boolean (rand))
            {
              g_autofree char *value = g_strdup_printf ("v%u", g_rand_int (rand));

              safetensors_file_set_metadata_value (file, key, value, &error);
              g_hash_table_insert (metadata, g_steal_pointer (&key), g_steal_pointer (&value));
            }
          else
            {
              safetensors_file_set_metadata_value (file, key, NULL, &error);
              g_hash_table_remove (metadata, key);
            }
          g_assert_no_error (error);
        }
      else if (kind < 75 && (name = random_name (rand, model, TRUE)) != NULL)
        {
          /* An immediate write into a tensor: outside the transaction. */
          ModelTensor *t = g_hash_table_lookup (model, name);
          g_autoptr(SafetensorsTensor) tensor = safetensors_file_lookup (file, name, NULL);
          gsize n = g_bytes_get_size (t->bytes);
          g_autofree guint8 *copy = NULL;
          guint8 value = g_rand_int_range (rand, 0, 256);
          gsize at;

          if (n == 0)
            continue;
          at = g_rand_int_range (rand, 0, n);
          safetensors_tensor_write (tensor, at, &value, 1, NULL, &error);
          g_assert_no_error (error);
          copy = g_memdup2 (g_bytes_get_data (t->bytes, NULL), n);
          copy[at] = value;
          g_bytes_unref (t->bytes);
          t->bytes = g_bytes_new_take (g_steal_pointer (&copy), n);
        }
      else if (kind < 95)
        {
          g_autoptr(SafetensorsFile) check = NULL;

          if (is_keep_free (data) && g_rand_int_range (rand, 0, 10) == 0)
            safetensors_file_compact (file, NULL, &error);
          else
            safetensors_file_commit (file, NULL, &error);
          g_assert_no_error (error);
          n_commits++;
          check_against_model (file, model, metadata);
          check = reopen_strict_policy (path, is_keep_free (data));
          check_against_model (check, model, metadata);
        }
      else if (kind < 97)
        {
          /* Writes are not undone by a rollback: commit first, so that the
           * committed state equals the model. */
          safetensors_file_commit (file, NULL, &error);
          g_assert_no_error (error);
          safetensors_file_rollback (file);
          check_against_model (file, model, metadata);
        }
      else
        {
          /* Reopen: close commits. */
          safetensors_file_close (file, NULL, &error);
          g_assert_no_error (error);
          g_clear_object (&file);
          file = open_rw (path, flags);
          check_against_model (file, model, metadata);
        }
    }

  g_test_message ("%u operations, %u commits", n_ops, n_commits);
}

/* A rollback after edits without writes restores the committed model. */
static void
test_random_rollbacks (gconstpointer data)
{
  SafetensorsOpenFlags flags = backend_flags[GPOINTER_TO_UINT (data)];
  g_autoptr(GRand) rand = g_rand_new_with_seed (7 + GPOINTER_TO_UINT (data));
  g_autofree char *path = new_path ("rollback.safetensors");
  g_autoptr(SafetensorsFile) file = open_rw (path, flags);
  g_autoptr(GHashTable) model = model_new ();
  g_autoptr(GHashTable) metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  for (guint round = 0; round < 200; round++)
    {
      g_autoptr(GHashTable) saved = model_copy (model);
      g_autoptr(GHashTable) saved_metadata = strings_copy (metadata);
      gboolean keep = g_rand_boolean (rand);
      g_autoptr(GError) error = NULL;

      for (guint k = 0; k < 5; k++)
        {
          g_autofree char *name = random_name (rand, model, g_rand_boolean (rand));

          if (name == NULL)
            continue;
          if (g_hash_table_contains (model, name))
            {
              safetensors_file_remove_tensor (file, name, &error);
              g_hash_table_remove (model, name);
            }
          else
            {
              ModelTensor *t = random_tensor (rand);

              safetensors_file_add_tensor (file, name, t->dtype, t->shape, t->n_dims, t->bytes, &error);
              g_hash_table_insert (model, g_steal_pointer (&name), t);
            }
          g_assert_no_error (error);
        }

      if (keep)
        {
          safetensors_file_commit (file, NULL, &error);
          g_assert_no_error (error);
        }
      else
        {
          safetensors_file_rollback (file);
          g_hash_table_unref (model);
          model = g_steal_pointer (&saved);
          g_hash_table_unref (metadata);
          metadata = g_steal_pointer (&saved_metadata);
        }
      check_against_model (file, model, metadata);
      {
        g_autoptr(SafetensorsFile) check = reopen_strict_policy (path, is_keep_free (data));

        if (keep)
          check_against_model (check, model, metadata);
      }
    }
}

/* Writes through a writable mapping land in the file. */
static void
test_write_through_mapping (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = make_abc (SAFETENSORS_OPEN_FLAGS_READ_WRITE);
  g_autoptr(SafetensorsFile) file = open_rw (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE);
  g_autoptr(SafetensorsFile) check = NULL;
  g_autoptr(GBytes) view = tensor_bytes (file, "b");
  double *values = (double *) safetensors_bytes_get_address (view);

  g_assert_true (safetensors_file_is_mapped (file) || values != NULL);
  values[7] = 4242.5;
  g_clear_object (&file);

  check = reopen_strict (path);
  {
    g_autoptr(GBytes) b = tensor_bytes (check, "b");

    g_assert_cmpfloat (((const double *) g_bytes_get_data (b, NULL))[7], ==, 4242.5);
    g_assert_cmpfloat (((const double *) g_bytes_get_data (b, NULL))[8], ==, 1008);
  }
  /* The view outlives the file object; the mapping with it. */
  g_assert_cmpfloat (values[8], ==, 1008);
}

/* Old views never crash: not after a commit moved their tensor, nor after
 * the file shrank under them, whether the view came from the writer or
 * from a reader of the same file in this process. */
static void
test_stale_views_do_not_crash (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = new_path ("shrink.safetensors");
  g_autoptr(SafetensorsFile) file = open_rw (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE);
  g_autoptr(SafetensorsFile) reader = NULL;
  g_autoptr(GBytes) view = NULL;
  g_autoptr(GBytes) reader_view = NULL;
  const volatile guint8 *values, *reader_values;
  const guint64 small = 20000, big = 64 * 1024;
  guint64 sum = 0;

  safetensors_file_add_tensor (file, "a", SAFETENSORS_DTYPE_U8, &small, 1, NULL, &error);
  {
    g_autofree guint8 *ones = g_malloc (big);
    g_autoptr(GBytes) bytes = NULL;

    memset (ones, 1, big);
    bytes = g_bytes_new_take (g_steal_pointer (&ones), big);
    safetensors_file_add_tensor (file, "b", SAFETENSORS_DTYPE_U8, &big, 1, bytes, &error);
  }
  safetensors_file_commit (file, NULL, &error);
  g_assert_no_error (error);

  view = tensor_bytes (file, "b");
  values = (const guint8 *) safetensors_bytes_get_address (view);
  reader = safetensors_file_new_for_path (path, 0, &error);
  g_assert_no_error (error);
  g_assert_true (safetensors_file_is_mapped (reader));
  reader_view = tensor_bytes (reader, "b");
  reader_values = (const guint8 *) safetensors_bytes_get_address (reader_view);
  g_assert_cmpuint (values[big - 1] + reader_values[big - 1], ==, 2);

  /* "b" is cut off: whole pages of both views now lie past the end. */
  safetensors_file_remove_tensor (file, "b", &error);
  safetensors_file_commit (file, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (safetensors_file_get_size (file) + 2 * 4096, <, big);

  for (guint64 i = 0; i < big; i += 512)
    sum += values[i] + reader_values[i];
  g_test_message ("stale views read %" G_GUINT64_FORMAT, sum);
}

typedef struct
{
  const char *path;
  gint done;
} Waiter;

static gpointer
open_waiting (gpointer data)
{
  Waiter *waiter = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsFile) file =
    safetensors_file_new_for_path (waiter->path, SAFETENSORS_OPEN_FLAGS_READ_WRITE |
                                   SAFETENSORS_OPEN_FLAGS_WAIT_FOR_LOCK, &error);

  g_assert_no_error (error);
  g_atomic_int_set (&waiter->done, 1);
  return NULL;
}

/* A second writer that asks to wait gets the file once the first lets go. */
static void
test_wait_for_lock (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = make_abc (SAFETENSORS_OPEN_FLAGS_READ_WRITE);
  g_autoptr(SafetensorsFile) file = open_rw (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE);
  Waiter waiter = { path, 0 };
  GThread *thread;

  /* Valgrind 3.19 runs fcntl (F_OFD_SETLKW) holding its lock on all
   * threads, so the waiter would block the thread it waits for. */
  if (g_getenv ("SAFETENSORS_TEST_UNDER_VALGRIND") != NULL)
    {
      g_test_skip ("valgrind does not know that F_OFD_SETLKW blocks");
      return;
    }

  thread = g_thread_new ("waiter", open_waiting, &waiter);
  g_usleep (200 * 1000);
  g_assert_cmpint (g_atomic_int_get (&waiter.done), ==, 0);
  safetensors_file_close (file, NULL, &error);
  g_assert_no_error (error);
  g_thread_join (thread);
  g_assert_cmpint (g_atomic_int_get (&waiter.done), ==, 1);
}

static void
on_committed (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  GAsyncResult **out = data;

  *out = g_object_ref (result);
}

static void
test_commit_async (gconstpointer data)
{
  SafetensorsOpenFlags flags = backend_flags[GPOINTER_TO_UINT (data)];
  g_autoptr(GError) error = NULL;
  g_autofree char *path = make_abc (flags);
  g_autoptr(SafetensorsFile) file = open_rw (path, flags);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(SafetensorsFile) check = NULL;
  g_autoptr(SafetensorsCommitStats) stats = NULL;

  safetensors_file_remove_tensor (file, "a", &error);
  safetensors_file_rename_tensor (file, "c", "see", &error);
  g_assert_no_error (error);
  g_signal_connect_swapped (file, "notify::commit-progress", G_CALLBACK (g_main_context_wakeup), NULL);
  safetensors_file_commit_async (file, G_PRIORITY_DEFAULT, NULL, on_committed, &result);

  /* Busy until finished; reading still works. */
  g_assert_false (safetensors_file_remove_tensor (file, "b", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_clear_error (&error);
  assert_abc_value (file, "b");

  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (safetensors_file_commit_finish (file, result, &error));
  g_assert_no_error (error);
  g_assert_false (safetensors_file_has_changes (file));
  stats = safetensors_file_get_commit_stats (file);
  g_assert_cmpuint (stats->header_bytes, >, 0);
  {
    double progress = 0;

    g_object_get (file, "commit-progress", &progress, NULL);
    g_assert_cmpfloat (progress, ==, 1.0);
  }

  check = reopen_strict (path);
  g_assert_cmpuint (safetensors_file_get_n_tensors (check), ==, 2);
  assert_abc_value (check, "b");
  g_assert_true (safetensors_file_contains (check, "see"));
}

/* Keep-free: edits cost what they change, free space is reused, and
 * compact() returns to a canonical layout. */
static void
test_keep_free_costs (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = make_abc (SAFETENSORS_OPEN_FLAGS_READ_WRITE);
  g_autoptr(SafetensorsFile) file = open_rw (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE | SAFETENSORS_OPEN_FLAGS_KEEP_FREE);
  g_autoptr(SafetensorsCommitStats) stats = NULL;
  g_autoptr(SafetensorsFile) check = NULL;
  g_autoptr(GBytes) data = NULL;
  const guint64 n = 100, big = 64 * 1024;
  double values[100];

  /* Removing the middle tensor moves nothing: it becomes a filler. */
  safetensors_file_remove_tensor (file, "b", &error);
  safetensors_file_commit (file, NULL, &error);
  g_assert_no_error (error);
  stats = safetensors_file_get_commit_stats (file);
  g_assert_cmpuint (stats->bytes_moved, ==, 0);
  g_assert_cmpuint (stats->bytes_written, ==, stats->header_bytes);
  g_assert_cmpuint (safetensors_file_get_free_bytes (file), ==, 800);
  g_clear_pointer (&stats, safetensors_commit_stats_free);
  check = reopen_strict_policy (path, TRUE);
  g_assert_cmpuint (safetensors_file_get_n_tensors (check), ==, 2);
  g_assert_cmpuint (safetensors_file_get_free_bytes (check), ==, 800);
  g_clear_object (&check);

  /* A tensor of the same size reuses the hole: the file does not grow. */
  for (guint i = 0; i < 100; i++)
    values[i] = -i;
  data = g_bytes_new (values, sizeof values);
  {
    guint64 size_before = safetensors_file_get_size (file);

    safetensors_file_add_tensor (file, "d", SAFETENSORS_DTYPE_F64, &n, 1, data, &error);
    safetensors_file_commit (file, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (safetensors_file_get_size (file), ==, size_before);
    g_assert_cmpuint (safetensors_file_get_free_bytes (file), ==, 0);
  }

  /* Adding N bytes writes N plus the header (plus at most 4 KiB). */
  safetensors_file_add_tensor (file, "big", SAFETENSORS_DTYPE_U8, &big, 1, NULL, &error);
  {
    g_autofree guint8 *ones = g_malloc (big);
    g_autoptr(GBytes) bytes = NULL;

    memset (ones, 1, big);
    bytes = g_bytes_new_take (g_steal_pointer (&ones), big);
    safetensors_file_replace_tensor (file, "big", SAFETENSORS_DTYPE_U8, &big, 1, bytes, &error);
  }
  safetensors_file_commit (file, NULL, &error);
  g_assert_no_error (error);
  stats = safetensors_file_get_commit_stats (file);
  g_assert_cmpuint (stats->bytes_written, <=, big + stats->header_bytes + 4096);
  g_clear_pointer (&stats, safetensors_commit_stats_free);

  /* compact() drops the fillers. */
  safetensors_file_remove_tensor (file, "a", &error);
  safetensors_file_commit (file, NULL, &error);
  g_assert_cmpuint (safetensors_file_get_free_bytes (file), >, 0);
  safetensors_file_compact (file, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (safetensors_file_get_free_bytes (file), ==, 0);
  check = reopen_strict (path);
  g_assert_cmpuint (safetensors_file_get_n_tensors (check), ==, 3);
  assert_abc_value (check, "c");
  {
    g_autoptr(GBytes) d = tensor_bytes (check, "d");

    g_assert_cmpmem (g_bytes_get_data (d, NULL), g_bytes_get_size (d), values, sizeof values);
  }
}

/* @n_variants: 2 for both backends, 4 for both policies too. */
static void
add_backend_test_variants (const char    *path,
                           GTestDataFunc  func,
                           guint          n_variants)
{
  for (guint b = 0; b < n_variants; b++)
    {
      g_autofree char *name = g_strdup_printf ("%s/%s", path, backend_labels[b]);

      g_test_add_data_func (name, GUINT_TO_POINTER (b), func);
    }
}

/* Regression: a growing header over tensors that reach past the new data
 * start; their old bytes must not be given to another tensor before they
 * have moved (found by the Python property tests). */
static void
test_keep_free_straddling (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = new_path ("straddle.safetensors");
  g_autoptr(SafetensorsFile) file = open_rw (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE |
                                                   SAFETENSORS_OPEN_FLAGS_KEEP_FREE);
  g_autoptr(SafetensorsFile) check = NULL;
  const guint64 n = 2000;

  for (guint t = 0; t < 3; t++)
    {
      g_autofree guint8 *data = g_malloc (n);
      g_autoptr(GBytes) bytes = NULL;
      char name[2] = { 'p' + t, 0 };

      for (guint i = 0; i < n; i++)
        data[i] = (guint8) (i * 7 + t * 50);
      bytes = g_bytes_new_take (g_steal_pointer (&data), n);
      safetensors_file_add_tensor (file, name, SAFETENSORS_DTYPE_U8, &n, 1, bytes, &error);
      g_assert_no_error (error);
    }
  safetensors_file_commit (file, NULL, &error);
  g_assert_no_error (error);

  check = reopen_strict_policy (path, TRUE);
  for (guint t = 0; t < 3; t++)
    {
      char name[2] = { 'p' + t, 0 };
      g_autoptr(GBytes) bytes = tensor_bytes (check, name);
      const guint8 *data = g_bytes_get_data (bytes, NULL);

      for (guint i = 0; i < n; i++)
        g_assert_cmpuint (data[i], ==, (guint8) (i * 7 + t * 50));
    }
}

/* Names that are not UTF-8 are refused, or not found, with messages that
 * are UTF-8 all the same (found by fuzz-edit). */
static void
test_invalid_utf8_names (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = new_path ("utf8.safetensors");
  g_autoptr(SafetensorsFile) file = open_rw (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE);
  g_autoptr(SafetensorsTensor) tensor = NULL;
  const guint64 n = 2;

  safetensors_file_add_tensor (file, "a", SAFETENSORS_DTYPE_U8, &n, 1, NULL, &error);
  g_assert_no_error (error);

  g_assert_false (safetensors_file_rename_tensor (file, "a", "\xff\xfe", &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_clear_error (&error);

  g_assert_false (safetensors_file_remove_tensor (file, "b\xc3", &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_TENSOR_NOT_FOUND);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_clear_error (&error);

  tensor = safetensors_file_lookup (file, "\x80", &error);
  g_assert_null (tensor);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_TENSOR_NOT_FOUND);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_clear_error (&error);

  g_assert_true (safetensors_file_contains (file, "a"));
}

/* Compacting away the last tensor of a keep-free file leaves a file
 * without tensors (found by fuzz-edit: with no tensors the planner passed
 * NULL to memcpy (), which UBSan reports). */
static void
test_compact_to_empty (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = new_path ("compact-empty.safetensors");
  g_autoptr(SafetensorsFile) file = open_rw (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE |
                                                   SAFETENSORS_OPEN_FLAGS_KEEP_FREE);
  g_autoptr(SafetensorsFile) check = NULL;
  const guint64 n = 6;

  safetensors_file_add_tensor (file, "b", SAFETENSORS_DTYPE_BOOL, &n, 1, NULL, &error);
  g_assert_no_error (error);
  safetensors_file_commit (file, NULL, &error);
  g_assert_no_error (error);
  safetensors_file_remove_tensor (file, "b", &error);
  g_assert_no_error (error);

  g_assert_true (safetensors_file_compact (file, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (safetensors_file_get_n_tensors (file), ==, 0);
  g_assert_cmpuint (safetensors_file_get_free_bytes (file), ==, 0);
  safetensors_file_close (file, NULL, &error);
  g_assert_no_error (error);

  check = reopen_strict (path);
  g_assert_cmpuint (safetensors_file_get_n_tensors (check), ==, 0);
  g_assert_cmpuint (safetensors_file_get_size (check), ==, safetensors_file_get_data_start (check));
}

static void
add_backend_test (const char    *path,
                  GTestDataFunc  func)
{
  add_backend_test_variants (path, func, 2);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  add_backend_test ("/safetensors/edit/seed-scenario", test_seed_scenario);
  add_backend_test ("/safetensors/edit/remove-each", test_remove_each);
  add_backend_test ("/safetensors/edit/header-growth", test_header_growth);
  add_backend_test ("/safetensors/edit/fill-hole-from-tail", test_fill_hole_from_tail);
  add_backend_test ("/safetensors/edit/rename-metadata-costs", test_rename_and_metadata_costs);
  add_backend_test ("/safetensors/edit/rollback-lock", test_rollback_and_lock);
  add_backend_test ("/safetensors/edit/commit-async", test_commit_async);
  add_backend_test_variants ("/safetensors/edit/random", test_random_sequences, 4);
  add_backend_test_variants ("/safetensors/edit/random-rollbacks", test_random_rollbacks, 4);
  g_test_add_func ("/safetensors/edit/keep-free-costs", test_keep_free_costs);
  g_test_add_func ("/safetensors/edit/wait-for-lock", test_wait_for_lock);
  g_test_add_func ("/safetensors/edit/keep-free-straddling", test_keep_free_straddling);
  g_test_add_func ("/safetensors/edit/write-through-mapping", test_write_through_mapping);
  g_test_add_func ("/safetensors/edit/stale-views", test_stale_views_do_not_crash);
  g_test_add_func ("/safetensors/edit/invalid-utf8-names", test_invalid_utf8_names);
  g_test_add_func ("/safetensors/edit/compact-to-empty", test_compact_to_empty);

  return g_test_run ();
}
