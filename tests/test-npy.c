/* test-npy.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <safetensors-glib/safetensors-glib.h>

#include "safetensors-npy-private.h"

/* A .npy preamble around @text (which should end in '\n'), with the
 * length field of format @major. */
static GBytes *
make_npy_len (guint8      major,
              const char *text,
              gsize       len)
{
  GByteArray *out = g_byte_array_new ();
  guint8 version[2] = { major, 0 };
  guint n_len_bytes = major == 1 ? 2 : 4;

  g_byte_array_append (out, (const guint8 *) "\x93NUMPY", 6);
  g_byte_array_append (out, version, 2);
  for (guint i = 0; i < n_len_bytes; i++)
    {
      guint8 byte = (len >> (8 * i)) & 0xff;

      g_byte_array_append (out, &byte, 1);
    }
  g_byte_array_append (out, (const guint8 *) text, len);

  return g_byte_array_free_to_bytes (out);
}

static GBytes *
make_npy (guint8      major,
          const char *text)
{
  return make_npy_len (major, text, strlen (text));
}

static SafetensorsNpyHeader *
parse_bytes (GBytes  *bytes,
             GError **error)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  gsize header_size = 0;
  SafetensorsNpyHeader *header;

  header = safetensors_npy_parse_header (data, len, &header_size, error);
  /* NULL exactly when the error is set. */
  g_assert_true ((header == NULL) == (error != NULL && *error != NULL));
  if (header != NULL)
    {
      g_assert_cmpuint (header_size, ==, header->data_offset);
      g_assert_cmpuint (header_size, <=, len);
    }

  return header;
}

static SafetensorsNpyHeader *
parse_text (guint8       major,
            const char  *text,
            GError     **error)
{
  g_autoptr(GBytes) bytes = make_npy (major, text);

  return parse_bytes (bytes, error);
}

/* ------------------------------------------------------------------ */
/* Emitter                                                            */
/* ------------------------------------------------------------------ */

typedef struct
{
  SafetensorsDType  dtype;
  guint64           shape[10];
  guint             n_dims;
  gsize             len;
  const char       *bytes;
} SavedHeader;

/* Generated once with Debian's numpy 1.24.2: np.save () of np.zeros (shape,
 * dtype), or numpy.lib.format._write_array_header (), which np.save () calls,
 * for shapes too large to allocate. */
static const SavedHeader saved_headers[] = {
  { SAFETENSORS_DTYPE_F32, { 2, 3 }, 2, 128,
    "\223NUMPY\001\000v\000{'descr': '<f4', 'fortran_order': False, 'shap"
    "e': (2, 3), }                                                       "
    "   \n" },
  { SAFETENSORS_DTYPE_BOOL, { 0 }, 0, 128,
    "\223NUMPY\001\000v\000{'descr': '|b1', 'fortran_order': False, 'shap"
    "e': (), }                                                           "
    "   \n" },
  { SAFETENSORS_DTYPE_C64, { 0 }, 1, 128,
    "\223NUMPY\001\000v\000{'descr': '<c8', 'fortran_order': False, 'shap"
    "e': (0,), }                                                         "
    "   \n" },
  { SAFETENSORS_DTYPE_U8, { 5 }, 1, 128,
    "\223NUMPY\001\000v\000{'descr': '|u1', 'fortran_order': False, 'shap"
    "e': (5,), }                                                         "
    "   \n" },
  { SAFETENSORS_DTYPE_I8, { 1, 2, 3, 4 }, 4, 128,
    "\223NUMPY\001\000v\000{'descr': '|i1', 'fortran_order': False, 'shap"
    "e': (1, 2, 3, 4), }                                                 "
    "   \n" },
  { SAFETENSORS_DTYPE_U16, { 7 }, 1, 128,
    "\223NUMPY\001\000v\000{'descr': '<u2', 'fortran_order': False, 'shap"
    "e': (7,), }                                                         "
    "   \n" },
  { SAFETENSORS_DTYPE_I16, { 3, 0 }, 2, 128,
    "\223NUMPY\001\000v\000{'descr': '<i2', 'fortran_order': False, 'shap"
    "e': (3, 0), }                                                       "
    "   \n" },
  { SAFETENSORS_DTYPE_U32, { 1 }, 1, 128,
    "\223NUMPY\001\000v\000{'descr': '<u4', 'fortran_order': False, 'shap"
    "e': (1,), }                                                         "
    "   \n" },
  { SAFETENSORS_DTYPE_I32, { 2, 2 }, 2, 128,
    "\223NUMPY\001\000v\000{'descr': '<i4', 'fortran_order': False, 'shap"
    "e': (2, 2), }                                                       "
    "   \n" },
  { SAFETENSORS_DTYPE_U64, { 0 }, 0, 128,
    "\223NUMPY\001\000v\000{'descr': '<u8', 'fortran_order': False, 'shap"
    "e': (), }                                                           "
    "   \n" },
  { SAFETENSORS_DTYPE_F16, { 4 }, 1, 128,
    "\223NUMPY\001\000v\000{'descr': '<f2', 'fortran_order': False, 'shap"
    "e': (4,), }                                                         "
    "   \n" },
  { SAFETENSORS_DTYPE_F64, { 10, 1 }, 2, 128,
    "\223NUMPY\001\000v\000{'descr': '<f8', 'fortran_order': False, 'shap"
    "e': (10, 1), }                                                      "
    "   \n" },
  { SAFETENSORS_DTYPE_I64, { 9223372036854775807, 0 }, 2, 128,
    "\223NUMPY\001\000v\000{'descr': '<i8', 'fortran_order': False, 'shap"
    "e': (9223372036854775807, 0), }                                     "
    "   \n" },
  { SAFETENSORS_DTYPE_F64, { 100, 100, 100, 100, 100, 100, 100, 100, 100, 100 }, 10, 192,
    "\223NUMPY\001\000\266\000{'descr': '<f8', 'fortran_order': False, 's"
    "hape': (100, 100, 100, 100, 100, 100, 100, 100, 100, 100), }        "
    "                                                                    "
    "  \n" },
  { SAFETENSORS_DTYPE_U16, { 123456789012345678, 1, 1, 1 }, 4, 128,
    "\223NUMPY\001\000v\000{'descr': '<u2', 'fortran_order': False, 'shap"
    "e': (123456789012345678, 1, 1, 1), }                                "
    "   \n" },
};

