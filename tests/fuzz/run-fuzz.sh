#!/usr/bin/env bash
# run-fuzz.sh -- runs libFuzzer targets one after another, SECONDS each, and prints one
# summary line per target. Used by `make fuzz` and `make fuzz-smoke`.
#
#   tests/fuzz/run-fuzz.sh SECONDS build/fuzz/fuzz_quantity [build/fuzz/fuzz_... ...]
#
# For target fuzz_<t>: the saved crash inputs in testdata/fuzz/<t>/regressions/ are run
# first and must all pass; then libFuzzer runs from testdata/fuzz/<t>/ (seeds, read only)
# and $FUZZ_BUILD/corpus/<t>/ (what it found, kept between runs, never committed), with
# tests/fuzz/fuzz_<t>.dict and the flags in tests/fuzz/fuzz_<t>.options when present.
# Crashes land in $FUZZ_BUILD/artifacts/<t>/, logs in $FUZZ_BUILD/logs/<t>.log.
# fuzz_request talks to a real PostgreSQL: FEDSCHED_FUZZ_DSN when set, else a private
# server (tests/pg.sh) in a temporary directory for the length of this script.
# Exits 1 when any target crashed or a regression input failed.
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 SECONDS FUZZ_BINARY..." >&2
  exit 2
fi
secs=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${FUZZ_BUILD:-$root/build/fuzz}
status=0

pgdir=""
cleanup() {
  [ -n "$pgdir" ] && "$root/tests/pg.sh" stop "$pgdir" >/dev/null 2>&1
  [ -n "$pgdir" ] && rm -rf "$pgdir"
}
trap cleanup EXIT

. "$here/../free-port.sh"

# Starts the private PostgreSQL once and exports FEDSCHED_FUZZ_DSN (as tests/run-tests.sh
# does for the tests). A port free a moment ago can be taken when the server binds: retry.
need_pg() {
  local dsn="" port try
  [ -n "${FEDSCHED_FUZZ_DSN:-}" ] && return 0
  pgdir=$(mktemp -d /tmp/fedsched-fuzz-pg.XXXXXX)
  chmod 755 "$pgdir"
  for try in 1 2 3; do
    port=$(free_port)
    dsn=$("$root/tests/pg.sh" start "$pgdir" "$port" 2>"$pgdir/start.err") && break
    dsn=""
  done
  [ -n "$dsn" ] || { cat "$pgdir/start.err" >&2; return 1; }
  export FEDSCHED_FUZZ_DSN=$dsn
}

for bin in "$@"; do
  name=$(basename "$bin")
  t=${name#fuzz_}
  seeds=$root/testdata/fuzz/$t
  corpus=$out/corpus/$t
  art=$out/artifacts/$t
  log=$out/logs/$t.log
  mkdir -p "$corpus" "$art" "$out/logs"
  if [ "$t" = request ] && ! need_pg; then
    echo "fuzz: $t: could not start PostgreSQL"
    status=1
    continue
  fi

  opts=()
  if [ -f "$here/$name.options" ]; then
    read -ra opts <"$here/$name.options"
  fi
  if [ -f "$here/$name.dict" ]; then
    opts+=("-dict=$here/$name.dict")
  fi

  regs=()
  if [ -d "$seeds/regressions" ]; then
    for f in "$seeds/regressions"/*; do
      [ -f "$f" ] && regs+=("$f")
    done
  fi
  if [ ${#regs[@]} -gt 0 ]; then
    if ! "$bin" "${opts[@]}" "${regs[@]}" >"$log.regressions" 2>&1; then
      echo "fuzz: $t: a saved regression input fails again (see $log.regressions)"
      status=1
      continue
    fi
  fi

  # -timeout catches inputs that take seconds (a hang is a bug too); RSS is capped so one
  # target cannot starve the other engineers on the machine. The .options file comes
  # after these defaults, so a target may change them (libFuzzer takes the last value).
  "$bin" -timeout=10 -rss_limit_mb=2048 "${opts[@]}" -max_total_time="$secs" \
    -print_final_stats=1 -artifact_prefix="$art/" "$corpus" "$seeds" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 | sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+).*/\1 edges, \2 features/')
  units=$(find "$corpus" -type f | wc -l)
  if [ $rc -ne 0 ]; then
    status=1
    echo "fuzz: $t: FAILED (exit $rc) after ${execs:-?} executions; see $log and $art/"
    grep -m 3 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | sed 's/^/fuzz:   /'
  else
    printf 'fuzz: %-16s %ss  %s executions (%s/s)  %s  corpus %s\n' "$t" "$secs" \
      "${execs:-?}" "${rate:-?}" "${cov:-?}" "$units"
    # A target's own closing statistics (fuzz_request: responses by status class).
    grep -m 1 -E "^fuzz_$t: [0-9]+ connections" "$log" | sed 's/^/fuzz:   /'
  fi
done
exit $status
