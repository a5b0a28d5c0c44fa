# test_index.py: SafetensorsIndex (sharded checkpoints) through PyGObject
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The shards and their index are written by `safetensors-tool split` (the
# tool is built before this suite runs); the broken indexes are edited
# copies of it.

import json
import os
import subprocess

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Safetensors', '1')

from gi.repository import GLib, Gio, Safetensors  # noqa: E402

import pytest  # noqa: E402

DATA_DIR = os.environ.get(
    'SAFETENSORS_TEST_DATA',
    os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data'))
EXAMPLE = os.path.join(DATA_DIR, 'example.safetensors')
TOOL = os.environ.get('SAFETENSORS_TOOL')

pytestmark = pytest.mark.skipif(TOOL is None or not os.path.exists(TOOL),
                                reason='needs the built safetensors-tool (SAFETENSORS_TOOL)')

INDEX_NAME = 'example.safetensors.index.json'
SHARDS = ['example-%05d-of-00003.safetensors' % i for i in (1, 2, 3)]


def gfile(path):
    return Gio.File.new_for_path(str(path))


def example():
    """name -> (dtype, shape, bytes), and the metadata, of the original."""
    f = Safetensors.File.new_for_path(EXAMPLE, Safetensors.OpenFlags.NONE)
    tensors = {}
    for name in f.get_tensor_names():
        t = f.lookup(name)
        shape = t.get_shape()
        tensors[name] = (t.get_dtype(), [] if shape is None else list(shape),
                         t.get_bytes(None).get_data() or b'')
    return tensors, f.get_metadata()


@pytest.fixture
def shards(tmp_path):
    """A folder with the example split in three shards and its index."""
    out = tmp_path / 'shards'
    result = subprocess.run([TOOL, 'split', '--max-shard-size', '100', EXAMPLE, str(out)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out)) == SHARDS + [INDEX_NAME]
    return out


def load_index(folder):
    with open(folder / INDEX_NAME) as f:
        return json.load(f)


def save_index(folder, document, name=INDEX_NAME):
    path = folder / name
    path.write_text(json.dumps(document))
    return path


def open_fails(path, domain, code):
    with pytest.raises(GLib.Error) as excinfo:
        Safetensors.Index.open(gfile(path), None)
    assert excinfo.value.matches(domain, code), (excinfo.value.domain, excinfo.value.code,
                                                 excinfo.value.message)
    return excinfo.value.message


def test_open_split_output(shards):
    tensors, metadata = example()
    index = Safetensors.Index.open(gfile(shards / INDEX_NAME), None)

    assert index.get_file().get_path() == str(shards / INDEX_NAME)
    assert index.get_tensor_names() == sorted(tensors)
    assert index.get_shard_names() == SHARDS
    assert index.get_total_size() == sum(len(t[2]) for t in tensors.values()) == 222
    # The index's own metadata: non-string values as JSON text.
    assert index.get_metadata() == {'total_size': '222'}

    weight_map = load_index(shards)['weight_map']
    for name, (dtype, shape, data) in tensors.items():
        assert index.get_shard_name(name) == weight_map[name]
        tensor = index.lookup(name)
        assert tensor.get_name() == name
        assert tensor.get_dtype() == dtype
        assert ([] if tensor.get_shape() is None else list(tensor.get_shape())) == shape
        assert tensor.get_n_bytes() == len(data)
        assert (tensor.get_bytes(None).get_data() or b'') == data

    # Each shard is an open file holding exactly its tensors, with the
    # metadata of the original.
    for shard_name in SHARDS:
        shard = index.get_shard(shard_name)
        assert isinstance(shard, Safetensors.File)
        assert sorted(shard.get_tensor_names()) == sorted(
            n for n, s in weight_map.items() if s == shard_name)
        assert shard.get_metadata() == metadata

    assert index.get_shard_name('nope') is None
    assert index.get_shard('nope.safetensors') is None
    with pytest.raises(GLib.Error) as excinfo:
        index.lookup('nope')
    assert excinfo.value.matches(Safetensors.error_quark(), Safetensors.Error.TENSOR_NOT_FOUND)
    assert 'nope' in excinfo.value.message


def test_total_size_is_optional(shards):
    document = load_index(shards)
    del document['metadata']
    index = Safetensors.Index.open(gfile(save_index(shards, document)), None)
    assert index.get_total_size() == 222
    assert index.get_metadata() == {}


def test_missing_shard(shards):
    os.unlink(shards / SHARDS[1])
    message = open_fails(shards / INDEX_NAME, Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND)
    assert SHARDS[1] in message


def test_wrong_total_size(shards):
    document = load_index(shards)
    document['metadata']['total_size'] = 223
    message = open_fails(save_index(shards, document), Safetensors.error_quark(),
                         Safetensors.Error.INVALID_DATA)
    assert 'total_size' in message and '223' in message and '222' in message
    document['metadata']['total_size'] = -1
    open_fails(save_index(shards, document), Safetensors.error_quark(),
               Safetensors.Error.INVALID_DATA)


def test_tensor_not_where_the_map_says(shards):
    document = load_index(shards)
    name, shard = next(iter(document['weight_map'].items()))
    other = next(s for s in SHARDS if s != shard)
    document['weight_map'][name] = other
    message = open_fails(save_index(shards, document), Safetensors.error_quark(),
                         Safetensors.Error.INVALID_DATA)
    assert '“%s”' % name in message


def test_tensor_in_two_shards(shards):
    # A fourth shard holding a copy of a tensor of the first.
    document = load_index(shards)
    first = Safetensors.File.new_for_path(str(shards / SHARDS[0]), Safetensors.OpenFlags.NONE)
    name = first.get_tensor_names()[0]
    tensor = first.lookup(name)
    # The map names the extra shard for another tensor, so it is opened.
    extra = Safetensors.Writer.new(Safetensors.WriterFlags.NONE)
    extra.add_tensor(name, tensor.get_dtype(), list(tensor.get_shape() or []),
                     tensor.get_bytes(None))
    extra.add_tensor('other', Safetensors.DType.U8, [1], GLib.Bytes.new(b'\x01'))
    extra.begin(gfile(shards / 'extra.safetensors'), None)
    extra.finish(None)
    document['weight_map']['other'] = 'extra.safetensors'
    document['metadata']['total_size'] += 1
    message = open_fails(save_index(shards, document), Safetensors.error_quark(),
                         Safetensors.Error.INVALID_DATA)
    assert '“%s”' % name in message
    assert 'extra.safetensors' in message or SHARDS[0] in message


def test_tensor_missing_from_the_map(shards):
    document = load_index(shards)
    del document['metadata']
    weight_map = document['weight_map']
    # From a shard the map still names for its other tensors.
    name = next(n for n, s in sorted(weight_map.items())
                if list(weight_map.values()).count(s) > 1)
    del weight_map[name]
    message = open_fails(save_index(shards, document), Safetensors.error_quark(),
                         Safetensors.Error.INVALID_DATA)
    assert '“%s”' % name in message and 'not in the weight map' in message


def test_mapped_tensor_missing_from_its_shard(shards):
    document = load_index(shards)
    document['weight_map']['ghost'] = SHARDS[0]
    message = open_fails(save_index(shards, document), Safetensors.error_quark(),
                         Safetensors.Error.INVALID_DATA)
    assert '“ghost”' in message


@pytest.mark.parametrize('text', [
    '{not json',
    '[]',
    '{"metadata": {}}',
    '{"weight_map": {"a": 3}}',
    '{"weight_map": {"a": "../example-00001-of-00003.safetensors"}}',
    '{"weight_map": {"a": "/etc/passwd"}}',
    '{"metadata": [], "weight_map": {}}',
])
def test_malformed_index(shards, text):
    path = shards / 'bad.index.json'
    path.write_text(text)
    open_fails(path, Safetensors.error_quark(), Safetensors.Error.INVALID_DATA)


# What json-glib would let through: the index is read as strictly as a
# header. Each case changes the real index in one place.
@pytest.mark.parametrize('change, words', [
    (lambda t: t.replace('{', '{/* comment */', 1), 'invalid JSON in index'),
    (lambda t: t.replace('"metadata"', "'metadata'", 1), 'invalid JSON in index'),
    (lambda t: t.replace('"weight_map": {', '"weight_map": {"step": "x.safetensors", ', 1),
     'appears twice'),
    (lambda t: t.replace('"metadata": {', '"metadata": {"k": "1", "k": "2", ', 1), 'appears twice'),
    (lambda t: t + '{}', 'invalid JSON in index'),
    (lambda t: t.replace('"total_size": 222', '"total_size": 222.0'), 'total_size'),
    (lambda t: t.replace('"total_size": 222', '"total_size": -222'), 'total_size'),
    (lambda t: t.replace('"total_size": 222', '"total_size": "222"'), 'total_size'),
    (lambda t: t.replace('"total_size": 222', '"total_size": 0x10'), 'invalid JSON in index'),
    (lambda t: t.replace('"total_size": 222', '"total_size": 0222'), 'invalid JSON in index'),
    (lambda t: t.replace('"metadata": {', '"metadata": {"deep": %s1%s, ' % ('[' * 100000, ']' * 100000), 1),
     'invalid JSON in index'),
    (lambda t: t.replace('"metadata": {', '"metadata": {"nul\\u0000key": 1, ', 1), 'NUL'),
])
def test_index_is_read_strictly(shards, change, words):
    text = (shards / INDEX_NAME).read_text()
    assert '"total_size": 222' in text
    path = shards / 'bad.index.json'
    path.write_text(change(text))
    message = open_fails(path, Safetensors.error_quark(), Safetensors.Error.INVALID_DATA)
    assert words in message, message
    assert message.startswith(str(path) + ': ')


def test_total_size_is_exact_to_64_bits(shards):
    """json-glib reads 18446744073709551615 as -1: here it is the number
    it says, and does not match the shards."""
    text = (shards / INDEX_NAME).read_text()
    path = shards / 'big.index.json'
    path.write_text(text.replace('"total_size": 222', '"total_size": 18446744073709551615'))
    message = open_fails(path, Safetensors.error_quark(), Safetensors.Error.INVALID_DATA)
    assert '18446744073709551615' in message and '222' in message


def test_metadata_values_keep_their_json_text(shards):
    text = (shards / INDEX_NAME).read_text()
    path = shards / 'meta.index.json'
    path.write_text(text.replace('"metadata": {',
                                 '"metadata": {"params": 1.5e3, "list": [1, "a"], "s": "x", ', 1))
    index = Safetensors.Index.open(gfile(path), None)
    metadata = dict(index.get_metadata())
    assert metadata == {'params': '1.5e3', 'list': '[1, "a"]', 's': 'x', 'total_size': '222'}


def test_index_file_missing(tmp_path):
    open_fails(tmp_path / 'missing.index.json', Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND)


def test_split_merge_equals_the_writer(shards, tmp_path):
    """merge of split's shards is byte for byte what SafetensorsWriter
    writes for the same tensors and metadata."""
    tensors, metadata = example()
    expected = tmp_path / 'written.safetensors'
    writer = Safetensors.Writer.new(Safetensors.WriterFlags.NONE)
    # In an order the writer has to sort.
    for name in sorted(tensors, reverse=True):
        dtype, shape, data = tensors[name]
        writer.add_tensor(name, dtype, shape, GLib.Bytes.new(data))
    for key, value in metadata.items():
        writer.set_metadata_value(key, value)
    writer.begin(gfile(expected), None)
    writer.finish(None)

    merged = tmp_path / 'merged.safetensors'
    result = subprocess.run([TOOL, 'merge', str(shards / INDEX_NAME), str(merged)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert merged.read_bytes() == expected.read_bytes()

    # And the index reads the same tensors as the merged file.
    index = Safetensors.Index.open(gfile(shards / INDEX_NAME), None)
    f = Safetensors.File.new_for_path(str(merged), Safetensors.OpenFlags.NONE)
    for name in index.get_tensor_names():
        assert index.lookup(name).get_bytes(None).get_data() == \
            f.lookup(name).get_bytes(None).get_data()
