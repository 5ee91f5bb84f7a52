#!/usr/bin/env bash
# A real S3 server for tests: Ceph RadosGW (Debian 12's Ceph 16.2) on 127.0.0.1 with one
# ceph-mon and one ceph-osd whose objects live in RAM (memstore). Config, mon store, logs,
# sockets and pid files all under DIR. No mgr, no systemd, no cephx between the daemons (S3
# requests are still SigV4-verified by RGW).
#   bash scripts/servers/rgw.sh start DIR | stop DIR | selftest
# env: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (a user made at start), AWS_REGION,
#      AWS_DEFAULT_REGION, AWS_ENDPOINT_URL(_S3), AWS_EC2_METADATA_DISABLED, RGW_BUCKET (exists),
#      RGW_PORT, RGW_CEPH_CONF (for `radosgw-admin -c $RGW_CEPH_CONF user create ...`).
# SACKER_RGW_MEMSTORE_BYTES (default 6 GiB) caps what the OSD can hold: when it is full, writes
# HANG rather than fail. RAM is only used as data arrives (about 2x the data stored).
SV_NAME=rgw
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MEMSTORE_BYTES=${SACKER_RGW_MEMSTORE_BYTES:-$((6 * 1024 * 1024 * 1024))}
BUCKET=sacker-test
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# random hex from the kernel (no openssl needed)
rand_hex() {
  local s=""
  while [ "${#s}" -lt "$1" ]; do s+=$(tr -d - < /proc/sys/kernel/random/uuid); done
  echo "${s:0:$1}"
}

write_conf() {  # DIR S3PORT MONPORT MSGR_LO
  local dir=$1 port=$2 monport=$3 lo=$4
  cat > "$dir/ceph.conf" <<EOF
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon host = v2:127.0.0.1:$monport
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
# the OSD binds 4 messengers: keep them inside a block we checked is free
ms bind port min = $lo
ms bind port max = $((lo + 19))
auth cluster required = none
auth service required = none
auth client required = none
keyring = $dir/keyring
run dir = $dir/run
crash dir = $dir/crash
log file = $dir/log/\$name.log
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1

[mon]
mon data = $dir/mon.\$id
# with the defaults every osdmap change waits ~1 s: radosgw makes ~10 at start (bootstrap
# ~12 s instead of ~1.5 s) and 4 more on the first bucket
paxos propose interval = 0.05
paxos min wait = 0.01

[osd]
osd data = $dir/osd.\$id
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES

[client]
# radosgw forces ms_mon_client_mode=secure, which needs cephx: with auth=none it would retry
# "get_initial_auth_request returned -13" forever and never listen
ms mon client mode = crc
log file = $dir/log/\$name.\$pid.log
admin socket = $dir/run/\$name.\$pid.asok

[client.rgw]
log file = $dir/log/rgw.log
admin socket = $dir/run/rgw.asok
rgw data = $dir/rgw
rgw frontends = beast endpoint=127.0.0.1:$port tcp_nodelay=1
rgw thread pool size = 32
# deleted or overwritten data is only freed by RGW's garbage collector (2 h by default) and
# keeps filling memstore until then
rgw gc obj min wait = 5
rgw gc processor period = 5
EOF
}

# s3 AK SK CURL_ARGS... : a SigV4-signed curl call (the caller adds x-amz-content-sha256)
s3() {
  local ak=$1 sk=$2
  shift 2
  curl -s --max-time 30 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ak:$sk" "$@"
}

