#!/usr/bin/env bash
# make run: a private PostgreSQL under .run/, then `fedsched serve` on
# http://127.0.0.1:8080 in the foreground. Ctrl-C stops everything.
set -euo pipefail
BUILD=${BUILD:-build}
root=$(pwd)
port=${FEDSCHED_RUN_PGPORT:-54329}
listen=${FEDSCHED_LISTEN:-127.0.0.1:8080}

pgdir="$root/.run/pg"
mkdir -p "$pgdir"
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$root/.run" 2>/dev/null; then
  # The checkout sits where the postgres user cannot reach (e.g. under /root).
  pgdir=/tmp/fedsched-run/pg
  echo "run: $root is not reachable by user postgres; database in $pgdir"
fi

dsn=$(tests/pg.sh start "$pgdir" "$port")
trap 'tests/pg.sh stop "$pgdir"' EXIT
echo "run: PostgreSQL on port $port ($pgdir)"
echo "run: fedsched on http://$listen  (Ctrl-C to stop)"
FEDSCHED_DATABASE_DSN=$dsn FEDSCHED_LISTEN=$listen "$BUILD/fedsched" serve
