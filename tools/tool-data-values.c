/* tool-data-values.c — decoding tensor elements and printing them the way
 * NumPy prints arrays, for `safetensors-tool dump`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tool-data-private.h"

/* NumPy's print options: threshold, edgeitems, linewidth, precision. */
#define DUMP_THRESHOLD 1000
#define DUMP_EDGE_ITEMS 3
#define DUMP_LINE_WIDTH 75
#define DUMP_PRECISION 8

/* ------------------------------------------------------------------ */
/* Decoding elements                                                  */
/* ------------------------------------------------------------------ */

typedef enum
{
  SPECIALS_IEEE,   /* all-ones exponent: inf and NaN */
  SPECIALS_FN,     /* no inf; all-ones exponent and mantissa is NaN */
  SPECIALS_FNUZ,   /* no inf, no negative zero; the negative zero code is NaN */
  SPECIALS_NONE,   /* every code is a finite number */
  SPECIALS_E8M0,   /* unsigned power of two; 0xff is NaN */
} Specials;

typedef struct
{
  guint    bits;
  guint    mbits;
  int      bias;
  Specials specials;
} MiniFloat;

/* The floating-point dtypes narrower than F32, or NULL. */
static const MiniFloat *
get_mini_float (SafetensorsDType dtype)
{
  static const MiniFloat f16 = { 16, 10, 15, SPECIALS_IEEE };
  static const MiniFloat bf16 = { 16, 7, 127, SPECIALS_IEEE };
  static const MiniFloat e5m2 = { 8, 2, 15, SPECIALS_IEEE };
  static const MiniFloat e4m3 = { 8, 3, 7, SPECIALS_FN };
  static const MiniFloat e4m3fnuz = { 8, 3, 8, SPECIALS_FNUZ };
  static const MiniFloat e5m2fnuz = { 8, 2, 16, SPECIALS_FNUZ };
  static const MiniFloat e8m0 = { 8, 0, 127, SPECIALS_E8M0 };
  static const MiniFloat e2m1 = { 4, 1, 1, SPECIALS_NONE };
  static const MiniFloat e2m3 = { 6, 3, 1, SPECIALS_NONE };
  static const MiniFloat e3m2 = { 6, 2, 3, SPECIALS_NONE };

  switch (dtype)
    {
    case SAFETENSORS_DTYPE_F16: return &f16;
    case SAFETENSORS_DTYPE_BF16: return &bf16;
    case SAFETENSORS_DTYPE_F8_E5M2: return &e5m2;
    case SAFETENSORS_DTYPE_F8_E4M3: return &e4m3;
    case SAFETENSORS_DTYPE_F8_E4M3FNUZ: return &e4m3fnuz;
    case SAFETENSORS_DTYPE_F8_E5M2FNUZ: return &e5m2fnuz;
    case SAFETENSORS_DTYPE_F8_E8M0: return &e8m0;
    case SAFETENSORS_DTYPE_F4: return &e2m1;
    case SAFETENSORS_DTYPE_F6_E2M3: return &e2m3;
    case SAFETENSORS_DTYPE_F6_E3M2: return &e3m2;
    default: return NULL;
    }
}

gboolean
tool_data_dtype_is_float (SafetensorsDType dtype)
{
  return get_mini_float (dtype) != NULL ||
         dtype == SAFETENSORS_DTYPE_F32 ||
         dtype == SAFETENSORS_DTYPE_F64 ||
         dtype == SAFETENSORS_DTYPE_C64;
}

/* x·2^e, exactly for the exponents used here; ldexp() would need libm. */
static double
scale_by_power_of_2 (double x,
                     int    e)
{
  for (; e > 0; e--)
    x *= 2;
  for (; e < 0; e++)
    x *= 0.5;
  return x;
}

