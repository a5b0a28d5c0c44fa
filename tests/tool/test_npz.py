"""Tests of safetensors-tool's NumPy commands: import-npz and export-npz.

Run by meson (suite "tool") with Debian's /usr/bin/python3 -m pytest, which
has numpy. The environment names the built tool (SAFETENSORS_TOOL) and the
folder of example files (SAFETENSORS_TEST_DATA).
"""
import io
import json
import os
import struct
import subprocess
import warnings
import zipfile

import numpy as np
import pytest

TOOL = os.environ["SAFETENSORS_TOOL"]
DATA = os.environ["SAFETENSORS_TEST_DATA"]
EXAMPLE = os.path.join(DATA, "example.safetensors")

# NumPy dtype -> safetensors dtype, for every type both have.
DTYPES = {
    "bool": "BOOL", "uint8": "U8", "int8": "I8", "uint16": "U16", "int16": "I16",
    "uint32": "U32", "int32": "I32", "uint64": "U64", "int64": "I64",
    "float16": "F16", "float32": "F32", "float64": "F64", "complex64": "C64",
}


def utf8_env():
    """Messages quote names with “”: keep them UTF-8 whatever the caller's
    locale."""
    env = dict(os.environ)
    env["LC_ALL"] = "C.UTF-8"
    return env


def run(*args):
    """Runs the tool; returns the CompletedProcess with text output."""
    return subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True,
                          env=utf8_env(), timeout=120)


def values(dtype, shape):
    """Deterministic, non-trivial contents of a given dtype and shape."""
    n = int(np.prod(shape, dtype=np.int64))
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        flat = np.arange(n) % 3 == 1
    elif dtype.kind == "c":
        flat = np.arange(n) * (1.5 - 0.25j)
    elif dtype.kind == "f":
        flat = np.arange(n) * -0.5 + 0.25
    else:
        info = np.iinfo(dtype)
        flat = np.arange(n, dtype=np.int64) * 7919 % (min(int(info.max), 2**31) + 1)
        flat = flat + max(int(info.min), -(2**31))
    return flat.astype(dtype).reshape(shape)


def sample_arrays():
    """Every dtype, with 0-d, empty, Fortran-ordered and big-endian arrays,
    and arrays larger than the tool's 256 KiB conversion buffer."""
    arrays = {}
    for name in DTYPES:
        arrays[name] = values(name, (3, 4))
        arrays[name + "_scalar"] = values(name, ())
        arrays[name + "_empty"] = values(name, (0, 5))
        arrays[name + "_fortran"] = np.asfortranarray(values(name, (2, 3, 4)))
        if np.dtype(name).itemsize > 1:
            arrays[name + "_be"] = values(name, (5, 2)).astype(np.dtype(name).newbyteorder(">"))
            arrays[name + "_be_fortran"] = np.asfortranarray(arrays[name + "_be"])
    arrays["large_be"] = values(">c8", (70000,))
    arrays["large_fortran_be"] = np.asfortranarray(values(">f8", (300, 250)))
    arrays["large_u8"] = values("uint8", (600001,))
    arrays["nested/folder/name"] = values("int32", (2,))
    arrays["unicode é ✓"] = values("float32", (1,))
    return arrays


def little_c_bytes(array):
    """The bytes a safetensors file must hold for @array."""
    dtype = array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype
    return array.astype(dtype).tobytes(order="C")


def read_safetensors(path):
    """Parses a safetensors file without the library: (tensors, metadata),
    tensors mapping name -> (dtype, shape, bytes)."""
    with open(path, "rb") as f:
        content = f.read()
    (n,) = struct.unpack("<Q", content[:8])
    header = json.loads(content[8:8 + n])
    data = content[8 + n:]
    metadata = header.pop("__metadata__", None)
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        tensors[name] = (info["dtype"], info["shape"], data[begin:end])
    return tensors, metadata


