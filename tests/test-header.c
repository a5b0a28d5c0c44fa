/* test-header.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-error.h"
#include "safetensors-header-private.h"

#define DISPLAY_NAME "test.safetensors"

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

/* Parses a copy of @text in a buffer of exactly @len bytes, so that
 * AddressSanitizer catches any read past the end. */
static SafetensorsHeader *
parse_bytes (const char  *text,
             gsize        len,
             GError     **error)
{
  g_autofree guint8 *copy = g_memdup2 (text, len);
  SafetensorsHeader *header;

  header = safetensors_header_parse (DISPLAY_NAME, copy, len, error);

  /* NULL exactly when an error is set, and the message names the file. */
  g_assert_true ((header == NULL) == (error != NULL && *error != NULL));
  if (header == NULL && error != NULL)
    {
      g_assert_true ((*error)->domain == SAFETENSORS_ERROR);
      g_assert_true (g_str_has_prefix ((*error)->message, DISPLAY_NAME ": "));
      g_assert_true (g_utf8_validate ((*error)->message, -1, NULL));
    }

  return header;
}

/* Templates write ' for " to stay readable. */
static char *
from_template (const char *template)
{
  char *json = g_strdup (template);

  for (char *p = json; *p != '\0'; p++)
    if (*p == '\'')
      *p = '"';

  return json;
}

static SafetensorsHeader *
parse_template (const char  *template,
                GError     **error)
{
  g_autofree char *json = from_template (template);

  return parse_bytes (json, strlen (json), error);
}

static const SafetensorsTensorInfo *
tensor_at (SafetensorsHeader *header,
           guint              i)
{
  g_assert_cmpuint (i, <, header->tensors->len);
  return g_ptr_array_index (header->tensors, i);
}

static void
assert_tensor (const SafetensorsTensorInfo *info,
               const char                  *name,
               SafetensorsDType             dtype,
               guint64                      begin,
               guint64                      end,
               guint64                      n_elements)
{
  g_assert_cmpstr (info->name, ==, name);
  g_assert_cmpuint (info->name_len, ==, strlen (name));
  g_assert_cmpint (info->dtype, ==, dtype);
  g_assert_cmpuint (info->begin, ==, begin);
  g_assert_cmpuint (info->end, ==, end);
  g_assert_cmpuint (info->n_elements, ==, n_elements);
}

/* ------------------------------------------------------------------ */
/* Table of verdicts                                                  */
/* ------------------------------------------------------------------ */

#define OK (-1)
#define E(code) SAFETENSORS_ERROR_##code
/* Raw bytes, possibly with NULs; no ' substitution. */
#define RAW(bytes) bytes, sizeof (bytes) - 1

#define ENTRY "{'dtype':'F32','shape':[2,2],'data_offsets':[0,16]}"
#define ONE(entry) "{'t':" entry "}"
#define EXTRA(value) "{'t':{'dtype':'F32','shape':[2,2],'data_offsets':[0,16],'x':" value "}}"
#define DTYPE(dtype) "{'t':{'dtype':" dtype ",'shape':[2,2],'data_offsets':[0,16]}}"
#define SHAPE(shape) "{'t':{'dtype':'U8','shape':" shape ",'data_offsets':[0,0]}}"
#define OFFSETS(offsets) "{'t':{'dtype':'U8','shape':[0],'data_offsets':" offsets "}}"
#define META(metadata) "{'__metadata__':" metadata ",'t':" ENTRY "}"

typedef struct
{
  const char *name;
  const char *json;
  gsize       raw_len;  /* 0: json is a template */
  int         code;     /* OK or a SafetensorsError */
} ParseCase;

