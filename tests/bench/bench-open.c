/* bench-open.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Opening and validating a file with 100 000 tensors, against Python's
 * json.loads of the same header text, measured in the same run. The ratio
 * is ours / json.loads: below 1.0 means opening (strict parse, schema,
 * offsets) is faster than merely loading the JSON in CPython.
 */

#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <safetensors-glib/safetensors-glib.h>

#include "bench-util.h"

#define N_TENSORS 100000
#define REPEATS 5

static char *path;
static char *header_path;

static void
write_file (void)
{
  g_autoptr(GString) json = g_string_new ("{\"__metadata__\":{\"format\":\"pt\"}");
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) out = g_byte_array_new ();
  guint64 offset = 0;
  guint64 n;
  guint8 prefix[8];

  for (guint i = 0; i < N_TENSORS; i++)
    {
      g_string_append_printf (json, ",\"model.layers.%u.self_attn.q_proj.weight\":"
                              "{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[%"
                              G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT "]}",
                              i, offset, offset + 8);
      offset += 8;
    }
  g_string_append_c (json, '}');
  while (json->len % 8 != 0)
    g_string_append_c (json, ' ');

  n = json->len;
  for (guint i = 0; i < 8; i++)
    prefix[i] = (n >> (8 * i)) & 0xff;
  g_byte_array_append (out, prefix, 8);
  g_byte_array_append (out, (guint8 *) json->str, json->len);
  g_byte_array_set_size (out, out->len + offset);
  memset (out->data + 8 + json->len, 0x3c, offset);

  if (!g_file_set_contents (path, (char *) out->data, out->len, &error) ||
      !g_file_set_contents (header_path, json->str, json->len, &error))
    g_error ("%s", error->message);
  printf ("file: %u tensors, header %" G_GUINT64_FORMAT " bytes\n", N_TENSORS, n);
}

static double
time_open (gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr(SafetensorsFile) file = safetensors_file_new_for_path (path, GPOINTER_TO_UINT (user_data), &error);

  if (file == NULL)
    g_error ("%s", error->message);
  g_assert (safetensors_file_get_n_tensors (file) == N_TENSORS);
  return (g_get_monotonic_time () - start) / 1e6;
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *dir = g_dir_make_tmp ("safetensors-bench-XXXXXX", NULL);
  g_autofree char *python = NULL;
  double ours, ours_nommap, json_loads;

  path = g_build_filename (dir, "many.safetensors", NULL);
  header_path = g_build_filename (dir, "header.json", NULL);
  write_file ();

  ours = bench_best_of (REPEATS, time_open, GUINT_TO_POINTER (SAFETENSORS_OPEN_FLAGS_NONE));
  ours_nommap = bench_best_of (REPEATS, time_open, GUINT_TO_POINTER (SAFETENSORS_OPEN_FLAGS_NO_MMAP));

  /* json.loads timed inside Python (best of REPEATS), so interpreter
   * start-up is not counted against it. */
  python = g_strdup_printf ("/usr/bin/python3 -c 'import json,time\n"
                            "t=open(\"%s\",\"rb\").read().decode()\n"
                            "b=1e9\n"
                            "for _ in range(%d):\n"
                            "  s=time.perf_counter(); json.loads(t); b=min(b,time.perf_counter()-s)\n"
                            "print(b)'", header_path, REPEATS);
  {
    g_autofree char *out = NULL;
    g_autoptr(GError) error = NULL;

    if (!g_spawn_command_line_sync (python, &out, NULL, NULL, &error))
      g_error ("%s", error->message);
    json_loads = g_ascii_strtod (out, NULL);
  }

  printf ("open+validate (mmap):    %8.2f ms\n", ours * 1e3);
  printf ("open+validate (no mmap): %8.2f ms\n", ours_nommap * 1e3);
  printf ("python json.loads:       %8.2f ms\n", json_loads * 1e3);
  printf ("ratio open/json.loads:   %8.3f (mmap)  %8.3f (no mmap)  goal <= 1.0\n",
          ours / json_loads, ours_nommap / json_loads);

  g_unlink (path);
  g_unlink (header_path);
  g_rmdir (dir);
  return 0;
}
