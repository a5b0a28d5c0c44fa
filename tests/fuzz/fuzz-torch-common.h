/* fuzz-torch-common.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "fuzz-common.h"
#include "safetensors-torch-private.h"

G_BEGIN_DECLS

/* Plans whose output is larger are checked but not written: a legal view
 * with stride 0 can ask for up to 1 GiB, which is the library's cap, not
 * a finding. */
#define FUZZ_TORCH_MAX_OUTPUT (1u << 20)

/* An error of the PyTorch import: a SafetensorsError of the codes the
 * import documents, UTF-8, and starting with @display_name when it is not
 * NULL. */
void fuzz_torch_check_error      (const GError               *error,
                                  const char                 *display_name);

/* Plans the import of @checkpoint with every combination of flags (and
 * with the first keys of a root dict), checks each plan against the
 * checkpoint's object graph, writes those that are small enough into
 * @out_dir, which must be empty, and checks that the output opens with
 * the strict reader and holds exactly what a naive strided gather of the
 * storages gives. @out_dir is empty again afterwards. With
 * @storages_valid (every storage entry is stored with the right CRC) a
 * plan that fits must be written. Returns the number of plans written. */
guint fuzz_torch_check_checkpoint (SafetensorsTorchCheckpoint *checkpoint,
                                   const char                 *out_dir,
                                   gboolean                    storages_valid);

/* An empty folder for outputs in the scratch folder of test-util.c,
 * removed at exit. */
char *fuzz_torch_make_out_dir    (void);

/* Asserts that @dir holds no file. */
void fuzz_torch_assert_empty_dir (const char                 *dir);

G_END_DECLS
