/* tool-inspect.c — read-only commands: ls, info, header, validate
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdlib.h>
#include <string.h>

#include "tool-common.h"

/* ls */

/* The columns of a tensor's line; an index adds its shard's. */
static char **
tensor_row (SafetensorsTensor *tensor,
            const char        *shard_name)
{
  GString *cell = g_string_new (NULL);
  char **row = g_new0 (char *, 7);
  guint64 begin = 0, end = 0;

  tool_append_display_name (cell, safetensors_tensor_get_name (tensor), TRUE);
  row[0] = g_string_free (cell, FALSE);
  row[1] = g_strdup (safetensors_dtype_to_string (safetensors_tensor_get_dtype (tensor)));

  cell = g_string_new (NULL);
  tool_append_shape (cell, tensor, ", ");
  row[2] = g_string_free (cell, FALSE);

  row[3] = g_strdup_printf ("%" G_GUINT64_FORMAT, safetensors_tensor_get_n_bytes (tensor));

  safetensors_tensor_get_data_offsets (tensor, &begin, &end);
  row[4] = g_strdup_printf ("[%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "]", begin, end);

  if (shard_name != NULL)
    {
      cell = g_string_new (NULL);
      tool_append_display_name (cell, shard_name, TRUE);
      row[5] = g_string_free (cell, FALSE);
    }

  return row;
}

static void
append_tensor_json (GString           *out,
                    SafetensorsTensor *tensor,
                    const char        *shard_name)
{
  guint64 begin = 0, end = 0;

  safetensors_tensor_get_data_offsets (tensor, &begin, &end);

  g_string_append_c (out, '{');
  tool_json_append_tensor_members (out, tensor);
  g_string_append_c (out, ',');
  tool_json_append_member (out, "data_offsets");
  g_string_append_c (out, '[');
  tool_json_append_uint64 (out, begin);
  g_string_append_c (out, ',');
  tool_json_append_uint64 (out, end);
  g_string_append (out, "],");
  tool_json_append_member (out, "file_offset");
  tool_json_append_uint64 (out, safetensors_tensor_get_file_offset (tensor));
  if (shard_name != NULL)
    {
      g_string_append_c (out, ',');
      tool_json_append_member (out, "shard");
      tool_json_append_string (out, shard_name);
    }
  g_string_append_c (out, '}');
}

/* The tensors of @file in the order of their data, as table rows or, one
 * object per line (readable, and still a single JSON document), as
 * members of a JSON array. */
static void
append_tensors (GString         *out,
                GPtrArray       *rows,
                SafetensorsFile *file,
                const char      *shard_name)
{
  guint n_tensors = safetensors_file_get_n_tensors (file);

  for (guint i = 0; i < n_tensors; i++)
    {
      g_autoptr(SafetensorsTensor) tensor = g_list_model_get_item (G_LIST_MODEL (file), i);

      if (rows != NULL)
        {
          g_ptr_array_add (rows, tensor_row (tensor, shard_name));
          continue;
        }
      g_string_append (out, out->len > 1 ? ",\n  " : "\n  ");
      append_tensor_json (out, tensor, shard_name);
    }
}

static int
command_ls (const ToolCommand  *command,
            int                 argc,
            char              **argv)
{
  gboolean json = FALSE;
  gboolean no_mmap = FALSE;
  const GOptionEntry entries[] = {
    TOOL_OPTION_JSON (&json),
    TOOL_OPTION_NO_MMAP (&no_mmap),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(SafetensorsIndex) index = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GString) out = NULL;
  GError *error = NULL;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  if (tool_arg_is_index (args[0]))
    index = tool_open_index (args[0], &error);
  else
    file = tool_open_file (args[0], no_mmap, &error);
  if (file == NULL && index == NULL)
    return tool_fail_with_error_json (args[0], error, json);

  out = g_string_new (json ? "[" : NULL);
  if (!json)
    rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);

  if (index != NULL)
    {
      g_auto(GStrv) shard_names = safetensors_index_get_shard_names (index);

      /* Shard by shard, in the order of their names. */
      for (guint s = 0; shard_names[s] != NULL; s++)
        append_tensors (out, rows, safetensors_index_get_shard (index, shard_names[s]),
                        shard_names[s]);
    }
  else
    {
      append_tensors (out, rows, file, NULL);
    }

  if (json)
    g_string_append (out, out->len > 1 ? "\n]\n" : "]\n");
  else
    tool_append_table (out, rows, index != NULL ? "lllrll" : "lllrl", 0);
  tool_write_stdout (out);

  return TOOL_EXIT_OK;
}

