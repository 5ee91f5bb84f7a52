#!/usr/bin/env bash
# The zsh and fish completions for real: zsh's completion system (compinit) in an
# interactive `zsh -f` driven through zpty, Tab pressed on a typed line; fish's own
# `complete -C`. Both ask the binary (`sacker __complete`), as bash does
# (completion_test.sh), so commands, options, package names and tags come from
# the command table and the ledger.
#   shell_completion_test.sh SACKER_BINARY ZSH_COMPLETION_DIR FISH_COMPLETION_FILE
set -euo pipefail
sacker=$1 zsh_dir=$2 fish_file=$3
tmp=$(mktemp -d /tmp/sacker-shell-completion.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "shell_completion_test: $*" >&2; exit 1; }
command -v zsh >/dev/null || fail "zsh is missing (scripts/install-deps.sh)"
command -v fish >/dev/null || fail "fish is missing (scripts/install-deps.sh)"
mkdir -p "$tmp/bin" "$tmp/home"
ln -s "$sacker" "$tmp/bin/sacker"
export HOME=$tmp/home XDG_DATA_HOME='' SACKER_CONFIG='' SACKER_LEDGER='' SACKER_STORE=''
export XDG_CONFIG_HOME=$tmp/home/.config
export PATH=$tmp/bin:$PATH

printf 'bytes\n' >"$tmp/a.jar"
sacker add frontend-server "$tmp/a.jar" --tag live >/dev/null
sacker add frontend-server "$tmp/a.jar" >/dev/null
sacker add backend "$tmp/a.jar" >/dev/null

# --- zsh: type WORDS, press Tab, read back the line zle made of it.
zsh -n "$zsh_dir/_sacker" || fail "zsh -n $zsh_dir/_sacker"
zsh_tab() {  # zsh_tab TYPED -> the completed line
  ZDIR=$zsh_dir TYPED=$1 timeout 30 zsh -f -c '
    zmodload zsh/zpty
    zpty -b z "zsh -f -i"
    zpty -w z "PS1=\"> \"; unsetopt beep; fpath=(\$ZDIR \$fpath); autoload -Uz compinit; compinit -u -D"
    zpty -w z "print RE\"\"ADY"
    zpty -r z out "*READY*" || exit 3
    zpty -w -n z "$TYPED"$'\''\t'\''
    # Ctrl-A, then make the line print itself; END (typed as EN""D) ends the output.
    zpty -w z $'\''\C-aprint -r -- RESULT='\''
    zpty -w z "print EN\"\"D"
    zpty -r z out "*END*" || exit 4
    zpty -d z
    print -r -- "$out" | tr -d "\r" | sed -n "s/^RESULT=//p" | sed "s/ *$//"
  '
}
zsh_expect() {  # zsh_expect TYPED WANTED
  local got; got=$(zsh_tab "$1") || fail "zsh: driving '$1' failed"
  [ "$got" = "$2" ] || fail "zsh: Tab after '$1' gave [$got], wanted [$2]"
}
zsh_expect 'sacker downl' 'sacker download'
zsh_expect 'sacker doct' 'sacker doctor'
zsh_expect 'sacker gc --dr' 'sacker gc --dry-run'
zsh_expect 'sacker versions fro' 'sacker versions frontend-server'
zsh_expect 'sacker download frontend-server li' 'sacker download frontend-server live'
zsh_expect 'sacker untag backend li' 'sacker untag backend li'  # backend has no tag live

# --- fish: complete -C prints "candidate<TAB>description" lines.
fish_expect() {  # fish_expect LINE WANTED
  local got
  got=$(fish --no-config -c "source '$fish_file'; complete -C '$1'" | cut -f1 | sort) || fail "fish failed on '$1'"
  [ "$got" = "$2" ] || fail "fish: complete -C '$1' gave [$got], wanted [$2]"
}
fish_expect 'sacker dow' 'download'
fish_expect 'sacker tag' $'tag\ntags'
fish_expect 'sacker gc --dr' '--dry-run'
fish_expect 'sacker download ' $'backend\nfrontend-server'
fish_expect 'sacker download frontend-server ' $'1\n2\nlatest\nlive'
fish_expect 'sacker info frontend-server l' $'latest\nlive'
# No candidate of ours: file names (add <pkg> FILE).
mkdir "$tmp/files" && touch "$tmp/files/artifact.jar"
got=$(cd "$tmp/files" && fish --no-config -c "source '$fish_file'; complete -C 'sacker add backend art'" | cut -f1)
[ "$got" = "artifact.jar" ] || fail "fish: no file fallback for 'sacker add backend art': [$got]"
[ ! -e "$tmp/home/.local/share/sacker/blobs/none" ]
echo "shell_completion_test: zsh and fish complete from the command table and the ledger"
