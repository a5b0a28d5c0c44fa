/* safetensors-pickle.c — the restricted pickle virtual machine
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-error.h"
#include "safetensors-pickle-ops-private.h"

typedef struct
{
  SafetensorsPickle *arena;
  const guint8      *data;
  gsize              len;
  GPtrArray         *stack;
  GArray            *marks;    /* guint: stack length at each MARK */
  GHashTable        *memo;     /* guint32 index → object */
} Vm;

static guint64
read_le (const guint8 *p,
         guint         n)
{
  guint64 value = 0;

  for (guint i = 0; i < n; i++)
    value |= (guint64) p[i] << (8 * i);
  return value;
}

/* ------------------------------------------------------------------ */
/* The stack                                                          */
/* ------------------------------------------------------------------ */

static guint
frame_start (Vm *vm)
{
  return vm->marks->len > 0 ? g_array_index (vm->marks, guint, vm->marks->len - 1) : 0;
}

static gboolean
push (Vm                           *vm,
      const SafetensorsPickleInsn  *insn,
      SafetensorsPickleObject      *object,
      GError                      **error)
{
  if (vm->stack->len >= SAFETENSORS_PICKLE_MAX_STACK)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "at byte %" G_GSIZE_FORMAT ": the stack grows beyond %u entries",
                   insn->offset, SAFETENSORS_PICKLE_MAX_STACK);
      return FALSE;
    }
  g_ptr_array_add (vm->stack, object);
  return TRUE;
}

static SafetensorsPickleObject *
peek (Vm                           *vm,
      const SafetensorsPickleInsn  *insn,
      GError                      **error)
{
  if (vm->stack->len <= frame_start (vm))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "at byte %" G_GSIZE_FORMAT ": %s finds the stack empty",
                   insn->offset, safetensors_pickle_op_name (insn->op));
      return NULL;
    }
  return g_ptr_array_index (vm->stack, vm->stack->len - 1);
}

static SafetensorsPickleObject *
pop (Vm                           *vm,
     const SafetensorsPickleInsn  *insn,
     GError                      **error)
{
  SafetensorsPickleObject *object = peek (vm, insn, error);

  if (object != NULL)
    g_ptr_array_set_size (vm->stack, vm->stack->len - 1);
  return object;
}

/* Removes the topmost MARK; the items above it stay on the stack, from
 * *out_start up, for the caller to consume and drop. */
static gboolean
pop_mark (Vm                           *vm,
          const SafetensorsPickleInsn  *insn,
          guint                        *out_start,
          GError                      **error)
{
  if (vm->marks->len == 0)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "at byte %" G_GSIZE_FORMAT ": %s without a MARK",
                   insn->offset, safetensors_pickle_op_name (insn->op));
      return FALSE;
    }
  *out_start = g_array_index (vm->marks, guint, vm->marks->len - 1);
  g_array_set_size (vm->marks, vm->marks->len - 1);
  return TRUE;
}

static SafetensorsPickleObject *
expect (Vm                           *vm,
        const SafetensorsPickleInsn  *insn,
        SafetensorsPickleObject      *object,
        SafetensorsPickleType         type,
        const char                   *what,
        GError                      **error)
{
  if (object == NULL)
    return NULL;
  if (object->type != type)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "at byte %" G_GSIZE_FORMAT ": %s expects %s, not %s",
                   insn->offset, safetensors_pickle_op_name (insn->op), what,
                   safetensors_pickle_object_type_name (object));
      return NULL;
    }
  return object;
}

/* ------------------------------------------------------------------ */
/* Instructions                                                       */
/* ------------------------------------------------------------------ */

static SafetensorsPickleObject *
make_tuple (Vm      *vm,
            guint    start,
            GError **error)
{
  SafetensorsPickleObject *tuple = safetensors_pickle_alloc (vm->arena, SAFETENSORS_PICKLE_TUPLE, error);

  if (tuple == NULL)
    return NULL;
  for (guint i = start; i < vm->stack->len; i++)
    if (!safetensors_pickle_append (vm->arena, tuple, g_ptr_array_index (vm->stack, i), error))
      return NULL;
  g_ptr_array_set_size (vm->stack, start);
  return tuple;
}

