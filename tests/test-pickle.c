/* test-pickle.c — the restricted pickle VM
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-pickle-private.h"

#include <safetensors-glib/safetensors-glib.h>

/* ---- a small assembler -------------------------------------------------- */

#define P2 "\x80\x02"
/* A literal and its length, which may include NULs. */
#define D(literal) (literal), sizeof (literal) - 1
#define P4 "\x80\x04"

static void
put (GByteArray *b,
     const char *ops,
     gsize       len)
{
  g_byte_array_append (b, (const guint8 *) ops, len);
}

#define PUT(b, literal) put ((b), (literal), sizeof (literal) - 1)

static void
put_str (GByteArray *b,
         const char *s)
{
  guint32 len = GUINT32_TO_LE (strlen (s));

  PUT (b, "X");
  put (b, (const char *) &len, 4);
  put (b, s, strlen (s));
}

static void
put_int (GByteArray *b,
         gint64      n)
{
  if (n >= 0 && n < 256)
    {
      guint8 op[2] = { 'K', n };

      put (b, (const char *) op, 2);
    }
  else if (n >= G_MININT32 && n <= G_MAXINT32)
    {
      gint32 le = GINT32_TO_LE (n);

      PUT (b, "J");
      put (b, (const char *) &le, 4);
    }
  else
    {
      gint64 le = GINT64_TO_LE (n);

      PUT (b, "\x8a\x08");
      put (b, (const char *) &le, 8);
    }
}

static void
put_global (GByteArray *b,
            const char *module,
            const char *name)
{
  PUT (b, "c");
  put (b, module, strlen (module));
  PUT (b, "\n");
  put (b, name, strlen (name));
  PUT (b, "\n");
}

static void
put_ints (GByteArray    *b,
          const gint64  *values,
          guint          n)
{
  PUT (b, "(");
  for (guint i = 0; i < n; i++)
    put_int (b, values[i]);
  PUT (b, "t");
}

static void
put_storage (GByteArray *b,
             const char *cls,
             const char *key,
             gint64      numel)
{
  PUT (b, "(");
  put_str (b, "storage");
  put_global (b, "torch", cls);
  put_str (b, key);
  put_str (b, "cpu");
  put_int (b, numel);
  PUT (b, "tQ");
}

/* _rebuild_tensor_v2 (storage, offset, size, stride, False, OrderedDict ()) */
static void
put_tensor (GByteArray    *b,
            const char    *cls,
            const char    *key,
            gint64         numel,
            gint64         offset,
            const gint64  *size,
            const gint64  *stride,
            guint          n_dims)
{
  put_global (b, "torch._utils", "_rebuild_tensor_v2");
  PUT (b, "(");
  put_storage (b, cls, key, numel);
  put_int (b, offset);
  put_ints (b, size, n_dims);
  put_ints (b, stride, n_dims);
  PUT (b, "\x89");
  put_global (b, "collections", "OrderedDict");
  PUT (b, ")R");
  PUT (b, "tR");
}

/* ---- running pickles ---------------------------------------------------- */

static SafetensorsPickleObject *
load (SafetensorsPickle  *pickle,
      const char         *data,
      gsize               len,
      GError            **error)
{
  return safetensors_pickle_load (pickle, (const guint8 *) data, len, NULL, error);
}

static char *
to_json (const SafetensorsPickleObject *object)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (safetensors_pickle_object_to_json (object, out, 1 << 20, &error));
  g_assert_no_error (error);
  return g_strdup (out->str);
}

static void
assert_json_len (const char *data,
                 gsize       len,
                 const char *expected)
{
  g_autoptr(SafetensorsPickle) pickle = safetensors_pickle_new (SAFETENSORS_PICKLE_PID_ZIP);
  g_autoptr(GError) error = NULL;
  SafetensorsPickleObject *object = load (pickle, data, len, &error);
  g_autofree char *json = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (object);
  json = to_json (object);
  g_assert_cmpstr (json, ==, expected);
}

#define assert_json(literal, expected) assert_json_len ((literal), sizeof (literal) - 1, (expected))

static void
assert_error_len (SafetensorsPicklePidFormat  format,
                  const char                 *data,
                  gsize                       len,
                  int                         code,
                  const char                 *substring)
{
  g_autoptr(SafetensorsPickle) pickle = safetensors_pickle_new (format);
  g_autoptr(GError) error = NULL;
  SafetensorsPickleObject *object = load (pickle, data, len, &error);

  g_assert_null (object);
  g_assert_error (error, SAFETENSORS_ERROR, code);
  if (strstr (error->message, substring) == NULL)
    g_error ("“%s” does not contain “%s”", error->message, substring);
}

