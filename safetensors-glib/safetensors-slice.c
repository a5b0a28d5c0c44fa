/* safetensors-slice.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <string.h>

#include "safetensors-error.h"
#include "safetensors-slice-private.h"

typedef enum
{
  ITEM_INDEX,
  ITEM_RANGE,
  ITEM_ELLIPSIS,
} ItemKind;

typedef struct
{
  ItemKind kind;
  gint64   start;   /* the index for ITEM_INDEX */
  gint64   stop;
  gint64   step;
} SliceItem;

struct _SafetensorsSlice
{
  GArray *items;    /* SliceItem */
};

G_DEFINE_BOXED_TYPE (SafetensorsSlice, safetensors_slice,
                     safetensors_slice_ref, safetensors_slice_unref)

/**
 * safetensors_slice_new:
 *
 * Creates an empty slice, which selects a whole tensor until items are
 * added.
 *
 * Returns: (transfer full): a new slice
 *
 * Since: 1.0
 */
SafetensorsSlice *
safetensors_slice_new (void)
{
  SafetensorsSlice *self = g_atomic_rc_box_new0 (SafetensorsSlice);

  self->items = g_array_new (FALSE, FALSE, sizeof (SliceItem));
  return self;
}

/**
 * safetensors_slice_ref:
 * @self: a slice
 *
 * Acquires a reference on @self.
 *
 * Returns: (transfer full): @self
 *
 * Since: 1.0
 */
SafetensorsSlice *
safetensors_slice_ref (SafetensorsSlice *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_atomic_rc_box_acquire (self);
}

static void
slice_clear (gpointer data)
{
  SafetensorsSlice *self = data;

  g_array_unref (self->items);
}

/**
 * safetensors_slice_unref:
 * @self: (transfer full): a slice
 *
 * Releases a reference on @self.
 *
 * Since: 1.0
 */
void
safetensors_slice_unref (SafetensorsSlice *self)
{
  g_return_if_fail (self != NULL);

  g_atomic_rc_box_release_full (self, slice_clear);
}

/**
 * safetensors_slice_add_index:
 * @self: a slice
 * @index: an element index; negative values count from the end
 *
 * Appends an integer index, like `a[3]`: it selects one position and
 * removes the dimension from the result.
 *
 * Since: 1.0
 */
void
safetensors_slice_add_index (SafetensorsSlice *self,
                             gint64            index)
{
  SliceItem item = { ITEM_INDEX, index, 0, 1 };

  g_return_if_fail (self != NULL);

  g_array_append_val (self->items, item);
}

/**
 * safetensors_slice_add_range:
 * @self: a slice
 * @start: first position, or [const@Safetensors.SLICE_NONE]
 * @stop: position to stop before, or [const@Safetensors.SLICE_NONE]
 * @step: distance between positions, not 0; negative walks backwards
 *
 * Appends a range, like `a[start:stop:step]`, with NumPy's rules for
 * negative and out-of-range bounds. A step of 0 is reported as an error
 * when the slice is applied.
 *
 * Since: 1.0
 */
void
safetensors_slice_add_range (SafetensorsSlice *self,
                             gint64            start,
                             gint64            stop,
                             gint64            step)
{
  SliceItem item = { ITEM_RANGE, start, stop, step };

  g_return_if_fail (self != NULL);

  g_array_append_val (self->items, item);
}

/**
 * safetensors_slice_add_ellipsis:
 * @self: a slice
 *
 * Appends an ellipsis, like `a[..., 0]`: it stands for as many whole
 * dimensions as needed for the other items to reach the last dimensions.
 * A slice may hold at most one.
 *
 * Since: 1.0
 */
void
safetensors_slice_add_ellipsis (SafetensorsSlice *self)
{
  SliceItem item = { ITEM_ELLIPSIS, 0, 0, 1 };

  g_return_if_fail (self != NULL);

  g_array_append_val (self->items, item);
}

/**
 * safetensors_slice_get_n_items:
 * @self: a slice
 *
 * Gets the number of items (indices, ranges, ellipses) in @self.
 *
 * Returns: the number of items
 *
 * Since: 1.0
 */
guint
safetensors_slice_get_n_items (SafetensorsSlice *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->items->len;
}

/* ---- text form ----------------------------------------------------------- */

static void
skip_spaces (const char **p)
{
  while (**p == ' ' || **p == '\t')
    (*p)++;
}

