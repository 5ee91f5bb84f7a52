#!/usr/bin/env bash
# sacker against the tools people would use instead, side by side in one run, against one
# local Ceph RadosGW (started here through scripts/servers/rgw.sh, stopped at exit):
#   - upload and download of a 64 MiB and a 1 GiB blob: `sacker add` / `sacker download`
#     vs `aws s3 cp` (Debian's AWS CLI v2, /usr/bin/aws) vs `rclone copyto`, all with their
#     default settings, the tools taking turns going first in every repetition, each timed
#     step after a `sync` and a forced RGW garbage collection;
#   - metadata: `sacker info PKG latest`, `sacker versions PKG`, `sacker list` vs one signed
#     `curl --aws-sigv4` GET (the floor: one round trip plus a process start).
# Prints a Markdown table: medians, the ratio to sacker (>1: sacker is faster) or, for
# metadata, to the floor, and the client CPU seconds (user + sys of the process, from
# /usr/bin/time) per GiB moved.
#
#   bash bench/s3_bench.sh [-n REPS] [-m META_REPS] [-s "64 1024"] [-b BUILD_DIR] [-r SERVER_SCRIPT]
#                          [-d DOWNLOAD_DIR]
#
# Downloads go to tmpfs (/dev/shm) unless -d says otherwise: on a VM disk the first big write
# after a delete can take several times longer than the next one, which measures the disk,
# not the tool.
# -r runs another server script with the interface of scripts/servers/rgw.sh (start DIR /
# stop DIR, DIR/env), e.g. a copy with different RGW settings.
# Needs a built sacker (default build/sacker, or -b / $SACKER_BUILD_DIR), the test-server
# tools (scripts/install-deps.sh), awscli, rclone, curl and /usr/bin/time. RAM: memstore
# keeps objects in the OSD's memory (about 2x the data); every object is deleted right after
# its download, so a few GiB suffice ($SACKER_RGW_MEMSTORE_BYTES, default 8 GiB here).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SACKER_BUILD_DIR:-$ROOT/build}
REPS=5
META_REPS=20
SIZES="64 1024"
SERVER_SCRIPT=$ROOT/scripts/servers/rgw.sh
DL_DIR=
while getopts "n:m:s:b:r:d:h" opt; do
  case $opt in
    n) REPS=$OPTARG ;;
    m) META_REPS=$OPTARG ;;
    s) SIZES=$OPTARG ;;
    b) BUILD=$OPTARG ;;
    r) SERVER_SCRIPT=$OPTARG ;;
    d) DL_DIR=$OPTARG ;;
    *) sed -n '2,28p' "$0"; exit 2 ;;
  esac
done
SACKER=$BUILD/sacker
AWS=/usr/bin/aws
for t in "$SACKER" "$AWS" rclone curl /usr/bin/time openssl; do
  command -v "$t" >/dev/null || { echo "s3_bench: $t not found" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/sacker-bench.XXXXXX)
if [ -z "$DL_DIR" ]; then
  DL_DIR=$WORK
  [ -d /dev/shm ] && [ -w /dev/shm ] && DL_DIR=$(mktemp -d /dev/shm/sacker-bench.XXXXXX)
fi
cleanup() {
  bash "$SERVER_SCRIPT" stop "$WORK/rgw" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  case $DL_DIR in /dev/shm/sacker-bench.*) rm -rf "$DL_DIR" ;; esac
}
trap cleanup EXIT

export SACKER_RGW_MEMSTORE_BYTES=${SACKER_RGW_MEMSTORE_BYTES:-$((8 << 30))}
bash "$SERVER_SCRIPT" start "$WORK/rgw" >/dev/null 2>"$WORK/rgw-start.log" ||
  { cat "$WORK/rgw-start.log" >&2; exit 1; }
