/* safetensors-writer.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-enums.h"
#include "safetensors-error.h"
#include "safetensors-header-writer-private.h"
#include "safetensors-output-private.h"
#include "safetensors-writer.h"

/**
 * SafetensorsWriter:
 *
 * Writes a new `.safetensors` file, byte for byte as the reference writer
 * would: tensors sorted by dtype (descending) then name, packed, compact
 * JSON with `__metadata__` first, header padded with spaces to a multiple
 * of 8.
 *
 * First declare every tensor with [method@Safetensors.Writer.add_tensor]
 * (optionally with its data as #GBytes) or
 * [method@Safetensors.Writer.add_tensor_from_stream], and the metadata.
 * Then [method@Safetensors.Writer.begin] fixes the layout and writes the
 * header; data can then be supplied piece by piece with
 * [method@Safetensors.Writer.write_chunk], in any order for a file, in
 * layout order for a stream. [method@Safetensors.Writer.finish] writes the
 * remaining sources and makes the file appear atomically.
 *
 * Memory use does not depend on tensor sizes: data goes straight to the
 * destination. A tensor that receives no data at all reads as zeros (and
 * costs no disk blocks); one that is only partly written is an error.
 *
 * Writing over an existing file goes to a temporary file in the same
 * folder, renamed into place after fsync; the old file keeps its
 * permissions, and a failed, cancelled or aborted write leaves it untouched
 * with no temporary file behind.
 *
 * Since: 1.0
 */

#include "safetensors-context-private.h"
#include "safetensors-writer-private.h"


G_DEFINE_FINAL_TYPE (SafetensorsWriter, safetensors_writer, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_BYTES_WRITTEN,
  PROP_TOTAL_BYTES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];


static void
pending_tensor_free (gpointer data)
{
  PendingTensor *pending = data;

  safetensors_tensor_info_free (pending->info);
  g_clear_pointer (&pending->data, g_bytes_unref);
  g_clear_object (&pending->stream);
  g_free (pending);
}

static void
safetensors_writer_finalize (GObject *object)
{
  SafetensorsWriter *self = (SafetensorsWriter *) object;

  /* Dropping an unfinished writer is an abort: the temporary goes away. */
  g_clear_pointer (&self->output, safetensors_output_free);
  g_clear_pointer (&self->by_name, g_hash_table_unref);
  g_clear_pointer (&self->tensors, g_ptr_array_unref);
  g_clear_pointer (&self->metadata, g_hash_table_unref);
  g_clear_pointer (&self->header, g_bytes_unref);

  G_OBJECT_CLASS (safetensors_writer_parent_class)->finalize (object);
}

