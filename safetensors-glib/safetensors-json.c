/* safetensors-json.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-json-private.h"

void
safetensors_json_append_string (GString    *out,
                                const char *str,
                                gssize      len)
{
  static const char hex[] = "0123456789abcdef";
  const guchar *p = (const guchar *) str;
  const guchar *end;
  const guchar *run;

  if (len < 0)
    len = strlen (str);
  end = p + len;

  g_string_append_c (out, '"');
  run = p;
  for (; p < end; p++)
    {
      const char *escape = NULL;
      char unicode[7];

      if (*p >= 0x20 && *p != '"' && *p != '\\')
        continue;

      switch (*p)
        {
        case '"': escape = "\\\""; break;
        case '\\': escape = "\\\\"; break;
        case '\b': escape = "\\b"; break;
        case '\f': escape = "\\f"; break;
        case '\n': escape = "\\n"; break;
        case '\r': escape = "\\r"; break;
        case '\t': escape = "\\t"; break;
        default:
          unicode[0] = '\\';
          unicode[1] = 'u';
          unicode[2] = '0';
          unicode[3] = '0';
          unicode[4] = hex[*p >> 4];
          unicode[5] = hex[*p & 0xf];
          unicode[6] = '\0';
          escape = unicode;
        }

      g_string_append_len (out, (const char *) run, p - run);
      g_string_append (out, escape);
      run = p + 1;
    }
  g_string_append_len (out, (const char *) run, p - run);
  g_string_append_c (out, '"');
}
