/* safetensors-journal-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

#include "safetensors-layout-private.h"

G_BEGIN_DECLS

/* The rollback journal of a commit, `.<name>.safetensors-journal` beside
 * the file (DESIGN §5). It is always replaced whole (temporary file,
 * fsync, rename, fsync of the folder), so the journal at its path is either
 * complete or absent; a damaged one is CORRUPT_JOURNAL.
 *
 * - hot: the old file size and a copy of every committed byte range the
 *   commit will overwrite. Recovery writes them back and truncates to the
 *   old size: the old content, exactly.
 * - done: written once the new header is durable, the commit point.
 *   Recovery finishes the commit: truncates to the new size.
 *
 * Layout: "STJOURN\1", u32 state, u32 0, u64 old size, u64 new size,
 * u64 range count, then per range u64 offset, u64 length and the bytes,
 * then the SHA-256 of everything before. Integers little-endian. */

typedef enum
{
  SAFETENSORS_JOURNAL_HOT  = 1,
  SAFETENSORS_JOURNAL_DONE = 2,
} SafetensorsJournalState;

char     *safetensors_journal_path_for  (const char    *file_path);
gboolean  safetensors_journal_exists    (const char    *journal_path);

/* Copies @ranges of the file behind @fd into a hot journal. */
gboolean  safetensors_journal_write_hot (const char    *journal_path,
                                         int            fd,
                                         guint64        old_size,
                                         GArray        *ranges,
                                         GCancellable  *cancellable,
                                         GError       **error);
gboolean  safetensors_journal_write_done (const char   *journal_path,
                                          guint64       old_size,
                                          guint64       new_size,
                                          GError      **error);
/* Deletes the journal and syncs the folder. */
gboolean  safetensors_journal_remove    (const char    *journal_path,
                                         GError       **error);

/* Applies the journal at @journal_path, if any, to the file behind @fd (open
 * for writing, locked), then deletes it. *out_state is the state of the
 * journal applied (hot: rolled back; done: the commit was finished), 0 when
 * there was none. */
gboolean  safetensors_journal_recover   (const char    *journal_path,
                                         int            fd,
                                         const char    *display_name,
                                         guint         *out_state,
                                         GError       **error);

/* Locks: a writer holds WRITER_BYTE for its whole session (a second writer
 * gets LOCKED); a commit holds COMMIT_BYTE exclusively while it changes the
 * file, and readers hold it shared while they check for a journal and parse
 * the header, so they never see a half-written commit. OFD locks on bytes
 * past the end of the file, which never hold data. */
#define SAFETENSORS_LOCK_WRITER_BYTE G_GUINT64_CONSTANT (0x7ffffffffffffff0)
#define SAFETENSORS_LOCK_COMMIT_BYTE G_GUINT64_CONSTANT (0x7ffffffffffffff1)

gboolean  safetensors_lock_byte         (int            fd,
                                         guint64        byte,
                                         short          type,
                                         gboolean       wait);

G_END_DECLS
