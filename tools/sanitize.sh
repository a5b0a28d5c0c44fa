#!/usr/bin/env bash
# Builds the library and the C tests with AddressSanitizer and
# UndefinedBehaviorSanitizer in their own build directory and runs the C
# suite there. Any report is fatal: -fno-sanitize-recover=all turns UBSan's
# warnings into aborts, and ASan's leak checker fails a test that leaks.
#
#   tools/sanitize.sh [BUILDDIR] [-- extra `meson test` arguments]
#
# BUILDDIR defaults to _build-asan. Set CC to pick the compiler (gcc and
# clang both work).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

builddir=_build-asan
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  builddir=$1
  shift
fi
if [ "${1:-}" = "--" ]; then
  shift
fi

if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" \
    -Db_sanitize=address,undefined \
    -Db_lundef=false \
    -Dc_args=-fno-sanitize-recover=all \
    -Dintrospection=disabled \
    -Dvapi=disabled \
    -Ddocs=disabled
fi
meson compile -C "$builddir"

# detect_leaks is ASan's default on Linux; spelled out so that a caller's
# environment cannot turn it off by accident. GLib's type system and
# one-time caches are reachable at exit, so they are not leaks to LSan.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"
# Under ASan, glibc's MALLOC_CHECK_ (set by the test environment) is moot.
exec meson test -C "$builddir" --suite c --print-errorlogs --num-processes 2 "$@"
