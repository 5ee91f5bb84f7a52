#!/usr/bin/env bash
# Ledger latency and contention, every backend side by side in one run.
#
#   bash bench/ledger_bench.sh [-b BUILD_DIR] [-B BASELINE_BUILD_DIR] [-n ADDS] [-r REPS] [-l "sqlite s3 ..."]
#
# For each ledger, against its real server started here on 127.0.0.1 by
# scripts/servers/*.sh (stopped again at the end):
#   - add latency: ADDS (default 100) sequential adds on one package from one process
#     (build/tests/conformance_worker latency), median and p90 in ms;
#   - contention: 4 processes x 50 adds on one package at once, wall seconds (median of
#     REPS runs, default 3), checking that exactly 200 distinct versions came back;
#   - ratio: the backend's median add latency / the embedded SQLite default's;
#   - tag and history latency: ADDS moves of "live" between two versions (each writes its
#     event in the same atomic step) and ADDS reads of the newest 20 events, median in ms;
#   - with -B (a build of an earlier sacker, e.g. main before promotion history): the
#     `sacker tag` command of both builds, 20 moves each on a fresh ledger, median wall
#     ms per command and the ratio new/old (what the event costs a promotion end to end).
# No other tool records versions the way sacker does, so the yardstick is sacker's own
# embedded default on local disk. Needs a build with all backends (scripts/test.sh
# makes one) and the servers installed (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=build baseline= adds=100 reps=3
ledgers="sqlite s3 dynamo zk git git-remote postgres etcd"
while getopts "b:B:n:r:l:" opt; do
  case $opt in
    b) build=$OPTARG ;;
    B) baseline=$OPTARG ;;
    n) adds=$OPTARG ;;
    r) reps=$OPTARG ;;
    l) ledgers=$OPTARG ;;
    *) echo "usage: $0 [-b BUILD_DIR] [-B BASELINE_BUILD_DIR] [-n ADDS] [-r REPS] [-l LEDGERS]" >&2; exit 2 ;;
  esac
done
worker=$root/$build/tests/conformance_worker
sacker=$root/$build/sacker
for f in "$worker" "$sacker"; do
  [[ -x $f ]] || { echo "ledger_bench: $f missing: build first (bash scripts/test.sh)" >&2; exit 2; }
