/* safetensors-layout.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-layout-private.h"

void
safetensors_layout_plan_clear (SafetensorsLayoutPlan *plan)
{
  g_clear_pointer (&plan->moves, g_array_unref);
  plan->data_start = plan->end = plan->bytes_moved = plan->bytes_copied = 0;
}

static guint64
round_up (guint64 value,
          guint64 multiple)
{
  return (value + multiple - 1) / multiple * multiple;
}

#define ITEM(items, k) (&g_array_index ((GArray *) (items), SafetensorsLayoutItem, (k)))

static int
compare_by_src (gconstpointer a,
                gconstpointer b,
                gpointer      items)
{
  const SafetensorsLayoutItem *x = ITEM (items, *(const guint *) a);
  const SafetensorsLayoutItem *y = ITEM (items, *(const guint *) b);

  return x->src < y->src ? -1 : x->src > y->src;
}

static int
compare_by_dst (gconstpointer a,
                gconstpointer b,
                gpointer      items)
{
  const SafetensorsLayoutItem *x = ITEM (items, *(const guint *) a);
  const SafetensorsLayoutItem *y = ITEM (items, *(const guint *) b);

  return x->dst < y->dst ? -1 : x->dst > y->dst;
}

/* Largest alignment first keeps every position aligned without padding:
 * sizes are multiples of the element size. */
static int
compare_for_repack (gconstpointer a,
                    gconstpointer b,
                    gpointer      items)
{
  const SafetensorsLayoutItem *x = ITEM (items, *(const guint *) a);
  const SafetensorsLayoutItem *y = ITEM (items, *(const guint *) b);

  if (x->align != y->align)
    return x->align > y->align ? -1 : 1;
  return x->src < y->src ? -1 : x->src > y->src;
}

static void
add_move (SafetensorsLayoutPlan *plan,
          guint64                src,
          guint64                dst,
          guint64                len)
{
  SafetensorsMove move = { src, dst, len };

  if (src == dst || len == 0)
    return;
  g_array_append_val (plan->moves, move);
  plan->bytes_copied += len;
}

/* A source still waiting to be moved, indexed by position. */
typedef struct
{
  guint64 src;
  guint64 len;
  guint   item;
  gboolean gone;
} PendingSource;

static int
compare_pending (gconstpointer a,
                 gconstpointer b)
{
  const PendingSource *x = a, *y = b;

  return x->src < y->src ? -1 : x->src > y->src;
}

/* Orders the moves of @movers (item indices) so that no move overwrites a
 * source that has not been moved yet: moves run by ascending destination,
 * and a source in the way is first parked in scratch space. A shift to the
 * left never needs scratch. */
static void
schedule_moves (GArray                *items,
                GArray                *movers,
                guint64                scratch_start,
                SafetensorsLayoutPlan *plan)
{
  g_autoptr(GArray) pending = g_array_new (FALSE, FALSE, sizeof (PendingSource));
  g_autofree guint *by_dst = NULL;
  g_autofree guint *slot_of_item = NULL;
  guint64 scratch = round_up (scratch_start, 8);
  guint n = 0;

  for (guint i = 0; i < movers->len; i++)
    {
      guint k = g_array_index (movers, guint, i);
      SafetensorsLayoutItem *item = &g_array_index (items, SafetensorsLayoutItem, k);
      PendingSource p = { item->src, item->size, k, FALSE };

      if (item->src != item->dst && item->size > 0)
        g_array_append_val (pending, p);
    }
  g_array_sort (pending, compare_pending);

  n = pending->len;
  slot_of_item = g_new (guint, items->len);
  by_dst = g_new (guint, n);
  for (guint i = 0; i < n; i++)
    {
      slot_of_item[g_array_index (pending, PendingSource, i).item] = i;
      by_dst[i] = g_array_index (pending, PendingSource, i).item;
    }

  /* Ascending destination: the order of a left shift. */
  g_qsort_with_data (by_dst, n, sizeof (guint), compare_by_dst, items);

  for (guint i = 0; i < n; i++)
    {
      guint k = by_dst[i];
      SafetensorsLayoutItem *item = &g_array_index (items, SafetensorsLayoutItem, k);
      PendingSource *self_slot = &g_array_index (pending, PendingSource, slot_of_item[k]);
      guint64 dst_end = item->dst + item->size;
      guint lo = 0, hi = n;

      /* First pending source ending after dst. */
      while (lo < hi)
        {
          guint mid = (lo + hi) / 2;
          PendingSource *p = &g_array_index (pending, PendingSource, mid);

          if (p->src + p->len <= item->dst)
            lo = mid + 1;
          else
            hi = mid;
        }

      for (guint j = lo; j < n; j++)
        {
          PendingSource *p = &g_array_index (pending, PendingSource, j);

          if (p->src >= dst_end)
            break;
          if (p->gone || p == self_slot)
            continue;
          /* In the way: park it. Its final move starts from scratch. */
          add_move (plan, p->src, scratch, p->len);
          g_array_index (items, SafetensorsLayoutItem, p->item).src = scratch;
          scratch += round_up (p->len, 8);
          p->gone = TRUE;
        }

      add_move (plan, item->src, item->dst, item->size);
      plan->bytes_moved += item->size;
      self_slot->gone = TRUE;
    }
}

