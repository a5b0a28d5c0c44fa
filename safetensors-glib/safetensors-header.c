/* safetensors-header.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Reading a header means agreeing with the reference implementation on
 * every input: it deserializes the JSON with serde into
 *
 *   struct HashMetadata {
 *     #[serde(rename = "__metadata__")] metadata: Option<HashMap<String, String>>,
 *     #[serde(flatten)] tensors: HashMap<String, TensorInfo>,
 *   }
 *   struct TensorInfo { dtype: Dtype, shape: Vec<usize>, data_offsets: (usize, usize) }
 *
 * and then checks the offsets. The comments below point out where serde's
 * behaviour is not the obvious one. The only deliberate differences: a
 * repeated tensor name is an error here (the reference silently keeps the
 * last one), and shapes and the number of tensors are capped at
 * SAFETENSORS_HEADER_MAX_RANK and SAFETENSORS_HEADER_MAX_TENSORS. */

#include <string.h>

#include "safetensors-error.h"
#include "safetensors-hash-private.h"
#include "safetensors-header-private.h"
#include "safetensors-json-scanner-private.h"

G_STATIC_ASSERT (SAFETENSORS_JSON_MAX_DEPTH == SAFETENSORS_HEADER_MAX_DEPTH);

/* Messages quote names from the file; very long ones are cut. */
#define MAX_CHARS_IN_MESSAGE 200

/* ------------------------------------------------------------------ */
/* Boxed types                                                        */
/* ------------------------------------------------------------------ */

void
safetensors_tensor_info_free (SafetensorsTensorInfo *info)
{
  if (info == NULL)
    return;

  g_free (info->name);
  g_free (info->shape);
  g_free (info);
}

void
safetensors_header_free (SafetensorsHeader *header)
{
  if (header == NULL)
    return;

  g_clear_pointer (&header->tensors, g_ptr_array_unref);
  g_clear_pointer (&header->metadata, g_hash_table_unref);
  g_free (header);
}

/* ------------------------------------------------------------------ */
/* Parser state and errors                                            */
/* ------------------------------------------------------------------ */

typedef struct
{
  SafetensorsJsonScanner  scanner;
  const char             *display_name;
  /* SafetensorsTensorInfo*, in header order. */
  GPtrArray              *tensors;
  /* Set once an object was read for __metadata__. */
  GHashTable             *metadata;
  /* __metadata__ was seen, even as null: a second one is an error. */
  gboolean                has_metadata;
  /* The dtype of the previous tensor: headers tend to repeat one. */
  SafetensorsDType        last_dtype;
  /* Dimensions of the shape being read, before they are copied out. */
  guint64                 shape[SAFETENSORS_HEADER_MAX_RANK];
} HeaderParser;

static void
header_parser_init (HeaderParser *p,
                    const char   *display_name,
                    const guint8 *text,
                    gsize         len)
{
  safetensors_json_scanner_init (&p->scanner, display_name, text, len);
  p->display_name = display_name;
  p->tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) safetensors_tensor_info_free);
}

