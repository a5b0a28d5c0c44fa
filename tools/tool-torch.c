/* tool-torch.c — PyTorch interop: import-pytorch
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-torch-private.h"

#include "tool-common.h"
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

static void
print_plan (SafetensorsTorchPlan *plan)
{
  g_autoptr(GString) out = g_string_new (NULL);
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

  tool_write_stdout (out);
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

static int
command_import_pytorch (const ToolCommand  *command,
                        int                 argc,
                        char              **argv)
{
  g_autofree char *key = NULL;
  gboolean all = FALSE;
  gboolean extras_to_metadata = FALSE;
  gboolean dry_run = FALSE;
  gboolean quiet = FALSE;
  const GOptionEntry entries[] = {
    { "key", 'k', 0, G_OPTION_ARG_STRING, &key,
      "Convert the object at this dotted path (e.g. model, optimizer.state)", "PATH" },
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all,
      "Flatten the whole checkpoint, not just its state_dict", NULL },
    { "extras-to-metadata", 0, 0, G_OPTION_ARG_NONE, &extras_to_metadata,
      "Store values that are not tensors as JSON text in the metadata", NULL },
    { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run,
      "Check the checkpoint and list what would be written; write nothing", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
      "Do not report skipped values or show progress", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_auto(GStrv) args = NULL;
  g_autoptr(GFile) source = NULL;
  g_autoptr(GFile) destination = NULL;
  g_autoptr(SafetensorsTorchCheckpoint) checkpoint = NULL;
  g_autoptr(SafetensorsTorchPlan) plan = NULL;
  g_autoptr(GError) error = NULL;
  SafetensorsImportFlags flags = SAFETENSORS_IMPORT_FLAGS_NONE;
  g_autoptr(ToolProgress) progress = NULL;

  if (!tool_parse_options (command, entries, argc, argv, &args))
    return TOOL_EXIT_USAGE;
  if (args[1] == NULL && !dry_run)
    {
      g_printerr ("%s: missing argument: OUT (only --dry-run works without one)\n",
                  g_get_prgname ());
      return TOOL_EXIT_USAGE;
    }
  if (all && key != NULL)
    {
      g_printerr ("%s: --all and --key cannot be combined\n", g_get_prgname ());
      return TOOL_EXIT_USAGE;
    }
  if (key != NULL && !g_utf8_validate (key, -1, NULL))
    {
      g_printerr ("%s: --key must be UTF-8\n", g_get_prgname ());
      return TOOL_EXIT_USAGE;
    }

  if (all)
    flags |= SAFETENSORS_IMPORT_FLAGS_ALL;
  if (extras_to_metadata)
    flags |= SAFETENSORS_IMPORT_FLAGS_EXTRAS_TO_METADATA;

  source = g_file_new_for_commandline_arg (args[0]);
  checkpoint = safetensors_torch_checkpoint_open (source, NULL, &error);
  if (checkpoint != NULL)
    plan = safetensors_torch_plan_new (checkpoint, flags, key, &error);
  if (plan == NULL)
    {
      tool_print_file_error (args[0], error);
      return TOOL_EXIT_FAILURE;
    }

  if (dry_run)
    {
      print_plan (plan);
      return TOOL_EXIT_OK;
    }

  if (!quiet)
    report_skipped (args[0], plan);

  progress = tool_progress_new (quiet);
  tool_progress_set_total (progress, plan->total_bytes);
  destination = g_file_new_for_commandline_arg (args[1]);
  if (!safetensors_torch_plan_write (checkpoint, plan, destination,
                                     tool_progress_is_enabled (progress) ?
                                       tool_progress_file_callback : NULL, progress,
                                     NULL, &error))
    {
      g_autofree char *source_name = g_file_get_parse_name (source);

      tool_progress_finish (progress, FALSE);
      /* Read errors name the checkpoint, the others the output. */
      tool_print_file_error (g_str_has_prefix (error->message, source_name) ? args[0] : args[1],
                             error);
      return TOOL_EXIT_FAILURE;
    }
  tool_progress_finish (progress, TRUE);

  return TOOL_EXIT_OK;
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
                   "--extras-to-metadata stores them. OUT is replaced atomically.",
    .min_args = 1,
    .max_args = 2,
    .run = command_import_pytorch,
  },
  { NULL }
};
