#!/usr/bin/env bash
# sacker's azure:// store against the floor and the Azure CLI, side by side in one run, against
# one local Azurite (started here through scripts/servers/azurite.sh, stopped at exit):
#   - upload and download of a 64 MiB and a 1 GiB blob: `sacker add` / `sacker download` vs
#     curl with a SAS URL (the floor: one Put Blob of the whole file, one Get Blob) vs
#     `az storage blob upload/download` (Debian's azure-cli, when installed), every tool with its
#     default settings, taking turns going first in every repetition, each timed step after a
#     `sync`.
# Prints a Markdown table: medians, the ratio to sacker (>1: sacker is faster) and the client
# CPU seconds (user + sys of the process, from /usr/bin/time) per GiB moved.
#
#   bash bench/azure_bench.sh [-n REPS] [-s "64 1024"] [-b BUILD_DIR] [-d DOWNLOAD_DIR]
#
# Downloads go to tmpfs (/dev/shm) unless -d says otherwise (see s3_bench.sh for why).
# Needs a built sacker with the azure backend (default build/sacker, or -b / $SACKER_BUILD_DIR),
# Azurite (scripts/install-deps.sh), curl, openssl and /usr/bin/time; az is optional. RAM: Azurite
# keeps blobs in memory ($SACKER_AZURITE_MEMORY_MB, 4096 here), a fresh one per repetition; every
# blob is deleted right after its download.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SACKER_BUILD_DIR:-$ROOT/build}
REPS=5
SIZES="64 1024"
DL_DIR=
while getopts "n:s:b:d:h" opt; do
  case $opt in
    n) REPS=$OPTARG ;;
    s) SIZES=$OPTARG ;;
    b) BUILD=$OPTARG ;;
    d) DL_DIR=$OPTARG ;;
    *) sed -n '2,19p' "$0"; exit 2 ;;
  esac
done
SACKER=$BUILD/sacker
for t in "$SACKER" curl openssl /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "azure_bench: $t not found" >&2; exit 1; }
done
"$SACKER" --version | grep -qw azure || { echo "azure_bench: $SACKER has no azure store" >&2; exit 1; }
TOOLS=(sacker curl-sas)
if command -v az >/dev/null; then TOOLS+=(az-cli); else echo "azure_bench: no az: comparing with curl only" >&2; fi

WORK=$(mktemp -d /tmp/sacker-bench.XXXXXX)
if [ -z "$DL_DIR" ]; then
  DL_DIR=$WORK
  [ -d /dev/shm ] && [ -w /dev/shm ] && DL_DIR=$(mktemp -d /dev/shm/sacker-bench.XXXXXX)
fi
cleanup() {
  bash "$ROOT/scripts/servers/azurite.sh" stop "$WORK/azurite" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  case $DL_DIR in /dev/shm/sacker-bench.*) rm -rf "$DL_DIR" ;; esac
}
trap cleanup EXIT

export SACKER_AZURITE_MEMORY_MB=${SACKER_AZURITE_MEMORY_MB:-4096}
# A fresh Azurite for every repetition: it frees deleted blobs lazily, so a long run would
# otherwise fill its in-memory store (409 MemoryExtentStoreAtSizeLimit).
start_server() {
  bash "$ROOT/scripts/servers/azurite.sh" stop "$WORK/azurite" >/dev/null 2>&1 || true
  bash "$ROOT/scripts/servers/azurite.sh" start "$WORK/azurite" >/dev/null 2>"$WORK/azurite-start.log" ||
    { cat "$WORK/azurite-start.log" >&2; exit 1; }
  # The env file holds a connection string with ';': read it line by line, never `source` it.
  while IFS= read -r line; do export "${line%%=*}=${line#*=}"; done < "$WORK/azurite/env"
  EP=$AZURE_BLOB_ENDPOINT
  C=$AZURE_CONTAINER
}
start_server
export HOME=$WORK/home SACKER_CONFIG=$WORK/home/none.json AZURE_CONFIG_DIR=$WORK/az \
  AZURE_CORE_COLLECT_TELEMETRY=false AZURE_CORE_ONLY_SHOW_ERRORS=true
mkdir -p "$HOME"
echo '{}' > "$SACKER_CONFIG"
SK=(-q --ledger "sqlite://$WORK/ledger.db" --store "azure://$AZURE_ACCOUNT/$C/bench-store/")

