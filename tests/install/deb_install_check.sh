#!/usr/bin/env bash
# Opt-in, changes this machine (not run by ctest): installs the sacker .deb with
# apt-get, checks the command, man page and completion are where Debian puts them and
# the canary workflow runs in a temp HOME, then removes the package and checks nothing
# of it is left. Refuses to run if a sacker package is installed already (it would be
# replaced, then removed). Run as root:
#   bash tests/install/deb_install_check.sh path/to/sacker_<version>_<arch>.deb
set -euo pipefail
deb=$(realpath "${1:?usage: deb_install_check.sh sacker_VERSION_ARCH.deb}")
fail() { echo "deb_install_check: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "must run as root"
if dpkg-query -W -f='${Status}' sacker 2>/dev/null | grep -q 'ok installed'; then
  fail "a sacker package is installed already; remove it first (apt-get remove sacker)"
fi
tmp=$(mktemp -d /tmp/sacker-deb-check.XXXXXX)
installed=0
cleanup() {
  if [ "$installed" = 1 ]; then apt-get remove -y -q sacker </dev/null >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "$deb" </dev/null >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; fail "apt-get install failed"; }
installed=1
[ -x /usr/bin/sacker ] || fail "/usr/bin/sacker missing"
[ "$(man -w sacker)" = /usr/share/man/man1/sacker.1.gz ] || fail "man -w sacker: $(man -w sacker)"
[ -f /usr/share/bash-completion/completions/sacker ] || fail "the bash completion is missing"
mkdir -p "$tmp/home/work"
printf 'bytes\n' >"$tmp/app.jar"
v=$(cd "$tmp/home/work" && HOME=$tmp/home sacker add app "$tmp/app.jar")
(cd "$tmp/home/work" && HOME=$tmp/home sacker tag app "$v" live >/dev/null && HOME=$tmp/home sacker -q download app live)
cmp "$tmp/app.jar" "$tmp/home/work/app.jar" || fail "the canary download differs"
apt-get remove -y -q sacker </dev/null >>"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; fail "apt-get remove failed"; }
installed=0
for f in /usr/bin/sacker /usr/share/man/man1/sacker.1.gz /usr/share/bash-completion/completions/sacker; do
  [ ! -e "$f" ] || fail "$f is still there after apt-get remove"
done
echo "deb_install_check: ok (installed, ran, removed $(basename "$deb"))"
