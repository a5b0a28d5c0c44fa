#!/usr/bin/env bash
# Runs the benchmarks against the build in _build (run tools/setup.sh first).
# Each prints its figures as ratios against a baseline measured in the same
# run. Needs ~1.1 GB of free space in $TMPDIR (default /tmp).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
meson compile -C _build
for b in bench-open bench-read bench-write bench-edit; do
  echo "== $b"
  "_build/tests/bench/$b"
done
echo "== bench-torch"
/usr/bin/python3 tests/bench/bench-torch.py _build/tools/safetensors-tool
echo "== bench-numpy (see its header for what it measures)"
GI_TYPELIB_PATH=_build/safetensors-glib LD_LIBRARY_PATH=_build/safetensors-glib \
PYTHONPATH=_build/tests/python/pyoverrides /usr/bin/python3 tests/bench/bench-numpy.py || true
