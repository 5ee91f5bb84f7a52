#!/usr/bin/env bash
# Cheap polling (issue 10 point 6): what `sacker download PKG live -o DEST` costs on a
# deploy host whose DEST already holds the blob, the cron-every-minute case.
#
#   bash bench/poll_bench.sh [-b BUILD_DIR] [-r RUNS] [-m SIZE_MIB] [--no-s3 | --no-local]
#
# 1. Local work, on the embedded default, with a SIZE_MIB (default 1024) artifact already
#    in place: callgrind instructions (one run each, stable) and the median wall time of
#    RUNS runs (default 20) of
#      sacker-unchanged  sacker -q download app live -o dest   (the sha256 remembered)
#      sacker-rehash     the same with the memory cleared (what every run cost before)
#      sha256sum         sha256sum dest (a cron script that checks the file itself)
#      start-floor       sacker --version (a process start, no work)
#    The --json of the unchanged run must say bytes_hashed 0 and bytes_transferred 0.
# 2. Requests, on S3 (RadosGW from scripts/servers/rgw.sh, tests/fixtures/fault_proxy.py
#    in front counting them): the requests of one unchanged download of a tagged
#    version, each listed, and what 10,000 hosts polling once a minute send per day.
#    --no-s3 skips this part; --no-local skips the first.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=build runs=20 mib=1024 s3=1 local=1
while [ $# -gt 0 ]; do
  case $1 in
    -b) build=$2; shift 2 ;;
    -r) runs=$2; shift 2 ;;
    -m) mib=$2; shift 2 ;;
    --no-s3) s3=0; shift ;;
    --no-local) local=0; shift ;;
    *) echo "usage: $0 [-b BUILD_DIR] [-r RUNS] [-m SIZE_MIB] [--no-s3 | --no-local]" >&2; exit 2 ;;
  esac
done
sacker=$root/$build/sacker
[[ -x $sacker ]] || { echo "poll_bench: $sacker missing: build first" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "poll_bench: valgrind missing (scripts/install-deps.sh)" >&2; exit 2; }

