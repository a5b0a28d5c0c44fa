/* safetensors-index-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What a `.index.json` file of a sharded checkpoint says, read with the
 * strict JSON scanner (an index is untrusted input, like a header). */
typedef struct
{
  GHashTable *weight_map;      /* tensor name → shard file name */
  GHashTable *metadata;        /* key → the string, or the JSON text of
                                * any other value */
  gboolean    has_total_size;
  guint64     total_size;      /* metadata.total_size */
} SafetensorsIndexContents;

/* Parses @text (@len bytes). Any problem is SAFETENSORS_ERROR_INVALID_DATA
 * naming @display_name: not UTF-8 or not JSON, a repeated member, a value
 * of the wrong type, no "weight_map", a shard that is not a plain file
 * name in the index's folder (see safetensors_index_is_shard_name()). */
SafetensorsIndexContents *safetensors_index_contents_parse (const char  *display_name,
                                                            const char  *text,
                                                            gsize        len,
                                                            GError     **error);
void                      safetensors_index_contents_free  (SafetensorsIndexContents *contents);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SafetensorsIndexContents, safetensors_index_contents_free)

/* A shard is a file in the folder of the index: not empty, no '/', '\',
 * NUL, and not "." or "..". */
gboolean                  safetensors_index_is_shard_name  (const char  *name,
                                                            gsize        len);

G_END_DECLS
