/* safetensors-pickle-torch.c — the whitelist of globals and what calling
 * them means
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-error-private.h"
#include "safetensors-pickle-private.h"

/* ------------------------------------------------------------------ */
/* Element types                                                      */
/* ------------------------------------------------------------------ */

typedef struct
{
  const char *name;
  guint       itemsize;
  int         safetensors;   /* SafetensorsDType, or -1 */
} TorchDTypeInfo;

static const TorchDTypeInfo torch_dtypes[SAFETENSORS_TORCH_DTYPE_COUNT] = {
  [SAFETENSORS_TORCH_DTYPE_UNTYPED]         = { "untyped", 1, -1 },
  [SAFETENSORS_TORCH_DTYPE_FLOAT32]         = { "float32", 4, SAFETENSORS_DTYPE_F32 },
  [SAFETENSORS_TORCH_DTYPE_FLOAT64]         = { "float64", 8, SAFETENSORS_DTYPE_F64 },
  [SAFETENSORS_TORCH_DTYPE_FLOAT16]         = { "float16", 2, SAFETENSORS_DTYPE_F16 },
  [SAFETENSORS_TORCH_DTYPE_BFLOAT16]        = { "bfloat16", 2, SAFETENSORS_DTYPE_BF16 },
  [SAFETENSORS_TORCH_DTYPE_INT64]           = { "int64", 8, SAFETENSORS_DTYPE_I64 },
  [SAFETENSORS_TORCH_DTYPE_INT32]           = { "int32", 4, SAFETENSORS_DTYPE_I32 },
  [SAFETENSORS_TORCH_DTYPE_INT16]           = { "int16", 2, SAFETENSORS_DTYPE_I16 },
  [SAFETENSORS_TORCH_DTYPE_INT8]            = { "int8", 1, SAFETENSORS_DTYPE_I8 },
  [SAFETENSORS_TORCH_DTYPE_UINT8]           = { "uint8", 1, SAFETENSORS_DTYPE_U8 },
  [SAFETENSORS_TORCH_DTYPE_BOOL]            = { "bool", 1, SAFETENSORS_DTYPE_BOOL },
  [SAFETENSORS_TORCH_DTYPE_COMPLEX64]       = { "complex64", 8, SAFETENSORS_DTYPE_C64 },
  [SAFETENSORS_TORCH_DTYPE_COMPLEX128]      = { "complex128", 16, -1 },
  [SAFETENSORS_TORCH_DTYPE_COMPLEX32]       = { "complex32", 4, -1 },
  [SAFETENSORS_TORCH_DTYPE_UINT16]          = { "uint16", 2, SAFETENSORS_DTYPE_U16 },
  [SAFETENSORS_TORCH_DTYPE_UINT32]          = { "uint32", 4, SAFETENSORS_DTYPE_U32 },
  [SAFETENSORS_TORCH_DTYPE_UINT64]          = { "uint64", 8, SAFETENSORS_DTYPE_U64 },
  [SAFETENSORS_TORCH_DTYPE_FLOAT8_E4M3FN]   = { "float8_e4m3fn", 1, SAFETENSORS_DTYPE_F8_E4M3 },
  [SAFETENSORS_TORCH_DTYPE_FLOAT8_E5M2]     = { "float8_e5m2", 1, SAFETENSORS_DTYPE_F8_E5M2 },
  [SAFETENSORS_TORCH_DTYPE_FLOAT8_E4M3FNUZ] = { "float8_e4m3fnuz", 1, SAFETENSORS_DTYPE_F8_E4M3FNUZ },
  [SAFETENSORS_TORCH_DTYPE_FLOAT8_E5M2FNUZ] = { "float8_e5m2fnuz", 1, SAFETENSORS_DTYPE_F8_E5M2FNUZ },
  [SAFETENSORS_TORCH_DTYPE_FLOAT8_E8M0FNU]  = { "float8_e8m0fnu", 1, SAFETENSORS_DTYPE_F8_E8M0 },
  [SAFETENSORS_TORCH_DTYPE_QINT8]           = { "qint8", 1, -1 },
  [SAFETENSORS_TORCH_DTYPE_QUINT8]          = { "quint8", 1, -1 },
  [SAFETENSORS_TORCH_DTYPE_QINT32]          = { "qint32", 4, -1 },
  [SAFETENSORS_TORCH_DTYPE_QUINT4X2]        = { "quint4x2", 1, -1 },
  [SAFETENSORS_TORCH_DTYPE_QUINT2X4]        = { "quint2x4", 1, -1 },
};

