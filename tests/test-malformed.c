/* test-malformed.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The corpus in tests/data/malformed/ (see make-corpus.py there): every
 * case is named <nick>--<what>, where <nick> is the nick of the error code
 * reading it must fail with — a SafetensorsError, or else a GIOErrorEnum.
 * Every parser has its cases: headers (.safetensors), .npy preambles,
 * PyTorch checkpoints (.pt: zip and pickle), indexes of sharded
 * checkpoints (index/), rollback journals (journal/) and slices
 * (slices.tsv). Reading never changes an input, except that recovery
 * applies a valid journal. */

#include <string.h>

#include <glib/gstdio.h>

#include <safetensors-glib/safetensors-glib.h>

#include "safetensors-header-private.h"
#include "safetensors-npy-private.h"
#include "test-util.h"

static char *
corpus_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "malformed", name, NULL);
}

/* The error a case's name announces: "ok" is no error (domain 0). */
static void
expected_error (const char *basename,
                GQuark     *out_domain,
                int        *out_code)
{
  g_autoptr(GEnumClass) safetensors_class = g_type_class_ref (SAFETENSORS_TYPE_ERROR);
  g_autoptr(GEnumClass) io_class = g_type_class_ref (G_TYPE_IO_ERROR_ENUM);
  const char *dashes = strstr (basename, "--");
  g_autofree char *nick = NULL;
  GEnumValue *value;

  if (dashes == NULL)
    g_error ("%s: the name does not start with <code>--", basename);
  nick = g_strndup (basename, dashes - basename);

  if (g_str_equal (nick, "ok"))
    {
      *out_domain = 0;
      *out_code = 0;
      return;
    }

  value = g_enum_get_value_by_nick (safetensors_class, nick);
  if (value != NULL)
    {
      *out_domain = SAFETENSORS_ERROR;
      *out_code = value->value;
      return;
    }

  value = g_enum_get_value_by_nick (io_class, nick);
  if (value == NULL)
    g_error ("%s: “%s” is the nick of neither a SafetensorsError nor a GIOErrorEnum",
             basename, nick);
  *out_domain = G_IO_ERROR;
  *out_code = value->value;
}

static int
expected_code (const char *basename)
{
  GQuark domain;
  int code;

  expected_error (basename, &domain, &code);
  g_assert_true (domain == SAFETENSORS_ERROR);
  return code;
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

/* ---- folders --------------------------------------------------------- */

/* A fresh, empty folder of its own, so that leftovers can be seen. */
static char *
make_folder (void)
{
  g_autoptr(GError) error = NULL;
  char *path = g_dir_make_tmp ("safetensors-malformed-XXXXXX", &error);

  g_assert_no_error (error);
  return path;
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_assert_cmpint (g_unlink (child), ==, 0);
    }
  g_assert_cmpint (g_rmdir (path), ==, 0);
}

/* name → contents of every file in @folder (hidden ones too). */
static GHashTable *
snapshot_folder (const char *folder)
{
  GHashTable *files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                             (GDestroyNotify) g_bytes_unref);
  g_autoptr(GDir) dir = g_dir_open (folder, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (folder, name, NULL);

      g_hash_table_insert (files, g_strdup (name), read_file (path));
    }
  return files;
}

static void
assert_folder_unchanged (const char *folder,
                         GHashTable *before)
{
  g_autoptr(GHashTable) after = snapshot_folder (folder);
  GHashTableIter iter;
  gpointer name, contents;

  g_hash_table_iter_init (&iter, after);
  while (g_hash_table_iter_next (&iter, &name, &contents))
    {
      GBytes *old = g_hash_table_lookup (before, name);

      if (old == NULL)
        g_error ("%s: “%s” appeared", folder, (const char *) name);
      g_assert_cmpmem (g_bytes_get_data (contents, NULL), g_bytes_get_size (contents),
                       g_bytes_get_data (old, NULL), g_bytes_get_size (old));
    }
  g_assert_cmpuint (g_hash_table_size (after), ==, g_hash_table_size (before));
}