# sas BLOB PERMISSIONS : a blob service SAS query for BLOB (signed here with openssl, valid 1 h)
sas() {
  local blob=$1 perms=$2 se sts hexkey sig
  se=$(date -u -d '+1 hour' '+%Y-%m-%dT%H:%M:%SZ')
  sts="$perms"$'\n\n'"$se"$'\n'"/blob/$AZURE_ACCOUNT/$C/$blob"$'\n\n\n\n2021-08-06\nb\n\n\n\n\n\n\n'
  hexkey=$(printf '%s' "$AZURE_ACCOUNT_KEY" | base64 -d | od -An -tx1 -v | tr -d ' \n')
  sig=$(printf '%s' "$sts" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | base64 -w0)
  sig=${sig//+/%2B}; sig=${sig//\//%2F}; sig=${sig//=/%3D}
  echo "sv=2021-08-06&se=${se//:/%3A}&sr=b&sp=$perms&sig=$sig"
}
# remove BLOB : Delete Blob through a SAS (fine if it is not there)
remove() { curl -s -o /dev/null -X DELETE -H 'x-ms-version: 2021-08-06' "$EP/$C/$1?$(sas "$1" d)"; }

RESULTS=$WORK/results  # lines: OP TOOL BYTES WALL USER SYS
: > "$RESULTS"
timed() {  # OP TOOL BYTES CMD...
  local op=$1 tool=$2 bytes=$3 t0 t1
  shift 3
  t0=$(date +%s%N)
  /usr/bin/time -f "%U %S" -o "$WORK/time" "$@" > "$WORK/out" 2> "$WORK/err" ||
    { echo "azure_bench: $op $tool failed: $*" | sed 's/sig=[^& ]*/sig=REDACTED/g' >&2; cat "$WORK/err" >&2; exit 1; }
  t1=$(date +%s%N)
  echo "$op $tool $bytes $(awk -v d=$((t1 - t0)) 'BEGIN {printf "%.4f", d / 1e9}') $(cat "$WORK/time")" >> "$RESULTS"
}
same_or_die() { cmp -s "$1" "$2" || { echo "azure_bench: $3 returned other bytes" >&2; exit 1; }; }

round() {  # TOOL MIB FILE SHA
  local tool=$1 mib=$2 f=$3 sha=$4 bytes=$(($2 << 20)) out=$DL_DIR/download
  rm -f "$out"
  case $tool in
    sacker)
      remove "bench-store/$sha"  # or add uploads nothing
      sync
      timed "upload-${mib}MiB" sacker $bytes "$SACKER" "${SK[@]}" add "blob$mib" "$f"
      sync
      timed "download-${mib}MiB" sacker $bytes "$SACKER" "${SK[@]}" download "blob$mib" latest -o "$out"
      same_or_die "$out" "$f" sacker
      remove "bench-store/$sha"
      ;;
    curl-sas)
      sync
      timed "upload-${mib}MiB" curl-sas $bytes curl -sSf -o /dev/null -T "$f" -H 'x-ms-blob-type: BlockBlob' \
        -H 'x-ms-version: 2021-08-06' "$EP/$C/curl/blob?$(sas curl/blob cw)"
      sync
      timed "download-${mib}MiB" curl-sas $bytes curl -sSf -o "$out" "$EP/$C/curl/blob?$(sas curl/blob r)"
      same_or_die "$out" "$f" curl
      remove curl/blob
      ;;
    az-cli)
      sync
      timed "upload-${mib}MiB" az-cli $bytes az storage blob upload --container-name "$C" --name az/blob \
        --file "$f" --overwrite --no-progress -o none
      sync
      timed "download-${mib}MiB" az-cli $bytes az storage blob download --container-name "$C" --name az/blob \
        --file "$out" --no-progress -o none
      same_or_die "$out" "$f" az-cli
      remove az/blob
      ;;
  esac
  rm -f "$out"
}

echo "azure_bench: Azurite (fresh per repetition); $REPS repetitions per transfer; tools: ${TOOLS[*]};" \
  "downloads to $DL_DIR" >&2
for mib in $SIZES; do
  f=$WORK/blob-$mib
  head -c $((mib << 20)) /dev/urandom > "$f"
  sha=$(openssl dgst -sha256 "$f" | awk '{print $NF}')
  for ((rep = 1; rep <= REPS; rep++)); do
    echo "azure_bench: ${mib} MiB, repetition $rep/$REPS" >&2
    start_server
    for ((t = 0; t < ${#TOOLS[@]}; t++)); do
      round "${TOOLS[$(((t + rep - 1) % ${#TOOLS[@]}))]}" "$mib" "$f" "$sha"
    done
  done
  rm -f "$f"
done

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
    if ($2 == "sacker") base[$1] = key
  }
  END {
    printf "| %-16s | %-8s | %8s | %6s | %6s | %9s |\n", "operation", "tool", "median s", "MiB/s", "ratio", "CPU s/GiB"
    printf "|%s|%s|%s|%s|%s|%s|\n", "------------------", "----------", "---------:", "-------:", "-------:", "----------:"
    for (i = 1; i <= n; i++) {
      split(order[i], k, SUBSEP)
      w = median(wall[order[i]]); c = median(cpu[order[i]]); by = bytes[order[i]]
      ref = median(wall[base[k[1]]])
      printf "| %-16s | %-8s | %8.4f | %6.0f | %6.2f | %9.2f |\n", k[1], k[2], w, by / 1048576 / w,
        (ref > 0 ? w / ref : 0), c / (by / 1073741824)
    }
  }' "$RESULTS"
echo
echo "ratio: the tool's median / sacker's for the same operation (>1: sacker is faster)."
echo "CPU s/GiB: median user+sys seconds of the client process per GiB moved."