def safetensors_file(path, tensors, metadata=None):
    """Writes a safetensors file from [(name, dtype, shape, bytes)]."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    data = b""
    for name, dtype, shape, content in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(content)]}
        data += content
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def npy_bytes(array, version=None):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.lib.format.write_array(buffer, array, version=version)
    return buffer.getvalue()


def raw_npy(header, data=b""):
    """A version 1.0 .npy from header text, unchecked."""
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def zip_with(path, members, compression=zipfile.ZIP_STORED):
    """Writes an archive of {name: bytes} with Python's zipfile."""
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def check_imported(path, arrays):
    """The safetensors file at @path holds exactly @arrays."""
    tensors, _ = read_safetensors(path)
    assert sorted(tensors) == sorted(arrays)
    for name, array in arrays.items():
        dtype, shape, content = tensors[name]
        assert dtype == DTYPES[array.dtype.name], name
        assert shape == list(array.shape), name
        assert content == little_c_bytes(array), name

    listing = json.loads(run("ls", "--json", path).stdout)
    assert {t["name"]: (t["dtype"], t["shape"], t["n_bytes"]) for t in listing} == {
        name: (DTYPES[a.dtype.name], list(a.shape), a.nbytes) for name, a in arrays.items()}


# import-npz


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_import(tmp_path, save):
    arrays = sample_arrays()
    save(tmp_path / "in.npz", **arrays)
    out = tmp_path / "out.safetensors"

    result = run("import-npz", tmp_path / "in.npz", out)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    check_imported(out, arrays)
    assert run("validate", out).returncode == 0
    assert read_safetensors(out)[1] is None


def test_import_positional_names(tmp_path):
    np.savez(tmp_path / "in.npz", np.arange(3), np.ones((2, 2), np.float32))
    assert run("import-npz", tmp_path / "in.npz", tmp_path / "out.safetensors").returncode == 0
    tensors, _ = read_safetensors(tmp_path / "out.safetensors")
    assert sorted(tensors) == ["arr_0", "arr_1"]


def test_import_is_canonical(tmp_path):
    """Stored or deflated, the same arrays give the same file."""
    arrays = sample_arrays()
    np.savez(tmp_path / "a.npz", **arrays)
    np.savez_compressed(tmp_path / "b.npz", **dict(reversed(list(arrays.items()))))
    for name in "ab":
        assert run("import-npz", tmp_path / f"{name}.npz",
                   tmp_path / f"{name}.safetensors").returncode == 0
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()


def test_import_metadata(tmp_path):
    np.savez(tmp_path / "in.npz", x=np.arange(2))
    out = tmp_path / "out.safetensors"
    result = run("import-npz", tmp_path / "in.npz", out, "--metadata", "format=np",
                 "--metadata", "equation=a=b", "-m", "format=pt", "--metadata", "empty=")
    assert result.returncode == 0, result.stderr
    assert read_safetensors(out)[1] == {"format": "pt", "equation": "a=b", "empty": ""}
    info = json.loads(run("info", "--json", out).stdout)
    assert info["metadata"] == {"empty": "", "equation": "a=b", "format": "pt"}


def test_import_other_npy_versions(tmp_path):
    """Format 2.0 and 3.0 members, and headers other writers produce."""
    a = values("float32", (2, 3))
    handmade = raw_npy(b"{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,3)}\n")
    zip_with(tmp_path / "in.npz", {
        "v2.npy": npy_bytes(a, (2, 0)),
        "v3.npy": npy_bytes(a, (3, 0)),
        "handmade.npy": handmade + a.tobytes(),
    })
    assert run("import-npz", tmp_path / "in.npz", tmp_path / "out.safetensors").returncode == 0
    check_imported(tmp_path / "out.safetensors", {"v2": a, "v3": a, "handmade": a})


def test_import_empty_archive(tmp_path):
    np.savez(tmp_path / "in.npz")
    out = tmp_path / "out.safetensors"
    assert run("import-npz", tmp_path / "in.npz", out).returncode == 0
    assert read_safetensors(out) == ({}, None)


def test_import_replaces_output(tmp_path):
    np.savez(tmp_path / "in.npz", x=np.arange(2))
    out = tmp_path / "out.safetensors"
    out.write_bytes(b"old")
    assert run("import-npz", tmp_path / "in.npz", out).returncode == 0
    assert list(read_safetensors(out)[0]) == ["x"]


def encrypted_zip(path):
    """A member flagged as encrypted (traditional PKWARE), which Python's
    zipfile cannot write: the flag is set in both headers by hand."""
    zip_with(path, {"x.npy": npy_bytes(np.arange(3))})
    content = bytearray(path.read_bytes())
    local = content.find(b"PK\x03\x04")
    central = content.find(b"PK\x01\x02")
    content[local + 6] |= 1
    content[central + 8] |= 1
    path.write_bytes(bytes(content))


