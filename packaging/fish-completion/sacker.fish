# fish completion for sacker. As for bash (packaging/bash-completion/sacker), the
# candidates come from the binary itself: `sacker __complete CWORD WORDS...` gives
# commands and options from its command table and package names and tags from the
# configured ledger, so they cannot drift from it. No candidate: file names.
function __sacker_complete
    set -l words (commandline -opc)
    set -l current (commandline -ct)
    $words[1] __complete (count $words) $words $current 2>/dev/null
end
complete -c sacker -f -a '(__sacker_complete)'
complete -c sacker -n 'test -z "$(__sacker_complete)"' -F
