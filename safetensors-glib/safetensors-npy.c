/* safetensors-npy.c — .npy headers: dtypes and the parser
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* NumPy reads the header with ast.literal_eval(), so any Python literal
 * that evaluates to the right dict passes there. This parser accepts the
 * subset that NumPy and the other writers produce, and nothing else: input
 * may be hostile, and a parser of the whole Python literal grammar would
 * be a far larger attack surface than the format needs. */

#include <string.h>

#include "safetensors-error-private.h"
#include "safetensors-npy-private.h"

/* Messages quote text from the file; long or binary text is cut and
 * escaped. */
#define MAX_CHARS_IN_MESSAGE   64

void
safetensors_npy_header_free (SafetensorsNpyHeader *header)
{
  if (header == NULL)
    return;

  g_free (header->shape);
  g_free (header);
}

/* ------------------------------------------------------------------ */
/* Dtypes                                                             */
/* ------------------------------------------------------------------ */

/* Indexed by SafetensorsDType; NULL where NumPy has no equivalent. */
static const char *const npy_descrs[SAFETENSORS_DTYPE_COUNT] = {
  [SAFETENSORS_DTYPE_BOOL] = "|b1",
  [SAFETENSORS_DTYPE_U8]   = "|u1",
  [SAFETENSORS_DTYPE_I8]   = "|i1",
  [SAFETENSORS_DTYPE_U16]  = "<u2",
  [SAFETENSORS_DTYPE_I16]  = "<i2",
  [SAFETENSORS_DTYPE_F16]  = "<f2",
  [SAFETENSORS_DTYPE_U32]  = "<u4",
  [SAFETENSORS_DTYPE_I32]  = "<i4",
  [SAFETENSORS_DTYPE_F32]  = "<f4",
  [SAFETENSORS_DTYPE_C64]  = "<c8",
  [SAFETENSORS_DTYPE_U64]  = "<u8",
  [SAFETENSORS_DTYPE_I64]  = "<i8",
  [SAFETENSORS_DTYPE_F64]  = "<f8",
};

const char *
safetensors_npy_dtype_to_descr (SafetensorsDType dtype)
{
  if ((guint) dtype >= SAFETENSORS_DTYPE_COUNT)
    return NULL;

  return npy_descrs[dtype];
}

/* Maps a descr string (not NUL-terminated) to a dtype and byte order. */
static gboolean
descr_to_dtype (const char       *descr,
                gsize             len,
                SafetensorsDType *out_dtype,
                gboolean         *out_big_endian)
{
  char order;

  if (len != 3 || descr[0] == '\0' || strchr ("<>=|", descr[0]) == NULL)
    return FALSE;
  order = descr[0];

  for (guint dtype = 0; dtype < SAFETENSORS_DTYPE_COUNT; dtype++)
    {
      const char *known = npy_descrs[dtype];

      if (known == NULL || memcmp (known + 1, descr + 1, 2) != 0)
        continue;

      /* For one byte the order does not matter; NumPy writes '|' but
       * accepts any. Wider types need one: '|' is not a valid order. */
      if (safetensors_dtype_get_bits (dtype) == 8)
        {
          *out_big_endian = FALSE;
        }
      else if (order == '|')
        {
          return FALSE;
        }
      else if (order == '=')
        {
          *out_big_endian = G_BYTE_ORDER == G_BIG_ENDIAN;
        }
      else
        {
          *out_big_endian = order == '>';
        }

      *out_dtype = dtype;
      return TRUE;
    }

  return FALSE;
}

guint
safetensors_npy_get_swap_size (SafetensorsDType dtype)
{
  if (dtype == SAFETENSORS_DTYPE_C64)
    return 4;

  return MAX (safetensors_dtype_get_bits (dtype) / 8, 1);
}

/* ------------------------------------------------------------------ */
/* Parser                                                             */
/* ------------------------------------------------------------------ */

