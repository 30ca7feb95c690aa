#!/usr/bin/env bash
# make bench: starts a private PostgreSQL (same settings as tests: fsync and
# synchronous_commit on) and runs every bench binary; each prints its figure beside its
# baseline. BENCH_MODE=smoke makes every bench small enough for CI.
set -uo pipefail
BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
export FEDSCHED_BIN=$(pwd)/$BUILD/fedsched FEDSCHED_SRC=$(pwd)
export FEDSCHED_KUBESIM_BIN=$(pwd)/$BUILD/fedsched-kubesim
pgdir=$(mktemp -d /tmp/fedsched-bench-pg.XXXXXX)
chmod 755 "$pgdir"
port=$((20000 + RANDOM % 30000))
trap '"$here/pg.sh" stop "$pgdir" >/dev/null 2>&1; rm -rf "$pgdir"' EXIT
FEDSCHED_TEST_DSN=$("$here/pg.sh" start "$pgdir" "$port") || exit 1
export FEDSCHED_TEST_DSN
# The schema, once, before the benches.
FEDSCHED_DATABASE_DSN=$FEDSCHED_TEST_DSN FEDSCHED_LOG_LEVEL=warn "$FEDSCHED_BIN" migrate || exit 1

status=0
for b in "$BUILD"/tests/bench/*; do
  [ -x "$b" ] && [ -f "$b" ] || continue
  echo "== $(basename "$b") (${BENCH_MODE:-full})"
  "$b" || { echo "bench $(basename "$b") failed"; status=1; }
done
exit $status
