#!/usr/bin/python3
"""Regenerates the corpus of malformed inputs in tests/data/malformed/.

Run with Debian's /usr/bin/python3 (needs python3-numpy only):
    /usr/bin/python3 tests/data/malformed/make-corpus.py

Every case is named <code>--<what>, where <code> is the nick of the error
code that reading it must report: a SafetensorsError nick
(header-too-small, invalid-json, ...) or, when no SafetensorsError has
that nick, a GIOErrorEnum nick (not-found, ...). tests/test-malformed.c
reads the code from the name. Everything is written byte by byte, without
this library (the .npy preambles start from what NumPy writes), and the
output does not depend on when or where it runs.

  <code>--<what>.safetensors   opened on every backend, sync and async
  <code>--<what>.npy           the .npy preamble parser
  <code>--<what>.pt            safetensors_import_pytorch () into an empty
                               folder: nothing may be left in it (one of
                               them is a folder)
  index/<code>--<what>/        safetensors_index_open () on the
                               model.safetensors.index.json there, next
                               to the shards it names
  journal/<code>--<what>.safetensors, with the rollback journal
                               .<code>--<what>.safetensors.safetensors-journal
                               beside it: the code of an opening for
                               writing (recovery); "ok" when recovery
                               succeeds, and then <code>--<what>.recovered
                               is what the file must become
  slices.tsv                   expression, dtype, shape, code: slicing a
                               tensor of that dtype and shape

Every header check gets at least one file; INVALID_JSON gets one per kind
of syntax or schema error. Every input is checked to be byte-identical
after the attempt, except the data files of journals that are applied.

Codes a parser has but no input can produce (each parser's list is in
the comment above its cases) are not in the corpus. Inputs too large to
keep in the repository (more than SAFETENSORS_HEADER_MAX_TENSORS tensors:
20 MB at least) are built by tests/test-malformed.c when it runs.
"""
import hashlib
import io
import json
import os
import shutil
import struct
import sys
import zlib

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


# -- PyTorch checkpoints -------------------------------------------------------
#
# Written by hand: a tiny pickle assembler and zip writer, so that every
# field can be wrong on purpose. The valid base is what torch.save () writes
# for {"w": torch.zeros (2, 2)}: archive/data.pkl, archive/byteorder,
# archive/data/0, archive/version.
#
# Codes import_pytorch can return and no file here produces:
#   invalid-argument: only for a key or flags the caller passes;
#   header-too-large: more than SAFETENSORS_HEADER_MAX_TENSORS tensors, or
#     100 MB of header: a pickle of millions of tensors;
#   G_IO_ERROR (no-space, cancelled, ...): the disk, mmap, the caller.
# Checks no input reaches: STACK_GLOBAL operands that are not str (the scan
# before the run refuses every STACK_GLOBAL not fed by string literals);
# the JSON of --extras-to-metadata values (too deep, cyclic, too long),
# which only skips a value; the cap of 2^25 objects and container items
# of a pickle, which takes a 100 MB pickle (deflated: small) but 400 MB of
# memory to reach: too much for every test run; the 256 MiB cap on a
# pickle, which needs 250 KB of deflate (byteorder-too-long goes through
# the same check).

def p_str(s):
    data = s.encode() if isinstance(s, str) else s
    return b"X" + struct.pack("<I", len(data)) + data


def p_int(n):
    if 0 <= n < 256:
        return b"K" + bytes([n])
    if -(2 ** 31) <= n < 2 ** 31:
        return b"J" + struct.pack("<i", n)
    data = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(data)]) + data


def p_global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def p_tuple(*values):
    return b"(" + b"".join(p_int(v) for v in values) + b"t"


ORDERED_DICT = p_global("collections", "OrderedDict") + b")R"


def p_storage(key="0", cls="FloatStorage", numel=4, location="cpu", legacy=False):
    items = p_str("storage") + p_global("torch", cls) + p_str(key) + p_str(location) + p_int(numel)
    return b"(" + items + (b"N" if legacy else b"") + b"tQ"


def p_tensor(storage=None, offset=0, size=(2, 2), stride=(2, 1), rebuild="_rebuild_tensor_v2",
             extra=b""):
    storage = p_storage() if storage is None else storage
    return (p_global("torch._utils", rebuild) + b"(" + storage + p_int(offset) + p_tuple(*size)
            + p_tuple(*stride) + b"\x89" + ORDERED_DICT + extra + b"tR")


def p_dict(*pairs):
    """A dict of (key pickle, value pickle) pairs, keys given as str."""
    body = b"".join((p_str(k) if isinstance(k, str) else k) + v for k, v in pairs)
    return b"}(" + body + b"u"


def pickled(body, protocol=2):
    return b"\x80" + bytes([protocol]) + body + b"."


STATE = pickled(p_dict(("w", p_tensor())))
ZEROS = bytes(16)


def deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def zip_archive(entries, *, zip64=False, eocd=None, comment=b"", cd_extra=b"",
                n_entries=None, cd_size=None, cd_offset=None, zip64_record=None):
    """entries: dicts with name, data, and optionally method (0, 8, ...),
    payload (the bytes stored), flags, crc, usize, csize, offset (in the
    central directory), local_name, disk, extra (central). The overrides
    describe the end records."""
    out = bytearray()
    central = bytearray()
    for e in entries:
        name = e["name"].encode() if isinstance(e["name"], str) else e["name"]
        data = e.get("data", b"")
        method = e.get("method", 0)
        payload = e["payload"] if "payload" in e else (deflate(data) if method == 8 else data)
        crc = e.get("crc", zlib.crc32(data))
        usize = e.get("usize", len(data))
        csize = e.get("csize", len(payload))
        flags = e.get("flags", 0)
        local_name = e.get("local_name", name)
        offset = e.get("offset", len(out))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21, crc,
                           min(csize, 0xFFFFFFFF), min(usize, 0xFFFFFFFF), len(local_name),
                           0) + local_name + payload
        extra = e.get("extra")
        if extra is None:
            values = [usize, csize, offset]
            big = [zip64 or v >= 0xFFFFFFFF for v in values]
            zdata = b"".join(struct.pack("<Q", v) for v, b in zip(values, big) if b)
            extra = struct.pack("<HH", 1, len(zdata)) + zdata if zdata else b""
        else:
            big = [False, False, False]
        usize32, csize32, offset32 = (0xFFFFFFFF if b else v & 0xFFFFFFFF
                                      for v, b in zip([usize, csize, offset], big))
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, 0, 0x21,
                               crc, csize32, usize32, len(name), len(extra), 0, e.get("disk", 0),
                               0, 0, offset32) + name + extra
    central += cd_extra
    start = len(out) if cd_offset is None else cd_offset
    size = len(central) if cd_size is None else cd_size
    n = len(entries) if n_entries is None else n_entries
    out += central
    if zip64:
        record = len(out)
        fields = dict(disk=0, cd_disk=0, n=n, size=size, offset=start)
        fields.update(zip64_record or {})
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 20, 45, fields["disk"],
                           fields["cd_disk"], fields["n"], fields["n"], fields["size"],
                           fields["offset"])
        out += struct.pack("<IIQI", 0x07064B50, 0, fields.get("at", record), 1)
    fields = dict(disk=0, cd_disk=0, n=min(n, 0xFFFF), size=min(size, 0xFFFFFFFF),
                  offset=min(start, 0xFFFFFFFF))
    if zip64:
        fields.update(n=0xFFFF, size=0xFFFFFFFF, offset=0xFFFFFFFF)
    fields.update(eocd or {})
    out += struct.pack("<IHHHHIIH", 0x06054B50, fields["disk"], fields["cd_disk"], fields["n"],
                       fields["n"], fields["size"], fields["offset"], len(comment)) + comment
    return bytes(out)


def checkpoint(pickle=STATE, storages=(("0", ZEROS),), prefix="archive", byteorder=b"little",
               change=None, **zip_options):
    """A zip checkpoint. @change (optional) edits the list of entries."""
    entries = [{"name": prefix + "/data.pkl", "data": pickle}]
    if byteorder is not None:
        entries.append({"name": prefix + "/byteorder", "data": byteorder})
    for key, data in storages:
        entries.append({"name": prefix + "/data/" + key, "data": data})
    entries.append({"name": prefix + "/version", "data": b"3\n"})
    if change is not None:
        change(entries)
    return zip_archive(entries, **zip_options)


def entry_of(entries, suffix):
    return next(e for e in entries if e["name"].endswith(suffix))


def edit(suffix, **fields):
    """A change () that sets @fields on the entry whose name ends in @suffix."""
    def change(entries):
        entry_of(entries, suffix).update(fields)
    return change


