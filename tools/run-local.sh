#!/usr/bin/env bash
# make run: a private PostgreSQL under .run/, three simulated member clusters over HTTPS
# (testdata/sim/three-clusters.json; their CA is .run/sim/kubesim-ca.crt, a kubeconfig for
# them .run/kubeconfig) and `fedsched serve` on http://127.0.0.1:8080 with the dashboard at
# /ui/, in the foreground. Ctrl-C stops everything.
set -euo pipefail
BUILD=${BUILD:-build}
root=$(pwd)
# Fixed ports below Linux's ephemeral range (32768-60999), so an outgoing connection of
# this machine can never hold one of them when we start.
port=${FEDSCHED_RUN_PGPORT:-15432}
simport=${FEDSCHED_RUN_SIMPORT:-17000}
listen=${FEDSCHED_LISTEN:-127.0.0.1:8080}
scenario=${FEDSCHED_RUN_SCENARIO:-testdata/sim/three-clusters.json}

pgdir="$root/.run/pg"
mkdir -p "$pgdir" "$root/.run/sim"
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$root/.run" 2>/dev/null; then
  # The checkout sits where the postgres user cannot reach (e.g. under /root).
  pgdir=/tmp/fedsched-run/pg
  echo "run: $root is not reachable by user postgres; database in $pgdir"
fi

sim_pid=""
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  tests/pg.sh stop "$pgdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # exit runs the EXIT trap

dsn=$(tests/pg.sh start "$pgdir" "$port")
echo "run: PostgreSQL on port $port ($pgdir)"

# The simulator writes its clusters' token files and its CA (each cluster's caFile) beside
# clusters.json, under .run/sim/, with absolute paths; fedsched reads member-cluster
# credentials only from its secretsDir.
rm -f .run/sim/clusters.json
"$BUILD/fedsched-kubesim" --scenario "$scenario" --port "$simport" \
  --clusters-out "$root/.run/sim/clusters.json" > .run/sim/sim.log 2>&1 &
sim_pid=$!
for _ in $(seq 100); do [ -s .run/sim/clusters.json ] && break; sleep 0.1; done
[ -s .run/sim/clusters.json ] || { cat .run/sim/sim.log; exit 1; }
grep '^cluster ' .run/sim/sim.log | sed 's/^/run: simulated /'

# A kubeconfig with one context per simulated cluster (docs/simulator.md).
if command -v kubectl >/dev/null; then
  kc="$root/.run/kubeconfig"
  rm -f "$kc"
  while read -r _ name url; do
    token=any # a cluster without a token takes any; none would make kubectl prompt
    [ -f ".run/sim/clusters.json.$name.token" ] && token=$(cat ".run/sim/clusters.json.$name.token")
    kubectl config --kubeconfig "$kc" set-cluster "$name" --server "$url" \
      --certificate-authority "$root/.run/sim/kubesim-ca.crt" >/dev/null
    kubectl config --kubeconfig "$kc" set-credentials "$name" --token "$token" >/dev/null
    kubectl config --kubeconfig "$kc" set-context "$name" --cluster "$name" --user "$name" >/dev/null
  done < <(grep '^cluster ' .run/sim/sim.log)
  chmod 600 "$kc"
  echo "run: kubectl: export KUBECONFIG=$kc; kubectl --context NAME get nodes"
fi

printf '{"secretsDir": "%s/.run/sim"}\n' "$root" > .run/secrets.json

echo "run: fedsched on http://$listen (dashboard http://$listen/ui/; Ctrl-C to stop)"
# Development mode: no tokens needed (fedsched says so loudly at start).
FEDSCHED_DATABASE_DSN=$dsn FEDSCHED_LISTEN=$listen FEDSCHED_AUTH_MODE=disabled \
  "$BUILD/fedsched" serve --config .run/secrets.json --config .run/sim/clusters.json
