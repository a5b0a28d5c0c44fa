"""Tests of safetensors-tool's progress bars (import-pytorch, split, merge,
cat, extract, compact).

Run by meson (suite "tool") with Debian's /usr/bin/python3 -m pytest. The
bar goes to stderr, only when stderr is a terminal: these tests give the
tool a pseudo-terminal from Python's pty module (no `script` needed) as
its stderr and a pipe as its stdout, and compare with a pipe as stderr.
"""
import json
import os
import re
import struct
import subprocess
import threading
import time

import pytest

TOOL = os.environ["SAFETENSORS_TOOL"]
DATA = os.environ["SAFETENSORS_TEST_DATA"]
EXAMPLE = os.path.join(DATA, "example.safetensors")
MODEL_PT = os.path.join(DATA, "torch", "model.pt")

# " 42% [#####     ] 1.2 MiB / 2.9 MiB  3.4 MiB/s"
BAR = re.compile(rb"\r *\d{1,3}% \[[# ]+\] [\d.]+ (bytes?|[KMGT]iB) / [\d.]+ (bytes?|[KMGT]iB)"
                 rb"  [\d.]+ (bytes?|[KMGT]iB)/s")
FINAL = re.compile(rb"\r100% \[#+\] ([\d.]+ (bytes?|[KMGT]iB)) / \1  [\d.]+ (bytes?|[KMGT]iB)/s"
                   rb"  in \d+:\d\d *\r\n")


def env():
    return {**os.environ, "LC_ALL": "C.UTF-8"}


def run(*args):
    return subprocess.run([TOOL, *map(str, args)], capture_output=True, timeout=120, env=env())


def run_on_terminal(*args):
    """Runs the tool with a pseudo-terminal as stderr; returns (status,
    stdout, what the terminal got)."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([TOOL, *map(str, args)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=slave, env=env())
    finally:
        os.close(slave)
    chunks = []

    def drain():
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:   # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        stdout, _ = proc.communicate(timeout=120)
    finally:
        reader.join(timeout=120)
        os.close(master)
    return proc.returncode, stdout, b"".join(chunks)


def write_file(path, tensors):
    """A canonical file of U8 tensors: {name: bytes}."""
    header = {}
    offset = 0
    for name, data in sorted(tensors.items()):
        header[name] = {"dtype": "U8", "shape": [len(data)],
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name in sorted(tensors):
            f.write(tensors[name])


@pytest.fixture
def files(tmp_path):
    """The inputs of every command, and its arguments."""
    big = tmp_path / "big.safetensors"
    write_file(big, {"a": b"\x01" * (1 << 20), "b": b"\x02" * (1 << 20), "c": b"\x03" * 4096})
    other = tmp_path / "other.safetensors"
    write_file(other, {"d": b"\x04" * 1000})
    shards = tmp_path / "shards"
    assert run("split", "--max-shard-size", "1MiB", big, shards).returncode == 0
    return {
        "import-pytorch": ["import-pytorch", MODEL_PT, tmp_path / "model.safetensors"],
        "split": ["split", "--max-shard-size", "1MiB", big, tmp_path / "out"],
        "merge": ["merge", shards / "big.safetensors.index.json", tmp_path / "merged.safetensors"],
        "cat": ["cat", tmp_path / "cat.safetensors", big, other],
        "extract": ["extract", big, tmp_path / "extract.safetensors", "a", "c"],
    }


COMMANDS = ["import-pytorch", "split", "merge", "cat", "extract"]


@pytest.mark.parametrize("command", COMMANDS)
def test_no_progress_on_a_pipe(files, command):
    result = run(*files[command])
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""


@pytest.mark.parametrize("command", COMMANDS)
def test_progress_on_a_terminal(files, command):
    status, stdout, terminal = run_on_terminal(*files[command])
    assert status == 0, terminal
    # Percentage, bytes done and total, rate; the last line is complete
    # and ended, so that it stays on the screen.
    assert BAR.search(terminal), terminal
    assert FINAL.search(terminal), terminal
    assert terminal.endswith(b"\r\n")
    # Only stderr gets it: stdout stays what a script would read.
    assert b"%" not in stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_quiet_on_a_terminal(files, command):
    args = list(files[command])
    args.insert(1, "--quiet")
    status, _, terminal = run_on_terminal(*args)
    assert status == 0, terminal
    assert terminal == b""


def test_split_counts_every_shard(files, tmp_path):
    # 2 MiB in three shards: the bar ends at the total of all of them.
    status, _, terminal = run_on_terminal(*files["split"])
    assert status == 0
    assert re.search(rb"\r100% \[#+\] 2\.0 MiB / 2\.0 MiB ", terminal), terminal


def test_compact(tmp_path):
    path = tmp_path / "big.safetensors"
    write_file(path, {"a": b"\x01" * (1 << 20), "b": b"\x02" * (1 << 20)})
    assert run("rm", "--keep-free", path, "a").returncode == 0
    result = run("compact", path)
    assert result.returncode == 0
    assert result.stderr == b""

    write_file(path, {"a": b"\x01" * (1 << 20), "b": b"\x02" * (1 << 20)})
    assert run("rm", "--keep-free", path, "a").returncode == 0
    status, stdout, terminal = run_on_terminal("compact", "--stats", path)
    assert status == 0, terminal
    assert FINAL.search(terminal), terminal
    # The bytes the bar ends with are the ones --stats reports written.
    written = int(re.search(rb"written: (\d+) bytes", stdout).group(1))
    assert written > 0
    assert b"%" not in stdout

    assert run("rm", "--keep-free", path, "b").returncode == 0
    status, _, terminal = run_on_terminal("compact", "-q", path)
    assert status == 0
    assert terminal == b""


def test_redraws_are_rate_limited(tmp_path):
    path = tmp_path / "large.safetensors"
    write_file(path, {"x%d" % i: bytes([i]) * (4 << 20) for i in range(8)})
    start = time.monotonic()
    status, _, terminal = run_on_terminal("cat", tmp_path / "copy.safetensors", path)
    elapsed = time.monotonic() - start
    assert status == 0
    # 32 MiB in 4 MiB chunks: drawn at most every 100 ms, plus the first
    # and the last drawing.
    assert terminal.count(b"\r") <= elapsed * 10 + 3, terminal
    assert FINAL.search(terminal)


def test_failure_erases_the_bar(tmp_path):
    # A failure before any data is copied prints only the error.
    status, _, terminal = run_on_terminal("merge", tmp_path / "missing.index.json",
                                          tmp_path / "out.safetensors")
    assert status == 1
    assert b"%" not in terminal
    assert b"missing.index.json" in terminal