static SafetensorsPickleObject *
make_long (Vm                           *vm,
           const SafetensorsPickleInsn  *insn,
           GError                      **error)
{
  SafetensorsPickleObject *object;
  gsize n = insn->len;

  /* Drop redundant sign bytes, then fit in 64 bits if possible. */
  while (n > 1 && ((insn->data[n - 1] == 0x00 && !(insn->data[n - 2] & 0x80)) ||
                   (insn->data[n - 1] == 0xff && (insn->data[n - 2] & 0x80))))
    n--;

  if (n <= 8)
    {
      guint64 value = n == 0 ? 0 : read_le (insn->data, n);

      if (n > 0 && n < 8 && (insn->data[n - 1] & 0x80))
        value |= G_MAXUINT64 << (8 * n);
      object = safetensors_pickle_alloc (vm->arena, SAFETENSORS_PICKLE_INT, error);
      if (object != NULL)
        object->integer = (gint64) value;
      return object;
    }

  return safetensors_pickle_new_string (vm->arena, SAFETENSORS_PICKLE_BIGINT, insn->data, n, error);
}

static gboolean
memo_put (Vm                           *vm,
          const SafetensorsPickleInsn  *insn,
          guint64                       index,
          GError                      **error)
{
  SafetensorsPickleObject *top = peek (vm, insn, error);

  if (top == NULL)
    return FALSE;
  if (g_hash_table_size (vm->memo) >= SAFETENSORS_PICKLE_MAX_MEMO &&
      !g_hash_table_contains (vm->memo, GUINT_TO_POINTER ((guint32) index)))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "at byte %" G_GSIZE_FORMAT ": the memo grows beyond %u entries",
                   insn->offset, SAFETENSORS_PICKLE_MAX_MEMO);
      return FALSE;
    }
  g_hash_table_insert (vm->memo, GUINT_TO_POINTER ((guint32) index), top);
  return TRUE;
}

static gboolean
memo_get (Vm                           *vm,
          const SafetensorsPickleInsn  *insn,
          guint64                       index,
          GError                      **error)
{
  SafetensorsPickleObject *object = g_hash_table_lookup (vm->memo, GUINT_TO_POINTER ((guint32) index));

  if (object == NULL)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "at byte %" G_GSIZE_FORMAT ": memo entry %" G_GUINT64_FORMAT " is not set",
                   insn->offset, index);
      return FALSE;
    }
  return push (vm, insn, object, error);
}

/* Python strings may hold U+0000, which g_utf8_validate () refuses. */
static gboolean
validate_utf8 (const guint8 *data,
               gsize         len)
{
  while (len > 0)
    {
      const guint8 *nul = memchr (data, '\0', len);
      gsize n = nul != NULL ? (gsize) (nul - data) : len;

      if (!g_utf8_validate_len ((const char *) data, n, NULL))
        return FALSE;
      n += nul != NULL ? 1 : 0;
      data += n;
      len -= n;
    }
  return TRUE;
}