const char *
safetensors_torch_dtype_get_name (SafetensorsTorchDType dtype)
{
  g_assert (dtype < SAFETENSORS_TORCH_DTYPE_COUNT);
  return torch_dtypes[dtype].name;
}

guint
safetensors_torch_dtype_get_itemsize (SafetensorsTorchDType dtype)
{
  g_assert (dtype < SAFETENSORS_TORCH_DTYPE_COUNT);
  return torch_dtypes[dtype].itemsize;
}

gboolean
safetensors_torch_dtype_to_safetensors (SafetensorsTorchDType  dtype,
                                        SafetensorsDType      *out_dtype)
{
  g_assert (dtype < SAFETENSORS_TORCH_DTYPE_COUNT);
  if (torch_dtypes[dtype].safetensors < 0)
    return FALSE;
  *out_dtype = torch_dtypes[dtype].safetensors;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* The whitelist                                                      */
/* ------------------------------------------------------------------ */

#define G_(module, name, kind) { module, name, SAFETENSORS_PICKLE_GLOBAL_##kind, 0 }
#define STORAGE(name, dtype) \
  { "torch", name, SAFETENSORS_PICKLE_GLOBAL_STORAGE_CLASS, SAFETENSORS_TORCH_DTYPE_##dtype }
#define DTYPE(name, dtype) \
  { "torch", name, SAFETENSORS_PICKLE_GLOBAL_DTYPE, SAFETENSORS_TORCH_DTYPE_##dtype }

static const SafetensorsPickleGlobal whitelist[] = {
  G_ ("collections", "OrderedDict", ORDERED_DICT),
  G_ ("torch._utils", "_rebuild_tensor_v2", REBUILD_TENSOR_V2),
  G_ ("torch._utils", "_rebuild_tensor_v3", REBUILD_TENSOR_V3),
  G_ ("torch._utils", "_rebuild_parameter", REBUILD_PARAMETER),
  G_ ("torch._utils", "_rebuild_parameter_with_state", REBUILD_PARAMETER_WITH_STATE),
  G_ ("torch._utils", "_rebuild_qtensor", REBUILD_QTENSOR),
  STORAGE ("FloatStorage", FLOAT32),
  STORAGE ("DoubleStorage", FLOAT64),
  STORAGE ("HalfStorage", FLOAT16),
  STORAGE ("BFloat16Storage", BFLOAT16),
  STORAGE ("LongStorage", INT64),
  STORAGE ("IntStorage", INT32),
  STORAGE ("ShortStorage", INT16),
  STORAGE ("CharStorage", INT8),
  STORAGE ("ByteStorage", UINT8),
  STORAGE ("BoolStorage", BOOL),
  STORAGE ("ComplexFloatStorage", COMPLEX64),
  STORAGE ("ComplexDoubleStorage", COMPLEX128),
  STORAGE ("QInt8Storage", QINT8),
  STORAGE ("QUInt8Storage", QUINT8),
  STORAGE ("QInt32Storage", QINT32),
  STORAGE ("QUInt4x2Storage", QUINT4X2),
  STORAGE ("QUInt2x4Storage", QUINT2X4),
  STORAGE ("UntypedStorage", UNTYPED),
  DTYPE ("float32", FLOAT32), DTYPE ("float", FLOAT32),
  DTYPE ("float64", FLOAT64), DTYPE ("double", FLOAT64),
  DTYPE ("float16", FLOAT16), DTYPE ("half", FLOAT16),
  DTYPE ("bfloat16", BFLOAT16),
  DTYPE ("int64", INT64), DTYPE ("long", INT64),
  DTYPE ("int32", INT32), DTYPE ("int", INT32),
  DTYPE ("int16", INT16), DTYPE ("short", INT16),
  DTYPE ("int8", INT8),
  DTYPE ("uint8", UINT8),
  DTYPE ("bool", BOOL),
  DTYPE ("complex64", COMPLEX64), DTYPE ("cfloat", COMPLEX64),
  DTYPE ("complex128", COMPLEX128), DTYPE ("cdouble", COMPLEX128),
  DTYPE ("complex32", COMPLEX32), DTYPE ("chalf", COMPLEX32),
  DTYPE ("uint16", UINT16),
  DTYPE ("uint32", UINT32),
  DTYPE ("uint64", UINT64),
  DTYPE ("float8_e4m3fn", FLOAT8_E4M3FN),
  DTYPE ("float8_e5m2", FLOAT8_E5M2),
  DTYPE ("float8_e4m3fnuz", FLOAT8_E4M3FNUZ),
  DTYPE ("float8_e5m2fnuz", FLOAT8_E5M2FNUZ),
  DTYPE ("float8_e8m0fnu", FLOAT8_E8M0FNU),
  DTYPE ("qint8", QINT8),
  DTYPE ("quint8", QUINT8),
  DTYPE ("qint32", QINT32),
  DTYPE ("quint4x2", QUINT4X2),
  DTYPE ("quint2x4", QUINT2X4),
  G_ ("torch", "per_tensor_affine", QSCHEME),
  G_ ("torch", "per_channel_affine", QSCHEME),
  G_ ("torch", "per_tensor_symmetric", QSCHEME),
  G_ ("torch", "per_channel_symmetric", QSCHEME),
  G_ ("torch", "per_channel_affine_float_qparams", QSCHEME),
  G_ ("torch", "device", DEVICE),
  G_ ("torch", "Size", SIZE),
  G_ ("_codecs", "encode", CODECS_ENCODE),
  G_ ("builtins", "set", SET),
  G_ ("builtins", "frozenset", FROZENSET),
  G_ ("builtins", "complex", COMPLEX),
  G_ ("builtins", "bytearray", BYTEARRAY),
  G_ ("argparse", "Namespace", NAMESPACE),
};

#undef G_
#undef STORAGE
#undef DTYPE

const SafetensorsPickleGlobal *
safetensors_pickle_find_global (const char *module,
                                const char *name)
{
  /* Python 2 pickles name the builtins module differently. */
  if (g_str_equal (module, "__builtin__"))
    module = "builtins";

  for (gsize i = 0; i < G_N_ELEMENTS (whitelist); i++)
    if (g_str_equal (whitelist[i].module, module) && g_str_equal (whitelist[i].name, name))
      return &whitelist[i];

  return NULL;
}

/* ------------------------------------------------------------------ */
/* Calls                                                              */
/* ------------------------------------------------------------------ */


static char *
global_name (const SafetensorsPickleGlobal *global)
{
  return g_strconcat (global->module, ".", global->name, NULL);
}

static gboolean
check_args (const SafetensorsPickleGlobal  *global,
            SafetensorsPickleObject        *args,
            guint                           min,
            guint                           max,
            GError                        **error)
{
  g_autofree char *name = NULL;

  if (args->seq.len >= min && args->seq.len <= max)
    return TRUE;

  name = global_name (global);
  return safetensors_set_invalid_data (error, "%s takes %u to %u arguments, not %u", name, min, max, args->seq.len);
}

static gboolean
is_sequence (const SafetensorsPickleObject *object)
{
  return object->type == SAFETENSORS_PICKLE_TUPLE || object->type == SAFETENSORS_PICKLE_LIST;
}

/* A tuple of ints (torch.Size, strides) into a new array. */
static gboolean
int_tuple (SafetensorsPickleObject  *object,
           const char               *what,
           gint64                  **out_values,
           guint                    *out_len,
           GError                  **error)
{
  if (!is_sequence (object))
    return safetensors_set_invalid_data (error, "a tensor's %s is a %s, not a tuple",
                 what, safetensors_pickle_object_type_name (object));

  *out_len = object->seq.len;
  *out_values = g_new (gint64, MAX (object->seq.len, 1));
  for (guint i = 0; i < object->seq.len; i++)
    {
      SafetensorsPickleObject *item = object->seq.items[i];

      if (item->type != SAFETENSORS_PICKLE_INT)
        {
          g_clear_pointer (out_values, g_free);
          return safetensors_set_invalid_data (error, "a tensor's %s holds a %s, not an int",
                       what, safetensors_pickle_object_type_name (item));
        }
      (*out_values)[i] = item->integer;
    }
  return TRUE;
}

static SafetensorsPickleObject *
rebuild_tensor (SafetensorsPickle              *self,
                const SafetensorsPickleGlobal  *global,
                SafetensorsPickleObject        *args,
                GError                        **error)
{
  SafetensorsPickleTensor *tensor;
  SafetensorsPickleObject *object;
  SafetensorsPickleObject **items = args->seq.items;
  g_autofree gint64 *size = NULL;
  g_autofree gint64 *stride = NULL;
  guint n_size = 0, n_stride = 0;

  switch (global->kind)
    {
    case SAFETENSORS_PICKLE_GLOBAL_REBUILD_TENSOR_V2:
      if (!check_args (global, args, 6, 7, error))
        return NULL;
      break;
    case SAFETENSORS_PICKLE_GLOBAL_REBUILD_TENSOR_V3:
      if (!check_args (global, args, 7, 8, error))
        return NULL;
      if (items[6]->type != SAFETENSORS_PICKLE_GLOBAL ||
          items[6]->global->kind != SAFETENSORS_PICKLE_GLOBAL_DTYPE)
        {
          safetensors_set_invalid_data (error, "_rebuild_tensor_v3 expects a torch.dtype, not %s",
                safetensors_pickle_object_type_name (items[6]));
          return NULL;
        }
      break;
    default:
      if (!check_args (global, args, 7, 7, error))
        return NULL;
      break;
    }

  if (items[0]->type != SAFETENSORS_PICKLE_STORAGE)
    {
      safetensors_set_invalid_data (error, "a tensor is built on a %s, not a storage",
            safetensors_pickle_object_type_name (items[0]));
      return NULL;
    }
  if (items[1]->type != SAFETENSORS_PICKLE_INT)
    {
      safetensors_set_invalid_data (error, "a tensor's storage offset is a %s, not an int",
            safetensors_pickle_object_type_name (items[1]));
      return NULL;
    }
  if (!int_tuple (items[2], "size", &size, &n_size, error) ||
      !int_tuple (items[3], "stride", &stride, &n_stride, error))
    return NULL;
  if (n_size != n_stride)
    {
      safetensors_set_invalid_data (error, "a tensor has %u sizes but %u strides", n_size, n_stride);
      return NULL;
    }

  object = safetensors_pickle_alloc (self, SAFETENSORS_PICKLE_TENSOR, error);
  if (object == NULL)
    return NULL;

  tensor = g_new0 (SafetensorsPickleTensor, 1);
  object->tensor = tensor;
  tensor->storage = items[0]->storage;
  tensor->offset = items[1]->integer;
  tensor->n_dims = n_size;
  tensor->size = g_steal_pointer (&size);
  tensor->stride = g_steal_pointer (&stride);
  tensor->quantized = global->kind == SAFETENSORS_PICKLE_GLOBAL_REBUILD_QTENSOR;
  if (global->kind == SAFETENSORS_PICKLE_GLOBAL_REBUILD_TENSOR_V3)
    tensor->dtype = items[6]->global->dtype;
  else if (tensor->storage->dtype == SAFETENSORS_TORCH_DTYPE_UNTYPED)
    tensor->dtype = SAFETENSORS_TORCH_DTYPE_UINT8;   /* bytes, as torch reads them */
  else
    tensor->dtype = tensor->storage->dtype;

  return object;
}

static gboolean
is_number (const SafetensorsPickleObject *object,
           double                        *out_value)
{
  switch (object->type)
    {
    case SAFETENSORS_PICKLE_INT: *out_value = object->integer; return TRUE;
    case SAFETENSORS_PICKLE_BOOL: *out_value = object->boolean; return TRUE;
    case SAFETENSORS_PICKLE_FLOAT: *out_value = object->real; return TRUE;
    default: return FALSE;
    }
}

/* str.encode (encoding) for the encodings protocol 2 uses for bytes. */
static SafetensorsPickleObject *
encode_string (SafetensorsPickle        *self,
               SafetensorsPickleObject  *str,
               SafetensorsPickleObject  *encoding,
               GError                  **error)
{
  const char *name = encoding != NULL && encoding->type == SAFETENSORS_PICKLE_STR ?
                     encoding->str.data : "utf-8";
  g_autofree guint8 *bytes = NULL;
  gsize n = 0;

  if (str->type != SAFETENSORS_PICKLE_STR || (encoding != NULL && encoding->type != SAFETENSORS_PICKLE_STR))
    {
      safetensors_set_invalid_data (error, "_codecs.encode expects a str and an encoding name");
      return NULL;
    }

  if (g_ascii_strcasecmp (name, "utf-8") == 0 || g_ascii_strcasecmp (name, "utf8") == 0)
    return safetensors_pickle_new_string (self, SAFETENSORS_PICKLE_BYTES,
                                          (const guint8 *) str->str.data, str->str.len, error);

  if (g_ascii_strcasecmp (name, "latin1") != 0 && g_ascii_strcasecmp (name, "latin-1") != 0 &&
      g_ascii_strcasecmp (name, "iso-8859-1") != 0 && g_ascii_strcasecmp (name, "iso8859-1") != 0)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   "_codecs.encode to encoding “%.64s” is not supported", name);
      return NULL;
    }

  bytes = g_malloc (str->str.len + 1);
  for (const char *p = str->str.data; p < str->str.data + str->str.len; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c > 0xff)
        {
          safetensors_set_invalid_data (error, "_codecs.encode: U+%04X is not in Latin-1", c);
          return NULL;
        }
      bytes[n++] = c;
    }
  return safetensors_pickle_new_string (self, SAFETENSORS_PICKLE_BYTES, bytes, n, error);
}

