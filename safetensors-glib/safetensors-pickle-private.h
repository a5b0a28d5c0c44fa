/* safetensors-pickle-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

#include "safetensors-dtype.h"

G_BEGIN_DECLS

/* A restricted pickle virtual machine for PyTorch checkpoints.
 *
 * It understands the binary opcodes of protocols 2 to 5 that a
 * checkpoint needs and builds an inert object graph: nothing is ever
 * imported, called or executed. Globals are resolved against a fixed
 * whitelist (safetensors-pickle-object.c); any other global, and any
 * opcode outside the supported set (INST, OBJ, EXT*, PERSID, the text
 * opcodes of protocol 0, out-of-band buffers), is refused with
 * SAFETENSORS_ERROR_UNSAFE_PICKLE. The whole pickle is scanned for such
 * opcodes and for the names of GLOBAL and STACK_GLOBAL (whose operands
 * must be string literals or memoized ones, as Python writes them)
 * before the first instruction runs.
 *
 * Every object lives in an arena (SafetensorsPickle) and is freed with
 * it, so shared references and cycles, both legal in pickles, need no
 * reference counting. Memory is bounded by the input: strings are
 * checked against the bytes that remain, the memo is a hash table, and
 * the stack, MARK depth, memo and number of objects have caps. */

/* Caps. A real checkpoint stays far below all of them. */
#define SAFETENSORS_PICKLE_MAX_MARK_DEPTH  1000        /* CPython's recursion limit */
#define SAFETENSORS_PICKLE_MAX_STACK       (1u << 22)
#define SAFETENSORS_PICKLE_MAX_MEMO        (1u << 22)
#define SAFETENSORS_PICKLE_MAX_UNITS       (G_GUINT64_CONSTANT (1) << 25) /* objects + slots */
#define SAFETENSORS_PICKLE_MAX_KEY_DEPTH   32          /* tuples nested in a dict key */
/* Object graphs are walked (flattening, JSON) at most this deep. */
#define SAFETENSORS_PICKLE_MAX_DEPTH       1000

/* Element types PyTorch has. Storage classes map to one of them;
 * UNTYPED is the byte-addressed torch.UntypedStorage. */
typedef enum
{
  SAFETENSORS_TORCH_DTYPE_UNTYPED,
  SAFETENSORS_TORCH_DTYPE_FLOAT32,
  SAFETENSORS_TORCH_DTYPE_FLOAT64,
  SAFETENSORS_TORCH_DTYPE_FLOAT16,
  SAFETENSORS_TORCH_DTYPE_BFLOAT16,
  SAFETENSORS_TORCH_DTYPE_INT64,
  SAFETENSORS_TORCH_DTYPE_INT32,
  SAFETENSORS_TORCH_DTYPE_INT16,
  SAFETENSORS_TORCH_DTYPE_INT8,
  SAFETENSORS_TORCH_DTYPE_UINT8,
  SAFETENSORS_TORCH_DTYPE_BOOL,
  SAFETENSORS_TORCH_DTYPE_COMPLEX64,
  SAFETENSORS_TORCH_DTYPE_COMPLEX128,
  SAFETENSORS_TORCH_DTYPE_COMPLEX32,
  SAFETENSORS_TORCH_DTYPE_UINT16,
  SAFETENSORS_TORCH_DTYPE_UINT32,
  SAFETENSORS_TORCH_DTYPE_UINT64,
  SAFETENSORS_TORCH_DTYPE_FLOAT8_E4M3FN,
  SAFETENSORS_TORCH_DTYPE_FLOAT8_E5M2,
  SAFETENSORS_TORCH_DTYPE_FLOAT8_E4M3FNUZ,
  SAFETENSORS_TORCH_DTYPE_FLOAT8_E5M2FNUZ,
  SAFETENSORS_TORCH_DTYPE_FLOAT8_E8M0FNU,
  SAFETENSORS_TORCH_DTYPE_QINT8,
  SAFETENSORS_TORCH_DTYPE_QUINT8,
  SAFETENSORS_TORCH_DTYPE_QINT32,
  SAFETENSORS_TORCH_DTYPE_QUINT4X2,
  SAFETENSORS_TORCH_DTYPE_QUINT2X4,
  SAFETENSORS_TORCH_DTYPE_COUNT
} SafetensorsTorchDType;

/* "float32", "complex128", "untyped" */
const char *safetensors_torch_dtype_get_name     (SafetensorsTorchDType  dtype);
guint       safetensors_torch_dtype_get_itemsize (SafetensorsTorchDType  dtype);
/* FALSE when safetensors has no such type (complex128, complex32,
 * quantized types, untyped). */
gboolean    safetensors_torch_dtype_to_safetensors (SafetensorsTorchDType  dtype,
                                                    SafetensorsDType      *out_dtype);

