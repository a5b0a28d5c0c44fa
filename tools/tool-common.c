/* tool-common.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdio.h>
#include <string.h>

#include "safetensors-json-private.h"

#include "tool-common.h"

/* Command line */

static gboolean
usage_error (GOptionContext *context,
             const char     *message)
{
  g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

  g_printerr ("%s: %s\n\n%s", g_get_prgname (), message, help);
  return FALSE;
}

static gboolean
check_n_args (const ToolCommand  *command,
              GOptionContext     *context,
              guint               n_args)
{
  g_autofree char *message = NULL;

  if (n_args < command->min_args)
    message = g_strdup_printf ("missing argument: %s", command->parameters);
  else if (n_args > command->max_args)
    message = g_strdup_printf ("too many arguments: expected %s", command->parameters);
  else
    return TRUE;

  return usage_error (context, message);
}

/**
 * tool_parse_options:
 * @command: the command being run
 * @entries: (nullable): its options, ended by G_OPTION_ENTRY_NULL
 * @argc: number of items in @argv
 * @argv: the arguments, starting with the command name
 * @out_args: (out): the positional arguments
 *
 * Parses the options of @command. `--help` prints the help and exits with
 * status 0, as GOption does; a bad option or a wrong number of positional
 * arguments prints the error and the help on stderr.
 *
 * Returns: %FALSE on a usage error: the command should exit with
 *   %TOOL_EXIT_USAGE
 */
gboolean
tool_parse_options (const ToolCommand   *command,
                    const GOptionEntry  *entries,
                    int                  argc,
                    char               **argv,
                    char              ***out_args)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) args = NULL;
  g_autofree char *prgname = NULL;
  const GOptionEntry remaining_entries[] = {
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &args, NULL, NULL },
    G_OPTION_ENTRY_NULL
  };

  /* Like GLib's gio tool: the program name makes GOption's usage line read
   * "safetensors-tool ls [OPTION…] FILE". */
  prgname = g_strdup_printf ("%s %s", TOOL_NAME, command->name);
  g_set_prgname (prgname);

  context = g_option_context_new (command->parameters);
  g_option_context_set_summary (context, command->summary);
  g_option_context_set_description (context, command->description);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_main_entries (context, remaining_entries, NULL);

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error (context, error->message);

  if (!check_n_args (command, context, args != NULL ? g_strv_length (args) : 0))
    return FALSE;

  if (args == NULL)
    args = g_new0 (char *, 1);
  *out_args = g_steal_pointer (&args);
  return TRUE;
}

/* Files and errors */

/**
 * tool_open_file:
 * @arg: a path or URI as given on the command line
 * @no_mmap: whether to read the file without mapping it
 * @error: return location for a #GError
 *
 * Opens and validates a safetensors file.
 *
 * Returns: (transfer full): the file, or %NULL on error
 */
SafetensorsFile *
tool_open_file (const char  *arg,
                gboolean     no_mmap,
                GError     **error)
{
  g_autoptr(GFile) file = g_file_new_for_commandline_arg (arg);
  SafetensorsOpenFlags flags = SAFETENSORS_OPEN_FLAGS_NONE;

  if (!tool_check_not_index (arg, error))
    return NULL;
  if (no_mmap)
    flags |= SAFETENSORS_OPEN_FLAGS_NO_MMAP;

  return safetensors_file_open (file, flags, NULL, error);
}

/**
 * tool_error_get_code_nick:
 * @error: an error
 *
 * Names the code of @error the way the enum type registers it, e.g.
 * `invalid-offset` for %SAFETENSORS_ERROR_INVALID_OFFSET or `not-found`
 * for %G_IO_ERROR_NOT_FOUND, so that scripts can match on it.
 *
 * Returns: the nick, or `unknown` for other domains and codes
 */
const char *
tool_error_get_code_nick (const GError *error)
{
  g_autoptr(GEnumClass) enum_class = NULL;
  GEnumValue *value;
  GType enum_type;

  if (error->domain == SAFETENSORS_ERROR)
    enum_type = SAFETENSORS_TYPE_ERROR;
  else if (error->domain == G_IO_ERROR)
    enum_type = G_TYPE_IO_ERROR_ENUM;
  else
    return "unknown";

  /* The nick outlives the class reference: the values of a static enum
   * type are static data. */
  enum_class = g_type_class_ref (enum_type);
  value = g_enum_get_value (enum_class, error->code);

  return value != NULL ? value->value_nick : "unknown";
}

