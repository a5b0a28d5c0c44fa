/* crash-workload.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <safetensors-glib/safetensors-glib.h>

G_BEGIN_DECLS

/* Exit statuses, read by run-crash-tests.py. */
#define EXIT_CHECK_FAILED 2
#define EXIT_ROLLED_BACK 3
#define EXIT_OPEN_FAILED 4
#define EXIT_ROLLBACK_FAILED 5

char *crash_describe      (SafetensorsFile  *file,
                           GError          **error);
char *crash_describe_path (const char       *path,
                           GError          **error);
void  crash_print_error   (const char       *what,
                           const GError     *error);
int   crash_cmd_dump      (const char       *path);
int   crash_cmd_check     (const char       *path);

G_END_DECLS
