# test_override.py: the PyGObject override (gi/overrides/Safetensors.py)
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# meson puts an uninstalled copy of the override on PYTHONPATH.

import gc
import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import textwrap

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

HELLO = numpy.arange(16, dtype='<f4').reshape(4, 4)
EXAMPLE_NAMES = ['step', 'embedding.bias', 'hello', 'embedding.weight', 'empty', 'mask']

# NumPy dtype -> safetensors dtype of everything NumPy and safetensors share
ROUND_TRIP = [
    ('bool', 'BOOL'), ('u1', 'U8'), ('i1', 'I8'), ('<i2', 'I16'), ('<u2', 'U16'),
    ('<f2', 'F16'), ('<i4', 'I32'), ('<u4', 'U32'), ('<f4', 'F32'), ('<c8', 'C64'),
    ('<f8', 'F64'), ('<i8', 'I64'), ('<u8', 'U64'),
]


def test_override_is_loaded():
    assert Safetensors.File.__module__ == 'gi.overrides.Safetensors'
    loaded = os.path.realpath(sys.modules['gi.overrides.Safetensors'].__file__)
    # under meson, the build tree's copy, not an installed one
    for folder in os.environ.get('PYTHONPATH', '').split(os.pathsep):
        if folder.endswith('pyoverrides'):
            assert loaded == os.path.realpath(os.path.join(folder, 'gi', 'overrides',
                                                           'Safetensors.py'))


@pytest.fixture(params=[True, False], ids=['mmap', 'no-mmap'])
def use_mmap(request):
    return request.param


@pytest.fixture
def example_copy(tmp_path):
    path = tmp_path / 'example.safetensors'
    shutil.copyfile(EXAMPLE, path)
    return path


def random_array(rng, dtype, shape):
    dtype = numpy.dtype(dtype)
    if dtype.kind == 'b':
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind in 'ui':
        info = numpy.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    if dtype.kind == 'c':
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def tensor_bytes(path, name):
    """A tensor's bytes, read from the file without the override."""
    raw = pathlib.Path(path).read_bytes()
    n = struct.unpack('<Q', raw[:8])[0]
    info = json.loads(raw[8:8 + n])[name]
    begin, end = info['data_offsets']
    return info, raw[8 + n + begin:8 + n + end]


def run_isolated(code, tmp_path):
    """Runs code in a child interpreter, so that a crash fails one test."""
    result = subprocess.run([sys.executable, '-B', '-c', textwrap.dedent(code)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


# ---- File.open ----------------------------------------------------------------

@pytest.mark.parametrize('kind', ['str', 'pathlike', 'bytes', 'gfile'])
def test_open_path_kinds(kind):
    path = {
        'str': EXAMPLE,
        'pathlike': pathlib.Path(EXAMPLE),
        'bytes': os.fsencode(EXAMPLE),
        'gfile': Gio.File.new_for_path(EXAMPLE),
    }[kind]
    sf = Safetensors.File.open(path)
    assert isinstance(sf, Safetensors.File)
    assert sf.get_flags() == Safetensors.OpenFlags.NONE
    assert sf.get_tensor_names() == EXAMPLE_NAMES


def test_open_introspected_form_still_works():
    gfile = Gio.File.new_for_path(EXAMPLE)
    sf = Safetensors.File.open(gfile, Safetensors.OpenFlags.NO_MMAP, None)
    assert sf.get_flags() == Safetensors.OpenFlags.NO_MMAP
    assert not sf.is_mapped()
    sf = Safetensors.File.open(gfile, Safetensors.OpenFlags.NONE)
    assert sf.is_mapped()
    cancellable = Gio.Cancellable()
    cancellable.cancel()
    sf = Safetensors.File.open(gfile, Safetensors.OpenFlags.NONE, cancellable=None)
    assert sf.get_n_tensors() == 6


def test_open_flags(example_copy):
    OF = Safetensors.OpenFlags
    with Safetensors.File.open(example_copy, use_mmap=False) as sf:
        assert sf.get_flags() == OF.NO_MMAP
    with Safetensors.File.open(example_copy, 'r+') as sf:
        assert sf.get_flags() == OF.READ_WRITE
        assert sf.is_mapped()
    with Safetensors.File.open(example_copy, 'r+', keep_free=True, use_mmap=False) as sf:
        assert sf.get_flags() == OF.READ_WRITE | OF.KEEP_FREE | OF.NO_MMAP
        assert not sf.is_mapped()


def test_open_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='mode'):
        Safetensors.File.open(EXAMPLE, 'rw')
    with pytest.raises(ValueError, match='keep_free'):
        Safetensors.File.open(EXAMPLE, 'r', keep_free=True)
    with pytest.raises(TypeError):
        Safetensors.File.open(42)


def test_open_missing(tmp_path):
    for mode in ('r', 'r+'):
        with pytest.raises(GLib.Error) as excinfo:
            Safetensors.File.open(tmp_path / 'missing.safetensors', mode)
        assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND)
    assert os.listdir(tmp_path) == []


