/* safetensors-json-scanner.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* json-glib is lenient (comments, lone surrogates, NaN...) and loses
 * information (64-bit integers go through gint64, duplicate members
 * collapse), so headers are scanned here instead, following serde_json
 * rule for rule: a file opens here exactly when the reference opens it. */

#include <math.h>
#include <string.h>

#include "safetensors-error.h"
#include "safetensors-json-scanner-private.h"

void
safetensors_json_scanner_init (SafetensorsJsonScanner *self,
                               const char             *display_name,
                               const guint8           *text,
                               gsize                   len)
{
  g_assert (self != NULL);
  g_assert (text != NULL || len == 0);

  self->display_name = display_name;
  self->what = "header";
  self->error_code = SAFETENSORS_ERROR_INVALID_JSON;
  self->start = text;
  self->cur = text;
  self->end = text + len;
  self->remaining_depth = SAFETENSORS_JSON_MAX_DEPTH;
  self->scratch = g_string_new (NULL);
}

void
safetensors_json_scanner_clear (SafetensorsJsonScanner *self)
{
  if (self->scratch != NULL)
    g_string_free (g_steal_pointer (&self->scratch), TRUE);
}

gboolean
safetensors_json_scanner_error (SafetensorsJsonScanner  *self,
                                GError                 **error,
                                const char              *format,
                                ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, SAFETENSORS_ERROR, self->error_code,
               "%s: invalid JSON in %s at byte %" G_GSIZE_FORMAT ": %s",
               self->display_name, self->what, safetensors_json_scanner_get_offset (self),
               message);

  return FALSE;
}

/* Reports @message at @where, which becomes the cursor. */
static gboolean
fail_at (SafetensorsJsonScanner  *self,
         const guint8            *where,
         GError                 **error,
         const char              *message)
{
  self->cur = where;
  return safetensors_json_scanner_error (self, error, "%s", message);
}

static inline gboolean
is_digit (guint8 c)
{
  return c >= '0' && c <= '9';
}

/* ------------------------------------------------------------------ */
/* Strings                                                            */
/* ------------------------------------------------------------------ */

