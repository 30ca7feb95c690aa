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

for bin in "$@"; do
  name=$(basename "$bin")
  t=${name#fuzz_}
  seeds=$root/testdata/fuzz/$t
  corpus=$out/corpus/$t
  art=$out/artifacts/$t
  log=$out/logs/$t.log
  mkdir -p "$corpus" "$art" "$out/logs"

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
  # target cannot starve the other engineers on the machine.
  "$bin" "${opts[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
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
  fi
done
exit $status
