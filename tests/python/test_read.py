# test_read.py: reading through the Safetensors-1 typelib from PyGObject
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import os
import shutil
import struct
import subprocess

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Safetensors', '1')

from gi.repository import GLib, Gio, Safetensors  # noqa: E402

import numpy  # noqa: E402
import pytest  # noqa: E402

DATA_DIR = os.environ.get(
    'SAFETENSORS_TEST_DATA',
    os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data'))
EXAMPLE = os.path.join(DATA_DIR, 'example.safetensors')

ERROR_DOMAIN = 'safetensors-error-quark'

# name, dtype, shape, data_offsets, in data-offset order
EXAMPLE_TENSORS = [
    ('step', Safetensors.DType.I64, [], (0, 8)),
    ('embedding.bias', Safetensors.DType.F64, [6], (8, 56)),
    ('hello', Safetensors.DType.F32, [4, 4], (56, 120)),
    ('embedding.weight', Safetensors.DType.BF16, [8, 6], (120, 216)),
    ('empty', Safetensors.DType.F16, [0, 3], (216, 216)),
    ('mask', Safetensors.DType.BOOL, [2, 3], (216, 222)),
]
HEADER_SIZE = 464
DATA_START = 472
FILE_SIZE = 694

HELLO = numpy.arange(16, dtype='<f4').reshape(4, 4)


def shape_of(tensor):
    # A scalar has no dimensions: the C function returns NULL with n_dims 0.
    shape = tensor.get_shape()
    return [] if shape is None else list(shape)


def as_array(data, dtype, shape):
    return numpy.frombuffer(data.get_data() or b'', dtype=dtype).reshape(shape)


def assert_safetensors_error(excinfo, code):
    error = excinfo.value
    assert error.domain == ERROR_DOMAIN
    assert error.code == int(code)
    assert error.matches(Safetensors.error_quark(), code)


def write_safetensors(path, header, data=b''):
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        f.write(data)
    return path


@pytest.fixture(autouse=True)
def no_library_warnings():
    # A critical from the library means a binding reached a g_return_if_fail.
    messages = []

    def handler(domain, level, message, *user_data):
        messages.append(message)

    levels = GLib.LogLevelFlags.LEVEL_CRITICAL | GLib.LogLevelFlags.LEVEL_WARNING
    handler_id = GLib.log_set_handler('Safetensors', levels, handler, None)
    yield
    GLib.log_remove_handler('Safetensors', handler_id)
    assert messages == []


@pytest.fixture(params=['NONE', 'NO_MMAP'])
def flags(request):
    return getattr(Safetensors.OpenFlags, request.param)


@pytest.fixture
def example(flags):
    return Safetensors.File.open(Gio.File.new_for_path(EXAMPLE), flags, None)


# ---- opening -----------------------------------------------------------------

def test_open_properties(example, flags):
    assert example.get_file().get_path() == os.path.abspath(EXAMPLE)
    assert example.get_flags() == flags
    assert example.props.flags == flags
    assert example.props.file.equal(Gio.File.new_for_path(EXAMPLE))
    assert example.is_mapped() == (flags == Safetensors.OpenFlags.NONE)
    assert example.get_header_size() == HEADER_SIZE
    assert example.get_data_start() == DATA_START
    assert example.get_size() == FILE_SIZE

    header = example.get_header_bytes()
    assert header.get_size() == HEADER_SIZE
    with open(EXAMPLE, 'rb') as f:
        assert header.get_data() == f.read()[8:DATA_START]


def test_new_for_path(flags):
    st = Safetensors.File.new_for_path(EXAMPLE, flags)
    assert isinstance(st, Safetensors.File)
    assert st.get_n_tensors() == 6
    assert st.get_flags() == flags


def test_open_async(flags):
    loop = GLib.MainLoop()
    outcome = {}

    def on_opened(source, result, user_data):
        try:
            outcome['file'] = Safetensors.File.open_finish(result)
        except GLib.Error as e:
            outcome['error'] = e
        user_data.quit()

    Safetensors.File.open_async(Gio.File.new_for_path(EXAMPLE), flags,
                                GLib.PRIORITY_DEFAULT, None, on_opened, loop)
    GLib.timeout_add_seconds(10, loop.quit)
    loop.run()

    assert 'error' not in outcome
    st = outcome['file']
    assert st.get_tensor_names() == [t[0] for t in EXAMPLE_TENSORS]
    assert st.is_mapped() == (flags == Safetensors.OpenFlags.NONE)


def test_open_async_error(tmp_path):
    path = tmp_path / 'short.safetensors'
    path.write_bytes(b'\x01\x02\x03')
    loop = GLib.MainLoop()
    outcome = {}

    def on_opened(source, result, user_data):
        try:
            outcome['file'] = Safetensors.File.open_finish(result)
        except GLib.Error as e:
            outcome['error'] = e
        user_data.quit()

    Safetensors.File.open_async(Gio.File.new_for_path(str(path)),
                                Safetensors.OpenFlags.NONE,
                                GLib.PRIORITY_DEFAULT, None, on_opened, loop)
    GLib.timeout_add_seconds(10, loop.quit)
    loop.run()

    assert 'file' not in outcome
    error = outcome['error']
    assert error.domain == ERROR_DOMAIN
    assert error.code == Safetensors.Error.HEADER_TOO_SMALL


def test_open_missing_file_is_io_error(tmp_path):
    missing = Gio.File.new_for_path(str(tmp_path / 'missing.safetensors'))
    with pytest.raises(GLib.Error) as excinfo:
        Safetensors.File.open(missing, Safetensors.OpenFlags.NONE, None)
    assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND)


