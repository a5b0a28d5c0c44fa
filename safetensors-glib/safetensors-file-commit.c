/* safetensors-file-commit.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Committing a transaction of SafetensorsFile: planning the layout with the
 * file's free-space policy, moving data, writing the header.
 */

#include <fcntl.h>
#include <string.h>

#include "safetensors-context-private.h"
#include "safetensors-error.h"
#include "safetensors-file-private.h"
#include "safetensors-header-writer-private.h"
#include "safetensors-journal-private.h"
#include "safetensors-layout-private.h"
#include "safetensors-sparse-private.h"
#include "safetensors-tensor-private.h"

/* Spare header padding left when a commit has to grow the header, so that
 * the next small edit does not move data. */
#define HEADER_SPARE 4096

/* Copies within the file go through a buffer of this size. */
#define MOVE_CHUNK (4 * 1024 * 1024)

static const char *
display_name (SafetensorsFile *self)
{
  return safetensors_storage_get_display_name (self->storage);
}

static int
compare_by_offset (gconstpointer a,
                   gconstpointer b)
{
  guint64 begin_a, end_a, begin_b, end_b;

  safetensors_tensor_get_data_offsets (*(SafetensorsTensor * const *) a, &begin_a, &end_a);
  safetensors_tensor_get_data_offsets (*(SafetensorsTensor * const *) b, &begin_b, &end_b);
  if (begin_a != begin_b)
    return begin_a < begin_b ? -1 : 1;
  return end_a < end_b ? -1 : end_a > end_b;
}

/* The header entry of a filler of the keep-free policy. */
static SafetensorsTensorInfo *
filler_info (guint   index,
             guint64 begin,
             guint64 len)
{
  g_autofree char *name = g_strdup_printf ("__free_%u__", index);
  SafetensorsTensorInfo *info = safetensors_tensor_info_new (name, SAFETENSORS_DTYPE_U8, &len, 1, NULL);

  g_assert (info != NULL);
  info->begin = begin;
  info->end = begin + len;
  return info;
}

/* An upper bound of the header text: every offset printed as wide as the
 * largest position in the file can be. */
static guint64
header_upper_bound (SafetensorsFile *self,
                    guint64          max_offset,
                    guint            n_fillers)
{
  g_autoptr(GPtrArray) infos = g_ptr_array_new_with_free_func ((GDestroyNotify) safetensors_tensor_info_free);
  g_autoptr(GBytes) header = NULL;

  for (guint i = 0; i < self->tensors->len; i++)
    {
      SafetensorsTensor *tensor = g_ptr_array_index (self->tensors, i);
      const guint64 *shape;
      guint n_dims;
      SafetensorsTensorInfo *info;

      shape = safetensors_tensor_get_shape (tensor, &n_dims);
      info = safetensors_tensor_info_new (safetensors_tensor_get_name (tensor),
                                          safetensors_tensor_get_dtype (tensor),
                                          shape, n_dims, NULL);
      g_assert (info != NULL);
      info->begin = info->end = max_offset;
      g_ptr_array_add (infos, info);
    }
  for (guint i = 0; i < n_fillers; i++)
    {
      SafetensorsTensorInfo *info = filler_info (i, max_offset, max_offset);

      info->begin = info->end = max_offset;
      g_ptr_array_add (infos, info);
    }

  header = safetensors_header_serialize (infos, self->metadata, 0, NULL);
  return header != NULL ? g_bytes_get_size (header) - 8 : G_MAXUINT64;
}

static GBytes *
build_header (SafetensorsFile  *self,
              GArray           *items,
              GArray           *fillers,
              guint64           data_start,
              GError          **error)
{
  g_autoptr(GPtrArray) infos = g_ptr_array_new_with_free_func ((GDestroyNotify) safetensors_tensor_info_free);
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();

  for (guint i = 0; i < self->tensors->len; i++)
    {
      SafetensorsTensor *tensor = g_ptr_array_index (self->tensors, i);
      const SafetensorsLayoutItem *item = &g_array_index (items, SafetensorsLayoutItem, i);
      const guint64 *shape;
      guint n_dims;
      SafetensorsTensorInfo *info;

      shape = safetensors_tensor_get_shape (tensor, &n_dims);
      info = safetensors_tensor_info_new (safetensors_tensor_get_name (tensor),
                                          safetensors_tensor_get_dtype (tensor),
                                          shape, n_dims, NULL);
      info->begin = item->dst - data_start;
      info->end = info->begin + item->size;
      g_ptr_array_add (infos, info);
      g_ptr_array_add (sorted, info);
    }

  for (guint i = 0; i < fillers->len; i++)
    {
      const SafetensorsRange *range = &g_array_index (fillers, SafetensorsRange, i);
      SafetensorsTensorInfo *info = filler_info (i, range->start - data_start, range->len);

      g_ptr_array_add (infos, info);
      g_ptr_array_add (sorted, info);
    }

  /* In offset order, like every writer does. */
  g_ptr_array_sort (sorted, safetensors_tensor_info_compare_offsets);
  return safetensors_header_serialize_sized (sorted, self->metadata, data_start - 8, error);
}

