"""The contract every command keeps, checked command by command: --json
prints one JSON document with the members docs/cli.md documents; an error
is one `safetensors-tool: FILE: message` line on stderr and exit status 1
(with --json, also {"error": {...}} on stdout); a usage error is exit
status 2.

Run by meson (suite "tool") with Debian's /usr/bin/python3 -m pytest. The
values themselves are checked in the tests of each command group.
"""
import hashlib
import json
import os
import shutil
import struct
import subprocess

import pytest

TOOL = os.environ["SAFETENSORS_TOOL"]
DATA = os.environ["SAFETENSORS_TEST_DATA"]
EXAMPLE = os.path.join(DATA, "example.safetensors")
EXAMPLE_DATA_START = 472

# The commands of tools/tool-{inspect,data,edit,npz}.c. Commands that print
# a report take --json; header prints JSON anyway and the conversions
# print nothing.
JSON_COMMANDS = ["ls", "info", "validate", "du", "meta", "checksum", "dump", "diff",
                 "add", "rm", "mv", "compact", "recover"]
NO_JSON_COMMANDS = ["header", "import-npz", "export-npz"]

# A valid .npy of 4 little-endian int32.
NPY = (b"\x93NUMPY\x01\x00" + struct.pack("<H", 118)
       + b"{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }".ljust(117) + b"\n"
       + struct.pack("<4i", 1, 2, 3, 4))


def run(*args):
    env = dict(os.environ, LC_ALL="C.UTF-8")
    return subprocess.run([TOOL, *map(str, args)], capture_output=True, env=env, timeout=60)


def document(result):
    """stdout holds exactly one JSON document."""
    assert result.stderr == b"", result.stderr
    return json.loads(result.stdout)


def members(obj, expected):
    """@obj is an object with exactly the members of @expected
    ({name: type}); an integer is never a float or a bool."""
    assert isinstance(obj, dict)
    assert set(obj) == set(expected), sorted(obj)
    for name, kind in expected.items():
        value = obj[name]
        if kind is int:
            assert type(value) is int and value >= 0, (name, value)
        elif kind is None:
            assert value is None, name
        else:
            assert isinstance(value, kind), (name, value)


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.safetensors"
    shutil.copyfile(EXAMPLE, path)
    npy = tmp_path / "x.npy"
    npy.write_bytes(NPY)
    return str(path), str(npy)


@pytest.mark.parametrize("command", JSON_COMMANDS)
def test_json_option_is_offered(command):
    result = run(command, "--help")
    assert result.returncode == 0
    assert b"  --json " in result.stdout


@pytest.mark.parametrize("command", NO_JSON_COMMANDS)
def test_commands_without_a_report(command):
    assert b"--json" not in run(command, "--help").stdout


# ---------------------------------------------------------------- schemas


TENSOR = {"name": str, "dtype": str, "shape": list, "n_bytes": int, "data_offsets": list,
          "file_offset": int}
COMMIT = {"file": str, "bytes_written": int, "bytes_moved": int, "header_bytes": int}


def test_ls_schema(model):
    path, _ = model
    tensors = document(run("ls", "--json", path))
    assert len(tensors) == 6
    for t in tensors:
        members(t, TENSOR)
        begin, end = t["data_offsets"]
        assert end - begin == t["n_bytes"]
        assert t["file_offset"] == EXAMPLE_DATA_START + begin


def test_info_schema(model):
    path, _ = model
    info = document(run("info", "--json", path))
    members(info, {"file_size": int, "header_size": int, "data_start": int,
                   "n_tensors": int, "tensor_bytes": int, "dtypes": dict, "metadata": dict})
    assert info["data_start"] == info["header_size"] + 8 == EXAMPLE_DATA_START
    assert info["file_size"] == info["data_start"] + info["tensor_bytes"]
    assert sum(info["dtypes"].values()) == info["n_tensors"] == 6


def test_validate_schema(model, tmp_path):
    path, _ = model
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x01")
    result = run("validate", "--json", path, bad)
    assert result.returncode == 1
    good, failed = document(result)
    members(good, {"file": str, "valid": bool, "code": None, "message": None})
    members(failed, {"file": str, "valid": bool, "code": str, "message": str})
    assert (good["file"], good["valid"]) == (path, True)
    assert (failed["file"], failed["valid"], failed["code"]) == \
        (str(bad), False, "header-too-small")


def test_du_schema(model):
    path, _ = model
    usage = document(run("du", "--json", path))
    members(usage, {"apparent_size": int, "disk_bytes": int, "header_bytes": int,
                    "tensor_bytes": int, "free_bytes": int})
    assert usage["apparent_size"] == usage["header_bytes"] + usage["tensor_bytes"] == 694


