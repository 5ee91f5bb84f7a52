#!/usr/bin/env bash
# sacker(1) as `man -l` renders it agrees with the binary's help: every command of
# `sacker help` has its section with the same usage line and every option that
# `sacker help CMD` lists; the global options, exit codes and environment variables too.
#   man_test.sh SACKER_BINARY MAN_PAGE(.1 or .1.gz)
set -euo pipefail
sacker=$1 page=$2
fail() { echo "man_test: $*" >&2; exit 1; }
command -v man >/dev/null || fail "man (man-db) is not installed"

rendered=$(MANWIDTH=250 MANPAGER=cat PAGER=cat man -l "$page" 2>/dev/null | col -bx)
[ -n "$rendered" ] || fail "man -l $page rendered nothing"
# The lines of one section or subsection: from its heading to the next heading of that depth.
section() { awk -v h="$1" -v d="$2" '
  $0 == h { on = 1; next }
  on && match($0, /^ *[^ ]/) && RLENGTH - 1 <= d && $0 !~ /^ *$/ { exit }
  on { print }' <<<"$rendered"; }
# Option names ("-o", "--output") on the option lines of a help text (indented, starting with -).
options_of() { grep -E '^ +-' | grep -oE -- '(^| |,)--?[A-Za-z][A-Za-z0-9-]*' | tr -d ' ,' | grep -vxE -- '-h|--help|--help-all|--version' || true; }

commands=$("$sacker" help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
[ "$(wc -l <<<"$commands")" -ge 10 ] || fail "'sacker help' lists too few commands: $commands"
for c in $commands; do
  body=$(section "   $c" 3)
  [ -n "$body" ] || fail "no section for command '$c'"
  usage=$("$sacker" help "$c" | sed -n 's/^Usage: //p' | head -1)
  grep -qxF "       Usage: $usage" <<<"$body" || fail "$c: usage '$usage' not in its section"
  for o in $("$sacker" help "$c" | sed '/^Example:/,$d' | options_of); do
    grep -qE -- "(^|[ ,])$o([ ,]|$)" <<<"$body" || fail "$c: option $o is not in its section"
  done
done
globals=$(section "GLOBAL OPTIONS" 0)
for o in $("$sacker" --help | sed '/^Subcommands:/,$d' | options_of); do
  grep -qE -- "(^|[ ,])$o([ ,]|$)" <<<"$globals" || fail "global option $o is not in GLOBAL OPTIONS"
done
exits=$(section "EXIT STATUS" 0)
codes=$("$sacker" --help | sed -n 's/^Exit codes: //p' | tr -d '.' | tr ',' '\n' | sed 's/^ *//')
[ "$(wc -l <<<"$codes")" -eq 10 ] || fail "the help's exit codes: $codes"
while read -r code meaning; do
  # A short .TP tag shares its line with the text; a long one has the text below.
  awk -v c="$code" -v m="$meaning" '$1 == c { rest = $0; sub(/^ *[^ ]+ */, "", rest); if (rest == "") { getline; rest = $0; sub(/^ +/, "", rest) }
                                              if (rest == m) found = 1 } END { exit !found }' \
    <<<"$exits" || fail "exit code $code ($meaning) is not in EXIT STATUS"
done <<<"$codes"
env_section=$(section "ENVIRONMENT" 0)
for v in SACKER_LEDGER SACKER_STORE SACKER_CONFIG SACKER_ACTOR XDG_DATA_HOME AWS_PROFILE; do
  grep -q "$v" <<<"$env_section" || fail "$v is not in ENVIRONMENT"
done
grep -q '\.sacker\.json' <<<"$(section FILES 0)" || fail "the config file .sacker.json is not in FILES"
echo "man_test: ok ($(wc -w <<<"$commands") commands)"
