/* tool-npz.c — NumPy interop: import-npz, export-npz
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <string.h>

#include <zip.h>

#include "safetensors-npy-private.h"

#include "tool-common.h"

/* What np.savez () writes for no arrays: an end-of-central-directory
 * record alone. libzip deletes an archive that ends up empty instead. */
static const guint8 empty_zip[22] = { 'P', 'K', 0x05, 0x06 };

/* np.savez_compressed () deflates at zlib's default level. */
#define DEFLATE_LEVEL 6

/* Arrays are read from the archive and converted through a buffer of this
 * size, a multiple of every element size. */
#define CHUNK_SIZE (256 * 1024)

static void
set_zip_error (GError      **error,
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

  set_zip_error (error, zip_error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA, context);
}

/* libzip works on local paths, and calls a folder an unsupported
 * operation. */
static char *
get_archive_path (const char  *arg,
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
static gboolean
is_safe_member_path (const char *name)
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
  g_autofree char *path = get_archive_path (arg, error);
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
        set_zip_error (error, &zip_error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                       zip_error_system_type (&zip_error) == ZIP_ET_SYS || code == ZIP_ER_NOENT
                       ? "" : "not a valid .npz archive: ");
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

  if (!is_safe_member_path (stat->name))
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
          set_zip_error (error, zip_get_error (input->archive), SAFETENSORS_ERROR,
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

/* ------------------------------------------------------------------ */
/* Writing an archive                                                 */
/* ------------------------------------------------------------------ */

typedef struct
{
  SafetensorsTensor *tensor;
  char              *member;
  GBytes            *header;
  GBytes            *data;     /* between ZIP_SOURCE_OPEN and ZIP_SOURCE_CLOSE */
  guint64            size;
  guint64            pos;
  zip_error_t        zip_error;
  GError           **tensor_error; /* where a failure to read the tensor goes */
} NpySource;

static void
npy_source_free (NpySource *source)
{
  if (source == NULL)
    return;

  g_clear_object (&source->tensor);
  g_clear_pointer (&source->member, g_free);
  g_clear_pointer (&source->header, g_bytes_unref);
  g_clear_pointer (&source->data, g_bytes_unref);
  zip_error_fini (&source->zip_error);
  g_free (source);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NpySource, npy_source_free)

/* Plans the member for @tensor: its name and .npy header. */
static NpySource *
npy_source_new (SafetensorsTensor  *tensor,
                gboolean            raw,
                GError            **error)
{
  g_autoptr(NpySource) source = g_new0 (NpySource, 1);
  const char *name = safetensors_tensor_get_name (tensor);
  SafetensorsDType dtype = safetensors_tensor_get_dtype (tensor);
  guint64 n_bytes = safetensors_tensor_get_n_bytes (tensor);
  guint n_dims = 0;
  const guint64 *shape = safetensors_tensor_get_shape (tensor, &n_dims);
  guint bits = safetensors_dtype_get_bits (dtype);

  zip_error_init (&source->zip_error);
  source->tensor = g_object_ref (tensor);

  if (safetensors_npy_dtype_to_descr (dtype) == NULL)
    {
      if (!raw)
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                       "tensor “%s”: NumPy has no dtype %s (--raw exports its bits as %s)",
                       name, safetensors_dtype_to_string (dtype),
                       bits == 16 ? "uint16" : "uint8");
          return NULL;
        }
      /* Bit patterns: 16-bit and 8-bit types keep their shape, sub-byte
       * ones become their packed bytes. */
      if (bits == 16)
        {
          dtype = SAFETENSORS_DTYPE_U16;
        }
      else
        {
          dtype = SAFETENSORS_DTYPE_U8;
          if (bits < 8)
            {
              shape = &n_bytes;
              n_dims = 1;
            }
        }
    }

  if (!is_safe_member_path (name))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   "tensor “%s”: a name with an absolute path or “..” cannot be an .npz member",
                   name);
      return NULL;
    }

  source->header = safetensors_npy_build_header (dtype, shape, n_dims, error);
  if (source->header == NULL)
    {
      g_prefix_error (error, "tensor “%s”: ", name);
      return NULL;
    }
  source->member = g_strconcat (name, ".npy", NULL);
  source->size = g_bytes_get_size (source->header) + n_bytes;

  return g_steal_pointer (&source);
}

