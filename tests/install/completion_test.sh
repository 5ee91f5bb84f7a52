#!/usr/bin/env bash
# The bash completion in a bash subprocess: it registers for sacker (complete -p),
# completes commands and options from the command table and package names and tags
# from the ledger, falls back to files, and is silent when the ledger is unusable.
#   completion_test.sh SACKER_BINARY COMPLETION_SCRIPT
set -euo pipefail
sacker=$1 script=$2
tmp=$(mktemp -d /tmp/sacker-completion-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "completion_test: $*" >&2; exit 1; }
mkdir -p "$tmp/bin" "$tmp/home"
ln -s "$sacker" "$tmp/bin/sacker"
export HOME=$tmp/home XDG_DATA_HOME='' SACKER_CONFIG='' SACKER_LEDGER='' SACKER_STORE=''
export PATH=$tmp/bin:$PATH

# complete WORD... : the candidates for the last word, sorted, one a line.
complete_words() {
  bash --norc --noprofile -c '
    source "$0"
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
    _sacker
    printf "%s\n" "${COMPREPLY[@]}" | sort' "$script" "$@"
}
expect() {  # expect "WANTED LINES" WORD...
  local want=$1; shift
  local got; got=$(complete_words "$@")
  [ "$got" = "$want" ] || fail "completing '$*': got [$got], wanted [$want]"
}

registered=$(bash --norc --noprofile -c 'source "$0"; complete -p sacker' "$script")
[ "$registered" = "complete -o default -F _sacker sacker" ] || fail "complete -p sacker: $registered"

# An empty HOME: commands from the table, and nothing created by completing.
expect $'download' sacker downl
expect $'tag\ntags' sacker tag
expect "$(sacker help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' | sort)" sacker ''
expect '' sacker download ''
[ ! -e "$HOME/.local/share/sacker" ] || fail "completing created the embedded default ledger"
expect $'--dry-run' sacker gc --dr
expect $'--json' sacker --js
expect $'--keep-last\n--keep-newer\n--keep-rollback' sacker prune --keep-
expect $'--verify-first' sacker --json download --verif

# Names from the ledger.
printf 'bytes\n' >"$tmp/a.jar"
sacker add frontend-server "$tmp/a.jar" --tag live >/dev/null
sacker add frontend-server "$tmp/a.jar" >/dev/null
sacker add backend "$tmp/a.jar" >/dev/null
expect $'backend\nfrontend-server' sacker versions ''
expect $'frontend-server' sacker download fr
expect $'1\n2\nlatest\nlive' sacker download frontend-server ''
expect $'latest\nlive' sacker info frontend-server l
expect $'live' sacker untag frontend-server li
expect $'1\n2' sacker tag frontend-server ''
expect '' sacker download frontend-server live ''
# Another ledger named on the line is the one completed from.
expect '' sacker --ledger "sqlite://$tmp/other.db" versions ''
[ ! -e "$tmp/other.db" ] || fail "completing created $tmp/other.db"

# Silent on errors: an unknown scheme, a broken config file.
out=$(SACKER_LEDGER=bogus://x sacker __complete 2 sacker versions '' 2>"$tmp/err"; echo "rc=$?")
[ "$out" = "rc=0" ] && [ ! -s "$tmp/err" ] || fail "__complete with a bad ledger: [$out] [$(cat "$tmp/err")]"
printf '{ nope' >"$tmp/bad.json"
out=$(SACKER_CONFIG=$tmp/bad.json sacker __complete 2 sacker versions '' 2>"$tmp/err"; echo "rc=$?")
[ "$out" = "rc=0" ] && [ ! -s "$tmp/err" ] || fail "__complete with a bad config: [$out] [$(cat "$tmp/err")]"
out=$(sacker __complete x 2>"$tmp/err"; echo "rc=$?")
[ "$out" = "rc=0" ] && [ ! -s "$tmp/err" ] || fail "__complete with bad arguments: [$out]"
# The hidden commands are not in the command list.
if sacker help | grep -q __; then fail "a hidden command shows in 'sacker help'"; fi
echo "completion_test: ok"
