/* safetensors-tensor.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "safetensors-enums.h"
#include "safetensors-error.h"
#include "safetensors-slice-private.h"
#include "safetensors-tensor-private.h"

/**
 * SafetensorsTensor:
 *
 * One tensor of a [class@Safetensors.File]: its name, dtype and shape, where
 * its bytes are, and access to them.
 *
 * A tensor keeps the file's storage alive, so it stays usable after the
 * [class@Safetensors.File] it came from is released. With a memory mapping,
 * [method@Safetensors.Tensor.get_bytes] is zero-copy.
 *
 * Since: 1.0
 */
struct _SafetensorsTensor
{
  GObject             parent_instance;

  SafetensorsStorage *storage;
  char               *name;
  SafetensorsDType    dtype;
  guint               n_dims;
  guint64            *shape;
  guint64             n_elements;
  guint64             begin;
  guint64             end;
  guint64             data_start;
  gboolean            removed;
};

G_DEFINE_FINAL_TYPE (SafetensorsTensor, safetensors_tensor, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_DTYPE,
  PROP_N_DIMS,
  PROP_N_ELEMENTS,
  PROP_N_BYTES,
  PROP_FILE_OFFSET,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

SafetensorsTensor *
safetensors_tensor_new (SafetensorsStorage          *storage,
                        const SafetensorsTensorInfo *info,
                        guint64                      data_start)
{
  SafetensorsTensor *self = g_object_new (SAFETENSORS_TYPE_TENSOR, NULL);

  self->storage = safetensors_storage_ref (storage);
  self->name = g_strdup (info->name);
  self->dtype = info->dtype;
  self->n_dims = info->n_dims;
  self->shape = g_memdup2 (info->shape, sizeof (guint64) * info->n_dims);
  self->n_elements = info->n_elements;
  self->begin = info->begin;
  self->end = info->end;
  self->data_start = data_start;

  return self;
}

void
safetensors_tensor_set_name (SafetensorsTensor *self,
                             const char        *name)
{
  g_free (self->name);
  self->name = g_strdup (name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
}

void
safetensors_tensor_set_location (SafetensorsTensor *self,
                                 guint64            data_start,
                                 guint64            begin)
{
  guint64 n_bytes = self->end - self->begin;

  self->data_start = data_start;
  self->begin = begin;
  self->end = begin + n_bytes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FILE_OFFSET]);
}

void
safetensors_tensor_set_removed (SafetensorsTensor *self,
                                gboolean           removed)
{
  self->removed = removed;
}

gboolean
safetensors_tensor_is_removed (SafetensorsTensor *self)
{
  return self->removed;
}

guint
safetensors_tensor_get_alignment (SafetensorsTensor *self)
{
  guint bits = safetensors_dtype_get_bits (self->dtype);

  return bits < 8 ? 1 : MIN (8, bits / 8);
}

SafetensorsStorage *
safetensors_tensor_get_storage (SafetensorsTensor *self)
{
  return self->storage;
}

/* Tensors removed by an edit of their file have no bytes any more. */
static gboolean
check_not_removed (SafetensorsTensor  *self,
                   GError            **error)
{
  if (!self->removed)
    return TRUE;
  g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_TENSOR_NOT_FOUND,
               "%s: tensor “%s” was removed from the file",
               safetensors_storage_get_display_name (self->storage), self->name);
  return FALSE;
}

static void
safetensors_tensor_finalize (GObject *object)
{
  SafetensorsTensor *self = (SafetensorsTensor *) object;

  g_clear_pointer (&self->storage, safetensors_storage_unref);
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->shape, g_free);

  G_OBJECT_CLASS (safetensors_tensor_parent_class)->finalize (object);
}

