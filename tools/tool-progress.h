/* tool-progress.h — a progress bar on stderr for the commands that copy data
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <safetensors-glib/safetensors-glib.h>

G_BEGIN_DECLS

/* A progress bar: percentage, bytes done and total, rate and time left,
 * redrawn in place on stderr at most every 100 ms. Only a terminal gets
 * one: when stderr is not a TTY, or with --quiet, every function does
 * nothing, so callers need not check. */
typedef struct _ToolProgress ToolProgress;

#define TOOL_OPTION_QUIET(flag_ptr) \
  { "quiet", 'q', 0, G_OPTION_ARG_NONE, (flag_ptr), \
    "Do not show progress", NULL }

ToolProgress *tool_progress_new            (gboolean            quiet);
void          tool_progress_free           (ToolProgress       *self);
gboolean      tool_progress_is_enabled     (ToolProgress       *self);

void          tool_progress_set_total      (ToolProgress       *self,
                                            guint64             total);
void          tool_progress_set_done       (ToolProgress       *self,
                                            guint64             done);
void          tool_progress_set_fraction   (ToolProgress       *self,
                                            double              fraction);
/* Erases the bar; with @success, draws it a last time, complete, and ends
 * the line so that it stays. */
void          tool_progress_finish         (ToolProgress       *self,
                                            gboolean            success);

/* Work in parts (one writer per shard): the bytes of the next part count
 * from what is done so far. */
void          tool_progress_begin_part     (ToolProgress       *self);

/* Follows SafetensorsWriter:bytes-written for the current part. */
void          tool_progress_watch_writer   (ToolProgress       *self,
                                            SafetensorsWriter  *writer);
/* Follows SafetensorsFile:commit-progress, a fraction. */
void          tool_progress_watch_commit   (ToolProgress       *self,
                                            SafetensorsFile    *file);
/* A GFileProgressCallback for the current part; @user_data is the bar. */
void          tool_progress_file_callback  (goffset             current,
                                            goffset             total,
                                            gpointer            user_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ToolProgress, tool_progress_free)

G_END_DECLS