/* Plans the new layout with the file's policy. The header must hold the
 * tensors and, with keep-free, one filler entry per gap, whose number the
 * plan decides: plan, count, and plan again with a larger header until it
 * fits (the data start only grows, so this ends quickly). */
static gboolean
plan_layout (SafetensorsFile        *self,
             GArray                 *items,
             GArray                 *fillers,
             guint64                 scratch_start,
             SafetensorsLayoutPlan  *plan,
             GError                **error)
{
  gboolean keep_free = (self->flags & SAFETENSORS_OPEN_FLAGS_KEEP_FREE) && !self->compacting;
  guint64 old_header = self->data_start - 8;
  guint64 header_min = header_upper_bound (self, scratch_start, 0);

  for (guint attempt = 0; attempt < 8; attempt++)
    {
      gboolean ok;
      guint64 needed;

      /* Growing: leave spare padding for the next edit. */
      if (header_min > old_header && header_min <= SAFETENSORS_HEADER_MAX_SIZE)
        header_min = MIN (header_min + HEADER_SPARE, SAFETENSORS_HEADER_MAX_SIZE);

      if (keep_free)
        ok = safetensors_layout_plan_keep_free (items, header_min, SAFETENSORS_HEADER_MAX_SIZE,
                                                self->data_start, plan, fillers);
      else
        ok = safetensors_layout_plan_compact (items, header_min, SAFETENSORS_HEADER_MAX_SIZE,
                                              self->data_start, scratch_start, plan);
      if (!ok)
        break;

      needed = fillers->len == 0 ? header_min
                                 : header_upper_bound (self, scratch_start, fillers->len);
      if (needed <= plan->data_start - 8)
        return TRUE;

      safetensors_layout_plan_clear (plan);
      for (guint i = 0; i < items->len; i++)
        g_array_index (items, SafetensorsLayoutItem, i).dst = 0;
      header_min = needed;
    }

  safetensors_layout_plan_clear (plan);
  g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_HEADER_TOO_LARGE,
               "%s: the header would need more than the 100000000 bytes the format allows",
               display_name (self));
  return FALSE;
}

/**
 * safetensors_file_compact:
 * @self: a file open with %SAFETENSORS_OPEN_FLAGS_READ_WRITE
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Commits pending changes with the compact policy, whatever the open
 * flags say: the filler entries of the keep-free policy go away and the
 * planner closes their gaps, moving as few bytes as it can.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
safetensors_file_compact (SafetensorsFile  *self,
                          GCancellable     *cancellable,
                          GError          **error)
{
  gboolean ok;

  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!safetensors_file_check_writable (self, error))
    return FALSE;

  if (self->fillers->len > 0)
    self->dirty = TRUE;
  self->compacting = TRUE;
  ok = safetensors_file_commit (self, cancellable, error);
  self->compacting = FALSE;
  return ok;
}

/* A commit in three steps: prepare (plan and header, in the caller's
 * thread), execute (the I/O, touching only the job and the storage, so it
 * can run in a worker), apply (the file object follows, in the caller's
 * thread again). */
typedef struct
{
  SafetensorsStorage    *storage;
  GArray                *items;
  GArray                *fillers;
  SafetensorsLayoutPlan  plan;
  GBytes                *header;
  GArray                *saved;        /* SafetensorsRange copied to the journal */
  guint64                old_size;
  gboolean               rolled_back;  /* failed, and the file is as committed */

  /* Progress, reported to the file in the caller's thread or context. */
  SafetensorsFile       *file;         /* unowned: the caller or the GTask holds it */
  GMainContext          *context;      /* NULL when the caller's thread runs the job */
  guint64                copied;
  gint64                 last_report;
} CommitJob;

