/* bench-util.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

/* Wall-clock seconds of running @argv (a shell command line) once, output
 * discarded; aborts when it fails. */
double bench_time_command (const char *command_line);

/* Best (smallest) of @repeats measurements of @func. */
double bench_best_of      (guint       repeats,
                           double    (*func) (gpointer user_data),
                           gpointer    user_data);