typedef enum
{
  SAFETENSORS_PICKLE_NONE,
  SAFETENSORS_PICKLE_BOOL,
  SAFETENSORS_PICKLE_INT,
  SAFETENSORS_PICKLE_BIGINT,     /* an int beyond 64 bits: str holds its LE two's complement */
  SAFETENSORS_PICKLE_FLOAT,
  SAFETENSORS_PICKLE_STR,        /* UTF-8, NUL-terminated (may hold NULs: use len) */
  SAFETENSORS_PICKLE_BYTES,
  SAFETENSORS_PICKLE_TUPLE,
  SAFETENSORS_PICKLE_LIST,
  SAFETENSORS_PICKLE_DICT,       /* items: key, value, key, value… in insertion order */
  SAFETENSORS_PICKLE_SET,
  SAFETENSORS_PICKLE_FROZENSET,
  SAFETENSORS_PICKLE_GLOBAL,     /* a whitelisted class, function or constant */
  SAFETENSORS_PICKLE_COMPLEX,
  SAFETENSORS_PICKLE_DEVICE,     /* str holds "cpu", "cuda:0"… */
  SAFETENSORS_PICKLE_STORAGE,
  SAFETENSORS_PICKLE_TENSOR,
  SAFETENSORS_PICKLE_OBJECT,     /* an inert instance (argparse.Namespace) */
} SafetensorsPickleType;

typedef enum
{
  SAFETENSORS_PICKLE_GLOBAL_ORDERED_DICT,
  SAFETENSORS_PICKLE_GLOBAL_REBUILD_TENSOR_V2,
  SAFETENSORS_PICKLE_GLOBAL_REBUILD_TENSOR_V3,
  SAFETENSORS_PICKLE_GLOBAL_REBUILD_PARAMETER,
  SAFETENSORS_PICKLE_GLOBAL_REBUILD_PARAMETER_WITH_STATE,
  SAFETENSORS_PICKLE_GLOBAL_REBUILD_QTENSOR,
  SAFETENSORS_PICKLE_GLOBAL_STORAGE_CLASS,
  SAFETENSORS_PICKLE_GLOBAL_DTYPE,
  SAFETENSORS_PICKLE_GLOBAL_QSCHEME,
  SAFETENSORS_PICKLE_GLOBAL_DEVICE,
  SAFETENSORS_PICKLE_GLOBAL_SIZE,
  SAFETENSORS_PICKLE_GLOBAL_CODECS_ENCODE,
  SAFETENSORS_PICKLE_GLOBAL_SET,
  SAFETENSORS_PICKLE_GLOBAL_FROZENSET,
  SAFETENSORS_PICKLE_GLOBAL_COMPLEX,
  SAFETENSORS_PICKLE_GLOBAL_BYTEARRAY,
  SAFETENSORS_PICKLE_GLOBAL_NAMESPACE,
} SafetensorsPickleGlobalKind;

typedef struct
{
  const char                  *module;
  const char                  *name;
  SafetensorsPickleGlobalKind  kind;
  SafetensorsTorchDType        dtype;   /* storage classes and dtypes */
} SafetensorsPickleGlobal;

typedef struct _SafetensorsPickleObject SafetensorsPickleObject;

/* One storage of the checkpoint, shared by every object that names its
 * key. n_bytes = numel × the class's item size, checked. */
typedef struct
{
  char                  *key;
  SafetensorsTorchDType  dtype;      /* from the storage class */
  guint64                numel;
  guint64                n_bytes;
  char                  *location;
} SafetensorsPickleStorage;

/* A tensor as the rebuild function received it; nothing is checked yet
 * beyond the types, so that errors can name the tensor later. Offset and
 * strides count elements of @dtype. */
typedef struct
{
  SafetensorsPickleStorage *storage;
  SafetensorsTorchDType     dtype;
  gint64                    offset;
  guint                     n_dims;
  gint64                   *size;
  gint64                   *stride;
  gboolean                  quantized;
} SafetensorsPickleTensor;

struct _SafetensorsPickleObject
{
  SafetensorsPickleType type;
  union
  {
    gboolean boolean;
    gint64   integer;
    double   real;
    struct
    {
      char  *data;
      gsize  len;
    } str;
    struct
    {
      SafetensorsPickleObject **items;
      guint                     len;      /* items, so 2 × pairs for a dict */
      guint                     alloc;
      GHashTable               *index;    /* dict key / set element → position + 1 */
    } seq;
    const SafetensorsPickleGlobal *global;
    struct
    {
      double re;
      double im;
    } complex;
    SafetensorsPickleStorage *storage;
    SafetensorsPickleTensor  *tensor;
    struct
    {
      const SafetensorsPickleGlobal *cls;
      SafetensorsPickleObject       *state;   /* a DICT or NULL */
    } object;
  };
};

/* Persistent ids: ('storage', class, key, location, numel) in zip
 * archives; legacy files add a sixth item, the view metadata. */
typedef enum
{
  SAFETENSORS_PICKLE_PID_ZIP,
  SAFETENSORS_PICKLE_PID_LEGACY,
} SafetensorsPicklePidFormat;

typedef struct _SafetensorsPickle SafetensorsPickle;

SafetensorsPickle       *safetensors_pickle_new          (SafetensorsPicklePidFormat  pid_format);
void                     safetensors_pickle_free         (SafetensorsPickle          *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SafetensorsPickle, safetensors_pickle_free)

