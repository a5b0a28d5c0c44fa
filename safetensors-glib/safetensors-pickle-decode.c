/* safetensors-pickle-decode.c — decoding pickle opcodes, and the scan
 * that refuses forbidden opcodes and globals before anything runs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-error.h"
#include "safetensors-pickle-ops-private.h"

/* How an opcode's argument is encoded. */
typedef enum
{
  ARG_NONE,
  ARG_U1,
  ARG_U2,
  ARG_S4,
  ARG_U4,
  ARG_U8,
  ARG_F8,          /* big-endian IEEE double */
  ARG_BYTES1,      /* 1-byte length, then the bytes */
  ARG_BYTES4,      /* unsigned 4-byte length */
  ARG_BYTES4S,     /* signed 4-byte length, negative is an error */
  ARG_BYTES8,
  ARG_LINES2,      /* two newline-terminated lines (GLOBAL) */
  ARG_FORBIDDEN,   /* never decoded: refused on sight */
} ArgKind;

typedef struct
{
  const char *name;
  ArgKind     arg;
} OpInfo;

#define OP(code, kind) [code] = { #code + 3, kind }

static const OpInfo op_info[256] = {
  OP (OP_MARK, ARG_NONE),
  OP (OP_STOP, ARG_NONE),
  OP (OP_POP, ARG_NONE),
  OP (OP_POP_MARK, ARG_NONE),
  OP (OP_DUP, ARG_NONE),
  OP (OP_FLOAT, ARG_FORBIDDEN),
  OP (OP_INT, ARG_FORBIDDEN),
  OP (OP_BININT, ARG_S4),
  OP (OP_BININT1, ARG_U1),
  OP (OP_LONG, ARG_FORBIDDEN),
  OP (OP_BININT2, ARG_U2),
  OP (OP_NONE, ARG_NONE),
  OP (OP_PERSID, ARG_FORBIDDEN),
  OP (OP_BINPERSID, ARG_NONE),
  OP (OP_REDUCE, ARG_NONE),
  OP (OP_STRING, ARG_FORBIDDEN),
  OP (OP_BINSTRING, ARG_BYTES4S),
  OP (OP_SHORT_BINSTRING, ARG_BYTES1),
  OP (OP_UNICODE, ARG_FORBIDDEN),
  OP (OP_BINUNICODE, ARG_BYTES4),
  OP (OP_APPEND, ARG_NONE),
  OP (OP_BUILD, ARG_NONE),
  OP (OP_GLOBAL, ARG_LINES2),
  OP (OP_DICT, ARG_FORBIDDEN),
  OP (OP_EMPTY_DICT, ARG_NONE),
  OP (OP_APPENDS, ARG_NONE),
  OP (OP_GET, ARG_FORBIDDEN),
  OP (OP_BINGET, ARG_U1),
  OP (OP_INST, ARG_FORBIDDEN),
  OP (OP_LONG_BINGET, ARG_U4),
  OP (OP_LIST, ARG_FORBIDDEN),
  OP (OP_EMPTY_LIST, ARG_NONE),
  OP (OP_OBJ, ARG_FORBIDDEN),
  OP (OP_PUT, ARG_FORBIDDEN),
  OP (OP_BINPUT, ARG_U1),
  OP (OP_LONG_BINPUT, ARG_U4),
  OP (OP_SETITEM, ARG_NONE),
  OP (OP_TUPLE, ARG_NONE),
  OP (OP_EMPTY_TUPLE, ARG_NONE),
  OP (OP_SETITEMS, ARG_NONE),
  OP (OP_BINFLOAT, ARG_F8),
  OP (OP_BINBYTES, ARG_BYTES4),
  OP (OP_SHORT_BINBYTES, ARG_BYTES1),
  OP (OP_PROTO, ARG_U1),
  OP (OP_NEWOBJ, ARG_NONE),
  OP (OP_EXT1, ARG_FORBIDDEN),
  OP (OP_EXT2, ARG_FORBIDDEN),
  OP (OP_EXT4, ARG_FORBIDDEN),
  OP (OP_TUPLE1, ARG_NONE),
  OP (OP_TUPLE2, ARG_NONE),
  OP (OP_TUPLE3, ARG_NONE),
  OP (OP_NEWTRUE, ARG_NONE),
  OP (OP_NEWFALSE, ARG_NONE),
  OP (OP_LONG1, ARG_BYTES1),
  OP (OP_LONG4, ARG_BYTES4S),
  OP (OP_SHORT_BINUNICODE, ARG_BYTES1),
  OP (OP_BINUNICODE8, ARG_BYTES8),
  OP (OP_BINBYTES8, ARG_BYTES8),
  OP (OP_EMPTY_SET, ARG_NONE),
  OP (OP_ADDITEMS, ARG_NONE),
  OP (OP_FROZENSET, ARG_NONE),
  OP (OP_NEWOBJ_EX, ARG_NONE),
  OP (OP_STACK_GLOBAL, ARG_NONE),
  OP (OP_MEMOIZE, ARG_NONE),
  OP (OP_FRAME, ARG_U8),
  OP (OP_BYTEARRAY8, ARG_FORBIDDEN),
  OP (OP_NEXT_BUFFER, ARG_FORBIDDEN),
  OP (OP_READONLY_BUFFER, ARG_FORBIDDEN),
};

