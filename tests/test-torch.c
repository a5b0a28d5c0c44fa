/* test-torch.c — PyTorch checkpoint import
 *
 * The checkpoints and what they convert to come from
 * tests/data/torch/generate.py (run once with PyTorch; see there).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "safetensors-torch-private.h"

#include "test-util.h"

static char *
data_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "torch", name, NULL);
}

static char *
hostile_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "torch", "hostile", name, NULL);
}

/* A fresh, empty folder, so that leftovers can be seen. */
static char *
make_folder (void)
{
  static guint counter;
  g_autofree char *name = g_strdup_printf ("torch-%u", ++counter);
  char *path = g_build_filename (test_tmpdir (), name, NULL);

  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  return path;
}

static guint
count_entries (const char *folder)
{
  g_autoptr(GDir) dir = g_dir_open (folder, 0, NULL);
  guint n = 0;

  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
remove_folder (const char *folder)
{
  g_autoptr(GDir) dir = g_dir_open (folder, 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (folder, name, NULL);

      g_unlink (path);
    }
  g_rmdir (folder);
}

static JsonNode *
load_json (const char *path)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static const char *
error_nick (const GError *error)
{
  g_autoptr(GEnumClass) enum_class = NULL;
  GEnumValue *value;

  if (error->domain == G_IO_ERROR)
    return "io-error";
  g_assert_true (error->domain == SAFETENSORS_ERROR);
  enum_class = g_type_class_ref (SAFETENSORS_TYPE_ERROR);
  value = g_enum_get_value (enum_class, error->code);
  return value->value_nick;
}

static char *
sha256_of_tensor (SafetensorsTensor *tensor)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = safetensors_tensor_get_bytes (tensor, NULL, &error);

  g_assert_no_error (error);
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
}

/* ---- good checkpoints --------------------------------------------------- */

typedef struct
{
  JsonObject *expected;
  TestBackend backend;
} CaseData;

static void
check_output (const char *output,
              JsonObject *expected)
{
  g_autoptr(GFile) file = g_file_new_for_path (output);
  g_autoptr(SafetensorsFile) st = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) metadata = NULL;
  JsonArray *tensors = json_object_get_array_member (expected, "tensors");
  JsonObject *expected_metadata = json_object_get_object_member (expected, "metadata");
  g_autoptr(GList) keys = NULL;

  st = safetensors_file_open (file, SAFETENSORS_OPEN_FLAGS_NONE, NULL, &error);
  g_assert_no_error (error);

  g_assert_cmpuint (safetensors_file_get_n_tensors (st), ==, json_array_get_length (tensors));
  for (guint i = 0; i < json_array_get_length (tensors); i++)
    {
      JsonObject *t = json_array_get_object_element (tensors, i);
      const char *name = json_object_get_string_member (t, "name");
      g_autoptr(SafetensorsTensor) tensor = safetensors_file_lookup (st, name, &error);
      JsonArray *shape = json_object_get_array_member (t, "shape");
      const guint64 *dims;
      guint n_dims = 0;
      g_autofree char *sha = NULL;

      g_assert_no_error (error);
      g_assert_cmpstr (safetensors_dtype_to_string (safetensors_tensor_get_dtype (tensor)), ==,
                       json_object_get_string_member (t, "dtype"));
      dims = safetensors_tensor_get_shape (tensor, &n_dims);
      g_assert_cmpuint (n_dims, ==, json_array_get_length (shape));
      for (guint d = 0; d < n_dims; d++)
        g_assert_cmpuint (dims[d], ==, json_array_get_int_element (shape, d));
      sha = sha256_of_tensor (tensor);
      g_assert_cmpstr (sha, ==, json_object_get_string_member (t, "sha256"));
    }

  metadata = safetensors_file_get_metadata (st);
  g_assert_cmpuint (g_hash_table_size (metadata), ==, json_object_get_size (expected_metadata));
  keys = json_object_get_members (expected_metadata);
  for (GList *l = keys; l != NULL; l = l->next)
    g_assert_cmpstr (g_hash_table_lookup (metadata, l->data), ==,
                     json_object_get_string_member (expected_metadata, l->data));
}

