"""Tests of safetensors-tool import-pytorch on sharded checkpoints
(pytorch_model.bin.index.json), and of its --json output.

Run by meson (suite "tool") with Debian's /usr/bin/python3 -m pytest. The
shards are built here without torch: copies of checkpoints of
tests/data/torch (made by its generate.py) whose tensor names do not clash,
named as Hugging Face names shards, and an index written by hand from
tests/data/torch/expected.json.
"""
import json
import os
import shutil
import struct
import subprocess
import threading

import pytest

TOOL = os.environ["SAFETENSORS_TOOL"]
DATA = os.path.join(os.environ["SAFETENSORS_TEST_DATA"], "torch")

with open(os.path.join(DATA, "expected.json"), encoding="utf-8") as f:
    CASES = json.load(f)

DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
               "F8_E4M3FNUZ": 1, "F8_E5M2FNUZ": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "C64": 8, "F64": 8, "I64": 8, "U64": 8}

# The shards: checkpoint, and the name Hugging Face gives it.
SHARDS = [
    ("model.pt", "pytorch_model-00001-of-00003.bin"),
    ("v3_dtypes.pt", "pytorch_model-00002-of-00003.bin"),
    ("tensor.pt", "pytorch_model-00003-of-00003.bin"),
]
OUTPUTS = ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
           "model-00003-of-00003.safetensors"]


def env():
    return {**os.environ, "LC_ALL": "C.UTF-8"}


def run(*args):
    return subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True,
                          env=env(), timeout=120)


def default_case(file):
    """What expected.json says importing @file with no option gives."""
    for case in CASES:
        if (case["file"] == file and case["key"] is None and not case["all"]
                and not case["extras_to_metadata"]):
            return case
    raise KeyError(file)


def names_in(file):
    """The tensors of a checkpoint: written ones, and names dropped as
    aliases of another (recorded in the metadata as removed → kept)."""
    case = default_case(file)
    written = [t["name"] for t in case["tensors"]]
    aliases = [k for k in case["metadata"] if k != "format"]
    return written, aliases


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        tensors[name] = (info["dtype"], info["shape"], data[8 + n + begin:8 + n + end])
    return tensors, metadata


def write_index(folder, weight_map, name="pytorch_model.bin.index.json", total_size=12345):
    path = folder / name
    path.write_text(json.dumps({"metadata": {"total_size": total_size},
                                "weight_map": weight_map}, indent=2))
    return path


@pytest.fixture
def sharded(tmp_path):
    """A sharded PyTorch checkpoint: (index, weight map)."""
    folder = tmp_path / "pt"
    folder.mkdir()
    weight_map = {}
    for file, shard in SHARDS:
        shutil.copyfile(os.path.join(DATA, file), folder / shard)
        written, aliases = names_in(file)
        for name in written + aliases:
            assert name not in weight_map
            weight_map[name] = shard
    return write_index(folder, weight_map), weight_map