/* info */

typedef struct
{
  guint   n_tensors;
  guint64 tensor_bytes;
  guint   dtype_counts[SAFETENSORS_DTYPE_COUNT];
} TensorCounts;

static void
tensor_counts_add_file (TensorCounts    *counts,
                        SafetensorsFile *file)
{
  guint n_tensors = safetensors_file_get_n_tensors (file);

  for (guint i = 0; i < n_tensors; i++)
    {
      g_autoptr(SafetensorsTensor) tensor = g_list_model_get_item (G_LIST_MODEL (file), i);

      /* No overflow: a file that opened has tensors tiling its data area,
       * so the sum is at most the file size, and an index checks the sum
       * over its shards. */
      counts->tensor_bytes += safetensors_tensor_get_n_bytes (tensor);
      counts->dtype_counts[safetensors_tensor_get_dtype (tensor)]++;
    }
  counts->n_tensors += n_tensors;
}

/* The metadata of @file, with strings owned by it. */
static GHashTable *
file_metadata (SafetensorsFile *file)
{
  GHashTable *metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  char **keys = safetensors_file_get_metadata_keys (file);

  for (guint i = 0; keys[i] != NULL; i++)
    g_hash_table_insert (metadata, keys[i],
                         (gpointer) safetensors_file_get_metadata_value (file, keys[i]));
  /* The table took the strings. */
  g_free (keys);

  return metadata;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The keys of @metadata, sorted bytewise, owned by it. */
static const char **
sorted_keys (GHashTable *metadata)
{
  guint n_keys = 0;
  const char **keys = (const char **) g_hash_table_get_keys_as_array (metadata, &n_keys);

  qsort (keys, n_keys, sizeof (char *), compare_strings);
  return keys;
}

static void
append_dtype_counts_text (GString            *out,
                          const TensorCounts *counts)
{
  gboolean first = TRUE;

  for (guint dtype = 0; dtype < SAFETENSORS_DTYPE_COUNT; dtype++)
    {
      if (counts->dtype_counts[dtype] == 0)
        continue;
      g_string_append_printf (out, "%s%s %u", first ? "" : ", ",
                              safetensors_dtype_to_string (dtype), counts->dtype_counts[dtype]);
      first = FALSE;
    }

  if (first)
    g_string_append (out, "none");
}

static void
append_metadata_text (GString    *out,
                      GHashTable *metadata)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_autofree const char **keys = sorted_keys (metadata);

  if (keys[0] == NULL)
    {
      g_string_append (out, "Metadata:      none\n");
      return;
    }

  for (guint i = 0; keys[i] != NULL; i++)
    {
      GString *cell = g_string_new (NULL);
      char **row = g_new0 (char *, 3);

      tool_append_display_name (cell, keys[i], FALSE);
      g_string_append_c (cell, ':');
      row[0] = g_string_free (cell, FALSE);

      cell = g_string_new (NULL);
      tool_append_display_name (cell, g_hash_table_lookup (metadata, keys[i]), FALSE);
      row[1] = g_string_free (cell, FALSE);

      g_ptr_array_add (rows, row);
    }

  g_string_append (out, "Metadata:\n");
  tool_append_table (out, rows, "ll", 2);
}

static void
append_counts_text (GString            *out,
                    const TensorCounts *counts)
{
  g_string_append_printf (out,
                          "Tensors:       %u\n"
                          "Tensor bytes:  %" G_GUINT64_FORMAT "\n"
                          "Dtypes:        ",
                          counts->n_tensors, counts->tensor_bytes);
  append_dtype_counts_text (out, counts);
  g_string_append_c (out, '\n');
}

