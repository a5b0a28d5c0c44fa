#!/usr/bin/python3
"""Makes the PyTorch checkpoints the import tests read, and what each one
must convert to.

Run it with Debian's PyTorch (apt install python3-torch; 1.13 in Debian 12)
from any folder:

    /usr/bin/python3 tests/data/torch/generate.py

It rewrites, next to itself:

  *.pt                 checkpoints made by torch.save() (zip and legacy
                       formats, pickle protocols 2 and 4) and variants of
                       them re-packed by hand (an "archive/" folder, a
                       big-endian byteorder record, deflated entries,
                       ZIP64 extra fields) or pickled by hand (float8 and
                       unsigned dtypes through _rebuild_tensor_v3);
  expected.json        for each file and option set: the tensors (name,
                       dtype, shape, SHA-256 of the bytes), the metadata
                       and the skipped values, computed from torch.load()
                       by a Python implementation of the rules;
  hostile/*.pt         hand-made malicious or malformed inputs;
  hostile/expected.json  the error each one must produce (code nick and a
                       part of the message).

The tests (tests/test-torch.c, tests/tool/test_torch.py) only read these
committed files: they do not need torch.
"""
import argparse
import base64
import collections
import hashlib
import io
import json
import math
import os
import struct
import tarfile
import zlib

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
HOSTILE = os.path.join(HERE, "hostile")

DTYPES = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
    torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
    torch.complex64: "C64",
}

# ---------------------------------------------------------------------------
# The checkpoints torch writes
# ---------------------------------------------------------------------------