def test_import(sharded, tmp_path):
    index, weight_map = sharded
    out = tmp_path / "out"
    result = run("import-pytorch", index, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert sorted(os.listdir(out)) == OUTPUTS + ["model.safetensors.index.json"]

    # Each shard converts as the checkpoint alone would, byte for byte.
    for (file, _), output in zip(SHARDS, OUTPUTS):
        alone = tmp_path / ("alone-" + output)
        assert run("import-pytorch", os.path.join(DATA, file), alone).returncode == 0
        assert (out / output).read_bytes() == alone.read_bytes(), output
        check = run("validate", out / output)
        assert check.returncode == 0, check.stdout + check.stderr

    # The index maps the tensors written, and only them: aliases are in
    # their shard's metadata. total_size is the sum of their sizes.
    written_index = json.loads((out / "model.safetensors.index.json").read_text())
    expected_map = {}
    total = 0
    for (file, _), output in zip(SHARDS, OUTPUTS):
        tensors, metadata = read_safetensors(out / output)
        for name, (dtype, shape, data) in tensors.items():
            count = 1
            for d in shape:
                count *= d
            assert len(data) == count * DTYPE_SIZES[dtype]
            expected_map[name] = output
            total += len(data)
        for alias in names_in(file)[1]:
            assert alias in metadata and alias not in tensors
    assert written_index == {"metadata": {"total_size": total}, "weight_map": expected_map}
    assert "lm_head.weight" in weight_map and "lm_head.weight" not in expected_map
    # Laid out like split's index.
    assert (out / "model.safetensors.index.json").read_text().startswith(
        '{\n  "metadata": {\n    "total_size": %d\n  },\n  "weight_map": {\n    "' % total)

    # The library's index reader agrees with index and shards.
    check = run("validate", out / "model.safetensors.index.json")
    assert check.returncode == 0, check.stdout + check.stderr
    merged = tmp_path / "merged.safetensors"
    assert run("merge", out / "model.safetensors.index.json", merged).returncode == 0
    assert sorted(read_safetensors(merged)[0]) == sorted(expected_map)


def test_import_into_existing_folder(sharded, tmp_path):
    index, _ = sharded
    out = tmp_path / "out"
    out.mkdir()
    (out / "other").write_text("kept")
    (out / OUTPUTS[0]).write_text("replaced")
    assert run("import-pytorch", index, out).returncode == 0
    assert sorted(os.listdir(out)) == OUTPUTS + ["model.safetensors.index.json", "other"]
    assert (out / "other").read_text() == "kept"
    assert read_safetensors(out / OUTPUTS[0])[0]


def fails(index, tmp_path, *words, existing=False):
    out = tmp_path / "out"
    if existing:
        out.mkdir(exist_ok=True)
        (out / OUTPUTS[0]).write_text("previous")
    result = run("import-pytorch", index, out)
    assert result.returncode == 1, result.stdout
    for word in words:
        assert word in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    # All or nothing: no shard, no index, no temporary folder.
    if existing:
        assert os.listdir(out) == [OUTPUTS[0]]
        assert (out / OUTPUTS[0]).read_text() == "previous"
    else:
        assert not out.exists()
    return result


def test_missing_shard(sharded, tmp_path):
    index, _ = sharded
    os.unlink(index.parent / SHARDS[2][1])
    fails(index, tmp_path, "shard “pytorch_model-00003-of-00003.bin”", "No such file")
    fails(index, tmp_path, "pytorch_model-00003-of-00003.bin", existing=True)


def test_tensor_in_the_wrong_shard(sharded, tmp_path):
    index, weight_map = sharded
    # "base" is in the first shard; the map says the second.
    weight_map = dict(weight_map, base=SHARDS[1][1])
    index = write_index(index.parent, weight_map, "wrong.index.json")
    fails(index, tmp_path, "tensor “base” is in shard “pytorch_model-00001-of-00003.bin”, "
          "but the weight map says “pytorch_model-00002-of-00003.bin”")
    fails(index, tmp_path, "“base”", existing=True)


def test_mapped_tensor_not_in_its_shard(sharded, tmp_path):
    index, weight_map = sharded
    index = write_index(index.parent, dict(weight_map, ghost=SHARDS[0][1]), "ghost.index.json")
    fails(index, tmp_path, "tensor “ghost” is not in shard “pytorch_model-00001-of-00003.bin”")
    # Listed under another shard, its own no longer named by the map.
    moved = dict(weight_map, tensor=SHARDS[0][1])
    index = write_index(index.parent, moved, "moved.index.json")
    fails(index, tmp_path,
          "tensor “tensor” is not in shard “pytorch_model-00001-of-00003.bin”")


def test_tensor_not_in_the_map(sharded, tmp_path):
    index, weight_map = sharded
    for missing in ("fc.bias", "lm_head.weight"):   # written, and an alias
        smaller = {k: v for k, v in weight_map.items() if k != missing}
        fails(write_index(index.parent, smaller, "small.index.json"), tmp_path,
              "tensor “%s” of shard “pytorch_model-00001-of-00003.bin” is not in the weight map"
              % missing)


def test_tensor_in_two_shards(sharded, tmp_path):
    index, weight_map = sharded
    # train.pt's state_dict holds the tensors of model.pt, the first shard:
    # naming it as a shard would write them twice.
    shutil.copyfile(os.path.join(DATA, "train.pt"), index.parent / "extra.bin")
    fails(write_index(index.parent, dict(weight_map, base="extra.bin"), "twice.index.json"),
          tmp_path, "is in shard “extra.bin”, but the weight map says "
          "“pytorch_model-00001-of-00003.bin”")
    # The same name twice in the map is refused by the parser.
    text = ('{"weight_map": {"tensor": "%s", "tensor": "extra.bin"}}' % SHARDS[2][1])
    (index.parent / "dup.index.json").write_text(text)
    fails(index.parent / "dup.index.json", tmp_path, "tensor “tensor” appears twice in the weight map")


@pytest.mark.parametrize("text, message", [
    ('{"weight_map": {"tensor": "%s",}}', "invalid JSON in index at byte"),
    ('{"weight_map": {"tensor": "%s"}} x', "invalid JSON in index at byte"),
    ('[]', "not a JSON object"),
    ('{"metadata": {}}', "no “weight_map” object"),
    ('{"weight_map": [], "x": "%s"}', "“weight_map” is not an object"),
    ('{"weight_map": {"tensor": 3}, "x": "%s"}', "the shard of tensor “tensor” is not a string"),
    ('{"weight_map": {"tensor": "../%s"}}', "is not a file in the index's folder"),
    ('{"weight_map": {"tensor": "/tmp/%s"}}', "is not a file in the index's folder"),
    ('{"metadata": {"total_size": 1.5}, "weight_map": {"tensor": "%s"}}',
     "“total_size” is not a non-negative integer"),
    ('{"metadata": {"total_size": -1}, "weight_map": {"tensor": "%s"}}',
     "“total_size” is not a non-negative integer"),
    ('{"metadata": {"total_size": "1"}, "weight_map": {"tensor": "%s"}}',
     "“total_size” is not a non-negative integer"),
    ('{"metadata": 1, "weight_map": {"tensor": "%s"}}', "“metadata” is not an object"),
    ('{"weight_map": {"tensor": "%s"}, "weight_map": {}}', "“weight_map” appears twice"),
])
def test_malformed_index(sharded, tmp_path, text, message):
    index, _ = sharded
    path = index.parent / "bad.index.json"
    path.write_text(text.replace("%s", SHARDS[2][1]))
    fails(path, tmp_path, message)


def test_index_metadata_and_other_members(sharded, tmp_path):
    index, weight_map = sharded
    # Other members and metadata keys are checked as JSON and ignored;
    # the input's total_size is not the output's.
    path = index.parent / "extra.index.json"
    path.write_text(json.dumps({"format": [1, {"a": None}],
                                "metadata": {"total_size": 0, "note": {"x": True}},
                                "weight_map": weight_map}))
    out = tmp_path / "out"
    assert run("import-pytorch", path, out).returncode == 0
    # "extra.index.json" → "extra.safetensors.index.json"
    assert sorted(os.listdir(out)) == sorted(OUTPUTS + ["extra.safetensors.index.json"])


def test_shard_names(tmp_path):
    # Converted as Hugging Face's convert script renames them.
    folder = tmp_path / "pt"
    folder.mkdir()
    shutil.copyfile(os.path.join(DATA, "tensor.pt"), folder / "weights.pt")
    out = tmp_path / "out"
    index = write_index(folder, {"tensor": "weights.pt"}, "my_pytorch_model.index.json")
    result = run("import-pytorch", index, out)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out)) == ["my_model.safetensors.index.json", "weights.safetensors"]

    # Two shards that would be written to one file.
    shutil.copyfile(os.path.join(DATA, "v3_dtypes.pt"), folder / "weights.bin")
    written, _ = names_in("v3_dtypes.pt")
    weight_map = {"tensor": "weights.pt", **{n: "weights.bin" for n in written}}
    (tmp_path / "clash").mkdir()
    fails(write_index(folder, weight_map, "clash.index.json"), tmp_path / "clash",
          "would be written to “weights.safetensors”")


