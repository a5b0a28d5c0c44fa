/* safetensors-torch.c — PyTorch checkpoint import: the public entry
 * points and the streaming of tensor data into a SafetensorsWriter
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-context-private.h"
#include "safetensors-error.h"
#include "safetensors-npy-private.h"
#include "safetensors-torch-private.h"
#include "safetensors-writer-private.h"

/* Tensor data goes to the writer in pieces of this size (a multiple of
 * every element size). */
#define CHUNK_SIZE (1024 * 1024)

/* Storages stored as they are go from file to file in the kernel, in
 * pieces of this size (progress and cancellation are checked between). */
#define KERNEL_COPY_SIZE (32 * 1024 * 1024)

/* Progress is reported at most this often (µs), and at the end. */
#define PROGRESS_INTERVAL 50000

typedef struct
{
  SafetensorsWriter     *writer;
  const char            *name;
  guint8                *buffer;
  gsize                  fill;
  guint                  swap_size;   /* 1: no byte swap */
  GFileProgressCallback  progress;
  gpointer               progress_data;
  gint64                 last_progress;
  guint64                done;
  guint64                total;
  GCancellable          *cancellable;
} Output;

static void
report_progress (Output   *out,
                 gboolean  force)
{
  gint64 now;

  if (out->progress == NULL)
    return;
  now = g_get_monotonic_time ();
  if (!force && now - out->last_progress < PROGRESS_INTERVAL)
    return;
  out->last_progress = now;
  out->progress (out->done, out->total, out->progress_data);
}

static gboolean
write_bytes (Output        *out,
             const guint8  *data,
             gsize          len,
             GError       **error)
{
  if (g_cancellable_set_error_if_cancelled (out->cancellable, error) ||
      !safetensors_writer_write_chunk (out->writer, out->name, data, len, out->cancellable, error))
    return FALSE;
  out->done += len;
  report_progress (out, FALSE);
  return TRUE;
}

/* A contiguous run of the checkpoint file, copied without mapping it:
 * no page of it counts in this process's memory. */
static gboolean
copy_from_file (Output      *out,
                int          fd,
                const char  *display_name,
                guint64      offset,
                guint64      len,
                GError     **error)
{
  for (guint64 done = 0; done < len; done += KERNEL_COPY_SIZE)
    {
      guint64 n = MIN (KERNEL_COPY_SIZE, len - done);

      if (g_cancellable_set_error_if_cancelled (out->cancellable, error) ||
          !safetensors_writer_copy_chunk_from_fd (out->writer, out->name, fd, display_name,
                                                  offset + done, n, out->cancellable, error))
        return FALSE;
      out->done += n;
      report_progress (out, FALSE);
    }
  return TRUE;
}

static gboolean
flush (Output  *out,
       GError **error)
{
  if (out->fill == 0)
    return TRUE;
  if (out->swap_size > 1)
    safetensors_npy_byteswap (out->buffer, out->fill, out->swap_size);
  if (!write_bytes (out, out->buffer, out->fill, error))
    return FALSE;
  out->fill = 0;
  return TRUE;
}

/* Appends whole elements to the buffer, flushing it when full. */
static gboolean
append (Output        *out,
        const guint8  *data,
        gsize          len,
        GError       **error)
{
  while (len > 0)
    {
      gsize n = MIN (len, CHUNK_SIZE - out->fill);

      memcpy (out->buffer + out->fill, data, n);
      out->fill += n;
      data += n;
      len -= n;
      if (out->fill == CHUNK_SIZE && !flush (out, error))
        return FALSE;
    }
  return TRUE;
}

/* Gathers a strided view in C order. Dimensions of size 1 are dropped
 * and neighbours that are contiguous with each other merged, so that
 * the innermost run is as long as possible. */
static gboolean
gather (Output                         *out,
        const guint8                   *base,
        const SafetensorsPickleTensor  *tensor,
        guint                           itemsize,
        GError                        **error)
{
  g_autofree guint64 *size = g_new (guint64, tensor->n_dims + 1);
  g_autofree guint64 *stride = g_new (guint64, tensor->n_dims + 1);
  g_autofree guint64 *index = NULL;
  guint n = 0;
  guint64 run, n_runs = 1;

  for (guint i = 0; i < tensor->n_dims; i++)
    {
      if (tensor->size[i] == 1)
        continue;
      if (n > 0 && stride[n - 1] == (guint64) tensor->stride[i] * tensor->size[i])
        {
          size[n - 1] *= tensor->size[i];
          stride[n - 1] = tensor->stride[i];
          continue;
        }
      size[n] = tensor->size[i];
      stride[n] = tensor->stride[i];
      n++;
    }
  if (n == 0)
    {
      size[0] = 1;
      stride[0] = 1;
      n = 1;
    }

  /* The innermost dimension is one memcpy when its stride is 1. */
  run = stride[n - 1] == 1 ? size[n - 1] : 1;
  for (guint i = 0; i + 1 < n; i++)
    n_runs *= size[i];
  if (run == 1)
    n_runs *= size[n - 1];

  index = g_new0 (guint64, n);
  for (guint64 r = 0; r < n_runs; r++)
    {
      guint64 element = tensor->offset;

      for (guint i = 0; i < n; i++)
        element += index[i] * stride[i];
      if (!append (out, base + element * itemsize, run * itemsize, error))
        return FALSE;

      /* Next multi-index, odometer style, skipping the run dimension. */
      for (guint i = run == 1 ? n : n - 1; i-- > 0;)
        {
          if (++index[i] < size[i])
            break;
          index[i] = 0;
        }
    }
  return flush (out, error);
}

