#!/usr/bin/env bash
# `git daemon` serving every repository under DIR/repos over git:// on 127.0.0.1, push enabled.
#   bash scripts/servers/git-daemon.sh start DIR | stop DIR | selftest
# env: GIT_DAEMON_ROOT=DIR/repos (tests create bare repos there), GIT_DAEMON_URL=git://127.0.0.1:PORT/
# git-daemon forks a child per connection; stopping signals the whole process group.
SV_NAME=git-daemon
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sv_start() {
  local dir=$1 port pid daemon
  need_cmd git ss
  # `git daemon` would run git-daemon as a child: run the real binary so our PID is the listener
  daemon=$(git --exec-path)/git-daemon
  [ -x "$daemon" ] || die "$daemon not found; run scripts/install-deps.sh"
  mkdir -p "$dir/repos"
  port=$(free_port) || return 1
  start_detached "$dir/git-daemon.log" "$dir/git-daemon.pid" \
    "$daemon" --listen=127.0.0.1 --port="$port" --base-path="$dir/repos" --export-all \
    --enable=receive-pack --reuseaddr --informative-errors "$dir/repos" || return 1
  pid=$(pidfile_pid "$dir/git-daemon.pid")
  wait_for "port_owned_by $port $pid" "$SV_TIMEOUT" "$pid" || { show_log "$dir/git-daemon.log"; return 1; }
  write_env "$dir" "GIT_DAEMON_ROOT=$dir/repos" "GIT_DAEMON_URL=git://127.0.0.1:$port/"
  SV_ADDR=127.0.0.1:$port
}

sv_stop() { stop_pidfile "$1/git-daemon.pid" 5; }

sv_check() {
  local root url work
  root=$(env_get "$1" GIT_DAEMON_ROOT)
  url=$(env_get "$1" GIT_DAEMON_URL)
  work=$1/check
  git init -q --bare --initial-branch=main "$root/selftest.git" || return 1
  git init -q "$work" && cd "$work" || return 1
  echo hello > f && git add f &&
    git -c user.name=t -c user.email=t@t commit -qm one || return 1
  git push -q "${url}selftest.git" HEAD:refs/heads/main || return 1
  [ "$(git ls-remote "${url}selftest.git" refs/heads/main | cut -f1)" = "$(git rev-parse HEAD)" ] || return 1
  git clone -q "${url}selftest.git" "$work/clone" && [ "$(cat "$work/clone/f")" = hello ] || return 1
  echo "push, ls-remote and clone over ${url}selftest.git: ok"
}

sv_main "$@"
