"""Tests of safetensors-tool's copy commands: cat, extract, sparsify.

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
EXAMPLE_METADATA = {"description": "safetensors-glib example", "format": "pt"}

DTYPE_ORDER = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2",
               "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16",
               "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64",
               "I64", "U64"]


def run(*args):
    return subprocess.run([TOOL, *map(str, args)], capture_output=True, timeout=60)


def read(path):
    """(tensors: name -> (dtype, shape, bytes), metadata, header dict)."""
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
    return tensors, header.get("__metadata__", {}), header


def canonical_bytes(tensors, metadata=None):
    """The reference writer's layout: dtype descending, then name."""
    order = sorted(tensors, key=lambda n: (-DTYPE_ORDER.index(tensors[n][0]), n.encode()))
    header = {}
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    offset = 0
    for name in order:
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(tensors[n][2] for n in order)


@pytest.fixture
def make(tmp_path):
    def _make(name, tensors, metadata=None):
        path = tmp_path / name
        path.write_bytes(canonical_bytes(tensors, metadata))
        return str(path)
    return _make


A_TENSORS = {"x": ("I32", [2], struct.pack("<2i", 1, -2)),
             "shared": ("F32", [1], struct.pack("<f", 1.5))}
B_TENSORS = {"y": ("U8", [3], b"\x01\x02\x03"),
             "shared": ("F32", [1], struct.pack("<f", 2.5))}


# cat

def test_cat_merges_canonically(tmp_path, make):
    a = make("a.safetensors", {"x": A_TENSORS["x"]}, {"k": "v", "a": "1"})
    b = make("b.safetensors", {"y": B_TENSORS["y"]}, {"k": "v", "b": "2"})
    out = tmp_path / "out.safetensors"
    result = run("cat", out, a, b)
    assert result.returncode == 0, result.stderr
    merged = {"x": A_TENSORS["x"], "y": B_TENSORS["y"]}
    assert out.read_bytes() == canonical_bytes(merged, {"k": "v", "a": "1", "b": "2"})
    assert run("validate", out).returncode == 0


def test_cat_example_roundtrip(tmp_path):
    out = tmp_path / "copy.safetensors"
    assert run("cat", out, EXAMPLE).returncode == 0
    tensors, metadata, _ = read(EXAMPLE)
    assert out.read_bytes() == canonical_bytes(tensors, metadata)
    # example.safetensors is itself canonical.
    assert out.read_bytes() == open(EXAMPLE, "rb").read()
    assert run("cat", "--no-mmap", tmp_path / "again.safetensors", EXAMPLE).returncode == 0
    assert (tmp_path / "again.safetensors").read_bytes() == out.read_bytes()


def test_cat_name_clash(tmp_path, make):
    a = make("a.safetensors", A_TENSORS)
    b = make("b.safetensors", B_TENSORS)
    out = tmp_path / "out.safetensors"
    result = run("cat", out, a, b)
    assert result.returncode == 1
    assert b"shared" in result.stderr
    assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith("out")]


def test_cat_prefix(tmp_path, make):
    a = make("first.model.safetensors", A_TENSORS, {"same": "1", "clash": "a"})
    b = make("b.safetensors", B_TENSORS, {"same": "1", "clash": "b"})
    out = tmp_path / "out.safetensors"
    result = run("cat", "--prefix", out, a, b)
    assert result.returncode == 0, result.stderr
    tensors, metadata, _ = read(out)
    assert tensors == {
        "first.model.x": A_TENSORS["x"],
        "first.model.shared": A_TENSORS["shared"],
        "b.y": B_TENSORS["y"],
        "b.shared": B_TENSORS["shared"],
    }
    assert metadata == {"same": "1", "first.model.clash": "a", "b.clash": "b"}


def test_cat_metadata_clash(tmp_path, make):
    a = make("a.safetensors", {"x": A_TENSORS["x"]}, {"k": "1"})
    b = make("b.safetensors", {"y": B_TENSORS["y"]}, {"k": "2"})
    out = tmp_path / "out.safetensors"
    result = run("cat", out, a, b)
    assert result.returncode == 1
    assert b"\xe2\x80\x9ck\xe2\x80\x9d" in result.stderr
    assert not out.exists()


def test_cat_errors(tmp_path):
    out = tmp_path / "out.safetensors"
    assert run("cat", out).returncode == 2
    assert run("cat").returncode == 2
    assert run("cat", out, tmp_path / "missing.safetensors").returncode == 1
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    assert run("cat", out, EXAMPLE, bad).returncode == 1
    assert not out.exists()


# extract

