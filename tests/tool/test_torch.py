"""Tests of safetensors-tool import-pytorch.

Run by meson (suite "tool") with Debian's /usr/bin/python3 -m pytest. The
checkpoints and what they must convert to are committed under
tests/data/torch (made by its generate.py with PyTorch); these tests do not
need torch. The environment names the built tool (SAFETENSORS_TOOL) and the
data folder (SAFETENSORS_TEST_DATA).
"""
import hashlib
import json
import os
import pty
import struct
import subprocess
import sys
import zlib

import pytest

TOOL = os.environ["SAFETENSORS_TOOL"]
DATA = os.path.join(os.environ["SAFETENSORS_TEST_DATA"], "torch")
HOSTILE = os.path.join(DATA, "hostile")

with open(os.path.join(DATA, "expected.json"), encoding="utf-8") as f:
    CASES = json.load(f)
with open(os.path.join(HOSTILE, "expected.json"), encoding="utf-8") as f:
    HOSTILE_CASES = json.load(f)

DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
               "F8_E4M3FNUZ": 1, "F8_E5M2FNUZ": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "C64": 8, "F64": 8, "I64": 8, "U64": 8}


def utf8_env():
    env = dict(os.environ)
    env["LC_ALL"] = "C.UTF-8"
    return env


def run(*args):
    return subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True,
                          env=utf8_env(), timeout=300)