static void
test_build_numpy_bytes (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (saved_headers); i++)
    {
      const SavedHeader *saved = &saved_headers[i];
      g_autoptr(GBytes) built = NULL;
      g_autoptr(SafetensorsNpyHeader) parsed = NULL;
      g_autoptr(GError) error = NULL;
      gsize len = 0;
      const guint8 *data;
      guint64 n_elements = 1;
      gboolean fits = TRUE;

      for (guint d = 0; d < saved->n_dims; d++)
        fits = fits && g_uint64_checked_mul (&n_elements, n_elements, saved->shape[d]);

      built = safetensors_npy_build_header (saved->dtype, saved->shape, saved->n_dims, &error);
      g_assert_no_error (error);
      data = g_bytes_get_data (built, &len);
      g_assert_cmpmem (data, len, saved->bytes, saved->len);
      g_assert_cmpuint (len % 64, ==, 0);

      /* And back, unless the shape is one no array can have. */
      parsed = parse_bytes (built, &error);
      if (!fits)
        {
          g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA);
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpint (parsed->major_version, ==, 1);
      g_assert_cmpint (parsed->dtype, ==, saved->dtype);
      g_assert_false (parsed->big_endian);
      g_assert_false (parsed->fortran_order);
      g_assert_cmpmem (parsed->shape, parsed->n_dims * sizeof (guint64),
                       saved->shape, saved->n_dims * sizeof (guint64));
      g_assert_cmpuint (parsed->data_offset, ==, saved->len);
    }
}

/* np.save () switches to format 2.0 past 65535 header bytes. NumPy cannot
 * make such an array (32 dimensions at most), but its header writer can:
 * numpy.lib.format._write_array_header () with shape (1,) * 30000 gives
 * these 90112 bytes. */
static void
test_build_version_2 (void)
{
  g_autofree guint64 *shape = g_new (guint64, 30000);
  g_autoptr(GBytes) built = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *checksum = NULL;
  const guint8 *data;
  gsize len = 0;

  for (guint i = 0; i < 30000; i++)
    shape[i] = 1;

  built = safetensors_npy_build_header (SAFETENSORS_DTYPE_F32, shape, 30000, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (built, &len);
  g_assert_cmpuint (len, ==, 90112);
  g_assert_cmpmem (data, 12, "\x93NUMPY\x02\x00\xf4\x5f\x01\x00", 12);
  checksum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, built);
  g_assert_cmpstr (checksum, ==, "a4930074fc93fada2cca7c7da1904871f6d63eaffb56c0d42101778ff85b12ea");
}

static void
test_build_errors (void)
{
  const SafetensorsDType no_numpy[] = {
    SAFETENSORS_DTYPE_BF16, SAFETENSORS_DTYPE_F8_E4M3, SAFETENSORS_DTYPE_F8_E5M2,
    SAFETENSORS_DTYPE_F8_E8M0, SAFETENSORS_DTYPE_F8_E4M3FNUZ, SAFETENSORS_DTYPE_F8_E5M2FNUZ,
    SAFETENSORS_DTYPE_F4, SAFETENSORS_DTYPE_F6_E2M3, SAFETENSORS_DTYPE_F6_E3M2,
  };
  const guint64 too_large[] = { G_GUINT64_CONSTANT (9223372036854775808), 0 };
  const guint64 shape[] = { 2 };

  for (guint i = 0; i < G_N_ELEMENTS (no_numpy); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) built = safetensors_npy_build_header (no_numpy[i], shape, 1, &error);

      g_assert_null (built);
      g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED);
      g_assert_nonnull (strstr (error->message, safetensors_dtype_to_string (no_numpy[i])));
      g_assert_null (safetensors_npy_dtype_to_descr (no_numpy[i]));
    }

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) built = safetensors_npy_build_header (SAFETENSORS_DTYPE_U8, too_large, 2, &error);

    g_assert_null (built);
    g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
  }
}

