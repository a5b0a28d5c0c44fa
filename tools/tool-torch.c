/* tool-torch.c — PyTorch interop: import-pytorch, of one checkpoint or
 * of the shards of a pytorch_model.bin.index.json
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-torch-private.h"

#include "tool-common.h"
#include "tool-index.h"
#include "tool-progress.h"

static char *
display_name (const char *name)
{
  GString *out = g_string_new (NULL);

  tool_append_display_name (out, name, TRUE);
  return g_string_free (out, FALSE);
}

static char *
shape_text (const SafetensorsTensorInfo *info)
{
  GString *out = g_string_new ("[");

  for (guint i = 0; i < info->n_dims; i++)
    g_string_append_printf (out, "%s%" G_GUINT64_FORMAT, i > 0 ? ", " : "", info->shape[i]);
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

static char **
row_new (guint n_cells)
{
  return g_new0 (char *, n_cells + 1);
}

static int
compare_keys (gconstpointer a,
              gconstpointer b,
              gpointer      user_data)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/* ------------------------------------------------------------------ */
/* What a plan writes, as text and as JSON                            */
/* ------------------------------------------------------------------ */

static void
append_plan_text (GString              *out,
                  SafetensorsTorchPlan *plan)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_autofree gpointer *keys = NULL;
  guint n_keys = 0;

  g_string_append_printf (out, "Tensors: %u (%" G_GUINT64_FORMAT " bytes)\n",
                          plan->tensors->len, plan->total_bytes);
  for (guint i = 0; i < plan->tensors->len; i++)
    {
      SafetensorsTorchPlanTensor *planned = g_ptr_array_index (plan->tensors, i);
      char **row = row_new (4);

      row[0] = display_name (planned->info->name);
      row[1] = g_strdup (safetensors_dtype_to_string (planned->info->dtype));
      row[2] = shape_text (planned->info);
      row[3] = g_strdup_printf ("%" G_GUINT64_FORMAT, planned->n_bytes);
      g_ptr_array_add (rows, row);
    }
  tool_append_table (out, rows, "lllr", 2);

  if (plan->aliases->len > 0)
    {
      g_ptr_array_set_size (rows, 0);
      g_string_append (out, "Shared, written once (recorded in the metadata):\n");
      for (guint i = 0; i < plan->aliases->len; i += 2)
        {
          char **row = row_new (3);

          row[0] = display_name (g_ptr_array_index (plan->aliases, i));
          row[1] = g_strdup ("→");
          row[2] = display_name (g_ptr_array_index (plan->aliases, i + 1));
          g_ptr_array_add (rows, row);
        }
      tool_append_table (out, rows, "lll", 2);
    }

  for (int stored = 0; stored <= 1; stored++)
    {
      g_ptr_array_set_size (rows, 0);
      for (guint i = 0; i < plan->extras->len; i++)
        {
          SafetensorsTorchExtra *extra = g_ptr_array_index (plan->extras, i);
          char **row;

          if (extra->stored != stored)
            continue;
          row = row_new (2);
          row[0] = display_name (extra->name);
          row[1] = g_strdup (extra->reason);
          g_ptr_array_add (rows, row);
        }
      if (rows->len == 0)
        continue;
      g_string_append (out, stored ? "Stored in the metadata as JSON:\n" : "Skipped, not tensors:\n");
      tool_append_table (out, rows, "ll", 2);
    }

  g_ptr_array_set_size (rows, 0);
  keys = g_hash_table_get_keys_as_array (plan->metadata, &n_keys);
  g_qsort_with_data (keys, n_keys, sizeof (gpointer), compare_keys, NULL);
  g_string_append (out, "Metadata:\n");
  for (guint i = 0; i < n_keys; i++)
    {
      char **row = row_new (2);

      row[0] = display_name (keys[i]);
      row[1] = display_name (g_hash_table_lookup (plan->metadata, keys[i]));
      g_ptr_array_add (rows, row);
    }
  tool_append_table (out, rows, "ll", 2);
}