class Net(nn.Module):
    """Linear, Conv, BatchNorm and Embedding layers, a tied weight, and
    buffers covering views of one storage and every dtype."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.fc = nn.Linear(4, 3)
        self.lm_head = nn.Linear(4, 10, bias=False)
        self.lm_head.weight = self.embed.weight          # tied
        base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
        self.register_buffer("base", base)
        self.register_buffer("base_t", base.t())         # transposed view
        self.register_buffer("base_slice", base[1:3, ::2])  # offset and strides
        self.register_buffer("base_row", base[2])        # contiguous, offset
        self.register_buffer("expanded", torch.tensor([1.0, 2.0, 3.0]).expand(4, 3))  # stride 0
        self.register_buffer("f16", torch.linspace(-2, 2, 6, dtype=torch.float16).reshape(2, 3))
        self.register_buffer("bf16", torch.linspace(-1, 1, 5).to(torch.bfloat16))
        self.register_buffer("f64", torch.tensor([[math.pi, -0.0], [1e300, 5e-324]], dtype=torch.float64))
        self.register_buffer("c64", torch.tensor([1 + 2j, -3.5j, 0.25], dtype=torch.complex64))
        self.register_buffer("i8", torch.tensor([-128, 0, 127], dtype=torch.int8))
        self.register_buffer("i16", torch.tensor([-32768, 1, 32767], dtype=torch.int16))
        self.register_buffer("i32", torch.arange(-3, 3, dtype=torch.int32).reshape(3, 2))
        self.register_buffer("i64", torch.tensor([-(2 ** 63), 2 ** 63 - 1], dtype=torch.int64))
        self.register_buffer("u8", torch.arange(0, 256, 51, dtype=torch.uint8))
        self.register_buffer("flags", torch.tensor([True, False, True]))
        self.register_buffer("scalar", torch.tensor(2.5))               # 0-dim
        self.register_buffer("empty", torch.zeros(0, 3))                # no elements
        self.register_buffer("c64_t", (torch.arange(6.0) * (1 - 1j)).to(torch.complex64).reshape(2, 3).t())


def make_model():
    torch.manual_seed(0)
    return Net()


def make_training_checkpoint(model):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    x = torch.randn(2, 1, 5, 5)
    out = model.bn(model.conv(x)).mean() + model.fc(model.embed(torch.tensor([1, 2]))).sum()
    out.backward()
    optimizer.step()
    return {
        "epoch": 7,
        "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "args": argparse.Namespace(lr=0.001, name="run-1", layers=[64, 32], flag=True,
                                   ratio=float("nan")),
        "device": torch.device("cpu"),
        "dtype": torch.float16,
        "best_loss": 0.125,
        "history": [1.5, 0.75],
        "note": None,
        "ids": {3, 1, 2},
        "raw": b"\x00\x01ab",
        "z": complex(1.5, -2.0),
        "unicode é": "naïve ✓",
        "big": 2 ** 70,
        "negative_big": -(2 ** 70) + 5,
    }


# ---------------------------------------------------------------------------
# The rules, in Python (what safetensors-torch-plan.c implements)
# ---------------------------------------------------------------------------


def c_float(value, json_text):
    """The shortest of %.15g, %.16g, %.17g that reads back, with .0 on whole
    numbers; non-finite values as NaN/Infinity (quoted in JSON)."""
    if math.isnan(value) or math.isinf(value):
        text = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        if json_text:
            text = '"%s"' % ("NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity"))
        return text
    for precision in (15, 16, 17):
        text = "%.*g" % (precision, value)
        if float(text) == value:
            break
    if "." not in text and "e" not in text:
        text += ".0"
    return text


def type_name(value):
    if value is None:
        return "None"
    if isinstance(value, argparse.Namespace):
        return "argparse.Namespace"
    if isinstance(value, torch.device):
        return "torch.device"
    if isinstance(value, torch.dtype):
        return "torch.dtype"
    if isinstance(value, (bytes, bytearray)):
        return "bytes"
    return type(value).__name__


def key_string(key):
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return str(key)
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return c_float(key, False)
    return to_json(key)


def json_key(key):
    if isinstance(key, str):
        return json.dumps(key, ensure_ascii=False)
    if isinstance(key, bool):
        return '"true"' if key else '"false"'
    if key is None:
        return '"null"'
    return json.dumps(key_string(key), ensure_ascii=False)


def to_json(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return c_float(value, True)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (bytes, bytearray)):
        return json.dumps(base64.b64encode(bytes(value)).decode())
    if isinstance(value, complex):
        return "[%s,%s]" % (c_float(value.real, True), c_float(value.imag, True))
    if isinstance(value, (torch.dtype, torch.device)):
        return json.dumps(str(value))
    if isinstance(value, torch.Tensor):
        return json.dumps("tensor %s[%s]" % (str(value.dtype)[6:], ", ".join(map(str, value.shape))))
    if isinstance(value, argparse.Namespace):
        value = vars(value)
    if isinstance(value, dict):
        return "{" + ",".join(json_key(k) + ":" + to_json(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    raise TypeError(type(value))


def select(obj, key, flags):
    if key is not None:
        components = key.split(".")
        i = 0
        while i < len(components):
            for j in range(len(components), i, -1):
                text = ".".join(components[i:j])
                child = lookup_child(obj, text)
                if child is not None:
                    break
            else:
                raise KeyError(key)
            obj = child
            i = j
        return obj
    if "all" not in flags and isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        return obj["state_dict"]
    return obj


def lookup_child(obj, text):
    if isinstance(obj, argparse.Namespace):
        obj = vars(obj)
    if isinstance(obj, dict):
        if text in obj:
            return obj[text]
        for k, v in obj.items():
            if not isinstance(k, str) and key_string(k) == text:
                return v
        return None
    if isinstance(obj, (list, tuple)) and text.isdigit() and int(text) < len(obj):
        return obj[int(text)]
    return None


SHARED = object()   # an extra that is a repeated container, never stored


def flatten(obj, name, tensors, extras, visited, on_path):
    if isinstance(obj, torch.Tensor):
        tensors.append((name, obj))
        return
    if not isinstance(obj, (dict, list, tuple)):
        extras.append((name, obj, type_name(obj)))
        return
    if id(obj) in visited:
        first = visited[id(obj)]
        reason = ("contains itself (“%s”)" % first if id(obj) in on_path
                  else "the same %s as “%s”" % (type_name(obj), first))
        extras.append((name, SHARED, reason))
        return
    visited[id(obj)] = name or "(top level)"
    on_path.add(id(obj))
    items = obj.items() if isinstance(obj, dict) else enumerate(obj)
    for k, v in items:
        part = key_string(k)
        flatten(v, name + "." + part if name else part, tensors, extras, visited, on_path)
    on_path.discard(id(obj))


def tensor_bytes(t):
    flat = t.contiguous().reshape(-1)
    if t.dtype == torch.bfloat16:
        return flat.view(torch.int16).numpy().tobytes()
    return flat.numpy().tobytes()


def identity(t):
    return (t.storage()._storage._cdata, t.dtype, t.storage_offset(), tuple(t.shape), t.stride())


def expected_conversion(obj, key=None, flags=()):
    """What importing @obj must write: tensors, metadata and skips."""
    selected = select(obj, key, flags)
    name = ""
    if not isinstance(selected, (dict, list, tuple)):
        name = key if key is not None else ("tensor" if isinstance(selected, torch.Tensor) else "value")
    tensors, extras = [], []
    flatten(selected, name, tensors, extras, {}, set())

    groups = collections.OrderedDict()
    for tensor_name, t in tensors:
        groups.setdefault(identity(t), []).append((tensor_name, t))

    metadata = {"format": "pt"}
    out = []
    for members in groups.values():
        names = sorted(n for n, _ in members)
        kept = names[0]
        t = members[0][1]
        out.append({"name": kept, "dtype": DTYPES[t.dtype], "shape": list(t.shape),
                    "sha256": hashlib.sha256(tensor_bytes(t)).hexdigest()})
        for removed in names[1:]:
            if removed != "format":
                metadata[removed] = kept

    skipped = []
    for extra_name, value, reason in extras:
        if "extras" in flags and value is not SHARED and extra_name != "format":
            metadata[extra_name] = to_json(value)
        else:
            skipped.append([extra_name, reason])

    out.sort(key=lambda t: t["name"].encode())
    return {"tensors": out, "metadata": metadata, "skipped": skipped}


# ---------------------------------------------------------------------------
# Writing zip archives by hand
# ---------------------------------------------------------------------------


def local_header(name, flags, method, extra):
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, flags, method, 0, 0x21, 0, 0, 0,
                       len(name), len(extra)) + name + extra


def write_zip(entries, *, force_zip64=False, align=64):
    """entries: dicts with name (str), data (bytes), and optionally
    method ("stored"/"deflate"), flags, crc, usize, csize, offset,
    raw (pre-compressed bytes), local_name. Laid out like torch's writer:
    zero sizes in local headers (bit 3) with data descriptors, an "FB"
    extra field padding data to @align bytes, ZIP64 end records."""
    out = bytearray()
    central = bytearray()
    for e in entries:
        name = e["name"].encode()
        method = 8 if e.get("method") == "deflate" else 0
        data = e["data"]
        if "raw" in e:
            payload = e["raw"]
        elif method == 8:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload = c.compress(data) + c.flush()
        else:
            payload = data
        flags = e.get("flags", 0) | 0x08 | 0x800
        offset = e.get("offset", len(out))
        start = len(out) + 30 + len(e.get("local_name", name))
        pad = (-(start + 4)) % align if align else 0
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad if align else b""
        out += local_header(e.get("local_name", name), flags, method, extra)
        out += payload
        crc = e.get("crc", zlib.crc32(data))
        usize = e.get("usize", len(data))
        csize = e.get("csize", len(payload))
        out += struct.pack("<IIQQ", 0x08074B50, crc, csize, usize)
        # ZIP64 extra: the saturated fields only, in this order.
        values = [usize, csize, offset]
        big = [force_zip64 or v >= 0xFFFFFFFF for v in values]
        zdata = b"".join(struct.pack("<Q", v) for v, b in zip(values, big) if b)
        zextra = struct.pack("<HH", 1, len(zdata)) + zdata if zdata else b""
        usize32, csize32, offset32 = (0xFFFFFFFF if b else v for v, b in zip(values, big))
        sizes = (csize32, usize32, offset32)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 45, flags, method, 0, 0x21,
                               crc, sizes[0], sizes[1], len(name), len(zextra), 0, 0, 0, 0,
                               sizes[2]) + name + zextra
    cd_offset = len(out)
    out += central
    zip64_offset = len(out)
    n = len(entries)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 45, 0, 0, n, n, len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, zip64_offset, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(n, 0xFFFF), min(n, 0xFFFF),
                       min(len(central), 0xFFFFFFFF), min(cd_offset, 0xFFFFFFFF), 0)
    return bytes(out)


def read_torch_zip(path):
    """The records of a torch.save() archive, without the folder."""
    import zipfile
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        prefix = names[0].split("/")[0]
        return prefix, [(n[len(prefix) + 1:], z.read(n)) for n in names]


class StorageScanner:
    """Finds each storage's class in a data.pkl without building tensors."""

    def __init__(self, data):
        import pickle
        found = {}

        class Scan(pickle.Unpickler):
            def find_class(self, module, name):
                if name.startswith("_rebuild"):
                    return lambda *args: None
                return super().find_class(module, name)

            def persistent_load(self, pid):
                found[pid[2]] = pid[1]
                return None

        Scan(io.BytesIO(data)).load()
        self.classes = found

    def itemsize(self, key):
        cls = self.classes[key]
        if cls.__name__ == "UntypedStorage":
            return 1
        return torch.empty(0, dtype=cls(0).dtype).element_size()