static double
mini_float_decode (const MiniFloat *format,
                   guint32          code)
{
  guint32 sign_bit = 1u << (format->bits - 1);
  guint32 magnitude, exponent, mantissa, max_exponent;
  double value;

  if (format->specials == SPECIALS_E8M0)
    return code == 0xff ? NAN : scale_by_power_of_2 (1.0, (int) code - 127);
  if (format->specials == SPECIALS_FNUZ && code == sign_bit)
    return NAN;

  magnitude = code & (sign_bit - 1);
  exponent = magnitude >> format->mbits;
  mantissa = magnitude & ((1u << format->mbits) - 1);
  max_exponent = (1u << (format->bits - 1 - format->mbits)) - 1;

  if (format->specials == SPECIALS_IEEE && exponent == max_exponent)
    value = mantissa == 0 ? INFINITY : NAN;
  else if (format->specials == SPECIALS_FN && magnitude == sign_bit - 1)
    value = NAN;
  else if (exponent == 0)
    value = scale_by_power_of_2 (mantissa, 1 - format->bias - (int) format->mbits);
  else
    value = scale_by_power_of_2 ((1u << format->mbits) + mantissa,
                   (int) exponent - format->bias - (int) format->mbits);

  return (code & sign_bit) ? -value : value;
}

/* The code of element @index. F4 holds two elements per byte, the first in
 * the low nibble; F6 holds four in three bytes, read as a little-endian
 * 24-bit word from its lowest bits up. */
guint32
tool_data_read_code (const guint8 *data,
           guint         bits,
           guint64       index)
{
  switch (bits)
    {
    case 4:
      return (data[index / 2] >> (4 * (index % 2))) & 0xf;
    case 6:
      {
        const guint8 *p = data + 3 * (index / 4);
        guint32 word = p[0] | (p[1] << 8) | ((guint32) p[2] << 16);

        return (word >> (6 * (index % 4))) & 0x3f;
      }
    case 8:
      return data[index];
    default:
      return data[2 * index] | (data[2 * index + 1] << 8);
    }
}

static float
read_f32 (const guint8 *p)
{
  guint32 bits = GUINT32_FROM_LE (*(const guint32 *) (const void *) p);
  float value;

  memcpy (&value, &bits, sizeof value);
  return value;
}

static double
read_f64 (const guint8 *p)
{
  guint64 bits;
  double value;

  memcpy (&bits, p, sizeof bits);
  bits = GUINT64_FROM_LE (bits);
  memcpy (&value, &bits, sizeof value);
  return value;
}

/* Element @index of a float tensor; for C64, its real part (@imag gets the
 * imaginary one). */
double
tool_data_read_float (SafetensorsDType  dtype,
            const guint8     *data,
            guint64           index,
            double           *imag)
{
  const MiniFloat *format = get_mini_float (dtype);

  if (format != NULL)
    return mini_float_decode (format, tool_data_read_code (data, format->bits, index));
  if (dtype == SAFETENSORS_DTYPE_F32)
    return read_f32 (data + 4 * index);
  if (dtype == SAFETENSORS_DTYPE_F64)
    return read_f64 (data + 8 * index);

  g_assert (dtype == SAFETENSORS_DTYPE_C64);
  if (imag != NULL)
    *imag = read_f32 (data + 8 * index + 4);
  return read_f32 (data + 8 * index);
}

static gboolean
dtype_is_signed (SafetensorsDType dtype)
{
  return dtype == SAFETENSORS_DTYPE_I8 || dtype == SAFETENSORS_DTYPE_I16 ||
         dtype == SAFETENSORS_DTYPE_I32 || dtype == SAFETENSORS_DTYPE_I64;
}

/* Integer and BOOL elements, as raw little-endian bits sign-extended. */
static guint64
read_integer (SafetensorsDType  dtype,
              const guint8     *data,
              guint64           index)
{
  guint bytes = safetensors_dtype_get_bits (dtype) / 8;
  guint64 value = 0;

  for (guint i = 0; i < bytes; i++)
    value |= (guint64) data[index * bytes + i] << (8 * i);

  if (dtype_is_signed (dtype) && bytes < 8 && (value >> (8 * bytes - 1)) & 1)
    value |= G_MAXUINT64 << (8 * bytes);

  return value;
}