def test_open_x_plus(tmp_path, use_mmap):
    path = tmp_path / 'new.safetensors'
    with Safetensors.File.open(path, 'x+', use_mmap=use_mmap) as sf:
        assert sf.get_n_tensors() == 0
        sf.as_numpy()['x'] = numpy.arange(3, dtype='<i4')
    assert Safetensors.File.open(path).as_numpy()['x'].tolist() == [0, 1, 2]

    with pytest.raises(GLib.Error) as excinfo:
        Safetensors.File.open(path, 'x+', use_mmap=use_mmap)
    assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.EXISTS)
    assert Safetensors.File.open(path).as_numpy()['x'].tolist() == [0, 1, 2]


def test_open_x_plus_new_file_is_the_empty_file(tmp_path):
    path = tmp_path / 'empty.safetensors'
    Safetensors.File.open(path, 'x+').close()
    assert path.read_bytes() == b'\x08\0\0\0\0\0\0\0{}      '


def test_open_w_plus(tmp_path, example_copy, use_mmap):
    # an existing safetensors file is emptied
    with Safetensors.File.open(example_copy, 'w+', use_mmap=use_mmap) as sf:
        assert sf.get_n_tensors() == 0
        assert sf.get_metadata() == {}
        sf.as_numpy()['only'] = numpy.ones(2, dtype='<f4')
    sf = Safetensors.File.open(example_copy)
    assert sf.get_tensor_names() == ['only']
    assert sf.get_metadata() == {}

    # so is a file that is not safetensors at all, and a missing one is made
    junk = tmp_path / 'junk.safetensors'
    junk.write_bytes(b'not a safetensors file')
    for path in (junk, tmp_path / 'made.safetensors'):
        with Safetensors.File.open(path, 'w+', use_mmap=use_mmap) as sf:
            assert sf.get_n_tensors() == 0
        assert path.read_bytes() == b'\x08\0\0\0\0\0\0\0{}      '


def test_open_w_plus_respects_the_lock(example_copy):
    with Safetensors.File.open(example_copy, 'r+'):
        with pytest.raises(GLib.Error) as excinfo:
            Safetensors.File.open(example_copy, 'w+')
        assert excinfo.value.matches(Safetensors.error_quark(), Safetensors.Error.LOCKED)
    assert Safetensors.File.open(example_copy).get_n_tensors() == 6


# ---- context manager --------------------------------------------------------------

def test_context_commits_and_closes(example_copy, use_mmap):
    with Safetensors.File.open(example_copy, 'r+', use_mmap=use_mmap) as sf:
        sf.as_numpy()['new'] = numpy.arange(5, dtype='<i8')
        sf.metadata['note'] = 'added'
    assert not sf.has_changes()
    with pytest.raises(GLib.Error) as excinfo:
        sf.remove_tensor('hello')
    assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CLOSED)

    # closing released the lock
    with Safetensors.File.open(example_copy, 'r+') as again:
        assert again.as_numpy()['new'].tolist() == [0, 1, 2, 3, 4]
        assert again.metadata['note'] == 'added'


def test_context_rolls_back_on_exception(example_copy, use_mmap):
    before = example_copy.read_bytes()
    with pytest.raises(RuntimeError, match='boom'):
        with Safetensors.File.open(example_copy, 'r+', use_mmap=use_mmap) as sf:
            arrays = sf.as_numpy()
            arrays['new'] = numpy.arange(1000, dtype='<i8')
            del arrays['hello']
            sf.metadata['format'] = 'np'
            raise RuntimeError('boom')
    assert example_copy.read_bytes() == before
    assert not os.path.exists(example_copy.parent / '.example.safetensors.safetensors-journal')
    # and the lock is released
    Safetensors.File.open(example_copy, 'r+').close()


def test_context_read_only(use_mmap):
    with Safetensors.File.open(EXAMPLE, use_mmap=use_mmap) as sf:
        hello = sf.as_numpy()['hello']
    numpy.testing.assert_array_equal(hello, HELLO)


def test_context_commit_failure_releases_the_file(example_copy):
    with pytest.raises(GLib.Error):
        with Safetensors.File.open(example_copy, 'r+') as sf:
            sf.as_numpy()['x'] = numpy.zeros(2)
            sf.close()
            sf.add_tensor('y', Safetensors.DType.U8, [1], None)
    Safetensors.File.open(example_copy, 'r+').close()


# ---- as_numpy: reading ------------------------------------------------------------