static SafetensorsPickleObject *
make_set (SafetensorsPickle        *self,
          SafetensorsPickleType     type,
          SafetensorsPickleObject  *iterable,
          GError                  **error)
{
  SafetensorsPickleObject *set = safetensors_pickle_alloc (self, type, error);
  guint step = 1;

  if (set == NULL || iterable == NULL)
    return set;

  switch (iterable->type)
    {
    case SAFETENSORS_PICKLE_DICT:
      step = 2;   /* its keys */
      G_GNUC_FALLTHROUGH;
    case SAFETENSORS_PICKLE_TUPLE:
    case SAFETENSORS_PICKLE_LIST:
    case SAFETENSORS_PICKLE_SET:
    case SAFETENSORS_PICKLE_FROZENSET:
      for (guint i = 0; i < iterable->seq.len; i += step)
        if (!safetensors_pickle_set_add (self, set, iterable->seq.items[i], error))
          return NULL;
      return set;
    default:
      safetensors_set_invalid_data (error, "cannot make a set of a %s", safetensors_pickle_object_type_name (iterable));
      return NULL;
    }
}

static SafetensorsPickleObject *
make_dict (SafetensorsPickle        *self,
           SafetensorsPickleObject  *pairs,
           GError                  **error)
{
  SafetensorsPickleObject *dict = safetensors_pickle_alloc (self, SAFETENSORS_PICKLE_DICT, error);

  if (dict == NULL || pairs == NULL)
    return dict;

  if (pairs->type == SAFETENSORS_PICKLE_DICT)
    {
      for (guint i = 0; i < pairs->seq.len; i += 2)
        if (!safetensors_pickle_dict_set (self, dict, pairs->seq.items[i], pairs->seq.items[i + 1], error))
          return NULL;
      return dict;
    }
  if (!is_sequence (pairs))
    {
      safetensors_set_invalid_data (error, "OrderedDict expects key-value pairs, not a %s",
            safetensors_pickle_object_type_name (pairs));
      return NULL;
    }
  for (guint i = 0; i < pairs->seq.len; i++)
    {
      SafetensorsPickleObject *pair = pairs->seq.items[i];

      if (!is_sequence (pair) || pair->seq.len != 2)
        {
          safetensors_set_invalid_data (error, "OrderedDict expects key-value pairs");
          return NULL;
        }
      if (!safetensors_pickle_dict_set (self, dict, pair->seq.items[0], pair->seq.items[1], error))
        return NULL;
    }
  return dict;
}