/**
 * tool_error_get_message:
 * @arg: the command-line argument @error is about
 * @error: an error from opening or reading @arg
 *
 * The library starts its messages with the file's parse name (an absolute
 * path). Callers print @arg, as the user typed it, in front of the
 * message instead, so the name is stripped here rather than shown twice.
 *
 * Returns: (transfer none): the message without the file name
 */
const char *
tool_error_get_message (const char   *arg,
                        const GError *error)
{
  g_autoptr(GFile) file = g_file_new_for_commandline_arg (arg);
  g_autofree char *parse_name = g_file_get_parse_name (file);
  gsize len = strlen (parse_name);

  if (strncmp (error->message, parse_name, len) == 0 &&
      strncmp (error->message + len, ": ", 2) == 0)
    return error->message + len + 2;

  return error->message;
}

/**
 * tool_print_file_error:
 * @arg: the command-line argument @error is about
 * @error: the error
 *
 * Prints `safetensors-tool: ARG: message` on stderr.
 */
void
tool_print_file_error (const char   *arg,
                       const GError *error)
{
  g_printerr ("%s: %s: %s\n", TOOL_NAME, arg, tool_error_get_message (arg, error));
}

/* Sharded checkpoints */

/**
 * tool_arg_is_index:
 * @arg: a path or URI as given on the command line
 *
 * Whether @arg names the index of a sharded checkpoint, such as
 * `model.safetensors.index.json`. The name decides, as it does for the
 * Hugging Face libraries.
 *
 * Returns: %TRUE if @arg ends in `.index.json`
 */
gboolean
tool_arg_is_index (const char *arg)
{
  return g_str_has_suffix (arg, ".index.json");
}

/**
 * tool_check_not_index:
 * @arg: a path or URI as given on the command line
 * @error: return location for a #GError
 *
 * For commands that take a single .safetensors file: an index would
 * otherwise fail as a file with a nonsensical header length.
 *
 * Returns: %FALSE, with %SAFETENSORS_ERROR_UNSUPPORTED, if @arg is an
 *   index
 */
gboolean
tool_check_not_index (const char  *arg,
                      GError     **error)
{
  if (!tool_arg_is_index (arg))
    return TRUE;

  g_set_error_literal (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                       "the index of a sharded checkpoint, not a .safetensors file "
                       "(“merge” joins its shards into one)");
  return FALSE;
}

/**
 * tool_open_index:
 * @arg: a path or URI as given on the command line
 * @error: return location for a #GError
 *
 * Opens the index of a sharded checkpoint and every shard it names,
 * checking that they agree.
 *
 * Returns: (transfer full): the index, or %NULL on error
 */
SafetensorsIndex *
tool_open_index (const char  *arg,
                 GError     **error)
{
  g_autoptr(GFile) file = g_file_new_for_commandline_arg (arg);
  g_autofree char *prefix = NULL;
  SafetensorsIndex *index;
  GError *local_error = NULL;

  index = safetensors_index_open (file, NULL, &local_error);
  if (index != NULL)
    return index;

  /* GIO words a missing index “Error opening file PATH: No such file or
   * directory”; the caller prints the argument in front already. */
  if (g_file_peek_path (file) != NULL)
    prefix = g_strdup_printf ("Error opening file %s: ", g_file_peek_path (file));
  if (prefix != NULL && g_str_has_prefix (local_error->message, prefix))
    {
      char *message = g_strdup (local_error->message + strlen (prefix));

      g_free (local_error->message);
      local_error->message = message;
    }
  g_propagate_error (error, local_error);
  return NULL;
}

/**
 * tool_index_get_metadata:
 * @index: a sharded checkpoint
 * @error: return location for a #GError
 *
 * The metadata of the checkpoint as one file: the union of its shards'
 * `__metadata__`, which is what merging the shards writes. Shards
 * normally carry the same entries; a key with different values in two
 * shards has no single value.
 *
 * Returns: (transfer full) (element-type utf8 utf8): the metadata, or
 *   %NULL with %SAFETENSORS_ERROR_INVALID_DATA
 */
GHashTable *
tool_index_get_metadata (SafetensorsIndex  *index,
                         GError           **error)
{
  g_autoptr(GHashTable) metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto(GStrv) shard_names = safetensors_index_get_shard_names (index);

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
              g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                           "metadata “%s” differs between shards", keys[k]);
              return NULL;
            }
          g_hash_table_insert (metadata, g_strdup (keys[k]), g_strdup (value));
        }
    }

  return g_steal_pointer (&metadata);
}

