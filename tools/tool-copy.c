/* tool-copy.c — writing new files from existing ones: cat, extract;
 * and sparsify, which frees the disk blocks of zero data in place
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "tool-common.h"
#include "tool-progress.h"

/* Tensor data is copied in pieces of this size: memory use does not depend
 * on tensor sizes, mapped or not. */
#define COPY_CHUNK_SIZE (4 * 1024 * 1024)

/* The block size sparsify works in; file systems allocate in 4 KiB blocks
 * (or multiples of them, which a 4 KiB punch frees only when all of their
 * 4 KiB pieces are zero). */
#define SPARSE_BLOCK_SIZE 4096

/* ------------------------------------------------------------------ */
/* Copying tensors with a writer                                      */
/* ------------------------------------------------------------------ */

typedef struct
{
  SafetensorsTensor *tensor;
  char              *name;   /* in the output */
  const char        *arg;    /* the input, as given on the command line */
} CopyItem;

static void
copy_item_free (gpointer data)
{
  CopyItem *item = data;

  g_object_unref (item->tensor);
  g_free (item->name);
  g_free (item);
}

static void
add_copy_item (GPtrArray         *items,
               SafetensorsTensor *tensor,
               char              *name,
               const char        *arg)
{
  CopyItem *item = g_new0 (CopyItem, 1);

  item->tensor = g_object_ref (tensor);
  item->name = name;
  item->arg = arg;
  g_ptr_array_add (items, item);
}

/* {"file": OUT, "n_tensors": N, "tensor_bytes": N, "file_size": N} */
static void
print_written_json (const char        *out_arg,
                    SafetensorsWriter *writer,
                    guint              n_tensors)
{
  g_autoptr(GString) out = g_string_new ("{");

  tool_json_append_written_file (out, out_arg, n_tensors,
                                 safetensors_writer_get_total_bytes (writer),
                                 safetensors_writer_get_size (writer, NULL));
  g_string_append (out, "}\n");
  tool_write_stdout (out);
}

/* Declares every item, writes the header to @out_arg and then the data,
 * chunk by chunk, showing @progress; with @json, describes the file
 * written. The writer goes through a temporary file, so a failure leaves
 * no output behind (and an existing @out_arg untouched). */