/* ------------------------------------------------------------------ */
/* Formatting numbers the way NumPy prints arrays                     */
/* ------------------------------------------------------------------ */

/* A float element and what tells it apart: for the narrow dtypes, the
 * magnitudes of the codes on either side of its own. */
typedef struct
{
  double value;
  double lo;
  double hi;
} FloatCell;

static FloatCell
read_float_cell (SafetensorsDType  dtype,
                 const guint8     *data,
                 guint64           index,
                 gboolean          imaginary)
{
  const MiniFloat *format = get_mini_float (dtype);
  FloatCell cell = { 0, NAN, NAN };
  double imag = 0;

  if (format == NULL)
    {
      cell.value = tool_data_read_float (dtype, data, index, &imag);
      if (imaginary)
        cell.value = imag;
      return cell;
    }

  {
    guint32 code = tool_data_read_code (data, format->bits, index);
    guint32 limit = format->specials == SPECIALS_E8M0 ? 0x100 : 1u << (format->bits - 1);
    guint32 magnitude = code & (limit - 1);

    cell.value = mini_float_decode (format, code);
    cell.lo = magnitude > 0 ? mini_float_decode (format, magnitude - 1)
                            : -mini_float_decode (format, 1);
    cell.hi = magnitude + 1 < limit ? mini_float_decode (format, magnitude + 1) : NAN;
  }

  return cell;
}

/* Whether @text reads back as @cell rather than as a neighbour of it in
 * its dtype. */
static gboolean
reads_back (SafetensorsDType  dtype,
            const FloatCell  *cell,
            const char       *text)
{
  double parsed = g_ascii_strtod (text, NULL);
  double magnitude = fabs (cell->value);
  double distance;

  if (dtype == SAFETENSORS_DTYPE_F64)
    return parsed == cell->value;
  if (get_mini_float (dtype) == NULL)
    return (float) parsed == (float) cell->value;

  parsed = fabs (parsed);
  distance = fabs (parsed - magnitude);
  if (isfinite (cell->lo) && distance >= fabs (parsed - cell->lo))
    return FALSE;
  if (isfinite (cell->hi) && distance >= fabs (parsed - cell->hi))
    return FALSE;
  return TRUE;
}

static const char *const exp_formats[] = {
  "%.0e", "%.1e", "%.2e", "%.3e", "%.4e", "%.5e", "%.6e", "%.7e", "%.8e",
  "%.9e", "%.10e", "%.11e", "%.12e", "%.13e", "%.14e", "%.15e", "%.16e",
};

static const char *const fixed_formats[] = {
  "%.0f", "%.1f", "%.2f", "%.3f", "%.4f", "%.5f", "%.6f", "%.7f", "%.8f",
};

/* The shortest scientific text ("d.ddde+XX") that reads back as @cell;
 * its digit count is in @n_digits. */
static void
format_shortest (SafetensorsDType  dtype,
                 const FloatCell  *cell,
                 char             *buffer,
                 gsize             size,
                 guint            *n_digits)
{
  for (guint digits = 1; digits <= G_N_ELEMENTS (exp_formats); digits++)
    {
      g_ascii_formatd (buffer, size, exp_formats[digits - 1], cell->value);
      if (reads_back (dtype, cell, buffer) || digits == G_N_ELEMENTS (exp_formats))
        {
          *n_digits = digits;
          return;
        }
    }
}

/* "1.5000" → "1.5", "2.000" → "2.", as NumPy trims. */
static void
trim_zeros (GString *text)
{
  while (text->len > 0 && text->str[text->len - 1] == '0' && strchr (text->str, '.') != NULL)
    g_string_truncate (text, text->len - 1);
  if (strchr (text->str, '.') == NULL)
    g_string_append_c (text, '.');
}

