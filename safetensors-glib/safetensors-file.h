/* safetensors-file.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (SAFETENSORS_INSIDE) && !defined (SAFETENSORS_COMPILATION)
# error "Only <safetensors-glib/safetensors-glib.h> can be included directly."
#endif

#include <gio/gio.h>

#include "safetensors-version-macros.h"
#include "safetensors-tensor.h"

G_BEGIN_DECLS

/**
 * SafetensorsOpenFlags:
 * @SAFETENSORS_OPEN_FLAGS_NONE: read-only, memory-mapped when the file is
 *   local
 * @SAFETENSORS_OPEN_FLAGS_NO_MMAP: never map the file; tensor bytes are read
 *   from the file on demand (pread on local files, a seekable stream
 *   otherwise)
 * @SAFETENSORS_OPEN_FLAGS_READ_WRITE: open for editing in place: tensors
 *   and metadata can be added, replaced, removed and renamed in a
 *   transaction, and tensor bytes written. Takes an exclusive lock; local
 *   files only
 * @SAFETENSORS_OPEN_FLAGS_CREATE: with @SAFETENSORS_OPEN_FLAGS_READ_WRITE,
 *   create the file (as an empty safetensors file) if it does not exist
 * @SAFETENSORS_OPEN_FLAGS_KEEP_FREE: with @SAFETENSORS_OPEN_FLAGS_READ_WRITE,
 *   commit with the keep-free policy: tensors never move unless the header
 *   needs their place, freed ranges stay in the file as hidden filler
 *   entries (`__free_<n>__`, punched out of the disk) and are reused, so
 *   every edit costs what it changes. [method@Safetensors.File.compact]
 *   turns the file back into a compact one
 * @SAFETENSORS_OPEN_FLAGS_WAIT_FOR_LOCK: with
 *   @SAFETENSORS_OPEN_FLAGS_READ_WRITE, wait until another writer releases
 *   the file instead of failing with %SAFETENSORS_ERROR_LOCKED
 *
 * Flags for [ctor@Safetensors.File.open].
 *
 * Since: 1.0
 */
typedef enum /*< flags >*/
{
  SAFETENSORS_OPEN_FLAGS_NONE    = 0,
  SAFETENSORS_OPEN_FLAGS_NO_MMAP    = 1 << 0,
  SAFETENSORS_OPEN_FLAGS_READ_WRITE = 1 << 1,
  SAFETENSORS_OPEN_FLAGS_CREATE     = 1 << 2,
  SAFETENSORS_OPEN_FLAGS_KEEP_FREE  = 1 << 3,
  SAFETENSORS_OPEN_FLAGS_WAIT_FOR_LOCK = 1 << 4,
} SafetensorsOpenFlags;

/**
 * SafetensorsCommitStats:
 * @bytes_written: every byte the transaction wrote to the file: new tensor
 *   data, moved data and the header
 * @bytes_moved: bytes of existing tensor data that changed place
 * @header_bytes: bytes of the header region rewritten (length prefix,
 *   JSON and padding)
 *
 * What a commit cost; see [method@Safetensors.File.get_commit_stats].
 *
 * Since: 1.0
 */
typedef struct
{
  guint64 bytes_written;
  guint64 bytes_moved;
  guint64 header_bytes;
} SafetensorsCommitStats;

#define SAFETENSORS_TYPE_COMMIT_STATS (safetensors_commit_stats_get_type ())

SAFETENSORS_AVAILABLE_IN_ALL
GType                   safetensors_commit_stats_get_type (void) G_GNUC_CONST;
SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsCommitStats *safetensors_commit_stats_copy     (const SafetensorsCommitStats *stats);
SAFETENSORS_AVAILABLE_IN_ALL
void                    safetensors_commit_stats_free     (SafetensorsCommitStats       *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SafetensorsCommitStats, safetensors_commit_stats_free)

#define SAFETENSORS_TYPE_FILE (safetensors_file_get_type ())

SAFETENSORS_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (SafetensorsFile, safetensors_file, SAFETENSORS, FILE, GObject)

SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsFile    *safetensors_file_open               (GFile                *file,
                                                         SafetensorsOpenFlags  flags,
                                                         GCancellable         *cancellable,
                                                         GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
void                safetensors_file_open_async         (GFile                *file,
                                                         SafetensorsOpenFlags  flags,
                                                         int                   io_priority,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsFile    *safetensors_file_open_finish        (GAsyncResult         *result,
                                                         GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsFile    *safetensors_file_new_for_path       (const char           *path,
                                                         SafetensorsOpenFlags  flags,
                                                         GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
GFile              *safetensors_file_get_file           (SafetensorsFile      *self);
SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsOpenFlags safetensors_file_get_flags         (SafetensorsFile      *self);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean            safetensors_file_is_mapped          (SafetensorsFile      *self);
SAFETENSORS_AVAILABLE_IN_ALL
guint               safetensors_file_get_n_tensors      (SafetensorsFile      *self);
SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsTensor  *safetensors_file_lookup             (SafetensorsFile      *self,
                                                         const char           *name,
                                                         GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean            safetensors_file_contains           (SafetensorsFile      *self,
                                                         const char           *name);
SAFETENSORS_AVAILABLE_IN_ALL
char              **safetensors_file_get_tensor_names   (SafetensorsFile      *self);
SAFETENSORS_AVAILABLE_IN_ALL
GHashTable         *safetensors_file_get_metadata       (SafetensorsFile      *self);
SAFETENSORS_AVAILABLE_IN_ALL
char              **safetensors_file_get_metadata_keys  (SafetensorsFile      *self);
SAFETENSORS_AVAILABLE_IN_ALL
const char         *safetensors_file_get_metadata_value (SafetensorsFile      *self,
                                                         const char           *key);
SAFETENSORS_AVAILABLE_IN_ALL
guint64             safetensors_file_get_header_size    (SafetensorsFile      *self);
SAFETENSORS_AVAILABLE_IN_ALL
GBytes             *safetensors_file_get_header_bytes   (SafetensorsFile      *self);
SAFETENSORS_AVAILABLE_IN_ALL
guint64             safetensors_file_get_data_start     (SafetensorsFile      *self);
SAFETENSORS_AVAILABLE_IN_ALL
guint64             safetensors_file_get_size           (SafetensorsFile      *self);

SAFETENSORS_AVAILABLE_IN_ALL
gboolean            safetensors_file_add_tensor         (SafetensorsFile      *self,
                                                         const char           *name,
                                                         SafetensorsDType      dtype,
                                                         const guint64        *shape,
                                                         guint                 n_dims,
                                                         GBytes               *data,
                                                         GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean            safetensors_file_replace_tensor     (SafetensorsFile      *self,
                                                         const char           *name,
                                                         SafetensorsDType      dtype,
                                                         const guint64        *shape,
                                                         guint                 n_dims,
                                                         GBytes               *data,
                                                         GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean            safetensors_file_remove_tensor      (SafetensorsFile      *self,
                                                         const char           *name,
                                                         GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean            safetensors_file_rename_tensor      (SafetensorsFile      *self,
                                                         const char           *old_name,
                                                         const char           *new_name,
                                                         GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean            safetensors_file_set_metadata_value (SafetensorsFile      *self,
                                                         const char           *key,
                                                         const char           *value,
                                                         GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean            safetensors_file_has_changes        (SafetensorsFile      *self);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean            safetensors_file_commit             (SafetensorsFile      *self,
                                                         GCancellable         *cancellable,
                                                         GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
void                safetensors_file_commit_async       (SafetensorsFile      *self,
                                                         int                   io_priority,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean            safetensors_file_commit_finish      (SafetensorsFile      *self,
                                                         GAsyncResult         *result,
                                                         GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean            safetensors_file_compact            (SafetensorsFile      *self,
                                                         GCancellable         *cancellable,
                                                         GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
guint64             safetensors_file_get_free_bytes     (SafetensorsFile      *self);
SAFETENSORS_AVAILABLE_IN_ALL
void                safetensors_file_rollback           (SafetensorsFile      *self);
SAFETENSORS_AVAILABLE_IN_ALL
gboolean            safetensors_file_close              (SafetensorsFile      *self,
                                                         GCancellable         *cancellable,
                                                         GError              **error);
SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsCommitStats *safetensors_file_get_commit_stats (SafetensorsFile    *self);

G_END_DECLS
