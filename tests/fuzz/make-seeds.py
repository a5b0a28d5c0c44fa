#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets, one directory per target.

    make-seeds.py --source-root DIR --output DIR [--stamp FILE]

Seeds come from the test data (tests/data/example.safetensors and the
malformed corpus in tests/data/malformed/) and from small hand-made
inputs. The .npy seeds are written by NumPy when it is installed
(python3-numpy), by hand otherwise. Only the standard library and NumPy are
used; run with Debian's /usr/bin/python3.
"""
import argparse
import hashlib
import io
import json
import os
import shutil
import struct

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

    shutil.rmtree(args.output, ignore_errors=True)
    write_dir(os.path.join(args.output, "fuzz-header"), header)
    write_dir(os.path.join(args.output, "fuzz-slice"), slices)
    write_dir(os.path.join(args.output, "fuzz-npy"), npy)

    if args.stamp:
        with open(args.stamp, "w") as f:
            f.write("")


if __name__ == "__main__":
    main()