def read_safetensors(path):
    """Header and tensors of a file, checked against the format's rules."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    assert (8 + n) % 8 == 0
    metadata = header.pop("__metadata__", {})
    tensors = {}
    end = 0
    for name, info in sorted(header.items(), key=lambda item: item[1]["data_offsets"]):
        begin, stop = info["data_offsets"]
        assert begin == end
        count = 1
        for d in info["shape"]:
            count *= d
        assert stop - begin == count * DTYPE_SIZES[info["dtype"]]
        tensors[name] = (info["dtype"], info["shape"], data[8 + n + begin:8 + n + stop])
        end = stop
    assert 8 + n + end == len(data)
    return tensors, metadata


def case_args(case):
    args = []
    if case["key"] is not None:
        args += ["--key", case["key"]]
    if case["all"]:
        args.append("--all")
    if case["extras_to_metadata"]:
        args.append("--extras-to-metadata")
    return args


def case_id(case):
    return " ".join([case["file"]] + case_args(case))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_conversion(case, tmp_path):
    out = tmp_path / "out.safetensors"
    result = run("import-pytorch", os.path.join(DATA, case["file"]), out, *case_args(case))
    assert result.returncode == 0, result.stderr

    tensors, metadata = read_safetensors(out)
    expected = {t["name"]: t for t in case["tensors"]}
    assert sorted(tensors) == sorted(expected)
    for name, (dtype, shape, data) in tensors.items():
        assert dtype == expected[name]["dtype"], name
        assert shape == expected[name]["shape"], name
        assert hashlib.sha256(data).hexdigest() == expected[name]["sha256"], name
    assert metadata == case["metadata"]

    # Every skipped value is reported, in checkpoint order.
    reported = [line for line in result.stderr.splitlines() if ": skipped " in line]
    assert len(reported) == len(case["skipped"])
    for line, (name, reason) in zip(reported, case["skipped"]):
        assert line.endswith(": " + reason), line
        assert name in line

    assert run("validate", out).returncode == 0


def test_canonical_layout(tmp_path):
    """Tensors sorted by dtype (descending) then name, like the reference."""
    out = tmp_path / "out.safetensors"
    assert run("import-pytorch", os.path.join(DATA, "model.pt"), out).returncode == 0
    with open(out, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    assert list(header)[0] == "__metadata__"
    order = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
             "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32",
             "C64", "F64", "I64", "U64"]
    names = [k for k in header if k != "__metadata__"]
    keys = [(-order.index(header[k]["dtype"]), k.encode()) for k in names]
    assert keys == sorted(keys)
    offsets = [header[k]["data_offsets"] for k in names]
    assert offsets == sorted(offsets)


@pytest.mark.parametrize("name", sorted(HOSTILE_CASES))
def test_hostile(name, tmp_path):
    expected = HOSTILE_CASES[name]
    out = tmp_path / "out.safetensors"
    result = run("import-pytorch", os.path.join(HOSTILE, name), out, *expected["options"])
    assert result.returncode == 1, result.stdout
    assert expected["message"] in result.stderr
    assert result.stderr.count("\n") == 1
    # Nothing is left behind: no output, no temporary file.
    assert os.listdir(tmp_path) == []


def test_failure_keeps_existing_output(tmp_path):
    out = tmp_path / "out.safetensors"
    out.write_bytes(b"previous content")
    result = run("import-pytorch", os.path.join(HOSTILE, "deflate_bomb.pt"), out)
    assert result.returncode == 1
    assert out.read_bytes() == b"previous content"
    assert os.listdir(tmp_path) == ["out.safetensors"]


def test_existing_output_is_replaced(tmp_path):
    out = tmp_path / "out.safetensors"
    out.write_bytes(b"previous content")
    assert run("import-pytorch", os.path.join(DATA, "tensor.pt"), out).returncode == 0
    tensors, _ = read_safetensors(out)
    assert list(tensors) == ["tensor"]
    assert tensors["tensor"][2] == struct.pack("<3i", 1, 2, 3)


def test_dry_run(tmp_path):
    out = tmp_path / "out.safetensors"
    result = run("import-pytorch", "--dry-run", "--all", os.path.join(DATA, "train.pt"), out)
    assert result.returncode == 0, result.stderr
    assert not out.exists()
    lines = result.stdout.splitlines()
    assert lines[0] == "Tensors: 49 (1476 bytes)"
    assert any(line.split()[:4] == ["state_dict.base_t", "F32", "[6,", "4]"] for line in lines)
    assert "Shared, written once (recorded in the metadata):" in lines
    assert "  state_dict.lm_head.weight  →  state_dict.embed.weight" in lines
    assert "Skipped, not tensors:" in lines
    assert any(line.split() == ["epoch", "int"] for line in lines)
    assert lines[-2:] == ["  format                     pt",
                          "  state_dict.lm_head.weight  state_dict.embed.weight"]
    # Without OUT too.
    result = run("import-pytorch", "--dry-run", os.path.join(DATA, "model.pt"))
    assert result.returncode == 0
    assert result.stdout.startswith("Tensors: 28 ")


def test_dry_run_extras(tmp_path):
    result = run("import-pytorch", "-n", "--key", "epoch", "--extras-to-metadata",
                 os.path.join(DATA, "train.pt"))
    assert result.returncode == 0
    assert "Stored in the metadata as JSON:\n  epoch  int\n" in result.stdout
    assert "  epoch   7\n" in result.stdout


def test_dry_run_checks_everything(tmp_path):
    result = run("import-pytorch", "--dry-run", os.path.join(HOSTILE, "size_beyond_storage.pt"))
    assert result.returncode == 1
    assert "reaches beyond its storage" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["out", "--all", "--key", "x"], "--all and --key cannot be combined"),
    ([], "missing argument: OUT"),
    (["--bogus"], "Unknown option"),
])
def test_usage_errors(args, message):
    result = run("import-pytorch", os.path.join(DATA, "model.pt"), *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_missing_key(tmp_path):
    result = run("import-pytorch", "--key", "optimizer.nope", os.path.join(DATA, "train.pt"),
                 tmp_path / "out")
    assert result.returncode == 1
    assert "key “optimizer.nope” not found: the dict at “optimizer” has no “nope”" in result.stderr


def test_missing_input(tmp_path):
    result = run("import-pytorch", tmp_path / "nope.pt", tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr == "safetensors-tool: %s: No such file or directory\n" % (
        tmp_path / "nope.pt")
    assert not (tmp_path / "out").exists()


def test_folder_input(tmp_path):
    result = run("import-pytorch", tmp_path, tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr == "safetensors-tool: %s: is a folder, not a checkpoint\n" % tmp_path
    assert not (tmp_path / "out").exists()


def test_pipe_input(tmp_path):
    """A checkpoint that cannot be mapped (here, standard input) is read
    through a copy: the output is the same."""
    source = os.path.join(DATA, "model.pt")
    assert run("import-pytorch", source, tmp_path / "direct").returncode == 0
    with open(source, "rb") as f:
        result = subprocess.run([TOOL, "import-pytorch", "/dev/stdin", str(tmp_path / "piped")],
                                input=f.read(), capture_output=True, env=utf8_env(), timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "piped").read_bytes() == (tmp_path / "direct").read_bytes()


def test_quiet(tmp_path):
    result = run("import-pytorch", "-q", "--all", os.path.join(DATA, "train.pt"), tmp_path / "out")
    assert result.returncode == 0
    assert result.stderr == ""


def test_help_lists_command():
    result = run("--help")
    assert "import-pytorch" in result.stdout


def test_progress_bar_on_a_terminal(tmp_path):
    """On a TTY the tool draws a progress bar on stderr."""
    out = tmp_path / "out.safetensors"
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(TOOL, [TOOL, "import-pytorch", "-q", os.path.join(DATA, "model.pt"), str(out)],
                  utf8_env())
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # -q hides it; without -q it shows.
    assert b"%" not in output

    pid, fd = pty.fork()
    if pid == 0:
        os.execve(TOOL, [TOOL, "import-pytorch", os.path.join(DATA, "model.pt"), str(out)],
                  utf8_env())
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"100% [" in output
    assert output.endswith(b"\r\n")


# ---------------------------------------------------------------------------
# ZIP64: entries and offsets beyond 4 GiB, in sparse files
# ---------------------------------------------------------------------------

def pickle_tensors(specs):
    """A data.pkl with {name: _rebuild_tensor_v2 (...)} for (name, class,
    key, numel, offset, size, stride)."""
    def integer(n):
        if 0 <= n < 256:
            return b"K" + bytes([n])
        if -(2 ** 31) <= n < 2 ** 31:
            return b"J" + struct.pack("<i", n)
        data = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
        return b"\x8a" + bytes([len(data)]) + data

    def string(s):
        return b"X" + struct.pack("<I", len(s)) + s.encode()

    p = b"\x80\x02}("
    for name, cls, key, numel, offset, size, stride in specs:
        p += string(name) + b"ctorch._utils\n_rebuild_tensor_v2\n(("
        p += string("storage") + b"ctorch\n" + cls.encode() + b"\n" + string(key) + string("cpu")
        p += integer(numel) + b"tQ" + integer(offset)
        p += b"(" + b"".join(map(integer, size)) + b"t"
        p += b"(" + b"".join(map(integer, stride)) + b"t"
        p += b"\x89ccollections\nOrderedDict\n)RtR"
    return p + b"u."


def write_sparse_zip(path, entries):
    """entries: (name, size, [(offset, bytes)], gap_before). Writes a
    stored ZIP64 archive; the data are holes except the given pieces.
    CRCs are not computed for holes (the importer does not check stored
    entries' CRCs)."""
    central = b""
    with open(path, "wb") as f:
        for name, size, pieces, gap in entries:
            f.seek(f.tell() + gap)
            offset = f.tell()
            name_bytes = name.encode()
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0x808, 0, 0, 0x21, 0, 0, 0,
                                len(name_bytes), 0) + name_bytes)
            start = f.tell()
            crc = zlib.crc32(pieces[0][1]) if pieces and len(pieces[0][1]) == size else 0
            for piece_offset, data in pieces:
                f.seek(start + piece_offset)
                f.write(data)
            f.seek(start + size)
            extra = struct.pack("<HHQQQ", 1, 24, size, size, offset)
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 45, 0x808, 0, 0, 0x21,
                                   crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name_bytes), len(extra), 0, 0,
                                   0, 0, 0xFFFFFFFF) + name_bytes + extra
        cd_offset = f.tell()
        f.write(central)
        zip64 = f.tell()
        n = len(entries)
        f.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 45, 0, 0, n, n, len(central),
                            cd_offset))
        f.write(struct.pack("<IIQI", 0x07064B50, 0, zip64, 1))
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, 0xFFFFFFFF, 0xFFFFFFFF, 0))


