/* test-pytorch-import.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * SafetensorsPytorchImport from C: the plan (a dry run) of a checkpoint
 * made by tests/data/torch/generate.py, writing it, asynchronously with
 * bytes-written notifications, one write at a time, cancellation.
 */

#include <glib/gstdio.h>

#include "test-util.h"

static SafetensorsPytorchImport *
open_model (SafetensorsImportFlags flags)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "torch", "model.pt", NULL);
  g_autoptr(GFile) source = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;
  SafetensorsPytorchImport *imp;

  imp = safetensors_pytorch_import_new (source, flags, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (imp);
  return imp;
}

static gint
find_tensor (SafetensorsPytorchImport *imp,
             const char               *name)
{
  for (guint i = 0; i < safetensors_pytorch_import_get_n_tensors (imp); i++)
    if (g_str_equal (safetensors_pytorch_import_get_tensor_name (imp, i), name))
      return (gint) i;
  return -1;
}

static void
test_plan (void)
{
  g_autoptr(SafetensorsPytorchImport) imp = open_model (SAFETENSORS_IMPORT_FLAGS_NONE);
  GHashTable *aliases = safetensors_pytorch_import_get_aliases (imp);
  GHashTable *metadata = safetensors_pytorch_import_get_metadata (imp);
  g_auto(GStrv) skipped = safetensors_pytorch_import_get_skipped (imp);
  const guint64 *shape;
  guint64 sum = 0;
  guint n_dims;
  gint i;

  /* generate.py's state_dict: 29 names, lm_head.weight tied to embed.weight. */
  g_assert_cmpuint (safetensors_pytorch_import_get_n_tensors (imp), ==, 28);
  g_assert_cmpint (find_tensor (imp, "lm_head.weight"), ==, -1);
  g_assert_cmpuint (g_hash_table_size (aliases), ==, 1);
  g_assert_cmpstr (g_hash_table_lookup (aliases, "lm_head.weight"), ==, "embed.weight");
  g_assert_cmpstr (g_hash_table_lookup (metadata, "format"), ==, "pt");
  g_assert_cmpstr (g_hash_table_lookup (metadata, "lm_head.weight"), ==, "embed.weight");
  g_assert_cmpuint (g_strv_length (skipped), ==, 0);

  i = find_tensor (imp, "conv.weight");
  g_assert_cmpint (i, >=, 0);
  g_assert_cmpint (safetensors_pytorch_import_get_tensor_dtype (imp, i), ==, SAFETENSORS_DTYPE_F32);
  shape = safetensors_pytorch_import_get_tensor_shape (imp, i, &n_dims);
  g_assert_cmpuint (n_dims, ==, 4);
  g_assert_cmpuint (shape[0], ==, 2);
  g_assert_cmpuint (shape[1], ==, 1);
  g_assert_cmpuint (shape[2], ==, 3);
  g_assert_cmpuint (shape[3], ==, 3);
  g_assert_cmpuint (safetensors_pytorch_import_get_tensor_size (imp, i), ==, 2 * 9 * 4);

  i = find_tensor (imp, "scalar");
  g_assert_cmpint (i, >=, 0);
  safetensors_pytorch_import_get_tensor_shape (imp, i, &n_dims);
  g_assert_cmpuint (n_dims, ==, 0);

  for (guint k = 0; k < safetensors_pytorch_import_get_n_tensors (imp); k++)
    sum += safetensors_pytorch_import_get_tensor_size (imp, k);
  g_assert_cmpuint (safetensors_pytorch_import_get_total_bytes (imp), ==, sum);
  g_assert_cmpuint (safetensors_pytorch_import_get_bytes_written (imp), ==, 0);
}

static void
test_skipped (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "torch", "train.pt", NULL);
  g_autoptr(GFile) source = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsPytorchImport) imp = NULL;
  g_auto(GStrv) skipped = NULL;

  imp = safetensors_pytorch_import_new (source, SAFETENSORS_IMPORT_FLAGS_ALL, NULL, NULL, &error);
  g_assert_no_error (error);
  skipped = safetensors_pytorch_import_get_skipped (imp);
  g_assert_cmpstr (skipped[0], ==, "epoch");
  g_assert_cmpstr (safetensors_pytorch_import_get_skip_reason (imp, "epoch"), ==, "int");
  g_assert_cmpstr (safetensors_pytorch_import_get_skip_reason (imp, "args"), ==, "argparse.Namespace");
  g_assert_null (safetensors_pytorch_import_get_skip_reason (imp, "state_dict.fc.weight"));

  /* Stored in the metadata, they are not skipped any more. */
  g_clear_object (&imp);
  g_clear_pointer (&skipped, g_strfreev);
  imp = safetensors_pytorch_import_new (source, SAFETENSORS_IMPORT_FLAGS_ALL |
                                        SAFETENSORS_IMPORT_FLAGS_EXTRAS_TO_METADATA,
                                        NULL, NULL, &error);
  g_assert_no_error (error);
  skipped = safetensors_pytorch_import_get_skipped (imp);
  g_assert_null (safetensors_pytorch_import_get_skip_reason (imp, "epoch"));
  g_assert_nonnull (g_hash_table_lookup (safetensors_pytorch_import_get_metadata (imp), "epoch"));
}

