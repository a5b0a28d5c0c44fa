/* safetensors-pytorch-import.c — a PyTorch import that can be looked at
 * before it writes: what [func@Safetensors.import_pytorch] does, in two
 * steps, for dry runs, reports and progress through a property
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "safetensors-context-private.h"
#include "safetensors-error.h"
#include "safetensors-pytorch-import.h"
#include "safetensors-torch-private.h"

/**
 * SafetensorsPytorchImport:
 *
 * A PyTorch checkpoint, read and checked, and the safetensors file it
 * would become.
 *
 * [ctor@Safetensors.PytorchImport.new] does everything
 * [func@Safetensors.import_pytorch] does before it writes: it reads the
 * archive's directory and the pickle (executing nothing), selects and
 * flattens the object, merges names that view identical data and checks
 * every tensor against its storage. The result can be looked at — the
 * tensors that would be written, in layout order, the names removed as
 * aliases, the values left out and why, the metadata — which is a dry
 * run; [method@Safetensors.PytorchImport.write] then streams the tensor
 * data into a file, as often as wanted.
 *
 * ```python
 * imp = Safetensors.PytorchImport.new(Gio.File.new_for_path("model.pt"),
 *                                     Safetensors.ImportFlags.NONE, None, None)
 * for i in range(imp.get_n_tensors()):
 *     print(imp.get_tensor_name(i), imp.get_tensor_shape(i))
 * for name in imp.get_skipped():
 *     print("skipped", name, imp.get_skip_reason(name))
 * imp.write(Gio.File.new_for_path("model.safetensors"), None)
 * ```
 *
 * While [method@Safetensors.PytorchImport.write_async] runs,
 * [property@Safetensors.PytorchImport:bytes-written] is notified in the
 * caller's main context, at most every 50 ms and at the end.
 *
 * Since: 1.0
 */
struct _SafetensorsPytorchImport
{
  GObject                     parent_instance;

  GFile                      *source;
  SafetensorsTorchCheckpoint *checkpoint;
  SafetensorsTorchPlan       *plan;
  GHashTable                 *aliases;   /* removed → kept */
  GHashTable                 *skipped;   /* name → reason, not stored */
  GStrv                       skipped_names;

  gboolean                    writing;
  guint64                     bytes_written;  /* atomic: set by the writing thread */
  GMainContext               *notify_context; /* while write_async() runs */
};

