/* bench-read.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Reading every tensor byte of a ~1 GB file through the API, against
 * `cat FILE > /dev/null` in the same run, with the file in the page cache
 * for both. Ratios are throughput ours / cat: above 1.0 is faster than cat.
 */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <safetensors-glib/safetensors-glib.h>

#include "bench-util.h"

#define N_TENSORS 16
#define TENSOR_BYTES (64 * 1024 * 1024)
#define REPEATS 3

static char *path;
static volatile guint64 sink;

static void
write_file (void)
{
  g_autoptr(GString) json = g_string_new ("{");
  g_autofree guint64 *chunk = g_new (guint64, TENSOR_BYTES / 8);
  guint8 prefix[8];
  guint64 n;
  FILE *out;

  for (guint i = 0; i < N_TENSORS; i++)
    g_string_append_printf (json, "%s\"t%02u\":{\"dtype\":\"F32\",\"shape\":[%u],"
                            "\"data_offsets\":[%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT "]}",
                            i ? "," : "", i, TENSOR_BYTES / 4,
                            (guint64) i * TENSOR_BYTES, (guint64) (i + 1) * TENSOR_BYTES);
  g_string_append_c (json, '}');
  while (json->len % 8 != 0)
    g_string_append_c (json, ' ');

  n = json->len;
  for (guint i = 0; i < 8; i++)
    prefix[i] = (n >> (8 * i)) & 0xff;

  out = fopen (path, "wb");
  g_assert (out != NULL);
  fwrite (prefix, 1, 8, out);
  fwrite (json->str, 1, json->len, out);
  for (guint i = 0; i < N_TENSORS; i++)
    {
      for (guint64 k = 0; k < TENSOR_BYTES / 8; k++)
        chunk[k] = (k + i) * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15);
      fwrite (chunk, 1, TENSOR_BYTES, out);
    }
  fclose (out);
}

/* Touches every byte, as a consumer would (memory-bound). */
static guint64
checksum (GBytes *bytes)
{
  gsize len = 0;
  const guint64 *words = g_bytes_get_data (bytes, &len);
  guint64 sum = 0;

  for (gsize i = 0; i < len / 8; i++)
    sum += words[i];
  return sum;
}

static double
time_api (gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr(SafetensorsFile) file = safetensors_file_new_for_path (path, GPOINTER_TO_UINT (user_data), &error);
  guint64 sum = 0;

  if (file == NULL)
    g_error ("%s", error->message);
  for (guint i = 0; i < safetensors_file_get_n_tensors (file); i++)
    {
      g_autoptr(SafetensorsTensor) t = g_list_model_get_item (G_LIST_MODEL (file), i);
      g_autoptr(GBytes) bytes = safetensors_tensor_get_bytes (t, NULL, &error);

      if (bytes == NULL)
        g_error ("%s", error->message);
      sum += checksum (bytes);
    }
  sink = sum;
  return (g_get_monotonic_time () - start) / 1e6;
}

/* The bounded-memory way without a mapping: ranges of RANGE bytes, small
 * enough to stay in the CPU cache between the read and the use. */
#define RANGE (128 * 1024)
static double
time_api_ranges (gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr(SafetensorsFile) file = safetensors_file_new_for_path (path, GPOINTER_TO_UINT (user_data), &error);
  guint64 sum = 0;

  if (file == NULL)
    g_error ("%s", error->message);
  for (guint i = 0; i < safetensors_file_get_n_tensors (file); i++)
    {
      g_autoptr(SafetensorsTensor) t = g_list_model_get_item (G_LIST_MODEL (file), i);
      guint64 n = safetensors_tensor_get_n_bytes (t);

      for (guint64 off = 0; off < n; off += RANGE)
        {
          g_autoptr(GBytes) bytes = safetensors_tensor_read_range (t, off, MIN (RANGE, n - off),
                                                                   NULL, &error);
          if (bytes == NULL)
            g_error ("%s", error->message);
          sum += checksum (bytes);
        }
    }
  sink = sum;
  return (g_get_monotonic_time () - start) / 1e6;
}

static double
time_cat (gpointer user_data)
{
  return bench_time_command (user_data);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *dir = g_dir_make_tmp ("safetensors-bench-XXXXXX", NULL);
  g_autofree char *cat = NULL;
  double t_cat, t_mmap, t_nommap, t_ranges;
  double gb = (double) N_TENSORS * TENSOR_BYTES / 1e9;

  path = g_build_filename (dir, "big.safetensors", NULL);
  write_file ();
  cat = g_strdup_printf ("cat '%s' > /dev/null", path);

  /* Warm the page cache so that every contender reads from memory. */
  bench_time_command (cat);

  t_cat = bench_best_of (REPEATS, time_cat, cat);
  t_mmap = bench_best_of (REPEATS, time_api, GUINT_TO_POINTER (SAFETENSORS_OPEN_FLAGS_NONE));
  t_nommap = bench_best_of (REPEATS, time_api, GUINT_TO_POINTER (SAFETENSORS_OPEN_FLAGS_NO_MMAP));
  t_ranges = bench_best_of (REPEATS, time_api_ranges, GUINT_TO_POINTER (SAFETENSORS_OPEN_FLAGS_NO_MMAP));

  printf ("file: %.2f GB in %u tensors\n", gb, N_TENSORS);
  printf ("cat > /dev/null:        %7.3f s  %6.2f GB/s\n", t_cat, gb / t_cat);
  printf ("API, mmap:              %7.3f s  %6.2f GB/s  ratio %.2f (goal >= 1.0)\n",
          t_mmap, gb / t_mmap, t_cat / t_mmap);
  printf ("API, NO_MMAP, get_bytes:%7.3f s  %6.2f GB/s  ratio %.2f (whole tensors in fresh memory)\n",
          t_nommap, gb / t_nommap, t_cat / t_nommap);
  printf ("API, NO_MMAP, 128 KiB read_range:\n"
          "                        %7.3f s  %6.2f GB/s  ratio %.2f (goal >= 0.9)\n",
          t_ranges, gb / t_ranges, t_cat / t_ranges);

  g_unlink (path);
  g_rmdir (dir);
  return 0;
}
