#!/usr/bin/env bash
# A private PostgreSQL for tests and `make run`: its own data dir, socket dir and port.
#   tests/pg.sh start DIR PORT   initdb when new, start, create database fedsched, print DSN
#   tests/pg.sh stop DIR         fast shutdown (waits)
#   tests/pg.sh kill DIR         immediate shutdown (crash-like; used by restart tests)
# PostgreSQL refuses to run as root, so as root the server runs as the postgres user.
set -euo pipefail

cmd=${1:?usage: pg.sh start|stop|kill DIR [PORT]}
dir=${2:?data directory}
port=${3:-55432}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/pg_ctl" ] || { echo "pg.sh: no PostgreSQL server binaries found" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$dir"
    as_pg test -w "$dir" || { echo "pg.sh: user postgres cannot write $dir (a parent is not traversable)" >&2; exit 1; }
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 300 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=200" \
    start >/dev/null || { tail -20 "$dir/server.log" >&2; exit 1; }
  if ! "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atqc \
      "SELECT 1 FROM pg_database WHERE datname='fedsched'" | grep -q 1; then
    "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres fedsched
  fi
  echo "host=127.0.0.1 port=$port user=postgres dbname=fedsched"
  ;;
stop)
  [ -f "$dir/data/postmaster.pid" ] || exit 0
  as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
  ;;
kill)
  [ -f "$dir/data/postmaster.pid" ] || exit 0
  as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null
  ;;
*)
  echo "pg.sh: unknown command $cmd" >&2; exit 2 ;;
esac