def test_as_numpy_read(use_mmap):
    sf = Safetensors.File.open(EXAMPLE, use_mmap=use_mmap)
    arrays = sf.as_numpy()
    assert isinstance(arrays, Safetensors.TensorMapping)
    assert len(arrays) == 6
    assert list(arrays) == EXAMPLE_NAMES
    assert list(arrays.keys()) == EXAMPLE_NAMES
    assert 'hello' in arrays and 'hell' not in arrays and 3 not in arrays

    hello = arrays['hello']
    assert hello.dtype == numpy.dtype('<f4') and hello.shape == (4, 4)
    numpy.testing.assert_array_equal(hello, HELLO)
    assert not hello.flags.writeable
    with pytest.raises(ValueError):
        hello[0, 0] = 1

    step = arrays['step']
    assert step.shape == () and step.dtype == numpy.int64 and int(step) == 1234
    assert arrays['embedding.bias'].dtype == numpy.float64
    assert arrays['embedding.bias'].shape == (6,)
    empty = arrays['empty']
    assert empty.shape == (0, 3) and empty.dtype == numpy.float16
    mask = arrays['mask']
    assert mask.dtype == numpy.bool_
    assert mask.tolist() == [[True, False, True], [False, True, True]]

    with pytest.raises(KeyError):
        arrays['nope']
    with pytest.raises(KeyError):
        arrays[0]
    assert arrays.get('nope') is None
    assert dict(arrays.items())['hello'].shape == (4, 4)


def test_as_numpy_is_zero_copy():
    sf = Safetensors.File.open(EXAMPLE)
    hello = sf.as_numpy()['hello']
    address = Safetensors.bytes_get_address(sf.lookup('hello').get_bytes(None))
    assert hello.__array_interface__['data'][0] == address
    assert hello.ctypes.data % 4 == 0
    # the array's base holds the GBytes that keeps the mapping alive
    assert isinstance(hello.base.bytes, GLib.Bytes)
    assert hello.base.bytes.get_size() == 64


def test_bf16_and_f8_come_back_as_bits(tmp_path):
    sf = Safetensors.File.open(EXAMPLE)
    weight = sf.as_numpy()['embedding.weight']
    assert weight.dtype == numpy.uint16 and weight.shape == (8, 6)
    raw = tensor_bytes(EXAMPLE, 'embedding.weight')[1]
    assert weight.tobytes() == raw
    decoded = sf.as_numpy(dtypes='float32')['embedding.weight']
    assert decoded.dtype == numpy.float32 and not decoded.flags.writeable
    expected = (numpy.frombuffer(raw, '<u2').astype('<u4') << 16).view('<f4').reshape(8, 6)
    numpy.testing.assert_array_equal(decoded, expected)
    # types NumPy has are not touched by the dtypes= switch
    assert sf.as_numpy(dtypes='float32')['hello'].dtype == numpy.float32
    with pytest.raises(ValueError):
        sf.as_numpy(dtypes='bfloat16')


@pytest.mark.parametrize('dtype,bits,value', [
    ('F8_E4M3', 0x7e, 448.0), ('F8_E4M3', 0x38, 1.0), ('F8_E4M3', 0x01, 2.0 ** -9),
    ('F8_E4M3', 0xfe, -448.0), ('F8_E4M3', 0x7f, None), ('F8_E4M3', 0x80, -0.0),
    ('F8_E5M2', 0x7b, 57344.0), ('F8_E5M2', 0x3c, 1.0), ('F8_E5M2', 0x7c, float('inf')),
    ('F8_E5M2', 0xfc, float('-inf')), ('F8_E5M2', 0x7d, None), ('F8_E5M2', 0x01, 2.0 ** -16),
    ('F8_E4M3FNUZ', 0x7f, 240.0), ('F8_E4M3FNUZ', 0x40, 1.0), ('F8_E4M3FNUZ', 0x80, None),
    ('F8_E5M2FNUZ', 0x7f, 57344.0), ('F8_E5M2FNUZ', 0x40, 1.0), ('F8_E5M2FNUZ', 0x80, None),
    ('F8_E8M0', 127, 1.0), ('F8_E8M0', 0, 2.0 ** -127), ('F8_E8M0', 254, 2.0 ** 127),
    ('F8_E8M0', 255, None),
])
def test_f8_decoding(tmp_path, dtype, bits, value):
    path = tmp_path / 'f8.safetensors'
    with Safetensors.File.open(path, 'x+') as sf:
        sf.as_numpy().set('x', numpy.array([bits], dtype='u1'), dtype=dtype)
    sf = Safetensors.File.open(path)
    assert sf.lookup('x').get_dtype() == getattr(Safetensors.DType, dtype)
    assert sf.as_numpy()['x'].tolist() == [bits]
    decoded = sf.as_numpy(dtypes='float32')['x']
    if value is None:
        assert numpy.isnan(decoded[0])
    else:
        assert decoded[0] == numpy.float32(value)
        assert numpy.signbit(decoded[0]) == numpy.signbit(value)