/* The members every info object has, after the caller's first ones. */
static void
append_counts_json (GString            *out,
                    const TensorCounts *counts,
                    GHashTable         *metadata)
{
  g_autofree const char **keys = sorted_keys (metadata);
  gboolean first = TRUE;

  tool_json_append_member (out, "n_tensors");
  tool_json_append_uint64 (out, counts->n_tensors);
  g_string_append (out, ",\n  ");
  tool_json_append_member (out, "tensor_bytes");
  tool_json_append_uint64 (out, counts->tensor_bytes);
  g_string_append (out, ",\n  ");

  tool_json_append_member (out, "dtypes");
  g_string_append_c (out, '{');
  for (guint dtype = 0; dtype < SAFETENSORS_DTYPE_COUNT; dtype++)
    {
      if (counts->dtype_counts[dtype] == 0)
        continue;
      if (!first)
        g_string_append_c (out, ',');
      tool_json_append_member (out, safetensors_dtype_to_string (dtype));
      tool_json_append_uint64 (out, counts->dtype_counts[dtype]);
      first = FALSE;
    }
  g_string_append (out, "},\n  ");

  tool_json_append_member (out, "metadata");
  g_string_append_c (out, '{');
  for (guint i = 0; keys[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      tool_json_append_member (out, keys[i]);
      tool_json_append_string (out, g_hash_table_lookup (metadata, keys[i]));
    }
  g_string_append (out, "}\n}\n");
}

static void
append_file_info (GString         *out,
                  SafetensorsFile *file,
                  gboolean         json)
{
  g_autoptr(GHashTable) metadata = file_metadata (file);
  TensorCounts counts = { 0 };
  guint64 file_size = safetensors_file_get_size (file);
  guint64 header_size = safetensors_file_get_header_size (file);
  guint64 data_start = safetensors_file_get_data_start (file);

  tensor_counts_add_file (&counts, file);

  if (!json)
    {
      g_string_append_printf (out,
                              "File size:     %" G_GUINT64_FORMAT " bytes\n"
                              "Header size:   %" G_GUINT64_FORMAT " bytes\n"
                              "Data start:    %" G_GUINT64_FORMAT "\n",
                              file_size, header_size, data_start);
      append_counts_text (out, &counts);
      append_metadata_text (out, metadata);
      return;
    }

  g_string_append (out, "{\n  ");
  tool_json_append_member (out, "file_size");
  tool_json_append_uint64 (out, file_size);
  g_string_append (out, ",\n  ");
  tool_json_append_member (out, "header_size");
  tool_json_append_uint64 (out, header_size);
  g_string_append (out, ",\n  ");
  tool_json_append_member (out, "data_start");
  tool_json_append_uint64 (out, data_start);
  g_string_append (out, ",\n  ");
  append_counts_json (out, &counts, metadata);
}

/* An index: its shards, then what the merged file would hold. */
static void
append_index_info (GString          *out,
                   SafetensorsIndex *index,
                   GHashTable       *metadata,
                   gboolean          json)
{
  g_auto(GStrv) shard_names = safetensors_index_get_shard_names (index);
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  guint n_shards = g_strv_length (shard_names);
  TensorCounts counts = { 0 };

  if (json)
    {
      g_string_append (out, "{\n  ");
      tool_json_append_member (out, "n_shards");
      tool_json_append_uint64 (out, n_shards);
      g_string_append (out, ",\n  ");
      tool_json_append_member (out, "shards");
      g_string_append_c (out, '[');
    }

  for (guint s = 0; s < n_shards; s++)
    {
      SafetensorsFile *shard = safetensors_index_get_shard (index, shard_names[s]);
      TensorCounts shard_counts = { 0 };

      tensor_counts_add_file (&shard_counts, shard);
      tensor_counts_add_file (&counts, shard);

      if (json)
        {
          g_string_append (out, s > 0 ? ",\n    {" : "\n    {");
          tool_json_append_member (out, "file");
          tool_json_append_string (out, shard_names[s]);
          g_string_append_c (out, ',');
          tool_json_append_member (out, "file_size");
          tool_json_append_uint64 (out, safetensors_file_get_size (shard));
          g_string_append_c (out, ',');
          tool_json_append_member (out, "n_tensors");
          tool_json_append_uint64 (out, shard_counts.n_tensors);
          g_string_append_c (out, ',');
          tool_json_append_member (out, "tensor_bytes");
          tool_json_append_uint64 (out, shard_counts.tensor_bytes);
          g_string_append_c (out, '}');
        }
      else
        {
          GString *cell = g_string_new (NULL);
          char **row = g_new0 (char *, 4);

          tool_append_display_name (cell, shard_names[s], TRUE);
          row[0] = g_string_free (cell, FALSE);
          row[1] = g_strdup_printf ("%u tensor%s", shard_counts.n_tensors,
                                    shard_counts.n_tensors == 1 ? "" : "s");
          row[2] = g_strdup_printf ("%" G_GUINT64_FORMAT " bytes", shard_counts.tensor_bytes);
          g_ptr_array_add (rows, row);
        }
    }

  if (!json)
    {
      g_string_append_printf (out, "Shards:        %u\n", n_shards);
      tool_append_table (out, rows, "lrr", 2);
      g_string_append_printf (out, "Total size:    %" G_GUINT64_FORMAT " bytes\n",
                              safetensors_index_get_total_size (index));
      append_counts_text (out, &counts);
      append_metadata_text (out, metadata);
      return;
    }

  g_string_append (out, n_shards > 0 ? "\n  ],\n  " : "],\n  ");
  tool_json_append_member (out, "total_size");
  tool_json_append_uint64 (out, safetensors_index_get_total_size (index));
  g_string_append (out, ",\n  ");
  append_counts_json (out, &counts, metadata);
}

static int
command_info (const ToolCommand  *command,
              int                 argc,
              char              **argv)
{
  gboolean json = FALSE;
  gboolean no_mmap = FALSE;
  const GOptionEntry entries[] = {
    TOOL_OPTION_JSON (&json),
    TOOL_OPTION_NO_MMAP (&no_mmap),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(SafetensorsIndex) index = NULL;
  g_autoptr(GHashTable) metadata = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  GError *error = NULL;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  if (tool_arg_is_index (args[0]))
    {
      index = tool_open_index (args[0], &error);
      if (index != NULL)
        metadata = tool_index_get_metadata (index, &error);
      if (metadata == NULL)
        return tool_fail_with_error_json (args[0], error, json);
      append_index_info (out, index, metadata, json);
    }
  else
    {
      file = tool_open_file (args[0], no_mmap, &error);
      if (file == NULL)
        return tool_fail_with_error_json (args[0], error, json);
      append_file_info (out, file, json);
    }
  tool_write_stdout (out);

  return TOOL_EXIT_OK;
}

/* header */

/* JSON whitespace: what may follow the closing brace in a valid header. */
static gboolean
is_json_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
command_header (const ToolCommand  *command,
                int                 argc,
                char              **argv)
{
  gboolean no_mmap = FALSE;
  const GOptionEntry entries[] = {
    TOOL_OPTION_NO_MMAP (&no_mmap),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GString) out = NULL;
  g_autoptr(GError) error = NULL;
  const char *text;
  gsize len = 0;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  file = tool_open_file (args[0], no_mmap, &error);
  if (file == NULL)
    {
      tool_print_file_error (args[0], error);
      return TOOL_EXIT_FAILURE;
    }

  header = safetensors_file_get_header_bytes (file);
  text = g_bytes_get_data (header, &len);
  while (len > 0 && is_json_space (text[len - 1]))
    len--;

  out = g_string_new_len (text, len);
  g_string_append_c (out, '\n');
  tool_write_stdout (out);

  return TOOL_EXIT_OK;
}

/* validate */

/* Messages can quote tensor names, which may hold newlines; each report
 * has to stay on one line. */
static void
append_one_line (GString    *out,
                 const char *str)
{
  for (const char *p = str; *p != '\0'; p++)
    {
      if (*p == '\n')
        g_string_append (out, "\\n");
      else if (*p == '\r')
        g_string_append (out, "\\r");
      else
        g_string_append_c (out, *p);
    }
}

static void
append_report_text (GString      *out,
                    const char   *arg,
                    const GError *error)
{
  g_string_append (out, arg);
  if (error == NULL)
    {
      g_string_append (out, ": OK\n");
      return;
    }

  g_string_append_printf (out, ": %s: ", tool_error_get_code_nick (error));
  append_one_line (out, tool_error_get_message (arg, error));
  g_string_append_c (out, '\n');
}

static void
append_report_json (GString      *out,
                    const char   *arg,
                    const GError *error)
{
  g_string_append_c (out, '{');
  tool_json_append_member (out, "file");
  tool_json_append_string (out, arg);
  g_string_append_c (out, ',');
  tool_json_append_member (out, "valid");
  g_string_append (out, error == NULL ? "true" : "false");
  g_string_append_c (out, ',');
  tool_json_append_member (out, "code");
  tool_json_append_nullable_string (out, error != NULL ? tool_error_get_code_nick (error) : NULL);
  g_string_append_c (out, ',');
  tool_json_append_member (out, "message");
  tool_json_append_nullable_string (out, error != NULL ? tool_error_get_message (arg, error) : NULL);
  g_string_append_c (out, '}');
}

static int
command_validate (const ToolCommand  *command,
                  int                 argc,
                  char              **argv)
{
  gboolean json = FALSE;
  gboolean quiet = FALSE;
  gboolean no_mmap = FALSE;
  const GOptionEntry entries[] = {
    TOOL_OPTION_JSON (&json),
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Report only the files that fail", NULL },
    TOOL_OPTION_NO_MMAP (&no_mmap),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(GString) out = NULL;
  guint n_invalid = 0;
  guint n_reported = 0;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  out = g_string_new (json ? "[" : NULL);
  for (guint i = 0; args[i] != NULL; i++)
    {
      g_autoptr(SafetensorsFile) file = NULL;
      g_autoptr(SafetensorsIndex) index = NULL;
      g_autoptr(GError) error = NULL;
      gboolean valid;

      /* Opening is the validation: the library checks the whole header
       * and the file size before it returns a file; an index of a sharded
       * checkpoint is checked with every shard it names. */
      if (tool_arg_is_index (args[i]))
        {
          index = tool_open_index (args[i], &error);
          valid = index != NULL;
        }
      else
        {
          file = tool_open_file (args[i], no_mmap, &error);
          valid = file != NULL;
        }
      if (!valid)
        n_invalid++;
      else if (quiet)
        continue;

      if (json)
        {
          g_string_append (out, n_reported > 0 ? ",\n  " : "\n  ");
          append_report_json (out, args[i], error);
        }
      else
        {
          append_report_text (out, args[i], error);
        }
      n_reported++;
    }
  if (json)
    g_string_append (out, n_reported > 0 ? "\n]\n" : "]\n");
  tool_write_stdout (out);

  return n_invalid > 0 ? TOOL_EXIT_FAILURE : TOOL_EXIT_OK;
}

const ToolCommand tool_inspect_commands[] = {
  {
    .name = "ls",
    .parameters = "FILE",
    .summary = "List the tensors of a file",
    .description = "Prints one line per tensor, in the order of their data: name, dtype,\n"
                   "shape, size in bytes and data offsets. Names that are empty or hold\n"
                   "spaces or control characters are printed as JSON strings.\n"
                   "\n"
                   "A FILE ending in .index.json is the index of a sharded checkpoint:\n"
                   "the tensors of every shard are listed, shard by shard, with the\n"
                   "shard's name as the last column (data offsets are the shard's).",
    .min_args = 1,
    .max_args = 1,
    .run = command_ls,
  },
  {
    .name = "info",
    .parameters = "FILE",
    .summary = "Show the sizes, dtypes and metadata of a file",
    .description = "Prints the file size, header size, data start, the number of tensors\n"
                   "and their bytes, the tensors per dtype and the metadata.\n"
                   "\n"
                   "A FILE ending in .index.json is the index of a sharded checkpoint:\n"
                   "info prints its shards and total size, then the tensors and metadata\n"
                   "of all the shards together, as the merged file would hold them.",
    .min_args = 1,
    .max_args = 1,
    .run = command_info,
  },
  {
    .name = "header",
    .parameters = "FILE",
    .summary = "Print the JSON header of a file as stored",
    .description = "Prints the header text byte for byte, without its trailing padding.",
    .min_args = 1,
    .max_args = 1,
    .run = command_header,
  },
  {
    .name = "validate",
    .parameters = "FILE…",
    .summary = "Check that files are valid",
    .description = "Prints “FILE: OK” for a valid file and “FILE: CODE: message” for an\n"
                   "invalid one, where CODE names the first check it fails (for example\n"
                   "invalid-offset or not-found). A FILE ending in .index.json is the index\n"
                   "of a sharded checkpoint: it is checked with every shard it names.\n"
                   "\n"
                   "Exit status: 0 if all files are valid, 1 otherwise, 2 for a usage error.",
    .min_args = 1,
    .max_args = G_MAXUINT,
    .run = command_validate,
  },
  { NULL }
};
