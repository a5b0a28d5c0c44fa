"""Tests of safetensors-tool's editing commands: add, rm, mv, meta, compact
and du.

Run by meson (suite "tool") with Debian's /usr/bin/python3 -m pytest, which
has numpy. The environment names the built tool (SAFETENSORS_TOOL) and the
folder of example files (SAFETENSORS_TEST_DATA).

Every edited file is checked without the library: the header is parsed with
struct and json, the data offsets must tile the data area from 0, and the
tensor bytes are compared with what was put in.
"""
import io
import json
import os
import re
import shutil
import struct
import subprocess
import warnings

import numpy as np
import pytest

TOOL = os.environ["SAFETENSORS_TOOL"]
DATA = os.environ["SAFETENSORS_TEST_DATA"]
EXAMPLE = os.path.join(DATA, "example.safetensors")

EDIT_COMMANDS = ["add", "rm", "mv", "meta", "compact", "du"]
FILLER = re.compile(r"^__free_[0-9]+__$")
STATS = re.compile(r"^written: (\d+) bytes, moved: (\d+) bytes, header: (\d+) bytes$")

DTYPES = {
    "bool": "BOOL", "uint8": "U8", "int8": "I8", "uint16": "U16", "int16": "I16",
    "uint32": "U32", "int32": "I32", "uint64": "U64", "int64": "I64",
    "float16": "F16", "float32": "F32", "float64": "F64", "complex64": "C64",
}


def run(*args):
    """Runs the tool with UTF-8 messages; returns the CompletedProcess."""
    env = dict(os.environ)
    env["LC_ALL"] = "C.UTF-8"
    return subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)