/* ------------------------------------------------------------------ */
/* Parser: valid input                                                */
/* ------------------------------------------------------------------ */

static void
test_parse_descrs (void)
{
  static const struct {
    const char *code;
    SafetensorsDType dtype;
  } types[] = {
    { "b1", SAFETENSORS_DTYPE_BOOL }, { "u1", SAFETENSORS_DTYPE_U8 },
    { "i1", SAFETENSORS_DTYPE_I8 }, { "u2", SAFETENSORS_DTYPE_U16 },
    { "i2", SAFETENSORS_DTYPE_I16 }, { "u4", SAFETENSORS_DTYPE_U32 },
    { "i4", SAFETENSORS_DTYPE_I32 }, { "u8", SAFETENSORS_DTYPE_U64 },
    { "i8", SAFETENSORS_DTYPE_I64 }, { "f2", SAFETENSORS_DTYPE_F16 },
    { "f4", SAFETENSORS_DTYPE_F32 }, { "f8", SAFETENSORS_DTYPE_F64 },
    { "c8", SAFETENSORS_DTYPE_C64 },
  };
  const char orders[] = "<>=|";

  for (guint t = 0; t < G_N_ELEMENTS (types); t++)
    for (guint o = 0; o < 4; o++)
      {
        g_autoptr(SafetensorsNpyHeader) header = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;
        guint bytes = safetensors_dtype_get_bits (types[t].dtype) / 8;
        gboolean big;

        text = g_strdup_printf ("{'descr': '%c%s', 'fortran_order': False, 'shape': (3,), }\n",
                                orders[o], types[t].code);
        header = parse_text (1, text, &error);

        if (orders[o] == '|' && bytes > 1)
          {
            /* Wider types need a byte order. */
            g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED);
            g_assert_nonnull (strstr (error->message, types[t].code));
            continue;
          }

        g_assert_no_error (error);
        big = bytes > 1 && (orders[o] == '>' ||
                            (orders[o] == '=' && G_BYTE_ORDER == G_BIG_ENDIAN));
        g_assert_cmpint (header->dtype, ==, types[t].dtype);
        g_assert_cmpint (header->big_endian, ==, big);
        g_assert_cmpuint (header->n_dims, ==, 1);
        g_assert_cmpuint (header->shape[0], ==, 3);
        g_assert_cmpuint (header->n_elements, ==, 3);
        g_assert_cmpuint (header->n_bytes, ==, 3 * bytes);
        g_assert_cmpuint (header->data_offset, ==, 10 + strlen (text));
      }
}

/* numpy.lib.format.write_array (f, np.arange (6.).reshape (3, 2),
 * version=(2, 0)) and version=(3, 0), without the data. */
static const char numpy_v2[] =
    "\223NUMPY\002\000t\000\000\000{'descr': '<f8', 'fortran_order': Fals"
    "e, 'shape': (3, 2), }                                               "
    "         \n";
static const char numpy_v3[] =
    "\223NUMPY\003\000t\000\000\000{'descr': '<f8', 'fortran_order': Fals"
    "e, 'shape': (3, 2), }                                               "
    "         \n";

static void
test_parse_versions (void)
{
  const char *files[] = { numpy_v2, numpy_v3 };

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autoptr(SafetensorsNpyHeader) header = NULL;
      g_autoptr(GError) error = NULL;
      gsize header_size = 0;

      header = safetensors_npy_parse_header ((const guint8 *) files[i], 128, &header_size, &error);
      g_assert_no_error (error);
      g_assert_cmpint (header->major_version, ==, i + 2);
      g_assert_cmpint (header->dtype, ==, SAFETENSORS_DTYPE_F64);
      g_assert_cmpuint (header->n_dims, ==, 2);
      g_assert_cmpuint (header->shape[0], ==, 3);
      g_assert_cmpuint (header->shape[1], ==, 2);
      g_assert_cmpuint (header->n_bytes, ==, 48);
      g_assert_cmpuint (header_size, ==, 128);
    }

  /* Format 3.0 allows UTF-8 in the header; it has no place in a valid
   * one, but must not confuse the parser. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(SafetensorsNpyHeader) header =
      parse_text (3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), '\xc3\xa9': 1}\n", &error);

    g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA);
    g_assert_nonnull (strstr (error->message, "\\xc3\\xa9"));
  }
}

/* np.save (f, np.asfortranarray (np.arange (24, dtype='>i4').reshape (2, 3, 4))) */
static const char numpy_fortran_big_endian[] =
    "\223NUMPY\001\000v\000{'descr': '>i4', 'fortran_order': True, 'shape"
    "': (2, 3, 4), }                                                     "
    "   \n\000\000\000\000\000\000\000\014\000\000\000\004\000\000\000\020"
    "\000\000\000\010\000\000\000\024\000\000\000\001\000\000\000\015\000"
    "\000\000\005\000\000\000\021\000\000\000\011\000\000\000\025\000\000"
    "\000\002\000\000\000\016\000\000\000\006\000\000\000\022\000\000\000"
    "\n\000\000\000\026\000\000\000\003\000\000\000\017\000\000\000\007\000"
    "\000\000\023\000\000\000\013\000\000\000\027";