static const ParseCase parse_cases[] = {
  /* The reference's own vectors. */
  { "reference/valid", "{'test':{'dtype':'I32','shape':[2,2],'data_offsets':[0,16]}}", 0, OK },
  { "reference/invalid-info", "{'test':{'dtype':'F32','shape':[2,2],'data_offsets':[0,12]}}", 0, E (TENSOR_INVALID_INFO) },
  { "reference/empty-text", "", 0, E (INVALID_JSON) },
  { "reference/overflow", "{'t':{'dtype':'F32','shape':[2,18446744073709551614],'data_offsets':[0,16]}}", 0, E (VALIDATION_OVERFLOW) },
  { "reference/f4-misaligned", "{'t':{'dtype':'F4','shape':[3],'data_offsets':[0,1]}}", 0, E (MISALIGNED_SLICE) },
  { "reference/f4", "{'t':{'dtype':'F4','shape':[2],'data_offsets':[0,1]}}", 0, OK },
  { "reference/f6", "{'t':{'dtype':'F6_E2M3','shape':[4],'data_offsets':[0,3]}}", 0, OK },

  /* Documents and whitespace. */
  { "json/empty-object", "{}", 0, OK },
  { "json/only-whitespace", " \t\r\n", 0, E (INVALID_JSON) },
  { "json/top-level-array", "[]", 0, E (INVALID_JSON) },
  { "json/top-level-null", "null", 0, E (INVALID_JSON) },
  { "json/top-level-string", "'x'", 0, E (INVALID_JSON) },
  { "json/top-level-number", "1", 0, E (INVALID_JSON) },
  { "json/trailing-spaces", ONE (ENTRY) "    ", 0, OK },
  { "json/whitespace-around", "\t\n" ONE (ENTRY) "\r \t\n", 0, OK },
  { "json/whitespace-inside", "{ 't' :\n{ 'dtype' : 'F32' ,\r'shape':[ 2 , 2 ] ,'data_offsets':\t[0,16] } }", 0, OK },
  { "json/form-feed", "\f{}", 0, E (INVALID_JSON) },
  { "json/vertical-tab", "{}\v", 0, E (INVALID_JSON) },
  { "json/nbsp", "\xc2\xa0{}", 0, E (INVALID_JSON) },
  { "json/bom", "\xef\xbb\xbf" ONE (ENTRY), 0, E (INVALID_JSON) },
  { "json/trailing-x", ONE (ENTRY) "x", 0, E (INVALID_JSON) },
  { "json/trailing-nul", RAW ("{}\0\0\0"), E (INVALID_JSON) },
  { "json/trailing-nul-after-spaces", RAW ("{}  \0"), E (INVALID_JSON) },
  { "json/second-object", "{}{}", 0, E (INVALID_JSON) },
  { "json/second-object-spaced", "{} {}", 0, E (INVALID_JSON) },
  { "json/trailing-comma-after-document", "{},", 0, E (INVALID_JSON) },
  { "json/nul-outside-string", RAW ("{\0}"), E (INVALID_JSON) },
  { "json/nul-in-string", RAW ("{\"a\0\":{}}"), E (INVALID_JSON) },
  { "json/unterminated-object", "{", 0, E (INVALID_JSON) },
  { "json/unterminated-after-key", "{'t':", 0, E (INVALID_JSON) },
  { "json/unterminated-after-entry", "{'t':" ENTRY, 0, E (INVALID_JSON) },
  { "json/unterminated-string", "{'t", 0, E (INVALID_JSON) },
  { "json/unterminated-escape", "{'t\\", 0, E (INVALID_JSON) },
  { "json/trailing-comma-object", "{'t':" ENTRY ",}", 0, E (INVALID_JSON) },
  { "json/trailing-comma-array", "{'t':{'dtype':'F32','shape':[2,2,],'data_offsets':[0,16]}}", 0, E (INVALID_JSON) },
  { "json/leading-comma-object", "{,'t':" ENTRY "}", 0, E (INVALID_JSON) },
  { "json/missing-comma", "{'t':" ENTRY " 'u':" ENTRY "}", 0, E (INVALID_JSON) },
  { "json/missing-colon", "{'t' " ENTRY "}", 0, E (INVALID_JSON) },
  { "json/unquoted-key", "{t:" ENTRY "}", 0, E (INVALID_JSON) },
  { "json/number-key", "{1:" ENTRY "}", 0, E (INVALID_JSON) },
  { "json/single-quotes", RAW ("{'t':{'dtype':'F32','shape':[2,2],'data_offsets':[0,16]}}"), E (INVALID_JSON) },
  { "json/comment-line", ONE (ENTRY) " // comment", 0, E (INVALID_JSON) },
  { "json/comment-block", "/* comment */" ONE (ENTRY), 0, E (INVALID_JSON) },
  { "json/comment-inside", "{/* comment */'t':" ENTRY "}", 0, E (INVALID_JSON) },
  { "json/comment-hash", "# comment\n" ONE (ENTRY), 0, E (INVALID_JSON) },

  /* Values in an ignored field are still strict JSON. */
  { "value/literals", EXTRA ("[true,false,null]"), 0, OK },
  { "value/nested", EXTRA ("{'a':[1,{'b':null},[]],'c':{}}"), 0, OK },
  { "value/truncated-true", EXTRA ("tru"), 0, E (INVALID_JSON) },
  { "value/truncated-null", EXTRA ("nul"), 0, E (INVALID_JSON) },
  { "value/capital-true", EXTRA ("True"), 0, E (INVALID_JSON) },
  { "value/null-and-more", EXTRA ("nulll"), 0, E (INVALID_JSON) },
  { "value/bare-word", EXTRA ("x"), 0, E (INVALID_JSON) },
  { "value/missing", EXTRA (""), 0, E (INVALID_JSON) },
  { "number/valid", EXTRA ("[0,-0,1.5,-1.5e-3,1E+2,0.0e0,-0.0,1e308,0.1e309,1e-400,-1e-400]"), 0, OK },
  { "number/long-integer", EXTRA ("123456789012345678901234567890"), 0, OK },
  { "number/zero-huge-exponent", EXTRA ("0e99999999999999"), 0, OK },
  { "number/tiny-huge-exponent", EXTRA ("1e-99999999999999"), 0, OK },
  { "number/hex", EXTRA ("0x10"), 0, E (INVALID_JSON) },
  { "number/leading-zero", EXTRA ("01"), 0, E (INVALID_JSON) },
  { "number/leading-zero-negative", EXTRA ("-01"), 0, E (INVALID_JSON) },
  { "number/double-zero", EXTRA ("00"), 0, E (INVALID_JSON) },
  { "number/plus", EXTRA ("+1"), 0, E (INVALID_JSON) },
  { "number/nan", EXTRA ("NaN"), 0, E (INVALID_JSON) },
  { "number/infinity", EXTRA ("Infinity"), 0, E (INVALID_JSON) },
  { "number/minus-infinity", EXTRA ("-Infinity"), 0, E (INVALID_JSON) },
  { "number/dot-first", EXTRA (".5"), 0, E (INVALID_JSON) },
  { "number/dot-last", EXTRA ("1."), 0, E (INVALID_JSON) },
  { "number/dot-exponent", EXTRA ("1.e5"), 0, E (INVALID_JSON) },
  { "number/empty-exponent", EXTRA ("1e"), 0, E (INVALID_JSON) },
  { "number/sign-only-exponent", EXTRA ("1e+"), 0, E (INVALID_JSON) },
  { "number/minus-only", EXTRA ("-"), 0, E (INVALID_JSON) },
  { "number/minus-space", EXTRA ("- 1"), 0, E (INVALID_JSON) },
  { "number/out-of-range", EXTRA ("1e400"), 0, E (INVALID_JSON) },
  { "number/out-of-range-mantissa", EXTRA ("1.8e308"), 0, E (INVALID_JSON) },
  { "number/out-of-range-ten", EXTRA ("10e308"), 0, E (INVALID_JSON) },
  { "number/out-of-range-negative", EXTRA ("-1e309"), 0, E (INVALID_JSON) },
  { "number/out-of-range-huge-exponent", EXTRA ("1e99999999999999"), 0, E (INVALID_JSON) },

  /* Strings. */
  { "string/escapes", EXTRA ("'\\'\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u0000'"), 0, OK },
  { "string/surrogate-pair", EXTRA ("'\\ud83d\\ude00'"), 0, OK },
  { "string/surrogate-pair-uppercase", EXTRA ("'\\uD83D\\uDE00'"), 0, OK },
  { "string/raw-utf8", EXTRA ("'日本語 🙂 é'"), 0, OK },
  { "string/raw-del", EXTRA ("'\x7f'"), 0, OK },
  { "string/raw-newline", EXTRA ("'a\nb'"), 0, E (INVALID_JSON) },
  { "string/raw-tab", EXTRA ("'a\tb'"), 0, E (INVALID_JSON) },
  { "string/raw-0x01", EXTRA ("'a\x01'"), 0, E (INVALID_JSON) },
  { "string/raw-0x1f", EXTRA ("'\x1f'"), 0, E (INVALID_JSON) },
  { "string/lone-high", EXTRA ("'\\ud83d'"), 0, E (INVALID_JSON) },
  { "string/lone-high-then-char", EXTRA ("'\\ud83dx'"), 0, E (INVALID_JSON) },
  { "string/lone-high-then-bmp", EXTRA ("'\\ud83d\\u0041'"), 0, E (INVALID_JSON) },
  { "string/lone-high-then-escape", EXTRA ("'\\ud83d\\n'"), 0, E (INVALID_JSON) },
  { "string/high-high", EXTRA ("'\\ud83d\\ud83d\\ude00'"), 0, E (INVALID_JSON) },
  { "string/lone-low", EXTRA ("'\\ude00'"), 0, E (INVALID_JSON) },
  { "string/low-high", EXTRA ("'\\ude00\\ud83d'"), 0, E (INVALID_JSON) },
  { "string/lone-high-in-key", "{'t':{'dtype':'F32','shape':[2,2],'data_offsets':[0,16],'\\ud800':1}}", 0, E (INVALID_JSON) },
  { "string/lone-high-in-name", ONE (ENTRY) ",'\\udbff':" ENTRY "}", 0, E (INVALID_JSON) },
  { "string/invalid-escape-x", EXTRA ("'\\x41'"), 0, E (INVALID_JSON) },
  { "string/invalid-escape-quote", RAW ("{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16],\"x\":\"\\'\"}}"), E (INVALID_JSON) },
  { "string/invalid-escape-U", EXTRA ("'\\U0041'"), 0, E (INVALID_JSON) },
  { "string/invalid-escape-zero", EXTRA ("'\\0'"), 0, E (INVALID_JSON) },
  { "string/short-u", EXTRA ("'\\u12'"), 0, E (INVALID_JSON) },
  { "string/bad-hex-u", EXTRA ("'\\u12G4'"), 0, E (INVALID_JSON) },
  { "string/escaped-raw-newline", EXTRA ("'\\\n'"), 0, E (INVALID_JSON) },

  /* The UTF-8 check comes first. */
  { "utf8/invalid-byte", "{'t\xff':" ENTRY "}", 0, E (INVALID_HEADER) },
  { "utf8/only-invalid", "\xff", 0, E (INVALID_HEADER) },
  { "utf8/overlong", EXTRA ("'\xc0\xaf'"), 0, E (INVALID_HEADER) },
  { "utf8/surrogate", EXTRA ("'\xed\xa0\x80'"), 0, E (INVALID_HEADER) },
  { "utf8/beyond-10ffff", EXTRA ("'\xf4\x90\x80\x80'"), 0, E (INVALID_HEADER) },
  { "utf8/truncated", "{}\xe6\x97", 0, E (INVALID_HEADER) },
  { "utf8/before-json-error", "{x\xff", 0, E (INVALID_HEADER) },
  { "utf8/after-nul", RAW ("{}\0\xff"), E (INVALID_HEADER) },
  { "utf8/nul-inside-sequence", RAW ("{}\xc3\0"), E (INVALID_HEADER) },
  { "utf8/nul-only", RAW ("\0"), E (INVALID_JSON) },

  /* __metadata__. */
  { "metadata/null", META ("null"), 0, OK },
  { "metadata/empty", META ("{}"), 0, OK },
  { "metadata/strings", META ("{'a':'1','b':''}"), 0, OK },
  { "metadata/only", "{'__metadata__':{'a':'b'}}", 0, OK },
  { "metadata/number-value", META ("{'a':1}"), 0, E (INVALID_JSON) },
  { "metadata/null-value", META ("{'a':null}"), 0, E (INVALID_JSON) },
  { "metadata/object-value", META ("{'a':{}}"), 0, E (INVALID_JSON) },
  { "metadata/array-value", META ("{'a':['b']}"), 0, E (INVALID_JSON) },
  { "metadata/bool-value", META ("{'a':true}"), 0, E (INVALID_JSON) },
  { "metadata/array", META ("['a']"), 0, E (INVALID_JSON) },
  { "metadata/string", META ("'a'"), 0, E (INVALID_JSON) },
  { "metadata/number", META ("0"), 0, E (INVALID_JSON) },
  { "metadata/bool", META ("false"), 0, E (INVALID_JSON) },
  { "metadata/bad-literal", META ("nul"), 0, E (INVALID_JSON) },
  { "metadata/twice-null", "{'__metadata__':null,'__metadata__':null}", 0, E (INVALID_JSON) },
  { "metadata/twice-object", "{'__metadata__':{},'t':" ENTRY ",'__metadata__':{'a':'b'}}", 0, E (INVALID_JSON) },
  { "metadata/twice-escaped", "{'__metadata__':null,'\\u005f_metadata__':null}", 0, E (INVALID_JSON) },
  { "metadata/lone-surrogate-value", META ("{'a':'\\udc00'}"), 0, E (INVALID_JSON) },

  /* dtype. */
  { "dtype/map-form", DTYPE ("{'F32':null}"), 0, OK },
  { "dtype/escaped", DTYPE ("'F\\u0033\\u0032'"), 0, OK },
  { "dtype/lowercase", DTYPE ("'f32'"), 0, E (INVALID_JSON) },
  { "dtype/trailing-space", DTYPE ("'F32 '"), 0, E (INVALID_JSON) },
  { "dtype/empty", DTYPE ("''"), 0, E (INVALID_JSON) },
  { "dtype/nul-suffix", DTYPE ("'F32\\u0000'"), 0, E (INVALID_JSON) },
  { "dtype/long", DTYPE ("'F8_E4M3FNUZ_AND_SOME_MORE'"), 0, E (INVALID_JSON) },
  { "dtype/number", DTYPE ("32"), 0, E (INVALID_JSON) },
  { "dtype/null", DTYPE ("null"), 0, E (INVALID_JSON) },
  { "dtype/array", DTYPE ("['F32']"), 0, E (INVALID_JSON) },
  { "dtype/map-empty", DTYPE ("{}"), 0, E (INVALID_JSON) },
  { "dtype/map-empty-value", DTYPE ("{'F32':{}}"), 0, E (INVALID_JSON) },
  { "dtype/map-number-value", DTYPE ("{'F32':1}"), 0, E (INVALID_JSON) },
  { "dtype/map-two-keys", DTYPE ("{'F32':null,'F16':null}"), 0, E (INVALID_JSON) },
  { "dtype/map-unknown", DTYPE ("{'f32':null}"), 0, E (INVALID_JSON) },
  { "dtype/syntax-error-in-wrong-type", DTYPE ("[1,]"), 0, E (INVALID_JSON) },

  /* shape. */
  { "shape/u64-max", SHAPE ("[0,18446744073709551615]"), 0, OK },
  { "shape/too-large", SHAPE ("[0,18446744073709551616]"), 0, E (INVALID_JSON) },
  { "shape/much-too-large", SHAPE ("[0,100000000000000000000000]"), 0, E (INVALID_JSON) },
  { "shape/fraction", SHAPE ("[1.0]"), 0, E (INVALID_JSON) },
  { "shape/exponent", SHAPE ("[1e2]"), 0, E (INVALID_JSON) },
  { "shape/minus-zero", SHAPE ("[-0]"), 0, E (INVALID_JSON) },
  { "shape/negative", SHAPE ("[-1]"), 0, E (INVALID_JSON) },
  { "shape/string", SHAPE ("['2']"), 0, E (INVALID_JSON) },
  { "shape/null-element", SHAPE ("[null]"), 0, E (INVALID_JSON) },
  { "shape/nested", SHAPE ("[[0]]"), 0, E (INVALID_JSON) },
  { "shape/bool", SHAPE ("[true]"), 0, E (INVALID_JSON) },
  { "shape/number", SHAPE ("0"), 0, E (INVALID_JSON) },
  { "shape/null", SHAPE ("null"), 0, E (INVALID_JSON) },
  { "shape/object", SHAPE ("{}"), 0, E (INVALID_JSON) },

  /* data_offsets. */
  { "offsets/u64-max", "{'t':{'dtype':'U8','shape':[1],'data_offsets':[0,18446744073709551615]}}", 0, E (TENSOR_INVALID_INFO) },
  { "offsets/too-large", OFFSETS ("[0,18446744073709551616]"), 0, E (INVALID_JSON) },
  { "offsets/one", OFFSETS ("[0]"), 0, E (INVALID_JSON) },
  { "offsets/three", OFFSETS ("[0,0,0]"), 0, E (INVALID_JSON) },
  { "offsets/empty", OFFSETS ("[]"), 0, E (INVALID_JSON) },
  { "offsets/negative", OFFSETS ("[0,-0]"), 0, E (INVALID_JSON) },
  { "offsets/fraction", OFFSETS ("[0,0.0]"), 0, E (INVALID_JSON) },
  { "offsets/string", OFFSETS ("'0,0'"), 0, E (INVALID_JSON) },
  { "offsets/object", OFFSETS ("{'0':0}"), 0, E (INVALID_JSON) },

  /* Entries. */
  { "entry/unknown-field", EXTRA ("{'deep':[1,2,{'a':'b'}]}"), 0, OK },
  { "entry/unknown-fields-first", "{'t':{'a':1,'b':[],'dtype':'F32','c':{},'shape':[2,2],'data_offsets':[0,16]}}", 0, OK },
  { "entry/field-order", "{'t':{'data_offsets':[0,16],'shape':[2,2],'dtype':'F32'}}", 0, OK },
  { "entry/array-form", ONE ("['F32',[2,2],[0,16]]"), 0, OK },
  { "entry/array-form-two", ONE ("['F32',[2,2]]"), 0, E (INVALID_JSON) },
  { "entry/array-form-four", ONE ("['F32',[2,2],[0,16],null]"), 0, E (INVALID_JSON) },
  { "entry/array-form-empty", ONE ("[]"), 0, E (INVALID_JSON) },
  { "entry/array-form-order", ONE ("[[2,2],'F32',[0,16]]"), 0, E (INVALID_JSON) },
  { "entry/dtype-twice", "{'t':{'dtype':'F32','dtype':'F32','shape':[2,2],'data_offsets':[0,16]}}", 0, E (INVALID_JSON) },
  { "entry/shape-twice", "{'t':{'dtype':'F32','shape':[2,2],'shape':[2,2],'data_offsets':[0,16]}}", 0, E (INVALID_JSON) },
  { "entry/offsets-twice", "{'t':{'dtype':'F32','shape':[2,2],'data_offsets':[0,16],'data_offsets':[0,16]}}", 0, E (INVALID_JSON) },
  { "entry/escaped-field-twice", "{'t':{'dtype':'F32','d\\u0074ype':'F32','shape':[2,2],'data_offsets':[0,16]}}", 0, E (INVALID_JSON) },
  { "entry/missing-dtype", "{'t':{'shape':[2,2],'data_offsets':[0,16]}}", 0, E (INVALID_JSON) },
  { "entry/missing-shape", "{'t':{'dtype':'F32','data_offsets':[0,16]}}", 0, E (INVALID_JSON) },
  { "entry/missing-offsets", "{'t':{'dtype':'F32','shape':[2,2]}}", 0, E (INVALID_JSON) },
  { "entry/empty-object", ONE ("{}"), 0, E (INVALID_JSON) },
  { "entry/number", ONE ("1"), 0, E (INVALID_JSON) },
  { "entry/string", ONE ("'F32'"), 0, E (INVALID_JSON) },
  { "entry/null", ONE ("null"), 0, E (INVALID_JSON) },
  { "entry/bool", ONE ("true"), 0, E (INVALID_JSON) },
  { "entry/field-name-case", "{'t':{'Dtype':'F32','shape':[2,2],'data_offsets':[0,16]}}", 0, E (INVALID_JSON) },
  { "entry/field-name-nul", "{'t':{'dtype\\u0000':'F32','shape':[2,2],'data_offsets':[0,16]}}", 0, E (INVALID_JSON) },

  /* Names. */
  { "name/empty", "{'':" ENTRY "}", 0, OK },
  { "name/duplicate", "{'t':" ENTRY ",'t':" ENTRY "}", 0, E (DUPLICATE_NAME) },
  { "name/duplicate-escaped", "{'a':" ENTRY ",'\\u0061':" ENTRY "}", 0, E (DUPLICATE_NAME) },
  { "name/duplicate-empty", "{'':" ENTRY ",'':" ENTRY "}", 0, E (DUPLICATE_NAME) },
  { "name/duplicate-then-syntax-error", "{'t':" ENTRY ",'t':" ENTRY ",'u':" ENTRY ",}", 0, E (INVALID_JSON) },
  { "name/duplicate-then-trailing", "{'t':" ENTRY ",'t':" ENTRY "}x", 0, E (INVALID_JSON) },
  { "name/duplicate-then-schema-error", "{'t':" ENTRY ",'t':" ENTRY ",'u':{}}", 0, E (INVALID_JSON) },
  { "name/duplicate-before-offsets", "{'t':" ENTRY ",'t':{'dtype':'F32','shape':[2,2],'data_offsets':[16,32]}}", 0, E (DUPLICATE_NAME) },
  { "name/nul-suffixes-differ", "{'a\\u0000b':{'dtype':'U8','shape':[0],'data_offsets':[0,0]},"
                                 "'a\\u0000c':{'dtype':'U8','shape':[0],'data_offsets':[0,0]}}", 0, OK },
  { "name/nul-suffixes-equal", "{'a\\u0000b':{'dtype':'U8','shape':[0],'data_offsets':[0,0]},"
                                "'a\\u0000b':{'dtype':'U8','shape':[0],'data_offsets':[0,0]}}", 0, E (DUPLICATE_NAME) },

  /* Offsets and sizes, checked in offset order. */
  { "offsets/not-from-zero", "{'t':{'dtype':'F32','shape':[2,2],'data_offsets':[4,20]}}", 0, E (INVALID_OFFSET) },
  { "offsets/gap", "{'a':" ENTRY ",'b':{'dtype':'F32','shape':[2,2],'data_offsets':[20,36]}}", 0, E (INVALID_OFFSET) },
  { "offsets/overlap", "{'a':" ENTRY ",'b':{'dtype':'F32','shape':[2,2],'data_offsets':[8,24]}}", 0, E (INVALID_OFFSET) },
  { "offsets/end-before-begin", "{'a':" ENTRY ",'b':{'dtype':'F32','shape':[0],'data_offsets':[16,8]}}", 0, E (INVALID_OFFSET) },
  { "offsets/first-failure-wins", "{'b':{'dtype':'F32','shape':[2,2],'data_offsets':[40,56]},"
                                  "'a':{'dtype':'F32','shape':[3],'data_offsets':[0,8]}}", 0, E (TENSOR_INVALID_INFO) },
  { "size/overflow-in-order", "{'t':{'dtype':'U8','shape':[18446744073709551615,18446744073709551615,0],'data_offsets':[0,0]}}", 0, E (VALIDATION_OVERFLOW) },
  { "size/zero-first", "{'t':{'dtype':'U8','shape':[0,18446744073709551615,18446744073709551615],'data_offsets':[0,0]}}", 0, OK },
  { "size/bits-overflow", "{'t':{'dtype':'U8','shape':[2305843009213693952],'data_offsets':[0,0]}}", 0, E (VALIDATION_OVERFLOW) },
  { "size/bits-overflow-f4", "{'t':{'dtype':'F4','shape':[4611686018427387904],'data_offsets':[0,0]}}", 0, E (VALIDATION_OVERFLOW) },
  { "size/f4-almost-overflow", "{'t':{'dtype':'F4','shape':[4611686018427387903],'data_offsets':[0,0]}}", 0, E (MISALIGNED_SLICE) },
  { "size/f6-misaligned", "{'t':{'dtype':'F6_E3M2','shape':[1],'data_offsets':[0,1]}}", 0, E (MISALIGNED_SLICE) },
  { "size/too-big", "{'t':{'dtype':'F32','shape':[2,2],'data_offsets':[0,17]}}", 0, E (TENSOR_INVALID_INFO) },
  { "size/scalar", "{'t':{'dtype':'F64','shape':[],'data_offsets':[0,8]}}", 0, OK },
  { "size/scalar-wrong", "{'t':{'dtype':'F64','shape':[],'data_offsets':[0,0]}}", 0, E (TENSOR_INVALID_INFO) },
};

