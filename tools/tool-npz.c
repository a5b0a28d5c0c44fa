/* tool-npz.c — NumPy interop: import-npz, and what export-npz shares
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <string.h>

#include <zip.h>

#include "safetensors-npy-private.h"

#include "tool-common.h"
#include "tool-npz.h"

/* Arrays are read from the archive and converted through a buffer of this
 * size, a multiple of every element size. */
#define CHUNK_SIZE (256 * 1024)

void
tool_npz_set_zip_error (GError      **error,
                        zip_error_t  *zip_error,
                        GQuark        fallback_domain,
                        int           fallback_code,
                        const char   *context)
{
  const char *message = zip_error_strerror (zip_error);

  if (zip_error_code_zip (zip_error) == ZIP_ER_NOENT)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s%s", context, message);
  else if (zip_error_system_type (zip_error) == ZIP_ET_SYS)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (zip_error_code_system (zip_error)),
                 "%s%s", context, message);
  else
    g_set_error (error, fallback_domain, fallback_code, "%s%s", context, message);
}

static void
set_member_zip_error (GError      **error,
                      zip_error_t  *zip_error,
                      const char   *member)
{
  g_autofree char *context = g_strdup_printf ("member “%s”: ", member);

  tool_npz_set_zip_error (error, zip_error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                          context);
}

/* libzip works on local paths, and calls a folder an unsupported
 * operation. */
char *
tool_npz_get_archive_path (const char  *arg,
                           GError     **error)
{
  g_autoptr(GFile) file = g_file_new_for_commandline_arg (arg);
  g_autofree char *path = g_file_get_path (file);

  if (path == NULL)
    g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                 ".npz archives must be local files");
  else if (g_file_test (path, G_FILE_TEST_IS_DIR))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, "is a folder, not an .npz archive");
  else
    return g_steal_pointer (&path);

  return NULL;
}

/* A member name np.load () would see as a key, and an unzip tool as a
 * path: refuse anything that could land outside the folder. Backslashes
 * count as separators, as some unzip tools treat them. */
gboolean
tool_npz_is_safe_member_path (const char *name)
{
  g_auto(GStrv) components = NULL;

  if (name[0] == '/' || name[0] == '\\' ||
      (g_ascii_isalpha (name[0]) && name[1] == ':'))
    return FALSE;

  components = g_strsplit_set (name, "/\\", -1);
  for (guint i = 0; components[i] != NULL; i++)
    if (g_str_equal (components[i], ".."))
      return FALSE;

  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Reading an archive                                                 */
/* ------------------------------------------------------------------ */

typedef struct
{
  zip_t    *archive;
  /* Set by a stream that fails while the writer reads it, so that the
   * error is reported against the input, not the output. */
  gboolean  input_failed;
} NpzInput;

static void
npz_input_clear (NpzInput *input)
{
  g_clear_pointer (&input->archive, zip_discard);
}

static void
npz_input_release (NpzInput *input)
{
  g_rc_box_release_full (input, (GDestroyNotify) npz_input_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NpzInput, npz_input_release)

static NpzInput *
npz_input_open (const char  *arg,
                GError     **error)
{
  g_autofree char *path = tool_npz_get_archive_path (arg, error);
  g_autoptr(NpzInput) input = NULL;
  int code = ZIP_ER_OK;

  if (path == NULL)
    return NULL;

  input = g_rc_box_new0 (NpzInput);
  input->archive = zip_open (path, ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (input->archive == NULL)
    {
      zip_error_t zip_error;

      zip_error_init_with_code (&zip_error, code);
      if (code == ZIP_ER_EXISTS)
        g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                     "not a valid .npz archive: two members have the same name");
      else
        tool_npz_set_zip_error (error, &zip_error, SAFETENSORS_ERROR,
                                SAFETENSORS_ERROR_INVALID_DATA,
                                zip_error_system_type (&zip_error) == ZIP_ET_SYS ||
                                code == ZIP_ER_NOENT ? "" : "not a valid .npz archive: ");
      zip_error_fini (&zip_error);
      return NULL;
    }

  return g_steal_pointer (&input);
}

/* Reads exactly @len bytes; a shorter member is an error. */
static gboolean
read_member (zip_file_t  *file,
             const char  *member,
             guint8      *buffer,
             gsize        len,
             GError     **error)
{
  gsize done = 0;

  while (done < len)
    {
      zip_int64_t n = zip_fread (file, buffer + done, len - done);

      if (n < 0)
        {
          set_member_zip_error (error, zip_file_get_error (file), member);
          return FALSE;
        }
      if (n == 0)
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                       "member “%s” ends early", member);
          return FALSE;
        }
      done += n;
    }

  return TRUE;
}

