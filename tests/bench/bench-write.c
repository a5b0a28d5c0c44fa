/* bench-write.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The writer against cp, in the same run:
 *  - writing a ~0.5 GB file through the API (data streamed in 1 MiB chunks,
 *    fsync and rename included) vs `cp` of an equally sized file (plus a
 *    `cp && sync` line, since the writer's durability costs a sync);
 *  - peak RSS of writing a 4 GiB file from a stream (goal <= 64 MB);
 *  - disk blocks of a file whose tensors are half zeros (goal <= 52 %).
 */

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <safetensors-glib/safetensors-glib.h>

#include "bench-util.h"

#define CHUNK (1024 * 1024)
#define REPEATS 3

static char *dir;

typedef struct
{
  guint64 size;
  gboolean half_zero;
  const char *path;
} WriteJob;

static void
fill (guint8 *buf, gsize len, guint64 seed)
{
  guint64 *w = (guint64 *) buf;

  for (gsize i = 0; i < len / 8; i++)
    w[i] = (seed + i) * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15) | 1;
}

/* Four tensors; with half_zero, every other tensor is all zeros. */
static void
write_file (const WriteJob *job)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsWriter) writer = safetensors_writer_new (0);
  g_autoptr(GFile) file = g_file_new_for_path (job->path);
  g_autofree guint8 *buf = g_malloc (CHUNK);
  g_autofree guint8 *zeros = g_malloc0 (CHUNK);
  guint64 per_tensor = job->size / 4 / CHUNK * CHUNK;

  for (guint t = 0; t < 4; t++)
    {
      g_autofree char *name = g_strdup_printf ("layer.%u.weight", t);
      guint64 n = per_tensor;

      if (!safetensors_writer_add_tensor (writer, name, SAFETENSORS_DTYPE_U8, &n, 1, NULL, &error))
        g_error ("%s", error->message);
    }
  if (!safetensors_writer_begin (writer, file, NULL, &error))
    g_error ("%s", error->message);

  for (guint t = 0; t < 4; t++)
    {
      g_autofree char *name = g_strdup_printf ("layer.%u.weight", t);

      for (guint64 done = 0; done < per_tensor; done += CHUNK)
        {
          const guint8 *src = buf;

          if (job->half_zero && t % 2 == 1)
            src = zeros;
          else
            fill (buf, CHUNK, done + t);
          if (!safetensors_writer_write_chunk (writer, name, src, CHUNK, NULL, &error))
            g_error ("%s", error->message);
        }
    }

  if (!safetensors_writer_finish (writer, NULL, &error))
    g_error ("%s", error->message);
}

static double
time_write (gpointer data)
{
  gint64 start = g_get_monotonic_time ();

  write_file (data);
  return (g_get_monotonic_time () - start) / 1e6;
}

static double
time_cmd (gpointer data)
{
  return bench_time_command (data);
}

/* Peak RSS of a child that writes a 4 GiB file: the child starts fresh,
 * so its ru_maxrss is the writer's own. */
static long
peak_rss_of_4gib_write (void)
{
  g_autofree char *path = g_build_filename (dir, "four.safetensors", NULL);
  WriteJob job = { G_GUINT64_CONSTANT (4) << 30, TRUE, path };
  struct rusage usage;
  int status;
  pid_t pid = fork ();

  if (pid == 0)
    {
      write_file (&job);
      _exit (0);
    }
  waitpid (pid, &status, 0);
  getrusage (RUSAGE_CHILDREN, &usage);
  g_unlink (path);
  return usage.ru_maxrss;
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *api_path = NULL;
  g_autofree char *src_path = NULL;
  g_autofree char *dst_path = NULL;
  g_autofree char *half_path = NULL;
  g_autofree char *cp = NULL;
  g_autofree char *cp_sync = NULL;
  WriteJob job;
  WriteJob half;
  double t_api, t_cp, t_cp_sync;
  double gb;
  struct stat st;
  long rss;

  dir = g_dir_make_tmp ("safetensors-bench-XXXXXX", NULL);
  api_path = g_build_filename (dir, "api.safetensors", NULL);
  src_path = g_build_filename (dir, "src.bin", NULL);
  dst_path = g_build_filename (dir, "dst.bin", NULL);
  half_path = g_build_filename (dir, "half.safetensors", NULL);

  job = (WriteJob) { 512 * 1024 * 1024, FALSE, api_path };
  write_file (&job);
  g_rename (api_path, src_path);
  g_stat (src_path, &st);
  gb = st.st_size / 1e9;

  cp = g_strdup_printf ("cp '%s' '%s'", src_path, dst_path);
  cp_sync = g_strdup_printf ("cp '%s' '%s' && sync '%s'", src_path, dst_path, dst_path);
  bench_time_command (cp);

  t_cp = bench_best_of (REPEATS, time_cmd, cp);
  t_cp_sync = bench_best_of (REPEATS, time_cmd, cp_sync);
  t_api = bench_best_of (REPEATS, time_write, &job);

  printf ("file: %.2f GB\n", gb);
  printf ("cp:                 %7.3f s  %6.2f GB/s\n", t_cp, gb / t_cp);
  printf ("cp && sync:         %7.3f s  %6.2f GB/s\n", t_cp_sync, gb / t_cp_sync);
  printf ("writer (fsync'd):   %7.3f s  %6.2f GB/s  ratio vs cp %.2f, vs cp+sync %.2f (goal >= 0.9)\n",
          t_api, gb / t_api, t_cp / t_api, t_cp_sync / t_api);

  half = (WriteJob) { 512 * 1024 * 1024, TRUE, half_path };
  write_file (&half);
  g_stat (half_path, &st);
  printf ("half-zero file:     %.1f %% of its apparent size on disk (goal <= 52 %%)\n",
          100.0 * st.st_blocks * 512 / st.st_size);

  rss = peak_rss_of_4gib_write ();
  printf ("4 GiB write:        peak RSS %.1f MB (goal <= 64 MB)\n", rss / 1024.0);

  g_unlink (api_path);
  g_unlink (src_path);
  g_unlink (dst_path);
  g_unlink (half_path);
  g_rmdir (dir);
  return 0;
}
