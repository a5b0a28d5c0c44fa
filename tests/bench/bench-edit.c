/* bench-edit.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Editing in place against rewriting the file, in the same run, on a
 * 2 GiB file of 8 tensors x 256 MiB of non-zero data:
 *  - adding a 1 MiB tensor in place (open READ_WRITE, add, commit, close)
 *    vs writing the whole new file with SafetensorsWriter, the old
 *    tensors streamed from the old file: speed ratio (goal >= 500) and
 *    bytes written (goal <= 1 MiB + header + 64 KiB). The first edit of a
 *    file written without header reserve is reported apart: its header
 *    has no room to grow;
 *  - removing the middle tensor with the compact and the keep-free policy,
 *    from a file with header room and from a fresh one: bytes moved vs
 *    min(bytes before, bytes after the tensor).
 *
 * Needs about 7 GB free in $TMPDIR (default /tmp): the file, a copy and
 * the rewritten file.
 */

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <glib/gstdio.h>
#include <safetensors-glib/safetensors-glib.h>

#include "bench-util.h"

#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define TENSOR_SIZE (256 * MIB)
#define N_TENSORS 8
#define ADD_SIZE MIB
#define CHUNK MIB
#define REPEATS 3
#define SPACE_NEEDED (G_GUINT64_CONSTANT (7) << 30)

static char *dir;

static void
fill (guint8  *buf,
      gsize    len,
      guint64  seed)
{
  guint64 *w = (guint64 *) buf;

  for (gsize i = 0; i < len / 8; i++)
    w[i] = (seed + i) * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15) | 1;
}

static char *
bench_path (const char *name)
{
  return g_build_filename (dir, name, NULL);
}

/* The reference writer's exact layout: no header reserve. */
static void
write_base (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (SAFETENSORS_WRITER_FLAGS_NONE);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autofree guint8 *buf = g_malloc (CHUNK);

  for (guint t = 0; t < N_TENSORS; t++)
    {
      g_autofree char *name = g_strdup_printf ("layer.%u.weight", t);
      guint64 n = TENSOR_SIZE;

      if (!safetensors_writer_add_tensor (writer, name, SAFETENSORS_DTYPE_U8, &n, 1, NULL, &error))
        g_error ("%s", error->message);
    }
  if (!safetensors_writer_begin (writer, file, NULL, &error))
    g_error ("%s", error->message);

  /* All U8 with names in order: the layout order is the declaration order. */
  for (guint t = 0; t < N_TENSORS; t++)
    {
      g_autofree char *name = g_strdup_printf ("layer.%u.weight", t);

      for (guint64 done = 0; done < TENSOR_SIZE; done += CHUNK)
        {
          fill (buf, CHUNK, done + t * TENSOR_SIZE);
          if (!safetensors_writer_write_chunk (writer, name, buf, CHUNK, NULL, &error))
            g_error ("%s", error->message);
        }
    }

  if (!safetensors_writer_finish (writer, NULL, &error))
    g_error ("%s", error->message);
}

static GBytes *
new_tensor_data (guint64 seed)
{
  guint8 *data = g_malloc (ADD_SIZE);

  fill (data, ADD_SIZE, seed);
  return g_bytes_new_take (data, ADD_SIZE);
}

static SafetensorsFile *
open_file (const char           *path,
           SafetensorsOpenFlags  flags)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) file = g_file_new_for_path (path);
  SafetensorsFile *result = safetensors_file_open (file, flags, NULL, &error);

  if (result == NULL)
    g_error ("%s", error->message);
  return result;
}

/* What the tool's `add` does: open, add, commit, close. */
static double
time_add (const char             *path,
          const char             *name,
          SafetensorsCommitStats *out_stats)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = new_tensor_data (g_str_hash (name));
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(SafetensorsCommitStats) stats = NULL;
  guint64 n = ADD_SIZE;
  gint64 start = g_get_monotonic_time ();
  double seconds;

  file = open_file (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE);
  if (!safetensors_file_add_tensor (file, name, SAFETENSORS_DTYPE_U8, &n, 1, data, &error) ||
      !safetensors_file_commit (file, NULL, &error))
    g_error ("%s", error->message);
  stats = safetensors_file_get_commit_stats (file);
  if (!safetensors_file_close (file, NULL, &error))
    g_error ("%s", error->message);
  seconds = (g_get_monotonic_time () - start) / 1e6;

  *out_stats = *stats;
  return seconds;
}

typedef struct
{
  const char *src;
  const char *dst;
} RewriteJob;

/* The alternative to an in-place add: a new file with every tensor, the
 * old ones streamed from the mapped old file, then renamed over it (here
 * to a separate path, so that the old file stays for the next run). */
