#!/usr/bin/env bash
# Shared set-up of demo.sh and test.sh: install missing Debian packages (when
# root), configure meson into _build, build. Idempotent and quick when
# nothing changed.
#
#   tools/setup.sh [--test]     --test also installs what the test suites need
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

build_packages=(
  meson ninja-build pkg-config gcc
  libglib2.0-dev libjson-glib-dev
  gobject-introspection libgirepository1.0-dev
  valac gi-docgen
  python3-gi python3-numpy gjs
  libzip-dev
)
test_packages=(
  python3-pytest python3-hypothesis
  valgrind
  clang libclang-rt-14-dev
)

wanted=("${build_packages[@]}")
if [ "${1:-}" = "--test" ]; then
  wanted+=("${test_packages[@]}")
fi

missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing Debian packages: ${missing[*]}" >&2
    echo "Install them (as root: apt-get install ${missing[*]}) and run again." >&2
    exit 1
  fi
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine has no package lists yet; update once, then retry.
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [ ! -f _build/build.ninja ]; then
  meson setup _build --prefix=/usr/local
fi
meson compile -C _build
