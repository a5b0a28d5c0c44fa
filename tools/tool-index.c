/* tool-index.c — sharded checkpoints: split, merge
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "safetensors-error-private.h"
#include "safetensors-index.h"
#include "safetensors-index-private.h"
#include "safetensors-sparse-private.h"

#include "tool-common.h"
#include "tool-index.h"
#include "tool-progress.h"

#define COPY_CHUNK_SIZE (4 * 1024 * 1024)
#define DEFAULT_MAX_SHARD_SIZE G_GUINT64_CONSTANT (5000000000)

static int
compare_strings (const void *a,
                 const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* ------------------------------------------------------------------ */
/* Reading an index strictly                                          */
/* ------------------------------------------------------------------ */

/**
 * tool_index_set_error:
 * @error: return location for a #GError
 * @file: the index
 * @format: printf() format of the message
 * @...: its arguments
 *
 * Sets %SAFETENSORS_ERROR_INVALID_DATA about @file, as
 * safetensors_index_open() does.
 *
 * Returns: %FALSE
 */
gboolean
tool_index_set_error (GError      **error,
                      GFile        *file,
                      const char   *format,
                      ...)
{
  g_autofree char *name = g_file_get_parse_name (file);
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  return safetensors_set_invalid_data_for (error, name, "%s", message);
}

/**
 * tool_index_parse:
 * @file: an index, `{"metadata": {"total_size": N}, "weight_map": {tensor: shard}}`
 * @weight_map: (element-type utf8 utf8): gets tensor name → shard name
 * @error: return location for a #GError
 *
 * Reads an index strictly, as safetensors_index_open() does, but without
 * opening the shards (a PyTorch index names .bin files).
 *
 * Returns: %TRUE on success
 */
gboolean
tool_index_parse (GFile       *file,
                  GHashTable  *weight_map,
                  GError     **error)
{
  g_autofree char *text = NULL;
  g_autofree char *name = g_file_get_parse_name (file);
  g_autoptr(SafetensorsIndexContents) contents = NULL;
  GHashTableIter iter;
  gpointer tensor, shard;
  gsize length = 0;

  if (!g_file_load_contents (file, NULL, &text, &length, NULL, error))
    return FALSE;
  contents = safetensors_index_contents_parse (name, text, length, error);
  if (contents == NULL)
    return FALSE;

  g_hash_table_iter_init (&iter, contents->weight_map);
  while (g_hash_table_iter_next (&iter, &tensor, &shard))
    {
      g_hash_table_iter_steal (&iter);
      g_hash_table_insert (weight_map, tensor, shard);
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Writing an index and its shards                                   */
/* ------------------------------------------------------------------ */

/**
 * tool_index_to_json:
 * @weight_map: (element-type utf8 utf8): tensor name → shard file name
 * @total_size: bytes of tensor data of all the shards
 *
 * Returns: (transfer full): the text of a `.safetensors.index.json` file
 */
char *
tool_index_to_json (GHashTable *weight_map,
                    guint64     total_size)
{
  g_autofree gpointer *names = NULL;
  guint n_names = 0;
  GString *out = g_string_new ("{\n  \"metadata\": {\n    \"total_size\": ");

  names = g_hash_table_get_keys_as_array (weight_map, &n_names);
  qsort (names, n_names, sizeof (char *), compare_strings);

  tool_json_append_uint64 (out, total_size);
  g_string_append (out, "\n  },\n  \"weight_map\": {");
  for (guint i = 0; i < n_names; i++)
    {
      g_string_append (out, i > 0 ? ",\n    " : "\n    ");
      tool_json_append_string (out, names[i]);
      g_string_append (out, ": ");
      tool_json_append_string (out, g_hash_table_lookup (weight_map, names[i]));
    }
  g_string_append (out, n_names > 0 ? "\n  }\n}\n" : "}\n}\n");

  return g_string_free (out, FALSE);
}

struct _ToolOutputFolder
{
  char      *path;      /* the folder */
  char      *staging;   /* the hidden folder inside it */
  GPtrArray *names;     /* files written, in commit order */
  gboolean   created;   /* the folder did not exist */
  gboolean   committed;
};

/**
 * tool_output_folder_new:
 * @arg: a folder, as given on the command line; made with its parents
 *   if missing
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the folder, or %NULL on error
 */
ToolOutputFolder *
tool_output_folder_new (const char  *arg,
                        GError     **error)
{
  g_autoptr(GFile) folder = g_file_new_for_commandline_arg (arg);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(ToolOutputFolder) self = g_new0 (ToolOutputFolder, 1);

  self->names = g_ptr_array_new_with_free_func (g_free);
  self->path = g_file_get_path (folder);
  if (self->path == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "not a local folder");
      return NULL;
    }

  if (g_file_make_directory_with_parents (folder, NULL, &local_error))
    self->created = TRUE;
  else if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  else if (!g_file_test (self->path, G_FILE_TEST_IS_DIR))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
                           "exists and is not a folder");
      return NULL;
    }

  /* In the folder itself, so that moving the files in is a rename. */
  self->staging = g_build_filename (self->path, ".safetensors-tool-XXXXXX", NULL);
  if (g_mkdtemp_full (self->staging, 0700) == NULL)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "cannot make a folder in it: %s", g_strerror (saved_errno));
      g_clear_pointer (&self->staging, g_free);
      return NULL;
    }

  return g_steal_pointer (&self);
}

