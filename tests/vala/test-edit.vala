/* test-edit.vala: creating and editing files through the generated VAPI,
 * with async/yield and try/catch on Safetensors.Error
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

string data_dir;
string tmp_dir;

/* ---- helpers ------------------------------------------------------------- */

/* The bytes of a float array, in the host's (little-endian) order. */
Bytes float_bytes (float[] values)
{
  var data = new uint8[values.length * sizeof (float)];
  Memory.copy (data, values, data.length);
  return new Bytes (data);
}

/* A zero-copy view of float data: valid while @bytes lives. */
unowned float[] float_view (Bytes bytes)
{
  unowned uint8[] data = bytes.get_data ();
  unowned float[] values = (float[]) data;
  values.length = data.length / (int) sizeof (float);
  return values;
}

void assert_floats (Bytes bytes, float[] expected)
{
  unowned float[] actual = float_view (bytes);
  assert_cmpint (actual.length, CompareOperator.EQ, expected.length);
  for (int i = 0; i < expected.length; i++)
    assert_cmpfloat (actual[i], CompareOperator.EQ, expected[i]);
}

void assert_equal_u64 (uint64 actual, uint64 expected)
{
  if (actual != expected)
    error ("expected %" + uint64.FORMAT + ", got %" + uint64.FORMAT, expected, actual);
}

string tmp_path (string name)
{
  return Path.build_filename (tmp_dir, name);
}

string copy_example (string name) throws Error
{
  var path = tmp_path (name);
  File.new_for_path (Path.build_filename (data_dir, "example.safetensors"))
    .copy (File.new_for_path (path), FileCopyFlags.OVERWRITE);
  return path;
}

Safetensors.File open_path (string path, Safetensors.OpenFlags flags) throws Error
{
  return new Safetensors.File.open (File.new_for_path (path), flags);
}

bool has_name (string[] names, string name)
{
  foreach (unowned string n in names)
    if (n == name)
      return true;
  return false;
}

/* ---- tests --------------------------------------------------------------- */