/* After the last byte of the array: the member must end there, and its
 * CRC (which libzip checks at the end) must match. */
static gboolean
close_member (zip_file_t  *file,
              const char  *member,
              GError     **error)
{
  guint8 extra;
  zip_int64_t n = zip_fread (file, &extra, 1);

  if (n < 0)
    {
      set_member_zip_error (error, zip_file_get_error (file), member);
      zip_fclose (file);
      return FALSE;
    }
  zip_fclose (file);
  if (n > 0)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "member “%s” holds more data than its array", member);
      return FALSE;
    }

  return TRUE;
}

/* The array data of one member, little-endian and in C order, read
 * lazily while the writer copies it. Only the stream being read holds
 * memory: one chunk, plus the whole array if it is in Fortran order. */

#define TOOL_TYPE_NPZ_STREAM (tool_npz_stream_get_type ())
G_DECLARE_FINAL_TYPE (ToolNpzStream, tool_npz_stream, TOOL, NPZ_STREAM, GInputStream)

struct _ToolNpzStream
{
  GInputStream          parent_instance;

  NpzInput             *input;
  zip_uint64_t          index;
  char                 *member;
  SafetensorsNpyHeader *header;

  zip_file_t           *file;      /* while reading a C-ordered array */
  guint8               *whole;     /* a Fortran-ordered array, swapped */
  guint8               *chunk;     /* NULL before the first read and at the end */
  gsize                 chunk_pos;
  gsize                 chunk_len;
  guint64               produced;  /* bytes converted so far */
};

G_DEFINE_FINAL_TYPE (ToolNpzStream, tool_npz_stream, G_TYPE_INPUT_STREAM)

static gboolean
needs_reordering (const SafetensorsNpyHeader *header)
{
  return header->fortran_order && header->n_dims > 1 && header->n_elements > 1;
}

static gboolean
tool_npz_stream_start (ToolNpzStream  *self,
                       GError        **error)
{
  SafetensorsNpyHeader *header = self->header;
  gsize skipped = 0;

  self->chunk = g_malloc (CHUNK_SIZE);
  self->file = zip_fopen_index (self->input->archive, self->index, 0);
  if (self->file == NULL)
    {
      set_member_zip_error (error, zip_get_error (self->input->archive), self->member);
      return FALSE;
    }

  while (skipped < header->data_offset)
    {
      gsize n = MIN (header->data_offset - skipped, CHUNK_SIZE);

      if (!read_member (self->file, self->member, self->chunk, n, error))
        return FALSE;
      skipped += n;
    }

  if (!needs_reordering (header))
    return TRUE;

  /* At most SAFETENSORS_NPY_MAX_FORTRAN_BYTES, checked before. */
  self->whole = g_try_malloc (header->n_bytes);
  if (self->whole == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "member “%s”: not enough memory to reorder its Fortran-ordered array",
                   self->member);
      return FALSE;
    }
  if (!read_member (self->file, self->member, self->whole, header->n_bytes, error))
    return FALSE;
  if (header->big_endian)
    safetensors_npy_byteswap (self->whole, header->n_bytes,
                              safetensors_npy_get_swap_size (header->dtype));

  return close_member (g_steal_pointer (&self->file), self->member, error);
}

