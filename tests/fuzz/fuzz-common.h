/* fuzz-common.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <stdint.h>

#include <safetensors-glib/safetensors-glib.h>

G_BEGIN_DECLS

/* libFuzzer's entry points; declared here for -Werror=missing-prototypes. */
int  LLVMFuzzerInitialize   (int          *argc,
                             char       ***argv);
int  LLVMFuzzerTestOneInput (const uint8_t *data,
                             size_t         size);

/* Makes every warning and critical fatal (bad input must be a GError,
 * never a critical) and keeps GIO from loading modules that are not
 * instrumented. */
void fuzz_init              (void);

/* Every commit and import syncs its files: targets that write keep them
 * in memory, in /dev/shm, unless TMPDIR says otherwise. Call before
 * anything asks for the temporary folder. */
void fuzz_use_memory_tmpdir (void);

/* One scratch file per process, rewritten for every input. It is unlinked
 * at once and reached through /proc/self/fd, so that a crashing fuzzer
 * leaves nothing behind. */
typedef struct
{
  int    fd;
  char  *path;
} FuzzScratch;

void  fuzz_scratch_init     (FuzzScratch   *scratch);
void  fuzz_scratch_write    (FuzzScratch   *scratch,
                             const guint8  *data,
                             gsize          len);

/* The ways a file can be opened; every check runs on each. */
typedef enum
{
  FUZZ_BACKEND_MMAP,
  FUZZ_BACKEND_PREAD,
  FUZZ_BACKEND_STREAM,
  FUZZ_N_BACKENDS,
} FuzzBackend;

SafetensorsFile *fuzz_open  (const char    *path,
                             FuzzBackend    backend,
                             GError       **error);

/* An item of a slice, decoded from the text safetensors_slice_to_string()
 * writes, for the model below. */
typedef enum
{
  MODEL_INDEX,
  MODEL_RANGE,
  MODEL_ELLIPSIS,
} ModelItemKind;

typedef struct
{
  ModelItemKind kind;
  gint64        start;  /* the index for MODEL_INDEX */
  gint64        stop;
  gint64        step;
} ModelItem;

/* Decodes the canonical text form of a slice; aborts on anything else. */
GArray  *fuzz_model_items_from_string (const char    *canonical);

/* What NumPy would select, computed the slow and obvious way: every
 * selected element is enumerated. Returns -1 and fills @out_bytes and
 * @out_shape, or returns the SafetensorsError code the library must
 * report. @data holds the tensor's bytes; it is only read for a
 * non-empty selection, which implies a non-empty tensor. */
int      fuzz_model_slice             (const guint8  *data,
                                       guint          bits,
                                       const guint64 *shape,
                                       guint          n_dims,
                                       GArray        *items,
                                       GByteArray    *out_bytes,
                                       GArray        *out_shape);

/* Reads @slice from @tensor (whose bytes are @data) and compares the
 * result, or the error, with the model. @items are the ModelItems of
 * @slice, or NULL to decode them from its text form. */
void     fuzz_check_slice             (SafetensorsTensor *tensor,
                                       const guint8      *data,
                                       SafetensorsSlice  *slice,
                                       GArray            *items);

/* Reads every byte of @tensor in a few ways and compares them with
 * @contents, the bytes of the whole file, then reads a few slices. */
void     fuzz_check_tensor            (SafetensorsTensor *tensor,
                                       const guint8      *contents,
                                       gsize              size);

/* Checks what an opened file reports against its @contents. */
void     fuzz_check_file              (SafetensorsFile   *file,
                                       const guint8      *contents,
                                       gsize              size);

G_END_DECLS
