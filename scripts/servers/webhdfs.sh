#!/usr/bin/env bash
# The WebHDFS stand-in (tests/fixtures/webhdfs_standin.py; no real HDFS can run here): two
# namenodes (nn1 active, nn2 standby, one shared tree), two datanodes and a dead datanode port,
# all on 127.0.0.1, in one Python process. See tests/fixtures/WEBHDFS-STANDIN.md.
#   bash scripts/servers/webhdfs.sh start DIR | stop DIR | selftest
#
# Options, read from the environment at start:
#   SACKER_WEBHDFS_AUTH=simple|token|kerberos   default simple (user.name=). token: every request
#       needs delegation=$WEBHDFS_TOKEN. kerberos: SPNEGO on the namenodes (or delegation=), the
#       realm of scripts/servers/kdc.sh, URLs use "localhost"
#   SACKER_WEBHDFS_KDC=KDCDIR   kerberos: use this running kdc.sh realm (default: start one in
#       DIR/kdc, stopped with us)
#   SACKER_WEBHDFS_TLS=1        HTTPS on every listener (swebhdfs://), a self-signed cert in DIR
#   SACKER_WEBHDFS_PAGE_SIZE=N  LISTSTATUS_BATCH entries per page (default 1000, as dfs.ls.limit)
#   SACKER_WEBHDFS_REQUIRE_USER=1   simple auth: refuse requests without user.name (401)
#   SACKER_WEBHDFS_PROXY_USERS="u1 u2"   users allowed to act for others with doas=
#   SACKER_WEBHDFS_SET="key=json ..."    initial fault settings (the keys of POST /__control)
#
# env (DIR/env):
#   WEBHDFS_NN1, WEBHDFS_NN2   HOST:PORT of the active and the standby namenode
#   WEBHDFS_URI                webhdfs://HOST:PORT of nn1 (swebhdfs:// with TLS)
#   WEBHDFS_HOST               127.0.0.1, or localhost with kerberos (curl asks for HTTP@<URL host>)
#   WEBHDFS_HTTP               http or https
#   WEBHDFS_DN1, WEBHDFS_DN2, WEBHDFS_DEAD_DN   datanodes; the port nothing listens on
#   WEBHDFS_CONTROL            http(s)://127.0.0.1:PORT/__control (faults, HA state, request log)
#   WEBHDFS_AUTH               simple, token or kerberos
#   WEBHDFS_USER, WEBHDFS_USER2, WEBHDFS_SUPERUSER   sacker, other (homes /user/NAME), hdfs
#   WEBHDFS_HOME               /user/sacker
#   WEBHDFS_TOKEN              the delegation token accepted for WEBHDFS_USER (token, kerberos)
#   WEBHDFS_CA                 with TLS: the certificate to trust (curl --cacert, CURLOPT_CAINFO)
#   with kerberos also WEBHDFS_KDC_DIR and every key of the realm's env (KRB5_CONFIG, KRB5CCNAME,
#   KDC_CLIENT_KEYTAB, KDC_USER_PRINCIPAL, ...; see kdc.sh)
SV_NAME=webhdfs
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STANDIN=$(cd "$SV_DIR/../.." && pwd)/tests/fixtures/webhdfs_standin.py
PY=/usr/bin/python3   # Debian's: python3-gssapi is installed for it, not for a pyenv python3

make_cert() {
  local dir=$1
  mkdir -p "$dir/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$dir/tls/key.pem" -out "$dir/tls/cert.pem" >"$dir/tls/openssl.log" 2>&1 ||
    { show_log "$dir/tls/openssl.log"; return 1; }
}

