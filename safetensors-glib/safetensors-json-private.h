/* safetensors-json-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Appends @str (@len bytes of UTF-8, or -1 for NUL-terminated) as a JSON
 * string literal with serde_json's escaping: \" \\ \b \f \n \r \t, other
 * control characters as \u00xx in lowercase hex, everything else (including
 * '/', DEL and non-ASCII) raw. This is what makes canonical headers
 * byte-identical to the reference writer's. */
void safetensors_json_append_string (GString    *out,
                                     const char *str,
                                     gssize      len);

G_END_DECLS