def ok(*args):
    result = run(*args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result


def fails(*args, status=1):
    result = run(*args)
    assert result.returncode == status, (result.stdout, result.stderr)
    return result


# ---------------------------------------------------------------- files


def write_safetensors(path, tensors, metadata=None):
    """Writes a canonical file from {name: numpy array}, in that order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    data = b""
    for name, array in tensors.items():
        content = little_c_bytes(array)
        header[name] = {"dtype": DTYPES[array.dtype.name], "shape": list(array.shape),
                        "data_offsets": [len(data), len(data) + len(content)]}
        data += content
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    return str(path)


def read_safetensors(path):
    """Parses and checks a file without the library. Returns (tensors,
    metadata, fillers): tensors maps name -> (dtype, shape, bytes),
    fillers the sizes of the hidden __free_<n>__ entries."""
    with open(path, "rb") as f:
        content = f.read()
    (n,) = struct.unpack("<Q", content[:8])
    assert 8 + n <= len(content)
    header = json.loads(content[8:8 + n].decode("utf-8"))
    data = content[8 + n:]
    metadata = header.pop("__metadata__", {})
    assert all(isinstance(v, str) for v in metadata.values())

    # The offsets tile the data area: contiguous from 0 to its end.
    ranges = sorted(tuple(info["data_offsets"]) for info in header.values())
    position = 0
    for begin, end in ranges:
        assert begin == position, ranges
        position = end
    assert position == len(data)

    tensors, fillers = {}, []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        if FILLER.match(name):
            fillers.append(end - begin)
        else:
            tensors[name] = (info["dtype"], info["shape"], data[begin:end])
    return tensors, metadata, fillers


def check_file(path, arrays, metadata=None, compact=True):
    """@path is valid and holds exactly @arrays ({name: numpy array})."""
    tensors, stored_metadata, fillers = read_safetensors(path)
    assert sorted(tensors) == sorted(arrays)
    for name, array in arrays.items():
        dtype, shape, content = tensors[name]
        assert dtype == DTYPES[array.dtype.name], name
        assert shape == list(array.shape), name
        assert content == little_c_bytes(array), name
    if metadata is not None:
        assert stored_metadata == metadata
    if compact:
        assert fillers == []
    assert ok("validate", path).stdout == f"{path}: OK\n"
    return fillers


def little_c_bytes(array):
    """The bytes a safetensors file holds for @array."""
    dtype = array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype
    return np.ascontiguousarray(array.astype(dtype)).tobytes(order="C")


def values(dtype, shape, seed=0):
    """Deterministic, non-zero contents of a dtype and shape."""
    n = int(np.prod(shape, dtype=np.int64))
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        flat = (np.arange(n) + seed) % 3 == 1
    elif dtype.kind in "fc":
        flat = np.arange(n) * -0.5 + 0.25 + seed
    else:
        flat = (np.arange(n, dtype=np.int64) * 7919 + seed) % 100 + 1
    return flat.astype(dtype).reshape(shape)


def save_npy(path, array, version=None):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.lib.format.write_array(buffer, array, version=version)
    path.write_bytes(buffer.getvalue())
    return str(path)


def raw_npy(header, data=b""):
    """A version 1.0 .npy from header text, unchecked."""
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def stats_of(result):
    match = STATS.match(result.stdout.strip())
    assert match, result.stdout
    return tuple(int(g) for g in match.groups())


def du_of(path):
    return json.loads(ok("du", "--json", path).stdout)


@pytest.fixture
def model(tmp_path):
    """A small file with three tensors and metadata; returns (path, arrays,
    metadata)."""
    arrays = {
        "a": values("float32", (4, 8), 1),
        "b": values("int64", (16,), 2),
        "c": values("float16", (3, 3), 3),
    }
    metadata = {"format": "pt", "author": "me"}
    return write_safetensors(tmp_path / "model.safetensors", arrays, metadata), arrays, metadata


@pytest.fixture
def big(tmp_path):
    """Five tensors of 256 KiB each, for edits that move or free data."""
    arrays = {f"t{i}": values("float32", (65536,), i + 1) for i in range(5)}
    return write_safetensors(tmp_path / "big.safetensors", arrays), arrays


def unchanged(path, before):
    with open(path, "rb") as f:
        return f.read() == before


def content_of(path):
    with open(path, "rb") as f:
        return f.read()


# ---------------------------------------------------------------- command line


def test_commands_are_listed():
    out = ok("--help").stdout
    for command in EDIT_COMMANDS:
        assert re.search(rf"^  {command} ", out, re.MULTILINE), command


@pytest.mark.parametrize("command", EDIT_COMMANDS)
def test_command_help(command):
    assert ok(command, "--help").stdout.startswith(f"Usage:\n  safetensors-tool {command} ")


@pytest.mark.parametrize("args", [
    ["add"], ["add", "F", "NAME"], ["add", "F", "N", "A.npy", "extra"],
    ["rm"], ["rm", "F"],
    ["mv", "F", "OLD"], ["mv", "F", "A", "B", "C"],
    ["meta"], ["meta", "F", "set", "K"], ["meta", "F", "set", "K", "V", "W"],
    ["meta", "F", "rm"], ["meta", "F", "rm", "K", "V"], ["meta", "F", "frob"],
    ["meta", "F", "get", "K"],
    ["meta", "--stats", "F"],
    ["compact"], ["compact", "F", "G"], ["compact", "--keep-free", "F"],
    ["du"], ["du", "F", "G"], ["du", "--stats", "F"],
    ["rm", "--bogus", "F", "x"],
])
def test_usage_errors(model, args):
    path, _, _ = model
    before = content_of(path)
    args = [path if a == "F" else a for a in args]
    result = fails(*args, status=2)
    assert result.stderr.startswith(f"safetensors-tool {args[0]}: ")
    assert unchanged(path, before)


@pytest.mark.parametrize("args", [
    ["add", "{}", "x", "{npy}"], ["rm", "{}", "a"], ["mv", "{}", "a", "b"],
    ["meta", "{}"], ["meta", "{}", "set", "k", "v"], ["meta", "{}", "rm", "k"],
    ["compact", "{}"], ["du", "{}"],
])
def test_missing_file(tmp_path, args):
    missing = str(tmp_path / "missing.safetensors")
    npy = save_npy(tmp_path / "x.npy", values("int8", (2,)))
    args = [a.format(missing, npy=npy) for a in args]
    result = fails(*args)
    assert result.stderr.startswith(f"safetensors-tool: {missing}: ")
    assert "\n" not in result.stderr.rstrip("\n")
    assert not os.path.exists(missing)


@pytest.mark.parametrize("command", [["rm", "a"], ["mv", "a", "z"], ["meta", "set", "k", "v"],
                                     ["compact"], ["du"], ["meta"]])
def test_invalid_file(tmp_path, command):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 100) + b"{}")
    result = fails(command[0], path, *command[1:])
    assert result.stderr.startswith(f"safetensors-tool: {path}: ")
    assert path.read_bytes() == struct.pack("<Q", 100) + b"{}"


# ---------------------------------------------------------------- add


def npy_cases():
    cases = {}
    for name in DTYPES:
        cases[name] = values(name, (3, 5))
        cases[name + "_fortran"] = np.asfortranarray(values(name, (2, 3, 4)))
        if np.dtype(name).itemsize > 1:
            big_endian = values(name, (4, 3)).astype(np.dtype(name).newbyteorder(">"))
            cases[name + "_be"] = big_endian
            cases[name + "_be_fortran"] = np.asfortranarray(big_endian)
    cases["scalar"] = values("float64", ())
    cases["empty"] = values("int32", (0, 7))
    cases["large"] = values(">f4", (300000,))
    return cases


@pytest.mark.parametrize("case", sorted(npy_cases()))
def test_add(model, tmp_path, case):
    path, arrays, metadata = model
    array = npy_cases()[case]
    npy = save_npy(tmp_path / "array.npy", array)
    ok("add", path, "new", npy)
    check_file(path, {**arrays, "new": array}, metadata)


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
def test_add_npy_versions(model, tmp_path, version):
    path, arrays, metadata = model
    array = np.asfortranarray(values(">i4", (5, 6)))
    npy = save_npy(tmp_path / "array.npy", array, version=version)
    assert content_of(npy)[6:8] == bytes(version)
    ok("add", path, "é ✓", npy)
    check_file(path, {**arrays, "é ✓": array}, metadata)


def test_add_to_empty_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(struct.pack("<Q", 8) + b"{}      ")
    array = values("uint8", (10,))
    ok("add", path, "x", save_npy(tmp_path / "x.npy", array))
    check_file(str(path), {"x": array})


def test_add_existing_name_fails(model, tmp_path):
    path, arrays, _ = model
    before = content_of(path)
    result = fails("add", path, "b", save_npy(tmp_path / "x.npy", values("int8", (100,))))
    assert result.stderr == f"safetensors-tool: {path}: a tensor named “b” already exists\n"
    assert unchanged(path, before)


def test_add_replace(model, tmp_path):
    path, arrays, metadata = model
    array = values(">c8", (7, 2), 9)
    ok("add", "--replace", path, "b", save_npy(tmp_path / "x.npy", array))
    check_file(path, {**arrays, "b": array}, metadata)


def test_add_replace_adds_a_missing_name(model, tmp_path):
    path, arrays, metadata = model
    array = values("bool", (5,))
    ok("add", "--replace", path, "d", save_npy(tmp_path / "x.npy", array))
    check_file(path, {**arrays, "d": array}, metadata)


@pytest.mark.parametrize("name", ["__metadata__", "__free_0__", "__free_x"])
def test_add_reserved_name_fails(model, tmp_path, name):
    path, _, _ = model
    before = content_of(path)
    result = fails("add", path, name, save_npy(tmp_path / "x.npy", values("int8", (3,))))
    assert result.stderr.startswith(f"safetensors-tool: {path}: ")
    assert unchanged(path, before)


BAD_NPY = {
    "garbage": b"this is not numpy",
    "empty": b"",
    "truncated-data": raw_npy(b"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }\n",
                              b"\0" * 12),
    "extra-data": raw_npy(b"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n",
                          b"\0" * 8),
    "strings": raw_npy(b"{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }\n",
                       b"\0" * 12),
    "objects": raw_npy(b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }\n",
                       b"\0" * 8),
    "bad-header": raw_npy(b"{'descr': '<f4', 'shape': (1,), }\n", b"\0" * 4),
}


@pytest.mark.parametrize("case", sorted(BAD_NPY))
def test_add_bad_npy(model, tmp_path, case):
    path, _, _ = model
    before = content_of(path)
    npy = tmp_path / "bad.npy"
    npy.write_bytes(BAD_NPY[case])
    result = fails("add", path, "x", npy)
    assert result.stderr.startswith(f"safetensors-tool: {npy}: ")
    assert unchanged(path, before)


def test_add_missing_npy(model, tmp_path):
    path, _, _ = model
    before = content_of(path)
    result = fails("add", path, "x", tmp_path / "missing.npy")
    assert result.stderr == f"safetensors-tool: {tmp_path / 'missing.npy'}: No such file or directory\n"
    result = fails("add", path, "x", tmp_path)
    assert result.stderr == f"safetensors-tool: {tmp_path}: is a folder, not a .npy file\n"
    assert unchanged(path, before)


def test_add_stats(model, tmp_path):
    path, _, _ = model
    array = values("float32", (1024,))
    written, moved, header = stats_of(ok("add", "--stats", path, "x",
                                         save_npy(tmp_path / "x.npy", array)))
    assert header == struct.unpack("<Q", content_of(path)[:8])[0] + 8
    # Staged data that the commit then relocates counts twice.
    assert written >= array.nbytes + moved + header


def test_add_writes_only_the_new_data(big, tmp_path):
    """Once the header has room, adding writes the tensor and the header."""
    path, arrays = big
    ok("add", path, "first", save_npy(tmp_path / "x.npy", values("int8", (16,))))
    array = values("float32", (1000,))
    written, moved, header = stats_of(ok("add", "--stats", path, "second",
                                         save_npy(tmp_path / "y.npy", array)))
    assert moved == 0
    assert written == array.nbytes + header
    check_file(path, {**arrays, "first": values("int8", (16,)), "second": array})


# ---------------------------------------------------------------- rm


def test_rm(model):
    path, arrays, metadata = model
    ok("rm", path, "a", "c")
    check_file(path, {"b": arrays["b"]}, metadata)


def test_rm_name_twice(model):
    path, arrays, metadata = model
    ok("rm", path, "b", "b")
    check_file(path, {"a": arrays["a"], "c": arrays["c"]}, metadata)


def test_rm_all(model):
    path, _, metadata = model
    ok("rm", path, "a", "b", "c")
    check_file(path, {}, metadata)


@pytest.mark.parametrize("names", [["nope"], ["a", "nope"], ["a", "b", "nope", "c"]])
def test_rm_unknown_changes_nothing(model, names):
    path, _, _ = model
    before = content_of(path)
    result = fails("rm", path, *names)
    assert result.stderr == f"safetensors-tool: {path}: no tensor named “nope”\n"
    assert unchanged(path, before)


def test_rm_stats(big):
    path, arrays = big
    _, moved, _ = stats_of(ok("rm", "--stats", path, "t3"))
    # The shorter side of the hole moves: the one tensor after it.
    assert moved == arrays["t4"].nbytes
    del arrays["t3"]
    check_file(path, arrays)


# ---------------------------------------------------------------- mv


def test_mv(model):
    path, arrays, metadata = model
    ok("mv", path, "b", "renamed/β")
    # The header grew once and kept spare room: the next rename only
    # rewrites it.
    stats = stats_of(ok("mv", "--stats", path, "c", "c2"))
    assert stats[0] == stats[2] and stats[1] == 0
    arrays["renamed/β"] = arrays.pop("b")
    arrays["c2"] = arrays.pop("c")
    check_file(path, arrays, metadata)


@pytest.mark.parametrize("old, new, message", [
    ("nope", "x", "no tensor named “nope”"),
    ("a", "b", "a tensor named “b” already exists"),
    ("a", "__metadata__", "“__metadata__” cannot name a tensor"),
])
def test_mv_errors(model, old, new, message):
    path, _, _ = model
    before = content_of(path)
    assert fails("mv", path, old, new).stderr == f"safetensors-tool: {path}: {message}\n"
    assert unchanged(path, before)


def test_mv_to_reserved_filler_name(model):
    path, _, _ = model
    before = content_of(path)
    fails("mv", path, "a", "__free_3__")
    assert unchanged(path, before)


# ---------------------------------------------------------------- meta


def test_meta_print(model):
    path, _, _ = model
    assert ok("meta", path).stdout == "author: me\nformat: pt\n"
    assert json.loads(ok("meta", "--json", path).stdout) == {"author": "me", "format": "pt"}


def test_meta_print_awkward(tmp_path):
    metadata = {"z": "two\nlines", "": "empty key", "a b": "", "ü": "ß"}
    path = write_safetensors(tmp_path / "m.safetensors", {}, metadata)
    assert ok("meta", path).stdout == (
        '"": empty key\n'
        'a b: ""\n'
        'z: "two\\nlines"\n'
        "ü: ß\n")
    assert json.loads(ok("meta", "--json", path).stdout) == metadata


def test_meta_print_none(tmp_path):
    path = write_safetensors(tmp_path / "m.safetensors", {"x": values("int8", (2,))})
    assert ok("meta", path).stdout == ""
    assert json.loads(ok("meta", "--json", path).stdout) == {}


def test_meta_set(model):
    path, arrays, metadata = model
    ok("meta", path, "set", "format", "np")
    ok("meta", path, "set", "new key", "välue\nwith newline")
    metadata.update({"format": "np", "new key": "välue\nwith newline"})
    check_file(path, arrays, metadata)
    assert json.loads(ok("meta", "--json", path).stdout) == metadata


def test_meta_rm(model):
    path, arrays, _ = model
    stats = stats_of(ok("meta", "--stats", path, "rm", "author"))
    assert stats[1] == 0
    check_file(path, arrays, {"format": "pt"})


def test_meta_rm_unknown_key(model):
    path, _, _ = model
    before = content_of(path)
    result = fails("meta", path, "rm", "nope")
    assert result.stderr == f"safetensors-tool: {path}: no metadata key “nope”\n"
    assert unchanged(path, before)


def test_meta_set_on_file_without_metadata(tmp_path):
    arrays = {"x": values("int8", (2,))}
    path = write_safetensors(tmp_path / "m.safetensors", arrays)
    ok("meta", path, "set", "k", "v")
    check_file(path, arrays, {"k": "v"})


# ---------------------------------------------------------------- keep-free, compact, du


def test_du_compact_file(model):
    path, arrays, _ = model
    usage = du_of(path)
    st = os.stat(path)
    assert usage["apparent_size"] == st.st_size
    assert usage["disk_bytes"] == st.st_blocks * 512
    assert usage["tensor_bytes"] == sum(a.nbytes for a in arrays.values())
    assert usage["header_bytes"] == 8 + struct.unpack("<Q", content_of(path)[:8])[0]
    assert usage["free_bytes"] == 0
    text = ok("du", path).stdout.splitlines()
    assert [line.split(":")[0] for line in text] == [
        "Apparent size", "Disk usage", "Header", "Tensors", "Free"]
    assert text[0].split() == ["Apparent", "size:", str(st.st_size), "bytes"]
    assert text[4].split() == ["Free:", "0", "bytes"]


def test_keep_free_rm_then_compact(big):
    path, arrays = big
    _, moved, _ = stats_of(ok("rm", "--keep-free", "--stats", path, "t2"))
    del arrays["t2"]
    fillers = check_file(path, arrays, compact=False)
    # Freed data stays in place as filler: nothing after the hole moves.
    assert moved <= arrays["t0"].nbytes
    assert sum(fillers) > 0

    usage = du_of(path)
    assert usage["free_bytes"] == sum(fillers)
    assert usage["tensor_bytes"] == sum(a.nbytes for a in arrays.values())
    assert usage["apparent_size"] == (usage["header_bytes"] + usage["tensor_bytes"]
                                      + usage["free_bytes"])
    # The filler is a hole: the file takes less disk than its size.
    assert usage["disk_bytes"] < usage["apparent_size"] - 128 * 1024
    # Hidden from the listing, which shows the user's tensors only.
    listing = json.loads(ok("ls", "--json", path).stdout)
    assert sorted(t["name"] for t in listing) == sorted(arrays)

    ok("compact", path)
    check_file(path, arrays)
    usage = du_of(path)
    assert usage["free_bytes"] == 0
    assert usage["apparent_size"] == usage["header_bytes"] + usage["tensor_bytes"]


def test_keep_free_edits_then_compact(big, tmp_path):
    path, arrays = big
    small = values("int16", (100,))
    ok("rm", "--keep-free", path, "t1", "t3")
    ok("add", "--keep-free", path, "small", save_npy(tmp_path / "s.npy", small))
    ok("mv", "--keep-free", path, "t4", "last")
    ok("meta", "--keep-free", path, "set", "k", "v")
    arrays = {"t0": arrays["t0"], "t2": arrays["t2"], "last": arrays["t4"], "small": small}
    fillers = check_file(path, arrays, {"k": "v"}, compact=False)
    assert du_of(path)["free_bytes"] == sum(fillers) > 0

    stats = stats_of(ok("compact", "--stats", path))
    assert stats[0] > 0
    check_file(path, arrays, {"k": "v"})
    assert du_of(path)["free_bytes"] == 0


def test_keep_free_add_reuses_free_space(big, tmp_path):
    path, arrays = big
    ok("rm", "--keep-free", path, "t2")
    size = os.stat(path).st_size
    array = values("float32", (1000,))
    _, moved, _ = stats_of(ok("add", "--keep-free", "--stats", path, "x",
                              save_npy(tmp_path / "x.npy", array)))
    assert moved == 0
    assert os.stat(path).st_size == size
    del arrays["t2"]
    check_file(path, {**arrays, "x": array}, compact=False)


def test_edit_without_keep_free_reclaims_free_space(big):
    path, arrays = big
    ok("rm", "--keep-free", path, "t2")
    assert du_of(path)["free_bytes"] > 0
    ok("mv", path, "t0", "first")
    arrays["first"] = arrays.pop("t0")
    del arrays["t2"]
    check_file(path, arrays)
    assert du_of(path)["free_bytes"] == 0


def test_keep_free_failure_changes_nothing(big):
    path, _ = big
    ok("rm", "--keep-free", path, "t2")
    before = content_of(path)
    fails("rm", "--keep-free", path, "t1", "nope")
    assert unchanged(path, before)


def test_compact_of_compact_file_is_a_no_op(model):
    path, _, _ = model
    before = content_of(path)
    assert stats_of(ok("compact", "--stats", path)) == (0, 0, 0)
    assert unchanged(path, before)


def test_edit_a_copy_of_the_example(tmp_path):
    path = str(tmp_path / "example.safetensors")
    shutil.copyfile(EXAMPLE, path)
    before, metadata, _ = read_safetensors(path)
    ok("mv", path, next(iter(before)), "renamed")
    ok("meta", path, "set", "edited", "yes")
    after, new_metadata, _ = read_safetensors(path)
    assert sorted(after.values()) == sorted(before.values())
    assert new_metadata == {**metadata, "edited": "yes"}
    assert ok("validate", path).returncode == 0


# ---------------------------------------------------------------- --json


COMMIT_KEYS = {"file", "bytes_written", "bytes_moved", "header_bytes"}


def commit_of(result):
    """The --json report of an edit, checked for its members."""
    report = json.loads(result.stdout)
    assert set(report) == COMMIT_KEYS
    assert all(type(report[k]) is int for k in COMMIT_KEYS - {"file"})
    return report


@pytest.mark.parametrize("edit", [
    ["add", "F", "x", "{npy}"], ["add", "--replace", "F", "a", "{npy}"],
    ["rm", "F", "b"], ["rm", "--keep-free", "F", "a", "c"], ["mv", "F", "a", "a.renamed"],
    ["meta", "F", "set", "license", "mit"], ["meta", "F", "rm", "author"],
    ["compact", "F"],
])
def test_edit_json_matches_stats(model, tmp_path, edit):
    """--json reports what --stats prints, for the same edit of a copy."""
    path, _, _ = model
    copy = str(tmp_path / "copy.safetensors")
    shutil.copyfile(path, copy)
    npy = save_npy(tmp_path / "x.npy", values("float32", (8, 8)))
    expand = lambda target: [target if a == "F" else a.format(npy=npy) for a in edit]

    report = commit_of(ok(*expand(path)[:1], "--json", *expand(path)[1:]))
    assert report["file"] == path
    written, moved, header = stats_of(ok(*expand(copy)[:1], "--stats", *expand(copy)[1:]))
    assert (report["bytes_written"], report["bytes_moved"], report["header_bytes"]) == \
        (written, moved, header)
    assert content_of(path) == content_of(copy)


def test_json_with_stats_is_one_document(model):
    """--stats adds no text line to the JSON report."""
    path, _, _ = model
    commit_of(ok("mv", "--json", "--stats", path, "a", "z"))


def test_rm_json_values(big):
    path, arrays = big
    report = commit_of(ok("rm", "--json", path, "t3"))
    assert report["bytes_moved"] == arrays["t4"].nbytes
    assert report["header_bytes"] == struct.unpack("<Q", content_of(path)[:8])[0] + 8
    assert report["bytes_written"] >= report["bytes_moved"] + report["header_bytes"]


def test_compact_json_of_compact_file(model):
    path, _, _ = model
    assert commit_of(ok("compact", "--json", path)) == {
        "file": path, "bytes_written": 0, "bytes_moved": 0, "header_bytes": 0}


def test_meta_json_set_then_print(model):
    path, _, metadata = model
    commit_of(ok("meta", "--json", path, "set", "k", "v"))
    assert json.loads(ok("meta", "--json", path).stdout) == {**metadata, "k": "v"}


def test_du_json_values(model):
    path, arrays, _ = model
    usage = du_of(path)
    assert set(usage) == {"apparent_size", "disk_bytes", "header_bytes",
                          "tensor_bytes", "free_bytes"}
    header = struct.unpack("<Q", content_of(path)[:8])[0] + 8
    assert usage["apparent_size"] == os.path.getsize(path)
    assert usage["header_bytes"] == header
    assert usage["tensor_bytes"] == sum(a.nbytes for a in arrays.values())
    assert usage["free_bytes"] == 0
    assert usage["disk_bytes"] == os.stat(path).st_blocks * 512


@pytest.mark.parametrize("args", [
    ["add", "{}", "x", "{npy}"], ["rm", "{}", "a"], ["mv", "{}", "a", "b"],
    ["meta", "{}"], ["meta", "{}", "set", "k", "v"], ["meta", "{}", "rm", "k"],
    ["compact", "{}"], ["du", "{}"], ["recover", "{}"],
])
def test_missing_file_json(tmp_path, args):
    """The error on stderr, and as an object on stdout for scripts."""
    missing = str(tmp_path / "missing.safetensors")
    npy = save_npy(tmp_path / "x.npy", values("int8", (2,)))
    args = [a.format(missing, npy=npy) for a in args]
    result = fails(args[0], "--json", *args[1:])
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"safetensors-tool: {missing}: ")
    assert json.loads(result.stdout) == {"error": {
        "file": missing, "code": "not-found",
        "message": result.stderr[len(f"safetensors-tool: {missing}: "):-1]}}


def test_failed_edit_json(model):
    path, _, _ = model
    before = content_of(path)
    result = fails("mv", "--json", path, "nope", "x")
    assert json.loads(result.stdout)["error"]["code"] == "tensor-not-found"
    assert result.stderr == f"safetensors-tool: {path}: " \
        + json.loads(result.stdout)["error"]["message"] + "\n"
    assert unchanged(path, before)


def test_add_missing_npy_json_names_the_array(model, tmp_path):
    path, _, _ = model
    missing = str(tmp_path / "missing.npy")
    result = fails("add", "--json", path, "x", missing)
    assert json.loads(result.stdout)["error"]["file"] == missing
    assert result.stderr.startswith(f"safetensors-tool: {missing}: ")


@pytest.mark.parametrize("command", [["rm", "a"], ["mv", "a", "b"], ["meta"],
                                     ["meta", "set", "k", "v"], ["compact"], ["du"],
                                     ["recover"]])
def test_index_is_refused(tmp_path, command):
    """An index is not a file these commands can edit: a clear error."""
    index = tmp_path / "model.safetensors.index.json"
    index.write_text('{"metadata": {}, "weight_map": {}}')
    before = index.read_bytes()
    result = fails(command[0], index, *command[1:])
    assert result.stderr == (f"safetensors-tool: {index}: the index of a sharded checkpoint, "
                             "not a .safetensors file (“merge” joins its shards into one)\n")
    assert index.read_bytes() == before
