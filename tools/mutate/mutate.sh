#!/usr/bin/env bash
# mutate.sh -- the mutation check behind `make mutate` and `make mutate-smoke`.
#
# Plants each one-line bug listed in tools/mutate/points.txt, one at a time, in a scratch
# copy of the tree, rebuilds only the test binaries the entry names and runs them through
# tests/run-tests.sh. A mutant is killed when one of them fails (a failing check, a crash,
# a non-zero exit or a timeout); it survives when they all pass. Not responsible for
# writing the tests that kill survivors: it lists them, with the entry's rationale.
#
#   tools/mutate/mutate.sh [--tag TAG] [--worktree] [--keep] [--check] [NAME ...]
#
#   --tag TAG    only the points tagged TAG (make mutate-smoke uses --tag smoke)
#   --worktree   mutate the working tree as it is (tracked and untracked, not ignored
#                files) instead of the commit at HEAD
#   --keep       keep the scratch copy, its build and the per-mutant logs
#   --check      only check that every point's pattern occurs exactly once in the
#                working tree, then exit (no build, no tests)
#   NAME ...     only these points
#
# Environment: MUTATE_THRESHOLD (per cent killed below which the exit status is 1;
# default 90), MUTATE_POINTS (the list; default tools/mutate/points.txt), MUTATE_JOBS
# (make -j; default 2), MUTATE_TIMEOUT_FACTOR (a mutant's tests may take this many times
# their unmutated time plus a minute before the run counts as killed by timeout;
# default 3), MUTATE_OPT (compiler optimisation; default -O2).
#
# Exit status: 0 when the kill rate reaches the threshold and no point is invalid,
# 1 when it does not or a point is invalid (it does not compile), 2 when the run could
# not be made (bad list, pattern not found exactly once, the unmutated tree fails its
# own tests, no PostgreSQL).
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/free-port.sh"
cd "$top" || exit 2

points=${MUTATE_POINTS:-tools/mutate/points.txt}
threshold=${MUTATE_THRESHOLD:-90}
jobs=${MUTATE_JOBS:-2}
factor=${MUTATE_TIMEOUT_FACTOR:-3}
opt=${MUTATE_OPT:--O2}
tag="" worktree=0 keep=0 check_only=0 only=()

while [ $# -gt 0 ]; do
  case "$1" in
  --tag) tag=${2:?--tag needs a value}; shift 2 ;;
  --worktree) worktree=1; shift ;;
  --keep) keep=1; shift ;;
  --check) check_only=1; shift ;;
  -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  -*) echo "mutate: unknown option $1" >&2; exit 2 ;;
  *) only+=("$1"); shift ;;
  esac
done

die() { echo "mutate: $*" >&2; exit 2; }

# ---- the list -------------------------------------------------------------------------
# Blocks separated by blank lines; '#' starts a comment line. Each block:
#   point    unique-name
#   file     path/of/product/file.c
#   find     exact text that occurs exactly once in the file
#   replace  what it becomes
#   tests    tests/unit/test_x [tests/integration/test_y ...]
#   tags     smoke issue19        (optional)
#   why      one line: the bug this stands for and why a test should see it
P_NAME=() P_FILE=() P_FIND=() P_REPL=() P_TESTS=() P_TAGS=() P_WHY=()