static SafetensorsPickleObject *
make_device (SafetensorsPickle        *self,
             SafetensorsPickleObject  *args,
             GError                  **error)
{
  SafetensorsPickleObject *type = args->seq.items[0];
  SafetensorsPickleObject *index = args->seq.len > 1 ? args->seq.items[1] : NULL;
  g_autofree char *name = NULL;

  if ((type->type != SAFETENSORS_PICKLE_STR && type->type != SAFETENSORS_PICKLE_DEVICE) ||
      type->str.len > 64 || strlen (type->str.data) != type->str.len)
    {
      safetensors_set_invalid_data (error, "torch.device expects a device name");
      return NULL;
    }
  if (index != NULL && index->type == SAFETENSORS_PICKLE_INT)
    name = g_strdup_printf ("%s:%" G_GINT64_FORMAT, type->str.data, index->integer);
  else if (index == NULL || index->type == SAFETENSORS_PICKLE_NONE)
    name = g_strdup (type->str.data);
  else
    {
      safetensors_set_invalid_data (error, "torch.device expects an int index, not a %s",
            safetensors_pickle_object_type_name (index));
      return NULL;
    }

  return safetensors_pickle_new_string (self, SAFETENSORS_PICKLE_DEVICE,
                                        (const guint8 *) name, strlen (name), error);
}

