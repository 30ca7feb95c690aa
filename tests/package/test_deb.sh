#!/usr/bin/env bash
# test_deb.sh -- the Debian package on this machine: contents, install (twice: the second
# is an upgrade over itself, so postinst must be idempotent), `systemd-analyze verify` of
# the installed unit where that command exists, the unit's ExecStart run as the unit's
# User= with its EnvironmentFile= against a private PostgreSQL until GET /readyz answers
# 200, SIGTERM to a clean exit, then `dpkg --purge` and nothing left (files, user, group,
# ownership overrides). Needs root. `make deb-test`; usage: tests/package/test_deb.sh PKG.deb
# Not responsible for the systemd sandbox itself (no systemd runs the unit here: its
# directives are only verified) nor for building the package (make deb).
set -uo pipefail

deb=${1:?usage: test_deb.sh PKG.deb}
here=$(cd "$(dirname "$0")" && pwd)
unit=/lib/systemd/system/fedsched.service
checks=0
pgdir="" server=""
log=$(mktemp /tmp/fedsched-debtest.XXXXXX)

fail() {
  echo "deb-test: FAIL: $*" >&2
  exit 1
}
ok() {
  checks=$((checks + 1))
  echo "deb-test: ok   $*"
}
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -KILL "$server" 2>/dev/null
    wait "$server" 2>/dev/null
  fi
  if [ -n "$pgdir" ]; then
    "$here/../pg.sh" stop "$pgdir" >/dev/null 2>&1
    rm -rf "$pgdir"
  fi
  rm -f "$log"
  if dpkg-query -W -f='${Status}' fedsched 2>/dev/null | grep -q 'ok installed'; then
    echo "deb-test: fedsched is left installed for inspection (dpkg --purge fedsched)" >&2
  fi
}
trap cleanup EXIT

# One unit setting, as the installed file has it ("" when absent; the last one wins).
unit_value() {
  sed -n "s/^$1=//p" "$unit" | tail -n 1
}

# GET path on 127.0.0.1:port; prints the status code (nothing when refused).
http_status() {
  local line
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 0
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
  IFS= read -r -t 5 line <&3
  exec 3<&-
  set -- $line
  echo "${2:-}"
}

. "$here/../free-port.sh"

# "host=H port=P user=U dbname=D" as postgresql://U@H:P/D (an EnvironmentFile line holds
# no spaces unquoted); a URI is passed through.
dsn_uri() {
  local host=127.0.0.1 port=5432 user=postgres dbname=fedsched kv
  case "$1" in postgres://* | postgresql://*) echo "$1"; return ;; esac
  for kv in $1; do
    case "$kv" in
    host=*) host=${kv#host=} ;;
    port=*) port=${kv#port=} ;;
    user=*) user=${kv#user=} ;;
    dbname=*) dbname=${kv#dbname=} ;;
    *) fail "FEDSCHED_TEST_DSN: cannot turn \"$kv\" into a URI" ;;
    esac
  done
  echo "postgresql://$user@$host:$port/$dbname"
}

[ "$(id -u)" -eq 0 ] || fail "needs root (it installs and purges the package): run it as root"
[ -f "$deb" ] || fail "no package $deb (make deb builds it)"
start=$SECONDS

# ---- the package's contents ------------------------------------------------------------
contents=$(dpkg-deb -c "$deb") || fail "dpkg-deb -c $deb"
for f in ./usr/bin/fedsched ./lib/systemd/system/fedsched.service ./etc/fedsched/config.json \
  ./etc/fedsched/fedsched.env; do
  grep -q " $f\$" <<<"$contents" || fail "$f is not in $deb"
done
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles 2>/dev/null)
for f in /etc/fedsched/config.json /etc/fedsched/fedsched.env; do
  grep -qx "$f" <<<"$conffiles" || fail "$f is not a conffile of $deb"
done
ok "contents: binary, unit, config.json and fedsched.env (conffiles)"

# ---- install, twice --------------------------------------------------------------------
# dpkg, waiting up to a minute for another dpkg or apt on the machine to let go of its lock.
dpkg_locked() {
  local i
  for i in $(seq 1 60); do
    dpkg "$@" >"$log" 2>&1 && return 0
    grep -q 'lock' "$log" || return 1
    sleep 1
  done
  return 1
}

for i in 1 2; do
  dpkg_locked -i "$deb" || fail "dpkg -i (install $i) failed: $(cat "$log")"
done
dpkg-query -W -f='${Status}' fedsched | grep -q 'install ok installed' ||
  fail "fedsched is not installed after dpkg -i"
[ -x /usr/bin/fedsched ] || fail "/usr/bin/fedsched is not installed"
[ -f "$unit" ] || fail "$unit is not installed"
ok "installed twice"

user=$(unit_value User)
group=$(unit_value Group)
[ -n "$user" ] || fail "$unit has no User= (the test runs ExecStart as the package's user)"
group=${group:-$user}
getent passwd "$user" >/dev/null || fail "postinst did not create the user $user"
getent group "$group" >/dev/null || fail "postinst did not create the group $group"
uid=$(id -u "$user")
[ "$uid" -lt 1000 ] || fail "$user has uid $uid: not a system user"
ok "system user $user (uid $uid), group $group"