trim() {
  local s=$1
  s=${s#"${s%%[![:space:]]*}"}
  s=${s%"${s##*[![:space:]]}"}
  printf '%s' "$s"
}

parse_points() {
  local line key val n=-1 lineno=0 errors=0
  local -A seen=()
  [ -f "$points" ] || die "no list at $points"
  while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    case "$line" in \#* | "") continue ;; esac
    key=${line%%[[:space:]]*}
    val=$(trim "${line#"$key"}")
    case "$key" in
    point)
      n=$((n + 1))
      [ -n "${seen[$val]:-}" ] && { echo "mutate: $points:$lineno: point $val listed twice" >&2; errors=1; }
      seen[$val]=1
      P_NAME[n]=$val P_FILE[n]="" P_FIND[n]="" P_REPL[n]="" P_TESTS[n]="" P_TAGS[n]="" P_WHY[n]=""
      ;;
    file | find | replace | tests | tags | why)
      [ $n -ge 0 ] || { echo "mutate: $points:$lineno: '$key' before the first 'point'" >&2; errors=1; continue; }
      case "$key" in
      file) P_FILE[n]=$val ;; find) P_FIND[n]=$val ;; replace) P_REPL[n]=$val ;;
      tests) P_TESTS[n]=$val ;; tags) P_TAGS[n]=$val ;; why) P_WHY[n]=$val ;;
      esac
      ;;
    *) echo "mutate: $points:$lineno: unknown key '$key'" >&2; errors=1 ;;
    esac
  done <"$points"
  for i in "${!P_NAME[@]}"; do
    local nm=${P_NAME[i]}
    [ -n "${P_FILE[i]}" ] && [ -n "${P_FIND[i]}" ] && [ -n "${P_TESTS[i]}" ] && [ -n "${P_WHY[i]}" ] ||
      { echo "mutate: point $nm: file, find, tests and why are required" >&2; errors=1; }
    [ "${P_FIND[i]}" != "${P_REPL[i]}" ] || { echo "mutate: point $nm: replace equals find" >&2; errors=1; }
    for t in ${P_TESTS[i]}; do
      case "$t" in
      tests/unit/test_* | tests/integration/test_*) [ -f "$t.c" ] ||
        { echo "mutate: point $nm: no test source $t.c" >&2; errors=1; } ;;
      *) echo "mutate: point $nm: '$t' is not tests/unit/test_* or tests/integration/test_*" >&2; errors=1 ;;
      esac
    done
  done
  [ $errors -eq 0 ] || exit 2
}

# Prints "count first_line" of the literal MUT_FIND in file $1 (no regex, no escapes).
count_find() {
  awk 'BEGIN { pat = ENVIRON["MUT_FIND"]; n = 0; first = 0 }
       { line = $0
         while ((i = index(line, pat)) > 0) { n++; if (!first) first = NR; line = substr(line, i + length(pat)) } }
       END { print n, first }' "$1"
}

# Replaces the one occurrence of MUT_FIND with MUT_REPL in file $1, in place.
apply_mutation() {
  awk 'BEGIN { pat = ENVIRON["MUT_FIND"]; rep = ENVIRON["MUT_REPL"] }
       { i = index($0, pat)
         if (i > 0) print substr($0, 1, i - 1) rep substr($0, i + length(pat)); else print }' \
    "$1" >"$1.mutant" && cat "$1.mutant" >"$1" && rm -f "$1.mutant"
}

parse_points

sel=()
for i in "${!P_NAME[@]}"; do
  if [ ${#only[@]} -gt 0 ]; then
    hit=0
    for o in "${only[@]}"; do [ "$o" = "${P_NAME[i]}" ] && hit=1; done
    [ $hit -eq 1 ] || continue
  fi
  if [ -n "$tag" ]; then
    case " ${P_TAGS[i]} " in *" $tag "*) ;; *) continue ;; esac
  fi
  sel+=("$i")
