# Shared by the training recipes (scripts/train-meta.sh, scripts/train-general.sh); sourced
# after they set I (the itracr binary), D (the recipe's folder) and RECIPE (its name, for
# messages and --help). Every step is resumable: a dataset is made once, a piece of a
# schedule is marked done only when train says so.

say() { echo "[$RECIPE $(date -u +%H:%M:%S)] $*" >&2; }

# INSTALL=1 for --install; --help prints the script's header comment (lines 2..HELP_END).
recipe_args() {
    INSTALL=0
    for a in "$@"; do
        case "$a" in
        --install) INSTALL=1 ;;
        -h | --help) sed -n "2,${HELP_END}p" "$0"; exit 0 ;;
        *) echo "$RECIPE.sh: unknown argument '$a' (see --help)" >&2; exit 2 ;;
        esac
    done
}

gen() { # DIR SEED N [more itracr gen flags]
    if [ -f "$1/manifest.json" ]; then return; fi
    rm -rf "$1" # a generation killed half-way: start it again (gen refuses mixed shards)
    say "generating $1 (seed $2, $3 samples)"
    local dir=$1 seed=$2 n=$3
    shift 3
    "$I" gen -n "$n" --seed "$seed" -o "$dir" --jobs 2 --quiet "$@"
}

# One piece of a schedule: NAME LOG -- train arguments. Done when train printed "done:" (an
# interrupted train checkpoints and exits 0 too, so the exit status alone does not tell).
piece() {
    local name=$1 log=$2
    shift 2
    [ -f "$D/$name.done" ] && return
    say "$name: itracr train $*"
    "$I" train "$@" 2>&1 | tee "$log" || true
    grep -q '^done:' "$log" || { say "$name did not finish (see $log); rerun to resume"; exit 1; }
    touch "$D/$name.done"
}

# The first piece of a run: NAME OUT STOP -- the new run's train arguments (without -o and
# --stop-at). When OUT exists (a kill after its first checkpoint), it resumes instead.
first_piece() {
    local name=$1 out=$2 stop=$3
    shift 3
    if [ -f "$out" ]; then
        piece "$name" "$D/$name.err" -o "$out" --resume --stop-at "$stop"
    else
        piece "$name" "$D/$name.err" "$@" -o "$out" --stop-at "$stop"
    fi
}
