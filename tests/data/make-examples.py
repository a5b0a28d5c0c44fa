#!/usr/bin/python3
"""Regenerates the small example files shipped in tests/data/.

Run with Debian's /usr/bin/python3 (needs python3-numpy only):
    /usr/bin/python3 tests/data/make-examples.py

The files are written the way the reference writer lays them out (tensors
sorted by dtype, descending, then name; compact JSON; header padded with
spaces to a multiple of 8) without depending on this library.
"""
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

DTYPE_ORDER = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2",
               "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16",
               "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64",
               "I64", "U64"]


def write(path, tensors, metadata=None):
    """tensors: name -> (dtype name, shape, raw bytes)."""
    order = sorted(tensors, key=lambda n: (-DTYPE_ORDER.index(tensors[n][0]),
                                           n.encode()))
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
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in order:
            f.write(tensors[name][2])


def main():
    rng = np.random.default_rng(20261129)
    hello = np.arange(16, dtype="<f4").reshape(4, 4)
    embed = rng.standard_normal((8, 6)).astype("<f4")
    bf16 = (embed.view("<u4") >> 16).astype("<u2")
    write(os.path.join(HERE, "example.safetensors"), {
        "hello": ("F32", hello.shape, hello.tobytes()),
        "embedding.weight": ("BF16", embed.shape, bf16.tobytes()),
        "embedding.bias": ("F64", (6,), rng.standard_normal(6).astype("<f8").tobytes()),
        "step": ("I64", (), np.array(1234, dtype="<i8").tobytes()),
        "mask": ("BOOL", (2, 3), np.array([[1, 0, 1], [0, 1, 1]], dtype="u1").tobytes()),
        "empty": ("F16", (0, 3), b""),
    }, metadata={"format": "pt", "description": "safetensors-glib example"})


if __name__ == "__main__":
    main()
