#!/usr/bin/env bash
# The product in under a minute, on the example data shipped in tests/data:
# inspect and validate a file with the CLI, then read it from Python through
# GObject-Introspection with zero-copy NumPy views.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

./tools/setup.sh >/dev/null

tool=_build/tools/safetensors-tool
example=tests/data/example.safetensors

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step () { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

# A PyTorch checkpoint converted without Python: the pickle is read by a
# whitelisting reader that executes nothing; the tied weight is kept once.
step "$tool" import-pytorch tests/data/torch/model.pt "$work/model.safetensors"
step "$tool" ls "$work/model.safetensors"
step "$tool" meta "$work/model.safetensors"

step "$tool" info "$example"
step "$tool" ls "$example"
step "$tool" validate "$example"

# A damaged copy: one byte missing at the end.
head -c -1 "$example" > "$work/broken.safetensors"
step "$tool" validate "$example" "$work/broken.safetensors" || echo "(exit status $?: the damaged copy was caught)"

# Editing in place: a copy of the example, edited without rewriting it.
# The converted checkpoint, edited in place: each edit costs about what it
# changes (--stats), the keep-free policy leaves freed space as holes.
model="$work/model.safetensors"
/usr/bin/python3 -c 'import numpy as np, sys; np.save(sys.argv[1], np.linspace(0, 1, 4096, dtype="<f4").reshape(64, 64))' "$work/extra.npy"
step "$tool" du "$model"
step "$tool" add --stats "$model" adapter.weight "$work/extra.npy"
step "$tool" mv --stats "$model" fc.weight head.weight
step "$tool" meta "$model" set demo "edited in place"
step "$tool" rm --keep-free --stats "$model" base_t c64_t
step "$tool" du "$model"
step "$tool" compact --stats "$model"
step "$tool" ls "$model"
step "$tool" validate "$model"

# Sharded: split into shards with an index, which the tools read as one
# checkpoint.
step "$tool" split --max-shard-size 10KB "$model" "$work/sharded"
step "$tool" validate "$work/sharded/model.safetensors.index.json"

printf '\n\033[1m$ /usr/bin/python3  # the seed example: NumPy views of the file, edited in place\033[0m\n'
cp "$example" "$work/seed.safetensors"
GI_TYPELIB_PATH="$top/_build/safetensors-glib${GI_TYPELIB_PATH:+:$GI_TYPELIB_PATH}" \
LD_LIBRARY_PATH="$top/_build/safetensors-glib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
PYTHONPATH="$top/_build/tests/python/pyoverrides${PYTHONPATH:+:$PYTHONPATH}" \
/usr/bin/python3 - "$work/seed.safetensors" <<'PY'
import sys
import gi
gi.require_version("Safetensors", "1")
from gi.repository import Safetensors
import numpy as np

my_array_1 = np.ones((2, 2), dtype=np.float32)
my_array_2 = np.arange(4, dtype=np.int64)
my_array_3 = np.zeros((2, 2), dtype=np.float16)

with Safetensors.File.open(sys.argv[1], "r+") as sf:
    arrays = sf.as_numpy()
    arrays["hello"][3, :] += 420.69
    arrays["world"] = arrays["hello"][0:2] * 10
    arrays.update({"q": my_array_1, "k": my_array_2, "v": my_array_3})
    del arrays["v"]

with Safetensors.File.open(sys.argv[1]) as sf:
    arrays = sf.as_numpy()
    print("tensors:", list(arrays))
    print("hello =\n", arrays["hello"])
    print("world =\n", arrays["world"])
PY
step "$tool" validate "$work/seed.safetensors"
