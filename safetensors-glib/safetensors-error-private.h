/* safetensors-error-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "safetensors-error.h"

G_BEGIN_DECLS

/* Sets SAFETENSORS_ERROR_INVALID_DATA with a formatted message and returns
 * FALSE, for parsers of inputs other than headers (arrays, archives,
 * pickles): `return safetensors_set_invalid_data (error, "...", ...);` */
gboolean safetensors_set_invalid_data (GError     **error,
                                       const char  *format,
                                       ...) G_GNUC_PRINTF (2, 3);

/* The same, the message starting with "@display_name: ". */
gboolean safetensors_set_invalid_data_for (GError     **error,
                                           const char  *display_name,
                                           const char  *format,
                                           ...) G_GNUC_PRINTF (3, 4);

G_END_DECLS