static void
test_errors (void)
{
  g_autofree char *hostile = g_test_build_filename (G_TEST_DIST, "data", "torch", "hostile",
                                                    "posix_system_reduce.pt", NULL);
  g_autofree char *model = g_test_build_filename (G_TEST_DIST, "data", "torch", "model.pt", NULL);
  g_autoptr(GFile) hostile_file = g_file_new_for_path (hostile);
  g_autoptr(GFile) model_file = g_file_new_for_path (model);
  g_autoptr(GError) error = NULL;
  SafetensorsPytorchImport *imp;

  imp = safetensors_pytorch_import_new (hostile_file, SAFETENSORS_IMPORT_FLAGS_NONE, NULL,
                                        NULL, &error);
  g_assert_null (imp);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSAFE_PICKLE);
  g_assert_nonnull (strstr (error->message, "posix.system"));
  g_assert_nonnull (strstr (error->message, "posix_system_reduce.pt"));
  g_clear_error (&error);

  imp = safetensors_pytorch_import_new (model_file, SAFETENSORS_IMPORT_FLAGS_NONE, "no.such",
                                        NULL, &error);
  g_assert_null (imp);
  g_assert_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT);
}

typedef struct
{
  GMainLoop *loop;
  GThread   *thread;
  gboolean   ok;
  GError    *error;
  guint      n_notifies;
  guint64    last;
  gboolean   decreased;
} AsyncState;

static void
on_bytes_written (GObject    *object,
                  GParamSpec *pspec,
                  gpointer    user_data)
{
  AsyncState *state = user_data;
  guint64 now = safetensors_pytorch_import_get_bytes_written (SAFETENSORS_PYTORCH_IMPORT (object));

  /* Always in the thread that started the write. */
  g_assert_true (g_thread_self () == state->thread);
  if (now < state->last)
    state->decreased = TRUE;
  state->last = now;
  state->n_notifies++;
}

static void
on_written (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  AsyncState *state = user_data;

  state->ok = safetensors_pytorch_import_write_finish (SAFETENSORS_PYTORCH_IMPORT (object),
                                                       result, &state->error);
  g_main_loop_quit (state->loop);
}

static void
test_write_async (void)
{
  g_autoptr(SafetensorsPytorchImport) imp = open_model (SAFETENSORS_IMPORT_FLAGS_NONE);
  g_autofree char *dir = g_dir_make_tmp ("pytorch-import-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "out.safetensors", NULL);
  g_autofree char *other = g_build_filename (dir, "other.safetensors", NULL);
  g_autoptr(GFile) destination = g_file_new_for_path (path);
  g_autoptr(GFile) other_file = g_file_new_for_path (other);
  g_autoptr(GError) error = NULL;
  g_autoptr(SafetensorsFile) file = NULL;
  AsyncState state = { 0 };

  state.loop = g_main_loop_new (NULL, FALSE);
  state.thread = g_thread_self ();
  g_signal_connect (imp, "notify::bytes-written", G_CALLBACK (on_bytes_written), &state);
  safetensors_pytorch_import_write_async (imp, destination, G_PRIORITY_DEFAULT, NULL,
                                          on_written, &state);

  /* One write at a time. */
  g_assert_false (safetensors_pytorch_import_write (imp, other_file, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);

  g_main_loop_run (state.loop);
  g_assert_no_error (state.error);
  g_assert_true (state.ok);
  g_assert_cmpuint (state.n_notifies, >=, 1);
  g_assert_false (state.decreased);
  g_assert_cmpuint (state.last, ==, safetensors_pytorch_import_get_total_bytes (imp));
  g_assert_false (g_file_test (other, G_FILE_TEST_EXISTS));

  file = safetensors_file_open (destination, SAFETENSORS_OPEN_FLAGS_NONE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (file)), ==,
                    safetensors_pytorch_import_get_n_tensors (imp));

  /* Free for another write once finished; cancelled, it leaves nothing. */
  {
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();

    g_cancellable_cancel (cancellable);
    g_assert_false (safetensors_pytorch_import_write (imp, other_file, cancellable, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&error);
    g_assert_false (g_file_test (other, G_FILE_TEST_EXISTS));
  }
  g_assert_true (safetensors_pytorch_import_write (imp, other_file, NULL, &error));
  g_assert_no_error (error);

  g_main_loop_unref (state.loop);
  g_unlink (path);
  g_unlink (other);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/safetensors/pytorch-import/plan", test_plan);
  g_test_add_func ("/safetensors/pytorch-import/skipped", test_skipped);
  g_test_add_func ("/safetensors/pytorch-import/errors", test_errors);
  g_test_add_func ("/safetensors/pytorch-import/write-async", test_write_async);

  return g_test_run ();
}
