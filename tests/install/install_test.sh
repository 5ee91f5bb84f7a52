#!/usr/bin/env bash
# cmake --install into a temp prefix; a consumer project outside the tree builds with
# find_package(sacker) against that prefix, links sacker::sacker and runs; the
# installed sacker runs the canary workflow (add, tag, download) in a temp HOME.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d /tmp/sacker-install-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_test: $*" >&2; exit 1; }

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
for f in bin/sacker include/sacker/client.h include/sacker/backends.h lib/cmake/sacker/sacker-config.cmake \
         lib/cmake/sacker/sacker-config-version.cmake lib/cmake/sacker/sacker-targets.cmake \
         lib/libsacker_client.a lib/libsacker_core.a share/man/man1/sacker.1.gz \
         share/bash-completion/completions/sacker share/zsh/site-functions/_sacker \
         share/fish/vendor_completions.d/sacker.fish share/doc/sacker/copyright; do
  [ -f "$prefix/$f" ] || fail "missing after install: $f"
done
[ -x "$prefix/bin/sacker" ] || fail "bin/sacker is not executable"
# Nothing of the build tree leaks into the installed package (include views, sources).
if grep -rlE "$build|$src/" "$prefix/lib/cmake/sacker" >/dev/null; then
  fail "the installed CMake package refers to the build or source tree: $(grep -rlE "$build|$src/" "$prefix/lib/cmake/sacker")"
fi

# A consumer outside the tree, found only through the prefix.
cmake -S "$src/tests/install/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log" >&2; fail "consumer configure failed"; }
cmake --build "$tmp/consumer" >>"$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log" >&2; fail "consumer build failed"; }
printf 'consumer bytes\n' >"$tmp/blob"
want=$(sha256sum "$tmp/blob" | cut -d' ' -f1)
got=$("$tmp/consumer/consumer" "$tmp/blob") || fail "consumer exited $?"
[ "$got" = "1 $want" ] || fail "consumer printed '$got', wanted '1 $want'"

# The installed command, the canary workflow, on the embedded default in a temp HOME.
home=$tmp/home
mkdir -p "$home/work"
run() { (cd "$home/work" && env -i PATH=/usr/bin:/bin HOME="$home" "$prefix/bin/sacker" "$@"); }
printf 'build 1\n' >"$home/app.jar"
v=$(run add frontend-server "$home/app.jar") || fail "add failed"
[ "$v" = 1 ] || fail "add printed '$v', wanted 1"
run -q download frontend-server latest || fail "download latest failed"
cmp "$home/app.jar" "$home/work/app.jar" || fail "downloaded bytes differ"
run tag frontend-server "$v" live >/dev/null || fail "tag failed"
rm "$home/work/app.jar"
run -q download frontend-server live -o "$home/live.jar" || fail "download live failed"
cmp "$home/app.jar" "$home/live.jar" || fail "live bytes differ"
[ -f "$home/.local/share/sacker/ledger.db" ] || fail "the embedded default ledger is not in the temp HOME"
echo "install_test: ok ($prefix)"
