#!/usr/bin/env bash
# ZooKeeper 3.8 (Debian's `zookeeper`, Java 17), one standalone server on 127.0.0.1, data in DIR.
#   bash scripts/servers/zookeeper.sh start DIR | stop DIR | selftest
# env: ZK_HOSTS=127.0.0.1:PORT
# Java is started directly (QuorumPeerMain): zkServer.sh hard-codes /etc and /var/log paths and
# JMX. Ready = the `srvr` four-letter word answers with a "Mode:" line (`ruok` says imok even
# without a quorum). zookeeper-ensemble.sh sources this file for the zk_* helpers.
SV_NAME=zookeeper
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# small capped heap, serial GC, C1 only: quick start, little memory, fine for 3 JVMs on 2 cores
ZK_JAVA_OPTS=${ZK_JAVA_OPTS:--Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}
# plain IPv4 sockets (else java listens on [::ffff:127.0.0.1], the same address but confusing)
ZK_JAVA_OPTS+=" -Djava.net.preferIPv4Stack=true"

# zk_classpath : the server jar (its manifest pulls in the other jars) + slf4j-simple for logs
zk_classpath() {
  local jar="" j
  for j in /usr/share/java/zookeeper.jar /usr/share/zookeeper/zookeeper.jar; do
    [ -f "$j" ] && { jar=$j; break; }
  done
  [ -n "$jar" ] || die "ZooKeeper jar not found under /usr/share/java; run scripts/install-deps.sh"
  # without an slf4j binding the server logs nothing at all
  [ -f /usr/share/java/slf4j-simple.jar ] && jar=$jar:/usr/share/java/slf4j-simple.jar
  echo "$jar"
}

# zk_4lw PORT WORD : send a four-letter word, print the answer
zk_4lw() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf %s "$1" >&3 && cat <&3' "$1" "$2" \
    2>/dev/null
}
zk_mode() { zk_4lw "$1" srvr | sed -n 's/^Mode: //p'; }

# zk_write_cfg NODEDIR CLIENTPORT [SERVER_LINES] : zoo.cfg for tests
zk_write_cfg() {
  mkdir -p "$1/data"
  cat > "$1/zoo.cfg" <<EOF
tickTime=500
initLimit=20
syncLimit=10
# clients may still ask for long sessions (the default cap would be 20 ticks = 10 s)
maxSessionTimeout=60000
dataDir=$1/data
clientPort=$2
clientPortAddress=127.0.0.1
# otherwise the Jetty admin server listens on 0.0.0.0:8080
admin.enableServer=false
# 3.8 allows only srvr by default
4lw.commands.whitelist=ruok,srvr,stat,mntr,conf
# tests only: no fsync per transaction, small preallocated txn log
forceSync=no
preAllocSize=4096
maxClientCnxns=0
${3:-}
EOF
}

# zk_launch NODEDIR : start the JVM for NODEDIR/zoo.cfg (pid in NODEDIR/zk.pid, log zk.log)
zk_launch() {
  local cp
  cp=$(zk_classpath) || return 1
  # shellcheck disable=SC2086
  start_detached "$1/zk.log" "$1/zk.pid" \
    java $ZK_JAVA_OPTS -Dzookeeper.jmx.log4j.disable=true -cp "$cp" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$1/zoo.cfg"
}

# zk_wait_mode NODEDIR PORT TIMEOUT : our JVM serves PORT and srvr reports a Mode
zk_wait_mode() {
  local pid
  pid=$(pidfile_pid "$1/zk.pid") || { say "$1: not running"; return 1; }
  wait_for "zk_mode $2 | grep -q . && port_owned_by $2 $pid" "$3" "$pid"
}

sv_start() {
  local dir=$1 port
  need_cmd java ss timeout
  port=$(free_port) || return 1
  zk_write_cfg "$dir" "$port"
  zk_launch "$dir" || return 1
  zk_wait_mode "$dir" "$port" "$SV_TIMEOUT" || { show_log "$dir/zk.log"; return 1; }
  write_env "$dir" "ZK_HOSTS=127.0.0.1:$port"
  SV_ADDR=127.0.0.1:$port
}

sv_stop() { stop_pidfile "$1/zk.pid" 10; }

sv_check() {
  local hosts mode
  hosts=$(env_get "$1" ZK_HOSTS)
  mode=$(zk_mode "${hosts##*:}")
  echo "srvr Mode: $mode"
  [ "$mode" = standalone ] && [ "$(zk_4lw "${hosts##*:}" ruok)" = imok ]
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then sv_main "$@"; fi
