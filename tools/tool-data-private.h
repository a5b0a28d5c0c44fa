/* tool-data-private.h — decoding and printing tensor elements
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "tool-common.h"

G_BEGIN_DECLS

gboolean  tool_data_dtype_is_float (SafetensorsDType   dtype);
guint32   tool_data_read_code      (const guint8      *data,
                                    guint              bits,
                                    guint64            index);
double    tool_data_read_float     (SafetensorsDType   dtype,
                                    const guint8      *data,
                                    guint64            index,
                                    double            *imag);
void      tool_data_append_text    (GString           *out,
                                    SafetensorsDType   dtype,
                                    const guint8      *data,
                                    const guint64     *shape,
                                    guint              n_dims,
                                    guint64            n_elements,
                                    gboolean           full);
void      tool_data_append_json    (GString           *out,
                                    SafetensorsDType   dtype,
                                    const guint8      *data,
                                    const guint64     *shape,
                                    guint              n_dims,
                                    guint64            offset);

G_END_DECLS