/* Parses an optional signed decimal integer. Returns FALSE on a malformed
 * or overflowing number; *present tells whether there was one. */
static gboolean
parse_bound (const char **p,
             gint64      *value,
             gboolean    *present)
{
  const char *start;
  char *end = NULL;
  gint64 v;

  skip_spaces (p);
  start = *p;
  if (*start != '-' && *start != '+' && !g_ascii_isdigit (*start))
    {
      *present = FALSE;
      return TRUE;
    }

  errno = 0;
  v = g_ascii_strtoll (start, &end, 10);
  if (errno != 0 || end == start || !g_ascii_isdigit (end[-1]))
    return FALSE;
  /* SAFETENSORS_SLICE_NONE is not a number anyone can type. */
  if (v == SAFETENSORS_SLICE_NONE)
    return FALSE;

  *p = end;
  *value = v;
  *present = TRUE;
  return TRUE;
}

static gboolean
parse_item (const char **p,
            SliceItem   *item)
{
  gint64 value = 0;
  gboolean present = FALSE;

  skip_spaces (p);
  if (strncmp (*p, "...", 3) == 0)
    {
      *p += 3;
      *item = (SliceItem) { ITEM_ELLIPSIS, 0, 0, 1 };
      return TRUE;
    }

  if (!parse_bound (p, &value, &present))
    return FALSE;
  skip_spaces (p);

  if (**p != ':')
    {
      if (!present)
        return FALSE;
      *item = (SliceItem) { ITEM_INDEX, value, 0, 1 };
      return TRUE;
    }

  *item = (SliceItem) { ITEM_RANGE, present ? value : SAFETENSORS_SLICE_NONE,
                        SAFETENSORS_SLICE_NONE, 1 };
  (*p)++;
  if (!parse_bound (p, &value, &present))
    return FALSE;
  if (present)
    item->stop = value;
  skip_spaces (p);

  if (**p == ':')
    {
      (*p)++;
      if (!parse_bound (p, &value, &present))
        return FALSE;
      if (present)
        item->step = value;
    }

  return TRUE;
}

/**
 * safetensors_slice_parse: (constructor)
 * @expression: a slice in NumPy's notation, without brackets, e.g.
 *   `"0, 1:3, ::-1"` or `"..., 2"`
 * @error: return location for a #GError
 *
 * Parses the text form of a slice: items separated by commas, each an
 * integer, `start:stop[:step]` with any part omitted, or `...`. An empty
 * expression selects everything.
 *
 * Returns: (transfer full): a new slice, or %NULL with
 *   %SAFETENSORS_ERROR_INVALID_SLICE set
 *
 * Since: 1.0
 */
SafetensorsSlice *
safetensors_slice_parse (const char  *expression,
                         GError     **error)
{
  g_autoptr(SafetensorsSlice) self = NULL;
  const char *p = expression;

  g_return_val_if_fail (expression != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = safetensors_slice_new ();

  skip_spaces (&p);
  while (*p != '\0')
    {
      SliceItem item;

      if (!parse_item (&p, &item))
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_SLICE,
                       "invalid slice “%s”: unexpected text at position %d",
                       expression, (int) (p - expression));
          return NULL;
        }
      g_array_append_val (self->items, item);

      skip_spaces (&p);
      if (*p == ',')
        {
          p++;
          skip_spaces (&p);
        }
      else if (*p != '\0')
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_SLICE,
                       "invalid slice “%s”: expected ‘,’ at position %d",
                       expression, (int) (p - expression));
          return NULL;
        }
    }

  return g_steal_pointer (&self);
}

/**
 * safetensors_slice_to_string:
 * @self: a slice
 *
 * Formats @self in the notation [ctor@Safetensors.Slice.parse] reads.
 *
 * Returns: (transfer full): the text form
 *
 * Since: 1.0
 */
