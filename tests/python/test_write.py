# test_write.py: the writer through PyGObject
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import stat
import struct

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Safetensors', '1')

from gi.repository import GLib, Gio, Safetensors  # noqa: E402

import numpy  # noqa: E402
import pytest  # noqa: E402


def read_header(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        return f.read(n)


def test_reference_vector(tmp_path):
    # The reference writer's bytes for {"test": I32 [2,2] = 0..3}.
    path = tmp_path / 'vector.safetensors'
    writer = Safetensors.Writer.new(Safetensors.WriterFlags.NONE)
    data = numpy.arange(4, dtype='<i4').tobytes()
    writer.add_tensor('test', Safetensors.DType.I32, [2, 2], GLib.Bytes.new(data))
    writer.begin(Gio.File.new_for_path(str(path)), None)
    writer.finish(None)
    expected = (struct.pack('<Q', 64)
                + b'{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}    '
                + data)
    assert path.read_bytes() == expected
    assert len(expected) == 88


def test_chunks_streams_and_metadata(tmp_path):
    path = tmp_path / 'mixed.safetensors'
    weights = numpy.linspace(-1, 1, 24, dtype='<f4').reshape(2, 3, 4)
    ids = numpy.arange(10, dtype='<i64'[:2] + '8')

    writer = Safetensors.Writer.new(Safetensors.WriterFlags.NONE)
    writer.set_metadata_value('format', 'pt')
    writer.set_metadata_value('note', 'ünïcode \n "quoted"')
    writer.add_tensor('w', Safetensors.DType.F32, list(weights.shape), None)
    stream = Gio.MemoryInputStream.new_from_bytes(GLib.Bytes.new(ids.tobytes()))
    writer.add_tensor_from_stream('ids', Safetensors.DType.I64, [10], stream)
    writer.add_tensor('zeros', Safetensors.DType.U8, [5], None)
    writer.begin(Gio.File.new_for_path(str(path)), None)
    raw = weights.tobytes()
    writer.write_chunk('w', raw[:40], None)
    writer.write_chunk('w', raw[40:], None)
    writer.finish(None)

    f = Safetensors.File.new_for_path(str(path), Safetensors.OpenFlags.NONE)
    # Canonical order: I64 before F32 before U8.
    assert f.get_tensor_names() == ['ids', 'w', 'zeros']
    assert f.get_metadata() == {'format': 'pt', 'note': 'ünïcode \n "quoted"'}
    w = numpy.frombuffer(f.lookup('w').get_bytes(None).get_data(), '<f4').reshape(2, 3, 4)
    assert numpy.array_equal(w, weights)
    got_ids = numpy.frombuffer(f.lookup('ids').get_bytes(None).get_data(), '<i8')
    assert numpy.array_equal(got_ids, ids)
    assert f.lookup('zeros').get_bytes(None).get_data() == b'\0' * 5


def test_errors_are_gerrors(tmp_path):
    writer = Safetensors.Writer.new(Safetensors.WriterFlags.NONE)
    with pytest.raises(GLib.Error) as excinfo:
        writer.add_tensor('__metadata__', Safetensors.DType.U8, [1], None)
    assert excinfo.value.matches(Safetensors.error_quark(), Safetensors.Error.RESERVED_NAME)

    with pytest.raises(GLib.Error) as excinfo:
        writer.add_tensor('x', Safetensors.DType.F32, [3], GLib.Bytes.new(b'\0' * 11))
    assert excinfo.value.matches(Safetensors.error_quark(), Safetensors.Error.INVALID_ARGUMENT)

    writer.add_tensor('x', Safetensors.DType.U8, [4], None)
    with pytest.raises(GLib.Error) as excinfo:
        writer.write_chunk('x', b'ab', None)   # before begin()
    assert excinfo.value.matches(Safetensors.error_quark(), Safetensors.Error.INVALID_ARGUMENT)

    path = tmp_path / 'x.safetensors'
    writer.begin(Gio.File.new_for_path(str(path)), None)
    with pytest.raises(GLib.Error) as excinfo:
        writer.write_chunk('x', b'abcde', None)   # one byte too many
    assert excinfo.value.matches(Safetensors.error_quark(), Safetensors.Error.INVALID_ARGUMENT)


def test_replace_keeps_mode_and_abort_keeps_old(tmp_path):
    path = tmp_path / 'model.safetensors'
    path.write_bytes(b'old')
    os.chmod(path, 0o600)

    writer = Safetensors.Writer.new(Safetensors.WriterFlags.NONE)
    writer.add_tensor('a', Safetensors.DType.U8, [1], GLib.Bytes.new(b'\x07'))
    writer.begin(Gio.File.new_for_path(str(path)), None)
    writer.abort()
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['model.safetensors']

    writer = Safetensors.Writer.new(Safetensors.WriterFlags.NONE)
    writer.add_tensor('a', Safetensors.DType.U8, [1], GLib.Bytes.new(b'\x07'))
    writer.begin(Gio.File.new_for_path(str(path)), None)
    writer.finish(None)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_header(path).rstrip() == b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'


def test_finish_async_with_progress(tmp_path):
    path = tmp_path / 'async.safetensors'
    data = numpy.random.default_rng(1).standard_normal(1 << 20).astype('<f4')
    writer = Safetensors.Writer.new(Safetensors.WriterFlags.NONE)
    writer.add_tensor('t', Safetensors.DType.F32, [data.size], GLib.Bytes.new(data.tobytes()))
    writer.begin(Gio.File.new_for_path(str(path)), None)

    loop = GLib.MainLoop()
    reports = []
    outcome = {}

    def on_progress(w, pspec):
        reports.append((w.props.bytes_written, w.props.total_bytes))

    def on_done(source, result, *args):
        outcome['ok'] = source.finish_finish(result)
        loop.quit()

    writer.connect('notify::bytes-written', on_progress)
    writer.finish_async(GLib.PRIORITY_DEFAULT, None, on_done, None)
    loop.run()
    ctx = GLib.MainContext.default()
    while ctx.pending():
        ctx.iteration(False)

    assert outcome['ok'] is True
    assert reports and reports[-1] == (data.nbytes, data.nbytes)
    f = Safetensors.File.new_for_path(str(path), Safetensors.OpenFlags.NO_MMAP)
    got = numpy.frombuffer(f.lookup('t').get_bytes(None).get_data(), '<f4')
    assert numpy.array_equal(got, data)
