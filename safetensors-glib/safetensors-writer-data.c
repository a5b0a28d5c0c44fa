/* safetensors-writer-data.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The data half of SafetensorsWriter: tensor bytes from chunks, GBytes and
 * streams to the output, finishing (sync and async) and progress.
 */

#include "safetensors-error.h"
#include "safetensors-writer-private.h"

/* Counts written bytes and notifies, throttled: directly when finish() runs
 * in the caller's thread, through the caller's main context when a worker
 * of finish_async() does. */
static void
progress_add (SafetensorsWriter *self,
              guint64            n_bytes)
{
  guint64 written = __atomic_add_fetch (&self->bytes_written, n_bytes, __ATOMIC_RELAXED);
  gint64 now = g_get_monotonic_time ();

  if (written != self->total_bytes && now - self->last_notify < 50000)
    return;
  self->last_notify = now;
  safetensors_writer_notify_bytes_written (self);
}

static guint64
tensor_offset (SafetensorsWriter *self,
               PendingTensor     *pending)
{
  return self->data_start + pending->info->begin + pending->received;
}

/* Copies a whole source (GBytes or stream) into its tensor. */
static gboolean
write_source (SafetensorsWriter  *self,
              PendingTensor      *pending,
              GCancellable       *cancellable,
              GError            **error)
{
  guint64 n_bytes = safetensors_tensor_info_n_bytes (pending->info);
  g_autofree guint8 *buffer = NULL;

  if (pending->data != NULL)
    {
      const guint8 *data = g_bytes_get_data (pending->data, NULL);

      /* In pieces, so that progress and cancellation keep up. */
      while (pending->received < n_bytes)
        {
          gsize n = MIN (n_bytes - pending->received, 16 * SAFETENSORS_WRITER_COPY_CHUNK);

          if (!safetensors_output_write_at (self->output, tensor_offset (self, pending),
                                            data + pending->received, n, cancellable, error))
            return FALSE;
          pending->received += n;
          progress_add (self, n);
        }
      return TRUE;
    }

  buffer = g_malloc (SAFETENSORS_WRITER_COPY_CHUNK);
  while (pending->received < n_bytes)
    {
      gsize want = MIN (n_bytes - pending->received, SAFETENSORS_WRITER_COPY_CHUNK);
      gsize got = 0;

      if (!g_input_stream_read_all (pending->stream, buffer, want, &got, cancellable, error))
        return FALSE;
      if (got < want)
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                       "%s: tensor “%s”: its stream ended after %" G_GUINT64_FORMAT
                       " of %" G_GUINT64_FORMAT " bytes",
                       safetensors_output_get_display_name (self->output),
                       pending->info->name, pending->received + got, n_bytes);
          return FALSE;
        }
      if (!safetensors_output_write_at (self->output, tensor_offset (self, pending),
                                        buffer, got, cancellable, error))
        return FALSE;
      pending->received += got;
      progress_add (self, got);
    }

  /* A longer stream means the declared shape is wrong. */
  {
    gssize extra = g_input_stream_read (pending->stream, buffer, 1, cancellable, error);

    if (extra < 0)
      return FALSE;
    if (extra > 0)
      {
        g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                     "%s: tensor “%s”: its stream holds more than the %" G_GUINT64_FORMAT
                     " bytes its dtype and shape take",
                     safetensors_output_get_display_name (self->output),
                     pending->info->name, n_bytes);
        return FALSE;
      }
  }

  return TRUE;
}

/* Completes tensor @pending: writes its source, or zeros when it got no
 * data at all; one that got part of its data is an error. */
static gboolean
complete_tensor (SafetensorsWriter  *self,
                 PendingTensor      *pending,
                 GCancellable       *cancellable,
                 GError            **error)
{
  guint64 n_bytes = safetensors_tensor_info_n_bytes (pending->info);

  if (pending->received == n_bytes)
    return TRUE;

  if (pending->data != NULL || pending->stream != NULL)
    return write_source (self, pending, cancellable, error);

  if (pending->received > 0)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "%s: tensor “%s” got %" G_GUINT64_FORMAT " of its %" G_GUINT64_FORMAT
                   " bytes", safetensors_output_get_display_name (self->output),
                   pending->info->name, pending->received, n_bytes);
      return FALSE;
    }

  if (!safetensors_output_zero_fill_to (self->output, self->data_start + pending->info->end,
                                        cancellable, error))
    return FALSE;
  pending->received = n_bytes;
  progress_add (self, n_bytes);
  return TRUE;
}

