#!/usr/bin/env bash
# layers.sh -- the layer check of `make lint`: every project include and every library
# include must point down a floor, as docs/development.md draws it:
#   base <- policy <- cluster, store <- scheduler, api <- cmd;
#   client and whatif beside them (client uses base only; whatif base and policy);
#   tools/kubesim, a tool apart, uses base and cluster.
# Only store/ includes libpq, only cluster/ and client/ include curl, only api/ and the
# kubesim tool include microhttpd, and policy/ no library at all.
#   tests/layers.sh [ROOT]   check the tree at ROOT (default: this checkout); exit 1 and
#                            one line per violation when any include goes up a floor.
set -uo pipefail

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

# folder -> the folders its files may include from (its own included).
declare -A may=(
  [base]="base"
  [policy]="base policy"
  [cluster]="base policy cluster"
  [store]="base store"
  [api]="base policy cluster store api"
  [scheduler]="base policy cluster store scheduler"
  [whatif]="base policy whatif"
  [client]="base client"
  [cmd]="base policy cluster store api scheduler whatif client cmd"
  [tools/kubesim]="base cluster tools/kubesim"
)
# library header -> the folders that may include it.
declare -A lib=(
  [libpq-fe.h]="store"
  [curl/curl.h]="cluster client"
  [microhttpd.h]="api tools/kubesim"
  [urcu.h]="cluster"
  [jansson.h]="cluster store api scheduler whatif client cmd tools/kubesim"
)

bad=0
for dir in "${!may[@]}"; do
  [ -d "$dir" ] || continue
  for f in "$dir"/*.c "$dir"/*.h; do
    [ -f "$f" ] || continue
    while IFS= read -r line; do
      n=${line%%:*}
      inc=${line#*:}
      if [[ $inc =~ ^#include\ \"([a-z_]+(/[a-z_]+)?)/[a-z_0-9]+\.h\" ]]; then
        target=${BASH_REMATCH[1]}
        [ -d "$target" ] || target=${target%%/*}
        ok=0
        for m in ${may[$dir]}; do [ "$m" = "$target" ] && ok=1; done
        if [ $ok -eq 0 ]; then
          echo "$f:$n: $dir/ may not include $target/ (${inc#\#include }); $dir/ uses ${may[$dir]}"
          bad=1
        fi
      elif [[ $inc =~ ^#include\ \<([a-z_/-]+\.h)\> ]] && [ -n "${lib[${BASH_REMATCH[1]}]+x}" ]; then
        h=${BASH_REMATCH[1]}
        ok=0
        for m in ${lib[$h]}; do [ "$m" = "$dir" ] && ok=1; done
        if [ $ok -eq 0 ]; then
          echo "$f:$n: $dir/ may not include <$h>; only ${lib[$h]} do"
          bad=1
        fi
      fi
    done < <(grep -n '^#include' "$f" | sed 's/^\([0-9]*\):/\1:/')
  done
done
[ $bad -eq 0 ] && echo "layers: ok"
exit $bad
