/* safetensors-hash.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-hash-private.h"

static guint64 hash_key[2];

static void
ensure_hash_key (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      hash_key[0] = ((guint64) g_random_int () << 32) | g_random_int ();
      hash_key[1] = ((guint64) g_random_int () << 32) | g_random_int ();
      g_once_init_leave (&initialized, 1);
    }
}

#define ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND() G_STMT_START {                                   \
    v0 += v1; v1 = ROTL64 (v1, 13); v1 ^= v0; v0 = ROTL64 (v0, 32);  \
    v2 += v3; v3 = ROTL64 (v3, 16); v3 ^= v2;                        \
    v0 += v3; v3 = ROTL64 (v3, 21); v3 ^= v0;                        \
    v2 += v1; v1 = ROTL64 (v1, 17); v1 ^= v2; v2 = ROTL64 (v2, 32);  \
  } G_STMT_END

guint
safetensors_hash_bytes (const void *data,
                        gsize       len)
{
  const guint8 *p = data;
  guint64 v0, v1, v2, v3;
  guint64 last = (guint64) len << 56;
  guint64 hash;

  ensure_hash_key ();

  v0 = hash_key[0] ^ G_GUINT64_CONSTANT (0x736f6d6570736575);
  v1 = hash_key[1] ^ G_GUINT64_CONSTANT (0x646f72616e646f6d);
  v2 = hash_key[0] ^ G_GUINT64_CONSTANT (0x6c7967656e657261);
  v3 = hash_key[1] ^ G_GUINT64_CONSTANT (0x7465646279746573);

  for (gsize i = 0; i < len / 8; i++, p += 8)
    {
      guint64 m;

      memcpy (&m, p, sizeof m);
      m = GUINT64_FROM_LE (m);
      v3 ^= m;
      SIP_ROUND ();
      v0 ^= m;
    }

  for (gsize i = 0; i < len % 8; i++)
    last |= (guint64) p[i] << (8 * i);

  v3 ^= last;
  SIP_ROUND ();
  v0 ^= last;
  v2 ^= 0xff;
  SIP_ROUND ();
  SIP_ROUND ();
  SIP_ROUND ();

  hash = v0 ^ v1 ^ v2 ^ v3;
  return (guint) (hash ^ (hash >> 32));
}

guint
safetensors_str_hash (gconstpointer str)
{
  return safetensors_hash_bytes (str, strlen (str));
}