def test_ml_dtypes_views(tmp_path):
    ml_dtypes = pytest.importorskip('ml_dtypes')
    path = tmp_path / 'ml.safetensors'
    with Safetensors.File.open(path, 'x+') as sf:
        arrays = sf.as_numpy(dtypes='ml_dtypes')
        arrays['b'] = numpy.array([1.5, -2.0], dtype=ml_dtypes.bfloat16)
        assert sf.lookup('b').get_dtype() == Safetensors.DType.BF16
    arrays = Safetensors.File.open(path).as_numpy(dtypes='ml_dtypes')
    assert arrays['b'].dtype == ml_dtypes.bfloat16
    assert arrays['b'].astype('f4').tolist() == [1.5, -2.0]


# ---- as_numpy: writing ------------------------------------------------------------

def test_views_are_writable_in_r_plus(example_copy, use_mmap):
    with Safetensors.File.open(example_copy, 'r+', use_mmap=use_mmap) as sf:
        arrays = sf.as_numpy()
        hello = arrays['hello']
        assert hello.flags.writeable
        hello[1] = -1
        arrays['mask'][0, 0] = False
        # reading again shows the write, mapped or not
        assert arrays['hello'][1].tolist() == [-1] * 4
    info, raw = tensor_bytes(example_copy, 'hello')
    expected = HELLO.copy()
    expected[1] = -1
    assert raw == expected.tobytes()
    assert tensor_bytes(example_copy, 'mask')[1] == bytes([0, 0, 1, 0, 1, 1])


def test_mapped_writes_land_at_once(example_copy):
    sf = Safetensors.File.open(example_copy, 'r+')
    sf.as_numpy()['hello'][0, 0] = 99
    # no commit: the write went through the shared mapping
    assert numpy.frombuffer(tensor_bytes(example_copy, 'hello')[1], '<f4')[0] == 99
    sf.close()


def test_unmapped_copies_are_written_back_by_commit(example_copy):
    sf = Safetensors.File.open(example_copy, 'r+', use_mmap=False)
    arrays = sf.as_numpy()
    assert arrays['hello'] is arrays['hello']
    arrays['hello'][0, 0] = 99
    assert numpy.frombuffer(tensor_bytes(example_copy, 'hello')[1], '<f4')[0] == 0
    sf.commit()
    assert numpy.frombuffer(tensor_bytes(example_copy, 'hello')[1], '<f4')[0] == 99
    # and dropped by rollback
    arrays['hello'][0, 1] = 77
    sf.rollback()
    assert arrays['hello'][0, 1] == 1
    sf.close()
    assert numpy.frombuffer(tensor_bytes(example_copy, 'hello')[1], '<f4')[:2].tolist() == [99, 1]


def test_setitem_adds_and_replaces(example_copy, use_mmap):
    with Safetensors.File.open(example_copy, 'r+', use_mmap=use_mmap) as sf:
        arrays = sf.as_numpy()
        arrays['new'] = numpy.arange(6, dtype='<i2').reshape(2, 3)
        arrays['hello'] = numpy.array([True, False])       # a new dtype and shape
        assert arrays['hello'].tolist() == [True, False]
        assert list(arrays)[-1] == 'new'
        assert len(arrays) == 7
    sf = Safetensors.File.open(example_copy)
    assert sf.lookup('hello').get_dtype() == Safetensors.DType.BOOL
    assert sf.as_numpy()['new'].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert sf.lookup('new').get_dtype() == Safetensors.DType.I16


@pytest.mark.parametrize('np_dtype,st_dtype', ROUND_TRIP)
def test_round_trip_dtypes(tmp_path, np_dtype, st_dtype, use_mmap):
    rng = numpy.random.default_rng(7)
    values = {
        'matrix': random_array(rng, np_dtype, (3, 5)),
        'scalar': random_array(rng, np_dtype, ()),
        'empty': random_array(rng, np_dtype, (0, 4)),
        'big-endian': random_array(rng, np_dtype, (7,)).astype(numpy.dtype(np_dtype).newbyteorder('>')),
        'transposed': random_array(rng, np_dtype, (4, 6)).T,
        'strided': random_array(rng, np_dtype, (20,))[::3],
    }
    path = tmp_path / 'types.safetensors'
    with Safetensors.File.open(path, 'x+', use_mmap=use_mmap) as sf:
        sf.as_numpy().update(values)
    sf = Safetensors.File.open(path, use_mmap=use_mmap)
    arrays = sf.as_numpy()
    for name, value in values.items():
        assert sf.lookup(name).get_dtype() == getattr(Safetensors.DType, st_dtype), name
        got = arrays[name]
        assert got.dtype == numpy.dtype(np_dtype).newbyteorder('<'), name
        assert got.shape == value.shape, name
        numpy.testing.assert_array_equal(got, value, err_msg=name)
        _, raw = tensor_bytes(path, name)
        assert raw == numpy.ascontiguousarray(value).astype(got.dtype).tobytes(), name