# ---- tensors -----------------------------------------------------------------

def test_tensor_names(example):
    assert example.get_n_tensors() == 6
    assert example.get_tensor_names() == [t[0] for t in EXAMPLE_TENSORS]
    assert example.contains('hello')
    assert not example.contains('hell')


def test_list_model(example):
    assert isinstance(example, Gio.ListModel)
    assert example.get_item_type() == Safetensors.Tensor.__gtype__
    assert example.get_n_items() == 6
    for position, (name, _, _, _) in enumerate(EXAMPLE_TENSORS):
        item = example.get_item(position)
        assert isinstance(item, Safetensors.Tensor)
        assert item.get_name() == name
    assert example.get_item(6) is None
    # PyGObject's Gio.ListModel override
    assert len(example) == 6
    assert [t.props.name for t in example] == [t[0] for t in EXAMPLE_TENSORS]


@pytest.mark.parametrize('name,dtype,shape,offsets', EXAMPLE_TENSORS)
def test_lookup(example, name, dtype, shape, offsets):
    tensor = example.lookup(name)
    n_elements = int(numpy.prod(shape, dtype=numpy.uint64)) if shape else 1

    assert tensor.get_name() == name
    assert tensor.props.name == name
    assert tensor.get_dtype() == dtype
    assert tensor.props.dtype == dtype
    assert isinstance(tensor.props.dtype, Safetensors.DType)
    assert tensor.get_n_dims() == len(shape)
    assert tensor.props.n_dims == len(shape)
    assert shape_of(tensor) == shape
    assert tensor.get_n_elements() == n_elements
    assert tensor.props.n_elements == n_elements
    assert tensor.get_n_bytes() == offsets[1] - offsets[0]
    assert tensor.props.n_bytes == offsets[1] - offsets[0]
    assert tensor.get_data_offsets() == offsets
    assert tensor.get_file_offset() == DATA_START + offsets[0]
    assert tensor.props.file_offset == DATA_START + offsets[0]
    assert tensor.get_n_bytes() * 8 == n_elements * Safetensors.dtype_get_bits(dtype)


def test_scalar_shape(example):
    step = example.lookup('step')
    assert step.get_n_dims() == 0
    assert shape_of(step) == []


