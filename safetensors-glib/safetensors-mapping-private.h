/* safetensors-mapping-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <sys/types.h>

#include <glib.h>

G_BEGIN_DECLS

/* Every shared mapping of a file this process made, read-only or writable,
 * registered by the file's identity. When a commit is about to shrink a
 * file, the pages of every mapping of that file past the new end are
 * replaced by anonymous memory first: views that users still hold (NumPy
 * arrays, GBytes) then read stale bytes instead of raising SIGBUS. This
 * covers every reader and writer in this process; another process that
 * shrinks a file under a mapping is beyond reach, as with any mmap. */
typedef struct
{
  dev_t    dev;
  ino_t    ino;
  guint8  *addr;          /* page-aligned start */
  gsize    len;
  guint64  file_offset;   /* page-aligned */
} SafetensorsMapping;

/* Maps [offset, offset + len) of @fd shared with @prot; returns a mapping
 * record (registered) whose GBytes-friendly data starts at
 * addr + (offset - file_offset), or NULL with errno set. */
SafetensorsMapping *safetensors_mapping_new           (int           fd,
                                                       guint64       offset,
                                                       guint64       len,
                                                       int           prot);
/* Unregisters and unmaps. */
void                safetensors_mapping_free          (gpointer      mapping);
/* Detaches, in every registered mapping of the file, the pages past @size. */
void                safetensors_mappings_detach_beyond (dev_t        dev,
                                                        ino_t        ino,
                                                        guint64      size);

G_END_DECLS