def test_meta_schema(model):
    path, _ = model
    assert document(run("meta", "--json", path)) == {
        "description": "safetensors-glib example", "format": "pt"}


def test_checksum_schema(model):
    path, _ = model
    with open(path, "rb") as f:
        content = f.read()
    entries = document(run("checksum", "--json", path))
    for e in entries:
        members(e, {"name": str, "sha256": str})
    step = next(e for e in entries if e["name"] == "step")
    # step is the first tensor, 8 bytes at the start of the data.
    assert step["sha256"] == hashlib.sha256(
        content[EXAMPLE_DATA_START:EXAMPLE_DATA_START + 8]).hexdigest()


def test_dump_schema(model):
    path, _ = model
    dumped = document(run("dump", "--json", path, "hello"))
    members(dumped, {"name": str, "dtype": str, "shape": list, "values": list})
    assert (dumped["name"], dumped["dtype"], dumped["shape"]) == ("hello", "F32", [4, 4])
    assert dumped["values"][3] == [12, 13, 14, 15]


def test_diff_schema(model, tmp_path):
    path, npy = model
    other = tmp_path / "other.safetensors"
    shutil.copyfile(path, other)
    assert run("add", other, "x", npy).returncode == 0
    assert run("meta", other, "set", "format", "np").returncode == 0
    result = run("diff", "--json", path, other)
    assert result.returncode == 1
    report = document(result)
    members(report, {"tensors": list, "metadata": list, "equal": bool})
    assert report["tensors"] == [{"name": "x", "change": "added"}]
    assert report["metadata"] == [{"key": "format", "change": "changed",
                                   "value": ["pt", "np"]}]


@pytest.mark.parametrize("edit", [["add", "F", "x", "NPY"], ["rm", "F", "step"],
                                  ["mv", "F", "step", "steps"],
                                  ["meta", "F", "set", "k", "v"], ["meta", "F", "rm", "format"],
                                  ["compact", "F"]])
def test_edit_schema(model, edit):
    path, npy = model
    args = [{"F": path, "NPY": npy}.get(a, a) for a in edit]
    report = document(run(args[0], "--json", *args[1:]))
    members(report, COMMIT)
    assert report["file"] == path


def test_recover_schema(model):
    path, _ = model
    members(document(run("recover", "--json", path)),
            {"file": str, "recovered": bool, "n_tensors": int})


# ---------------------------------------------------------------- errors


def error_cases(missing, npy, tmp_path):
    """command -> arguments naming @missing, the argument the error is about."""
    out = str(tmp_path / "out")
    return {
        "ls": [missing], "info": [missing], "header": [missing], "du": [missing],
        "meta": [missing], "checksum": [missing], "dump": [missing, "t"],
        "diff": [EXAMPLE, missing], "add": [missing, "x", npy], "rm": [missing, "x"],
        "mv": [missing, "a", "b"], "compact": [missing], "recover": [missing],
        "import-npz": [missing, out], "export-npz": [missing, out + ".npz"],
    }


@pytest.mark.parametrize("command", JSON_COMMANDS + NO_JSON_COMMANDS)
def test_error_is_one_line(model, tmp_path, command):
    _, npy = model
    missing = str(tmp_path / "missing.safetensors")
    if command == "validate":
        # validate reports on stdout: that is its output, not an error.
        result = run("validate", missing)
        assert result.returncode == 1 and result.stderr == b""
        assert result.stdout.decode() == f"{missing}: not-found: No such file or directory\n"
        return
    result = run(command, *error_cases(missing, npy, tmp_path)[command])
    assert result.returncode == 1
    assert result.stdout == b""
    err = result.stderr.decode()
    assert err.startswith(f"safetensors-tool: {missing}: ")
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "CRITICAL" not in err and "WARNING" not in err
    assert not os.path.exists(missing)


@pytest.mark.parametrize("command", [c for c in JSON_COMMANDS if c != "validate"])
def test_error_json_object(model, tmp_path, command):
    _, npy = model
    missing = str(tmp_path / "missing.safetensors")
    args = error_cases(missing, npy, tmp_path)[command]
    result = run(command, "--json", *args)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert err.count("\n") == 1
    assert json.loads(result.stdout) == {"error": {
        "file": missing, "code": "not-found",
        "message": err[len(f"safetensors-tool: {missing}: "):-1]}}


def test_invalid_file_error_code(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", 2) + b"{]")
    result = run("checksum", "--json", bad)
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["code"] == "invalid-json"


@pytest.mark.parametrize("command", JSON_COMMANDS + NO_JSON_COMMANDS)
def test_usage_errors(command):
    for args in (["--bogus-option", EXAMPLE], []):
        result = run(command, *args)
        assert result.returncode == 2, (command, args)
        assert result.stdout == b""
        assert result.stderr.decode().startswith(f"safetensors-tool {command}: ")