static void
header_parser_clear (HeaderParser *p)
{
  safetensors_json_scanner_clear (&p->scanner);
  g_clear_pointer (&p->tensors, g_ptr_array_unref);
  g_clear_pointer (&p->metadata, g_hash_table_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (HeaderParser, header_parser_clear)

char *
safetensors_header_shorten_name (const char *str)
{
  const char *cut = str;

  for (guint i = 0; i < MAX_CHARS_IN_MESSAGE && *cut != '\0'; i++)
    cut = g_utf8_next_char (cut);

  if (*cut == '\0')
    return g_strdup (str);

  return g_strdup_printf ("%.*s…", (int) (cut - str), str);
}

static gboolean header_error (HeaderParser  *p,
                              GError       **error,
                              const char    *format,
                              ...) G_GNUC_PRINTF (3, 4);

static gboolean
header_error (HeaderParser  *p,
              GError       **error,
              const char    *format,
              ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_JSON,
               "%s: %s", p->display_name, message);
  return FALSE;
}

static void set_tensor_error_valist (GError                      **error,
                                     SafetensorsError              code,
                                     const char                   *display_name,
                                     const SafetensorsTensorInfo  *info,
                                     const char                   *format,
                                     va_list                       args) G_GNUC_PRINTF (5, 0);

static void
set_tensor_error_valist (GError                      **error,
                         SafetensorsError              code,
                         const char                   *display_name,
                         const SafetensorsTensorInfo  *info,
                         const char                   *format,
                         va_list                       args)
{
  g_autofree char *name = safetensors_header_shorten_name (info->name);
  g_autofree char *message = g_strdup_vprintf (format, args);

  g_set_error (error, SAFETENSORS_ERROR, code,
               "%s: tensor “%s”: %s", display_name, name, message);
}

static gboolean tensor_error (HeaderParser                 *p,
                              const SafetensorsTensorInfo  *info,
                              GError                      **error,
                              const char                   *format,
                              ...) G_GNUC_PRINTF (4, 5);

/* A schema error in the entry of @info. */
static gboolean
tensor_error (HeaderParser                 *p,
              const SafetensorsTensorInfo  *info,
              GError                      **error,
              const char                   *format,
              ...)
{
  va_list args;

  va_start (args, format);
  set_tensor_error_valist (error, SAFETENSORS_ERROR_INVALID_JSON, p->display_name, info, format, args);
  va_end (args);

  return FALSE;
}

/* Reports that the value at the cursor has the wrong type, in the entry of
 * @info or, without one, in the header. The reference reads each value
 * whole before looking at its type, so a syntax error inside it is what
 * it reports: look for one first, the message is more useful too. */
static gboolean
wrong_type (HeaderParser                 *p,
            const SafetensorsTensorInfo  *info,
            GError                      **error,
            const char                   *complaint)
{
  if (!safetensors_json_scanner_skip_value (&p->scanner, error))
    return FALSE;

  if (info != NULL)
    return tensor_error (p, info, error, "%s", complaint);
  return header_error (p, error, "%s", complaint);
}

static gboolean
key_is (const char *key,
        gsize       key_len,
        const char *expected)
{
  return key_len == strlen (expected) && memcmp (key, expected, key_len) == 0;
}

/* ------------------------------------------------------------------ */
/* Tensor entries                                                     */
/* ------------------------------------------------------------------ */

/* A usize for serde: an unsigned integer that fits u64. "1.0", "1e2",
 * "-0" and 18446744073709551616 are floats or negative to serde_json. */
static gboolean
parse_u64 (HeaderParser           *p,
           SafetensorsTensorInfo  *info,
           const char             *complaint,
           guint64                *out,
           GError                **error)
{
  int c = safetensors_json_scanner_peek (&p->scanner);
  gboolean is_u64;

  if (c != '-' && (c < '0' || c > '9'))
    return wrong_type (p, info, error, complaint);

  if (!safetensors_json_scanner_read_number (&p->scanner, out, &is_u64, error))
    return FALSE;
  if (!is_u64)
    return tensor_error (p, info, error, "%s", complaint);

  return TRUE;
}

static gboolean
lookup_dtype (HeaderParser           *p,
              SafetensorsTensorInfo  *info,
              const char             *str,
              gsize                   len,
              GError                **error)
{
  g_autofree char *copy = NULL;
  g_autofree char *shown = NULL;
  char name[16];

  if (key_is (str, len, safetensors_dtype_to_string (p->last_dtype)))
    {
      info->dtype = p->last_dtype;
      return TRUE;
    }

  /* "F32\u0000" is not "F32". */
  if (len < sizeof name && memchr (str, '\0', len) == NULL)
    {
      memcpy (name, str, len);
      name[len] = '\0';
      if (safetensors_dtype_from_string (name, &info->dtype))
        {
          p->last_dtype = info->dtype;
          return TRUE;
        }
    }

  copy = g_strndup (str, len);
  shown = safetensors_header_shorten_name (copy);
  return tensor_error (p, info, error, "unknown dtype “%s”", shown);
}

static gboolean
parse_dtype (HeaderParser           *p,
             SafetensorsTensorInfo  *info,
             GError                **error)
{
  static const char complaint[] = "dtype must be a string";
  SafetensorsJsonScanner *s = &p->scanner;
  SafetensorsJsonNext next;
  gboolean first = TRUE;
  const char *str;
  gsize len;
  int c = safetensors_json_scanner_peek (s);

  if (c == '"')
    return safetensors_json_scanner_read_string (s, &str, &len, error) &&
           lookup_dtype (p, info, str, len, error);

  if (c != '{')
    return wrong_type (p, info, error, complaint);

  /* serde also takes an enum in its externally tagged spelling, a map
   * whose single key is the variant and whose value is unit:
   * {"F32": null}. */
  if (!safetensors_json_scanner_enter (s, error))
    return FALSE;

  next = safetensors_json_scanner_next_member (s, &first, &str, &len, error);
  if (next == SAFETENSORS_JSON_NEXT_ERROR)
    return FALSE;
  if (next == SAFETENSORS_JSON_NEXT_END)
    return tensor_error (p, info, error, "%s", complaint);

  if (!lookup_dtype (p, info, str, len, error))
    return FALSE;

  if (safetensors_json_scanner_peek (s) != 'n')
    return wrong_type (p, info, error, complaint);
  if (!safetensors_json_scanner_read_literal (s, "null", error))
    return FALSE;

  next = safetensors_json_scanner_next_member (s, &first, NULL, NULL, error);
  if (next == SAFETENSORS_JSON_NEXT_ERROR)
    return FALSE;
  if (next == SAFETENSORS_JSON_NEXT_ITEM)
    return tensor_error (p, info, error, "%s", complaint);

  return TRUE;
}

static gboolean
parse_shape (HeaderParser           *p,
             SafetensorsTensorInfo  *info,
             GError                **error)
{
  static const char complaint[] = "shape must be an array of non-negative integers";
  SafetensorsJsonScanner *s = &p->scanner;
  SafetensorsJsonNext next;
  gboolean first = TRUE;
  guint n_dims = 0;

  g_assert (info->shape == NULL);

  if (safetensors_json_scanner_peek (s) != '[')
    return wrong_type (p, info, error, complaint);

  if (!safetensors_json_scanner_enter (s, error))
    return FALSE;

  while ((next = safetensors_json_scanner_next_element (s, &first, error)) == SAFETENSORS_JSON_NEXT_ITEM)
    {
      if (n_dims == SAFETENSORS_HEADER_MAX_RANK)
        return tensor_error (p, info, error,
                             "shape has more than %u dimensions, the limit of this library",
                             SAFETENSORS_HEADER_MAX_RANK);

      if (!parse_u64 (p, info, complaint, &p->shape[n_dims], error))
        return FALSE;
      n_dims++;
    }

  if (next == SAFETENSORS_JSON_NEXT_ERROR)
    return FALSE;

  info->n_dims = n_dims;
  if (n_dims > 0)
    info->shape = g_memdup2 (p->shape, n_dims * sizeof (guint64));

  return TRUE;
}

static gboolean
parse_data_offsets (HeaderParser           *p,
                    SafetensorsTensorInfo  *info,
                    GError                **error)
{
  static const char complaint[] = "data_offsets must be an array of two non-negative integers";
  SafetensorsJsonScanner *s = &p->scanner;
  SafetensorsJsonNext next;
  gboolean first = TRUE;
  guint64 offsets[2];
  guint n_offsets = 0;

  if (safetensors_json_scanner_peek (s) != '[')
    return wrong_type (p, info, error, complaint);

  if (!safetensors_json_scanner_enter (s, error))
    return FALSE;

  while ((next = safetensors_json_scanner_next_element (s, &first, error)) == SAFETENSORS_JSON_NEXT_ITEM)
    {
      if (n_offsets == G_N_ELEMENTS (offsets))
        return tensor_error (p, info, error, "%s", complaint);
      if (!parse_u64 (p, info, complaint, &offsets[n_offsets], error))
        return FALSE;
      n_offsets++;
    }

  if (next == SAFETENSORS_JSON_NEXT_ERROR)
    return FALSE;
  if (n_offsets != G_N_ELEMENTS (offsets))
    return tensor_error (p, info, error, "%s", complaint);

  info->begin = offsets[0];
  info->end = offsets[1];
  return TRUE;
}

typedef gboolean (*FieldParser) (HeaderParser           *p,
                                 SafetensorsTensorInfo  *info,
                                 GError                **error);

/* In declaration order, which matters for the array form. */
static const struct {
  const char  *name;
  FieldParser  parse;
} tensor_fields[] = {
  { "dtype", parse_dtype },
  { "shape", parse_shape },
  { "data_offsets", parse_data_offsets },
};

static gboolean
parse_entry_object (HeaderParser           *p,
                    SafetensorsTensorInfo  *info,
                    GError                **error)
{
  SafetensorsJsonScanner *s = &p->scanner;
  SafetensorsJsonNext next;
  gboolean seen[G_N_ELEMENTS (tensor_fields)] = { FALSE, };
  gboolean first = TRUE;
  const char *key;
  gsize key_len;

  if (!safetensors_json_scanner_enter (s, error))
    return FALSE;

  while ((next = safetensors_json_scanner_next_member (s, &first, &key, &key_len, error)) == SAFETENSORS_JSON_NEXT_ITEM)
    {
      guint i;

      for (i = 0; i < G_N_ELEMENTS (tensor_fields); i++)
        if (key_is (key, key_len, tensor_fields[i].name))
          break;

      /* Unknown fields are ignored, but still have to be valid JSON. */
      if (i == G_N_ELEMENTS (tensor_fields))
        {
          if (!safetensors_json_scanner_skip_value (s, error))
            return FALSE;
          continue;
        }

      /* serde's derived Deserialize rejects a repeated field. */
      if (seen[i])
        return tensor_error (p, info, error, "field “%s” appears twice", tensor_fields[i].name);
      seen[i] = TRUE;

      if (!tensor_fields[i].parse (p, info, error))
        return FALSE;
    }

  if (next == SAFETENSORS_JSON_NEXT_ERROR)
    return FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (tensor_fields); i++)
    if (!seen[i])
      return tensor_error (p, info, error, "missing field “%s”", tensor_fields[i].name);

  return TRUE;
}

