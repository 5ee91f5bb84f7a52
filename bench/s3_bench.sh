#!/usr/bin/env bash
# sacker against the tools people would use instead, side by side in one run, against one
# local Ceph RadosGW (started here through scripts/servers/rgw.sh, stopped at exit):
#   - upload and download of a 64 MiB and a 1 GiB blob: `sacker add` / `sacker download`
#     vs `aws s3 cp` (Debian's AWS CLI v2, /usr/bin/aws) vs `rclone copyto`, all with their
#     default settings, the tools taking turns going first in every repetition, each timed
#     step after a `sync` and a forced RGW garbage collection;
#   - the physical floors of the same transfers, in the same rotation: one signed curl PUT
#     (UNSIGNED-PAYLOAD) and one curl GET of the same object, and 8 parallel ranged curl GETs
#     (to 8 files, the layout sacker's downloads use: 8 streams);
#   - resume: `sacker download` of the largest blob SIGKILLed once half the blob's bytes have
#     reached it (tcp_info bytes_received of its sockets, ss -ti), then run again; the second
#     run's resumed_from and bytes_transferred (--json) over the blob's size;
#   - metadata: `sacker info PKG latest`, `sacker versions PKG`, `sacker list` vs one signed
#     `curl --aws-sigv4` GET (the floor: one round trip plus a process start).
# Prints a Markdown table: medians, the ratio to sacker (>1: sacker is faster) or, for
# metadata, to the floor, the ratio to the best transfer floor of the same direction, and
# the client CPU seconds (user + sys of the process, from /usr/bin/time) per GiB moved.
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

# 8 parallel ranged GETs of one object into OUT.0 .. OUT.7 (the download floor with as many
# streams as sacker uses).
cat > "$WORK/curl8.sh" <<'CURL8'
#!/usr/bin/env bash
set -euo pipefail
url=$1 size=$2 out=$3
part=$(((size + 7) / 8))
pids=()
for i in 0 1 2 3 4 5 6 7; do
  from=$((i * part)) to=$(((i + 1) * part - 1))
  ((to >= size)) && to=$((size - 1))
  curl -sf --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -r "$from-$to" -o "$out.$i" "$url" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
CURL8

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
    curl)
      settle
      timed "upload-${mib}MiB" curl $bytes curl -sf --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        -T "$f" -o /dev/null "$EP/$B/curl/blob"
      settle
      timed "download-${mib}MiB" curl $bytes curl -sf --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        -o "$out" "$EP/$B/curl/blob"
      same_or_die "$out" "$f" curl
      rm -f "$out"
      settle
      timed "download-${mib}MiB" curl-8x $bytes bash "$WORK/curl8.sh" "$EP/$B/curl/blob" $bytes "$out"
      cat "$out".[0-7] > "$out"
      rm -f "$out".[0-7]
      same_or_die "$out" "$f" curl-8x
      signed_curl DELETE curl/blob -o /dev/null
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
TOOLS=(sacker aws-cli rclone curl)
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
  LAST_BLOB=$f LAST_MIB=$mib LAST_SHA=$sha
done