LEGACY_MAGIC = (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


def legacy(root=None, keys=("0",), storages=((4, ZEROS),), magic=None, version=None,
           sys_info=None, keys_pickle=None):
    """A checkpoint in the format of torch.save () before 1.6: five
    pickles, then each storage as u64 element count and bytes."""
    if root is None:
        root = pickled(p_dict(("w", p_tensor(p_storage(legacy=True)))))
    out = pickled(b"\x8a\x0a" + LEGACY_MAGIC) if magic is None else magic
    out += pickled(p_int(1001)) if version is None else version
    out += pickled(p_dict(("protocol_version", p_int(1001)), ("little_endian", b"\x88"))) \
        if sys_info is None else sys_info
    out += root
    out += pickled(b"](" + b"".join(p_str(k) for k in keys) + b"e") if keys_pickle is None else keys_pickle
    for numel, data in storages:
        out += struct.pack("<Q", numel) + data
    return out


def torch_cases():
    cases = {}

    def add(nick, what, content):
        name = f"{nick}--{what}.pt"
        assert name not in cases, name
        cases[name] = content

    def bad_pickle(nick, what, body, protocol=2, raw=False):
        add(nick, what, checkpoint(body if raw else pickled(body, protocol)))

    # -- not a checkpoint -----------------------------------------------------
    add("invalid-data", "empty", b"")
    add("invalid-data", "text", b"not a checkpoint\n")
    add("invalid-data", "safetensors-file", VALID)
    add("unsupported", "tar-format", bytes(257) + b"ustar" + bytes(250))

    # -- zip: end records (safetensors-zip.c) -----------------------------------
    base = checkpoint()
    add("invalid-data", "zip-too-short", b"PK\x03\x04" + bytes(10))
    add("invalid-data", "zip-no-end-record", base[:base.rindex(b"PK\x05\x06")])
    add("invalid-data", "zip-truncated-comment", base[:-22] + base[-22:-2] + b"\xff\xff")
    add("unsupported", "zip-multi-volume", checkpoint(eocd={"disk": 1}))
    add("unsupported", "zip-multi-volume-cd-disk", checkpoint(eocd={"cd_disk": 1}))
    add("invalid-data", "zip64-record-missing", checkpoint(zip64=True, zip64_record={"at": 0}))
    add("invalid-data", "zip64-record-past-locator", checkpoint(zip64=True, zip64_record={"at": 2**63}))
    add("unsupported", "zip64-multi-volume", checkpoint(zip64=True, zip64_record={"cd_disk": 1}))
    add("invalid-data", "zip-cd-past-end", checkpoint(cd_offset=2**31))
    add("invalid-data", "zip-cd-size-past-end", checkpoint(cd_size=2**31))
    add("invalid-data", "zip64-cd-offset-huge", checkpoint(zip64=True, zip64_record={"offset": 2**64 - 1}))
    add("invalid-data", "zip-more-entries-than-room", checkpoint(n_entries=5, cd_size=46 * 4 + 40))
    add("invalid-data", "zip-entry-count-cap", checkpoint(zip64=True, zip64_record={"n": 2**20 + 1}))
    add("invalid-data", "zip64-entry-count-u64-max", checkpoint(zip64=True, zip64_record={"n": 2**64 - 1}))
    add("invalid-data", "zip-empty-archive", zip_archive([]))

    # -- zip: the central directory ------------------------------------------------
    add("invalid-data", "zip-cd-bad-signature", checkpoint(cd_extra=b"PK\x01\x03" + bytes(42), n_entries=5))
    add("invalid-data", "zip-cd-truncated-entry", checkpoint(cd_extra=struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0x21, 0, 0, 0, 200, 0, 0, 0, 0, 0, 0),
        n_entries=5))
    add("invalid-data", "zip-name-not-utf8", checkpoint(change=edit("version", name=b"archive/\xff")))
    add("invalid-data", "zip-name-with-nul", checkpoint(change=edit("version", name=b"archive/ver\0sion")))
    add("unsupported", "zip-entry-on-other-disk", checkpoint(change=edit("version", disk=2)))
    add("invalid-data", "zip-extra-truncated", checkpoint(change=edit("version", extra=b"\x01\x00\x10\x00abc")))
    add("invalid-data", "zip64-extra-too-short", checkpoint(change=edit(
        "version", extra=b"\x01\x00\x04\x00abcd", usize=0xFFFFFFFF, csize=0xFFFFFFFF, payload=b"3\n")))
    add("invalid-data", "zip-name-empty", checkpoint(change=edit("version", name="", local_name=b"")))
    add("invalid-data", "zip-name-absolute", checkpoint(prefix="/archive"))
    add("invalid-data", "zip-name-backslash", checkpoint(change=edit("version", name="archive\\version")))
    add("invalid-data", "zip-name-drive-letter", checkpoint(prefix="C:"))
    add("invalid-data", "zip-name-dotdot", checkpoint(change=edit("version", name="archive/../version")))
    add("invalid-data", "zip-name-dot", checkpoint(change=edit("version", name="archive/./version")))
    add("invalid-data", "zip-name-empty-component", checkpoint(change=edit("version", name="archive//version")))
    add("unsupported", "zip-encrypted", checkpoint(change=edit("data/0", flags=1)))
    add("unsupported", "zip-strong-encryption", checkpoint(change=edit("data/0", flags=1 << 6)))
    add("unsupported", "zip-aes-method-99", checkpoint(change=edit("data/0", method=99)))
    add("unsupported", "zip-bzip2", checkpoint(change=edit("data/0", method=12)))
    add("invalid-data", "zip-stored-sizes-differ", checkpoint(change=edit("version", usize=3)))
    add("invalid-data", "zip-deflate-ratio", checkpoint(change=edit(
        "data/0", method=8, data=ZEROS, payload=deflate(ZEROS), usize=2**32)))
    add("invalid-data", "zip-duplicate-name", checkpoint(
        change=lambda entries: entries.append(dict(entries[-1]))))

    # -- zip: where the data is ---------------------------------------------------
    add("invalid-data", "zip-local-header-past-cd", checkpoint(change=edit("version", offset=2**31)))
    add("invalid-data", "zip-no-local-header", checkpoint(change=edit("version", offset=1)))
    add("invalid-data", "zip-local-name-differs", checkpoint(change=edit("version", local_name=b"archive/versioN")))
    add("invalid-data", "zip-data-past-cd", checkpoint(change=edit("version", csize=4096, usize=4096)))

    # data/0 claims the bytes of the entry after it too.
    spread = 16 + 30 + len("archive/version") + 2
    add("invalid-data", "zip-entries-overlap", checkpoint(change=edit("data/0", csize=spread, usize=spread)))

    # -- zip: inflating (data.pkl when opening, storages when writing) --------------
    add("invalid-data", "zip-corrupt-deflate", checkpoint(change=edit(
        "data.pkl", method=8, payload=b"\xff" * 8 + deflate(STATE))))
    add("invalid-data", "zip-inflates-past-size", checkpoint(change=edit(
        "data.pkl", method=8, usize=len(STATE) - 1)))
    add("invalid-data", "zip-inflates-short", checkpoint(change=edit(
        "data.pkl", method=8, usize=len(STATE) + 1)))
    add("invalid-data", "zip-truncated-deflate", checkpoint(change=edit(
        "data.pkl", method=8, payload=deflate(STATE)[:-4])))
    add("invalid-data", "zip-crc-mismatch", checkpoint(change=edit("data.pkl", crc=1)))
    add("invalid-data", "zip-storage-crc-mismatch", checkpoint(change=edit("data/0", method=8, crc=1)))
    add("invalid-data", "zip-storage-inflates-past-size", checkpoint(change=edit(
        "data/0", method=8, data=bytes(15), usize=16, crc=zlib.crc32(ZEROS), payload=deflate(bytes(17)))))
    add("invalid-data", "zip-storage-corrupt-deflate", checkpoint(change=edit(
        "data/0", method=8, payload=b"\xff" * 8)))
    # A storage that claims 1.1 GB in 1 MB of deflate: within zip's ratio,
    # but more than the output may grow to (4 × input + 1 GiB).
    big = (1 << 30) + (1 << 26)
    add("invalid-data", "storage-inflates-too-much", checkpoint(
        pickle=pickled(p_dict(("w", p_tensor(p_storage(cls="ByteStorage", numel=big), size=(1,),
                                              stride=(1,))))),
        change=edit("data/0", method=8, usize=big, payload=bytes(big // 1032 + 1))))

    # -- torch.save () archive layout (safetensors-torch-load.c) --------------------
    add("invalid-data", "archive-not-in-folder", checkpoint(prefix="x", change=edit("data.pkl", name="data.pkl")))
    add("invalid-data", "archive-two-folders", checkpoint(change=edit("version", name="other/version")))
    add("unsupported", "torchscript", checkpoint(
        change=lambda entries: entries.append({"name": "archive/constants.pkl", "data": pickled(b")")})))
    add("invalid-data", "byteorder-unknown", checkpoint(byteorder=b"middle"))
    add("invalid-data", "byteorder-too-long", checkpoint(byteorder=b"little" + b" " * 11))
    add("invalid-data", "no-data-pkl", checkpoint(change=edit("data.pkl", name="archive/data.pickle")))
    add("invalid-data", "storage-entry-missing", checkpoint(storages=()))
    add("invalid-data", "storage-entry-wrong-size", checkpoint(storages=(("0", bytes(12)),)))

    # -- pickle: decoding (safetensors-pickle-decode.c) ----------------------------
    bad_pickle("invalid-data", "pickle-empty", b"", raw=True)
    bad_pickle("invalid-data", "pickle-no-stop", b"\x80\x02}", raw=True)
    bad_pickle("invalid-data", "pickle-unknown-opcode", b"\xff")
    bad_pickle("invalid-data", "pickle-string-past-end", b"X\xff\xff\x00\x00abc", raw=True)
    bad_pickle("invalid-data", "pickle-unicode8-past-end", b"\x8d" + struct.pack("<Q", 2**63) + b"abc",
               raw=True)
    bad_pickle("invalid-data", "pickle-bytes8-past-end", b"\x8e" + struct.pack("<Q", 2**64 - 1), raw=True)
    bad_pickle("invalid-data", "pickle-argument-past-end", b"\x80\x02J\x01", raw=True)
    bad_pickle("invalid-data", "pickle-frame-past-end", b"\x95" + struct.pack("<Q", 2**40) + b"}")
    bad_pickle("invalid-data", "pickle-negative-length", b"T\xff\xff\xff\xffabc")
    bad_pickle("invalid-data", "pickle-long4-negative-length", b"\x8b\xfe\xff\xff\xff")
    bad_pickle("invalid-data", "pickle-global-no-newline", b"\x80\x02ctorch\nFloatStorage", raw=True)
    for op, what in ((b"i", "inst"), (b"o", "obj"), (b"P", "persid"), (b"\x82", "ext1"),
                     (b"\x83", "ext2"), (b"\x84", "ext4"), (b"S", "string"), (b"I", "int"),
                     (b"L", "long"), (b"F", "float"), (b"V", "unicode"), (b"g", "get"),
                     (b"p", "put"), (b"d", "dict"), (b"l", "list"), (b"\x96", "bytearray8"),
                     (b"\x97", "next-buffer"), (b"\x98", "readonly-buffer")):
        bad_pickle("unsafe-pickle", "opcode-" + what, b"}" + op)
    bad_pickle("unsafe-pickle", "global-os-system", p_global("os", "system") + b"N")
    bad_pickle("unsafe-pickle", "global-builtins-eval", p_global("builtins", "eval") + b"N")
    bad_pickle("unsafe-pickle", "global-late", p_dict(("w", p_tensor())) + b"0" + p_global("posix", "system"))
    bad_pickle("unsafe-pickle", "global-nul-in-name", p_global("torch", "Float\0Storage"))
    bad_pickle("unsafe-pickle", "global-torch-load", p_global("torch", "load"))
    bad_pickle("unsafe-pickle", "stack-global-os-system", p_str("os") + p_str("system") + b"\x93")
    bad_pickle("unsafe-pickle", "stack-global-memo", p_str("os") + b"q\x00" + p_str("system")
               + b"q\x01" + b"0" + b"h\x00h\x01\x93")
    bad_pickle("unsafe-pickle", "stack-global-not-literal", b"N" + p_str("system") + b"\x93")
    bad_pickle("unsupported", "pickle-protocol-6", b"}", protocol=6)

    # -- pickle: the machine (safetensors-pickle.c) --------------------------------
    bad_pickle("invalid-data", "stop-on-empty-stack", b"")
    bad_pickle("invalid-data", "pop-empty-stack", b"0")
    bad_pickle("invalid-data", "pop-mark-without-mark", b"1")
    bad_pickle("invalid-data", "tuple-without-mark", b"Nt")
    bad_pickle("invalid-data", "tuple2-short", b"N\x86")
    bad_pickle("invalid-data", "tuple3-above-mark", b"NN(N\x87")
    bad_pickle("invalid-data", "setitem-on-list", b"]NNs")
    bad_pickle("invalid-data", "setitems-odd", b"}(Nu")
    bad_pickle("invalid-data", "setitems-no-container", b"(Nu")
    bad_pickle("invalid-data", "appends-on-dict", b"}(Ne")
    bad_pickle("invalid-data", "additems-on-list", b"](N\x90")
    bad_pickle("invalid-data", "append-on-tuple", b")Na")
    bad_pickle("invalid-data", "memo-get-unset", b"h\x07")
    bad_pickle("invalid-data", "memo-put-empty-stack", b"q\x00")
    bad_pickle("invalid-data", "invalid-utf8", b"X\x02\x00\x00\x00\xc3\x28")
    bad_pickle("invalid-data", "reduce-args-not-tuple", ORDERED_DICT[:-2] + b"NR")
    bad_pickle("invalid-data", "reduce-non-callable", b"N)R")
    bad_pickle("invalid-data", "newobj-non-class", b"N)\x81")
    bad_pickle("invalid-data", "newobj-ex-kwargs-not-dict", p_global("builtins", "set") + b"))\x92")
    bad_pickle("invalid-data", "mark-depth", b"(" * 1001)
    bad_pickle("invalid-data", "unhashable-key", b"}]Ns")
    bad_pickle("invalid-data", "key-nesting", b"}N" + b"\x85" * 40 + b"Ns")
    bad_pickle("invalid-data", "set-of-list", b"\x8f(]\x90")
    # The caps on the stack and the memo, 2^22 entries: 4 MB of opcodes,
    # deflated to a few kilobytes.
    many = 1 << 22
    add("invalid-data", "stack-cap", checkpoint(change=edit(
        "data.pkl", method=8, data=b"\x80\x02N" + b"2" * many + b".")))
    add("invalid-data", "memo-cap", checkpoint(change=edit(
        "data.pkl", method=8, data=b"\x80\x02N" + b"\x94" * (many + 1) + b".")))

    # -- pickle: objects (safetensors-pickle-torch.c) -----------------------------------
    def tensor_pickle(tensor):
        return p_dict(("w", tensor))

    bad_pickle("invalid-data", "rebuild-too-few-args",
               p_global("torch._utils", "_rebuild_tensor_v2") + b"(" + p_storage() + b"tR")
    bad_pickle("invalid-data", "rebuild-v3-no-dtype", tensor_pickle(p_tensor(rebuild="_rebuild_tensor_v3",
                                                                              extra=b"N")))
    bad_pickle("invalid-data", "rebuild-on-int", tensor_pickle(p_tensor(storage=p_int(1))))
    bad_pickle("invalid-data", "rebuild-offset-str", p_dict(("w", p_global("torch._utils", "_rebuild_tensor_v2")
               + b"(" + p_storage() + p_str("0") + p_tuple(2, 2) + p_tuple(2, 1) + b"\x89" + ORDERED_DICT + b"tR")))
    bad_pickle("invalid-data", "size-not-tuple", p_dict(("w", p_global("torch._utils", "_rebuild_tensor_v2")
               + b"(" + p_storage() + p_int(0) + p_int(4) + p_tuple(1) + b"\x89" + ORDERED_DICT + b"tR")))
    bad_pickle("invalid-data", "size-holds-str", p_dict(("w", p_global("torch._utils", "_rebuild_tensor_v2")
               + b"(" + p_storage() + p_int(0) + b"(" + p_str("2") + b"t" + p_tuple(1) + b"\x89"
               + ORDERED_DICT + b"tR")))
    bad_pickle("invalid-data", "sizes-strides-differ", tensor_pickle(p_tensor(stride=(1,))))
    bad_pickle("invalid-data", "parameter-of-int", p_dict(("w", p_global("torch._utils", "_rebuild_parameter")
               + b"(K\x01\x89" + ORDERED_DICT + b"tR")))
    bad_pickle("invalid-data", "ordered-dict-of-int", p_global("collections", "OrderedDict") + b"K\x01\x85R")
    bad_pickle("invalid-data", "ordered-dict-bad-pair", p_global("collections", "OrderedDict")
               + b"(K\x01\x85t\x85R")
    bad_pickle("invalid-data", "ordered-dict-two-args", p_global("collections", "OrderedDict") + b"NN\x86R")
    bad_pickle("invalid-data", "device-of-int", p_global("torch", "device") + b"K\x01\x85R")
    bad_pickle("invalid-data", "device-bad-index", p_global("torch", "device") + p_str("cuda") + b"G"
               + struct.pack(">d", 1.5) + b"\x86R")
    bad_pickle("invalid-data", "codecs-encode-of-int", p_global("_codecs", "encode") + b"K\x01\x85R")
    bad_pickle("unsupported", "codecs-encode-utf16", p_global("_codecs", "encode") + p_str("a")
               + p_str("utf-16") + b"\x86R")
    bad_pickle("invalid-data", "codecs-encode-not-latin1", p_global("_codecs", "encode")
               + p_str("\u20ac") + p_str("latin1") + b"\x86R")
    bad_pickle("invalid-data", "set-of-int", p_global("builtins", "set") + b"K\x01\x85R")
    bad_pickle("invalid-data", "complex-of-str", p_global("builtins", "complex") + p_str("1") + b"\x85R")
    bad_pickle("invalid-data", "bytearray-of-int", p_global("builtins", "bytearray") + b"K\x01\x85R")
    bad_pickle("invalid-data", "namespace-with-args", p_global("argparse", "Namespace") + b"K\x01\x85R")
    bad_pickle("unsafe-pickle", "call-storage-class", p_global("torch", "FloatStorage") + b")R")
    bad_pickle("unsafe-pickle", "call-dtype", p_global("torch", "float32") + b")R")
    bad_pickle("unsafe-pickle", "newobj-tensor-rebuild", p_global("torch._utils", "_rebuild_tensor_v2") + b")\x81")
    bad_pickle("invalid-data", "newobj-complex-kwargs", p_global("builtins", "complex") + b")}(" + p_str("real")
               + b"K\x01u\x92")
    bad_pickle("invalid-data", "build-int", b"K\x01}(" + p_str("a") + b"K\x01ub")
    bad_pickle("invalid-data", "build-namespace-with-list", p_global("argparse", "Namespace") + b")R]" + b"N"
               + b"ab")
    bad_pickle("invalid-data", "build-dict-with-int", b"}K\x01b")
    bad_pickle("invalid-data", "pid-not-tuple", b"NQ")
    bad_pickle("unsafe-pickle", "pid-module", b"(" + p_str("module") + p_str("os") + b"tQ")
    bad_pickle("invalid-data", "pid-four-items", b"(" + p_str("storage") + p_global("torch", "FloatStorage")
               + p_str("0") + p_str("cpu") + b"tQ")
    bad_pickle("invalid-data", "pid-class-not-storage", tensor_pickle(p_tensor(
        storage=b"(" + p_str("storage") + p_global("torch", "float32") + p_str("0") + p_str("cpu")
        + p_int(4) + b"tQ")))
    bad_pickle("invalid-data", "pid-key-dotdot", tensor_pickle(p_tensor(storage=p_storage(key=".."))))
    bad_pickle("invalid-data", "pid-key-slash", tensor_pickle(p_tensor(storage=p_storage(key="a/b"))))
    bad_pickle("invalid-data", "pid-negative-numel", tensor_pickle(p_tensor(storage=p_storage(numel=-1))))
    bad_pickle("invalid-data", "pid-numel-overflow", tensor_pickle(p_tensor(storage=p_storage(
        cls="DoubleStorage", numel=2**62))))
    bad_pickle("invalid-data", "pid-described-twice", p_dict(("w", p_tensor()), ("v", p_tensor(
        storage=p_storage(numel=5)))))

    # -- what the import writes (safetensors-torch-plan.c) --------------------------
    bad_pickle("unsupported", "quantized", tensor_pickle(
        p_global("torch._utils", "_rebuild_qtensor") + b"(" + p_storage(cls="QInt8Storage") + p_int(0)
        + p_tuple(2, 2) + p_tuple(2, 1) + b"N\x89" + ORDERED_DICT + b"tR"))
    bad_pickle("unsupported", "complex128", tensor_pickle(p_tensor(storage=p_storage(cls="ComplexDoubleStorage",
                                                                                     numel=1), size=(1,), stride=(1,)))
               )
    bad_pickle("unsupported", "rank-1025", tensor_pickle(p_tensor(size=(1,) * 1025, stride=(1,) * 1025)))
    bad_pickle("invalid-data", "negative-offset", tensor_pickle(p_tensor(offset=-1)))
    bad_pickle("invalid-data", "negative-size", tensor_pickle(p_tensor(size=(-2, 2))))
    bad_pickle("invalid-data", "negative-stride", tensor_pickle(p_tensor(stride=(-2, 1))))
    bad_pickle("validation-overflow", "numel-overflow", tensor_pickle(p_tensor(size=(2**32, 2**32),
                                                                               stride=(0, 0))))
    bad_pickle("validation-overflow", "bytes-overflow", tensor_pickle(p_tensor(size=(2**62,), stride=(0,))))
    bad_pickle("invalid-data", "beyond-storage", tensor_pickle(p_tensor(size=(2, 3), stride=(3, 1))))
    bad_pickle("invalid-data", "offset-beyond-storage", tensor_pickle(p_tensor(offset=1)))
    bad_pickle("invalid-data", "stride-overflow", tensor_pickle(p_tensor(size=(4,), stride=(2**63 - 1,))))
    bad_pickle("invalid-data", "expanded-past-output-limit", tensor_pickle(p_tensor(size=(2**40,), stride=(0,))))
    bad_pickle("duplicate-name", "flatten-twice", p_dict(("a.b", p_tensor()), ("a", p_dict(("b", p_tensor(
        size=(4,), stride=(1,)))))))
    bad_pickle("reserved-name", "metadata-name", p_dict(("__metadata__", p_tensor())))
    bad_pickle("invalid-data", "nested-1001", b"]" * 1001 + b"a" * 1000)
    # Flattened names: a long key memoized once and used at two levels,
    # and 1600 values under names of 64 KB (more than 100 MB of names).
    key = p_str("k" * 40000)
    add("invalid-data", "name-too-long", checkpoint(change=edit("data.pkl", method=8, data=pickled(
        b"}" + key + b"q\x00}h\x00" + p_tensor() + b"ss"))))
    add("invalid-data", "names-too-large", checkpoint(change=edit("data.pkl", method=8, data=pickled(
        b"}" + p_str("k" * 64000) + b"](" + b"K\x01" * 1600 + b"es"))))

    # -- the legacy format ------------------------------------------------------------
    add("invalid-data", "legacy-no-magic", legacy(magic=pickled(p_int(7))))
    add("invalid-data", "legacy-truncated-magic", legacy()[:5])
    add("unsupported", "legacy-version-1000", legacy(version=pickled(p_int(1000))))
    add("unsupported", "legacy-version-str", legacy(version=pickled(p_str("1001"))))
    add("invalid-data", "legacy-no-sys-info", legacy(sys_info=pickled(b"N")))
    add("invalid-data", "legacy-endianness-not-bool", legacy(sys_info=pickled(p_dict(("little_endian", p_int(1))))))
    add("unsupported", "legacy-big-endian", legacy(sys_info=pickled(p_dict(("little_endian", b"\x89")))))
    add("invalid-data", "legacy-keys-not-list", legacy(keys_pickle=pickled(b"N")))
    add("invalid-data", "legacy-key-not-str", legacy(keys_pickle=pickled(b"](K\x00e")))
    add("invalid-data", "legacy-key-unreferenced", legacy(keys=("0", "9"), storages=((4, ZEROS), (4, ZEROS))))
    add("invalid-data", "legacy-key-twice", legacy(keys=("0", "0"), storages=((4, ZEROS), (4, ZEROS))))
    add("invalid-data", "legacy-ends-before-storage", legacy(storages=()))
    add("invalid-data", "legacy-numel-differs", legacy(storages=((3, bytes(12)),)))
    add("invalid-data", "legacy-storage-past-end", legacy(storages=((4, bytes(15)),)))
    add("invalid-data", "legacy-storage-not-listed", legacy(keys=(), storages=()))
    add("unsupported", "legacy-storage-view", legacy(root=pickled(p_dict(("w", p_tensor(
        b"(" + p_str("storage") + p_global("torch", "FloatStorage") + p_str("0") + p_str("cpu") + p_int(4)
        + b"(" + p_str("0") + p_int(0) + p_int(4) + b"ttQ"))))))
    add("unsafe-pickle", "legacy-module-source", legacy(root=pickled(b"(" + p_str("module") + p_str("m")
                                                                     + p_str("src") + b"tQ")))
    add("invalid-data", "legacy-five-item-pid", legacy(root=pickled(p_dict(("w", p_tensor())))))

    return cases


# -- model.safetensors.index.json ------------------------------------------------
#
# Each case is a folder: the index and the shards it names.
#
# Codes safetensors_index_open can return and no folder here produces:
#   G_IO_ERROR other than not-found (unreadable files, cancellation);
#   SafetensorsError codes of a shard other than the few below: those are
#   the .safetensors cases above, reported as they are.

INDEX = "model.safetensors.index.json"


def shard(*tensors):
    """A valid shard holding U8 tensors: (name, n_bytes) pairs."""
    obj, offset = {}, 0
    for name, n in tensors:
        obj[name] = entry("U8", (n,), (offset, offset + n))
        offset += n
    return from_json(obj)


def index_text(weight_map, total_size=None, metadata=None):
    obj = {}
    if metadata is not None or total_size is not None:
        obj["metadata"] = dict(metadata or {})
        if total_size is not None:
            obj["metadata"]["total_size"] = total_size
    obj["weight_map"] = weight_map
    return json.dumps(obj, indent=2).encode() + b"\n"


S1 = "model-00001-of-00002.safetensors"
S2 = "model-00002-of-00002.safetensors"
SHARDS = {S1: shard(("a", 2), ("b", 3)), S2: shard(("c", 4))}
MAP = {"a": S1, "b": S1, "c": S2}


def index_cases():
    cases = {}

    def add(nick, what, index, shards=SHARDS):
        name = f"{nick}--{what}"
        assert name not in cases, name
        files = dict(shards)
        files[INDEX] = index if isinstance(index, bytes) else index.encode()
        cases[name] = files

    def with_map(**changes):
        m = dict(MAP)
        m.update(changes)
        return index_text(m, 9)

    add("invalid-data", "empty-file", b"")
    add("invalid-data", "malformed-json", index_text(MAP)[:-10])
    add("invalid-data", "trailing-comma", b'{"weight_map": {"a": "%s",}}' % S1.encode())
    add("invalid-data", "top-level-array", b"[]")
    add("invalid-data", "top-level-string", b'"weight_map"')
    add("invalid-data", "comment", b"/* c */ " + index_text(MAP))
    add("invalid-data", "single-quoted", index_text(MAP).replace(b'"', b"'"))
    # json-glib, which read indexes before, crashed at about 100 000
    # levels; 128 are refused.
    add("invalid-data", "nested-129", b'{"metadata": {"x": ' + b"[" * 127 + b"]" * 127
        + b'}, "weight_map": {}}')
    add("invalid-data", "nested-with-brackets-in-strings", b'{"weight_map": {}, "x": '
        + b'["]", ' * 129 + b"0" + b"]" * 129 + b"}")
    add("invalid-data", "repeated-tensor", b'{"weight_map": {"a": "%s", "a": "%s", "b": "%s", "c": "%s"}}'
        % (S1.encode(), S1.encode(), S1.encode(), S2.encode()))
    add("invalid-data", "repeated-weight-map", b'{"weight_map": {}, "weight_map": {}}')
    add("invalid-data", "metadata-not-object", b'{"metadata": 9, "weight_map": {}}')
    add("invalid-data", "total-size-string", index_text(MAP, "9"))
    add("invalid-data", "total-size-negative", index_text(MAP, -9))
    add("invalid-data", "total-size-float", index_text(MAP, 9.0))
    add("invalid-data", "total-size-above-i64", index_text(MAP, 2**64 - 1))
    add("invalid-data", "total-size-wrong", index_text(MAP, 10))
    add("invalid-data", "no-weight-map", b'{"metadata": {"total_size": 9}}')
    add("invalid-data", "weight-map-array", b'{"weight_map": ["a", "b"]}')
    add("invalid-data", "weight-map-null", b'{"weight_map": null}')
    add("invalid-data", "shard-not-string", with_map(a=1))
    add("invalid-data", "shard-null", with_map(a=None))
    add("invalid-data", "shard-absolute", with_map(a="/" + S1))
    add("invalid-data", "shard-dotdot", with_map(a="../" + S1))
    add("invalid-data", "shard-dot", with_map(a="./" + S1))
    add("invalid-data", "shard-empty-name", with_map(a=""))
    add("invalid-data", "shard-empty-component", with_map(a="x//" + S1))
    add("invalid-data", "shard-trailing-slash", with_map(a=S1 + "/"))
    add("invalid-data", "shard-backslash", with_map(a="x\\" + S1))
    add("invalid-data", "tensor-not-in-map", index_text({"a": S1, "c": S2}))
    add("invalid-data", "tensor-in-two-shards", index_text(MAP),
        {S1: shard(("a", 2), ("b", 3)), S2: shard(("c", 4), ("a", 2))})
    add("invalid-data", "tensor-not-where-map-says", with_map(a=S2))
    add("invalid-data", "mapped-tensor-missing", index_text(dict(MAP, z=S2)))
    add("not-found", "missing-shard", with_map(c="model-00003-of-00003.safetensors"))
    add("header-too-small", "shard-empty", index_text(MAP), {S1: b"", S2: SHARDS[S2]})
    add("invalid-json", "shard-not-json", index_text(MAP), {S1: from_text(b"{,}"), S2: SHARDS[S2]})
    add("metadata-incomplete-buffer", "shard-truncated", index_text(MAP),
        {S1: SHARDS[S1][:-1], S2: SHARDS[S2]})
    add("needs-recovery", "shard-with-journal", index_text(MAP),
        dict(SHARDS, **{"." + S2 + ".safetensors-journal": journal_bytes(
            1, len(SHARDS[S2]), 0, [(0, SHARDS[S2][:8])])}))

    return cases


# -- rollback journals -------------------------------------------------------------
#
# "STJOURN\1", u32 state (1 hot, 2 done), u32 0, u64 old size, u64 new
# size, u64 range count, per range u64 offset, u64 length and the bytes,
# then the SHA-256 of everything before (safetensors-journal-private.h).
#
# Opening for writing can also fail with LOCKED (another writer) or a
# G_IO_ERROR (an unreadable journal, a full disk): no file here does that.

def journal_bytes(state, old_size, new_size, ranges, magic=b"STJOURN\x01", n_ranges=None,
                  tail=b"", digest=None):
    body = magic + struct.pack("<IIQQQ", state, 0, old_size, new_size,
                               len(ranges) if n_ranges is None else n_ranges)
    for start, data in ranges:
        if isinstance(data, int):
            body += struct.pack("<QQ", start, data)
        else:
            body += struct.pack("<QQ", start, len(data)) + data
    body += tail
    return body + (hashlib.sha256(body).digest() if digest is None else digest)


def journal_cases():
    """name → (data file, journal or None, what the file becomes or None,
    extra files)."""
    cases = {}
    size = len(VALID)
    data_start = 8 + len(T)

    def add(nick, what, journal, data=VALID, after=None, extra=None):
        name = f"{nick}--{what}"
        assert name not in cases, name
        cases[name] = (data, journal, after, extra or {})

    hot = journal_bytes(1, size, 0, [(data_start, VALID[data_start:])])

    add("corrupt-journal", "empty", b"")
    add("corrupt-journal", "too-short", hot[:71])
    add("corrupt-journal", "truncated", hot[:-1])
    add("corrupt-journal", "bad-magic", journal_bytes(1, size, 0, [], magic=b"STJOURN\x02"))
    add("corrupt-journal", "zip-magic", b"PK\x03\x04" + hot[4:])
    add("corrupt-journal", "state-0", journal_bytes(0, size, 0, []))
    add("corrupt-journal", "state-3", journal_bytes(3, size, 0, []))
    add("corrupt-journal", "checksum-mismatch", hot[:-40] + bytes([hot[-40] ^ 1]) + hot[-39:])
    add("corrupt-journal", "digest-mismatch", hot[:-1] + bytes([hot[-1] ^ 1]))
    add("corrupt-journal", "range-count-huge", journal_bytes(1, size, 0, [], n_ranges=2**64 - 1))
    add("corrupt-journal", "range-count-one-too-many", journal_bytes(
        1, size, 0, [(data_start, VALID[data_start:])], n_ranges=2))
    add("corrupt-journal", "range-longer-than-journal", journal_bytes(1, size, 0, [(0, 2**63)]))
    add("corrupt-journal", "trailing-bytes", journal_bytes(1, size, 0, [], tail=b"\0" * 8))
    add("corrupt-journal", "range-past-old-size", journal_bytes(
        1, size, 0, [(size - 8, VALID[-8:] + b"past end")]))
    add("corrupt-journal", "range-offset-overflow", journal_bytes(1, size, 0, [(2**64 - 8, b"x" * 16)]))
    add("corrupt-journal", "range-far-away", journal_bytes(1, size, 0, [(2**62, b"x" * 16)]))
    add("corrupt-journal", "old-size-negative", journal_bytes(1, 2**63, 0, []))
    add("corrupt-journal", "new-size-negative", journal_bytes(2, size, 2**64 - 1, []))

    # Journals that are applied: the file becomes what the commit started
    # from (hot) or what it ended with (done).
    grown = VALID[:data_start] + b"\xee" * 16 + b"\xee" * 24
    add("ok", "hot-rolls-back", hot, data=grown, after=VALID)
    add("ok", "hot-restores-size-only", journal_bytes(1, size, 0, []), data=VALID + bytes(100),
        after=VALID)
    add("ok", "done-truncates", journal_bytes(2, size + 24, size, []), data=VALID + b"\xee" * 24,
        after=VALID)
    add("ok", "stale-temporary", None, after=VALID, extra={".safetensors-journal.tmp": b"junk"})
    garbage = VALID[:8] + b"[[[[" + VALID[12:]
    add("invalid-json", "hot-restores-garbage", journal_bytes(1, size, 0, [(8, b"[[[[")]),
        after=garbage)
    return cases


# -- slices ------------------------------------------------------------------------
#
# Codes slicing can return and no line here produces: G_IO_ERROR no-space
# (a selection larger than memory) and the read errors of the backends.

SLICES = [
    # The text form (safetensors_slice_parse)
    ("abc", "F32", "4,6", "invalid-slice"),
    ("1 2", "F32", "4,6", "invalid-slice"),
    ("1:2:3:4", "F32", "4,6", "invalid-slice"),
    (",", "F32", "4,6", "invalid-slice"),
    (",1", "F32", "4,6", "invalid-slice"),
    ("1,,2", "F32", "4,6", "invalid-slice"),
    ("..", "F32", "4,6", "invalid-slice"),
    ("....", "F32", "4,6", "invalid-slice"),
    ("1.5", "F32", "4,6", "invalid-slice"),
    ("0x10", "F32", "4,6", "invalid-slice"),
    ("1e3", "F32", "4,6", "invalid-slice"),
    ("--1", "F32", "4,6", "invalid-slice"),
    ("+", "F32", "4,6", "invalid-slice"),
    ("-", "F32", "4,6", "invalid-slice"),
    ("1:-", "F32", "4,6", "invalid-slice"),
    ("99999999999999999999", "F32", "4,6", "invalid-slice"),
    ("-9223372036854775808", "F32", "4,6", "invalid-slice"),
    ("::-9223372036854775809", "F32", "4,6", "invalid-slice"),
    ("[1]", "F32", "4,6", "invalid-slice"),
    ("1;2", "F32", "4,6", "invalid-slice"),
    ("\u2026", "F32", "4,6", "invalid-slice"),
    ("１", "F32", "4,6", "invalid-slice"),
    ("None", "F32", "4,6", "invalid-slice"),
    # Against the shape (safetensors_slice_resolve)
    ("...,...", "F32", "4,6", "invalid-slice"),
    ("0,0,0", "F32", "4,6", "invalid-slice"),
    ("...,0,0,0", "F32", "4,6", "invalid-slice"),
    ("0", "F32", "", "invalid-slice"),
    ("4", "F32", "4,6", "invalid-slice"),
    ("-5", "F32", "4,6", "invalid-slice"),
    ("0,6", "F32", "4,6", "invalid-slice"),
    ("9223372036854775807", "F32", "4,6", "invalid-slice"),
    ("0", "U8", "0", "invalid-slice"),
    ("::0", "F32", "4,6", "invalid-slice"),
    ("0,::0", "F32", "4,6", "invalid-slice"),
    # Sub-byte dtypes (safetensors_slice_gather)
    ("1:", "F4", "8", "misaligned-slice"),
    ("::3", "F4", "8", "misaligned-slice"),
    ("0", "F4", "8", "misaligned-slice"),
    ("...,1", "F4", "4,2", "misaligned-slice"),
    ("0:2", "F6_E3M2", "4", "misaligned-slice"),
    (":,1:", "F6_E2M3", "4,4", "misaligned-slice"),
]


def slices_text():
    lines = ["# expression\tdtype\tshape\texpected code (see make-corpus.py)"]
    for expression, dtype, shape, code in SLICES:
        assert "\t" not in expression and "\n" not in expression
        lines.append(f"{expression}\t{dtype}\t{shape}\t{code}")
    return ("\n".join(lines) + "\n").encode()


def write_file(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content)


def main():
    cases = {**safetensors_cases(), **npy_cases(), **torch_cases()}

    stale = [n for n in os.listdir(HERE)
             if n.endswith((".safetensors", ".npy", ".pt")) and n not in cases
             and os.path.isfile(os.path.join(HERE, n))]
    for name in stale:
        os.unlink(os.path.join(HERE, name))

    for name, content in sorted(cases.items()):
        write_file(os.path.join(HERE, name), content)

    # A folder where a checkpoint is expected (git keeps no empty folder).
    folder = os.path.join(HERE, "is-directory--folder.pt")
    shutil.rmtree(folder, ignore_errors=True)
    write_file(os.path.join(folder, "README"),
               b"A folder named like a checkpoint: importing it fails with G_IO_ERROR_IS_DIRECTORY.\n")

    # The folders are rebuilt whole.
    index_dir = os.path.join(HERE, "index")
    shutil.rmtree(index_dir, ignore_errors=True)
    indexes = index_cases()
    for case, files in sorted(indexes.items()):
        for name, content in sorted(files.items()):
            write_file(os.path.join(index_dir, case, name), content)

    journal_dir = os.path.join(HERE, "journal")
    shutil.rmtree(journal_dir, ignore_errors=True)
    journals = journal_cases()
    for case, (data, journal, after, extra) in sorted(journals.items()):
        base = case + ".safetensors"
        write_file(os.path.join(journal_dir, base), data)
        if journal is not None:
            write_file(os.path.join(journal_dir, "." + base + ".safetensors-journal"), journal)
        if after is not None:
            write_file(os.path.join(journal_dir, case + ".recovered"), after)
        for suffix, content in sorted(extra.items()):
            write_file(os.path.join(journal_dir, "." + base + suffix), content)

    write_file(os.path.join(HERE, "slices.tsv"), slices_text())

    print(f"{len(cases)} files, {len(indexes)} index folders, {len(journals)} journals, "
          f"{len(SLICES)} slices in {HERE}", file=sys.stderr)


if __name__ == "__main__":
    main()