for d in "NoNewPrivileges=yes" "ProtectSystem=strict" "PrivateTmp=yes" "Restart=on-failure"; do
  grep -qx "$d" "$unit" || fail "$unit lacks $d"
done
execstart=$(unit_value ExecStart)
envfile=$(unit_value EnvironmentFile)
envfile=${envfile#-}
[ "$(grep -c '^ExecStart=' "$unit")" -eq 1 ] || fail "$unit needs exactly one ExecStart="
grep -q -- "--config /etc/fedsched/config.json" <<<"$execstart" ||
  fail "ExecStart does not read /etc/fedsched/config.json: $execstart"
[ -n "$envfile" ] || fail "$unit has no EnvironmentFile= for the DSN"
[ "$(stat -c '%a %U' "$envfile")" = "600 root" ] ||
  fail "$envfile is $(stat -c '%a %U' "$envfile"), not 600 root: the DSN secret is exposed"
ok "unit: hardened, reads /etc/fedsched/config.json, DSN from $envfile"

if command -v systemd-analyze >/dev/null; then
  out=$(systemd-analyze verify "$unit" 2>&1)
  rc=$?
  [ $rc -eq 0 ] && [ -z "$out" ] || fail "systemd-analyze verify $unit (exit $rc): $out"
  ok "systemd-analyze verify $unit"
else
  echo "deb-test: skip systemd-analyze is not installed here: the unit file is not verified"
fi

# ---- the unit's ExecStart, as systemd would run it -------------------------------------
if [ -z "${FEDSCHED_TEST_DSN:-}" ]; then
  pgdir=$(mktemp -d /tmp/fedsched-debpg.XXXXXX)
  chmod 755 "$pgdir"
  for try in 1 2 3; do
    FEDSCHED_TEST_DSN=$("$here/../pg.sh" start "$pgdir" "$(free_port)" 2>"$log") && break
    FEDSCHED_TEST_DSN=""
  done
  [ -n "$FEDSCHED_TEST_DSN" ] || fail "could not start PostgreSQL: $(cat "$log")"
fi
port=$(free_port)
# The DSN goes where an operator puts it: the unit's EnvironmentFile.
printf 'FEDSCHED_DATABASE_DSN=%s\nFEDSCHED_LISTEN=127.0.0.1:%s\n' \
  "$(dsn_uri "$FEDSCHED_TEST_DSN")" "$port" >>"$envfile"

# EnvironmentFile= lines (KEY=VALUE; # and ; comments), as systemd reads them.
envs=()
while IFS= read -r line; do
  case "$line" in '' | '#'* | ';'*) continue ;; esac
  [[ "$line" == *=* ]] && envs+=("$line")
done <"$envfile"
# ExecStart= with systemd's prefixes (-@:+!) dropped; quoting is not expected.
execstart=$(sed -E 's/^[-@:+!]+//' <<<"$execstart")
[[ "$execstart" != *[\"\']* ]] || fail "ExecStart has quotes this test does not parse: $execstart"
read -ra argv <<<"$execstart"

setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
  --bounding-set=-all --inh-caps=-all \
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${envs[@]}" "${argv[@]}" >"$log" 2>&1 &
server=$!
status=""
for _ in $(seq 1 100); do
  kill -0 "$server" 2>/dev/null || fail "ExecStart ($execstart) exited: $(tail -n 20 "$log")"
  status=$(http_status "$port" /readyz)
  [ "$status" = 200 ] && break
  sleep 0.2
done
[ "$status" = 200 ] ||
  fail "GET /readyz answered '${status:-nothing}' for 20 s; server log: $(tail -n 20 "$log")"
[ "$(ps -o user= -p "$server" | tr -d ' ')" = "$user" ] ||
  fail "ExecStart runs as $(ps -o user= -p "$server"), not $user"
[ "$(http_status "$port" /healthz)" = 200 ] || fail "GET /healthz is not 200"
ok "ExecStart as $user: GET /readyz and /healthz 200 on 127.0.0.1:$port"

kill -TERM "$server"
wait "$server"
rc=$?
server=""
[ $rc -eq 0 ] || fail "SIGTERM: fedsched exited $rc, not 0: $(tail -n 20 "$log")"
ok "SIGTERM: clean exit"

# ---- purge -----------------------------------------------------------------------------
dpkg_locked --purge fedsched || fail "dpkg --purge fedsched failed: $(cat "$log")"
if dpkg-query -W -f='${Status}' fedsched 2>/dev/null | grep -q 'installed'; then
  fail "fedsched is still installed after dpkg --purge"
fi
for f in /usr/bin/fedsched "$unit" /etc/fedsched /usr/share/doc/fedsched; do
  [ ! -e "$f" ] || fail "$f is left after dpkg --purge"
done
! getent passwd "$user" >/dev/null || fail "user $user is left after dpkg --purge"
! getent group "$group" >/dev/null || fail "group $group is left after dpkg --purge"
! dpkg-statoverride --list | grep -q fedsched || fail "dpkg-statoverride entries are left"
ok "purged: no files, user, group or overrides left"

echo "deb-test: $checks checks passed in $((SECONDS - start)) s"