#undef OP

const char *
safetensors_pickle_op_name (guint8 op)
{
  return op_info[op].name;
}

static guint64
read_le (const guint8 *p,
         guint         n)
{
  guint64 value = 0;

  for (guint i = 0; i < n; i++)
    value |= (guint64) p[i] << (8 * i);
  return value;
}

static gboolean
need (const guint8                 *data,
      gsize                         len,
      gsize                         pos,
      guint64                       n,
      const SafetensorsPickleInsn  *insn,
      GError                      **error)
{
  if (n <= len - pos)
    return TRUE;

  g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
               "at byte %" G_GSIZE_FORMAT ": %s needs %" G_GUINT64_FORMAT
               " bytes but only %" G_GSIZE_FORMAT " remain",
               insn->offset, op_info[insn->op].name, n, len - pos);
  return FALSE;
}

static gboolean
read_line (const guint8                 *data,
           gsize                         len,
           gsize                        *pos,
           const SafetensorsPickleInsn  *insn,
           const guint8                **out_line,
           gsize                        *out_len,
           GError                      **error)
{
  const guint8 *end = memchr (data + *pos, '\n', len - *pos);

  if (end == NULL)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "at byte %" G_GSIZE_FORMAT ": %s argument is not terminated by a newline",
                   insn->offset, op_info[insn->op].name);
      return FALSE;
    }
  *out_line = data + *pos;
  *out_len = end - (data + *pos);
  *pos += *out_len + 1;
  return TRUE;
}

gboolean
safetensors_pickle_decode (const guint8           *data,
                           gsize                   len,
                           gsize                  *pos,
                           SafetensorsPickleInsn  *insn,
                           GError                **error)
{
  const OpInfo *info;
  guint width = 0;

  memset (insn, 0, sizeof *insn);
  insn->offset = *pos;
  if (*pos >= len)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "at byte %" G_GSIZE_FORMAT ": the pickle ends without STOP", *pos);
      return FALSE;
    }
  insn->op = data[(*pos)++];
  info = &op_info[insn->op];

  if (info->name == NULL)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "at byte %" G_GSIZE_FORMAT ": unknown opcode 0x%02x", insn->offset, insn->op);
      return FALSE;
    }
  if (info->arg == ARG_FORBIDDEN)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSAFE_PICKLE,
                   "at byte %" G_GSIZE_FORMAT ": opcode %s (0x%02x) is not allowed",
                   insn->offset, info->name, insn->op);
      return FALSE;
    }

  switch (info->arg)
    {
    case ARG_NONE:
      return TRUE;
    case ARG_U1: width = 1; break;
    case ARG_U2: width = 2; break;
    case ARG_S4: case ARG_U4: width = 4; break;
    case ARG_U8: case ARG_F8: width = 8; break;
    case ARG_BYTES1: width = 1; break;
    case ARG_BYTES4: case ARG_BYTES4S: width = 4; break;
    case ARG_BYTES8: width = 8; break;
    case ARG_LINES2:
      return read_line (data, len, pos, insn, &insn->data, &insn->len, error) &&
             read_line (data, len, pos, insn, &insn->data2, &insn->len2, error);
    case ARG_FORBIDDEN:
    default:
      g_assert_not_reached ();
    }

  if (!need (data, len, *pos, width, insn, error))
    return FALSE;

  if (info->arg == ARG_F8)
    {
      guint64 bits;

      memcpy (&bits, data + *pos, sizeof bits);
      bits = GUINT64_FROM_BE (bits);
      memcpy (&insn->real, &bits, sizeof bits);
      *pos += 8;
      return TRUE;
    }

  insn->n = read_le (data + *pos, width);
  *pos += width;
  if (width == 4)
    insn->s = (gint32) (guint32) insn->n;
  else
    insn->s = (gint64) insn->n;

  if (info->arg == ARG_BYTES4S && insn->s < 0)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "at byte %" G_GSIZE_FORMAT ": %s has a negative length",
                   insn->offset, info->name);
      return FALSE;
    }

  if (info->arg == ARG_BYTES1 || info->arg == ARG_BYTES4 ||
      info->arg == ARG_BYTES4S || info->arg == ARG_BYTES8)
    {
      if (!need (data, len, *pos, insn->n, insn, error))
        return FALSE;
      insn->data = data + *pos;
      insn->len = insn->n;
      *pos += insn->n;
    }
  else if (insn->op == OP_FRAME && !need (data, len, *pos, insn->n, insn, error))
    {
      return FALSE;
    }

  return TRUE;
}