static gboolean
write_tensor (SafetensorsTorchCheckpoint   *checkpoint,
              SafetensorsTorchPlanTensor   *planned,
              Output                       *out,
              GError                      **error)
{
  SafetensorsPickleTensor *tensor = planned->tensor;
  guint itemsize = safetensors_torch_dtype_get_itemsize (tensor->dtype);
  g_autoptr(GError) local_error = NULL;
  const guint8 *base;

  if (planned->n_bytes == 0)
    return TRUE;

  base = safetensors_torch_checkpoint_map_storage (checkpoint, tensor->storage, out->cancellable,
                                                   &local_error);
  if (base == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s: tensor “%s”: ",
                                  safetensors_torch_checkpoint_get_display_name (checkpoint),
                                  planned->info->name);
      return FALSE;
    }

  out->name = planned->info->name;
  out->fill = 0;
  out->swap_size = safetensors_torch_checkpoint_is_big_endian (checkpoint) ?
                   safetensors_npy_get_swap_size (planned->info->dtype) : 1;

  if (planned->contiguous && out->swap_size == 1)
    {
      guint64 offset;
      int fd = safetensors_torch_checkpoint_get_storage_fd (checkpoint, tensor->storage, &offset);

      if (fd >= 0)
        return copy_from_file (out, fd, safetensors_torch_checkpoint_get_display_name (checkpoint),
                               offset + (guint64) tensor->offset * itemsize, planned->n_bytes,
                               error);
    }

  if (planned->contiguous && out->swap_size == 1)
    {
      const guint8 *data = base + (guint64) tensor->offset * itemsize;

      for (guint64 done = 0; done < planned->n_bytes; done += CHUNK_SIZE)
        if (!write_bytes (out, data + done, MIN (CHUNK_SIZE, planned->n_bytes - done), error))
          return FALSE;
      return TRUE;
    }

  return gather (out, base, tensor, itemsize, error);
}

gboolean
safetensors_torch_plan_write (SafetensorsTorchCheckpoint  *checkpoint,
                              SafetensorsTorchPlan        *plan,
                              GFile                       *destination,
                              GFileProgressCallback        progress,
                              gpointer                     progress_data,
                              GCancellable                *cancellable,
                              GError                     **error)
{
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (SAFETENSORS_WRITER_FLAGS_NONE);
  g_autoptr(GHashTable) uses = g_hash_table_new (NULL, NULL);
  g_autofree guint8 *buffer = g_malloc (CHUNK_SIZE);
  Output out = { 0 };
  GHashTableIter iter;
  gpointer key, value;

  for (guint i = 0; i < plan->tensors->len; i++)
    {
      SafetensorsTorchPlanTensor *planned = g_ptr_array_index (plan->tensors, i);
      SafetensorsPickleStorage *storage = planned->tensor->storage;

      if (!safetensors_writer_add_tensor (writer, planned->info->name, planned->info->dtype,
                                          planned->info->shape, planned->info->n_dims,
                                          NULL, error))
        return FALSE;
      g_hash_table_insert (uses, storage,
                           GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (uses, storage)) + 1));
    }

  g_hash_table_iter_init (&iter, plan->metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    safetensors_writer_set_metadata_value (writer, key, value);

  if (!safetensors_writer_begin (writer, destination, cancellable, error))
    return FALSE;

  out.writer = writer;
  out.buffer = buffer;
  out.progress = progress;
  out.progress_data = progress_data;
  out.total = plan->total_bytes;
  out.cancellable = cancellable;
  report_progress (&out, TRUE);

  /* In layout order, so that destinations that are streams work too. */
  for (guint i = 0; i < plan->tensors->len; i++)
    {
      SafetensorsTorchPlanTensor *planned = g_ptr_array_index (plan->tensors, i);
      SafetensorsPickleStorage *storage = planned->tensor->storage;
      guint remaining = GPOINTER_TO_UINT (g_hash_table_lookup (uses, storage)) - 1;

      if (!write_tensor (checkpoint, planned, &out, error))
        {
          safetensors_writer_abort (writer);
          return FALSE;
        }
      g_hash_table_insert (uses, storage, GUINT_TO_POINTER (remaining));
      if (remaining == 0)
        safetensors_torch_checkpoint_release_storage (checkpoint, storage);
    }

  if (!safetensors_writer_finish (writer, cancellable, error))
    return FALSE;

  report_progress (&out, TRUE);
  return TRUE;
}