/* Output */

/**
 * tool_write_stdout:
 * @text: what to print
 *
 * Writes @text to stdout as raw bytes. g_print() would convert it to the
 * locale's charset, which turns non-ASCII names into question marks under
 * LANG=C and would break the exact header and JSON output. main() checks
 * for write errors once, when it flushes stdout.
 */
void
tool_write_stdout (GString *text)
{
  fwrite (text->str, 1, text->len, stdout);
}

static gboolean
needs_quoting (const char *str,
               gboolean    in_column)
{
  if (*str == '\0' || *str == '"')
    return TRUE;

  for (const guchar *p = (const guchar *) str; *p != '\0'; p++)
    {
      if (*p < 0x20 || *p == 0x7f)
        return TRUE;
      if (in_column && *p == ' ')
        return TRUE;
    }

  return FALSE;
}

/**
 * tool_append_display_name:
 * @out: where to append
 * @str: a tensor name, metadata key or value
 * @in_column: whether @str is a column of a table
 *
 * Appends @str as it is, unless it would not read as one item: empty,
 * with control characters (a newline would split the line), starting with
 * a quote, or, in a column, with spaces. Those are appended as a JSON
 * string, which is unambiguous.
 */
void
tool_append_display_name (GString    *out,
                          const char *str,
                          gboolean    in_column)
{
  if (needs_quoting (str, in_column))
    safetensors_json_append_string (out, str, -1);
  else
    g_string_append (out, str);
}

/**
 * tool_append_table:
 * @out: where to append
 * @rows: (element-type GStrv): the rows, all with the same number of cells
 * @alignment: one character per column, `l` or `r`
 * @indent: spaces in front of each row
 *
 * Appends @rows as aligned columns separated by two spaces. Widths count
 * characters, not bytes, so UTF-8 names line up.
 */
void
tool_append_table (GString    *out,
                   GPtrArray  *rows,
                   const char *alignment,
                   guint       indent)
{
  guint n_columns = strlen (alignment);
  g_autofree glong *widths = g_new0 (glong, n_columns);

  for (guint r = 0; r < rows->len; r++)
    {
      char **cells = g_ptr_array_index (rows, r);

      for (guint c = 0; c < n_columns; c++)
        widths[c] = MAX (widths[c], g_utf8_strlen (cells[c], -1));
    }

  for (guint r = 0; r < rows->len; r++)
    {
      char **cells = g_ptr_array_index (rows, r);

      for (guint i = 0; i < indent; i++)
        g_string_append_c (out, ' ');

      for (guint c = 0; c < n_columns; c++)
        {
          glong padding = widths[c] - g_utf8_strlen (cells[c], -1);
          gboolean last = c + 1 == n_columns;

          if (c > 0)
            g_string_append (out, "  ");
          if (alignment[c] == 'r')
            for (glong i = 0; i < padding; i++)
              g_string_append_c (out, ' ');
          g_string_append (out, cells[c]);
          /* No trailing spaces after the last column. */
          if (alignment[c] != 'r' && !last)
            for (glong i = 0; i < padding; i++)
              g_string_append_c (out, ' ');
        }
      g_string_append_c (out, '\n');
    }
}

/**
 * tool_append_shape:
 * @out: where to append
 * @tensor: a tensor
 * @separator: between dimensions: ", " for people, "," for JSON
 *
 * Appends the shape as a list, `[]` for a scalar. Dimensions are printed
 * in full: an empty tensor may have one as large as 2^64 - 1.
 */
void
tool_append_shape (GString           *out,
                   SafetensorsTensor *tensor,
                   const char        *separator)
{
  guint n_dims = 0;
  const guint64 *shape = safetensors_tensor_get_shape (tensor, &n_dims);

  g_string_append_c (out, '[');
  for (guint i = 0; i < n_dims; i++)
    {
      if (i > 0)
        g_string_append (out, separator);
      g_string_append_printf (out, "%" G_GUINT64_FORMAT, shape[i]);
    }
  g_string_append_c (out, ']');
}

/* JSON */

/**
 * tool_json_append_string:
 * @out: where to append
 * @str: a string, normally UTF-8
 *
 * Appends @str as a JSON string literal. Command-line arguments are in the
 * file-system encoding and may not be UTF-8; JSON has to be, so invalid
 * sequences become U+FFFD.
 */
void
tool_json_append_string (GString    *out,
                         const char *str)
{
  g_autofree char *valid = NULL;

  if (!g_utf8_validate (str, -1, NULL))
    str = valid = g_utf8_make_valid (str, -1);

  safetensors_json_append_string (out, str, -1);
}

