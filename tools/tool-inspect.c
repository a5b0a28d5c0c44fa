/* tool-inspect.c — read-only commands: ls, info, header, validate
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "tool-common.h"

/* ls */

static char **
tensor_row (SafetensorsTensor *tensor)
{
  GString *cell = g_string_new (NULL);
  char **row = g_new0 (char *, 6);
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

  return row;
}

static void
append_tensor_table (GString         *out,
                     SafetensorsFile *file)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  guint n_tensors = safetensors_file_get_n_tensors (file);

  for (guint i = 0; i < n_tensors; i++)
    {
      g_autoptr(SafetensorsTensor) tensor = g_list_model_get_item (G_LIST_MODEL (file), i);

      g_ptr_array_add (rows, tensor_row (tensor));
    }

  tool_append_table (out, rows, "lllrl", 0);
}

static void
append_tensor_json (GString           *out,
                    SafetensorsTensor *tensor)
{
  guint64 begin = 0, end = 0;

  safetensors_tensor_get_data_offsets (tensor, &begin, &end);

  g_string_append_c (out, '{');
  tool_json_append_member (out, "name");
  tool_json_append_string (out, safetensors_tensor_get_name (tensor));
  g_string_append_c (out, ',');
  tool_json_append_member (out, "dtype");
  tool_json_append_string (out, safetensors_dtype_to_string (safetensors_tensor_get_dtype (tensor)));
  g_string_append_c (out, ',');
  tool_json_append_member (out, "shape");
  tool_append_shape (out, tensor, ",");
  g_string_append_c (out, ',');
  tool_json_append_member (out, "n_bytes");
  tool_json_append_uint64 (out, safetensors_tensor_get_n_bytes (tensor));
  g_string_append_c (out, ',');
  tool_json_append_member (out, "data_offsets");
  g_string_append_c (out, '[');
  tool_json_append_uint64 (out, begin);
  g_string_append_c (out, ',');
  tool_json_append_uint64 (out, end);
  g_string_append (out, "],");
  tool_json_append_member (out, "file_offset");
  tool_json_append_uint64 (out, safetensors_tensor_get_file_offset (tensor));
  g_string_append_c (out, '}');
}

/* One object per line: readable, and still a single JSON document. */
static void
append_tensor_list_json (GString         *out,
                         SafetensorsFile *file)
{
  guint n_tensors = safetensors_file_get_n_tensors (file);

  g_string_append_c (out, '[');
  for (guint i = 0; i < n_tensors; i++)
    {
      g_autoptr(SafetensorsTensor) tensor = g_list_model_get_item (G_LIST_MODEL (file), i);

      g_string_append (out, i > 0 ? ",\n  " : "\n  ");
      append_tensor_json (out, tensor);
    }
  g_string_append (out, n_tensors > 0 ? "\n]\n" : "]\n");
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
  g_autoptr(GString) out = NULL;
  g_autoptr(GError) error = NULL;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  file = tool_open_file (args[0], no_mmap, &error);
  if (file == NULL)
    {
      tool_print_file_error (args[0], error);
      return TOOL_EXIT_FAILURE;
    }

  out = g_string_new (NULL);
  if (json)
    append_tensor_list_json (out, file);
  else
    append_tensor_table (out, file);
  tool_write_stdout (out);

  return TOOL_EXIT_OK;
}

/* info */

typedef struct
{
  guint64 file_size;
  guint64 header_size;
  guint64 data_start;
  guint   n_tensors;
  guint64 tensor_bytes;
  guint   dtype_counts[SAFETENSORS_DTYPE_COUNT];
  char  **metadata_keys;
} FileInfo;

static void
file_info_clear (FileInfo *info)
{
  g_clear_pointer (&info->metadata_keys, g_strfreev);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (FileInfo, file_info_clear)

static void
file_info_init (FileInfo        *info,
                SafetensorsFile *file)
{
  info->file_size = safetensors_file_get_size (file);
  info->header_size = safetensors_file_get_header_size (file);
  info->data_start = safetensors_file_get_data_start (file);
  info->n_tensors = safetensors_file_get_n_tensors (file);
  info->metadata_keys = safetensors_file_get_metadata_keys (file);

  for (guint i = 0; i < info->n_tensors; i++)
    {
      g_autoptr(SafetensorsTensor) tensor = g_list_model_get_item (G_LIST_MODEL (file), i);

      /* No overflow: a file that opened has tensors tiling its data area,
       * so the sum is at most the file size. */
      info->tensor_bytes += safetensors_tensor_get_n_bytes (tensor);
      info->dtype_counts[safetensors_tensor_get_dtype (tensor)]++;
    }
}

static void
append_dtype_counts_text (GString        *out,
                          const FileInfo *info)
{
  gboolean first = TRUE;

  for (guint dtype = 0; dtype < SAFETENSORS_DTYPE_COUNT; dtype++)
    {
      if (info->dtype_counts[dtype] == 0)
        continue;
      g_string_append_printf (out, "%s%s %u", first ? "" : ", ",
                              safetensors_dtype_to_string (dtype), info->dtype_counts[dtype]);
      first = FALSE;
    }

  if (first)
    g_string_append (out, "none");
}

static void
append_metadata_text (GString         *out,
                      SafetensorsFile *file,
                      const FileInfo  *info)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);

  for (guint i = 0; info->metadata_keys[i] != NULL; i++)
    {
      const char *key = info->metadata_keys[i];
      GString *cell = g_string_new (NULL);
      char **row = g_new0 (char *, 3);

      tool_append_display_name (cell, key, FALSE);
      g_string_append_c (cell, ':');
      row[0] = g_string_free (cell, FALSE);

      cell = g_string_new (NULL);
      tool_append_display_name (cell, safetensors_file_get_metadata_value (file, key), FALSE);
      row[1] = g_string_free (cell, FALSE);

      g_ptr_array_add (rows, row);
    }

  tool_append_table (out, rows, "ll", 2);
}

