#!/usr/bin/env bash
# A throw-away MIT Kerberos realm (Debian's krb5-kdc 1.20): one KDC on 127.0.0.1, database,
# stash, keytabs, krb5.conf and credential caches all in DIR. For SPNEGO tests (the WebHDFS
# stand-in's namenode, scripts/servers/webhdfs.sh with SACKER_WEBHDFS_AUTH=kerberos).
#   bash scripts/servers/kdc.sh start DIR | stop DIR | selftest
#
# env (DIR/env):
#   KRB5_CONFIG          DIR/krb5.conf: use it for every Kerberos call (it replaces /etc/krb5.conf,
#                        which is Debian's stock file naming a realm on the internet)
#   KRB5CCNAME           FILE:DIR/ccache, the client's cache; empty until `kinit`
#   KRB5_KTNAME          DIR/http.keytab, the service keytab (HTTP/localhost), for acceptors
#   KDC_REALM            SACKER.TEST
#   KDC_ADDR, KDC_PORT   127.0.0.1:PORT (UDP and TCP)
#   KDC_HTTP_PRINCIPAL   HTTP/localhost@SACKER.TEST (what curl asks for at http://localhost:P/)
#   KDC_USER, KDC_USER_PRINCIPAL, KDC_CLIENT_KEYTAB      sacker, sacker@SACKER.TEST, its keytab
#   KDC_USER2, KDC_USER2_PRINCIPAL, KDC_USER2_KEYTAB     other, other@SACKER.TEST, its keytab
# Get a ticket:  KRB5_CONFIG=... KRB5CCNAME=... kinit -k -t "$KDC_CLIENT_KEYTAB" "$KDC_USER_PRINCIPAL"
#
# The client keytab is deliberately NOT exported as KRB5_CLIENT_KTNAME: MIT's GSS-API would then
# fetch a ticket by itself whenever the cache is empty, and "no ticket" could not be tested.
# kadmind is not started (kadmin.local works on the database directly). The master password is
# random and forgotten; the stash file in DIR unlocks the database.
SV_NAME=kdc
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KDC_REALM=SACKER.TEST

# krb5 DIR CMD... : run a Kerberos tool against the realm in DIR only
krb5() {
  local dir=$1
  shift
  KRB5_CONFIG=$dir/krb5.conf KRB5_KDC_PROFILE=$dir/kdc.conf "$@"
}

write_confs() {
  local dir=$1 port=$2
  cat > "$dir/kdc.conf" <<EOF
# written by scripts/servers/kdc.sh: a throw-away test realm
[kdcdefaults]
    kdc_listen = 127.0.0.1:$port
    kdc_tcp_listen = 127.0.0.1:$port

[realms]
    $KDC_REALM = {
        database_name = $dir/db/principal
        key_stash_file = $dir/db/stash
        acl_file = $dir/kadm5.acl
        kdc_listen = 127.0.0.1:$port
        kdc_tcp_listen = 127.0.0.1:$port
        max_life = 10h 0m 0s
        max_renewable_life = 7d 0h 0m 0s
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }

[logging]
    kdc = FILE:$dir/krb5kdc.log
    admin_server = FILE:$dir/kadmin.log
    default = FILE:$dir/krb5lib.log
EOF
  # rdns/dns_canonicalize_hostname false: the service principal is built from the host name as
  # written in the URL (http://localhost:P/ -> HTTP/localhost), never from a DNS lookup.
  # udp_preference_limit 1: always TCP (no UDP retransmit waits on a loaded machine).
  cat > "$dir/krb5.conf" <<EOF
# written by scripts/servers/kdc.sh: a throw-away test realm
[libdefaults]
    default_realm = $KDC_REALM
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
    ticket_lifetime = 10h
    renew_lifetime = 7d
    forwardable = true
    default_ccache_name = FILE:$dir/ccache

[realms]
    $KDC_REALM = {
        kdc = 127.0.0.1:$port
    }

[domain_realm]
    localhost = $KDC_REALM
    .localhost = $KDC_REALM
EOF
  echo "*/admin@$KDC_REALM *" > "$dir/kadm5.acl"
}

