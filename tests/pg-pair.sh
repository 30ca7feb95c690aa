#!/usr/bin/env bash
# A private PostgreSQL primary with one streaming standby, for failover tests and
# benchmarks. Not a production recipe: trust authentication, one machine, no archive.
#   tests/pg-pair.sh start DIR PORT1 PORT2 sync|async
#       initdb and start a primary on PORT1 (database fedsched), pg_basebackup -R a
#       standby on PORT2, wait until it streams (and, with sync, until the primary
#       counts it as its synchronous standby); print the multi-host DSN, without
#       target_session_attrs (fedsched asks for a read-write session itself; other
#       clients add target_session_attrs=read-write to reach whichever is primary)
#   tests/pg-pair.sh kill-primary DIR [LAG_MS]   SIGKILL the primary's postmaster and
#       every one of its processes at once (a lost machine: nothing gets to send another
#       byte); with LAG_MS, first stop its WAL sender for that long, so the standby is that
#       far behind when the primary dies (as over a slow or congested link)
#   tests/pg-pair.sh promote DIR        pg_ctl promote the standby, wait until it writes
#   tests/pg-pair.sh stop DIR           immediate shutdown of whatever still runs
# With sync the primary alone gets synchronous_standby_names='*' (ALTER SYSTEM after the
# base backup, so the promoted standby does not wait for a standby of its own) and
# synchronous_commit on.
# PostgreSQL refuses to run as root, so as root the servers run as the postgres user.
set -euo pipefail

cmd=${1:?usage: pg-pair.sh start|kill-primary|promote|stop DIR ...}
dir=${2:?directory}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/pg_ctl" ] || { echo "pg-pair.sh: no PostgreSQL server binaries found" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

psql_at() { # PORT SQL: one value
  "$bindir/psql" -h 127.0.0.1 -p "$1" -U postgres -d postgres -Atqc "$2"
}

children_of() { # PID: the process ids whose parent is PID. cat, not awk over the files: mawk
  # stops at the first file it cannot open, and a process that exits between the glob and
  # the read would hide every process after it. The fields are counted after the command
  # name, which may hold spaces and parentheses.
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | sed -n 's/^\([0-9]*\) .*) [A-Za-z] \([0-9]*\) .*/\1 \2/p' |
    awk -v pp="$1" '$2 == pp { print $1 }'
}

start_one() { # NAME PORT EXTRA-OPTIONS
  as_pg "$bindir/pg_ctl" -D "$dir/$1" -l "$dir/$1.log" -w -t 60 \
    -o "-p $2 -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200 $3" \
    start >/dev/null || { tail -20 "$dir/$1.log" >&2; exit 1; }
}

case "$cmd" in
start)
  p1=${3:?primary port} p2=${4:?standby port} mode=${5:?sync or async}
  case "$mode" in sync | async) ;; *) echo "pg-pair.sh: mode must be sync or async, not $mode" >&2; exit 2 ;; esac
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
  as_pg "$bindir/initdb" -D "$dir/primary" -U postgres -A trust -E UTF8 --no-locale \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  start_one primary "$p1" "-c synchronous_commit=on"
  "$bindir/createdb" -h 127.0.0.1 -p "$p1" -U postgres fedsched
  as_pg "$bindir/pg_basebackup" -h 127.0.0.1 -p "$p1" -U postgres -D "$dir/standby" -R \
    -X stream -c fast >"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; exit 1; }
  start_one standby "$p2" ""
  if [ "$mode" = sync ]; then
    psql_at "$p1" "ALTER SYSTEM SET synchronous_standby_names = '*'" >/dev/null
    psql_at "$p1" "SELECT pg_reload_conf()" >/dev/null
  fi
  want="streaming"
  [ "$mode" = sync ] && want="streaming sync"
  for _ in $(seq 1 100); do
    got=$(psql_at "$p1" "SELECT state || CASE WHEN sync_state = 'sync' THEN ' sync' ELSE '' END
                          FROM pg_stat_replication LIMIT 1" || true)
    [ "$got" = "$want" ] && break
    sleep 0.1
  done
  [ "$got" = "$want" ] || { echo "pg-pair.sh: standby not $want (got '$got')" >&2; exit 1; }
  echo "host=127.0.0.1,127.0.0.1 port=$p1,$p2 user=postgres dbname=fedsched"
  ;;
kill-primary)
  [ -f "$dir/primary/postmaster.pid" ] || { echo "pg-pair.sh: no primary running" >&2; exit 1; }
  pm=$(head -n 1 "$dir/primary/postmaster.pid")
  lag=${3:-0}
  if [ "$lag" -gt 0 ]; then
    stopped=0
    for p in $(children_of "$pm"); do
      if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q walsender; then
        kill -STOP "$p" && stopped=$((stopped + 1))
      fi
    done
    [ "$stopped" -gt 0 ] || { echo "pg-pair.sh: no WAL sender to stop" >&2; exit 1; }
    sleep "$(awk -v ms="$lag" 'BEGIN { printf "%.3f", ms / 1000 }')"
  fi
  # The postmaster and its children by process id, all in one kill: a child left alive
  # (the WAL sender) could still hand the standby what the clients were never told.
  pids=$(children_of "$pm")
  kill -9 "$pm" $pids 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pm" 2>/dev/null || break
    sleep 0.05
  done
  ;;
promote)
  as_pg "$bindir/pg_ctl" -D "$dir/standby" -w -t 60 promote >/dev/null
  ;;
stop)
  for n in primary standby; do
    # A killed primary leaves a stale postmaster.pid: pg_ctl then fails, and that is fine.
    [ -f "$dir/$n/postmaster.pid" ] || continue
    as_pg "$bindir/pg_ctl" -D "$dir/$n" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
  done
  exit 0
  ;;
*)
  echo "pg-pair.sh: unknown command $cmd" >&2; exit 2 ;;
esac