static void
test_parse_case (gconstpointer data)
{
  const ParseCase *c = data;
  g_autofree char *json = c->raw_len > 0 ? g_memdup2 (c->json, c->raw_len) : from_template (c->json);
  gsize len = c->raw_len > 0 ? c->raw_len : strlen (json);
  g_autoptr(SafetensorsHeader) header = NULL;
  g_autoptr(GError) error = NULL;

  header = parse_bytes (json, len, &error);

  if (c->code == OK)
    {
      g_assert_no_error (error);
      g_assert_nonnull (header);
    }
  else
    {
      g_test_message ("%s", error->message);
      g_assert_error (error, SAFETENSORS_ERROR, c->code);
      g_assert_null (header);
    }
}

/* ------------------------------------------------------------------ */
/* Parsed results                                                     */
/* ------------------------------------------------------------------ */

static void
test_reference_result (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) header = NULL;
  const SafetensorsTensorInfo *info;

  header = parse_template ("{'test':{'dtype':'I32','shape':[2,2],'data_offsets':[0,16]}}", &error);
  g_assert_no_error (error);

  g_assert_cmpuint (header->tensors->len, ==, 1);
  g_assert_null (header->metadata);
  g_assert_cmpuint (header->data_size, ==, 16);

  info = tensor_at (header, 0);
  assert_tensor (info, "test", SAFETENSORS_DTYPE_I32, 0, 16, 4);
  g_assert_cmpuint (info->n_dims, ==, 2);
  g_assert_cmpuint (info->shape[0], ==, 2);
  g_assert_cmpuint (info->shape[1], ==, 2);
}