sv_start() {
  local dir=$1 port pid pw
  need_cmd krb5kdc kdb5_util kadmin.local kinit kdestroy ss
  port=$(free_port) || return 1
  mkdir -p "$dir/db" && chmod 700 "$dir/db"
  write_confs "$dir" "$port"
  pw=$(head -c 24 /dev/urandom | base64)
  krb5 "$dir" kdb5_util -r "$KDC_REALM" create -s -P "$pw" >"$dir/kdb5_util.log" 2>&1 ||
    { show_log "$dir/kdb5_util.log"; return 1; }
  # one kadmin.local for all principals (each start of it costs ~0.1 s); -randkey: no passwords
  krb5 "$dir" kadmin.local -r "$KDC_REALM" >"$dir/kadmin.local.log" 2>&1 <<EOF || { show_log "$dir/kadmin.local.log"; return 1; }
addprinc -randkey HTTP/localhost@$KDC_REALM
addprinc -randkey sacker@$KDC_REALM
addprinc -randkey other@$KDC_REALM
ktadd -k $dir/http.keytab HTTP/localhost@$KDC_REALM
ktadd -k $dir/client.keytab sacker@$KDC_REALM
ktadd -k $dir/other.keytab other@$KDC_REALM
EOF
  for f in http client other; do
    [ -s "$dir/$f.keytab" ] || { show_log "$dir/kadmin.local.log"; say "$f.keytab not written"; return 1; }
  done
  # -n: stay in the foreground, so our PID is the KDC's
  start_detached "$dir/krb5kdc.out" "$dir/krb5kdc.pid" \
    env KRB5_CONFIG="$dir/krb5.conf" KRB5_KDC_PROFILE="$dir/kdc.conf" \
    krb5kdc -n -r "$KDC_REALM" || return 1
  pid=$(pidfile_pid "$dir/krb5kdc.pid")
  # ready = a real AS exchange with the client keytab works (into a probe cache, then removed)
  wait_for "port_owned_by $port $pid &&
            KRB5CCNAME=FILE:$dir/probe.ccache krb5 $dir kinit -k -t $dir/client.keytab sacker@$KDC_REALM &&
            KRB5CCNAME=FILE:$dir/probe.ccache krb5 $dir kdestroy -q" \
    "$SV_TIMEOUT" "$pid" || { show_log "$dir/krb5kdc.out" "$dir/krb5kdc.log"; return 1; }
  rm -f "$dir/probe.ccache"
  write_env "$dir" \
    "KRB5_CONFIG=$dir/krb5.conf" "KRB5CCNAME=FILE:$dir/ccache" "KRB5_KTNAME=$dir/http.keytab" \
    "KDC_REALM=$KDC_REALM" "KDC_ADDR=127.0.0.1:$port" "KDC_PORT=$port" \
    "KDC_HTTP_PRINCIPAL=HTTP/localhost@$KDC_REALM" \
    "KDC_USER=sacker" "KDC_USER_PRINCIPAL=sacker@$KDC_REALM" "KDC_CLIENT_KEYTAB=$dir/client.keytab" \
    "KDC_USER2=other" "KDC_USER2_PRINCIPAL=other@$KDC_REALM" "KDC_USER2_KEYTAB=$dir/other.keytab"
  SV_ADDR=127.0.0.1:$port
}

sv_stop() { stop_pidfile "$1/krb5kdc.pid" 5; }

sv_check() {
  local dir=$1 cfg cc out
  cfg=$(env_get "$dir" KRB5_CONFIG)
  cc=$(env_get "$dir" KRB5CCNAME)
  export KRB5_CONFIG=$cfg KRB5CCNAME=$cc
  out=$(getent hosts localhost | awk '{print $1}' | sort -u | tr '\n' ' ')
  echo "localhost resolves to: $out"
  [[ " $out" == *" 127.0.0.1 "* ]] || { echo "localhost does not resolve to 127.0.0.1"; return 1; }
  kinit -k -t "$(env_get "$dir" KDC_CLIENT_KEYTAB)" "$(env_get "$dir" KDC_USER_PRINCIPAL)" ||
    { echo "kinit -k -t failed"; return 1; }
  klist | grep -q "krbtgt/$KDC_REALM@$KDC_REALM" || { echo "no TGT in $cc"; return 1; }
  # a service ticket for HTTP/localhost, checked against the service keytab (what an acceptor does)
  out=$(kvno -k "$(env_get "$dir" KRB5_KTNAME)" "$(env_get "$dir" KDC_HTTP_PRINCIPAL)" 2>&1) ||
    { echo "kvno: $out"; return 1; }
  echo "kinit -k -t, TGT, and $out"
  kdestroy -q
}

sv_main "$@"