/* Runs the pickle in @data up to its STOP opcode and returns the object
 * it produced (owned by @self). *out_consumed (optional) is set to the
 * number of bytes up to and including STOP, so that consecutive pickles
 * can be read. Errors carry the byte offset of the failing opcode:
 * INVALID_DATA for a malformed pickle or an exceeded cap, UNSAFE_PICKLE
 * for a forbidden opcode or global (named "module.name"), UNSUPPORTED
 * for a protocol above 5. */
SafetensorsPickleObject *safetensors_pickle_load         (SafetensorsPickle          *self,
                                                          const guint8               *data,
                                                          gsize                       len,
                                                          gsize                      *out_consumed,
                                                          GError                    **error);

/* key → SafetensorsPickleStorage*, every storage the pickles referenced. */
GHashTable              *safetensors_pickle_get_storages (SafetensorsPickle          *self);

/* Dict helpers. */
guint                    safetensors_pickle_dict_size    (const SafetensorsPickleObject *dict);
SafetensorsPickleObject *safetensors_pickle_dict_lookup_string
                                                         (const SafetensorsPickleObject *dict,
                                                          const char                 *key);

/* "int", "str", "argparse.Namespace", "torch.float32"… for reports. */
const char              *safetensors_pickle_object_type_name (const SafetensorsPickleObject *object);

/* The name a dict key or sequence index contributes to a flattened
 * name: str as is, int in decimal, True/False/None as Python prints
 * them, anything else as its JSON text. */
char                    *safetensors_pickle_object_key_string (const SafetensorsPickleObject *object);

/* Appends @object as compact JSON. Dicts become objects (keys converted
 * like json.dumps does), tuples, lists and sets arrays, bytes a base64
 * string, complex numbers [real, imag], non-finite floats the strings
 * "NaN", "Infinity" and "-Infinity", dtypes and classes their dotted
 * name, devices their name, argparse.Namespace its attributes. Fails
 * with INVALID_DATA when the text would exceed @max_len bytes or the
 * structure nests deeper than SAFETENSORS_PICKLE_MAX_DEPTH or refers to
 * itself. */
gboolean                 safetensors_pickle_object_to_json (const SafetensorsPickleObject *object,
                                                           GString                    *out,
                                                           gsize                       max_len,
                                                           GError                    **error);

/* The arena. Its parts are shared by the VM and the object model. */
struct _SafetensorsPickle
{
  SafetensorsPicklePidFormat  pid_format;
  GPtrArray                  *objects;          /* every object, owned */
  GHashTable                 *storages;         /* key → SafetensorsPickleStorage*, owned */
  GHashTable                 *storage_objects;  /* key → its STORAGE object */
  guint64                     units;            /* objects + container slots so far */
};

/* Between the VM (safetensors-pickle.c) and the object model
 * (safetensors-pickle-object.c). Errors carry no position: the VM
 * prefixes the opcode's offset. */
SafetensorsPickleObject *safetensors_pickle_alloc        (SafetensorsPickle          *self,
                                                          SafetensorsPickleType       type,
                                                          GError                    **error);
SafetensorsPickleObject *safetensors_pickle_new_string   (SafetensorsPickle          *self,
                                                          SafetensorsPickleType       type,
                                                          const guint8               *data,
                                                          gsize                       len,
                                                          GError                    **error);
gboolean                 safetensors_pickle_append       (SafetensorsPickle          *self,
                                                          SafetensorsPickleObject    *seq,
                                                          SafetensorsPickleObject    *item,
                                                          GError                    **error);
gboolean                 safetensors_pickle_dict_set     (SafetensorsPickle          *self,
                                                          SafetensorsPickleObject    *dict,
                                                          SafetensorsPickleObject    *key,
                                                          SafetensorsPickleObject    *value,
                                                          GError                    **error);
gboolean                 safetensors_pickle_set_add      (SafetensorsPickle          *self,
                                                          SafetensorsPickleObject    *set,
                                                          SafetensorsPickleObject    *item,
                                                          GError                    **error);
/* NULL when (@module, @name) is not on the whitelist. Python 2 module
 * names (__builtin__) are mapped to their Python 3 names. */
const SafetensorsPickleGlobal *safetensors_pickle_find_global (const char            *module,
                                                               const char            *name);
SafetensorsPickleObject *safetensors_pickle_reduce       (SafetensorsPickle          *self,
                                                          SafetensorsPickleObject    *callable,
                                                          SafetensorsPickleObject    *args,
                                                          GError                    **error);
SafetensorsPickleObject *safetensors_pickle_newobj       (SafetensorsPickle          *self,
                                                          SafetensorsPickleObject    *cls,
                                                          SafetensorsPickleObject    *args,
                                                          SafetensorsPickleObject    *kwargs,
                                                          GError                    **error);
gboolean                 safetensors_pickle_build        (SafetensorsPickle          *self,
                                                          SafetensorsPickleObject    *instance,
                                                          SafetensorsPickleObject    *state,
                                                          GError                    **error);
SafetensorsPickleObject *safetensors_pickle_persistent_load (SafetensorsPickle       *self,
                                                          SafetensorsPickleObject    *pid,
                                                          GError                    **error);

G_END_DECLS