def test_get_bytes(example):
    hello = example.lookup('hello').get_bytes(None)
    assert hello.get_size() == 64
    numpy.testing.assert_array_equal(as_array(hello, '<f4', (4, 4)), HELLO)

    step = example.lookup('step').get_bytes(None)
    assert numpy.frombuffer(step.get_data(), '<i8').tolist() == [1234]

    mask = example.lookup('mask').get_bytes(None)
    assert as_array(mask, 'u1', (2, 3)).tolist() == [[1, 0, 1], [0, 1, 1]]

    empty = example.lookup('empty').get_bytes(None)
    assert empty.get_size() == 0

    bias = example.lookup('embedding.bias').get_bytes(None)
    with open(EXAMPLE, 'rb') as f:
        raw = f.read()
    assert bias.get_data() == raw[DATA_START + 8:DATA_START + 56]


def test_get_bytes_async(example):
    loop = GLib.MainLoop()
    outcome = {}
    tensor = example.lookup('hello')

    def on_ready(source, result, user_data):
        try:
            outcome['bytes'] = source.get_bytes_finish(result)
        except GLib.Error as e:
            outcome['error'] = e
        user_data.quit()

    tensor.get_bytes_async(GLib.PRIORITY_DEFAULT, None, on_ready, loop)
    GLib.timeout_add_seconds(10, loop.quit)
    loop.run()

    assert 'error' not in outcome
    numpy.testing.assert_array_equal(as_array(outcome['bytes'], '<f4', (4, 4)), HELLO)


def test_bytes_outlive_file(flags):
    st = Safetensors.File.open(Gio.File.new_for_path(EXAMPLE), flags, None)
    data = st.lookup('hello').get_bytes(None)
    del st
    numpy.testing.assert_array_equal(as_array(data, '<f4', (4, 4)), HELLO)


# ---- slices ------------------------------------------------------------------

@pytest.mark.parametrize('expression,expected', [
    ('1:3, ::2', HELLO[1:3, ::2]),
    ('-1', HELLO[-1]),
    ('::-1, 0', HELLO[::-1, 0]),
    ('..., 2', HELLO[..., 2]),
    ('', HELLO),
    ('2, 3', HELLO[2, 3]),
    ('5:', HELLO[5:]),
])
def test_read_slice(example, expression, expected):
    tensor = example.lookup('hello')
    data, shape = tensor.read_slice(Safetensors.Slice.parse(expression), None)
    shape = [] if shape is None else list(shape)
    assert shape == list(expected.shape)
    numpy.testing.assert_array_equal(as_array(data, '<f4', expected.shape), expected)


def test_read_slice_documented_values(example):
    tensor = example.lookup('hello')

    data, shape = tensor.read_slice(Safetensors.Slice.parse('1:3, ::2'), None)
    assert list(shape) == [2, 2]
    assert as_array(data, '<f4', (2, 2)).tolist() == [[4, 6], [8, 10]]

    data, shape = tensor.read_slice(Safetensors.Slice.parse('-1'), None)
    assert list(shape) == [4]
    assert as_array(data, '<f4', (4,)).tolist() == [12, 13, 14, 15]


def test_slice_built_by_hand(example):
    s = Safetensors.Slice.new()
    s.add_range(1, 3, 1)
    s.add_range(0, 4, 2)
    assert s.get_n_items() == 2
    assert Safetensors.Slice.parse(s.to_string()).get_n_items() == 2

    data, shape = example.lookup('hello').read_slice(s, None)
    assert list(shape) == [2, 2]
    assert as_array(data, '<f4', (2, 2)).tolist() == [[4, 6], [8, 10]]

    s = Safetensors.Slice.new()
    s.add_ellipsis()
    s.add_index(-1)
    data, shape = example.lookup('mask').read_slice(s, None)
    assert list(shape) == [2]
    assert as_array(data, 'u1', (2,)).tolist() == [1, 1]


def test_slice_none(example):
    # an omitted bound, as in NumPy's a[::-2]; the constant is G_MININT64
    assert Safetensors.SLICE_NONE == -2 ** 63

    s = Safetensors.Slice.new()
    s.add_range(Safetensors.SLICE_NONE, Safetensors.SLICE_NONE, -2)
    data, shape = example.lookup('hello').read_slice(s, None)
    assert list(shape) == [2, 4]
    numpy.testing.assert_array_equal(as_array(data, '<f4', (2, 4)), HELLO[::-2])