/**
 * tool_json_append_member:
 * @out: where to append
 * @name: a member name
 *
 * Appends `"name":`; the caller appends the value.
 */
void
tool_json_append_member (GString    *out,
                         const char *name)
{
  tool_json_append_string (out, name);
  g_string_append_c (out, ':');
}

/**
 * tool_json_append_uint64:
 * @out: where to append
 * @value: a number
 *
 * Appends @value in full. Going through a double (as json-glib would)
 * loses precision above 2^53.
 */
void
tool_json_append_uint64 (GString *out,
                         guint64  value)
{
  g_string_append_printf (out, "%" G_GUINT64_FORMAT, value);
}

/**
 * tool_json_append_nullable_string:
 * @out: where to append
 * @str: (nullable): a string
 *
 * Appends @str as a JSON string, or `null`.
 */
void
tool_json_append_nullable_string (GString    *out,
                                  const char *str)
{
  if (str == NULL)
    g_string_append (out, "null");
  else
    tool_json_append_string (out, str);
}

/**
 * tool_json_append_tensor_members:
 * @out: where to append
 * @tensor: a tensor
 *
 * Appends the members every JSON description of a tensor starts with,
 * `"name":…,"dtype":…,"shape":[…],"n_bytes":N`, without the braces, so
 * that callers can add their own.
 */
void
tool_json_append_tensor_members (GString           *out,
                                 SafetensorsTensor *tensor)
{
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
}

/**
 * tool_json_append_written_file:
 * @out: where to append
 * @file: the file written, as named on the command line or built from it
 * @n_tensors: how many tensors it holds
 * @tensor_bytes: the sum of their sizes
 * @file_size: its size
 *
 * Appends the members describing a file a command wrote (cat, extract,
 * merge, each shard of split), without the braces.
 */
void
tool_json_append_written_file (GString    *out,
                               const char *file,
                               guint64     n_tensors,
                               guint64     tensor_bytes,
                               guint64     file_size)
{
  tool_json_append_member (out, "file");
  tool_json_append_string (out, file);
  g_string_append_c (out, ',');
  tool_json_append_member (out, "n_tensors");
  tool_json_append_uint64 (out, n_tensors);
  g_string_append_c (out, ',');
  tool_json_append_member (out, "tensor_bytes");
  tool_json_append_uint64 (out, tensor_bytes);
  g_string_append_c (out, ',');
  tool_json_append_member (out, "file_size");
  tool_json_append_uint64 (out, file_size);
}

/**
 * tool_json_append_error:
 * @out: where to append
 * @arg: the command-line argument @error is about
 * @error: the error
 *
 * Appends `{"error":{"file":…,"code":…,"message":…}}`, with the members
 * of a failed `validate` report.
 */
void
tool_json_append_error (GString      *out,
                        const char   *arg,
                        const GError *error)
{
  g_string_append_c (out, '{');
  tool_json_append_member (out, "error");
  g_string_append_c (out, '{');
  tool_json_append_member (out, "file");
  tool_json_append_string (out, arg);
  g_string_append_c (out, ',');
  tool_json_append_member (out, "code");
  tool_json_append_string (out, tool_error_get_code_nick (error));
  g_string_append_c (out, ',');
  tool_json_append_member (out, "message");
  tool_json_append_string (out, tool_error_get_message (arg, error));
  g_string_append (out, "}}\n");
}

int
tool_fail_with_error (const char *arg,
                      GError     *error)
{
  return tool_fail_with_error_json (arg, error, FALSE);
}

/**
 * tool_fail_with_error_json:
 * @arg: the command-line argument @error is about
 * @error: (transfer full): the error
 * @json: whether the command was asked for JSON
 *
 * Prints `safetensors-tool: ARG: message` on stderr and, with @json, the
 * error object (see tool_json_append_error()) on stdout, so that a
 * script reading the JSON gets the error code too. Call it before
 * anything else is written to stdout.
 *
 * Returns: %TOOL_EXIT_FAILURE
 */
int
tool_fail_with_error_json (const char *arg,
                           GError     *error,
                           gboolean    json)
{
  tool_print_file_error (arg, error);
  if (json)
    {
      g_autoptr(GString) out = g_string_new (NULL);

      tool_json_append_error (out, arg, error);
      tool_write_stdout (out);
    }
  g_error_free (error);
  return TOOL_EXIT_FAILURE;
}
