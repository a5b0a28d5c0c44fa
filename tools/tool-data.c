/* tool-data.c — reading tensor values: checksum, dump, diff
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tool-data-private.h"

/* Tensors are read in pieces of this size, so memory stays bounded when
 * the file is not mapped. */
#define READ_CHUNK_SIZE (4 * 1024 * 1024)

/* ------------------------------------------------------------------ */
/* checksum                                                           */
/* ------------------------------------------------------------------ */

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The names of @file's tensors, sorted bytewise. */
static char **
sorted_tensor_names (SafetensorsFile *file)
{
  char **names = safetensors_file_get_tensor_names (file);

  qsort (names, g_strv_length (names), sizeof (char *), compare_strings);
  return names;
}

/* A .safetensors file, or the index of a sharded checkpoint read as the
 * file merging its shards would be: the same tensors and metadata. */
typedef struct
{
  SafetensorsFile  *file;
  SafetensorsIndex *index;
  GHashTable       *metadata;   /* of an index, when asked for */
} Checkpoint;

static void
checkpoint_clear (Checkpoint *self)
{
  g_clear_object (&self->file);
  g_clear_object (&self->index);
  g_clear_pointer (&self->metadata, g_hash_table_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Checkpoint, checkpoint_clear)

static gboolean
checkpoint_open (Checkpoint  *self,
                 const char  *arg,
                 gboolean     no_mmap,
                 gboolean     with_metadata,
                 GError     **error)
{
  if (!tool_arg_is_index (arg))
    {
      self->file = tool_open_file (arg, no_mmap, error);
      return self->file != NULL;
    }

  self->index = tool_open_index (arg, error);
  if (self->index == NULL)
    return FALSE;
  if (with_metadata)
    self->metadata = tool_index_get_metadata (self->index, error);

  return !with_metadata || self->metadata != NULL;
}

/* Sorted bytewise. */
static char **
checkpoint_get_tensor_names (Checkpoint *self)
{
  if (self->index != NULL)
    return safetensors_index_get_tensor_names (self->index);

  return sorted_tensor_names (self->file);
}

static SafetensorsTensor *
checkpoint_lookup (Checkpoint  *self,
                   const char  *name,
                   GError     **error)
{
  if (self->index != NULL)
    return safetensors_index_lookup (self->index, name, error);

  return safetensors_file_lookup (self->file, name, error);
}

/* Sorted bytewise. */
static char **
checkpoint_get_metadata_keys (Checkpoint *self)
{
  char **keys;

  if (self->index == NULL)
    return safetensors_file_get_metadata_keys (self->file);

  keys = (char **) g_hash_table_get_keys_as_array (self->metadata, NULL);
  for (guint i = 0; keys[i] != NULL; i++)
    keys[i] = g_strdup (keys[i]);
  qsort (keys, g_strv_length (keys), sizeof (char *), compare_strings);
  return keys;
}

static const char *
checkpoint_get_metadata_value (Checkpoint *self,
                               const char *key)
{
  if (self->index == NULL)
    return safetensors_file_get_metadata_value (self->file, key);

  return g_hash_table_lookup (self->metadata, key);
}

static char *
tensor_sha256 (SafetensorsTensor  *tensor,
               GError            **error)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  guint64 n_bytes = safetensors_tensor_get_n_bytes (tensor);

  for (guint64 offset = 0; offset < n_bytes; offset += READ_CHUNK_SIZE)
    {
      guint64 length = MIN (READ_CHUNK_SIZE, n_bytes - offset);
      g_autoptr(GBytes) chunk = safetensors_tensor_read_range (tensor, offset, length, NULL, error);
      gsize size = 0;
      const guint8 *data;

      if (chunk == NULL)
        return NULL;
      data = g_bytes_get_data (chunk, &size);
      g_checksum_update (checksum, data, size);
    }

  return g_strdup (g_checksum_get_string (checksum));
}