@pytest.mark.parametrize('value', [
    numpy.zeros(2, dtype=numpy.complex128),
    numpy.array(['text']),
    numpy.array([object()]),
    numpy.zeros(2, dtype='datetime64[s]'),
])
def test_unsupported_dtypes(example_copy, value):
    with Safetensors.File.open(example_copy, 'r+') as sf:
        with pytest.raises(TypeError):
            sf.as_numpy()['bad'] = value
        assert not sf.has_changes()


def test_python_values_are_converted(tmp_path):
    with Safetensors.File.open(tmp_path / 'py.safetensors', 'x+') as sf:
        arrays = sf.as_numpy()
        arrays['ints'] = [[1, 2], [3, 4]]
        arrays['float'] = 2.5
        arrays['flags'] = [True, False]
        assert arrays['ints'].dtype == numpy.int64
        assert arrays['float'].shape == () and arrays['float'] == 2.5
        assert arrays['flags'].dtype == numpy.bool_


def test_set_with_explicit_dtype(tmp_path):
    path = tmp_path / 'explicit.safetensors'
    values = numpy.array([1.0, -2.5, 3.14159, 1e-3, 65504, numpy.inf, numpy.nan], dtype='<f4')
    with Safetensors.File.open(path, 'x+') as sf:
        arrays = sf.as_numpy()
        arrays.set('half', values.astype('f8'), dtype='F16')
        arrays.set('bf16', values, dtype=Safetensors.DType.BF16)
        arrays.set('bf16-bits', numpy.array([0x3f80, 0xc000], dtype='<u2'), dtype='BF16')
        arrays.set('f4', numpy.array([0x21, 0x43], dtype='u1'), dtype='F4', shape=[2, 2])
        with pytest.raises(TypeError):
            arrays.set('f4-no-shape', numpy.array([0x21], dtype='u1'), dtype='F4')
        with pytest.raises(GLib.Error) as excinfo:
            arrays.set('f4-bad-shape', numpy.array([0x21], dtype='u1'), dtype='F4', shape=[3])
        assert excinfo.value.matches(Safetensors.error_quark(), excinfo.value.code)
        with pytest.raises(ValueError):
            arrays.set('x', values, dtype='F17')
        with pytest.raises(TypeError):
            arrays.set('x', values, dtype='F8_E4M3')   # no float -> F8 without ml_dtypes
    sf = Safetensors.File.open(path)
    arrays = sf.as_numpy()
    assert sf.lookup('half').get_dtype() == Safetensors.DType.F16
    numpy.testing.assert_array_equal(arrays['half'], values.astype('f2'))
    bf16 = arrays['bf16']
    assert bf16.dtype == numpy.uint16
    assert bf16[:3].tolist() == [0x3f80, 0xc020, 0x4049]   # rounded to nearest even
    decoded = sf.as_numpy(dtypes='float32')['bf16']
    assert decoded[4] == 65536.0 and decoded[5] == numpy.inf and numpy.isnan(decoded[6])
    assert sf.as_numpy(dtypes='float32')['bf16-bits'].tolist() == [1.0, -2.0]
    f4 = arrays['f4']
    assert f4.dtype == numpy.uint8 and f4.shape == (2, 1)
    assert f4.ravel().tolist() == [0x21, 0x43]


def test_update_is_one_batch(example_copy, use_mmap):
    my_arrays = {name: numpy.full(3, i, dtype='<f4') for i, name in enumerate('qkv')}
    with Safetensors.File.open(example_copy, 'r+', use_mmap=use_mmap) as sf:
        arrays = sf.as_numpy()
        # a bad value is found before anything is staged
        with pytest.raises(TypeError):
            arrays.update({'a': numpy.zeros(2), 'b': numpy.array([object()])})
        assert 'a' not in arrays and not sf.has_changes()
        arrays.update(my_arrays)
        arrays.update(w=numpy.zeros(1), hello=numpy.ones(2))
        assert list(arrays)[-4:] == ['q', 'k', 'v', 'w']
    arrays = Safetensors.File.open(example_copy).as_numpy()
    for name, value in my_arrays.items():
        numpy.testing.assert_array_equal(arrays[name], value)
    assert arrays['hello'].tolist() == [1, 1]


def test_delitem_and_rename(example_copy, use_mmap):
    with Safetensors.File.open(example_copy, 'r+', use_mmap=use_mmap) as sf:
        arrays = sf.as_numpy()
        del arrays['mask']
        with pytest.raises(KeyError):
            del arrays['mask']
        with pytest.raises(KeyError):
            del arrays[7]
        arrays.rename('hello', 'bonjour')
        assert 'hello' not in arrays and 'mask' not in arrays
        numpy.testing.assert_array_equal(arrays['bonjour'], HELLO)
        assert arrays.pop('step') == 1234
    assert sorted(Safetensors.File.open(example_copy).get_tensor_names()) == \
        ['bonjour', 'embedding.bias', 'embedding.weight', 'empty']