static char *
format_non_finite (double value)
{
  if (isnan (value))
    return g_strdup ("nan");
  return g_strdup (value > 0 ? "inf" : "-inf");
}

/* Formats @n_cells floats with NumPy's rules: scientific notation for all
 * if the magnitudes span more than 1e3 or leave [1e-4, 1e8), at most eight
 * fraction digits, decimal points aligned. */
static void
format_float_column (SafetensorsDType  dtype,
                     const FloatCell  *cells,
                     guint             n_cells,
                     gboolean          plus_sign,
                     char            **out)
{
  double max_val = 0, min_val = INFINITY;
  gboolean exp_format;
  gsize pad_left = 0, pad_right = 0, exp_size = 0;
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < n_cells; i++)
    {
      double magnitude = fabs (cells[i].value);

      if (isfinite (magnitude) && magnitude != 0)
        {
          max_val = MAX (max_val, magnitude);
          min_val = MIN (min_val, magnitude);
        }
    }
  exp_format = max_val >= 1e8 || (max_val > 0 && (min_val < 1e-4 || max_val / min_val > 1e3));

  /* First pass: each finite number on its own, and the widths. */
  for (guint i = 0; i < n_cells; i++)
    {
      char buffer[64];
      guint n_digits = 0;
      GString *text;
      const char *dot, *e;

      if (!isfinite (cells[i].value))
        {
          g_ptr_array_add (texts, NULL);
          continue;
        }

      format_shortest (dtype, &cells[i], buffer, sizeof buffer, &n_digits);
      if (exp_format)
        {
          g_autofree char *exponent = NULL;

          g_ascii_formatd (buffer, sizeof buffer,
                           exp_formats[MIN (n_digits - 1, DUMP_PRECISION)], cells[i].value);
          e = strchr (buffer, 'e');
          exponent = g_strdup (e + 1);
          text = g_string_new_len (buffer, e - buffer);
          trim_zeros (text);
          g_string_append_c (text, 'e');
          g_string_append (text, exponent);
          exp_size = MAX (exp_size, strlen (exponent) - 1);
        }
      else
        {
          int exponent = atoi (strchr (buffer, 'e') + 1);
          int fraction = CLAMP ((int) n_digits - 1 - exponent, 0, DUMP_PRECISION);

          g_ascii_formatd (buffer, sizeof buffer, fixed_formats[fraction], cells[i].value);
          text = g_string_new (buffer);
          trim_zeros (text);
        }
      if (plus_sign && text->str[0] != '-')
        g_string_prepend_c (text, '+');

      dot = strchr (text->str, '.');
      e = strchr (text->str, 'e');
      pad_left = MAX (pad_left, (gsize) (dot - text->str));
      pad_right = MAX (pad_right, (gsize) ((e != NULL ? e : text->str + text->len) - dot - 1));
      g_ptr_array_add (texts, g_string_free (text, FALSE));
    }

  /* NaN and infinities widen the integer part if they are too long. */
  for (guint i = 0; i < n_cells; i++)
    if (!isfinite (cells[i].value))
      {
        gsize rest = 1 + pad_right + (exp_format ? exp_size + 2 : 0);
        gsize len = isnan (cells[i].value) || cells[i].value > 0 ? 3 + (plus_sign ? 1 : 0) : 4;

        if (len > rest)
          pad_left = MAX (pad_left, len - rest);
      }

  /* Second pass: pad. In scientific notation NumPy pads the fraction with
   * zeros and the exponent to the same number of digits. */
  for (guint i = 0; i < n_cells; i++)
    {
      const char *text = g_ptr_array_index (texts, i);
      GString *padded = g_string_new (NULL);
      gsize width = pad_left + 1 + pad_right + (exp_format ? exp_size + 2 : 0);

      if (text == NULL)
        {
          g_autofree char *word = format_non_finite (cells[i].value);

          if (plus_sign && word[0] != '-')
            g_string_append_c (padded, '+');
          g_string_append (padded, word);
          while (padded->len < width)
            g_string_prepend_c (padded, ' ');
          out[i] = g_string_free (padded, FALSE);
          continue;
        }

      {
        const char *dot = strchr (text, '.');
        const char *e = strchr (text, 'e');
        gsize int_len = dot - text;
        gsize frac_len = (e != NULL ? (gsize) (e - dot - 1) : strlen (dot + 1));

        for (gsize k = int_len; k < pad_left; k++)
          g_string_append_c (padded, ' ');
        g_string_append_len (padded, text, int_len + 1 + frac_len);
        for (gsize k = frac_len; k < pad_right; k++)
          g_string_append_c (padded, exp_format ? '0' : ' ');
        if (e != NULL)
          {
            g_string_append_len (padded, e, 2);
            for (gsize k = strlen (e + 2); k < exp_size; k++)
              g_string_append_c (padded, '0');
            g_string_append (padded, e + 2);
          }
      }
      out[i] = g_string_free (padded, FALSE);
    }
}

