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
 *
 * Flags for [ctor@Safetensors.File.open].
 *
 * Since: 1.0
 */
typedef enum /*< flags >*/
{
  SAFETENSORS_OPEN_FLAGS_NONE    = 0,
  SAFETENSORS_OPEN_FLAGS_NO_MMAP = 1 << 0,
} SafetensorsOpenFlags;

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

G_END_DECLS
