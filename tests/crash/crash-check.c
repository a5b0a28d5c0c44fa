/* crash-check.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The content of a file as text (its "state"), and what a user does after
 * a crash: open the file for writing, which recovers it, and read it with
 * the strict reader.
 *
 * A state is one line per metadata entry and per tensor (name, dtype,
 * shape, size, SHA-256 of the bytes), sorted, so that two states compare
 * as strings: equal states mean the same tensor contents and metadata,
 * byte for byte.
 */

#include <stdlib.h>
#include <string.h>

#include "crash-workload.h"

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static char *
escape (const char *s)
{
  /* Long names are summarised: the hash still tells them apart. ASCII
   * only: g_print() converts to the locale's charset. */
  if (strlen (s) > 80)
    {
      g_autofree char *head = g_strndup (s, 40);
      g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, s, -1);
      g_autofree char *escaped = g_strescape (head, NULL);

      return g_strdup_printf ("%s...(%zu bytes, sha256 %.16s)", escaped, strlen (s), sum);
    }
  return g_strescape (s, NULL);
}

/* The content of @file as sorted text lines, or NULL if a tensor cannot
 * be read. */
char *
crash_describe (SafetensorsFile  *file,
          GError          **error)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_auto(GStrv) keys = safetensors_file_get_metadata_keys (file);
  g_auto(GStrv) names = safetensors_file_get_tensor_names (file);

  qsort (keys, g_strv_length (keys), sizeof (char *), compare_strings);
  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autofree char *key = escape (keys[i]);
      g_autofree char *value = escape (safetensors_file_get_metadata_value (file, keys[i]));

      g_string_append_printf (out, "meta %s = %s\n", key, value);
    }

  qsort (names, g_strv_length (names), sizeof (char *), compare_strings);
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autoptr(SafetensorsTensor) tensor = safetensors_file_lookup (file, names[i], error);
      g_autoptr(GBytes) bytes = NULL;
      g_autofree char *name = escape (names[i]);
      g_autofree char *sum = NULL;
      const guint64 *shape;
      guint n_dims;

      if (tensor == NULL)
        return NULL;
      bytes = safetensors_tensor_get_bytes (tensor, NULL, error);
      if (bytes == NULL)
        return NULL;
      sum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
      shape = safetensors_tensor_get_shape (tensor, &n_dims);
      g_string_append_printf (out, "tensor %s %s [", name,
                              safetensors_dtype_to_string (safetensors_tensor_get_dtype (tensor)));
      for (guint d = 0; d < n_dims; d++)
        g_string_append_printf (out, "%s%" G_GUINT64_FORMAT, d > 0 ? "," : "", shape[d]);
      g_string_append_printf (out, "] %" G_GSIZE_FORMAT " %s\n", g_bytes_get_size (bytes), sum);
    }

  return g_string_free (g_steal_pointer (&out), FALSE);
}

void
crash_print_error (const char   *what,
             const GError *error)
{
  g_print ("%s: error %s %d %s\n", what, g_quark_to_string (error->domain), error->code,
           error->message);
}

/* The strict reader, read-only and not mapped: every check of the format. */
char *
crash_describe_path (const char  *path,
               GError     **error)
{
  g_autoptr(SafetensorsFile) file = safetensors_file_new_for_path (path, SAFETENSORS_OPEN_FLAGS_NO_MMAP, error);

  if (file == NULL)
    return NULL;
  return crash_describe (file, error);
}

static char *
journal_path (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *name = g_strdup_printf (".%s.safetensors-journal", base);

  return g_build_filename (dir, name, NULL);
}

int
crash_cmd_dump (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *state = crash_describe_path (path, &error);

  if (state == NULL)
    {
      crash_print_error ("strict", error);
      return EXIT_CHECK_FAILED;
    }
  g_print ("%s", state);
  return 0;
}

/* Everything in the directory but the file and its journal. */
static char *
leftovers (const char *path)
{
  g_autofree char *dir_path = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *journal = journal_path (path);
  g_autofree char *journal_base = g_path_get_basename (journal);
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  g_autoptr(GString) out = g_string_new (NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (strcmp (name, base) != 0 && strcmp (name, journal_base) != 0)
      g_string_append_printf (out, " %s", name);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* What a user does after a crash: open the file for writing (which
 * recovers it), close it, then read it strictly. Prints what it sees;
 * the driver decides. */
int
crash_cmd_check (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *journal = journal_path (path);
  g_autofree char *left = NULL;
  g_autofree char *state = NULL;
  gboolean hot = g_file_test (journal, G_FILE_TEST_EXISTS);

  g_print ("journal-before: %s\n", hot ? "yes" : "no");

  if (hot)
    {
      /* A reader must not see a half-committed file. */
      state = crash_describe_path (path, &error);
      if (state == NULL)
        crash_print_error ("read-only-hot", error);
      else
        {
          g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, state, -1);

          g_print ("read-only-hot: opened %s\n", sum);
        }
      g_clear_error (&error);
      g_clear_pointer (&state, g_free);
    }

  {
    g_autoptr(SafetensorsFile) file = safetensors_file_new_for_path (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE,
                                                                     &error);

    if (file == NULL)
      crash_print_error ("recover", error);
    else if (!safetensors_file_close (file, NULL, &error))
      crash_print_error ("recover-close", error);
    else
      g_print ("recover: ok\n");
    g_clear_error (&error);
  }

  g_print ("journal-after: %s\n", g_file_test (journal, G_FILE_TEST_EXISTS) ? "yes" : "no");
  left = leftovers (path);
  g_print ("leftovers:%s\n", left);

  state = crash_describe_path (path, &error);
  if (state == NULL)
    {
      crash_print_error ("strict", error);
      return EXIT_CHECK_FAILED;
    }
  g_print ("strict: ok\nstate-begin\n%sstate-end\n", state);
  return 0;
}
