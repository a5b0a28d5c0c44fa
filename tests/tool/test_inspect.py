"""Tests of safetensors-tool's read-only commands: ls, info, header, validate.

Run by meson (suite "tool") with Debian's /usr/bin/python3 -m pytest. The
environment names the built tool (SAFETENSORS_TOOL) and the folder of
example files (SAFETENSORS_TEST_DATA).
"""
import json
import os
import re
import struct
import subprocess

import pytest

TOOL = os.environ["SAFETENSORS_TOOL"]
DATA = os.environ["SAFETENSORS_TEST_DATA"]
EXAMPLE = os.path.join(DATA, "example.safetensors")

EXAMPLE_HEADER_SIZE = 464
EXAMPLE_DATA_START = 8 + EXAMPLE_HEADER_SIZE

# name, dtype, shape, data offsets: the tensors of example.safetensors in
# the order of their data.
EXAMPLE_TENSORS = [
    ("step", "I64", [], [0, 8]),
    ("embedding.bias", "F64", [6], [8, 56]),
    ("hello", "F32", [4, 4], [56, 120]),
    ("embedding.weight", "BF16", [8, 6], [120, 216]),
    ("empty", "F16", [0, 3], [216, 216]),
    ("mask", "BOOL", [2, 3], [216, 222]),
]
EXAMPLE_METADATA = {"description": "safetensors-glib example", "format": "pt"}

COMMANDS = ["ls", "info", "header", "validate"]

U64_MAX = 2**64 - 1


def run(*args, env=None):
    """Runs the tool; returns the CompletedProcess with bytes output."""
    return subprocess.run([TOOL, *map(str, args)], capture_output=True,
                          env=env, timeout=60)


def c_locale_env():
    """An environment where g_print() would not pass UTF-8 through."""
    env = dict(os.environ)
    env.pop("LANG", None)
    env.pop("LANGUAGE", None)
    env["LC_ALL"] = "C"
    return env


def raw_file(header, data=b""):
    """A file from header text (bytes or str) and data, no validation."""
    if isinstance(header, str):
        header = header.encode()
    return struct.pack("<Q", len(header)) + header + data