#define assert_error(literal, code, substring) \
  assert_error_len (SAFETENSORS_PICKLE_PID_ZIP, (literal), sizeof (literal) - 1, \
                    SAFETENSORS_ERROR_##code, (substring))

static void
assert_bytes_error (GByteArray *b,
                    int         code,
                    const char *substring)
{
  assert_error_len (SAFETENSORS_PICKLE_PID_ZIP, (const char *) b->data, b->len, code, substring);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_scalars (void)
{
  assert_json (P2 "N.", "null");
  assert_json (P2 "\x88.", "true");
  assert_json (P2 "\x89.", "false");
  assert_json (P2 "K\xff.", "255");
  assert_json (P2 "M\x34\x12.", "4660");
  assert_json (P2 "J\xff\xff\xff\xff.", "-1");
  assert_json (P2 "J\x00\x00\x00\x80.", "-2147483648");
  assert_json (P2 "\x8a\x00.", "0");
  assert_json (P2 "\x8a\x01\xff.", "-1");
  assert_json (P2 "\x8a\x02\xff\x00.", "255");
  assert_json (P2 "\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f.", "9223372036854775807");
  assert_json (P2 "\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80.", "-9223372036854775808");
  assert_json (P2 "\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.", "18446744073709551616");
  assert_json (P2 "\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\xff.", "-18446744073709551616");
  assert_json (P2 "\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", "119547037146038801333356");
  /* Redundant sign bytes still give a 64-bit int. */
  assert_json (P2 "\x8a\x0a\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00.", "5");
  assert_json (P2 "\x8b\x02\x00\x00\x00\x00\x80.", "-32768");
  assert_json (P2 "G?\xf8\x00\x00\x00\x00\x00\x00.", "1.5");
  assert_json (P2 "G\x80\x00\x00\x00\x00\x00\x00\x00.", "-0.0");
  assert_json (P2 "G\x7f\xf8\x00\x00\x00\x00\x00\x00.", "\"NaN\"");
  assert_json (P2 "G\xff\xf0\x00\x00\x00\x00\x00\x00.", "\"-Infinity\"");
  assert_json (P2 "G\x3e\x45\x79\x8e\xe2\x30\x8c\x3a.", "1e-08");   /* not 1.0000000000000001e-08 */
  assert_json (P2 "G\x43\x41\xc3\x79\x37\xe0\x80\x00.", "1e+16");
  assert_json (P2 "G?\xb9\x99\x99\x99\x99\x99\x9a.", "0.1");
}

static void
test_strings (void)
{
  assert_json (P2 "X\x03\x00\x00\x00" "abc.", "\"abc\"");
  assert_json (P4 "\x8c\x02\xc3\xa9.", "\"é\"");
  assert_json (P4 "\x8d\x01\x00\x00\x00\x00\x00\x00\x00x.", "\"x\"");
  assert_json (P2 "T\x02\x00\x00\x00hi.", "\"hi\"");
  assert_json (P2 "U\x02hi.", "\"hi\"");
  /* U+0000 is a valid Python character. */
  assert_json (P2 "X\x03\x00\x00\x00" "a\x00" "b.", "\"a\\u0000b\"");
  assert_json (P2 "X\x02\x00\x00\x00\"\n.", "\"\\\"\\n\"");
  assert_json (P2 "B\x03\x00\x00\x00\x00\x01\x02.", "\"AAEC\"");
  assert_json (P2 "C\x02" "ab.", "\"YWI=\"");
  assert_json (P4 "\x8e\x01\x00\x00\x00\x00\x00\x00\x00z.", "\"eg==\"");

  assert_error (P2 "X\x02\x00\x00\x00\xc3(.", INVALID_DATA, "invalid UTF-8");
  assert_error (P2 "T\xff\xff\xff\xff.", INVALID_DATA, "negative length");
  assert_error (P2 "X\xff\xff\xff\x7f.", INVALID_DATA, "needs 2147483647 bytes but only 1 remain");
  assert_error (P4 "\x8d\xff\xff\xff\xff\xff\xff\xff\xff.", INVALID_DATA,
                "needs 18446744073709551615 bytes");
  assert_error (P4 "\x8e\x00\x00\x00\x00\x00\x00\x00\x80.", INVALID_DATA, "BINBYTES8 needs");
  assert_error (P2 "C\x05" "ab.", INVALID_DATA, "SHORT_BINBYTES needs 5 bytes but only 3 remain");
  assert_error (P2 "J\x01\x02", INVALID_DATA, "BININT needs 4 bytes");
}

static void
test_containers (void)
{
  assert_json (P2 ").", "[]");
  assert_json (P2 "K\x01\x85.", "[1]");
  assert_json (P2 "K\x01K\x02\x86.", "[1,2]");
  assert_json (P2 "K\x01K\x02K\x03\x87.", "[1,2,3]");
  assert_json (P2 "(K\x01K\x02K\x03K\x04t.", "[1,2,3,4]");
  assert_json (P2 "]K\x01" "a.", "[1]");
  assert_json (P2 "](K\x01K\x02" "e.", "[1,2]");
  assert_json (P2 "](e.", "[]");
  assert_json (P2 "}U\x01" "aK\x01s.", "{\"a\":1}");
  assert_json (P2 "}(U\x01" "aK\x01U\x01" "bK\x02u.", "{\"a\":1,\"b\":2}");
  assert_json (P4 "\x8f(K\x03K\x01K\x03\x90.", "[3,1]");
  assert_json (P4 "(K\x02K\x02\x91.", "[2]");
  /* Nested: TUPLE inside a MARK frame. */
  assert_json (P2 "((K\x01tK\x02t.", "[[1],2]");

  /* Python keys: 1 == 1.0 == True; the first key stays, the last value wins. */
  assert_json (P2 "}(K\x01U\x01" "a\x88U\x01" "bG?\xf0\x00\x00\x00\x00\x00\x00U\x01" "cu.", "{\"1\":\"c\"}");
  assert_json (P2 "}(\x88K\x01NK\x02K\x05K\x03u.", "{\"true\":1,\"null\":2,\"5\":3}");
  /* Tuples are hashable keys. */
  assert_json (P2 "}K\x01K\x02\x86K\x03s.", "{\"[1,2]\":3}");

  assert_error (P2 "}]K\x01s.", INVALID_DATA, "unhashable type list");
  assert_error (P2 "}(]K\x01u.", INVALID_DATA, "unhashable type list");
  assert_error (P4 "\x8f(}\x90.", INVALID_DATA, "unhashable type dict");
  assert_error (P2 "}(K\x01u.", INVALID_DATA, "odd number");
  assert_error (P2 "]K\x01K\x02s.", INVALID_DATA, "SETITEM expects a dict, not list");
  assert_error (P2 "}K\x01" "a.", INVALID_DATA, "APPEND expects a list, not dict");
  assert_error (P2 ")(K\x01" "e.", INVALID_DATA, "APPENDS expects a list, not tuple");
  assert_error (P2 "(K\x01" "e.", INVALID_DATA, "no container below its MARK");
  assert_error (P2 "K\x01t.", INVALID_DATA, "TUPLE without a MARK");
  assert_error (P2 "K\x01\x86.", INVALID_DATA, "TUPLE2 needs 2 items");
  assert_error (P2 "K\x01(\x85.", INVALID_DATA, "TUPLE1 needs 1 items");
}

static void
test_deep_tuple_key (void)
{
  g_autoptr(GByteArray) b = g_byte_array_new ();

  PUT (b, P2 "}");
  PUT (b, "N");
  for (int i = 0; i < SAFETENSORS_PICKLE_MAX_KEY_DEPTH + 1; i++)
    PUT (b, "\x85");
  PUT (b, "K\x01s.");
  assert_bytes_error (b, SAFETENSORS_ERROR_INVALID_DATA, "nests tuples more than 32 deep");
}

static void
test_stack_ops (void)
{
  assert_json (P2 "K\x01K\x02" "0.", "1");
  /* POP with nothing above the MARK drops the MARK. */
  assert_json (P2 "K\x01(0.", "1");
  assert_json (P2 "K\x01(K\x02K\x03" "1.", "1");
  assert_json (P2 "K\x07" "2\x86.", "[7,7]");
  assert_json (P4 "\x95\x04\x00\x00\x00\x00\x00\x00\x00K\x01\x85.", "[1]");

  assert_error (P2 ".", INVALID_DATA, "STOP finds the stack empty");
  assert_error (P2 "0.", INVALID_DATA, "POP without a MARK");
  assert_error (P2 "1.", INVALID_DATA, "POP_MARK without a MARK");
  assert_error (P2 "2.", INVALID_DATA, "DUP finds the stack empty");
  assert_error (P2 "K\x01(.", INVALID_DATA, "STOP finds the stack empty");
  assert_error (P2 "N", INVALID_DATA, "ends without STOP");
  assert_error (P2 "", INVALID_DATA, "ends without STOP");
  assert_error (P4 "\x95\xff\x00\x00\x00\x00\x00\x00\x00N.", INVALID_DATA, "FRAME needs 255 bytes");
}

static void
test_memo (void)
{
  assert_json (P2 "K\x05q\x00" "0h\x00.", "5");
  assert_json (P2 "K\x05r\xff\xff\xff\xff" "0j\xff\xff\xff\xff.", "5");
  assert_json (P4 "K\x05\x94K\x06\x94h\x00h\x01\x86.", "[5,6]");
  /* MEMOIZE takes the next index, whatever PUT used before. */
  assert_json (P4 "K\x05q\x00K\x06\x94h\x01.", "6");
  /* Shared references stay shared. */
  assert_json (P2 "]q\x00h\x00\x86.", "[[],[]]");

  assert_error (P2 "h\x03.", INVALID_DATA, "memo entry 3 is not set");
  assert_error (P2 "j\xff\xff\xff\xff.", INVALID_DATA, "memo entry 4294967295 is not set");
  assert_error (P2 "q\x00.", INVALID_DATA, "BINPUT finds the stack empty");
}

static void
test_cycle (void)
{
  g_autoptr(SafetensorsPickle) pickle = safetensors_pickle_new (SAFETENSORS_PICKLE_PID_ZIP);
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) json = g_string_new (NULL);
  /* l = []; l.append (l) */
  static const char data[] = P2 "]q\x00h\x00" "a.";
  SafetensorsPickleObject *object = load (pickle, data, sizeof data - 1, &error);

  g_assert_no_error (error);
  g_assert_cmpint (object->type, ==, SAFETENSORS_PICKLE_LIST);
  g_assert_true (object->seq.items[0] == object);
  g_assert_false (safetensors_pickle_object_to_json (object, json, 1000, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "contains itself"));
}

static void
test_exponential_sharing (void)
{
  g_autoptr(SafetensorsPickle) pickle = safetensors_pickle_new (SAFETENSORS_PICKLE_PID_ZIP);
  g_autoptr(GByteArray) b = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) json = g_string_new (NULL);
  SafetensorsPickleObject *object;

  /* l_k = [l_{k-1}, l_{k-1}]: 2^60 leaves from 60 levels. */
  PUT (b, P2 "K\x01");
  for (int i = 0; i < 60; i++)
    PUT (b, "2\x86");
  PUT (b, ".");
  object = load (pickle, (const char *) b->data, b->len, &error);
  g_assert_no_error (error);

  /* JSON stops at its size limit instead of expanding everything. */
  g_assert_false (safetensors_pickle_object_to_json (object, json, 4096, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "exceeds 4096 bytes"));
}