char *
safetensors_slice_to_string (SafetensorsSlice *self)
{
  GString *str;

  g_return_val_if_fail (self != NULL, NULL);

  str = g_string_new (NULL);
  for (guint i = 0; i < self->items->len; i++)
    {
      const SliceItem *item = &g_array_index (self->items, SliceItem, i);

      if (i > 0)
        g_string_append (str, ", ");
      switch (item->kind)
        {
        case ITEM_INDEX:
          g_string_append_printf (str, "%" G_GINT64_FORMAT, item->start);
          break;
        case ITEM_ELLIPSIS:
          g_string_append (str, "...");
          break;
        case ITEM_RANGE:
          if (item->start != SAFETENSORS_SLICE_NONE)
            g_string_append_printf (str, "%" G_GINT64_FORMAT, item->start);
          g_string_append_c (str, ':');
          if (item->stop != SAFETENSORS_SLICE_NONE)
            g_string_append_printf (str, "%" G_GINT64_FORMAT, item->stop);
          if (item->step != 1)
            g_string_append_printf (str, ":%" G_GINT64_FORMAT, item->step);
          break;
        default:
          g_assert_not_reached ();
        }
    }

  return g_string_free (str, FALSE);
}

/* ---- resolving against a shape ------------------------------------------ */

/* Positions are computed in 128 bits: a zero-size tensor may declare
 * dimensions up to 2^64 - 1, beyond gint64. */
typedef __int128 wide;

static wide
clamp_wide (wide v, wide lo, wide hi)
{
  return v < lo ? lo : (v > hi ? hi : v);
}

/* Python's slice.indices() for one dimension. */
static void
resolve_range (const SliceItem     *item,
               guint64              size,
               SafetensorsSliceDim *dim)
{
  wide n = size;
  wide step = item->step;
  wide start, stop, count;

  if (step > 0)
    {
      start = item->start == SAFETENSORS_SLICE_NONE ? 0 : item->start;
      stop = item->stop == SAFETENSORS_SLICE_NONE ? n : item->stop;
      if (start < 0)
        start += n;
      if (stop < 0)
        stop += n;
      start = clamp_wide (start, 0, n);
      stop = clamp_wide (stop, 0, n);
      count = stop > start ? (stop - start + step - 1) / step : 0;
    }
  else
    {
      start = item->start == SAFETENSORS_SLICE_NONE ? n - 1 : item->start;
      stop = item->stop == SAFETENSORS_SLICE_NONE ? -1 : item->stop;
      if (item->start != SAFETENSORS_SLICE_NONE && start < 0)
        start += n;
      if (item->stop != SAFETENSORS_SLICE_NONE && stop < 0)
        stop += n;
      start = clamp_wide (start, -1, n - 1);
      stop = clamp_wide (stop, -1, n - 1);
      count = start > stop ? (start - stop + (-step) - 1) / (-step) : 0;
    }

  dim->size = size;
  dim->count = (guint64) count;
  dim->step = item->step;
  dim->keep = TRUE;
  /* An empty range never reads its start; keep it in range for the
   * gatherer's arithmetic. */
  dim->start = count > 0 ? (gint64) start : 0;
}

GArray *
safetensors_slice_resolve (SafetensorsSlice  *slice,
                           const char        *display_name,
                           const char        *tensor_name,
                           const guint64     *shape,
                           guint              n_dims,
                           GError           **error)
{
  g_autoptr(GArray) dims = g_array_sized_new (FALSE, TRUE, sizeof (SafetensorsSliceDim), n_dims);
  guint n_explicit = 0;
  guint n_ellipses = 0;
  guint d = 0;

  for (guint i = 0; i < slice->items->len; i++)
    {
      if (g_array_index (slice->items, SliceItem, i).kind == ITEM_ELLIPSIS)
        n_ellipses++;
      else
        n_explicit++;
    }

  if (n_ellipses > 1)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_SLICE,
                   "%s: tensor “%s”: a slice can only have one ellipsis (‘...’)",
                   display_name, tensor_name);
      return NULL;
    }

  if (n_explicit > n_dims)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_SLICE,
                   "%s: tensor “%s”: too many indices: the tensor has %u dimensions "
                   "but the slice has %u", display_name, tensor_name, n_dims, n_explicit);
      return NULL;
    }

  for (guint i = 0; i < slice->items->len; i++)
    {
      const SliceItem *item = &g_array_index (slice->items, SliceItem, i);
      SafetensorsSliceDim dim = { 0 };

      if (item->kind == ITEM_ELLIPSIS)
        {
          static const SliceItem all = { ITEM_RANGE, SAFETENSORS_SLICE_NONE,
                                         SAFETENSORS_SLICE_NONE, 1 };

          for (guint k = 0; k < n_dims - n_explicit; k++, d++)
            {
              resolve_range (&all, shape[d], &dim);
              g_array_append_val (dims, dim);
            }
          continue;
        }

      if (item->kind == ITEM_INDEX)
        {
          wide index = item->start;

          if (index < 0)
            index += (wide) shape[d];
          if (index < 0 || index >= (wide) shape[d])
            {
              g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_SLICE,
                           "%s: tensor “%s”: index %" G_GINT64_FORMAT " is out of bounds "
                           "for dimension %u with size %" G_GUINT64_FORMAT,
                           display_name, tensor_name, item->start, d, shape[d]);
              return NULL;
            }
          dim = (SafetensorsSliceDim) { shape[d], (gint64) index, 1, 1, FALSE };
        }
      else if (item->step == 0)
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_SLICE,
                       "%s: tensor “%s”: slice step cannot be zero (dimension %u)",
                       display_name, tensor_name, d);
          return NULL;
        }
      else
        {
          resolve_range (item, shape[d], &dim);
        }

      g_array_append_val (dims, dim);
      d++;
    }

  for (; d < n_dims; d++)
    {
      static const SliceItem all = { ITEM_RANGE, SAFETENSORS_SLICE_NONE,
                                     SAFETENSORS_SLICE_NONE, 1 };
      SafetensorsSliceDim dim;

      resolve_range (&all, shape[d], &dim);
      g_array_append_val (dims, dim);
    }

  return g_steal_pointer (&dims);
}