def swap_bytes(data, itemsize, complex_type):
    unit = itemsize // 2 if complex_type else itemsize
    if unit <= 1:
        return data
    out = bytearray(len(data))
    for i in range(0, len(data), unit):
        out[i:i + unit] = data[i:i + unit][::-1]
    return bytes(out)


def repack(path, out_path, *, prefix=None, extra_records=(), big_endian=False, method="stored",
           force_zip64=False):
    old_prefix, records = read_torch_zip(path)
    prefix = prefix or old_prefix
    scanner = StorageScanner(dict(records)["data.pkl"])
    entries = []
    for name, data in records:
        if big_endian and name.startswith("data/"):
            key = name[5:]
            cls = scanner.classes[key]
            data = swap_bytes(data, scanner.itemsize(key), "Complex" in cls.__name__)
        entries.append({"name": prefix + "/" + name, "data": data, "method": method})
    for name, data in extra_records:
        entries.append({"name": prefix + "/" + name, "data": data, "method": method})
    with open(out_path, "wb") as f:
        f.write(write_zip(entries, force_zip64=force_zip64))


# ---------------------------------------------------------------------------
# Writing pickles by hand
# ---------------------------------------------------------------------------


class Pickle:
    """A pickle assembler: every method appends opcodes."""

    def __init__(self, protocol=2):
        self.b = bytearray(b"\x80" + bytes([protocol]))

    def raw(self, data):
        self.b += data
        return self

    def mark(self):
        return self.raw(b"(")

    def glob(self, module, name):
        return self.raw(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def str(self, s):
        data = s.encode()
        return self.raw(b"X" + struct.pack("<I", len(data)) + data)

    def int(self, n):
        if 0 <= n < 256:
            return self.raw(b"K" + bytes([n]))
        if -(2 ** 31) <= n < 2 ** 31:
            return self.raw(b"J" + struct.pack("<i", n))
        data = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
        return self.raw(b"\x8a" + bytes([len(data)]) + data)

    def tuple(self, *ints):
        self.mark()
        for n in ints:
            self.int(n)
        return self.raw(b"t")

    def ordered_dict(self):
        return self.glob("collections", "OrderedDict").raw(b")R")

    def storage(self, cls, key, numel, legacy=False):
        self.mark().str("storage").glob("torch", cls).str(key).str("cpu").int(numel)
        if legacy:
            self.raw(b"N")
        return self.raw(b"tQ")

    def tensor(self, cls, key, numel, offset, size, stride, v3_dtype=None):
        self.glob("torch._utils", "_rebuild_tensor_v3" if v3_dtype else "_rebuild_tensor_v2")
        self.mark().storage(cls, key, numel).int(offset).tuple(*size).tuple(*stride)
        self.raw(b"\x89").ordered_dict()
        if v3_dtype:
            self.glob("torch", v3_dtype)
        return self.raw(b"tR")

    def stop(self):
        return bytes(self.b + b".")


def zip_checkpoint(path, pickle_bytes, storages=(), prefix="archive", **kwargs):
    entries = [{"name": prefix + "/data.pkl", "data": pickle_bytes}]
    for key, data in storages:
        entries.append({"name": prefix + "/data/" + key, "data": data})
    entries.append({"name": prefix + "/version", "data": b"3\n"})
    with open(path, "wb") as f:
        f.write(write_zip(entries, **kwargs))


def dict_of_tensors(specs, protocol=2):
    """specs: (name, cls, key, numel, offset, size, stride[, v3 dtype])."""
    p = Pickle(protocol)
    p.raw(b"}").mark()
    for spec in specs:
        p.str(spec[0]).tensor(*spec[1:])
    return p.raw(b"u").stop()


def v3_checkpoint():
    """Dtypes torch 1.13 does not have, the way torch ≥ 2.1 saves them: an
    UntypedStorage and _rebuild_tensor_v3 with the dtype."""
    raw = bytes(range(64))
    specs = [
        ("f8_e4m3fn", "UntypedStorage", "0", 64, 0, (4,), (1,), "float8_e4m3fn"),
        ("f8_e5m2", "UntypedStorage", "0", 64, 4, (2, 2), (2, 1), "float8_e5m2"),
        ("f8_e4m3fnuz", "UntypedStorage", "0", 64, 8, (3,), (2,), "float8_e4m3fnuz"),
        ("f8_e5m2fnuz", "UntypedStorage", "0", 64, 12, (2,), (1,), "float8_e5m2fnuz"),
        ("f8_e8m0fnu", "UntypedStorage", "0", 64, 14, (2, 1), (1, 1), "float8_e8m0fnu"),
        ("u16", "UntypedStorage", "0", 64, 8, (2, 2), (1, 2), "uint16"),
        ("u32", "UntypedStorage", "0", 64, 4, (3,), (1,), "uint32"),
        ("u64", "UntypedStorage", "0", 64, 3, (2,), (1,), "uint64"),
        ("u64_expanded", "UntypedStorage", "0", 64, 7, (3,), (0,), "uint64"),
    ]
    names = {"float8_e4m3fn": ("F8_E4M3", 1), "float8_e5m2": ("F8_E5M2", 1),
             "float8_e4m3fnuz": ("F8_E4M3FNUZ", 1), "float8_e5m2fnuz": ("F8_E5M2FNUZ", 1),
             "float8_e8m0fnu": ("F8_E8M0", 1), "uint16": ("U16", 2), "uint32": ("U32", 4),
             "uint64": ("U64", 8)}
    tensors = []
    for name, _cls, _key, _numel, offset, size, stride, dtype in specs:
        st, itemsize = names[dtype]
        data = bytearray()
        for index in _indices(size):
            element = offset + sum(i * s for i, s in zip(index, stride))
            data += raw[element * itemsize:(element + 1) * itemsize]
        tensors.append({"name": name, "dtype": st, "shape": list(size),
                        "sha256": hashlib.sha256(bytes(data)).hexdigest()})
    tensors.sort(key=lambda t: t["name"])
    return dict_of_tensors(specs), [("0", raw)], {"tensors": tensors, "metadata": {"format": "pt"},
                                                  "skipped": []}


def _indices(size):
    if not size:
        yield ()
        return
    for i in range(size[0]):
        for rest in _indices(size[1:]):
            yield (i,) + rest


# ---------------------------------------------------------------------------
# Hostile inputs
# ---------------------------------------------------------------------------


def hostile_fixtures(model_pt):
    """name → (bytes, code nick, part of the message, options)."""
    out = {}
    f32 = struct.pack("<4f", 1, 2, 3, 4)

    def tensor_zip(specs, storages=(("0", f32),)):
        entries = [{"name": "archive/data.pkl", "data": dict_of_tensors(specs)}]
        entries += [{"name": "archive/data/" + k, "data": d} for k, d in storages]
        return write_zip(entries)

    def pickle_zip(pickle_bytes, method="stored"):
        return write_zip([{"name": "archive/data.pkl", "data": pickle_bytes, "method": method}])

    p = Pickle().glob("posix", "system").str("echo pwned").raw(b"\x85R")
    out["posix_system_reduce.pt"] = (pickle_zip(p.stop()), "unsafe-pickle", "posix.system")

    p = Pickle(4)
    p.raw(b"\x8c\x05posix\x94\x8c\x06system\x94\x93\x94").raw(b"\x8c\x0aecho pwned\x94\x85\x94R")
    out["posix_system_stack_global.pt"] = (pickle_zip(p.stop()), "unsafe-pickle", "posix.system")

    # A whole nn.Module, as torch.save (model) writes it.
    b = io.BytesIO()
    torch.save(nn.Linear(2, 2), b)
    out["module.pt"] = (b.getvalue(), "unsafe-pickle", "torch.nn.modules.linear.Linear")

    p = Pickle().raw(b"}").raw(b"j\xff\xff\xff\xff")
    out["memo_index.pt"] = (pickle_zip(p.stop()), "invalid-data", "memo entry 4294967295 is not set")

    p = Pickle().raw(b"(" * 100000).raw(b"t" * 100000)
    out["nested_marks.pt"] = (pickle_zip(p.stop(), "deflate"), "invalid-data", "nested MARKs")

    p = Pickle().raw(b"X\xff\xff\xff\x7fabc")
    out["length_beyond_input.pt"] = (pickle_zip(p.stop()), "invalid-data", "only 4 remain")

    p = Pickle(4).raw(b"\x8e" + struct.pack("<Q", 2 ** 63) + b"abc")
    out["bytes8_beyond_input.pt"] = (pickle_zip(p.stop()), "invalid-data", "remain")

    out["negative_stride.pt"] = (tensor_zip([("w", "FloatStorage", "0", 4, 3, (2,), (-1,))]),
                                 "invalid-data", "tensor “w”: dimension 0 has size 2 and stride -1")
    out["negative_offset.pt"] = (tensor_zip([("w", "FloatStorage", "0", 4, -1, (2,), (1,))]),
                                 "invalid-data", "tensor “w”: negative storage offset")
    out["size_beyond_storage.pt"] = (tensor_zip([("w", "FloatStorage", "0", 4, 0, (5,), (1,))]),
                                     "invalid-data", "tensor “w”: it reaches beyond its storage")
    out["expand_2_40.pt"] = (tensor_zip([("w", "FloatStorage", "0", 4, 0, (2 ** 20, 2 ** 20), (0, 0))]),
                             "invalid-data", "tensor “w”: its 4398046511104 bytes would make the output larger")
    out["storage_size_mismatch.pt"] = (tensor_zip([("w", "FloatStorage", "0", 8, 0, (2,), (1,))]),
                                       "invalid-data", "holds 16 bytes, but 8 elements of float32 take 32")
    out["missing_storage.pt"] = (tensor_zip([("w", "FloatStorage", "7", 4, 0, (2,), (1,))]),
                                 "invalid-data", "its storage has no entry archive/data/7")
    out["complex128.pt"] = (tensor_zip([("c", "ComplexDoubleStorage", "0", 1, 0, (1,), (1,))]),
                            "unsupported", "tensor “c”: dtype complex128 has no safetensors equivalent")
    b = io.BytesIO()
    torch.save({"q": torch.quantize_per_tensor(torch.tensor([0.5, 1.0]), 0.1, 10, torch.quint8)}, b)
    out["quantized.pt"] = (b.getvalue(), "unsupported", "tensor “q”: quantized tensors (quint8)")

    good = dict_of_tensors([("w", "FloatStorage", "0", 4, 0, (4,), (1,))])

    def entries_with(names):
        return [{"name": n, "data": d} for n, d in names]

    out["entry_dotdot.pt"] = (write_zip(entries_with([("archive/data.pkl", good), ("archive/data/../0", f32)])),
                              "invalid-data", "entry “archive/data/../0” has an empty, “.” or “..” component")
    out["absolute_name.pt"] = (write_zip(entries_with([("/archive/data.pkl", good), ("/archive/data/0", f32)])),
                               "invalid-data", "entry “/archive/data.pkl” has an absolute name")
    out["backslash_name.pt"] = (write_zip(entries_with([("archive/data.pkl", good), ("archive\\data\\0", f32)])),
                                "invalid-data", "has a backslash in its name")
    out["duplicate_names.pt"] = (write_zip(entries_with([("archive/data.pkl", good), ("archive/data/0", f32),
                                                         ("archive/data/0", f32)])),
                                 "invalid-data", "two entries are named “archive/data/0”")

    # An entry whose data holds the local header of another: the classic
    # overlapping-entries construction.
    inner = local_header(b"archive/data/0", 0x808, 0, b"") + f32
    outer_data = inner
    archive = bytearray()
    archive += local_header(b"archive/data.pkl", 0x808, 0, b"") + good
    outer_offset = len(archive)
    archive += local_header(b"archive/blob", 0x808, 0, b"") + outer_data
    inner_offset = outer_offset + 30 + len(b"archive/blob")
    central = bytearray()
    for name, data, offset in ((b"archive/data.pkl", good, 0), (b"archive/blob", outer_data, outer_offset),
                               (b"archive/data/0", f32, inner_offset)):
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, 0x808, 0, 0, 0x21,
                               zlib.crc32(data), len(data), len(data), len(name), 0, 0, 0, 0, 0,
                               offset) + name
    cd = len(archive)
    archive += central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 3, 3, len(central), cd, 0)
    out["overlapping.pt"] = (bytes(archive), "invalid-data", "overlap")

    out["encrypted.pt"] = (write_zip([{"name": "archive/data.pkl", "data": good},
                                      {"name": "archive/data/0", "data": f32, "flags": 1}]),
                           "unsupported", "entry “archive/data/0” is encrypted")

    # data.pkl claims 16 bytes but inflates to 16 MiB.
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = c.compress(b"\0" * (16 << 20)) + c.flush()
    out["deflate_bomb.pt"] = (write_zip([{"name": "archive/data.pkl", "data": b"\0" * 16, "raw": bomb,
                                          "method": "deflate", "usize": 16}]),
                              "invalid-data", "inflates to more than its declared 16 bytes")
    out["deflate_ratio.pt"] = (write_zip([{"name": "archive/data.pkl", "data": good, "method": "deflate"},
                                          {"name": "archive/data/0", "data": b"\0" * 1024, "method": "deflate",
                                           "usize": 2 ** 40}]),
                               "invalid-data", "more than deflate can produce")
    out["crc_mismatch.pt"] = (write_zip([{"name": "archive/data.pkl", "data": good, "crc": 1234}]),
                              "invalid-data", "fails its CRC check")

    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo("storages")
        info.size = 4
        t.addfile(info, io.BytesIO(b"\0\0\0\0"))
    out["tar_format.pt"] = (tar.getvalue(), "unsupported", "tar format")

    legacy = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
    data = legacy.getvalue().replace(b"X\r\x00\x00\x00little_endianq\x02\x88",
                                     b"X\r\x00\x00\x00little_endianq\x02\x89")
    out["legacy_big_endian.pt"] = (data, "unsupported", "big-endian legacy checkpoints")
    out["legacy_truncated.pt"] = (legacy.getvalue()[:-3], "invalid-data", "runs past the end of the file")

    p = Pickle().glob("torch", "FloatStorage").raw(b")R")
    out["call_storage_class.pt"] = (pickle_zip(p.stop()), "unsafe-pickle", "torch.FloatStorage may appear")
    p = Pickle().raw(b"cbuiltins\neval\n")
    out["builtins_eval.pt"] = (pickle_zip(p.stop()), "unsafe-pickle", "builtins.eval")
    p = Pickle().raw(b"(X\x02\x00\x00\x00lsios\nsystem\n")
    out["inst_opcode.pt"] = (pickle_zip(p.stop()), "unsafe-pickle", "opcode INST (0x69) is not allowed")

    # Late unsafe global: refused before the first REDUCE runs.
    p = Pickle().glob("collections", "OrderedDict").raw(b")R").glob("os", "system").raw(b"0")
    out["late_global.pt"] = (pickle_zip(p.stop()), "unsafe-pickle", "at byte 29: global os.system")

    out["not_a_checkpoint.pt"] = (b"hello world\n", "invalid-data", "not a PyTorch checkpoint")
    out["torchscript.pt"] = (write_zip([{"name": "archive/data.pkl", "data": good},
                                        {"name": "archive/constants.pkl", "data": Pickle().raw(b")").stop()}]),
                             "unsupported", "TorchScript")
    return {name: (v[0], v[1], v[2], list(v[3]) if len(v) > 3 else []) for name, v in out.items()}


