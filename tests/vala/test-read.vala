/* test-read.vala: reading through the generated safetensors-glib-1 VAPI
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

const string[] NAMES = {
  "step", "embedding.bias", "hello", "embedding.weight", "empty", "mask",
};
const uint64 HEADER_SIZE = 464;
const uint64 DATA_START = 472;
const uint64 FILE_SIZE = 694;

struct ExpectedTensor
{
  public string name;
  public Safetensors.DType dtype;
  public uint n_dims;
  public uint64 dim0;
  public uint64 dim1;
  public uint64 begin;
  public uint64 end;
}

const ExpectedTensor[] EXAMPLE_TENSORS = {
  { "step", Safetensors.DType.I64, 0, 0, 0, 0, 8 },
  { "embedding.bias", Safetensors.DType.F64, 1, 6, 0, 8, 56 },
  { "hello", Safetensors.DType.F32, 2, 4, 4, 56, 120 },
  { "embedding.weight", Safetensors.DType.BF16, 2, 8, 6, 120, 216 },
  { "empty", Safetensors.DType.F16, 2, 0, 3, 216, 216 },
  { "mask", Safetensors.DType.BOOL, 2, 2, 3, 216, 222 },
};

string data_dir;
string tmp_dir;

/* ---- helpers ------------------------------------------------------------- */

string example_path ()
{
  return Path.build_filename (data_dir, "example.safetensors");
}

Safetensors.File open_example (Safetensors.OpenFlags flags) throws Error
{
  return new Safetensors.File.open (File.new_for_path (example_path ()), flags, null);
}

/* Decodes little-endian IEEE single-precision values. */
float[] float32s (Bytes bytes)
{
  unowned uint8[] data = bytes.get_data ();
  assert_cmpuint (data.length % 4, CompareOperator.EQ, 0);

  var values = new float[data.length / 4];
  for (int i = 0; i < values.length; i++)
    {
      uint32 bits = (uint32) data[4 * i]
                  | (uint32) data[4 * i + 1] << 8
                  | (uint32) data[4 * i + 2] << 16
                  | (uint32) data[4 * i + 3] << 24;
      float value = 0;
      Memory.copy (&value, &bits, sizeof (float));
      values[i] = value;
    }
  return values;
}

void assert_floats (float[] actual, float[] expected)
{
  assert_cmpint (actual.length, CompareOperator.EQ, expected.length);
  for (int i = 0; i < expected.length; i++)
    assert_cmpfloat (actual[i], CompareOperator.EQ, expected[i]);
}

void assert_shape (uint64[]? shape, uint64[] expected)
{
  int n = shape == null ? 0 : shape.length;
  assert_cmpint (n, CompareOperator.EQ, expected.length);
  for (int i = 0; i < expected.length; i++)
    assert_equal_u64 (shape[i], expected[i]);
}

/* assert_cmpuint() would truncate to 32 bits */
void assert_equal_u64 (uint64 actual, uint64 expected)
{
  if (actual != expected)
    error ("expected %" + uint64.FORMAT + ", got %" + uint64.FORMAT, expected, actual);
}

void assert_safetensors_error (Error e, int code)
{
  assert_true (e.domain == Safetensors.Error.quark ());
  assert_cmpstr (e.domain.to_string (), CompareOperator.EQ, "safetensors-error-quark");
  assert_cmpint (e.code, CompareOperator.EQ, code);
}

string write_tmp (string name, uint8[] contents) throws Error
{
  string path = Path.build_filename (tmp_dir, name);
  FileUtils.set_data (path, contents);
  return path;
}

uint8[] safetensors_contents (string json, uint8[] data)
{
  var text = new StringBuilder (json);
  while (text.len % 8 != 0)
    text.append_c (' ');

  var contents = new ByteArray ();
  uint64 n = text.len;
  for (int i = 0; i < 8; i++)
    contents.append ({ (uint8) (n >> (8 * i)) });
  contents.append (text.str.data);
  contents.append (data);
  return contents.data;
}