done
if [[ -n $baseline ]]; then
  [[ $baseline = /* ]] || baseline=$root/$baseline
  [[ -x $baseline/sacker ]] || { echo "ledger_bench: $baseline/sacker missing" >&2; exit 2; }
fi

work=$(mktemp -d /tmp/sacker-ledger-bench.XXXXXX)
started=()
cleanup() {
  for s in "${started[@]}"; do bash "$root/scripts/servers/$s.sh" stop "$work/servers/$s" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

start_server() {  # NAME: start once, then load its env into this shell
  local name=$1 dir=$work/servers/$1
  if [[ ! -f $dir/env ]]; then
    bash "$root/scripts/servers/$name.sh" start "$dir" >&2
    started+=("$name")
  fi
  set -a
  # shellcheck disable=SC1090
  . "$dir/env"
  set +a
}

uri_for() {  # LEDGER UNIQUE -> a fresh ledger URI
  local u=$2
  case $1 in
    sqlite) echo "sqlite://$work/$u/ledger.db" ;;
    s3) start_server rgw; echo "s3://$RGW_BUCKET/bench-$u" ;;
    dynamo) start_server dynalite; echo "dynamo://us-east-1/bench$u" ;;
    zk) start_server zookeeper; echo "zk://$ZK_HOSTS/bench-$u" ;;
    git) echo "git://$work/$u/ledger.git" ;;
    git-remote)
      start_server git-daemon
      git init -q --bare "$GIT_DAEMON_ROOT/bench-$u.git"
      echo "git://$work/$u/cache.git?remote=${GIT_DAEMON_URL}bench-$u.git" ;;
    postgres) start_server postgres; echo "$PG_URI?schema=bench$u" ;;
    etcd) start_server etcd; echo "etcd://$ETCD_ADDR/bench-$u" ;;
    *) echo "ledger_bench: unknown ledger $1" >&2; exit 2 ;;
  esac
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
p90() { sort -n | awk '{a[NR]=$1} END {i=int(NR*0.9+0.999); if (i<1) i=1; print a[i]}'; }

declare -A lat_med lat_p90 cont tag_med hist_med cli_old cli_new
n=0
for ledger in $ledgers; do
  n=$((n + 1))
  # Each ledger needs its server's env alone (rgw and dynalite both set AWS_*).
  (
    uri=$(uri_for "$ledger" "l$n")
    # The shell that computed the URI loaded the env; load it here too (subshell).
    case $ledger in s3) start_server rgw ;; dynamo) start_server dynalite ;; esac
    "$sacker" --ledger "$uri" --store "file://$work/blobs" init >/dev/null
    "$worker" latency "$uri" bench "$adds" > "$work/lat-$ledger"
    "$worker" tag-latency "$uri" bench-tag "$adds" > "$work/tag-$ledger"
    "$worker" history-latency "$uri" bench-history "$adds" > "$work/hist-$ledger"
    if [[ -n $baseline ]]; then
      for which in old new; do
        bin=$sacker
        [[ $which == old ]] && bin=$baseline/sacker
        turi=$(uri_for "$ledger" "t$n-$which")
        "$bin" --ledger "$turi" --store "file://$work/blobs" init >/dev/null
        echo "$which $ledger" > "$work/blob-$which-$n"
        v1=$("$bin" -q --ledger "$turi" --store "file://$work/blobs" add app "$work/blob-$which-$n")
        v2=$("$bin" -q --ledger "$turi" --store "file://$work/blobs" add app "$work/blob-$which-$n")
        for i in $(seq 1 20); do
          v=$v1
          ((i % 2)) && v=$v2
          t0=$(date +%s%N)
          "$bin" -q --ledger "$turi" --store "file://$work/blobs" tag app "$v" live >/dev/null
          t1=$(date +%s%N)
          echo $(((t1 - t0) / 1000)) >> "$work/cli-$which-$ledger"
        done
      done
    fi
    for r in $(seq 1 "$reps"); do
      curi=$(uri_for "$ledger" "c$n-$r")
      "$sacker" --ledger "$curi" --store "file://$work/blobs" init >/dev/null
      t0=$(date +%s.%N)
      pids=()
      for p in 1 2 3 4; do
        "$worker" add "$curi" contended 50 "p$p" > "$work/cont-$ledger-$r-$p" &
        pids+=($!)
      done
      for pid in "${pids[@]}"; do wait "$pid"; done
      t1=$(date +%s.%N)
      distinct=$(cat "$work"/cont-"$ledger"-"$r"-* | sort -u | wc -l)
      [[ $distinct == 200 ]] || { echo "ledger_bench: $ledger: $distinct distinct versions, not 200" >&2; exit 1; }
      echo "$t0 $t1" | awk '{printf "%.3f\n", $2-$1}' >> "$work/cont-$ledger"
    done
  ) || { echo "ledger_bench: $ledger failed" >&2; exit 1; }
  # Started servers are recorded in the subshell only: note them for cleanup here.
  for s in rgw dynalite zookeeper git-daemon postgres etcd; do
    [[ -f $work/servers/$s/env && " ${started[*]} " != *" $s "* ]] && started+=("$s")
  done
  lat_med[$ledger]=$(awk '{print $1/1000}' "$work/lat-$ledger" | median)
  lat_p90[$ledger]=$(awk '{print $1/1000}' "$work/lat-$ledger" | p90)
  cont[$ledger]=$(median < "$work/cont-$ledger")
  tag_med[$ledger]=$(awk '{print $1/1000}' "$work/tag-$ledger" | median)
  hist_med[$ledger]=$(awk '{print $1/1000}' "$work/hist-$ledger" | median)
  if [[ -n $baseline ]]; then
    cli_old[$ledger]=$(awk '{print $1/1000}' "$work/cli-old-$ledger" | median)
    cli_new[$ledger]=$(awk '{print $1/1000}' "$work/cli-new-$ledger" | median)
  fi
done

base=${lat_med[sqlite]:-}
printf '\n%-11s | %14s | %11s | %18s | %8s\n' ledger "add median ms" "add p90 ms" "4x50 adds, s" "vs sqlite"
printf '%s\n' "------------|----------------|-------------|--------------------|----------"
for ledger in $ledgers; do
  ratio=-
  [[ -n $base ]] && ratio=$(awk -v a="${lat_med[$ledger]}" -v b="$base" 'BEGIN {printf "%.1f", a/b}')
  printf '%-11s | %14.3f | %11.3f | %18s | %8s\n' "$ledger" "${lat_med[$ledger]}" "${lat_p90[$ledger]}" \
    "${cont[$ledger]}" "$ratio"
done
echo
echo "add: $adds sequential adds, one process; 4x50: median of $reps runs, 200 distinct versions checked"

printf '\n%-11s | %14s | %18s' ledger "tag median ms" "history(20) ms"
[[ -n $baseline ]] && printf ' | %16s | %16s | %9s' "old 'sacker tag'" "new 'sacker tag'" "new/old"
printf '\n%s\n' "------------|----------------|-------------------$([[ -n $baseline ]] && echo '|------------------|------------------|----------')"
for ledger in $ledgers; do
  printf '%-11s | %14.3f | %18.3f' "$ledger" "${tag_med[$ledger]}" "${hist_med[$ledger]}"
  if [[ -n $baseline ]]; then
    printf ' | %13.1f ms | %13.1f ms | %9s' "${cli_old[$ledger]}" "${cli_new[$ledger]}" \
      "$(awk -v a="${cli_new[$ledger]}" -v b="${cli_old[$ledger]}" 'BEGIN {printf "%.2f", a/b}')"
  fi
  printf '\n'
done
echo
echo "tag: $adds moves of live (library call, event in the same atomic step); history: newest 20 events"
[[ -n $baseline ]] && echo "old/new 'sacker tag': whole command incl. process start, 20 moves each, median; old = $baseline"
exit 0
