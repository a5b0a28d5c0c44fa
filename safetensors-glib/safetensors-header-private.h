/* safetensors-header-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

#include "safetensors-dtype.h"

G_BEGIN_DECLS

/* The largest header the reference accepts, in bytes. */
#define SAFETENSORS_HEADER_MAX_SIZE G_GUINT64_CONSTANT (100000000)

/* serde_json's recursion limit: 128 nested arrays/objects (the top-level
 * object counts as one) are rejected. */
#define SAFETENSORS_HEADER_MAX_DEPTH 128

/* Hard caps beyond the reference's; documented in docs/file-format.md.
 * The header size alone would let a header declare about 5 million
 * tensors (an entry such as "a":["U8",[],[0,1]] takes 19 bytes), each
 * costing a few hundred bytes of memory once opened; real checkpoints
 * stay far below the tensor cap. */
#define SAFETENSORS_HEADER_MAX_RANK 1024
#define SAFETENSORS_HEADER_MAX_TENSORS (1u << 20)

typedef struct
{
  /* UTF-8, NUL-terminated, may be empty. JSON can smuggle U+0000 into a
   * name through "\u0000"; name_len is the full length so that duplicate
   * detection sees the whole name, while C callers see it cut at the NUL. */
  char             *name;
  gsize             name_len;
  SafetensorsDType  dtype;
  guint             n_dims;
  guint64          *shape;     /* n_dims entries, NULL when n_dims == 0 */
  guint64           begin;     /* data_offsets[0], relative to the data area */
  guint64           end;       /* data_offsets[1] */
  guint64           n_elements;/* product of shape (valid after validation) */
} SafetensorsTensorInfo;

typedef struct
{
  /* SafetensorsTensorInfo*, sorted by (begin, end) like the reference. */
  GPtrArray  *tensors;
  /* char* → char*, both UTF-8; NULL when the header has no __metadata__ or
   * it is null. A repeated key keeps its last value, like the reference. */
  GHashTable *metadata;
  /* Size of the data area the tensors declare: the last end, or 0. */
  guint64     data_size;
} SafetensorsHeader;

void               safetensors_tensor_info_free (SafetensorsTensorInfo *info);
void               safetensors_header_free      (SafetensorsHeader     *header);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SafetensorsTensorInfo, safetensors_tensor_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SafetensorsHeader, safetensors_header_free)

/* Orders SafetensorsTensorInfo pointers by (begin, end), the reference's
 * order, for g_ptr_array_sort(). */
int                safetensors_tensor_info_compare_offsets (gconstpointer a,
                                                            gconstpointer b);

/* The steps of safetensors_header_parse() (safetensors-header-validate.c):
 * whether @text is UTF-8 as Rust sees it (NUL bytes allowed), with the
 * offset of the first bad sequence; and, after parsing, the reference's
 * Metadata::validate() on @header, which sorts its tensors by offsets and
 * sets data_size and each n_elements. */
gboolean           safetensors_header_validate_utf8    (const guint8       *text,
                                                        gsize               len,
                                                        gsize              *bad_offset);
gboolean           safetensors_header_validate_tensors (const char         *display_name,
                                                        SafetensorsHeader  *header,
                                                        GError            **error);

/* A copy of @str (valid UTF-8) cut after 200 characters, for messages:
 * names come from the file and may be huge. */
char              *safetensors_header_shorten_name     (const char         *str);

/* Parses and validates the JSON text of a header (the N bytes after the
 * length prefix), applying every check of the reference in its order:
 * INVALID_HEADER (UTF-8), INVALID_JSON (syntax, schema, depth),
 * DUPLICATE_NAME, then INVALID_OFFSET, VALIDATION_OVERFLOW,
 * MISALIGNED_SLICE, TENSOR_INVALID_INFO per tensor in offset order.
 * It does not compare against the file size: the caller checks
 * 8 + N + data_size == file size (METADATA_INCOMPLETE_BUFFER).
 *
 * @display_name names the file in error messages. */
SafetensorsHeader *safetensors_header_parse     (const char            *display_name,
                                                 const guint8          *text,
                                                 gsize                  len,
                                                 GError               **error);

/* Checks the 8-byte prefix and sizes in the reference order:
 * HEADER_TOO_SMALL, HEADER_TOO_LARGE, INVALID_HEADER_LENGTH.
 * On success sets *out_header_len to N. */
gboolean           safetensors_header_check_prefix (const char   *display_name,
                                                    const guint8 *prefix,
                                                    guint64       file_size,
                                                    guint64      *out_header_len,
                                                    GError      **error);

G_END_DECLS
