/* tool-edit.c — editing in place: add, rm, mv, meta, compact, du
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "safetensors-journal-private.h"
#include "safetensors-npy-private.h"

#include "tool-common.h"
#include "tool-progress.h"

/* ------------------------------------------------------------------ */
/* Edit sessions                                                      */
/* ------------------------------------------------------------------ */

/* Options every editing command takes. */
typedef struct
{
  gboolean keep_free;
  gboolean stats;
  gboolean json;
} EditOptions;

#define EDIT_OPTION_KEEP_FREE(options) \
  { "keep-free", 0, 0, G_OPTION_ARG_NONE, &(options)->keep_free, \
    "Leave freed space as free space instead of moving data to close it", NULL }
#define EDIT_OPTION_STATS(options) \
  { "stats", 0, 0, G_OPTION_ARG_NONE, &(options)->stats, \
    "Print the bytes the commit wrote, moved and spent on the header", NULL }
#define EDIT_OPTION_JSON(options) TOOL_OPTION_JSON (&(options)->json)

static SafetensorsFile *
edit_open (const char         *arg,
           const EditOptions  *options,
           GError            **error)
{
  g_autoptr(GFile) file = g_file_new_for_commandline_arg (arg);
  SafetensorsOpenFlags flags = SAFETENSORS_OPEN_FLAGS_READ_WRITE;

  if (!tool_check_not_index (arg, error))
    return NULL;
  if (options->keep_free)
    flags |= SAFETENSORS_OPEN_FLAGS_KEEP_FREE;

  return safetensors_file_open (file, flags, NULL, error);
}

/* The report of a commit: a line with --stats, an object with --json. */
static void
print_commit_stats (SafetensorsFile   *file,
                    const char        *arg,
                    const EditOptions *options)
{
  g_autoptr(SafetensorsCommitStats) stats = safetensors_file_get_commit_stats (file);
  g_autoptr(GString) out = g_string_new (NULL);

  if (options->json)
    {
      g_string_append (out, "{\n  ");
      tool_json_append_member (out, "file");
      tool_json_append_string (out, arg);
      g_string_append (out, ",\n  ");
      tool_json_append_member (out, "bytes_written");
      tool_json_append_uint64 (out, stats->bytes_written);
      g_string_append (out, ",\n  ");
      tool_json_append_member (out, "bytes_moved");
      tool_json_append_uint64 (out, stats->bytes_moved);
      g_string_append (out, ",\n  ");
      tool_json_append_member (out, "header_bytes");
      tool_json_append_uint64 (out, stats->header_bytes);
      g_string_append (out, "\n}\n");
    }
  else if (options->stats)
    {
      g_string_append_printf (out,
                              "written: %" G_GUINT64_FORMAT " bytes, "
                              "moved: %" G_GUINT64_FORMAT " bytes, "
                              "header: %" G_GUINT64_FORMAT " bytes\n",
                              stats->bytes_written, stats->bytes_moved, stats->header_bytes);
    }
  tool_write_stdout (out);
}

/* Ends an edit of @arg. @edit_error is the error of the edits, if one
 * failed: the transaction is dropped, so the file is as it was, byte for
 * byte (new tensor data had gone past its end, which the rollback cuts
 * off). Otherwise closing commits; a failed commit is rolled back too.
 *
 * Returns: the exit status */
static int
edit_close (SafetensorsFile    *file,
            const char         *arg,
            const EditOptions  *options,
            GError             *edit_error)
{
  GError *error = edit_error;

  if (error == NULL && safetensors_file_close (file, NULL, &error))
    {
      print_commit_stats (file, arg, options);
      return TOOL_EXIT_OK;
    }

  safetensors_file_rollback (file);
  return tool_fail_with_error_json (arg, error, options->json);
}

/* Usage errors found after option parsing, worded like GOption's. */
static int
usage_error (const char *message)
{
  g_printerr ("%s: %s\nRun “%s --help” for usage.\n",
              g_get_prgname (), message, g_get_prgname ());
  return TOOL_EXIT_USAGE;
}

/* ------------------------------------------------------------------ */
/* add                                                                */
/* ------------------------------------------------------------------ */

static gboolean
needs_reordering (const SafetensorsNpyHeader *header)
{
  return header->fortran_order && header->n_dims > 1 && header->n_elements > 1;
}