/* The last tensors (by position) of order[rest..n) whose sizes add up to
 * exactly the hole [cursor, hole_end) go into it, largest alignment first
 * (the hole starts on a multiple of 8, so no padding is needed), when the
 * tensors before them already follow the hole without gaps. Only taken if
 * it moves no more than @budget bytes. */
static gboolean
fill_hole_from_tail (GArray                *items,
                     const guint           *order,
                     guint                  rest,
                     guint                  n,
                     guint64                cursor,
                     guint64                hole_end,
                     guint64                budget,
                     SafetensorsLayoutPlan *plan)
{
  guint64 hole = hole_end - cursor;
  guint64 sum = 0, expect = hole_end;
  g_autoptr(GArray) fill = g_array_new (FALSE, FALSE, sizeof (guint));
  guint k = n;

  /* On a tie with shifting, filling wins: the file gets shorter. */
  if (hole > budget)
    return FALSE;

  while (k > rest && sum < hole)
    sum += ITEM (items, order[--k])->size;
  if (sum != hole)
    return FALSE;

  for (guint i = rest; i < k; i++)
    {
      if (ITEM (items, order[i])->src != expect)
        return FALSE;
      expect += ITEM (items, order[i])->size;
    }

  for (guint i = k; i < n; i++)
    g_array_append_val (fill, order[i]);
  g_array_sort_with_data (fill, compare_for_repack, items);

  for (guint i = rest; i < k; i++)
    ITEM (items, order[i])->dst = ITEM (items, order[i])->src;
  for (guint i = 0; i < fill->len; i++)
    {
      SafetensorsLayoutItem *item = ITEM (items, g_array_index (fill, guint, i));

      item->dst = cursor;
      cursor += item->size;
      /* Sources lie past the hole: no move clobbers another. */
      add_move (plan, item->src, item->dst, item->size);
      plan->bytes_moved += item->size;
    }

  plan->end = expect;
  return TRUE;
}

/* The data start: the first tensor at or after the smallest possible data
 * start that sits on a multiple of 8 keeps its place, and the gap before
 * it becomes header padding (within the cap). */
static guint64
choose_data_start (GArray  *items,
                   guint   *order,
                   guint    n,
                   guint64  data_start_min,
                   guint64  header_max)
{
  for (guint i = 0; i < n; i++)
    {
      const SafetensorsLayoutItem *item = &g_array_index (items, SafetensorsLayoutItem, order[i]);

      if (item->src < data_start_min)
        continue;
      if (item->src % 8 == 0 && item->src - 8 <= header_max)
        return item->src;
      break;
    }
  return data_start_min;
}

static guint64
compact_cost (const SafetensorsLayoutPlan *plan,
              guint64                      padding_floor)
{
  return plan->bytes_copied + (plan->data_start > padding_floor ? plan->data_start - padding_floor : 0);
}

