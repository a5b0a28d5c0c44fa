/* tool-npz.h — what import-npz (tool-npz.c) and export-npz
 * (tool-npz-export.c) share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <zip.h>

#include "tool-common.h"

G_BEGIN_DECLS

/* Sets @error from libzip's: G_IO_ERROR for missing files and system
 * errors, @fallback_domain/@fallback_code otherwise; the message starts
 * with @context. */
void      tool_npz_set_zip_error       (GError      **error,
                                        zip_error_t  *zip_error,
                                        GQuark        fallback_domain,
                                        int           fallback_code,
                                        const char   *context);

/* The local path of archive @arg: libzip works on local paths only. */
char     *tool_npz_get_archive_path    (const char   *arg,
                                        GError      **error);

/* Whether member name @name stays inside the folder it is unpacked to. */
gboolean  tool_npz_is_safe_member_path (const char   *name);

int       tool_npz_command_export      (const ToolCommand  *command,
                                        int                 argc,
                                        char              **argv);

G_END_DECLS