GFile *
tool_output_folder_add (ToolOutputFolder *self,
                        const char       *name)
{
  g_assert (!self->committed);
  g_ptr_array_add (self->names, g_strdup (name));
  return g_file_new_build_filename (self->staging, name, NULL);
}

GFile *
tool_output_folder_get_final (ToolOutputFolder *self,
                              const char       *name)
{
  return g_file_new_build_filename (self->path, name, NULL);
}

static gboolean
set_errno_error (GError     **error,
                 int          saved_errno,
                 const char  *what,
                 const char  *name)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "cannot %s %s: %s", what, name, g_strerror (saved_errno));
  return FALSE;
}

/* Removes the files of @path, then @path. */
static void
remove_folder (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_unlink (child) != 0 && errno == EISDIR)
        remove_folder (child);
    }
  g_rmdir (path);
}

/**
 * tool_output_folder_commit:
 * @self: a folder
 * @error: return location for a #GError
 *
 * Moves the files written into the folder, replacing files of the same
 * names, and makes that durable. The files they replace are kept aside
 * (hard links, or moved when the file system has none) until all the new
 * ones are in: if one cannot be moved in, the others are taken out again
 * and the old files put back.
 *
 * Returns: %TRUE on success
 */
gboolean
tool_output_folder_commit (ToolOutputFolder  *self,
                           GError           **error)
{
  guint n = self->names->len;
  g_autofree char *aside = g_build_filename (self->staging, ".replaced", NULL);
  g_autofree gboolean *kept = g_new0 (gboolean, n);
  g_autofree char *last = NULL;
  guint moved = 0;

  if (g_mkdir (aside, 0700) != 0)
    return set_errno_error (error, errno, "make a folder in", self->path);

  for (guint i = 0; i < n; i++)
    {
      const char *name = g_ptr_array_index (self->names, i);
      g_autofree char *target = g_build_filename (self->path, name, NULL);
      g_autofree char *backup = g_strdup_printf ("%s/%u", aside, i);
      GStatBuf st;

      if (g_lstat (target, &st) != 0 || !S_ISREG (st.st_mode))
        continue;
      if (link (target, backup) != 0 && g_rename (target, backup) != 0)
        {
          set_errno_error (error, errno, "keep aside the old", name);
          goto undo;
        }
      kept[i] = TRUE;
    }

  for (; moved < n; moved++)
    {
      const char *name = g_ptr_array_index (self->names, moved);
      g_autofree char *from = g_build_filename (self->staging, name, NULL);

      g_free (last);
      last = g_build_filename (self->path, name, NULL);
      if (g_rename (from, last) != 0)
        {
          set_errno_error (error, errno, "move into place", name);
          goto undo;
        }
    }

  self->committed = TRUE;
  remove_folder (self->staging);
  return last == NULL || safetensors_fsync_directory_of (last, error);

undo:
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *target = g_build_filename (self->path,
                                                  (const char *) g_ptr_array_index (self->names, i),
                                                  NULL);
      g_autofree char *backup = g_strdup_printf ("%s/%u", aside, i);

      if (kept[i])
        g_rename (backup, target);
      else if (i < moved)
        g_unlink (target);
    }
  return FALSE;
}