def test_reserved_names(example_copy):
    with Safetensors.File.open(example_copy, 'r+') as sf:
        for name in ('__metadata__', '__free_0__'):
            with pytest.raises(GLib.Error) as excinfo:
                sf.as_numpy()[name] = numpy.zeros(1)
            assert excinfo.value.matches(Safetensors.error_quark(),
                                         Safetensors.Error.RESERVED_NAME)


def test_writing_a_read_only_file_fails():
    arrays = Safetensors.File.open(EXAMPLE).as_numpy()
    with pytest.raises(GLib.Error) as excinfo:
        arrays['x'] = numpy.zeros(1)
    assert excinfo.value.matches(Safetensors.error_quark(), Safetensors.Error.READ_ONLY)
    with pytest.raises(GLib.Error):
        del arrays['hello']


def test_large_tensor_goes_in_chunks(tmp_path, use_mmap, monkeypatch):
    override = sys.modules['gi.overrides.Safetensors']
    monkeypatch.setattr(override, '_SMALL', 1000)
    monkeypatch.setattr(override, '_CHUNK', 4096)
    value = numpy.arange(10000, dtype='<i4').reshape(100, 100)
    path = tmp_path / 'large.safetensors'
    with Safetensors.File.open(path, 'x+', use_mmap=use_mmap) as sf:
        sf.as_numpy()['big'] = value
        sf.as_numpy()['big'] = value.T      # replace, read from the old view
    got = Safetensors.File.open(path).as_numpy()['big']
    numpy.testing.assert_array_equal(got, value.T)


def test_metadata_mapping(example_copy, use_mmap):
    with Safetensors.File.open(example_copy, 'r+', use_mmap=use_mmap) as sf:
        metadata = sf.metadata
        assert dict(metadata) == {'description': 'safetensors-glib example', 'format': 'pt'}
        assert len(metadata) == 2 and 'format' in metadata
        metadata['format'] = 'np'
        metadata['ünïcode'] = 'välue'
        del metadata['description']
        with pytest.raises(KeyError):
            del metadata['description']
        with pytest.raises(KeyError):
            metadata['missing']
        with pytest.raises(TypeError):
            metadata['n'] = 3
    assert Safetensors.File.open(example_copy).get_metadata() == \
        {'format': 'np', 'ünïcode': 'välue'}


# ---- the seed example ---------------------------------------------------------------

def test_seed_example(example_copy, use_mmap):
    my_array_1 = numpy.arange(6, dtype='<f4').reshape(2, 3)
    my_array_2 = numpy.ones((2, 3), dtype='>f8')
    my_array_3 = numpy.zeros(4, dtype=numpy.int8)

    with Safetensors.File.open(example_copy, "r+", use_mmap=use_mmap) as sf:
        arrays = sf.as_numpy()
        arrays["hello"][3, :] += 420.69
        arrays["world"] = arrays["hello"][0:2] * 10
        arrays.update({"q": my_array_1, "k": my_array_2, "v": my_array_3})
        del arrays["v"]

    hello = HELLO.copy()
    hello[3, :] += numpy.float32(420.69)
    sf = Safetensors.File.open(example_copy)
    arrays = sf.as_numpy()
    assert set(arrays) == set(EXAMPLE_NAMES) | {'world', 'q', 'k'}
    numpy.testing.assert_array_equal(arrays['hello'], hello)
    numpy.testing.assert_array_equal(arrays['world'], hello[0:2] * 10)
    numpy.testing.assert_array_equal(arrays['q'], my_array_1)
    numpy.testing.assert_array_equal(arrays['k'], my_array_2)
    assert arrays['k'].dtype == numpy.dtype('<f8')


# ---- lifetime ------------------------------------------------------------------------

def test_view_outlives_file(use_mmap):
    sf = Safetensors.File.open(EXAMPLE, use_mmap=use_mmap)
    hello = sf.as_numpy()['hello']
    sf.close()
    del sf
    gc.collect()
    numpy.testing.assert_array_equal(hello, HELLO)


def test_writable_views_after_close(example_copy, use_mmap):
    with Safetensors.File.open(example_copy, 'r+', use_mmap=use_mmap) as sf:
        hello = sf.as_numpy()['hello']
        hello[0, 0] = 5
    # still readable, no longer writable
    assert hello[0, 0] == 5 and hello.sum() == HELLO.sum() + 5
    assert not hello.flags.writeable
    with pytest.raises(ValueError):
        hello[0, 0] = 6
    # and new ones are read-only too
    again = sf.as_numpy()['hello']
    assert not again.flags.writeable and again[0, 0] == 5
    del sf
    gc.collect()
    assert hello[0, 0] == 5