/* The compact plan for a given data start. */
static void
plan_compact_from (GArray                *items,
                   guint64                data_start,
                   guint64                header_max,
                   guint64                scratch_start,
                   SafetensorsLayoutPlan *plan)
{
  g_autofree guint *order = NULL;
  g_autoptr(GArray) movers = g_array_new (FALSE, FALSE, sizeof (guint));
  guint64 cursor;
  guint n = 0, n_kept = 0, first_rest;

  memset (plan, 0, sizeof *plan);
  plan->moves = g_array_new (FALSE, FALSE, sizeof (SafetensorsMove));

  /* Empty tensors take no room: they all sit at the data start. */
  order = g_new (guint, MAX (items->len, 1));
  for (guint i = 0; i < items->len; i++)
    if (g_array_index (items, SafetensorsLayoutItem, i).size > 0)
      order[n++] = i;
  g_qsort_with_data (order, n, sizeof (guint), compare_by_src, items);

  /* Tensors in front of the data start (under the new header) move. */
  first_rest = 0;
  while (first_rest < n && g_array_index (items, SafetensorsLayoutItem, order[first_rest]).src < data_start)
    g_array_append_val (movers, order[first_rest++]);

  /* The longest run already in place stays. */
  cursor = data_start;
  while (first_rest + n_kept < n)
    {
      SafetensorsLayoutItem *item = &g_array_index (items, SafetensorsLayoutItem, order[first_rest + n_kept]);

      if (item->src != cursor)
        break;
      item->dst = item->src;
      cursor += item->size;
      n_kept++;
    }

  /* Repacking starts on a multiple of 8, so that it needs no padding. */
  while (cursor % 8 != 0)
    {
      SafetensorsLayoutItem *item = &g_array_index (items, SafetensorsLayoutItem, order[first_rest + n_kept - 1]);

      n_kept--;
      cursor = item->src;
    }

  /* One hole followed by a contiguous tail: shifting the part before the
   * hole to the right may be cheaper, its front gap becoming padding. */
  if (movers->len == 0 && first_rest + n_kept < n)
    {
      guint rest = first_rest + n_kept;
      guint64 hole_end = g_array_index (items, SafetensorsLayoutItem, order[rest]).src;
      guint64 shift = hole_end - cursor;
      guint64 before = cursor - data_start;
      guint64 after = 0;
      gboolean contiguous = TRUE;
      guint64 expect = hole_end;

      for (guint i = rest; i < n; i++)
        {
          const SafetensorsLayoutItem *item = &g_array_index (items, SafetensorsLayoutItem, order[i]);

          contiguous &= item->src == expect;
          expect = item->src + item->size;
          after += item->size;
        }

      /* Or fill the hole with tensors from the end of the file, when some
       * of the last ones add up to exactly its size (a tensor replaced by
       * one of the same size, say): the file then ends earlier. */
      if (fill_hole_from_tail (items, order, rest, n, cursor, hole_end,
                               MIN (before + shift, after), plan))
        {
          plan->data_start = data_start;
          goto place_empty;
        }

      /* The gap becomes padding, which is written too. */
      if (contiguous && shift % 8 == 0 && before + shift < after &&
          data_start + shift - 8 <= header_max)
        {
          for (guint i = first_rest + n_kept; i-- > first_rest;)
            {
              SafetensorsLayoutItem *item = &g_array_index (items, SafetensorsLayoutItem, order[i]);

              item->dst = item->src + shift;
              add_move (plan, item->src, item->dst, item->size);
              plan->bytes_moved += item->size;
            }
          for (guint i = rest; i < n; i++)
            {
              SafetensorsLayoutItem *item = &g_array_index (items, SafetensorsLayoutItem, order[i]);

              item->dst = item->src;
            }
          plan->data_start = data_start + shift;
          plan->end = expect;
          goto place_empty;
        }
    }

  /* Everything else is repacked after the kept run. */
  for (guint i = first_rest + n_kept; i < n; i++)
    g_array_append_val (movers, order[i]);
  g_array_sort_with_data (movers, compare_for_repack, items);
  for (guint i = 0; i < movers->len; i++)
    {
      SafetensorsLayoutItem *item = &g_array_index (items, SafetensorsLayoutItem, g_array_index (movers, guint, i));

      item->dst = cursor;
      cursor += item->size;
    }

  plan->data_start = data_start;
  plan->end = cursor;
  schedule_moves (items, movers, MAX (scratch_start, cursor), plan);

place_empty:
  for (guint i = 0; i < items->len; i++)
    {
      SafetensorsLayoutItem *item = &g_array_index (items, SafetensorsLayoutItem, i);

      if (item->size == 0)
        item->dst = plan->data_start;
    }
}