static void
commit_job_free (gpointer data)
{
  CommitJob *job = data;

  safetensors_storage_unref (job->storage);
  g_clear_pointer (&job->items, g_array_unref);
  g_clear_pointer (&job->fillers, g_array_unref);
  g_clear_pointer (&job->header, g_bytes_unref);
  g_clear_pointer (&job->saved, g_array_unref);
  g_clear_pointer (&job->context, g_main_context_unref);
  safetensors_layout_plan_clear (&job->plan);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CommitJob, commit_job_free)

static int
compare_range_starts (gconstpointer a,
                      gconstpointer b)
{
  const SafetensorsRange *x = a, *y = b;

  return x->start < y->start ? -1 : x->start > y->start;
}

static void
add_range (GArray  *ranges,
           guint64  start,
           guint64  len)
{
  SafetensorsRange range = { start, len };

  if (len > 0)
    g_array_append_val (ranges, range);
}

/* Sorts and merges overlapping or touching ranges. */
static void
normalize_ranges (GArray *ranges)
{
  guint out = 0;

  g_array_sort (ranges, compare_range_starts);
  for (guint i = 0; i < ranges->len; i++)
    {
      SafetensorsRange *r = &g_array_index (ranges, SafetensorsRange, i);

      if (out > 0)
        {
          SafetensorsRange *last = &g_array_index (ranges, SafetensorsRange, out - 1);

          if (r->start <= last->start + last->len)
            {
              last->len = MAX (last->start + last->len, r->start + r->len) - last->start;
              continue;
            }
        }
      g_array_index (ranges, SafetensorsRange, out++) = *r;
    }
  g_array_set_size (ranges, out);
}

/* The bytes the journal must keep: what the commit overwrites (the new
 * header region, move destinations) among what the committed file uses
 * (its header, its tensors' data). Filler space and the staged area past
 * the committed end hold nothing worth keeping. */
static GArray *
compute_saved_ranges (SafetensorsFile             *self,
                      const SafetensorsLayoutPlan *plan)
{
  g_autoptr(GArray) used = g_array_new (FALSE, FALSE, sizeof (SafetensorsRange));
  g_autoptr(GArray) written = g_array_new (FALSE, FALSE, sizeof (SafetensorsRange));
  GArray *saved = g_array_new (FALSE, FALSE, sizeof (SafetensorsRange));
  guint i = 0, j = 0;

  add_range (used, 0, self->data_start);
  for (guint k = 0; k < self->committed->len; k++)
    {
      CommittedTensor *committed = &g_array_index (self->committed, CommittedTensor, k);

      add_range (used, self->data_start + committed->begin,
                 safetensors_tensor_get_n_bytes (committed->tensor));
    }
  normalize_ranges (used);

  add_range (written, 0, plan->data_start);
  for (guint k = 0; k < plan->moves->len; k++)
    {
      const SafetensorsMove *move = &g_array_index (plan->moves, SafetensorsMove, k);

      add_range (written, move->dst, move->len);
    }
  normalize_ranges (written);

  while (i < used->len && j < written->len)
    {
      const SafetensorsRange *u = &g_array_index (used, SafetensorsRange, i);
      const SafetensorsRange *w = &g_array_index (written, SafetensorsRange, j);
      guint64 start = MAX (u->start, w->start);
      guint64 end = MIN (MIN (u->start + u->len, w->start + w->len), self->committed_size);

      if (start < end)
        add_range (saved, start, end - start);
      if (u->start + u->len < w->start + w->len)
        i++;
      else
        j++;
    }

  return saved;
}

static CommitJob *
commit_job_prepare (SafetensorsFile  *self,
                    GError          **error)
{
  g_autoptr(CommitJob) job = g_new0 (CommitJob, 1);
  guint64 scratch_start;

  job->storage = safetensors_storage_ref (self->storage);
  job->fillers = g_array_new (FALSE, FALSE, sizeof (SafetensorsRange));
  job->items = g_array_sized_new (FALSE, TRUE, sizeof (SafetensorsLayoutItem), self->tensors->len);
  for (guint i = 0; i < self->tensors->len; i++)
    {
      SafetensorsTensor *tensor = g_ptr_array_index (self->tensors, i);
      SafetensorsLayoutItem item = {
        .src = safetensors_tensor_get_file_offset (tensor),
        .size = safetensors_tensor_get_n_bytes (tensor),
        .align = safetensors_tensor_get_alignment (tensor),
      };

      g_array_append_val (job->items, item);
    }

  scratch_start = MAX (self->staged_end, safetensors_storage_get_size (self->storage));
  if (!plan_layout (self, job->items, job->fillers, scratch_start, &job->plan, error))
    return NULL;

  job->header = build_header (self, job->items, job->fillers, job->plan.data_start, error);
  if (job->header == NULL)
    return NULL;

  job->saved = compute_saved_ranges (self, &job->plan);
  job->old_size = self->committed_size;
  job->file = self;
  return g_steal_pointer (&job);
}

