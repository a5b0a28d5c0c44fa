/* test-torch.vala: PyTorch import through the generated VAPI: the plan,
 * an async write with bytes-written notifications, errors as
 * Safetensors.Error
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

string torch_dir;
string tmp_dir;

File torch_file (string name)
{
  return File.new_for_path (Path.build_filename (torch_dir, name));
}

int find_tensor (Safetensors.PytorchImport imp, string name)
{
  for (uint i = 0; i < imp.get_n_tensors (); i++)
    if (imp.get_tensor_name (i) == name)
      return (int) i;
  return -1;
}

void test_plan ()
{
  try
    {
      var imp = new Safetensors.PytorchImport (torch_file ("model.pt"),
                                               Safetensors.ImportFlags.NONE, null);
      uint64 sum = 0;

      assert_cmpuint (imp.get_n_tensors (), CompareOperator.EQ, 28);
      assert_cmpint (find_tensor (imp, "lm_head.weight"), CompareOperator.EQ, -1);
      assert_cmpstr (imp.get_aliases ().lookup ("lm_head.weight"), CompareOperator.EQ,
                     "embed.weight");
      assert_cmpstr (imp.get_metadata ().lookup ("format"), CompareOperator.EQ, "pt");
      assert_cmpint (imp.get_skipped ().length, CompareOperator.EQ, 0);

      int conv = find_tensor (imp, "conv.weight");
      assert_cmpint (conv, CompareOperator.GE, 0);
      assert_true (imp.get_tensor_dtype (conv) == Safetensors.DType.F32);
      unowned uint64[]? shape = imp.get_tensor_shape (conv);
      assert_cmpint (shape.length, CompareOperator.EQ, 4);
      assert_true (shape[0] == 2 && shape[1] == 1 && shape[2] == 3 && shape[3] == 3);

      for (uint i = 0; i < imp.get_n_tensors (); i++)
        sum += imp.get_tensor_size (i);
      assert_true (sum == imp.total_bytes);
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

void test_skipped ()
{
  try
    {
      var imp = new Safetensors.PytorchImport (torch_file ("train.pt"),
                                               Safetensors.ImportFlags.ALL, null);
      string[] skipped = imp.get_skipped ();

      assert_cmpstr (skipped[0], CompareOperator.EQ, "epoch");
      assert_cmpstr (imp.get_skip_reason ("epoch"), CompareOperator.EQ, "int");
      assert_null (imp.get_skip_reason ("state_dict.fc.weight"));
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

void test_errors ()
{
  try
    {
      new Safetensors.PytorchImport (File.new_for_path (Path.build_filename (torch_dir, "hostile",
                                                                              "posix_system_reduce.pt")),
                                     Safetensors.ImportFlags.NONE, null);
      assert_not_reached ();
    }
  catch (Safetensors.Error.UNSAFE_PICKLE e)
    {
      assert_true ("posix.system" in e.message);
    }
  catch (Error e)
    {
      error ("unexpected: %s", e.message);
    }

  try
    {
      new Safetensors.PytorchImport (torch_file ("model.pt"), Safetensors.ImportFlags.NONE,
                                     "no.such");
      assert_not_reached ();
    }
  catch (Safetensors.Error.INVALID_ARGUMENT e)
    {
    }
  catch (Error e)
    {
      error ("unexpected: %s", e.message);
    }
}

async void write_and_check (Safetensors.PytorchImport imp, File destination) throws Error
{
  uint64 last = 0;
  bool decreased = false;

  imp.notify["bytes-written"].connect (() => {
    if (imp.bytes_written < last)
      decreased = true;
    last = imp.bytes_written;
  });
  yield imp.write_async (destination, Priority.DEFAULT, null);

  assert_false (decreased);
  assert_true (last == imp.total_bytes);
}

void test_write_async ()
{
  var loop = new MainLoop ();
  var destination = File.new_for_path (Path.build_filename (tmp_dir, "model.safetensors"));

  try
    {
      var imp = new Safetensors.PytorchImport (torch_file ("model.pt"),
                                               Safetensors.ImportFlags.NONE, null);

      write_and_check.begin (imp, destination, (obj, res) => {
        try
          {
            write_and_check.end (res);
          }
        catch (Error e)
          {
            error ("%s", e.message);
          }
        loop.quit ();
      });
      loop.run ();

      var file = new Safetensors.File.open (destination, Safetensors.OpenFlags.NONE, null);
      assert_cmpuint (file.get_n_tensors (), CompareOperator.EQ, imp.get_n_tensors ());
      assert_cmpstr (file.get_metadata_value ("lm_head.weight"), CompareOperator.EQ,
                     "embed.weight");
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
  FileUtils.unlink (destination.get_path ());
}

int main (string[] args)
{
  Test.init (ref args);

  torch_dir = Path.build_filename (Environment.get_variable ("SAFETENSORS_TEST_DATA")
                                   ?? Test.build_filename (Test.FileType.DIST, "..", "data"),
                                   "torch");
  try
    {
      tmp_dir = DirUtils.make_tmp ("safetensors-vala-torch-XXXXXX");
    }
  catch (FileError e)
    {
      error ("%s", e.message);
    }

  Test.add_func ("/safetensors/vala/torch/plan", test_plan);
  Test.add_func ("/safetensors/vala/torch/skipped", test_skipped);
  Test.add_func ("/safetensors/vala/torch/errors", test_errors);
  Test.add_func ("/safetensors/vala/torch/write-async", test_write_async);

  int result = Test.run ();
  DirUtils.remove (tmp_dir);
  return result;
}
