#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets, one directory per target.

    make-seeds.py --source-root DIR --output DIR [--stamp FILE]

Seeds come from the test data (tests/data/example.safetensors, the
malformed corpus in tests/data/malformed/, the PyTorch checkpoints in
tests/data/torch/) and from small hand-made inputs. The .npy seeds are
written by NumPy when it is installed (python3-numpy), by hand otherwise.
Only the standard library and NumPy are used; run with Debian's
/usr/bin/python3.
"""
import argparse
import hashlib
import io
import json
import os
import pickle
import pickletools
import shutil
import struct
import zipfile

try:
    import numpy as np
except ImportError:
    np = None


def entry(dtype="F32", shape=(2, 2), offsets=(0, 16)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def safetensors_file(text, data_size):
    return struct.pack("<Q", len(text)) + text + bytes(i % 251 for i in range(data_size))


# Header texts, used both as they are (the target reads them as JSON) and
# wrapped in a file.
HEADER_TEXTS = [
    b"{}",
    compact({"t": entry()}),
    compact({"__metadata__": {"format": "pt", "k": ""}, "t": entry()}),
    compact({"__metadata__": None}),
    compact({"a": entry("BF16", (3,), (0, 6)), "b": entry("I64", (), (6, 14)),
             "c": entry("BOOL", (2, 3), (14, 20)), "d": entry("F16", (0, 3), (20, 20))}),
    compact({"x": entry("F4", (2, 4), (0, 4)), "y": entry("F6_E2M3", (4,), (4, 7)),
             "z": entry("F8_E4M3", (2, 2), (7, 11))}),
    compact({"c": entry("C64", (2,), (0, 16)), "u": entry("U64", (1, 1, 2), (16, 32))}),
    compact({"e": entry("U8", (0, 2**64 - 1, 7), (0, 0))}),
    b'{"t":["F32",[2,2],[0,16]]}',
    b'{"t":{"dtype":{"F32":null},"shape":[2,2],"data_offsets":[0,16],"x":[1,{"y":null}]}}',
    b'{"\\u0074\\u0000a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
    b'"t\\u0000b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}',
    b'{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},'
    b'"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}   ',
    b'{"t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"t":'
    b'{"dtype":"F32","shape":[2,2],"data_offsets":[16,32]}}',
    b'{"t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}',
    b'{"t":{"dtype":"F32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}',
    b'{"t":{"dtype":"F32","shape":[1.5e3,-0],"data_offsets":[0,16]},"s":"\\ud83d\\ude00\\n"}',
]

# Slice expressions, for fuzz-slice and as seeds of their own.
EXPRESSIONS = [
    "", "...", "0", "-1", "1:3", "::2", "::-1", "1::3, -2", "..., 0", "0, ...",
    ":, 1", "1:, :-1, ::2", "-9223372036854775807:9223372036854775807:3",
    "  2 :\t: -1 , ", "0,0,0,0,0", "+1:-1", ":0:-2", "..., ...", "::0", "1:2:3:4",
]


def slice_input(dtype_index, shape, expression):
    return bytes([dtype_index, len(shape)]) + bytes(shape) + expression.encode()


def npy_preamble(text, major=1):
    prefix_len = 10 if major == 1 else 12
    text = text.encode("latin1" if major < 3 else "utf8")
    text += b" " * (-(prefix_len + len(text) + 1) % 64) + b"\n"
    fmt = "<H" if major == 1 else "<I"
    return b"\x93NUMPY" + bytes([major, 0]) + struct.pack(fmt, len(text)) + text


def npy_seeds():
    seeds = []
    if np is not None:
        arrays = [
            np.zeros((2, 3), dtype="<f4"),
            np.arange(6, dtype=">i8").reshape(3, 2),
            np.asfortranarray(np.arange(6, dtype="<u2").reshape(2, 3)),
            np.array(True),
            np.zeros((0, 5), dtype="|u1"),
            np.zeros((1, 1, 1, 1), dtype="<c8"),
            np.zeros(3, dtype="<f2"),
        ]
        for i, array in enumerate(arrays):
            for version in [(1, 0), (2, 0), (3, 0)] if i < 2 else [None]:
                buf = io.BytesIO()
                np.lib.format.write_array(buf, array, version=version)
                seeds.append(buf.getvalue()[:256])
    for major in (1, 2, 3):
        seeds.append(npy_preamble("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", major))
    seeds.append(npy_preamble('{"shape": (4L,), "descr": "=i2", "fortran_order": True}', 1))
    seeds.append(npy_preamble("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (), }"))
    return seeds


# ---- PyTorch checkpoints (fuzz-pickle, fuzz-zip) ---------------------------

# Checkpoints larger than this are not fuzz-zip seeds.
MAX_CHECKPOINT_SEED = 1 << 20


class Pickle:
    """A few opcodes of protocol 2, enough for what torch.save() writes."""

    def __init__(self):
        self.b = bytearray(b"\x80\x02")

    def raw(self, data):
        self.b += data
        return self

    def str(self, s):
        data = s.encode()
        return self.raw(b"X" + struct.pack("<I", len(data)) + data)

    def int(self, n):
        if 0 <= n < 256:
            return self.raw(b"K" + bytes([n]))
        if -2**31 <= n < 2**31:
            return self.raw(b"J" + struct.pack("<i", n))
        data = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
        return self.raw(b"\x8a" + bytes([len(data)]) + data)

    def glob(self, module, name):
        return self.raw(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def tuple(self, *ints):
        self.raw(b"(")
        for n in ints:
            self.int(n)
        return self.raw(b"t")

    def ordered_dict(self):
        return self.glob("collections", "OrderedDict").raw(b")R")

    def storage(self, cls, key, numel, legacy=False):
        self.raw(b"(").str("storage").glob("torch", cls).str(key).str("cpu").int(numel)
        return self.raw(b"NtQ" if legacy else b"tQ")

    def tensor(self, cls, key, numel, offset, size, stride, v3_dtype=None, legacy=False):
        self.glob("torch._utils", "_rebuild_tensor_v3" if v3_dtype else "_rebuild_tensor_v2")
        self.raw(b"(").storage(cls, key, numel, legacy).int(offset).tuple(*size).tuple(*stride)
        self.raw(b"\x89").ordered_dict()
        if v3_dtype:
            self.glob("torch", v3_dtype)
        return self.raw(b"tR")

    def stop(self):
        return bytes(self.b + b".")


ITEMSIZE = {"FloatStorage": 4, "DoubleStorage": 8, "HalfStorage": 2, "LongStorage": 8,
            "ByteStorage": 1, "BoolStorage": 1, "UntypedStorage": 1, "ComplexFloatStorage": 8}


def state_dict(specs, legacy=False, ordered=True):
    """specs: (name, cls, key, numel, offset, size, stride[, v3 dtype]).
    Returns the pickle and the size of each storage in bytes."""
    p = Pickle()
    p.ordered_dict() if ordered else p.raw(b"}")
    p.raw(b"(")
    storages = {}
    for name, cls, key, numel, offset, size, stride, *v3 in specs:
        p.str(name).tensor(cls, key, numel, offset, size, stride, v3[0] if v3 else None, legacy)
        storages[key] = numel * ITEMSIZE[cls]
    return p.raw(b"u").stop(), storages


def hand_made_pickles():
    """Pickles with the storages they name, and whether they use the
    persistent ids of legacy files."""
    seeds = [
        state_dict([("w", "FloatStorage", "0", 6, 0, (2, 3), (3, 1)),
                    ("w_t", "FloatStorage", "0", 6, 0, (3, 2), (1, 3)),
                    ("row", "FloatStorage", "0", 6, 3, (3,), (1,)),
                    ("tied", "FloatStorage", "0", 6, 0, (2, 3), (3, 1))]) + (False,),
        state_dict([("expanded", "DoubleStorage", "a", 1, 0, (4, 3), (0, 0)),
                    ("scalar", "LongStorage", "b", 2, 1, (), ()),
                    ("empty", "HalfStorage", "c", 0, 0, (0, 5), (5, 1)),
                    ("mask", "BoolStorage", "d", 3, 0, (3, 1), (1, 1))], ordered=False) + (False,),
        state_dict([("u16", "UntypedStorage", "0", 16, 2, (2, 2), (1, 2), "uint16"),
                    ("f8", "UntypedStorage", "0", 16, 0, (4,), (1,), "float8_e4m3fn"),
                    ("c", "ComplexFloatStorage", "1", 2, 0, (2,), (1,))]) + (False,),
        state_dict([("w", "FloatStorage", "0", 4, 0, (2, 2), (2, 1))], legacy=True) + (True,),
    ]

    # {"state_dict": {...}, "epoch": 3, "args": Namespace(lr=0.1), ...}
    inner, storages = state_dict([("layer.weight", "FloatStorage", "0", 4, 0, (4,), (1,))])
    p = Pickle().raw(b"}(").str("state_dict").raw(inner[2:-1])
    p.str("epoch").int(3).str("best").raw(b"G" + struct.pack(">d", 0.25))
    p.str("args").glob("argparse", "Namespace").raw(b")\x81}(").str("lr")
    p.raw(b"G" + struct.pack(">d", 0.1)).str("layers").raw(b"](K\x01K\x02e").raw(b"ub")
    p.str("dtype").glob("torch", "float16").str("device").glob("torch", "device").str("cuda").raw(b"\x85R")
    p.str("size").glob("torch", "Size").tuple(2, 3).raw(b"\x85R")
    p.str("bytes").glob("_codecs", "encode").str("\u00e9t\u00e9").str("latin1").raw(b"\x86R")
    p.str("set").glob("builtins", "set").raw(b"]K\x01a\x85R")
    p.str("complex").glob("builtins", "complex").int(1).int(2).raw(b"\x86R")
    seeds.append((p.raw(b"u").stop(), storages, False))

    # The same tensor twice through the memo, and a cycle.
    p = Pickle().raw(b"}q\x00(").str("a").tensor("FloatStorage", "0", 2, 0, (2,), (1,))
    p.raw(b"q\x01").str("b").raw(b"h\x01").str("self").raw(b"h\x00u")
    seeds.append((p.stop(), {"0": 8}, False))

    # Plain values, as Python pickles them in every protocol.
    value = {"a": [1, -2, 2**70, 1.5, float("nan")], "b": (None, True, False),
             "c": {"x": b"\x00\xff", "y": "\u2603"}, 7: frozenset([1]), (1, 2): set()}
    for protocol in range(2, 6):
        seeds.append((pickle.dumps(value, protocol=protocol), {}, False))
    seeds.append((b"\x80\x02N.", {}, False))
    seeds.append((b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00]\x94K\x01a.", {}, False))
    return seeds


def zip_of(pickle_bytes, storages, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        z.writestr("archive/byteorder", "little")
        for key, size in sorted(storages.items()):
            z.writestr("archive/data/" + key, bytes((i * 37 + 11) % 256 for i in range(size)))
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


def legacy_pickles(data):
    """The consecutive pickles at the start of a legacy checkpoint."""
    pickles = []
    pos = 0
    for _ in range(5):
        if pos >= len(data) or data[pos] != 0x80:
            break
        end = None
        try:
            for op, _arg, at in pickletools.genops(io.BytesIO(data[pos:])):
                if op.name == "STOP":
                    end = pos + at + 1
                    break
        except ValueError:
            break
        if end is None:
            break
        pickles.append(data[pos:end])
        pos = end
    return pickles


def torch_seeds(data):
    """Seeds of fuzz-pickle and fuzz-zip from tests/data/torch."""
    pickles, checkpoints = [], []
    folders = [os.path.join(data, "torch"), os.path.join(data, "torch", "hostile")]
    for folder in folders:
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".pt"):
                continue
            with open(os.path.join(folder, name), "rb") as f:
                contents = f.read()
            if len(contents) <= MAX_CHECKPOINT_SEED:
                checkpoints.append(contents)
            if zipfile.is_zipfile(io.BytesIO(contents)):
                try:
                    with zipfile.ZipFile(io.BytesIO(contents)) as z:
                        for info in z.infolist():
                            if info.filename.endswith("/data.pkl"):
                                pickles.append(z.read(info))
                except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError):
                    # Hostile archives: the raw bytes are seeds enough.
                    pass
            else:
                pickles.extend(legacy_pickles(contents))

    for pickle_bytes, storages, legacy in hand_made_pickles():
        pickles.append(pickle_bytes)
        if not legacy:
            checkpoints.append(zip_of(pickle_bytes, storages))
            checkpoints.append(zip_of(pickle_bytes, storages, zipfile.ZIP_DEFLATED))
    return pickles, checkpoints


# ---- edit sequences (fuzz-edit) ---------------------------------------------
#
# The encoding fuzz-edit.c decodes: a byte of open flags (1 NO_MMAP,
# 2 KEEP_FREE), then operations, each a byte (modulo 13) and its operands:
#
#   ADD, REPLACE (and 12, another ADD): dtype, name, number of dimensions
#       (modulo 5), each dimension (modulo 7; 0xff is 2^64 - 1, 0xfe 2^61),
#       fill (modulo 5: 0 zeros, 1 the byte, 2 and 3 patterns, 4 data of
#       the wrong size); a dtype byte from 0xfc is no dtype
#   REMOVE, REMOVE_METADATA: name
#   RENAME: old name, new name; SET_METADATA: key, value (names too)
#   WRITE: name, offset, length (modulo 9), that many bytes
#   COMMIT, COMMIT_KEEP_FREE, COMPACT, ROLLBACK: nothing
#   REOPEN: a byte whose bit 0 is NO_MMAP
#
# A name byte below 0xe0 picks one of 16 names (modulo 16), from 0xe0 it
# is followed by that many minus 0xe0 bytes of the name.

# The operations of fuzz-edit.c, by their byte.
ADD, REPLACE, REMOVE, RENAME, SET_METADATA, REMOVE_METADATA, WRITE, COMMIT, \
    COMMIT_KEEP_FREE, COMPACT, ROLLBACK, REOPEN = range(12)
# Names by their byte: "a".."f", then the troublesome ones (see next_name()).
A, B, C, D, E, F, LAYER, EMPTY, UNICODE, ESCAPES, METADATA, FREE, FREE_PREFIX, \
    NOT_UTF8, LONG1, LONG2 = range(16)
# Dtypes by their byte.
BOOL, F4, U8, F16, F32, C64, F64, U64 = 0, 1, 4, 13, 17, 18, 19, 21


def literal(name):
    data = name.encode()
    return bytes([0xE0 + len(data)]) + data


def add(name, dtype, shape, fill=1, kind=ADD):
    return bytes([kind, dtype, name, len(shape)] + list(shape) + [fill])


def edit_seeds():
    flags_compact, flags_keep_free, flags_no_mmap = 0, 2, 1
    seeds = [
        # Adds, a commit, every edit, a commit.
        bytes([flags_compact]) + add(A, F32, (2, 3)) + add(B, U8, (5,), 2) +
        add(C, F64, (), 3) + bytes([COMMIT]) + bytes([REMOVE, B, RENAME, A, D]) +
        bytes([SET_METADATA, A, B, WRITE, C, 2, 3, 9, 9, 9, COMMIT]),
        # The keep-free policy, holes reused, then compacted.
        bytes([flags_keep_free]) + add(A, F64, (6, 6)) + add(B, F32, (3,)) + add(C, U8, (1,)) +
        bytes([COMMIT_KEEP_FREE, REMOVE, A, COMMIT_KEEP_FREE]) + add(E, F16, (4, 4)) +
        bytes([COMMIT_KEEP_FREE, COMPACT]),
        # Rollbacks, reopening, switching policy with a transaction pending.
        bytes([flags_no_mmap]) + add(A, U64, (2,)) + bytes([COMMIT]) + add(B, BOOL, (3,)) +
        bytes([ROLLBACK, REOPEN, 0]) + add(B, C64, (2,), 3) + bytes([REMOVE, A, COMMIT_KEEP_FREE]) +
        bytes([REPLACE, F32, B, 1, 2, 4, COMMIT]),
        # Header growth: long names and metadata values.
        bytes([flags_compact]) + add(A, U8, (6,)) + bytes([COMMIT]) + add(LONG1, F32, (2,)) +
        bytes([SET_METADATA, LONG2, LONG1, COMMIT, RENAME, LONG1, LONG2, COMMIT]),
        # Errors the API documents, each leaving the file as it was.
        bytes([flags_compact]) + add(A, U8, (2,)) + add(A, U8, (2,)) + add(METADATA, U8, (1,)) +
        add(FREE, U8, (1,)) + add(NOT_UTF8, U8, (1,)) + add(B, F4, (3,)) +
        add(C, F32, (0xFF, 0xFF)) + add(D, F32, (0, 0xFF)) + add(E, 0xFF, (1,)) +
        add(F, U8, (3,), 4) + bytes([REMOVE, B, RENAME, B, C, RENAME, A, FREE_PREFIX]) +
        bytes([RENAME, A, METADATA, RENAME, A, NOT_UTF8, RENAME, A, A]) +
        bytes([SET_METADATA, NOT_UTF8, A, REMOVE_METADATA, B, WRITE, A, 3, 1, 7]) +
        add(B, U8, (1,), 1, REPLACE) + bytes([COMMIT]),
        # Names and values that need escaping in JSON.
        bytes([flags_keep_free]) + add(UNICODE, BOOL, (2,)) + add(ESCAPES, F16, (1,)) +
        add(EMPTY, U8, ()) + bytes([COMMIT, RENAME, EMPTY]) + literal("x\ty") +
        bytes([SET_METADATA, ESCAPES, UNICODE, COMMIT]),
    ]
    # Literal names from the input.
    seeds.append(bytes([0]) + bytes([ADD, U8]) + literal("tensor.0") + bytes([1, 3, 2, COMMIT]))
    return seeds


def write_dir(path, seeds):
    os.makedirs(path, exist_ok=True)
    for seed in seeds:
        # Named by content, like libFuzzer names its inputs.
        name = hashlib.sha1(seed).hexdigest()
        with open(os.path.join(path, name), "wb") as f:
            f.write(seed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-root", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--stamp")
    args = parser.parse_args()

    data = os.path.join(args.source_root, "tests", "data")
    malformed = os.path.join(data, "malformed")

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    example = read(os.path.join(data, "example.safetensors"))
    example_header_len = struct.unpack("<Q", example[:8])[0]

    header = [example, example[8:8 + example_header_len]]
    for text in HEADER_TEXTS:
        header.append(text)
        try:
            obj = json.loads(text)
            size = max([v["data_offsets"][1] if isinstance(v, dict) else v[2][1]
                        for k, v in obj.items() if k != "__metadata__"] or [0])
        except (ValueError, KeyError, TypeError, IndexError):
            size = 0
        if size <= 4096:
            header.append(safetensors_file(text, size))
    npy = npy_seeds()
    for name in sorted(os.listdir(malformed)):
        if name.endswith(".safetensors"):
            header.append(read(os.path.join(malformed, name)))
        elif name.endswith(".npy"):
            npy.append(read(os.path.join(malformed, name)))

    shapes = [(), (4,), (2, 3), (3, 0, 2), (2, 2, 2, 2), (1, 4, 1), (0, 0xff), (4, 4, 4, 4, 4)]
    slices = [e.encode() for e in EXPRESSIONS]
    for i, expression in enumerate(EXPRESSIONS):
        for j, shape in enumerate(shapes):
            if (i + j) % 3 == 0 or len(expression) < 4:
                slices.append(slice_input((i + j) % 8, shape, expression))

    pickles, checkpoints = torch_seeds(data)

    shutil.rmtree(args.output, ignore_errors=True)
    write_dir(os.path.join(args.output, "fuzz-header"), header)
    write_dir(os.path.join(args.output, "fuzz-slice"), slices)
    write_dir(os.path.join(args.output, "fuzz-npy"), npy)
    write_dir(os.path.join(args.output, "fuzz-pickle"), pickles)
    write_dir(os.path.join(args.output, "fuzz-zip"), checkpoints)
    write_dir(os.path.join(args.output, "fuzz-edit"), edit_seeds())

    if args.stamp:
        with open(args.stamp, "w") as f:
            f.write("")


if __name__ == "__main__":
    main()