static void
copy_file (const char *from,
           const char *folder,
           const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) contents = read_file (from);
  g_autofree char *to = g_build_filename (folder, name, NULL);

  g_file_set_contents (to, g_bytes_get_data (contents, NULL), g_bytes_get_size (contents), &error);
  g_assert_no_error (error);
}

/* ---- .safetensors headers --------------------------------------------- */

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

/* More tensors than SAFETENSORS_HEADER_MAX_TENSORS take 20 MB of header
 * at least: too large for the repository, so built here. */
static void
test_open_too_many_tensors (void)
{
  g_autoptr(GString) text = g_string_new ("{");
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  guint8 prefix[8];
  guint64 len;

  for (guint i = 0; i <= SAFETENSORS_HEADER_MAX_TENSORS; i++)
    g_string_append_printf (text, "%s\"%x\":[\"U8\",[0],[0,0]]", i > 0 ? "," : "", i);
  g_string_append_c (text, '}');

  len = text->len;
  for (guint i = 0; i < 8; i++)
    prefix[i] = (len >> (8 * i)) & 0xff;
  g_string_prepend_len (text, (const char *) prefix, 8);
  path = test_write_raw (text->str, text->len);

  /* The check happens while parsing, whichever backend read the bytes. */
  file = test_open (path, TEST_BACKEND_MMAP, &error);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_JSON);
  g_assert_null (file);
  g_assert_nonnull (strstr (error->message, "tensors, the limit of this library"));
  g_unlink (path);
}

/* ---- .npy --------------------------------------------------------------- */

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

/* ---- PyTorch checkpoints -------------------------------------------------- */

/* From a local file (mapped) and from one without a path (copied first). */
static void
test_import_malformed (gconstpointer data)
{
  const char *path = data;
  g_autofree char *basename = g_path_get_basename (path);
  gboolean is_folder = g_file_test (path, G_FILE_TEST_IS_DIR);
  g_autoptr(GBytes) before = is_folder ? NULL : read_file (path);
  GQuark domain;
  int code;

  expected_error (basename, &domain, &code);

  for (guint backend = TEST_BACKEND_MMAP; backend <= TEST_BACKEND_STREAM; backend += 2)
    {
      g_autofree char *folder = make_folder ();
      g_autofree char *output = g_build_filename (folder, "out.safetensors", NULL);
      g_autoptr(GFile) source = test_file_for_backend (path, backend);
      g_autoptr(GFile) destination = g_file_new_for_path (output);
      g_autoptr(GHashTable) empty = g_hash_table_new (g_str_hash, g_str_equal);
      g_autoptr(GError) error = NULL;

      g_test_message ("backend %s", test_backend_names[backend]);
      g_assert_false (safetensors_import_pytorch (source, destination,
                                                  SAFETENSORS_IMPORT_FLAGS_NONE, NULL,
                                                  NULL, &error));
      g_assert_error (error, domain, code);
      assert_error_names_file (error, path);

      /* Neither the output nor a temporary is left behind, and the
       * checkpoint is as it was. */
      assert_folder_unchanged (folder, empty);
      if (!is_folder)
        assert_unchanged (path, before);
      remove_tree (folder);
    }
}

/* ---- indexes of sharded checkpoints ---------------------------------------- */

static void
test_index_malformed (gconstpointer data)
{
  const char *folder = data;
  g_autofree char *basename = g_path_get_basename (folder);
  g_autofree char *path = g_build_filename (folder, "model.safetensors.index.json", NULL);
  g_autoptr(GHashTable) before = snapshot_folder (folder);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(SafetensorsIndex) index = NULL;
  g_autoptr(GError) error = NULL;
  GQuark domain;
  int code;

  expected_error (basename, &domain, &code);

  index = safetensors_index_open (file, NULL, &error);
  g_assert_error (error, domain, code);
  g_assert_null (index);
  /* Either the index or the shard is named. */
  if (strstr (error->message, "model.safetensors.index.json") == NULL)
    g_error ("error message “%s” does not name the index", error->message);

  assert_folder_unchanged (folder, before);
}