static double
time_rewrite (gpointer user_data)
{
  const RewriteJob *job = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsFile) old = NULL;
  g_autoptr(SafetensorsWriter) writer = NULL;
  g_autoptr(GFile) destination = g_file_new_for_path (job->dst);
  g_autoptr(GBytes) extra = new_tensor_data (1);
  guint64 n = ADD_SIZE;
  gint64 start = g_get_monotonic_time ();
  double seconds;

  old = open_file (job->src, SAFETENSORS_OPEN_FLAGS_NONE);
  writer = safetensors_writer_new (SAFETENSORS_WRITER_FLAGS_NONE);
  for (guint i = 0; i < safetensors_file_get_n_tensors (old); i++)
    {
      g_autoptr(SafetensorsTensor) tensor = g_list_model_get_item (G_LIST_MODEL (old), i);
      g_autoptr(GBytes) bytes = safetensors_tensor_get_bytes (tensor, NULL, &error);
      g_autoptr(GInputStream) stream = NULL;
      guint n_dims = 0;
      const guint64 *shape = safetensors_tensor_get_shape (tensor, &n_dims);

      if (bytes == NULL)
        g_error ("%s", error->message);
      /* A slice of the mapping: read as the writer copies it. */
      stream = g_memory_input_stream_new_from_bytes (bytes);
      if (!safetensors_writer_add_tensor_from_stream (writer, safetensors_tensor_get_name (tensor),
                                                      safetensors_tensor_get_dtype (tensor),
                                                      shape, n_dims, stream, &error))
        g_error ("%s", error->message);
    }
  if (!safetensors_writer_add_tensor (writer, "extra", SAFETENSORS_DTYPE_U8, &n, 1, extra, &error) ||
      !safetensors_writer_begin (writer, destination, NULL, &error) ||
      !safetensors_writer_finish (writer, NULL, &error))
    g_error ("%s", error->message);
  seconds = (g_get_monotonic_time () - start) / 1e6;

  g_unlink (job->dst);
  return seconds;
}

static void
copy_file (const char *src,
           const char *dst)
{
  /* Synced, so that the edit's own fsync does not flush the copy. */
  g_autofree char *command = g_strdup_printf ("cp '%s' '%s' && sync '%s'", src, dst, dst);

  bench_time_command (command);
}

static guint64
disk_bytes (const char *path)
{
  struct stat st;

  if (g_stat (path, &st) != 0)
    g_error ("%s: %s", path, g_strerror (errno));
  return (guint64) st.st_blocks * 512;
}

/* The tensor holding the middle byte of the data. */
static SafetensorsTensor *
find_middle (SafetensorsFile *file,
             guint64          data_size)
{
  for (guint i = 0; i < safetensors_file_get_n_tensors (file); i++)
    {
      g_autoptr(SafetensorsTensor) tensor = g_list_model_get_item (G_LIST_MODEL (file), i);
      guint64 begin = 0, end = 0;

      safetensors_tensor_get_data_offsets (tensor, &begin, &end);
      if (begin <= data_size / 2 && data_size / 2 < end)
        return g_steal_pointer (&tensor);
    }
  g_error ("no tensor in the middle of the data");
}

/* Removes the tensor in the middle of the data and prints what moved
 * against the least a compacting edit has to move. */
static void
remove_middle (const char           *path,
               SafetensorsOpenFlags  extra_flags,
               const char           *label)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(SafetensorsTensor) tensor = NULL;
  g_autoptr(SafetensorsCommitStats) stats = NULL;
  g_autofree char *name = NULL;
  guint64 begin = 0, end = 0, data_size, before, after, disk_before;
  gint64 start;
  double seconds;

  disk_before = disk_bytes (path);
  start = g_get_monotonic_time ();
  file = open_file (path, SAFETENSORS_OPEN_FLAGS_READ_WRITE | extra_flags);
  data_size = safetensors_file_get_size (file) - safetensors_file_get_data_start (file);
  tensor = find_middle (file, data_size);
  name = g_strdup (safetensors_tensor_get_name (tensor));
  safetensors_tensor_get_data_offsets (tensor, &begin, &end);
  before = begin;
  after = data_size - end;

  if (!safetensors_file_remove_tensor (file, name, &error) ||
      !safetensors_file_commit (file, NULL, &error))
    g_error ("%s", error->message);
  stats = safetensors_file_get_commit_stats (file);
  if (!safetensors_file_close (file, NULL, &error))
    g_error ("%s", error->message);
  seconds = (g_get_monotonic_time () - start) / 1e6;

  printf ("%s: removed %s (%.0f MiB before it, %.0f MiB after it)\n", label, name,
          before / (double) MIB, after / (double) MIB);
  printf ("    %7.3f s  moved %" G_GUINT64_FORMAT " bytes = %.3f x min(before, after)"
          "  written %" G_GUINT64_FORMAT "  header %" G_GUINT64_FORMAT "\n",
          seconds, stats->bytes_moved, stats->bytes_moved / (double) MIN (before, after),
          stats->bytes_written, stats->header_bytes);
  printf ("    disk usage %.0f MiB -> %.0f MiB\n",
          disk_before / (double) MIB, disk_bytes (path) / (double) MIB);
}

