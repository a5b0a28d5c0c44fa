/* safetensors-layout-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The placement planner of the compact free-space policy.
 *
 * Positions are absolute in the file. Each item is one tensor of the new
 * layout, whose bytes are currently at [src, src + size) (its committed
 * place, or where a new tensor was staged); the planner gives it a dst so
 * that the tensors tile [data_start, end) without gaps, each dst aligned to
 * the item's alignment, data_start a multiple of 8 with room for the
 * header before it, choosing the placement that moves few bytes:
 *
 * - a gap at the front of the data area becomes header padding;
 * - the longest run of tensors already in place from the data start stays;
 * - one hole in the middle is closed by shifting the shorter side;
 * - otherwise everything after the first hole is repacked (largest
 *   alignment first, so no padding is ever needed);
 * - the file is truncated at the new end.
 *
 * Moves are returned in an order that is safe to execute one after the
 * other with memmove semantics: when two moves would clobber each other's
 * source, one goes through scratch space at or beyond @scratch_start. */

typedef struct
{
  guint64 src;
  guint64 size;
  guint   align;      /* 1, 2, 4 or 8 */
  guint64 dst;        /* set by the planner */
} SafetensorsLayoutItem;

typedef struct
{
  guint64 src;
  guint64 dst;
  guint64 len;
} SafetensorsMove;

/* A byte range of the file, absolute. */
typedef struct
{
  guint64 start;
  guint64 len;
} SafetensorsRange;

typedef struct
{
  guint64 data_start;     /* 8 + the new header length */
  guint64 end;            /* the new file size */
  GArray *moves;          /* SafetensorsMove, in execution order */
  guint64 bytes_moved;    /* sum of the final moves, scratch hops not counted twice */
  guint64 bytes_copied;   /* every byte copied, scratch hops included */
} SafetensorsLayoutPlan;

void     safetensors_layout_plan_clear   (SafetensorsLayoutPlan *plan);

/* @items: SafetensorsLayoutItem; @header_min: bytes the header text needs;
 * @header_max: the format's cap (100 000 000). Returns FALSE only when the
 * header cannot fit under the cap. */
gboolean safetensors_layout_plan_compact (GArray                *items,
                                          guint64                header_min,
                                          guint64                header_max,
                                          guint64                old_data_start,
                                          guint64                scratch_start,
                                          SafetensorsLayoutPlan *plan);

/* The keep-free policy: tensors stay where they are, except those under a
 * header that grows, which go to the best-fitting free range (or the end).
 * The data start never moves back (the header keeps its padding). Gaps
 * between tensors are returned in @fillers, to be recorded as filler
 * entries; the file ends where the last tensor does. */
gboolean safetensors_layout_plan_keep_free (GArray                *items,
                                            guint64                header_min,
                                            guint64                header_max,
                                            guint64                old_data_start,
                                            SafetensorsLayoutPlan *plan,
                                            GArray                *fillers);

/* Best fit: the smallest range of @ranges where @size bytes fit at a
 * multiple of @align; the range is split around them. Returns the
 * position, or G_MAXUINT64 when nothing fits. */
guint64  safetensors_ranges_take_best_fit  (GArray                *ranges,
                                            guint64                size,
                                            guint                  align);

G_END_DECLS
