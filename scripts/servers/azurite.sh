#!/usr/bin/env bash
# Azurite 3.35.0 (npm; Microsoft's Azure Storage emulator), Blob service only, in memory, on 127.0.0.1.
#   bash scripts/servers/azurite.sh start DIR | stop DIR | selftest
# env: AZURE_STORAGE_CONNECTION_STRING (the well-known devstoreaccount1, BlobEndpoint path-style
# on our port), AZURE_ACCOUNT, AZURE_ACCOUNT_KEY, AZURE_BLOB_ENDPOINT, AZURE_CONTAINER (created
# here), AZURITE_PORT.
# Installed by scripts/install-deps.sh under ${SACKER_TOOLS_DIR:-/opt/sacker-tools}. We run node
# on dist/src/blob/main.js (what the azurite-blob bin links to) so the pid is the server's.
# Gotchas (shared/reference/servers/azurite.sh): 3.36+ needs Node >= 21, so 3.35.0 is pinned;
# --inMemoryPersistence cannot be combined with --location (so cwd = DIR); --disableTelemetry;
# Azurite VERIFIES Shared Key and SAS signatures (wrong key -> 403 AuthorizationFailure) and checks
# Content-MD5 on Put Blob / Put Block (not CRC64); If-None-Match: * on an existing blob -> 409.
SV_NAME=azurite
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

AZURITE_MAIN=$SACKER_TOOLS_DIR/node_modules/azurite/dist/src/blob/main.js
AZ_ACCOUNT=devstoreaccount1
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
AZ_CONTAINER=sacker-test
# MB of blob data Azurite may hold in memory (its default is half the RAM)
AZ_MEMORY_MB=${SACKER_AZURITE_MEMORY_MB:-3072}

sv_start() {
  local dir=$1 port pid ep
  need_cmd node curl ss openssl
  need_file "$AZURITE_MAIN"
  port=$(free_port) || return 1
  # --loose: accept headers Azurite does not implement instead of failing the request;
  # --skipApiVersionCheck: our x-ms-version is older than Azurite's newest.
  # start_detached runs from /: a small bash (exec'd away) moves to DIR first, so anything
  # Azurite writes next to itself lands there.
  # shellcheck disable=SC2016  # expanded by that bash
  start_detached "$dir/azurite.log" "$dir/azurite.pid" \
    bash -c 'cd "$1" && shift && exec "$@"' azurite-cd "$dir" \
    node "$AZURITE_MAIN" --blobHost 127.0.0.1 --blobPort "$port" \
    --inMemoryPersistence --extentMemoryLimit "$AZ_MEMORY_MB" \
    --skipApiVersionCheck --disableTelemetry --loose || return 1
  pid=$(pidfile_pid "$dir/azurite.pid")
  # any HTTP answer means it listens (an unsigned request gets 403)
  wait_for "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 http://127.0.0.1:$port/$AZ_ACCOUNT?comp=list)\" != 000 ] && port_owned_by $port $pid" \
    "$SV_TIMEOUT" "$pid" || { show_log "$dir/azurite.log"; return 1; }
  ep=http://127.0.0.1:$port/$AZ_ACCOUNT
  AZ_PORT=$port
  [ "$(az_req PUT "/$AZ_CONTAINER" restype=container -o /dev/null -w '%{http_code}')" = 201 ] ||
    { say "cannot create container $AZ_CONTAINER"; show_log "$dir/azurite.log"; return 1; }
  write_env "$dir" \
    "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName=$AZ_ACCOUNT;AccountKey=$AZ_KEY;BlobEndpoint=$ep;" \
    "AZURE_ACCOUNT=$AZ_ACCOUNT" "AZURE_ACCOUNT_KEY=$AZ_KEY" "AZURE_BLOB_ENDPOINT=$ep" \
    "AZURE_CONTAINER=$AZ_CONTAINER" "AZURITE_PORT=$port"
  SV_ADDR=127.0.0.1:$port
}