gboolean
safetensors_layout_plan_compact (GArray                *items,
                                 guint64                header_min,
                                 guint64                header_max,
                                 guint64                old_data_start,
                                 guint64                scratch_start,
                                 SafetensorsLayoutPlan *plan)
{
  g_autofree guint *order = NULL;
  guint64 data_start_min = round_up (8 + header_min, 8);
  guint64 candidates[2];
  g_autoptr(GArray) best_items = NULL;
  SafetensorsLayoutPlan best = { 0 };
  guint64 padding_floor;
  guint n = 0;

  memset (plan, 0, sizeof *plan);
  if (data_start_min - 8 > header_max)
    {
      plan->moves = g_array_new (FALSE, FALSE, sizeof (SafetensorsMove));
      return FALSE;
    }

  order = g_new (guint, MAX (items->len, 1));
  for (guint i = 0; i < items->len; i++)
    if (ITEM (items, i)->size > 0)
      order[n++] = i;
  g_qsort_with_data (order, n, sizeof (guint), compare_by_src, items);

  /* Two data starts worth trying: the first tensor on a multiple of 8
   * beyond the header keeping its place (the gap before it becoming
   * padding), and the smallest one. Padding added beyond what the header
   * needs and already had is written and kept, so it counts like moved
   * bytes. */
  padding_floor = MAX (data_start_min, old_data_start);
  candidates[0] = choose_data_start (items, order, n, data_start_min, header_max);
  candidates[1] = data_start_min;

  for (guint c = 0; c < G_N_ELEMENTS (candidates); c++)
    {
      g_autoptr(GArray) trial = NULL;
      SafetensorsLayoutPlan trial_plan;

      if (c > 0 && candidates[c] == candidates[0])
        break;
      trial = g_array_copy (items);
      plan_compact_from (trial, candidates[c], header_max, scratch_start, &trial_plan);
      if (best_items == NULL ||
          compact_cost (&trial_plan, padding_floor) < compact_cost (&best, padding_floor))
        {
          safetensors_layout_plan_clear (&best);
          best = trial_plan;
          g_clear_pointer (&best_items, g_array_unref);
          best_items = g_steal_pointer (&trial);
        }
      else
        safetensors_layout_plan_clear (&trial_plan);
    }

  /* No tensors: the arrays have no data at all, not even for memcpy (). */
  if (items->len > 0)
    memcpy (items->data, best_items->data, sizeof (SafetensorsLayoutItem) * items->len);
  *plan = best;
  return TRUE;
}

guint64
safetensors_ranges_take_best_fit (GArray  *ranges,
                                  guint64  size,
                                  guint    align)
{
  guint best = G_MAXUINT;
  guint64 best_len = G_MAXUINT64;
  guint64 at;
  SafetensorsRange *range;
  SafetensorsRange after;

  for (guint i = 0; i < ranges->len; i++)
    {
      const SafetensorsRange *r = &g_array_index (ranges, SafetensorsRange, i);
      guint64 start = round_up (r->start, align);

      if (start + size <= r->start + r->len && r->len < best_len)
        {
          best = i;
          best_len = r->len;
        }
    }
  if (best == G_MAXUINT)
    return G_MAXUINT64;

  /* Split the range around the taken bytes. Appending may move the array,
   * so the pointer is not used after it. */
  range = &g_array_index (ranges, SafetensorsRange, best);
  at = round_up (range->start, align);
  after.start = at + size;
  after.len = range->start + range->len - after.start;
  range->len = at - range->start;
  if (range->len == 0)
    g_array_remove_index_fast (ranges, best);
  if (after.len > 0)
    g_array_append_val (ranges, after);
  return at;
}

static int
compare_ranges (gconstpointer a,
                gconstpointer b)
{
  const SafetensorsRange *x = a, *y = b;

  return x->start < y->start ? -1 : x->start > y->start;
}