static char *
quote_text (const char *text,
            gsize       len)
{
  GString *out = g_string_new ("“");
  gsize shown = MIN (len, MAX_CHARS_IN_MESSAGE);

  for (gsize i = 0; i < shown; i++)
    {
      guchar c = text[i];

      if (c >= 0x20 && c < 0x7f)
        g_string_append_c (out, c);
      else
        g_string_append_printf (out, "\\x%02x", c);
    }
  if (len > shown)
    g_string_append (out, "…");
  g_string_append (out, "”");

  return g_string_free (out, FALSE);
}

/* Malformed header text: INVALID_DATA, with a common prefix. */

gboolean
safetensors_npy_get_header_size (const guint8  *data,
                                 gsize          len,
                                 gsize         *out_header_size,
                                 GError       **error)
{
  guint major, minor;
  gsize prefix_len;
  guint32 header_len;

  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (len > 0 && memcmp (data, SAFETENSORS_NPY_MAGIC, MIN (len, SAFETENSORS_NPY_MAGIC_LEN)) != 0)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "not a .npy array: wrong magic");
      return FALSE;
    }
  if (len < SAFETENSORS_NPY_MAGIC_LEN + 2)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "truncated .npy array: %" G_GSIZE_FORMAT " bytes, less than its preamble",
                   len);
      return FALSE;
    }

  major = data[SAFETENSORS_NPY_MAGIC_LEN];
  minor = data[SAFETENSORS_NPY_MAGIC_LEN + 1];
  if (major < 1 || major > 3 || minor != 0)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   ".npy format version %u.%u is not supported (only 1.0, 2.0 and 3.0 are)",
                   major, minor);
      return FALSE;
    }

  prefix_len = major == 1 ? 10 : 12;
  if (len < prefix_len)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "truncated .npy array: %" G_GSIZE_FORMAT " bytes, less than its preamble",
                   len);
      return FALSE;
    }

  if (major == 1)
    header_len = data[8] | ((guint32) data[9] << 8);
  else
    header_len = data[8] | ((guint32) data[9] << 8) | ((guint32) data[10] << 16) |
                 ((guint32) data[11] << 24);

  if (header_len > SAFETENSORS_NPY_MAX_HEADER_LEN)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   ".npy header length %u exceeds the limit of %u bytes",
                   header_len, (guint) SAFETENSORS_NPY_MAX_HEADER_LEN);
      return FALSE;
    }

  *out_header_size = prefix_len + header_len;
  return TRUE;
}

typedef struct
{
  const char *p;
  const char *end;
  gsize       base;        /* file offset of the header text */
  const char *text;
  gboolean    allow_long;  /* Python 2 long literals: 3L */

  const char *descr;
  gsize       descr_len;
  gboolean    has_fortran_order;
  gboolean    fortran_order;
  gboolean    has_shape;
  guint       n_dims;
  guint64     shape[SAFETENSORS_NPY_MAX_RANK];
} NpyParser;

static gboolean
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static gboolean
is_word_char (char c)
{
  return g_ascii_isalnum (c) || c == '_';
}

static void
skip_space (NpyParser *p)
{
  while (p->p < p->end && is_space (*p->p))
    p->p++;
}

static gsize
parser_offset (NpyParser *p)
{
  return p->base + (p->p - p->text);
}

static gboolean
syntax_error (NpyParser   *p,
              const char  *expected,
              GError     **error)
{
  g_autofree char *found = NULL;

  if (p->p >= p->end)
    return safetensors_set_invalid_data (error, ".npy header: expected %s, found the end of the header", expected);

  found = quote_text (p->p, 1);
  return safetensors_set_invalid_data (error, ".npy header: expected %s at byte %" G_GSIZE_FORMAT ", found %s",
                       expected, parser_offset (p), found);
}

static gboolean
expect_char (NpyParser   *p,
             char         c,
             const char  *description,
             GError     **error)
{
  if (p->p >= p->end || *p->p != c)
    return syntax_error (p, description, error);

  p->p++;
  return TRUE;
}