static void
set_error_from_errno (GError **error,
                      int      saved_errno)
{
  g_set_error_literal (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       g_strerror (saved_errno));
}

/* The whole .npy file. A local file is mapped, so that a little-endian,
 * C-ordered array (the usual case) is handed to the library without a
 * copy; other locations are read into memory. */
static GBytes *
load_npy_file (const char  *arg,
               GError     **error)
{
  g_autoptr(GFile) file = g_file_new_for_commandline_arg (arg);
  g_autofree char *path = g_file_get_path (file);
  g_autoptr(GMappedFile) mapped = NULL;
  struct stat st;
  char *contents = NULL;
  gsize len = 0;
  int fd;

  if (path == NULL)
    {
      if (!g_file_load_contents (file, NULL, &contents, &len, NULL, error))
        return NULL;
      return g_bytes_new_take (contents, len);
    }

  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      set_error_from_errno (error, errno);
      return NULL;
    }
  if (fstat (fd, &st) != 0)
    set_error_from_errno (error, errno);
  else if (S_ISDIR (st.st_mode))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, "is a folder, not a .npy file");
  else
    mapped = g_mapped_file_new_from_fd (fd, FALSE, error);
  /* The mapping outlives the descriptor. */
  g_close (fd, NULL);

  return mapped != NULL ? g_mapped_file_get_bytes (mapped) : NULL;
}

/* Reads the .npy file @arg: its header, and its array as little-endian
 * bytes in C order. The array is held in memory (or mapped): the library
 * takes tensor data as GBytes. */
static GBytes *
read_npy (const char             *arg,
          SafetensorsNpyHeader  **out_header,
          GError                **error)
{
  g_autoptr(GBytes) contents = NULL;
  g_autoptr(SafetensorsNpyHeader) header = NULL;
  g_autofree guint8 *array = NULL;
  const guint8 *data;
  gsize len = 0;
  guint64 available;

  contents = load_npy_file (arg, error);
  if (contents == NULL)
    return NULL;

  data = g_bytes_get_data (contents, &len);
  header = safetensors_npy_parse_header (data, len, NULL, error);
  if (header == NULL)
    return NULL;

  available = len - header->data_offset;
  if (available != header->n_bytes)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "the array takes %" G_GUINT64_FORMAT " bytes, but the file holds %"
                   G_GUINT64_FORMAT " bytes of data", header->n_bytes, available);
      return NULL;
    }

  if (!header->big_endian && !needs_reordering (header))
    {
      *out_header = g_steal_pointer (&header);
      return g_bytes_new_from_bytes (contents, len - available, available);
    }

  if (needs_reordering (header) && header->n_bytes > SAFETENSORS_NPY_MAX_FORTRAN_BYTES)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   "the array is in Fortran order and takes %" G_GUINT64_FORMAT " bytes; "
                   "only arrays up to %" G_GUINT64_FORMAT " bytes can be reordered",
                   header->n_bytes, SAFETENSORS_NPY_MAX_FORTRAN_BYTES);
      return NULL;
    }

  array = g_try_malloc (header->n_bytes);
  if (array == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "not enough memory to convert the array (%" G_GUINT64_FORMAT " bytes)",
                   header->n_bytes);
      return NULL;
    }

  if (needs_reordering (header))
    safetensors_npy_fortran_to_c (data + header->data_offset,
                                  safetensors_dtype_get_bits (header->dtype) / 8,
                                  header->shape, header->n_dims, 0, array, header->n_elements);
  else
    memcpy (array, data + header->data_offset, header->n_bytes);

  /* Swapping each element commutes with reordering them. */
  if (header->big_endian)
    safetensors_npy_byteswap (array, header->n_bytes,
                              safetensors_npy_get_swap_size (header->dtype));

  *out_header = g_steal_pointer (&header);
  return g_bytes_new_take (g_steal_pointer (&array), (*out_header)->n_bytes);
}