static int
write_items (SafetensorsWriter *writer,
             GPtrArray         *items,
             const char        *out_arg,
             ToolProgress      *progress,
             gboolean           json)
{
  g_autoptr(GFile) destination = g_file_new_for_commandline_arg (out_arg);
  GError *error = NULL;

  for (guint i = 0; i < items->len; i++)
    {
      CopyItem *item = g_ptr_array_index (items, i);
      guint n_dims = 0;
      const guint64 *shape = safetensors_tensor_get_shape (item->tensor, &n_dims);

      if (!safetensors_writer_add_tensor (writer, item->name,
                                          safetensors_tensor_get_dtype (item->tensor),
                                          shape, n_dims, NULL, &error))
        return tool_fail_with_error_json (item->arg, error, json);
    }

  if (!safetensors_writer_begin (writer, destination, NULL, &error))
    return tool_fail_with_error_json (out_arg, error, json);
  tool_progress_set_total (progress, safetensors_writer_get_total_bytes (writer));
  tool_progress_watch_writer (progress, writer);

  for (guint i = 0; i < items->len; i++)
    {
      CopyItem *item = g_ptr_array_index (items, i);
      guint64 n_bytes = safetensors_tensor_get_n_bytes (item->tensor);

      for (guint64 offset = 0; offset < n_bytes; offset += COPY_CHUNK_SIZE)
        {
          g_autoptr(GBytes) chunk = NULL;
          gsize len = 0;
          const guint8 *data;

          chunk = safetensors_tensor_read_range (item->tensor, offset,
                                                 MIN (COPY_CHUNK_SIZE, n_bytes - offset),
                                                 NULL, &error);
          if (chunk == NULL)
            {
              safetensors_writer_abort (writer);
              tool_progress_finish (progress, FALSE);
              return tool_fail_with_error_json (item->arg, error, json);
            }

          data = g_bytes_get_data (chunk, &len);
          if (!safetensors_writer_write_chunk (writer, item->name, data, len, NULL, &error))
            {
              tool_progress_finish (progress, FALSE);
              return tool_fail_with_error_json (out_arg, error, json);
            }
        }
    }

  if (!safetensors_writer_finish (writer, NULL, &error))
    {
      tool_progress_finish (progress, FALSE);
      return tool_fail_with_error_json (out_arg, error, json);
    }
  tool_progress_finish (progress, TRUE);

  if (json)
    print_written_json (out_arg, writer, items->len);
  return TOOL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* cat                                                                */
/* ------------------------------------------------------------------ */

/* "dir/model.safetensors" → "model" */
static char *
input_prefix (const char *arg)
{
  g_autoptr(GFile) file = g_file_new_for_commandline_arg (arg);
  char *base = g_file_get_basename (file);
  char *dot = strrchr (base, '.');

  if (dot != NULL && dot != base)
    *dot = '\0';
  return base;
}

typedef struct
{
  const char *arg;
  const char *value;
} MetadataSource;

/* Metadata keys holding the same value in every input that has them are
 * copied as they are. A key with different values is an error about the
 * last input holding it (*@error_arg), or with @prefix is copied once per
 * input as "PREFIX.KEY". */
static gboolean
merge_metadata (SafetensorsWriter  *writer,
                char              **args,
                SafetensorsFile   **files,
                gboolean            prefix,
                const char        **error_arg,
                GError            **error)
{
  g_autoptr(GHashTable) sources = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                         (GDestroyNotify) g_array_unref);
  g_autoptr(GPtrArray) keys = g_ptr_array_new ();   /* owned by @sources */

  for (guint i = 0; files[i] != NULL; i++)
    {
      g_auto(GStrv) file_keys = safetensors_file_get_metadata_keys (files[i]);

      for (guint k = 0; file_keys[k] != NULL; k++)
        {
          const char *value = safetensors_file_get_metadata_value (files[i], file_keys[k]);
          MetadataSource source = { args[i], value };
          GArray *list = g_hash_table_lookup (sources, file_keys[k]);

          if (list == NULL)
            {
              char *key = g_strdup (file_keys[k]);

              list = g_array_new (FALSE, FALSE, sizeof (MetadataSource));
              g_hash_table_insert (sources, key, list);
              g_ptr_array_add (keys, key);
            }
          g_array_append_val (list, source);
        }
    }

  for (guint k = 0; k < keys->len; k++)
    {
      const char *key = g_ptr_array_index (keys, k);
      GArray *list = g_hash_table_lookup (sources, key);
      MetadataSource *first = &g_array_index (list, MetadataSource, 0);
      gboolean same = TRUE;

      for (guint s = 1; s < list->len; s++)
        same = same && g_str_equal (first->value, g_array_index (list, MetadataSource, s).value);

      if (same)
        {
          safetensors_writer_set_metadata_value (writer, key, first->value);
          continue;
        }

      if (!prefix)
        {
          *error_arg = g_array_index (list, MetadataSource, list->len - 1).arg;
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                       "metadata “%s” differs from the other inputs' (use --prefix to keep both)",
                       key);
          return FALSE;
        }

      for (guint s = 0; s < list->len; s++)
        {
          MetadataSource *source = &g_array_index (list, MetadataSource, s);
          g_autofree char *base = input_prefix (source->arg);
          g_autofree char *prefixed = g_strconcat (base, ".", key, NULL);

          safetensors_writer_set_metadata_value (writer, prefixed, source->value);
        }
    }

  return TRUE;
}

static int
command_cat (const ToolCommand  *command,
             int                 argc,
             char              **argv)
{
  gboolean prefix = FALSE;
  gboolean no_mmap = FALSE;
  gboolean quiet = FALSE;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "prefix", 'p', 0, G_OPTION_ARG_NONE, &prefix,
      "Prefix each tensor name with its input's basename without extension and “.”", NULL },
    TOOL_OPTION_NO_MMAP (&no_mmap),
    TOOL_OPTION_QUIET (&quiet),
    TOOL_OPTION_JSON (&json),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (copy_item_free);
  g_autoptr(GHashTable) origins = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(ToolProgress) progress = NULL;
  g_autoptr(SafetensorsWriter) writer = NULL;
  SafetensorsFile **files = NULL;
  const char *error_arg = NULL;
  GError *error = NULL;
  char **inputs;
  guint n_inputs;
  int status = TOOL_EXIT_FAILURE;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;
  progress = tool_progress_new (quiet);

  inputs = args + 1;
  n_inputs = g_strv_length (inputs);
  files = g_new0 (SafetensorsFile *, n_inputs + 1);

  for (guint i = 0; i < n_inputs; i++)
    {
      g_auto(GStrv) names = NULL;
      g_autofree char *base = prefix ? input_prefix (inputs[i]) : NULL;

      files[i] = tool_open_file (inputs[i], no_mmap, &error);
      if (files[i] == NULL)
        {
          tool_fail_with_error_json (inputs[i], error, json);
          goto out;
        }

      names = safetensors_file_get_tensor_names (files[i]);
      for (guint t = 0; names[t] != NULL; t++)
        {
          g_autoptr(SafetensorsTensor) tensor = safetensors_file_lookup (files[i], names[t], NULL);
          char *name = prefix ? g_strconcat (base, ".", names[t], NULL) : g_strdup (names[t]);
          const char *origin = g_hash_table_lookup (origins, name);

          if (origin != NULL)
            {
              g_set_error (&error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_DUPLICATE_NAME,
                           "tensor “%s” is in both %s and %s%s", name, origin, inputs[i],
                           prefix ? "" : " (use --prefix to keep both)");
              tool_fail_with_error_json (inputs[i], error, json);
              g_free (name);
              goto out;
            }
          add_copy_item (items, tensor, name, inputs[i]);
          g_hash_table_insert (origins, name, inputs[i]);
        }
    }

  writer = safetensors_writer_new (SAFETENSORS_WRITER_FLAGS_NONE);
  if (!merge_metadata (writer, inputs, files, prefix, &error_arg, &error))
    {
      tool_fail_with_error_json (error_arg, error, json);
      goto out;
    }

  status = write_items (writer, items, args[0], progress, json);