static void
safetensors_tensor_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  SafetensorsTensor *self = SAFETENSORS_TENSOR (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_DTYPE:
      g_value_set_enum (value, self->dtype);
      break;
    case PROP_N_DIMS:
      g_value_set_uint (value, self->n_dims);
      break;
    case PROP_N_ELEMENTS:
      g_value_set_uint64 (value, self->n_elements);
      break;
    case PROP_N_BYTES:
      g_value_set_uint64 (value, safetensors_tensor_get_n_bytes (self));
      break;
    case PROP_FILE_OFFSET:
      g_value_set_uint64 (value, safetensors_tensor_get_file_offset (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
safetensors_tensor_class_init (SafetensorsTensorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = safetensors_tensor_finalize;
  object_class->get_property = safetensors_tensor_get_property;

  /**
   * SafetensorsTensor:name:
   *
   * The tensor's name.
   *
   * Since: 1.0
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * SafetensorsTensor:dtype:
   *
   * The element type.
   *
   * Since: 1.0
   */
  properties[PROP_DTYPE] =
    g_param_spec_enum ("dtype", NULL, NULL,
                       SAFETENSORS_TYPE_DTYPE, SAFETENSORS_DTYPE_BOOL,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * SafetensorsTensor:n-dims:
   *
   * The number of dimensions; 0 for a scalar.
   *
   * Since: 1.0
   */
  properties[PROP_N_DIMS] =
    g_param_spec_uint ("n-dims", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * SafetensorsTensor:n-elements:
   *
   * The number of elements, the product of the shape.
   *
   * Since: 1.0
   */
  properties[PROP_N_ELEMENTS] =
    g_param_spec_uint64 ("n-elements", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * SafetensorsTensor:n-bytes:
   *
   * The size of the tensor's data in bytes.
   *
   * Since: 1.0
   */
  properties[PROP_N_BYTES] =
    g_param_spec_uint64 ("n-bytes", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * SafetensorsTensor:file-offset:
   *
   * The absolute position of the tensor's first byte in the file.
   *
   * Since: 1.0
   */
  properties[PROP_FILE_OFFSET] =
    g_param_spec_uint64 ("file-offset", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
safetensors_tensor_init (SafetensorsTensor *self)
{
}

/**
 * safetensors_tensor_get_name:
 * @self: a tensor
 *
 * Gets the tensor's name.
 *
 * Returns: (transfer none): the name
 *
 * Since: 1.0
 */
const char *
safetensors_tensor_get_name (SafetensorsTensor *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_TENSOR (self), NULL);

  return self->name;
}

/**
 * safetensors_tensor_get_dtype:
 * @self: a tensor
 *
 * Gets the element type.
 *
 * Returns: the dtype
 *
 * Since: 1.0
 */
SafetensorsDType
safetensors_tensor_get_dtype (SafetensorsTensor *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_TENSOR (self), SAFETENSORS_DTYPE_BOOL);

  return self->dtype;
}

/**
 * safetensors_tensor_get_n_dims:
 * @self: a tensor
 *
 * Gets the number of dimensions.
 *
 * Returns: the rank, 0 for a scalar
 *
 * Since: 1.0
 */
guint
safetensors_tensor_get_n_dims (SafetensorsTensor *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_TENSOR (self), 0);

  return self->n_dims;
}

/**
 * safetensors_tensor_get_shape:
 * @self: a tensor
 * @n_dims: (out) (optional): return location for the number of dimensions
 *
 * Gets the shape, outermost dimension first.
 *
 * Returns: (transfer none) (array length=n_dims) (nullable): the
 *   dimensions, %NULL for a scalar
 *
 * Since: 1.0
 */
const guint64 *
safetensors_tensor_get_shape (SafetensorsTensor *self,
                              guint             *n_dims)
{
  g_return_val_if_fail (SAFETENSORS_IS_TENSOR (self), NULL);

  if (n_dims != NULL)
    *n_dims = self->n_dims;
  return self->shape;
}

/**
 * safetensors_tensor_get_n_elements:
 * @self: a tensor
 *
 * Gets the number of elements, the product of the shape (1 for a scalar).
 *
 * Returns: the number of elements
 *
 * Since: 1.0
 */
guint64
safetensors_tensor_get_n_elements (SafetensorsTensor *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_TENSOR (self), 0);

  return self->n_elements;
}

/**
 * safetensors_tensor_get_n_bytes:
 * @self: a tensor
 *
 * Gets the size of the tensor's data.
 *
 * Returns: the size in bytes
 *
 * Since: 1.0
 */
guint64
safetensors_tensor_get_n_bytes (SafetensorsTensor *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_TENSOR (self), 0);

  return self->end - self->begin;
}

/**
 * safetensors_tensor_get_data_offsets:
 * @self: a tensor
 * @begin: (out) (optional): return location for the first byte's offset
 * @end: (out) (optional): return location for the offset after the last byte
 *
 * Gets the tensor's `data_offsets`, relative to the start of the data area
 * that follows the header.
 *
 * Since: 1.0
 */
void
safetensors_tensor_get_data_offsets (SafetensorsTensor *self,
                                     guint64           *begin,
                                     guint64           *end)
{
  g_return_if_fail (SAFETENSORS_IS_TENSOR (self));

  if (begin != NULL)
    *begin = self->begin;
  if (end != NULL)
    *end = self->end;
}

/**
 * safetensors_tensor_get_file_offset:
 * @self: a tensor
 *
 * Gets the absolute position of the tensor's first byte in the file.
 *
 * Returns: the offset in bytes
 *
 * Since: 1.0
 */
guint64
safetensors_tensor_get_file_offset (SafetensorsTensor *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_TENSOR (self), 0);

  return self->data_start + self->begin;
}

/**
 * safetensors_tensor_get_bytes:
 * @self: a tensor
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Gets the tensor's data. When the file is memory-mapped this is a
 * zero-copy view of the mapping, which stays valid for as long as the
 * returned #GBytes lives; otherwise the bytes are read from the file.
 *
 * Returns: (transfer full): the tensor's bytes, or %NULL on error
 *
 * Since: 1.0
 */
GBytes *
safetensors_tensor_get_bytes (SafetensorsTensor  *self,
                              GCancellable       *cancellable,
                              GError            **error)
{
  g_return_val_if_fail (SAFETENSORS_IS_TENSOR (self), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_not_removed (self, error))
    return NULL;

  return safetensors_storage_get_bytes (self->storage,
                                        self->data_start + self->begin,
                                        self->end - self->begin,
                                        cancellable, error);
}

/**
 * safetensors_tensor_read_range:
 * @self: a tensor
 * @offset: the first byte to read, counted from the tensor's start
 * @length: the number of bytes to read
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Gets part of the tensor's bytes. This is how to stream a large tensor in
 * bounded memory without a mapping: read it in pieces of, say, 1 MiB.
 * With a mapping it is zero-copy, like [method@Safetensors.Tensor.get_bytes].
 *
 * Returns: (transfer full): the bytes, or %NULL with
 *   %SAFETENSORS_ERROR_INVALID_ARGUMENT when the range does not lie inside
 *   the tensor, or an I/O error
 *
 * Since: 1.0
 */
GBytes *
safetensors_tensor_read_range (SafetensorsTensor  *self,
                               guint64             offset,
                               guint64             length,
                               GCancellable       *cancellable,
                               GError            **error)
{
  guint64 n_bytes;

  g_return_val_if_fail (SAFETENSORS_IS_TENSOR (self), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_not_removed (self, error))
    return NULL;

  n_bytes = self->end - self->begin;
  if (offset > n_bytes || length > n_bytes - offset)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "%s: tensor “%s”: bytes %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT
                   " lie outside its %" G_GUINT64_FORMAT " bytes",
                   safetensors_storage_get_display_name (self->storage), self->name,
                   offset, length, n_bytes);
      return NULL;
    }

  return safetensors_storage_get_bytes (self->storage, self->data_start + self->begin + offset,
                                        length, cancellable, error);
}

static void
get_bytes_worker (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  SafetensorsTensor *self = source_object;
  GError *error = NULL;
  GBytes *bytes;

  /* Only immutable fields of the tensor are read here. */
  bytes = safetensors_tensor_get_bytes (self, cancellable, &error);
  if (bytes == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, bytes, (GDestroyNotify) g_bytes_unref);
}

/**
 * safetensors_tensor_get_bytes_async:
 * @self: a tensor
 * @io_priority: the I/O priority of the request
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the bytes are ready
 * @user_data: data for @callback
 *
 * Asynchronously gets the tensor's data, reading it in a worker thread
 * when the file is not mapped. See [method@Safetensors.Tensor.get_bytes].
 *
 * Since: 1.0
 */
void
safetensors_tensor_get_bytes_async (SafetensorsTensor   *self,
                                    int                  io_priority,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (SAFETENSORS_IS_TENSOR (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, safetensors_tensor_get_bytes_async);
  g_task_set_priority (task, io_priority);
  g_task_run_in_thread (task, get_bytes_worker);
}

/**
 * safetensors_tensor_get_bytes_finish:
 * @self: a tensor
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Completes [method@Safetensors.Tensor.get_bytes_async].
 *
 * Returns: (transfer full): the tensor's bytes, or %NULL on error
 *
 * Since: 1.0
 */
GBytes *
safetensors_tensor_get_bytes_finish (SafetensorsTensor  *self,
                                     GAsyncResult       *result,
                                     GError            **error)
{
  g_return_val_if_fail (SAFETENSORS_IS_TENSOR (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        safetensors_tensor_get_bytes_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * safetensors_tensor_write:
 * @self: a tensor
 * @offset: where to start writing, counted from the tensor's first byte
 * @data: (array length=len): the bytes to write
 * @len: the number of bytes
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Overwrites part of the tensor's bytes in the file, at once. Like writes
 * through a writable mapping, this is not part of a transaction: it is not
 * undone by [method@Safetensors.File.rollback] nor protected by the
 * commit journal. The file must be open with
 * %SAFETENSORS_OPEN_FLAGS_READ_WRITE.
 *
 * Returns: %TRUE on success; %FALSE with %SAFETENSORS_ERROR_READ_ONLY,
 *   %SAFETENSORS_ERROR_INVALID_ARGUMENT (range outside the tensor) or an
 *   I/O error
 *
 * Since: 1.0
 */
gboolean
safetensors_tensor_write (SafetensorsTensor  *self,
                          guint64             offset,
                          const guint8       *data,
                          gsize               len,
                          GCancellable       *cancellable,
                          GError            **error)
{
  guint64 n_bytes;

  g_return_val_if_fail (SAFETENSORS_IS_TENSOR (self), FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_not_removed (self, error))
    return FALSE;

  if (!safetensors_storage_is_writable (self->storage))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_READ_ONLY,
                   "%s: tensor “%s” cannot be written: the file is open for reading",
                   safetensors_storage_get_display_name (self->storage), self->name);
      return FALSE;
    }

  n_bytes = self->end - self->begin;
  if (offset > n_bytes || len > n_bytes - offset)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "%s: tensor “%s”: bytes %" G_GUINT64_FORMAT "+%" G_GSIZE_FORMAT
                   " lie outside its %" G_GUINT64_FORMAT " bytes",
                   safetensors_storage_get_display_name (self->storage), self->name,
                   offset, len, n_bytes);
      return FALSE;
    }

  return safetensors_storage_write (self->storage, self->data_start + self->begin + offset,
                                    data, len, cancellable, error);
}

/**
 * safetensors_tensor_read_slice:
 * @self: a tensor
 * @slice: the selection, in NumPy basic-slicing terms
 * @out_shape: (out) (array length=out_n_dims) (transfer full) (optional) (nullable):
 *   return location for the shape of the result
 * @out_n_dims: (out) (optional): return location for the number of
 *   dimensions of the result
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Reads part of the tensor as a new C-contiguous buffer of the same dtype.
 * Each item of @slice applies to one dimension, as NumPy's `a[...]` does:
 * an index selects one position and drops the dimension, a range keeps it.
 * When the selection is one contiguous run of a mapped file, the result is
 * zero-copy.
 *
 * Sub-byte dtypes (F4, F6) can only be sliced where every selected run of
 * elements starts and ends on a byte boundary; other slices fail with
 * %SAFETENSORS_ERROR_MISALIGNED_SLICE.
 *
 * Returns: (transfer full): the selected bytes, or %NULL with
 *   %SAFETENSORS_ERROR_INVALID_SLICE or another error set
 *
 * Since: 1.0
 */
GBytes *
safetensors_tensor_read_slice (SafetensorsTensor  *self,
                               SafetensorsSlice   *slice,
                               guint64           **out_shape,
                               guint              *out_n_dims,
                               GCancellable       *cancellable,
                               GError            **error)
{
  g_autoptr(GArray) dims = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GArray) shape = NULL;

  g_return_val_if_fail (SAFETENSORS_IS_TENSOR (self), NULL);
  g_return_val_if_fail (slice != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_not_removed (self, error))
    return NULL;

  dims = safetensors_slice_resolve (slice, safetensors_storage_get_display_name (self->storage),
                                    self->name, self->shape, self->n_dims, error);
  if (dims == NULL)
    return NULL;

  bytes = safetensors_slice_gather (dims, safetensors_dtype_get_bits (self->dtype),
                                    self->storage, self->data_start + self->begin,
                                    self->name, cancellable, error);
  if (bytes == NULL)
    return NULL;

  shape = g_array_new (FALSE, FALSE, sizeof (guint64));
  for (guint d = 0; d < dims->len; d++)
    {
      const SafetensorsSliceDim *dim = &g_array_index (dims, SafetensorsSliceDim, d);

      if (dim->keep)
        g_array_append_val (shape, dim->count);
    }

  if (out_n_dims != NULL)
    *out_n_dims = shape->len;
  if (out_shape != NULL)
    *out_shape = shape->len > 0 ? g_memdup2 (shape->data, sizeof (guint64) * shape->len) : NULL;

  return g_steal_pointer (&bytes);
}

/**
 * safetensors_bytes_get_address:
 * @bytes: bytes from [method@Safetensors.Tensor.get_bytes] or a similar call
 *
 * Gets the address of the data of @bytes, for bindings that build
 * zero-copy views of tensors (a NumPy array over a mapping, for example).
 * The address is valid for as long as @bytes is alive; the view must hold a
 * reference to it. For a file open with %SAFETENSORS_OPEN_FLAGS_READ_WRITE
 * with a mapping, the memory is writable and writes land in the file;
 * otherwise it must be treated as read-only.
 *
 * Returns: the address, or 0 for empty bytes
 *
 * Since: 1.0
 */
guintptr
safetensors_bytes_get_address (GBytes *bytes)
{
  g_return_val_if_fail (bytes != NULL, 0);

  return (guintptr) g_bytes_get_data (bytes, NULL);
}
