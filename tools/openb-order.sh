#!/bin/sh
# openb-order.sh -- writes the ATC'23 artifact's own random draws (arrival order and node
# order) for every openb pod list in DIR and seeds 42..51, as DIR/order/LIST.SEED.order,
# for `bench_packing --data DIR --order DIR/order` (docs/benchmarks.md, "The artifact's own
# draws"). The artifact draws them from Go's math/rand, which only Go reproduces, so this
# builds tools/openb-order/ with Go (Debian: golang-go); nothing else needs Go. About 60 KB a
# file; kept out of the repository, like the lists (tools/openb-lists.sh).
# Usage: tools/openb-order.sh DIR [NODE_LIST]
#   NODE_LIST: the node list the capacity is read from, default openb_node_list_gpu_node.
set -eu
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DIR [NODE_LIST]" >&2
    exit 2
fi
dir=$1
nodes=$dir/${2:-openb_node_list_gpu_node}.csv
if ! command -v go >/dev/null 2>&1; then
    echo "$0: needs Go to reproduce Go's math/rand (apt-get install golang-go)" >&2
    exit 1
fi
if [ ! -f "$nodes" ]; then
    echo "$0: no node list $nodes" >&2
    exit 1
fi
tool=$(mktemp -d)
trap 'rm -rf "$tool"' EXIT
(cd "$(dirname "$0")/openb-order" && go build -o "$tool/openb-order" .)
mkdir -p "$dir/order"
n=0
for f in "$dir"/openb_pod_list_*.csv; do
    list=$(basename "$f" .csv)
    for seed in 42 43 44 45 46 47 48 49 50 51; do
        "$tool/openb-order" "$f" "$nodes" "$seed" >"$dir/order/$list.$seed.order"
        n=$((n + 1))
    done
done
echo "$0: $n order files in $dir/order"
