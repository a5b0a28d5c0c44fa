# test_pytorch_import.py: PyTorch import through GI — the planned import
# (a dry run) against what torch.load() saw, writing, progress, errors
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import hashlib
import json
import os

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Safetensors', '1')

from gi.repository import GLib, Gio, Safetensors  # noqa: E402

import pytest  # noqa: E402

DATA_DIR = os.environ.get(
    'SAFETENSORS_TEST_DATA',
    os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data'))
TORCH_DIR = os.path.join(DATA_DIR, 'torch')
HOSTILE_DIR = os.path.join(TORCH_DIR, 'hostile')

with open(os.path.join(TORCH_DIR, 'expected.json'), encoding='utf-8') as f:
    EXPECTED = json.load(f)
with open(os.path.join(HOSTILE_DIR, 'expected.json'), encoding='utf-8') as f:
    HOSTILE = json.load(f)


def case_id(case):
    parts = [case['file']]
    if case['key'] is not None:
        parts.append('key=' + case['key'])
    if case['all']:
        parts.append('all')
    if case['extras_to_metadata']:
        parts.append('extras')
    return ','.join(parts)


def flags_of(case):
    flags = Safetensors.ImportFlags.NONE
    if case['all']:
        flags |= Safetensors.ImportFlags.ALL
    if case['extras_to_metadata']:
        flags |= Safetensors.ImportFlags.EXTRAS_TO_METADATA
    return flags


def plan(case):
    source = Gio.File.new_for_path(os.path.join(TORCH_DIR, case['file']))
    return Safetensors.PytorchImport.new(source, flags_of(case), case['key'], None)


def planned_tensors(imp):
    tensors = {}
    for i in range(imp.get_n_tensors()):
        name = imp.get_tensor_name(i)
        tensors[name] = (Safetensors.dtype_to_string(imp.get_tensor_dtype(i)),
                         list(imp.get_tensor_shape(i)),
                         imp.get_tensor_size(i))
    return tensors


@pytest.mark.parametrize('case', EXPECTED, ids=case_id)
def test_plan_matches_torch_load(case):
    imp = plan(case)
    tensors = planned_tensors(imp)

    assert sorted(tensors) == sorted(t['name'] for t in case['tensors'])
    for t in case['tensors']:
        dtype, shape, _ = tensors[t['name']]
        assert dtype == t['dtype'], t['name']
        assert shape == t['shape'], t['name']
    assert imp.get_total_bytes() == sum(size for _, _, size in tensors.values())
    assert imp.props.total_bytes == imp.get_total_bytes()

    skipped = imp.get_skipped()
    assert [[name, imp.get_skip_reason(name)] for name in skipped] == case['skipped']
    assert imp.get_skip_reason('no such name') is None

    assert dict(imp.get_metadata()) == case['metadata']
    # Aliases are the metadata entries other than the format and stored values.
    for removed, kept in imp.get_aliases().items():
        assert case['metadata'][removed] == kept
        assert kept in tensors and removed not in tensors


@pytest.mark.parametrize('case', [c for c in EXPECTED if c['key'] is None][:8], ids=case_id)
def test_write_matches_torch_load(case, tmp_path):
    imp = plan(case)
    out = tmp_path / 'out.safetensors'
    assert imp.write(Gio.File.new_for_path(str(out)), None)
    assert imp.get_bytes_written() == imp.get_total_bytes()

    f = Safetensors.File.open(Gio.File.new_for_path(str(out)), Safetensors.OpenFlags.NONE, None)
    assert sorted(f.get_tensor_names()) == sorted(t['name'] for t in case['tensors'])
    for t in case['tensors']:
        data = f.lookup(t['name']).get_bytes(None).get_data() or b''
        assert hashlib.sha256(data).hexdigest() == t['sha256'], t['name']
    assert dict(f.get_metadata()) == case['metadata']

    # The same import writes again, to the same bytes.
    again = tmp_path / 'again.safetensors'
    assert imp.write(Gio.File.new_for_path(str(again)), None)
    assert again.read_bytes() == out.read_bytes()


def test_write_async_notifies_progress(tmp_path):
    case = next(c for c in EXPECTED if c['file'] == 'model.pt' and c['key'] is None)
    imp = plan(case)
    seen = []
    imp.connect('notify::bytes-written', lambda obj, _: seen.append(obj.props.bytes_written))

    loop = GLib.MainLoop()
    results = []

    def done(obj, result):
        results.append(obj.write_finish(result))
        loop.quit()

    out = tmp_path / 'out.safetensors'
    imp.write_async(Gio.File.new_for_path(str(out)), GLib.PRIORITY_DEFAULT, None, done)
    # A second write while the first runs is refused, not interleaved.
    with pytest.raises(GLib.Error) as excinfo:
        imp.write(Gio.File.new_for_path(str(tmp_path / 'other.safetensors')), None)
    assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.PENDING)
    loop.run()

    assert results == [True]
    assert seen and seen[-1] == imp.get_total_bytes()
    assert seen == sorted(seen)
    assert not (tmp_path / 'other.safetensors').exists()
    # Free again once finished.
    assert imp.write(Gio.File.new_for_path(str(tmp_path / 'other.safetensors')), None)


def test_cancelled_write_leaves_destination(tmp_path):
    case = next(c for c in EXPECTED if c['file'] == 'model.pt' and c['key'] is None)
    imp = plan(case)
    out = tmp_path / 'out.safetensors'
    out.write_bytes(b'old content')
    cancellable = Gio.Cancellable()
    cancellable.cancel()
    with pytest.raises(GLib.Error) as excinfo:
        imp.write(Gio.File.new_for_path(str(out)), cancellable)
    assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED)
    assert out.read_bytes() == b'old content'
    assert os.listdir(tmp_path) == ['out.safetensors']


def test_key_and_all_cannot_combine():
    source = Gio.File.new_for_path(os.path.join(TORCH_DIR, 'train.pt'))
    with pytest.raises(GLib.Error) as excinfo:
        Safetensors.PytorchImport.new(source, Safetensors.ImportFlags.ALL, 'optimizer', None)
    assert excinfo.value.domain == 'safetensors-error-quark'
    assert excinfo.value.code == Safetensors.Error.INVALID_ARGUMENT


def test_missing_key_names_it():
    source = Gio.File.new_for_path(os.path.join(TORCH_DIR, 'train.pt'))
    with pytest.raises(GLib.Error) as excinfo:
        Safetensors.PytorchImport.new(source, Safetensors.ImportFlags.NONE, 'no.such.key', None)
    assert excinfo.value.code == Safetensors.Error.INVALID_ARGUMENT
    assert 'no' in excinfo.value.message


@pytest.mark.parametrize('name', sorted(HOSTILE))
def test_hostile_checkpoint_is_refused(name, tmp_path):
    expected = HOSTILE[name]
    if expected['options']:
        pytest.skip('needs import options: covered by the C and tool tests')
    source = Gio.File.new_for_path(os.path.join(HOSTILE_DIR, name))
    out = tmp_path / 'out.safetensors'
    with pytest.raises(GLib.Error) as excinfo:
        imp = Safetensors.PytorchImport.new(source, Safetensors.ImportFlags.NONE, None, None)
        # Some damage shows only when the data is read.
        imp.write(Gio.File.new_for_path(str(out)), None)
    error = excinfo.value
    if error.domain == 'safetensors-error-quark':
        nick = Safetensors.Error(error.code).value_nick
    else:
        nick = Gio.IOErrorEnum(error.code).value_nick
    assert nick == expected['code']
    assert expected['message'] in error.message
    assert os.listdir(tmp_path) == []
