/* tool-index.h — what the commands writing sharded checkpoints share
 * (split, and import-pytorch of a sharded PyTorch checkpoint)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <safetensors-glib/safetensors-glib.h>

G_BEGIN_DECLS

/* The index Hugging Face writes next to the shards of a model. */
#define TOOL_INDEX_SUFFIX ".safetensors.index.json"

/* Reading an index strictly: tensor name → shard file name. */
gboolean          tool_index_parse                 (GFile             *file,
                                                    GHashTable        *weight_map,
                                                    GError           **error);
gboolean          tool_index_set_error             (GError           **error,
                                                    GFile             *file,
                                                    const char        *format,
                                                    ...) G_GNUC_PRINTF (3, 4);

/* The text of an index: @weight_map (tensor name → shard file name) and
 * @total_size, laid out like json.dumps (index, indent=2, sort_keys=True). */
char             *tool_index_to_json               (GHashTable        *weight_map,
                                                    guint64            total_size);

/* A folder that gets several files at once, or none: they are written
 * into a hidden folder inside it and moved in by _commit(), in the order
 * they were named (the index last). Freeing the folder without a commit
 * removes what was written, and the folder too if _new() created it. */
typedef struct _ToolOutputFolder ToolOutputFolder;

ToolOutputFolder *tool_output_folder_new           (const char        *arg,
                                                    GError           **error);
/* Where to write @name for now. */
GFile            *tool_output_folder_add           (ToolOutputFolder  *self,
                                                    const char        *name);
/* Where @name is once committed. */
GFile            *tool_output_folder_get_final     (ToolOutputFolder  *self,
                                                    const char        *name);
gboolean          tool_output_folder_commit        (ToolOutputFolder  *self,
                                                    GError           **error);
void              tool_output_folder_free          (ToolOutputFolder  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ToolOutputFolder, tool_output_folder_free)

G_END_DECLS