def test_zip64_beyond_4_gib(tmp_path):
    big = 2 ** 32 + 64
    tail = bytes(range(16))
    small = struct.pack("<4f", 1.5, 2.5, 3.5, 4.5)
    pkl = pickle_tensors([
        ("tail", "ByteStorage", "0", big, 2 ** 32 + 8, (16,), (1,)),
        ("far", "FloatStorage", "1", 4, 1, (3,), (1,)),
    ])
    path = tmp_path / "big.pt"
    write_sparse_zip(path, [
        ("archive/data.pkl", len(pkl), [(0, pkl)], 0),
        ("archive/data/0", big, [(2 ** 32 + 8, tail)], 0),
        ("archive/data/1", len(small), [(0, small)], 2 ** 30),
    ])
    if os.stat(path).st_blocks * 512 > 2 ** 30:
        pytest.skip("the file system does not support sparse files")
    assert os.path.getsize(path) > 5 * 2 ** 30

    out = tmp_path / "out.safetensors"
    result = run("import-pytorch", path, out)
    assert result.returncode == 0, result.stderr
    tensors, metadata = read_safetensors(out)
    assert tensors["tail"] == ("U8", [16], tail)
    assert tensors["far"] == ("F32", [3], small[4:])
    assert metadata == {"format": "pt"}