static void
append_extras_json (GString              *out,
                    SafetensorsTorchPlan *plan,
                    gboolean              stored)
{
  gboolean first = TRUE;

  g_string_append_c (out, '[');
  for (guint i = 0; i < plan->extras->len; i++)
    {
      SafetensorsTorchExtra *extra = g_ptr_array_index (plan->extras, i);

      if (extra->stored != stored)
        continue;
      g_string_append (out, first ? "{" : ",{");
      first = FALSE;
      tool_json_append_member (out, "name");
      tool_json_append_string (out, extra->name);
      g_string_append_c (out, ',');
      tool_json_append_member (out, "reason");
      tool_json_append_string (out, extra->reason);
      g_string_append_c (out, '}');
    }
  g_string_append_c (out, ']');
}

/* The members describing @plan, without the braces around them. */
static void
append_plan_json (GString              *out,
                  SafetensorsTorchPlan *plan)
{
  g_autofree gpointer *keys = NULL;
  guint n_keys = 0;

  tool_json_append_member (out, "tensors");
  g_string_append_c (out, '[');
  for (guint i = 0; i < plan->tensors->len; i++)
    {
      SafetensorsTorchPlanTensor *planned = g_ptr_array_index (plan->tensors, i);

      g_string_append (out, i > 0 ? ",{" : "{");
      tool_json_append_member (out, "name");
      tool_json_append_string (out, planned->info->name);
      g_string_append_c (out, ',');
      tool_json_append_member (out, "dtype");
      tool_json_append_string (out, safetensors_dtype_to_string (planned->info->dtype));
      g_string_append_c (out, ',');
      tool_json_append_member (out, "shape");
      g_string_append_c (out, '[');
      for (guint d = 0; d < planned->info->n_dims; d++)
        {
          if (d > 0)
            g_string_append_c (out, ',');
          tool_json_append_uint64 (out, planned->info->shape[d]);
        }
      g_string_append (out, "],");
      tool_json_append_member (out, "n_bytes");
      tool_json_append_uint64 (out, planned->n_bytes);
      g_string_append_c (out, '}');
    }
  g_string_append (out, "],");

  tool_json_append_member (out, "tensor_bytes");
  tool_json_append_uint64 (out, plan->total_bytes);
  g_string_append_c (out, ',');

  tool_json_append_member (out, "aliases");
  g_string_append_c (out, '[');
  for (guint i = 0; i < plan->aliases->len; i += 2)
    {
      g_string_append (out, i > 0 ? ",{" : "{");
      tool_json_append_member (out, "name");
      tool_json_append_string (out, g_ptr_array_index (plan->aliases, i));
      g_string_append_c (out, ',');
      tool_json_append_member (out, "kept");
      tool_json_append_string (out, g_ptr_array_index (plan->aliases, i + 1));
      g_string_append_c (out, '}');
    }
  g_string_append (out, "],");

  tool_json_append_member (out, "skipped");
  append_extras_json (out, plan, FALSE);
  g_string_append_c (out, ',');
  tool_json_append_member (out, "stored");
  append_extras_json (out, plan, TRUE);
  g_string_append_c (out, ',');

  keys = g_hash_table_get_keys_as_array (plan->metadata, &n_keys);
  g_qsort_with_data (keys, n_keys, sizeof (gpointer), compare_keys, NULL);
  tool_json_append_member (out, "metadata");
  g_string_append_c (out, '{');
  for (guint i = 0; i < n_keys; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      tool_json_append_member (out, keys[i]);
      tool_json_append_string (out, g_hash_table_lookup (plan->metadata, keys[i]));
    }
  g_string_append_c (out, '}');
}

