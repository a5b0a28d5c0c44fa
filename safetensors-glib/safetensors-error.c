/* safetensors-error.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "safetensors-error.h"

/**
 * safetensors_error_quark:
 *
 * Gets the quark of the `SAFETENSORS_ERROR` domain.
 *
 * Returns: the error quark
 *
 * Since: 1.0
 */
G_DEFINE_QUARK (safetensors-error-quark, safetensors_error)
