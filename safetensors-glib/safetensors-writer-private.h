/* safetensors-writer-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "safetensors-header-writer-private.h"
#include "safetensors-output-private.h"
#include "safetensors-writer.h"

G_BEGIN_DECLS

typedef enum
{
  STATE_DECLARING,
  STATE_WRITING,
  STATE_FINISHING,
  STATE_DONE,
  STATE_FAILED,
} WriterState;

typedef struct
{
  SafetensorsTensorInfo *info;
  GBytes                *data;
  GInputStream          *stream;
  guint64                received;
} PendingTensor;

struct _SafetensorsWriter
{
  GObject                 parent_instance;

  SafetensorsWriterFlags  flags;
  WriterState             state;
  GPtrArray              *tensors;      /* PendingTensor*, layout order after begin */
  GHashTable             *by_name;      /* name → PendingTensor* */
  GHashTable             *metadata;
  guint64                 reserve;

  /* Fixed by the layout. */
  GBytes                 *header;
  guint64                 data_start;
  guint64                 total_size;

  SafetensorsOutput      *output;
  guint                   stream_index; /* stream outputs: first unfinished tensor */

  /* Progress: written by whichever thread writes, read by any. */
  guint64                 bytes_written;
  guint64                 total_bytes;
  GMainContext           *notify_context; /* set while finish_async() runs */
  gint64                  last_notify;
};

/* Bounded copies from input streams. */
#define SAFETENSORS_WRITER_COPY_CHUNK (1024 * 1024)

/* safetensors-writer.c */
gboolean safetensors_writer_check_state   (SafetensorsWriter  *self,
                                           WriterState         wanted,
                                           const char         *what,
                                           GError            **error);
void     safetensors_writer_fail          (SafetensorsWriter  *self);
/* Notifies bytes-written, through notify_context when a worker writes. */
void     safetensors_writer_notify_bytes_written (SafetensorsWriter *self);

/* safetensors-writer-data.c */
/* Like write_chunk() with @len bytes read from @fd at @offset, copied in
 * the kernel where possible (PyTorch import of stored storages). */
gboolean safetensors_writer_copy_chunk_from_fd (SafetensorsWriter  *self,
                                                const char         *name,
                                                int                 fd,
                                                const char         *fd_display_name,
                                                guint64             offset,
                                                guint64             len,
                                                GCancellable       *cancellable,
                                                GError            **error);

G_END_DECLS
