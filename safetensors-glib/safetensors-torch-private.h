/* safetensors-torch-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

#include "safetensors-header-private.h"
#include "safetensors-pickle-private.h"
#include "safetensors-torch.h"

G_BEGIN_DECLS

/* A pickle larger than this (data.pkl, or the pickles of a legacy file)
 * is refused: a state dict takes about 100 bytes per tensor. */
#define SAFETENSORS_TORCH_MAX_PICKLE_SIZE (G_GUINT64_CONSTANT (256) << 20)

/* Each value --extras-to-metadata stores is at most this long as JSON,
 * and all of them together at most SAFETENSORS_TORCH_MAX_EXTRAS_SIZE;
 * larger ones are skipped (and reported). */
#define SAFETENSORS_TORCH_MAX_EXTRA_SIZE  (64 * 1024)
#define SAFETENSORS_TORCH_MAX_EXTRAS_SIZE (16 * 1024 * 1024)

/* The output may hold at most SAFETENSORS_TORCH_OUTPUT_FACTOR times the
 * input's size plus SAFETENSORS_TORCH_OUTPUT_ALLOWANCE bytes of tensor
 * data. Views that are larger than their storage (stride 0, overlapping
 * strides) are legal, but must not turn a small file into an enormous
 * one. */
#define SAFETENSORS_TORCH_OUTPUT_FACTOR    4
#define SAFETENSORS_TORCH_OUTPUT_ALLOWANCE (G_GUINT64_CONSTANT (1) << 30)

/* Flattened names ("a.b.0.weight") are built key by key and copied for
 * every value: a long key that a pickle memoizes once and uses at every
 * level, or many values under long names, would make gigabytes of them.
 * One name may take SAFETENSORS_TORCH_MAX_NAME_LENGTH bytes, all of them
 * together as many as a header can hold. */
#define SAFETENSORS_TORCH_MAX_NAME_LENGTH (64 * 1024)
#define SAFETENSORS_TORCH_MAX_NAMES_SIZE  SAFETENSORS_HEADER_MAX_SIZE

/* The name given to the tensor of a checkpoint that is a bare tensor,
 * and to a bare value that is not one. */
#define SAFETENSORS_TORCH_BARE_TENSOR_NAME "tensor"
#define SAFETENSORS_TORCH_BARE_VALUE_NAME  "value"

typedef enum
{
  SAFETENSORS_TORCH_FORMAT_ZIP,
  SAFETENSORS_TORCH_FORMAT_LEGACY,
} SafetensorsTorchFormat;

/* A checkpoint, mapped and unpickled; nothing of the tensor data is read
 * yet. Messages of every error start with the file's parse name. */
typedef struct _SafetensorsTorchCheckpoint SafetensorsTorchCheckpoint;

SafetensorsTorchCheckpoint *safetensors_torch_checkpoint_open     (GFile                       *file,
                                                                   GCancellable                *cancellable,
                                                                   GError                     **error);
void                        safetensors_torch_checkpoint_free     (SafetensorsTorchCheckpoint  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SafetensorsTorchCheckpoint, safetensors_torch_checkpoint_free)

const char                 *safetensors_torch_checkpoint_get_display_name (SafetensorsTorchCheckpoint *self);
SafetensorsTorchFormat      safetensors_torch_checkpoint_get_format (SafetensorsTorchCheckpoint *self);
guint64                     safetensors_torch_checkpoint_get_size (SafetensorsTorchCheckpoint  *self);
gboolean                    safetensors_torch_checkpoint_is_big_endian (SafetensorsTorchCheckpoint *self);
SafetensorsPickleObject    *safetensors_torch_checkpoint_get_root (SafetensorsTorchCheckpoint  *self);

/* Checks that @storage has data of exactly its size. The message does
 * not name the file (callers add the tensor first). */
gboolean                    safetensors_torch_checkpoint_check_storage (SafetensorsTorchCheckpoint *self,
                                                                        SafetensorsPickleStorage   *storage,
                                                                        GError                    **error);
/* The bytes of a checked storage: a view of the mapped file, or of a
 * temporary file a deflated entry was inflated into. Valid until
 * release_storage () or the checkpoint is freed. */
const guint8               *safetensors_torch_checkpoint_map_storage (SafetensorsTorchCheckpoint *self,
                                                                      SafetensorsPickleStorage   *storage,
                                                                      GCancellable               *cancellable,
                                                                      GError                    **error);
/* The descriptor of the checkpoint file and the offset of @storage's
 * bytes in it, for a checked storage stored as is (not deflated); -1
 * otherwise. Owned by the checkpoint. */
int                         safetensors_torch_checkpoint_get_storage_fd (SafetensorsTorchCheckpoint *self,
                                                                         SafetensorsPickleStorage   *storage,
                                                                         guint64                    *out_offset);
/* Drops the pages of @storage from memory (and an inflated copy). */
void                        safetensors_torch_checkpoint_release_storage (SafetensorsTorchCheckpoint *self,
                                                                          SafetensorsPickleStorage   *storage);

/* What an import writes. */
typedef struct
{
  SafetensorsTensorInfo    *info;       /* name, dtype, shape; layout order */
  SafetensorsPickleTensor  *tensor;
  guint64                   n_bytes;
  gboolean                  contiguous; /* one run of storage bytes */
} SafetensorsTorchPlanTensor;

/* A name the import leaves out, or stores as metadata. */
typedef struct
{
  char     *name;
  char     *reason;   /* "int", "str", "shared with “a.b”"… */
  gboolean  stored;   /* in the metadata (--extras-to-metadata) */
} SafetensorsTorchExtra;

typedef struct
{
  GPtrArray  *tensors;     /* SafetensorsTorchPlanTensor*, in layout order */
  GPtrArray  *aliases;     /* char*: removed name, kept name, … sorted by removed */
  GPtrArray  *extras;      /* SafetensorsTorchExtra*, in checkpoint order */
  GHashTable *metadata;    /* char* → char*, "format": "pt" and the rest */
  guint64     total_bytes;
} SafetensorsTorchPlan;

void                  safetensors_torch_plan_free (SafetensorsTorchPlan *plan);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SafetensorsTorchPlan, safetensors_torch_plan_free)

/* Selects the object (@key, a dotted path, or the rules of
 * SafetensorsImportFlags), flattens it, merges identical views and
 * checks every tensor against its storage. Nothing is read yet but the
 * archive's directory and pickle. INVALID_ARGUMENT for a key that does
 * not exist or ALL with a key; UNSUPPORTED, INVALID_DATA,
 * DUPLICATE_NAME or RESERVED_NAME naming the tensor otherwise. */
SafetensorsTorchPlan *safetensors_torch_plan_new  (SafetensorsTorchCheckpoint  *checkpoint,
                                                   SafetensorsImportFlags       flags,
                                                   const char                  *key,
                                                   GError                     **error);

/* Streams the planned tensors through a SafetensorsWriter into
 * @destination. @progress (optional) is called in this thread. On
 * failure nothing is left at @destination (an existing file keeps its
 * content). */
gboolean              safetensors_torch_plan_write (SafetensorsTorchCheckpoint  *checkpoint,
                                                    SafetensorsTorchPlan        *plan,
                                                    GFile                       *destination,
                                                    GFileProgressCallback        progress,
                                                    gpointer                     progress_data,
                                                    GCancellable                *cancellable,
                                                    GError                     **error);

G_END_DECLS
