#!/usr/bin/env bash
# A throw-away PostgreSQL cluster (Debian's postgresql-15) on 127.0.0.1, data in DIR/data.
#   bash scripts/servers/postgres.sh start DIR | stop DIR | selftest
# env: PG_URI=postgres://postgres@127.0.0.1:PORT/postgres, PG_PORT
# initdb and postgres refuse to run as root: initdb runs under `runuser -u postgres`, the
# postmaster under `setpriv` (which execs, so the PID we record is the postmaster's). Trust auth,
# no fsync (tests only). The Unix socket goes to DIR/run; the image's own `main` cluster is not
# touched. If the postgres user cannot reach DIR (e.g. a build dir under /root), or DIR is too
# long for a socket path, data and socket go to a /tmp dir recorded in DIR/external-dir.
SV_NAME=postgres
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] && [ -x "$d/initdb" ] || die "PostgreSQL server not found; run scripts/install-deps.sh"
  echo "$d"
}

sv_start() {
  local dir=$1 bin base port pid
  bin=$(pg_bindir)
  need_cmd runuser setpriv psql ss
  id postgres >/dev/null 2>&1 || die "no 'postgres' user; run scripts/install-deps.sh"
  base=$dir
  # 107 bytes is the Unix socket path limit: "$base/run/.s.PGSQL.NNNNN" must fit
  if ! runuser -u postgres -- test -x "$dir" || [ "${#dir}" -gt 80 ]; then
    base=$(mktemp -d /tmp/sacker-pg.XXXXXX) && chmod 755 "$base" || return 1
    echo "$base" > "$dir/external-dir"
  fi
  mkdir -p "$base/data" "$base/run"
  chown postgres:postgres "$base/data" "$base/run"
  chmod 700 "$base/data" "$base/run"
  (cd / && runuser -u postgres -- "$bin/initdb" -D "$base/data" -U postgres -A trust -E UTF8 \
    --locale=C.UTF-8 --no-sync --no-instructions) > "$dir/initdb.log" 2>&1 ||
    { show_log "$dir/initdb.log"; return 1; }
  port=$(free_port) || return 1
  start_detached "$dir/postgres.log" "$dir/postgres.pid" \
    setpriv --reuid=postgres --regid=postgres --init-groups -- \
    "$bin/postgres" -D "$base/data" -p "$port" -k "$base/run" \
    -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    || return 1
  pid=$(pidfile_pid "$dir/postgres.pid")
  wait_for "'$bin/pg_isready' -q -h 127.0.0.1 -p $port && port_owned_by $port $pid" \
    "$SV_TIMEOUT" "$pid" || { show_log "$dir/postgres.log"; return 1; }
  write_env "$dir" "PG_URI=postgres://postgres@127.0.0.1:$port/postgres" "PG_PORT=$port"
  SV_ADDR=127.0.0.1:$port
}

# SIGINT = "fast" shutdown (SIGTERM would wait for every client to disconnect). An external
# data dir in /tmp is removed once the server is down (DIR itself keeps the logs).
sv_stop() { stop_pidfile "$1/postgres.pid" 20 INT && sv_wipe_extra "$1"; }

sv_wipe_extra() {
  local ext
  [ -f "$1/external-dir" ] || return 0
  ext=$(cat "$1/external-dir")
  case "$ext" in /tmp/sacker-pg.*) rm -rf "$ext" ;; esac
}

sv_check() {
  local uri out
  uri=$(env_get "$1" PG_URI)
  out=$(psql "$uri" -XAtc 'select 1') || return 1
  echo "psql select 1: $out"
  [ "$out" = 1 ]
}

sv_main "$@"