/* ---- gathering ----------------------------------------------------------- */

static gboolean
dim_is_whole (const SafetensorsSliceDim *dim)
{
  /* A dimension of size 1 is whole however it was selected (an index, any
   * step): its one position is all there is. */
  return dim->count == dim->size && (dim->size == 1 || (dim->start == 0 && dim->step == 1));
}

/* The selection is a set of equally long runs of consecutive elements: the
 * trailing whole dimensions form a block, the dimension before them extends
 * the block when its step is 1, and every other dimension is walked with an
 * odometer. Because the tensor is non-empty and lies inside the file, every
 * element index below fits in 63 bits. */
typedef struct
{
  guint    n_outer;          /* dimensions walked by the odometer */
  guint64  run_elements;
  guint64  run_start;        /* element offset contributed by the run dim */
  guint64  n_runs;
  guint64 *strides;          /* elements, per dimension */
} RunPlan;

static void
plan_runs (GArray  *dims,
           RunPlan *plan)
{
  guint n = dims->len;
  guint inner = n;
  guint64 block = 1;

  plan->strides = g_new (guint64, MAX (n, 1));
  for (guint d = n; d-- > 0;)
    {
      plan->strides[d] = block;
      block *= g_array_index (dims, SafetensorsSliceDim, d).size;
    }

  block = 1;
  while (inner > 0 && dim_is_whole (&g_array_index (dims, SafetensorsSliceDim, inner - 1)))
    {
      inner--;
      block *= g_array_index (dims, SafetensorsSliceDim, inner).size;
    }

  plan->run_start = 0;
  if (inner > 0 && g_array_index (dims, SafetensorsSliceDim, inner - 1).step == 1)
    {
      const SafetensorsSliceDim *dim = &g_array_index (dims, SafetensorsSliceDim, inner - 1);

      plan->run_elements = dim->count * block;
      plan->run_start = (guint64) dim->start * plan->strides[inner - 1];
      plan->n_outer = inner - 1;
    }
  else
    {
      plan->run_elements = block;
      plan->n_outer = inner;
    }

  plan->n_runs = 1;
  for (guint d = 0; d < plan->n_outer; d++)
    plan->n_runs *= g_array_index (dims, SafetensorsSliceDim, d).count;
}

static gboolean
bits_are_whole_bytes (guint64 elements,
                      guint   bits)
{
  return (elements * bits) % 8 == 0;
}

