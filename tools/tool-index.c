/* tool-index.c — sharded checkpoints: split, merge
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "safetensors-index.h"

#include "tool-common.h"
#include "tool-progress.h"

#define COPY_CHUNK_SIZE (4 * 1024 * 1024)
#define DEFAULT_MAX_SHARD_SIZE G_GUINT64_CONSTANT (5000000000)

static int
compare_strings (const void *a,
                 const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Writes @tensors (names kept) and @metadata to @destination, data chunk
 * by chunk, as the next part of @progress. */
static gboolean
write_tensors (GPtrArray        *tensors,
               GHashTable       *metadata,
               GFile            *destination,
               ToolProgress     *progress,
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

  return safetensors_writer_finish (writer, NULL, error);
}

/* ------------------------------------------------------------------ */
/* split                                                              */
/* ------------------------------------------------------------------ */

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

static char *
index_json (GPtrArray  *shards,
            GPtrArray  *shard_names,
            guint64     total_size)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) shard_of = g_hash_table_new (g_str_hash, g_str_equal);
  GString *out = g_string_new ("{\n  \"metadata\": {\n    \"total_size\": ");

  for (guint s = 0; s < shards->len; s++)
    {
      GPtrArray *tensors = g_ptr_array_index (shards, s);

      for (guint i = 0; i < tensors->len; i++)
        {
          const char *name = safetensors_tensor_get_name (g_ptr_array_index (tensors, i));

          g_ptr_array_add (entries, g_strdup (name));
          g_hash_table_insert (shard_of, (gpointer) name, g_ptr_array_index (shard_names, s));
        }
    }
  qsort (entries->pdata, entries->len, sizeof (char *), compare_strings);

  /* Laid out like json.dumps (index, indent=2, sort_keys=True). */
  tool_json_append_uint64 (out, total_size);
  g_string_append (out, "\n  },\n  \"weight_map\": {");
  for (guint i = 0; i < entries->len; i++)
    {
      const char *name = g_ptr_array_index (entries, i);

      g_string_append (out, i > 0 ? ",\n    " : "\n    ");
      tool_json_append_string (out, name);
      g_string_append (out, ": ");
      tool_json_append_string (out, g_hash_table_lookup (shard_of, name));
    }
  g_string_append (out, entries->len > 0 ? "\n  }\n}\n" : "}\n}\n");

  return g_string_free (out, FALSE);
}

static int
command_split (const ToolCommand  *command,
               int                 argc,
               char              **argv)
{
  g_autofree char *max_text = NULL;
  gboolean no_mmap = FALSE;
  gboolean quiet = FALSE;
  const GOptionEntry entries[] = {
    { "max-shard-size", 0, 0, G_OPTION_ARG_STRING, &max_text,
      "Largest size of tensor data per shard (default 5GB)", "SIZE" },
    TOOL_OPTION_NO_MMAP (&no_mmap),
    TOOL_OPTION_QUIET (&quiet),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_auto(GStrv) names = NULL;
  g_autoptr(ToolProgress) progress = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(GPtrArray) shards = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GPtrArray) shard_names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) metadata = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GFile) folder = NULL;
  g_autoptr(GFile) index_file = NULL;
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
    return tool_fail_with_error (args[0], error);

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

  folder = g_file_new_for_commandline_arg (args[1]);
  if (!g_file_make_directory_with_parents (folder, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS))
        return tool_fail_with_error (args[1], error);
      g_clear_error (&error);
    }

  base = checkpoint_name (args[0]);
  tool_progress_set_total (progress, total);
  for (guint s = 0; s < shards->len; s++)
    {
      g_autoptr(GFile) destination = NULL;
      char *shard_name = g_strdup_printf ("%s-%05u-of-%05u.safetensors", base, s + 1, shards->len);

      g_ptr_array_add (shard_names, shard_name);
      destination = g_file_get_child (folder, shard_name);
      if (!write_tensors (g_ptr_array_index (shards, s), metadata, destination, progress, &error))
        {
          tool_progress_finish (progress, FALSE);
          g_printerr ("%s: %s\n", TOOL_NAME, error->message);
          g_error_free (error);
          return TOOL_EXIT_FAILURE;
        }
    }

  /* The index last: it only names shards that are complete. */
  json = index_json (shards, shard_names, total);
  index_name = g_strconcat (base, ".safetensors.index.json", NULL);
  index_file = g_file_get_child (folder, index_name);
  if (!g_file_replace_contents (index_file, json, strlen (json), NULL, FALSE,
                                G_FILE_CREATE_NONE, NULL, NULL, &error))
    {
      tool_progress_finish (progress, FALSE);
      return tool_fail_with_error (args[1], error);
    }
  tool_progress_finish (progress, TRUE);

  {
    g_autoptr(GString) out = g_string_new (NULL);

    g_string_append_printf (out, "%u shard%s, %" G_GUINT64_FORMAT " bytes of tensors: ",
                            shards->len, shards->len == 1 ? "" : "s", total);
    g_string_append (out, g_file_peek_path (index_file));
    g_string_append_c (out, '\n');
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
  const GOptionEntry entries[] = {
    TOOL_OPTION_QUIET (&quiet),
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(ToolProgress) progress = NULL;
  g_auto(GStrv) args = NULL;
  g_auto(GStrv) names = NULL;
  g_auto(GStrv) shard_names = NULL;
  g_autoptr(GFile) location = NULL;
  g_autoptr(GFile) destination = NULL;
  g_autoptr(SafetensorsIndex) index = NULL;
  g_autoptr(GPtrArray) tensors = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GHashTable) metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GError *error = NULL;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;
  progress = tool_progress_new (quiet);

  location = g_file_new_for_commandline_arg (args[0]);
  index = safetensors_index_open (location, NULL, &error);
  if (index == NULL)
    return tool_fail_with_error (args[0], error);

  names = safetensors_index_get_tensor_names (index);
  for (guint i = 0; names[i] != NULL; i++)
    g_ptr_array_add (tensors, safetensors_index_lookup (index, names[i], NULL));
  tool_progress_set_total (progress, safetensors_index_get_total_size (index));

  /* Shards normally carry the same metadata; different values for one
   * key cannot be merged. */
  shard_names = safetensors_index_get_shard_names (index);
  for (guint s = 0; shard_names[s] != NULL; s++)
    {
      SafetensorsFile *shard = safetensors_index_get_shard (index, shard_names[s]);
      g_auto(GStrv) keys = safetensors_file_get_metadata_keys (shard);

      for (guint k = 0; keys[k] != NULL; k++)
        {
          const char *value = safetensors_file_get_metadata_value (shard, keys[k]);
          const char *known = g_hash_table_lookup (metadata, keys[k]);

          if (known != NULL && !g_str_equal (known, value))
            {
              g_printerr ("%s: %s: metadata “%s” differs between shards\n",
                          TOOL_NAME, args[0], keys[k]);
              return TOOL_EXIT_FAILURE;
            }
          /* Values owned by the shards, which the index keeps open. */
          g_hash_table_insert (metadata, g_strdup (keys[k]), (gpointer) value);
        }
    }

  destination = g_file_new_for_commandline_arg (args[1]);
  if (!write_tensors (tensors, metadata, destination, progress, &error))
    {
      tool_progress_finish (progress, FALSE);
      return tool_fail_with_error (args[1], error);
    }
  tool_progress_finish (progress, TRUE);

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