sv_stop() { stop_pidfile "$1/azurite.pid" 10; }

# az_req METHOD PATH QUERY [curl args...] : one Shared Key signed request with curl + openssl
# (an independent signer for the selftest). PATH excludes the account; headers that enter the
# string-to-sign are given as -H 'Name: value'. Needs AZ_PORT (and AZ_KEY to sign with).
az_req() {
  local method=$1 path=$2 query=$3 date ver=2021-08-06 clen="" ctype="" inm="" ifm="" i h n v
  shift 3
  local args=("$@") xms=() canon_hdrs canon_res sts sig hexkey
  date=$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT')
  for ((i = 0; i < ${#args[@]}; i++)); do
    [ "${args[$i]}" = -H ] || continue
    h=${args[$((i + 1))]}; n=$(printf '%s' "${h%%:*}" | tr '[:upper:]' '[:lower:]'); v=${h#*: }
    case $n in
      x-ms-*) xms+=("$n:$v") ;;
      content-type) ctype=$v ;;
      content-length) clen=$v ;;
      if-none-match) inm=$v ;;
      if-match) ifm=$v ;;
    esac
  done
  [ "$clen" = 0 ] && clen=""
  xms+=("x-ms-date:$date" "x-ms-version:$ver")
  canon_hdrs=$(printf '%s\n' "${xms[@]}" | LC_ALL=C sort)
  canon_res="/$AZ_ACCOUNT/$AZ_ACCOUNT$path"
  # shellcheck disable=SC2086  # split the query on '&'
  [ -n "$query" ] && canon_res+=$'\n'$(printf '%s\n' ${query//&/ } | sed 's/=/:/' | LC_ALL=C sort)
  sts="$method"$'\n\n\n'"$clen"$'\n\n'"$ctype"$'\n\n\n'"$ifm"$'\n'"$inm"$'\n\n\n'"$canon_hdrs"$'\n'"$canon_res"
  hexkey=$(printf '%s' "$AZ_KEY" | base64 -d | od -An -tx1 -v | tr -d ' \n')
  sig=$(printf '%s' "$sts" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | base64 -w0)
  curl -s --max-time 10 -X "$method" -H "x-ms-date: $date" -H "x-ms-version: $ver" \
    -H "Authorization: SharedKey $AZ_ACCOUNT:$sig" "$@" \
    "http://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT$path${query:+?$query}"
}

sv_check() {
  local dir=$1 f code
  AZ_PORT=$(env_get "$dir" AZURITE_PORT)
  f=$dir/blob.bin
  head -c 100000 /dev/urandom > "$f"
  code=$(az_req PUT "/$AZ_CONTAINER/selftest/blob" "" -H 'x-ms-blob-type: BlockBlob' \
    -H 'Content-Type: application/octet-stream' -H "Content-Length: 100000" --data-binary @"$f" \
    -o /dev/null -w '%{http_code}')
  [ "$code" = 201 ] || { echo "put blob: $code"; return 1; }
  az_req GET "/$AZ_CONTAINER/selftest/blob" "" | cmp -s - "$f" || { echo "get blob: other bytes"; return 1; }
  code=$(az_req PUT "/$AZ_CONTAINER/selftest/blob" "" -H 'x-ms-blob-type: BlockBlob' \
    -H 'Content-Type: application/octet-stream' -H 'Content-Length: 1' -H 'If-None-Match: *' --data-binary x \
    -o /dev/null -w '%{http_code}')
  echo "put If-None-Match:* on an existing blob -> $code"
  [ "$code" = 409 ] || return 1
  code=$(AZ_KEY=$(head -c 64 /dev/urandom | base64 -w0) az_req GET "/$AZ_CONTAINER/selftest/blob" "" \
    -o /dev/null -w '%{http_code}')
  echo "wrong key -> $code"
  [ "$code" = 403 ] || return 1
}

sv_main "$@"
