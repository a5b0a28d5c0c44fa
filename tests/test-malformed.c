/* test-malformed.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The corpus in tests/data/malformed/ (see make-corpus.py there): every
 * file is named <nick>--<what>.safetensors or .npy, where <nick> is the
 * nick of the SafetensorsError code reading it must fail with. */

#include <string.h>

#include <safetensors-glib/safetensors-glib.h>

#include "safetensors-npy-private.h"
#include "test-util.h"

static char *
corpus_dir (void)
{
  return g_test_build_filename (G_TEST_DIST, "data", "malformed", NULL);
}

/* The error code a file's name announces. */
static int
expected_code (const char *basename)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (SAFETENSORS_TYPE_ERROR);
  const char *dashes = strstr (basename, "--");
  g_autofree char *nick = NULL;
  GEnumValue *value;

  g_assert_nonnull (dashes);
  nick = g_strndup (basename, dashes - basename);
  value = g_enum_get_value_by_nick (klass, nick);
  if (value == NULL)
    g_error ("%s: “%s” is not the nick of a SafetensorsError", basename, nick);

  return value->value;
}

static GBytes *
read_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *contents = NULL;
  gsize len = 0;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);

  /* Exactly as large as the file, so that ASan and valgrind see a read
   * past its end. */
  return g_bytes_new_take (g_realloc (contents, MAX (len, 1)), len);
}

static void
assert_unchanged (const char *path,
                  GBytes     *before)
{
  g_autoptr(GBytes) after = read_file (path);

  g_assert_cmpmem (g_bytes_get_data (after, NULL), g_bytes_get_size (after),
                   g_bytes_get_data (before, NULL), g_bytes_get_size (before));
}

static void
assert_error_names_file (const GError *error,
                         const char   *path)
{
  g_autofree char *basename = g_path_get_basename (path);

  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  if (strstr (error->message, basename) == NULL)
    g_error ("error message “%s” does not name the file", error->message);
}

static void
test_open_malformed (gconstpointer data)
{
  const char *path = data;
  g_autofree char *basename = g_path_get_basename (path);
  g_autoptr(GBytes) before = read_file (path);
  int code = expected_code (basename);

  for (guint backend = TEST_BACKEND_MMAP; backend <= TEST_BACKEND_STREAM; backend++)
    {
      g_autoptr(SafetensorsFile) file = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("backend %s", test_backend_names[backend]);
      file = test_open (path, backend, &error);
      g_assert_error (error, SAFETENSORS_ERROR, code);
      g_assert_null (file);
      assert_error_names_file (error, path);

      /* Opening never writes. */
      assert_unchanged (path, before);
    }
}

static void
open_async_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static void
test_open_malformed_async (gconstpointer data)
{
  const char *path = data;
  g_autofree char *basename = g_path_get_basename (path);
  g_autoptr(GBytes) before = read_file (path);
  int code = expected_code (basename);
  static const SafetensorsOpenFlags flags[] = {
    SAFETENSORS_OPEN_FLAGS_NONE,
    SAFETENSORS_OPEN_FLAGS_NO_MMAP,
  };

  for (guint i = 0; i < G_N_ELEMENTS (flags); i++)
    {
      g_autoptr(GFile) file = g_file_new_for_path (path);
      g_autoptr(SafetensorsFile) opened = NULL;
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GError) error = NULL;

      safetensors_file_open_async (file, flags[i], G_PRIORITY_DEFAULT, NULL,
                                   open_async_cb, &result);
      while (result == NULL)
        g_main_context_iteration (NULL, TRUE);

      opened = safetensors_file_open_finish (result, &error);
      g_assert_error (error, SAFETENSORS_ERROR, code);
      g_assert_null (opened);

      assert_unchanged (path, before);
    }
}