static SafetensorsImportFlags
case_flags (JsonObject *expected)
{
  SafetensorsImportFlags flags = SAFETENSORS_IMPORT_FLAGS_NONE;

  if (json_object_get_boolean_member (expected, "all"))
    flags |= SAFETENSORS_IMPORT_FLAGS_ALL;
  if (json_object_get_boolean_member (expected, "extras_to_metadata"))
    flags |= SAFETENSORS_IMPORT_FLAGS_EXTRAS_TO_METADATA;
  return flags;
}

static const char *
case_key (JsonObject *expected)
{
  return json_object_get_null_member (expected, "key") ? NULL :
         json_object_get_string_member (expected, "key");
}

static void
test_case (gconstpointer user_data)
{
  const CaseData *data = user_data;
  JsonObject *expected = data->expected;
  g_autofree char *input = data_path (json_object_get_string_member (expected, "file"));
  g_autofree char *folder = make_folder ();
  g_autofree char *output = g_build_filename (folder, "out.safetensors", NULL);
  g_autoptr(GFile) source = test_file_for_backend (input, data->backend);
  g_autoptr(GFile) destination = g_file_new_for_path (output);
  g_autoptr(GError) error = NULL;

  g_assert_true (safetensors_import_pytorch (source, destination, case_flags (expected),
                                             case_key (expected), NULL, &error));
  g_assert_no_error (error);
  check_output (output, expected);
  g_assert_cmpuint (count_entries (folder), ==, 1);
  remove_folder (folder);
}

/* What is left out, and why, through the plan the CLI prints. */
static void
test_case_skipped (gconstpointer user_data)
{
  const CaseData *data = user_data;
  JsonObject *expected = data->expected;
  g_autofree char *input = data_path (json_object_get_string_member (expected, "file"));
  g_autoptr(GFile) source = g_file_new_for_path (input);
  g_autoptr(SafetensorsTorchCheckpoint) checkpoint = NULL;
  g_autoptr(SafetensorsTorchPlan) plan = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *skipped = json_object_get_array_member (expected, "skipped");
  guint n = 0;

  checkpoint = safetensors_torch_checkpoint_open (source, NULL, &error);
  g_assert_no_error (error);
  plan = safetensors_torch_plan_new (checkpoint, case_flags (expected), case_key (expected), &error);
  g_assert_no_error (error);

  for (guint i = 0; i < plan->extras->len; i++)
    {
      SafetensorsTorchExtra *extra = g_ptr_array_index (plan->extras, i);
      JsonArray *pair;

      if (extra->stored)
        continue;
      g_assert_cmpuint (n, <, json_array_get_length (skipped));
      pair = json_array_get_array_element (skipped, n++);
      g_assert_cmpstr (extra->name, ==, json_array_get_string_element (pair, 0));
      g_assert_cmpstr (extra->reason, ==, json_array_get_string_element (pair, 1));
    }
  g_assert_cmpuint (n, ==, json_array_get_length (skipped));
}

/* ---- hostile inputs ----------------------------------------------------- */

typedef struct
{
  char *name;
  char *code;
  char *message;
} HostileCase;

static void
hostile_case_free (gpointer data)
{
  HostileCase *c = data;

  g_free (c->name);
  g_free (c->code);
  g_free (c->message);
  g_free (c);
}

static void
test_hostile (gconstpointer user_data)
{
  const HostileCase *c = user_data;
  g_autofree char *input = hostile_path (c->name);
  g_autofree char *folder = make_folder ();
  g_autofree char *output = g_build_filename (folder, "out.safetensors", NULL);
  g_autoptr(GFile) source = g_file_new_for_path (input);
  g_autoptr(GFile) destination = g_file_new_for_path (output);
  g_autoptr(GError) error = NULL;

  g_assert_false (safetensors_import_pytorch (source, destination, SAFETENSORS_IMPORT_FLAGS_NONE,
                                              NULL, NULL, &error));
  g_assert_nonnull (error);
  g_assert_cmpstr (error_nick (error), ==, c->code);
  if (strstr (error->message, c->message) == NULL)
    g_error ("“%s” does not contain “%s”", error->message, c->message);
  /* Messages start with the file's name. */
  g_assert_true (g_str_has_prefix (error->message, input));
  g_assert_cmpuint (count_entries (folder), ==, 0);
  remove_folder (folder);
}

