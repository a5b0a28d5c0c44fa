#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer, and runs each in turn for a while.
#
#   tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; TARGET is fuzz-header, fuzz-slice,
# fuzz-npy, fuzz-pickle, fuzz-zip or fuzz-edit (all six by default). The build directory is _build-fuzz, or
# $FUZZ_BUILDDIR. Each target keeps the corpus it grows in
# <builddir>/tests/fuzz/work/<target>/corpus, so later runs start from it;
# a crashing input is saved in .../artifacts and ends the script with an
# error. Extra libFuzzer options can be given in $FUZZ_ARGS.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

seconds=${1:-60}
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(fuzz-header fuzz-slice fuzz-npy fuzz-pickle fuzz-zip fuzz-edit)
fi
builddir=${FUZZ_BUILDDIR:-_build-fuzz}

if ! command -v clang >/dev/null; then
  echo "tools/fuzz.sh needs clang with libFuzzer (apt install clang)" >&2
  exit 1
fi

if [ ! -f "$builddir/build.ninja" ]; then
  CC=clang meson setup "$builddir" \
    -Dfuzzing=true \
    -Dintrospection=disabled \
    -Dvapi=disabled \
    -Ddocs=disabled
fi
# Only what fuzzing needs: the rest of the tree may be mid-change.
meson compile -C "$builddir" fuzz-seeds "${targets[@]}"

fuzzdir=$builddir/tests/fuzz
summary=()
status=0
for target in "${targets[@]}"; do
  # One fuzzer at a time: each already keeps a core busy.
  # shellcheck disable=SC2086
  if line=$(tests/fuzz/run-fuzzer.sh "$fuzzdir/$target" "$seconds" \
              "$fuzzdir/seeds/$target" "$fuzzdir/work/$target" ${FUZZ_ARGS:-}); then
    summary+=("$line")
  else
    status=1
    summary+=("$line (FAILED)")
  fi
done

echo
echo "Executions per target (${seconds}s each):"
printf '  %s\n' "${summary[@]}"
exit "$status"