/* A string literal without prefix or escapes. */
static gboolean
parse_string (NpyParser   *p,
              const char **out_str,
              gsize       *out_len,
              GError     **error)
{
  const char *begin;
  char quote;

  if (p->p >= p->end || (*p->p != '\'' && *p->p != '"'))
    return syntax_error (p, "a quoted string", error);

  quote = *p->p++;
  begin = p->p;
  while (p->p < p->end && *p->p != quote)
    {
      if (*p->p == '\\')
        return safetensors_set_invalid_data (error, ".npy header: escape sequence in a string at byte %" G_GSIZE_FORMAT
                             " (not supported)", parser_offset (p));
      if (*p->p == '\n' || *p->p == '\r')
        break;
      p->p++;
    }
  if (p->p >= p->end || *p->p != quote)
    return safetensors_set_invalid_data (error, ".npy header: unterminated string at byte %" G_GSIZE_FORMAT,
                         p->base + (begin - 1 - p->text));

  *out_str = begin;
  *out_len = p->p - begin;
  p->p++;
  return TRUE;
}

static gboolean
match_word (NpyParser  *p,
            const char *word)
{
  gsize len = strlen (word);

  if ((gsize) (p->end - p->p) < len || memcmp (p->p, word, len) != 0)
    return FALSE;
  if ((gsize) (p->end - p->p) > len && is_word_char (p->p[len]))
    return FALSE;

  p->p += len;
  return TRUE;
}

static gboolean
parse_bool (NpyParser  *p,
            gboolean   *out_value,
            GError    **error)
{
  if (match_word (p, "True"))
    *out_value = TRUE;
  else if (match_word (p, "False"))
    *out_value = FALSE;
  else
    return syntax_error (p, "True or False for 'fortran_order'", error);

  return TRUE;
}

/* A decimal integer in [0, 2^63): NumPy's dimensions are npy_intp. */
static gboolean
parse_dimension (NpyParser  *p,
                 guint64    *out_value,
                 GError    **error)
{
  const char *begin = p->p;
  guint64 value = 0;

  if (p->p < p->end && *p->p == '-')
    {
      g_autofree char *quoted = NULL;

      p->p++;
      while (p->p < p->end && g_ascii_isdigit (*p->p))
        p->p++;
      quoted = quote_text (begin, p->p - begin);
      return safetensors_set_invalid_data (error, ".npy header: negative dimension %s in the shape", quoted);
    }

  if (p->p >= p->end || !g_ascii_isdigit (*p->p))
    return syntax_error (p, "a dimension (a non-negative integer)", error);

  while (p->p < p->end && g_ascii_isdigit (*p->p))
    {
      guint digit = *p->p - '0';

      if (value > ((guint64) G_MAXINT64 - digit) / 10)
        {
          g_autofree char *quoted = NULL;

          while (p->p < p->end && g_ascii_isdigit (*p->p))
            p->p++;
          quoted = quote_text (begin, p->p - begin);
          return safetensors_set_invalid_data (error, ".npy header: dimension %s is too large (NumPy dimensions are "
                               "below 2^63)", quoted);
        }
      value = value * 10 + digit;
      p->p++;
    }

  /* Python 3 rejects 007; so does this parser. */
  if (*begin == '0' && p->p - begin > 1)
    {
      g_autofree char *quoted = quote_text (begin, p->p - begin);

      return safetensors_set_invalid_data (error, ".npy header: dimension %s has leading zeros", quoted);
    }

  if (p->allow_long && p->p < p->end && (*p->p == 'L' || *p->p == 'l'))
    p->p++;

  *out_value = value;
  return TRUE;
}

/* A tuple: (), (5,), (2, 3) or (2, 3,). (5) is an integer in Python and
 * NumPy refuses it. */