void
tool_output_folder_free (ToolOutputFolder *self)
{
  /* Ours alone: whatever is in it goes, writers' temporary files too. */
  if (self->staging != NULL)
    remove_folder (self->staging);
  /* Only if empty: nothing else was in it. */
  if (self->created && !self->committed)
    g_rmdir (self->path);

  g_free (self->path);
  g_free (self->staging);
  g_ptr_array_unref (self->names);
  g_free (self);
}

/* ------------------------------------------------------------------ */
/* split                                                              */
/* ------------------------------------------------------------------ */

/* Writes @tensors (names kept) and @metadata to @destination, data chunk
 * by chunk, as the next part of @progress. Gives the size of the file
 * written in @out_size. */
static gboolean
write_tensors (GPtrArray        *tensors,
               GHashTable       *metadata,
               GFile            *destination,
               ToolProgress     *progress,
               guint64          *out_size,
               GError          **error)
{
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (SAFETENSORS_WRITER_FLAGS_NONE);
  GHashTableIter iter;
  gpointer key, value;

  for (guint i = 0; i < tensors->len; i++)
    {
      SafetensorsTensor *tensor = g_ptr_array_index (tensors, i);
      guint n_dims = 0;
      const guint64 *shape = safetensors_tensor_get_shape (tensor, &n_dims);

      if (!safetensors_writer_add_tensor (writer, safetensors_tensor_get_name (tensor),
                                          safetensors_tensor_get_dtype (tensor),
                                          shape, n_dims, NULL, error))
        return FALSE;
    }

  g_hash_table_iter_init (&iter, metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    safetensors_writer_set_metadata_value (writer, key, value);

  if (!safetensors_writer_begin (writer, destination, NULL, error))
    return FALSE;
  tool_progress_watch_writer (progress, writer);

  for (guint i = 0; i < tensors->len; i++)
    {
      SafetensorsTensor *tensor = g_ptr_array_index (tensors, i);
      guint64 n_bytes = safetensors_tensor_get_n_bytes (tensor);

      for (guint64 offset = 0; offset < n_bytes; offset += COPY_CHUNK_SIZE)
        {
          g_autoptr(GBytes) chunk = NULL;
          gsize len = 0;
          const guint8 *data;

          chunk = safetensors_tensor_read_range (tensor, offset,
                                                 MIN (COPY_CHUNK_SIZE, n_bytes - offset),
                                                 NULL, error);
          if (chunk == NULL)
            {
              safetensors_writer_abort (writer);
              return FALSE;
            }
          data = g_bytes_get_data (chunk, &len);
          if (!safetensors_writer_write_chunk (writer, safetensors_tensor_get_name (tensor),
                                               data, len, NULL, error))
            return FALSE;
        }
    }

  *out_size = safetensors_writer_get_size (writer, NULL);
  return safetensors_writer_finish (writer, NULL, error);
}

/* {"name": …, "dtype": …, "shape": […], "n_bytes": …}, as ls --json
 * without the offsets. */
static void
append_tensor_json (GString           *out,
                    SafetensorsTensor *tensor)
{
  g_string_append_c (out, '{');
  tool_json_append_tensor_members (out, tensor);
  g_string_append_c (out, '}');
}

/* "5GB" (powers of 1000, as the Hugging Face libraries count), "2GiB"
 * (powers of 1024) or a number of bytes. */
static gboolean
parse_size (const char *text,
            guint64    *out)
{
  static const struct { const char *unit; guint64 factor; } units[] = {
    { "", 1 }, { "B", 1 },
    { "KB", G_GUINT64_CONSTANT (1000) }, { "MB", G_GUINT64_CONSTANT (1000000) },
    { "GB", G_GUINT64_CONSTANT (1000000000) }, { "TB", G_GUINT64_CONSTANT (1000000000000) },
    { "KIB", G_GUINT64_CONSTANT (1) << 10 }, { "MIB", G_GUINT64_CONSTANT (1) << 20 },
    { "GIB", G_GUINT64_CONSTANT (1) << 30 }, { "TIB", G_GUINT64_CONSTANT (1) << 40 },
  };
  guint64 number;
  char *end = NULL;

  if (!g_ascii_isdigit (*text))
    return FALSE;
  errno = 0;
  number = g_ascii_strtoull (text, &end, 10);
  if (errno != 0)
    return FALSE;

  for (gsize i = 0; i < G_N_ELEMENTS (units); i++)
    if (g_ascii_strcasecmp (end, units[i].unit) == 0)
      return g_uint64_checked_mul (out, number, units[i].factor) && *out > 0;

  return FALSE;
}

/* "dir/model.safetensors" → "model" */
static char *
checkpoint_name (const char *arg)
{
  g_autoptr(GFile) file = g_file_new_for_commandline_arg (arg);
  char *base = g_file_get_basename (file);

  if (g_str_has_suffix (base, ".safetensors") && strlen (base) > strlen (".safetensors"))
    base[strlen (base) - strlen (".safetensors")] = '\0';
  return base;
}

static int
command_split (const ToolCommand  *command,
               int                 argc,
               char              **argv)
{
  g_autofree char *max_text = NULL;
  gboolean no_mmap = FALSE;
  gboolean quiet = FALSE;
  gboolean json_output = FALSE;
  const GOptionEntry entries[] = {
    { "max-shard-size", 0, 0, G_OPTION_ARG_STRING, &max_text,
      "Largest size of tensor data per shard (default 5GB)", "SIZE" },
    TOOL_OPTION_NO_MMAP (&no_mmap),
    TOOL_OPTION_QUIET (&quiet),
    TOOL_OPTION_JSON (&json_output),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_auto(GStrv) names = NULL;
  g_autoptr(ToolProgress) progress = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(GPtrArray) shards = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GHashTable) weight_map = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_autoptr(GHashTable) metadata = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(ToolOutputFolder) folder = NULL;
  g_autoptr(GFile) index_file = NULL;
  g_autoptr(GFile) index_final = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autofree char *base = NULL;
  g_autofree char *index_name = NULL;
  g_autofree char *json = NULL;
  g_auto(GStrv) keys = NULL;
  guint64 max_size = DEFAULT_MAX_SHARD_SIZE;
  guint64 current = 0, total = 0;
  GError *error = NULL;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;
  progress = tool_progress_new (quiet);
  if (max_text != NULL && !parse_size (max_text, &max_size))
    {
      g_printerr ("%s: --max-shard-size takes a size such as 5GB, 500MiB or 1000000, not “%s”\n",
                  g_get_prgname (), max_text);
      return TOOL_EXIT_USAGE;
    }

  file = tool_open_file (args[0], no_mmap, &error);
  if (file == NULL)
    return tool_fail_with_error_json (args[0], error, json_output);

  /* Tensors in name order, a new shard when the next would overflow the
   * current one; a tensor larger than the limit gets a shard of its own. */
  names = safetensors_file_get_tensor_names (file);
  qsort (names, g_strv_length (names), sizeof (char *), compare_strings);
  for (guint i = 0; names[i] != NULL; i++)
    {
      SafetensorsTensor *tensor = safetensors_file_lookup (file, names[i], NULL);
      guint64 n_bytes = safetensors_tensor_get_n_bytes (tensor);

      if (shards->len == 0 || (current > 0 && n_bytes > max_size - MIN (current, max_size)))
        {
          g_ptr_array_add (shards, g_ptr_array_new_with_free_func (g_object_unref));
          current = 0;
        }
      g_ptr_array_add (g_ptr_array_index (shards, shards->len - 1), tensor);
      current += n_bytes;
      total += n_bytes;
    }
  if (shards->len == 0)
    g_ptr_array_add (shards, g_ptr_array_new_with_free_func (g_object_unref));

  keys = safetensors_file_get_metadata_keys (file);
  for (guint k = 0; keys[k] != NULL; k++)
    g_hash_table_insert (metadata, keys[k],
                         (gpointer) safetensors_file_get_metadata_value (file, keys[k]));

  /* All the shards or none: a failure leaves OUTDIR as it was. */
  folder = tool_output_folder_new (args[1], &error);
  if (folder == NULL)
    return tool_fail_with_error_json (args[1], error, json_output);

  base = checkpoint_name (args[0]);
  tool_progress_set_total (progress, total);
  for (guint s = 0; s < shards->len; s++)
    {
      g_autoptr(GFile) destination = NULL;
      g_autoptr(GFile) final = NULL;
      GPtrArray *tensors = g_ptr_array_index (shards, s);
      g_autofree char *shard_name = g_strdup_printf ("%s-%05u-of-%05u.safetensors",
                                                     base, s + 1, shards->len);
      guint64 shard_bytes = 0, size = 0;

      for (guint i = 0; i < tensors->len; i++)
        g_hash_table_insert (weight_map,
                             (gpointer) safetensors_tensor_get_name (g_ptr_array_index (tensors, i)),
                             g_strdup (shard_name));
      destination = tool_output_folder_add (folder, shard_name);
      if (!write_tensors (tensors, metadata, destination, progress, &size, &error))
        {
          tool_progress_finish (progress, FALSE);
          return tool_fail_with_error_json (args[1], error, json_output);
        }

      /* {"file": …, "n_tensors": …, "tensor_bytes": …, "file_size": …, "tensors": […]} */
      final = tool_output_folder_get_final (folder, shard_name);
      for (guint i = 0; i < tensors->len; i++)
        shard_bytes += safetensors_tensor_get_n_bytes (g_ptr_array_index (tensors, i));
      g_string_append (out, s > 0 ? ",{" : "{");
      tool_json_append_written_file (out, g_file_peek_path (final), tensors->len, shard_bytes,
                                     size);
      g_string_append (out, ",\"tensors\":[");
      for (guint i = 0; i < tensors->len; i++)
        {
          if (i > 0)
            g_string_append_c (out, ',');
          append_tensor_json (out, g_ptr_array_index (tensors, i));
        }
      g_string_append (out, "]}");
    }

  /* The index last: it only names shards that are complete. */
  json = tool_index_to_json (weight_map, total);
  index_name = g_strconcat (base, TOOL_INDEX_SUFFIX, NULL);
  index_file = tool_output_folder_add (folder, index_name);
  index_final = tool_output_folder_get_final (folder, index_name);
  if (!g_file_replace_contents (index_file, json, strlen (json), NULL, FALSE,
                                G_FILE_CREATE_NONE, NULL, NULL, &error) ||
      !tool_output_folder_commit (folder, &error))
    {
      tool_progress_finish (progress, FALSE);
      return tool_fail_with_error_json (args[1], error, json_output);
    }
  tool_progress_finish (progress, TRUE);

  if (json_output)
    {
      g_autoptr(GString) document = g_string_new ("{");

      tool_json_append_member (document, "file");
      tool_json_append_string (document, args[0]);
      g_string_append_c (document, ',');
      tool_json_append_member (document, "index");
      tool_json_append_string (document, g_file_peek_path (index_final));
      g_string_append_c (document, ',');
      tool_json_append_member (document, "total_size");
      tool_json_append_uint64 (document, total);
      g_string_append (document, ",\"shards\":[");
      g_string_append_len (document, out->str, out->len);
      g_string_append (document, "]}\n");
      tool_write_stdout (document);
    }
  else
    {
      g_string_printf (out, "%u shard%s, %" G_GUINT64_FORMAT " bytes of tensors: %s\n",
                       shards->len, shards->len == 1 ? "" : "s", total,
                       g_file_peek_path (index_final));
      tool_write_stdout (out);
    }

  return TOOL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* merge                                                              */
/* ------------------------------------------------------------------ */

static int
command_merge (const ToolCommand  *command,
               int                 argc,
               char              **argv)
{
  gboolean quiet = FALSE;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    TOOL_OPTION_QUIET (&quiet),
    TOOL_OPTION_JSON (&json),
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(ToolProgress) progress = NULL;
  g_auto(GStrv) args = NULL;
  g_auto(GStrv) names = NULL;
  g_autoptr(GFile) destination = NULL;
  g_autoptr(SafetensorsIndex) index = NULL;
  g_autoptr(GPtrArray) tensors = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GHashTable) metadata = NULL;
  GError *error = NULL;
  guint64 size = 0;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;
  progress = tool_progress_new (quiet);

  index = tool_open_index (args[0], &error);
  if (index == NULL)
    return tool_fail_with_error_json (args[0], error, json);

  names = safetensors_index_get_tensor_names (index);
  for (guint i = 0; names[i] != NULL; i++)
    g_ptr_array_add (tensors, safetensors_index_lookup (index, names[i], NULL));
  tool_progress_set_total (progress, safetensors_index_get_total_size (index));

  /* Shards normally carry the same metadata; different values for one
   * key cannot be merged. */
  metadata = tool_index_get_metadata (index, &error);
  if (metadata == NULL)
    return tool_fail_with_error_json (args[0], error, json);

  destination = g_file_new_for_commandline_arg (args[1]);
  if (!write_tensors (tensors, metadata, destination, progress, &size, &error))
    {
      tool_progress_finish (progress, FALSE);
      return tool_fail_with_error_json (args[1], error, json);
    }
  tool_progress_finish (progress, TRUE);

  /* As cat and extract: {"file", "n_tensors", "tensor_bytes", "file_size"} */
  if (json)
    {
      g_autoptr(GString) out = g_string_new ("{");

      tool_json_append_written_file (out, args[1], tensors->len,
                                     safetensors_index_get_total_size (index), size);
      g_string_append (out, "}\n");
      tool_write_stdout (out);
    }

  return TOOL_EXIT_OK;
}

const ToolCommand tool_index_commands[] = {
  {
    .name = "split",
    .parameters = "IN OUTDIR",
    .summary = "Split a file into shards with an index",
    .description = "Writes the tensors of IN, in name order, to OUTDIR/NAME-00001-of-0000N.\n"
                   "safetensors files of at most --max-shard-size bytes of tensor data\n"
                   "each (a larger tensor gets a shard of its own), every shard with the\n"
                   "metadata of IN, then OUTDIR/NAME.safetensors.index.json naming the\n"
                   "shard of each tensor. NAME is IN's file name without .safetensors.\n"
                   "Sizes count in powers of 1000 (5GB) or 1024 (5GiB).",
    .min_args = 2,
    .max_args = 2,
    .run = command_split,
  },
  {
    .name = "merge",
    .parameters = "INDEX.json OUT",
    .summary = "Merge the shards of a sharded checkpoint into one file",
    .description = "Reads a .safetensors.index.json file, checks it against its shards\n"
                   "(every shard exists, every tensor is where the index says and in one\n"
                   "shard only, total_size matches) and writes all the tensors to OUT,\n"
                   "laid out canonically, with the shards' metadata.",
    .min_args = 2,
    .max_args = 2,
    .run = command_merge,
  },
  { NULL }
};