GBytes *
safetensors_slice_gather (GArray              *dims,
                          guint                bits,
                          SafetensorsStorage  *storage,
                          guint64              data_offset,
                          const char          *tensor_name,
                          GCancellable        *cancellable,
                          GError             **error)
{
  RunPlan plan = { 0 };
  g_autofree guint64 *strides = NULL;
  g_autofree guint64 *counter = NULL;
  g_autofree guint8 *out = NULL;
  g_autoptr(GBytes) source = NULL;
  const guint8 *src = NULL;
  guint64 run_bytes, total_bytes;
  guint64 tensor_bytes;
  gsize written = 0;

  for (guint d = 0; d < dims->len; d++)
    if (g_array_index (dims, SafetensorsSliceDim, d).count == 0)
      return g_bytes_new (NULL, 0);

  plan_runs (dims, &plan);
  strides = plan.strides;

  /* The whole tensor is non-empty and inside the file: no overflow here. */
  tensor_bytes = 1;
  for (guint d = 0; d < dims->len; d++)
    tensor_bytes *= g_array_index (dims, SafetensorsSliceDim, d).size;
  tensor_bytes = tensor_bytes * bits / 8;

  counter = g_new0 (guint64, MAX (plan.n_outer, 1));

  /* Sub-byte dtypes: every run must start and end on a byte boundary.
   * The runs start at the first one's offset plus sums of the outer
   * dimensions' steps: all are aligned exactly when the first one is and
   * every step that is taken (count > 1) is a whole number of bytes. The
   * parts of the first offset need not be aligned one by one: t[1, 1:] of
   * a [4, 3, 3] F4 tensor starts at element 9 + 3, byte 6. */
  if (bits % 8 != 0)
    {
      guint64 first = plan.run_start;
      gboolean aligned;

      for (guint d = 0; d < plan.n_outer; d++)
        first += (guint64) g_array_index (dims, SafetensorsSliceDim, d).start * strides[d];
      aligned = bits_are_whole_bytes (plan.run_elements, bits) &&
                bits_are_whole_bytes (first, bits);

      for (guint d = 0; aligned && d < plan.n_outer; d++)
        {
          const SafetensorsSliceDim *dim = &g_array_index (dims, SafetensorsSliceDim, d);

          aligned = dim->count == 1 ||
                    bits_are_whole_bytes ((guint64) ABS (dim->step) * strides[d], bits);
        }
      if (!aligned)
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_MISALIGNED_SLICE,
                       "%s: tensor “%s”: a slice of %u-bit elements must start and "
                       "end on byte boundaries", storage->display_name, tensor_name, bits);
          return NULL;
        }
    }

  run_bytes = plan.run_elements * bits / 8;
  total_bytes = run_bytes * plan.n_runs;

  /* One run covering a contiguous range: zero-copy on a mapping. */
  if (plan.n_runs == 1)
    {
      guint64 first = plan.run_start;

      for (guint d = 0; d < plan.n_outer; d++)
        first += (guint64) g_array_index (dims, SafetensorsSliceDim, d).start * strides[d];
      return safetensors_storage_get_bytes (storage, data_offset + first * bits / 8,
                                            run_bytes, cancellable, error);
    }

  if (total_bytes > G_MAXSIZE || (out = g_try_malloc (total_bytes)) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "%s: tensor “%s”: cannot allocate %" G_GUINT64_FORMAT " bytes for a slice",
                   storage->display_name, tensor_name, total_bytes);
      return NULL;
    }

  /* Without a mapping, small tensors are read once and gathered in memory;
   * large ones run by run. */
  if (safetensors_storage_is_mapped (storage) || tensor_bytes <= 64 * 1024 * 1024)
    {
      source = safetensors_storage_get_bytes (storage, data_offset, tensor_bytes,
                                              cancellable, error);
      if (source == NULL)
        return NULL;
      src = g_bytes_get_data (source, NULL);
    }

  for (guint64 r = 0; r < plan.n_runs; r++)
    {
      guint64 element = plan.run_start;
      guint64 byte_offset;

      for (guint d = 0; d < plan.n_outer; d++)
        {
          const SafetensorsSliceDim *dim = &g_array_index (dims, SafetensorsSliceDim, d);

          element += (guint64) (dim->start + (gint64) counter[d] * dim->step) * strides[d];
        }
      byte_offset = element * bits / 8;

      if (src != NULL)
        memcpy (out + written, src + byte_offset, run_bytes);
      else if (!safetensors_storage_read (storage, data_offset + byte_offset, out + written,
                                          run_bytes, cancellable, error))
        return NULL;
      written += run_bytes;

      for (guint d = plan.n_outer; d-- > 0;)
        {
          if (++counter[d] < g_array_index (dims, SafetensorsSliceDim, d).count)
            break;
          counter[d] = 0;
        }
    }

  return g_bytes_new_take (g_steal_pointer (&out), total_bytes);
}