SafetensorsPickleObject *
safetensors_pickle_reduce (SafetensorsPickle        *self,
                           SafetensorsPickleObject  *callable,
                           SafetensorsPickleObject  *args,
                           GError                  **error)
{
  const SafetensorsPickleGlobal *global;
  SafetensorsPickleObject **items = args->seq.items;
  SafetensorsPickleObject *object;
  double re = 0, im = 0;

  if (callable->type != SAFETENSORS_PICKLE_GLOBAL)
    {
      safetensors_set_invalid_data (error, "REDUCE cannot call a %s", safetensors_pickle_object_type_name (callable));
      return NULL;
    }
  global = callable->global;

  switch (global->kind)
    {
    case SAFETENSORS_PICKLE_GLOBAL_ORDERED_DICT:
      if (!check_args (global, args, 0, 1, error))
        return NULL;
      return make_dict (self, args->seq.len > 0 ? items[0] : NULL, error);

    case SAFETENSORS_PICKLE_GLOBAL_REBUILD_TENSOR_V2:
    case SAFETENSORS_PICKLE_GLOBAL_REBUILD_TENSOR_V3:
    case SAFETENSORS_PICKLE_GLOBAL_REBUILD_QTENSOR:
      return rebuild_tensor (self, global, args, error);

    case SAFETENSORS_PICKLE_GLOBAL_REBUILD_PARAMETER:
    case SAFETENSORS_PICKLE_GLOBAL_REBUILD_PARAMETER_WITH_STATE:
      if (!check_args (global, args,
                       global->kind == SAFETENSORS_PICKLE_GLOBAL_REBUILD_PARAMETER ? 3 : 4,
                       global->kind == SAFETENSORS_PICKLE_GLOBAL_REBUILD_PARAMETER ? 3 : 4, error))
        return NULL;
      if (items[0]->type != SAFETENSORS_PICKLE_TENSOR)
        {
          safetensors_set_invalid_data (error, "a parameter wraps a %s, not a tensor",
                safetensors_pickle_object_type_name (items[0]));
          return NULL;
        }
      /* A parameter is its tensor; gradients and hooks do not matter. */
      return items[0];

    case SAFETENSORS_PICKLE_GLOBAL_DEVICE:
      if (!check_args (global, args, 1, 2, error))
        return NULL;
      return make_device (self, args, error);

    case SAFETENSORS_PICKLE_GLOBAL_SIZE:
      {
        g_autofree gint64 *values = NULL;
        guint n = 0;

        if (!check_args (global, args, 1, 1, error) ||
            !int_tuple (items[0], "size", &values, &n, error))
          return NULL;
        object = safetensors_pickle_alloc (self, SAFETENSORS_PICKLE_TUPLE, error);
        for (guint i = 0; object != NULL && i < items[0]->seq.len; i++)
          if (!safetensors_pickle_append (self, object, items[0]->seq.items[i], error))
            return NULL;
        return object;
      }

    case SAFETENSORS_PICKLE_GLOBAL_CODECS_ENCODE:
      if (!check_args (global, args, 1, 2, error))
        return NULL;
      return encode_string (self, items[0], args->seq.len > 1 ? items[1] : NULL, error);

    case SAFETENSORS_PICKLE_GLOBAL_SET:
    case SAFETENSORS_PICKLE_GLOBAL_FROZENSET:
      if (!check_args (global, args, 0, 1, error))
        return NULL;
      return make_set (self, global->kind == SAFETENSORS_PICKLE_GLOBAL_SET ?
                       SAFETENSORS_PICKLE_SET : SAFETENSORS_PICKLE_FROZENSET,
                       args->seq.len > 0 ? items[0] : NULL, error);

    case SAFETENSORS_PICKLE_GLOBAL_COMPLEX:
      if (!check_args (global, args, 0, 2, error))
        return NULL;
      if ((args->seq.len > 0 && !is_number (items[0], &re)) ||
          (args->seq.len > 1 && !is_number (items[1], &im)))
        {
          safetensors_set_invalid_data (error, "complex expects numbers");
          return NULL;
        }
      object = safetensors_pickle_alloc (self, SAFETENSORS_PICKLE_COMPLEX, error);
      if (object != NULL)
        {
          object->complex.re = re;
          object->complex.im = im;
        }
      return object;

    case SAFETENSORS_PICKLE_GLOBAL_BYTEARRAY:
      if (!check_args (global, args, 0, 2, error))
        return NULL;
      if (args->seq.len == 0)
        return safetensors_pickle_new_string (self, SAFETENSORS_PICKLE_BYTES, NULL, 0, error);
      if (args->seq.len == 1 && items[0]->type == SAFETENSORS_PICKLE_BYTES)
        return safetensors_pickle_new_string (self, SAFETENSORS_PICKLE_BYTES,
                                              (const guint8 *) items[0]->str.data,
                                              items[0]->str.len, error);
      if (args->seq.len == 2)
        return encode_string (self, items[0], items[1], error);
      safetensors_set_invalid_data (error, "bytearray expects bytes, or a str and an encoding");
      return NULL;

    case SAFETENSORS_PICKLE_GLOBAL_NAMESPACE:
      if (!check_args (global, args, 0, 0, error))
        return NULL;
      object = safetensors_pickle_alloc (self, SAFETENSORS_PICKLE_OBJECT, error);
      if (object != NULL)
        object->object.cls = global;
      return object;

    case SAFETENSORS_PICKLE_GLOBAL_STORAGE_CLASS:
    case SAFETENSORS_PICKLE_GLOBAL_DTYPE:
    case SAFETENSORS_PICKLE_GLOBAL_QSCHEME:
    default:
      {
        g_autofree char *name = global_name (global);

        g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSAFE_PICKLE,
                     "%s may appear as a value but cannot be called", name);
        return NULL;
      }
    }
}