static char *
format_integer (SafetensorsDType dtype,
                guint64          value)
{
  if (dtype == SAFETENSORS_DTYPE_BOOL)
    return g_strdup (value != 0 ? "True" : "False");
  if (dtype_is_signed (dtype))
    return g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) value);
  return g_strdup_printf ("%" G_GUINT64_FORMAT, value);
}

/* Formats the elements at @indices, all of the same width. */
static char **
format_elements (SafetensorsDType  dtype,
                 const guint8     *data,
                 const guint64    *indices,
                 guint             n_indices)
{
  char **out = g_new0 (char *, n_indices + 1);
  gsize width = 0;

  if (tool_data_dtype_is_float (dtype))
    {
      g_autofree FloatCell *cells = g_new (FloatCell, n_indices);

      for (guint i = 0; i < n_indices; i++)
        cells[i] = read_float_cell (dtype, data, indices[i], FALSE);
      format_float_column (dtype, cells, n_indices, FALSE, out);

      /* NumPy writes complex numbers as "re+imj", the padding after the j. */
      if (dtype == SAFETENSORS_DTYPE_C64)
        {
          g_auto(GStrv) imag = g_new0 (char *, n_indices + 1);

          for (guint i = 0; i < n_indices; i++)
            cells[i] = read_float_cell (dtype, data, indices[i], TRUE);
          format_float_column (dtype, cells, n_indices, TRUE, imag);
          for (guint i = 0; i < n_indices; i++)
            {
              gsize len = strlen (imag[i]);
              gsize trimmed = len;
              char *joined;

              while (trimmed > 0 && imag[i][trimmed - 1] == ' ')
                trimmed--;
              joined = g_strdup_printf ("%s%.*sj%*s", out[i], (int) trimmed, imag[i],
                                        (int) (len - trimmed), "");
              g_free (out[i]);
              out[i] = joined;
            }
        }
      return out;
    }

  for (guint i = 0; i < n_indices; i++)
    {
      out[i] = format_integer (dtype, read_integer (dtype, data, indices[i]));
      width = MAX (width, strlen (out[i]));
    }
  /* NumPy pads True as " True" whether or not a False is shown. */
  if (dtype == SAFETENSORS_DTYPE_BOOL)
    width = 5;
  for (guint i = 0; i < n_indices; i++)
    {
      char *padded = g_strdup_printf ("%*s", (int) width, out[i]);

      g_free (out[i]);
      out[i] = padded;
    }

  return out;
}

/* ------------------------------------------------------------------ */
/* Laying out an array                                                */
/* ------------------------------------------------------------------ */

typedef struct
{
  const guint64 *shape;
  guint          n_dims;
  guint64       *strides;   /* in elements */
  gboolean       summarize;
  GArray        *indices;   /* the elements shown, in print order */
  char         **words;     /* their text, once formatted */
  guint          next_word;
} Layout;

static gboolean
layout_summarizes (const Layout *layout,
                   guint         axis)
{
  return layout->summarize && layout->shape[axis] > 2 * DUMP_EDGE_ITEMS;
}

