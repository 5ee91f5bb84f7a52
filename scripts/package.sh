#!/usr/bin/env bash
# Builds the Debian packages with CPack: sacker_<version>_<arch>.deb (the command, man
# page, bash/zsh/fish completions, usr/share/doc/sacker/copyright; Depends from
# dpkg-shlibdeps) and sacker-dev_<version>_<arch>.deb (static libraries, headers, the
# CMake package).
#
#   bash scripts/package.sh [BUILD_DIR [OUT_DIR]]
#
# BUILD_DIR (default build) is configured first if it is not yet a CMake build tree
# (with the options given in $SACKER_CMAKE_ARGS), then built. The packages go to OUT_DIR
# (default BUILD_DIR/packages); their paths are printed, one a line. Nothing is installed
# on this machine: tests/install/deb_chroot_test.sh installs and removes the package for real
# in a fresh Debian root (ctest install.deb_chroot).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=${2:-$build/packages}
fail() { echo "package.sh: $*" >&2; exit 1; }
command -v dpkg-shlibdeps >/dev/null || fail "dpkg-shlibdeps is missing (apt-get install dpkg-dev; scripts/install-deps.sh --build-only)"

if [ ! -f "$build/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086 # SACKER_CMAKE_ARGS is a list of words
  cmake -S . -B "$build" ${SACKER_CMAKE_ARGS:-} >/dev/null
fi
# Every install rule's file (cpack's preinstall builds nothing: CMAKE_SKIP_INSTALL_ALL_DEPENDENCY).
cmake --build "$build" -j2 --target sacker sacker_man >/dev/null
mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$(mktemp /tmp/sacker-package.XXXXXX.log)
trap 'rm -f "$log"' EXIT
(cd "$build" && cpack -G DEB -B "$out" >"$log" 2>&1) || { cat "$log" >&2; fail "cpack failed"; }
rm -rf "$out/_CPack_Packages"
ls "$out"/sacker_*.deb "$out"/sacker-dev_*.deb