static void
test_parse_fortran_big_endian (void)
{
  g_autoptr(SafetensorsNpyHeader) header = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *data = NULL;
  gsize len = sizeof numpy_fortran_big_endian - 1;
  const guint64 shape[] = { 2, 3, 4 };

  header = safetensors_npy_parse_header ((const guint8 *) numpy_fortran_big_endian, len,
                                         NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (header->dtype, ==, SAFETENSORS_DTYPE_I32);
  g_assert_true (header->big_endian);
  g_assert_true (header->fortran_order);
  g_assert_cmpmem (header->shape, 3 * sizeof (guint64), shape, sizeof shape);
  g_assert_cmpuint (header->n_elements, ==, 24);
  g_assert_cmpuint (header->n_bytes, ==, 96);
  g_assert_cmpuint (header->data_offset + header->n_bytes, ==, len);

  data = g_memdup2 (numpy_fortran_big_endian + header->data_offset, header->n_bytes);
  safetensors_npy_byteswap (data, header->n_bytes, safetensors_npy_get_swap_size (header->dtype));

  /* Reordered in uneven pieces, as the importer does with its buffer. */
  for (guint piece = 1; piece <= 24; piece++)
    {
      gint32 values[24];

      for (guint first = 0; first < 24; first += piece)
        safetensors_npy_fortran_to_c (data, 4, header->shape, header->n_dims, first,
                                      (guint8 *) (values + first), MIN (piece, 24 - first));

      for (gint32 i = 0; i < 24; i++)
        g_assert_cmpint (GINT32_FROM_LE (values[i]), ==, i);
    }
}

static void
test_parse_variants (void)
{
  static const struct {
    guint8 major;
    const char *text;
    gboolean fortran_order;
    guint n_dims;
    guint64 shape[3];
  } variants[] = {
    /* Other writers' spellings: double quotes, other key orders, no
     * trailing comma, no padding, tabs and newlines. */
    { 1, "{\"descr\": \"<f4\", \"fortran_order\": false, \"shape\": (2, 3)}\n", FALSE, 99 },
    { 1, "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,3)}\n", FALSE, 2, { 2, 3 } },
    { 1, "{'shape': (2, 3), 'fortran_order': True, 'descr': '<f4'}   \n", TRUE, 2, { 2, 3 } },
    { 1, "{\n\t'descr' : '<f4' ,\n\t'fortran_order' : False ,\n\t'shape' : ( 2 , 3 , ) ,\n}\n", FALSE, 2, { 2, 3 } },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n", FALSE, 0 },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }\n", FALSE, 1, { 5 } },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 7, 0), }\n", FALSE, 3, { 0, 7, 0 } },
    /* Python 2's longs, in the formats it could write. */
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }\n", FALSE, 2, { 2, 3 } },
    { 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }\n", FALSE, 1, { 2 } },
    /* Old files aligned to 16 bytes: any length is accepted. */
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }   \n", FALSE, 2, { 2, 3 } },
    { 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 0), }\n",
      FALSE, 2, { G_MAXINT64, 0 } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (variants); i++)
    {
      g_autoptr(SafetensorsNpyHeader) header = NULL;
      g_autoptr(GError) error = NULL;

      header = parse_text (variants[i].major, variants[i].text, &error);
      if (variants[i].n_dims == 99)
        {
          /* JSON's false is not Python's False. */
          g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA);
          continue;
        }

      g_assert_no_error (error);
      g_assert_cmpint (header->dtype, ==, SAFETENSORS_DTYPE_F32);
      g_assert_cmpint (header->fortran_order, ==, variants[i].fortran_order);
      g_assert_cmpmem (header->shape, header->n_dims * sizeof (guint64),
                       variants[i].shape, variants[i].n_dims * sizeof (guint64));
    }
}

