#!/usr/bin/env bash
# Runs the C suite under valgrind's memcheck with the `valgrind` test setup
# of the top-level meson.build: any memory error or definite leak fails the
# test.
#
#   tools/valgrind.sh [BUILDDIR] [-- extra `meson test` arguments]
#
# BUILDDIR defaults to _build, which is configured and built when needed.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

builddir=_build
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  builddir=$1
  shift
fi
if [ "${1:-}" = "--" ]; then
  shift
fi

if ! command -v valgrind >/dev/null; then
  echo "valgrind is not installed (apt install valgrind)" >&2
  exit 1
fi

if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir"
fi
meson compile -C "$builddir"

exec meson test -C "$builddir" --setup=valgrind --suite c --print-errorlogs --num-processes 2 "$@"
