/* bench-util.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdlib.h>

#include "bench-util.h"

double
bench_time_command (const char *command_line)
{
  g_autoptr(GError) error = NULL;
  const char *argv[] = { "/bin/sh", "-c", command_line, NULL };
  gint64 start = g_get_monotonic_time ();
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                     NULL, NULL, &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    g_error ("%s: %s", command_line, error->message);

  return (g_get_monotonic_time () - start) / 1e6;
}

double
bench_best_of (guint    repeats,
               double (*func) (gpointer user_data),
               gpointer user_data)
{
  double best = G_MAXDOUBLE;

  for (guint i = 0; i < repeats; i++)
    best = MIN (best, func (user_data));
  return best;
}