sv_start() {
  local dir=$1 auth=${SACKER_WEBHDFS_AUTH:-simple} base nn1 nn2 dn1 dn2 dead pid host http scheme
  local token kdc="" args=() kenv=() u kv
  need_cmd curl ss
  need_file "$PY"
  need_file "$STANDIN"
  case "$auth" in simple|token|kerberos) ;; *) die "SACKER_WEBHDFS_AUTH=$auth: want simple, token or kerberos" ;; esac
  base=$(free_port_block 5) || return 1
  nn1=$base nn2=$((base + 1)) dn1=$((base + 2)) dn2=$((base + 3)) dead=$((base + 4))
  token=$(head -c 27 /dev/urandom | base64 | tr '+/' '-_')  # may start with "-": passed as --token=VALUE
  host=127.0.0.1 http=http scheme=webhdfs
  if [ "$auth" = kerberos ]; then
    "$PY" -c 'import gssapi' 2>/dev/null || die "python3-gssapi not found; run scripts/install-deps.sh"
    host=localhost   # the service principal is HTTP/localhost; an IP would need HTTP/127.0.0.1
    if [ -n "${SACKER_WEBHDFS_KDC:-}" ]; then
      kdc=$(cd "$SACKER_WEBHDFS_KDC" 2>/dev/null && pwd) || die "no directory $SACKER_WEBHDFS_KDC"
      [ -s "$kdc/env" ] || die "no kdc.sh realm in $SACKER_WEBHDFS_KDC"
    else
      kdc=$dir/kdc
      bash "$SV_DIR/kdc.sh" start "$kdc" >&2 || return 1
      touch "$dir/kdc.ours"
    fi
    mkdir -p "$dir/rcache"
    kenv=(KRB5_CONFIG="$(env_get "$kdc" KRB5_CONFIG)" KRB5_KTNAME="$(env_get "$kdc" KRB5_KTNAME)"
          KRB5RCACHEDIR="$dir/rcache")
  fi
  if [ "${SACKER_WEBHDFS_TLS:-0}" = 1 ]; then
    need_cmd openssl
    make_cert "$dir" || return 1
    http=https scheme=swebhdfs
    args+=(--tls-cert "$dir/tls/cert.pem" --tls-key "$dir/tls/key.pem")
  fi
  [ "${SACKER_WEBHDFS_REQUIRE_USER:-0}" = 1 ] && args+=(--require-user)
  for u in ${SACKER_WEBHDFS_PROXY_USERS:-}; do args+=(--proxy-user "$u"); done
  for kv in ${SACKER_WEBHDFS_SET:-}; do args+=(--set "$kv"); done
  mkdir -p "$dir/data"
  start_detached "$dir/webhdfs.log" "$dir/webhdfs.pid" \
    env "${kenv[@]}" "$PY" -u "$STANDIN" --data-dir "$dir/data" \
    --nn "$nn1" --nn "$nn2" --dn "$dn1" --dn "$dn2" --dead-port "$dead" --standby nn2 \
    --auth "$auth" --user sacker --extra-user other --superuser hdfs --token="$token" \
    --page-size "${SACKER_WEBHDFS_PAGE_SIZE:-1000}" --dn-host "$host" "${args[@]}" || return 1
  pid=$(pidfile_pid "$dir/webhdfs.pid")
  wait_for "curl -sfk --max-time 1 -o /dev/null $http://127.0.0.1:$nn1/__control &&
            port_owned_by $nn1 $pid && port_owned_by $nn2 $pid &&
            port_owned_by $dn1 $pid && port_owned_by $dn2 $pid" \
    "$SV_TIMEOUT" "$pid" || { show_log "$dir/webhdfs.log"; return 1; }
  local envs=(
    "WEBHDFS_NN1=$host:$nn1" "WEBHDFS_NN2=$host:$nn2" "WEBHDFS_URI=$scheme://$host:$nn1"
    "WEBHDFS_HOST=$host" "WEBHDFS_HTTP=$http"
    "WEBHDFS_DN1=$host:$dn1" "WEBHDFS_DN2=$host:$dn2" "WEBHDFS_DEAD_DN=127.0.0.1:$dead"
    "WEBHDFS_CONTROL=$http://127.0.0.1:$nn1/__control" "WEBHDFS_AUTH=$auth"
    "WEBHDFS_USER=sacker" "WEBHDFS_USER2=other" "WEBHDFS_SUPERUSER=hdfs" "WEBHDFS_HOME=/user/sacker"
    "WEBHDFS_TOKEN=$token")
  [ "$http" = https ] && envs+=("WEBHDFS_CA=$dir/tls/cert.pem")
  if [ -n "$kdc" ]; then
    envs+=("WEBHDFS_KDC_DIR=$kdc")
    while IFS= read -r kv; do envs+=("$kv"); done < "$kdc/env"
  fi
  write_env "$dir" "${envs[@]}"
  SV_ADDR=$host:$nn1
}

sv_stop() {
  local rc=0
  stop_pidfile "$1/webhdfs.pid" 5 || rc=1
  if [ -f "$1/kdc.ours" ]; then
    bash "$SV_DIR/kdc.sh" stop "$1/kdc" || rc=1
  fi
  return "$rc"
}

sv_check() {
  local dir=$1 nn1 nn2 http auth user q="" cred=() tls=() loc out
  nn1=$(env_get "$dir" WEBHDFS_NN1)
  nn2=$(env_get "$dir" WEBHDFS_NN2)
  http=$(env_get "$dir" WEBHDFS_HTTP)
  auth=$(env_get "$dir" WEBHDFS_AUTH)
  user=$(env_get "$dir" WEBHDFS_USER)
  [ "$http" = https ] && tls=(--cacert "$(env_get "$dir" WEBHDFS_CA)")
  case "$auth" in
    simple) q="user.name=$user&" ;;
    token) q="delegation=$(env_get "$dir" WEBHDFS_TOKEN)&" ;;
    kerberos)
      export KRB5_CONFIG KRB5CCNAME
      KRB5_CONFIG=$(env_get "$dir" KRB5_CONFIG)
      KRB5CCNAME=$(env_get "$dir" KRB5CCNAME)
      kinit -k -t "$(env_get "$dir" KDC_CLIENT_KEYTAB)" "$(env_get "$dir" KDC_USER_PRINCIPAL)" ||
        { echo "kinit failed"; return 1; }
      cred=(--negotiate -u :) ;;
  esac
  local url=$http://$nn1/webhdfs/v1/user/$user/selftest
  loc=$(curl -s "${tls[@]}" "${cred[@]}" -o /dev/null -w '%{http_code} %{redirect_url}' -X PUT \
        "$url?${q}op=CREATE") || return 1
  [ "${loc%% *}" = 307 ] || { echo "CREATE step 1: $loc"; return 1; }
  out=$(printf 'hello' | curl -s "${tls[@]}" -o /dev/null -w '%{http_code}' -X PUT -T - "${loc#* }")
  [ "$out" = 201 ] || { echo "CREATE step 2 (datanode): $out"; return 1; }
  out=$(curl -s "${tls[@]}" "${cred[@]}" -L "$url?${q}op=OPEN")
  [ "$out" = hello ] || { echo "OPEN: '$out'"; return 1; }
  out=$(curl -s "${tls[@]}" "${cred[@]}" "$http://$nn2/webhdfs/v1/user/$user/selftest?${q}op=GETFILESTATUS")
  [[ "$out" == *StandbyException* ]] || { echo "nn2: $out"; return 1; }
  echo "$auth${tls:+ over TLS}: two-step CREATE on $nn1, OPEN back, StandbyException from $nn2: ok"
  [ "$auth" != kerberos ] || kdestroy -q
}

sv_main "$@"