static void
test_empty_object (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) header = parse_template ("{}", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (header->tensors->len, ==, 0);
  g_assert_null (header->metadata);
  g_assert_cmpuint (header->data_size, ==, 0);
}

/* Zero-size tensors at the start, in the middle and at the end, all in
 * the wrong order in the header. */
static void
test_sorted_by_offsets (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) header = NULL;
  const SafetensorsTensorInfo *info;

  header = parse_template ("{'end':{'dtype':'F16','shape':[0],'data_offsets':[28,28]},"
                           "'b':{'dtype':'F64','shape':[],'data_offsets':[16,24]},"
                           "'mid':{'dtype':'I8','shape':[2,0,3],'data_offsets':[16,16]},"
                           "'a':{'dtype':'F32','shape':[2,2],'data_offsets':[0,16]},"
                           "'start':{'dtype':'U8','shape':[0],'data_offsets':[0,0]},"
                           "'c':{'dtype':'BOOL','shape':[4],'data_offsets':[24,28]}}", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (header->tensors->len, ==, 6);
  g_assert_cmpuint (header->data_size, ==, 28);

  assert_tensor (tensor_at (header, 0), "start", SAFETENSORS_DTYPE_U8, 0, 0, 0);
  assert_tensor (tensor_at (header, 1), "a", SAFETENSORS_DTYPE_F32, 0, 16, 4);
  assert_tensor (tensor_at (header, 2), "mid", SAFETENSORS_DTYPE_I8, 16, 16, 0);
  assert_tensor (tensor_at (header, 3), "b", SAFETENSORS_DTYPE_F64, 16, 24, 1);
  assert_tensor (tensor_at (header, 4), "c", SAFETENSORS_DTYPE_BOOL, 24, 28, 4);
  assert_tensor (tensor_at (header, 5), "end", SAFETENSORS_DTYPE_F16, 28, 28, 0);

  info = tensor_at (header, 2);
  g_assert_cmpuint (info->n_dims, ==, 3);
  g_assert_cmpuint (info->shape[0], ==, 2);
  g_assert_cmpuint (info->shape[1], ==, 0);
  g_assert_cmpuint (info->shape[2], ==, 3);

  /* A scalar has no dimensions and one element. */
  info = tensor_at (header, 3);
  g_assert_cmpuint (info->n_dims, ==, 0);
  g_assert_null (info->shape);
}