static gboolean
check_space (void)
{
  struct statvfs vfs;

  if (statvfs (dir, &vfs) != 0)
    g_error ("%s: %s", dir, g_strerror (errno));
  if ((guint64) vfs.f_bavail * vfs.f_frsize >= SPACE_NEEDED)
    return TRUE;

  fprintf (stderr, "bench-edit: %s has %.1f GB free, %.1f GB are needed\n", dir,
           (guint64) vfs.f_bavail * vfs.f_frsize / 1e9, SPACE_NEEDED / 1e9);
  return FALSE;
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *base = NULL;
  g_autofree char *copy = NULL;
  g_autofree char *rewritten = NULL;
  SafetensorsCommitStats first = { 0 };
  SafetensorsCommitStats stats = { 0 };
  RewriteJob job;
  double t_first, t_add = G_MAXDOUBLE, t_rewrite;
  guint64 goal;

  dir = g_dir_make_tmp ("safetensors-bench-XXXXXX", NULL);
  if (!check_space ())
    {
      g_rmdir (dir);
      return 1;
    }
  base = bench_path ("base.safetensors");
  copy = bench_path ("copy.safetensors");
  rewritten = bench_path ("rewritten.safetensors");

  write_base (base);
  printf ("file: %d tensors x %" G_GUINT64_FORMAT " MiB, %.2f GiB\n", N_TENSORS,
          TENSOR_SIZE / MIB, N_TENSORS * TENSOR_SIZE / (double) (1 << 30));

  /* Adding 1 MiB: the rewrite, then the in-place edits. */
  job = (RewriteJob) { base, rewritten };
  t_rewrite = bench_best_of (2, time_rewrite, &job);

  t_first = time_add (base, "added.0", &first);
  for (guint i = 1; i <= REPEATS; i++)
    {
      g_autofree char *name = g_strdup_printf ("added.%u", i);
      SafetensorsCommitStats s;
      double t = time_add (base, name, &s);

      if (t < t_add)
        {
          t_add = t;
          stats = s;
        }
    }

  goal = ADD_SIZE + stats.header_bytes + 64 * 1024;
  printf ("add 1 MiB tensor:\n");
  printf ("  rewrite whole file (writer, fsync'd):  %8.3f s  written %" G_GUINT64_FORMAT "\n",
          t_rewrite, N_TENSORS * TENSOR_SIZE + ADD_SIZE);
  printf ("  in place, header with room (best of %d): %8.4f s  written %" G_GUINT64_FORMAT
          " (moved %" G_GUINT64_FORMAT ", header %" G_GUINT64_FORMAT "; goal <= %"
          G_GUINT64_FORMAT ": %s)\n",
          REPEATS, t_add, stats.bytes_written, stats.bytes_moved, stats.header_bytes, goal,
          stats.bytes_written <= goal ? "met" : "MISSED");
  printf ("    speed ratio vs rewrite: %.0f x (goal >= 500: %s)\n", t_rewrite / t_add,
          t_rewrite / t_add >= 500 ? "met" : "MISSED");
  printf ("  in place, first edit of a file written without header reserve:\n"
          "                                         %8.3f s  written %" G_GUINT64_FORMAT
          " (moved %" G_GUINT64_FORMAT ", header %" G_GUINT64_FORMAT "), ratio %.0f x\n",
          t_first, first.bytes_written, first.bytes_moved, first.header_bytes,
          t_rewrite / t_first);

  /* Removing a middle tensor, first from the edited file, which has
   * header room as after any first edit, then from a fresh one, whose
   * header has none. */
  printf ("remove the middle tensor, file with header room:\n");
  copy_file (base, copy);
  remove_middle (base, SAFETENSORS_OPEN_FLAGS_NONE, "  compact  ");
  remove_middle (copy, SAFETENSORS_OPEN_FLAGS_KEEP_FREE, "  keep-free");
  g_unlink (copy);
  g_unlink (base);

  printf ("remove the middle tensor, fresh file without header reserve:\n");
  write_base (base);
  copy_file (base, copy);
  remove_middle (base, SAFETENSORS_OPEN_FLAGS_NONE, "  compact  ");
  remove_middle (copy, SAFETENSORS_OPEN_FLAGS_KEEP_FREE, "  keep-free");
  g_unlink (copy);

  g_unlink (base);
  g_rmdir (dir);
  return 0;
}
