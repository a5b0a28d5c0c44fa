/* safetensors-pickle-object.c — the inert objects a pickle builds
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <math.h>
#include <string.h>

#include "safetensors-error.h"
#include "safetensors-json-private.h"
#include "safetensors-pickle-private.h"

static void
object_free (gpointer data)
{
  SafetensorsPickleObject *object = data;

  switch (object->type)
    {
    case SAFETENSORS_PICKLE_STR:
    case SAFETENSORS_PICKLE_BYTES:
    case SAFETENSORS_PICKLE_BIGINT:
    case SAFETENSORS_PICKLE_DEVICE:
      g_free (object->str.data);
      break;
    case SAFETENSORS_PICKLE_TUPLE:
    case SAFETENSORS_PICKLE_LIST:
    case SAFETENSORS_PICKLE_DICT:
    case SAFETENSORS_PICKLE_SET:
    case SAFETENSORS_PICKLE_FROZENSET:
      g_free (object->seq.items);
      g_clear_pointer (&object->seq.index, g_hash_table_unref);
      break;
    case SAFETENSORS_PICKLE_TENSOR:
      if (object->tensor != NULL)
        {
          g_free (object->tensor->size);
          g_free (object->tensor->stride);
          g_free (object->tensor);
        }
      break;
    default:
      break;
    }
  g_free (object);
}

static void
storage_free (gpointer data)
{
  SafetensorsPickleStorage *storage = data;

  g_free (storage->key);
  g_free (storage->location);
  g_free (storage);
}

SafetensorsPickle *
safetensors_pickle_new (SafetensorsPicklePidFormat pid_format)
{
  SafetensorsPickle *self = g_new0 (SafetensorsPickle, 1);

  self->pid_format = pid_format;
  self->objects = g_ptr_array_new_with_free_func (object_free);
  self->storages = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, storage_free);
  self->storage_objects = g_hash_table_new (g_str_hash, g_str_equal);
  return self;
}

void
safetensors_pickle_free (SafetensorsPickle *self)
{
  if (self == NULL)
    return;

  /* Flat: no recursion however the objects refer to each other. */
  g_hash_table_unref (self->storage_objects);
  g_hash_table_unref (self->storages);
  g_ptr_array_unref (self->objects);
  g_free (self);
}

GHashTable *
safetensors_pickle_get_storages (SafetensorsPickle *self)
{
  return self->storages;
}

static gboolean
charge (SafetensorsPickle  *self,
        guint64             units,
        GError            **error)
{
  if (units > SAFETENSORS_PICKLE_MAX_UNITS - self->units)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "the pickle builds more than %" G_GUINT64_FORMAT " objects and items",
                   SAFETENSORS_PICKLE_MAX_UNITS);
      return FALSE;
    }
  self->units += units;
  return TRUE;
}

SafetensorsPickleObject *
safetensors_pickle_alloc (SafetensorsPickle      *self,
                          SafetensorsPickleType   type,
                          GError                **error)
{
  SafetensorsPickleObject *object;

  if (!charge (self, 1, error))
    return NULL;

  object = g_new0 (SafetensorsPickleObject, 1);
  object->type = type;
  g_ptr_array_add (self->objects, object);
  return object;
}

SafetensorsPickleObject *
safetensors_pickle_new_string (SafetensorsPickle      *self,
                               SafetensorsPickleType   type,
                               const guint8           *data,
                               gsize                   len,
                               GError                **error)
{
  SafetensorsPickleObject *object = safetensors_pickle_alloc (self, type, error);

  if (object == NULL)
    return NULL;

  /* @len was checked against the input, so this is bounded by it. */
  object->str.data = g_malloc (len + 1);
  if (len > 0)
    memcpy (object->str.data, data, len);
  object->str.data[len] = '\0';
  object->str.len = len;
  return object;
}

static gboolean
seq_grow (SafetensorsPickle        *self,
          SafetensorsPickleObject  *seq,
          guint                     n,
          GError                  **error)
{
  if (!charge (self, n, error))
    return FALSE;
  if (seq->seq.len + n > seq->seq.alloc)
    {
      /* Bounded by SAFETENSORS_PICKLE_MAX_UNITS, so no overflow. */
      seq->seq.alloc = MAX (seq->seq.len + n, MAX (4, seq->seq.alloc * 2));
      seq->seq.items = g_renew (SafetensorsPickleObject *, seq->seq.items, seq->seq.alloc);
    }
  return TRUE;
}

