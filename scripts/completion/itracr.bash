# bash completion for itracr. Installed by `make install` into
# $(PREFIX)/share/bash-completion/completions/itracr; or `source` it by hand.
# Commands and options are read from `itracr --help` and `itracr COMMAND --help`, so the
# completion follows the binary that is on PATH.
_itracr() {
    local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        local cmds
        cmds=$(itracr --help 2>/dev/null | awk '/^commands:/{on=1; next} on && NF {print $1}')
        COMPREPLY=($(compgen -W "$cmds --help --version" -- "$cur"))
        return
    fi
    if [[ $cur == -* ]]; then
        local opts
        opts=$(itracr "$cmd" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
        COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _itracr itracr