/* ---- rollback journals ---------------------------------------------------- */

/* A journal case: the data file, its journal (when there is one) and any
 * other file named after it, copied into a fresh folder, since recovery
 * writes. */
typedef struct
{
  char *name;        /* <code>--<what> */
  char *folder;      /* journal/ of the corpus */
} JournalCase;

static void
journal_case_free (gpointer data)
{
  JournalCase *self = data;

  g_free (self->name);
  g_free (self->folder);
  g_free (self);
}

static char *
journal_case_copy (const JournalCase *self)
{
  g_autofree char *data_name = g_strconcat (self->name, ".safetensors", NULL);
  g_autofree char *hidden = g_strconcat (".", data_name, NULL);
  g_autoptr(GDir) dir = g_dir_open (self->folder, 0, NULL);
  char *copy = make_folder ();
  const char *name;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      if (g_str_equal (name, data_name) || g_str_has_prefix (name, hidden))
        {
          g_autofree char *from = g_build_filename (self->folder, name, NULL);

          copy_file (from, copy, name);
        }
    }
  return copy;
}

static void
test_journal_malformed (gconstpointer data)
{
  const JournalCase *self = data;
  g_autofree char *data_name = g_strconcat (self->name, ".safetensors", NULL);
  g_autofree char *journal_name = g_strconcat (".", data_name, ".safetensors-journal", NULL);
  g_autofree char *recovered_name = g_strconcat (self->name, ".recovered", NULL);
  g_autofree char *original_path = g_build_filename (self->folder, data_name, NULL);
  g_autofree char *journal_path = g_build_filename (self->folder, journal_name, NULL);
  g_autofree char *recovered_path = g_build_filename (self->folder, recovered_name, NULL);
  g_autoptr(GBytes) original = read_file (original_path);
  g_autoptr(GBytes) recovered = NULL;
  gboolean has_journal = g_file_test (journal_path, G_FILE_TEST_EXISTS);
  GQuark domain;
  int code;
  static const SafetensorsOpenFlags write_flags[] = {
    SAFETENSORS_OPEN_FLAGS_READ_WRITE,
    SAFETENSORS_OPEN_FLAGS_READ_WRITE | SAFETENSORS_OPEN_FLAGS_NO_MMAP,
  };

  expected_error (self->name, &domain, &code);
  if (g_file_test (recovered_path, G_FILE_TEST_EXISTS))
    recovered = read_file (recovered_path);
  /* Recovery that succeeds leaves a file to compare with. */
  g_assert_true (domain != 0 || recovered != NULL);

  /* Readers are told to recover, and touch nothing. A file without a
   * local path has no journal: it reads as the data file alone. */
  for (guint backend = TEST_BACKEND_MMAP; backend <= TEST_BACKEND_STREAM; backend++)
    {
      g_autofree char *folder = journal_case_copy (self);
      g_autofree char *path = g_build_filename (folder, data_name, NULL);
      g_autoptr(GHashTable) before = snapshot_folder (folder);
      g_autoptr(SafetensorsFile) file = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("read-only, backend %s", test_backend_names[backend]);
      file = test_open (path, backend, &error);
      if (backend == TEST_BACKEND_STREAM || !has_journal)
        {
          g_autofree char *alone = make_folder ();
          g_autofree char *alone_path = g_build_filename (alone, data_name, NULL);
          g_autoptr(SafetensorsFile) alone_file = NULL;
          g_autoptr(GError) alone_error = NULL;

          copy_file (original_path, alone, data_name);
          alone_file = test_open (alone_path, TEST_BACKEND_MMAP, &alone_error);
          if (alone_error != NULL)
            g_assert_error (error, alone_error->domain, alone_error->code);
          else
            g_assert_no_error (error);
          g_clear_object (&alone_file);
          remove_tree (alone);
        }
      else
        {
          g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_NEEDS_RECOVERY);
          g_assert_null (file);
          assert_error_names_file (error, path);
        }
      g_clear_object (&file);
      assert_folder_unchanged (folder, before);
      remove_tree (folder);
    }

  /* A writer recovers, or refuses to and changes nothing. */
  for (guint i = 0; i < G_N_ELEMENTS (write_flags); i++)
    {
      g_autofree char *folder = journal_case_copy (self);
      g_autofree char *path = g_build_filename (folder, data_name, NULL);
      g_autofree char *journal = g_build_filename (folder, journal_name, NULL);
      g_autofree char *temporary = g_strconcat (journal, ".tmp", NULL);
      g_autoptr(GHashTable) before = snapshot_folder (folder);
      g_autoptr(SafetensorsFile) file = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("read-write, flags %x", write_flags[i]);
      file = safetensors_file_new_for_path (path, write_flags[i], &error);
      if (domain == 0)
        {
          g_assert_no_error (error);
          g_assert_true (safetensors_file_close (file, NULL, &error));
          g_assert_no_error (error);
        }
      else
        {
          g_assert_error (error, domain, code);
          g_assert_null (file);
          assert_error_names_file (error, path);
        }
      g_clear_object (&file);

      if (recovered != NULL)
        {
          /* Applied: the file is what the journal made of it, and the
           * journal and any stale temporary are gone. */
          assert_unchanged (path, recovered);
          g_assert_false (g_file_test (journal, G_FILE_TEST_EXISTS));
          g_assert_false (g_file_test (temporary, G_FILE_TEST_EXISTS));
        }
      else
        {
          assert_folder_unchanged (folder, before);
        }
      remove_tree (folder);
    }
}

