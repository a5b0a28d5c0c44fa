/* safetensors-json-scanner-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A pull scanner for strict JSON (RFC 8259) that accepts exactly what
 * serde_json accepts, so that headers get the reference's verdict. The
 * caller drives it with the shape it expects; it never builds a tree.
 *
 * The text must already be valid UTF-8 apart from NUL bytes, which the
 * scanner rejects as JSON. Every failure is a SAFETENSORS_ERROR_INVALID_JSON
 * (or the code set in error_code) naming the byte offset. */
typedef struct
{
  const char   *display_name;
  /* What the text is, for messages ("header"), and the error code of
   * malformed JSON (INVALID_JSON): set by init, callers may change them. */
  const char   *what;
  int           error_code;
  const guint8 *start;
  const guint8 *cur;
  const guint8 *end;
  /* serde_json's recursion budget: every [ or { takes one before it is
   * checked, and running out is an error. */
  guint         remaining_depth;
  /* Holds the last decoded string when it had escapes. */
  GString      *scratch;
} SafetensorsJsonScanner;

typedef enum
{
  SAFETENSORS_JSON_NEXT_ERROR,
  SAFETENSORS_JSON_NEXT_END,
  SAFETENSORS_JSON_NEXT_ITEM,
} SafetensorsJsonNext;

#define SAFETENSORS_JSON_MAX_DEPTH 128

void     safetensors_json_scanner_init         (SafetensorsJsonScanner  *self,
                                                const char              *display_name,
                                                const guint8            *text,
                                                gsize                    len);
void     safetensors_json_scanner_clear        (SafetensorsJsonScanner  *self);

gboolean safetensors_json_scanner_error        (SafetensorsJsonScanner  *self,
                                                GError                 **error,
                                                const char              *format,
                                                ...) G_GNUC_PRINTF (3, 4);

/* Consumes the '[' or '{' at the cursor, spending one level of depth. */
gboolean safetensors_json_scanner_enter        (SafetensorsJsonScanner  *self,
                                                GError                 **error);

/* Advances inside an object entered with _enter(): returns ITEM with the
 * decoded key and the ':' consumed, or END with the '}' consumed. @first
 * must start TRUE. @key may be NULL to only validate the key. The key is
 * valid until the next string is read. */
SafetensorsJsonNext
         safetensors_json_scanner_next_member  (SafetensorsJsonScanner  *self,
                                                gboolean                *first,
                                                const char             **key,
                                                gsize                   *key_len,
                                                GError                 **error);
/* The same for arrays: ITEM leaves the cursor on the element. */
SafetensorsJsonNext
         safetensors_json_scanner_next_element (SafetensorsJsonScanner  *self,
                                                gboolean                *first,
                                                GError                 **error);

/* Reads the string at the cursor. The result is not NUL-terminated and may
 * contain NUL bytes (from \u0000); it points into the text or into the
 * scratch buffer and is valid until the next string is read. */
gboolean safetensors_json_scanner_read_string  (SafetensorsJsonScanner  *self,
                                                const char             **str,
                                                gsize                   *len,
                                                GError                 **error);
/* Reads the number at the cursor. *is_u64 tells whether serde would see an
 * unsigned 64-bit integer (no sign, fraction or exponent, in range), the
 * only kind a usize field accepts; other valid numbers only fail there. */
gboolean safetensors_json_scanner_read_number  (SafetensorsJsonScanner  *self,
                                                guint64                 *value,
                                                gboolean                *is_u64,
                                                GError                 **error);
/* Reads the literal @word ("null", "true" or "false") at the cursor. */
gboolean safetensors_json_scanner_read_literal (SafetensorsJsonScanner  *self,
                                                const char              *word,
                                                GError                 **error);
/* Validates and skips any value, without recursion. */
gboolean safetensors_json_scanner_skip_value   (SafetensorsJsonScanner  *self,
                                                GError                 **error);
/* Checks that only whitespace is left. */
gboolean safetensors_json_scanner_finish       (SafetensorsJsonScanner  *self,
                                                GError                 **error);

/* Skips JSON whitespace and returns the next byte without consuming it,
 * or -1 at the end of the text. Only the four RFC 8259 whitespace bytes
 * count: a BOM, a form feed or a NUL is not whitespace. */
static inline int
safetensors_json_scanner_peek (SafetensorsJsonScanner *self)
{
  while (self->cur < self->end)
    {
      guint8 c = *self->cur;

      if (c != ' ' && c != '\n' && c != '\t' && c != '\r')
        return c;
      self->cur++;
    }

  return -1;
}

/* Byte offset of the cursor, for messages. */
static inline gsize
safetensors_json_scanner_get_offset (SafetensorsJsonScanner *self)
{
  return (gsize) (self->cur - self->start);
}

G_END_DECLS