static gboolean
tool_npz_stream_fill (ToolNpzStream  *self,
                      GError        **error)
{
  SafetensorsNpyHeader *header = self->header;
  gsize element_size = safetensors_dtype_get_bits (header->dtype) / 8;
  gsize len = MIN (header->n_bytes - self->produced, CHUNK_SIZE);

  if (self->chunk == NULL && !tool_npz_stream_start (self, error))
    return FALSE;

  if (self->whole != NULL)
    {
      safetensors_npy_fortran_to_c (self->whole, element_size, header->shape, header->n_dims,
                                    self->produced / element_size, self->chunk,
                                    len / element_size);
    }
  else
    {
      if (!read_member (self->file, self->member, self->chunk, len, error))
        return FALSE;
      /* Whole elements: CHUNK_SIZE is a multiple of the element size. */
      if (header->big_endian)
        safetensors_npy_byteswap (self->chunk, len, safetensors_npy_get_swap_size (header->dtype));
    }

  self->produced += len;
  self->chunk_pos = 0;
  self->chunk_len = len;

  if (self->produced == header->n_bytes && self->file != NULL)
    return close_member (g_steal_pointer (&self->file), self->member, error);

  return TRUE;
}

static gssize
tool_npz_stream_read (GInputStream  *stream,
                      void          *buffer,
                      gsize          count,
                      GCancellable  *cancellable,
                      GError       **error)
{
  ToolNpzStream *self = TOOL_NPZ_STREAM (stream);
  gsize n;

  if (self->chunk_pos == self->chunk_len)
    {
      if (self->produced == self->header->n_bytes)
        {
          g_clear_pointer (&self->chunk, g_free);
          g_clear_pointer (&self->whole, g_free);
          return 0;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return -1;
      if (!tool_npz_stream_fill (self, error))
        {
          self->input->input_failed = TRUE;
          return -1;
        }
    }

  n = MIN (count, self->chunk_len - self->chunk_pos);
  memcpy (buffer, self->chunk + self->chunk_pos, n);
  self->chunk_pos += n;

  return n;
}

static void
tool_npz_stream_finalize (GObject *object)
{
  ToolNpzStream *self = TOOL_NPZ_STREAM (object);

  g_clear_pointer (&self->file, zip_fclose);
  g_clear_pointer (&self->input, npz_input_release);
  g_clear_pointer (&self->header, safetensors_npy_header_free);
  g_clear_pointer (&self->member, g_free);
  g_clear_pointer (&self->whole, g_free);
  g_clear_pointer (&self->chunk, g_free);

  G_OBJECT_CLASS (tool_npz_stream_parent_class)->finalize (object);
}

static void
tool_npz_stream_class_init (ToolNpzStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tool_npz_stream_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = tool_npz_stream_read;
}

static void
tool_npz_stream_init (ToolNpzStream *self)
{
}

static GInputStream *
tool_npz_stream_new (NpzInput             *input,
                     zip_uint64_t          index,
                     const char           *member,
                     SafetensorsNpyHeader *header)
{
  ToolNpzStream *self = g_object_new (TOOL_TYPE_NPZ_STREAM, NULL);

  self->input = g_rc_box_acquire (input);
  self->index = index;
  self->member = g_strdup (member);
  self->header = header;

  return G_INPUT_STREAM (self);
}

/* Reads and checks everything about member @index short of its data. */
static SafetensorsNpyHeader *
read_member_header (zip_t         *archive,
                    zip_uint64_t   index,
                    zip_stat_t    *stat,
                    GError       **error)
{
  g_autoptr(SafetensorsNpyHeader) header = NULL;
  g_autofree guint8 *preamble = NULL;
  gsize prefix_len = MIN (stat->size, SAFETENSORS_NPY_PREFIX_LEN);
  gsize header_size = 0;
  zip_file_t *file;
  gboolean ok;

  if (!tool_npz_is_safe_member_path (stat->name))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "member “%s”: absolute paths and “..” are not allowed in member names",
                   stat->name);
      return NULL;
    }
  if (!g_str_has_suffix (stat->name, ".npy"))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "member “%s” is not a .npy array (every member of an .npz must be)",
                   stat->name);
      return NULL;
    }
  if (stat->encryption_method != ZIP_EM_NONE)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   "member “%s” is encrypted, which is not supported", stat->name);
      return NULL;
    }
  if (stat->comp_method != ZIP_CM_STORE && stat->comp_method != ZIP_CM_DEFLATE)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   "member “%s” uses compression method %u; only stored and deflated "
                   "members are supported", stat->name, (guint) stat->comp_method);
      return NULL;
    }

  file = zip_fopen_index (archive, index, 0);
  if (file == NULL)
    {
      set_member_zip_error (error, zip_get_error (archive), stat->name);
      return NULL;
    }

  /* The fixed part says how long the header is; no more is read. */
  preamble = g_malloc (SAFETENSORS_NPY_PREFIX_LEN);
  ok = read_member (file, stat->name, preamble, prefix_len, error) &&
       safetensors_npy_get_header_size (preamble, prefix_len, &header_size, error);
  if (ok && header_size > prefix_len && header_size <= stat->size)
    {
      preamble = g_realloc (preamble, header_size);
      ok = read_member (file, stat->name, preamble + prefix_len, header_size - prefix_len, error);
      prefix_len = header_size;
    }
  zip_fclose (file);

  if (ok)
    header = safetensors_npy_parse_header (preamble, prefix_len, NULL, error);
  if (header == NULL)
    {
      g_prefix_error (error, "member “%s”: ", stat->name);
      return NULL;
    }

  if (needs_reordering (header) && header->n_bytes > SAFETENSORS_NPY_MAX_FORTRAN_BYTES)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   "member “%s”: the array is in Fortran order and takes %" G_GUINT64_FORMAT
                   " bytes; only arrays up to %" G_GUINT64_FORMAT " bytes can be reordered",
                   stat->name, header->n_bytes, SAFETENSORS_NPY_MAX_FORTRAN_BYTES);
      return NULL;
    }
  if (stat->size - header->data_offset != header->n_bytes)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "member “%s”: its array takes %" G_GUINT64_FORMAT " bytes, but %"
                   G_GUINT64_FORMAT " follow the header", stat->name, header->n_bytes,
                   (guint64) (stat->size - header->data_offset));
      return NULL;
    }

  return g_steal_pointer (&header);
}