set -a
# shellcheck disable=SC1091
. "$WORK/rgw/env"
set +a
B=$RGW_BUCKET
EP=$AWS_ENDPOINT_URL
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
# Keep user configuration out of the measurement. The endpoint is plain http: a CA bundle
# from the environment only gets in the way (rclone's SDK refuses AWS_CA_BUNDLE).
unset AWS_CA_BUNDLE AWS_PROFILE
export HOME=$WORK/home SACKER_CONFIG=$WORK/home/none.json RCLONE_CONFIG=$WORK/rclone.conf
mkdir -p "$HOME"
echo '{}' > "$SACKER_CONFIG"
: > "$RCLONE_CONFIG"
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Ceph RCLONE_CONFIG_BENCH_ENDPOINT=$EP \
  RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
  RCLONE_CONFIG_BENCH_REGION=$AWS_REGION
LEDGER=s3://$B/bench-ledger/
STORE=s3://$B/bench-store/
SK=(-q --ledger "$LEDGER" --store "$STORE")

signed_curl() {  # METHOD PATH [curl args...]
  local m=$1 p=$2
  shift 2
  curl -sf --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: $EMPTY" -X "$m" "$EP/$B/$p" "$@"
}

RESULTS=$WORK/results  # lines: OP TOOL BYTES WALL USER SYS
: > "$RESULTS"
# timed OP TOOL BYTES CMD... : runs CMD once under /usr/bin/time, records the figures
# (wall time from the clock in ns: /usr/bin/time's %e has 10 ms steps)
timed() {
  local op=$1 tool=$2 bytes=$3 t0 t1
  shift 3
  t0=$(date +%s%N)
  /usr/bin/time -f "%U %S" -o "$WORK/time" "$@" > "$WORK/out" 2> "$WORK/err" ||
    { echo "s3_bench: $op $tool failed: $*" >&2; cat "$WORK/err" >&2; exit 1; }
  t1=$(date +%s%N)
  echo "$op $tool $bytes $(awk -v d=$((t1 - t0)) 'BEGIN {printf "%.4f", d / 1e9}') $(cat "$WORK/time")" >> "$RESULTS"
}

same_or_die() {
  cmp -s "$1" "$2" || { echo "s3_bench: $3 returned other bytes" >&2; exit 1; }
}

# Every timed transfer starts from a quiet machine: the previous download's dirty pages
# flushed (only sacker fsyncs its downloads) and RGW's garbage collector done with what the
# previous step deleted (otherwise it frees 1 GiB in the middle of the next measurement).
settle() {
  sync
  radosgw-admin -c "$RGW_CEPH_CONF" gc process --include-all >/dev/null 2>&1 || true
}

# One tool's round: upload, download, compare, delete.
round() {  # TOOL MIB FILE SHA
  local tool=$1 mib=$2 f=$3 sha=$4 bytes=$(($2 << 20)) out=$DL_DIR/download
  rm -f "$out"
  case $tool in
    sacker)
      # the blob must not be in the store, or add uploads nothing
      signed_curl DELETE "bench-store/$sha" -o /dev/null || true
      settle
      timed "upload-${mib}MiB" sacker $bytes "$SACKER" "${SK[@]}" add "blob$mib" "$f"
      settle
      timed "download-${mib}MiB" sacker $bytes "$SACKER" "${SK[@]}" download "blob$mib" latest -o "$out"
      same_or_die "$out" "$f" sacker
      signed_curl DELETE "bench-store/$sha" -o /dev/null
      ;;
    aws-cli)
      settle
      timed "upload-${mib}MiB" aws-cli $bytes "$AWS" --endpoint-url "$EP" s3 cp --only-show-errors "$f" "s3://$B/aws/blob"
      settle
      timed "download-${mib}MiB" aws-cli $bytes "$AWS" --endpoint-url "$EP" s3 cp --only-show-errors "s3://$B/aws/blob" "$out"
      same_or_die "$out" "$f" aws-cli
      signed_curl DELETE aws/blob -o /dev/null
      ;;
    rclone)
      settle
      timed "upload-${mib}MiB" rclone $bytes rclone copyto "$f" "bench:$B/rclone/blob"
      settle
      timed "download-${mib}MiB" rclone $bytes rclone copyto "bench:$B/rclone/blob" "$out"
      same_or_die "$out" "$f" rclone
      signed_curl DELETE rclone/blob -o /dev/null
      ;;
  esac
  rm -f "$out"
}