@pytest.mark.parametrize('expression', ['4', '-5', '0, 4', '0, 0, 0', '::0'])
def test_read_slice_out_of_range(example, expression):
    tensor = example.lookup('hello')
    with pytest.raises(GLib.Error) as excinfo:
        tensor.read_slice(Safetensors.Slice.parse(expression), None)
    assert_safetensors_error(excinfo, Safetensors.Error.INVALID_SLICE)


@pytest.mark.parametrize('expression', ['1:2:3:4', 'x', '1,,2'])
def test_slice_parse_error(expression):
    with pytest.raises(GLib.Error) as excinfo:
        Safetensors.Slice.parse(expression)
    assert_safetensors_error(excinfo, Safetensors.Error.INVALID_SLICE)
    assert expression in excinfo.value.message


def test_slice_two_ellipses(example):
    # well-formed text, but a slice holds at most one ellipsis
    s = Safetensors.Slice.parse('..., ...')
    assert s.get_n_items() == 2
    with pytest.raises(GLib.Error) as excinfo:
        example.lookup('hello').read_slice(s, None)
    assert_safetensors_error(excinfo, Safetensors.Error.INVALID_SLICE)


# ---- metadata ----------------------------------------------------------------

def test_metadata(example):
    metadata = example.get_metadata()
    assert metadata == {'description': 'safetensors-glib example', 'format': 'pt'}
    assert example.get_metadata_keys() == ['description', 'format']
    assert example.get_metadata_value('format') == 'pt'
    assert example.get_metadata_value('description') == 'safetensors-glib example'
    assert example.get_metadata_value('missing') is None


def test_metadata_absent(tmp_path):
    path = write_safetensors(tmp_path / 'plain.safetensors', {
        'x': {'dtype': 'U8', 'shape': [2], 'data_offsets': [0, 2]},
    }, b'\x07\x09')
    st = Safetensors.File.new_for_path(str(path), Safetensors.OpenFlags.NONE)
    assert st.get_metadata() == {}
    assert st.get_metadata_keys() == []
    assert st.get_metadata_value('format') is None
    assert st.lookup('x').get_bytes(None).get_data() == b'\x07\x09'


# ---- dtype -------------------------------------------------------------------

def test_dtype_helpers():
    assert Safetensors.dtype_to_string(Safetensors.DType.BF16) == 'BF16'
    assert Safetensors.dtype_get_bits(Safetensors.DType.F64) == 64
    assert Safetensors.dtype_get_bits(Safetensors.DType.F4) == 4
    assert Safetensors.dtype_from_string('F32') == (True, Safetensors.DType.F32)
    ok, _ = Safetensors.dtype_from_string('f32')
    assert not ok


# ---- errors ------------------------------------------------------------------

def test_lookup_missing(example):
    with pytest.raises(GLib.Error) as excinfo:
        example.lookup('nope')
    assert_safetensors_error(excinfo, Safetensors.Error.TENSOR_NOT_FOUND)
    assert 'nope' in excinfo.value.message


def test_error_domain():
    assert GLib.quark_to_string(Safetensors.error_quark()) == ERROR_DOMAIN
    assert Safetensors.Error.INVALID_OFFSET == 5
    assert Safetensors.Error.TENSOR_NOT_FOUND == 11


def test_invalid_header_length(tmp_path, flags):
    path = tmp_path / 'truncated.safetensors'
    path.write_bytes(struct.pack('<Q', 60))
    with pytest.raises(GLib.Error) as excinfo:
        Safetensors.File.open(Gio.File.new_for_path(str(path)), flags, None)
    assert_safetensors_error(excinfo, Safetensors.Error.INVALID_HEADER_LENGTH)
    assert 'truncated.safetensors' in excinfo.value.message


def test_header_too_small(tmp_path, flags):
    path = tmp_path / 'tiny.safetensors'
    path.write_bytes(b'\x10\x00\x00')
    with pytest.raises(GLib.Error) as excinfo:
        Safetensors.File.open(Gio.File.new_for_path(str(path)), flags, None)
    assert_safetensors_error(excinfo, Safetensors.Error.HEADER_TOO_SMALL)