/* Tensors with equal offsets keep their header order. */
static void
test_sort_is_stable (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) header = NULL;

  header = parse_template ("{'z':{'dtype':'U8','shape':[0],'data_offsets':[0,0]},"
                           "'y':{'dtype':'U8','shape':[0],'data_offsets':[0,0]},"
                           "'x':{'dtype':'U8','shape':[0],'data_offsets':[0,0]}}", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tensor_at (header, 0)->name, ==, "z");
  g_assert_cmpstr (tensor_at (header, 1)->name, ==, "y");
  g_assert_cmpstr (tensor_at (header, 2)->name, ==, "x");
}

static void
test_ten_tensors_same_offsets (void)
{
  g_autoptr(GString) json = g_string_new ("{");
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) header = NULL;

  for (guint i = 0; i < 10; i++)
    g_string_append_printf (json, "%s\"t%u\":{\"dtype\":\"F32\",\"shape\":[2,2],"
                            "\"data_offsets\":[0,16]}", i > 0 ? "," : "", i);
  g_string_append (json, "}");

  header = parse_bytes (json->str, json->len, &error);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_OFFSET);
}

static void
test_u64_max (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) header = NULL;
  const SafetensorsTensorInfo *info;

  header = parse_template ("{'t':{'dtype':'U8','shape':[0,18446744073709551615,18446744073709551615],"
                           "'data_offsets':[0,0]}}", &error);
  g_assert_no_error (error);
  info = tensor_at (header, 0);
  g_assert_cmpuint (info->n_dims, ==, 3);
  g_assert_cmpuint (info->shape[1], ==, G_MAXUINT64);
  g_assert_cmpuint (info->shape[2], ==, G_MAXUINT64);
  g_assert_cmpuint (info->n_elements, ==, 0);
}