typedef struct
{
  SafetensorsFile *file;
  double           progress;
} ProgressReport;

static gboolean
deliver_progress (gpointer data)
{
  ProgressReport *report = data;

  safetensors_file_set_commit_progress (report->file, report->progress);
  return G_SOURCE_REMOVE;
}

static void
progress_report_free (gpointer data)
{
  ProgressReport *report = data;

  g_object_unref (report->file);
  g_free (report);
}

static void
commit_job_add_progress (CommitJob *job,
                         guint64    n_bytes)
{
  gint64 now = g_get_monotonic_time ();
  double progress;

  job->copied += n_bytes;
  if (now - job->last_report < 50000 || job->plan.bytes_copied == 0)
    return;
  job->last_report = now;
  progress = MIN (1.0, (double) job->copied / job->plan.bytes_copied);

  if (job->context == NULL)
    safetensors_file_set_commit_progress (job->file, progress);
  else
    {
      ProgressReport *report = g_new (ProgressReport, 1);

      report->file = g_object_ref (job->file);
      report->progress = progress;
      safetensors_call_in_context (job->context, deliver_progress,
                                   report, progress_report_free);
    }
}

/* Copies [src, src + len) to dst within the file, like memmove. */
static gboolean
move_range (CommitJob             *job,
            guint8                *buffer,
            const SafetensorsMove *move,
            GCancellable          *cancellable,
            GError               **error)
{
  gboolean backwards = move->dst > move->src && move->dst < move->src + move->len;
  guint64 done = 0;

  while (done < move->len)
    {
      gsize n = MIN (move->len - done, MOVE_CHUNK);
      guint64 at = backwards ? move->len - done - n : done;

      if (!safetensors_storage_read (job->storage, move->src + at, buffer, n, cancellable, error) ||
          !safetensors_storage_write (job->storage, move->dst + at, buffer, n, cancellable, error))
        return FALSE;
      done += n;
      commit_job_add_progress (job, n);
    }
  return TRUE;
}

/* The commit protocol (DESIGN §5): save what will be overwritten in a
 * hot journal, change the file, make it durable, mark the journal done
 * (the commit point), then tidy up: punch free space, truncate, delete the
 * journal. A failure before the commit point rolls the file back from the
 * journal. */
static gboolean
commit_job_change_file (CommitJob     *job,
                        const char    *journal_path,
                        GCancellable  *cancellable,
                        GError       **error)
{
  g_autofree guint8 *buffer = NULL;
  int fd = safetensors_storage_rw_get_fd (job->storage);
  gsize buffer_size = 1;

  /* No larger than the largest move: most commits move little or nothing. */
  for (guint i = 0; i < job->plan.moves->len; i++)
    buffer_size = MAX (buffer_size, MIN (g_array_index (job->plan.moves, SafetensorsMove, i).len,
                                         MOVE_CHUNK));
  buffer = g_malloc (buffer_size);

  if (!safetensors_journal_write_hot (journal_path, fd, job->old_size, job->saved,
                                      cancellable, error))
    return FALSE;

  for (guint i = 0; i < job->plan.moves->len; i++)
    {
      if (!move_range (job, buffer, &g_array_index (job->plan.moves, SafetensorsMove, i),
                       cancellable, error))
        return FALSE;
    }

  return safetensors_storage_write (job->storage, 0, g_bytes_get_data (job->header, NULL),
                                    g_bytes_get_size (job->header), cancellable, error) &&
         safetensors_storage_rw_sync (job->storage, error) &&
         safetensors_journal_write_done (journal_path, job->old_size, job->plan.end, error);
}