out:
  /* The items hold references on the tensors, which keep their files
   * alive: drop them first. */
  g_clear_pointer (&items, g_ptr_array_unref);
  for (guint i = 0; i < n_inputs; i++)
    g_clear_object (&files[i]);
  g_free (files);
  return status;
}

/* ------------------------------------------------------------------ */
/* extract                                                            */
/* ------------------------------------------------------------------ */

static int
command_extract (const ToolCommand  *command,
                 int                 argc,
                 char              **argv)
{
  gboolean no_mmap = FALSE;
  gboolean quiet = FALSE;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    TOOL_OPTION_NO_MMAP (&no_mmap),
    TOOL_OPTION_QUIET (&quiet),
    TOOL_OPTION_JSON (&json),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (copy_item_free);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(ToolProgress) progress = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(SafetensorsWriter) writer = NULL;
  g_auto(GStrv) keys = NULL;
  GError *error = NULL;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;
  progress = tool_progress_new (quiet);

  file = tool_open_file (args[0], no_mmap, &error);
  if (file == NULL)
    return tool_fail_with_error_json (args[0], error, json);

  for (guint i = 2; args[i] != NULL; i++)
    {
      g_autoptr(SafetensorsTensor) tensor = NULL;

      /* Naming a tensor twice copies it once. */
      if (!g_hash_table_add (seen, args[i]))
        continue;

      tensor = safetensors_file_lookup (file, args[i], &error);
      if (tensor == NULL)
        return tool_fail_with_error_json (args[0], error, json);
      add_copy_item (items, tensor, g_strdup (args[i]), args[0]);
    }

  writer = safetensors_writer_new (SAFETENSORS_WRITER_FLAGS_NONE);
  keys = safetensors_file_get_metadata_keys (file);
  for (guint k = 0; keys[k] != NULL; k++)
    safetensors_writer_set_metadata_value (writer, keys[k],
                                           safetensors_file_get_metadata_value (file, keys[k]));

  return write_items (writer, items, args[1], progress, json);
}

/* ------------------------------------------------------------------ */
/* sparsify                                                           */
/* ------------------------------------------------------------------ */

static gboolean
is_zero (const guint8 *data,
         gsize         len)
{
  return len == 0 || (data[0] == 0 && memcmp (data, data + 1, len - 1) == 0);
}

static void
set_errno_error (GError     **error,
                 int          saved_errno,
                 const char  *what)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "%s: %s", what, g_strerror (saved_errno));
}

static guint64
allocated_bytes (int fd)
{
  struct stat st;

  if (fstat (fd, &st) != 0)
    return 0;
  return (guint64) st.st_blocks * 512;
}

/* Punches every all-zero, 4 KiB-aligned block between @start and @end. */
static gboolean
punch_zero_blocks (int       fd,
                   guint64   start,
                   guint64   end,
                   GError  **error)
{
  g_autofree guint8 *buffer = g_malloc (COPY_CHUNK_SIZE);
  guint64 offset = (start + SPARSE_BLOCK_SIZE - 1) / SPARSE_BLOCK_SIZE * SPARSE_BLOCK_SIZE;
  guint64 run_start = 0, run_len = 0;

  while (offset + SPARSE_BLOCK_SIZE <= end)
    {
      gsize want = MIN (COPY_CHUNK_SIZE, (end - offset) / SPARSE_BLOCK_SIZE * SPARSE_BLOCK_SIZE);
      gssize got;

      do
        got = pread (fd, buffer, want, (off_t) offset);
      while (got < 0 && errno == EINTR);
      if (got < 0)
        {
          set_errno_error (error, errno, "cannot read");
          return FALSE;
        }
      if (got < (gssize) SPARSE_BLOCK_SIZE)
        break;

      for (gsize pos = 0; pos + SPARSE_BLOCK_SIZE <= (gsize) got; pos += SPARSE_BLOCK_SIZE)
        {
          if (is_zero (buffer + pos, SPARSE_BLOCK_SIZE))
            {
              if (run_len == 0)
                run_start = offset + pos;
              run_len += SPARSE_BLOCK_SIZE;
              continue;
            }
          if (run_len > 0 &&
              fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                         (off_t) run_start, (off_t) run_len) != 0)
            {
              set_errno_error (error, errno, "cannot punch holes");
              return FALSE;
            }
          run_len = 0;
        }
      offset += (guint64) got / SPARSE_BLOCK_SIZE * SPARSE_BLOCK_SIZE;
    }

  if (run_len > 0 &&
      fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                 (off_t) run_start, (off_t) run_len) != 0)
    {
      set_errno_error (error, errno, "cannot punch holes");
      return FALSE;
    }

  return TRUE;
}