def test_dry_run(sharded, tmp_path):
    index, _ = sharded
    out = tmp_path / "out"
    result = run("import-pytorch", "--dry-run", index, out)
    assert result.returncode == 0, result.stderr
    assert not out.exists()
    lines = result.stdout.splitlines()
    headings = [line for line in lines if line.startswith("Shard ")]
    assert headings == ["Shard %s → %s" % (shard, output)
                        for (_, shard), output in zip(SHARDS, OUTPUTS)]
    # Each shard's plan follows its heading, as for one checkpoint.
    first = lines.index(headings[0])
    model = json.loads(run("import-pytorch", "-n", "--json", os.path.join(DATA, "model.pt")).stdout)
    assert lines[first + 1] == "Tensors: 28 (%d bytes)" % model["tensor_bytes"]
    assert "  lm_head.weight  →  embed.weight" in lines
    assert lines[-1] == "Index model.safetensors.index.json: 3 shards, %d bytes of tensors" % (
        sum(json.loads(run("import-pytorch", "-n", "--json",
                           os.path.join(DATA, f)).stdout)["tensor_bytes"]
            for f, _ in SHARDS))
    # Without OUT too; and the checks run.
    assert run("import-pytorch", "-n", index).returncode == 0
    os.unlink(index.parent / SHARDS[1][1])
    result = run("import-pytorch", "-n", index)
    assert result.returncode == 1
    assert "pytorch_model-00002-of-00003.bin" in result.stderr


def check_plan_json(plan, case):
    """A plan object against what expected.json says is written."""
    expected = {t["name"]: t for t in case["tensors"]}
    assert [t["name"] for t in plan["tensors"]] != [] or expected == {}
    assert sorted(t["name"] for t in plan["tensors"]) == sorted(expected)
    for tensor in plan["tensors"]:
        assert set(tensor) == {"name", "dtype", "shape", "n_bytes"}
        assert tensor["dtype"] == expected[tensor["name"]]["dtype"]
        assert tensor["shape"] == expected[tensor["name"]]["shape"]
        count = 1
        for d in tensor["shape"]:
            count *= d
        assert tensor["n_bytes"] == count * DTYPE_SIZES[tensor["dtype"]]
    assert plan["tensor_bytes"] == sum(t["n_bytes"] for t in plan["tensors"])
    assert plan["metadata"] == case["metadata"]
    assert [[s["name"], s["reason"]] for s in plan["skipped"]] == case["skipped"]
    for alias in plan["aliases"]:
        assert set(alias) == {"name", "kept"}
        assert case["metadata"][alias["name"]] == alias["kept"]