static gboolean
parse_shape (NpyParser  *p,
             GError    **error)
{
  const char *begin = p->p;

  if (!expect_char (p, '(', "a tuple for 'shape'", error))
    return FALSE;
  skip_space (p);

  p->n_dims = 0;
  if (p->p < p->end && *p->p == ')')
    {
      p->p++;
      return TRUE;
    }

  for (;;)
    {
      guint64 dim = 0;

      if (p->n_dims == SAFETENSORS_NPY_MAX_RANK)
        return safetensors_set_invalid_data (error, ".npy header: the shape has more than %u dimensions",
                             (guint) SAFETENSORS_NPY_MAX_RANK);
      if (!parse_dimension (p, &dim, error))
        return FALSE;
      p->shape[p->n_dims++] = dim;
      skip_space (p);

      if (p->p < p->end && *p->p == ',')
        {
          p->p++;
          skip_space (p);
          if (p->p < p->end && *p->p == ')')
            {
              p->p++;
              return TRUE;
            }
          continue;
        }

      if (p->p < p->end && *p->p == ')')
        {
          p->p++;
          if (p->n_dims == 1)
            {
              g_autofree char *quoted = quote_text (begin, p->p - begin);

              return safetensors_set_invalid_data (error, ".npy header: shape %s is not a tuple (a one-element tuple "
                                   "needs a trailing comma)", quoted);
            }
          return TRUE;
        }

      return syntax_error (p, "',' or ')' in the shape", error);
    }
}

/* Structured ([('a', '<f4'), …]) and subarray (('<f4', (2,))) dtypes:
 * quotes the value up to its closing bracket for the message. */
static gboolean
unsupported_compound_descr (NpyParser  *p,
                            GError    **error)
{
  g_autofree char *quoted = NULL;
  const char *q = p->p;
  int depth = 0;

  for (; q < p->end; q++)
    {
      if (*q == '[' || *q == '(')
        depth++;
      else if ((*q == ']' || *q == ')') && --depth == 0)
        {
          q++;
          break;
        }
    }

  quoted = quote_text (p->p, q - p->p);
  g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
               ".npy descr %s is not supported: structured and subarray dtypes have "
               "no safetensors equivalent", quoted);
  return FALSE;
}

static gboolean
parse_entry (NpyParser  *p,
             GError    **error)
{
  const char *key;
  gsize key_len;
  const char *key_start = p->p;

  if (!parse_string (p, &key, &key_len, error))
    return FALSE;
  skip_space (p);
  if (!expect_char (p, ':', "':' after a key", error))
    return FALSE;
  skip_space (p);

#define KEY_IS(name) (key_len == strlen (name) && memcmp (key, name, key_len) == 0)
  if (KEY_IS ("descr") && p->descr == NULL)
    {
      if (p->p < p->end && (*p->p == '[' || *p->p == '('))
        return unsupported_compound_descr (p, error);
      return parse_string (p, &p->descr, &p->descr_len, error);
    }
  if (KEY_IS ("fortran_order") && !p->has_fortran_order)
    {
      p->has_fortran_order = TRUE;
      return parse_bool (p, &p->fortran_order, error);
    }
  if (KEY_IS ("shape") && !p->has_shape)
    {
      p->has_shape = TRUE;
      return parse_shape (p, error);
    }

  {
    g_autofree char *quoted = quote_text (key, key_len);
    gboolean known = KEY_IS ("descr") || KEY_IS ("fortran_order") || KEY_IS ("shape");

    return safetensors_set_invalid_data (error, ".npy header: %s key %s at byte %" G_GSIZE_FORMAT,
                         known ? "repeated" : "unexpected", quoted,
                         p->base + (key_start - p->text));
  }
#undef KEY_IS
}

