#!/usr/bin/env bash
# Load on `sacker serve` (issue 12): wrk from a second process on loopback against the
# packages and version API, side by side in one run with
#   http-floor   serve_demo's /api/v1/ping: the same HTTP layer with no ledger behind
#                it (what the server costs before sacker reads anything);
#   static-json  python3 -m http.server serving the same version document as a file
#                (what a user might put up instead: a JSON file next to the blobs).
#
#   bash bench/serve_bench.sh [-b BUILD_DIR] [-d SECONDS] [-c CONNECTIONS] [-v VERSIONS]
#
# One embedded-default ledger in a temp HOME: package "app" with VERSIONS versions
# (default 200, small blobs), "live" on the one before last. For each target: requests
# per second, p50 and p99 latency and non-2xx responses, from `wrk --latency` for
# SECONDS (default 30) with CONNECTIONS connections (default 8) on one wrk thread; then
# the ratio of each to the http-floor. wrk and the server share this machine's cores,
# so the numbers are of the pair; the ratios are the stable part.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=build seconds=30 conns=8 nversions=200
while getopts "b:d:c:v:" opt; do
  case $opt in
    b) build=$OPTARG ;;
    d) seconds=$OPTARG ;;
    c) conns=$OPTARG ;;
    v) nversions=$OPTARG ;;
    *) echo "usage: $0 [-b BUILD_DIR] [-d SECONDS] [-c CONNECTIONS] [-v VERSIONS]" >&2; exit 2 ;;
  esac
done
sacker=$root/$build/sacker demo=$root/$build/tests/serve/serve_demo
for f in "$sacker" "$demo"; do
  [[ -x $f ]] || { echo "serve_bench: $f missing: build first (cmake --build $build)" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "serve_bench: wrk missing (scripts/install-deps.sh installs it)" >&2; exit 2; }

work=$(mktemp -d /tmp/sacker-serve-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
export HOME=$work XDG_DATA_HOME=$work/data XDG_STATE_HOME=$work/state
unset SACKER_CONFIG SACKER_LEDGER SACKER_STORE
cd "$work"

echo "serve_bench: $nversions versions of app ..." >&2
for ((i = 1; i <= nversions; i++)); do
  printf 'build %d\n' "$i" >app.bin
  "$sacker" -q add app app.bin >/dev/null
done
"$sacker" -q tag app $((nversions - 1)) live

# Starts a server that prints "listening on URL" first; sets $url. Its stdout stays
# open on a descriptor of ours (a closed pipe would kill it on its next write).
start_listening() {
  local out=$work/listen.$RANDOM fd line
  mkfifo "$out"
  "$@" >"$out" 2>/dev/null &
  pids+=($!)
  exec {fd}<"$out"
  read -r -u "$fd" line
  url=${line#listening on }
  [[ $url == http://* ]] || { echo "serve_bench: $1 did not start: $line" >&2; exit 1; }
}

start_listening "$sacker" serve --listen 127.0.0.1:0
sacker_url=$url
start_listening "$demo" --listen 127.0.0.1:0
demo_url=$url

mkdir -p static
curl -sf "$sacker_url/api/v1/packages/app/versions/live" >static/live.json
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory static >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/live.json" >/dev/null && break; sleep 0.1; done
static_url=http://127.0.0.1:$port

# Each target's answer is checked once before it is loaded.
curl -sf "$sacker_url/api/v1/packages/app/versions?limit=50" | python3 -c \
  'import json,sys; d=json.load(sys.stdin); assert len(d["versions"])==50, d' ||
  { echo "serve_bench: the versions page is not 50 versions" >&2; exit 1; }

# "NAME URL" lines.
targets=(
  "packages $sacker_url/api/v1/packages"
  "version-live $sacker_url/api/v1/packages/app/versions/live"
  "versions-page50 $sacker_url/api/v1/packages/app/versions?limit=50"
  "package $sacker_url/api/v1/packages/app"
  "http-floor $demo_url/api/v1/ping"
  "static-json $static_url/live.json"
)

# wrk's latency is printed as 812.00us / 1.23ms / 1.02s: to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
                         else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

declare -A rps p50 p99 bad
for t in "${targets[@]}"; do
  name=${t%% *} target=${t#* }
  echo "serve_bench: wrk ${seconds}s, $conns connections: $name" >&2
  out=$(wrk -t1 -c"$conns" -d"${seconds}s" --latency "$target")
  rps[$name]=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  p50[$name]=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
  p99[$name]=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
  bad[$name]=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
  bad[$name]=${bad[$name]:-0}
done

printf '\n| %-16s | %10s | %8s | %8s | %7s | %13s |\n' target "req/s" "p50 ms" "p99 ms" "non-2xx" "req/s / floor"
printf '|%s|%s|%s|%s|%s|%s|\n' ------------------ ------------ ---------- ---------- --------- ---------------
floor=${rps[http-floor]}
for t in "${targets[@]}"; do
  name=${t%% *}
  ratio=$(awk -v a="${rps[$name]}" -v b="$floor" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  printf '| %-16s | %10s | %8s | %8s | %7s | %13s |\n' "$name" "${rps[$name]}" "${p50[$name]}" "${p99[$name]}" \
    "${bad[$name]}" "$ratio"
done
echo
echo "wrk -t1 -c$conns -d${seconds}s on $(nproc) cores shared with the servers; $nversions versions; $(date -u +%F)"