/* ---- slices ------------------------------------------------------------------ */

typedef struct
{
  guint             line;
  char             *expression;
  SafetensorsDType  dtype;
  guint64           shape[8];
  guint             n_dims;
  int               code;
} SliceCase;

static void
slice_case_free (gpointer data)
{
  SliceCase *self = data;

  g_free (self->expression);
  g_free (self);
}

static GPtrArray *
read_slice_cases (void)
{
  g_autofree char *path = corpus_path ("slices.tsv");
  g_autoptr(GBytes) contents = read_file (path);
  g_autofree char *text = g_strndup (g_bytes_get_data (contents, NULL), g_bytes_get_size (contents));
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  GPtrArray *cases = g_ptr_array_new_with_free_func (slice_case_free);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = NULL;
      g_auto(GStrv) dims = NULL;
      g_autofree char *name = NULL;
      SliceCase *c;

      if (lines[i][0] == '\0' || lines[i][0] == '#')
        continue;
      fields = g_strsplit (lines[i], "\t", -1);
      if (g_strv_length (fields) != 4)
        g_error ("slices.tsv:%u: expected 4 fields", i + 1);

      c = g_new0 (SliceCase, 1);
      c->line = i + 1;
      c->expression = g_strdup (fields[0]);
      if (!safetensors_dtype_from_string (fields[1], &c->dtype))
        g_error ("slices.tsv:%u: unknown dtype %s", i + 1, fields[1]);
      dims = g_strsplit (fields[2], ",", -1);
      for (guint d = 0; dims[d] != NULL && dims[d][0] != '\0'; d++)
        {
          g_assert_cmpuint (d, <, G_N_ELEMENTS (c->shape));
          c->shape[d] = g_ascii_strtoull (dims[d], NULL, 10);
          c->n_dims = d + 1;
        }
      name = g_strconcat (fields[3], "--", NULL);
      c->code = expected_code (name);
      g_ptr_array_add (cases, c);
    }
  return cases;
}

