"""Tests of the read-only commands given the index of a sharded checkpoint
(model.safetensors.index.json): ls, info, checksum, dump and diff read it
as the file merging its shards would be; validate checks it with every
shard.

Run by meson (suite "tool") with Debian's /usr/bin/python3 -m pytest. The
shards are made by `safetensors-tool split`, the merged file by `merge`.
"""
import json
import os
import shutil
import subprocess

import pytest

TOOL = os.environ["SAFETENSORS_TOOL"]
DATA = os.environ["SAFETENSORS_TEST_DATA"]
EXAMPLE = os.path.join(DATA, "example.safetensors")

# name -> (dtype, shape, n_bytes) of example.safetensors
EXAMPLE_TENSORS = {
    "step": ("I64", [], 8),
    "embedding.bias": ("F64", [6], 48),
    "hello": ("F32", [4, 4], 64),
    "embedding.weight": ("BF16", [8, 6], 96),
    "empty": ("F16", [0, 3], 0),
    "mask": ("BOOL", [2, 3], 6),
}
EXAMPLE_METADATA = {"description": "safetensors-glib example", "format": "pt"}


def run(*args):
    return subprocess.run([TOOL, *map(str, args)], capture_output=True, timeout=60)


def ok(*args):
    result = run(*args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    return result


def one_error_line(result, arg):
    """The error is one `safetensors-tool: ARG: message` line."""
    assert result.returncode == 1
    err = result.stderr.decode()
    assert err.startswith(f"safetensors-tool: {arg}: ")
    assert err.count("\n") == 1 and err.endswith("\n")
    assert "CRITICAL" not in err and "WARNING" not in err
    return err[len(f"safetensors-tool: {arg}: "):-1]


@pytest.fixture
def sharded(tmp_path):
    """The example split into three shards: returns (folder, index path)."""
    folder = tmp_path / "shards"
    ok("split", "--max-shard-size", "100B", EXAMPLE, folder)
    index = folder / "example.safetensors.index.json"
    assert index.exists()
    return folder, str(index)


def shard_names(index):
    with open(index) as f:
        return sorted(set(json.load(f)["weight_map"].values()))


# ---------------------------------------------------------------- ls


def test_ls_json(sharded):
    folder, index = sharded
    tensors = json.loads(ok("ls", "--json", index).stdout)
    assert {t["name"]: (t["dtype"], t["shape"], t["n_bytes"]) for t in tensors} == \
        EXAMPLE_TENSORS
    shards = shard_names(index)
    assert len(shards) == 3
    # Shard by shard, in name order; each entry as `ls` of its shard prints it.
    assert [t["shard"] for t in tensors] == sorted(t["shard"] for t in tensors)
    for shard in shards:
        own = json.loads(ok("ls", "--json", folder / shard).stdout)
        listed = [{k: v for k, v in t.items() if k != "shard"}
                  for t in tensors if t["shard"] == shard]
        assert listed == own


def test_ls_text_has_a_shard_column(sharded):
    folder, index = sharded
    lines = ok("ls", index).stdout.decode().splitlines()
    assert len(lines) == len(EXAMPLE_TENSORS)
    by_name = {line.split()[0]: line.split()[-1] for line in lines}
    with open(index) as f:
        assert by_name == json.load(f)["weight_map"]


# ---------------------------------------------------------------- info


def test_info_json(sharded):
    folder, index = sharded
    info = json.loads(ok("info", "--json", index).stdout)
    shards = shard_names(index)
    assert info["n_shards"] == 3
    assert [s["file"] for s in info["shards"]] == shards
    for s in info["shards"]:
        assert s["file_size"] == os.path.getsize(folder / s["file"])
        own = json.loads(ok("info", "--json", folder / s["file"]).stdout)
        assert (s["n_tensors"], s["tensor_bytes"]) == (own["n_tensors"], own["tensor_bytes"])
    assert info["total_size"] == 222
    assert info["n_tensors"] == 6
    assert info["tensor_bytes"] == 222
    assert info["metadata"] == EXAMPLE_METADATA
    # What the merged file holds.
    example = json.loads(ok("info", "--json", EXAMPLE).stdout)
    for key in ("n_tensors", "tensor_bytes", "dtypes", "metadata"):
        assert info[key] == example[key]
    assert set(info) == {"n_shards", "shards", "total_size", "n_tensors", "tensor_bytes",
                         "dtypes", "metadata"}


def test_info_text(sharded):
    _, index = sharded
    text = ok("info", index).stdout.decode()
    assert text.startswith("Shards:        3\n")
    assert "Total size:    222 bytes\n" in text
    assert "Tensors:       6\n" in text
    assert "Dtypes:        BOOL 1, F16 1, BF16 1, F32 1, F64 1, I64 1\n" in text
    assert "  format:       pt\n" in text


def test_info_shards_with_different_metadata(sharded):
    folder, index = sharded
    ok("meta", folder / shard_names(index)[0], "set", "format", "np")
    result = run("info", "--json", index)
    message = one_error_line(result, index)
    assert message == "metadata “format” differs between shards"
    assert json.loads(result.stdout)["error"]["code"] == "invalid-data"
    # Listing and checksums do not need the metadata.
    ok("ls", index)
    ok("checksum", index)


# ---------------------------------------------------------------- checksum


def test_checksum_equals_merged_file(sharded, tmp_path):
    _, index = sharded
    merged = tmp_path / "merged.safetensors"
    ok("merge", index, merged)
    for extra in ([], ["--json"]):
        of_index = ok("checksum", *extra, index).stdout
        assert of_index == ok("checksum", *extra, merged).stdout
        assert of_index == ok("checksum", *extra, EXAMPLE).stdout
    entries = json.loads(ok("checksum", "--json", index).stdout)
    assert [e["name"] for e in entries] == sorted(EXAMPLE_TENSORS)


# ---------------------------------------------------------------- dump, diff


@pytest.mark.parametrize("name", sorted(EXAMPLE_TENSORS))
def test_dump_of_index(sharded, name):
    _, index = sharded
    assert ok("dump", "--json", index, name).stdout == ok("dump", "--json", EXAMPLE, name).stdout


def test_dump_missing_tensor(sharded):
    _, index = sharded
    result = run("dump", "--json", index, "nope")
    one_error_line(result, index)
    assert json.loads(result.stdout)["error"]["code"] == "tensor-not-found"


def test_diff_index_and_merged_file(sharded, tmp_path):
    _, index = sharded
    assert ok("diff", index, EXAMPLE).stdout == b""
    changed = tmp_path / "changed.safetensors"
    shutil.copyfile(EXAMPLE, changed)
    ok("rm", changed, "step")
    ok("meta", changed, "set", "format", "np")
    result = run("diff", "--json", index, changed)
    assert result.returncode == 1
    assert json.loads(result.stdout) == {
        "tensors": [{"name": "step", "change": "removed"}],
        "metadata": [{"key": "format", "change": "changed", "value": ["pt", "np"]}],
        "equal": False,
    }


# ---------------------------------------------------------------- validate


def test_validate_json(sharded):
    _, index = sharded
    assert json.loads(ok("validate", "--json", index).stdout) == [
        {"file": index, "valid": True, "code": None, "message": None}]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("command", [["ls"], ["info"], ["checksum"], ["dump", "hello"]])
def test_missing_index(tmp_path, command):
    missing = str(tmp_path / "model.safetensors.index.json")
    result = run(command[0], "--json", missing, *command[1:])
    assert one_error_line(result, missing) == "No such file or directory"
    assert json.loads(result.stdout) == {"error": {
        "file": missing, "code": "not-found", "message": "No such file or directory"}}


@pytest.mark.parametrize("command", [["ls"], ["info"], ["checksum"], ["dump", "hello"],
                                     ["diff", EXAMPLE]])
def test_missing_shard(sharded, command):
    folder, index = sharded
    shard = shard_names(index)[-1]
    os.unlink(folder / shard)
    result = run(command[0], index, *command[1:])
    message = one_error_line(result, index)
    assert shard in message
    assert result.stdout == b""


def test_not_an_index(tmp_path):
    index = tmp_path / "model.safetensors.index.json"
    index.write_text('{"weight_map": []}')
    for command in ("ls", "info", "checksum"):
        one_error_line(run(command, index), str(index))