# ---------------------------------------------------------------------------
# GObject introspection
# ---------------------------------------------------------------------------

GI_SCRIPT = r"""
import sys
import gi
gi.require_version("Safetensors", "1")
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib, Safetensors

source, out_sync, out_async, bad = sys.argv[1:5]
assert Safetensors.import_pytorch(Gio.File.new_for_path(source), Gio.File.new_for_path(out_sync),
                                  Safetensors.ImportFlags.ALL, None, None)
try:
    Safetensors.import_pytorch(Gio.File.new_for_path(bad), Gio.File.new_for_path(out_sync + ".x"),
                               Safetensors.ImportFlags.NONE, None, None)
    raise SystemExit("no error")
except GLib.Error as e:
    assert e.matches(Safetensors.error_quark(), Safetensors.Error.UNSAFE_PICKLE), e
    assert "posix.system" in e.message

loop = GLib.MainLoop()
progress = []
result = []

# PyGObject 3.42 wants the progress callback's user data as a tuple
# when another callback follows (as with Gio.File.copy_async).
def on_progress(current, total, *data):
    progress.append((current, total))

def on_done(source_object, res, *data):
    result.append(Safetensors.import_pytorch_finish(res))
    loop.quit()

Safetensors.import_pytorch_async(Gio.File.new_for_path(source), Gio.File.new_for_path(out_async),
                                 Safetensors.ImportFlags.NONE, "state_dict", GLib.PRIORITY_DEFAULT,
                                 None, on_progress, (), on_done)
loop.run()
assert result == [True]
assert progress and progress[-1][0] == progress[-1][1] > 0, progress
f = Safetensors.File.open(Gio.File.new_for_path(out_async), Safetensors.OpenFlags.NONE, None)
assert f.get_metadata_value("format") == "pt"
assert f.get_metadata_value("lm_head.weight") == "embed.weight"
print("ok", len(f.get_tensor_names()))
"""


def test_gobject_introspection(tmp_path):
    build = os.path.dirname(os.path.dirname(os.path.abspath(TOOL)))
    libdir = os.path.join(build, "safetensors-glib")
    if not os.path.exists(os.path.join(libdir, "Safetensors-1.typelib")):
        pytest.skip("introspection data not built")
    env = utf8_env()
    env["GI_TYPELIB_PATH"] = libdir + os.pathsep + env.get("GI_TYPELIB_PATH", "")
    env["LD_LIBRARY_PATH"] = libdir + os.pathsep + env.get("LD_LIBRARY_PATH", "")
    result = subprocess.run(
        ["/usr/bin/python3", "-c", GI_SCRIPT, os.path.join(DATA, "train.pt"),
         str(tmp_path / "sync.safetensors"), str(tmp_path / "async.safetensors"),
         os.path.join(HOSTILE, "posix_system_reduce.pt")],
        capture_output=True, text=True, env=env, timeout=120)
    if "No module named 'gi'" in result.stderr:
        pytest.skip("PyGObject is not installed")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok 28"