/* serde's derived Deserialize also accepts a struct written as an array of
 * its fields in order, so the reference reads ["F32", [2], [0, 8]]. */
static gboolean
parse_entry_array (HeaderParser           *p,
                   SafetensorsTensorInfo  *info,
                   GError                **error)
{
  static const char complaint[] =
    "an entry written as an array must have exactly three elements: dtype, shape, data_offsets";
  SafetensorsJsonScanner *s = &p->scanner;
  SafetensorsJsonNext next;
  gboolean first = TRUE;

  if (!safetensors_json_scanner_enter (s, error))
    return FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (tensor_fields); i++)
    {
      next = safetensors_json_scanner_next_element (s, &first, error);
      if (next == SAFETENSORS_JSON_NEXT_ERROR)
        return FALSE;
      if (next == SAFETENSORS_JSON_NEXT_END)
        return tensor_error (p, info, error, "%s", complaint);

      if (!tensor_fields[i].parse (p, info, error))
        return FALSE;
    }

  next = safetensors_json_scanner_next_element (s, &first, error);
  if (next == SAFETENSORS_JSON_NEXT_ERROR)
    return FALSE;
  if (next == SAFETENSORS_JSON_NEXT_ITEM)
    return tensor_error (p, info, error, "%s", complaint);

  return TRUE;
}