static gboolean
commit_job_execute (CommitJob     *job,
                    GCancellable  *cancellable,
                    GError       **error)
{
  const char *journal_path = safetensors_storage_rw_get_journal_path (job->storage);
  const char *name = safetensors_storage_get_display_name (job->storage);
  int fd = safetensors_storage_rw_get_fd (job->storage);
  g_autoptr(GError) tidy_error = NULL;
  gboolean ok;

  /* Readers wait while the file changes. */
  safetensors_lock_byte (fd, SAFETENSORS_LOCK_COMMIT_BYTE, F_WRLCK, TRUE);

  if (!commit_job_change_file (job, journal_path, cancellable, error))
    {
      g_autoptr(GError) recover_error = NULL;
      guint state = 0;

      if (!safetensors_journal_recover (journal_path, fd, name, &state, &recover_error))
        {
          g_prefix_error (error, "%s: the commit failed, and so did its rollback (%s); "
                          "the next opening for writing will retry: ", name, recover_error->message);
          safetensors_lock_byte (fd, SAFETENSORS_LOCK_COMMIT_BYTE, F_UNLCK, FALSE);
          return FALSE;
        }

      /* The done journal was in place: the commit happened, and recovery
       * just finished it. */
      if (state == SAFETENSORS_JOURNAL_DONE)
        {
          g_debug ("%s: commit done despite: %s", name, (*error)->message);
          g_clear_error (error);
          safetensors_storage_rw_set_size (job->storage, job->plan.end, NULL);
          safetensors_lock_byte (fd, SAFETENSORS_LOCK_COMMIT_BYTE, F_UNLCK, FALSE);
          return TRUE;
        }

      safetensors_storage_rw_set_size (job->storage, job->old_size, NULL);
      job->rolled_back = TRUE;
      g_prefix_error (error, "%s: the commit failed and was rolled back: ", name);
      safetensors_lock_byte (fd, SAFETENSORS_LOCK_COMMIT_BYTE, F_UNLCK, FALSE);
      return FALSE;
    }

  /* Committed. What follows only tidies up; if it fails, the done journal
   * lets the next opening for writing finish it. */
  for (guint i = 0; i < job->fillers->len; i++)
    {
      const SafetensorsRange *range = &g_array_index (job->fillers, SafetensorsRange, i);

      safetensors_punch_hole (fd, range->start, range->len);
    }
  ok = safetensors_storage_rw_set_size (job->storage, job->plan.end, &tidy_error) &&
       safetensors_storage_rw_sync (job->storage, &tidy_error) &&
       safetensors_journal_remove (journal_path, &tidy_error);
  if (!ok)
    g_debug ("%s: commit done, tidying up failed: %s", name, tidy_error->message);

  safetensors_lock_byte (fd, SAFETENSORS_LOCK_COMMIT_BYTE, F_UNLCK, FALSE);
  return TRUE;
}

static void
commit_job_apply (SafetensorsFile *self,
                  CommitJob       *job)
{
  guint old_n;

  self->journal_active = FALSE;

  for (guint i = 0; i < self->tensors->len; i++)
    {
      const SafetensorsLayoutItem *item = &g_array_index (job->items, SafetensorsLayoutItem, i);

      safetensors_tensor_set_location (g_ptr_array_index (self->tensors, i),
                                       job->plan.data_start, item->dst - job->plan.data_start);
    }

  g_array_set_size (self->fillers, 0);
  g_array_append_vals (self->fillers, job->fillers->data, job->fillers->len);

  old_n = self->tensors->len;
  g_ptr_array_sort (self->tensors, compare_by_offset);
  self->data_start = job->plan.data_start;
  g_clear_pointer (&self->header_bytes, g_bytes_unref);
  self->header_bytes = g_bytes_new_from_bytes (job->header, 8, g_bytes_get_size (job->header) - 8);

  self->last_stats.header_bytes = g_bytes_get_size (job->header);
  self->last_stats.bytes_moved = job->plan.bytes_moved;
  self->last_stats.bytes_written = self->staged_bytes + job->plan.bytes_copied +
                                   self->last_stats.header_bytes;

  safetensors_file_snapshot (self);
  safetensors_file_emit_changed (self, old_n);
  safetensors_file_set_commit_progress (self, 1.0);
}

/* After a failed commit rolled the file back, the transaction is gone too:
 * its staged data was cut off with the rest. */
static void
commit_job_fail (SafetensorsFile *self,
                 CommitJob       *job)
{
  if (!job->rolled_back)
    return;
  self->journal_active = FALSE;
  safetensors_file_forget_transaction (self);
}