/* The positions along @axis that are printed, in order; G_MAXUINT64 stands
 * for the "..." in between. */
static GArray *
layout_positions (const Layout *layout,
                  guint         axis)
{
  GArray *positions = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint64 n = layout->shape[axis];

  if (layout_summarizes (layout, axis))
    {
      guint64 ellipsis = G_MAXUINT64;

      for (guint64 i = 0; i < DUMP_EDGE_ITEMS; i++)
        g_array_append_val (positions, i);
      g_array_append_val (positions, ellipsis);
      for (guint64 i = n - DUMP_EDGE_ITEMS; i < n; i++)
        g_array_append_val (positions, i);
    }
  else
    {
      for (guint64 i = 0; i < n; i++)
        g_array_append_val (positions, i);
    }

  return positions;
}

static void
layout_collect (Layout  *layout,
                guint    axis,
                guint64  offset)
{
  g_autoptr(GArray) positions = NULL;

  if (axis == layout->n_dims)
    {
      g_array_append_val (layout->indices, offset);
      return;
    }

  positions = layout_positions (layout, axis);
  for (guint i = 0; i < positions->len; i++)
    {
      guint64 position = g_array_index (positions, guint64, i);

      if (position != G_MAXUINT64)
        layout_collect (layout, axis + 1, offset + position * layout->strides[axis]);
    }
}

/* NumPy's _extendLine: wrap before a word that would pass the width. */
static void
extend_line (GString    *s,
             GString    *line,
             const char *word,
             gsize       width,
             const char *indent)
{
  if (line->len + strlen (word) > width && line->len > strlen (indent))
    {
      while (line->len > 0 && line->str[line->len - 1] == ' ')
        g_string_truncate (line, line->len - 1);
      g_string_append (s, line->str);
      g_string_append_c (s, '\n');
      g_string_assign (line, indent);
    }
  g_string_append (line, word);
}

/* NumPy's _formatArray recurser, with " " between elements. */
static char *
layout_format (Layout     *layout,
               guint       axis,
               const char *indent,
               gsize       width)
{
  g_autoptr(GArray) positions = NULL;
  g_autoptr(GString) s = g_string_new (NULL);
  g_autofree char *next_indent = NULL;
  guint axes_left = layout->n_dims - axis;

  if (axes_left == 0)
    return g_strdup (layout->words[layout->next_word++]);

  positions = layout_positions (layout, axis);
  next_indent = g_strconcat (indent, " ", NULL);

  if (axes_left == 1)
    {
      g_autoptr(GString) line = g_string_new (indent);

      for (guint i = 0; i < positions->len; i++)
        {
          gboolean ellipsis = g_array_index (positions, guint64, i) == G_MAXUINT64;
          g_autofree char *word = ellipsis ? g_strdup ("...") : layout_format (layout, axis + 1, next_indent, width - 1);

          extend_line (s, line, word, width - 1, indent);
          if (i + 1 < positions->len)
            g_string_append_c (line, ' ');
        }
      g_string_append (s, line->str);
    }
  else
    {
      for (guint i = 0; i < positions->len; i++)
        {
          gboolean ellipsis = g_array_index (positions, guint64, i) == G_MAXUINT64;
          g_autofree char *nested = ellipsis ? g_strdup ("...") : layout_format (layout, axis + 1, next_indent, width - 1);

          g_string_append (s, indent);
          g_string_append (s, nested);
          if (i + 1 < positions->len)
            for (guint k = 0; k < axes_left - 1; k++)
              g_string_append_c (s, '\n');
        }
    }

  return g_strdup_printf ("[%s]", s->str + strlen (indent));
}