/* Runs one instruction. STOP is handled by the caller. */
static gboolean
execute (Vm                           *vm,
         const SafetensorsPickleInsn  *insn,
         GError                      **error)
{
  SafetensorsPickle *arena = vm->arena;
  SafetensorsPickleObject *object = NULL;
  SafetensorsPickleObject *a, *b, *c;
  guint start;

  switch (insn->op)
    {
    case OP_PROTO:
      if (insn->n > 5)
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                       "at byte %" G_GSIZE_FORMAT ": pickle protocol %" G_GUINT64_FORMAT
                       " is not supported (at most 5)", insn->offset, insn->n);
          return FALSE;
        }
      return TRUE;

    case OP_FRAME:
      /* Framing only groups opcodes for buffered reads. */
      return TRUE;

    case OP_GLOBAL:
      {
        const SafetensorsPickleGlobal *global;

        if (!safetensors_pickle_resolve_global (insn, insn->data, insn->len, insn->data2, insn->len2, &global, error))
          return FALSE;
        object = safetensors_pickle_alloc (arena, SAFETENSORS_PICKLE_GLOBAL, error);
        if (object == NULL)
          return FALSE;
        object->global = global;
        return push (vm, insn, object, error);
      }

    case OP_STACK_GLOBAL:
      {
        const SafetensorsPickleGlobal *global;

        b = expect (vm, insn, pop (vm, insn, error), SAFETENSORS_PICKLE_STR, "a str name", error);
        a = b == NULL ? NULL :
            expect (vm, insn, pop (vm, insn, error), SAFETENSORS_PICKLE_STR, "a str module", error);
        if (a == NULL ||
            !safetensors_pickle_resolve_global (insn, (const guint8 *) a->str.data, a->str.len,
                             (const guint8 *) b->str.data, b->str.len, &global, error))
          return FALSE;
        object = safetensors_pickle_alloc (arena, SAFETENSORS_PICKLE_GLOBAL, error);
        if (object == NULL)
          return FALSE;
        object->global = global;
        return push (vm, insn, object, error);
      }

    case OP_BINPUT:
    case OP_LONG_BINPUT:
      return memo_put (vm, insn, insn->n, error);

    case OP_MEMOIZE:
      return memo_put (vm, insn, g_hash_table_size (vm->memo), error);

    case OP_BINGET:
    case OP_LONG_BINGET:
      return memo_get (vm, insn, insn->n, error);

    case OP_MARK:
      if (vm->marks->len >= SAFETENSORS_PICKLE_MAX_MARK_DEPTH)
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                       "at byte %" G_GSIZE_FORMAT ": more than %u nested MARKs",
                       insn->offset, SAFETENSORS_PICKLE_MAX_MARK_DEPTH);
          return FALSE;
        }
      start = vm->stack->len;
      g_array_append_val (vm->marks, start);
      return TRUE;

    case OP_POP:
      /* Like CPython: with nothing above the MARK, POP drops the MARK. */
      if (vm->stack->len > frame_start (vm))
        return pop (vm, insn, error) != NULL;
      if (!pop_mark (vm, insn, &start, error))
        return FALSE;
      return TRUE;

    case OP_POP_MARK:
      if (!pop_mark (vm, insn, &start, error))
        return FALSE;
      g_ptr_array_set_size (vm->stack, start);
      return TRUE;

    case OP_DUP:
      a = peek (vm, insn, error);
      return a != NULL && push (vm, insn, a, error);

    case OP_TUPLE:
      if (!pop_mark (vm, insn, &start, error))
        return FALSE;
      object = make_tuple (vm, start, error);
      return object != NULL && push (vm, insn, object, error);

    case OP_TUPLE1:
    case OP_TUPLE2:
    case OP_TUPLE3:
      {
        guint n = insn->op - OP_TUPLE1 + 1;

        if (vm->stack->len < frame_start (vm) + n)
          {
            g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                         "at byte %" G_GSIZE_FORMAT ": %s needs %u items on the stack",
                         insn->offset, safetensors_pickle_op_name (insn->op), n);
            return FALSE;
          }
        object = make_tuple (vm, vm->stack->len - n, error);
        return object != NULL && push (vm, insn, object, error);
      }

    case OP_EMPTY_TUPLE:
    case OP_EMPTY_DICT:
    case OP_EMPTY_LIST:
    case OP_EMPTY_SET:
      object = safetensors_pickle_alloc (arena,
                                         insn->op == OP_EMPTY_TUPLE ? SAFETENSORS_PICKLE_TUPLE :
                                         insn->op == OP_EMPTY_DICT ? SAFETENSORS_PICKLE_DICT :
                                         insn->op == OP_EMPTY_LIST ? SAFETENSORS_PICKLE_LIST :
                                         SAFETENSORS_PICKLE_SET, error);
      return object != NULL && push (vm, insn, object, error);

    case OP_ADDITEMS:
    case OP_APPENDS:
    case OP_SETITEMS:
      if (!pop_mark (vm, insn, &start, error))
        return FALSE;
      /* The container sits just below the MARK. */
      if (start <= frame_start (vm))
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                       "at byte %" G_GSIZE_FORMAT ": %s finds no container below its MARK",
                       insn->offset, safetensors_pickle_op_name (insn->op));
          return FALSE;
        }
      a = g_ptr_array_index (vm->stack, start - 1);
      a = insn->op == OP_ADDITEMS ? expect (vm, insn, a, SAFETENSORS_PICKLE_SET, "a set", error) :
          insn->op == OP_APPENDS ? expect (vm, insn, a, SAFETENSORS_PICKLE_LIST, "a list", error) :
          expect (vm, insn, a, SAFETENSORS_PICKLE_DICT, "a dict", error);
      if (a == NULL)
        return FALSE;
      if (insn->op == OP_SETITEMS && (vm->stack->len - start) % 2 != 0)
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                       "at byte %" G_GSIZE_FORMAT ": SETITEMS with an odd number of items",
                       insn->offset);
          return FALSE;
        }
      for (guint i = start; i < vm->stack->len; i += insn->op == OP_SETITEMS ? 2 : 1)
        {
          SafetensorsPickleObject *item = g_ptr_array_index (vm->stack, i);
          gboolean ok;

          if (insn->op == OP_ADDITEMS)
            ok = safetensors_pickle_set_add (arena, a, item, error);
          else if (insn->op == OP_APPENDS)
            ok = safetensors_pickle_append (arena, a, item, error);
          else
            ok = safetensors_pickle_dict_set (arena, a, item, g_ptr_array_index (vm->stack, i + 1), error);
          if (!ok)
            {
              g_prefix_error (error, "at byte %" G_GSIZE_FORMAT ": ", insn->offset);
              return FALSE;
            }
        }
      g_ptr_array_set_size (vm->stack, start);
      return TRUE;

    case OP_FROZENSET:
      if (!pop_mark (vm, insn, &start, error))
        return FALSE;
      object = safetensors_pickle_alloc (arena, SAFETENSORS_PICKLE_FROZENSET, error);
      if (object == NULL)
        return FALSE;
      for (guint i = start; i < vm->stack->len; i++)
        if (!safetensors_pickle_set_add (arena, object, g_ptr_array_index (vm->stack, i), error))
          {
            g_prefix_error (error, "at byte %" G_GSIZE_FORMAT ": ", insn->offset);
            return FALSE;
          }
      g_ptr_array_set_size (vm->stack, start);
      return push (vm, insn, object, error);

    case OP_SETITEM:
      c = pop (vm, insn, error);
      b = c == NULL ? NULL : pop (vm, insn, error);
      a = b == NULL ? NULL : expect (vm, insn, peek (vm, insn, error), SAFETENSORS_PICKLE_DICT, "a dict", error);
      if (a == NULL)
        return FALSE;
      if (!safetensors_pickle_dict_set (arena, a, b, c, error))
        {
          g_prefix_error (error, "at byte %" G_GSIZE_FORMAT ": ", insn->offset);
          return FALSE;
        }
      return TRUE;

    case OP_APPEND:
      b = pop (vm, insn, error);
      a = b == NULL ? NULL : expect (vm, insn, peek (vm, insn, error), SAFETENSORS_PICKLE_LIST, "a list", error);
      if (a == NULL)
        return FALSE;
      return safetensors_pickle_append (arena, a, b, error);

    case OP_BINUNICODE:
    case OP_SHORT_BINUNICODE:
    case OP_BINUNICODE8:
    case OP_BINSTRING:
    case OP_SHORT_BINSTRING:
      /* torch.load () decodes Python 2 str as UTF-8 too. */
      if (!validate_utf8 (insn->data, insn->len))
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                       "at byte %" G_GSIZE_FORMAT ": %s holds invalid UTF-8",
                       insn->offset, safetensors_pickle_op_name (insn->op));
          return FALSE;
        }
      object = safetensors_pickle_new_string (arena, SAFETENSORS_PICKLE_STR, insn->data, insn->len, error);
      return object != NULL && push (vm, insn, object, error);

    case OP_BINBYTES:
    case OP_SHORT_BINBYTES:
    case OP_BINBYTES8:
      object = safetensors_pickle_new_string (arena, SAFETENSORS_PICKLE_BYTES, insn->data, insn->len, error);
      return object != NULL && push (vm, insn, object, error);

    case OP_BININT:
    case OP_BININT1:
    case OP_BININT2:
      object = safetensors_pickle_alloc (arena, SAFETENSORS_PICKLE_INT, error);
      if (object == NULL)
        return FALSE;
      object->integer = insn->op == OP_BININT ? insn->s : (gint64) insn->n;
      return push (vm, insn, object, error);

    case OP_LONG1:
    case OP_LONG4:
      object = make_long (vm, insn, error);
      return object != NULL && push (vm, insn, object, error);

    case OP_BINFLOAT:
      object = safetensors_pickle_alloc (arena, SAFETENSORS_PICKLE_FLOAT, error);
      if (object == NULL)
        return FALSE;
      object->real = insn->real;
      return push (vm, insn, object, error);

    case OP_NONE:
      object = safetensors_pickle_alloc (arena, SAFETENSORS_PICKLE_NONE, error);
      return object != NULL && push (vm, insn, object, error);

    case OP_NEWTRUE:
    case OP_NEWFALSE:
      object = safetensors_pickle_alloc (arena, SAFETENSORS_PICKLE_BOOL, error);
      if (object == NULL)
        return FALSE;
      object->boolean = insn->op == OP_NEWTRUE;
      return push (vm, insn, object, error);

    case OP_REDUCE:
      b = expect (vm, insn, pop (vm, insn, error), SAFETENSORS_PICKLE_TUPLE, "an argument tuple", error);
      a = b == NULL ? NULL : pop (vm, insn, error);
      if (a == NULL)
        return FALSE;
      object = safetensors_pickle_reduce (arena, a, b, error);
      break;

    case OP_NEWOBJ:
      b = expect (vm, insn, pop (vm, insn, error), SAFETENSORS_PICKLE_TUPLE, "an argument tuple", error);
      a = b == NULL ? NULL : pop (vm, insn, error);
      if (a == NULL)
        return FALSE;
      object = safetensors_pickle_newobj (arena, a, b, NULL, error);
      break;

    case OP_NEWOBJ_EX:
      c = expect (vm, insn, pop (vm, insn, error), SAFETENSORS_PICKLE_DICT, "a keyword dict", error);
      b = c == NULL ? NULL :
          expect (vm, insn, pop (vm, insn, error), SAFETENSORS_PICKLE_TUPLE, "an argument tuple", error);
      a = b == NULL ? NULL : pop (vm, insn, error);
      if (a == NULL)
        return FALSE;
      object = safetensors_pickle_newobj (arena, a, b, c, error);
      break;

    case OP_BUILD:
      b = pop (vm, insn, error);
      a = b == NULL ? NULL : peek (vm, insn, error);
      if (a == NULL)
        return FALSE;
      if (!safetensors_pickle_build (arena, a, b, error))
        {
          g_prefix_error (error, "at byte %" G_GSIZE_FORMAT ": ", insn->offset);
          return FALSE;
        }
      return TRUE;

    case OP_BINPERSID:
      a = pop (vm, insn, error);
      if (a == NULL)
        return FALSE;
      object = safetensors_pickle_persistent_load (arena, a, error);
      break;

    default:
      g_assert_not_reached ();
    }

  /* REDUCE, NEWOBJ, NEWOBJ_EX and BINPERSID end here. */
  if (object == NULL)
    {
      g_prefix_error (error, "at byte %" G_GSIZE_FORMAT ": ", insn->offset);
      return FALSE;
    }
  return push (vm, insn, object, error);
}

SafetensorsPickleObject *
safetensors_pickle_load (SafetensorsPickle  *self,
                         const guint8       *data,
                         gsize               len,
                         gsize              *out_consumed,
                         GError            **error)
{
  Vm vm = { self, data, 0, NULL, NULL, NULL };
  SafetensorsPickleObject *result = NULL;
  gsize pos = 0;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (!safetensors_pickle_prescan (data, len, &vm.len, error))
    return NULL;

  vm.stack = g_ptr_array_new ();
  vm.marks = g_array_new (FALSE, FALSE, sizeof (guint));
  vm.memo = g_hash_table_new (g_direct_hash, g_direct_equal);

  for (;;)
    {
      SafetensorsPickleInsn insn;

      /* Already decoded once: this cannot fail differently. */
      if (!safetensors_pickle_decode (data, vm.len, &pos, &insn, error))
        break;

      if (insn.op == OP_STOP)
        {
          result = pop (&vm, &insn, error);
          break;
        }
      if (!execute (&vm, &insn, error))
        break;
    }

  if (result != NULL && out_consumed != NULL)
    *out_consumed = pos;

  g_ptr_array_unref (vm.stack);
  g_array_unref (vm.marks);
  g_hash_table_unref (vm.memo);

  return result;
}