/* A file with one tensor “t” of the case's dtype and shape. */
static char *
write_slice_file (const SliceCase *c)
{
  g_autoptr(GString) json = g_string_new ("{\"t\":{\"dtype\":\"");
  g_autofree guint8 *data = NULL;
  guint64 n_bits = safetensors_dtype_get_bits (c->dtype);

  g_string_append_printf (json, "%s\",\"shape\":[", safetensors_dtype_to_string (c->dtype));
  for (guint d = 0; d < c->n_dims; d++)
    {
      g_string_append_printf (json, "%s%" G_GUINT64_FORMAT, d > 0 ? "," : "", c->shape[d]);
      n_bits *= c->shape[d];
    }
  g_assert_cmpuint (n_bits % 8, ==, 0);
  g_string_append_printf (json, "],\"data_offsets\":[0,%" G_GUINT64_FORMAT "]}}", n_bits / 8);

  data = g_malloc0 (MAX (n_bits / 8, 1));
  return test_write_safetensors (json->str, 0, data, n_bits / 8);
}

static void
test_slice_malformed (gconstpointer data)
{
  const SliceCase *c = data;
  g_autoptr(SafetensorsSlice) slice = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GBytes) before = NULL;

  g_test_message ("slices.tsv:%u: “%s”", c->line, c->expression);

  /* A malformed expression fails here already. */
  slice = safetensors_slice_parse (c->expression, &error);
  if (slice == NULL)
    {
      g_assert_error (error, SAFETENSORS_ERROR, c->code);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return;
    }

  path = write_slice_file (c);
  before = read_file (path);
  for (guint backend = TEST_BACKEND_MMAP; backend <= TEST_BACKEND_STREAM; backend++)
    {
      g_autoptr(SafetensorsFile) file = test_open (path, backend, &error);
      g_autoptr(SafetensorsTensor) tensor = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_autofree guint64 *shape = NULL;
      guint n_dims = 0;

      g_test_message ("backend %s", test_backend_names[backend]);
      g_assert_no_error (error);
      tensor = safetensors_file_lookup (file, "t", &error);
      g_assert_no_error (error);
      bytes = safetensors_tensor_read_slice (tensor, slice, &shape, &n_dims, NULL, &error);
      g_assert_error (error, SAFETENSORS_ERROR, c->code);
      g_assert_null (bytes);
      assert_error_names_file (error, path);
      g_clear_error (&error);
    }
  assert_unchanged (path, before);
  g_unlink (path);
}

/* ---- coverage ----------------------------------------------------------------- */

typedef struct
{
  GPtrArray *names;        /* of top-level files: .safetensors, .npy, .pt */
  GPtrArray *indexes;      /* folder paths */
  GPtrArray *journals;     /* JournalCase* */
  GPtrArray *slices;       /* SliceCase* */
} Corpus;

static void
count_case (GHashTable *counts,
            const char *name)
{
  GQuark domain;
  int code;
  char *key;
  guint n;

  expected_error (name, &domain, &code);
  key = g_strdup_printf ("%s:%d", domain == 0 ? "ok" : g_quark_to_string (domain), code);
  n = GPOINTER_TO_UINT (g_hash_table_lookup (counts, key));
  g_hash_table_insert (counts, key, GUINT_TO_POINTER (n + 1));
}

static guint
count_of (GHashTable *counts,
          GQuark      domain,
          int         code)
{
  g_autofree char *key = g_strdup_printf ("%s:%d", domain == 0 ? "ok" : g_quark_to_string (domain),
                                          code);

  return GPOINTER_TO_UINT (g_hash_table_lookup (counts, key));
}

#define E(name) SAFETENSORS_ERROR, SAFETENSORS_ERROR_##name

/* Every check of every parser has a case; the codes a parser cannot
 * return for an input are listed in make-corpus.py. */