# Resume: kill a download once half the blob has crossed the network to it, run it again,
# count what the second run fetched. "Crossed the network" is the sum of tcp_info
# bytes_received over the process's TCP sockets (ss -ti): its keep-alive connections live
# for the whole download, so the sum counts every byte received, in-flight parts included.
# (/proc/PID/io rchar does not count recv() on sockets.)
received_by() {  # PID: bytes received so far on its TCP sockets
  ss -tinpH 2>/dev/null | awk -v pid="pid=$1," '
    /^[^ \t]/ { mine = index($0, pid) > 0 }
    mine && match($0, /bytes_received:[0-9]+/) { sum += substr($0, RSTART + 15, RLENGTH - 15) }
    END { print sum + 0 }'
}
echo "s3_bench: resume of a ${LAST_MIB} MiB download killed at half" >&2
RESUME_LINES=
settle
"$SACKER" "${SK[@]}" add "resume$LAST_MIB" "$LAST_BLOB" >/dev/null
for ((rep = 1; rep <= 3; rep++)); do
  out=$DL_DIR/resume
  rm -f "$out" "$DL_DIR"/.resume.sacker-partial*
  half=$(((LAST_MIB << 20) / 2))
  "$SACKER" "${SK[@]}" download "resume$LAST_MIB" latest -o "$out" &
  pid=$!
  read_at_kill=0
  while kill -0 "$pid" 2>/dev/null; do
    r=$(received_by "$pid")
    [ "${r:-0}" -ge "$half" ] && { kill -KILL "$pid"; read_at_kill=$r; break; }
    sleep 0.01  # a polling interval (overshoot: at most 10 ms of transfer), not a race fix
  done
  wait "$pid" 2>/dev/null || true
  [ -e "$out" ] && { echo "s3_bench: the download finished before it was killed" >&2; exit 1; }
  json=$("$SACKER" "${SK[@]}" --json download "resume$LAST_MIB" latest -o "$out")
  same_or_die "$out" "$LAST_BLOB" sacker-resume
  moved=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["bytes_transferred"])' "$json")
  kept=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["resumed_from"])' "$json")
  RESUME_LINES+=$(printf 'resume %d/3: killed after receiving %d MiB; the rerun kept %.1f%% and fetched %.1f%% of the blob\n' \
    "$rep" $((read_at_kill >> 20)) "$(awk -v k="$kept" -v s=$((LAST_MIB << 20)) 'BEGIN {print 100 * k / s}')" \
    "$(awk -v m="$moved" -v s=$((LAST_MIB << 20)) 'BEGIN {print 100 * m / s}')")$'\n'
  rm -f "$out"
done
rm -f "$LAST_BLOB"

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
    if ($2 == "curl" || $2 == "curl-8x") floors[$1] = floors[$1] " " key
  }
  function best_floor(op,    n, a, i, m, b) {
    n = split(floors[op], a, " "); b = 0
    for (i = 1; i <= n; i++) { m = median(wall[a[i]]); if (b == 0 || m < b) b = m }
    return b
  }
  END {
    printf "| %-16s | %-8s | %8s | %6s | %6s | %6s | %9s |\n", "operation", "tool", "median s", "MiB/s", "ratio", "floor", "CPU s/GiB"
    printf "|%s|%s|%s|%s|%s|%s|%s|\n", "------------------", "----------", "---------:", "-------:", "-------:", "-------:", "----------:"
    for (i = 1; i <= n; i++) {
      split(order[i], k, SUBSEP)
      w = median(wall[order[i]]); c = median(cpu[order[i]]); by = bytes[order[i]]
      ref = by > 0 ? median(wall[base[k[1]]]) : median(wall[floor_key])
      fl = by > 0 ? best_floor(k[1]) : 0
      rate = by > 0 && w > 0 ? sprintf("%6.0f", by / 1048576 / w) : sprintf("%6s", "-")
      per_gib = by > 0 ? sprintf("%9.2f", c / (by / 1073741824)) : sprintf("%9s", "-")
      vs_floor = fl > 0 ? sprintf("%6.2f", w / fl) : sprintf("%6s", "-")
      printf "| %-16s | %-8s | %8.4f | %s | %6.2f | %s | %s |\n", k[1], k[2], w, rate, (ref > 0 ? w / ref : 0), vs_floor, per_gib
    }
  }' "$RESULTS"
echo
echo "ratio: transfers = the tool's median / sacker's (>1: sacker is faster);"
echo "       metadata = the command's median / one signed curl GET (the floor)."
echo "floor: transfers = the median / the fastest curl of the same operation (one PUT; one GET or"
echo "       8 parallel ranged GETs); 1.00 is the physical floor, sacker's goal is <= 1.11 (>= 0.9x)."
echo "CPU s/GiB: median user+sys seconds of the client process per GiB moved."
echo
printf '%s' "$RESUME_LINES"
