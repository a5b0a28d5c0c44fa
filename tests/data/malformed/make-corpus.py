#!/usr/bin/python3
"""Regenerates the corpus of malformed files in tests/data/malformed/.

Run with Debian's /usr/bin/python3 (needs python3-numpy only):
    /usr/bin/python3 tests/data/malformed/make-corpus.py

Every file is named <nick>--<what>.safetensors or <nick>--<what>.npy, where
<nick> is the nick of the SafetensorsError code that opening or parsing it
must report (header-too-small, invalid-json, ...). tests/test-malformed.c
reads the code from the name. The files are written byte by byte, without
this library; the .npy preambles start from what NumPy writes.

Every header check gets at least one file; INVALID_JSON gets one per kind
of syntax or schema error.
"""
import io
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# The largest header length the reference accepts.
MAX_HEADER = 100_000_000
U64_MAX = 2**64 - 1


def entry(dtype="F32", shape=(2, 2), offsets=(0, 16)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def header_text(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def with_prefix(text, data=b"", length=None):
    """An 8-byte little-endian length, the header text, then the data."""
    if length is None:
        length = len(text)
    return struct.pack("<Q", length) + text + data


def from_json(obj, data_size=None):
    """A file whose data area is as long as the tensors declare."""
    text = header_text(obj)
    if data_size is None:
        data_size = max([t["data_offsets"][1] for k, t in obj.items()
                         if k != "__metadata__"] or [0])
    return with_prefix(text, bytes(i % 251 for i in range(data_size)))


def from_text(text, data_size=0):
    return with_prefix(text, bytes(data_size))


T = header_text({"t": entry()})          # a valid header, 16 bytes of data
VALID = from_text(T, 16)


def safetensors_cases():
    cases = {}

    def add(nick, what, content):
        name = f"{nick}--{what}.safetensors"
        assert name not in cases, name
        cases[name] = content

    # -- the 8-byte prefix --------------------------------------------------
    add("header-too-small", "empty", b"")
    add("header-too-small", "seven-bytes", VALID[:7])
    add("header-too-large", "one-past-limit", with_prefix(T, bytes(16), MAX_HEADER + 1))
    add("header-too-large", "u64-max", with_prefix(T, bytes(16), U64_MAX))
    # Checked before the file size, like the reference.
    add("header-too-large", "prefix-only", struct.pack("<Q", 2**63))
    add("invalid-header-length", "past-end", with_prefix(T, b"", len(T) + 1))
    add("invalid-header-length", "prefix-only", struct.pack("<Q", 1))
    add("invalid-header-length", "at-limit", with_prefix(T, bytes(16), MAX_HEADER))

    # -- UTF-8, checked before the JSON ------------------------------------
    add("invalid-header", "invalid-byte", from_text(b'{"t\xff":' + header_text(entry()) + b"}", 16))
    add("invalid-header", "overlong", from_text(b'{"\xc0\xaf":' + header_text(entry()) + b"}", 16))
    add("invalid-header", "surrogate", from_text(b'{"\xed\xa0\x80":' + header_text(entry()) + b"}", 16))
    add("invalid-header", "truncated-sequence", from_text(T + b"\xe6\x97", 16))
    add("invalid-header", "before-json-error", from_text(b"{x\xff"))
    add("invalid-header", "latin1-metadata", from_text(
        b'{"__metadata__":{"k":"caf\xe9"},"t":' + header_text(entry()) + b"}", 16))

    # -- JSON syntax ---------------------------------------------------------
    E = header_text(entry())
    add("invalid-json", "empty-header", from_text(b""))
    add("invalid-json", "only-spaces", from_text(b"        "))
    add("invalid-json", "top-level-array", from_text(b"[]"))
    add("invalid-json", "top-level-null", from_text(b"null"))
    add("invalid-json", "unterminated-object", from_text(b'{"t":' + E))
    add("invalid-json", "unterminated-string", from_text(b'{"t'))
    add("invalid-json", "trailing-comma", from_text(b'{"t":' + E + b",}", 16))
    add("invalid-json", "missing-comma", from_text(b'{"t":' + E + b'"u":' + E + b"}", 16))
    add("invalid-json", "single-quotes", from_text(T.replace(b'"', b"'"), 16))
    add("invalid-json", "unquoted-key", from_text(b"{t:" + E + b"}", 16))
    add("invalid-json", "comment", from_text(b"/* c */" + T, 16))
    add("invalid-json", "trailing-garbage", from_text(T + b"x", 16))
    add("invalid-json", "second-document", from_text(T + b"{}", 16))
    add("invalid-json", "nul-padding", from_text(T + b"\0\0\0", 16))
    add("invalid-json", "bom", from_text(b"\xef\xbb\xbf" + T, 16))
    add("invalid-json", "raw-control-char", from_text(b'{"t\x01":' + E + b"}", 16))
    add("invalid-json", "bad-escape", from_text(b'{"t\\x41":' + E + b"}", 16))
    add("invalid-json", "lone-surrogate-escape", from_text(b'{"\\ud800":' + E + b"}", 16))
    add("invalid-json", "leading-zero", from_text(
        b'{"t":{"dtype":"F32","shape":[02,2],"data_offsets":[0,16]}}', 16))
    add("invalid-json", "number-out-of-range", from_text(
        b'{"t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16],"x":1e400}}', 16))
    add("invalid-json", "literal-capitalized", from_text(b'{"__metadata__":Null}'))
    # With the two objects around them, 129 levels: one more than
    # serde_json's recursion limit.
    depth = 127
    add("invalid-json", "too-deep", from_text(
        b'{"t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16],"x":'
        + b"[" * depth + b"]" * depth + b"}}", 16))

    # -- JSON schema ---------------------------------------------------------
    def schema(what, obj_text, data_size=16):
        add("invalid-json", what, from_text(obj_text, data_size))

    schema("entry-not-object", b'{"t":1}', 0)
    schema("entry-empty", b'{"t":{}}', 0)
    schema("missing-dtype", header_text({"t": {"shape": [2, 2], "data_offsets": [0, 16]}}))
    schema("missing-shape", header_text({"t": {"dtype": "F32", "data_offsets": [0, 16]}}))
    schema("missing-data-offsets", header_text({"t": {"dtype": "F32", "shape": [2, 2]}}))
    schema("field-twice", b'{"t":{"dtype":"F32","dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}')
    schema("unknown-dtype", header_text({"t": entry(dtype="F128")}))
    schema("lowercase-dtype", header_text({"t": entry(dtype="f32")}))
    schema("dtype-number", b'{"t":{"dtype":32,"shape":[2,2],"data_offsets":[0,16]}}')
    schema("shape-negative", header_text({"t": entry(shape=(-2, -2))}))
    schema("shape-float", b'{"t":{"dtype":"F32","shape":[2.0,2],"data_offsets":[0,16]}}')
    schema("shape-string", b'{"t":{"dtype":"F32","shape":"2,2","data_offsets":[0,16]}}')
    schema("shape-above-u64", header_text({"t": entry(dtype="U8", shape=(0, 2**64), offsets=(0, 0))}), 0)
    schema("shape-rank-1025", header_text({"t": entry(dtype="U8", shape=(1,) * 1025, offsets=(0, 1))}), 1)
    schema("offsets-one", header_text({"t": entry(offsets=(16,))}))
    schema("offsets-three", header_text({"t": entry(offsets=(0, 16, 16))}))
    schema("offsets-negative", b'{"t":{"dtype":"U8","shape":[0],"data_offsets":[0,-0]}}', 0)
    schema("metadata-number-value", header_text({"__metadata__": {"k": 1}, "t": entry()}))
    schema("metadata-array", header_text({"__metadata__": ["k"], "t": entry()}))
    schema("metadata-twice", b'{"__metadata__":{},"__metadata__":null,"t":' + E + b"}")

    # -- offsets and sizes -------------------------------------------------
    add("invalid-offset", "not-from-zero", from_json({"t": entry(offsets=(4, 20))}, 20))
    add("invalid-offset", "gap", from_json({"a": entry(), "b": entry(offsets=(20, 36))}))
    add("invalid-offset", "overlap", from_json({"a": entry(), "b": entry(offsets=(8, 24))}))
    add("invalid-offset", "end-before-begin", from_json(
        {"a": entry(), "b": entry(shape=(0,), offsets=(16, 8))}, 16))
    add("tensor-invalid-info", "too-short", from_json({"t": entry(offsets=(0, 12))}))
    add("tensor-invalid-info", "too-long", from_json({"t": entry(offsets=(0, 17))}))
    add("tensor-invalid-info", "scalar-empty", from_json({"t": entry(dtype="F64", shape=(), offsets=(0, 0))}))
    add("tensor-invalid-info", "offsets-u64-max", from_text(
        header_text({"t": entry(dtype="U8", shape=(1,), offsets=(0, U64_MAX))})))
    add("validation-overflow", "elements", from_json(
        {"t": entry(dtype="U8", shape=(2**32, 2**32), offsets=(0, 0))}))
    add("validation-overflow", "bits", from_json(
        {"t": entry(dtype="U8", shape=(2**61,), offsets=(0, 0))}))
    add("validation-overflow", "before-zero", from_json(
        {"t": entry(dtype="U8", shape=(U64_MAX, U64_MAX, 0), offsets=(0, 0))}))
    add("misaligned-slice", "f4-odd", from_json({"t": entry(dtype="F4", shape=(3,), offsets=(0, 1))}))
    add("misaligned-slice", "f6-one", from_json({"t": entry(dtype="F6_E3M2", shape=(1,), offsets=(0, 1))}))
    add("duplicate-name", "plain", from_text(b'{"t":' + E + b',"t":' + E + b"}", 16))
    add("duplicate-name", "escaped", from_text(b'{"t":' + E + b',"\\u0074":' + E + b"}", 16))

    # -- the data area -------------------------------------------------------
    add("metadata-incomplete-buffer", "no-data", from_text(T))
    add("metadata-incomplete-buffer", "data-too-short", from_text(T, 15))
    add("metadata-incomplete-buffer", "data-too-long", from_text(T, 17))
    add("metadata-incomplete-buffer", "empty-header-with-data", from_text(b"{}", 1))
    add("metadata-incomplete-buffer", "huge-offsets", from_json(
        {"t": entry(dtype="U8", shape=(2**60,), offsets=(0, 2**60))}, 0))

    return cases


# -- .npy ----------------------------------------------------------------------

def npy_bytes(array, version=None):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=version, allow_pickle=True)
    return buf.getvalue()


def npy_preamble(text, major=1, pad=True, length=None):
    """Wraps header text (without its newline) the way NumPy does."""
    if isinstance(text, str):
        text = text.encode("latin1" if major < 3 else "utf8")
    prefix_len = 10 if major == 1 else 12
    if pad:
        text += b" " * (-(prefix_len + len(text) + 1) % 64)
    text += b"\n"
    if length is None:
        length = len(text)
    fmt = "<H" if major == 1 else "<I"
    return b"\x93NUMPY" + bytes([major, 0]) + struct.pack(fmt, length) + text


GOOD = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"


def npy_cases():
    cases = {}

    def add(nick, what, content):
        name = f"{nick}--{what}.npy"
        assert name not in cases, name
        cases[name] = content

    def bad(what, text, major=1):
        add("invalid-data", what, npy_preamble(text, major) + bytes(24))

    valid = npy_bytes(np.zeros((2, 3), dtype="<f4"))
    assert valid.startswith(npy_preamble(GOOD))

    add("invalid-data", "empty", b"")
    add("invalid-data", "wrong-magic", b"\x93NUMPZ" + valid[6:])
    add("invalid-data", "zip-magic", b"PK\x03\x04" + valid[4:])
    add("invalid-data", "truncated-magic", valid[:7])
    add("invalid-data", "truncated-length", valid[:9])
    add("invalid-data", "truncated-header", valid[:40])
    add("invalid-data", "header-above-limit", b"\x93NUMPY\x02\x00" + struct.pack("<I", 1024 * 1024 + 1)
        + b" " * 64)
    preamble_len = 10 + struct.unpack("<H", valid[8:10])[0]
    assert valid[preamble_len - 1:preamble_len] == b"\n"
    add("invalid-data", "no-newline", valid[:preamble_len - 1] + b" " + valid[preamble_len:])
    add("invalid-data", "empty-header-text", b"\x93NUMPY\x01\x00\x00\x00")
    bad("not-a-dict", "['descr', '<f4']")
    bad("missing-descr", "{'fortran_order': False, 'shape': (2, 3), }")
    bad("missing-shape", "{'descr': '<f4', 'fortran_order': False, }")
    bad("missing-fortran-order", "{'descr': '<f4', 'shape': (2, 3), }")
    bad("unexpected-key", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1, }")
    bad("repeated-key", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")
    bad("escape-in-string", "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2, 3), }")
    bad("unterminated-string", "{'descr': '<f4")
    bad("bool-lowercase", "{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3), }")
    bad("shape-list", "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }")
    bad("shape-not-tuple", "{'descr': '<f4', 'fortran_order': False, 'shape': (6), }")
    bad("negative-dimension", "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }")
    bad("dimension-2-63", "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775808,), }")
    bad("leading-zeros", "{'descr': '<f4', 'fortran_order': False, 'shape': (007,), }")
    bad("elements-overflow", "{'descr': '<u1', 'fortran_order': False, "
        "'shape': (4294967296, 4294967296), }")
    bad("bytes-overflow", "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }")
    bad("rank-1025", "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % ("1, " * 1025),
        major=2)
    bad("trailing-text", GOOD + " x")
    bad("long-suffix-in-3.0", "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", major=3)
    add("invalid-data", "invalid-utf8-in-3.0",
        npy_preamble("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), '\xe9': 1}".encode("latin1"),
                     major=3) + bytes(24))

    add("unsupported", "version-0.0", b"\x93NUMPY\x00\x00" + valid[8:])
    add("unsupported", "version-1.1", b"\x93NUMPY\x01\x01" + valid[8:])
    add("unsupported", "version-4.0", b"\x93NUMPY\x04\x00" + valid[8:])
    add("unsupported", "descr-object", npy_bytes(np.array([None, 1], dtype=object)))
    add("unsupported", "descr-unicode", npy_bytes(np.array(["abc"])))
    add("unsupported", "descr-bytes", npy_bytes(np.array([b"abc"])))
    add("unsupported", "descr-structured", npy_bytes(np.zeros(2, dtype=[("a", "<f4"), ("b", "<i2")])))
    add("unsupported", "descr-subarray", npy_preamble(
        "{'descr': ('<f4', (2,)), 'fortran_order': False, 'shape': (2,), }") + bytes(16))
    add("unsupported", "descr-datetime", npy_bytes(np.array(["2020-01-01"], dtype="M8[D]")))
    add("unsupported", "descr-complex128", npy_bytes(np.zeros(2, dtype="<c16")))
    add("unsupported", "descr-float128", npy_bytes(np.zeros(2, dtype="<f16")))
    add("unsupported", "descr-void", npy_bytes(np.zeros(2, dtype="V3")))

    return cases


def main():
    cases = {**safetensors_cases(), **npy_cases()}

    stale = [n for n in os.listdir(HERE)
             if (n.endswith(".safetensors") or n.endswith(".npy")) and n not in cases]
    for name in stale:
        os.unlink(os.path.join(HERE, name))

    for name, content in sorted(cases.items()):
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(content)

    print(f"{len(cases)} files in {HERE}", file=sys.stderr)


if __name__ == "__main__":
    main()