static void
test_coverage (gconstpointer data)
{
  const Corpus *corpus = data;
  g_autoptr(GHashTable) safetensors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) npy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) torch = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) journal = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint n_invalid_slice = 0, n_misaligned_slice = 0;

  for (guint i = 0; i < corpus->names->len; i++)
    {
      g_autofree char *basename = g_path_get_basename (g_ptr_array_index (corpus->names, i));

      count_case (g_str_has_suffix (basename, ".npy") ? npy :
                  g_str_has_suffix (basename, ".pt") ? torch : safetensors, basename);
    }
  for (guint i = 0; i < corpus->indexes->len; i++)
    {
      g_autofree char *basename = g_path_get_basename (g_ptr_array_index (corpus->indexes, i));

      count_case (index, basename);
    }
  for (guint i = 0; i < corpus->journals->len; i++)
    count_case (journal, ((JournalCase *) g_ptr_array_index (corpus->journals, i))->name);
  for (guint i = 0; i < corpus->slices->len; i++)
    {
      const SliceCase *c = g_ptr_array_index (corpus->slices, i);

      n_invalid_slice += c->code == SAFETENSORS_ERROR_INVALID_SLICE;
      n_misaligned_slice += c->code == SAFETENSORS_ERROR_MISALIGNED_SLICE;
    }

  g_assert_cmpuint (count_of (safetensors, E (HEADER_TOO_SMALL)), >, 0);
  g_assert_cmpuint (count_of (safetensors, E (HEADER_TOO_LARGE)), >, 0);
  g_assert_cmpuint (count_of (safetensors, E (INVALID_HEADER_LENGTH)), >, 0);
  g_assert_cmpuint (count_of (safetensors, E (INVALID_HEADER)), >, 0);
  g_assert_cmpuint (count_of (safetensors, E (INVALID_OFFSET)), >, 0);
  g_assert_cmpuint (count_of (safetensors, E (TENSOR_INVALID_INFO)), >, 0);
  g_assert_cmpuint (count_of (safetensors, E (METADATA_INCOMPLETE_BUFFER)), >, 0);
  g_assert_cmpuint (count_of (safetensors, E (VALIDATION_OVERFLOW)), >, 0);
  g_assert_cmpuint (count_of (safetensors, E (MISALIGNED_SLICE)), >, 0);
  g_assert_cmpuint (count_of (safetensors, E (DUPLICATE_NAME)), >, 0);
  /* Syntax and schema errors come in many kinds. */
  g_assert_cmpuint (count_of (safetensors, E (INVALID_JSON)), >=, 10);

  g_assert_cmpuint (count_of (npy, E (INVALID_DATA)), >, 0);
  g_assert_cmpuint (count_of (npy, E (UNSUPPORTED)), >, 0);

  g_assert_cmpuint (count_of (torch, E (INVALID_DATA)), >=, 100);
  g_assert_cmpuint (count_of (torch, E (UNSAFE_PICKLE)), >=, 20);
  g_assert_cmpuint (count_of (torch, E (UNSUPPORTED)), >, 0);
  g_assert_cmpuint (count_of (torch, E (VALIDATION_OVERFLOW)), >, 0);
  g_assert_cmpuint (count_of (torch, E (DUPLICATE_NAME)), >, 0);
  g_assert_cmpuint (count_of (torch, E (RESERVED_NAME)), >, 0);
  g_assert_cmpuint (count_of (torch, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY), >, 0);

  g_assert_cmpuint (count_of (index, E (INVALID_DATA)), >=, 20);
  g_assert_cmpuint (count_of (index, G_IO_ERROR, G_IO_ERROR_NOT_FOUND), >, 0);
  g_assert_cmpuint (count_of (index, E (NEEDS_RECOVERY)), >, 0);
  g_assert_cmpuint (count_of (index, E (HEADER_TOO_SMALL)), >, 0);

  g_assert_cmpuint (count_of (journal, E (CORRUPT_JOURNAL)), >=, 10);
  g_assert_cmpuint (count_of (journal, 0, 0), >, 0);

  g_assert_cmpuint (n_invalid_slice, >=, 10);
  g_assert_cmpuint (n_misaligned_slice, >, 0);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static GPtrArray *