SafetensorsPickleObject *
safetensors_pickle_newobj (SafetensorsPickle        *self,
                           SafetensorsPickleObject  *cls,
                           SafetensorsPickleObject  *args,
                           SafetensorsPickleObject  *kwargs,
                           GError                  **error)
{
  SafetensorsPickleObject *object;

  if (cls->type != SAFETENSORS_PICKLE_GLOBAL)
    {
      safetensors_set_invalid_data (error, "NEWOBJ cannot instantiate a %s", safetensors_pickle_object_type_name (cls));
      return NULL;
    }

  /* cls.__new__ (cls, *args): only the arguments __new__ itself uses
   * matter; __init__ is not called. */
  switch (cls->global->kind)
    {
    case SAFETENSORS_PICKLE_GLOBAL_ORDERED_DICT:
      return safetensors_pickle_alloc (self, SAFETENSORS_PICKLE_DICT, error);
    case SAFETENSORS_PICKLE_GLOBAL_SET:
      return safetensors_pickle_alloc (self, SAFETENSORS_PICKLE_SET, error);
    case SAFETENSORS_PICKLE_GLOBAL_BYTEARRAY:
      return safetensors_pickle_new_string (self, SAFETENSORS_PICKLE_BYTES, NULL, 0, error);
    case SAFETENSORS_PICKLE_GLOBAL_NAMESPACE:
      object = safetensors_pickle_alloc (self, SAFETENSORS_PICKLE_OBJECT, error);
      if (object != NULL)
        object->object.cls = cls->global;
      return object;
    case SAFETENSORS_PICKLE_GLOBAL_FROZENSET:
    case SAFETENSORS_PICKLE_GLOBAL_COMPLEX:
      if (kwargs != NULL && safetensors_pickle_dict_size (kwargs) > 0)
        {
          safetensors_set_invalid_data (error, "keyword arguments to %s are not supported", cls->global->name);
          return NULL;
        }
      return safetensors_pickle_reduce (self, cls, args, error);
    default:
      {
        g_autofree char *name = global_name (cls->global);

        g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSAFE_PICKLE,
                     "%s cannot be instantiated", name);
        return NULL;
      }
    }
}