enum
{
  PROP_0,
  PROP_SOURCE,
  PROP_BYTES_WRITTEN,
  PROP_TOTAL_BYTES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (SafetensorsPytorchImport, safetensors_pytorch_import, G_TYPE_OBJECT)

static void
safetensors_pytorch_import_finalize (GObject *object)
{
  SafetensorsPytorchImport *self = SAFETENSORS_PYTORCH_IMPORT (object);

  g_clear_pointer (&self->skipped_names, g_strfreev);
  g_clear_pointer (&self->skipped, g_hash_table_unref);
  g_clear_pointer (&self->aliases, g_hash_table_unref);
  g_clear_pointer (&self->plan, safetensors_torch_plan_free);
  g_clear_pointer (&self->checkpoint, safetensors_torch_checkpoint_free);
  g_clear_object (&self->source);

  G_OBJECT_CLASS (safetensors_pytorch_import_parent_class)->finalize (object);
}

static void
safetensors_pytorch_import_get_property (GObject    *object,
                                         guint       prop_id,
                                         GValue     *value,
                                         GParamSpec *pspec)
{
  SafetensorsPytorchImport *self = SAFETENSORS_PYTORCH_IMPORT (object);

  switch (prop_id)
    {
    case PROP_SOURCE:
      g_value_set_object (value, self->source);
      break;
    case PROP_BYTES_WRITTEN:
      g_value_set_uint64 (value, safetensors_pytorch_import_get_bytes_written (self));
      break;
    case PROP_TOTAL_BYTES:
      g_value_set_uint64 (value, safetensors_pytorch_import_get_total_bytes (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
safetensors_pytorch_import_class_init (SafetensorsPytorchImportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = safetensors_pytorch_import_finalize;
  object_class->get_property = safetensors_pytorch_import_get_property;

  /**
   * SafetensorsPytorchImport:source: (getter get_source)
   *
   * The checkpoint.
   *
   * Since: 1.0
   */
  properties[PROP_SOURCE] =
    g_param_spec_object ("source", NULL, NULL, G_TYPE_FILE,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * SafetensorsPytorchImport:bytes-written: (getter get_bytes_written)
   *
   * Tensor bytes written by the running or last write, out of
   * [property@Safetensors.PytorchImport:total-bytes].
   *
   * Since: 1.0
   */
  properties[PROP_BYTES_WRITTEN] =
    g_param_spec_uint64 ("bytes-written", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * SafetensorsPytorchImport:total-bytes: (getter get_total_bytes)
   *
   * The tensor bytes a write writes: the sum of the tensors' sizes.
   *
   * Since: 1.0
   */
  properties[PROP_TOTAL_BYTES] =
    g_param_spec_uint64 ("total-bytes", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
safetensors_pytorch_import_init (SafetensorsPytorchImport *self)
{
}

/* The plan's lists as the tables the API hands out. */
static void
index_plan (SafetensorsPytorchImport *self)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  SafetensorsTorchPlan *plan = self->plan;

  self->aliases = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i + 1 < plan->aliases->len; i += 2)
    g_hash_table_insert (self->aliases, g_ptr_array_index (plan->aliases, i),
                         g_ptr_array_index (plan->aliases, i + 1));

  self->skipped = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < plan->extras->len; i++)
    {
      SafetensorsTorchExtra *extra = g_ptr_array_index (plan->extras, i);

      if (extra->stored)
        continue;
      g_hash_table_insert (self->skipped, extra->name, extra->reason);
      g_ptr_array_add (names, g_strdup (extra->name));
    }
  g_ptr_array_add (names, NULL);
  self->skipped_names = (GStrv) g_ptr_array_steal (names, NULL);
}

/**
 * safetensors_pytorch_import_new:
 * @source: a PyTorch checkpoint, as written by `torch.save()`
 * @flags: what to convert
 * @key: (nullable): a dotted path selecting the object to convert, or
 *   %NULL for the default selection (see [flags@Safetensors.ImportFlags])
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Reads and checks @source and plans the import, as described for
 * [func@Safetensors.import_pytorch]; no tensor data is read yet. The file
 * stays open until the object is finalized.
 *
 * Returns: (transfer full): the planned import, or %NULL with the errors
 *   of [func@Safetensors.import_pytorch]
 *
 * Since: 1.0
 */
SafetensorsPytorchImport *
safetensors_pytorch_import_new (GFile                   *source,
                                SafetensorsImportFlags   flags,
                                const char              *key,
                                GCancellable            *cancellable,
                                GError                 **error)
{
  g_autoptr(SafetensorsPytorchImport) self = NULL;

  g_return_val_if_fail (G_IS_FILE (source), NULL);
  g_return_val_if_fail (key == NULL || g_utf8_validate (key, -1, NULL), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (SAFETENSORS_TYPE_PYTORCH_IMPORT, NULL);
  self->source = g_object_ref (source);
  self->checkpoint = safetensors_torch_checkpoint_open (source, cancellable, error);
  if (self->checkpoint == NULL)
    return NULL;
  self->plan = safetensors_torch_plan_new (self->checkpoint, flags, key, error);
  if (self->plan == NULL)
    return NULL;
  index_plan (self);

  return g_steal_pointer (&self);
}

/**
 * safetensors_pytorch_import_get_source: (get-property source)
 * @self: an import
 *
 * Gets the checkpoint the import reads.
 *
 * Returns: (transfer none): the checkpoint
 *
 * Since: 1.0
 */
GFile *
safetensors_pytorch_import_get_source (SafetensorsPytorchImport *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_PYTORCH_IMPORT (self), NULL);

  return self->source;
}

/**
 * safetensors_pytorch_import_get_n_tensors:
 * @self: an import
 *
 * Gets the number of tensors the import writes.
 *
 * Returns: how many tensors the file will hold
 *
 * Since: 1.0
 */
guint
safetensors_pytorch_import_get_n_tensors (SafetensorsPytorchImport *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_PYTORCH_IMPORT (self), 0);

  return self->plan->tensors->len;
}

static SafetensorsTorchPlanTensor *
get_planned (SafetensorsPytorchImport *self,
             guint                     index)
{
  return g_ptr_array_index (self->plan->tensors, index);
}

/**
 * safetensors_pytorch_import_get_tensor_name:
 * @self: an import
 * @index: a tensor, in layout order, below
 *   [method@Safetensors.PytorchImport.get_n_tensors]
 *
 * Gets the name of a planned tensor.
 *
 * Returns: the tensor's name in the file: the path to it in the
 *   checkpoint, joined with dots
 *
 * Since: 1.0
 */
const char *
safetensors_pytorch_import_get_tensor_name (SafetensorsPytorchImport *self,
                                            guint                     index)
{
  g_return_val_if_fail (SAFETENSORS_IS_PYTORCH_IMPORT (self), NULL);
  g_return_val_if_fail (index < self->plan->tensors->len, NULL);

  return get_planned (self, index)->info->name;
}

/**
 * safetensors_pytorch_import_get_tensor_dtype:
 * @self: an import
 * @index: a tensor, in layout order
 *
 * Gets the dtype of a planned tensor.
 *
 * Returns: the tensor's dtype
 *
 * Since: 1.0
 */
SafetensorsDType
safetensors_pytorch_import_get_tensor_dtype (SafetensorsPytorchImport *self,
                                             guint                     index)
{
  g_return_val_if_fail (SAFETENSORS_IS_PYTORCH_IMPORT (self), SAFETENSORS_DTYPE_BOOL);
  g_return_val_if_fail (index < self->plan->tensors->len, SAFETENSORS_DTYPE_BOOL);

  return get_planned (self, index)->info->dtype;
}

/**
 * safetensors_pytorch_import_get_tensor_shape:
 * @self: an import
 * @index: a tensor, in layout order
 * @n_dims: (out): return location for the number of dimensions
 *
 * Gets the shape of a planned tensor.
 *
 * Returns: (array length=n_dims) (transfer none) (nullable): the tensor's
 *   shape; %NULL for a scalar
 *
 * Since: 1.0
 */
const guint64 *
safetensors_pytorch_import_get_tensor_shape (SafetensorsPytorchImport *self,
                                             guint                     index,
                                             guint                    *n_dims)
{
  SafetensorsTensorInfo *info;

  g_return_val_if_fail (SAFETENSORS_IS_PYTORCH_IMPORT (self), NULL);
  g_return_val_if_fail (index < self->plan->tensors->len, NULL);
  g_return_val_if_fail (n_dims != NULL, NULL);

  info = get_planned (self, index)->info;
  *n_dims = info->n_dims;
  return info->shape;
}

/**
 * safetensors_pytorch_import_get_tensor_size:
 * @self: an import
 * @index: a tensor, in layout order
 *
 * Gets the size in bytes of a planned tensor.
 *
 * Returns: the bytes the tensor will take in the file
 *
 * Since: 1.0
 */
guint64
safetensors_pytorch_import_get_tensor_size (SafetensorsPytorchImport *self,
                                            guint                     index)
{
  g_return_val_if_fail (SAFETENSORS_IS_PYTORCH_IMPORT (self), 0);
  g_return_val_if_fail (index < self->plan->tensors->len, 0);

  return get_planned (self, index)->n_bytes;
}

/**
 * safetensors_pytorch_import_get_total_bytes: (get-property total-bytes)
 * @self: an import
 *
 * Gets the number of tensor bytes a write writes.
 *
 * Returns: the sum of the tensors' sizes
 *
 * Since: 1.0
 */
guint64
safetensors_pytorch_import_get_total_bytes (SafetensorsPytorchImport *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_PYTORCH_IMPORT (self), 0);

  return self->plan->total_bytes;
}

/**
 * safetensors_pytorch_import_get_aliases:
 * @self: an import
 *
 * The names left out because they view exactly the data of a tensor
 * that is written (tied weights). The file's metadata records them too.
 *
 * Returns: (transfer none) (element-type utf8 utf8): each removed name →
 *   the name kept
 *
 * Since: 1.0
 */
GHashTable *
safetensors_pytorch_import_get_aliases (SafetensorsPytorchImport *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_PYTORCH_IMPORT (self), NULL);

  return self->aliases;
}

/**
 * safetensors_pytorch_import_get_skipped:
 * @self: an import
 *
 * The values of the selected object that are not tensors and are not
 * written: all of them, unless
 * %SAFETENSORS_IMPORT_FLAGS_EXTRAS_TO_METADATA stores them in the
 * metadata (too large ones are still skipped).
 *
 * Returns: (transfer full): their flattened names, in checkpoint order
 *
 * Since: 1.0
 */
char **
safetensors_pytorch_import_get_skipped (SafetensorsPytorchImport *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_PYTORCH_IMPORT (self), NULL);

  return g_strdupv (self->skipped_names);
}

/**
 * safetensors_pytorch_import_get_skip_reason:
 * @self: an import
 * @name: a name from [method@Safetensors.PytorchImport.get_skipped]
 *
 * Gets why a value of the checkpoint is not written.
 *
 * Returns: (nullable): why @name is left out, such as `int` or `str`
 *   (its type), or %NULL when it is not
 *
 * Since: 1.0
 */
const char *
safetensors_pytorch_import_get_skip_reason (SafetensorsPytorchImport *self,
                                            const char               *name)
{
  g_return_val_if_fail (SAFETENSORS_IS_PYTORCH_IMPORT (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  return g_hash_table_lookup (self->skipped, name);
}

/**
 * safetensors_pytorch_import_get_metadata:
 * @self: an import
 *
 * Gets the metadata the file will hold.
 *
 * Returns: (transfer none) (element-type utf8 utf8): the `__metadata__`
 *   the file will hold: `"format": "pt"`, the aliases and any stored
 *   values
 *
 * Since: 1.0
 */
GHashTable *
safetensors_pytorch_import_get_metadata (SafetensorsPytorchImport *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_PYTORCH_IMPORT (self), NULL);

  return self->plan->metadata;
}

/**
 * safetensors_pytorch_import_get_bytes_written: (get-property bytes-written)
 * @self: an import
 *
 * Gets the progress of the running or last write.
 *
 * Returns: the tensor bytes the running or last write has written
 *
 * Since: 1.0
 */
guint64
safetensors_pytorch_import_get_bytes_written (SafetensorsPytorchImport *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_PYTORCH_IMPORT (self), 0);

  return __atomic_load_n (&self->bytes_written, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ */
/* Writing                                                            */
/* ------------------------------------------------------------------ */

/* Called by the plan's writer, throttled already, in the writing thread. */
static void
progress (goffset  current,
          goffset  total,
          gpointer user_data)
{
  SafetensorsPytorchImport *self = user_data;

  __atomic_store_n (&self->bytes_written, (guint64) current, __ATOMIC_RELAXED);
  safetensors_notify_in_context (self->notify_context, G_OBJECT (self),
                                 properties[PROP_BYTES_WRITTEN]);
}

static gboolean
begin_write (SafetensorsPytorchImport  *self,
             GError                   **error)
{
  if (self->writing)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PENDING,
                   "%s: a write of this import is already running",
                   safetensors_torch_checkpoint_get_display_name (self->checkpoint));
      return FALSE;
    }
  self->writing = TRUE;
  __atomic_store_n (&self->bytes_written, 0, __ATOMIC_RELAXED);
  return TRUE;
}

static gboolean
write_internal (SafetensorsPytorchImport  *self,
                GFile                     *destination,
                GCancellable              *cancellable,
                GError                   **error)
{
  return safetensors_torch_plan_write (self->checkpoint, self->plan, destination,
                                       progress, self, cancellable, error);
}

/**
 * safetensors_pytorch_import_write:
 * @self: an import
 * @destination: the `.safetensors` file to write; an existing file is
 *   replaced atomically
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Streams the planned tensors into @destination through the canonical
 * writer. Memory use does not depend on the size of the model. On failure
 * @destination is left as it was.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
safetensors_pytorch_import_write (SafetensorsPytorchImport  *self,
                                  GFile                     *destination,
                                  GCancellable              *cancellable,
                                  GError                   **error)
{
  gboolean ok;

  g_return_val_if_fail (SAFETENSORS_IS_PYTORCH_IMPORT (self), FALSE);
  g_return_val_if_fail (G_IS_FILE (destination), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!begin_write (self, error))
    return FALSE;
  ok = write_internal (self, destination, cancellable, error);
  self->writing = FALSE;
  return ok;
}

static void
write_worker (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  SafetensorsPytorchImport *self = source_object;
  GError *error = NULL;

  if (write_internal (self, task_data, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * safetensors_pytorch_import_write_async:
 * @self: an import
 * @destination: the `.safetensors` file to write
 * @io_priority: the I/O priority of the request
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the file is written or the
 *   write failed
 * @user_data: data for @callback
 *
 * Does [method@Safetensors.PytorchImport.write] in a worker thread;
 * [property@Safetensors.PytorchImport:bytes-written] is notified in the
 * thread-default main context of the caller. Do not call other methods of
 * @self until it completes. Cancelling leaves @destination as it was,
 * unless the new file was already complete: then the write succeeds.
 *
 * Since: 1.0
 */
void
safetensors_pytorch_import_write_async (SafetensorsPytorchImport *self,
                                        GFile                    *destination,
                                        int                       io_priority,
                                        GCancellable             *cancellable,
                                        GAsyncReadyCallback       callback,
                                        gpointer                  user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (SAFETENSORS_IS_PYTORCH_IMPORT (self));
  g_return_if_fail (G_IS_FILE (destination));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, safetensors_pytorch_import_write_async);
  g_task_set_priority (task, io_priority);

  if (!begin_write (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  self->notify_context = g_main_context_ref_thread_default ();
  g_task_set_task_data (task, g_file_dup (destination), g_object_unref);
  /* The result says what happened to @destination: a cancellation that
   * comes after the file was completed does not turn it into an error. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_run_in_thread (task, write_worker);
}

/**
 * safetensors_pytorch_import_write_finish:
 * @self: an import
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Completes [method@Safetensors.PytorchImport.write_async].
 *
 * Returns: %TRUE when the file was written
 *
 * Since: 1.0
 */
gboolean
safetensors_pytorch_import_write_finish (SafetensorsPytorchImport  *self,
                                         GAsyncResult              *result,
                                         GError                   **error)
{
  g_return_val_if_fail (SAFETENSORS_IS_PYTORCH_IMPORT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        safetensors_pytorch_import_write_async, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Only the write that ran has task data: a refused one ends nothing. */
  if (g_task_get_task_data (G_TASK (result)) != NULL)
    {
      g_clear_pointer (&self->notify_context, g_main_context_unref);
      self->writing = FALSE;
    }
  return g_task_propagate_boolean (G_TASK (result), error);
}
