#!/usr/bin/env bash
# Runs test binaries (each Check suite forks per test), sums their results and prints
# one closing line "tests: N passed, N failed". Starts a private PostgreSQL for the run
# unless FEDSCHED_TEST_DSN is already set or NO_PG=1.
set -uo pipefail

BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")" && pwd)
export FEDSCHED_BIN=${FEDSCHED_BIN:-$(pwd)/$BUILD/fedsched}
export FEDSCHED_KUBESIM_BIN=${FEDSCHED_KUBESIM_BIN:-$(pwd)/$BUILD/fedsched-kubesim}
export FEDSCHED_SRC=$(pwd)
export CK_FORK=yes
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120}

. "$here/free-port.sh"
export -f free_port 2>/dev/null || true

pgdir=""
cleanup() {
  [ -n "$pgdir" ] && "$here/pg.sh" stop "$pgdir" >/dev/null 2>&1
  [ -n "$pgdir" ] && rm -rf "$pgdir"
}
trap cleanup EXIT

if [ "${NO_PG:-0}" != 1 ] && [ -z "${FEDSCHED_TEST_DSN:-}" ]; then
  pgdir=$(mktemp -d /tmp/fedsched-pg.XXXXXX)
  chmod 755 "$pgdir"
  # A port free a moment ago can be taken by the time the server binds: try a few.
  for try in 1 2 3; do
    port=$(free_port)
    FEDSCHED_TEST_DSN=$("$here/pg.sh" start "$pgdir" "$port" 2>/dev/null) && break
    FEDSCHED_TEST_DSN=""
  done
  [ -n "$FEDSCHED_TEST_DSN" ] || { echo "tests: could not start PostgreSQL" >&2; exit 1; }
  export FEDSCHED_TEST_DSN FEDSCHED_TEST_PGDIR=$pgdir FEDSCHED_TEST_PGPORT=$port
  echo "tests: private PostgreSQL on port $port ($pgdir)"
fi

# TEST_JOBS binaries run at a time (default 2: most suites wait on servers and timers more
# than they compute). Suites that stop and start the shared PostgreSQL (itest_pg) run
# alone, before the others.
jobs=${TEST_JOBS:-2}
tmp=$(mktemp -d /tmp/fedsched-tests.XXXXXX)
trap 'cleanup; rm -rf "$tmp"' EXIT

run_one() { # index binary
  local t0=$SECONDS
  timeout 1200 "$2" >"$tmp/$1.out" 2>&1
  echo "$? $((SECONDS - t0))" >"$tmp/$1.rc"
}

alone() { grep -q 'itest_pg(' "$FEDSCHED_SRC/tests/${1#$BUILD/tests/}.c" 2>/dev/null; }

passed=0 failed=0 broken=()
report() { # index binary
  local name=${2#$BUILD/tests/} rc secs out line checks fails errs bad
  read -r rc secs <"$tmp/$1.rc"
  out=$(cat "$tmp/$1.out")
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n 1)
  if [ -n "$line" ]; then
    checks=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
    fails=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
    errs=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
  else
    checks=1 fails=1 errs=0
  fi
  bad=$((fails + errs))
  [ "$rc" -ne 0 ] && [ $bad -eq 0 ] && bad=1
  passed=$((passed + checks - bad))
  failed=$((failed + bad))
  if [ $bad -ne 0 ]; then
    broken+=("$name")
    printf '%s\n' "$out" | grep -vE '^Running suite' | tail -n 40
    printf 'FAIL %-40s %s (exit %d, %d s)\n' "$name" "${line:-no Check summary}" "$rc" "$secs"
  else
    printf 'ok   %-40s %s (%d s)\n' "$name" "$line" "$secs"
  fi
}

bins=("$@") running=0
# The suites that restart the server first, while its write-ahead log since the last
# checkpoint is short (crash recovery replays it), then the others side by side.
for i in "${!bins[@]}"; do
  alone "${bins[$i]}" && run_one "$i" "${bins[$i]}"
done
for i in "${!bins[@]}"; do
  alone "${bins[$i]}" && continue
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
  run_one "$i" "${bins[$i]}" &
  running=$((running + 1))
done
wait
for i in "${!bins[@]}"; do
  report "$i" "${bins[$i]}"
done

[ ${#broken[@]} -gt 0 ] && echo "failing: ${broken[*]}"
echo "tests: $passed passed, $failed failed"
[ $failed -eq 0 ]