static void
test_parse_max_rank (void)
{
  g_autoptr(GString) text = g_string_new ("{'descr': '|u1', 'fortran_order': False, 'shape': (");
  g_autoptr(GString) longer = NULL;
  g_autoptr(SafetensorsNpyHeader) header = NULL;
  g_autoptr(SafetensorsNpyHeader) refused = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < SAFETENSORS_NPY_MAX_RANK; i++)
    g_string_append (text, "1, ");
  longer = g_string_new (text->str);
  g_string_append (text, "), }\n");
  g_string_append (longer, "1, ), }\n");

  header = parse_text (1, text->str, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (header->n_dims, ==, SAFETENSORS_NPY_MAX_RANK);
  g_assert_cmpuint (header->n_bytes, ==, 1);

  refused = parse_text (1, longer->str, &error);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "1024"));
}

/* ------------------------------------------------------------------ */
/* Parser: hostile input                                              */
/* ------------------------------------------------------------------ */

#define VALID_TEXT "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n"

static void
assert_refused (GBytes     *bytes,
                int         code,
                const char *in_message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsNpyHeader) header = parse_bytes (bytes, &error);

  g_assert_null (header);
  g_assert_error (error, SAFETENSORS_ERROR, code);
  if (in_message != NULL && strstr (error->message, in_message) == NULL)
    g_error ("“%s” does not mention “%s”", error->message, in_message);
}

