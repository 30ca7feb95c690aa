#!/usr/bin/env bash
# build-deb.sh -- assembles the fedsched Debian package with dpkg-deb (no debhelper):
#   deploy/debian/build-deb.sh BIN VERSION OUT.deb
# BIN is a built fedsched binary (make builds it; `make deb` calls this). Depends comes
# from dpkg-shlibdeps on the binary. Not responsible for building or testing
# (tests/package/test_deb.sh).
set -euo pipefail

bin=${1:?usage: build-deb.sh BIN VERSION OUT.deb}
version=${2:?version}
out=${3:?output .deb}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
arch=$(dpkg --print-architecture)

stage=$(mktemp -d /tmp/fedsched-deb.XXXXXX)
trap 'rm -rf "$stage"' EXIT
root=$stage/root

# The simulator (fedsched-kubesim) is a test tool and stays out: a production host has no
# use for a fake Kubernetes API server.
install -D -m 0755 "$bin" "$root/usr/bin/fedsched"
strip --strip-unneeded "$root/usr/bin/fedsched"
install -D -m 0644 "$here/fedsched.service" "$root/lib/systemd/system/fedsched.service"
install -D -m 0640 "$here/config.json" "$root/etc/fedsched/config.json"
install -D -m 0600 "$here/fedsched.env" "$root/etc/fedsched/fedsched.env"
install -d -m 0750 "$root/etc/fedsched/secrets"
for doc in install.md configuration.md security.md clusters.md; do
  install -D -m 0644 "$src/docs/$doc" "$root/usr/share/doc/fedsched/$doc"
done

install -d -m 0755 "$root/DEBIAN"
install -m 0644 "$here/conffiles" "$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "$here/$script" "$root/DEBIAN/$script"
done

# dpkg-shlibdeps wants to run where a debian/control is.
mkdir -p "$stage/debian"
touch "$stage/debian/control"
depends=$(cd "$stage" && dpkg-shlibdeps -O "$root/usr/bin/fedsched" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build-deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@DEPENDS@|$depends|" \
  -e "s|@SIZE@|$size|" "$here/control.in" > "$root/DEBIAN/control"

mkdir -p "$(dirname "$out")"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "$out"
