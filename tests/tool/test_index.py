"""Tests of safetensors-tool's sharded-checkpoint commands: split, merge.

Run by meson (suite "tool") with Debian's /usr/bin/python3 -m pytest. The
environment names the built tool (SAFETENSORS_TOOL) and the folder of
example files (SAFETENSORS_TEST_DATA).
"""
import json
import os
import struct
import subprocess

import pytest

TOOL = os.environ["SAFETENSORS_TOOL"]
DATA = os.environ["SAFETENSORS_TEST_DATA"]
EXAMPLE = os.path.join(DATA, "example.safetensors")


def run(*args):
    return subprocess.run([TOOL, *map(str, args)], capture_output=True, timeout=60)


def read(path):
    with open(path, "rb") as f:
        content = f.read()
    (n,) = struct.unpack("<Q", content[:8])
    header = json.loads(content[8:8 + n])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        tensors[name] = (info["dtype"], info["shape"], content[8 + n + begin:8 + n + end])
    return tensors, header.get("__metadata__", {})


def file_bytes(tensors, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(t[2] for t in tensors.values())


@pytest.fixture
def sharded(tmp_path):
    out = tmp_path / "shards"
    result = run("split", "--max-shard-size", "100", EXAMPLE, out)
    assert result.returncode == 0, result.stderr
    return out


def test_split(sharded):
    tensors, metadata = read(EXAMPLE)
    index = json.loads((sharded / "example.safetensors.index.json").read_text())
    assert index["metadata"] == {"total_size": sum(len(t[2]) for t in tensors.values())}
    assert sorted(index["weight_map"]) == sorted(tensors)
    shards = sorted(set(index["weight_map"].values()))
    assert shards == ["example-%05d-of-00003.safetensors" % i for i in (1, 2, 3)]
    seen = {}
    for shard in shards:
        shard_tensors, shard_metadata = read(sharded / shard)
        assert shard_metadata == metadata
        assert sum(len(t[2]) for t in shard_tensors.values()) <= 100
        for name, value in shard_tensors.items():
            assert index["weight_map"][name] == shard
            assert value == tensors[name]
            seen[name] = shard
    assert sorted(seen) == sorted(tensors)


def test_split_one_shard_and_big_tensor(tmp_path):
    out = tmp_path / "one"
    assert run("split", EXAMPLE, out).returncode == 0
    index = json.loads((out / "example.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == {"example-00001-of-00001.safetensors"}
    # Every tensor bigger than the limit gets a shard of its own.
    out = tmp_path / "tiny"
    assert run("split", "--max-shard-size", "1", EXAMPLE, out).returncode == 0
    index = json.loads((out / "example.safetensors.index.json").read_text())
    # The empty tensor fits with the one before it.
    assert len(set(index["weight_map"].values())) == 5


def test_merge_roundtrip(sharded, tmp_path):
    out = tmp_path / "merged.safetensors"
    result = run("merge", sharded / "example.safetensors.index.json", out)
    assert result.returncode == 0, result.stderr
    # example.safetensors is canonical, so merging gives it back exactly.
    assert out.read_bytes() == open(EXAMPLE, "rb").read()


def index_with(folder, weight_map, metadata=None):
    path = folder / "model.safetensors.index.json"
    document = {"weight_map": weight_map}
    if metadata is not None:
        document["metadata"] = metadata
    path.write_text(json.dumps(document))
    return path


def merge_fails(index, tmp_path, *words):
    out = tmp_path / "out.safetensors"
    result = run("merge", index, out)
    assert result.returncode == 1
    for word in words:
        assert word.encode() in result.stderr, result.stderr
    assert not out.exists()


A = {"a": ("I32", [1], struct.pack("<i", 1))}
B = {"b": ("U8", [2], b"\x01\x02")}


def test_merge_checks(tmp_path):
    (tmp_path / "s1.safetensors").write_bytes(file_bytes(A))
    (tmp_path / "s2.safetensors").write_bytes(file_bytes(B))
    (tmp_path / "both.safetensors").write_bytes(file_bytes({**A, **B}))

    good = index_with(tmp_path, {"a": "s1.safetensors", "b": "s2.safetensors"}, {"total_size": 6})
    assert run("merge", good, tmp_path / "good.safetensors").returncode == 0
    assert read(tmp_path / "good.safetensors")[0] == {**A, **B}

    merge_fails(index_with(tmp_path, {"a": "s1.safetensors", "b": "s2.safetensors"},
                           {"total_size": 7}), tmp_path, "total_size")
    merge_fails(index_with(tmp_path, {"a": "s1.safetensors", "b": "missing.safetensors"}),
                tmp_path, "missing.safetensors")
    merge_fails(index_with(tmp_path, {"a": "s2.safetensors", "b": "s2.safetensors"}),
                tmp_path, "“a”")
    # b is in s2 and in both, a is mapped to both: b is in two shards.
    merge_fails(index_with(tmp_path, {"a": "both.safetensors", "b": "s2.safetensors"}),
                tmp_path, "“b”")
    merge_fails(index_with(tmp_path, {"a": "both.safetensors"}), tmp_path, "not in the weight map")
    merge_fails(index_with(tmp_path, {"a": "../s1.safetensors"}), tmp_path, "../s1")
    merge_fails(index_with(tmp_path, {"a": 3}), tmp_path)
    bad = tmp_path / "bad.index.json"
    bad.write_text("{not json")
    merge_fails(bad, tmp_path)
    bad.write_text('{"metadata": {}}')
    merge_fails(bad, tmp_path, "weight_map")


def test_merge_metadata_clash(tmp_path):
    (tmp_path / "s1.safetensors").write_bytes(file_bytes(A, {"k": "1"}))
    (tmp_path / "s2.safetensors").write_bytes(file_bytes(B, {"k": "2"}))
    merge_fails(index_with(tmp_path, {"a": "s1.safetensors", "b": "s2.safetensors"}),
                tmp_path, "“k”")


def test_usage_errors(tmp_path):
    assert run("split", EXAMPLE).returncode == 2
    assert run("split", "--max-shard-size", "lots", EXAMPLE, tmp_path / "x").returncode == 2
    assert run("split", "--max-shard-size", "0", EXAMPLE, tmp_path / "x").returncode == 2
    assert run("split", tmp_path / "missing", tmp_path / "x").returncode == 1
    assert run("merge", tmp_path / "missing.json").returncode == 2
    assert run("merge", tmp_path / "missing.json", tmp_path / "o").returncode == 1


def test_sizes(tmp_path):
    # 5GiB and 5GB both hold the whole example in one shard.
    for size in ("5GiB", "5gb", "1000", "2KiB"):
        out = tmp_path / size
        assert run("split", "--max-shard-size", size, EXAMPLE, out).returncode == 0
        index = json.loads((out / "example.safetensors.index.json").read_text())
        assert len(set(index["weight_map"].values())) == 1


# --json

TENSOR = {"name", "dtype", "shape", "n_bytes"}


def test_split_json(tmp_path):
    out = tmp_path / "shards"
    result = run("split", "--json", "--max-shard-size", "100", EXAMPLE, out)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    document = json.loads(result.stdout)
    assert set(document) == {"file", "index", "total_size", "shards"}
    assert document["file"] == EXAMPLE
    assert document["index"] == str(out / "example.safetensors.index.json")
    index = json.loads((out / "example.safetensors.index.json").read_text())
    assert document["total_size"] == index["metadata"]["total_size"]
    assert [s["file"] for s in document["shards"]] == [
        str(out / ("example-%05d-of-00003.safetensors" % i)) for i in (1, 2, 3)]
    original, _ = read(EXAMPLE)
    for shard in document["shards"]:
        assert set(shard) == {"file", "n_tensors", "tensors", "tensor_bytes", "file_size"}
        tensors, _ = read(shard["file"])
        assert shard["file_size"] == os.path.getsize(shard["file"])
        assert shard["n_tensors"] == len(shard["tensors"]) == len(tensors)
        assert shard["tensor_bytes"] == sum(t["n_bytes"] for t in shard["tensors"]) <= 100
        for tensor in shard["tensors"]:
            assert set(tensor) == TENSOR
            dtype, shape, data = original[tensor["name"]]
            assert (tensor["dtype"], tensor["shape"], tensor["n_bytes"]) == (dtype, shape, len(data))
            assert index["weight_map"][tensor["name"]] == os.path.basename(shard["file"])


def test_merge_json(sharded, tmp_path):
    out = tmp_path / "merged.safetensors"
    result = run("merge", "--json", sharded / "example.safetensors.index.json", out)
    assert result.returncode == 0, result.stderr
    tensors, _ = read(EXAMPLE)
    assert json.loads(result.stdout) == {
        "file": str(out), "n_tensors": len(tensors),
        "tensor_bytes": sum(len(t[2]) for t in tensors.values()),
        "file_size": os.path.getsize(out)}


def test_json_errors(tmp_path):
    result = run("merge", "--json", tmp_path / "missing.index.json", tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.count(b"\n") == 1
    assert json.loads(result.stdout)["error"]["code"] == "not-found"
    result = run("split", "--json", tmp_path / "missing.safetensors", tmp_path / "out")
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["code"] == "not-found"
    assert not (tmp_path / "out").exists()


# All or nothing

def test_split_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "example.safetensors.index.json").write_text("previous")
    (out / "example-00001-of-00003.safetensors").write_text("previous 1")
    # A shard that cannot be moved in: a folder in its place. The first
    # shard, moved in already, is taken out again and the old one put back.
    (out / "example-00002-of-00003.safetensors").mkdir()
    result = run("split", "--max-shard-size", "100", EXAMPLE, out)
    assert result.returncode == 1
    assert result.stderr.count(b"\n") == 1, result.stderr
    assert b"example-00002-of-00003.safetensors" in result.stderr
    assert sorted(os.listdir(out)) == ["example-00001-of-00003.safetensors",
                                       "example-00002-of-00003.safetensors",
                                       "example.safetensors.index.json"]
    assert (out / "example.safetensors.index.json").read_text() == "previous"
    assert (out / "example-00001-of-00003.safetensors").read_text() == "previous 1"
    # Replacing works when nothing is in the way.
    os.rmdir(out / "example-00002-of-00003.safetensors")
    assert run("split", "--max-shard-size", "100", EXAMPLE, out).returncode == 0
    assert sorted(os.listdir(out)) == ["example-%05d-of-00003.safetensors" % i for i in (1, 2, 3)] \
        + ["example.safetensors.index.json"]
    assert read(out / "example-00001-of-00003.safetensors")[0]


def test_split_merge_is_the_canonical_writers_output(tmp_path):
    """A file laid out in no canonical order (tensors by name, not by dtype;
    metadata keys unsorted; extra header padding) comes back from split
    and merge exactly as the canonical writer writes its tensors: as
    `extract` of every name does."""
    tensors = {
        "a.bias": ("F16", [3], struct.pack("<3e", 1.0, 2.0, 3.0)),
        "b.mask": ("BOOL", [2], b"\x01\x00"),
        "c.ids": ("I64", [2], struct.pack("<2q", 7, -7)),
        "d.weight": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
        "e.bytes": ("U8", [5], b"hello"),
        "f.empty": ("F64", [0], b""),
    }
    header = {"__metadata__": {"z": "last", "a": "first"}}
    offset = 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8 + 16)
    source = tmp_path / "odd.safetensors"
    source.write_bytes(struct.pack("<Q", len(text)) + text
                       + b"".join(t[2] for t in tensors.values()))

    shards = tmp_path / "shards"
    assert run("split", "--max-shard-size", "10", source, shards).returncode == 0
    index = json.loads((shards / "odd.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 2
    merged = tmp_path / "merged.safetensors"
    result = run("merge", shards / "odd.safetensors.index.json", merged)
    assert result.returncode == 0, result.stderr

    extracted = tmp_path / "extracted.safetensors"
    assert run("extract", source, extracted, *tensors).returncode == 0
    assert merged.read_bytes() == extracted.read_bytes()
    assert merged.read_bytes() != source.read_bytes()
    assert read(merged) == (tensors, {"a": "first", "z": "last"})