static void
test_all_dtypes (void)
{
  for (guint i = 0; i < SAFETENSORS_DTYPE_COUNT; i++)
    {
      g_autofree char *json = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(SafetensorsHeader) header = NULL;
      guint bits = safetensors_dtype_get_bits (i);

      /* Eight elements are a whole number of bytes for every dtype. */
      json = g_strdup_printf ("{\"t\":{\"dtype\":\"%s\",\"shape\":[8],\"data_offsets\":[0,%u]}}",
                              safetensors_dtype_to_string (i), bits);
      header = parse_bytes (json, strlen (json), &error);
      g_assert_no_error (error);
      g_assert_cmpint (tensor_at (header, 0)->dtype, ==, i);
      g_assert_cmpuint (header->data_size, ==, bits);
    }
}

static void
test_array_form (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) header = NULL;
  const SafetensorsTensorInfo *info;

  header = parse_template ("{'b':['BF16',[3],[4,10]],'a':{'dtype':{'U16':null},'shape':[2],'data_offsets':[0,4]}}", &error);
  g_assert_no_error (error);

  info = tensor_at (header, 0);
  assert_tensor (info, "a", SAFETENSORS_DTYPE_U16, 0, 4, 2);
  info = tensor_at (header, 1);
  assert_tensor (info, "b", SAFETENSORS_DTYPE_BF16, 4, 10, 3);
  g_assert_cmpuint (info->n_dims, ==, 1);
  g_assert_cmpuint (info->shape[0], ==, 3);
}

static void
test_metadata (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) header = NULL;

  header = parse_template ("{'t':" ENTRY ",'__metadata__':{'format':'pt','k':'first',"
                           "'esc\\u00e9':'a\\nb\\u0041','k':'last','':''}}", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (header->tensors->len, ==, 1);
  g_assert_nonnull (header->metadata);
  g_assert_cmpuint (g_hash_table_size (header->metadata), ==, 4);
  g_assert_cmpstr (g_hash_table_lookup (header->metadata, "format"), ==, "pt");
  /* A repeated key keeps its last value. */
  g_assert_cmpstr (g_hash_table_lookup (header->metadata, "k"), ==, "last");
  g_assert_cmpstr (g_hash_table_lookup (header->metadata, "escé"), ==, "a\nbA");
  g_assert_cmpstr (g_hash_table_lookup (header->metadata, ""), ==, "");
}

static void
test_metadata_null_and_empty (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) null_header = NULL;
  g_autoptr(SafetensorsHeader) empty_header = NULL;

  null_header = parse_template (META ("null"), &error);
  g_assert_no_error (error);
  g_assert_null (null_header->metadata);
  g_assert_cmpuint (null_header->tensors->len, ==, 1);

  empty_header = parse_template (META ("{}"), &error);
  g_assert_no_error (error);
  g_assert_nonnull (empty_header->metadata);
  g_assert_cmpuint (g_hash_table_size (empty_header->metadata), ==, 0);
}

/* "\u005f_metadata__" is __metadata__ after unescaping, not a tensor. */
static void
test_metadata_escaped_key (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) header = NULL;

  header = parse_template ("{'\\u005f_metadata__':{'a':'b'}}", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (header->tensors->len, ==, 0);
  g_assert_cmpstr (g_hash_table_lookup (header->metadata, "a"), ==, "b");
}

static void
test_names (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) header = NULL;
  const SafetensorsTensorInfo *info;

  header = parse_template ("{'':{'dtype':'U8','shape':[1],'data_offsets':[0,1]},"
                           "'\\u00e9\\ud83d\\ude00/x':{'dtype':'U8','shape':[1],'data_offsets':[1,2]},"
                           "'日本':{'dtype':'U8','shape':[1],'data_offsets':[2,3]},"
                           "'a\\u0000b':{'dtype':'U8','shape':[1],'data_offsets':[3,4]},"
                           "'a\\u0000c':{'dtype':'U8','shape':[1],'data_offsets':[4,5]}}", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (header->tensors->len, ==, 5);

  info = tensor_at (header, 0);
  g_assert_cmpstr (info->name, ==, "");
  g_assert_cmpuint (info->name_len, ==, 0);

  assert_tensor (tensor_at (header, 1), "é😀/x", SAFETENSORS_DTYPE_U8, 1, 2, 1);
  assert_tensor (tensor_at (header, 2), "日本", SAFETENSORS_DTYPE_U8, 2, 3, 1);

  /* C callers see the names cut at the NUL; the full names differ. */
  info = tensor_at (header, 3);
  g_assert_cmpstr (info->name, ==, "a");
  g_assert_cmpuint (info->name_len, ==, 3);
  g_assert_cmpmem (info->name, 4, "a\0b", 4);
  info = tensor_at (header, 4);
  g_assert_cmpuint (info->name_len, ==, 3);
  g_assert_cmpmem (info->name, 4, "a\0c", 4);
}

/* Builds a header whose ignored field nests arrays (or objects) so that
 * the document has @levels nested levels in total. */
static char *
nested_header (guint    levels,
               gboolean objects)
{
  GString *json = g_string_new ("{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16],\"x\":");
  guint inner = levels - 2;

  for (guint i = 0; i < inner; i++)
    g_string_append (json, objects ? (i + 1 < inner ? "{\"k\":" : "{") : "[");
  for (guint i = 0; i < inner; i++)
    g_string_append_c (json, objects ? '}' : ']');
  g_string_append (json, "}}");

  return g_string_free (json, FALSE);
}