def test_extract(tmp_path):
    out = tmp_path / "sub.safetensors"
    result = run("extract", EXAMPLE, out, "mask", "hello", "hello")
    assert result.returncode == 0, result.stderr
    tensors, metadata, _ = read(EXAMPLE)
    subset = {n: tensors[n] for n in ("mask", "hello")}
    assert out.read_bytes() == canonical_bytes(subset, metadata)
    assert read(out)[1] == EXAMPLE_METADATA


def test_extract_errors(tmp_path):
    out = tmp_path / "sub.safetensors"
    result = run("extract", EXAMPLE, out, "hello", "nope")
    assert result.returncode == 1
    assert b"nope" in result.stderr
    assert not out.exists()
    assert run("extract", EXAMPLE, out).returncode == 2
    assert run("extract", tmp_path / "missing", out, "x").returncode == 1


# sparsify

def allocated(path):
    return os.stat(path).st_blocks * 512


def test_sparsify(tmp_path, make):
    zeros = bytes(1 << 20)
    ones = b"\x01" * 8192
    path = make("s.safetensors", {"zeros": ("U8", [len(zeros)], zeros),
                                  "ones": ("I8", [len(ones)], ones)}, {"k": "v"})
    before_bytes = open(path, "rb").read()
    before = allocated(path)
    result = run("sparsify", "--json", path)
    if result.returncode != 0 and b"not supported" in result.stderr.lower():
        pytest.skip("no hole punching here")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    after = allocated(path)
    assert open(path, "rb").read() == before_bytes
    assert after < before
    assert report["bytes_freed"] == before - after
    assert report["bytes_freed"] >= (1 << 20) - 2 * 4096
    assert report["allocated_bytes"] == after

    # Nothing more to free the second time.
    result = run("sparsify", path)
    assert result.returncode == 0
    assert result.stdout.decode() == "%s: freed 0 bytes (%d bytes allocated)\n" % (path, after)
    assert run("validate", path).returncode == 0


def test_sparsify_json_error(tmp_path):
    missing = str(tmp_path / "missing.safetensors")
    result = run("sparsify", "--json", missing)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert err.startswith("safetensors-tool: %s: " % missing) and err.count("\n") == 1
    assert json.loads(result.stdout) == {"error": {
        "file": missing, "code": "not-found",
        "message": err[len("safetensors-tool: %s: " % missing):-1]}}


def test_sparsify_errors(tmp_path):
    assert run("sparsify").returncode == 2
    assert run("sparsify", tmp_path / "missing.safetensors").returncode == 1
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    assert run("sparsify", bad).returncode == 1
    assert bad.read_bytes() == b"garbage"


# --json: {"file", "n_tensors", "tensor_bytes", "file_size"}

WRITTEN = {"file", "n_tensors", "tensor_bytes", "file_size"}


def test_cat_json(tmp_path, make):
    a = make("a.safetensors", {"x": A_TENSORS["x"]}, {"k": "v"})
    b = make("b.safetensors", {"y": B_TENSORS["y"]}, {"k": "v"})
    out = tmp_path / "out.safetensors"
    result = run("cat", "--json", out, a, b)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    document = json.loads(result.stdout)
    assert set(document) == WRITTEN
    assert document == {"file": str(out), "n_tensors": 2, "tensor_bytes": 11,
                        "file_size": os.path.getsize(out)}


def test_extract_json(tmp_path):
    out = tmp_path / "out.safetensors"
    result = run("extract", "--json", EXAMPLE, out, "hello", "mask", "hello")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    tensors, _, _ = read(out)
    assert document == {"file": str(out), "n_tensors": 2,
                        "tensor_bytes": sum(len(t[2]) for t in tensors.values()),
                        "file_size": os.path.getsize(out)}


def test_json_errors(tmp_path, make):
    """With --json, a failure also prints the error object on stdout."""
    out = tmp_path / "out.safetensors"
    result = run("extract", "--json", EXAMPLE, out, "nope")
    assert result.returncode == 1
    assert result.stderr.count(b"\n") == 1
    error = json.loads(result.stdout)["error"]
    assert (error["file"], error["code"]) == (EXAMPLE, "tensor-not-found")
    assert not out.exists()

    a = make("a.safetensors", A_TENSORS, {"k": "1"})
    b = make("b.safetensors", B_TENSORS, {"k": "2"})
    result = run("cat", "--json", out, a, b)
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert (error["file"], error["code"]) == (b, "duplicate-name")
    assert "“shared”" in error["message"]
    result = run("cat", "--json", "--prefix", out, a, b)
    assert result.returncode == 0
    c = make("c.safetensors", {"z": B_TENSORS["y"]}, {"k": "3"})
    result = run("cat", "--json", out, a, c)
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert (error["file"], error["code"]) == (c, "invalid-data")
    assert "“k”" in error["message"]
    # Without --json, stdout stays empty.
    result = run("cat", out, a, c)
    assert result.returncode == 1 and result.stdout == b""