static void
test_parse_bad_preamble (void)
{
  static const struct {
    const char *bytes;
    gsize len;
    int code;
    const char *in_message;
  } cases[] = {
    { "", 0, SAFETENSORS_ERROR_INVALID_DATA, "truncated" },
    { "\x93NUM", 4, SAFETENSORS_ERROR_INVALID_DATA, "truncated" },
    { "\x93NUMPY\x01", 7, SAFETENSORS_ERROR_INVALID_DATA, "truncated" },
    { "\x93NUMPY\x01\x00\x76", 9, SAFETENSORS_ERROR_INVALID_DATA, "truncated" },
    { "\x93NUMPY\x02\x00\x76\x00\x00", 11, SAFETENSORS_ERROR_INVALID_DATA, "truncated" },
    { "PK\x03\x04\x14\x00\x00\x00\x00\x00", 10, SAFETENSORS_ERROR_INVALID_DATA, "magic" },
    { "\x93NUMPz\x01\x00\x00\x00", 10, SAFETENSORS_ERROR_INVALID_DATA, "magic" },
    { "\x93NUMPY\x00\x00\x00\x00", 10, SAFETENSORS_ERROR_UNSUPPORTED, "0.0" },
    { "\x93NUMPY\x04\x00\x00\x00\x00\x00", 12, SAFETENSORS_ERROR_UNSUPPORTED, "4.0" },
    { "\x93NUMPY\x01\x01\x00\x00", 10, SAFETENSORS_ERROR_UNSUPPORTED, "1.1" },
    { "\x93NUMPY\xff\xff\x00\x00", 10, SAFETENSORS_ERROR_UNSUPPORTED, "255.255" },
    /* The header length points past the input. */
    { "\x93NUMPY\x01\x00\x76\x00{'descr'", 17, SAFETENSORS_ERROR_INVALID_DATA, "128" },
    { "\x93NUMPY\x01\x00\xff\xff", 10, SAFETENSORS_ERROR_INVALID_DATA, "truncated" },
    /* Huge header lengths are refused before anything is read. */
    { "\x93NUMPY\x02\x00\xff\xff\xff\xff", 12, SAFETENSORS_ERROR_INVALID_DATA, "exceeds" },
    { "\x93NUMPY\x03\x00\x01\x00\x10\x00", 12, SAFETENSORS_ERROR_INVALID_DATA, "exceeds" },
    /* An empty header. */
    { "\x93NUMPY\x01\x00\x00\x00", 10, SAFETENSORS_ERROR_INVALID_DATA, "newline" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (cases[i].bytes, cases[i].len);

      g_test_message ("case %u", i);
      assert_refused (bytes, cases[i].code, cases[i].in_message);
    }

  /* One byte above the limit, in a buffer that holds it all. */
  {
    gsize len = SAFETENSORS_NPY_MAX_HEADER_LEN + 1;
    g_autofree char *text = g_malloc (len);
    g_autoptr(GBytes) bytes = NULL;

    memset (text, ' ', len);
    text[len - 1] = '\n';
    bytes = make_npy_len (2, text, len);
    assert_refused (bytes, SAFETENSORS_ERROR_INVALID_DATA, "exceeds");
  }
}

static void
test_parse_bad_header (void)
{
  static const struct {
    guint8 major;
    const char *text;
    int code;
    const char *in_message;
  } cases[] = {
    /* Keys */
    { 1, "{'descr': '<f4', 'fortran_order': False, }\n", SAFETENSORS_ERROR_INVALID_DATA, "'shape'" },
    { 1, "{'fortran_order': False, 'shape': (2,)}\n", SAFETENSORS_ERROR_INVALID_DATA, "'descr'" },
    { 1, "{'descr': '<f4', 'shape': (2,)}\n", SAFETENSORS_ERROR_INVALID_DATA, "'fortran_order'" },
    { 1, "{}\n", SAFETENSORS_ERROR_INVALID_DATA, "'descr'" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}\n", SAFETENSORS_ERROR_INVALID_DATA, "extra" },
    { 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n", SAFETENSORS_ERROR_INVALID_DATA, "repeated" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (2,)}\n", SAFETENSORS_ERROR_INVALID_DATA, "repeated" },
    { 1, "{descr: '<f4', 'fortran_order': False, 'shape': (2,)}\n", SAFETENSORS_ERROR_INVALID_DATA, "string" },
    { 1, "{b'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n", SAFETENSORS_ERROR_INVALID_DATA, "string" },
    /* Shapes */
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "negative" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }\n", SAFETENSORS_ERROR_INVALID_DATA, "“-3”" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "too large" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775808, 0), }\n", SAFETENSORS_ERROR_INVALID_DATA, "too large" },
    { 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n", SAFETENSORS_ERROR_INVALID_DATA, "64 bits" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2305843009213693952, 4), }\n", SAFETENSORS_ERROR_INVALID_DATA, "64 bits" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5), }\n", SAFETENSORS_ERROR_INVALID_DATA, "not a tuple" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }\n", SAFETENSORS_ERROR_INVALID_DATA, "tuple" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,,3), }\n", SAFETENSORS_ERROR_INVALID_DATA, "dimension" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "dimension" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1.5,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "“.”" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (+1,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "dimension" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (01,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "leading zeros" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1_000,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "“_”" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0x10,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "“x”" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3\n", SAFETENSORS_ERROR_INVALID_DATA, "end of the header" },
    { 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "“L”" },
    /* fortran_order */
    { 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "True or False" },
    { 1, "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "True or False" },
    { 1, "{'descr': '<f4', 'fortran_order': true, 'shape': (2,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "True or False" },
    /* Strings */
    { 1, "{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (2,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "escape" },
    { 1, "{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "','" },
    { 1, "{'descr': '<f4\n", SAFETENSORS_ERROR_INVALID_DATA, "unterminated" },
    { 1, "{'descr': \"<f4', 'fortran_order': False, 'shape': (2,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "unterminated" },
    { 1, "{'descr': 4, 'fortran_order': False, 'shape': (2,), }\n", SAFETENSORS_ERROR_INVALID_DATA, "string" },
    /* Structure */
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", SAFETENSORS_ERROR_INVALID_DATA, "newline" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }x\n", SAFETENSORS_ERROR_INVALID_DATA, "after the dictionary" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), },\n", SAFETENSORS_ERROR_INVALID_DATA, "after the dictionary" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,),, }\n", SAFETENSORS_ERROR_INVALID_DATA, "string" },
    { 1, "{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}\n", SAFETENSORS_ERROR_INVALID_DATA, "','" },
    { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)\n", SAFETENSORS_ERROR_INVALID_DATA, "end of the header" },
    { 1, "{,}\n", SAFETENSORS_ERROR_INVALID_DATA, "string" },
    { 1, "[1]\n", SAFETENSORS_ERROR_INVALID_DATA, "'{'" },
    { 1, "# {'descr': '<f4'}\n", SAFETENSORS_ERROR_INVALID_DATA, "'{'" },
    { 1, "\n", SAFETENSORS_ERROR_INVALID_DATA, "end of the header" },
    { 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\xff\n", SAFETENSORS_ERROR_INVALID_DATA, "\\xff" },
    { 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } \xff\n", SAFETENSORS_ERROR_INVALID_DATA, "UTF-8" },
    /* Descrs safetensors has no dtype for, named in the message. */
    { 1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }\n", SAFETENSORS_ERROR_UNSUPPORTED, "“|O”" },
    { 1, "{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }\n", SAFETENSORS_ERROR_UNSUPPORTED, "“<c16”" },
    { 1, "{'descr': '<f16', 'fortran_order': False, 'shape': (2,), }\n", SAFETENSORS_ERROR_UNSUPPORTED, "“<f16”" },
    { 1, "{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (2,), }\n", SAFETENSORS_ERROR_UNSUPPORTED, "“<M8[ns]”" },
    { 1, "{'descr': '<m8[s]', 'fortran_order': False, 'shape': (2,), }\n", SAFETENSORS_ERROR_UNSUPPORTED, "“<m8[s]”" },
    { 1, "{'descr': '<U5', 'fortran_order': False, 'shape': (2,), }\n", SAFETENSORS_ERROR_UNSUPPORTED, "“<U5”" },
    { 1, "{'descr': '|S3', 'fortran_order': False, 'shape': (2,), }\n", SAFETENSORS_ERROR_UNSUPPORTED, "“|S3”" },
    { 1, "{'descr': '|V8', 'fortran_order': False, 'shape': (2,), }\n", SAFETENSORS_ERROR_UNSUPPORTED, "“|V8”" },
    { 1, "{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }\n", SAFETENSORS_ERROR_UNSUPPORTED, "“|f4”" },
    { 1, "{'descr': 'f4', 'fortran_order': False, 'shape': (2,), }\n", SAFETENSORS_ERROR_UNSUPPORTED, "“f4”" },
    { 1, "{'descr': '', 'fortran_order': False, 'shape': (2,), }\n", SAFETENSORS_ERROR_UNSUPPORTED, "“”" },
    { 1, "{'descr': [('a', '<f4'), ('b', '<i8')], 'fortran_order': False, 'shape': (2,), }\n",
      SAFETENSORS_ERROR_UNSUPPORTED, "[('a', '<f4'), ('b', '<i8')]”" },
    { 1, "{'descr': ('<f4', (2,)), 'fortran_order': False, 'shape': (2,), }\n",
      SAFETENSORS_ERROR_UNSUPPORTED, "('<f4', (2,))”" },
    { 1, "{'descr': [('a', '<f4'\n", SAFETENSORS_ERROR_UNSUPPORTED, "structured" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) bytes = make_npy (cases[i].major, cases[i].text);

      g_test_message ("case %u", i);
      assert_refused (bytes, cases[i].code, cases[i].in_message);
    }

  /* A NUL byte in the header. */
  {
    const char text[] = "{'descr': '<f4', 'fortran_order': False,\0'shape': (2,), }\n";
    g_autoptr(GBytes) bytes = make_npy_len (1, text, sizeof text - 1);

    assert_refused (bytes, SAFETENSORS_ERROR_INVALID_DATA, "\\x00");
  }
}

/* Every proper prefix of a valid preamble is refused. */
static void
test_parse_truncated (void)
{
  g_autoptr(GBytes) full = make_npy (1, VALID_TEXT);
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (full, &len);

  for (gsize n = 0; n < len; n++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SafetensorsNpyHeader) header = NULL;

      /* A copy of exactly @n bytes, so that valgrind sees any overread. */
      g_autofree guint8 *copy = g_memdup2 (data, n);

      header = safetensors_npy_parse_header (copy, n, NULL, &error);
      g_assert_null (header);
      g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA);
    }
}

