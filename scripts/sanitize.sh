#!/usr/bin/env bash
# The whole test suite once more under AddressSanitizer + UndefinedBehaviorSanitizer
# (build dir build-asan). Slower than scripts/test.sh (about 12 min to build, 2.5 min
# to test on 2 cores); run it before changing memory-handling code. Leaks inside
# Debian's libgit2 and ZooKeeper client are suppressed (tests/lsan.supp says why).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -O1" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
cmake --build build-asan -j2
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp
cd build-asan
ctest -j2 --output-on-failure --no-tests=error --timeout 1200 "$@"