/* The checks every chunk goes through; for a stream, also completes the
 * tensors before @name. The tensor, or NULL with @error set. */
static PendingTensor *
accept_chunk (SafetensorsWriter  *self,
              const char         *what,
              const char         *name,
              guint64             len,
              GCancellable       *cancellable,
              GError            **error)
{
  PendingTensor *pending;
  guint64 n_bytes;

  if (!safetensors_writer_check_state (self, STATE_WRITING, what, error))
    return NULL;

  pending = g_hash_table_lookup (self->by_name, name);
  if (pending == NULL)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_TENSOR_NOT_FOUND,
                   "no tensor named “%s” was added", name);
      return NULL;
    }
  if (pending->data != NULL || pending->stream != NULL)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "tensor “%s” was added with its data already", name);
      return NULL;
    }
  n_bytes = safetensors_tensor_info_n_bytes (pending->info);
  if (len > n_bytes - pending->received)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "tensor “%s” takes %" G_GUINT64_FORMAT " bytes; %" G_GUINT64_FORMAT
                   " were written and %" G_GUINT64_FORMAT " more do not fit",
                   name, n_bytes, pending->received, len);
      return NULL;
    }

  if (!safetensors_output_is_seekable (self->output))
    {
      /* Everything before this tensor must be complete first. */
      while (self->stream_index < self->tensors->len &&
             g_ptr_array_index (self->tensors, self->stream_index) != pending)
        {
          PendingTensor *before = g_ptr_array_index (self->tensors, self->stream_index);

          if (before->received != 0 &&
              before->received < safetensors_tensor_info_n_bytes (before->info))
            {
              g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                           "tensor “%s” is incomplete; a stream is written in layout "
                           "order, so it must be finished before “%s”",
                           before->info->name, name);
              safetensors_writer_fail (self);
              return NULL;
            }
          if (!complete_tensor (self, before, cancellable, error))
            {
              safetensors_writer_fail (self);
              return NULL;
            }
          self->stream_index++;
        }

      if (self->stream_index == self->tensors->len)
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                       "tensor “%s” comes before tensors already written; a stream is "
                       "written in layout order", name);
          return NULL;
        }
    }

  return pending;
}

/* Counts @len bytes as written into @pending. */
static void
chunk_done (SafetensorsWriter *self,
            PendingTensor     *pending,
            guint64            len)
{
  pending->received += len;
  progress_add (self, len);
}

/**
 * safetensors_writer_write_chunk:
 * @self: a writer
 * @name: the tensor the bytes belong to
 * @data: (array length=len): the next bytes of the tensor
 * @len: the number of bytes
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Appends bytes to a tensor declared without data. Chunks of one tensor
 * arrive in order; when the output is a file, tensors can be filled in any
 * order. When it is a stream, a chunk for a later tensor first completes
 * the ones before it (their sources are written, tensors without data
 * become zeros).
 *
 * Returns: %TRUE on success; on failure the writer is aborted
 *
 * Since: 1.0
 */