/* ---- the API ------------------------------------------------------------ */

static void
test_key_errors (void)
{
  g_autofree char *input = data_path ("train.pt");
  g_autofree char *folder = make_folder ();
  g_autofree char *output = g_build_filename (folder, "out.safetensors", NULL);
  g_autoptr(GFile) source = g_file_new_for_path (input);
  g_autoptr(GFile) destination = g_file_new_for_path (output);
  g_autoptr(GError) error = NULL;

  g_assert_false (safetensors_import_pytorch (source, destination, SAFETENSORS_IMPORT_FLAGS_NONE,
                                              "optimizer.state.99", NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "the dict at “optimizer.state” has no “99”"));
  g_clear_error (&error);

  g_assert_false (safetensors_import_pytorch (source, destination, SAFETENSORS_IMPORT_FLAGS_ALL,
                                              "state_dict", NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* A list index, and an attribute of an argparse.Namespace. */
  g_assert_true (safetensors_import_pytorch (source, destination,
                                             SAFETENSORS_IMPORT_FLAGS_EXTRAS_TO_METADATA,
                                             "args.layers.1", NULL, &error));
  g_assert_no_error (error);
  {
    g_autoptr(SafetensorsFile) st = safetensors_file_open (destination, 0, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (safetensors_file_get_metadata_value (st, "args.layers.1"), ==, "32");
  }

  g_assert_cmpuint (count_entries (folder), ==, 1);
  remove_folder (folder);
}

static void
test_missing_input (void)
{
  g_autofree char *folder = make_folder ();
  g_autofree char *input = g_build_filename (folder, "nope.pt", NULL);
  g_autofree char *output = g_build_filename (folder, "out.safetensors", NULL);
  g_autoptr(GFile) source = g_file_new_for_path (input);
  g_autoptr(GFile) destination = g_file_new_for_path (output);
  g_autoptr(GError) error = NULL;

  g_assert_false (safetensors_import_pytorch (source, destination, 0, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpuint (count_entries (folder), ==, 0);
  remove_folder (folder);
}

/* Patches one central directory entry (@entry, 46 bytes of fixed fields
 * then @name); TRUE when it changed it. */
typedef gboolean (*EntryPatch) (guint8     *entry,
                                const char *name,
                                guint16     name_len);

/* Copies fixture @fixture to @path with @patch applied to its central
 * directory entries; at least one must have been patched. */
static void
write_patched_copy (const char  *fixture,
                    const char  *path,
                    EntryPatch   patch)
{
  g_autofree char *input = data_path (fixture);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  guint n_patched = 0;

  g_file_get_contents (input, &contents, &len, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i + 46 < len; i++)
    {
      guint8 *entry = (guint8 *) contents + i;
      guint16 name_len = entry[28] | (entry[29] << 8);

      if (memcmp (entry, "PK\x01\x02", 4) == 0 && i + 46 + name_len <= len &&
          patch (entry, (const char *) entry + 46, name_len))
        n_patched++;
    }
  g_assert_cmpuint (n_patched, >, 0);
  g_file_set_contents (path, contents, len, &error);
  g_assert_no_error (error);
}

/* Spoils the CRC of data/0. */
static gboolean
spoil_first_crc (guint8     *entry,
                 const char *name,
                 guint16     name_len)
{
  if (name_len < 7 || memcmp (name + name_len - 7, "/data/0", 7) != 0)
    return FALSE;
  entry[16] ^= 0xff;
  return TRUE;
}

/* Says the entry starts on disk 1. */
static gboolean
set_disk_number (guint8     *entry,
                 const char *name,
                 guint16     name_len)
{
  entry[34] = 1;
  return TRUE;
}

/* A failure while the data are written (a deflated storage with a bad
 * CRC): the writer is aborted, an existing destination survives. */
static void
test_failure_while_writing (void)
{
  g_autofree char *folder = make_folder ();
  g_autofree char *broken = g_build_filename (folder, "broken.pt", NULL);
  g_autofree char *output = g_build_filename (folder, "out.safetensors", NULL);
  g_autoptr(GFile) source = g_file_new_for_path (broken);
  g_autoptr(GFile) destination = g_file_new_for_path (output);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;

  write_patched_copy ("model_deflate.pt", broken, spoil_first_crc);
  g_file_set_contents (output, "old", 3, &error);
  g_assert_no_error (error);

  g_assert_false (safetensors_import_pytorch (source, destination, 0, NULL, NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "fails its CRC check"));
  g_assert_nonnull (strstr (error->message, ": tensor “"));
  g_clear_error (&error);
  g_file_get_contents (output, &contents, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (contents, ==, "old");
  g_assert_cmpuint (count_entries (folder), ==, 2);
  remove_folder (folder);
}

/* An entry of the central directory that is refused after its name was
 * read (here: it says it starts on another disk) frees the name (found by
 * fuzz-zip; the leak shows under AddressSanitizer). */
static void
test_multi_volume_entry (void)
{
  g_autofree char *folder = make_folder ();
  g_autofree char *broken = g_build_filename (folder, "broken.pt", NULL);
  g_autofree char *output = g_build_filename (folder, "out.safetensors", NULL);
  g_autoptr(GFile) source = g_file_new_for_path (broken);
  g_autoptr(GFile) destination = g_file_new_for_path (output);
  g_autoptr(GError) error = NULL;

  write_patched_copy ("tensor.pt", broken, set_disk_number);

  g_assert_false (safetensors_import_pytorch (source, destination, 0, NULL, NULL, &error));
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "multi-volume"));
  g_assert_cmpuint (count_entries (folder), ==, 1);
  remove_folder (folder);
}

typedef struct
{
  GMainLoop    *loop;
  GCancellable *cancel_on_progress;
  goffset       last_current;
  goffset       total;
  guint         n_progress;
  guint         n_destroyed;
  gboolean      done;
  gboolean      ok;
  GError       *error;
} AsyncData;

static void
on_progress (goffset  current,
             goffset  total,
             gpointer user_data)
{
  AsyncData *data = user_data;

  g_assert_cmpint (current, >=, data->last_current);
  g_assert_cmpint (current, <=, total);
  data->last_current = current;
  data->total = total;
  data->n_progress++;
  if (data->cancel_on_progress != NULL)
    g_cancellable_cancel (data->cancel_on_progress);
}

static void
on_destroy (gpointer user_data)
{
  AsyncData *data = user_data;

  data->n_destroyed++;
}

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  AsyncData *data = user_data;

  data->ok = safetensors_import_pytorch_finish (result, &data->error);
  data->done = TRUE;
}

static void
run_async (const char      *input,
           const char      *output,
           GCancellable    *cancellable,
           AsyncData       *data)
{
  g_autoptr(GFile) source = g_file_new_for_path (input);
  g_autoptr(GFile) destination = g_file_new_for_path (output);

  safetensors_import_pytorch_async (source, destination, SAFETENSORS_IMPORT_FLAGS_ALL, NULL,
                                    G_PRIORITY_DEFAULT, cancellable, on_progress, data, on_destroy,
                                    on_done, data);
  /* The destroy notify comes after the result. */
  while (!data->done || data->n_destroyed == 0)
    g_main_context_iteration (NULL, TRUE);
  /* Nothing is still queued for this import. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
test_async (void)
{
  g_autofree char *input = data_path ("train.pt");
  g_autofree char *folder = make_folder ();
  g_autofree char *output = g_build_filename (folder, "out.safetensors", NULL);
  AsyncData data = { 0 };

  run_async (input, output, NULL, &data);
  g_assert_no_error (data.error);
  g_assert_true (data.ok);
  g_assert_cmpuint (data.n_progress, >=, 2);
  g_assert_cmpint (data.last_current, ==, data.total);
  g_assert_cmpint (data.total, ==, 1476);
  g_assert_cmpuint (data.n_destroyed, ==, 1);
  g_assert_cmpuint (count_entries (folder), ==, 1);
  remove_folder (folder);
}

static void
test_async_cancelled (void)
{
  g_autofree char *input = data_path ("train.pt");
  g_autofree char *folder = make_folder ();
  g_autofree char *output = g_build_filename (folder, "out.safetensors", NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AsyncData data = { 0 };
  AsyncData before = { 0 };

  /* Cancelled from the first progress report: the worker may have
   * finished by then. Either way the result tells the truth. */
  data.cancel_on_progress = cancellable;
  run_async (input, output, cancellable, &data);
  if (data.ok)
    {
      g_assert_no_error (data.error);
      g_assert_cmpuint (count_entries (folder), ==, 1);
      g_unlink (output);
    }
  else
    {
      g_assert_error (data.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpuint (count_entries (folder), ==, 0);
    }
  g_assert_cmpuint (data.n_destroyed, ==, 1);
  g_clear_error (&data.error);

  /* Cancelled before it starts. */
  run_async (input, output, cancellable, &before);
  g_assert_error (before.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (count_entries (folder), ==, 0);
  g_clear_error (&before.error);
  remove_folder (folder);
}

static void
cancel_from_progress (goffset  current,
                      goffset  total,
                      gpointer user_data)
{
  /* The first report comes once the output is created, before any
   * data is written. */
  g_cancellable_cancel (user_data);
}

/* Cancelled once the temporary output exists: nothing is left behind. */
static void
test_cancelled_while_writing (void)
{
  g_autofree char *input = data_path ("model.pt");
  g_autofree char *folder = make_folder ();
  g_autofree char *output = g_build_filename (folder, "out.safetensors", NULL);
  g_autoptr(GFile) source = g_file_new_for_path (input);
  g_autoptr(GFile) destination = g_file_new_for_path (output);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(SafetensorsTorchCheckpoint) checkpoint = NULL;
  g_autoptr(SafetensorsTorchPlan) plan = NULL;
  g_autoptr(GError) error = NULL;

  checkpoint = safetensors_torch_checkpoint_open (source, NULL, &error);
  g_assert_no_error (error);
  plan = safetensors_torch_plan_new (checkpoint, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (safetensors_torch_plan_write (checkpoint, plan, destination, cancel_from_progress,
                                                cancellable, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (count_entries (folder), ==, 0);
  remove_folder (folder);
}

static void
test_plan (void)
{
  g_autofree char *input = data_path ("train.pt");
  g_autoptr(GFile) source = g_file_new_for_path (input);
  g_autoptr(SafetensorsTorchCheckpoint) checkpoint = NULL;
  g_autoptr(SafetensorsTorchPlan) plan = NULL;
  g_autoptr(GError) error = NULL;
  SafetensorsTorchPlanTensor *first;

  checkpoint = safetensors_torch_checkpoint_open (source, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (safetensors_torch_checkpoint_get_format (checkpoint), ==, SAFETENSORS_TORCH_FORMAT_ZIP);
  plan = safetensors_torch_plan_new (checkpoint, SAFETENSORS_IMPORT_FLAGS_NONE, NULL, &error);
  g_assert_no_error (error);

  g_assert_cmpuint (plan->tensors->len, ==, 28);
  g_assert_cmpuint (plan->aliases->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (plan->aliases, 0), ==, "lm_head.weight");
  g_assert_cmpstr (g_ptr_array_index (plan->aliases, 1), ==, "embed.weight");
  /* Layout order: I64 first (dtype descending), then by name. */
  first = g_ptr_array_index (plan->tensors, 0);
  g_assert_cmpstr (first->info->name, ==, "bn.num_batches_tracked");
  g_assert_cmpuint (first->n_bytes, ==, 8);

  g_clear_pointer (&checkpoint, safetensors_torch_checkpoint_free);
  g_clear_pointer (&input, g_free);
  g_clear_object (&source);
  input = data_path ("train_legacy.pt");
  source = g_file_new_for_path (input);
  checkpoint = safetensors_torch_checkpoint_open (source, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (safetensors_torch_checkpoint_get_format (checkpoint), ==, SAFETENSORS_TORCH_FORMAT_LEGACY);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *expected_path = NULL;
  g_autofree char *hostile_manifest = NULL;
  g_autoptr(JsonNode) cases = NULL;
  g_autoptr(JsonNode) hostile = NULL;
  g_autoptr(GPtrArray) case_data = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) hostile_cases = g_ptr_array_new_with_free_func (hostile_case_free);
  g_autoptr(GList) names = NULL;
  JsonArray *array;

  g_test_init (&argc, &argv, NULL);

  expected_path = data_path ("expected.json");
  cases = load_json (expected_path);
  array = json_node_get_array (cases);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *expected = json_array_get_object_element (array, i);
      const char *key = case_key (expected);
      g_autofree char *id = g_strdup_printf ("%s%s%s%s%s",
                                             json_object_get_string_member (expected, "file"),
                                             key != NULL ? "+key=" : "", key != NULL ? key : "",
                                             json_object_get_boolean_member (expected, "all") ? "+all" : "",
                                             json_object_get_boolean_member (expected, "extras_to_metadata") ? "+extras" : "");
      g_autofree char *path = g_strconcat ("/safetensors/torch/convert/", id, NULL);
      g_autofree char *skipped_path = g_strconcat ("/safetensors/torch/skipped/", id, NULL);
      CaseData *data = g_new0 (CaseData, 1);

      data->expected = expected;
      g_ptr_array_add (case_data, data);
      g_test_add_data_func (path, data, test_case);
      g_test_add_data_func (skipped_path, data, test_case_skipped);
    }

  /* Inputs without a local path go through a temporary copy. */
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *expected = json_array_get_object_element (array, i);
      const char *file = json_object_get_string_member (expected, "file");
      CaseData *data;
      g_autofree char *path = NULL;

      if ((!g_str_equal (file, "model_deflate.pt") && !g_str_equal (file, "train_legacy.pt")) ||
          case_key (expected) != NULL || json_object_get_boolean_member (expected, "all"))
        continue;
      data = g_new0 (CaseData, 1);
      data->expected = expected;
      data->backend = TEST_BACKEND_STREAM;
      g_ptr_array_add (case_data, data);
      path = g_strconcat ("/safetensors/torch/convert-remote/", file, NULL);
      g_test_add_data_func (path, data, test_case);
    }

  hostile_manifest = hostile_path ("expected.json");
  hostile = load_json (hostile_manifest);
  names = json_object_get_members (json_node_get_object (hostile));
  for (GList *l = names; l != NULL; l = l->next)
    {
      JsonObject *entry = json_object_get_object_member (json_node_get_object (hostile), l->data);
      HostileCase *c = g_new0 (HostileCase, 1);
      g_autofree char *path = g_strconcat ("/safetensors/torch/hostile/", l->data, NULL);

      c->name = g_strdup (l->data);
      c->code = g_strdup (json_object_get_string_member (entry, "code"));
      c->message = g_strdup (json_object_get_string_member (entry, "message"));
      g_ptr_array_add (hostile_cases, c);
      g_test_add_data_func (path, c, test_hostile);
    }

  g_test_add_func ("/safetensors/torch/key-errors", test_key_errors);
  g_test_add_func ("/safetensors/torch/missing-input", test_missing_input);
  g_test_add_func ("/safetensors/torch/failure-while-writing", test_failure_while_writing);
  g_test_add_func ("/safetensors/torch/multi-volume-entry", test_multi_volume_entry);
  g_test_add_func ("/safetensors/torch/async", test_async);
  g_test_add_func ("/safetensors/torch/async-cancelled", test_async_cancelled);
  g_test_add_func ("/safetensors/torch/cancelled-while-writing", test_cancelled_while_writing);
  g_test_add_func ("/safetensors/torch/plan", test_plan);

  return g_test_run ();
}
