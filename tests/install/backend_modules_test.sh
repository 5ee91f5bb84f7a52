#!/usr/bin/env bash
# Backends loaded on demand (client/backend_module.h): the sacker command links none
# of the non-embedded backends' libraries, loads a module only when its scheme is
# used, and refuses a missing, broken or foreign module with exit 1 and one line.
#   backend_modules_test.sh SACKER FOREIGN_MODULE WITH_GIT WITH_S3
# The dynamic loader's own log (LD_DEBUG=files) says which objects a run maps.
set -euo pipefail
sacker=$1 foreign=$2 with_git=$3 with_s3=$4
fail() { echo "backend_modules_test: $*" >&2; exit 1; }
work=$(mktemp -d /tmp/sacker-modules-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOME=$work/home XDG_STATE_HOME=$work/state
unset SACKER_CONFIG SACKER_LEDGER SACKER_STORE
mkdir -p "$HOME"
heavy='libgit2|libzookeeper|libpq|libcurl|libssh2|libldap|libnghttp2'

# 1. What the binary needs: none of the heavy libraries.
needed=$(readelf -d "$sacker" | awk '/NEEDED/ { print $5 }' | tr -d '[]')
if grep -Eq "$heavy" <<<"$needed"; then fail "sacker links a backend library: $(grep -E "$heavy" <<<"$needed" | tr '\n' ' ')"; fi
echo "backend_modules_test: sacker needs $(wc -l <<<"$needed") libraries, none of a non-embedded backend"

# Which objects a run maps (stdout and stderr of the command go to files).
mapped() {  # OUT COMMAND...: runs COMMAND with the loader's log in OUT.log; prints the objects mapped
  local out=$1; shift
  set +e
  LD_DEBUG=files LD_DEBUG_OUTPUT=$work/ld "$@" >"$out.out" 2>"$out.err"
  echo $? >"$out.rc"
  set -e
  cat "$work"/ld.* | awk '/file=/ { sub(/.*file=/, ""); print $1 }' | sort -u
  rm -f "$work"/ld.*
}

# 2. The embedded default maps no module.
head -c 4096 /dev/urandom >"$work/app.bin"
embedded=(--ledger "sqlite://$work/ledger.db" --store "file://$work/blobs")
"$sacker" -q "${embedded[@]}" add app "$work/app.bin" >/dev/null
objects=$(mapped "$work/info" "$sacker" "${embedded[@]}" info app latest)
[ "$(cat "$work/info.rc")" = 0 ] || fail "info on the embedded default failed: $(cat "$work/info.err")"
if grep -Eq "sacker-|$heavy" <<<"$objects"; then fail "info on the embedded default mapped: $(grep -E "sacker-|$heavy" <<<"$objects" | tr '\n' ' ')"; fi
echo "backend_modules_test: info on the embedded default maps $(wc -l <<<"$objects") objects, no module"

# 3. A git ledger maps the git module and libgit2, nothing of the others.
if [ "$with_git" = 1 ]; then
  git init -q --bare "$work/ledger.git"
  git_ledger=(--ledger "git://$work/ledger.git" --store "file://$work/blobs")
  objects=$(mapped "$work/git" "$sacker" -q "${git_ledger[@]}" add app "$work/app.bin")
  [ "$(cat "$work/git.rc")" = 0 ] || fail "add on a git ledger failed: $(cat "$work/git.err")"
  grep -q 'sacker-git\.so' <<<"$objects" || fail "add on a git ledger did not map sacker-git.so"
  grep -q 'libgit2' <<<"$objects" || fail "add on a git ledger did not map libgit2"
  if grep -Eq 'libzookeeper|libpq|sacker-(zk|postgres|wire)' <<<"$objects"; then
    fail "add on a git ledger mapped another backend: $(grep -E 'libzookeeper|libpq|sacker-' <<<"$objects" | tr '\n' ' ')"
  fi
  echo "backend_modules_test: a git ledger maps sacker-git.so and libgit2 only"
fi

# 4. An S3 URI maps the wire module and libcurl, none of git, ZooKeeper or PostgreSQL.
#    Nothing listens on the endpoint: the open is what is looked at, not the answer.
if [ "$with_s3" = 1 ]; then
  objects=$(AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s AWS_REGION=us-east-1 \
    AWS_MAX_ATTEMPTS=1 mapped "$work/s3" "$sacker" --ledger s3://bucket/ledger/ --store s3://bucket/blobs/ info app latest)
  grep -q 'sacker-wire\.so' <<<"$objects" || fail "a command on S3 did not map sacker-wire.so: $(cat "$work/s3.err")"
  grep -q 'libcurl' <<<"$objects" || fail "a command on S3 did not map libcurl"
  if grep -Eq 'libgit2|libzookeeper|libpq|sacker-(git|zk|postgres)' <<<"$objects"; then
    fail "a command on S3 mapped: $(grep -E 'libgit2|libzookeeper|libpq|sacker-(git|zk|postgres)' <<<"$objects" | tr '\n' ' ')"
  fi
  echo "backend_modules_test: a command on S3 maps sacker-wire.so and libcurl, not git, ZooKeeper or PostgreSQL (exit $(cat "$work/s3.rc"))"
fi

# 5. A copy of the command without its modules: the embedded default still works; a
#    module's scheme is exit 1 with the path it looked in.
mkdir -p "$work/bin"
cp "$sacker" "$work/bin/sacker"
"$work/bin/sacker" -q "${embedded[@]}" info app latest >/dev/null || fail "the embedded default needs a module"
expect_refusal() {  # WHAT PATTERN COMMAND...
  local what=$1 pattern=$2; shift 2
  set +e
  "$@" >"$work/refused.out" 2>"$work/refused.err"
  local rc=$?
  set -e
  [ "$rc" = 1 ] || fail "$what: exit $rc, expected 1 ($(cat "$work/refused.err"))"
  [ "$(wc -l <"$work/refused.err")" = 1 ] || fail "$what: not one line: $(cat "$work/refused.err")"
  grep -Eq "$pattern" "$work/refused.err" || fail "$what: '$(cat "$work/refused.err")' does not say /$pattern/"
  echo "backend_modules_test: $what: $(cat "$work/refused.err")"
}
family=wire scheme_args=(--ledger s3://bucket/ledger/)
if [ "$with_git" = 1 ]; then family=git scheme_args=(--ledger "git://$work/ledger.git"); fi
if [ "$with_git" = 1 ] || [ "$with_s3" = 1 ]; then
  expect_refusal "no module" "cannot load the $family backends: no module at .*$work/bin/modules/sacker-$family\.so" \
    "$work/bin/sacker" "${scheme_args[@]}" --store "file://$work/blobs" info app latest
  # 6. Not a shared object.
  mkdir -p "$work/bin/modules"
  echo "not an ELF file" >"$work/bin/modules/sacker-$family.so"
  expect_refusal "a broken module" "cannot load the $family backends from .*sacker-$family\.so: " \
    "$work/bin/sacker" "${scheme_args[@]}" --store "file://$work/blobs" info app latest
  # 7. Another build's module.
  cp "$foreign" "$work/bin/modules/sacker-$family.so"
  expect_refusal "a foreign module" "belongs to another build of sacker \(module 0\.0\.0\+another-build, this sacker " \
    "$work/bin/sacker" "${scheme_args[@]}" --store "file://$work/blobs" info app latest
fi
echo "backend_modules_test: passed"