gboolean
safetensors_pickle_append (SafetensorsPickle        *self,
                           SafetensorsPickleObject  *seq,
                           SafetensorsPickleObject  *item,
                           GError                  **error)
{
  if (!seq_grow (self, seq, 1, error))
    return FALSE;
  seq->seq.items[seq->seq.len++] = item;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Hashing, for dict keys and set elements                            */
/* ------------------------------------------------------------------ */

static gboolean
is_numeric (const SafetensorsPickleObject *object)
{
  return object->type == SAFETENSORS_PICKLE_BOOL ||
         object->type == SAFETENSORS_PICKLE_INT ||
         object->type == SAFETENSORS_PICKLE_FLOAT ||
         (object->type == SAFETENSORS_PICKLE_COMPLEX && object->complex.im == 0);
}

/* Python: True == 1 == 1.0. Returns TRUE with *out_int when @object is a
 * whole number that fits in 64 bits. */
static gboolean
numeric_as_int (const SafetensorsPickleObject *object,
                gint64                        *out_int,
                double                        *out_real)
{
  double real;

  switch (object->type)
    {
    case SAFETENSORS_PICKLE_BOOL:
      *out_int = object->boolean ? 1 : 0;
      return TRUE;
    case SAFETENSORS_PICKLE_INT:
      *out_int = object->integer;
      return TRUE;
    case SAFETENSORS_PICKLE_FLOAT:
      real = object->real;
      break;
    default:
      real = object->complex.re;
      break;
    }

  *out_real = real;
  if (real == floor (real) && real >= -9223372036854775808.0 && real < 9223372036854775808.0)
    {
      *out_int = (gint64) real;
      return TRUE;
    }
  return FALSE;
}

static guint
hash_bytes (const char *data,
            gsize       len,
            guint       seed)
{
  guint32 h = 2166136261u ^ seed;

  for (gsize i = 0; i < len; i++)
    h = (h ^ (guint8) data[i]) * 16777619u;
  return h;
}

static guint
object_hash (gconstpointer data)
{
  const SafetensorsPickleObject *object = data;
  guint h;

  if (is_numeric (object))
    {
      gint64 i = 0;
      double real = 0;

      if (numeric_as_int (object, &i, &real))
        return g_int64_hash (&i);
      return g_double_hash (&real);
    }

  switch (object->type)
    {
    case SAFETENSORS_PICKLE_NONE:
      return 0x9e3779b9u;
    case SAFETENSORS_PICKLE_STR:
    case SAFETENSORS_PICKLE_BYTES:
    case SAFETENSORS_PICKLE_BIGINT:
    case SAFETENSORS_PICKLE_DEVICE:
      return hash_bytes (object->str.data, object->str.len, object->type);
    case SAFETENSORS_PICKLE_TUPLE:
      h = 0x345678u;
      for (guint i = 0; i < object->seq.len; i++)
        h = (h * 1000003u) ^ object_hash (object->seq.items[i]);
      return h;
    case SAFETENSORS_PICKLE_FROZENSET:
      h = 0x1234567u;
      for (guint i = 0; i < object->seq.len; i++)
        h += object_hash (object->seq.items[i]);
      return h;
    case SAFETENSORS_PICKLE_COMPLEX:
      return g_double_hash (&object->complex.re) * 31u + g_double_hash (&object->complex.im);
    case SAFETENSORS_PICKLE_GLOBAL:
      return g_direct_hash (object->global);
    default:
      return g_direct_hash (object);
    }
}

static gboolean
object_equal (gconstpointer a_data,
              gconstpointer b_data)
{
  const SafetensorsPickleObject *a = a_data;
  const SafetensorsPickleObject *b = b_data;

  if (a == b)
    return TRUE;

  if (is_numeric (a) && is_numeric (b))
    {
      gint64 ai = 0, bi = 0;
      double ar = 0, br = 0;
      gboolean a_int = numeric_as_int (a, &ai, &ar);
      gboolean b_int = numeric_as_int (b, &bi, &br);

      if (a_int && b_int)
        return ai == bi;
      return !a_int && !b_int && ar == br;
    }

  if (a->type != b->type)
    return FALSE;

  switch (a->type)
    {
    case SAFETENSORS_PICKLE_NONE:
      return TRUE;
    case SAFETENSORS_PICKLE_STR:
    case SAFETENSORS_PICKLE_BYTES:
    case SAFETENSORS_PICKLE_BIGINT:
    case SAFETENSORS_PICKLE_DEVICE:
      return a->str.len == b->str.len && memcmp (a->str.data, b->str.data, a->str.len) == 0;
    case SAFETENSORS_PICKLE_TUPLE:
      if (a->seq.len != b->seq.len)
        return FALSE;
      for (guint i = 0; i < a->seq.len; i++)
        if (!object_equal (a->seq.items[i], b->seq.items[i]))
          return FALSE;
      return TRUE;
    case SAFETENSORS_PICKLE_FROZENSET:
      if (a->seq.len != b->seq.len)
        return FALSE;
      for (guint i = 0; i < a->seq.len; i++)
        if (b->seq.index == NULL || !g_hash_table_contains (b->seq.index, a->seq.items[i]))
          return FALSE;
      return TRUE;
    case SAFETENSORS_PICKLE_COMPLEX:
      return a->complex.re == b->complex.re && a->complex.im == b->complex.im;
    case SAFETENSORS_PICKLE_GLOBAL:
      return a->global == b->global;
    default:
      return FALSE;
    }
}

/* Hashing recurses into tuples: their depth is bounded here first. */
static gboolean
check_hashable (const SafetensorsPickleObject  *object,
                guint                           depth,
                GError                        **error)
{
  switch (object->type)
    {
    case SAFETENSORS_PICKLE_LIST:
    case SAFETENSORS_PICKLE_DICT:
    case SAFETENSORS_PICKLE_SET:
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "unhashable type %s used as a dict key or set element",
                   safetensors_pickle_object_type_name (object));
      return FALSE;
    case SAFETENSORS_PICKLE_TUPLE:
      if (depth >= SAFETENSORS_PICKLE_MAX_KEY_DEPTH)
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                       "a dict key or set element nests tuples more than %u deep",
                       SAFETENSORS_PICKLE_MAX_KEY_DEPTH);
          return FALSE;
        }
      for (guint i = 0; i < object->seq.len; i++)
        if (!check_hashable (object->seq.items[i], depth + 1, error))
          return FALSE;
      return TRUE;
    default:
      /* Frozen sets were checked element by element when built. */
      return TRUE;
    }
}