static int
hex_value (guint8 c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static gboolean
read_hex4 (SafetensorsJsonScanner  *self,
           const guint8           **p,
           gunichar                *out,
           GError                 **error)
{
  gunichar value = 0;

  if (self->end - *p < 4)
    return fail_at (self, self->end, error, "unexpected end of input in a \\u escape");

  for (guint i = 0; i < 4; i++)
    {
      int digit = hex_value ((*p)[i]);

      if (digit < 0)
        return fail_at (self, *p + i, error, "invalid \\u escape");
      value = (value << 4) | (gunichar) digit;
    }

  *p += 4;
  *out = value;
  return TRUE;
}

/* Decodes the \uXXXX escape after "\u" at *p. serde_json insists on UTF-16
 * surrogates coming in proper pairs whenever it decodes into a string, and
 * the reference decodes every string of the header, even in fields it then
 * ignores: a lone half is an error wherever it appears. */
static gboolean
read_unicode_escape (SafetensorsJsonScanner  *self,
                     const guint8           **p,
                     gunichar                *out,
                     GError                 **error)
{
  gunichar high, low;

  if (!read_hex4 (self, p, &high, error))
    return FALSE;

  if (high >= 0xDC00 && high <= 0xDFFF)
    return fail_at (self, *p, error, "lone low surrogate in \\u escape");

  if (high < 0xD800 || high > 0xDBFF)
    {
      *out = high;
      return TRUE;
    }

  if (self->end - *p < 2 || (*p)[0] != '\\' || (*p)[1] != 'u')
    return fail_at (self, *p, error, "lone high surrogate in \\u escape");
  *p += 2;

  if (!read_hex4 (self, p, &low, error))
    return FALSE;

  if (low < 0xDC00 || low > 0xDFFF)
    return fail_at (self, *p, error, "lone high surrogate in \\u escape");

  *out = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
  return TRUE;
}

/* Whether any of the eight bytes of @word is '"', '\\' or a control
 * character: the classic "has a zero byte" test, applied to the word
 * XOR-ed with each delimiter, plus its "has a byte below 0x20" variant. */
static inline gboolean
word_ends_fast_path (guint64 word)
{
  const guint64 ones = G_GUINT64_CONSTANT (0x0101010101010101);
  const guint64 high_bits = G_GUINT64_CONSTANT (0x8080808080808080);
  guint64 quote = word ^ (ones * '"');
  guint64 backslash = word ^ (ones * '\\');

  return ((((quote - ones) & ~quote) |
           ((backslash - ones) & ~backslash) |
           ((word - ones * 0x20) & ~word)) & high_bits) != 0;
}

/* Scans the string whose opening quote is at the cursor. With @out, escapes
 * are decoded into it; without, the string is only validated. The text is
 * valid UTF-8 already, so raw bytes need no decoding: only quotes,
 * backslashes and control characters stop the fast loop. */
static gboolean
scan_string (SafetensorsJsonScanner  *self,
             GString                 *out,
             const char             **str,
             gsize                   *len,
             GError                 **error)
{
  const guint8 *end = self->end;
  const guint8 *p = self->cur + 1;
  const guint8 *run = p;
  gboolean copied = FALSE;

  g_assert (self->cur < end && *self->cur == '"');

  for (;;)
    {
      gunichar ch = 0;

      while (end - p >= 8)
        {
          guint64 word;

          memcpy (&word, p, sizeof word);
          if (word_ends_fast_path (word))
            break;
          p += 8;
        }

      while (p < end && *p != '"' && *p != '\\' && *p >= 0x20)
        p++;

      if (p == end)
        return fail_at (self, p, error, "unexpected end of input in a string");

      if (*p == '"')
        break;

      if (*p != '\\')
        {
          self->cur = p;
          return safetensors_json_scanner_error (self, error,
                                                 "control character U+%04X in a string "
                                                 "(it must be escaped)", *p);
        }

      if (out != NULL)
        {
          if (!copied)
            g_string_truncate (out, 0);
          g_string_append_len (out, (const char *) run, p - run);
          copied = TRUE;
        }

      p++;
      if (p == end)
        return fail_at (self, p, error, "unexpected end of input in a string");

      switch (*p++)
        {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u':
          if (!read_unicode_escape (self, &p, &ch, error))
            return FALSE;
          break;
        default:
          return fail_at (self, p - 1, error, "invalid escape");
        }

      if (out != NULL)
        {
          char utf8[6];

          g_string_append_len (out, utf8, g_unichar_to_utf8 (ch, utf8));
        }

      run = p;
    }

  if (copied)
    {
      g_string_append_len (out, (const char *) run, p - run);
      if (str != NULL)
        *str = out->str;
      if (len != NULL)
        *len = out->len;
    }
  else
    {
      if (str != NULL)
        *str = (const char *) run;
      if (len != NULL)
        *len = p - run;
    }

  self->cur = p + 1;
  return TRUE;
}

gboolean
safetensors_json_scanner_read_string (SafetensorsJsonScanner  *self,
                                      const char             **str,
                                      gsize                   *len,
                                      GError                 **error)
{
  return scan_string (self, self->scratch, str, len, error);
}

/* ------------------------------------------------------------------ */
/* Numbers                                                            */
/* ------------------------------------------------------------------ */

/* serde_json's overflow!(a * 10 + b, max). */
#define WOULD_OVERFLOW(a, b, max) \
  ((a) >= (max) / 10 && ((a) > (max) / 10 || (b) > (max) % 10))

/* serde_json (built without float_roundtrip, as the reference is) turns a
 * float into significand × 10^exponent with a single f64 multiplication
 * by a correctly rounded power of ten, and rejects the number when that
 * overflows. A u64 significand times 10^288 cannot overflow, so only these
 * powers matter; the literals round exactly as Rust's do. */
static const double overflow_pow10[] = {
  1e289, 1e290, 1e291, 1e292, 1e293, 1e294, 1e295, 1e296, 1e297, 1e298,
  1e299, 1e300, 1e301, 1e302, 1e303, 1e304, 1e305, 1e306, 1e307, 1e308,
};

static gboolean
float_is_in_range (guint64 significand,
                   gint32  exponent)
{
  /* Negative exponents only divide, which never overflows. */
  if (exponent <= 288)
    return TRUE;
  if (exponent > 308)
    return significand == 0;

  return isfinite ((double) significand * overflow_pow10[exponent - 289]);
}

static gint32
saturating_add (gint32 a,
                gint64 b)
{
  return (gint32) CLAMP ((gint64) a + b, G_MININT32, G_MAXINT32);
}

gboolean
safetensors_json_scanner_read_number (SafetensorsJsonScanner  *self,
                                      guint64                 *value,
                                      gboolean                *is_u64,
                                      GError                 **error)
{
  const guint8 *number = self->cur;
  const guint8 *end = self->end;
  const guint8 *p = number;
  gboolean negative = FALSE;
  gboolean integral = TRUE;
  guint64 significand;
  gint32 exponent = 0;

  if (p < end && *p == '-')
    {
      negative = TRUE;
      p++;
    }

  if (p == end)
    return fail_at (self, p, error, "unexpected end of input in a number");

  if (*p == '0')
    {
      p++;
      if (p < end && is_digit (*p))
        return fail_at (self, p, error, "invalid number (leading zero)");
      significand = 0;
    }
  else if (*p >= '1' && *p <= '9')
    {
      significand = *p++ - '0';
      while (p < end && is_digit (*p))
        {
          guint digit = *p - '0';

          if (WOULD_OVERFLOW (significand, digit, G_MAXUINT64))
            {
              /* Like serde_json, keep the leading digits and count the
               * others as powers of ten: the number becomes a float. */
              integral = FALSE;
              for (; p < end && is_digit (*p); p++)
                exponent++;
              break;
            }

          significand = significand * 10 + digit;
          p++;
        }
    }
  else
    return fail_at (self, p, error, "invalid number");

  if (p < end && *p == '.')
    {
      gboolean any_digit = FALSE;

      integral = FALSE;
      p++;
      while (p < end && is_digit (*p))
        {
          guint digit = *p - '0';

          any_digit = TRUE;
          if (WOULD_OVERFLOW (significand, digit, G_MAXUINT64))
            {
              /* Digits past u64 precision are dropped. */
              while (p < end && is_digit (*p))
                p++;
              break;
            }

          significand = significand * 10 + digit;
          exponent--;
          p++;
        }

      if (!any_digit)
        return fail_at (self, p, error, "invalid number (no digit after '.')");
    }

  if (p < end && (*p == 'e' || *p == 'E'))
    {
      gboolean negative_exp = FALSE;
      gint32 exp;

      integral = FALSE;
      p++;
      if (p < end && (*p == '+' || *p == '-'))
        negative_exp = *p++ == '-';

      if (p == end)
        return fail_at (self, p, error, "unexpected end of input in a number");
      if (!is_digit (*p))
        return fail_at (self, p, error, "invalid number (no digit in the exponent)");

      exp = *p++ - '0';
      while (p < end && is_digit (*p))
        {
          gint32 digit = *p++ - '0';

          if (WOULD_OVERFLOW (exp, digit, G_MAXINT32))
            {
              /* An exponent past i32 means infinity, an error, or zero. */
              if (significand != 0 && !negative_exp)
                return fail_at (self, number, error, "number out of range");
              while (p < end && is_digit (*p))
                p++;
              goto done;
            }

          exp = exp * 10 + digit;
        }

      exponent = saturating_add (exponent, negative_exp ? -(gint64) exp : exp);
    }

  if (!integral && !float_is_in_range (significand, exponent))
    return fail_at (self, number, error, "number out of range");

done:
  self->cur = p;
  *value = significand;
  /* serde hands "-0" and negative integers to a usize as i64 or f64,
   * which it refuses. */
  *is_u64 = integral && !negative;
  return TRUE;
}

#undef WOULD_OVERFLOW

/* ------------------------------------------------------------------ */
/* Structure                                                          */
/* ------------------------------------------------------------------ */

gboolean
safetensors_json_scanner_read_literal (SafetensorsJsonScanner  *self,
                                       const char              *word,
                                       GError                 **error)
{
  const guint8 *p = self->cur;

  for (; *word != '\0'; word++, p++)
    {
      if (p == self->end)
        return fail_at (self, p, error, "unexpected end of input in a literal");
      if (*p != (guint8) *word)
        return fail_at (self, p, error, "invalid literal (expected true, false or null)");
    }

  self->cur = p;
  return TRUE;
}

gboolean
safetensors_json_scanner_enter (SafetensorsJsonScanner  *self,
                                GError                 **error)
{
  g_assert (self->cur < self->end && (*self->cur == '[' || *self->cur == '{'));
  g_assert (self->remaining_depth > 0);

  if (--self->remaining_depth == 0)
    return safetensors_json_scanner_error (self, error,
                                           "more than %u nested arrays and objects",
                                           SAFETENSORS_JSON_MAX_DEPTH - 1);

  self->cur++;
  return TRUE;
}

static SafetensorsJsonNext
fail_next (SafetensorsJsonScanner  *self,
           GError                 **error,
           const char              *message)
{
  fail_at (self, self->cur, error, message);
  return SAFETENSORS_JSON_NEXT_ERROR;
}

SafetensorsJsonNext
safetensors_json_scanner_next_member (SafetensorsJsonScanner  *self,
                                      gboolean                *first,
                                      const char             **key,
                                      gsize                   *key_len,
                                      GError                 **error)
{
  int c = safetensors_json_scanner_peek (self);

  if (c == '}')
    {
      self->cur++;
      self->remaining_depth++;
      return SAFETENSORS_JSON_NEXT_END;
    }

  if (!*first)
    {
      if (c < 0)
        return fail_next (self, error, "unexpected end of input in an object");
      if (c != ',')
        return fail_next (self, error, "expected ',' or '}'");

      self->cur++;
      c = safetensors_json_scanner_peek (self);
      if (c == '}')
        return fail_next (self, error, "trailing comma");
    }

  if (c < 0)
    return fail_next (self, error, "unexpected end of input in an object");
  if (c != '"')
    return fail_next (self, error, "expected a string key");

  *first = FALSE;
  if (!scan_string (self, key != NULL ? self->scratch : NULL, key, key_len, error))
    return SAFETENSORS_JSON_NEXT_ERROR;

  c = safetensors_json_scanner_peek (self);
  if (c < 0)
    return fail_next (self, error, "unexpected end of input in an object");
  if (c != ':')
    return fail_next (self, error, "expected ':'");
  self->cur++;

  return SAFETENSORS_JSON_NEXT_ITEM;
}

SafetensorsJsonNext
safetensors_json_scanner_next_element (SafetensorsJsonScanner  *self,
                                       gboolean                *first,
                                       GError                 **error)
{
  int c = safetensors_json_scanner_peek (self);

  if (c == ']')
    {
      self->cur++;
      self->remaining_depth++;
      return SAFETENSORS_JSON_NEXT_END;
    }

  if (!*first)
    {
      if (c < 0)
        return fail_next (self, error, "unexpected end of input in an array");
      if (c != ',')
        return fail_next (self, error, "expected ',' or ']'");

      self->cur++;
      c = safetensors_json_scanner_peek (self);
      if (c == ']')
        return fail_next (self, error, "trailing comma");
    }

  if (c < 0)
    return fail_next (self, error, "unexpected end of input in an array");

  *first = FALSE;
  return SAFETENSORS_JSON_NEXT_ITEM;
}

/* Skips a value that is not an array or an object; @c is its first byte. */
static gboolean
skip_scalar (SafetensorsJsonScanner  *self,
             int                      c,
             GError                 **error)
{
  guint64 value;
  gboolean is_u64;

  switch (c)
    {
    case '"':
      return scan_string (self, NULL, NULL, NULL, error);
    case 't':
      return safetensors_json_scanner_read_literal (self, "true", error);
    case 'f':
      return safetensors_json_scanner_read_literal (self, "false", error);
    case 'n':
      return safetensors_json_scanner_read_literal (self, "null", error);
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      return safetensors_json_scanner_read_number (self, &value, &is_u64, error);
    case -1:
      return fail_at (self, self->cur, error, "unexpected end of input, expected a value");
    default:
      return fail_at (self, self->cur, error, "expected a value");
    }
}

gboolean
safetensors_json_scanner_skip_value (SafetensorsJsonScanner  *self,
                                     GError                 **error)
{
  /* The openers of the containers we are in. The depth budget runs out
   * before this can overflow. */
  guint8 open[SAFETENSORS_JSON_MAX_DEPTH];
  guint n_open = 0;
  gboolean first = FALSE;

  for (;;)
    {
      int c = safetensors_json_scanner_peek (self);

      if (c == '[' || c == '{')
        {
          if (!safetensors_json_scanner_enter (self, error))
            return FALSE;
          g_assert (n_open < G_N_ELEMENTS (open));
          open[n_open++] = c;
          first = TRUE;
        }
      else if (!skip_scalar (self, c, error))
        return FALSE;

      /* Find the next value, closing the containers that are done. */
      for (;;)
        {
          SafetensorsJsonNext next;

          if (n_open == 0)
            return TRUE;

          if (open[n_open - 1] == '{')
            next = safetensors_json_scanner_next_member (self, &first, NULL, NULL, error);
          else
            next = safetensors_json_scanner_next_element (self, &first, error);

          if (next == SAFETENSORS_JSON_NEXT_ERROR)
            return FALSE;
          if (next == SAFETENSORS_JSON_NEXT_ITEM)
            break;

          n_open--;
          first = FALSE;
        }
    }
}

gboolean
safetensors_json_scanner_finish (SafetensorsJsonScanner  *self,
                                 GError                 **error)
{
  if (safetensors_json_scanner_peek (self) >= 0)
    return fail_at (self, self->cur, error, "trailing characters after the object");

  return TRUE;
}