# ---------------------------------------------------------------------------

def main():
    os.makedirs(HOSTILE, exist_ok=True)
    model = make_model()
    state_dict = model.state_dict()
    training = make_training_checkpoint(model)

    def path(name):
        return os.path.join(HERE, name)

    torch.save(state_dict, path("model.pt"))
    torch.save(state_dict, path("model_legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save(state_dict, path("model_proto4.pt"), pickle_protocol=4)
    torch.save(training, path("train.pt"))
    torch.save(training, path("train_legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save(torch.arange(5, dtype=torch.int32)[1:4], path("tensor.pt"))
    repack(path("model.pt"), path("model_archive.pt"), prefix="archive",
           extra_records=[("byteorder", b"little"), (".data/serialization_id", b"1234567890")])
    repack(path("model.pt"), path("model_big_endian.pt"), prefix="archive",
           extra_records=[("byteorder", b"big")], big_endian=True)
    repack(path("model.pt"), path("model_deflate.pt"), method="deflate")
    repack(path("model.pt"), path("model_zip64.pt"), force_zip64=True)
    nested = {"w": torch.arange(3, dtype=torch.int16)}
    for _ in range(64):
        nested = {"a": nested, "b": nested}
    torch.save(nested, path("shared_nesting.pt"))
    loop = [1]
    loop.append(loop)
    torch.save({"w": torch.ones(2), "loop": loop, "again": loop}, path("cycle.pt"))
    v3_pickle, v3_storages, v3_expected = v3_checkpoint()
    zip_checkpoint(path("v3_dtypes.pt"), v3_pickle, v3_storages)

    cases = []

    def case(file, obj, key=None, flags=()):
        loaded = obj if obj is not None else torch.load(path(file))
        result = expected_conversion(loaded, key, flags)
        result.update({"file": file, "key": key, "all": "all" in flags,
                       "extras_to_metadata": "extras" in flags})
        cases.append(result)

    for name in ("model.pt", "model_legacy.pt", "model_proto4.pt", "model_archive.pt",
                 "model_big_endian.pt", "model_deflate.pt", "model_zip64.pt"):
        case(name, torch.load(path("model.pt")))
    case("model.pt", None, flags=("extras",))
    case("model.pt", None, key="fc.weight")
    for name in ("train.pt", "train_legacy.pt"):
        case(name, None)
        case(name, None, flags=("all",))
        case(name, None, flags=("all", "extras"))
    case("train.pt", None, key="optimizer.state")
    case("train.pt", None, key="optimizer", flags=("extras",))
    case("train.pt", None, key="state_dict.lm_head.weight")
    case("train.pt", None, key="epoch", flags=("extras",))
    case("train.pt", None, key="args")
    case("tensor.pt", None)
    case("shared_nesting.pt", None)
    case("cycle.pt", None, flags=("extras",))
    v3_expected.update({"file": "v3_dtypes.pt", "key": None, "all": False, "extras_to_metadata": False})
    cases.append(v3_expected)

    with open(path("expected.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, indent=1, ensure_ascii=False)
        f.write("\n")

    manifest = {}
    for name, (data, code, message, options) in sorted(hostile_fixtures(path("model.pt")).items()):
        with open(os.path.join(HOSTILE, name), "wb") as f:
            f.write(data)
        manifest[name] = {"code": code, "message": message, "options": options}
    with open(os.path.join(HOSTILE, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