echo "s3_bench: RGW at $EP; $REPS repetitions per transfer, $META_REPS per metadata command;" \
  "downloads to $DL_DIR" >&2
TOOLS=(sacker aws-cli rclone)
for mib in $SIZES; do
  f=$WORK/blob-$mib
  head -c $((mib << 20)) /dev/urandom > "$f"
  sha=$(openssl dgst -sha256 "$f" | awk '{print $NF}')
  for ((rep = 1; rep <= REPS; rep++)); do
    echo "s3_bench: ${mib} MiB, repetition $rep/$REPS" >&2
    # The tools take turns going first.
    for ((t = 0; t < ${#TOOLS[@]}; t++)); do
      round "${TOOLS[$(((t + rep - 1) % ${#TOOLS[@]}))]}" "$mib" "$f" "$sha"
    done
  done
  rm -f "$f"
done

# Metadata: a package with a few versions and a tag.
echo "s3_bench: metadata" >&2
head -c 1000 /dev/urandom > "$WORK/small"
for i in 1 2 3; do "$SACKER" "${SK[@]}" add meta "$WORK/small" >/dev/null; done
"$SACKER" "${SK[@]}" tag meta "$("$SACKER" "${SK[@]}" versions meta | head -1)" live
for ((rep = 1; rep <= META_REPS; rep++)); do
  timed "info-latest" sacker 0 "$SACKER" "${SK[@]}" info meta latest
  timed "versions" sacker 0 "$SACKER" "${SK[@]}" versions meta
  timed "list" sacker 0 "$SACKER" "${SK[@]}" list
  timed "one-signed-GET" curl 0 curl -sf --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: $EMPTY" \
    "$EP/$B/bench-ledger/meta/tags/latest"
done

# The table. ratio: for transfers the tool's median over sacker's for the same operation
# (>1: sacker is faster); for metadata commands their median over the one-signed-GET floor.
awk '
  function median(list,    n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  {
    key = $1 SUBSEP $2
    if (!(key in wall)) order[++n] = key
    wall[key] = wall[key] " " $4; cpu[key] = cpu[key] " " ($5 + $6); bytes[key] = $3
    if ($2 == "sacker" && $3 > 0) base[$1] = key
    if ($1 == "one-signed-GET") floor_key = key
  }
  END {
    printf "| %-16s | %-8s | %8s | %6s | %6s | %9s |\n", "operation", "tool", "median s", "MiB/s", "ratio", "CPU s/GiB"
    printf "|%s|%s|%s|%s|%s|%s|\n", "------------------", "----------", "---------:", "-------:", "-------:", "----------:"
    for (i = 1; i <= n; i++) {
      split(order[i], k, SUBSEP)
      w = median(wall[order[i]]); c = median(cpu[order[i]]); by = bytes[order[i]]
      ref = by > 0 ? median(wall[base[k[1]]]) : median(wall[floor_key])
      rate = by > 0 && w > 0 ? sprintf("%6.0f", by / 1048576 / w) : sprintf("%6s", "-")
      per_gib = by > 0 ? sprintf("%9.2f", c / (by / 1073741824)) : sprintf("%9s", "-")
      printf "| %-16s | %-8s | %8.4f | %s | %6.2f | %s |\n", k[1], k[2], w, rate, (ref > 0 ? w / ref : 0), per_gib
    }
  }' "$RESULTS"
echo
echo "ratio: transfers = the tool's median / sacker's (>1: sacker is faster);"
echo "       metadata = the command's median / one signed curl GET (the floor)."
echo "CPU s/GiB: median user+sys seconds of the client process per GiB moved."