static void
test_limits (void)
{
  g_autoptr(GByteArray) marks = g_byte_array_new ();
  g_autoptr(GByteArray) ok = g_byte_array_new ();
  g_autoptr(GByteArray) stack = g_byte_array_new ();
  g_autoptr(GByteArray) nested = g_byte_array_new ();

  PUT (ok, P2);
  for (int i = 0; i < SAFETENSORS_PICKLE_MAX_MARK_DEPTH; i++)
    PUT (ok, "(");
  for (int i = 0; i < SAFETENSORS_PICKLE_MAX_MARK_DEPTH; i++)
    PUT (ok, "t");
  PUT (ok, ".");
  {
    g_autoptr(SafetensorsPickle) pickle = safetensors_pickle_new (SAFETENSORS_PICKLE_PID_ZIP);
    g_autoptr(GError) error = NULL;

    g_assert_nonnull (load (pickle, (const char *) ok->data, ok->len, &error));
    g_assert_no_error (error);
  }

  PUT (marks, P2);
  for (int i = 0; i < 100000; i++)
    PUT (marks, "(");
  PUT (marks, "N.");
  assert_bytes_error (marks, SAFETENSORS_ERROR_INVALID_DATA, "more than 1000 nested MARKs");

  PUT (stack, P2 "N");
  for (guint i = 0; i < SAFETENSORS_PICKLE_MAX_STACK; i++)
    PUT (stack, "2");
  PUT (stack, ".");
  assert_bytes_error (stack, SAFETENSORS_ERROR_INVALID_DATA, "the stack grows beyond");

  /* Deep nesting without MARKs builds fine; walkers bound their depth. */
  PUT (nested, P2);
  for (int i = 0; i < 100000; i++)
    PUT (nested, "]");
  for (int i = 0; i < 99999; i++)
    PUT (nested, "a");
  PUT (nested, ".");
  {
    g_autoptr(SafetensorsPickle) pickle = safetensors_pickle_new (SAFETENSORS_PICKLE_PID_ZIP);
    g_autoptr(GError) error = NULL;
    g_autoptr(GString) json = g_string_new (NULL);
    SafetensorsPickleObject *object = load (pickle, (const char *) nested->data, nested->len, &error);

    g_assert_no_error (error);
    g_assert_false (safetensors_pickle_object_to_json (object, json, 1 << 20, &error));
    g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA);
    g_assert_nonnull (strstr (error->message, "nests more than 1000 levels"));
  }
}