/* Declares one tensor per member, each read from its own stream. */
static gboolean
declare_members (NpzInput           *input,
                 SafetensorsWriter  *writer,
                 GError            **error)
{
  zip_int64_t n_entries = zip_get_num_entries (input->archive, 0);

  for (zip_int64_t i = 0; i < n_entries; i++)
    {
      g_autoptr(SafetensorsNpyHeader) header = NULL;
      g_autoptr(GInputStream) stream = NULL;
      g_autofree char *name = NULL;
      const SafetensorsNpyHeader *info;
      zip_stat_t stat;

      if (zip_stat_index (input->archive, i, 0, &stat) < 0)
        {
          tool_npz_set_zip_error (error, zip_get_error (input->archive), SAFETENSORS_ERROR,
                         SAFETENSORS_ERROR_INVALID_DATA, "");
          return FALSE;
        }

      header = read_member_header (input->archive, i, &stat, error);
      if (header == NULL)
        return FALSE;

      /* np.savez () stores array "a/b" as "a/b.npy". */
      name = g_strndup (stat.name, strlen (stat.name) - strlen (".npy"));
      info = header;
      stream = tool_npz_stream_new (input, i, stat.name, g_steal_pointer (&header));
      if (!safetensors_writer_add_tensor_from_stream (writer, name, info->dtype,
                                                      info->shape, info->n_dims,
                                                      stream, error))
        {
          g_prefix_error (error, "member “%s”: ", stat.name);
          return FALSE;
        }
    }

  return TRUE;
}

