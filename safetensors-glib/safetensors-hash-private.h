/* safetensors-hash-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Hashes for strings that come from untrusted files. With an unkeyed hash
 * such as g_str_hash(), colliding keys are easy to make and a GHashTable
 * of them degrades to quadratic time. Like Rust's HashMap, which the
 * reference uses, these are SipHash-1-3 with a random per-process key. */
guint safetensors_hash_bytes (const void    *data,
                              gsize          len);

/* A GHashFunc for NUL-terminated strings, to pair with g_str_equal(). */
guint safetensors_str_hash   (gconstpointer  str);

G_END_DECLS