static gboolean
import_pytorch (GFile                  *source,
                GFile                  *destination,
                SafetensorsImportFlags  flags,
                const char             *key,
                GFileProgressCallback   progress,
                gpointer                progress_data,
                GCancellable           *cancellable,
                GError                **error)
{
  g_autoptr(SafetensorsTorchCheckpoint) checkpoint = NULL;
  g_autoptr(SafetensorsTorchPlan) plan = NULL;

  checkpoint = safetensors_torch_checkpoint_open (source, cancellable, error);
  if (checkpoint == NULL)
    return FALSE;
  plan = safetensors_torch_plan_new (checkpoint, flags, key, error);
  if (plan == NULL)
    return FALSE;
  return safetensors_torch_plan_write (checkpoint, plan, destination, progress, progress_data,
                                       cancellable, error);
}

/**
 * safetensors_import_pytorch:
 * @source: a PyTorch checkpoint, as written by `torch.save()`
 * @destination: the `.safetensors` file to write; an existing file is
 *   replaced atomically
 * @flags: what to convert
 * @key: (nullable): a dotted path selecting the object to convert inside
 *   the checkpoint, such as `model` or `optimizer.state`; %NULL for the
 *   default selection (see [flags@Safetensors.ImportFlags])
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Converts a PyTorch checkpoint to a safetensors file without Python and
 * without executing anything it contains.
 *
 * Both formats of `torch.save()` are read: the zip archive of PyTorch 1.6
 * and later (stored or deflated entries, ZIP64, big-endian archives) and
 * the older legacy stream. The pickled object graph is interpreted by a
 * restricted reader that knows only tensors, storages, containers and
 * plain values: any other Python global fails with
 * %SAFETENSORS_ERROR_UNSAFE_PICKLE, naming it.
 *
 * Tensors inside the selected object become tensors, their names the
 * path to them joined with dots (`layer.0.weight`, `state.0.exp_avg`).
 * Values that are not tensors are left out, or stored as JSON text in the
 * metadata with %SAFETENSORS_IMPORT_FLAGS_EXTRAS_TO_METADATA. The metadata
 * always holds `"format": "pt"`. Names that view exactly the same data
 * (tied weights) are written once, under the bytewise smallest name; each
 * other name is recorded in the metadata as `removed: kept`, as
 * Hugging Face's `convert.py` does. Other views of one storage (slices,
 * transposes, expansions) are each written as their own contiguous tensor.
 *
 * Every tensor is checked against its storage before the output is
 * created, and data is streamed: memory use does not depend on the size
 * of the model. On failure @destination is left as it was.
 *
 * Returns: %TRUE on success; %FALSE with %SAFETENSORS_ERROR_UNSAFE_PICKLE,
 *   %SAFETENSORS_ERROR_UNSUPPORTED (the tar format, quantized or
 *   complex128 tensors, encrypted archives…),
 *   %SAFETENSORS_ERROR_INVALID_DATA (a malformed checkpoint, a tensor
 *   beyond its storage), %SAFETENSORS_ERROR_INVALID_ARGUMENT (a @key that
 *   does not exist), or a `G_IO_ERROR`
 *
 * Since: 1.0
 */