/* ---- tests that run with every flag -------------------------------------- */

void test_open (Safetensors.OpenFlags flags)
{
  try
    {
      var st = open_example (flags);

      assert_cmpstr (st.get_file ().get_path (), CompareOperator.EQ, example_path ());
      assert_true (st.get_flags () == flags);
      assert_true (st.flags == flags);
      assert_true (st.is_mapped () == (flags == Safetensors.OpenFlags.NONE));
      assert_equal_u64 (st.get_header_size (), HEADER_SIZE);
      assert_equal_u64 (st.get_data_start (), DATA_START);
      assert_equal_u64 (st.get_size (), FILE_SIZE);
      assert_equal_u64 (st.get_header_bytes ().get_size (), HEADER_SIZE);

      var by_path = new Safetensors.File.for_path (example_path (), flags);
      assert_cmpuint (by_path.get_n_tensors (), CompareOperator.EQ, 6);
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

async void open_async_check (Safetensors.OpenFlags flags) throws Error
{
  var st = yield Safetensors.File.open_async (File.new_for_path (example_path ()),
                                              flags, Priority.DEFAULT, null);
  assert_true (st.is_mapped () == (flags == Safetensors.OpenFlags.NONE));
  var names = st.get_tensor_names ();
  assert_cmpint (names.length, CompareOperator.EQ, NAMES.length);
  for (int i = 0; i < NAMES.length; i++)
    assert_cmpstr (names[i], CompareOperator.EQ, NAMES[i]);

  var bytes = yield st.lookup ("hello").get_bytes_async (Priority.DEFAULT, null);
  assert_floats (float32s (bytes), { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 });

  /* an error delivered through the async path */
  string bad = write_tmp ("async-%u.safetensors".printf (flags), { 1, 2, 3 });
  try
    {
      yield Safetensors.File.open_async (File.new_for_path (bad), flags, Priority.DEFAULT, null);
      assert_not_reached ();
    }
  catch (Safetensors.Error.HEADER_TOO_SMALL e)
    {
      assert_safetensors_error (e, Safetensors.Error.HEADER_TOO_SMALL);
    }
}

void test_open_async (Safetensors.OpenFlags flags)
{
  var loop = new MainLoop ();
  Error? failure = null;

  open_async_check.begin (flags, (obj, res) => {
    try
      {
        open_async_check.end (res);
      }
    catch (Error e)
      {
        failure = e;
      }
    loop.quit ();
  });
  loop.run ();

  if (failure != null)
    error ("%s", failure.message);
}

void test_names (Safetensors.OpenFlags flags)
{
  try
    {
      var st = open_example (flags);
      var names = st.get_tensor_names ();

      assert_cmpuint (st.get_n_tensors (), CompareOperator.EQ, 6);
      assert_cmpint (names.length, CompareOperator.EQ, NAMES.length);
      for (int i = 0; i < NAMES.length; i++)
        assert_cmpstr (names[i], CompareOperator.EQ, NAMES[i]);
      assert_true (st.contains ("hello"));
      assert_false (st.contains ("hell"));
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

void test_list_model (Safetensors.OpenFlags flags)
{
  try
    {
      ListModel model = open_example (flags);

      assert_true (model.get_item_type () == typeof (Safetensors.Tensor));
      assert_cmpuint (model.get_n_items (), CompareOperator.EQ, 6);
      for (uint i = 0; i < NAMES.length; i++)
        {
          var tensor = model.get_item (i) as Safetensors.Tensor;
          assert_nonnull (tensor);
          assert_cmpstr (tensor.get_name (), CompareOperator.EQ, NAMES[i]);
        }
      assert_null (model.get_item (6));
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

void test_lookup (Safetensors.OpenFlags flags)
{
  try
    {
      var st = open_example (flags);

      foreach (var expected in EXAMPLE_TENSORS)
        {
          var tensor = st.lookup (expected.name);
          uint64[] dims = {};
          uint64 n_elements = 1;
          uint64 begin, end;

          if (expected.n_dims >= 1)
            dims += expected.dim0;
          if (expected.n_dims >= 2)
            dims += expected.dim1;
          foreach (var d in dims)
            n_elements *= d;

          assert_cmpstr (tensor.get_name (), CompareOperator.EQ, expected.name);
          assert_cmpstr (tensor.name, CompareOperator.EQ, expected.name);
          assert_true (tensor.get_dtype () == expected.dtype);
          assert_true (tensor.dtype == expected.dtype);
          assert_cmpuint (tensor.get_n_dims (), CompareOperator.EQ, expected.n_dims);
          assert_cmpuint (tensor.n_dims, CompareOperator.EQ, expected.n_dims);
          assert_shape (tensor.get_shape (), dims);
          assert_equal_u64 (tensor.get_n_elements (), n_elements);
          assert_equal_u64 (tensor.n_elements, n_elements);
          assert_equal_u64 (tensor.get_n_bytes (), expected.end - expected.begin);
          assert_equal_u64 (tensor.n_bytes, expected.end - expected.begin);
          tensor.get_data_offsets (out begin, out end);
          assert_equal_u64 (begin, expected.begin);
          assert_equal_u64 (end, expected.end);
          assert_equal_u64 (tensor.get_file_offset (), DATA_START + expected.begin);
          assert_equal_u64 (tensor.file_offset, DATA_START + expected.begin);
          assert_equal_u64 (tensor.get_n_bytes () * 8, n_elements * expected.dtype.get_bits ());
        }
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

void test_get_bytes (Safetensors.OpenFlags flags)
{
  try
    {
      var st = open_example (flags);

      var hello = st.lookup ("hello").get_bytes (null);
      assert_equal_u64 (hello.get_size (), 64);
      assert_floats (float32s (hello), { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 });

      unowned uint8[] step = st.lookup ("step").get_bytes (null).get_data ();
      int64 value = 0;
      for (int i = 7; i >= 0; i--)
        value = (value << 8) | step[i];
      assert_cmpint ((int) value, CompareOperator.EQ, 1234);

      var mask_bytes = st.lookup ("mask").get_bytes (null);
      assert_true (mask_bytes.compare (new Bytes ({ 1, 0, 1, 0, 1, 1 })) == 0);

      assert_equal_u64 (st.lookup ("empty").get_bytes (null).get_size (), 0);
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

void test_read_slice (Safetensors.OpenFlags flags)
{
  try
    {
      var hello = open_example (flags).lookup ("hello");
      uint64[]? shape = null;
      Bytes bytes;

      bytes = hello.read_slice (new Safetensors.Slice.parse ("1:3, ::2"), out shape, null);
      assert_shape (shape, { 2, 2 });
      assert_floats (float32s (bytes), { 4, 6, 8, 10 });

      bytes = hello.read_slice (new Safetensors.Slice.parse ("-1"), out shape, null);
      assert_shape (shape, { 4 });
      assert_floats (float32s (bytes), { 12, 13, 14, 15 });

      bytes = hello.read_slice (new Safetensors.Slice.parse ("::-1, 0"), out shape, null);
      assert_shape (shape, { 4 });
      assert_floats (float32s (bytes), { 12, 8, 4, 0 });

      bytes = hello.read_slice (new Safetensors.Slice.parse ("2, 3"), out shape, null);
      assert_shape (shape, {});
      assert_floats (float32s (bytes), { 11 });

      var slice = new Safetensors.Slice ();
      slice.add_range (1, 3, 1);
      slice.add_range (Safetensors.SLICE_NONE, Safetensors.SLICE_NONE, 2);
      assert_cmpuint (slice.get_n_items (), CompareOperator.EQ, 2);
      bytes = hello.read_slice (slice, out shape, null);
      assert_shape (shape, { 2, 2 });
      assert_floats (float32s (bytes), { 4, 6, 8, 10 });

      foreach (var expression in new string[] { "4", "-5", "0, 4", "0, 0, 0" })
        {
          try
            {
              hello.read_slice (new Safetensors.Slice.parse (expression), out shape, null);
              error ("slice “%s” did not fail", expression);
            }
          catch (Safetensors.Error.INVALID_SLICE e)
            {
              assert_safetensors_error (e, Safetensors.Error.INVALID_SLICE);
            }
        }
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

void test_metadata (Safetensors.OpenFlags flags)
{
  try
    {
      var st = open_example (flags);
      HashTable<string, string> metadata = st.get_metadata ();

      assert_cmpuint (metadata.size (), CompareOperator.EQ, 2);
      assert_cmpstr (metadata["description"], CompareOperator.EQ, "safetensors-glib example");
      assert_cmpstr (metadata["format"], CompareOperator.EQ, "pt");

      var keys = st.get_metadata_keys ();
      assert_cmpint (keys.length, CompareOperator.EQ, 2);
      assert_cmpstr (keys[0], CompareOperator.EQ, "description");
      assert_cmpstr (keys[1], CompareOperator.EQ, "format");

      assert_cmpstr (st.get_metadata_value ("format"), CompareOperator.EQ, "pt");
      assert_null (st.get_metadata_value ("missing"));
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

void test_errors (Safetensors.OpenFlags flags)
{
  try
    {
      var st = open_example (flags);
      try
        {
          st.lookup ("nope");
          assert_not_reached ();
        }
      catch (Safetensors.Error.TENSOR_NOT_FOUND e)
        {
          assert_safetensors_error (e, Safetensors.Error.TENSOR_NOT_FOUND);
          assert_true ("nope" in e.message);
        }

      string truncated = write_tmp ("truncated-%u.safetensors".printf (flags),
                                    { 60, 0, 0, 0, 0, 0, 0, 0 });
      try
        {
          new Safetensors.File.open (File.new_for_path (truncated), flags, null);
          assert_not_reached ();
        }
      catch (Safetensors.Error.INVALID_HEADER_LENGTH e)
        {
          assert_safetensors_error (e, Safetensors.Error.INVALID_HEADER_LENGTH);
          assert_true (Path.get_basename (truncated) in e.message);
        }

      string overlap = write_tmp ("overlap-%u.safetensors".printf (flags), safetensors_contents (
        """{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},""" +
        """"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}""",
        { 0, 0, 0, 0, 0, 0 }));
      try
        {
          new Safetensors.File.open (File.new_for_path (overlap), flags, null);
          assert_not_reached ();
        }
      catch (Safetensors.Error.INVALID_OFFSET e)
        {
          assert_safetensors_error (e, Safetensors.Error.INVALID_OFFSET);
        }

      try
        {
          new Safetensors.File.open (File.new_for_path (Path.build_filename (tmp_dir, "missing")),
                                 flags, null);
          assert_not_reached ();
        }
      catch (IOError.NOT_FOUND e)
        {
        }
    }
  catch (Error e)
    {
      error ("%s: %s", e.domain.to_string (), e.message);
    }
}

/* ---- tests that run once ------------------------------------------------- */

void test_slice_parse_error ()
{
  try
    {
      new Safetensors.Slice.parse ("x");
      assert_not_reached ();
    }
  catch (Safetensors.Error.INVALID_SLICE e)
    {
      assert_safetensors_error (e, Safetensors.Error.INVALID_SLICE);
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

void test_dtype ()
{
  Safetensors.DType dtype;

  assert_cmpstr (Safetensors.DType.BF16.to_string (), CompareOperator.EQ, "BF16");
  assert_cmpuint (Safetensors.DType.F64.get_bits (), CompareOperator.EQ, 64);
  assert_true (Safetensors.DType.from_string ("F32", out dtype));
  assert_true (dtype == Safetensors.DType.F32);
  assert_false (Safetensors.DType.from_string ("f32", out dtype));
}

/* A GFile without a local path goes through a seekable stream. */
void test_non_local ()
{
  string? compiler = Environment.find_program_in_path ("glib-compile-resources");
  if (compiler == null)
    {
      Test.skip ("glib-compile-resources is not installed");
      return;
    }

  try
    {
      string xml = write_tmp ("example.gresource.xml",
        ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" +
         "<gresources><gresource prefix=\"/org/safetensors/vala\">" +
         "<file>example.safetensors</file></gresource></gresources>\n").data);
      string bundle = Path.build_filename (tmp_dir, "example.gresource");
      int status;

      Process.spawn_sync (null, { compiler, "--sourcedir", data_dir, "--target", bundle, xml },
                          null, SpawnFlags.SEARCH_PATH, null, null, null, out status);
      Process.check_wait_status (status);

      var resource = Resource.load (bundle);
      resources_register (resource);

      var file = File.new_for_uri ("resource:///org/safetensors/vala/example.safetensors");
      assert_null (file.get_path ());
      var st = new Safetensors.File.open (file, Safetensors.OpenFlags.NONE, null);
      assert_false (st.is_mapped ());
      assert_equal_u64 (st.get_size (), FILE_SIZE);
      assert_cmpuint (st.get_n_tensors (), CompareOperator.EQ, 6);

      var hello = st.lookup ("hello");
      assert_floats (float32s (hello.get_bytes (null)),
                     { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 });
      uint64[]? shape;
      var bytes = hello.read_slice (new Safetensors.Slice.parse ("1:3, ::2"), out shape, null);
      assert_shape (shape, { 2, 2 });
      assert_floats (float32s (bytes), { 4, 6, 8, 10 });

      resources_unregister (resource);
      FileUtils.unlink (bundle);
    }
  catch (Error e)
    {
      error ("%s", e.message);
    }
}

delegate void FlagsTestFunc (Safetensors.OpenFlags flags);

void add_flags_test (string name, Safetensors.OpenFlags flags, string label, FlagsTestFunc func)
{
  Test.add_data_func ("/safetensors/vala/%s/%s".printf (name, label), () => func (flags));
}

int main (string[] args)
{
  Test.init (ref args);

  data_dir = Environment.get_variable ("SAFETENSORS_TEST_DATA")
             ?? Test.build_filename (Test.FileType.DIST, "..", "data");
  try
    {
      tmp_dir = DirUtils.make_tmp ("safetensors-vala-XXXXXX");
    }
  catch (FileError e)
    {
      error ("%s", e.message);
    }

  string[] labels = { "none", "no-mmap" };
  Safetensors.OpenFlags[] all_flags = { Safetensors.OpenFlags.NONE, Safetensors.OpenFlags.NO_MMAP };
  for (int i = 0; i < all_flags.length; i++)
    {
      add_flags_test ("open", all_flags[i], labels[i], test_open);
      add_flags_test ("open-async", all_flags[i], labels[i], test_open_async);
      add_flags_test ("names", all_flags[i], labels[i], test_names);
      add_flags_test ("list-model", all_flags[i], labels[i], test_list_model);
      add_flags_test ("lookup", all_flags[i], labels[i], test_lookup);
      add_flags_test ("get-bytes", all_flags[i], labels[i], test_get_bytes);
      add_flags_test ("read-slice", all_flags[i], labels[i], test_read_slice);
      add_flags_test ("metadata", all_flags[i], labels[i], test_metadata);
      add_flags_test ("errors", all_flags[i], labels[i], test_errors);
    }
  Test.add_func ("/safetensors/vala/slice-parse-error", test_slice_parse_error);
  Test.add_func ("/safetensors/vala/dtype", test_dtype);
  Test.add_func ("/safetensors/vala/non-local", test_non_local);

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
