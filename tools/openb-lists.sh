#!/bin/sh
# openb-lists.sh -- writes every node and pod list of the public openb release (the
# hkust-adsl/kubernetes-scheduler-simulator repository's data/csv/) into one directory, for
# `bench_packing --data DIR --lists all`. The release has eight lists ../shared/data does not
# (gpuspec05/10/20/25/33, multigpu20/30/40/50); ../shared/data has one it does not (cpu0),
# copied too when present. About 8 MB; kept out of the repository.
# Usage: tools/openb-lists.sh REPO OUTDIR [SHARED]
#   REPO: a clone of the release, bare or not (e.g. a mirror's git directory);
#   SHARED: the shared copy, default ../shared/data/alibaba-openb-2023 beside the checkout.
set -eu
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 REPO OUTDIR [SHARED]" >&2
    exit 2
fi
repo=$1
out=$2
mkdir -p "$out"
files=$(git -C "$repo" ls-tree --name-only HEAD data/csv/ | grep '^data/csv/openb_.*\.csv$')
if [ -z "$files" ]; then
    echo "$0: $repo has no data/csv/openb_*.csv at HEAD" >&2
    exit 1
fi
for f in $files; do
    git -C "$repo" show "HEAD:$f" >"$out/$(basename "$f")"
done
shared=${3:-$(dirname "$0")/../../shared/data/alibaba-openb-2023}
if [ -f "$shared/openb_pod_list_cpu0.csv" ]; then
    cp "$shared/openb_pod_list_cpu0.csv" "$out/"
fi
echo "$0: $(find "$out" -name 'openb_*.csv' | wc -l) openb files in $out"