static GHashTable *
ensure_index (SafetensorsPickleObject *object)
{
  if (object->seq.index == NULL)
    object->seq.index = g_hash_table_new (object_hash, object_equal);
  return object->seq.index;
}

gboolean
safetensors_pickle_dict_set (SafetensorsPickle        *self,
                             SafetensorsPickleObject  *dict,
                             SafetensorsPickleObject  *key,
                             SafetensorsPickleObject  *value,
                             GError                  **error)
{
  GHashTable *index;
  guint position;

  g_assert (dict->type == SAFETENSORS_PICKLE_DICT);

  if (!check_hashable (key, 0, error))
    return FALSE;

  /* A repeated key keeps its place and takes the new value, as in Python. */
  index = ensure_index (dict);
  position = GPOINTER_TO_UINT (g_hash_table_lookup (index, key));
  if (position != 0)
    {
      dict->seq.items[2 * (position - 1) + 1] = value;
      return TRUE;
    }

  if (!seq_grow (self, dict, 2, error))
    return FALSE;
  dict->seq.items[dict->seq.len++] = key;
  dict->seq.items[dict->seq.len++] = value;
  g_hash_table_insert (index, key, GUINT_TO_POINTER (dict->seq.len / 2));
  return TRUE;
}

gboolean
safetensors_pickle_set_add (SafetensorsPickle        *self,
                            SafetensorsPickleObject  *set,
                            SafetensorsPickleObject  *item,
                            GError                  **error)
{
  GHashTable *index;

  g_assert (set->type == SAFETENSORS_PICKLE_SET || set->type == SAFETENSORS_PICKLE_FROZENSET);

  if (!check_hashable (item, 0, error))
    return FALSE;

  index = ensure_index (set);
  if (g_hash_table_contains (index, item))
    return TRUE;
  if (!safetensors_pickle_append (self, set, item, error))
    return FALSE;
  g_hash_table_insert (index, item, GUINT_TO_POINTER (set->seq.len));
  return TRUE;
}