gboolean
safetensors_import_pytorch (GFile                  *source,
                            GFile                  *destination,
                            SafetensorsImportFlags  flags,
                            const char             *key,
                            GCancellable           *cancellable,
                            GError                **error)
{
  g_return_val_if_fail (G_IS_FILE (source), FALSE);
  g_return_val_if_fail (G_IS_FILE (destination), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return import_pytorch (source, destination, flags, key, NULL, NULL, cancellable, error);
}

/* ------------------------------------------------------------------ */
/* Asynchronous import                                                */
/* ------------------------------------------------------------------ */

/* The caller's progress callback, called in the caller's main context;
 * its data is destroyed there too, after the last call. */
typedef struct
{
  GFileProgressCallback  callback;
  gpointer               data;
  GDestroyNotify         destroy;
  GMainContext          *context;
} ProgressRelay;

typedef struct
{
  ProgressRelay *relay;
  goffset        current;
  goffset        total;
} ProgressReport;

static gboolean
destroy_relay_data (gpointer user_data)
{
  ProgressRelay *relay = user_data;

  if (relay->destroy != NULL)
    relay->destroy (relay->data);
  return G_SOURCE_REMOVE;
}

static void
progress_relay_clear (ProgressRelay *relay)
{
  /* Always in the caller's context, whichever thread lets go last. */
  if (relay->destroy != NULL)
    {
      ProgressRelay *copy = g_memdup2 (relay, sizeof *relay);

      safetensors_call_in_context (relay->context, destroy_relay_data,
                                   copy, g_free);
    }
  g_main_context_unref (relay->context);
}

static void
progress_relay_release (ProgressRelay *relay)
{
  g_atomic_rc_box_release_full (relay, (GDestroyNotify) progress_relay_clear);
}

static gboolean
deliver_progress (gpointer user_data)
{
  ProgressReport *report = user_data;

  report->relay->callback (report->current, report->total, report->relay->data);
  return G_SOURCE_REMOVE;
}

static void
progress_report_free (gpointer data)
{
  ProgressReport *report = data;

  progress_relay_release (report->relay);
  g_free (report);
}

static void
relay_progress (goffset  current,
                goffset  total,
                gpointer user_data)
{
  ProgressRelay *relay = user_data;
  ProgressReport *report = g_new (ProgressReport, 1);

  report->relay = g_atomic_rc_box_acquire (relay);
  report->current = current;
  report->total = total;
  safetensors_call_in_context (relay->context, deliver_progress,
                               report, progress_report_free);
}

typedef struct
{
  GFile                  *source;
  GFile                  *destination;
  SafetensorsImportFlags  flags;
  char                   *key;
  ProgressRelay          *relay;
} ImportData;

static void
import_data_free (ImportData *data)
{
  g_clear_object (&data->source);
  g_clear_object (&data->destination);
  g_free (data->key);
  g_clear_pointer (&data->relay, progress_relay_release);
  g_free (data);
}

static void
import_worker (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  ImportData *data = task_data;
  GError *error = NULL;

  if (import_pytorch (data->source, data->destination, data->flags, data->key,
                      data->relay != NULL ? relay_progress : NULL, data->relay,
                      cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * safetensors_import_pytorch_async:
 * @source: a PyTorch checkpoint
 * @destination: the `.safetensors` file to write
 * @flags: what to convert
 * @key: (nullable): a dotted path selecting the object to convert
 * @io_priority: the I/O priority of the request
 * @cancellable: (nullable): a #GCancellable
 * @progress_callback: (nullable) (scope notified) (closure progress_data) (destroy progress_data_destroy):
 *   called with the number of tensor bytes written so far and their total
 * @progress_data: data for @progress_callback
 * @progress_data_destroy: (nullable): destroys @progress_data when the
 *   import no longer needs it
 * @callback: (scope async): called when the import is complete or failed
 * @user_data: data for @callback
 *
 * Does [func@Safetensors.import_pytorch] in a worker thread. Progress is
 * reported in the thread-default main context of the caller, at most
 * every 50 ms. Cancelling leaves @destination as it was, unless the new
 * file was already complete: then the import succeeds.
 *
 * Since: 1.0
 */
void
safetensors_import_pytorch_async (GFile                  *source,
                                  GFile                  *destination,
                                  SafetensorsImportFlags  flags,
                                  const char             *key,
                                  int                     io_priority,
                                  GCancellable           *cancellable,
                                  GFileProgressCallback   progress_callback,
                                  gpointer                progress_data,
                                  GDestroyNotify          progress_data_destroy,
                                  GAsyncReadyCallback     callback,
                                  gpointer                user_data)
{
  g_autoptr(GTask) task = NULL;
  ImportData *data;

  g_return_if_fail (G_IS_FILE (source));
  g_return_if_fail (G_IS_FILE (destination));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  data = g_new0 (ImportData, 1);
  data->source = g_file_dup (source);
  data->destination = g_file_dup (destination);
  data->flags = flags;
  data->key = g_strdup (key);
  if (progress_callback != NULL)
    {
      data->relay = g_atomic_rc_box_new0 (ProgressRelay);
      data->relay->callback = progress_callback;
      data->relay->data = progress_data;
      data->relay->destroy = progress_data_destroy;
      data->relay->context = g_main_context_ref_thread_default ();
    }
  else if (progress_data_destroy != NULL)
    {
      progress_data_destroy (progress_data);
    }

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, safetensors_import_pytorch_async);
  g_task_set_priority (task, io_priority);
  g_task_set_task_data (task, data, (GDestroyNotify) import_data_free);
  /* The result says what happened to @destination: a cancellation that
   * comes after the file was completed does not turn it into an error. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_run_in_thread (task, import_worker);
}

/**
 * safetensors_import_pytorch_finish:
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Completes [func@Safetensors.import_pytorch_async].
 *
 * Returns: %TRUE when the file was written
 *
 * Since: 1.0
 */
gboolean
safetensors_import_pytorch_finish (GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        safetensors_import_pytorch_async, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