static gboolean
merge_attributes (SafetensorsPickle        *self,
                  SafetensorsPickleObject  *instance,
                  SafetensorsPickleObject  *dict,
                  GError                  **error)
{
  if (dict->type == SAFETENSORS_PICKLE_NONE)
    return TRUE;
  if (dict->type != SAFETENSORS_PICKLE_DICT)
    return safetensors_set_invalid_data (error, "BUILD expects a dict of attributes, not a %s",
                 safetensors_pickle_object_type_name (dict));

  if (instance->object.state == NULL)
    {
      instance->object.state = safetensors_pickle_alloc (self, SAFETENSORS_PICKLE_DICT, error);
      if (instance->object.state == NULL)
        return FALSE;
    }
  for (guint i = 0; i < dict->seq.len; i += 2)
    if (!safetensors_pickle_dict_set (self, instance->object.state, dict->seq.items[i],
                                      dict->seq.items[i + 1], error))
      return FALSE;
  return TRUE;
}

gboolean
safetensors_pickle_build (SafetensorsPickle        *self,
                          SafetensorsPickleObject  *instance,
                          SafetensorsPickleObject  *state,
                          GError                  **error)
{
  /* An empty state changes nothing, whatever the instance. */
  if (state->type == SAFETENSORS_PICKLE_NONE ||
      (state->type == SAFETENSORS_PICKLE_DICT && state->seq.len == 0))
    return TRUE;

  switch (instance->type)
    {
    case SAFETENSORS_PICKLE_OBJECT:
      if (state->type == SAFETENSORS_PICKLE_TUPLE && state->seq.len == 2)
        return merge_attributes (self, instance, state->seq.items[0], error) &&
               merge_attributes (self, instance, state->seq.items[1], error);
      return merge_attributes (self, instance, state, error);

    case SAFETENSORS_PICKLE_DICT:
      /* Attributes of an OrderedDict (state_dict ()._metadata): they
       * hold no tensors and are not part of the mapping. */
      if (state->type == SAFETENSORS_PICKLE_DICT || state->type == SAFETENSORS_PICKLE_TUPLE)
        return TRUE;
      return safetensors_set_invalid_data (error, "BUILD expects a dict of attributes, not a %s",
                   safetensors_pickle_object_type_name (state));

    default:
      return safetensors_set_invalid_data (error, "BUILD cannot set the state of a %s",
                   safetensors_pickle_object_type_name (instance));
    }
}