list_folder (const char *folder,
             gboolean    folders)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open (folder, 0, &error);
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      char *path = g_build_filename (folder, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR) == folders)
        g_ptr_array_add (paths, path);
      else
        g_free (path);
    }
  g_ptr_array_sort (paths, compare_strings);
  return paths;
}

static void
add_test (const char     *kind,
          const char     *name,
          gconstpointer   data,
          GTestDataFunc   func)
{
  g_autofree char *test_path = g_strdup_printf ("/safetensors/malformed/%s/%s", kind, name);

  g_test_add_data_func (test_path, data, func);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *top = NULL;
  g_autofree char *index_folder = NULL;
  g_autofree char *journal_folder = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) journal_files = NULL;
  Corpus corpus = { 0 };
  int status;

  g_test_init (&argc, &argv, NULL);

  top = corpus_path (NULL);
  index_folder = corpus_path ("index");
  journal_folder = corpus_path ("journal");

  corpus.names = g_ptr_array_new_with_free_func (g_free);
  all = list_folder (top, FALSE);
  g_ptr_array_extend_and_steal (all, list_folder (top, TRUE));
  g_ptr_array_sort (all, compare_strings);
  for (guint i = 0; i < all->len; i++)
    {
      const char *path = g_ptr_array_index (all, i);
      g_autofree char *basename = g_path_get_basename (path);

      if (g_str_has_suffix (basename, ".npy"))
        add_test ("npy", basename, path, test_parse_npy_malformed);
      else if (g_str_has_suffix (basename, ".pt"))
        add_test ("import-pytorch", basename, path, test_import_malformed);
      else if (g_str_has_suffix (basename, ".safetensors"))
        {
          add_test ("open", basename, path, test_open_malformed);
          add_test ("open-async", basename, path, test_open_malformed_async);
        }
      else
        continue;
      g_ptr_array_add (corpus.names, g_strdup (path));
    }
  g_test_add_func ("/safetensors/malformed/open/invalid-json--tensor-count-cap",
                   test_open_too_many_tensors);

  corpus.indexes = list_folder (index_folder, TRUE);
  for (guint i = 0; i < corpus.indexes->len; i++)
    {
      const char *folder = g_ptr_array_index (corpus.indexes, i);
      g_autofree char *basename = g_path_get_basename (folder);

      add_test ("index", basename, folder, test_index_malformed);
    }

  corpus.journals = g_ptr_array_new_with_free_func (journal_case_free);
  journal_files = list_folder (journal_folder, FALSE);
  for (guint i = 0; i < journal_files->len; i++)
    {
      g_autofree char *basename = g_path_get_basename (g_ptr_array_index (journal_files, i));
      JournalCase *c;

      if (basename[0] == '.' || !g_str_has_suffix (basename, ".safetensors"))
        continue;
      c = g_new0 (JournalCase, 1);
      c->name = g_strndup (basename, strlen (basename) - strlen (".safetensors"));
      c->folder = g_strdup (journal_folder);
      g_ptr_array_add (corpus.journals, c);
      add_test ("journal", c->name, c, test_journal_malformed);
    }

  corpus.slices = read_slice_cases ();
  for (guint i = 0; i < corpus.slices->len; i++)
    {
      const SliceCase *c = g_ptr_array_index (corpus.slices, i);
      g_autofree char *name = g_strdup_printf ("line-%u", c->line);

      add_test ("slice", name, c, test_slice_malformed);
    }

  g_test_add_data_func ("/safetensors/malformed/coverage", &corpus, test_coverage);

  status = g_test_run ();

  g_ptr_array_unref (corpus.names);
  g_ptr_array_unref (corpus.indexes);
  g_ptr_array_unref (corpus.journals);
  g_ptr_array_unref (corpus.slices);
  return status;
}