static zip_int64_t
npy_source_read (NpySource *source,
                 guint8    *buffer,
                 guint64    len)
{
  gsize header_len = g_bytes_get_size (source->header);
  guint64 done = 0;

  /* The header, then the tensor's bytes; safetensors and '<' descrs are
   * both little-endian. */
  while (done < len && source->pos < source->size)
    {
      GBytes *part = source->pos < header_len ? source->header : source->data;
      guint64 part_start = source->pos < header_len ? 0 : header_len;
      gsize part_len = 0;
      const guint8 *data = g_bytes_get_data (part, &part_len);
      guint64 n = MIN (len - done, part_start + part_len - source->pos);

      memcpy (buffer + done, data + (source->pos - part_start), n);
      done += n;
      source->pos += n;
    }

  return done;
}

static zip_int64_t
npy_source_callback (void             *user_data,
                     void             *data,
                     zip_uint64_t      len,
                     zip_source_cmd_t  command)
{
  NpySource *source = user_data;

  switch (command)
    {
    case ZIP_SOURCE_OPEN:
      /* The tensor is read when libzip gets to it, so that a file read
       * without mmap holds one tensor at a time. */
      if (source->data == NULL)
        {
          source->data = safetensors_tensor_get_bytes (source->tensor, NULL, source->tensor_error);
          if (source->data == NULL)
            {
              zip_error_set (&source->zip_error, ZIP_ER_READ, EIO);
              return -1;
            }
        }
      source->pos = 0;
      return 0;

    case ZIP_SOURCE_READ:
      return npy_source_read (source, data, len);

    case ZIP_SOURCE_CLOSE:
      g_clear_pointer (&source->data, g_bytes_unref);
      return 0;

    case ZIP_SOURCE_STAT:
      {
        zip_stat_t *stat = ZIP_SOURCE_GET_ARGS (zip_stat_t, data, len, &source->zip_error);

        if (stat == NULL)
          return -1;
        zip_stat_init (stat);
        stat->size = source->size;
        stat->valid |= ZIP_STAT_SIZE;
        return sizeof (zip_stat_t);
      }

    case ZIP_SOURCE_ERROR:
      return zip_error_to_data (&source->zip_error, data, len);

    case ZIP_SOURCE_FREE:
      npy_source_free (source);
      return 0;

    case ZIP_SOURCE_SEEK:
      {
        zip_int64_t pos = zip_source_seek_compute_offset (source->pos, source->size, data, len,
                                                          &source->zip_error);

        if (pos < 0)
          return -1;
        source->pos = pos;
        return 0;
      }

    case ZIP_SOURCE_TELL:
      return source->pos;

    case ZIP_SOURCE_SUPPORTS:
      return ZIP_SOURCE_SUPPORTS_SEEKABLE;

    default:
      zip_error_set (&source->zip_error, ZIP_ER_OPNOTSUPP, 0);
      return -1;
    }
}

/* Writes @sources (NpySource*, given away) to @path. libzip writes a
 * temporary file beside @path and renames it on success; on failure
 * nothing is left behind. *out_input_failed tells a failure to read a
 * tensor from one to write the archive. */
