#!/usr/bin/env bash
# coverage.sh -- line and branch coverage that a fuzz target's corpus reaches in the code it
# is meant to test, measured with clang source-based coverage (no sanitizers). Reads the
# seeds (testdata/fuzz/<t>/) and what `make fuzz` found ($FUZZ_BUILD/corpus/<t>/); builds
# into $FUZZ_BUILD/cov/. Not part of CI: run it after a long `make fuzz` to see what the
# fuzzer never reached.
#
#   tests/fuzz/coverage.sh [target ...]     (default: every tests/fuzz/fuzz_*.c)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${FUZZ_BUILD:-$root/build/fuzz}
cov=$out/cov
cc=${FUZZ_CC:-clang}
cd "$root"

# The files each target exists to exercise; the report is limited to them.
declare -A focus=(
  [quantity]="cluster/quantity.c"
  [k8s_json]="cluster/k8s_json.c cluster/k8s.c"
  [trainingjob]="api/trainingjob.c"
  [nodelist]="cluster/inventory.c cluster/k8s.c cluster/k8s_json.c"
  [podlist]="cluster/inventory.c cluster/k8s.c cluster/k8s_json.c"
  [config]="cmd/config.c cluster/cluster_config.c"
  [cluster_config]="cluster/cluster_config.c policy/tz.c"
)

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c)
    # fuzz_request needs PostgreSQL and the embedded migrations (docs/fuzzing.md).
    [ "$t" = fuzz_request ] && continue
    targets+=("${t#fuzz_}")
  done
fi

pkgs="jansson libcurl libmicrohttpd liburcu libpq"
read -ra flags <<<"-std=c11 -D_GNU_SOURCE -I. -O1 -g -pthread -fprofile-instr-generate \
  -fcoverage-mapping -fsanitize=fuzzer-no-link $(pkg-config --cflags $pkgs)"
mkdir -p "$cov/obj"

# The library without cmd/main.c and the generated files, which no target reaches;
# two compilers at a time (the machine is shared).
objs=()
running=0
for d in base policy cluster store api sim scheduler; do
  for f in "$d"/*.c; do
    [ "$f" = cmd/main.c ] && continue
    o=$cov/obj/${f//\//_}.o
    objs+=("$o")
    [ -f "$o" ] && [ "$o" -nt "$f" ] && continue
    $cc "${flags[@]}" -DFEDSCHED_VERSION='"cov"' -c "$f" -o "$o" &
    running=$((running + 1))
    if [ $running -ge 2 ]; then
      wait -n
      running=$((running - 1))
    fi
  done
done
wait
# An archive, so a target links only the objects it uses (not the embedded web/migrations).
rm -f "$cov/libfedsched.a"
ar rcs "$cov/libfedsched.a" "${objs[@]}"

for t in "${targets[@]}"; do
  bin=$cov/fuzz_$t
  $cc "${flags[@]}" -fsanitize=fuzzer "tests/fuzz/fuzz_$t.c" "$cov/libfedsched.a" \
    $(pkg-config --libs $pkgs) -lm -o "$bin"
  dirs=("testdata/fuzz/$t")
  [ -d "$out/corpus/$t" ] && dirs+=("$out/corpus/$t")
  LLVM_PROFILE_FILE=$cov/$t.profraw "$bin" -runs=0 "${dirs[@]}" >"$cov/$t.log" 2>&1
  llvm-profdata merge -sparse "$cov/$t.profraw" -o "$cov/$t.profdata"
  echo "== $t ($(find "${dirs[@]}" -type f | wc -l) inputs)"
  # shellcheck disable=SC2086
  llvm-cov report "$bin" -instr-profile="$cov/$t.profdata" ${focus[$t]:-} |
    sed -n '1p;3,$p'
done
