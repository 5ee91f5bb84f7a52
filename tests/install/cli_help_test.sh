#!/usr/bin/env bash
# The CLI for people: `sacker` alone shows a short usage with the commands and the
# canary workflow's examples; `sacker help CMD` shows the command's usage line and an
# example (both from the command table); a mistyped command suggests the nearest
# one, in one line, exit 2.
#   cli_help_test.sh SACKER_BINARY
set -euo pipefail
sacker=$1
tmp=$(mktemp -d /tmp/sacker-help-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export HOME=$tmp XDG_DATA_HOME='' SACKER_CONFIG='' SACKER_LEDGER='' SACKER_STORE=''
fail() { echo "cli_help_test: $*" >&2; exit 1; }

out=$("$sacker") || fail "sacker with no arguments exited $?"
grep -q '^Usage: sacker ' <<<"$out" || fail "no usage line: $out"
grep -q '^  download  ' <<<"$out" || fail "no command list: $out"
grep -q '^  doctor  ' <<<"$out" || fail "doctor missing from the command list: $out"
grep -q 'sacker add frontend-server build/frontend-server.jar' <<<"$out" || fail "no example: $out"
[ "$(wc -l <<<"$out")" -le 50 ] || fail "the usage is not short ($(wc -l <<<"$out") lines)"
[ ! -e "$tmp/.local/share/sacker" ] || fail "sacker with no arguments created the embedded ledger"

for cmd in download doctor tag; do
  out=$("$sacker" help "$cmd") || fail "sacker help $cmd exited $?"
  grep -q "^Usage: sacker $cmd" <<<"$out" || fail "help $cmd: no usage line: $out"
  grep -A1 '^Example:' <<<"$out" | grep -q "^  sacker .*$cmd" || fail "help $cmd: no example: $out"
done
grep -q -- '--read-only' <<<"$("$sacker" help doctor)" || fail "help doctor does not show --read-only"

suggest() {  # suggest TYPED WANTED [ARGS...]
  local typed=$1 wanted=$2 rc=0 err; shift 2
  err=$("$sacker" "$typed" "$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" = 2 ] || fail "'sacker $typed' exited $rc, wanted 2"
  [ "$(wc -l <<<"$err")" = 1 ] || fail "'sacker $typed': not one line: $err"
  grep -qF "did you mean $wanted?" <<<"$err" || fail "'sacker $typed': $err"
}
suggest downlaod download app 1
suggest docter doctor
suggest tgas tags app
suggest confg config
rc=0; err=$("$sacker" help downlod 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -qF "did you mean download?" <<<"$err" || fail "sacker help downlod: rc $rc: $err"
rc=0; err=$("$sacker" xyzzy 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -qF "unknown command 'xyzzy' ('sacker help' lists them)" <<<"$err" || fail "xyzzy: $err"
echo "cli_help_test: usage, help CMD and suggestions as expected"