static void
report_skipped (const char           *arg,
                SafetensorsTorchPlan *plan)
{
  for (guint i = 0; i < plan->extras->len; i++)
    {
      SafetensorsTorchExtra *extra = g_ptr_array_index (plan->extras, i);
      g_autofree char *name = NULL;

      if (extra->stored)
        continue;
      name = display_name (extra->name);
      g_printerr ("%s: %s: skipped %s: %s\n", TOOL_NAME, arg, name, extra->reason);
    }
}

typedef struct
{
  char                   *key;
  SafetensorsImportFlags  flags;
  gboolean                dry_run;
  gboolean                quiet;
  gboolean                json;
} ImportOptions;

/* ------------------------------------------------------------------ */
/* One checkpoint                                                     */
/* ------------------------------------------------------------------ */

static int
import_checkpoint (const ImportOptions  *options,
                   const char           *in_arg,
                   const char           *out_arg)
{
  g_autoptr(GFile) source = g_file_new_for_commandline_arg (in_arg);
  g_autoptr(GFile) destination = NULL;
  g_autoptr(SafetensorsTorchCheckpoint) checkpoint = NULL;
  g_autoptr(SafetensorsTorchPlan) plan = NULL;
  g_autoptr(ToolProgress) progress = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  GError *error = NULL;

  checkpoint = safetensors_torch_checkpoint_open (source, NULL, &error);
  if (checkpoint != NULL)
    plan = safetensors_torch_plan_new (checkpoint, options->flags, options->key, &error);
  if (plan == NULL)
    return tool_fail_with_error_json (in_arg, error, options->json);

  if (!options->dry_run)
    {
      /* --json lists them with the rest. */
      if (!options->quiet && !options->json)
        report_skipped (in_arg, plan);

      progress = tool_progress_new (options->quiet);
      tool_progress_set_total (progress, plan->total_bytes);
      destination = g_file_new_for_commandline_arg (out_arg);
      if (!safetensors_torch_plan_write (checkpoint, plan, destination,
                                         tool_progress_is_enabled (progress) ?
                                           tool_progress_file_callback : NULL, progress,
                                         NULL, &error))
        {
          g_autofree char *source_name = g_file_get_parse_name (source);

          tool_progress_finish (progress, FALSE);
          /* Read errors name the checkpoint, the others the output. */
          return tool_fail_with_error_json (g_str_has_prefix (error->message, source_name) ?
                                              in_arg : out_arg, error, options->json);
        }
      tool_progress_finish (progress, TRUE);
    }

  if (options->json)
    {
      g_string_append_c (out, '{');
      tool_json_append_member (out, "file");
      tool_json_append_string (out, in_arg);
      g_string_append_c (out, ',');
      tool_json_append_member (out, "output");
      tool_json_append_nullable_string (out, options->dry_run ? NULL : out_arg);
      g_string_append_c (out, ',');
      append_plan_json (out, plan);
      g_string_append (out, "}\n");
    }
  else if (options->dry_run)
    {
      append_plan_text (out, plan);
    }
  tool_write_stdout (out);

  return TOOL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* The shards of an index                                             */
/* ------------------------------------------------------------------ */

/* Hugging Face's convert script names the output of a shard so:
 * "pytorch_model-00001-of-00002.bin" → "model-00001-of-00002.safetensors". */
static char *
converted_name (const char *name,
                const char *extension)
{
  g_autofree char *stem = g_strdup (name);
  char *dot = strrchr (stem, '.');
  g_auto(GStrv) parts = NULL;
  g_autofree char *renamed = NULL;

  if (dot != NULL && dot != stem)
    *dot = '\0';
  parts = g_strsplit (stem, "pytorch_model", -1);
  renamed = g_strjoinv ("model", parts);
  return g_strconcat (renamed, extension, NULL);
}

/* "pytorch_model.bin.index.json" → "model.safetensors.index.json" */
static char *
converted_index_name (GFile *index_file)
{
  g_autofree char *base = g_file_get_basename (index_file);

  if (g_str_has_suffix (base, ".index.json") && strlen (base) > strlen (".index.json"))
    base[strlen (base) - strlen (".index.json")] = '\0';
  return converted_name (base, TOOL_INDEX_SUFFIX);
}

typedef struct
{
  char                       *name;        /* in the weight map */
  char                       *output_name;
  GFile                      *file;
  SafetensorsTorchCheckpoint *checkpoint;
  SafetensorsTorchPlan       *plan;
} TorchShard;

static void
torch_shard_free (gpointer data)
{
  TorchShard *shard = data;

  g_free (shard->name);
  g_free (shard->output_name);
  g_clear_object (&shard->file);
  g_clear_pointer (&shard->plan, safetensors_torch_plan_free);
  g_clear_pointer (&shard->checkpoint, safetensors_torch_checkpoint_free);
  g_free (shard);
}

static int
compare_shards (gconstpointer a,
                gconstpointer b)
{
  const TorchShard *shard_a = *(TorchShard * const *) a;
  const TorchShard *shard_b = *(TorchShard * const *) b;

  return strcmp (shard_a->name, shard_b->name);
}

/* A tensor @shard holds has to be mapped to it. */
static gboolean
check_mapped (GFile       *index_file,
              GHashTable  *weight_map,
              TorchShard  *shard,
              const char  *name,
              GHashTable  *found,
              GError     **error)
{
  const char *mapped = g_hash_table_lookup (weight_map, name);

  if (mapped == NULL)
    return tool_index_set_error (error, index_file,
                                 "tensor “%s” of shard “%s” is not in the weight map",
                                 name, shard->name);
  if (!g_str_equal (mapped, shard->name))
    return tool_index_set_error (error, index_file,
                                 "tensor “%s” is in shard “%s”, but the weight map says “%s”",
                                 name, shard->name, mapped);
  g_hash_table_add (found, (gpointer) name);
  return TRUE;
}

/* Opens and plans every shard the weight map names, and checks that map
 * and shards agree: each shard exists and converts, each tensor of a
 * shard (written, or left out as an alias of another) is mapped to that
 * shard, each mapped tensor is found in its shard, and no tensor is
 * written twice. Nothing is written yet. */
static GPtrArray *
plan_shards (const ImportOptions  *options,
             GFile                *index_file,
             GHashTable           *weight_map,
             GError              **error)
{
  g_autoptr(GFile) folder = g_file_get_parent (index_file);
  g_autoptr(GPtrArray) shards = g_ptr_array_new_with_free_func (torch_shard_free);
  g_autoptr(GHashTable) by_output = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) by_name = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) written = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) found = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *index_name = g_file_get_parse_name (index_file);
  g_autofree char *output_index = converted_index_name (index_file);
  g_autofree gpointer *names = NULL;
  GHashTableIter iter;
  gpointer value;
  guint n_names = 0;

  g_hash_table_iter_init (&iter, weight_map);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      TorchShard *shard;

      if (g_hash_table_contains (by_name, value))
        continue;
      shard = g_new0 (TorchShard, 1);
      shard->name = g_strdup (value);
      shard->output_name = converted_name (value, ".safetensors");
      g_ptr_array_add (shards, shard);
      g_hash_table_insert (by_name, shard->name, shard);
    }
  g_ptr_array_sort (shards, compare_shards);

  for (guint i = 0; i < shards->len; i++)
    {
      TorchShard *shard = g_ptr_array_index (shards, i);
      const char *other = g_hash_table_lookup (by_output, shard->output_name);

      if (other != NULL || g_str_equal (shard->output_name, output_index))
        {
          tool_index_set_error (error, index_file, "shard “%s” would be written to “%s”, as %s",
                                shard->name, shard->output_name,
                                other != NULL ? "another shard is" : "the index is");
          return NULL;
        }
      g_hash_table_insert (by_output, shard->output_name, shard->name);
    }

  for (guint i = 0; i < shards->len; i++)
    {
      TorchShard *shard = g_ptr_array_index (shards, i);

      shard->file = g_file_get_child (folder, shard->name);
      shard->checkpoint = safetensors_torch_checkpoint_open (shard->file, NULL, error);
      if (shard->checkpoint != NULL)
        shard->plan = safetensors_torch_plan_new (shard->checkpoint, options->flags, options->key,
                                                  error);
      if (shard->plan == NULL)
        {
          g_prefix_error (error, "%s: shard “%s”: ", index_name, shard->name);
          return NULL;
        }

      for (guint t = 0; t < shard->plan->tensors->len; t++)
        {
          SafetensorsTorchPlanTensor *planned = g_ptr_array_index (shard->plan->tensors, t);
          const char *name = planned->info->name;
          TorchShard *other = g_hash_table_lookup (written, name);

          if (other != NULL)
            {
              tool_index_set_error (error, index_file,
                                    "tensor “%s” is in shard “%s” and in shard “%s”",
                                    name, other->name, shard->name);
              return NULL;
            }
          if (!check_mapped (index_file, weight_map, shard, name, found, error))
            return NULL;
          g_hash_table_insert (written, (gpointer) name, shard);
        }
      for (guint a = 0; a < shard->plan->aliases->len; a += 2)
        if (!check_mapped (index_file, weight_map, shard,
                           g_ptr_array_index (shard->plan->aliases, a), found, error))
          return NULL;
    }

  names = g_hash_table_get_keys_as_array (weight_map, &n_names);
  g_qsort_with_data (names, n_names, sizeof (gpointer), compare_keys, NULL);
  for (guint i = 0; i < n_names; i++)
    if (!g_hash_table_contains (found, names[i]))
      {
        tool_index_set_error (error, index_file, "tensor “%s” is not in shard “%s”",
                              (const char *) names[i],
                              (const char *) g_hash_table_lookup (weight_map, names[i]));
        return NULL;
      }

  return g_steal_pointer (&shards);
}

