#!/usr/bin/env bash
# Installs what building and testing need, builds, and runs every test
# suite (c, python, javascript, vala, docs, tool, crash) with meson.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

./tools/setup.sh --test
meson test -C _build --print-errorlogs --num-processes 2 "$@"
