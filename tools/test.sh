#!/usr/bin/env bash
# Installs what building and testing need, builds, and runs every test
# suite (c, python, javascript, vala, docs, tool) with meson. Extra
# arguments go to `meson test` (e.g. --suite c, or --setup=valgrind).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

./tools/setup.sh --test

status=0
meson test -C _build --print-errorlogs --num-processes 2 "$@" || status=$?

# A few seconds of each fuzz target (clang + libFuzzer), unless a subset of
# the suites was asked for. Long runs: tools/fuzz.sh SECONDS.
if [ "$#" -eq 0 ] && command -v clang >/dev/null; then
  ./tools/fuzz.sh 5 || status=$?
fi

# One closing line in the plain "N passed, N failed" form.
log=_build/meson-logs/testlog.json
if [ -f "$log" ]; then
  passed=$(grep -c '"result": "OK"' "$log" || true)
  failed=$(grep -c -E '"result": "(FAIL|ERROR|TIMEOUT|UNEXPECTEDPASS)"' "$log" || true)
  skipped=$(grep -c '"result": "SKIP"' "$log" || true)
  echo "meson: $passed passed, $failed failed, $skipped skipped"
fi
exit "$status"