static void
safetensors_writer_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  SafetensorsWriter *self = SAFETENSORS_WRITER (object);

  switch (prop_id)
    {
    case PROP_BYTES_WRITTEN:
      g_value_set_uint64 (value, safetensors_writer_get_bytes_written (self));
      break;
    case PROP_TOTAL_BYTES:
      g_value_set_uint64 (value, safetensors_writer_get_total_bytes (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
safetensors_writer_class_init (SafetensorsWriterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = safetensors_writer_finalize;
  object_class->get_property = safetensors_writer_get_property;

  /**
   * SafetensorsWriter:bytes-written:
   *
   * How many bytes of tensor data have been written so far. Notified (at
   * most about 20 times a second, and once at the end) while
   * [method@Safetensors.Writer.finish] or its async variant runs, in the
   * thread or main context that called it: connect to `notify::bytes-written`
   * for a progress bar.
   *
   * Since: 1.0
   */
  properties[PROP_BYTES_WRITTEN] =
    g_param_spec_uint64 ("bytes-written", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * SafetensorsWriter:total-bytes:
   *
   * The size of all tensor data, known once the layout is fixed.
   *
   * Since: 1.0
   */
  properties[PROP_TOTAL_BYTES] =
    g_param_spec_uint64 ("total-bytes", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
safetensors_writer_init (SafetensorsWriter *self)
{
  self->tensors = g_ptr_array_new_with_free_func (pending_tensor_free);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/**
 * safetensors_writer_new:
 * @flags: how to write
 *
 * Creates a writer with no tensors and no metadata.
 *
 * Returns: (transfer full): a new writer
 *
 * Since: 1.0
 */
SafetensorsWriter *
safetensors_writer_new (SafetensorsWriterFlags flags)
{
  SafetensorsWriter *self = g_object_new (SAFETENSORS_TYPE_WRITER, NULL);

  self->flags = flags;
  return self;
}

gboolean
safetensors_writer_check_state (SafetensorsWriter  *self,
             WriterState         wanted,
             const char         *what,
             GError            **error)
{
  static const char *explanations[] = {
    [STATE_DECLARING] = "before begin()",
    [STATE_WRITING] = "between begin() and finish()",
    [STATE_FINISHING] = "while finish() runs",
    [STATE_DONE] = "after finish()",
    [STATE_FAILED] = "after a failure or abort()",
  };

  if (self->state == wanted)
    return TRUE;

  g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
               "%s is only possible %s, and this writer is %s",
               what, explanations[wanted],
               self->state == STATE_DECLARING ? "not started yet" :
               self->state == STATE_WRITING ? "writing" :
               self->state == STATE_FINISHING ? "finishing" :
               self->state == STATE_DONE ? "finished" : "failed");
  return FALSE;
}

static PendingTensor *
declare (SafetensorsWriter  *self,
         const char         *name,
         SafetensorsDType    dtype,
         const guint64      *shape,
         guint               n_dims,
         GError            **error)
{
  PendingTensor *pending;
  SafetensorsTensorInfo *info;

  if (!safetensors_writer_check_state (self, STATE_DECLARING, "adding a tensor", error))
    return NULL;

  if (self->header != NULL)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "the layout is fixed (get_header() or get_size() was called); "
                   "tensor “%s” cannot be added", name);
      return NULL;
    }

  if (g_hash_table_contains (self->by_name, name))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_DUPLICATE_NAME,
                   "tensor “%s” was already added", name);
      return NULL;
    }

  info = safetensors_tensor_info_new (name, dtype, shape, n_dims, error);
  if (info == NULL)
    return NULL;

  pending = g_new0 (PendingTensor, 1);
  pending->info = info;
  g_ptr_array_add (self->tensors, pending);
  g_hash_table_insert (self->by_name, info->name, pending);

  return pending;
}

/**
 * safetensors_writer_add_tensor:
 * @self: a writer
 * @name: the tensor's name, UTF-8; `__metadata__` is reserved
 * @dtype: the element type
 * @shape: (array length=n_dims) (nullable): the dimensions, outermost first
 * @n_dims: the number of dimensions, 0 for a scalar
 * @data: (nullable): the tensor's bytes, exactly as many as the dtype and
 *   shape take; %NULL to supply them later with
 *   [method@Safetensors.Writer.write_chunk], or not at all for zeros
 * @error: return location for a #GError
 *
 * Declares a tensor. Possible only before [method@Safetensors.Writer.begin].
 *
 * Returns: %TRUE on success; %FALSE with %SAFETENSORS_ERROR_DUPLICATE_NAME,
 *   %SAFETENSORS_ERROR_RESERVED_NAME, %SAFETENSORS_ERROR_VALIDATION_OVERFLOW,
 *   %SAFETENSORS_ERROR_MISALIGNED_SLICE or
 *   %SAFETENSORS_ERROR_INVALID_ARGUMENT (wrong data size)
 *
 * Since: 1.0
 */
gboolean
safetensors_writer_add_tensor (SafetensorsWriter  *self,
                               const char         *name,
                               SafetensorsDType    dtype,
                               const guint64      *shape,
                               guint               n_dims,
                               GBytes             *data,
                               GError            **error)
{
  g_autoptr(SafetensorsTensorInfo) probe = NULL;
  PendingTensor *pending;

  g_return_val_if_fail (SAFETENSORS_IS_WRITER (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (shape != NULL || n_dims == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Check the size before declaring, so a bad call changes nothing. */
  if (data != NULL)
    {
      probe = safetensors_tensor_info_new (name, dtype, shape, n_dims, error);
      if (probe == NULL)
        return FALSE;
      if (g_bytes_get_size (data) != safetensors_tensor_info_n_bytes (probe))
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                       "tensor “%s”: %" G_GSIZE_FORMAT " bytes of data given, but %s "
                       "of this shape takes %" G_GUINT64_FORMAT,
                       name, g_bytes_get_size (data), safetensors_dtype_to_string (dtype),
                       safetensors_tensor_info_n_bytes (probe));
          return FALSE;
        }
    }

  pending = declare (self, name, dtype, shape, n_dims, error);
  if (pending == NULL)
    return FALSE;
  if (data != NULL)
    pending->data = g_bytes_ref (data);

  return TRUE;
}

/**
 * safetensors_writer_add_tensor_from_stream:
 * @self: a writer
 * @name: the tensor's name
 * @dtype: the element type
 * @shape: (array length=n_dims) (nullable): the dimensions
 * @n_dims: the number of dimensions
 * @stream: where the tensor's bytes will be read from, in
 *   [method@Safetensors.Writer.finish]; it must hold exactly as many bytes as
 *   the tensor takes
 * @error: return location for a #GError
 *
 * Declares a tensor whose data is read from @stream while the file is
 * written, in bounded chunks.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
safetensors_writer_add_tensor_from_stream (SafetensorsWriter  *self,
                                           const char         *name,
                                           SafetensorsDType    dtype,
                                           const guint64      *shape,
                                           guint               n_dims,
                                           GInputStream       *stream,
                                           GError            **error)
{
  PendingTensor *pending;

  g_return_val_if_fail (SAFETENSORS_IS_WRITER (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (shape != NULL || n_dims == 0, FALSE);
  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  pending = declare (self, name, dtype, shape, n_dims, error);
  if (pending == NULL)
    return FALSE;
  pending->stream = g_object_ref (stream);

  return TRUE;
}

/**
 * safetensors_writer_set_metadata_value:
 * @self: a writer
 * @key: a metadata key
 * @value: (nullable): the value, or %NULL to remove @key
 *
 * Sets one entry of the `__metadata__` map. A file without entries gets no
 * `__metadata__` at all, like the reference writer's output. Possible only
 * before [method@Safetensors.Writer.begin].
 *
 * Since: 1.0
 */
void
safetensors_writer_set_metadata_value (SafetensorsWriter *self,
                                       const char        *key,
                                       const char        *value)
{
  g_return_if_fail (SAFETENSORS_IS_WRITER (self));
  g_return_if_fail (key != NULL && g_utf8_validate (key, -1, NULL));
  g_return_if_fail (value == NULL || g_utf8_validate (value, -1, NULL));
  g_return_if_fail (self->state == STATE_DECLARING && self->header == NULL);

  if (value == NULL)
    g_hash_table_remove (self->metadata, key);
  else
    g_hash_table_insert (self->metadata, g_strdup (key), g_strdup (value));
}

/**
 * safetensors_writer_set_header_reserve:
 * @self: a writer
 * @n_bytes: extra header bytes to reserve
 *
 * Reserves room in the header for later in-place edits: the header is
 * padded with @n_bytes more spaces (then up to a multiple of 8), which every
 * reader treats as JSON whitespace. The default, 0, gives the reference
 * writer's exact bytes.
 *
 * Since: 1.0
 */
void
safetensors_writer_set_header_reserve (SafetensorsWriter *self,
                                       guint64            n_bytes)
{
  g_return_if_fail (SAFETENSORS_IS_WRITER (self));
  g_return_if_fail (self->state == STATE_DECLARING && self->header == NULL);

  self->reserve = n_bytes;
}

/* Fixes the layout; after this, no more declarations. */
static gboolean
plan_layout (SafetensorsWriter  *self,
             GError            **error)
{
  g_autoptr(GPtrArray) infos = NULL;
  g_autoptr(GHashTable) info_to_pending = NULL;
  g_autoptr(GPtrArray) ordered = NULL;
  guint64 data_size = 0;

  if (self->header != NULL)
    return TRUE;

  infos = g_ptr_array_new ();
  info_to_pending = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < self->tensors->len; i++)
    {
      PendingTensor *pending = g_ptr_array_index (self->tensors, i);

      g_ptr_array_add (infos, pending->info);
      g_hash_table_insert (info_to_pending, pending->info, pending);
    }

  safetensors_header_layout_canonical (infos, &data_size);

  self->header = safetensors_header_serialize (infos, self->metadata, self->reserve, error);
  if (self->header == NULL)
    return FALSE;

  /* Keep the pending tensors in layout order from now on. */
  ordered = g_ptr_array_new_full (infos->len, pending_tensor_free);
  for (guint i = 0; i < infos->len; i++)
    g_ptr_array_add (ordered, g_hash_table_lookup (info_to_pending, g_ptr_array_index (infos, i)));
  g_ptr_array_set_free_func (self->tensors, NULL);
  g_ptr_array_unref (self->tensors);
  self->tensors = g_steal_pointer (&ordered);

  self->data_start = g_bytes_get_size (self->header);
  self->total_bytes = data_size;
  if (!g_uint64_checked_add (&self->total_size, self->data_start, data_size))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_VALIDATION_OVERFLOW,
                   "the file would be larger than 2^64 bytes");
      return FALSE;
    }

  return TRUE;
}