/* {key: value, …} with an optional trailing comma, then only whitespace. */
static gboolean
parse_dict (NpyParser  *p,
            GError    **error)
{
  skip_space (p);
  if (!expect_char (p, '{', "'{'", error))
    return FALSE;
  skip_space (p);

  if (p->p < p->end && *p->p == '}')
    {
      p->p++;
    }
  else
    {
      for (;;)
        {
          if (!parse_entry (p, error))
            return FALSE;
          skip_space (p);

          if (p->p < p->end && *p->p == '}')
            {
              p->p++;
              break;
            }
          if (!expect_char (p, ',', "',' or '}' after a value", error))
            return FALSE;
          skip_space (p);
          if (p->p < p->end && *p->p == '}')
            {
              p->p++;
              break;
            }
        }
    }

  skip_space (p);
  if (p->p < p->end)
    return syntax_error (p, "only whitespace after the dictionary", error);

  return TRUE;
}

static gboolean
check_header_values (NpyParser             *p,
                     SafetensorsNpyHeader  *header,
                     GError               **error)
{
  const char *missing = p->descr == NULL ? "descr" :
                        !p->has_fortran_order ? "fortran_order" :
                        !p->has_shape ? "shape" : NULL;
  guint64 element_size;

  if (missing != NULL)
    return safetensors_set_invalid_data (error, ".npy header: no '%s' key", missing);

  if (!descr_to_dtype (p->descr, p->descr_len, &header->dtype, &header->big_endian))
    {
      g_autofree char *quoted = quote_text (p->descr, p->descr_len);

      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   ".npy descr %s is not supported: safetensors has no such dtype",
                   quoted);
      return FALSE;
    }

  header->fortran_order = p->fortran_order;
  header->n_dims = p->n_dims;
  header->n_elements = 1;
  for (guint d = 0; d < p->n_dims; d++)
    {
      if (!g_uint64_checked_mul (&header->n_elements, header->n_elements, p->shape[d]))
        return safetensors_set_invalid_data (error, ".npy header: the number of elements does not fit in 64 bits");
    }

  element_size = safetensors_dtype_get_bits (header->dtype) / 8;
  if (!g_uint64_checked_mul (&header->n_bytes, header->n_elements, element_size))
    return safetensors_set_invalid_data (error, ".npy header: the size of the array does not fit in 64 bits");

  if (p->n_dims > 0)
    header->shape = g_memdup2 (p->shape, p->n_dims * sizeof (guint64));

  return TRUE;
}

SafetensorsNpyHeader *
safetensors_npy_parse_header (const guint8  *data,
                              gsize          len,
                              gsize         *out_header_size,
                              GError       **error)
{
  g_autoptr(SafetensorsNpyHeader) header = NULL;
  g_autofree NpyParser *p = NULL;
  gsize header_size = 0;
  gsize text_len;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!safetensors_npy_get_header_size (data, len, &header_size, error))
    return NULL;
  if (len < header_size)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "truncated .npy array: its preamble takes %" G_GSIZE_FORMAT
                   " bytes, only %" G_GSIZE_FORMAT " are present", header_size, len);
      return NULL;
    }

  header = g_new0 (SafetensorsNpyHeader, 1);
  header->major_version = data[SAFETENSORS_NPY_MAGIC_LEN];
  header->data_offset = header_size;

  /* The parser holds a rank-1024 shape: keep it off the stack. */
  p = g_new0 (NpyParser, 1);
  p->base = header->major_version == 1 ? 10 : 12;
  p->text = (const char *) data + p->base;
  p->p = p->text;
  p->end = (const char *) data + header_size;
  p->allow_long = header->major_version < 3;
  text_len = header_size - p->base;

  if (text_len == 0 || p->text[text_len - 1] != '\n')
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   ".npy header does not end with a newline");
      return NULL;
    }
  if (header->major_version == 3 && !g_utf8_validate_len (p->text, text_len, NULL))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   ".npy header of format 3.0 is not valid UTF-8");
      return NULL;
    }

  if (!parse_dict (p, error) || !check_header_values (p, header, error))
    return NULL;

  if (out_header_size != NULL)
    *out_header_size = header_size;
  return g_steal_pointer (&header);
}