void test_create (Safetensors.OpenFlags backend)
{
  try
    {
      var path = tmp_path ("create-%u.safetensors".printf (backend));
      var sf = open_path (path, Safetensors.OpenFlags.READ_WRITE | Safetensors.OpenFlags.CREATE | backend);
      assert_cmpuint (sf.get_n_tensors (), CompareOperator.EQ, 0);

      sf.add_tensor ("weights", Safetensors.DType.F32, { 2, 2 }, float_bytes ({ 1, 2, 3, 4 }));
      sf.add_tensor ("zeros", Safetensors.DType.U8, { 100 }, null);
      sf.set_metadata_value ("format", "vala");
      assert_true (sf.has_changes ());
      sf.commit ();
      assert_false (sf.has_changes ());
      Safetensors.CommitStats stats = sf.get_commit_stats ();
      assert_true (stats.header_bytes > 0);
      sf.close ();

      var reader = open_path (path, backend);
      assert_cmpuint (reader.get_n_tensors (), CompareOperator.EQ, 2);
      assert_cmpstr (reader.get_metadata_value ("format"), CompareOperator.EQ, "vala");
      var weights = reader.lookup ("weights");
      assert_true (weights.get_dtype () == Safetensors.DType.F32);
      unowned uint64[] shape = weights.get_shape ();
      assert_cmpint (shape.length, CompareOperator.EQ, 2);
      assert_floats (weights.get_bytes (), { 1, 2, 3, 4 });
      foreach (var b in reader.lookup ("zeros").get_bytes ().get_data ())
        assert_cmpuint (b, CompareOperator.EQ, 0);
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

void test_zero_copy (Safetensors.OpenFlags backend)
{
  try
    {
      var sf = open_path (Path.build_filename (data_dir, "example.safetensors"), backend);
      var hello = sf.lookup ("hello");
      var first = hello.get_bytes ();
      var second = hello.get_bytes ();
      /* Mapped: two slices of one mapping. Otherwise: two reads. */
      assert_true ((Safetensors.bytes_get_address (first) == Safetensors.bytes_get_address (second))
                   == (backend == Safetensors.OpenFlags.NONE));
      assert_true (Safetensors.bytes_get_address (first) == (uintptr) first.get_data ());
      unowned float[] values = float_view (first);
      assert_cmpfloat (values[15], CompareOperator.EQ, 15);
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

void test_edit_in_place (Safetensors.OpenFlags backend)
{
  try
    {
      var path = copy_example ("edit-%u.safetensors".printf (backend));
      var sf = open_path (path, Safetensors.OpenFlags.READ_WRITE | backend);

      /* Tensor.write () lands in the file at once. */
      var hello = sf.lookup ("hello");
      hello.write (0, float_bytes ({ -1, -2 }).get_data ());

      sf.replace_tensor ("mask", Safetensors.DType.F32, { 3 }, float_bytes ({ 7, 8, 9 }));
      sf.rename_tensor ("embedding.bias", "bias");
      sf.remove_tensor ("step");
      sf.set_metadata_value ("format", null);
      sf.set_metadata_value ("edited-by", "vala");
      sf.commit ();
      sf.close ();

      var reader = open_path (path, backend);
      var names = reader.get_tensor_names ();
      assert_true (has_name (names, "bias"));
      assert_false (has_name (names, "embedding.bias"));
      assert_false (has_name (names, "step"));
      assert_null (reader.get_metadata_value ("format"));
      assert_cmpstr (reader.get_metadata_value ("edited-by"), CompareOperator.EQ, "vala");
      assert_floats (reader.lookup ("mask").get_bytes (), { 7, 8, 9 });
      assert_floats (reader.lookup ("hello").get_bytes (),
                     { -1, -2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 });
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

void test_rollback (Safetensors.OpenFlags backend)
{
  try
    {
      var path = copy_example ("rollback-%u.safetensors".printf (backend));
      uint8[] before;
      FileUtils.get_data (path, out before);

      var sf = open_path (path, Safetensors.OpenFlags.READ_WRITE | backend);
      sf.add_tensor ("new", Safetensors.DType.F64, { 1000 }, null);
      sf.remove_tensor ("hello");
      sf.rollback ();
      assert_false (sf.has_changes ());
      assert_true (sf.contains ("hello"));
      assert_false (sf.contains ("new"));
      sf.close ();

      uint8[] after;
      FileUtils.get_data (path, out after);
      assert_true (new Bytes (before).compare (new Bytes (after)) == 0);
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

/* commit_async () started with .begin () and a callback, so that an edit
 * can be tried while it runs; then yield until the callback resumes us. */
async void async_commit (Safetensors.OpenFlags backend) throws Error
{
  var path = copy_example ("async-%u.safetensors".printf (backend));
  var sf = yield Safetensors.File.open_async (File.new_for_path (path),
                                              Safetensors.OpenFlags.READ_WRITE | backend,
                                              Priority.DEFAULT, null);
  sf.add_tensor ("async", Safetensors.DType.F32, { 2 }, float_bytes ({ 0.5f, 1.5f }));

  bool busy = false;
  SourceFunc resume = async_commit.callback;
  Error? commit_error = null;
  bool committed = false;

  sf.commit_async.begin (Priority.DEFAULT, null, (obj, res) => {
    try
      {
        committed = sf.commit_async.end (res);
      }
    catch (Error e)
      {
        commit_error = e;
      }
    resume ();
  });
  /* The layout is planned: edits wait for the commit to finish. */
  try
    {
      sf.remove_tensor ("hello");
    }
  catch (IOError.BUSY e)
    {
      busy = true;
    }
  yield;

  if (commit_error != null)
    throw commit_error;
  assert_true (committed);
  assert_true (busy);
  sf.close ();

  var reader = yield Safetensors.File.open_async (File.new_for_path (path), backend,
                                                  Priority.DEFAULT, null);
  var bytes = yield reader.lookup ("async").get_bytes_async (Priority.DEFAULT, null);
  assert_floats (bytes, { 0.5f, 1.5f });
  assert_floats (reader.lookup ("hello").get_bytes (),
                 { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 });

  /* errors come back from yield as exceptions */
  var garbage = tmp_path ("garbage-%u.safetensors".printf (backend));
  FileUtils.set_data (garbage, { 1, 2, 3 });
  try
    {
      yield Safetensors.File.open_async (File.new_for_path (garbage), backend, Priority.DEFAULT, null);
      error ("opening garbage did not fail");
    }
  catch (Safetensors.Error.HEADER_TOO_SMALL e)
    {
    }
}

void test_async (Safetensors.OpenFlags backend)
{
  var loop = new MainLoop ();
  Error? failure = null;

  async_commit.begin (backend, (obj, res) => {
    try
      {
        async_commit.end (res);
      }
    catch (Error e)
      {
        failure = e;
      }
    loop.quit ();
  });
  loop.run ();

  if (failure != null)
    error ("%s: %s", failure.domain.to_string (), failure.message);
}

void test_keep_free (Safetensors.OpenFlags backend)
{
  try
    {
      var path = tmp_path ("keep-free-%u.safetensors".printf (backend));
      var writer = new Safetensors.Writer (Safetensors.WriterFlags.NONE);
      writer.add_tensor ("big", Safetensors.DType.F32, { 4096 }, null);
      writer.add_tensor ("small", Safetensors.DType.F32, { 2 }, float_bytes ({ 1, 2 }));
      writer.begin (File.new_for_path (path));
      writer.finish ();

      var sf = open_path (path, Safetensors.OpenFlags.READ_WRITE | Safetensors.OpenFlags.KEEP_FREE | backend);
      uint64 offset = sf.lookup ("small").get_file_offset ();
      sf.remove_tensor ("big");
      sf.commit ();
      assert_true (sf.get_free_bytes () > 0);
      assert_equal_u64 (sf.lookup ("small").get_file_offset (), offset);
      assert_equal_u64 (sf.get_commit_stats ().bytes_moved, 0);
      sf.compact ();
      assert_equal_u64 (sf.get_free_bytes (), 0);
      assert_floats (sf.lookup ("small").get_bytes (), { 1, 2 });
      sf.close ();
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

void test_errors (Safetensors.OpenFlags backend)
{
  string path;
  Safetensors.File sf;

  try
    {
      path = copy_example ("errors-%u.safetensors".printf (backend));
      sf = open_path (path, Safetensors.OpenFlags.READ_WRITE | backend);
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }

  /* Each code is its own catch clause... */
  try
    {
      open_path (path, Safetensors.OpenFlags.READ_WRITE | backend);
      assert_not_reached ();
    }
  catch (Safetensors.Error.LOCKED e)
    {
      assert_true (e.domain == Safetensors.Error.quark ());
      assert_true (e is Safetensors.Error.LOCKED);
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }

  try
    {
      sf.add_tensor ("hello", Safetensors.DType.U8, { 1 }, null);
      assert_not_reached ();
    }
  catch (Safetensors.Error.DUPLICATE_NAME e)
    {
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }

  /* ...or one clause for the domain, with a switch on the code. */
  string[] names = { "__metadata__", "x", "nope" };
  for (int i = 0; i < names.length; i++)
    {
      try
        {
          if (i == 0)
            sf.add_tensor (names[i], Safetensors.DType.U8, { 1 }, null);
          else if (i == 1)
            sf.add_tensor (names[i], Safetensors.DType.F32, { 3 }, new Bytes (new uint8[5]));
          else
            sf.lookup (names[i]);
          assert_not_reached ();
        }
      catch (Safetensors.Error e)
        {
          switch (i)
            {
            case 0:
              assert_true (e is Safetensors.Error.RESERVED_NAME);
              break;
            case 1:
              assert_true (e is Safetensors.Error.INVALID_ARGUMENT);
              break;
            default:
              assert_true (e is Safetensors.Error.TENSOR_NOT_FOUND);
              assert_true ("nope" in e.message);
              break;
            }
        }
      catch (Error e)
        {
          error ("%s", e.message);
        }
    }

  try
    {
      sf.close ();
      sf.remove_tensor ("hello");
      assert_not_reached ();
    }
  catch (IOError.CLOSED e)
    {
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }

  try
    {
      var reader = open_path (path, backend);
      reader.remove_tensor ("hello");
      assert_not_reached ();
    }
  catch (Safetensors.Error.READ_ONLY e)
    {
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }

  try
    {
      open_path (tmp_path ("missing.safetensors"), Safetensors.OpenFlags.READ_WRITE | backend);
      assert_not_reached ();
    }
  catch (IOError.NOT_FOUND e)
    {
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

async void writer_async () throws Error
{
  var path = tmp_path ("writer.safetensors");
  var writer = new Safetensors.Writer (Safetensors.WriterFlags.NONE);
  writer.set_metadata_value ("format", "vala");
  writer.add_tensor ("t", Safetensors.DType.F32, { 4, 25 }, null);
  writer.begin (File.new_for_path (path));

  var values = new float[100];
  for (int i = 0; i < values.length; i++)
    values[i] = i;
  var bytes = float_bytes (values);
  unowned uint8[] data = bytes.get_data ();
  for (int i = 0; i < data.length; i += 64)
    writer.write_chunk ("t", data[i:int.min (i + 64, data.length)]);
  assert_true (yield writer.finish_async (Priority.DEFAULT, null));

  var sf = open_path (path, Safetensors.OpenFlags.NONE);
  assert_floats (sf.lookup ("t").get_bytes (), values);
  assert_cmpstr (sf.get_metadata_value ("format"), CompareOperator.EQ, "vala");
}

void test_writer ()
{
  var loop = new MainLoop ();
  writer_async.begin ((obj, res) => {
    try
      {
        writer_async.end (res);
      }
    catch (Error e)
      {
        error ("%s", e.message);
      }
    loop.quit ();
  });
  loop.run ();
}

delegate void FlagsTestFunc (Safetensors.OpenFlags flags);

void add_flags_test (string name, Safetensors.OpenFlags flags, string label, FlagsTestFunc func)
{
  Test.add_data_func ("/safetensors/vala/edit/%s/%s".printf (name, label), () => func (flags));
}

int main (string[] args)
{
  Test.init (ref args);

  data_dir = Environment.get_variable ("SAFETENSORS_TEST_DATA")
             ?? Test.build_filename (Test.FileType.DIST, "..", "data");
  try
    {
      tmp_dir = DirUtils.make_tmp ("safetensors-vala-edit-XXXXXX");
    }
  catch (FileError e)
    {
      error ("%s", e.message);
    }

  string[] labels = { "mmap", "no-mmap" };
  Safetensors.OpenFlags[] backends = { Safetensors.OpenFlags.NONE, Safetensors.OpenFlags.NO_MMAP };
  for (int i = 0; i < backends.length; i++)
    {
      add_flags_test ("create", backends[i], labels[i], test_create);
      add_flags_test ("zero-copy", backends[i], labels[i], test_zero_copy);
      add_flags_test ("in-place", backends[i], labels[i], test_edit_in_place);
      add_flags_test ("rollback", backends[i], labels[i], test_rollback);
      add_flags_test ("async", backends[i], labels[i], test_async);
      add_flags_test ("keep-free", backends[i], labels[i], test_keep_free);
      add_flags_test ("errors", backends[i], labels[i], test_errors);
    }
  Test.add_func ("/safetensors/vala/edit/writer", test_writer);

  int result = Test.run ();

  try
    {
      var dir = Dir.open (tmp_dir);
      unowned string? name;
      while ((name = dir.read_name ()) != null)
        FileUtils.unlink (Path.build_filename (tmp_dir, name));
    }
  catch (FileError e)
    {
      warning ("%s", e.message);
    }
  DirUtils.remove (tmp_dir);

  return result;
}
