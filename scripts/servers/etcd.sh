#!/usr/bin/env bash
# etcd (Debian's etcd-server, 3.4), one member on 127.0.0.1, data in DIR, for the etcd ledger.
#   bash scripts/servers/etcd.sh start DIR | stop DIR | selftest
# env: ETCD_ADDR=127.0.0.1:PORT (client port; v3 JSON gateway at http://ETCD_ADDR/v3/...)
# Fast single-member election (--heartbeat-interval 10 --election-timeout 100) and no fsync:
# test settings only. Ready = GET /health says {"health":"true"} (a leader exists).
SV_NAME=etcd
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sv_start() {
  local dir=$1 port peer pid
  need_cmd etcd curl ss
  port=$(free_port_block 2) || return 1
  peer=$((port + 1))
  start_detached "$dir/etcd.log" "$dir/etcd.pid" \
    etcd --name sacker-test --data-dir "$dir/data" \
    --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "sacker-test=http://127.0.0.1:$peer" --initial-cluster-state new \
    --heartbeat-interval 10 --election-timeout 100 --unsafe-no-fsync \
    --logger zap --log-outputs stderr --log-level warn || return 1
  pid=$(pidfile_pid "$dir/etcd.pid")
  wait_for "curl -sf --max-time 1 http://127.0.0.1:$port/health | grep -q '\"health\":\"true\"' \
            && port_owned_by $port $pid" "$SV_TIMEOUT" "$pid" || { show_log "$dir/etcd.log"; return 1; }
  write_env "$dir" "ETCD_ADDR=127.0.0.1:$port"
  SV_ADDR=127.0.0.1:$port
}

sv_stop() { stop_pidfile "$1/etcd.pid" 10; }

sv_check() {
  local addr key val got
  addr=$(env_get "$1" ETCD_ADDR)
  key=$(printf 'sacker-selftest/k' | base64 -w0)
  val=$(printf 'hello' | base64 -w0)
  curl -sf --max-time 5 -X POST "http://$addr/v3/kv/put" -d "{\"key\":\"$key\",\"value\":\"$val\"}" \
    >/dev/null || { echo "put failed"; return 1; }
  got=$(curl -sf --max-time 5 -X POST "http://$addr/v3/kv/range" -d "{\"key\":\"$key\"}" |
        grep -o '"value":"[^"]*"' | cut -d'"' -f4 | base64 -d)
  [ "$got" = hello ] || { echo "range returned '$got', want 'hello'"; return 1; }
}

sv_main "$@"
