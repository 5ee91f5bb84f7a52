# shellcheck shell=bash
# Shared helpers for scripts/servers/*.sh (sourced, not run).
#
# Every server script sets SV_NAME, defines
#   sv_start DIR      start the server(s) in the fresh, empty DIR; write DIR/env; set SV_ADDR
#   sv_stop DIR       stop what DIR's pid files name (idempotent)
#   sv_check DIR      a tiny real client check against the running server (for selftest)
# and ends with `sv_main "$@"`, which provides start / stop / selftest.
#
# Pid files hold one line "PID STARTTIME" (STARTTIME from /proc/PID/stat), so a stale pid file
# never makes us signal an unrelated process that got the same PID later.
set -uo pipefail

SACKER_TOOLS_DIR=${SACKER_TOOLS_DIR:-/opt/sacker-tools}
# shellcheck disable=SC2034  # used by the server scripts
SV_TIMEOUT=${SACKER_SERVER_TIMEOUT:-60}   # seconds a server gets to become ready
SV_MARKER=.sacker-server                  # file that says "this dir was made by these scripts"
SV_ADDR=""                                # set by sv_start: host:port printed in the ready line

say() { echo "$SV_NAME: $*" >&2; }
die() { say "$*"; exit 1; }

# need_cmd CMD... : fail with the install hint if a tool is missing (we never install anything)
need_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || die "'$c' not found; run scripts/install-deps.sh"
  done
}
need_file() { [ -e "$1" ] || die "$1 not found; run scripts/install-deps.sh"; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
fmt_secs() { printf '%d.%02d' $(( $1 / 1000 )) $(( $1 % 1000 / 10 )); }  # ms -> "1.62"

# --- ports ------------------------------------------------------------------------------------
# Random ports are drawn below the kernel's ephemeral range, so an outgoing connection cannot
# take the port between our check and the server's bind.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

_port_range() {  # prints "LOW HIGH"
  local eph_lo
  eph_lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  if [ "$eph_lo" -gt 12000 ]; then echo "10000 $((eph_lo - 1))"; else echo "20000 60000"; fi
}

# free_port_block N : first of N consecutive ports on 127.0.0.1 that nothing listens on
free_port_block() {
  local n=${1:-1} lo hi base i tries
  read -r lo hi < <(_port_range)
  for ((tries = 0; tries < 1000; tries++)); do
    base=$(( lo + (RANDOM * 32768 + RANDOM) % (hi - lo - n) ))
    for ((i = 0; i < n; i++)); do port_in_use $((base + i)) && continue 2; done
    echo "$base"; return 0
  done
  say "no block of $n free ports found"; return 1
}
free_port() { free_port_block 1; }

# port_owned_by PORT PID : the TCP listener on PORT belongs to PID (ss needs root for other users)
port_owned_by() { ss -ltnpH "sport = :$1" 2>/dev/null | grep -q "pid=$2,"; }

# --- processes --------------------------------------------------------------------------------
_starttime() {  # field 22 of /proc/PID/stat (comm may contain spaces: cut after the last ')')
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  # shellcheck disable=SC2086
  set -- $s
  echo "${20}"
}
_state() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; echo "${s%% *}"; }

# pid_alive PID : running (not a zombie: PID 1 here may take a while to reap orphans)
pid_alive() { local st; st=$(_state "$1") && [ "$st" != Z ]; }

