#!/usr/bin/env bash
# make bench: starts a private PostgreSQL (same settings as tests: fsync and
# synchronous_commit on) and runs every bench binary; each prints its figure beside its
# baseline. BENCH_MODE=smoke makes every bench small enough for CI.
# Exit status: non-zero when any bench exits non-zero. In full mode a bench exits
# non-zero on a missed target, so a missed target fails `make bench`; in smoke mode
# only a broken run does. With FEDSCHED_TEST_DSN already set (as tests/run-tests.sh
# takes it) no PostgreSQL is started and that database is used.
set -uo pipefail
BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/free-port.sh"
case $BUILD in
  /*) build_dir=$BUILD ;;
  *) build_dir=$(pwd)/$BUILD ;;
esac
export FEDSCHED_BIN=$build_dir/fedsched FEDSCHED_KUBESIM_BIN=$build_dir/fedsched-kubesim
export FEDSCHED_SRC=$(pwd)
if [ -z "${FEDSCHED_TEST_DSN:-}" ]; then
  pgdir=$(mktemp -d /tmp/fedsched-bench-pg.XXXXXX)
  chmod 755 "$pgdir"
  port=$(free_port)
  trap '"$here/pg.sh" stop "$pgdir" >/dev/null 2>&1; rm -rf "$pgdir"' EXIT
  FEDSCHED_TEST_DSN=$("$here/pg.sh" start "$pgdir" "$port") || exit 1
  export FEDSCHED_TEST_DSN
fi
# The schema, once, before the benches.
FEDSCHED_DATABASE_DSN=$FEDSCHED_TEST_DSN FEDSCHED_LOG_LEVEL=warn "$FEDSCHED_BIN" migrate || exit 1

status=0 failed=()
for b in "$build_dir"/tests/bench/*; do
  [ -x "$b" ] && [ -f "$b" ] || continue
  echo "== $(basename "$b") (${BENCH_MODE:-full})"
  "$b"
  rc=$?
  [ $rc -eq 0 ] || { echo "bench $(basename "$b") failed (exit $rc)"; status=1; failed+=("$(basename "$b")"); }
done
[ ${#failed[@]} -gt 0 ] && echo "benches failed: ${failed[*]}"
exit $status