static gboolean
write_npz (const char  *path,
           GPtrArray   *sources,
           gboolean     compress,
           gboolean    *out_input_failed,
           GError     **error)
{
  g_autoptr(GError) tensor_error = NULL;
  zip_t *archive;
  int code = ZIP_ER_OK;

  if (sources->len == 0)
    return g_file_set_contents_full (path, (const char *) empty_zip, sizeof empty_zip,
                                     G_FILE_SET_CONTENTS_CONSISTENT, 0666, error);

  archive = zip_open (path, ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (archive == NULL)
    {
      zip_error_t zip_error;

      zip_error_init_with_code (&zip_error, code);
      set_zip_error (error, &zip_error, G_IO_ERROR, G_IO_ERROR_FAILED, "");
      zip_error_fini (&zip_error);
      return FALSE;
    }

  for (guint i = 0; i < sources->len; i++)
    {
      /* libzip owns the source from here on. */
      NpySource *source = g_steal_pointer (&sources->pdata[i]);
      zip_source_t *zip_source;
      zip_int64_t index;

      source->tensor_error = &tensor_error;

      zip_source = zip_source_function_create (npy_source_callback, source, zip_get_error (archive));
      if (zip_source == NULL)
        {
          npy_source_free (source);
          goto failed;
        }
      index = zip_file_add (archive, source->member, zip_source, ZIP_FL_ENC_UTF_8);
      if (index < 0)
        {
          zip_source_free (zip_source);
          goto failed;
        }
      if (zip_set_file_compression (archive, index, compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE,
                                    compress ? DEFLATE_LEVEL : 0) < 0)
        goto failed;
    }

  if (zip_close (archive) == 0)
    return TRUE;

failed:
  *out_input_failed = tensor_error != NULL;
  if (tensor_error != NULL)
    g_propagate_error (error, g_steal_pointer (&tensor_error));
  else
    set_zip_error (error, zip_get_error (archive), G_IO_ERROR, G_IO_ERROR_FAILED, "");
  zip_discard (archive);
  return FALSE;
}

static int
command_export_npz (const ToolCommand  *command,
                    int                 argc,
                    char              **argv)
{
  gboolean raw = FALSE;
  gboolean compress = FALSE;
  const GOptionEntry entries[] = {
    { "raw", 0, 0, G_OPTION_ARG_NONE, &raw,
      "Export dtypes NumPy lacks as their bit patterns (uint16 or uint8)", NULL },
    { "compress", 0, 0, G_OPTION_ARG_NONE, &compress,
      "Deflate the arrays, like np.savez_compressed()", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(GPtrArray) tensors = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) sources = g_ptr_array_new_with_free_func ((GDestroyNotify) npy_source_free);
  g_autoptr(GHashTable) chosen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  gboolean input_failed = FALSE;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  file = tool_open_file (args[0], FALSE, &error);
  if (file == NULL)
    {
      tool_print_file_error (args[0], error);
      return TOOL_EXIT_FAILURE;
    }

  if (args[2] == NULL)
    {
      for (guint i = 0; i < safetensors_file_get_n_tensors (file); i++)
        g_ptr_array_add (tensors, g_list_model_get_item (G_LIST_MODEL (file), i));
    }
  for (guint i = 2; args[i] != NULL; i++)
    {
      SafetensorsTensor *tensor;

      /* Naming a tensor twice exports it once. */
      if (!g_hash_table_add (chosen, args[i]))
        continue;
      tensor = safetensors_file_lookup (file, args[i], &error);
      if (tensor == NULL)
        {
          tool_print_file_error (args[0], error);
          return TOOL_EXIT_FAILURE;
        }
      g_ptr_array_add (tensors, tensor);
    }

  /* Every tensor is checked before anything is written. */
  for (guint i = 0; i < tensors->len; i++)
    {
      NpySource *source = npy_source_new (g_ptr_array_index (tensors, i), raw, &error);

      if (source == NULL)
        {
          tool_print_file_error (args[0], error);
          return TOOL_EXIT_FAILURE;
        }
      g_ptr_array_add (sources, source);
    }

  path = get_archive_path (args[1], &error);
  if (path == NULL || !write_npz (path, sources, compress, &input_failed, &error))
    {
      tool_print_file_error (input_failed ? args[0] : args[1], error);
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
    .run = command_export_npz,
  },
  { NULL }
};