# group_alive PGID : some process of that process group is still running (zombies don't count)
group_alive() { ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ {f = 1} END {exit !f}'; }

# pidfile_pid PIDFILE : print the PID if the pid file names a live process that is still ours
pidfile_pid() {
  local pid stime
  [ -f "$1" ] || return 1
  read -r pid stime < "$1" || true
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  [ -z "${stime:-}" ] || [ "$(_starttime "$pid")" = "$stime" ] || return 1
  echo "$pid"
}

# write_pidfile PIDFILE PID
write_pidfile() { echo "$2 $(_starttime "$2")" > "$1"; }

# start_detached LOG PIDFILE CMD... : start CMD fully detached from us: new session (setsid),
# stdin from /dev/null, stdout+stderr appended to LOG, no other inherited descriptors. Nothing
# keeps the caller's stdout/stderr open, so `X.sh start | cat` (or a ctest test running it)
# returns as soon as the script does. The process becomes its own process group leader; its
# PID goes to PIDFILE. Returns 1 if it could not be started.
start_detached() {
  local log=$1 pidfile=$2 tmp i pid
  shift 2
  tmp=$pidfile.new
  rm -f "$tmp"
  # The child writes its own PID (bash's $$ stays the same across exec), so it is right even if
  # setsid had to fork. Descriptors above 2 are closed before exec.
  # shellcheck disable=SC2016  # expanded by the child
  setsid bash -c '
    echo $$ > "$1.tmp" && mv "$1.tmp" "$1"
    for fd in /proc/$$/fd/*; do
      fd=${fd##*/}; [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
    done
    shift; cd / && exec "$@"' sacker-detach "$tmp" "$@" </dev/null >>"$log" 2>&1 &
  for ((i = 0; i < 1000; i++)); do
    [ -s "$tmp" ] && break
    sleep 0.01
  done
  pid=$(cat "$tmp" 2>/dev/null)
  [ -n "$pid" ] || { say "could not start $1"; return 1; }
  rm -f "$tmp"
  write_pidfile "$pidfile" "$pid"
}

# wait_for CMD TIMEOUT PID... : run CMD (a shell command string) every 50 ms until it succeeds.
# Returns 1 after TIMEOUT seconds, 2 as soon as one of the PIDs is gone (no point waiting).
wait_for() {
  local cmd=$1 timeout=$2 end p
  shift 2
  end=$(( $(now_ms) + timeout * 1000 ))
  while :; do
    for p in "$@"; do pid_alive "$p" || { say "process $p exited while starting"; return 2; }; done
    eval "$cmd" >/dev/null 2>&1 && return 0
    [ "$(now_ms)" -lt "$end" ] || { say "not ready after ${timeout} s"; return 1; }
    sleep 0.05
  done
}

# stop_pidfile PIDFILE [TIMEOUT_S=10] [SIGNAL=TERM] : send SIGNAL to the process (to its whole
# process group when it leads one, as start_detached arranges), wait up to TIMEOUT_S, then KILL.
# Idempotent: a missing pid file or a dead/foreign PID is fine. Removes PIDFILE.
stop_pidfile() {
  local pidfile=$1 timeout=${2:-10} sig=${3:-TERM} pid target end
  pid=$(pidfile_pid "$pidfile") || { rm -f "$pidfile"; return 0; }
  target=$pid
  [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ] && target=-$pid
  kill -s "$sig" -- "$target" 2>/dev/null
  end=$(( $(now_ms) + timeout * 1000 ))
  while pid_alive "$pid" && [ "$(now_ms)" -lt "$end" ]; do sleep 0.05; done
  if pid_alive "$pid" && [ "$sig" != KILL ] && [ "$sig" != 9 ]; then
    say "pid $pid still running ${timeout} s after SIG$sig; sending KILL"
    kill -KILL -- "$target" 2>/dev/null
  fi
  # the leader is gone; give the rest of its group (e.g. postgres backends) a moment, then KILL
  if [ "$target" != "$pid" ]; then
    end=$(( $(now_ms) + 3000 ))
    while group_alive "$pid" && [ "$(now_ms)" -lt "$end" ]; do sleep 0.05; done
    group_alive "$pid" && kill -KILL -- "$target" 2>/dev/null
  fi
  end=$(( $(now_ms) + 5000 ))
  while pid_alive "$pid" && [ "$(now_ms)" -lt "$end" ]; do sleep 0.05; done
  rm -f "$pidfile"
  ! pid_alive "$pid"
}

# --- env file and logs ------------------------------------------------------------------------
# write_env DIR KEY=VALUE... : DIR/env, one KEY=VALUE per line (no quotes, no export), atomically
write_env() {
  local dir=$1 kv
  shift
  for kv in "$@"; do echo "$kv"; done > "$dir/env.tmp" && mv "$dir/env.tmp" "$dir/env"
}

# env_get DIR KEY : a value from DIR/env
env_get() { sed -n "s/^$2=//p" "$1/env" | head -1; }

# show_log FILE... : the tail of server logs, for failure messages
show_log() {
  local f
  for f in "$@"; do
    [ -f "$f" ] || continue
    echo "----- last lines of $f" >&2
    tail -n 25 "$f" >&2
  done
}

# --- the common commands ----------------------------------------------------------------------
_abs_dir() {
  local d=$1
  [ -n "$d" ] || die "no DIR given"
  case "$d" in /*) ;; *) d=$PWD/$d ;; esac
  d=${d%/}
  case "$d" in ""|/|/tmp|/root|/home|/usr|/etc|/var|/opt|/work) die "refusing to use $1 as DIR" ;; esac
  echo "$d"
}

# prepare_dir DIR : stop whatever an old run recorded in DIR, wipe it, create it empty + marker
prepare_dir() {
  local dir=$1
  if [ -e "$dir" ]; then
    if [ -f "$dir/$SV_MARKER" ]; then
      sv_stop "$dir"
      [ "$(type -t sv_wipe_extra)" = function ] && sv_wipe_extra "$dir"
      rm -rf "$dir" || die "cannot remove old $dir"
    elif [ -d "$dir" ] && [ -z "$(ls -A "$dir")" ]; then
      :
    else
      die "$dir exists and was not made by this script; refusing to wipe it"
    fi
  fi
  mkdir -p "$dir" || die "cannot create $dir"
  echo "$SV_NAME" > "$dir/$SV_MARKER"
}

cmd_start() {
  local dir t0 rc
  dir=$(_abs_dir "${1:-}") || exit 1
  prepare_dir "$dir"
  t0=$(now_ms)
  sv_start "$dir"; rc=$?
  if [ "$rc" -ne 0 ]; then
    sv_stop "$dir" >/dev/null 2>&1
    die "failed to start (logs in $dir)"
  fi
  [ -s "$dir/env" ] || { sv_stop "$dir"; die "started but wrote no $dir/env"; }
  echo "$SV_NAME ready on $SV_ADDR in $(fmt_secs $(( $(now_ms) - t0 ))) s"
}

cmd_stop() {
  local dir
  dir=$(_abs_dir "${1:-}") || exit 1
  [ -f "$dir/$SV_MARKER" ] || return 0   # never started here (or already wiped): nothing runs
  sv_stop "$dir"
}

# pid_snapshot DIR : "PID STARTTIME" of every live process named by a pid file under DIR
pid_snapshot() {
  local f pid
  while IFS= read -r f; do
    pid=$(pidfile_pid "$f") && echo "$pid $(_starttime "$pid")"
  done < <(find "$1" -name '*.pid' -type f 2>/dev/null)
}

# survivors SNAPSHOT : the PIDs from a pid_snapshot that are still the same live process
survivors() {
  local pid stime
  while read -r pid stime; do
    [ -n "$pid" ] && pid_alive "$pid" && [ "$(_starttime "$pid")" = "$stime" ] && echo "$pid"
  done <<< "$1"
}

cmd_selftest() {
  local dir rc=0 t0 t1 t2 snap left
  dir=$(mktemp -d "/tmp/sacker-selftest-$SV_NAME.XXXXXX") || die "mktemp failed"
  chmod 755 "$dir"   # as a plain mkdir would make it (postgres runs as another user)
  t0=$(now_ms)
  if ! ( cmd_start "$dir" ); then
    [ "$(type -t sv_wipe_extra)" = function ] && sv_wipe_extra "$dir"
    rm -rf "$dir"; die "selftest: start failed"
  fi
  t1=$(now_ms)
  snap=$(pid_snapshot "$dir")
  if ( sv_check "$dir" ); then echo "$SV_NAME selftest check: ok"; else echo "$SV_NAME selftest check: FAILED"; rc=1; fi
  t2=$(now_ms)
  snap+=$'\n'$(pid_snapshot "$dir")   # the check may have (re)started processes
  ( cmd_stop "$dir" ) || rc=1
  left=$(survivors "$snap")
  if [ -n "$left" ]; then echo "$SV_NAME selftest: processes left after stop: $(echo "$left" | tr '\n' ' ')"; rc=1; fi
  echo "$SV_NAME selftest: start $(fmt_secs $((t1 - t0))) s, check $(fmt_secs $((t2 - t1))) s," \
    "stop $(fmt_secs $(( $(now_ms) - t2 ))) s"
  [ "$(type -t sv_wipe_extra)" = function ] && sv_wipe_extra "$dir"
  if [ "$rc" -eq 0 ]; then
    rm -rf "$dir"; echo "$SV_NAME selftest: PASS"
  else
    echo "$SV_NAME selftest: FAIL (kept $dir)"
  fi
  return "$rc"
}

sv_usage() {
  echo "usage: bash $0 start DIR | stop DIR | selftest${SV_EXTRA_USAGE:+ | $SV_EXTRA_USAGE}" >&2
  exit 2
}

sv_main() {
  local cmd=${1:-}
  shift || true
  case "$cmd" in
    start) [ $# -eq 1 ] || sv_usage; cmd_start "$1" ;;
    stop) [ $# -eq 1 ] || sv_usage; cmd_stop "$1" ;;
    selftest) [ $# -eq 0 ] || sv_usage; cmd_selftest ;;
    *)
      if [ -n "$cmd" ] && [ "$(type -t "sv_cmd_${cmd//-/_}")" = function ]; then
        "sv_cmd_${cmd//-/_}" "$@"
      else
        sv_usage
      fi ;;
  esac
}
