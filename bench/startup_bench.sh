#!/usr/bin/env bash
# Start-up (issue 10 point 5): what a short sacker command costs before and around its
# work, with the non-embedded backends loaded on demand (client/backend_module.h).
#
#   bash bench/startup_bench.sh [-b BUILD_DIR] [-r RUNS] [--no-s3]
#
# For each command: callgrind instructions (one run, stable on a noisy machine), the
# median wall ms of RUNS runs (default 20) and the shared objects the run maps
# (LD_DEBUG=files), side by side with the floors:
#   true                 /bin/true, a process start
#   git --version        the issue's reference for a CLI start
#   sacker --version     sacker's start alone
#   info (embedded)      sacker info app latest on SQLite + a directory (goal < 3 M)
#   info (S3)            the same on RadosGW (scripts/servers/rgw.sh): must map no git,
#                        ZooKeeper or PostgreSQL library; --no-s3 skips it
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=build runs=20 s3=1
while [ $# -gt 0 ]; do
  case $1 in
    -b) build=$2; shift 2 ;;
    -r) runs=$2; shift 2 ;;
    --no-s3) s3=0; shift ;;
    *) echo "usage: $0 [-b BUILD_DIR] [-r RUNS] [--no-s3]" >&2; exit 2 ;;
  esac
done
sacker=$root/$build/sacker
[[ -x $sacker ]] || { echo "startup_bench: $sacker missing: build first" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "startup_bench: valgrind missing (scripts/install-deps.sh)" >&2; exit 2; }

work=$(mktemp -d /tmp/sacker-startup-bench.XXXXXX)
cleanup() {
  if [ -d "$work/rgw" ]; then bash "$root/scripts/servers/rgw.sh" stop "$work/rgw" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export HOME=$work/home XDG_STATE_HOME=$work/state
unset SACKER_CONFIG SACKER_LEDGER SACKER_STORE
mkdir -p "$HOME"
cd "$work"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
objects() {  # COMMAND...: the shared objects a run maps, one a line
  LD_DEBUG=files LD_DEBUG_OUTPUT=$work/ld "$@" >/dev/null 2>&1 || true
  cat "$work"/ld.* | awk '/file=/ { sub(/.*file=/, ""); print $1 }' | sort -u
  rm -f "$work"/ld.*
}

rows=()
measure() {  # NAME COMMAND...
  local name=$1; shift
  echo "startup_bench: $name" >&2
  local i t libs
  i=$(instructions "$@")
  t=$(median_ms "$@")
  libs=$(objects "$@")
  local n heavy
  n=$(grep -c . <<<"$libs" || true)
  heavy=$( (grep -Eo 'lib(git2|zookeeper_mt|pq|curl)[^/]*\.so|sacker-[a-z]+\.so' <<<"$libs" || true) | sed 's/\.so.*//' | sort -u | tr '\n' ' ')
  rows+=("$(printf '| %-18s | %12s | %9s | %7s | %-28s |' "$name" "$i" "$t" "$n" "${heavy:--}")")
  [ "$name" = "git --version" ] && i_git=$i
  [ "$name" = "sacker --version" ] && i_start=$i
  return 0
}

head -c 65536 /dev/urandom >app.bin
embedded=(--ledger "sqlite://$work/ledger.db" --store "file://$work/blobs")
"$sacker" -q "${embedded[@]}" add app app.bin >/dev/null
measure true /bin/true
measure "git --version" git --version
measure "sacker --version" "$sacker" --version
measure "info (embedded)" "$sacker" "${embedded[@]}" info app latest

if [ "$s3" = 1 ]; then
  echo "startup_bench: starting RadosGW (a minute or two)" >&2
  bash "$root/scripts/servers/rgw.sh" start "$work/rgw" >/dev/null 2>"$work/rgw.log" || { cat "$work/rgw.log" >&2; exit 1; }
  set -a
  # shellcheck disable=SC1091
  . "$work/rgw/env"
  set +a
  on_s3=(--ledger "s3://$RGW_BUCKET/startup-ledger/" --store "s3://$RGW_BUCKET/startup-store/")
  "$sacker" -q "${on_s3[@]}" add app app.bin >/dev/null
  measure "info (S3)" "$sacker" "${on_s3[@]}" info app latest
fi

printf '\n| %-18s | %12s | %9s | %7s | %-28s |\n' command instructions "median ms" objects "backend libraries mapped"
printf '|%s|%s|%s|%s|%s|\n' -------------------- -------------- ----------- --------- ------------------------------
printf '%s\n' "${rows[@]}"
echo
awk -v s="$i_start" -v g="$i_git" 'BEGIN { printf "sacker --version / git --version: %.1fx instructions\n", s / g }'
echo "startup_bench: $(nproc) cores; $runs runs; $(date -u +%F)"