/**
 * safetensors_writer_get_header:
 * @self: a writer
 * @error: return location for a #GError
 *
 * Gets the bytes the file will start with: the 8-byte header length and
 * the header. Calling it fixes the layout: no tensors can be added
 * afterwards.
 *
 * Returns: (transfer full): the header bytes, or %NULL with
 *   %SAFETENSORS_ERROR_HEADER_TOO_LARGE
 *
 * Since: 1.0
 */
GBytes *
safetensors_writer_get_header (SafetensorsWriter  *self,
                               GError            **error)
{
  g_return_val_if_fail (SAFETENSORS_IS_WRITER (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!plan_layout (self, error))
    return NULL;

  return g_bytes_ref (self->header);
}

/**
 * safetensors_writer_get_size:
 * @self: a writer
 * @error: return location for a #GError
 *
 * Gets the size the file will have. Like
 * [method@Safetensors.Writer.get_header], this fixes the layout.
 *
 * Returns: the size in bytes, or 0 with @error set
 *
 * Since: 1.0
 */
guint64
safetensors_writer_get_size (SafetensorsWriter  *self,
                             GError            **error)
{
  g_return_val_if_fail (SAFETENSORS_IS_WRITER (self), 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  if (!plan_layout (self, error))
    return 0;
  return self->total_size;
}

void
safetensors_writer_fail (SafetensorsWriter *self)
{
  self->state = STATE_FAILED;
  g_clear_pointer (&self->output, safetensors_output_free);
}

static gboolean
start_output (SafetensorsWriter  *self,
              SafetensorsOutput  *output,
              GCancellable       *cancellable,
              GError            **error)
{
  self->output = output;
  self->state = STATE_WRITING;

  if (!safetensors_output_write_at (self->output, 0, g_bytes_get_data (self->header, NULL),
                                    g_bytes_get_size (self->header), cancellable, error))
    {
      safetensors_writer_fail (self);
      return FALSE;
    }
  return TRUE;
}

/**
 * safetensors_writer_begin:
 * @self: a writer
 * @destination: the file to write; an existing file is replaced atomically
 *   by [method@Safetensors.Writer.finish]
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Fixes the layout, creates the new file (as a temporary file beside
 * @destination when it has a local path) and writes the header.
 * Destinations without a local path are written through
 * g_file_replace(), in layout order.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
safetensors_writer_begin (SafetensorsWriter  *self,
                          GFile              *destination,
                          GCancellable       *cancellable,
                          GError            **error)
{
  g_autofree char *path = NULL;
  SafetensorsOutput *output;

  g_return_val_if_fail (SAFETENSORS_IS_WRITER (self), FALSE);
  g_return_val_if_fail (G_IS_FILE (destination), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!safetensors_writer_check_state (self, STATE_DECLARING, "begin()", error) || !plan_layout (self, error))
    return FALSE;

  path = g_file_get_path (destination);
  if (path == NULL)
    {
      g_autoptr(GFileOutputStream) stream = NULL;
      g_autofree char *display_name = g_file_get_parse_name (destination);

      stream = g_file_replace (destination, NULL, FALSE, G_FILE_CREATE_NONE, cancellable, error);
      if (stream == NULL)
        return FALSE;
      output = safetensors_output_new_for_stream (G_OUTPUT_STREAM (stream), display_name);
    }
  else
    {
      output = safetensors_output_new_for_file (destination, self->total_size,
                                                (self->flags & SAFETENSORS_WRITER_FLAGS_NO_SPARSE) == 0,
                                                cancellable, error);
      if (output == NULL)
        return FALSE;
    }

  return start_output (self, output, cancellable, error);
}

/**
 * safetensors_writer_begin_stream:
 * @self: a writer
 * @stream: where to write, e.g. a pipe
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Like [method@Safetensors.Writer.begin], but writes to a stream, which
 * need not be seekable. Tensor data must then arrive in layout order (see
 * [method@Safetensors.Writer.write_chunk]); tensors that get no data are
 * written as zeros.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
safetensors_writer_begin_stream (SafetensorsWriter  *self,
                                 GOutputStream      *stream,
                                 GCancellable       *cancellable,
                                 GError            **error)
{
  g_return_val_if_fail (SAFETENSORS_IS_WRITER (self), FALSE);
  g_return_val_if_fail (G_IS_OUTPUT_STREAM (stream), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!safetensors_writer_check_state (self, STATE_DECLARING, "begin_stream()", error) || !plan_layout (self, error))
    return FALSE;

  return start_output (self, safetensors_output_new_for_stream (stream, "output stream"),
                       cancellable, error);
}

void
safetensors_writer_notify_bytes_written (SafetensorsWriter *self)
{
  safetensors_notify_in_context (self->notify_context, G_OBJECT (self),
                                 properties[PROP_BYTES_WRITTEN]);
}

/**
 * safetensors_writer_get_bytes_written:
 * @self: a writer
 *
 * Gets how many bytes of tensor data were written so far; see
 * [property@Safetensors.Writer:bytes-written].
 *
 * Returns: the number of bytes
 *
 * Since: 1.0
 */
guint64
safetensors_writer_get_bytes_written (SafetensorsWriter *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_WRITER (self), 0);

  return __atomic_load_n (&self->bytes_written, __ATOMIC_RELAXED);
}

/**
 * safetensors_writer_get_total_bytes:
 * @self: a writer
 *
 * Gets the size of all tensor data, or 0 before the layout is fixed.
 *
 * Returns: the number of bytes
 *
 * Since: 1.0
 */
guint64
safetensors_writer_get_total_bytes (SafetensorsWriter *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_WRITER (self), 0);

  return self->total_bytes;
}

/**
 * safetensors_writer_abort:
 * @self: a writer
 *
 * Gives up: the temporary file is removed and the destination keeps its
 * old content. Does nothing after [method@Safetensors.Writer.finish]
 * succeeded. Releasing an unfinished writer aborts it too.
 *
 * Since: 1.0
 */
void
safetensors_writer_abort (SafetensorsWriter *self)
{
  g_return_if_fail (SAFETENSORS_IS_WRITER (self));
  g_return_if_fail (self->state != STATE_FINISHING);

  if (self->state == STATE_DONE)
    return;
  safetensors_writer_fail (self);
}