static void
test_parse_npy_malformed (gconstpointer data)
{
  const char *path = data;
  g_autofree char *basename = g_path_get_basename (path);
  g_autoptr(GBytes) bytes = read_file (path);
  g_autoptr(SafetensorsNpyHeader) header = NULL;
  g_autoptr(GError) error = NULL;
  int code = expected_code (basename);
  gsize len = 0;
  const guint8 *contents = g_bytes_get_data (bytes, &len);
  gsize header_size = 0;

  header = safetensors_npy_parse_header (contents, len, &header_size, &error);
  g_assert_error (error, SAFETENSORS_ERROR, code);
  g_assert_null (header);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
}

/* Every check of the header parser, and of the .npy parser, has a file. */
static void
test_coverage (gconstpointer data)
{
  const GPtrArray *paths = data;
  static const SafetensorsError required[] = {
    SAFETENSORS_ERROR_HEADER_TOO_SMALL,
    SAFETENSORS_ERROR_HEADER_TOO_LARGE,
    SAFETENSORS_ERROR_INVALID_HEADER_LENGTH,
    SAFETENSORS_ERROR_INVALID_HEADER,
    SAFETENSORS_ERROR_INVALID_JSON,
    SAFETENSORS_ERROR_INVALID_OFFSET,
    SAFETENSORS_ERROR_TENSOR_INVALID_INFO,
    SAFETENSORS_ERROR_METADATA_INCOMPLETE_BUFFER,
    SAFETENSORS_ERROR_VALIDATION_OVERFLOW,
    SAFETENSORS_ERROR_MISALIGNED_SLICE,
    SAFETENSORS_ERROR_DUPLICATE_NAME,
  };
  guint n_safetensors[SAFETENSORS_ERROR_INVALID_DATA + 1] = { 0, };
  guint n_npy[SAFETENSORS_ERROR_INVALID_DATA + 1] = { 0, };

  for (guint i = 0; i < paths->len; i++)
    {
      g_autofree char *basename = g_path_get_basename (g_ptr_array_index (paths, i));
      int code = expected_code (basename);

      g_assert_cmpint (code, >=, 0);
      g_assert_cmpint (code, <=, SAFETENSORS_ERROR_INVALID_DATA);
      if (g_str_has_suffix (basename, ".npy"))
        n_npy[code]++;
      else
        n_safetensors[code]++;
    }

  for (guint i = 0; i < G_N_ELEMENTS (required); i++)
    g_assert_cmpuint (n_safetensors[required[i]], >, 0);
  /* Syntax and schema errors come in many kinds. */
  g_assert_cmpuint (n_safetensors[SAFETENSORS_ERROR_INVALID_JSON], >=, 10);

  g_assert_cmpuint (n_npy[SAFETENSORS_ERROR_INVALID_DATA], >, 0);
  g_assert_cmpuint (n_npy[SAFETENSORS_ERROR_UNSUPPORTED], >, 0);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *dir_path = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) error = NULL;
  const char *name;

  g_test_init (&argc, &argv, NULL);

  dir_path = corpus_dir ();
  dir = g_dir_open (dir_path, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      if (g_str_has_suffix (name, ".safetensors") || g_str_has_suffix (name, ".npy"))
        g_ptr_array_add (paths, g_build_filename (dir_path, name, NULL));
    }
  g_ptr_array_sort (paths, compare_strings);

  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = g_ptr_array_index (paths, i);
      g_autofree char *basename = g_path_get_basename (path);
      g_autofree char *test_path = NULL;

      if (g_str_has_suffix (basename, ".npy"))
        {
          test_path = g_strdup_printf ("/safetensors/malformed/npy/%s", basename);
          g_test_add_data_func (test_path, path, test_parse_npy_malformed);
        }
      else
        {
          test_path = g_strdup_printf ("/safetensors/malformed/open/%s", basename);
          g_test_add_data_func (test_path, path, test_open_malformed);
          g_clear_pointer (&test_path, g_free);
          test_path = g_strdup_printf ("/safetensors/malformed/open-async/%s", basename);
          g_test_add_data_func (test_path, path, test_open_malformed_async);
        }
    }
  g_test_add_data_func ("/safetensors/malformed/coverage", paths, test_coverage);

  return g_test_run ();
}