GJS_SCRIPT = r"""
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Safetensors from 'gi://Safetensors?version=1';

const [source, out, bad] = ARGV;
Safetensors.import_pytorch(Gio.File.new_for_path(source), Gio.File.new_for_path(out),
                           Safetensors.ImportFlags.NONE, 'state_dict', null);
try {
    Safetensors.import_pytorch(Gio.File.new_for_path(bad), Gio.File.new_for_path(out + '.x'),
                               Safetensors.ImportFlags.NONE, null, null);
    throw new Error('no error');
} catch (e) {
    if (!e.matches(Safetensors.error_quark(), Safetensors.Error.UNSAFE_PICKLE))
        throw e;
}
const loop = new GLib.MainLoop(null, false);
let last = null;
let ok = false;
Safetensors.import_pytorch_async(Gio.File.new_for_path(source), Gio.File.new_for_path(out),
    Safetensors.ImportFlags.ALL, null, GLib.PRIORITY_DEFAULT, null,
    (current, total) => { last = [current, total]; },
    (obj, res) => { ok = Safetensors.import_pytorch_finish(res); loop.quit(); });
loop.run();
if (!ok || last === null || last[0] !== last[1])
    throw new Error(`async import: ${ok} ${last}`);
print('ok');
"""


def test_gjs(tmp_path):
    build = os.path.dirname(os.path.dirname(os.path.abspath(TOOL)))
    libdir = os.path.join(build, "safetensors-glib")
    if not os.path.exists(os.path.join(libdir, "Safetensors-1.typelib")):
        pytest.skip("introspection data not built")
    if not os.path.exists("/usr/bin/gjs"):
        pytest.skip("gjs is not installed")
    script = tmp_path / "test.js"
    script.write_text(GJS_SCRIPT)
    env = utf8_env()
    env["GI_TYPELIB_PATH"] = libdir + os.pathsep + env.get("GI_TYPELIB_PATH", "")
    env["LD_LIBRARY_PATH"] = libdir + os.pathsep + env.get("LD_LIBRARY_PATH", "")
    result = subprocess.run(["/usr/bin/gjs", "-m", str(script), os.path.join(DATA, "train.pt"),
                             str(tmp_path / "out.safetensors"),
                             os.path.join(HOSTILE, "posix_system_stack_global.pt")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


VALA_PROGRAM = """
int main (string[] args) {
    var loop = new MainLoop ();
    int64 last = -1;
    bool ok = false;
    try {
        Safetensors.import_pytorch (File.new_for_path (args[1]), File.new_for_path (args[2]),
                                    Safetensors.ImportFlags.NONE, null);
    } catch (Error e) {
        stderr.printf ("%s\\n", e.message);
        return 1;
    }
    Safetensors.import_pytorch_async.begin (File.new_for_path (args[1]), File.new_for_path (args[2]),
                                            Safetensors.ImportFlags.ALL, null, Priority.DEFAULT, null,
                                            (current, total) => { last = current; },
                                            (obj, res) => {
        try {
            ok = Safetensors.import_pytorch_async.end (res);
        } catch (Error e) {
            stderr.printf ("%s\\n", e.message);
        }
        loop.quit ();
    });
    loop.run ();
    if (!ok || last <= 0)
        return 1;
    print ("ok\\n");
    return 0;
}
"""


def test_vala(tmp_path):
    build = os.path.dirname(os.path.dirname(os.path.abspath(TOOL)))
    libdir = os.path.join(build, "safetensors-glib")
    source_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not os.path.exists(os.path.join(libdir, "safetensors-glib-1.vapi")):
        pytest.skip("the VAPI is not built")
    if not os.path.exists("/usr/bin/valac"):
        pytest.skip("valac is not installed")
    program = tmp_path / "import.vala"
    program.write_text(VALA_PROGRAM)
    env = utf8_env()
    env["PKG_CONFIG_PATH"] = os.path.join(build, "meson-uninstalled")
    includes = [build, libdir, source_root, os.path.join(source_root, "safetensors-glib")]
    compiled = subprocess.run(
        ["/usr/bin/valac", "--vapidir", libdir, "--pkg", "safetensors-glib-1", "--pkg", "gio-2.0",
         "-X", "-w", *[arg for d in includes for arg in ("-X", "-I" + d)],
         str(program), "-o", str(tmp_path / "import")],
        capture_output=True, text=True, env=env, timeout=300)
    assert compiled.returncode == 0, compiled.stderr
    env["LD_LIBRARY_PATH"] = libdir
    result = subprocess.run([str(tmp_path / "import"), os.path.join(DATA, "train.pt"),
                             str(tmp_path / "out.safetensors")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
