#!/usr/bin/env bash
# The CI gates that run besides the test suite (issue 7, point 21): one Clang build
# with AddressSanitizer + UndefinedBehaviorSanitizer in every library target
# (build-gates/), then
#   1. the suites that need no server (unit, e2e, the sqlite/mem/file/chain
#      conformance runs) under the sanitizers: a memory error or UB fails the run;
#   2. every libFuzzer target for SECONDS (default 20) on its checked-in corpus:
#      a crash, a leak, a timeout or a broken invariant fails the run.
# Bounded: about 8 min to build and 4 min to run on 2 cores. The server-backed
# suites run under the sanitizers with scripts/sanitize.sh (not in CI: it doubles
# the suite's time).
#
#   bash scripts/ci-gates.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-20}
build=${SACKER_GATES_BUILD_DIR:-$root/build-gates}
start=$(date +%s)

cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DSACKER_BUILD_FUZZ=ON \
  -DSACKER_BUILD_TESTS=ON -DSACKER_BUILD_BENCH=OFF \
  -DSACKER_WITH_DYNAMO=OFF -DSACKER_WITH_ZK=OFF -DSACKER_WITH_GIT=OFF -DSACKER_WITH_POSTGRES=OFF \
  -DSACKER_WITH_ETCD=OFF >/dev/null
cmake --build "$build" -j2
echo "ci-gates: built in $(( $(date +%s) - start )) s"

export ASAN_OPTIONS=detect_leaks=1:verify_asan_link_order=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp
echo "ci-gates: the server-less suites under ASan+UBSan"
(cd "$build" && ctest -j2 --output-on-failure --no-tests=error --timeout 600 \
  -R '^(unit|e2e|sqlite|mem|file|chain)\.')

echo "ci-gates: every fuzz target for ${seconds} s"
SACKER_FUZZ_BUILD_DIR=$build bash fuzz/run.sh "$seconds"
echo "ci-gates: passed in $(( $(date +%s) - start )) s"