/* The gap [start, end): the part below @moved_until is still held by tensors
 * about to move, so it is reserved; the rest can take tensors. */
static void
add_gap (GArray  *gaps,
         GArray  *reserved,
         guint64  start,
         guint64  end,
         guint64  moved_until)
{
  guint64 split = CLAMP (moved_until, start, end);
  SafetensorsRange held = { start, split - start };
  SafetensorsRange free_range = { split, end - split };

  if (held.len > 0)
    g_array_append_val (reserved, held);
  if (free_range.len > 0)
    g_array_append_val (gaps, free_range);
}

gboolean
safetensors_layout_plan_keep_free (GArray                *items,
                                   guint64                header_min,
                                   guint64                header_max,
                                   guint64                old_data_start,
                                   SafetensorsLayoutPlan *plan,
                                   GArray                *fillers)
{
  g_autofree guint *order = NULL;
  g_autoptr(GArray) gaps = g_array_new (FALSE, FALSE, sizeof (SafetensorsRange));
  g_autoptr(GArray) reserved = g_array_new (FALSE, FALSE, sizeof (SafetensorsRange));
  g_autoptr(GArray) movers = g_array_new (FALSE, FALSE, sizeof (guint));
  guint64 data_start = MAX (round_up (8 + header_min, 8), old_data_start);
  guint64 moved_until = data_start;
  guint64 cursor, end;
  guint n = 0;

  memset (plan, 0, sizeof *plan);
  plan->moves = g_array_new (FALSE, FALSE, sizeof (SafetensorsMove));
  g_array_set_size (fillers, 0);

  if (data_start - 8 > header_max)
    return FALSE;

  order = g_new (guint, MAX (items->len, 1));
  for (guint i = 0; i < items->len; i++)
    {
      SafetensorsLayoutItem *item = ITEM (items, i);

      if (item->size == 0)
        item->dst = data_start;
      else
        order[n++] = i;
    }
  g_qsort_with_data (order, n, sizeof (guint), compare_by_src, items);

  /* Tensors under the header move; the others stay, and the gaps between
   * them are free. A moving tensor may reach past the data start: until it
   * has moved, its old bytes are not free, so they become filler that no
   * tensor is placed in (reserved), and placing starts after them. */
  for (guint i = 0; i < n; i++)
    {
      SafetensorsLayoutItem *item = ITEM (items, order[i]);

      if (item->src < data_start)
        {
          g_array_append_val (movers, order[i]);
          moved_until = MAX (moved_until, item->src + item->size);
        }
    }

  cursor = data_start;
  for (guint i = 0; i < n; i++)
    {
      SafetensorsLayoutItem *item = ITEM (items, order[i]);

      if (item->src < data_start)
        continue;
      add_gap (gaps, reserved, cursor, item->src, moved_until);
      item->dst = item->src;
      cursor = item->src + item->size;
    }
  end = cursor;
  if (end < moved_until)
    {
      add_gap (gaps, reserved, end, moved_until, moved_until);
      end = moved_until;
    }

  /* Movers, largest first, into the best-fitting gap or at the end. Their
   * sources lie before moved_until, their destinations after it: no move
   * can clobber another. */
  g_array_sort_with_data (movers, compare_for_repack, items);
  for (guint i = 0; i < movers->len; i++)
    {
      SafetensorsLayoutItem *item = ITEM (items, g_array_index (movers, guint, i));
      guint64 at = safetensors_ranges_take_best_fit (gaps, item->size, item->align);

      if (at == G_MAXUINT64)
        {
          at = round_up (end, item->align);
          if (at > end)
            {
              SafetensorsRange gap = { end, at - end };

              g_array_append_val (gaps, gap);
            }
          end = at + item->size;
        }
      item->dst = at;
      add_move (plan, item->src, item->dst, item->size);
      plan->bytes_moved += item->size;
    }

  g_array_append_vals (gaps, reserved->data, reserved->len);
  g_array_sort (gaps, compare_ranges);
  g_array_append_vals (fillers, gaps->data, gaps->len);
  plan->data_start = data_start;
  plan->end = end;
  return TRUE;
}