static void
print_shards (const ImportOptions  *options,
              const char           *in_arg,
              GPtrArray            *shards,
              const char           *output_index,
              const char           *out_arg,
              guint64               total_size)
{
  g_autoptr(GString) out = g_string_new (NULL);

  if (options->json)
    {
      g_string_append_c (out, '{');
      tool_json_append_member (out, "index");
      tool_json_append_string (out, in_arg);
      g_string_append_c (out, ',');
      tool_json_append_member (out, "output_index");
      if (out_arg != NULL)
        {
          g_autofree char *path = g_build_filename (out_arg, output_index, NULL);

          tool_json_append_string (out, path);
        }
      else
        {
          g_string_append (out, "null");
        }
      g_string_append_c (out, ',');
      tool_json_append_member (out, "total_size");
      tool_json_append_uint64 (out, total_size);
      g_string_append_c (out, ',');
      tool_json_append_member (out, "shards");
      g_string_append_c (out, '[');
      for (guint i = 0; i < shards->len; i++)
        {
          TorchShard *shard = g_ptr_array_index (shards, i);

          g_string_append (out, i > 0 ? ",{" : "{");
          tool_json_append_member (out, "file");
          tool_json_append_string (out, shard->name);
          g_string_append_c (out, ',');
          tool_json_append_member (out, "output");
          tool_json_append_string (out, shard->output_name);
          g_string_append_c (out, ',');
          append_plan_json (out, shard->plan);
          g_string_append_c (out, '}');
        }
      g_string_append (out, "]}\n");
    }
  else
    {
      for (guint i = 0; i < shards->len; i++)
        {
          TorchShard *shard = g_ptr_array_index (shards, i);
          g_autofree char *name = display_name (shard->name);
          g_autofree char *output_name = display_name (shard->output_name);

          g_string_append_printf (out, "%sShard %s → %s\n", i > 0 ? "\n" : "", name, output_name);
          append_plan_text (out, shard->plan);
        }
      g_string_append_printf (out, "%sIndex %s: %u shard%s, %" G_GUINT64_FORMAT
                              " bytes of tensors\n", shards->len > 0 ? "\n" : "",
                              output_index, shards->len, shards->len == 1 ? "" : "s", total_size);
    }

  tool_write_stdout (out);
}

