#!/usr/bin/env bash
# Installs what building and testing need, builds, and runs every test
# suite (c, python, javascript, vala, docs, tool) with meson, then, without
# arguments, a fuzz smoke run and the C suite under ASan + UBSan. Extra
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

# The C suite again under AddressSanitizer and UndefinedBehaviorSanitizer
# (in _build-asan; about 2 minutes the first time, 40 s after), unless a
# subset of the suites was asked for. Its results stay out of the count
# below. (valgrind, --setup=valgrind, takes longer and waits forever in
# test-edit: valgrind 3.19 does not know that F_OFD_SETLKW blocks.)
if [ "$#" -eq 0 ]; then
  ./tools/sanitize.sh || status=$?
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