guint
safetensors_pickle_dict_size (const SafetensorsPickleObject *dict)
{
  g_assert (dict->type == SAFETENSORS_PICKLE_DICT);
  return dict->seq.len / 2;
}

SafetensorsPickleObject *
safetensors_pickle_dict_lookup_string (const SafetensorsPickleObject *dict,
                                       const char                    *key)
{
  SafetensorsPickleObject probe = { .type = SAFETENSORS_PICKLE_STR };
  guint position;

  g_assert (dict->type == SAFETENSORS_PICKLE_DICT);
  if (dict->seq.index == NULL)
    return NULL;

  probe.str.data = (char *) key;
  probe.str.len = strlen (key);
  position = GPOINTER_TO_UINT (g_hash_table_lookup (dict->seq.index, &probe));
  return position == 0 ? NULL : dict->seq.items[2 * (position - 1) + 1];
}

/* ------------------------------------------------------------------ */
/* Text                                                               */
/* ------------------------------------------------------------------ */

const char *
safetensors_pickle_object_type_name (const SafetensorsPickleObject *object)
{
  switch (object->type)
    {
    case SAFETENSORS_PICKLE_NONE: return "None";
    case SAFETENSORS_PICKLE_BOOL: return "bool";
    case SAFETENSORS_PICKLE_INT:
    case SAFETENSORS_PICKLE_BIGINT: return "int";
    case SAFETENSORS_PICKLE_FLOAT: return "float";
    case SAFETENSORS_PICKLE_STR: return "str";
    case SAFETENSORS_PICKLE_BYTES: return "bytes";
    case SAFETENSORS_PICKLE_TUPLE: return "tuple";
    case SAFETENSORS_PICKLE_LIST: return "list";
    case SAFETENSORS_PICKLE_DICT: return "dict";
    case SAFETENSORS_PICKLE_SET: return "set";
    case SAFETENSORS_PICKLE_FROZENSET: return "frozenset";
    case SAFETENSORS_PICKLE_COMPLEX: return "complex";
    case SAFETENSORS_PICKLE_DEVICE: return "torch.device";
    case SAFETENSORS_PICKLE_STORAGE: return "storage";
    case SAFETENSORS_PICKLE_TENSOR: return "tensor";
    case SAFETENSORS_PICKLE_OBJECT: return "argparse.Namespace";
    case SAFETENSORS_PICKLE_GLOBAL:
      switch (object->global->kind)
        {
        case SAFETENSORS_PICKLE_GLOBAL_DTYPE: return "torch.dtype";
        case SAFETENSORS_PICKLE_GLOBAL_QSCHEME: return "torch.qscheme";
        case SAFETENSORS_PICKLE_GLOBAL_STORAGE_CLASS: return "storage class";
        case SAFETENSORS_PICKLE_GLOBAL_ORDERED_DICT:
        case SAFETENSORS_PICKLE_GLOBAL_DEVICE:
        case SAFETENSORS_PICKLE_GLOBAL_SIZE:
        case SAFETENSORS_PICKLE_GLOBAL_SET:
        case SAFETENSORS_PICKLE_GLOBAL_FROZENSET:
        case SAFETENSORS_PICKLE_GLOBAL_COMPLEX:
        case SAFETENSORS_PICKLE_GLOBAL_BYTEARRAY:
        case SAFETENSORS_PICKLE_GLOBAL_NAMESPACE: return "type";
        default: return "function";
        }
    default:
      g_assert_not_reached ();
    }
}

/* Decimal digits of a little-endian two's complement integer. */
static void
append_bigint (GString      *out,
               const guint8 *bytes,
               gsize         len)
{
  gboolean negative = len > 0 && (bytes[len - 1] & 0x80);
  g_autofree guint32 *limbs = g_new0 (guint32, len / 4 + 1);
  gsize n_limbs = len / 4 + 1;
  g_autoptr(GString) digits = g_string_new (NULL);
  guint carry = 1;

  for (gsize i = 0; i < len; i++)
    {
      guint8 byte = negative ? (guint8) ~bytes[i] : bytes[i];

      /* Two's complement negation: invert, then add one. */
      if (negative)
        {
          guint sum = byte + carry;

          byte = sum & 0xff;
          carry = sum >> 8;
        }
      limbs[i / 4] |= (guint32) byte << (8 * (i % 4));
    }

  for (;;)
    {
      guint64 remainder = 0;
      gboolean zero = TRUE;

      for (gsize i = n_limbs; i-- > 0;)
        {
          guint64 value = (remainder << 32) | limbs[i];

          limbs[i] = value / 1000000000u;
          remainder = value % 1000000000u;
          zero = zero && limbs[i] == 0;
        }
      {
        char chunk[16];

        /* The most significant group has no leading zeros. */
        g_snprintf (chunk, sizeof chunk, zero ? "%" G_GUINT64_FORMAT : "%09" G_GUINT64_FORMAT,
                    remainder);
        g_string_prepend (digits, chunk);
      }
      if (zero)
        break;
    }

  if (negative)
    g_string_append_c (out, '-');
  g_string_append_len (out, digits->str, digits->len);
}