/**
 * safetensors_file_commit:
 * @self: a file open with %SAFETENSORS_OPEN_FLAGS_READ_WRITE
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Applies the current transaction to the file. The planner chooses the
 * layout that moves the fewest bytes: a gap at the front of the data
 * becomes header padding, tensors already in place stay, a hole is closed
 * by shifting the shorter side, the file is truncated at its new end; a
 * header that grows relocates only the tensors it overlaps and leaves
 * spare padding for the next edit. Afterwards the file passes the strict
 * reader, every tensor starts at a multiple of min(8, element size), and
 * [method@Safetensors.File.get_commit_stats] tells what it cost.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
safetensors_file_commit (SafetensorsFile  *self,
                         GCancellable     *cancellable,
                         GError          **error)
{
  g_autoptr(CommitJob) job = NULL;

  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!safetensors_file_check_writable (self, error))
    return FALSE;

  memset (&self->last_stats, 0, sizeof self->last_stats);
  if (!self->dirty)
    return TRUE;

  job = commit_job_prepare (self, error);
  if (job == NULL)
    return FALSE;

  if (!commit_job_execute (job, cancellable, error))
    {
      commit_job_fail (self, job);
      return FALSE;
    }

  commit_job_apply (self, job);
  return TRUE;
}

static void
commit_worker (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  GError *error = NULL;

  if (commit_job_execute (task_data, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * safetensors_file_commit_async:
 * @self: a file open with %SAFETENSORS_OPEN_FLAGS_READ_WRITE
 * @io_priority: the I/O priority of the request
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the commit is done
 * @user_data: data for @callback
 *
 * Does [method@Safetensors.File.commit] with its I/O in a worker thread.
 * The layout is planned before this returns; until @callback runs, edits
 * fail with %G_IO_ERROR_BUSY, while tensors can still be read.
 *
 * Since: 1.0
 */
void
safetensors_file_commit_async (SafetensorsFile     *self,
                               int                  io_priority,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  CommitJob *job;

  g_return_if_fail (SAFETENSORS_IS_FILE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, safetensors_file_commit_async);
  g_task_set_priority (task, io_priority);

  if (!safetensors_file_check_writable (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  memset (&self->last_stats, 0, sizeof self->last_stats);
  if (!self->dirty)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  job = commit_job_prepare (self, &error);
  if (job == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  self->committing = TRUE;
  job->context = g_main_context_ref_thread_default ();
  g_task_set_task_data (task, job, commit_job_free);
  g_task_run_in_thread (task, commit_worker);
}

/**
 * safetensors_file_commit_finish:
 * @self: a file
 * @result: the #GAsyncResult passed to the callback
 * @error: return location for a #GError
 *
 * Completes [method@Safetensors.File.commit_async]. The file's tensors and
 * statistics are updated here.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
safetensors_file_commit_finish (SafetensorsFile  *self,
                                GAsyncResult     *result,
                                GError          **error)
{
  CommitJob *job;

  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == safetensors_file_commit_async, FALSE);

  job = g_task_get_task_data (G_TASK (result));
  if (job != NULL)
    self->committing = FALSE;

  if (!g_task_propagate_boolean (G_TASK (result), error))
    {
      if (job != NULL)
        commit_job_fail (self, job);
      return FALSE;
    }

  if (job != NULL)
    commit_job_apply (self, job);
  return TRUE;
}

/**
 * safetensors_file_get_commit_stats:
 * @self: a file
 *
 * Gets what the last [method@Safetensors.File.commit] cost. All zero
 * before the first commit and after one with nothing to do.
 *
 * Returns: (transfer full): the statistics
 *
 * Since: 1.0
 */
SafetensorsCommitStats *
safetensors_file_get_commit_stats (SafetensorsFile *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), NULL);

  return safetensors_commit_stats_copy (&self->last_stats);
}

/**
 * safetensors_file_close:
 * @self: a file
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Commits pending changes of a file open for editing and releases its
 * lock. Tensors obtained before stay readable. Further edits fail.
 * Closing a file open for reading only marks it closed.
 *
 * Returns: %TRUE on success; on failure the transaction is still pending
 *
 * Since: 1.0
 */
gboolean
safetensors_file_close (SafetensorsFile  *self,
                        GCancellable     *cancellable,
                        GError          **error)
{
  g_return_val_if_fail (SAFETENSORS_IS_FILE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->closed)
    return TRUE;

  if (self->dirty && !safetensors_file_commit (self, cancellable, error))
    return FALSE;
  /* A failed edit may have left a journal and a longer file behind. */
  if (self->journal_active)
    safetensors_file_rollback (self);

  if (safetensors_storage_is_writable (self->storage))
    safetensors_storage_rw_unlock (self->storage);
  self->closed = TRUE;
  return TRUE;
}