static gboolean
parse_tensor (HeaderParser  *p,
              const char    *name,
              gsize          name_len,
              GError       **error)
{
  g_autoptr(SafetensorsTensorInfo) info = NULL;
  int c;

  /* Not a check of the reference, which reads any number of tensors; an
   * INVALID_JSON like the rank cap, so that the verdict on a header the
   * reference rejects as JSON does not change. */
  if (p->tensors->len == SAFETENSORS_HEADER_MAX_TENSORS)
    return header_error (p, error, "the header has more than %u tensors, the limit of this library",
                         SAFETENSORS_HEADER_MAX_TENSORS);

  info = g_new0 (SafetensorsTensorInfo, 1);

  /* Copied now: reading the entry reuses the buffer @name may live in. */
  info->name = g_malloc (name_len + 1);
  memcpy (info->name, name, name_len);
  info->name[name_len] = '\0';
  info->name_len = name_len;

  c = safetensors_json_scanner_peek (&p->scanner);
  if (c == '{')
    {
      if (!parse_entry_object (p, info, error))
        return FALSE;
    }
  else if (c == '[')
    {
      if (!parse_entry_array (p, info, error))
        return FALSE;
    }
  else
    return wrong_type (p, info, error, "entry must be an object with dtype, shape and data_offsets");

  g_ptr_array_add (p->tensors, g_steal_pointer (&info));
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Metadata and the document                                          */
/* ------------------------------------------------------------------ */

static gboolean
parse_metadata (HeaderParser  *p,
                GError       **error)
{
  static const char complaint[] = "__metadata__ must be null or an object of strings";
  SafetensorsJsonScanner *s = &p->scanner;
  g_autoptr(GHashTable) metadata = NULL;
  SafetensorsJsonNext next;
  gboolean first = TRUE;
  const char *key;
  gsize key_len;
  int c;

  /* serde rejects a repeated field, even for the flattened struct. */
  if (p->has_metadata)
    return header_error (p, error, "__metadata__ appears twice");
  p->has_metadata = TRUE;

  c = safetensors_json_scanner_peek (s);
  if (c == 'n')
    return safetensors_json_scanner_read_literal (s, "null", error);

  if (c != '{')
    return wrong_type (p, NULL, error, complaint);

  if (!safetensors_json_scanner_enter (s, error))
    return FALSE;

  metadata = g_hash_table_new_full (safetensors_str_hash, g_str_equal, g_free, g_free);

  while ((next = safetensors_json_scanner_next_member (s, &first, &key, &key_len, error)) == SAFETENSORS_JSON_NEXT_ITEM)
    {
      /* Keys and values are C strings: anything after a \u0000 is cut. */
      g_autofree char *name = g_strndup (key, key_len);
      const char *value;
      gsize value_len;

      if (safetensors_json_scanner_peek (s) != '"')
        {
          g_autofree char *shown = safetensors_header_shorten_name (name);
          g_autofree char *value_complaint =
            g_strdup_printf ("__metadata__ value of “%s” must be a string", shown);

          return wrong_type (p, NULL, error, value_complaint);
        }

      if (!safetensors_json_scanner_read_string (s, &value, &value_len, error))
        return FALSE;

      /* Like the reference's HashMap, the last of repeated keys wins. */
      g_hash_table_insert (metadata, g_steal_pointer (&name), g_strndup (value, value_len));
    }

  if (next == SAFETENSORS_JSON_NEXT_ERROR)
    return FALSE;

  p->metadata = g_steal_pointer (&metadata);
  return TRUE;
}

static gboolean
parse_document (HeaderParser  *p,
                GError       **error)
{
  SafetensorsJsonScanner *s = &p->scanner;
  SafetensorsJsonNext next;
  gboolean first = TRUE;
  const char *key;
  gsize key_len;
  int c = safetensors_json_scanner_peek (s);

  if (c < 0)
    return safetensors_json_scanner_error (s, error, "unexpected end of input, expected an object");

  if (c != '{')
    return wrong_type (p, NULL, error, "the header must be a JSON object");

  if (!safetensors_json_scanner_enter (s, error))
    return FALSE;

  while ((next = safetensors_json_scanner_next_member (s, &first, &key, &key_len, error)) == SAFETENSORS_JSON_NEXT_ITEM)
    {
      /* Matched after unescaping, as serde does: "\u005f_metadata__" is
       * __metadata__ too. */
      if (key_is (key, key_len, "__metadata__"))
        {
          if (!parse_metadata (p, error))
            return FALSE;
        }
      else if (!parse_tensor (p, key, key_len, error))
        return FALSE;
    }

  if (next == SAFETENSORS_JSON_NEXT_ERROR)
    return FALSE;

  return safetensors_json_scanner_finish (s, error);
}

/* ------------------------------------------------------------------ */
/* Checks after parsing                                               */
/* ------------------------------------------------------------------ */

/* Tensor names are compared on all their bytes: "a\u0000b" and
 * "a\u0000c" are different names. */
static guint
tensor_name_hash (gconstpointer key)
{
  const SafetensorsTensorInfo *info = key;

  return safetensors_hash_bytes (info->name, info->name_len);
}

static gboolean
tensor_name_equal (gconstpointer a,
                   gconstpointer b)
{
  const SafetensorsTensorInfo *info_a = a;
  const SafetensorsTensorInfo *info_b = b;

  return info_a->name_len == info_b->name_len &&
         memcmp (info_a->name, info_b->name, info_a->name_len) == 0;
}

static gboolean
check_duplicate_names (HeaderParser  *p,
                       GError       **error)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (tensor_name_hash, tensor_name_equal);

  for (guint i = 0; i < p->tensors->len; i++)
    {
      SafetensorsTensorInfo *info = g_ptr_array_index (p->tensors, i);

      if (!g_hash_table_add (seen, info))
        {
          g_autofree char *name = safetensors_header_shorten_name (info->name);

          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_DUPLICATE_NAME,
                       "%s: tensor name “%s” appears twice", p->display_name, name);
          return FALSE;
        }
    }

  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                       */
