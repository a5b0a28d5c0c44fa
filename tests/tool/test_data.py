"""Tests of safetensors-tool's data commands: checksum, dump, diff.

Run by meson (suite "tool") with Debian's /usr/bin/python3 -m pytest. The
environment names the built tool (SAFETENSORS_TOOL) and the folder of
example files (SAFETENSORS_TEST_DATA). dump is checked against NumPy's own
str() of the same array where NumPy has the dtype.
"""
import hashlib
import json
import math
import os
import struct
import subprocess

import pytest

np = pytest.importorskip("numpy")

TOOL = os.environ["SAFETENSORS_TOOL"]
DATA = os.environ["SAFETENSORS_TEST_DATA"]
EXAMPLE = os.path.join(DATA, "example.safetensors")


def run(*args):
    return subprocess.run([TOOL, *map(str, args)], capture_output=True, timeout=60)


def read_tensors(path):
    """name -> (dtype, shape, bytes), by parsing the file here."""
    with open(path, "rb") as f:
        content = f.read()
    (n,) = struct.unpack("<Q", content[:8])
    header = json.loads(content[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        tensors[name] = (info["dtype"], info["shape"], content[base + begin:base + end])
    return tensors, header.get("__metadata__", {})


def safetensors_bytes(tensors, metadata=None):
    """tensors: name -> (dtype, shape, raw bytes), laid out in that order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(t[2] for t in tensors.values())


NUMPY_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "C64": "<c8",
                "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
                "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
                "BOOL": "?"}


@pytest.fixture
def make(tmp_path):
    """make(name, {tensor: numpy array or (dtype, shape, bytes)}, metadata)."""
    def _make(name, tensors, metadata=None):
        reverse = {np.dtype(v): k for k, v in NUMPY_DTYPES.items()}
        entries = {}
        for key, value in tensors.items():
            if isinstance(value, tuple):
                entries[key] = value
            else:
                arr = np.array(value, order="C")
                arr = arr.astype(arr.dtype.newbyteorder("<"))
                entries[key] = (reverse[arr.dtype], arr.shape, arr.tobytes())
        path = tmp_path / name
        path.write_bytes(safetensors_bytes(entries, metadata))
        return str(path)
    return _make


# checksum

def test_checksum_matches_hashlib():
    tensors, _ = read_tensors(EXAMPLE)
    result = run("checksum", EXAMPLE)
    assert result.returncode == 0
    lines = result.stdout.decode().splitlines()
    expected = ["%s  %s" % (hashlib.sha256(tensors[n][2]).hexdigest(), n)
                for n in sorted(tensors)]
    assert lines == expected


def test_checksum_json_and_no_mmap():
    tensors, _ = read_tensors(EXAMPLE)
    for extra in ([], ["--no-mmap"]):
        result = run("checksum", "--json", *extra, EXAMPLE)
        assert result.returncode == 0
        entries = json.loads(result.stdout)
        assert [e["name"] for e in entries] == sorted(tensors)
        for entry in entries:
            assert entry["sha256"] == hashlib.sha256(tensors[entry["name"]][2]).hexdigest()


def test_checksum_independent_of_layout(make):
    a = np.arange(10, dtype="<i4")
    b = np.ones(3, dtype="<f4")
    first = make("first.safetensors", {"a": a, "b": b})
    second = make("second.safetensors", {"b": b, "a": a}, {"x": "y"})
    assert run("checksum", first).stdout == run("checksum", second).stdout


def test_checksum_errors(tmp_path):
    assert run("checksum").returncode == 2
    assert run("checksum", tmp_path / "missing.safetensors").returncode == 1
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x01")
    result = run("checksum", bad)
    assert result.returncode == 1
    assert result.stderr


# dump

def dump(path, name, *extra):
    result = run("dump", path, name, *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout.decode()


def test_dump_example_hello():
    out = dump(EXAMPLE, "hello")
    assert out == str(np.arange(16, dtype="<f4").reshape(4, 4)) + "\n"
    rows = [[float(x) for x in line.strip(" []").split()] for line in out.splitlines()]
    assert rows == [[4.0 * r + c for c in range(4)] for r in range(4)]


def test_dump_example_all_match_numpy():
    tensors, _ = read_tensors(EXAMPLE)
    for name, (dtype, shape, data) in tensors.items():
        if dtype not in NUMPY_DTYPES:
            continue
        arr = np.frombuffer(data, dtype=NUMPY_DTYPES[dtype]).reshape(shape)
        assert dump(EXAMPLE, name) == str(arr) + "\n", name


def test_dump_bf16_is_f32_upper_half():
    tensors, _ = read_tensors(EXAMPLE)
    _, shape, data = tensors["embedding.weight"]
    values = json.loads(run("dump", "--json", EXAMPLE, "embedding.weight").stdout)
    halves = np.frombuffer(data, dtype="<u2").astype("<u4") << 16
    expected = halves.view("<f4").reshape(shape)
    assert values["dtype"] == "BF16" and values["shape"] == shape
    assert np.array_equal(np.array(values["values"], dtype="<f4"), expected)


ARRAYS = [
    np.random.default_rng(1).standard_normal((3, 4)).astype("<f4"),
    np.random.default_rng(2).standard_normal((5,)) * 1e6,
    np.array([1e-5, 1.5e10, -3.25]),
    np.array([0.1, 0.2, 0.3], dtype="<f2"),
    np.array([np.nan, np.inf, -np.inf, 1.5, -0.0], dtype="<f4"),
    np.array([1.0, -np.inf, 2.0], dtype="<f4"),
    np.array([np.nan, 1e-9, 1e9], dtype="<f8"),
    np.array([np.inf, np.nan], dtype="<f4"),
    np.array([1 + 1j, complex(np.nan, np.inf), complex(2, -np.inf)], dtype="<c8"),
    np.array([[1 + 2j, 3 - 4.5j], [0, -1j]], dtype="<c8"),
    np.array([-128, 0, 127], dtype="i1"),
    np.array([[0, 65535], [7, 8]], dtype="<u2"),
    np.array([-(2**63), 2**63 - 1], dtype="<i8"),
    np.array([2**64 - 1], dtype="<u8"),
    np.array([True, True, False]),
    np.arange(2000).reshape(40, 50).astype("<i4"),
    np.arange(2000, dtype="<f4").reshape(2, 10, 100),
    np.arange(1001, dtype="<f4") / 7,
    np.arange(60, dtype="<f8").reshape(3, 4, 5) / 3,
    np.arange(30, dtype="<f4") * 1.1,
    np.array(2.5, dtype="<f4"),
    np.array(True),
]


@pytest.mark.parametrize("index", range(len(ARRAYS)))
def test_dump_matches_numpy(make, index):
    arr = ARRAYS[index]
    path = make("a.safetensors", {"t": arr})
    assert dump(path, "t") == str(arr) + "\n"


def test_dump_full_and_threshold(make):
    arr = np.arange(2000, dtype="<i2")
    path = make("a.safetensors", {"t": arr})
    assert "..." in dump(path, "t")
    with np.printoptions(threshold=np.inf):
        assert dump(path, "t", "--full") == str(arr) + "\n"
    small = make("b.safetensors", {"t": np.arange(1000, dtype="<i2")})
    assert "..." not in dump(small, "t")


def test_dump_slice(make):
    arr = np.arange(24, dtype="<i4").reshape(2, 3, 4)
    path = make("a.safetensors", {"t": arr})
    for expr, expected in [("1", arr[1]), ("0, ::2, -1", arr[0, ::2, -1]),
                           ("..., 1:3", arr[..., 1:3]), (":, 2", arr[:, 2])]:
        assert dump(path, "t", "--slice", expr) == str(expected) + "\n", expr
        values = json.loads(run("dump", path, "t", "--slice", expr, "--json").stdout)
        assert values["values"] == expected.tolist()
        assert values["shape"] == list(expected.shape)
    assert dump(EXAMPLE, "hello", "--slice", "1:3, ::2") == "[[ 4.  6.]\n [ 8. 10.]]\n"


def test_dump_json(make):
    path = make("a.safetensors", {
        "f": np.array([np.nan, np.inf, -np.inf, 0.1], dtype="<f4"),
        "c": np.array([1 + 2j], dtype="<c8"),
        "b": np.array([[True, False]]),
        "u": np.array([2**64 - 1], dtype="<u8"),
        "s": np.array(7, dtype="<i2"),
    })
    f = json.loads(run("dump", "--json", path, "f").stdout)
    # Exact values: what the element is as a double.
    assert f["values"] == ["nan", "inf", "-inf", float(np.float32(0.1))]
    assert json.loads(run("dump", "--json", path, "c").stdout)["values"] == [[1, 2]]
    assert json.loads(run("dump", "--json", path, "b").stdout)["values"] == [[True, False]]
    assert json.loads(run("dump", "--json", path, "u").stdout)["values"] == [2**64 - 1]
    s = json.loads(run("dump", "--json", path, "s").stdout)
    assert s["values"] == 7 and s["shape"] == []
    empty = json.loads(run("dump", "--json", EXAMPLE, "empty").stdout)
    assert empty["values"] == [] and empty["shape"] == [0, 3]
    assert dump(EXAMPLE, "empty") == "[]\n"


def json_values(path, name):
    result = run("dump", "--json", path, name)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)["values"]
    return [float(v) if not isinstance(v, str) else float(v) for v in values]


def same(a, b):
    return len(a) == len(b) and all(
        (math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a, b))


@pytest.mark.parametrize("dtype,codes,expected", [
    ("F8_E4M3", [0x00, 0x38, 0x7e, 0x7f, 0xb8, 0x01, 0xff, 0x80],
     [0, 1, 448, math.nan, -1, 2**-9, math.nan, -0.0]),
    ("F8_E5M2", [0x3c, 0x7c, 0xfc, 0x7f, 0x01, 0x7b],
     [1, math.inf, -math.inf, math.nan, 2**-16, 57344]),
    ("F8_E4M3FNUZ", [0x40, 0x80, 0x7f, 0x01, 0xc0], [1, math.nan, 240, 2**-10, -1]),
    ("F8_E5M2FNUZ", [0x40, 0x80, 0x7f, 0x01], [1, math.nan, 57344, 2**-17]),
    ("F8_E8M0", [127, 128, 0, 0xff, 130], [1, 2, 2**-127, math.nan, 8]),
])
def test_dump_f8(make, dtype, codes, expected):
    path = make("a.safetensors", {"t": (dtype, [len(codes)], bytes(codes))})
    assert same(json_values(path, "t"), expected)


def test_dump_16_bit_floats(make):
    path = make("a.safetensors", {
        "h": ("F16", [3], struct.pack("<3H", 0x3c00, 0x7c00, 0x0001)),
        "b": ("BF16", [3], struct.pack("<3H", 0x3f80, 0xff80, 0x4049)),
    })
    assert same(json_values(path, "h"), [1, math.inf, 2**-24])
    assert same(json_values(path, "b"), [1, -math.inf, 3.140625])
    # As NumPy prints np.array([1, -inf, 3.14], dtype=float16).
    assert dump(path, "b") == "[1.   -inf 3.14]\n"


def test_dump_f4(make):
    # Two E2M1 elements per byte, the first in the low nibble.
    codes = list(range(16))
    data = bytes(codes[i] | (codes[i + 1] << 4) for i in range(0, 16, 2))
    path = make("a.safetensors", {"t": ("F4", [16], data)})
    positive = [0, 0.5, 1, 1.5, 2, 3, 4, 6]
    assert json_values(path, "t") == positive + [-x for x in positive]
    assert dump(path, "t", "--slice", "2:4") == "[1.  1.5]\n"


@pytest.mark.parametrize("dtype,codes,expected", [
    ("F6_E2M3", [0b001000, 0b000001, 0b111111, 0b011111], [1, 0.125, -7.5, 7.5]),
    ("F6_E3M2", [0b001100, 0b000001, 0b011111, 0b100000], [1, 0.0625, 28, -0.0]),
])
def test_dump_f6(make, dtype, codes, expected):
    # Four elements in three bytes, a little-endian word, lowest bits first.
    word = sum(c << (6 * i) for i, c in enumerate(codes))
    path = make("a.safetensors", {"t": (dtype, [4], word.to_bytes(3, "little"))})
    assert json_values(path, "t") == expected


def test_dump_errors(tmp_path, make):
    path = make("a.safetensors", {"t": np.arange(4, dtype="<i4")})
    assert run("dump", path).returncode == 2
    assert run("dump", path, "t", "--bogus").returncode == 2
    result = run("dump", path, "nope")
    assert result.returncode == 1 and b"nope" in result.stderr
    assert run("dump", path, "t", "--slice", "1:2:0:9").returncode == 2
    assert run("dump", path, "t", "--slice", "7").returncode == 1
    assert run("dump", tmp_path / "missing", "t").returncode == 1
    odd = make("b.safetensors", {"t": ("F4", [4], b"\x21\x43")})
    assert run("dump", odd, "t", "--slice", "1:2").returncode == 1


# diff

def diff(a, b, *extra):
    return run("diff", a, b, *extra)


def test_diff_equal():
    result = diff(EXAMPLE, EXAMPLE)
    assert result.returncode == 0 and result.stdout == b""
    result = diff(EXAMPLE, EXAMPLE, "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"tensors": [], "metadata": [], "equal": True}


def test_diff_layout_does_not_matter(make):
    a = make("a.safetensors", {"x": np.arange(3, dtype="<i4"), "y": np.ones(2, dtype="<f4")})
    b = make("b.safetensors", {"y": np.ones(2, dtype="<f4"), "x": np.arange(3, dtype="<i4")})
    assert diff(a, b).returncode == 0


def test_diff_changes(make):
    a = make("a.safetensors", {
        "gone": np.zeros(1, dtype="<i4"),
        "dtype": np.zeros(2, dtype="<f4"),
        "shape": np.zeros((2, 2), dtype="<f4"),
        "data": np.arange(4, dtype="<i8"),
        "same": np.arange(3, dtype="u1"),
    }, {"k": "1", "old": "x", "keep": "y"})
    b = make("b.safetensors", {
        "new": np.zeros(1, dtype="<i4"),
        "dtype": np.zeros(2, dtype="<f2"),
        "shape": np.zeros((4,), dtype="<f4"),
        "data": np.array([0, 1, 9, 9], dtype="<i8"),
        "same": np.arange(3, dtype="u1"),
    }, {"k": "2", "added": "z", "keep": "y"})
    result = diff(a, b)
    assert result.returncode == 1
    lines = result.stdout.decode().splitlines()
    assert lines == [
        "changed data: 2 of 4 elements differ",
        "changed dtype: dtype F32 -> F16",
        "removed gone",
        "added new",
        "changed shape: shape [2,2] -> [4]",
        "metadata added added",
        "metadata changed k: \"1\" -> \"2\"",
        "metadata removed old",
    ]
    report = json.loads(diff(a, b, "--json").stdout)
    assert report["equal"] is False
    by_name = {t["name"]: t for t in report["tensors"]}
    assert by_name["gone"]["change"] == "removed"
    assert by_name["new"]["change"] == "added"
    assert by_name["dtype"]["dtype"] == ["F32", "F16"]
    assert by_name["shape"]["shape"] == [[2, 2], [4]]
    assert by_name["data"]["n_different"] == 2
    assert "same" not in by_name
    assert by_name["data"]["n_elements"] == 4
    assert "max_abs_diff" not in by_name["data"]
    meta = {m["key"]: m for m in report["metadata"]}
    assert meta == {
        "added": {"key": "added", "change": "added", "value": [None, "z"]},
        "k": {"key": "k", "change": "changed", "value": ["1", "2"]},
        "old": {"key": "old", "change": "removed", "value": ["x", None]},
    }
    # Sorted by name, tensors then metadata, as in the text.
    assert [t["name"] for t in report["tensors"]] == ["data", "dtype", "gone", "new", "shape"]
    assert [m["key"] for m in report["metadata"]] == ["added", "k", "old"]


def test_diff_tolerance(make):
    a = make("a.safetensors", {"f": np.array([1.0, 2.0, np.nan], dtype="<f4"),
                               "i": np.array([1, 2], dtype="<i4")})
    b = make("b.safetensors", {"f": np.array([1.0, 2.001, np.nan], dtype="<f4"),
                               "i": np.array([1, 2], dtype="<i4")})
    result = diff(a, b)
    assert result.returncode == 1
    report = json.loads(diff(a, b, "--json").stdout)
    (change,) = report["tensors"]
    assert change["n_different"] == 1
    assert change["max_abs_diff"] == pytest.approx(0.001, rel=1e-3)
    assert diff(a, b, "--atol", "0.01").returncode == 0
    assert diff(a, b, "--atol", "0.0001").returncode == 1
    assert diff(a, b, "--rtol", "0.001").returncode == 0
    assert diff(a, b, "--rtol", "1e-5").returncode == 1


def test_diff_errors(tmp_path):
    assert diff(EXAMPLE, tmp_path / "missing").returncode == 1
    assert run("diff", EXAMPLE).returncode == 2
    assert diff(EXAMPLE, EXAMPLE, "--atol", "abc").returncode == 2
    assert diff(EXAMPLE, EXAMPLE, "--rtol", "-1").returncode == 2