static void
test_depth (void)
{
  for (guint objects = 0; objects < 2; objects++)
    {
      g_autofree char *ok_json = nested_header (127, objects);
      g_autofree char *deep_json = nested_header (128, objects);
      g_autoptr(GError) error = NULL;
      g_autoptr(SafetensorsHeader) ok = NULL;
      g_autoptr(SafetensorsHeader) deep = NULL;

      ok = parse_bytes (ok_json, strlen (ok_json), &error);
      g_assert_no_error (error);
      g_assert_nonnull (ok);

      deep = parse_bytes (deep_json, strlen (deep_json), &error);
      g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_JSON);
    }
}

/* Far too deep, and unterminated: must fail fast and without recursion. */
static void
test_depth_hostile (void)
{
  gsize len = 10 * 1000 * 1000;
  g_autofree char *json = g_malloc (len);
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) header = NULL;

  static const char start[] = "{\"t\":{\"x\":";

  memset (json, '[', len);
  memcpy (json, start, strlen (start));
  header = parse_bytes (json, len, &error);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_JSON);
}

static char *
shape_header (guint rank)
{
  GString *json = g_string_new ("{\"t\":{\"dtype\":\"U8\",\"shape\":[");

  for (guint i = 0; i < rank; i++)
    g_string_append (json, i > 0 ? ",1" : "1");
  g_string_append (json, "],\"data_offsets\":[0,1]}}");

  return g_string_free (json, FALSE);
}

static void
test_rank_cap (void)
{
  g_autofree char *max_json = shape_header (SAFETENSORS_HEADER_MAX_RANK);
  g_autofree char *over_json = shape_header (SAFETENSORS_HEADER_MAX_RANK + 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) max = NULL;
  g_autoptr(SafetensorsHeader) over = NULL;

  max = parse_bytes (max_json, strlen (max_json), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tensor_at (max, 0)->n_dims, ==, SAFETENSORS_HEADER_MAX_RANK);

  over = parse_bytes (over_json, strlen (over_json), &error);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_JSON);
  g_assert_nonnull (strstr (error->message, "1024"));
}

/* A u64 significand overflowing into a float: its remaining digits are
 * powers of ten, and past 10^308 the number is out of range for serde. */
static void
test_long_integers (void)
{
  g_autoptr(GString) ok_digits = g_string_new ("1");
  g_autoptr(GString) big_digits = g_string_new ("1");
  g_autofree char *ok_json = NULL;
  g_autofree char *big_json = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) ok = NULL;
  g_autoptr(SafetensorsHeader) big = NULL;

  for (guint i = 0; i < 300; i++)
    g_string_append_c (ok_digits, '0');
  for (guint i = 0; i < 400; i++)
    g_string_append_c (big_digits, '0');

  ok_json = g_strdup_printf ("{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16],\"x\":%s}}",
                             ok_digits->str);
  big_json = g_strdup_printf ("{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16],\"x\":%s}}",
                              big_digits->str);

  ok = parse_bytes (ok_json, strlen (ok_json), &error);
  g_assert_no_error (error);
  big = parse_bytes (big_json, strlen (big_json), &error);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_JSON);
}

/* Strings are scanned eight bytes at a time: put the interesting byte at
 * every position of a word. */
static void
test_string_positions (void)
{
  static const struct {
    const char *insert;
    gsize decoded_len;
    int code;
  } inserts[] = {
    { "\\n", 1, OK },
    { "\\u00e9", 2, OK },
    { "é", 2, OK },
    { "\x7f", 1, OK },
    { "\n", 0, E (INVALID_JSON) },
    { "\x1f", 0, E (INVALID_JSON) },
    { "\\x", 0, E (INVALID_JSON) },
    { "\\ud800", 0, E (INVALID_JSON) },
  };

  for (guint i = 0; i < G_N_ELEMENTS (inserts); i++)
    for (guint before = 0; before < 20; before++)
      for (guint after = 0; after < 10; after++)
        {
          g_autofree char *json = NULL;
          g_autoptr(GError) error = NULL;
          g_autoptr(SafetensorsHeader) header = NULL;

          json = g_strdup_printf ("{\"%.*s%s%.*s\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
                                  (int) before, "abcdefghijklmnopqrstuvwxyz", inserts[i].insert,
                                  (int) after, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
          header = parse_bytes (json, strlen (json), &error);
          if (inserts[i].code == OK)
            {
              g_assert_no_error (error);
              g_assert_cmpuint (tensor_at (header, 0)->name_len, ==,
                                before + after + inserts[i].decoded_len);
            }
          else
            g_assert_error (error, SAFETENSORS_ERROR, inserts[i].code);
        }
}

/* ------------------------------------------------------------------ */
/* Messages                                                           */
/* ------------------------------------------------------------------ */

static void
assert_message (const char *template,
                const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) header = parse_template (template, &error);

  g_assert_null (header);
  g_assert_nonnull (error);
  if (strstr (error->message, expected) == NULL)
    g_error ("message “%s” does not contain “%s”", error->message, expected);
}

static void
test_messages (void)
{
  assert_message ("{'t' " ENTRY "}", DISPLAY_NAME ": invalid JSON in header at byte 5: expected ':'");
  assert_message ("", "at byte 0");
  assert_message (SHAPE ("[1.0]"), DISPLAY_NAME ": tensor “t”: shape must be an array of non-negative integers");
  assert_message (DTYPE ("'f32'"), "tensor “t”: unknown dtype “f32”");
  assert_message ("{'t':{'shape':[2,2],'data_offsets':[0,16]}}", "tensor “t”: missing field “dtype”");
  assert_message ("{'x':" ENTRY ",'x':" ENTRY "}", DISPLAY_NAME ": tensor name “x” appears twice");
  assert_message ("{'w':{'dtype':'F32','shape':[2,2],'data_offsets':[4,20]}}", "tensor “w”: data offsets [4, 20] should start at 0");
  assert_message ("{'w':{'dtype':'F32','shape':[2,2],'data_offsets':[0,12]}}", "tensor “w”: 4 × F32 is 16 bytes but its data offsets [0, 12] span 12");
  assert_message (EXTRA ("'\\ud83d'"), "surrogate");
  /* A syntax error inside a value of the wrong type is reported as such. */
  assert_message (DTYPE ("[1,]"), "trailing comma");
}

static void
test_long_name_in_message (void)
{
  g_autoptr(GString) json = g_string_new ("{\"");
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) header = NULL;

  for (guint i = 0; i < 100000; i++)
    g_string_append (json, "é");
  g_string_append (json, "\":1}");

  header = parse_bytes (json->str, json->len, &error);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_JSON);
  g_assert_cmpuint (strlen (error->message), <, 1000);
  g_assert_nonnull (strstr (error->message, "…"));
}