gboolean
safetensors_pickle_resolve_global (const SafetensorsPickleInsn    *insn,
                                   const guint8                   *module,
                                   gsize                           module_len,
                                   const guint8                   *name,
                                   gsize                           name_len,
                                   const SafetensorsPickleGlobal **out_global,
                                   GError                        **error)
{
  g_autofree char *module_str = g_strndup ((const char *) module, module_len);
  g_autofree char *name_str = g_strndup ((const char *) name, name_len);
  const SafetensorsPickleGlobal *global = NULL;

  if (strlen (module_str) == module_len && strlen (name_str) == name_len)
    global = safetensors_pickle_find_global (module_str, name_str);

  if (global == NULL)
    {
      g_autoptr(GString) shown = g_string_new (NULL);

      /* The name is untrusted: show it printable and bounded. */
      for (gsize i = 0; i < module_len + 1 + name_len && shown->len < 200; i++)
        {
          guint8 c = i < module_len ? module[i] : i == module_len ? '.' : name[i - module_len - 1];

          if (c >= 0x20 && c < 0x7f)
            g_string_append_c (shown, c);
          else
            g_string_append_printf (shown, "\\x%02x", c);
        }
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSAFE_PICKLE,
                   "at byte %" G_GSIZE_FORMAT ": global %s is not allowed (only tensors, "
                   "containers and plain values are)", insn->offset, shown->str);
      return FALSE;
    }

  *out_global = global;
  return TRUE;
}

/* What the scan knows about a stack slot: a string literal, or nothing. */
typedef struct
{
  const guint8 *data;   /* NULL: not a known string */
  gsize         len;
} Known;

static gboolean
is_string_push (guint8 op)
{
  return op == OP_BINUNICODE || op == OP_SHORT_BINUNICODE || op == OP_BINUNICODE8 ||
         op == OP_BINSTRING || op == OP_SHORT_BINSTRING;
}

gboolean
safetensors_pickle_prescan (const guint8  *data,
                            gsize          len,
                            gsize         *out_len,
                            GError       **error)
{
  /* STACK_GLOBAL takes its names from the stack. Pickles written by
   * Python push them as string literals, or fetch memoized ones, right
   * before: the scan follows exactly that, so that these globals too are
   * checked before anything runs, and refuses names computed any other
   * way. */
  g_autoptr(GHashTable) memo = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  Known top = { NULL, 0 }, below = { NULL, 0 };
  gsize pos = 0;

  for (;;)
    {
      SafetensorsPickleInsn insn;
      const SafetensorsPickleGlobal *global;
      Known *remembered;

      if (!safetensors_pickle_decode (data, len, &pos, &insn, error))
        return FALSE;

      switch (insn.op)
        {
        case OP_GLOBAL:
          if (!safetensors_pickle_resolve_global (&insn, insn.data, insn.len, insn.data2, insn.len2,
                                                  &global, error))
            return FALSE;
          below = top;
          top = (Known) { NULL, 0 };
          break;

        case OP_STACK_GLOBAL:
          if (below.data == NULL || top.data == NULL)
            {
              g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSAFE_PICKLE,
                           "at byte %" G_GSIZE_FORMAT ": STACK_GLOBAL names a global that is "
                           "not given by string literals", insn.offset);
              return FALSE;
            }
          if (!safetensors_pickle_resolve_global (&insn, below.data, below.len, top.data, top.len,
                                                  &global, error))
            return FALSE;
          below = top = (Known) { NULL, 0 };
          break;

        case OP_BINPUT:
        case OP_LONG_BINPUT:
        case OP_MEMOIZE:
          if (g_hash_table_size (memo) >= SAFETENSORS_PICKLE_MAX_MEMO)
            {
              g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                           "at byte %" G_GSIZE_FORMAT ": the memo grows beyond %u entries",
                           insn.offset, SAFETENSORS_PICKLE_MAX_MEMO);
              return FALSE;
            }
          g_hash_table_insert (memo,
                               GUINT_TO_POINTER (insn.op == OP_MEMOIZE ? g_hash_table_size (memo)
                                                                       : (guint32) insn.n),
                               g_memdup2 (&top, sizeof top));
          break;

        case OP_BINGET:
        case OP_LONG_BINGET:
          remembered = g_hash_table_lookup (memo, GUINT_TO_POINTER ((guint32) insn.n));
          below = top;
          top = remembered != NULL ? *remembered : (Known) { NULL, 0 };
          break;

        case OP_PROTO:
        case OP_FRAME:
          break;

        case OP_STOP:
          *out_len = pos;
          return TRUE;

        default:
          /* Anything but a string literal makes the stack unknown. */
          if (is_string_push (insn.op))
            {
              below = top;
              top = (Known) { insn.data, insn.len };
            }
          else
            {
              below = top = (Known) { NULL, 0 };
            }
          break;
        }
    }
}