/* ------------------------------------------------------------------ */

SafetensorsHeader *
safetensors_header_parse (const char    *display_name,
                          const guint8  *text,
                          gsize          len,
                          GError       **error)
{
  g_auto(HeaderParser) parser = { 0, };
  g_autoptr(SafetensorsHeader) header = NULL;
  gsize bad_offset = 0;

  g_assert (display_name != NULL);
  g_assert (text != NULL || len == 0);
  g_assert (error == NULL || *error == NULL);

  /* NULL with length 0 is allowed; pointer arithmetic on NULL is not. */
  if (len == 0)
    text = (const guint8 *) "";

  if (!safetensors_header_validate_utf8 (text, len, &bad_offset))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_HEADER,
                   "%s: header is not valid UTF-8 (at byte %" G_GSIZE_FORMAT ")",
                   display_name, bad_offset);
      return NULL;
    }

  header_parser_init (&parser, display_name, text, len);

  /* A repeated name is only reported for a header that is valid JSON:
   * the reference would have failed on the JSON first. */
  if (!parse_document (&parser, error) ||
      !check_duplicate_names (&parser, error))
    return NULL;

  header = g_new0 (SafetensorsHeader, 1);
  header->tensors = g_steal_pointer (&parser.tensors);
  header->metadata = g_steal_pointer (&parser.metadata);

  if (!safetensors_header_validate_tensors (display_name, header, error))
    return NULL;

  return g_steal_pointer (&header);
}