/* Storage keys name archive entries (data/KEY): plain names only. */
static gboolean
is_valid_key (const SafetensorsPickleObject *key)
{
  if (key->type != SAFETENSORS_PICKLE_STR || key->str.len == 0 || key->str.len > 256)
    return FALSE;
  for (gsize i = 0; i < key->str.len; i++)
    {
      guchar c = key->str.data[i];

      if (!g_ascii_isalnum (c) && c != '_' && c != '-' && c != '.')
        return FALSE;
    }
  return !g_str_equal (key->str.data, ".") && !g_str_equal (key->str.data, "..");
}

SafetensorsPickleObject *
safetensors_pickle_persistent_load (SafetensorsPickle        *self,
                                    SafetensorsPickleObject  *pid,
                                    GError                  **error)
{
  guint expected = self->pid_format == SAFETENSORS_PICKLE_PID_ZIP ? 5 : 6;
  SafetensorsPickleObject **items = pid->seq.items;
  SafetensorsPickleStorage *storage;
  SafetensorsPickleObject *object;
  const SafetensorsPickleGlobal *cls;
  guint64 n_bytes;

  if (pid->type != SAFETENSORS_PICKLE_TUPLE || pid->seq.len == 0 ||
      items[0]->type != SAFETENSORS_PICKLE_STR)
    {
      safetensors_set_invalid_data (error, "a persistent id is a %s, not a tuple naming its kind",
            safetensors_pickle_object_type_name (pid));
      return NULL;
    }
  if (!g_str_equal (items[0]->str.data, "storage"))
    {
      /* Legacy files reference module source code this way. */
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSAFE_PICKLE,
                   "persistent ids of kind “%.32s” are not allowed", items[0]->str.data);
      return NULL;
    }
  if (pid->seq.len != expected)
    {
      safetensors_set_invalid_data (error, "a storage reference has %u items, not %u", pid->seq.len, expected);
      return NULL;
    }
  if (items[1]->type != SAFETENSORS_PICKLE_GLOBAL ||
      items[1]->global->kind != SAFETENSORS_PICKLE_GLOBAL_STORAGE_CLASS)
    {
      safetensors_set_invalid_data (error, "a storage reference names a %s, not a storage class",
            safetensors_pickle_object_type_name (items[1]));
      return NULL;
    }
  if (!is_valid_key (items[2]))
    {
      safetensors_set_invalid_data (error, "a storage key must be a short name of letters, digits, “_”, “-” and “.”");
      return NULL;
    }
  if (items[3]->type != SAFETENSORS_PICKLE_STR || items[4]->type != SAFETENSORS_PICKLE_INT ||
      items[4]->integer < 0)
    {
      safetensors_set_invalid_data (error, "storage “%s”: its location must be a str and its size an int ≥ 0",
            items[2]->str.data);
      return NULL;
    }
  if (expected == 6 && items[5]->type != SAFETENSORS_PICKLE_NONE)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   "storage “%s”: storage views of old legacy checkpoints are not supported",
                   items[2]->str.data);
      return NULL;
    }

  cls = items[1]->global;
  if (!g_uint64_checked_mul (&n_bytes, items[4]->integer,
                             safetensors_torch_dtype_get_itemsize (cls->dtype)))
    {
      safetensors_set_invalid_data (error, "storage “%s”: its size overflows 64 bits", items[2]->str.data);
      return NULL;
    }

  object = g_hash_table_lookup (self->storage_objects, items[2]->str.data);
  if (object != NULL)
    {
      storage = object->storage;
      if (storage->dtype != cls->dtype || storage->numel != (guint64) items[4]->integer)
        {
          safetensors_set_invalid_data (error, "storage “%s” is described twice, differently", storage->key);
          return NULL;
        }
      return object;
    }

  object = safetensors_pickle_alloc (self, SAFETENSORS_PICKLE_STORAGE, error);
  if (object == NULL)
    return NULL;
  storage = g_new0 (SafetensorsPickleStorage, 1);
  storage->key = g_strdup (items[2]->str.data);
  storage->dtype = cls->dtype;
  storage->numel = items[4]->integer;
  storage->n_bytes = n_bytes;
  storage->location = g_strndup (items[3]->str.data, 64);
  object->storage = storage;
  g_hash_table_insert (self->storages, storage->key, storage);
  g_hash_table_insert (self->storage_objects, storage->key, object);

  return object;
}
