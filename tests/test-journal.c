/* test-journal.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Recovery: a writer that dies mid-transaction leaves a hot journal; readers
 * are told to recover, writers recover on open; a damaged journal is
 * reported and nothing is touched. (The exhaustive crash sweep lives in
 * tests/crash.)
 */

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "test-util.h"

static char *
make_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("j%u.safetensors", g_random_int ());
  char *path = g_build_filename (test_tmpdir (), name, NULL);
  g_autoptr(SafetensorsFile) file = safetensors_file_new_for_path (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE |
                                                                   SAFETENSORS_OPEN_FLAGS_CREATE, &error);
  g_autoptr(GBytes) data = g_bytes_new ("0123456789abcdef", 16);
  const guint64 n = 16;

  g_assert_no_error (error);
  safetensors_file_add_tensor (file, "t", SAFETENSORS_DTYPE_U8, &n, 1, data, &error);
  safetensors_file_set_metadata_value (file, "k", "v", &error);
  safetensors_file_close (file, NULL, &error);
  g_assert_no_error (error);
  return path;
}

static char *
journal_of (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *name = g_strdup_printf (".%s.safetensors-journal", base);

  return g_build_filename (dir, name, NULL);
}

/* A child stages a large tensor (the file grows) and dies. */
static void
die_mid_transaction (const char *path)
{
  pid_t pid = fork ();
  int status = 0;

  if (pid == 0)
    {
      SafetensorsFile *file = safetensors_file_new_for_path (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE, NULL);
      const guint64 n = 1 << 20;
      g_autofree guint8 *ones = g_malloc (n);
      g_autoptr(GBytes) data = NULL;

      memset (ones, 1, n);
      data = g_bytes_new_take (g_steal_pointer (&ones), n);
      safetensors_file_add_tensor (file, "new", SAFETENSORS_DTYPE_U8, &n, 1, data, NULL);
      safetensors_file_remove_tensor (file, "t", NULL);
      _exit (0);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
}

static void
test_recover_on_open (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = make_file ();
  g_autofree char *journal = journal_of (path);
  g_autofree char *before = NULL;
  gsize before_len;
  g_autoptr(SafetensorsFile) reader = NULL;
  g_autoptr(SafetensorsFile) writer = NULL;
  g_autoptr(SafetensorsFile) check = NULL;
  g_autofree char *after = NULL;
  gsize after_len;

  g_file_get_contents (path, &before, &before_len, NULL);
  die_mid_transaction (path);
  g_assert_true (g_file_test (journal, G_FILE_TEST_EXISTS));

  /* Readers are told what to do, and change nothing. */
  reader = safetensors_file_new_for_path (path, 0, &error);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_NEEDS_RECOVERY);
  g_assert_nonnull (strstr (error->message, "recover"));
  g_assert_null (reader);
  g_clear_error (&error);

  /* A writer recovers. */
  writer = safetensors_file_new_for_path (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE, &error);
  g_assert_no_error (error);
  g_assert_false (g_file_test (journal, G_FILE_TEST_EXISTS));
  g_clear_object (&writer);

  g_file_get_contents (path, &after, &after_len, NULL);
  g_assert_cmpmem (before, before_len, after, after_len);
  check = safetensors_file_new_for_path (path, 0, &error);
  g_assert_no_error (error);
  g_assert_true (safetensors_file_contains (check, "t"));
}

static void
test_corrupt_journal (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = make_file ();
  g_autofree char *journal = journal_of (path);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gsize before_len, after_len;
  g_autoptr(SafetensorsFile) writer = NULL;
  char *contents = NULL;
  gsize len = 0;

  die_mid_transaction (path);
  g_file_get_contents (path, &before, &before_len, NULL);

  /* Flip a byte of the saved data: the checksum catches it. */
  g_file_get_contents (journal, &contents, &len, NULL);
  g_assert_cmpuint (len, >, 40);
  contents[len - 1] ^= 0xff;
  g_file_set_contents (journal, contents, len, NULL);
  g_free (contents);

  writer = safetensors_file_new_for_path (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE, &error);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_CORRUPT_JOURNAL);
  g_assert_null (writer);
  g_assert_true (g_file_test (journal, G_FILE_TEST_EXISTS));
  g_file_get_contents (path, &after, &after_len, NULL);
  g_assert_cmpmem (before, before_len, after, after_len);

  /* A journal cut short is damaged too. */
  g_file_get_contents (journal, &contents, &len, NULL);
  g_file_set_contents (journal, contents, len / 2, NULL);
  g_free (contents);
  g_clear_error (&error);
  writer = safetensors_file_new_for_path (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE, &error);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_CORRUPT_JOURNAL);
  g_unlink (journal);
}

/* After a clean rollback no journal is left, and the file is unchanged. */
static void
test_rollback_leaves_no_journal (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = make_file ();
  g_autofree char *journal = journal_of (path);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gsize before_len, after_len;
  g_autoptr(SafetensorsFile) file = NULL;
  const guint64 n = 4096;

  g_file_get_contents (path, &before, &before_len, NULL);
  file = safetensors_file_new_for_path (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE, &error);
  safetensors_file_add_tensor (file, "x", SAFETENSORS_DTYPE_U8, &n, 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_test (journal, G_FILE_TEST_EXISTS));
  safetensors_file_rollback (file);
  g_assert_false (g_file_test (journal, G_FILE_TEST_EXISTS));
  g_file_get_contents (path, &after, &after_len, NULL);
  g_assert_cmpmem (before, before_len, after, after_len);

  /* And a commit leaves none either. */
  safetensors_file_add_tensor (file, "x", SAFETENSORS_DTYPE_U8, &n, 1, NULL, &error);
  safetensors_file_commit (file, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (g_file_test (journal, G_FILE_TEST_EXISTS));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/safetensors/journal/recover-on-open", test_recover_on_open);
  g_test_add_func ("/safetensors/journal/corrupt", test_corrupt_journal);
  g_test_add_func ("/safetensors/journal/rollback-leaves-none", test_rollback_leaves_no_journal);

  return g_test_run ();
}