/* Python's repr() of a finite float: the shortest of %.15g … %.17g that
 * reads back the same, with ".0" on whole numbers. */
static void
append_float (GString *out,
              double   value,
              gboolean json)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  static const char *const formats[] = { "%.15g", "%.16g", "%.17g" };

  if (isnan (value) || isinf (value))
    {
      if (json)
        g_string_append (out, isnan (value) ? "\"NaN\"" : value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
      else
        g_string_append (out, isnan (value) ? "nan" : value > 0 ? "inf" : "-inf");
      return;
    }

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      g_ascii_formatd (buffer, sizeof buffer, formats[i], value);
      if (g_ascii_strtod (buffer, NULL) == value)
        break;
    }
  g_string_append (out, buffer);
  if (strpbrk (buffer, ".e") == NULL)
    g_string_append (out, ".0");
}

char *
safetensors_pickle_object_key_string (const SafetensorsPickleObject *object)
{
  GString *out = g_string_new (NULL);

  switch (object->type)
    {
    case SAFETENSORS_PICKLE_STR:
      if (strlen (object->str.data) == object->str.len)
        {
          g_string_append_len (out, object->str.data, object->str.len);
          break;
        }
      safetensors_json_append_string (out, object->str.data, object->str.len);
      break;
    case SAFETENSORS_PICKLE_INT:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, object->integer);
      break;
    case SAFETENSORS_PICKLE_BIGINT:
      append_bigint (out, (const guint8 *) object->str.data, object->str.len);
      break;
    case SAFETENSORS_PICKLE_BOOL:
      g_string_append (out, object->boolean ? "True" : "False");
      break;
    case SAFETENSORS_PICKLE_NONE:
      g_string_append (out, "None");
      break;
    case SAFETENSORS_PICKLE_FLOAT:
      append_float (out, object->real, FALSE);
      break;
    default:
      if (!safetensors_pickle_object_to_json (object, out, 4096, NULL))
        {
          g_string_truncate (out, 0);
          g_string_append_printf (out, "<%s>", safetensors_pickle_object_type_name (object));
        }
      break;
    }

  return g_string_free (out, FALSE);
}

typedef struct
{
  GString    *out;
  gsize       max_len;
  GHashTable *on_path;
} JsonWriter;

static gboolean
json_check (JsonWriter  *writer,
            GError     **error)
{
  if (writer->out->len <= writer->max_len)
    return TRUE;
  g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
               "its JSON text exceeds %" G_GSIZE_FORMAT " bytes", writer->max_len);
  return FALSE;
}

static void
json_append_dict_key (GString                       *out,
                      const SafetensorsPickleObject *key)
{
  /* What json.dumps () makes of non-string keys. */
  switch (key->type)
    {
    case SAFETENSORS_PICKLE_STR:
      safetensors_json_append_string (out, key->str.data, key->str.len);
      return;
    case SAFETENSORS_PICKLE_BOOL:
      g_string_append (out, key->boolean ? "\"true\"" : "\"false\"");
      return;
    case SAFETENSORS_PICKLE_NONE:
      g_string_append (out, "\"null\"");
      return;
    default:
      {
        g_autofree char *text = safetensors_pickle_object_key_string (key);

        safetensors_json_append_string (out, text, -1);
      }
    }
}

