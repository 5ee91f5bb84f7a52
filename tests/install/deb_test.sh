#!/usr/bin/env bash
# scripts/package.sh builds the .debs; their control fields and file lists are checked
# with dpkg-deb, and the packaged sacker runs from an extracted copy. Installs nothing.
#   deb_test.sh BUILD_DIR SOURCE_DIR SACKER_BINARY
set -euo pipefail
build=$1 src=$2 sacker=$3
tmp=$(mktemp -d /tmp/sacker-deb-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "deb_test: $*" >&2; exit 1; }

bash "$src/scripts/package.sh" "$build" "$tmp/out" >"$tmp/list" || fail "scripts/package.sh failed"
version=$("$sacker" --version | sed -n 's/^sacker //p')
arch=$(dpkg --print-architecture)
deb=$tmp/out/sacker_${version}_${arch}.deb
dev=$tmp/out/sacker-dev_${version}_${arch}.deb
[ -f "$deb" ] || fail "no $deb (package.sh printed: $(cat "$tmp/list"))"
[ -f "$dev" ] || fail "no $dev"

field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$deb" Package)" = sacker ] || fail "Package: $(field "$deb" Package)"
[ "$(field "$deb" Version)" = "$version" ] || fail "Version: $(field "$deb" Version), the project is $version"
[ "$(field "$deb" Architecture)" = "$arch" ] || fail "Architecture: $(field "$deb" Architecture)"
[ -n "$(field "$deb" Maintainer)" ] && [ -n "$(field "$deb" Description)" ] || fail "Maintainer or Description missing"
depends=$(field "$deb" Depends)
# From dpkg-shlibdeps: the shared libraries the binary links, with versions.
depend_names=$(sed 's/, /\n/g' <<<"$depends" | sed 's/ .*//')
# libsqlite3-0 only when the command links Debian's (not -DSACKER_STATIC_C_LIBS, the
# default); libssl3 either way (the binary, or libcurl's for the wire module).
needed=$(readelf -d "$sacker" | awk '/NEEDED/ { print $5 }')
expected="libc6 libstdc++6 libssl3 libfmt9"
if grep -q libsqlite3 <<<"$needed"; then expected="$expected libsqlite3-0"; fi
for lib in $expected; do
  grep -qxF "$lib" <<<"$depend_names" || fail "Depends lacks $lib: $depends"
done
grep -q '(>= ' <<<"$depends" || fail "Depends has no versions (not from shlibdeps?): $depends"
files=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/sacker ./usr/share/man/man1/sacker.1.gz ./usr/share/bash-completion/completions/sacker \
         ./usr/share/zsh/vendor-completions/_sacker ./usr/share/fish/vendor_completions.d/sacker.fish \
         ./usr/share/doc/sacker/copyright; do
  grep -qxF "$f" <<<"$files" || fail "$deb lacks $f"
done
# The backend modules (client/backend_module.h), when the build makes them.
modules=$(cd "$(dirname "$sacker")" && ls modules 2>/dev/null || true)
for m in $modules; do
  grep -qxF "./usr/lib/sacker/modules/$m" <<<"$files" || fail "$deb lacks the module ./usr/lib/sacker/modules/$m"
done
if grep -vE '^\./usr/lib/sacker/' <<<"$files" | grep -qE '^\./usr/(include|lib)/.'; then
  fail "the runtime package holds development files"
fi
if grep -qE "$build|/work/|_CPack" <<<"$files"; then fail "build paths in the package"; fi
dpkg-deb -c "$deb" | awk '$1 ~ /^-/ && $2 != "root/root" { bad = 1 } END { exit bad }' || fail "files not owned by root"
[ "$(field "$dev" Package)" = sacker-dev ] || fail "dev Package: $(field "$dev" Package)"
dev_files=$(dpkg-deb -c "$dev" | awk '{print $6}')
for f in ./usr/include/sacker/client.h ./usr/lib/cmake/sacker/sacker-config.cmake ./usr/lib/libsacker_client.a; do
  grep -qxF "$f" <<<"$dev_files" || fail "$dev lacks $f"
done
grep -q libfmt-dev <<<"$(field "$dev" Depends)" || fail "sacker-dev Depends lacks libfmt-dev"

# The packaged binary and man page work from an extracted copy.
dpkg-deb -x "$deb" "$tmp/root"
[ "$("$tmp/root/usr/bin/sacker" --version | head -1)" = "sacker $version" ] || fail "the packaged sacker --version"
MANPAGER='cat' man -l "$tmp/root/usr/share/man/man1/sacker.1.gz" 2>/dev/null | grep -q 'sacker' || fail "man -l of the packaged page"
# ... and finds its modules where the package put them (the path from bindir is compiled in).
if grep -qxF sacker-git.so <<<"$modules"; then
  git init -q --bare "$tmp/ledger.git"
  head -c 1000 /dev/urandom >"$tmp/blob"
  HOME=$tmp "$tmp/root/usr/bin/sacker" -q --ledger "git://$tmp/ledger.git" --store "file://$tmp/blobs" add app "$tmp/blob" \
    >/dev/null || fail "the packaged sacker cannot use its git module"
fi
echo "deb_test: ok ($(basename "$deb"): $depends)"