def corrupt_crc_zip(path):
    zip_with(path, {"x.npy": npy_bytes(np.arange(4, dtype="<u4"))})
    content = bytearray(path.read_bytes())
    content[content.find(b"\x03\x00\x00\x00", 100)] = 9
    path.write_bytes(bytes(content))


HOSTILE = {
    "parent": ({"ok.npy": npy_bytes(np.arange(2)), "../x.npy": npy_bytes(np.arange(2))},
               "“../x.npy”"),
    "inner-parent": ({"a/../../x.npy": npy_bytes(np.arange(2))}, "“a/../../x.npy”"),
    "absolute": ({"/x.npy": npy_bytes(np.arange(2))}, "“/x.npy”"),
    "windows-absolute": ({"C:/x.npy": npy_bytes(np.arange(2))}, "“C:/x.npy”"),
    "not-npy": ({"x.npy": npy_bytes(np.arange(2)), "readme.txt": b"hello"}, "“readme.txt”"),
    "folder": ({"x.npy": npy_bytes(np.arange(2)), "dir/": b""}, "“dir/”"),
    "truncated": ({"x.npy": npy_bytes(np.arange(3))[:-1]}, "23 follow the header"),
    "trailing": ({"x.npy": npy_bytes(np.arange(3)) + b"\0"}, "25 follow the header"),
    "complex128": ({"x.npy": npy_bytes(np.arange(3, dtype=np.complex128))}, "<c16"),
    "object": ({"x.npy": npy_bytes(np.array([1, "a"], dtype=object))}, "|O"),
    "structured": ({"x.npy": npy_bytes(np.zeros(2, dtype=[("a", "<f4")]))}, "structured"),
    "datetime": ({"x.npy": npy_bytes(np.zeros(2, dtype="<M8[s]"))}, "<M8[s]"),
    "bad-magic": ({"x.npy": b"\x93NUMPX\x01\x00" + bytes(200)}, "magic"),
    "huge-header": ({"x.npy": b"\x93NUMPY\x02\x00\xff\xff\xff\x7f" + bytes(100)}, "exceeds"),
    "overflow": ({"x.npy": raw_npy(
        b"{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}\n")},
        "64 bits"),
    "negative": ({"x.npy": raw_npy(
        b"{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}\n")}, "negative"),
    "not-a-tuple": ({"x.npy": raw_npy(
        b"{'descr': '<f8', 'fortran_order': False, 'shape': (2)}\n", bytes(16))}, "not a tuple"),
    # Refused before the data would be read: no need for 2 GB of it.
    "fortran-too-large": ({"x.npy": raw_npy(
        b"{'descr': '<f8', 'fortran_order': True, 'shape': (16384, 16385)}\n")},
        "Fortran order"),
    "reserved-name": ({"__metadata__.npy": npy_bytes(np.arange(2))}, "__metadata__"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE) + ["encrypted", "crc", "not-a-zip"])
def test_import_refuses(tmp_path, case):
    archive = tmp_path / "in.npz"
    if case == "encrypted":
        encrypted_zip(archive)
        expected = "encrypted"
    elif case == "crc":
        corrupt_crc_zip(archive)
        expected = "CRC"
    elif case == "not-a-zip":
        archive.write_bytes(npy_bytes(np.arange(3)))
        expected = "not a valid .npz archive"
    else:
        members, expected = HOSTILE[case]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zip_with(archive, members)
    out = tmp_path / "out.safetensors"

    result = run("import-npz", archive, out)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"safetensors-tool: {archive}: ")
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1
    # No output, and no temporary file either.
    assert sorted(os.listdir(tmp_path)) == ["in.npz"]


def test_import_failure_keeps_old_output(tmp_path):
    corrupt_crc_zip(tmp_path / "in.npz")
    out = tmp_path / "out.safetensors"
    out.write_bytes(b"precious")
    assert run("import-npz", tmp_path / "in.npz", out).returncode == 1
    assert out.read_bytes() == b"precious"
    assert sorted(os.listdir(tmp_path)) == ["in.npz", "out.safetensors"]