static int
import_sharded (const ImportOptions  *options,
                const char           *in_arg,
                const char           *out_arg)
{
  g_autoptr(GFile) index_file = g_file_new_for_commandline_arg (in_arg);
  g_autoptr(GHashTable) weight_map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GHashTable) written = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) shards = NULL;
  g_autoptr(ToolOutputFolder) folder = NULL;
  g_autoptr(ToolProgress) progress = NULL;
  g_autoptr(GFile) index_output = NULL;
  g_autofree char *output_index = converted_index_name (index_file);
  g_autofree char *json = NULL;
  GError *error = NULL;
  guint64 total_size = 0;

  if (!tool_index_parse (index_file, weight_map, &error))
    return tool_fail_with_error_json (in_arg, error, options->json);
  shards = plan_shards (options, index_file, weight_map, &error);
  if (shards == NULL)
    return tool_fail_with_error_json (in_arg, error, options->json);

  for (guint i = 0; i < shards->len; i++)
    total_size += ((TorchShard *) g_ptr_array_index (shards, i))->plan->total_bytes;

  if (options->dry_run)
    {
      print_shards (options, in_arg, shards, output_index, NULL, total_size);
      return TOOL_EXIT_OK;
    }

  if (!options->quiet && !options->json)
    for (guint i = 0; i < shards->len; i++)
      {
        TorchShard *shard = g_ptr_array_index (shards, i);

        report_skipped (shard->name, shard->plan);
      }

  /* Every shard and the index, or nothing. */
  folder = tool_output_folder_new (out_arg, &error);
  if (folder == NULL)
    return tool_fail_with_error_json (out_arg, error, options->json);

  progress = tool_progress_new (options->quiet);
  tool_progress_set_total (progress, total_size);
  for (guint i = 0; i < shards->len; i++)
    {
      TorchShard *shard = g_ptr_array_index (shards, i);
      g_autoptr(GFile) destination = tool_output_folder_add (folder, shard->output_name);

      tool_progress_begin_part (progress);
      if (!safetensors_torch_plan_write (shard->checkpoint, shard->plan, destination,
                                         tool_progress_is_enabled (progress) ?
                                           tool_progress_file_callback : NULL, progress,
                                         NULL, &error))
        {
          g_autofree char *source_name = g_file_get_parse_name (shard->file);

          tool_progress_finish (progress, FALSE);
          /* Read errors name the shard, the others the output. */
          return tool_fail_with_error_json (g_str_has_prefix (error->message, source_name) ?
                                              in_arg : out_arg, error, options->json);
        }

      for (guint t = 0; t < shard->plan->tensors->len; t++)
        {
          SafetensorsTorchPlanTensor *planned = g_ptr_array_index (shard->plan->tensors, t);

          g_hash_table_insert (written, planned->info->name, shard->output_name);
        }
      /* Its data is copied: unmap it. */
      g_clear_pointer (&shard->checkpoint, safetensors_torch_checkpoint_free);
    }

  /* The index last, with what was written: names left out as aliases
   * are recorded in their shard's metadata, not in the map. */
  json = tool_index_to_json (written, total_size);
  index_output = tool_output_folder_add (folder, output_index);
  if (!g_file_replace_contents (index_output, json, strlen (json), NULL, FALSE,
                                G_FILE_CREATE_NONE, NULL, NULL, &error) ||
      !tool_output_folder_commit (folder, &error))
    {
      tool_progress_finish (progress, FALSE);
      return tool_fail_with_error_json (out_arg, error, options->json);
    }
  tool_progress_finish (progress, TRUE);

  if (options->json)
    print_shards (options, in_arg, shards, output_index, out_arg, total_size);

  return TOOL_EXIT_OK;
}

