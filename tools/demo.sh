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

step () { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$tool" info "$example"
step "$tool" ls "$example"
step "$tool" validate "$example"

# A damaged copy: one byte missing at the end.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c -1 "$example" > "$work/broken.safetensors"
step "$tool" validate "$example" "$work/broken.safetensors" || echo "(exit status $?: the damaged copy was caught)"

# Editing in place: a copy of the example, edited without rewriting it.
model="$work/model.safetensors"
cp "$example" "$model"
/usr/bin/python3 -c 'import numpy as np, sys; np.save(sys.argv[1], np.linspace(0, 1, 4096, dtype="<f4").reshape(64, 64))' "$work/extra.npy"
step "$tool" du "$model"
step "$tool" add --stats "$model" extra "$work/extra.npy"
step "$tool" mv --stats "$model" hello greeting
step "$tool" meta "$model" set demo "edited in place"
step "$tool" rm --keep-free --stats "$model" embedding.weight
step "$tool" du "$model"
step "$tool" compact --stats "$model"
step "$tool" ls "$model"
step "$tool" validate "$model"

printf '\n\033[1m$ /usr/bin/python3  # zero-copy NumPy view through GObject-Introspection\033[0m\n'
GI_TYPELIB_PATH="$top/_build/safetensors-glib${GI_TYPELIB_PATH:+:$GI_TYPELIB_PATH}" \
LD_LIBRARY_PATH="$top/_build/safetensors-glib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
/usr/bin/python3 - "$example" <<'PY'
import sys
import gi
gi.require_version("Safetensors", "1")
from gi.repository import Safetensors
import numpy as np

f = Safetensors.File.new_for_path(sys.argv[1], Safetensors.OpenFlags.NONE)
print("tensors:", f.get_tensor_names())
print("metadata:", f.get_metadata())
hello = f.lookup("hello")
view = np.frombuffer(hello.get_bytes(None).get_data(), dtype="<f4").reshape(hello.get_shape())
print("hello =\n", view)
part, shape = hello.read_slice(Safetensors.Slice.parse("1:3, ::2"), None)
print("hello[1:3, ::2] =\n", np.frombuffer(part.get_data(), dtype="<f4").reshape(shape))
PY