def test_view_after_commit_that_moved_it(tmp_path, use_mmap):
    path = tmp_path / 'move.safetensors'
    Safetensors.save_file({
        'a': numpy.arange(100000, dtype='<f4'),
        'b': numpy.arange(1000, dtype='<f4'),
        'c': numpy.arange(10, dtype='<f4'),
    }, path)
    sf = Safetensors.File.open(path, 'r+', use_mmap=use_mmap)
    arrays = sf.as_numpy()
    offset = sf.lookup('c').get_file_offset()
    c = arrays['c']
    a = arrays['a']
    del arrays['b']
    sf.commit()
    assert sf.lookup('c').get_file_offset() != offset   # the shorter side moved
    # the old views can still be read; a mapped view of a tensor that moved
    # shows what is at its old place now, and takes no more writes
    c.sum()
    numpy.testing.assert_array_equal(a, numpy.arange(100000, dtype='<f4'))
    assert a.flags.writeable
    if use_mmap:
        assert not c.flags.writeable
    else:
        assert c.flags.writeable and c.tolist() == list(range(10))
    fresh = arrays['c']
    assert fresh.flags.writeable
    assert fresh.tolist() == list(range(10))
    sf.close()


def test_view_after_shrinking_commit(tmp_path, use_mmap):
    code = f'''
        import gi, numpy, os
        gi.require_version('Safetensors', '1')
        from gi.repository import Safetensors
        path = 'shrink.safetensors'
        with Safetensors.File.open(path, 'x+') as sf:
            sf.as_numpy().update({{'small': numpy.ones(10, dtype='<f8'),
                                   'tail': numpy.ones(1 << 20, dtype='u1')}})
        sf = Safetensors.File.open(path, 'r+', use_mmap={use_mmap})
        arrays = sf.as_numpy()
        tail = arrays['tail']
        tail_view = tail[1000:]           # a derived view, not tracked
        size = os.path.getsize(path)
        del arrays['tail']
        sf.commit()
        assert os.path.getsize(path) < size // 100, os.path.getsize(path)
        print(int(tail.sum()), int(tail_view.sum()), tail.flags.writeable)
        tail_view[:] = 3                  # lands in anonymous memory at worst
        sf.close()
        print('survived')
    '''
    out = run_isolated(code, tmp_path)
    assert 'survived' in out


def test_reader_view_after_writer_shrank_the_file(tmp_path, use_mmap):
    # A reader maps the whole file; a writer in the same process then cuts
    # the file short. The override swaps the reader's doomed pages.
    code = f'''
        import gi, numpy, os
        gi.require_version('Safetensors', '1')
        from gi.repository import Safetensors
        path = 'shared.safetensors'
        with Safetensors.File.open(path, 'x+') as sf:
            sf.as_numpy().update({{'small': numpy.ones(10, dtype='<f8'),
                                   'tail': numpy.full(1 << 20, 7, dtype='u1')}})
        reader = Safetensors.File.open(path, 'r', use_mmap={use_mmap})
        tail = reader.as_numpy()['tail']
        part = Safetensors.safe_open(path, 'np', use_mmap={use_mmap}).get_slice('tail')[1000:]
        with Safetensors.File.open(path, 'r+') as sf:
            del sf.as_numpy()['tail']
        print(os.path.getsize(path), int(tail[-100:].sum()), int(tail.sum()), int(part.sum()))
        print('survived')
    '''
    out = run_isolated(code, tmp_path)
    assert 'survived' in out
    if not use_mmap:
        assert out.split()[1] == str(7 * 100)   # a copy keeps its bytes


def test_view_of_rolled_back_tensor(tmp_path, use_mmap):
    code = f'''
        import gi, numpy
        gi.require_version('Safetensors', '1')
        from gi.repository import Safetensors
        sf = Safetensors.File.open('rollback.safetensors', 'x+', use_mmap={use_mmap})
        arrays = sf.as_numpy()
        arrays['staged'] = numpy.ones(1 << 20, dtype='u1')
        staged = arrays['staged']
        sf.rollback()
        print(int(staged.sum()), staged.flags.writeable)
        sf.close()
        print('survived')
    '''
    assert 'survived' in run_isolated(code, tmp_path)


# ---- HF-style helpers -------------------------------------------------------------------

def test_save_file_reference_bytes(tmp_path):
    # The reference writer's bytes for {"test": I32 [2,2] = 0..3}.
    path = tmp_path / 'vector.safetensors'
    Safetensors.save_file({'test': numpy.arange(4, dtype='<i4').reshape(2, 2)}, path)
    data = numpy.arange(4, dtype='<i4').tobytes()
    expected = (struct.pack('<Q', 64)
                + b'{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}    '
                + data)
    assert path.read_bytes() == expected
    assert Safetensors.save({'test': numpy.arange(4, dtype='<i4').reshape(2, 2)}) == expected