static int
command_add (const ToolCommand  *command,
             int                 argc,
             char              **argv)
{
  EditOptions options = { 0 };
  gboolean replace = FALSE;
  const GOptionEntry entries[] = {
    { "replace", 0, 0, G_OPTION_ARG_NONE, &replace,
      "Replace the tensor if one has this name already", NULL },
    EDIT_OPTION_KEEP_FREE (&options),
    EDIT_OPTION_STATS (&options),
    EDIT_OPTION_JSON (&options),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(SafetensorsNpyHeader) header = NULL;
  g_autoptr(GBytes) data = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  GError *error = NULL;
  const char *name;
  gboolean ok;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;
  name = args[1];

  /* The array is read before the file is locked, and its errors name it. */
  data = read_npy (args[2], &header, &error);
  if (data == NULL)
    return tool_fail_with_error_json (args[2], error, options.json);

  file = edit_open (args[0], &options, &error);
  if (file == NULL)
    return tool_fail_with_error_json (args[0], error, options.json);

  if (replace && safetensors_file_contains (file, name))
    ok = safetensors_file_replace_tensor (file, name, header->dtype, header->shape,
                                          header->n_dims, data, &error);
  else
    ok = safetensors_file_add_tensor (file, name, header->dtype, header->shape,
                                      header->n_dims, data, &error);

  return edit_close (file, args[0], &options, ok ? NULL : error);
}

/* ------------------------------------------------------------------ */
/* rm, mv                                                             */
/* ------------------------------------------------------------------ */

static int
command_rm (const ToolCommand  *command,
            int                 argc,
            char              **argv)
{
  EditOptions options = { 0 };
  const GOptionEntry entries[] = {
    EDIT_OPTION_KEEP_FREE (&options),
    EDIT_OPTION_STATS (&options),
    EDIT_OPTION_JSON (&options),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(GHashTable) removed = g_hash_table_new (g_str_hash, g_str_equal);
  GError *error = NULL;
  gboolean ok = TRUE;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  file = edit_open (args[0], &options, &error);
  if (file == NULL)
    return tool_fail_with_error_json (args[0], error, options.json);

  /* One transaction: an unknown name drops the removals made so far. A
   * name given twice is removed once. */
  for (guint i = 1; ok && args[i] != NULL; i++)
    if (g_hash_table_add (removed, args[i]))
      ok = safetensors_file_remove_tensor (file, args[i], &error);

  return edit_close (file, args[0], &options, ok ? NULL : error);
}

static int
command_mv (const ToolCommand  *command,
            int                 argc,
            char              **argv)
{
  EditOptions options = { 0 };
  const GOptionEntry entries[] = {
    EDIT_OPTION_KEEP_FREE (&options),
    EDIT_OPTION_STATS (&options),
    EDIT_OPTION_JSON (&options),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  GError *error = NULL;
  gboolean ok;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  file = edit_open (args[0], &options, &error);
  if (file == NULL)
    return tool_fail_with_error_json (args[0], error, options.json);

  ok = safetensors_file_rename_tensor (file, args[1], args[2], &error);

  return edit_close (file, args[0], &options, ok ? NULL : error);
}

/* ------------------------------------------------------------------ */
/* meta                                                               */
/* ------------------------------------------------------------------ */

static void
append_metadata_text (GString         *out,
                      SafetensorsFile *file)
{
  g_auto(GStrv) keys = safetensors_file_get_metadata_keys (file);

  for (guint i = 0; keys[i] != NULL; i++)
    {
      tool_append_display_name (out, keys[i], FALSE);
      g_string_append (out, ": ");
      tool_append_display_name (out, safetensors_file_get_metadata_value (file, keys[i]), FALSE);
      g_string_append_c (out, '\n');
    }
}

static void
append_metadata_json (GString         *out,
                      SafetensorsFile *file)
{
  g_auto(GStrv) keys = safetensors_file_get_metadata_keys (file);

  g_string_append_c (out, '{');
  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_string_append (out, i > 0 ? ",\n  " : "\n  ");
      tool_json_append_member (out, keys[i]);
      tool_json_append_string (out, safetensors_file_get_metadata_value (file, keys[i]));
    }
  g_string_append (out, keys[0] != NULL ? "\n}\n" : "}\n");
}

static int
print_metadata (const char *arg,
                gboolean    json)
{
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  GError *error = NULL;

  file = tool_open_file (arg, FALSE, &error);
  if (file == NULL)
    return tool_fail_with_error_json (arg, error, json);

  if (json)
    append_metadata_json (out, file);
  else
    append_metadata_text (out, file);
  tool_write_stdout (out);

  return TOOL_EXIT_OK;
}

static int
command_meta (const ToolCommand  *command,
              int                 argc,
              char              **argv)
{
  EditOptions options = { 0 };
  const GOptionEntry entries[] = {
    EDIT_OPTION_JSON (&options),
    EDIT_OPTION_KEEP_FREE (&options),
    EDIT_OPTION_STATS (&options),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  GError *error = NULL;
  const char *action;
  guint n_args;
  gboolean ok;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;
  n_args = g_strv_length (args);
  action = args[1];

  if (action == NULL)
    {
      if (options.keep_free || options.stats)
        return usage_error ("--keep-free and --stats apply to “set” and “rm”");
      return print_metadata (args[0], options.json);
    }

  if (g_str_equal (action, "set") && n_args != 4)
    return usage_error ("“set” takes a KEY and a VALUE");
  if (g_str_equal (action, "rm") && n_args != 3)
    return usage_error ("“rm” takes a KEY");
  if (!g_str_equal (action, "set") && !g_str_equal (action, "rm"))
    return usage_error ("the action must be “set” or “rm”");

  file = edit_open (args[0], &options, &error);
  if (file == NULL)
    return tool_fail_with_error_json (args[0], error, options.json);

  if (g_str_equal (action, "set"))
    {
      ok = safetensors_file_set_metadata_value (file, args[2], args[3], &error);
    }
  else if (safetensors_file_get_metadata_value (file, args[2]) == NULL)
    {
      g_set_error (&error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "no metadata key “%s”", args[2]);
      ok = FALSE;
    }
  else
    {
      ok = safetensors_file_set_metadata_value (file, args[2], NULL, &error);
    }

  return edit_close (file, args[0], &options, ok ? NULL : error);
}

/* ------------------------------------------------------------------ */
/* compact                                                            */
/* ------------------------------------------------------------------ */

static int
command_compact (const ToolCommand  *command,
                 int                 argc,
                 char              **argv)
{
  EditOptions options = { 0 };
  gboolean quiet = FALSE;
  const GOptionEntry entries[] = {
    EDIT_OPTION_STATS (&options),
    EDIT_OPTION_JSON (&options),
    TOOL_OPTION_QUIET (&quiet),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  /* Declared before the file, so that it outlives the file's handlers. */
  g_autoptr(ToolProgress) progress = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  GError *error = NULL;
  gboolean ok;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  file = edit_open (args[0], &options, &error);
  if (file == NULL)
    return tool_fail_with_error_json (args[0], error, options.json);

  /* The commit reports the fraction of its copying that is done; the
   * bytes it wrote are known once it is done. */
  progress = tool_progress_new (quiet);
  tool_progress_watch_commit (progress, file);
  ok = safetensors_file_compact (file, NULL, &error);
  if (ok)
    {
      g_autoptr(SafetensorsCommitStats) stats = safetensors_file_get_commit_stats (file);

      tool_progress_set_total (progress, stats->bytes_written);
    }
  tool_progress_finish (progress, ok);

  return edit_close (file, args[0], &options, ok ? NULL : error);
}

/* ------------------------------------------------------------------ */
/* du                                                                 */
/* ------------------------------------------------------------------ */

typedef struct
{
  guint64  apparent_size;
  gboolean has_disk_bytes;
  guint64  disk_bytes;
  guint64  header_bytes;
  guint64  tensor_bytes;
  guint64  free_bytes;
} DiskUsage;

static gboolean
disk_usage_init (DiskUsage        *usage,
                 SafetensorsFile  *file,
                 GError          **error)
{
  g_autoptr(GFileInfo) info = NULL;
  guint n_tensors = safetensors_file_get_n_tensors (file);

  info = g_file_query_info (safetensors_file_get_file (file),
                            G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                            G_FILE_ATTRIBUTE_STANDARD_ALLOCATED_SIZE,
                            G_FILE_QUERY_INFO_NONE, NULL, error);
  if (info == NULL)
    return FALSE;

  usage->apparent_size = g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_STANDARD_SIZE);
  /* st_blocks * 512 on local files; remote ones may not tell. */
  usage->has_disk_bytes = g_file_info_has_attribute (info, G_FILE_ATTRIBUTE_STANDARD_ALLOCATED_SIZE);
  usage->disk_bytes = g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_STANDARD_ALLOCATED_SIZE);
  /* The length prefix, the JSON and its padding, like the commit stats. */
  usage->header_bytes = safetensors_file_get_data_start (file);
  usage->free_bytes = safetensors_file_get_free_bytes (file);

  for (guint i = 0; i < n_tensors; i++)
    {
      g_autoptr(SafetensorsTensor) tensor = g_list_model_get_item (G_LIST_MODEL (file), i);

      /* No overflow: the tensors of a file that opened lie inside it. */
      usage->tensor_bytes += safetensors_tensor_get_n_bytes (tensor);
    }

  return TRUE;
}

static void
append_disk_usage_text (GString         *out,
                        const DiskUsage *usage)
{
  g_string_append_printf (out, "Apparent size:  %" G_GUINT64_FORMAT " bytes\n", usage->apparent_size);
  if (usage->has_disk_bytes)
    g_string_append_printf (out, "Disk usage:     %" G_GUINT64_FORMAT " bytes\n", usage->disk_bytes);
  else
    g_string_append (out, "Disk usage:     unknown\n");
  g_string_append_printf (out,
                          "Header:         %" G_GUINT64_FORMAT " bytes\n"
                          "Tensors:        %" G_GUINT64_FORMAT " bytes\n"
                          "Free:           %" G_GUINT64_FORMAT " bytes\n",
                          usage->header_bytes, usage->tensor_bytes, usage->free_bytes);
}

static void
append_disk_usage_json (GString         *out,
                        const DiskUsage *usage)
{
  g_string_append (out, "{\n  ");
  tool_json_append_member (out, "apparent_size");
  tool_json_append_uint64 (out, usage->apparent_size);
  g_string_append (out, ",\n  ");
  tool_json_append_member (out, "disk_bytes");
  if (usage->has_disk_bytes)
    tool_json_append_uint64 (out, usage->disk_bytes);
  else
    g_string_append (out, "null");
  g_string_append (out, ",\n  ");
  tool_json_append_member (out, "header_bytes");
  tool_json_append_uint64 (out, usage->header_bytes);
  g_string_append (out, ",\n  ");
  tool_json_append_member (out, "tensor_bytes");
  tool_json_append_uint64 (out, usage->tensor_bytes);
  g_string_append (out, ",\n  ");
  tool_json_append_member (out, "free_bytes");
  tool_json_append_uint64 (out, usage->free_bytes);
  g_string_append (out, "\n}\n");
}

static int
command_du (const ToolCommand  *command,
            int                 argc,
            char              **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    TOOL_OPTION_JSON (&json),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  DiskUsage usage = { 0 };
  GError *error = NULL;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  file = tool_open_file (args[0], FALSE, &error);
  if (file == NULL || !disk_usage_init (&usage, file, &error))
    return tool_fail_with_error_json (args[0], error, json);

  if (json)
    append_disk_usage_json (out, &usage);
  else
    append_disk_usage_text (out, &usage);
  tool_write_stdout (out);

  return TOOL_EXIT_OK;
}

/* Opening for writing rolls back (or finishes) an interrupted commit. */
static int
command_recover (const ToolCommand  *command,
                 int                 argc,
                 char              **argv)
{
  EditOptions options = { 0 };
  const GOptionEntry entries[] = {
    EDIT_OPTION_JSON (&options),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(GFile) location = NULL;
  g_autofree char *journal = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  gboolean had_journal = FALSE;
  guint n_tensors;
  GError *error = NULL;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  /* Whether there is a journal, for the report: opening the file for
   * writing applies it, or fails and leaves it. */
  location = g_file_new_for_commandline_arg (args[0]);
  if (g_file_peek_path (location) != NULL)
    {
      journal = safetensors_journal_path_for (g_file_peek_path (location));
      had_journal = safetensors_journal_exists (journal);
    }

  file = edit_open (args[0], &options, &error);
  if (file == NULL)
    return tool_fail_with_error_json (args[0], error, options.json);
  n_tensors = safetensors_file_get_n_tensors (file);

  if (options.json)
    {
      g_string_append (out, "{\n  ");
      tool_json_append_member (out, "file");
      tool_json_append_string (out, args[0]);
      g_string_append (out, ",\n  ");
      tool_json_append_member (out, "recovered");
      g_string_append (out, had_journal ? "true" : "false");
      g_string_append (out, ",\n  ");
      tool_json_append_member (out, "n_tensors");
      tool_json_append_uint64 (out, n_tensors);
      g_string_append (out, "\n}\n");
    }
  else
    {
      g_string_append_printf (out, "%s: OK, %s (%u tensor%s)\n", args[0],
                              had_journal ? "journal applied" : "no journal",
                              n_tensors, n_tensors == 1 ? "" : "s");
    }

  /* Nothing to commit: closing only releases the lock. */
  if (!safetensors_file_close (file, NULL, &error))
    return tool_fail_with_error_json (args[0], error, options.json);
  tool_write_stdout (out);

  return TOOL_EXIT_OK;
}

#define EDIT_DESCRIPTION_FOOTER \
  "The file is edited in place, in one transaction: on any error nothing\n" \
  "changes. --keep-free leaves the space of removed or replaced data as\n" \
  "free space (hidden filler entries) rather than moving data to close it;\n" \
  "“compact”, or an edit without --keep-free, reclaims it. --stats prints\n" \
  "what the commit wrote, --json the same as a JSON object."

const ToolCommand tool_edit_commands[] = {
  {
    .name = "recover",
    .parameters = "FILE",
    .summary = "Repair a file whose last commit was interrupted",
    .description = "Opens the file for writing, which applies its rollback journal\n"
                   "(.FILE.safetensors-journal): an interrupted commit is undone, or\n"
                   "finished if it had reached its commit point. A file without a journal\n"
                   "is left as it is. Prints “FILE: OK, journal applied (N tensors)” or\n"
                   "“FILE: OK, no journal (N tensors)”.",
    .min_args = 1,
    .max_args = 1,
    .run = command_recover,
  },
  {
    .name = "add",
    .parameters = "FILE NAME ARRAY.npy",
    .summary = "Add a tensor from a NumPy .npy file",
    .description = "Adds the array as tensor NAME; an existing NAME is an error unless\n"
                   "--replace. Big-endian and Fortran-ordered arrays are converted; only\n"
                   "the dtypes safetensors has are accepted.\n"
                   "\n"
                   EDIT_DESCRIPTION_FOOTER,
    .min_args = 3,
    .max_args = 3,
    .run = command_add,
  },
  {
    .name = "rm",
    .parameters = "FILE NAME…",
    .summary = "Remove tensors",
    .description = "Removes all the named tensors, or none if one of them does not exist.\n"
                   "\n"
                   EDIT_DESCRIPTION_FOOTER,
    .min_args = 2,
    .max_args = G_MAXUINT,
    .run = command_rm,
  },
  {
    .name = "mv",
    .parameters = "FILE OLD NEW",
    .summary = "Rename a tensor",
    .description = "Renames tensor OLD to NEW; its data stays where it is unless the\n"
                   "header has to grow into it.\n"
                   "\n"
                   EDIT_DESCRIPTION_FOOTER,
    .min_args = 3,
    .max_args = 3,
    .run = command_mv,
  },
  {
    .name = "meta",
    .parameters = "FILE [set KEY VALUE | rm KEY]",
    .summary = "Print or change the metadata of a file",
    .description = "Without an action, prints the metadata as “key: value” lines sorted by\n"
                   "key (or a JSON object with --json). “set” adds or changes an entry,\n"
                   "“rm” removes one; removing a key that does not exist is an error.\n"
                   "With “set” or “rm”, --json prints the commit's report instead.\n"
                   "\n"
                   EDIT_DESCRIPTION_FOOTER,
    .min_args = 1,
    .max_args = 4,
    .run = command_meta,
  },
  {
    .name = "compact",
    .parameters = "FILE",
    .summary = "Reclaim the free space of a file edited with --keep-free",
    .description = "Rewrites the file in place without the free space of --keep-free edits:\n"
                   "tensors contiguous after the header, moving as few bytes as possible.\n"
                   "Does nothing to a file without free space. --stats prints what the\n"
                   "commit wrote, --json the same as a JSON object.",
    .min_args = 1,
    .max_args = 1,
    .run = command_compact,
  },
  {
    .name = "du",
    .parameters = "FILE",
    .summary = "Show the space a file takes and what it holds",
    .description = "Prints the apparent size, the bytes allocated on disk (smaller for\n"
                   "sparse files), the bytes of the header (with its length prefix and\n"
                   "padding), of the tensors and of free space left by --keep-free edits.",
    .min_args = 1,
    .max_args = 1,
    .run = command_du,
  },
  { NULL }
};
