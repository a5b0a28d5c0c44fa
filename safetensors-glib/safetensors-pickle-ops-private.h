/* safetensors-pickle-ops-private.h — pickle opcodes and their decoder,
 * shared by the VM's two passes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

#include "safetensors-pickle-private.h"

G_BEGIN_DECLS

/* Opcodes, as pickletools names them. The VM runs a pickle twice over
 * the same decoder: a scan that refuses forbidden opcodes and globals,
 * then the execution. */
enum
{
  OP_MARK             = '(',
  OP_STOP             = '.',
  OP_POP              = '0',
  OP_POP_MARK         = '1',
  OP_DUP              = '2',
  OP_FLOAT            = 'F',
  OP_INT              = 'I',
  OP_BININT           = 'J',
  OP_BININT1          = 'K',
  OP_LONG             = 'L',
  OP_BININT2          = 'M',
  OP_NONE             = 'N',
  OP_PERSID           = 'P',
  OP_BINPERSID        = 'Q',
  OP_REDUCE           = 'R',
  OP_STRING           = 'S',
  OP_BINSTRING        = 'T',
  OP_SHORT_BINSTRING  = 'U',
  OP_UNICODE          = 'V',
  OP_BINUNICODE       = 'X',
  OP_APPEND           = 'a',
  OP_BUILD            = 'b',
  OP_GLOBAL           = 'c',
  OP_DICT             = 'd',
  OP_EMPTY_DICT       = '}',
  OP_APPENDS          = 'e',
  OP_GET              = 'g',
  OP_BINGET           = 'h',
  OP_INST             = 'i',
  OP_LONG_BINGET      = 'j',
  OP_LIST             = 'l',
  OP_EMPTY_LIST       = ']',
  OP_OBJ              = 'o',
  OP_PUT              = 'p',
  OP_BINPUT           = 'q',
  OP_LONG_BINPUT      = 'r',
  OP_SETITEM          = 's',
  OP_TUPLE            = 't',
  OP_EMPTY_TUPLE      = ')',
  OP_SETITEMS         = 'u',
  OP_BINFLOAT         = 'G',
  OP_BINBYTES         = 'B',
  OP_SHORT_BINBYTES   = 'C',
  OP_PROTO            = 0x80,
  OP_NEWOBJ           = 0x81,
  OP_EXT1             = 0x82,
  OP_EXT2             = 0x83,
  OP_EXT4             = 0x84,
  OP_TUPLE1           = 0x85,
  OP_TUPLE2           = 0x86,
  OP_TUPLE3           = 0x87,
  OP_NEWTRUE          = 0x88,
  OP_NEWFALSE         = 0x89,
  OP_LONG1            = 0x8a,
  OP_LONG4            = 0x8b,
  OP_SHORT_BINUNICODE = 0x8c,
  OP_BINUNICODE8      = 0x8d,
  OP_BINBYTES8        = 0x8e,
  OP_EMPTY_SET        = 0x8f,
  OP_ADDITEMS         = 0x90,
  OP_FROZENSET        = 0x91,
  OP_NEWOBJ_EX        = 0x92,
  OP_STACK_GLOBAL     = 0x93,
  OP_MEMOIZE          = 0x94,
  OP_FRAME            = 0x95,
  OP_BYTEARRAY8       = 0x96,
  OP_NEXT_BUFFER      = 0x97,
  OP_READONLY_BUFFER  = 0x98,
};

/* A decoded instruction. */
typedef struct
{
  guint8        op;
  gsize         offset;
  guint64       n;          /* integer arguments and lengths */
  gint64        s;          /* signed integer arguments */
  double        real;
  const guint8 *data;       /* string arguments; GLOBAL: the module */
  gsize         len;
  const guint8 *data2;      /* GLOBAL: the name */
  gsize         len2;
} SafetensorsPickleInsn;

/* The opcode's name ("BINUNICODE"), for messages. */
const char *safetensors_pickle_op_name (guint8 op);

/* Decodes the instruction at *pos and advances past it. Every length is
 * checked against the bytes that remain before it is used. Unknown
 * opcodes are INVALID_DATA, forbidden ones UNSAFE_PICKLE. */
gboolean    safetensors_pickle_decode  (const guint8           *data,
                                        gsize                   len,
                                        gsize                  *pos,
                                        SafetensorsPickleInsn  *insn,
                                        GError                **error);

/* The whitelisted global (@module, @name), or UNSAFE_PICKLE naming it. */
gboolean    safetensors_pickle_resolve_global (const SafetensorsPickleInsn     *insn,
                                               const guint8                    *module,
                                               gsize                            module_len,
                                               const guint8                    *name,
                                               gsize                            name_len,
                                               const SafetensorsPickleGlobal  **out_global,
                                               GError                         **error);

/* The first pass: every opcode must be allowed and every GLOBAL on the
 * whitelist before anything runs. Sets *out_len to the length up to and
 * including STOP. */
gboolean    safetensors_pickle_prescan (const guint8  *data,
                                        gsize          len,
                                        gsize         *out_len,
                                        GError       **error);

G_END_DECLS
