#!/usr/bin/env bash
# A 3-node ZooKeeper ensemble on 127.0.0.1 (3 JVMs), node data in DIR/n1..n3, for fault tests.
#   bash scripts/servers/zookeeper-ensemble.sh start DIR | stop DIR | selftest
#   ... leader DIR        print the number (1..3) of the node whose srvr says "Mode: leader"
#   ... kill-node DIR N   kill -9 node N (by its recorded PID)
#   ... start-node DIR N  start node N again (same config and data), wait until it serves
# env: ZK_HOSTS=127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3 and ZK_NODE1_PORT..ZK_NODE3_PORT
# 9 ports (client, quorum, election per node). tickTime=500: after the leader is killed a new
# one serves within about a second, and a restarted node rejoins in about a second.
source "$(dirname "${BASH_SOURCE[0]}")/zookeeper.sh"
SV_NAME=zookeeper-ensemble
SV_EXTRA_USAGE="leader DIR | kill-node DIR N | start-node DIR N"

node_port() { env_get "$1" "ZK_NODE$2_PORT"; }

sv_start() {
  local dir=$1 base i servers="" hosts=()
  need_cmd java ss timeout
  base=$(free_port_block 9) || return 1
  # node i: client base+i-1, quorum base+2+i, election base+5+i
  for i in 1 2 3; do
    servers+="server.$i=127.0.0.1:$((base + 2 + i)):$((base + 5 + i))"$'\n'
  done
  for i in 1 2 3; do
    zk_write_cfg "$dir/n$i" "$((base + i - 1))" "$servers"
    echo "$i" > "$dir/n$i/data/myid"
    hosts+=("127.0.0.1:$((base + i - 1))")
  done
  # env first: start-node and leader read the ports from it
  write_env "$dir" "ZK_HOSTS=$(IFS=,; echo "${hosts[*]}")" \
    "ZK_NODE1_PORT=$base" "ZK_NODE2_PORT=$((base + 1))" "ZK_NODE3_PORT=$((base + 2))"
  for i in 1 2 3; do zk_launch "$dir/n$i" || return 1; done
  for i in 1 2 3; do
    zk_wait_mode "$dir/n$i" "$((base + i - 1))" "$SV_TIMEOUT" ||
      { show_log "$dir"/n*/zk.log; rm -f "$dir/env"; return 1; }
  done
  SV_ADDR="127.0.0.1:$base,$((base + 1)),$((base + 2))"
}

sv_stop() {  # the three nodes in parallel (each JVM takes ~0.4 s to shut down)
  local i pids=() rc=0
  for i in 1 2 3; do stop_pidfile "$1/n$i/zk.pid" 10 & pids+=($!); done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  return "$rc"
}

_node_arg() {
  [[ "${2:-}" =~ ^[123]$ ]] || sv_usage
  [ -f "$1/env" ] || die "no ensemble in $1"
}

sv_cmd_leader() {
  local dir i end
  dir=$(_abs_dir "${1:-}") || exit 1
  [ -f "$dir/env" ] || die "no ensemble in $dir"
  end=$(( $(now_ms) + 15000 ))   # right after a kill the election may still be running
  while :; do
    for i in 1 2 3; do
      [ "$(zk_mode "$(node_port "$dir" "$i")")" = leader ] && { echo "$i"; return 0; }
    done
    [ "$(now_ms)" -lt "$end" ] || die "no node reports Mode: leader"
    sleep 0.1
  done
}

sv_cmd_kill_node() {
  local dir pid
  dir=$(_abs_dir "${1:-}") || exit 1
  _node_arg "$dir" "${2:-}"
  pidfile_pid "$dir/n$2/zk.pid" >/dev/null || { echo "node $2 was not running"; return 0; }
  stop_pidfile "$dir/n$2/zk.pid" 0 KILL || die "node $2 survived kill -9"
  echo "killed node $2"
}

sv_cmd_start_node() {
  local dir port t0
  dir=$(_abs_dir "${1:-}") || exit 1
  _node_arg "$dir" "${2:-}"
  port=$(node_port "$dir" "$2")
  if pidfile_pid "$dir/n$2/zk.pid" >/dev/null; then echo "node $2 already running"; return 0; fi
  port_in_use "$port" && die "port $port of node $2 is taken by another process"
  t0=$(now_ms)
  zk_launch "$dir/n$2" || die "could not start node $2"
  # a node serves only when it is part of a quorum (at least one other node must be up)
  zk_wait_mode "$dir/n$2" "$port" "$SV_TIMEOUT" ||
    { show_log "$dir/n$2/zk.log"; die "node $2 started but does not serve (no quorum?)"; }
  echo "node $2 serving as $(zk_mode "$port") on 127.0.0.1:$port in $(fmt_secs $(( $(now_ms) - t0 ))) s"
}

sv_check() {
  local dir=$1 i modes="" leader t0
  for i in 1 2 3; do modes+="$(zk_mode "$(node_port "$dir" "$i")") "; done
  echo "modes: $modes"
  [ "$(echo "$modes" | tr ' ' '\n' | grep -c '^leader$')" = 1 ] || { echo "want exactly one leader"; return 1; }
  leader=$(sv_cmd_leader "$dir") || return 1
  t0=$(now_ms)
  sv_cmd_kill_node "$dir" "$leader" || return 1
  local new
  new=$(sv_cmd_leader "$dir") || return 1
  echo "node $leader (leader) killed; node $new leads after $(fmt_secs $(( $(now_ms) - t0 ))) s"
  [ "$new" != "$leader" ] || return 1
  sv_cmd_start_node "$dir" "$leader" || return 1
  [ "$(zk_mode "$(node_port "$dir" "$leader")")" = follower ]
}

sv_main "$@"