gboolean
safetensors_header_check_prefix (const char    *display_name,
                                 const guint8  *prefix,
                                 guint64        file_size,
                                 guint64       *out_header_len,
                                 GError       **error)
{
  guint64 header_len;

  g_assert (display_name != NULL);
  g_assert (out_header_len != NULL);
  g_assert (error == NULL || *error == NULL);

  if (file_size < 8)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_HEADER_TOO_SMALL,
                   "%s: file is %" G_GUINT64_FORMAT " bytes long, too short for "
                   "the 8-byte header length", display_name, file_size);
      return FALSE;
    }

  g_assert (prefix != NULL);
  memcpy (&header_len, prefix, sizeof header_len);
  header_len = GUINT64_FROM_LE (header_len);

  /* Before the comparison with the file size, as in the reference. */
  if (header_len > SAFETENSORS_HEADER_MAX_SIZE)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_HEADER_TOO_LARGE,
                   "%s: header length %" G_GUINT64_FORMAT " exceeds the limit of %"
                   G_GUINT64_FORMAT " bytes", display_name, header_len,
                   SAFETENSORS_HEADER_MAX_SIZE);
      return FALSE;
    }

  /* 8 + header_len > file_size, without overflow. */
  if (header_len > file_size - 8)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_HEADER_LENGTH,
                   "%s: header length %" G_GUINT64_FORMAT " goes past the end of the "
                   "file (%" G_GUINT64_FORMAT " bytes)", display_name, header_len, file_size);
      return FALSE;
    }

  *out_header_len = header_len;
  return TRUE;
}