gboolean
safetensors_writer_write_chunk (SafetensorsWriter  *self,
                                const char         *name,
                                const guint8       *data,
                                gsize               len,
                                GCancellable       *cancellable,
                                GError            **error)
{
  PendingTensor *pending;

  g_return_val_if_fail (SAFETENSORS_IS_WRITER (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  pending = accept_chunk (self, "write_chunk()", name, len, cancellable, error);
  if (pending == NULL)
    return FALSE;
  if (!safetensors_output_write_at (self->output, tensor_offset (self, pending),
                                    data, len, cancellable, error))
    {
      safetensors_writer_fail (self);
      return FALSE;
    }
  chunk_done (self, pending, len);
  return TRUE;
}

gboolean
safetensors_writer_copy_chunk_from_fd (SafetensorsWriter  *self,
                                       const char         *name,
                                       int                 fd,
                                       const char         *fd_display_name,
                                       guint64             offset,
                                       guint64             len,
                                       GCancellable       *cancellable,
                                       GError            **error)
{
  PendingTensor *pending;

  pending = accept_chunk (self, "copy_chunk_from_fd()", name, len, cancellable, error);
  if (pending == NULL)
    return FALSE;
  if (!safetensors_output_copy_from_fd (self->output, tensor_offset (self, pending), fd,
                                        fd_display_name, offset, len, cancellable, error))
    {
      safetensors_writer_fail (self);
      return FALSE;
    }
  chunk_done (self, pending, len);
  return TRUE;
}

static gboolean
finish_internal (SafetensorsWriter  *self,
                 GCancellable       *cancellable,
                 GError            **error)
{
  for (guint i = self->stream_index; i < self->tensors->len; i++)
    {
      if (!complete_tensor (self, g_ptr_array_index (self->tensors, i), cancellable, error))
        return FALSE;
    }

  return safetensors_output_commit (self->output, cancellable, error);
}

/**
 * safetensors_writer_finish:
 * @self: a writer
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Writes the data of every tensor not written yet, syncs the file to disk
 * and moves it into place. On failure or cancellation the destination is
 * left as it was and the temporary file is removed.
 *
 * If [method@Safetensors.Writer.begin] was not called, this is an error.
 *
 * Returns: %TRUE when the file is complete
 *
 * Since: 1.0
 */
gboolean
safetensors_writer_finish (SafetensorsWriter  *self,
                           GCancellable       *cancellable,
                           GError            **error)
{
  g_return_val_if_fail (SAFETENSORS_IS_WRITER (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!safetensors_writer_check_state (self, STATE_WRITING, "finish()", error))
    return FALSE;

  if (!finish_internal (self, cancellable, error))
    {
      safetensors_writer_fail (self);
      return FALSE;
    }

  self->state = STATE_DONE;
  g_clear_pointer (&self->output, safetensors_output_free);
  return TRUE;
}

static void
finish_worker (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  SafetensorsWriter *self = source_object;
  GError *error = NULL;

  /* The writer is in STATE_FINISHING: no other call touches it now. */
  if (!finish_internal (self, cancellable, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * safetensors_writer_finish_async:
 * @self: a writer
 * @io_priority: the I/O priority of the request
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the file is complete or failed
 * @user_data: data for @callback
 *
 * Does [method@Safetensors.Writer.finish] in a worker thread. Until
 * @callback runs, the writer accepts no other call. Progress is reported
 * through [property@Safetensors.Writer:bytes-written], notified in the
 * thread-default main context of the caller.
 *
 * Since: 1.0
 */
void
safetensors_writer_finish_async (SafetensorsWriter   *self,
                                 int                  io_priority,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (SAFETENSORS_IS_WRITER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, safetensors_writer_finish_async);
  g_task_set_priority (task, io_priority);

  if (!safetensors_writer_check_state (self, STATE_WRITING, "finish_async()", &error))
    {
      g_task_return_error (task, error);
      return;
    }

  self->state = STATE_FINISHING;
  self->notify_context = g_main_context_ref_thread_default ();
  g_task_run_in_thread (task, finish_worker);
}

/**
 * safetensors_writer_finish_finish:
 * @self: a writer
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Completes [method@Safetensors.Writer.finish_async].
 *
 * Returns: %TRUE when the file is complete
 *
 * Since: 1.0
 */
gboolean
safetensors_writer_finish_finish (SafetensorsWriter  *self,
                                  GAsyncResult       *result,
                                  GError            **error)
{
  gboolean ok;

  g_return_val_if_fail (SAFETENSORS_IS_WRITER (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        safetensors_writer_finish_async, FALSE);

  ok = g_task_propagate_boolean (G_TASK (result), error);
  g_clear_pointer (&self->notify_context, g_main_context_unref);

  /* State changes happen here, in the caller's thread. */
  if (self->state == STATE_FINISHING)
    {
      if (ok)
        {
          self->state = STATE_DONE;
          g_clear_pointer (&self->output, safetensors_output_free);
        }
      else
        {
          safetensors_writer_fail (self);
        }
    }

  return ok;
}