done
[ ${#sel[@]} -gt 0 ] || die "no point selected"

# Every pattern must match exactly once, or the entry is stale: say which, and stop.
check_patterns() {
  local root=$1 bad=0 i c first
  P_LINE=()
  for i in "${sel[@]}"; do
    if [ ! -f "$root/${P_FILE[i]}" ]; then
      echo "mutate: point ${P_NAME[i]}: no file ${P_FILE[i]}" >&2; bad=1; continue
    fi
    read -r c first < <(MUT_FIND=${P_FIND[i]} count_find "$root/${P_FILE[i]}")
    if [ "$c" != 1 ]; then
      echo "mutate: point ${P_NAME[i]}: '${P_FIND[i]}' occurs $c times in ${P_FILE[i]} (must be exactly once)" >&2
      bad=1
    fi
    P_LINE[i]=$first
  done
  return $bad
}

if [ $check_only -eq 1 ]; then
  check_patterns "$top" || exit 2
  for i in "${sel[@]}"; do
    printf '%-28s %s:%s  [%s]\n' "${P_NAME[i]}" "${P_FILE[i]}" "${P_LINE[i]}" "${P_TAGS[i]}"
  done
  echo "mutate: ${#sel[@]} points, every pattern found exactly once"
  exit 0
fi

# ---- the scratch copy -------------------------------------------------------------------
t_start=$(date +%s)
scratch=$(mktemp -d /tmp/fedsched-mutate.XXXXXX) || die "mktemp failed"
chmod 755 "$scratch" # the postgres user must reach the data directory below it
src=$scratch/src logs=$scratch/logs pgdir=""
mkdir -p "$src" "$logs"

cleanup() {
  [ -n "$pgdir" ] && "$top/tests/pg.sh" stop "$pgdir" >/dev/null 2>&1
  if [ $keep -eq 1 ]; then
    echo "mutate: kept $scratch (logs in $logs)"
  else
    rm -rf "$scratch"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ $worktree -eq 1 ]; then
  what="working tree ($(git rev-parse --short HEAD) + local changes)"
  git ls-files -z -co --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$src" || die "could not copy the working tree"
else
  what="HEAD $(git rev-parse --short HEAD)"
  git archive HEAD | tar -xf - -C "$src" || die "git archive HEAD failed"
fi
check_patterns "$src" || exit 2

# The union of test binaries, in first-seen order, and whether any needs PostgreSQL and
# the fedsched and kubesim binaries (integration tests start them).
declare -A want=()
all_tests=()
need_pg=0
for i in "${sel[@]}"; do
  for t in ${P_TESTS[i]}; do
    [ -n "${want[$t]:-}" ] && continue
    want[$t]=1
    all_tests+=("$t")
    case "$t" in tests/integration/*) need_pg=1 ;; esac
  done
done

targets_for() { # test paths -> make goals
  local t out=() integ=0
  for t in "$@"; do
    out+=("build/$t")
    case "$t" in tests/integration/*) integ=1 ;; esac
  done
  [ $integ -eq 1 ] && out+=(build/fedsched build/fedsched-kubesim)
  printf '%s\n' "${out[@]}"
}

mk() { timeout 900 make -C "$src" --no-print-directory -j"$jobs" BUILD=build OPT="$opt" "$@"; }

echo "mutate: ${#sel[@]} points${tag:+ tagged $tag} on $what, scratch $scratch"
mapfile -t goals < <(targets_for "${all_tests[@]}")
if ! mk "${goals[@]}" >"$logs/build.log" 2>&1; then
  tail -n 30 "$logs/build.log" >&2
  die "the unmutated tree does not build"
fi
echo "mutate: built ${#all_tests[@]} test binaries in $(($(date +%s) - t_start)) s"

# ---- one PostgreSQL for the whole run ---------------------------------------------------
pg_bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ $need_pg -eq 1 ]; then
  pgdir=$scratch/pg
  for try in 1 2 3; do
    port=$(free_port)
    (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && continue
    dsn=$("$top/tests/pg.sh" start "$pgdir" "$port" 2>"$logs/pg.log") && break
    dsn=""
  done
  [ -n "${dsn:-}" ] || { cat "$logs/pg.log" >&2; die "could not start PostgreSQL"; }
  export FEDSCHED_TEST_DSN=$dsn FEDSCHED_TEST_PGDIR=$pgdir FEDSCHED_TEST_PGPORT=$port
fi

# Integration tests create a database each; drop them between mutants so a long run does
# not fill the disk.
drop_test_dbs() {
  [ -n "$pgdir" ] || return 0
  "$pg_bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atqc \
    "SELECT datname FROM pg_database WHERE datname LIKE 'fedsched\_t%'" 2>/dev/null |
    while read -r db; do
      "$pg_bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc \
        "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1
    done
}

# Runs the given tests in the scratch copy; sets run_rc (124: timed out) and run_secs.
run_tests() {
  local limit=$1 log=$2 t0
  shift 2
  local bins=()
  for t in "$@"; do bins+=("build/$t"); done
  t0=$(date +%s.%N)
  (cd "$src" && BUILD=build timeout -k 10 "$limit" tests/run-tests.sh "${bins[@]}") >"$log" 2>&1
  run_rc=$?
  run_secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}

# ---- the unmutated tests must pass, or every mutant would count as killed -----------------
declare -A base_secs=()
broken=()
for t in "${all_tests[@]}"; do
  run_tests 1800 "$logs/baseline-${t##*/}.log" "$t"
  base_secs[$t]=$run_secs
  [ $run_rc -eq 0 ] || broken+=("$t")
done
drop_test_dbs
if [ ${#broken[@]} -gt 0 ]; then
  for t in "${broken[@]}"; do tail -n 20 "$logs/baseline-${t##*/}.log" >&2; done
  die "the unmutated tree fails ${broken[*]}: fix that first"
fi
echo "mutate: the unmutated tests pass ($(($(date +%s) - t_start)) s so far)"

# ---- the mutants ------------------------------------------------------------------------
killed=0 survived=0 invalid=0 idx=0
surv=() inval=()
for i in "${sel[@]}"; do
  idx=$((idx + 1))
  name=${P_NAME[i]} file=${P_FILE[i]}
  read -r -a tests <<<"${P_TESTS[i]}"
  f=$src/$file
  cp "$f" "$scratch/orig"
  MUT_FIND=${P_FIND[i]} MUT_REPL=${P_REPL[i]} apply_mutation "$f"
  t0=$(date +%s)
  mapfile -t goals < <(targets_for "${tests[@]}")
  if ! mk "${goals[@]}" >"$logs/$name.build.log" 2>&1; then
    result=INVALID detail="does not compile (see the entry)"
    invalid=$((invalid + 1)); inval+=("$i")
  else
    limit=60
    for t in "${tests[@]}"; do
      limit=$(awk -v l="$limit" -v s="${base_secs[$t]}" -v k="$factor" 'BEGIN { printf "%d", l + s * k + 1 }')
    done
    run_tests "$limit" "$logs/$name.test.log" "${tests[@]}"
    if [ $run_rc -eq 0 ]; then
      result=SURVIVED detail=""
      survived=$((survived + 1)); surv+=("$i")
    elif [ $run_rc -eq 124 ] || [ $run_rc -eq 137 ]; then
      result=KILLED detail="timeout after ${limit}s"
      killed=$((killed + 1))
    else
      by=$(sed -n 's/^failing: //p' "$logs/$name.test.log" | tail -n 1)
      result=KILLED detail="by ${by:-a failing run}"
      killed=$((killed + 1))
    fi
  fi
  # Back to the original text with a new mtime, so the next build recompiles the file.
  cat "$scratch/orig" >"$f"
  touch "$f"
  case " ${P_TESTS[i]} " in *" tests/integration/"*) drop_test_dbs ;; esac
  printf '[%2d/%d] %-8s %-28s %s:%s  %ss  %s\n' "$idx" "${#sel[@]}" "$result" "$name" \
    "$file" "${P_LINE[i]}" "$(($(date +%s) - t0))" "$detail"
done

# ---- summary ----------------------------------------------------------------------------
total=$((killed + survived))
rate=$(awk -v k=$killed -v t=$total 'BEGIN { printf "%.1f", t ? 100 * k / t : 0 }')
wall=$(($(date +%s) - t_start))
echo
echo "mutate: ${#sel[@]} points: $killed killed, $survived survived, $invalid invalid"
echo "mutate: kill rate $rate % (threshold $threshold %), wall time $((wall / 60)) min $((wall % 60)) s"
if [ ${#surv[@]} -gt 0 ]; then
  echo "survivors:"
  for i in "${surv[@]}"; do
    printf '  %-28s %s:%s  %s -> %s\n' "${P_NAME[i]}" "${P_FILE[i]}" "${P_LINE[i]}" "${P_FIND[i]}" "${P_REPL[i]}"
    printf '  %-28s tests: %s\n' "" "${P_TESTS[i]}"
    printf '  %-28s why: %s\n' "" "${P_WHY[i]}"
  done
fi
if [ ${#inval[@]} -gt 0 ]; then
  echo "invalid (fix these entries in $points):"
  for i in "${inval[@]}"; do
    printf '  %-28s %s:%s\n' "${P_NAME[i]}" "${P_FILE[i]}" "${P_LINE[i]}"
    grep -m 3 -E 'error' "$logs/${P_NAME[i]}.build.log" | sed 's/^/      /'
  done
fi
[ $invalid -eq 0 ] || exit 1
awk -v r="$rate" -v t="$threshold" 'BEGIN { exit !(r + 0 >= t + 0) }' || {
  echo "mutate: kill rate $rate % is below $threshold %"
  exit 1
}
exit 0