static gboolean
json_append (JsonWriter                     *writer,
             const SafetensorsPickleObject  *object,
             guint                           depth,
             GError                        **error)
{
  GString *out = writer->out;
  gboolean ok = TRUE;

  if (depth >= SAFETENSORS_PICKLE_MAX_DEPTH)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "it nests more than %u levels deep", SAFETENSORS_PICKLE_MAX_DEPTH);
      return FALSE;
    }

  switch (object->type)
    {
    case SAFETENSORS_PICKLE_NONE:
      g_string_append (out, "null");
      break;
    case SAFETENSORS_PICKLE_BOOL:
      g_string_append (out, object->boolean ? "true" : "false");
      break;
    case SAFETENSORS_PICKLE_INT:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, object->integer);
      break;
    case SAFETENSORS_PICKLE_BIGINT:
      append_bigint (out, (const guint8 *) object->str.data, object->str.len);
      break;
    case SAFETENSORS_PICKLE_FLOAT:
      append_float (out, object->real, TRUE);
      break;
    case SAFETENSORS_PICKLE_STR:
    case SAFETENSORS_PICKLE_DEVICE:
      safetensors_json_append_string (out, object->str.data, object->str.len);
      break;
    case SAFETENSORS_PICKLE_BYTES:
      {
        g_autofree char *base64 = g_base64_encode ((const guchar *) object->str.data, object->str.len);

        safetensors_json_append_string (out, base64, -1);
      }
      break;
    case SAFETENSORS_PICKLE_COMPLEX:
      g_string_append_c (out, '[');
      append_float (out, object->complex.re, TRUE);
      g_string_append_c (out, ',');
      append_float (out, object->complex.im, TRUE);
      g_string_append_c (out, ']');
      break;
    case SAFETENSORS_PICKLE_GLOBAL:
      {
        g_autofree char *name = g_strconcat (object->global->module, ".", object->global->name, NULL);

        safetensors_json_append_string (out, name, -1);
      }
      break;
    case SAFETENSORS_PICKLE_STORAGE:
      {
        g_autofree char *text = g_strdup_printf ("storage %s", object->storage->key);

        safetensors_json_append_string (out, text, -1);
      }
      break;
    case SAFETENSORS_PICKLE_TENSOR:
      {
        g_autoptr(GString) text = g_string_new ("tensor ");

        g_string_append (text, safetensors_torch_dtype_get_name (object->tensor->dtype));
        g_string_append_c (text, '[');
        for (guint i = 0; i < object->tensor->n_dims; i++)
          g_string_append_printf (text, "%s%" G_GINT64_FORMAT, i > 0 ? ", " : "",
                                  object->tensor->size[i]);
        g_string_append_c (text, ']');
        safetensors_json_append_string (out, text->str, text->len);
      }
      break;
    case SAFETENSORS_PICKLE_TUPLE:
    case SAFETENSORS_PICKLE_LIST:
    case SAFETENSORS_PICKLE_SET:
    case SAFETENSORS_PICKLE_FROZENSET:
    case SAFETENSORS_PICKLE_DICT:
    case SAFETENSORS_PICKLE_OBJECT:
      {
        const SafetensorsPickleObject *items = object;
        gboolean is_dict;

        if (object->type == SAFETENSORS_PICKLE_OBJECT)
          {
            if (object->object.state == NULL)
              {
                g_string_append (out, "{}");
                break;
              }
            items = object->object.state;
          }
        is_dict = items->type == SAFETENSORS_PICKLE_DICT;

        if (!g_hash_table_add (writer->on_path, (gpointer) items))
          {
            g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                         "it contains itself");
            return FALSE;
          }
        g_string_append_c (out, is_dict ? '{' : '[');
        for (guint i = 0; ok && i < items->seq.len; i += is_dict ? 2 : 1)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            if (is_dict)
              {
                json_append_dict_key (out, items->seq.items[i]);
                g_string_append_c (out, ':');
                ok = json_append (writer, items->seq.items[i + 1], depth + 1, error);
              }
            else
              {
                ok = json_append (writer, items->seq.items[i], depth + 1, error);
              }
            ok = ok && json_check (writer, error);
          }
        g_string_append_c (out, is_dict ? '}' : ']');
        g_hash_table_remove (writer->on_path, items);
      }
      break;
    default:
      g_assert_not_reached ();
    }

  return ok && json_check (writer, error);
}

gboolean
safetensors_pickle_object_to_json (const SafetensorsPickleObject  *object,
                                   GString                        *out,
                                   gsize                           max_len,
                                   GError                        **error)
{
  g_autoptr(GHashTable) on_path = g_hash_table_new (NULL, NULL);
  JsonWriter writer = { out, out->len + max_len, on_path };

  return json_append (&writer, object, 0, error);
}