static void
append_info_text (GString         *out,
                  SafetensorsFile *file,
                  const FileInfo  *info)
{
  g_string_append_printf (out,
                          "File size:     %" G_GUINT64_FORMAT " bytes\n"
                          "Header size:   %" G_GUINT64_FORMAT " bytes\n"
                          "Data start:    %" G_GUINT64_FORMAT "\n"
                          "Tensors:       %u\n"
                          "Tensor bytes:  %" G_GUINT64_FORMAT "\n"
                          "Dtypes:        ",
                          info->file_size, info->header_size, info->data_start,
                          info->n_tensors, info->tensor_bytes);
  append_dtype_counts_text (out, info);

  if (info->metadata_keys[0] == NULL)
    {
      g_string_append (out, "\nMetadata:      none\n");
      return;
    }

  g_string_append (out, "\nMetadata:\n");
  append_metadata_text (out, file, info);
}

static void
append_info_json (GString         *out,
                  SafetensorsFile *file,
                  const FileInfo  *info)
{
  gboolean first = TRUE;

  g_string_append (out, "{\n  ");
  tool_json_append_member (out, "file_size");
  tool_json_append_uint64 (out, info->file_size);
  g_string_append (out, ",\n  ");
  tool_json_append_member (out, "header_size");
  tool_json_append_uint64 (out, info->header_size);
  g_string_append (out, ",\n  ");
  tool_json_append_member (out, "data_start");
  tool_json_append_uint64 (out, info->data_start);
  g_string_append (out, ",\n  ");
  tool_json_append_member (out, "n_tensors");
  tool_json_append_uint64 (out, info->n_tensors);
  g_string_append (out, ",\n  ");
  tool_json_append_member (out, "tensor_bytes");
  tool_json_append_uint64 (out, info->tensor_bytes);
  g_string_append (out, ",\n  ");

  tool_json_append_member (out, "dtypes");
  g_string_append_c (out, '{');
  for (guint dtype = 0; dtype < SAFETENSORS_DTYPE_COUNT; dtype++)
    {
      if (info->dtype_counts[dtype] == 0)
        continue;
      if (!first)
        g_string_append_c (out, ',');
      tool_json_append_member (out, safetensors_dtype_to_string (dtype));
      tool_json_append_uint64 (out, info->dtype_counts[dtype]);
      first = FALSE;
    }
  g_string_append (out, "},\n  ");

  tool_json_append_member (out, "metadata");
  g_string_append_c (out, '{');
  for (guint i = 0; info->metadata_keys[i] != NULL; i++)
    {
      const char *key = info->metadata_keys[i];

      if (i > 0)
        g_string_append_c (out, ',');
      tool_json_append_member (out, key);
      tool_json_append_string (out, safetensors_file_get_metadata_value (file, key));
    }
  g_string_append (out, "}\n}\n");
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
  g_autoptr(GString) out = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(FileInfo) info = { 0 };

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  file = tool_open_file (args[0], no_mmap, &error);
  if (file == NULL)
    {
      tool_print_file_error (args[0], error);
      return TOOL_EXIT_FAILURE;
    }

  file_info_init (&info, file);
  out = g_string_new (NULL);
  if (json)
    append_info_json (out, file, &info);
  else
    append_info_text (out, file, &info);
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
      if (g_str_has_suffix (args[i], ".index.json"))
        {
          g_autoptr(GFile) gfile = g_file_new_for_commandline_arg (args[i]);

          index = safetensors_index_open (gfile, NULL, &error);
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
                   "spaces or control characters are printed as JSON strings.",
    .min_args = 1,
    .max_args = 1,
    .run = command_ls,
  },
  {
    .name = "info",
    .parameters = "FILE",
    .summary = "Show the sizes, dtypes and metadata of a file",
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
