/* safetensors-slice.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (SAFETENSORS_INSIDE) && !defined (SAFETENSORS_COMPILATION)
# error "Only <safetensors-glib/safetensors-glib.h> can be included directly."
#endif

#include <glib-object.h>

#include "safetensors-version-macros.h"

G_BEGIN_DECLS

/**
 * SAFETENSORS_SLICE_NONE:
 *
 * Stands for an omitted bound in [method@Safetensors.Slice.add_range], like
 * an empty start or stop in NumPy's `a[:3]` or `a[::-1]`.
 *
 * Since: 1.0
 */
#define SAFETENSORS_SLICE_NONE ((gint64) (-G_GINT64_CONSTANT (9223372036854775807) - 1))

#define SAFETENSORS_TYPE_SLICE (safetensors_slice_get_type ())

/**
 * SafetensorsSlice:
 *
 * A NumPy basic-slicing expression: one item per dimension, each an index
 * (which removes the dimension), a range `start:stop:step`, or an ellipsis
 * standing for as many full ranges as needed. Dimensions without an item
 * are taken whole.
 *
 * Build one with [ctor@Safetensors.Slice.new] and the `add_` methods, or
 * parse the text form with [ctor@Safetensors.Slice.parse], e.g.
 * `"1, ::2, -3:"`.
 *
 * Since: 1.0
 */
typedef struct _SafetensorsSlice SafetensorsSlice;

SAFETENSORS_AVAILABLE_IN_ALL
GType             safetensors_slice_get_type      (void) G_GNUC_CONST;
SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsSlice *safetensors_slice_new           (void);
SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsSlice *safetensors_slice_parse         (const char        *expression,
                                                   GError           **error);
SAFETENSORS_AVAILABLE_IN_ALL
SafetensorsSlice *safetensors_slice_ref           (SafetensorsSlice  *self);
SAFETENSORS_AVAILABLE_IN_ALL
void              safetensors_slice_unref         (SafetensorsSlice  *self);
SAFETENSORS_AVAILABLE_IN_ALL
void              safetensors_slice_add_index     (SafetensorsSlice  *self,
                                                   gint64             index);
SAFETENSORS_AVAILABLE_IN_ALL
void              safetensors_slice_add_range     (SafetensorsSlice  *self,
                                                   gint64             start,
                                                   gint64             stop,
                                                   gint64             step);
SAFETENSORS_AVAILABLE_IN_ALL
void              safetensors_slice_add_ellipsis  (SafetensorsSlice  *self);
SAFETENSORS_AVAILABLE_IN_ALL
guint             safetensors_slice_get_n_items   (SafetensorsSlice  *self);
SAFETENSORS_AVAILABLE_IN_ALL
char             *safetensors_slice_to_string     (SafetensorsSlice  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SafetensorsSlice, safetensors_slice_unref)

G_END_DECLS