def test_save_and_load(tmp_path):
    rng = numpy.random.default_rng(3)
    tensors = {
        'weight': random_array(rng, '<f4', (16, 8)),
        'bias': random_array(rng, '>f8', (8,)),
        'ids': random_array(rng, '<i8', (5,)),
        'mask': random_array(rng, 'bool', (2, 2)),
        'scalar': numpy.float16(1.5),
    }
    path = tmp_path / 'saved.safetensors'
    Safetensors.save_file(tensors, str(path), metadata={'format': 'np', 'ü': 'ß'})
    data = Safetensors.save(tensors, metadata={'format': 'np', 'ü': 'ß'})
    assert path.read_bytes() == data
    # canonical order: dtype descending, then name
    assert Safetensors.File.open(path).get_tensor_names() == ['ids', 'bias', 'weight', 'scalar', 'mask']

    for loaded in (Safetensors.load_file(path), Safetensors.load(data), Safetensors.load(bytearray(data))):
        assert set(loaded) == set(tensors)
        for name, value in tensors.items():
            numpy.testing.assert_array_equal(loaded[name], value)
            assert loaded[name].shape == numpy.shape(value)


def test_save_errors(tmp_path):
    with pytest.raises(TypeError):
        Safetensors.save({'x': numpy.zeros(1)}, metadata={'n': 1})
    with pytest.raises(TypeError):
        Safetensors.save({1: numpy.zeros(1)})
    with pytest.raises(TypeError):
        Safetensors.save_file({'x': numpy.zeros(1, dtype=complex)}, tmp_path / 'x.safetensors')
    assert not (tmp_path / 'x.safetensors').exists()
    with pytest.raises(GLib.Error) as excinfo:
        Safetensors.load(b'\x01\x02')
    assert excinfo.value.matches(Safetensors.error_quark(), Safetensors.Error.HEADER_TOO_SMALL)


def test_safe_open():
    with Safetensors.safe_open(EXAMPLE, framework='np') as f:
        assert f.keys() == sorted(EXAMPLE_NAMES)
        assert f.offset_keys() == EXAMPLE_NAMES
        assert f.metadata() == {'description': 'safetensors-glib example', 'format': 'pt'}
        hello = f.get_tensor('hello')
        numpy.testing.assert_array_equal(hello, HELLO)
        assert not hello.flags.writeable
        assert f.get_tensor('step') == 1234

        s = f.get_slice('hello')
        assert s.get_shape() == [4, 4]
        assert s.get_dtype() == 'F32'
        assert len(s) == 4
        for key in [(slice(1, 3), slice(None, None, 2)), -1, (slice(None, None, -1), 0),
                    (Ellipsis, 2), (), (2, 3), slice(5, None), slice(None), numpy.int64(1),
                    [0, 2], (slice(None), [1, 3])]:
            got = s[key]
            numpy.testing.assert_array_equal(got, HELLO[key], err_msg=repr(key))
            assert got.shape == HELLO[key].shape
        with pytest.raises(IndexError):
            s[4]
        with pytest.raises(KeyError):
            f.get_tensor('nope')
        with pytest.raises(GLib.Error):
            f.get_slice('nope')
        weight = f.get_slice('embedding.weight')
        assert weight.get_dtype() == 'BF16'
        assert weight[1:3].dtype == numpy.uint16 and weight[1:3].shape == (2, 6)


def test_safe_open_without_metadata(tmp_path):
    path = tmp_path / 'plain.safetensors'
    Safetensors.save_file({'x': numpy.zeros(2)}, path)
    with Safetensors.safe_open(path, 'np') as f:
        assert f.metadata() is None


def test_safe_open_arguments():
    with pytest.raises(ValueError, match='framework'):
        Safetensors.safe_open(EXAMPLE, framework='pt')
    with pytest.raises(ValueError, match='device'):
        Safetensors.safe_open(EXAMPLE, framework='np', device='cuda:0')
    with Safetensors.safe_open(EXAMPLE, 'numpy', use_mmap=False) as f:
        numpy.testing.assert_array_equal(f.get_tensor('hello'), HELLO)


def test_from_import():
    from gi.repository.Safetensors import safe_open, save_file, load_file, save, load  # noqa: F401
    assert safe_open is Safetensors.safe_open


def test_closing_a_reader_leaves_other_views_alone(tmp_path):
    path = tmp_path / 'grow.safetensors'
    Safetensors.save_file({'small': numpy.ones(10)}, path)
    early = Safetensors.File.open(path)              # sees the small file
    with Safetensors.File.open(path, 'r+') as sf:
        sf.as_numpy()['big'] = numpy.full(1 << 20, 5, dtype='u1')
    big = Safetensors.File.open(path).as_numpy()['big']
    with pytest.raises(RuntimeError):
        with early:
            raise RuntimeError('boom')
    assert int(big.sum()) == 5 << 20