/* Appends the elements of @data, of @shape, as NumPy's str() would. */
void
tool_data_append_text (GString          *out,
                   SafetensorsDType  dtype,
                   const guint8     *data,
                   const guint64    *shape,
                   guint             n_dims,
                   guint64           n_elements,
                   gboolean          full)
{
  g_autofree guint64 *strides = g_new0 (guint64, MAX (n_dims, 1));
  g_autofree char *text = NULL;
  Layout layout = {
    .shape = shape,
    .n_dims = n_dims,
    .strides = strides,
    .summarize = !full && n_elements > DUMP_THRESHOLD,
  };

  for (guint i = n_dims; i > 0; i--)
    strides[i - 1] = i == n_dims ? 1 : strides[i] * shape[i];

  layout.indices = g_array_new (FALSE, FALSE, sizeof (guint64));
  layout_collect (&layout, 0, 0);
  layout.words = format_elements (dtype, data, (const guint64 *) (gpointer) layout.indices->data,
                                  layout.indices->len);

  text = layout_format (&layout, 0, " ", DUMP_LINE_WIDTH);
  g_string_append (out, text);
  g_string_append_c (out, '\n');

  g_strfreev (layout.words);
  g_array_unref (layout.indices);
}

/* ------------------------------------------------------------------ */
/* JSON values                                                        */
/* ------------------------------------------------------------------ */

static void
append_float_json (GString          *out,
                   const FloatCell  *cell)
{
  char buffer[64];
  char format[16];
  guint n_digits = 0;
  int exponent;

  /* JSON has no NaN or infinities: they are strings, as NumPy prints them. */
  if (!isfinite (cell->value))
    {
      g_autofree char *word = format_non_finite (cell->value);

      tool_json_append_string (out, word);
      return;
    }

  /* JSON readers parse numbers as doubles: print the exact value of the
   * element as a double, not the shortest text its own dtype reads back
   * (which for 0.1f would be 0.1). %g with the shortest digit count, but
   * integers up to 1e17 in full: "10", not "1e+01". */
  format_shortest (SAFETENSORS_DTYPE_F64, cell, buffer, sizeof buffer, &n_digits);
  exponent = atoi (strchr (buffer, 'e') + 1);
  if (exponent >= 0 && exponent < 17)
    n_digits = MAX (n_digits, (guint) exponent + 1);
  g_snprintf (format, sizeof format, "%%.%ug", n_digits);
  g_ascii_formatd (buffer, sizeof buffer, format, cell->value);
  g_string_append (out, buffer);
}

static void
append_element_json (GString          *out,
                     SafetensorsDType  dtype,
                     const guint8     *data,
                     guint64           index)
{
  if (dtype == SAFETENSORS_DTYPE_C64)
    {
      FloatCell re = read_float_cell (dtype, data, index, FALSE);
      FloatCell im = read_float_cell (dtype, data, index, TRUE);

      g_string_append_c (out, '[');
      append_float_json (out, &re);
      g_string_append_c (out, ',');
      append_float_json (out, &im);
      g_string_append_c (out, ']');
    }
  else if (tool_data_dtype_is_float (dtype))
    {
      FloatCell cell = read_float_cell (dtype, data, index, FALSE);

      append_float_json (out, &cell);
    }
  else if (dtype == SAFETENSORS_DTYPE_BOOL)
    {
      g_string_append (out, read_integer (dtype, data, index) ? "true" : "false");
    }
  else
    {
      g_autofree char *text = format_integer (dtype, read_integer (dtype, data, index));

      g_string_append (out, text);
    }
}

void
tool_data_append_json (GString          *out,
                   SafetensorsDType  dtype,
                   const guint8     *data,
                   const guint64    *shape,
                   guint             n_dims,
                   guint64           offset)
{
  guint64 stride = 1;

  if (n_dims == 0)
    {
      append_element_json (out, dtype, data, offset);
      return;
    }

  for (guint i = 1; i < n_dims; i++)
    stride *= shape[i];

  g_string_append_c (out, '[');
  for (guint64 i = 0; i < shape[0]; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      tool_data_append_json (out, dtype, data, shape + 1, n_dims - 1, offset + i * stride);
    }
  g_string_append_c (out, ']');
}