static int
command_import_pytorch (const ToolCommand  *command,
                        int                 argc,
                        char              **argv)
{
  ImportOptions options = { 0 };
  gboolean all = FALSE;
  gboolean extras_to_metadata = FALSE;
  const GOptionEntry entries[] = {
    { "key", 'k', 0, G_OPTION_ARG_STRING, &options.key,
      "Convert the object at this dotted path (e.g. model, optimizer.state)", "PATH" },
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all,
      "Flatten the whole checkpoint, not just its state_dict", NULL },
    { "extras-to-metadata", 0, 0, G_OPTION_ARG_NONE, &extras_to_metadata,
      "Store values that are not tensors as JSON text in the metadata", NULL },
    { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &options.dry_run,
      "Check the checkpoint and list what would be written; write nothing", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &options.quiet,
      "Do not report skipped values or show progress", NULL },
    TOOL_OPTION_JSON (&options.json),
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  int status;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    {
      g_free (options.key);
      return TOOL_EXIT_USAGE;
    }
  status = TOOL_EXIT_USAGE;
  if (args[1] == NULL && !options.dry_run)
    g_printerr ("%s: missing argument: OUT (only --dry-run works without one)\n",
                g_get_prgname ());
  else if (all && options.key != NULL)
    g_printerr ("%s: --all and --key cannot be combined\n", g_get_prgname ());
  else if (options.key != NULL && !g_utf8_validate (options.key, -1, NULL))
    g_printerr ("%s: --key must be UTF-8\n", g_get_prgname ());
  else
    status = TOOL_EXIT_OK;
  if (status != TOOL_EXIT_OK)
    {
      g_free (options.key);
      return status;
    }

  if (all)
    options.flags |= SAFETENSORS_IMPORT_FLAGS_ALL;
  if (extras_to_metadata)
    options.flags |= SAFETENSORS_IMPORT_FLAGS_EXTRAS_TO_METADATA;

  /* The name tells an index from a checkpoint, as for the Hugging Face
   * libraries: pytorch_model.bin.index.json. */
  if (tool_arg_is_index (args[0]))
    status = import_sharded (&options, args[0], args[1]);
  else
    status = import_checkpoint (&options, args[0], args[1]);

  g_free (options.key);
  return status;
}