static int
command_sparsify (const ToolCommand  *command,
                  int                 argc,
                  char              **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    TOOL_OPTION_JSON (&json),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(GFile) location = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(GString) out = NULL;
  g_autofree char *path = NULL;
  GError *error = NULL;
  guint64 before, after, freed;
  int fd;
  gboolean ok;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  /* Opening for writing takes the writer lock (and repairs an
   * interrupted commit first): no commit can move data while holes are
   * punched. The blocks are read and punched through the file's path. */
  location = g_file_new_for_commandline_arg (args[0]);
  file = safetensors_file_open (location, SAFETENSORS_OPEN_FLAGS_READ_WRITE, NULL, &error);
  if (file == NULL)
    return tool_fail_with_error_json (args[0], error, json);

  /* READ_WRITE opens only local files, which have a path. */
  path = g_file_get_path (location);
  g_assert (path != NULL);
  fd = g_open (path, O_RDWR | O_CLOEXEC, 0);
  if (fd < 0)
    {
      set_errno_error (&error, errno, "cannot open");
      return tool_fail_with_error_json (args[0], error, json);
    }

  before = allocated_bytes (fd);
  ok = punch_zero_blocks (fd, safetensors_file_get_data_start (file),
                          safetensors_file_get_size (file), &error);
  if (ok && fsync (fd) != 0)
    {
      set_errno_error (&error, errno, "cannot sync");
      ok = FALSE;
    }
  after = allocated_bytes (fd);
  close (fd);

  if (!ok)
    return tool_fail_with_error_json (args[0], error, json);
  if (!safetensors_file_close (file, NULL, &error))
    return tool_fail_with_error_json (args[0], error, json);

  freed = before > after ? before - after : 0;
  out = g_string_new (NULL);
  if (json)
    {
      g_string_append_c (out, '{');
      tool_json_append_member (out, "file");
      tool_json_append_string (out, args[0]);
      g_string_append_c (out, ',');
      tool_json_append_member (out, "bytes_freed");
      tool_json_append_uint64 (out, freed);
      g_string_append_c (out, ',');
      tool_json_append_member (out, "allocated_bytes");
      tool_json_append_uint64 (out, after);
      g_string_append (out, "}\n");
    }
  else
    {
      g_string_append_printf (out, "%s: freed %" G_GUINT64_FORMAT " bytes (%" G_GUINT64_FORMAT
                              " bytes allocated)\n", args[0], freed, after);
    }
  tool_write_stdout (out);

  return TOOL_EXIT_OK;
}

const ToolCommand tool_copy_commands[] = {
  {
    .name = "cat",
    .parameters = "OUT IN…",
    .summary = "Merge files into a new file",
    .description = "Writes the tensors of every IN to OUT, laid out canonically. A tensor\n"
                   "name in two inputs is an error unless --prefix is given, which names\n"
                   "each tensor BASENAME.NAME after its input (BASENAME without its\n"
                   "extension). Metadata is merged: a key with different values is an\n"
                   "error, or with --prefix is kept once per input as BASENAME.KEY.",
    .min_args = 2,
    .max_args = G_MAXUINT,
    .run = command_cat,
  },
  {
    .name = "extract",
    .parameters = "IN OUT NAME…",
    .summary = "Copy some tensors of a file into a new file",
    .description = "Writes the named tensors and all the metadata of IN to OUT, laid out\n"
                   "canonically.",
    .min_args = 3,
    .max_args = G_MAXUINT,
    .run = command_extract,
  },
  {
    .name = "sparsify",
    .parameters = "FILE",
    .summary = "Free the disk blocks of zero tensor data",
    .description = "Punches a hole for every 4 KiB-aligned block of the data area that\n"
                   "holds only zeros; the file reads the same and keeps its size. Holds\n"
                   "the writer lock meanwhile. Prints the bytes of disk space freed.\n"
                   "File systems without hole punching fail with exit status 1.",
    .min_args = 1,
    .max_args = 1,
    .run = command_sparsify,
  },
  { NULL }
};