static gboolean
parse_metadata_options (char       **options,
                        GPtrArray   *pairs)
{
  for (guint i = 0; options != NULL && options[i] != NULL; i++)
    {
      const char *equals = strchr (options[i], '=');

      if (equals == NULL || !g_utf8_validate (options[i], -1, NULL))
        {
          g_printerr ("%s: --metadata takes KEY=VALUE in UTF-8, not “%s”\n",
                      g_get_prgname (), options[i]);
          return FALSE;
        }
      g_ptr_array_add (pairs, g_strndup (options[i], equals - options[i]));
      g_ptr_array_add (pairs, g_strdup (equals + 1));
    }

  return TRUE;
}

static int
command_import_npz (const ToolCommand  *command,
                    int                 argc,
                    char              **argv)
{
  g_auto(GStrv) metadata = NULL;
  const GOptionEntry entries[] = {
    { "metadata", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &metadata,
      "Add an entry to the file's metadata (repeatable)", "KEY=VALUE" },
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(GPtrArray) pairs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(NpzInput) input = NULL;
  g_autoptr(SafetensorsWriter) writer = NULL;
  g_autoptr(GFile) destination = NULL;
  g_autoptr(GError) error = NULL;

  if (!tool_parse_options (command, entries, argc, argv, &args) ||
      !parse_metadata_options (metadata, pairs))
    return TOOL_EXIT_USAGE;

  input = npz_input_open (args[0], &error);
  if (input == NULL)
    {
      tool_print_file_error (args[0], error);
      return TOOL_EXIT_FAILURE;
    }

  writer = safetensors_writer_new (SAFETENSORS_WRITER_FLAGS_NONE);
  if (!declare_members (input, writer, &error))
    {
      tool_print_file_error (args[0], error);
      return TOOL_EXIT_FAILURE;
    }
  for (guint i = 0; i < pairs->len; i += 2)
    safetensors_writer_set_metadata_value (writer, g_ptr_array_index (pairs, i),
                                           g_ptr_array_index (pairs, i + 1));

  /* The writer fills a temporary file and renames it into place: a
   * failure leaves no partial output. */
  destination = g_file_new_for_commandline_arg (args[1]);
  if (!safetensors_writer_begin (writer, destination, NULL, &error) ||
      !safetensors_writer_finish (writer, NULL, &error))
    {
      tool_print_file_error (input->input_failed ? args[0] : args[1], error);
      return TOOL_EXIT_FAILURE;
    }

  return TOOL_EXIT_OK;
}

const ToolCommand tool_npz_commands[] = {
  {
    .name = "import-npz",
    .parameters = "IN.npz OUT",
    .summary = "Convert a NumPy .npz archive to a safetensors file",
    .description = "Each member NAME.npy becomes tensor NAME. Big-endian and Fortran-ordered\n"
                   "arrays are converted; only the dtypes safetensors has are accepted\n"
                   "(bool, integers, float16/32/64, complex64). Stored and deflated members\n"
                   "are read; encrypted ones and names with absolute paths or “..” are\n"
                   "refused.",
    .min_args = 2,
    .max_args = 2,
    .run = command_import_npz,
  },
  {
    .name = "export-npz",
    .parameters = "IN OUT.npz [NAME…]",
    .summary = "Write tensors to a NumPy .npz archive",
    .description = "Writes every tensor, or the named ones, as NAME.npy, laid out like\n"
                   "np.savez() (or np.savez_compressed() with --compress). Dtypes NumPy does\n"
                   "not have (BF16, F8_*, F6_*, F4) are refused unless --raw, which exports\n"
                   "16-bit ones as uint16, 8-bit ones as uint8 and sub-byte ones as their\n"
                   "packed bytes (uint8, shape [n_bytes]).",
    .min_args = 2,
    .max_args = G_MAXUINT,
    .run = tool_npz_command_export,
  },
  { NULL }
};