const ToolCommand tool_torch_commands[] = {
  {
    .name = "import-pytorch",
    .parameters = "IN [OUT]",
    .summary = "Convert a PyTorch checkpoint (.pt, .pth, .bin) to a safetensors file",
    .description = "Reads torch.save() files (zip archives and the legacy format) without\n"
                   "Python, executing nothing: the pickle may only hold tensors, containers\n"
                   "and plain values. Converts the tensors of the checkpoint's state_dict\n"
                   "entry if it has one, else of the whole checkpoint (--key picks another\n"
                   "object, --all takes everything); nested names are joined with dots.\n"
                   "Names that view the same data are written once under the smallest\n"
                   "name and recorded in the metadata, which also gets \"format\": \"pt\".\n"
                   "Values that are not tensors are reported and skipped, unless\n"
                   "--extras-to-metadata stores them. OUT is replaced atomically.\n"
                   "\n"
                   "IN may be the index of a sharded checkpoint (a name ending in\n"
                   ".index.json, such as pytorch_model.bin.index.json); OUT is then a\n"
                   "folder that gets every shard converted (pytorch_model-00001-of-00002.bin\n"
                   "as model-00001-of-00002.safetensors) and model.safetensors.index.json\n"
                   "mapping the tensors written. Index and shards must agree: each shard\n"
                   "exists, each mapped tensor is in its shard, no tensor is in two. On\n"
                   "failure nothing is written.",
    .min_args = 1,
    .max_args = 2,
    .run = command_import_pytorch,
  },
  { NULL }
};