/* ------------------------------------------------------------------ */
/* Robustness                                                         */
/* ------------------------------------------------------------------ */

static const char rich_header[] =
  "{\"__metadata__\":{\"format\":\"pt\",\"k\\u00e9\":\"v\\ud83d\\ude00\"},"
  "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16],\"x\":[1.5e3,-2,true,null,{\"y\":\"\\n\"}]},"
  "\"b\\u0000\":[\"F4\",[2],[16,17]],"
  "\"c\":{\"dtype\":{\"U8\":null},\"shape\":[0],\"data_offsets\":[17,17]}}  ";

static void
test_truncations (void)
{
  gsize len = strlen (rich_header);
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsHeader) header = parse_bytes (rich_header, len, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (header->data_size, ==, 17);

  for (gsize i = 0; i < len; i++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(SafetensorsHeader) truncated = parse_bytes (rich_header, i, &local_error);

      /* Only cutting trailing whitespace keeps it valid. */
      if (i >= len - 2)
        {
          g_assert_no_error (local_error);
          g_assert_nonnull (truncated);
        }
      else
        g_assert_error (local_error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_JSON);
    }
}

static void
test_mutations (void)
{
  static const guint8 replacements[] = {
    0x00, 0x01, ' ', '"', '\\', '{', '}', '[', ']', ',', ':', '0', '9', '-', 'e', '.',
    'u', 'n', 0x80, 0xc3, 0xff,
  };
  gsize len = strlen (rich_header);
  g_autofree char *copy = g_strdup (rich_header);

  for (gsize i = 0; i < len; i++)
    for (guint r = 0; r < G_N_ELEMENTS (replacements); r++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(SafetensorsHeader) header = NULL;

        copy[i] = replacements[r];
        /* parse_bytes() checks the error invariants. */
        header = parse_bytes (copy, len, &error);
        copy[i] = rich_header[i];
      }
}

/* ------------------------------------------------------------------ */
/* Prefix                                                             */
/* ------------------------------------------------------------------ */

static void
assert_prefix (const guint8 *prefix,
               guint64       file_size,
               int           code,
               guint64       expected_len)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *copy = prefix != NULL ? g_memdup2 (prefix, 8) : NULL;
  guint64 header_len = 12345;
  gboolean ok;

  ok = safetensors_header_check_prefix (DISPLAY_NAME, copy, file_size, &header_len, &error);
  if (code == OK)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpuint (header_len, ==, expected_len);
    }
  else
    {
      g_assert_error (error, SAFETENSORS_ERROR, code);
      g_assert_false (ok);
      g_assert_true (g_str_has_prefix (error->message, DISPLAY_NAME ": "));
    }
}

static void
test_prefix (void)
{
  static const guint8 too_large[] = { 0x3c, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff };
  static const guint8 all_ones[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
  static const guint8 sixty[] = { 60, 0, 0, 0, 0, 0, 0, 0 };
  static const guint8 zero[] = { 0, 0, 0, 0, 0, 0, 0, 0 };
  static const guint8 limit[] = { 0x00, 0xe1, 0xf5, 0x05, 0, 0, 0, 0 };      /* 100000000 */
  static const guint8 over_limit[] = { 0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0 }; /* 100000001 */

  assert_prefix (NULL, 0, E (HEADER_TOO_SMALL), 0);
  assert_prefix (NULL, 7, E (HEADER_TOO_SMALL), 0);
  assert_prefix (too_large, 8, E (HEADER_TOO_LARGE), 0);
  assert_prefix (too_large, G_MAXUINT64, E (HEADER_TOO_LARGE), 0);
  assert_prefix (all_ones, 8, E (HEADER_TOO_LARGE), 0);
  /* The size limit is checked before the file size. */
  assert_prefix (over_limit, 8, E (HEADER_TOO_LARGE), 0);
  assert_prefix (over_limit, G_MAXUINT64, E (HEADER_TOO_LARGE), 0);
  assert_prefix (limit, 8 + 100000000, OK, 100000000);
  assert_prefix (limit, 8 + 99999999, E (INVALID_HEADER_LENGTH), 0);
  assert_prefix (sixty, 8, E (INVALID_HEADER_LENGTH), 0);
  assert_prefix (sixty, 67, E (INVALID_HEADER_LENGTH), 0);
  assert_prefix (sixty, 68, OK, 60);
  assert_prefix (sixty, G_MAXUINT64, OK, 60);
  assert_prefix (zero, 8, OK, 0);
}

/* ------------------------------------------------------------------ */

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (parse_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/safetensors/header/parse/%s", parse_cases[i].name);

      g_test_add_data_func (path, &parse_cases[i], test_parse_case);
    }

  g_test_add_func ("/safetensors/header/result/reference", test_reference_result);
  g_test_add_func ("/safetensors/header/result/empty-object", test_empty_object);
  g_test_add_func ("/safetensors/header/result/sorted-by-offsets", test_sorted_by_offsets);
  g_test_add_func ("/safetensors/header/result/sort-is-stable", test_sort_is_stable);
  g_test_add_func ("/safetensors/header/result/u64-max", test_u64_max);
  g_test_add_func ("/safetensors/header/result/all-dtypes", test_all_dtypes);
  g_test_add_func ("/safetensors/header/result/array-form", test_array_form);
  g_test_add_func ("/safetensors/header/result/metadata", test_metadata);
  g_test_add_func ("/safetensors/header/result/metadata-null-and-empty", test_metadata_null_and_empty);
  g_test_add_func ("/safetensors/header/result/metadata-escaped-key", test_metadata_escaped_key);
  g_test_add_func ("/safetensors/header/result/names", test_names);
  g_test_add_func ("/safetensors/header/offsets/ten-at-zero", test_ten_tensors_same_offsets);
  g_test_add_func ("/safetensors/header/limits/depth", test_depth);
  g_test_add_func ("/safetensors/header/limits/depth-hostile", test_depth_hostile);
  g_test_add_func ("/safetensors/header/limits/rank", test_rank_cap);
  g_test_add_func ("/safetensors/header/limits/long-integers", test_long_integers);
  g_test_add_func ("/safetensors/header/strings/positions", test_string_positions);
  g_test_add_func ("/safetensors/header/messages/content", test_messages);
  g_test_add_func ("/safetensors/header/messages/long-name", test_long_name_in_message);
  g_test_add_func ("/safetensors/header/robustness/truncations", test_truncations);
  g_test_add_func ("/safetensors/header/robustness/mutations", test_mutations);
  g_test_add_func ("/safetensors/header/prefix", test_prefix);

  return g_test_run ();
}