sv_start() {
  local dir=$1 port monport lo osd_uuid mon osd rgw ak sk code C
  need_cmd ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool curl ss timeout
  mkdir -p "$dir"/{mon.a,osd.0,rgw,run,log,crash}
  lo=$(free_port_block 20) || return 1
  port=$(free_port) || return 1
  monport=$(free_port) || return 1
  while [ "$port" -ge "$lo" ] && [ "$port" -lt $((lo + 20)) ]; do port=$(free_port); done
  while [ "$monport" -ge "$lo" ] && [ "$monport" -lt $((lo + 20)) ] || [ "$monport" = "$port" ]; do
    monport=$(free_port)
  done
  write_conf "$dir" "$port" "$monport" "$lo"
  C=(-c "$dir/ceph.conf")

  # 1. monitor
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' \
    > "$dir/log/setup.log" 2>&1 &&
    monmaptool --create --fsid "$(sed -n 's/^fsid = //p' "$dir/ceph.conf")" \
      --addv a "[v2:127.0.0.1:$monport]" "$dir/monmap" >> "$dir/log/setup.log" 2>&1 &&
    ceph-mon "${C[@]}" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" \
      >> "$dir/log/setup.log" 2>&1 || { show_log "$dir/log/setup.log"; return 1; }
  start_detached "$dir/log/mon.a.out" "$dir/mon.pid" ceph-mon "${C[@]}" -i a -f || return 1
  mon=$(pidfile_pid "$dir/mon.pid")

  # 2. OSD (it adds itself to the CRUSH map when it boots)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  timeout "$SV_TIMEOUT" ceph "${C[@]}" --connect-timeout "$SV_TIMEOUT" osd new "$osd_uuid" \
    >> "$dir/log/setup.log" 2>&1 || { show_log "$dir/log/setup.log" "$dir/log/mon.a.log"; return 1; }
  ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$osd_uuid" >> "$dir/log/setup.log" 2>&1 ||
    { show_log "$dir/log/setup.log"; return 1; }
  start_detached "$dir/log/osd.0.out" "$dir/osd.pid" ceph-osd "${C[@]}" -i 0 -f || return 1
  osd=$(pidfile_pid "$dir/osd.pid")
  # radosgw must start after the OSD is active: ops on pools whose PGs do not exist yet wait
  # for the objecter's 5 s tick
  wait_for "grep -q 'state: booting -> active' '$dir/log/osd.0.log'" "$SV_TIMEOUT" "$mon" "$osd" ||
    { show_log "$dir/log/osd.0.log" "$dir/log/osd.0.out"; return 1; }

  # 3. radosgw; ready = an anonymous GET / answers and the listener is our radosgw
  start_detached "$dir/log/rgw.out" "$dir/rgw.pid" radosgw "${C[@]}" -n client.rgw -f || return 1
  rgw=$(pidfile_pid "$dir/rgw.pid")
  wait_for "curl -s --max-time 1 -o /dev/null http://127.0.0.1:$port/ && port_owned_by $port $rgw" \
    "$SV_TIMEOUT" "$mon" "$osd" "$rgw" || { show_log "$dir/log/rgw.log" "$dir/log/rgw.out"; return 1; }

  # 4. an S3 user with fresh keys, and the test bucket
  ak=SACKER$(rand_hex 14 | tr a-f A-F)
  sk=$(rand_hex 40)
  radosgw-admin "${C[@]}" user create --uid sacker-test --display-name "sacker tests" \
    --access-key "$ak" --secret-key "$sk" > "$dir/log/user.json" 2>> "$dir/log/setup.log" ||
    { show_log "$dir/log/setup.log"; return 1; }
  code=$(s3 "$ak" "$sk" -o "$dir/log/bucket.out" -w '%{http_code}' \
    -H "x-amz-content-sha256: $EMPTY_SHA256" -X PUT "http://127.0.0.1:$port/$BUCKET")
  [ "$code" = 200 ] || { say "creating bucket $BUCKET: HTTP $code"; cat "$dir/log/bucket.out" >&2; return 1; }

  write_env "$dir" \
    "AWS_ACCESS_KEY_ID=$ak" "AWS_SECRET_ACCESS_KEY=$sk" \
    "AWS_REGION=us-east-1" "AWS_DEFAULT_REGION=us-east-1" \
    "AWS_ENDPOINT_URL=http://127.0.0.1:$port" "AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port" \
    "AWS_EC2_METADATA_DISABLED=true" \
    "RGW_BUCKET=$BUCKET" "RGW_PORT=$port" "RGW_CEPH_CONF=$dir/ceph.conf"
  SV_ADDR=127.0.0.1:$port
}

# KILL is safe (memstore keeps nothing) and instant; a TERM'd OSD waits seconds for the mon
sv_stop() {
  local d
  for d in rgw osd mon; do stop_pidfile "$1/$d.pid" 0 KILL; done
}

sv_check() {
  local dir=$1 url ak sk bucket f sha code
  url=$(env_get "$dir" AWS_ENDPOINT_URL)
  ak=$(env_get "$dir" AWS_ACCESS_KEY_ID)
  sk=$(env_get "$dir" AWS_SECRET_ACCESS_KEY)
  bucket=$(env_get "$dir" RGW_BUCKET)
  f=$dir/check.bin
  head -c 100000 /dev/urandom > "$f"
  sha=$(sha256sum < "$f" | cut -d' ' -f1)
  _expect() {  # WHAT WANT GOT
    echo "$1: $3"
    [ "$2" = "$3" ]
  }
  _expect "signed PUT (payload sha256)" 200 "$(s3 "$ak" "$sk" -o /dev/null -w '%{http_code}' \
    -H "x-amz-content-sha256: $sha" -T "$f" "$url/$bucket/selftest/obj")" || return 1
  _expect "signed GET, same bytes" same "$(s3 "$ak" "$sk" -H "x-amz-content-sha256: $EMPTY_SHA256" \
    "$url/$bucket/selftest/obj" | cmp -s - "$f" && echo same)" || return 1
  _expect "If-None-Match: * on an existing key" 412 "$(s3 "$ak" "$sk" -o /dev/null -w '%{http_code}' \
    -H "x-amz-content-sha256: $sha" -H 'If-None-Match: *' -T "$f" "$url/$bucket/selftest/obj")" || return 1
  _expect "wrong secret" 403 "$(s3 "$ak" wrong -o /dev/null -w '%{http_code}' \
    -H "x-amz-content-sha256: $EMPTY_SHA256" "$url/$bucket/selftest/obj")" || return 1
  _expect "anonymous GET" 403 "$(curl -s -o /dev/null -w '%{http_code}' "$url/$bucket/selftest/obj")" ||
    return 1
  # a second user, the way tests make their write-only user
  radosgw-admin -c "$(env_get "$dir" RGW_CEPH_CONF)" user create --uid selftest2 \
    --display-name selftest2 --access-key SELFTEST2AK --secret-key selftest2sk >/dev/null || return 1
  _expect "radosgw-admin user create, then ListBuckets as that user" 200 \
    "$(s3 SELFTEST2AK selftest2sk -o /dev/null -w '%{http_code}' \
       -H "x-amz-content-sha256: $EMPTY_SHA256" "$url/")" || return 1
  _expect "DELETE" 204 "$(s3 "$ak" "$sk" -o /dev/null -w '%{http_code}' -X DELETE \
    -H "x-amz-content-sha256: $EMPTY_SHA256" "$url/$bucket/selftest/obj")"
}

sv_main "$@"