static void
test_forbidden_opcodes (void)
{
  static const struct { const char *data; gsize len; const char *name; } cases[] = {
    { D (P2 "(X\x01\x00\x00\x00xios\nsystem\n."), "INST" },
    { D (P2 "(cos\nsystem\n"), "global os.system" },
    { D (P2 "(o."), "OBJ" },
    { D (P2 "\x82\x01."), "EXT1" },
    { D (P2 "\x83\x01\x00."), "EXT2" },
    { D (P2 "\x84\x01\x00\x00\x00."), "EXT4" },
    { D (P2 "P0\n."), "PERSID" },
    { D (P2 "F1.0\n."), "FLOAT" },
    { D (P2 "I1\n."), "INT" },
    { D (P2 "L1L\n."), "LONG" },
    { D (P2 "S'a'\n."), "STRING" },
    { D (P2 "Va\n."), "UNICODE" },
    { D (P2 "(d."), "DICT" },
    { D (P2 "(l."), "LIST" },
    { D (P2 "g0\n."), "GET" },
    { D (P2 "Np0\n."), "PUT" },
    { D ("\x80\x05\x96\x00\x00\x00\x00\x00\x00\x00\x00."), "BYTEARRAY8" },
    { D ("\x80\x05\x97."), "NEXT_BUFFER" },
    { D ("\x80\x05N\x98."), "READONLY_BUFFER" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_error_len (SAFETENSORS_PICKLE_PID_ZIP, cases[i].data, cases[i].len,
                      SAFETENSORS_ERROR_UNSAFE_PICKLE, cases[i].name);

  assert_error (P2 "\xff.", INVALID_DATA, "unknown opcode 0xff");
  assert_error ("\x80\x06N.", UNSUPPORTED, "protocol 6");
}

static void
test_globals (void)
{
  assert_json (P2 "ctorch\nfloat16\n.", "\"torch.float16\"");
  assert_json (P2 "ctorch\nFloatStorage\n.", "\"torch.FloatStorage\"");
  assert_json (P4 "\x8c\x05torch\x8c\x08" "bfloat16\x93.", "\"torch.bfloat16\"");
  assert_json (P2 "c__builtin__\nset\n(K\x01K\x02K\x01t\x85R.", "[1,2]");
  assert_json (P2 "cbuiltins\nfrozenset\n]K\x03" "a\x85R.", "[3]");
  assert_json (P2 "cbuiltins\ncomplex\nK\x01G?\xe0\x00\x00\x00\x00\x00\x00\x86R.", "[1.0,0.5]");
  assert_json (P2 "cbuiltins\nbytearray\nC\x02" "ab\x85R.", "\"YWI=\"");
  assert_json (P2 "c_codecs\nencode\nX\x03\x00\x00\x00\xc3\xa9" "aX\x06\x00\x00\x00latin1\x86R.",
               "\"6WE=\"");
  assert_json (P2 "ccollections\nOrderedDict\n)R.", "{}");
  assert_json (P2 "ccollections\nOrderedDict\n]U\x01" "aK\x01\x86" "a\x85R.", "{\"a\":1}");
  assert_json (P2 "ctorch\nSize\nK\x02K\x03\x86\x85R.", "[2,3]");
  assert_json (P2 "ctorch\ndevice\nU\x04" "cudaK\x01\x86R.", "\"cuda:1\"");
  assert_json (P2 "ctorch\ndevice\nU\x03" "cpu\x85R.", "\"cpu\"");
  assert_json (P2 "cargparse\nNamespace\n)\x81}(U\x02lrG?\xb9\x99\x99\x99\x99\x99\x9aU\x01n]ub.",
               "{\"lr\":0.1,\"n\":[]}");
  assert_json (P4 "cargparse\nNamespace\n)}\x92NN\x86" "b.", "{}");
  /* An OrderedDict's own attributes (state_dict ()._metadata) are ignored. */
  assert_json (P2 "ccollections\nOrderedDict\n)R}U\x09_metadata}sb.", "{}");

  assert_error (P2 "cos\nsystem\n.", UNSAFE_PICKLE, "global os.system is not allowed");
  assert_error (P2 "cposix\nsystem\nU\x02ls\x85R.", UNSAFE_PICKLE, "posix.system");
  assert_error (P4 "\x8c\x05posix\x8c\x06system\x93U\x02ls\x85R.", UNSAFE_PICKLE,
                "at byte 17: global posix.system");
  assert_error (P2 "cbuiltins\neval\n.", UNSAFE_PICKLE, "builtins.eval");
  assert_error (P2 "ctorch.nn.modules.linear\nLinear\n.", UNSAFE_PICKLE,
                "torch.nn.modules.linear.Linear");
  assert_error (P2 "ctorch\nload\n.", UNSAFE_PICKLE, "torch.load");
  assert_error (P2 "ccopy_reg\n_reconstructor\n.", UNSAFE_PICKLE, "copy_reg._reconstructor");
  assert_error (P2 "ctorch\x00x\nfloat16\n.", UNSAFE_PICKLE, "torch\\x00x.float16");
  assert_error (P2 "ctorch\nfloat16", INVALID_DATA, "not terminated by a newline");
  /* STACK_GLOBAL's names must be literals (or memoized ones). */
  assert_error (P4 "K\x01\x8c\x01x\x93.", UNSAFE_PICKLE, "at byte 7: STACK_GLOBAL names a global "
                "that is not given by string literals");
  assert_error (P4 "\x8c\x05torch\x8c\x07" "float162\x93.", UNSAFE_PICKLE, "not given by string literals");
  assert_json (P4 "\x8c\x05torch\x94\x8c\x07" "float16\x94\x93\x95\x01\x00\x00\x00\x00\x00\x00\x00"
               "0h\x00h\x01\x93h\x00\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x07" "float32\x93\x86.",
               "[\"torch.float16\",\"torch.float32\"]");
  /* Checked before anything runs, like GLOBAL. */
  assert_error (P4 "0\x8c\x05posix\x8c\x06system\x93.", UNSAFE_PICKLE, "at byte 18: global posix.system");

  /* The whole pickle is scanned before anything runs: a malformed start
   * does not hide a forbidden global further on. */
  assert_error (P2 "0cos\nsystem\n.", UNSAFE_PICKLE, "at byte 3: global os.system");

  assert_error (P2 "ctorch\nFloatStorage\n)R.", UNSAFE_PICKLE, "torch.FloatStorage may appear");
  assert_error (P2 "ctorch\nfloat32\n)R.", UNSAFE_PICKLE, "cannot be called");
  assert_error (P2 "ctorch._utils\n_rebuild_tensor_v2\n)\x81.", UNSAFE_PICKLE, "cannot be instantiated");
  assert_error (P2 "K\x01)R.", INVALID_DATA, "REDUCE cannot call a int");
  assert_error (P2 "ctorch\nSize\nK\x01R.", INVALID_DATA, "REDUCE expects an argument tuple, not int");
  assert_error (P2 "ctorch\nSize\n)R.", INVALID_DATA, "torch.Size takes 1 to 1 arguments, not 0");
  assert_error (P2 "c_codecs\nencode\nX\x02\x00\x00\x00\xe2\x82U\x06latin1\x86R.", INVALID_DATA,
                "invalid UTF-8");
  assert_error (P2 "c_codecs\nencode\nX\x03\x00\x00\x00\xe2\x82\xacU\x06latin1\x86R.", INVALID_DATA,
                "U+20AC is not in Latin-1");
  assert_error (P2 "c_codecs\nencode\nU\x01" "aU\x05" "ascii\x86R.", UNSUPPORTED, "encoding “ascii”");
  assert_error (P2 "]N\x85" "b.", INVALID_DATA, "BUILD cannot set the state of a list");
  assert_error (P2 "cargparse\nNamespace\n)RK\x01\x85" "b.", INVALID_DATA, "BUILD expects a dict");
  assert_error (P2 "ctorch\ndevice\nK\x01\x85R.", INVALID_DATA, "torch.device expects a device name");
}

static void
test_key_strings (void)
{
  static const struct { const char *data; gsize len; const char *key; } cases[] = {
    { D (P2 "U\x03" "abc."), "abc" },
    { D (P2 "K\x07."), "7" },
    { D (P2 "J\xfe\xff\xff\xff."), "-2" },
    { D (P2 "\x88."), "True" },
    { D (P2 "N."), "None" },
    { D (P2 "G@\x00\x00\x00\x00\x00\x00\x00."), "2.0" },
    { D (P2 "G\x7f\xf8\x00\x00\x00\x00\x00\x00."), "nan" },
    { D (P2 "\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01."), "18446744073709551616" },
    { D (P2 "K\x01U\x01" "a\x86."), "[1,\"a\"]" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(SafetensorsPickle) pickle = safetensors_pickle_new (SAFETENSORS_PICKLE_PID_ZIP);
      g_autoptr(GError) error = NULL;
      SafetensorsPickleObject *object = load (pickle, cases[i].data, cases[i].len, &error);
      g_autofree char *key = NULL;

      g_assert_no_error (error);
      key = safetensors_pickle_object_key_string (object);
      g_assert_cmpstr (key, ==, cases[i].key);
    }
}

static void
test_consecutive_pickles (void)
{
  g_autoptr(SafetensorsPickle) pickle = safetensors_pickle_new (SAFETENSORS_PICKLE_PID_LEGACY);
  g_autoptr(GError) error = NULL;
  static const char data[] = P2 "K\x01." P2 "K\x02.trailing";
  gsize consumed = 0;
  SafetensorsPickleObject *object;

  object = safetensors_pickle_load (pickle, (const guint8 *) data, sizeof data - 1, &consumed, &error);
  g_assert_no_error (error);
  g_assert_cmpint (object->integer, ==, 1);
  g_assert_cmpuint (consumed, ==, 5);
  object = safetensors_pickle_load (pickle, (const guint8 *) data + consumed, sizeof data - 1 - consumed,
                                    &consumed, &error);
  g_assert_no_error (error);
  g_assert_cmpint (object->integer, ==, 2);
  g_assert_cmpuint (consumed, ==, 5);
}

static void
test_tensors (void)
{
  g_autoptr(SafetensorsPickle) pickle = safetensors_pickle_new (SAFETENSORS_PICKLE_PID_ZIP);
  g_autoptr(GByteArray) b = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  SafetensorsPickleObject *object, *w, *t, *p, *u, *q;
  static const gint64 size[] = { 2, 3 }, stride[] = { 1, 2 };
  GHashTable *storages;

  PUT (b, P2 "}(");
  put_str (b, "w");
  put_tensor (b, "FloatStorage", "0", 6, 0, size, stride, 2);
  put_str (b, "t");
  put_tensor (b, "FloatStorage", "0", 6, 1, size + 1, stride, 1);
  /* A parameter is its tensor. */
  put_str (b, "p");
  put_global (b, "torch._utils", "_rebuild_parameter");
  PUT (b, "(");
  put_tensor (b, "HalfStorage", "1", 2, 0, size, stride + 1, 1);
  PUT (b, "\x88");
  put_global (b, "collections", "OrderedDict");
  PUT (b, ")RtR");
  /* v3: the dtype comes from the argument, the storage is bytes. */
  put_str (b, "u");
  put_global (b, "torch._utils", "_rebuild_tensor_v3");
  PUT (b, "(");
  put_storage (b, "UntypedStorage", "2", 16);
  put_int (b, 1);
  put_ints (b, size, 1);
  put_ints (b, stride, 1);
  PUT (b, "\x89");
  put_global (b, "collections", "OrderedDict");
  PUT (b, ")R");
  put_global (b, "torch", "uint16");
  PUT (b, "tR");
  /* Quantized tensors are kept, marked. */
  put_str (b, "q");
  put_global (b, "torch._utils", "_rebuild_qtensor");
  PUT (b, "(");
  put_storage (b, "QInt8Storage", "3", 4);
  put_int (b, 0);
  put_ints (b, size, 1);
  put_ints (b, stride, 1);
  put_global (b, "torch", "per_tensor_affine");
  PUT (b, "G?\xb9\x99\x99\x99\x99\x99\x9aK\x00\x87\x89");
  put_global (b, "collections", "OrderedDict");
  PUT (b, ")RtR");
  PUT (b, "u.");

  object = load (pickle, (const char *) b->data, b->len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (safetensors_pickle_dict_size (object), ==, 5);

  w = safetensors_pickle_dict_lookup_string (object, "w");
  g_assert_cmpint (w->type, ==, SAFETENSORS_PICKLE_TENSOR);
  g_assert_cmpstr (w->tensor->storage->key, ==, "0");
  g_assert_cmpuint (w->tensor->storage->numel, ==, 6);
  g_assert_cmpuint (w->tensor->storage->n_bytes, ==, 24);
  g_assert_cmpint (w->tensor->dtype, ==, SAFETENSORS_TORCH_DTYPE_FLOAT32);
  g_assert_cmpuint (w->tensor->n_dims, ==, 2);
  g_assert_cmpint (w->tensor->size[1], ==, 3);
  g_assert_cmpint (w->tensor->stride[1], ==, 2);

  t = safetensors_pickle_dict_lookup_string (object, "t");
  g_assert_true (t->tensor->storage == w->tensor->storage);
  g_assert_cmpint (t->tensor->offset, ==, 1);

  p = safetensors_pickle_dict_lookup_string (object, "p");
  g_assert_cmpint (p->type, ==, SAFETENSORS_PICKLE_TENSOR);
  g_assert_cmpint (p->tensor->dtype, ==, SAFETENSORS_TORCH_DTYPE_FLOAT16);

  u = safetensors_pickle_dict_lookup_string (object, "u");
  g_assert_cmpint (u->tensor->dtype, ==, SAFETENSORS_TORCH_DTYPE_UINT16);
  g_assert_cmpint (u->tensor->storage->dtype, ==, SAFETENSORS_TORCH_DTYPE_UNTYPED);
  g_assert_cmpuint (u->tensor->storage->n_bytes, ==, 16);

  q = safetensors_pickle_dict_lookup_string (object, "q");
  g_assert_true (q->tensor->quantized);
  g_assert_cmpint (q->tensor->dtype, ==, SAFETENSORS_TORCH_DTYPE_QINT8);

  storages = safetensors_pickle_get_storages (pickle);
  g_assert_cmpuint (g_hash_table_size (storages), ==, 4);

  {
    g_autofree char *json = to_json (w);

    g_assert_cmpstr (json, ==, "\"tensor float32[2, 3]\"");
  }
}

static void
test_persistent_ids (void)
{
  static const struct { const char *pid; gsize len; int code; const char *message; } cases[] = {
    { D ("(U\x06moduleK\x01t"), SAFETENSORS_ERROR_UNSAFE_PICKLE, "kind “module” are not allowed" },
    { D ("K\x01"), SAFETENSORS_ERROR_INVALID_DATA, "persistent id is a int" },
    { D ("(U\x07storagectorch\nFloatStorage\nU\x01" "0U\x03" "cput"), SAFETENSORS_ERROR_INVALID_DATA,
      "has 4 items, not 5" },
    { D ("(U\x07storagectorch\nfloat32\nU\x01" "0U\x03" "cpuK\x01t"), SAFETENSORS_ERROR_INVALID_DATA,
      "names a torch.dtype, not a storage class" },
    { D ("(U\x07storagectorch\nFloatStorage\nU\x04../0U\x03" "cpuK\x01t"), SAFETENSORS_ERROR_INVALID_DATA,
      "a storage key must be" },
    { D ("(U\x07storagectorch\nFloatStorage\nU\x01/U\x03" "cpuK\x01t"), SAFETENSORS_ERROR_INVALID_DATA,
      "a storage key must be" },
    { D ("(U\x07storagectorch\nFloatStorage\nU\x01" "0U\x03" "cpuJ\xff\xff\xff\xfft"), SAFETENSORS_ERROR_INVALID_DATA,
      "size an int ≥ 0" },
    { D ("(U\x07storagectorch\nDoubleStorage\nU\x01" "0U\x03" "cpu\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x40t"),
      SAFETENSORS_ERROR_INVALID_DATA, "overflows 64 bits" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GString) data = g_string_new (P2);

      g_string_append_len (data, cases[i].pid, cases[i].len);
      g_string_append (data, "Q.");
      assert_error_len (SAFETENSORS_PICKLE_PID_ZIP, data->str, data->len, cases[i].code, cases[i].message);
    }

  /* The same key must describe the same storage. */
  assert_error (P2 "(U\x07storagectorch\nFloatStorage\nU\x01" "0U\x03" "cpuK\x01tQ"
                "(U\x07storagectorch\nFloatStorage\nU\x01" "0U\x03" "cpuK\x02tQ\x86.",
                INVALID_DATA, "storage “0” is described twice, differently");
  assert_json (P2 "(U\x07storagectorch\nFloatStorage\nU\x01" "0U\x03" "cpuK\x01tQ"
               "(U\x07storagectorch\nFloatStorage\nU\x01" "0U\x03" "cpuK\x01tQ\x86.",
               "[\"storage 0\",\"storage 0\"]");

  /* Legacy ids have a sixth item, the view metadata. */
  assert_error_len (SAFETENSORS_PICKLE_PID_LEGACY,
                    P2 "(U\x07storagectorch\nFloatStorage\nU\x01" "0U\x03" "cpuK\x01tQ.",
                    sizeof (P2 "(U\x07storagectorch\nFloatStorage\nU\x01" "0U\x03" "cpuK\x01tQ.") - 1,
                    SAFETENSORS_ERROR_INVALID_DATA, "has 5 items, not 6");
  assert_error_len (SAFETENSORS_PICKLE_PID_LEGACY,
                    P2 "(U\x07storagectorch\nFloatStorage\nU\x01" "0U\x03" "cpuK\x01(U\x01" "1K\x00K\x01ttQ.",
                    sizeof (P2 "(U\x07storagectorch\nFloatStorage\nU\x01" "0U\x03" "cpuK\x01(U\x01" "1K\x00K\x01ttQ.") - 1,
                    SAFETENSORS_ERROR_UNSUPPORTED, "storage views");
}

static void
test_bad_tensors (void)
{
  static const gint64 two[] = { 2, 1 };
  g_autoptr(GByteArray) mismatch = g_byte_array_new ();
  g_autoptr(GByteArray) not_storage = g_byte_array_new ();
  g_autoptr(GByteArray) bad_v3 = g_byte_array_new ();

  PUT (mismatch, P2);
  put_global (mismatch, "torch._utils", "_rebuild_tensor_v2");
  PUT (mismatch, "(");
  put_storage (mismatch, "FloatStorage", "0", 2);
  put_int (mismatch, 0);
  put_ints (mismatch, two, 2);
  put_ints (mismatch, two, 1);
  PUT (mismatch, "\x89N" "tR.");
  assert_bytes_error (mismatch, SAFETENSORS_ERROR_INVALID_DATA, "has 2 sizes but 1 strides");

  PUT (not_storage, P2);
  put_global (not_storage, "torch._utils", "_rebuild_tensor_v2");
  PUT (not_storage, "(K\x00K\x00)))\x89NtR.");
  assert_bytes_error (not_storage, SAFETENSORS_ERROR_INVALID_DATA, "built on a int, not a storage");

  PUT (bad_v3, P2);
  put_global (bad_v3, "torch._utils", "_rebuild_tensor_v3");
  PUT (bad_v3, "(");
  put_storage (bad_v3, "UntypedStorage", "0", 2);
  PUT (bad_v3, "K\x00))\x89NK\x01tR.");
  assert_bytes_error (bad_v3, SAFETENSORS_ERROR_INVALID_DATA, "expects a torch.dtype, not int");

  assert_error (P2 "ctorch._utils\n_rebuild_parameter\nK\x01\x89N\x87R.", INVALID_DATA,
                "a parameter wraps a int");
  assert_error (P2 "ctorch._utils\n_rebuild_tensor_v2\n)R.", INVALID_DATA, "takes 6 to 7 arguments");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/safetensors/pickle/scalars", test_scalars);
  g_test_add_func ("/safetensors/pickle/strings", test_strings);
  g_test_add_func ("/safetensors/pickle/containers", test_containers);
  g_test_add_func ("/safetensors/pickle/deep-tuple-key", test_deep_tuple_key);
  g_test_add_func ("/safetensors/pickle/stack-ops", test_stack_ops);
  g_test_add_func ("/safetensors/pickle/memo", test_memo);
  g_test_add_func ("/safetensors/pickle/cycle", test_cycle);
  g_test_add_func ("/safetensors/pickle/exponential-sharing", test_exponential_sharing);
  g_test_add_func ("/safetensors/pickle/limits", test_limits);
  g_test_add_func ("/safetensors/pickle/forbidden-opcodes", test_forbidden_opcodes);
  g_test_add_func ("/safetensors/pickle/globals", test_globals);
  g_test_add_func ("/safetensors/pickle/key-strings", test_key_strings);
  g_test_add_func ("/safetensors/pickle/consecutive", test_consecutive_pickles);
  g_test_add_func ("/safetensors/pickle/tensors", test_tensors);
  g_test_add_func ("/safetensors/pickle/persistent-ids", test_persistent_ids);
  g_test_add_func ("/safetensors/pickle/bad-tensors", test_bad_tensors);

  return g_test_run ();
}