static int
command_checksum (const ToolCommand  *command,
                  int                 argc,
                  char              **argv)
{
  gboolean json = FALSE;
  gboolean no_mmap = FALSE;
  const GOptionEntry entries[] = {
    TOOL_OPTION_JSON (&json),
    TOOL_OPTION_NO_MMAP (&no_mmap),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_auto(GStrv) names = NULL;
  g_auto(Checkpoint) checkpoint = { 0 };
  g_autoptr(GString) out = NULL;
  GError *error = NULL;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  /* Digests of contents only: an index gives those of the merged file. */
  if (!checkpoint_open (&checkpoint, args[0], no_mmap, FALSE, &error))
    return tool_fail_with_error_json (args[0], error, json);

  names = checkpoint_get_tensor_names (&checkpoint);
  out = g_string_new (json ? "[" : NULL);
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autoptr(SafetensorsTensor) tensor = checkpoint_lookup (&checkpoint, names[i], &error);
      g_autofree char *digest = NULL;

      if (tensor != NULL)
        digest = tensor_sha256 (tensor, &error);
      if (digest == NULL)
        return tool_fail_with_error_json (args[0], error, json);

      if (json)
        {
          g_string_append (out, i > 0 ? ",\n  {" : "\n  {");
          tool_json_append_member (out, "name");
          tool_json_append_string (out, names[i]);
          g_string_append_c (out, ',');
          tool_json_append_member (out, "sha256");
          tool_json_append_string (out, digest);
          g_string_append_c (out, '}');
        }
      else
        {
          g_string_append_printf (out, "%s  ", digest);
          tool_append_display_name (out, names[i], FALSE);
          g_string_append_c (out, '\n');
        }
    }
  if (json)
    g_string_append (out, names[0] != NULL ? "\n]\n" : "]\n");
  tool_write_stdout (out);

  return TOOL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* dump                                                               */
/* ------------------------------------------------------------------ */

static int
command_dump (const ToolCommand  *command,
              int                 argc,
              char              **argv)
{
  gboolean json = FALSE;
  gboolean full = FALSE;
  gboolean no_mmap = FALSE;
  g_autofree char *slice_text = NULL;
  const GOptionEntry entries[] = {
    { "slice", 's', 0, G_OPTION_ARG_STRING, &slice_text,
      "Print only a NumPy basic slice of the tensor", "EXPR" },
    { "full", 0, 0, G_OPTION_ARG_NONE, &full,
      "Print every element, even of a large tensor", NULL },
    TOOL_OPTION_JSON (&json),
    TOOL_OPTION_NO_MMAP (&no_mmap),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_auto(Checkpoint) checkpoint = { 0 };
  g_autoptr(SafetensorsTensor) tensor = NULL;
  g_autoptr(SafetensorsSlice) slice = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree guint64 *slice_shape = NULL;
  g_autoptr(GString) out = NULL;
  SafetensorsDType dtype;
  const guint64 *shape;
  const guint8 *data;
  guint n_dims = 0;
  guint64 n_elements = 1;
  GError *error = NULL;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;

  if (slice_text != NULL)
    {
      slice = safetensors_slice_parse (slice_text, &error);
      if (slice == NULL)
        {
          g_printerr ("%s: --slice: %s\n", g_get_prgname (), error->message);
          g_error_free (error);
          return TOOL_EXIT_USAGE;
        }
    }

  if (!checkpoint_open (&checkpoint, args[0], no_mmap, FALSE, &error))
    return tool_fail_with_error_json (args[0], error, json);

  tensor = checkpoint_lookup (&checkpoint, args[1], &error);
  if (tensor == NULL)
    return tool_fail_with_error_json (args[0], error, json);

  dtype = safetensors_tensor_get_dtype (tensor);
  if (slice != NULL)
    {
      bytes = safetensors_tensor_read_slice (tensor, slice, &slice_shape, &n_dims, NULL, &error);
      shape = slice_shape;
    }
  else
    {
      bytes = safetensors_tensor_get_bytes (tensor, NULL, &error);
      shape = safetensors_tensor_get_shape (tensor, &n_dims);
    }
  if (bytes == NULL)
    return tool_fail_with_error_json (args[0], error, json);

  data = g_bytes_get_data (bytes, NULL);
  for (guint i = 0; i < n_dims; i++)
    n_elements *= shape[i];

  out = g_string_new (NULL);
  if (json)
    {
      g_string_append_c (out, '{');
      tool_json_append_member (out, "name");
      tool_json_append_string (out, args[1]);
      g_string_append_c (out, ',');
      tool_json_append_member (out, "dtype");
      tool_json_append_string (out, safetensors_dtype_to_string (dtype));
      g_string_append_c (out, ',');
      tool_json_append_member (out, "shape");
      g_string_append_c (out, '[');
      for (guint i = 0; i < n_dims; i++)
        g_string_append_printf (out, "%s%" G_GUINT64_FORMAT, i > 0 ? "," : "", shape[i]);
      g_string_append (out, "],");
      tool_json_append_member (out, "values");
      tool_data_append_json (out, dtype, data, shape, n_dims, 0);
      g_string_append (out, "}\n");
    }
  else if (n_elements == 0)
    {
      g_string_append (out, "[]\n");
    }
  else
    {
      tool_data_append_text (out, dtype, data, shape, n_dims, n_elements, full);
      /* A scalar prints without the padding an array column gets. */
      if (n_dims == 0)
        {
          g_strstrip (out->str);
          g_string_set_size (out, strlen (out->str));
          g_string_append_c (out, '\n');
        }
    }
  tool_write_stdout (out);

  return TOOL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* diff                                                               */
/* ------------------------------------------------------------------ */

typedef struct
{
  double   atol;
  double   rtol;
  gboolean tolerant;   /* --atol or --rtol given */
} Tolerance;

/* How the data of two tensors of the same dtype and shape differ. */
typedef struct
{
  guint64 n_different;
  double  max_abs_diff;   /* float dtypes: largest finite |a - b|, per component for C64 */
} DataDiff;

static gboolean
floats_match (double           a,
              double           b,
              const Tolerance *tolerance)
{
  if (isnan (a) || isnan (b))
    return isnan (a) && isnan (b);
  if (isinf (a) || isinf (b))
    return a == b;
  return fabs (a - b) <= tolerance->atol + tolerance->rtol * fabs (b);
}

static gboolean
elements_match (SafetensorsDType  dtype,
                const guint8     *a,
                const guint8     *b,
                guint64           index,
                const Tolerance  *tolerance,
                DataDiff         *diff)
{
  guint bits = safetensors_dtype_get_bits (dtype);

  if (tool_data_dtype_is_float (dtype))
    {
      double im_a = 0, im_b = 0;
      double re_a = tool_data_read_float (dtype, a, index, &im_a);
      double re_b = tool_data_read_float (dtype, b, index, &im_b);
      double distance = MAX (fabs (re_a - re_b), fabs (im_a - im_b));

      if (isfinite (distance))
        diff->max_abs_diff = MAX (diff->max_abs_diff, distance);

      if (tolerance->tolerant)
        return floats_match (re_a, re_b, tolerance) && floats_match (im_a, im_b, tolerance);
    }

  if (bits < 8)
    return tool_data_read_code (a, bits, index) == tool_data_read_code (b, bits, index);
  return memcmp (a + index * (bits / 8), b + index * (bits / 8), bits / 8) == 0;
}

/* On error, @failed is the argument of the file that could not be read. */
static gboolean
compare_data (SafetensorsTensor  *a,
              SafetensorsTensor  *b,
              const char * const  args[2],
              const Tolerance    *tolerance,
              DataDiff           *diff,
              const char        **failed,
              GError            **error)
{
  g_autoptr(GBytes) bytes_a = NULL;
  g_autoptr(GBytes) bytes_b = NULL;
  SafetensorsDType dtype = safetensors_tensor_get_dtype (a);
  guint64 n_elements = safetensors_tensor_get_n_elements (a);
  const guint8 *data_a, *data_b;

  bytes_a = safetensors_tensor_get_bytes (a, NULL, error);
  if (bytes_a == NULL)
    {
      *failed = args[0];
      return FALSE;
    }
  bytes_b = safetensors_tensor_get_bytes (b, NULL, error);
  if (bytes_b == NULL)
    {
      *failed = args[1];
      return FALSE;
    }

  /* Equal bytes are equal values, whatever the tolerance. */
  if (g_bytes_equal (bytes_a, bytes_b))
    return TRUE;

  data_a = g_bytes_get_data (bytes_a, NULL);
  data_b = g_bytes_get_data (bytes_b, NULL);
  for (guint64 i = 0; i < n_elements; i++)
    if (!elements_match (dtype, data_a, data_b, i, tolerance, diff))
      diff->n_different++;

  return TRUE;
}

static gboolean
shapes_equal (SafetensorsTensor *a,
              SafetensorsTensor *b)
{
  guint n_a = 0, n_b = 0;
  const guint64 *shape_a = safetensors_tensor_get_shape (a, &n_a);
  const guint64 *shape_b = safetensors_tensor_get_shape (b, &n_b);

  return n_a == n_b && (n_a == 0 || memcmp (shape_a, shape_b, n_a * sizeof (guint64)) == 0);
}

/* The report in both forms at once: a text line and a JSON object per
 * difference. */
typedef struct
{
  GString  *text;
  GString  *json;
  gboolean  first;
  guint     n_differences;
} DiffReport;

/* Starts the line “PREFIXCHANGE NAME” and the object {"MEMBER": NAME,
 * "change": CHANGE}. */
static void
report_begin (DiffReport *report,
              const char *text_prefix,
              const char *member,
              const char *name,
              const char *change)
{
  report->n_differences++;

  g_string_append_printf (report->text, "%s%s ", text_prefix, change);
  tool_append_display_name (report->text, name, FALSE);

  g_string_append (report->json, report->first ? "\n    {" : ",\n    {");
  report->first = FALSE;
  tool_json_append_member (report->json, member);
  tool_json_append_string (report->json, name);
  g_string_append_c (report->json, ',');
  tool_json_append_member (report->json, "change");
  tool_json_append_string (report->json, change);
}

static void
report_end (DiffReport *report)
{
  g_string_append_c (report->text, '\n');
  g_string_append_c (report->json, '}');
}

static void
report_pair (DiffReport *report,
             const char *member,
             const char *a,
             const char *b,
             gboolean    json_raw)
{
  g_string_append_printf (report->text, ": %s %s -> %s", member, a, b);

  g_string_append_c (report->json, ',');
  tool_json_append_member (report->json, member);
  g_string_append_c (report->json, '[');
  if (json_raw)
    g_string_append_printf (report->json, "%s,%s", a, b);
  else
    {
      tool_json_append_string (report->json, a);
      g_string_append_c (report->json, ',');
      tool_json_append_string (report->json, b);
    }
  g_string_append_c (report->json, ']');
}

static char *
shape_string (SafetensorsTensor *tensor,
              const char        *separator)
{
  GString *text = g_string_new (NULL);

  tool_append_shape (text, tensor, separator);
  return g_string_free (text, FALSE);
}

static void
report_data_diff (DiffReport        *report,
                  SafetensorsTensor *a,
                  const DataDiff    *data_diff)
{
  guint64 n_elements = safetensors_tensor_get_n_elements (a);

  report_begin (report, "", "name", safetensors_tensor_get_name (a), "changed");
  g_string_append_printf (report->text, ": %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                          " elements differ", data_diff->n_different, n_elements);
  g_string_append_c (report->json, ',');
  tool_json_append_member (report->json, "n_different");
  tool_json_append_uint64 (report->json, data_diff->n_different);
  g_string_append_c (report->json, ',');
  tool_json_append_member (report->json, "n_elements");
  tool_json_append_uint64 (report->json, n_elements);

  if (tool_data_dtype_is_float (safetensors_tensor_get_dtype (a)))
    {
      char buffer[G_ASCII_DTOSTR_BUF_SIZE];

      g_ascii_formatd (buffer, sizeof buffer, "%.9g", data_diff->max_abs_diff);
      g_string_append_printf (report->text, " (max abs diff %s)", buffer);
      /* Finite, and in full: 17 digits read back as the same double. */
      g_ascii_formatd (buffer, sizeof buffer, "%.17g", data_diff->max_abs_diff);
      g_string_append_c (report->json, ',');
      tool_json_append_member (report->json, "max_abs_diff");
      g_string_append (report->json, buffer);
    }
  report_end (report);
}

static gboolean
diff_tensors (DiffReport        *report,
              Checkpoint        *checkpoint_a,
              Checkpoint        *checkpoint_b,
              const char * const args[2],
              const Tolerance   *tolerance,
              const char       **failed,
              GError           **error)
{
  g_auto(GStrv) names_a = checkpoint_get_tensor_names (checkpoint_a);
  g_auto(GStrv) names_b = checkpoint_get_tensor_names (checkpoint_b);
  guint i = 0, j = 0;

  while (names_a[i] != NULL || names_b[j] != NULL)
    {
      int order = names_a[i] == NULL ? 1 : names_b[j] == NULL ? -1 : strcmp (names_a[i], names_b[j]);
      g_autoptr(SafetensorsTensor) a = NULL;
      g_autoptr(SafetensorsTensor) b = NULL;
      SafetensorsDType dtype_a, dtype_b;
      DataDiff data_diff = { 0, 0 };

      if (order < 0)
        {
          report_begin (report, "", "name", names_a[i++], "removed");
          report_end (report);
          continue;
        }
      if (order > 0)
        {
          report_begin (report, "", "name", names_b[j++], "added");
          report_end (report);
          continue;
        }

      /* Both names come from the listings: the lookups cannot fail. */
      a = checkpoint_lookup (checkpoint_a, names_a[i++], NULL);
      b = checkpoint_lookup (checkpoint_b, names_b[j++], NULL);

      dtype_a = safetensors_tensor_get_dtype (a);
      dtype_b = safetensors_tensor_get_dtype (b);
      if (dtype_a != dtype_b || !shapes_equal (a, b))
        {
          report_begin (report, "", "name", safetensors_tensor_get_name (a), "changed");
          if (dtype_a != dtype_b)
            report_pair (report, "dtype", safetensors_dtype_to_string (dtype_a),
                         safetensors_dtype_to_string (dtype_b), FALSE);
          if (!shapes_equal (a, b))
            {
              g_autofree char *shape_a = shape_string (a, ",");
              g_autofree char *shape_b = shape_string (b, ",");

              report_pair (report, "shape", shape_a, shape_b, TRUE);
            }
          report_end (report);
          continue;
        }

      if (!compare_data (a, b, args, tolerance, &data_diff, failed, error))
        return FALSE;
      if (data_diff.n_different > 0)
        report_data_diff (report, a, &data_diff);
    }

  return TRUE;
}

static void
report_metadata_value (DiffReport *report,
                       const char *value_a,
                       const char *value_b)
{
  g_string_append_c (report->json, ',');
  tool_json_append_member (report->json, "value");
  g_string_append_c (report->json, '[');
  tool_json_append_nullable_string (report->json, value_a);
  g_string_append_c (report->json, ',');
  tool_json_append_nullable_string (report->json, value_b);
  g_string_append_c (report->json, ']');
}

static void
diff_metadata (DiffReport *report,
               Checkpoint *checkpoint_a,
               Checkpoint *checkpoint_b)
{
  g_auto(GStrv) keys_a = checkpoint_get_metadata_keys (checkpoint_a);
  g_auto(GStrv) keys_b = checkpoint_get_metadata_keys (checkpoint_b);
  guint i = 0, j = 0;

  while (keys_a[i] != NULL || keys_b[j] != NULL)
    {
      int order = keys_a[i] == NULL ? 1 : keys_b[j] == NULL ? -1 : strcmp (keys_a[i], keys_b[j]);
      const char *value_a, *value_b;

      if (order < 0)
        {
          report_begin (report, "metadata ", "key", keys_a[i], "removed");
          report_metadata_value (report, checkpoint_get_metadata_value (checkpoint_a, keys_a[i]),
                                 NULL);
          report_end (report);
          i++;
          continue;
        }
      if (order > 0)
        {
          report_begin (report, "metadata ", "key", keys_b[j], "added");
          report_metadata_value (report, NULL,
                                 checkpoint_get_metadata_value (checkpoint_b, keys_b[j]));
          report_end (report);
          j++;
          continue;
        }

      value_a = checkpoint_get_metadata_value (checkpoint_a, keys_a[i]);
      value_b = checkpoint_get_metadata_value (checkpoint_b, keys_b[j]);
      if (g_strcmp0 (value_a, value_b) != 0)
        {
          g_autoptr(GString) quoted_a = g_string_new (NULL);
          g_autoptr(GString) quoted_b = g_string_new (NULL);

          report_begin (report, "metadata ", "key", keys_a[i], "changed");
          /* The text shows the values as JSON strings: they may be empty
           * or hold spaces. */
          tool_json_append_string (quoted_a, value_a);
          tool_json_append_string (quoted_b, value_b);
          g_string_append_printf (report->text, ": %s -> %s", quoted_a->str, quoted_b->str);
          report_metadata_value (report, value_a, value_b);
          report_end (report);
        }
      i++, j++;
    }
}

static gboolean
parse_tolerance (const char *option,
                 const char *text,
                 double     *out)
{
  char *end = NULL;

  if (text == NULL)
    return TRUE;

  *out = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || !(*out >= 0) || isinf (*out))
    {
      g_printerr ("%s: %s takes a non-negative number, not “%s”\n",
                  g_get_prgname (), option, text);
      return FALSE;
    }

  return TRUE;
}

static int
command_diff (const ToolCommand  *command,
              int                 argc,
              char              **argv)
{
  gboolean json = FALSE;
  gboolean no_mmap = FALSE;
  g_autofree char *atol_text = NULL;
  g_autofree char *rtol_text = NULL;
  const GOptionEntry entries[] = {
    { "atol", 0, 0, G_OPTION_ARG_STRING, &atol_text,
      "Absolute tolerance for float tensors (default 0)", "X" },
    { "rtol", 0, 0, G_OPTION_ARG_STRING, &rtol_text,
      "Relative tolerance for float tensors (default 0)", "Y" },
    TOOL_OPTION_JSON (&json),
    TOOL_OPTION_NO_MMAP (&no_mmap),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_auto(Checkpoint) checkpoint_a = { 0 };
  g_auto(Checkpoint) checkpoint_b = { 0 };
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GString) json_out = g_string_new (NULL);
  Tolerance tolerance = { 0, 0, FALSE };
  DiffReport report = { text, json_out, TRUE, 0 };
  const char *failed = NULL;
  GError *error = NULL;

  if (!tool_parse_options (command, entries, argc, argv, &args) ||
      !parse_tolerance ("--atol", atol_text, &tolerance.atol) ||
      !parse_tolerance ("--rtol", rtol_text, &tolerance.rtol))
    return TOOL_EXIT_USAGE;
  tolerance.tolerant = atol_text != NULL || rtol_text != NULL;

  if (!checkpoint_open (&checkpoint_a, args[0], no_mmap, TRUE, &error))
    return tool_fail_with_error_json (args[0], error, json);
  if (!checkpoint_open (&checkpoint_b, args[1], no_mmap, TRUE, &error))
    return tool_fail_with_error_json (args[1], error, json);

  g_string_append (json_out, "{\n  \"tensors\":[");
  if (!diff_tensors (&report, &checkpoint_a, &checkpoint_b, (const char * const *) args,
                     &tolerance, &failed, &error))
    return tool_fail_with_error_json (failed, error, json);
  g_string_append (json_out, report.first ? "],\n  \"metadata\":[" : "\n  ],\n  \"metadata\":[");
  report.first = TRUE;
  diff_metadata (&report, &checkpoint_a, &checkpoint_b);
  g_string_append (json_out, report.first ? "],\n" : "\n  ],\n");
  g_string_append_printf (json_out, "  \"equal\":%s\n}\n",
                          report.n_differences == 0 ? "true" : "false");

  tool_write_stdout (json ? json_out : text);

  return report.n_differences == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAILURE;
}

const ToolCommand tool_data_commands[] = {
  {
    .name = "checksum",
    .parameters = "FILE",
    .summary = "Print the SHA-256 of each tensor's data",
    .description = "Prints “HEX  NAME” per tensor, sorted by name. The digest covers the\n"
                   "tensor's bytes only, so it does not change when the tensor moves\n"
                   "within the file or to another file.\n"
                   "\n"
                   "A FILE ending in .index.json is the index of a sharded checkpoint:\n"
                   "the digests are those of all its tensors, the same as for the file\n"
                   "merging its shards.",
    .min_args = 1,
    .max_args = 1,
    .run = command_checksum,
  },
  {
    .name = "dump",
    .parameters = "FILE NAME",
    .summary = "Print the values of a tensor",
    .description = "Prints the values the way NumPy prints an array: more than 1000\n"
                   "elements are summarised with “...” unless --full is given. BOOL\n"
                   "prints True/False, C64 re+imj, and the narrow float dtypes are\n"
                   "decoded: F8_E4M3 is E4M3FN (no infinities, 0x7f/0xff are NaN),\n"
                   "F8_E8M0 is 2^(x-127) with 0xff NaN, F4 is E2M1 with the first of a\n"
                   "byte's two elements in its low nibble. F6 packs four elements in three\n"
                   "bytes; they are read as a little-endian 24-bit word, lowest bits\n"
                   "first, which is an assumption: the format does not specify it.\n"
                   "\n"
                   "--slice takes a NumPy basic slice, e.g. \"0, ::2\" or \"..., -1\".\n"
                   "--json prints every element, floats with the exact value they\n"
                   "have as a double; NaN and infinities are the strings \"nan\", \"inf\"\n"
                   "and \"-inf\", C64 elements [re, im] pairs.\n"
                   "\n"
                   "FILE may be the index of a sharded checkpoint (ending in .index.json).",
    .min_args = 2,
    .max_args = 2,
    .run = command_dump,
  },
  {
    .name = "diff",
    .parameters = "A B",
    .summary = "Compare the tensors and metadata of two files",
    .description = "Lists the tensors only in A (removed), only in B (added), and those\n"
                   "whose dtype, shape or data differ, then the metadata keys that\n"
                   "differ. Float tensors are compared exactly unless --atol or --rtol\n"
                   "is given: then elements match when |a - b| <= atol + rtol * |b|\n"
                   "(NaN matches NaN). A or B may be the index of a sharded checkpoint\n"
                   "(ending in .index.json), compared as the file merging its shards.\n"
                   "\n"
                   "Exit status: 0 if the files are equal, 1 if they differ or cannot be\n"
                   "read, 2 for a usage error.",
    .min_args = 2,
    .max_args = 2,
    .run = command_diff,
  },
  { NULL }
};