def test_dry_run_json(sharded):
    index, _ = sharded
    result = run("import-pytorch", "--dry-run", "--json", index)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"index", "output_index", "total_size", "shards"}
    assert document["index"] == str(index)
    assert document["output_index"] is None
    assert [(s["file"], s["output"]) for s in document["shards"]] == [
        (shard, output) for (_, shard), output in zip(SHARDS, OUTPUTS)]
    for (file, _), shard in zip(SHARDS, document["shards"]):
        assert set(shard) == {"file", "output", "tensors", "tensor_bytes", "aliases", "skipped",
                              "stored", "metadata"}
        check_plan_json(shard, default_case(file))
    assert document["total_size"] == sum(s["tensor_bytes"] for s in document["shards"])
    assert document["shards"][0]["aliases"] == [{"name": "lm_head.weight", "kept": "embed.weight"}]


def test_import_json(sharded, tmp_path):
    index, _ = sharded
    out = tmp_path / "out"
    result = run("import-pytorch", "--json", index, out)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["output_index"] == str(out / "model.safetensors.index.json")
    written = json.loads((out / "model.safetensors.index.json").read_text())
    assert document["total_size"] == written["metadata"]["total_size"]


@pytest.mark.parametrize("case", [c for c in CASES if c["file"] in ("model.pt", "train.pt")],
                         ids=lambda c: " ".join(filter(None, [
                             c["file"], c["key"] and "--key " + c["key"],
                             c["all"] and "--all",
                             c["extras_to_metadata"] and "--extras-to-metadata"])))
def test_single_dry_run_json(case):
    args = []
    if case["key"] is not None:
        args += ["--key", case["key"]]
    if case["all"]:
        args.append("--all")
    if case["extras_to_metadata"]:
        args.append("--extras-to-metadata")
    result = run("import-pytorch", "-n", "--json", os.path.join(DATA, case["file"]), *args)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert set(plan) == {"file", "output", "tensors", "tensor_bytes", "aliases", "skipped",
                         "stored", "metadata"}
    assert plan["output"] is None
    check_plan_json(plan, case)
    # Values stored in the metadata are listed with their type.
    for stored in plan["stored"]:
        assert stored["name"] in case["metadata"]


def test_single_import_json(tmp_path):
    out = tmp_path / "out.safetensors"
    result = run("import-pytorch", "--json", os.path.join(DATA, "tensor.pt"), out)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["output"] == str(out)
    assert plan["tensors"] == [{"name": "tensor", "dtype": "I32", "shape": [3], "n_bytes": 12}]
    assert out.exists()


def test_progress_over_all_shards(sharded, tmp_path):
    index, _ = sharded
    total = json.loads(run("import-pytorch", "-n", "--json", index).stdout)["total_size"]
    master, slave = os.openpty()
    proc = subprocess.Popen([TOOL, "import-pytorch", str(index), str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=slave, env=env())
    os.close(slave)
    chunks = []

    def drain():
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    proc.communicate(timeout=120)
    reader.join(timeout=120)
    os.close(master)
    terminal = b"".join(chunks)
    assert proc.returncode == 0
    # One bar for all the shards, ending at their total.
    assert ("] %d bytes / %d bytes" % (total, total)).encode() in terminal, terminal
    assert terminal.endswith(b"\r\n")


def test_json_errors(sharded, tmp_path):
    """With --json, a failure is one line on stderr and the error object
    on stdout; skipped values are in the JSON, not on stderr."""
    index, _ = sharded
    os.unlink(index.parent / SHARDS[2][1])
    result = run("import-pytorch", "--json", index, tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    error = json.loads(result.stdout)["error"]
    assert (error["file"], error["code"]) == (str(index), "not-found")
    assert "pytorch_model-00003-of-00003.bin" in error["message"]

    result = run("import-pytorch", "--json", os.path.join(DATA, "nope.pt"), tmp_path / "x")
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["code"] == "not-found"

    result = run("import-pytorch", "--json", "--all", os.path.join(DATA, "train.pt"),
                 tmp_path / "train.safetensors")
    assert result.returncode == 0
    assert result.stderr == ""
    assert ["epoch", "int"] in [[s["name"], s["reason"]] for s in json.loads(result.stdout)["skipped"]]