/* Random mutations of valid preambles: never a crash, and an error exactly
 * when there is no result. */
static void
test_parse_mutations (void)
{
  const char *texts[] = {
    VALID_TEXT,
    "{'descr': '>c8', 'fortran_order': True, 'shape': (2L, 3L, 0), }\n",
    "{\"shape\": (), \"descr\": \"|b1\", \"fortran_order\": False}\n",
    "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }\n",
  };
  guint n_parsed = 0;

  for (guint t = 0; t < G_N_ELEMENTS (texts); t++)
    for (guint round = 0; round < 3000; round++)
      {
        g_autoptr(GBytes) valid = make_npy (1 + round % 3, texts[t]);
        g_autofree guint8 *data = NULL;
        g_autoptr(SafetensorsNpyHeader) header = NULL;
        g_autoptr(GError) error = NULL;
        gsize len = 0;
        const guint8 *valid_data = g_bytes_get_data (valid, &len);
        guint n_changes = g_test_rand_int_range (1, 4);

        data = g_memdup2 (valid_data, len);
        for (guint c = 0; c < n_changes; c++)
          {
            gsize at = g_test_rand_int_range (0, len);
            static const char interesting[] = "(),:'\"{}-0123456789L \n\x93\xff";

            if (g_test_rand_bit ())
              data[at] = interesting[g_test_rand_int_range (0, sizeof interesting - 1)];
            else
              data[at] = g_test_rand_int_range (0, 256);
          }
        if (g_test_rand_bit ())
          len = g_test_rand_int_range (0, len + 1);

        header = safetensors_npy_parse_header (data, len, NULL, &error);
        g_assert_true ((header == NULL) != (error == NULL));
        if (header != NULL)
          {
            n_parsed++;
            g_assert_cmpuint (header->data_offset, <=, len);
            g_assert_cmpuint (header->n_dims, <=, SAFETENSORS_NPY_MAX_RANK);
          }
        else
          {
            g_assert_true (error->domain == SAFETENSORS_ERROR);
            g_assert_true (error->code == SAFETENSORS_ERROR_INVALID_DATA ||
                           error->code == SAFETENSORS_ERROR_UNSUPPORTED);
          }
      }

  g_test_message ("%u of %u mutations still parsed", n_parsed, 4 * 3000);
}

/* ------------------------------------------------------------------ */
/* Data helpers                                                       */
/* ------------------------------------------------------------------ */

static void
test_swap_sizes (void)
{
  for (guint dtype = 0; dtype < SAFETENSORS_DTYPE_COUNT; dtype++)
    {
      guint bits = safetensors_dtype_get_bits (dtype);
      guint expected = dtype == SAFETENSORS_DTYPE_C64 ? 4 : MAX (bits / 8, 1);

      g_assert_cmpuint (safetensors_npy_get_swap_size (dtype), ==, expected);
    }
}

