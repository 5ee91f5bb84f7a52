#!/usr/bin/env bash
# Builds the fuzz targets (build-fuzz/, Clang, ASan+UBSan) and runs each one for
# SECONDS (default 60). Exits non-zero if any target crashed, leaked, timed out or
# broke an invariant. Per target, build-fuzz/fuzz/work/<target>/ keeps the log,
# the inputs found (corpus/) and any crashing input (artifacts/).
#
#   fuzz/run.sh [SECONDS]
#   SACKER_FUZZ_BUILD_DIR=/path  build elsewhere (default: <repo>/build-fuzz)
#   SACKER_FUZZ_TARGETS="fuzz_uri fuzz_s3"  run only these
set -euo pipefail

seconds=${1:-60}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SACKER_FUZZ_BUILD_DIR:-$root/build-fuzz}

# A build dir configured already (e.g. by scripts/ci-gates.sh) is used as it is.
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DSACKER_BUILD_FUZZ=ON \
    -DSACKER_BUILD_TESTS=OFF -DSACKER_BUILD_BENCH=OFF \
    -DSACKER_WITH_GIT=OFF -DSACKER_WITH_ZK=OFF -DSACKER_WITH_POSTGRES=OFF -DSACKER_WITH_DYNAMO=OFF -DSACKER_WITH_ETCD=OFF \
    >/dev/null
fi
cmake --build "$build" -j2 --target fuzz

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
targets=${SACKER_FUZZ_TARGETS:-$(cat "$build/fuzz/targets.txt")}
failed=()
for target in $targets; do
  work=$build/fuzz/work/$target
  mkdir -p "$work/corpus" "$work/artifacts"
  # New inputs go to the first directory, so the checked-in seeds stay as they are.
  if "$build/fuzz/$target" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" "$root/fuzz/corpus/$target" >"$work/log.txt" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$target")
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log.txt" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log.txt" | tail -1)
  printf '%-22s %-6s %12s execs %8s exec/s  %s\n' "$target" "$status" "${runs:-?}" "${speed:-?}" "$work/log.txt"
done

if ((${#failed[@]})); then
  echo "crashed: ${failed[*]} (see their log.txt and artifacts/)" >&2
  exit 1
fi