def test_invalid_offset(tmp_path, flags):
    path = write_safetensors(tmp_path / 'overlap.safetensors', {
        'a': {'dtype': 'U8', 'shape': [4], 'data_offsets': [0, 4]},
        'b': {'dtype': 'U8', 'shape': [4], 'data_offsets': [2, 6]},
    }, bytes(6))
    with pytest.raises(GLib.Error) as excinfo:
        Safetensors.File.open(Gio.File.new_for_path(str(path)), flags, None)
    assert_safetensors_error(excinfo, Safetensors.Error.INVALID_OFFSET)


def test_invalid_json(tmp_path, flags):
    path = tmp_path / 'json.safetensors'
    text = b'{"a": '
    path.write_bytes(struct.pack('<Q', len(text)) + text)
    with pytest.raises(GLib.Error) as excinfo:
        Safetensors.File.open(Gio.File.new_for_path(str(path)), flags, None)
    assert_safetensors_error(excinfo, Safetensors.Error.INVALID_JSON)


def test_tensor_invalid_info(tmp_path, flags):
    path = write_safetensors(tmp_path / 'info.safetensors', {
        'a': {'dtype': 'F32', 'shape': [2], 'data_offsets': [0, 4]},
    }, bytes(4))
    with pytest.raises(GLib.Error) as excinfo:
        Safetensors.File.open(Gio.File.new_for_path(str(path)), flags, None)
    assert_safetensors_error(excinfo, Safetensors.Error.TENSOR_INVALID_INFO)


def test_incomplete_buffer(tmp_path, flags):
    path = write_safetensors(tmp_path / 'short-data.safetensors', {
        'a': {'dtype': 'F32', 'shape': [2], 'data_offsets': [0, 8]},
    }, bytes(5))
    with pytest.raises(GLib.Error) as excinfo:
        Safetensors.File.open(Gio.File.new_for_path(str(path)), flags, None)
    assert_safetensors_error(excinfo, Safetensors.Error.METADATA_INCOMPLETE_BUFFER)


# ---- a GFile without a local path --------------------------------------------

@pytest.fixture
def resource_example(tmp_path):
    compiler = shutil.which('glib-compile-resources')
    if compiler is None:
        pytest.skip('glib-compile-resources is not installed')
    xml = tmp_path / 'example.gresource.xml'
    xml.write_text('<?xml version="1.0" encoding="UTF-8"?>\n'
                   '<gresources><gresource prefix="/org/safetensors/test">'
                   '<file>example.safetensors</file>'
                   '</gresource></gresources>\n')
    bundle = tmp_path / 'example.gresource'
    subprocess.run([compiler, '--sourcedir', DATA_DIR, '--target', str(bundle), str(xml)],
                   check=True)
    resource = Gio.Resource.load(str(bundle))
    resource._register()
    yield Gio.File.new_for_uri('resource:///org/safetensors/test/example.safetensors')
    resource._unregister()


def test_open_non_local(resource_example):
    assert resource_example.get_path() is None
    st = Safetensors.File.open(resource_example, Safetensors.OpenFlags.NONE, None)
    assert not st.is_mapped()
    assert st.get_tensor_names() == [t[0] for t in EXAMPLE_TENSORS]
    assert st.get_metadata_value('format') == 'pt'
    assert st.get_size() == FILE_SIZE

    hello = st.lookup('hello')
    numpy.testing.assert_array_equal(as_array(hello.get_bytes(None), '<f4', (4, 4)), HELLO)
    data, shape = hello.read_slice(Safetensors.Slice.parse('1:3, ::2'), None)
    assert list(shape) == [2, 2]
    assert as_array(data, '<f4', (2, 2)).tolist() == [[4, 6], [8, 10]]
    mask = st.lookup('mask').get_bytes(None)
    assert as_array(mask, 'u1', (2, 3)).tolist() == [[1, 0, 1], [0, 1, 1]]


def test_open_non_local_cancelled(resource_example):
    cancellable = Gio.Cancellable()
    cancellable.cancel()
    with pytest.raises(GLib.Error) as excinfo:
        Safetensors.File.open(resource_example, Safetensors.OpenFlags.NONE, cancellable)
    assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED)