static void
test_byteswap (void)
{
  const guint8 original[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
  const guint8 by2[] = { 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15 };
  const guint8 by4[] = { 4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13 };
  const guint8 by8[] = { 8, 7, 6, 5, 4, 3, 2, 1, 16, 15, 14, 13, 12, 11, 10, 9 };
  const guint8 *expected[] = { original, by2, by4, by8 };
  const guint sizes[] = { 1, 2, 4, 8 };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      guint8 data[17];

      /* At an odd address: the helper must not assume alignment. */
      memcpy (data + 1, original, 16);
      safetensors_npy_byteswap (data + 1, 16, sizes[i]);
      g_assert_cmpmem (data + 1, 16, expected[i], 16);
      safetensors_npy_byteswap (data + 1, 16, sizes[i]);
      g_assert_cmpmem (data + 1, 16, original, 16);
    }

  /* A big-endian complex64 (1.5, -2.0) becomes little-endian half by
   * half: the real part stays first. */
  {
    guint8 c8[8] = { 0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0 };
    float parts[2];

    safetensors_npy_byteswap (c8, 8, safetensors_npy_get_swap_size (SAFETENSORS_DTYPE_C64));
    memcpy (parts, c8, 8);
    if (G_BYTE_ORDER == G_LITTLE_ENDIAN)
      {
        g_assert_cmpfloat (parts[0], ==, 1.5f);
        g_assert_cmpfloat (parts[1], ==, -2.0f);
      }
  }
}

static void
test_fortran_to_c (void)
{
  /* A 2×3 matrix [[0, 1, 2], [3, 4, 5]] of 2-byte elements, stored by
   * columns. */
  const guint16 fortran[] = { 0, 3, 1, 4, 2, 5 };
  const guint64 shape[] = { 2, 3 };
  guint16 c[6] = { 0 };
  const guint8 scalar[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
  guint8 scalar_out[8] = { 0 };
  const guint64 vector_shape[] = { 4 };
  const guint32 vector[] = { 10, 20, 30, 40 };
  guint32 vector_out[4] = { 0 };

  safetensors_npy_fortran_to_c ((const guint8 *) fortran, 2, shape, 2, 0, (guint8 *) c, 6);
  for (guint i = 0; i < 6; i++)
    g_assert_cmpuint (c[i], ==, i);

  memset (c, 0xff, sizeof c);
  safetensors_npy_fortran_to_c ((const guint8 *) fortran, 2, shape, 2, 4, (guint8 *) (c + 4), 2);
  g_assert_cmpuint (c[4], ==, 4);
  g_assert_cmpuint (c[5], ==, 5);
  g_assert_cmpuint (c[3], ==, 0xffff);

  /* Nothing to copy. */
  safetensors_npy_fortran_to_c ((const guint8 *) fortran, 2, shape, 2, 6, (guint8 *) c, 0);

  safetensors_npy_fortran_to_c (scalar, 8, NULL, 0, 0, scalar_out, 1);
  g_assert_cmpmem (scalar_out, 8, scalar, 8);

  safetensors_npy_fortran_to_c ((const guint8 *) vector, 4, vector_shape, 1, 1,
                                (guint8 *) (vector_out + 1), 3);
  g_assert_cmpmem (vector_out + 1, 12, vector + 1, 12);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/safetensors/npy/build/numpy-bytes", test_build_numpy_bytes);
  g_test_add_func ("/safetensors/npy/build/version-2", test_build_version_2);
  g_test_add_func ("/safetensors/npy/build/errors", test_build_errors);
  g_test_add_func ("/safetensors/npy/parse/descrs", test_parse_descrs);
  g_test_add_func ("/safetensors/npy/parse/versions", test_parse_versions);
  g_test_add_func ("/safetensors/npy/parse/fortran-big-endian", test_parse_fortran_big_endian);
  g_test_add_func ("/safetensors/npy/parse/variants", test_parse_variants);
  g_test_add_func ("/safetensors/npy/parse/max-rank", test_parse_max_rank);
  g_test_add_func ("/safetensors/npy/parse/bad-preamble", test_parse_bad_preamble);
  g_test_add_func ("/safetensors/npy/parse/bad-header", test_parse_bad_header);
  g_test_add_func ("/safetensors/npy/parse/truncated", test_parse_truncated);
  g_test_add_func ("/safetensors/npy/parse/mutations", test_parse_mutations);
  g_test_add_func ("/safetensors/npy/data/swap-sizes", test_swap_sizes);
  g_test_add_func ("/safetensors/npy/data/byteswap", test_byteswap);
  g_test_add_func ("/safetensors/npy/data/fortran-to-c", test_fortran_to_c);

  return g_test_run ();
}