def safetensors_bytes(tensors, data, metadata=None, padding=8):
    """tensors: list of (name, dtype, shape, [begin, end]), in header order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, offsets in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": offsets}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % padding)
    return raw_file(text, data)


@pytest.fixture
def write(tmp_path):
    """write(name, content) -> path of a new file in a temporary folder."""
    def _write(name, content):
        path = tmp_path / name
        path.write_bytes(content)
        return str(path)
    return _write


def example_header_bytes():
    with open(EXAMPLE, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return f.read(n)


# ---------------------------------------------------------------- top level

def test_no_arguments_is_usage_error():
    result = run()
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"Usage:" in result.stderr


@pytest.mark.parametrize("option", ["--help", "-h", "help"])
def test_tool_help(option):
    result = run(option)
    assert result.returncode == 0
    assert b"Usage:" in result.stdout
    for command in COMMANDS:
        assert re.search(rb"^  %s  " % command.encode(), result.stdout, re.M)


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert re.fullmatch(rb"safetensors-tool \d+\.\d+\.\d+\n", result.stdout)


def test_unknown_command():
    result = run("frobnicate", EXAMPLE)
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"frobnicate" in result.stderr
    assert b"Usage:" in result.stderr


def test_unknown_tool_option():
    result = run("--frobnicate")
    assert result.returncode == 2
    assert b"--frobnicate" in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("option", ["--help", "-h"])
def test_command_help(command, option):
    result = run(command, option)
    assert result.returncode == 0
    assert b"Usage:" in result.stdout
    assert b"safetensors-tool " + command.encode() in result.stdout
    assert b"--no-mmap" in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_command(command):
    assert run("help", command).stdout == run(command, "--help").stdout


def test_help_unknown_command():
    result = run("help", "frobnicate")
    assert result.returncode == 2


@pytest.mark.parametrize("command", COMMANDS)
def test_command_unknown_option(command):
    result = run(command, "--frobnicate", EXAMPLE)
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"--frobnicate" in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_command_missing_file_argument(command):
    result = run(command)
    assert result.returncode == 2
    assert b"missing argument" in result.stderr


@pytest.mark.parametrize("command", ["ls", "info", "header"])
def test_command_too_many_arguments(command):
    result = run(command, EXAMPLE, EXAMPLE)
    assert result.returncode == 2
    assert b"too many arguments" in result.stderr


# ----------------------------------------------------------------------- ls

LS_LINE = re.compile(r"^(\S+) +(\S+) +(\[[^]]*\]) +(\d+)  \[(\d+), (\d+)\]$")


def parse_ls(stdout):
    rows = []
    for line in stdout.decode().splitlines():
        match = LS_LINE.match(line)
        assert match, line
        name, dtype, shape, n_bytes, begin, end = match.groups()
        rows.append((name, dtype, json.loads(shape), [int(begin), int(end)],
                     int(n_bytes)))
    return rows


@pytest.mark.parametrize("extra", [[], ["--no-mmap"]])
def test_ls(extra):
    result = run("ls", EXAMPLE, *extra)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    rows = parse_ls(result.stdout)
    assert [row[:4] for row in rows] == EXAMPLE_TENSORS
    for row in rows:
        assert row[4] == row[3][1] - row[3][0]


def test_ls_columns_are_aligned():
    lines = run("ls", EXAMPLE).stdout.decode().splitlines()
    assert len(lines) == len(EXAMPLE_TENSORS)
    # Every column starts at the same position on every line.
    dtype_columns = {line.index(dtype, len(name))
                     for line, (name, dtype, _, _) in zip(lines, EXAMPLE_TENSORS)}
    assert len(dtype_columns) == 1
    offset_columns = {line.rindex("[") for line in lines}
    assert len(offset_columns) == 1
    # Sizes are right-aligned: they end where the offsets column begins.
    assert {line.rindex("[") - 2 for line in lines} == \
        {m.end(4) for m in map(LS_LINE.match, lines)}
    assert all(not line.endswith(" ") for line in lines)


def test_ls_scalar_and_empty_shapes():
    rows = {row[0]: row for row in parse_ls(run("ls", EXAMPLE).stdout)}
    assert rows["step"][2] == []
    assert rows["empty"][2] == [0, 3]
    assert rows["empty"][4] == 0


@pytest.mark.parametrize("extra", [[], ["--no-mmap"]])
def test_ls_json(extra):
    result = run("ls", "--json", EXAMPLE, *extra)
    assert result.returncode == 0, result.stderr
    tensors = json.loads(result.stdout)
    assert tensors == [
        {"name": name, "dtype": dtype, "shape": shape,
         "n_bytes": offsets[1] - offsets[0], "data_offsets": offsets,
         "file_offset": EXAMPLE_DATA_START + offsets[0]}
        for name, dtype, shape, offsets in EXAMPLE_TENSORS
    ]


def test_ls_uri_argument():
    uri = "file://" + os.path.abspath(EXAMPLE)
    assert run("ls", uri).stdout == run("ls", EXAMPLE).stdout


def test_ls_no_tensors(write):
    path = write("none.safetensors", safetensors_bytes([], b""))
    result = run("ls", path)
    assert result.returncode == 0
    assert result.stdout == b""
    assert json.loads(run("ls", "--json", path).stdout) == []


def test_ls_json_huge_dimension_is_exact(write):
    # An empty tensor may have a dimension of 2^64 - 1: a double would
    # round it.
    tensors = [("huge", "F32", [0, U64_MAX], [0, 0]),
               ("big", "U8", [2**53 + 1, 0], [0, 0])]
    path = write("huge.safetensors", safetensors_bytes(tensors, b""))
    result = run("ls", "--json", path)
    assert result.returncode == 0, result.stderr
    assert b"18446744073709551615" in result.stdout
    shapes = {t["name"]: t["shape"] for t in json.loads(result.stdout)}
    assert shapes == {"huge": [0, U64_MAX], "big": [2**53 + 1, 0]}
    assert b"[0, 18446744073709551615]" in run("ls", path).stdout


def test_ls_awkward_names(write):
    names = ["with space", "", "new\nline", "h\u00e9llo \u2603", 'quote"d',
             "back\\slash", "tab\there"]
    tensors = [(name, "U8", [1], [i, i + 1]) for i, name in enumerate(names)]
    path = write("names.safetensors", safetensors_bytes(tensors, bytes(len(names))))

    # JSON is exact in any locale: the output is UTF-8, never converted.
    for env in (None, c_locale_env()):
        result = run("ls", "--json", path, env=env)
        assert result.returncode == 0, result.stderr
        assert [t["name"] for t in json.loads(result.stdout)] == names

    # Text keeps one line per tensor; names that would not read as one
    # column are JSON strings.
    lines = run("ls", path, env=c_locale_env()).stdout.decode().splitlines()
    assert len(lines) == len(names)
    for line, name in zip(lines, names):
        if name == "":
            assert line.startswith('"" ')
        elif re.search(r"[\x00-\x1f ]", name) or name.startswith('"'):
            assert line.startswith(json.dumps(name, ensure_ascii=False) + " ")
        else:
            assert line.startswith(name + " ")
    assert lines[1].startswith('""')
    assert lines[2].startswith('"new\\nline"')
    assert lines[4].startswith('quote"d ')


def test_ls_metadata_only_file(write):
    path = write("meta.safetensors",
                 safetensors_bytes([], b"", metadata={"a": "b"}))
    assert run("ls", path).returncode == 0


# --------------------------------------------------------------------- info

def test_info_text():
    result = run("info", EXAMPLE)
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    size = os.path.getsize(EXAMPLE)
    expected_lines = [
        rf"File size: +{size} bytes",
        rf"Header size: +{EXAMPLE_HEADER_SIZE} bytes",
        rf"Data start: +{EXAMPLE_DATA_START}",
        r"Tensors: +6",
        r"Tensor bytes: +222",
        r"Dtypes: +BOOL 1, F16 1, BF16 1, F32 1, F64 1, I64 1",
        r"Metadata:",
        r"  description: +safetensors-glib example",
        r"  format: +pt",
    ]
    lines = text.splitlines()
    assert len(lines) == len(expected_lines), text
    for line, pattern in zip(lines, expected_lines):
        assert re.fullmatch(pattern, line), (line, pattern)


@pytest.mark.parametrize("extra", [[], ["--no-mmap"]])
def test_info_json(extra):
    result = run("info", "--json", EXAMPLE, *extra)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info == {
        "file_size": os.path.getsize(EXAMPLE),
        "header_size": EXAMPLE_HEADER_SIZE,
        "data_start": EXAMPLE_DATA_START,
        "n_tensors": 6,
        "tensor_bytes": 222,
        "dtypes": {"BOOL": 1, "F16": 1, "BF16": 1, "F32": 1, "F64": 1, "I64": 1},
        "metadata": EXAMPLE_METADATA,
    }


def test_info_empty_file(write):
    path = write("none.safetensors", safetensors_bytes([], b""))
    text = run("info", path).stdout.decode()
    assert re.search(r"^Tensors: +0$", text, re.M)
    assert re.search(r"^Dtypes: +none$", text, re.M)
    assert re.search(r"^Metadata: +none$", text, re.M)
    info = json.loads(run("info", "--json", path).stdout)
    assert info["n_tensors"] == 0
    assert info["dtypes"] == {}
    assert info["metadata"] == {}


def test_info_counts_dtypes(write):
    tensors = [("a", "F32", [2], [0, 8]), ("b", "F32", [1], [8, 12]),
               ("c", "U8", [3], [12, 15])]
    path = write("counts.safetensors", safetensors_bytes(tensors, bytes(15)))
    info = json.loads(run("info", "--json", path).stdout)
    assert info["dtypes"] == {"F32": 2, "U8": 1}
    assert info["tensor_bytes"] == 15


def test_info_awkward_metadata(write):
    metadata = {"multi": "line\none", "quote": 'say "hi"', "\u00e9": "\u2603",
                "": "empty key"}
    path = write("meta.safetensors", safetensors_bytes([], b"", metadata=metadata))
    result = run("info", "--json", path, env=c_locale_env())
    assert json.loads(result.stdout)["metadata"] == metadata
    text = run("info", path).stdout.decode()
    assert '  "multi":' not in text
    assert '"line\\none"' in text
    assert "line\none" not in text


# ------------------------------------------------------------------- header

@pytest.mark.parametrize("extra", [[], ["--no-mmap"]])
def test_header_is_exact(extra):
    result = run("header", EXAMPLE, *extra)
    assert result.returncode == 0, result.stderr
    stored = example_header_bytes()
    assert stored.endswith(b" ")  # the example has padding to trim
    assert result.stdout == stored.rstrip(b" ") + b"\n"
    header = json.loads(result.stdout)
    assert header["__metadata__"] == EXAMPLE_METADATA


def test_header_keeps_formatting(write):
    # Whitespace and escapes inside the JSON are kept byte for byte; only
    # the trailing padding goes.
    text = ('{ "a" : {"dtype":"U8", "shape":[2],\n "data_offsets":[0,2]},'
            ' "\\u00e9\\n":{"dtype":"U8","shape":[],"data_offsets":[2,3]} }')
    path = write("spaced.safetensors", raw_file(text + " \n\t  ", b"abc"))
    result = run("header", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == text.encode() + b"\n"


def test_header_of_invalid_file(write):
    path = write("short.safetensors", b"\x00\x01")
    result = run("header", path)
    assert result.returncode == 1
    assert result.stdout == b""


# ----------------------------------------------------------------- validate

def invalid_files():
    """name -> (content, expected code)."""
    u8 = lambda name, begin, end: (name, "U8", [end - begin], [begin, end])
    return {
        "overlap": (safetensors_bytes([u8("a", 0, 4), ("b", "U8", [4], [2, 6])],
                                      bytes(6)), "invalid-offset"),
        "hole": (safetensors_bytes([u8("a", 0, 4), u8("b", 5, 6)], bytes(6)),
                 "invalid-offset"),
        "four-bytes": (b"\x08\x00\x00\x00", "header-too-small"),
        "empty": (b"", "header-too-small"),
        "trailing-byte": (safetensors_bytes([u8("a", 0, 4)], bytes(5)),
                          "metadata-incomplete-buffer"),
        "missing-data": (safetensors_bytes([u8("a", 0, 4)], bytes(3)),
                         "metadata-incomplete-buffer"),
        "too-large": (struct.pack("<Q", 100_000_001) + b"{}", "header-too-large"),
        "past-end": (struct.pack("<Q", 64) + b"{}      ", "invalid-header-length"),
        "not-utf8": (raw_file(b'{"\xff":{}}      '), "invalid-header"),
        "not-json": (raw_file("{,}     "), "invalid-json"),
        "bad-dtype": (safetensors_bytes([("a", "F128", [1], [0, 16])], bytes(16)),
                      "invalid-json"),
        "wrong-size": (safetensors_bytes([("a", "F32", [2], [0, 4])], bytes(4)),
                       "tensor-invalid-info"),
        "duplicate": (raw_file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                               '"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}',
                               bytes(2)), "duplicate-name"),
    }


@pytest.mark.parametrize("extra", [[], ["--no-mmap"]])
def test_validate_valid(extra):
    result = run("validate", EXAMPLE, *extra)
    assert result.returncode == 0, result.stderr
    assert result.stdout == EXAMPLE.encode() + b": OK\n"
    assert result.stderr == b""


def test_validate_quiet_valid():
    result = run("validate", "--quiet", EXAMPLE)
    assert result.returncode == 0
    assert result.stdout == b""
    assert run("validate", "-q", EXAMPLE).stdout == b""


@pytest.mark.parametrize("extra", [[], ["--no-mmap"]])
@pytest.mark.parametrize("name", sorted(invalid_files()))
def test_validate_invalid(write, name, extra):
    content, code = invalid_files()[name]
    path = write(name + ".safetensors", content)
    result = run("validate", path, *extra)
    assert result.returncode == 1
    assert result.stderr == b""
    line = result.stdout.decode()
    prefix = f"{path}: {code}: "
    assert line.startswith(prefix), line
    assert line.endswith("\n") and line.count("\n") == 1
    message = line[len(prefix):-1]
    assert message
    # The library starts its messages with the file name; the tool does
    # not repeat it.
    assert path not in message


def test_validate_missing_file(tmp_path):
    path = str(tmp_path / "missing.safetensors")
    result = run("validate", path)
    assert result.returncode == 1
    assert result.stdout.decode().startswith(f"{path}: not-found: ")


def test_validate_directory(tmp_path):
    result = run("validate", tmp_path)
    assert result.returncode == 1
    assert result.stdout.decode().startswith(f"{tmp_path}: is-directory: ")


def test_validate_several(write, tmp_path):
    bad = write("bad.safetensors", b"\x00" * 4)
    missing = str(tmp_path / "missing.safetensors")
    result = run("validate", EXAMPLE, bad, missing, EXAMPLE)
    assert result.returncode == 1
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 4
    assert lines[0] == f"{EXAMPLE}: OK"
    assert lines[1].startswith(f"{bad}: header-too-small: ")
    assert lines[2].startswith(f"{missing}: not-found: ")
    assert lines[3] == f"{EXAMPLE}: OK"

    quiet = run("validate", "--quiet", EXAMPLE, bad, missing, EXAMPLE)
    assert quiet.returncode == 1
    assert quiet.stdout.decode().splitlines() == lines[1:3]


def test_validate_json(write, tmp_path):
    bad = write("overlap.safetensors", invalid_files()["overlap"][0])
    missing = str(tmp_path / "missing.safetensors")
    result = run("validate", "--json", EXAMPLE, bad, missing)
    assert result.returncode == 1
    reports = json.loads(result.stdout)
    assert [r["file"] for r in reports] == [EXAMPLE, bad, missing]
    assert reports[0] == {"file": EXAMPLE, "valid": True, "code": None, "message": None}
    assert reports[1]["valid"] is False
    assert reports[1]["code"] == "invalid-offset"
    assert reports[1]["message"] and bad not in reports[1]["message"]
    assert reports[2]["valid"] is False
    assert reports[2]["code"] == "not-found"

    # The text report carries the same message.
    text = run("validate", bad).stdout.decode()
    assert text == f"{bad}: invalid-offset: {reports[1]['message']}\n"

    valid = run("validate", "--json", EXAMPLE)
    assert valid.returncode == 0
    assert json.loads(valid.stdout) == [reports[0]]

    quiet = run("validate", "--json", "--quiet", EXAMPLE, bad)
    assert [r["file"] for r in json.loads(quiet.stdout)] == [bad]
    assert json.loads(run("validate", "--json", "-q", EXAMPLE).stdout) == []


def test_validate_uri_argument():
    uri = "file://" + os.path.abspath(EXAMPLE)
    result = run("validate", uri)
    assert result.returncode == 0
    assert result.stdout == uri.encode() + b": OK\n"


# ------------------------------------------------- errors of other commands

@pytest.mark.parametrize("command, extra", [
    ("ls", []), ("ls", ["--json"]), ("info", []), ("info", ["--json"]),
    ("header", []), ("ls", ["--no-mmap"]),
])
def test_invalid_file_is_reported_once(write, command, extra):
    path = write("overlap.safetensors", invalid_files()["overlap"][0])
    result = run(command, path, *extra)
    assert result.returncode == 1
    if "--json" in extra:
        # The error again, for scripts, with validate's code.
        assert json.loads(result.stdout) == {"error": {
            "file": path, "code": "invalid-offset",
            "message": result.stderr.decode().split(": ", 2)[2].rstrip("\n")}}
    else:
        assert result.stdout == b""
    err = result.stderr.decode()
    assert err.startswith(f"safetensors-tool: {path}: ")
    assert err.count(path) == 1
    assert err.endswith("\n") and err.count("\n") == 1
    assert "CRITICAL" not in err and "WARNING" not in err


@pytest.mark.parametrize("command", ["ls", "info", "header"])
def test_missing_file(tmp_path, command):
    path = str(tmp_path / "missing.safetensors")
    result = run(command, path)
    assert result.returncode == 1
    assert result.stderr.decode().startswith(f"safetensors-tool: {path}: ")