work=$(mktemp -d /tmp/sacker-poll-bench.XXXXXX)
proxy_pid=
cleanup() {  # every step runs (no early exit under set -e)
  if [ -n "$proxy_pid" ]; then kill "$proxy_pid" 2>/dev/null || true; wait "$proxy_pid" 2>/dev/null || true; fi
  if [ -d "$work/rgw" ]; then bash "$root/scripts/servers/rgw.sh" stop "$work/rgw" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export HOME=$work/home XDG_DATA_HOME= XDG_STATE_HOME=$work/state
unset SACKER_CONFIG SACKER_LEDGER SACKER_STORE
mkdir -p "$HOME" "$work/deploy"
cd "$work"

# --- 1. local work ------------------------------------------------------------------
if [ "$local" = 1 ]; then
echo "poll_bench: a ${mib} MiB artifact on the embedded default" >&2
head -c $((mib << 20)) /dev/urandom >app.bin
"$sacker" -q add app app.bin >/dev/null
"$sacker" -q tag app 1 live
rm app.bin
dest=$work/deploy/app.bin
"$sacker" -q download app live -o "$dest"
# The download's own entry is dropped if the file system's clock has not passed the
# file's ctime yet; the next run hashes once and remembers. Two runs make sure.
"$sacker" -q download app live -o "$dest"
"$sacker" -q download app live -o "$dest"
json=$("$sacker" --json download app live -o "$dest")
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["bytes_hashed"]==0 and d["bytes_transferred"]==0, d' \
  "$json" || { echo "poll_bench: the unchanged download hashed or fetched: $json" >&2; exit 1; }

forget() {  # the remembered sha256: the directory's xattrs and any sidecar
  python3 - "$work/deploy" <<'PY'
import os, sys
d = sys.argv[1]
for a in os.listxattr(d):
    if a.startswith("user.sacker."):
        os.removexattr(d, a)
for f in os.listdir(d):
    if f.endswith(".sacker-sha256"):
        os.unlink(os.path.join(d, f))
PY
}

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

unchanged=("$sacker" -q download app live -o "$dest")
echo "poll_bench: callgrind" >&2
i_unchanged=$(instructions "${unchanged[@]}")
forget
i_rehash=$(instructions "${unchanged[@]}")
i_sha=$(instructions sha256sum "$dest")
i_floor=$(instructions "$sacker" --version)
echo "poll_bench: $runs timed runs each" >&2
"${unchanged[@]}"  # remembered again
t_unchanged=$(median_ms "${unchanged[@]}")
rehash() { forget; "${unchanged[@]}"; }
t_rehash=$(median_ms rehash)
t_sha=$(median_ms sha256sum "$dest")
t_floor=$(median_ms "$sacker" --version)

printf '\n| %-17s | %14s | %9s | %18s |\n' "${mib} MiB, in place" instructions "median ms" "ms / start-floor"
printf '|%s|%s|%s|%s|\n' ------------------- ---------------- ----------- --------------------
row() { printf '| %-17s | %14s | %9s | %18s |\n' "$1" "$2" "$3" "$(awk -v a="$3" -v b="$t_floor" 'BEGIN { printf "%.2f", a / b }')"; }
row sacker-unchanged "$i_unchanged" "$t_unchanged"
row sacker-rehash "$i_rehash" "$t_rehash"
row sha256sum "$i_sha" "$t_sha"
row start-floor "$i_floor" "$t_floor"
fi

# --- 2. requests on S3 ----------------------------------------------------------------
if [ "$s3" = 1 ]; then
  echo "poll_bench: starting RadosGW (a minute or two)" >&2
  bash "$root/scripts/servers/rgw.sh" start "$work/rgw" >/dev/null 2>"$work/rgw.log" || { cat "$work/rgw.log" >&2; exit 1; }
  set -a
  # shellcheck disable=SC1091
  . "$work/rgw/env"
  set +a
  target=${AWS_ENDPOINT_URL#http://}
  python3 "$root/tests/fixtures/fault_proxy.py" --target "$target" --port-file "$work/proxy.ports" &
  proxy_pid=$!
  for _ in $(seq 500); do [ -s "$work/proxy.ports" ] && break; sleep 0.02; done
  read -r data_port control_port <"$work/proxy.ports"
  export AWS_ENDPOINT_URL=http://127.0.0.1:$data_port AWS_ENDPOINT_URL_S3=http://127.0.0.1:$data_port
  s3=(--ledger "s3://$RGW_BUCKET/poll-ledger/" --store "s3://$RGW_BUCKET/poll-store/")
  head -c 65536 /dev/urandom >small.bin
  v=$("$sacker" -q "${s3[@]}" add app small.bin)
  echo "poll_bench: app version $v on S3" >&2
  "$sacker" -q "${s3[@]}" tag app "$v" live
  s3dest=$work/deploy/small.bin
  for _ in 1 2 3; do "$sacker" -q "${s3[@]}" download app live -o "$s3dest"; done  # in place, remembered
  curl -sf -X POST "http://127.0.0.1:$control_port/reset" >/dev/null
  "$sacker" -q "${s3[@]}" download app live -o "$s3dest"
  stats=$(curl -sf "http://127.0.0.1:$control_port/stats")
  python3 - "$stats" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
n = s["requests"]
print(f"\nS3: one unchanged `download app live` sends {n} requests ({s['up']} bytes up, {s['down']} down):")
for line in s["request_lines"]:
    print(f"  {line}")
print(f"10,000 hosts polling once a minute: {n * 10000 * 1440:,} requests per day "
      f"({n} x 10,000 x 1,440), none to the store's blobs")
PY
fi
echo
echo "poll_bench: $(nproc) cores; $runs runs; $(date -u +%F)"