def test_import_input_errors(tmp_path):
    result = run("import-npz", tmp_path / "missing.npz", tmp_path / "out.safetensors")
    assert result.returncode == 1
    assert result.stderr.startswith(f"safetensors-tool: {tmp_path / 'missing.npz'}: ")

    result = run("import-npz", tmp_path, tmp_path / "out.safetensors")
    assert result.returncode == 1
    assert "folder" in result.stderr
    assert os.listdir(tmp_path) == []


def test_import_output_error(tmp_path):
    np.savez(tmp_path / "in.npz", x=np.arange(2))
    out = tmp_path / "no" / "such" / "dir.safetensors"
    result = run("import-npz", tmp_path / "in.npz", out)
    assert result.returncode == 1
    assert result.stderr.startswith(f"safetensors-tool: {out}: ")


@pytest.mark.parametrize("args", [
    [], ["in.npz"], ["in.npz", "out", "extra"], ["in.npz", "out", "--metadata", "novalue"],
    ["in.npz", "out", "--bogus"],
])
def test_import_usage(tmp_path, args):
    np.savez(tmp_path / "in.npz", x=np.arange(2))
    result = subprocess.run([TOOL, "import-npz", *args], capture_output=True, text=True,
                            cwd=tmp_path, env=utf8_env(), timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()


# export-npz


def load(path):
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


@pytest.mark.parametrize("compress", [False, True])
def test_roundtrip(tmp_path, compress):
    arrays = sample_arrays()
    np.savez(tmp_path / "in.npz", **arrays)
    assert run("import-npz", tmp_path / "in.npz", tmp_path / "mid.safetensors").returncode == 0

    out = tmp_path / "out.npz"
    result = run("export-npz", tmp_path / "mid.safetensors", out,
                 *(["--compress"] if compress else []))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""

    loaded = load(out)
    assert sorted(loaded) == sorted(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype.newbyteorder("<") or \
            loaded[name].dtype == array.dtype, name
        assert loaded[name].shape == array.shape, name
        assert np.array_equal(loaded[name], array), name
        assert loaded[name].flags.c_contiguous

    # The np.savez layout: one NAME.npy per tensor, each byte for byte what
    # np.save writes, stored or deflated.
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        for info in archive.infolist():
            assert info.compress_type == (zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
            array = arrays[info.filename[:-len(".npy")]]
            expected = io.BytesIO()
            np.save(expected, array.astype(array.dtype.newbyteorder("<"), order="C"))
            assert archive.read(info) == expected.getvalue(), info.filename


def test_export_example_names(tmp_path):
    out = tmp_path / "out.npz"
    result = run("export-npz", EXAMPLE, out, "hello", "mask", "hello")
    assert result.returncode == 0, result.stderr
    loaded = load(out)
    assert sorted(loaded) == ["hello", "mask"]
    assert loaded["hello"].dtype == np.float32 and loaded["hello"].shape == (4, 4)
    assert loaded["mask"].dtype == np.bool_ and loaded["mask"].shape == (2, 3)

    tensors, _ = read_safetensors(EXAMPLE)
    assert loaded["hello"].tobytes() == tensors["hello"][2]
    assert loaded["mask"].tobytes() == tensors["mask"][2]


def test_export_unknown_name(tmp_path):
    out = tmp_path / "out.npz"
    result = run("export-npz", EXAMPLE, out, "hello", "nope")
    assert result.returncode == 1
    assert result.stderr.startswith(f"safetensors-tool: {EXAMPLE}: ")
    assert "“nope”" in result.stderr
    assert os.listdir(tmp_path) == []


def test_export_bf16_refused(tmp_path):
    out = tmp_path / "out.npz"
    result = run("export-npz", EXAMPLE, out)
    assert result.returncode == 1
    assert "embedding.weight" in result.stderr and "BF16" in result.stderr
    assert "--raw" in result.stderr
    assert os.listdir(tmp_path) == []


def test_export_raw(tmp_path):
    bf16 = np.array([0x3f80, 0xc000, 0x7fc0, 0x0001, 0xffff, 0x8000], "<u2")
    f8 = np.arange(12, dtype=np.uint8).reshape(3, 4) * 21
    f4 = np.array([0x12, 0xef, 0x7f], np.uint8)
    f6 = np.array([0xaa, 0x55, 0xff], np.uint8)
    path = tmp_path / "in.safetensors"
    safetensors_file(path, [
        ("bf16", "BF16", [2, 3], bf16.tobytes()),
        ("f8", "F8_E4M3", [3, 4], f8.tobytes()),
        ("e8m0", "F8_E8M0", [12], f8.tobytes()),
        ("f4", "F4", [2, 3], f4.tobytes()),
        ("f6", "F6_E2M3", [4], f6.tobytes()),
        ("f32", "F32", [2], np.array([1.5, -2], "<f4").tobytes()),
    ])
    assert run("validate", path).returncode == 0

    for name, dtype in [("bf16", "BF16"), ("f8", "F8_E4M3"), ("f4", "F4"), ("f6", "F6_E2M3")]:
        result = run("export-npz", path, tmp_path / "out.npz", name)
        assert result.returncode == 1
        assert f"“{name}”" in result.stderr and dtype in result.stderr

    result = run("export-npz", path, tmp_path / "out.npz", "--raw")
    assert result.returncode == 0, result.stderr
    loaded = load(tmp_path / "out.npz")
    assert loaded["bf16"].dtype == np.uint16 and loaded["bf16"].shape == (2, 3)
    assert np.array_equal(loaded["bf16"].ravel(), bf16)
    assert loaded["f8"].dtype == np.uint8 and np.array_equal(loaded["f8"], f8)
    assert loaded["e8m0"].shape == (12,) and np.array_equal(loaded["e8m0"], f8.ravel())
    # Sub-byte types: their packed bytes.
    assert loaded["f4"].dtype == np.uint8 and np.array_equal(loaded["f4"], f4)
    assert loaded["f6"].dtype == np.uint8 and np.array_equal(loaded["f6"], f6)
    # Types NumPy has are unchanged by --raw.
    assert loaded["f32"].dtype == np.float32 and list(loaded["f32"]) == [1.5, -2]


def test_export_empty(tmp_path):
    path = tmp_path / "in.safetensors"
    safetensors_file(path, [])
    out = tmp_path / "out.npz"
    assert run("export-npz", path, out).returncode == 0
    assert load(out) == {}
    np.savez(tmp_path / "numpy.npz")
    assert out.read_bytes() == (tmp_path / "numpy.npz").read_bytes()


def test_export_replaces_output(tmp_path):
    out = tmp_path / "out.npz"
    out.write_bytes(b"not a zip")
    assert run("export-npz", EXAMPLE, out, "step").returncode == 0
    assert sorted(load(out)) == ["step"]

    result = run("export-npz", EXAMPLE, out, "embedding.weight")
    assert result.returncode == 1
    assert sorted(load(out)) == ["step"]
    assert sorted(os.listdir(tmp_path)) == ["out.npz"]


def test_export_unsafe_names(tmp_path):
    path = tmp_path / "in.safetensors"
    safetensors_file(path, [("../evil", "U8", [1], b"\0")])
    result = run("export-npz", path, tmp_path / "out.npz")
    assert result.returncode == 1
    assert "“../evil”" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["in.safetensors"]


def test_export_errors(tmp_path):
    result = run("export-npz", tmp_path / "missing.safetensors", tmp_path / "out.npz")
    assert result.returncode == 1
    assert result.stderr.startswith(f"safetensors-tool: {tmp_path / 'missing.safetensors'}: ")

    result = run("export-npz", EXAMPLE, tmp_path / "none" / "out.npz", "step")
    assert result.returncode == 1
    assert result.stderr.startswith(f"safetensors-tool: {tmp_path / 'none' / 'out.npz'}: ")

    result = run("export-npz", EXAMPLE, tmp_path, "step")
    assert result.returncode == 1
    assert "folder" in result.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("args", [[], [EXAMPLE], [EXAMPLE, "out.npz", "--bogus"]])
def test_export_usage(tmp_path, args):
    result = subprocess.run([TOOL, "export-npz", *args], capture_output=True, text=True,
                            cwd=tmp_path, env=utf8_env(), timeout=60)
    assert result.returncode == 2
    assert os.listdir(tmp_path) == []


def test_help_lists_commands():
    result = run("--help")
    assert "import-npz" in result.stdout and "export-npz" in result.stdout
