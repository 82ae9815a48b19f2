#!/usr/bin/env bash
# Hostile-input campaign (issue 14): runs itracr the way a careless or hostile user would and
# counts crashes, hangs, data lost and silently wrong answers. Meant for the sanitizer build:
#   make MODE=san && ITRACR=build/san/itracr scripts/hostile_inputs.sh
# Every case has an expected outcome:
#   refuse  exit 1 or 2, and the file the command was pointed at is unchanged;
#   ok      exit 0;
#   agree   `run` on the program and `forward` on its compiled model accept or refuse alike;
#   same    exit non-zero, or exit 0 with the output of the undamaged file.
# A crash is an exit by signal or a sanitizer report; a hang is 60 s without an exit; data lost
# is a refused case whose target changed; a silent wrong answer is any other case whose
# outcome is not the expected one with exit 0. The totals go to the last lines.
set -u
I=$(realpath "${ITRACR:?path to itracr}")
REPO=$(pwd)
T=$(mktemp -d)
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1
total=0; crashes=0; hangs=0; lost=0; wrong=0; other=0
note() { echo "  $*" >&2; }

state() { # a fingerprint of what is at $1 (content for files, type for the rest)
    if [ -L "$1" ]; then echo "link $(readlink "$1") $(state "$(readlink -f "$1")" 2>/dev/null)"
    elif [ -f "$1" ]; then sha256sum < "$1"
    elif [ -e "$1" ]; then stat -c '%F %t %T' "$1"
    else echo missing; fi
}
# runs CMD... under a 60 s limit; sets rc, puts stdout in $T/out and stderr in $T/err
run_case() {
    timeout 60 "$@" >"$T/out" 2>"$T/err" </dev/null; rc=$?
    total=$((total+1))
    if [ $rc = 124 ]; then hangs=$((hangs+1)); note "HANG: $*"; return 1; fi
    if [ $rc -ge 128 ] || grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/err"; then
        crashes=$((crashes+1)); note "CRASH ($rc): $* :: $(head -c 300 "$T/err")"; return 1
    fi
    return 0
}
expect_refuse() { # TARGET -- CMD...
    local target=$1; shift 2
    local before; before=$(state "$target")
    run_case "$@" || return
    local after; after=$(state "$target")
    if [ "$before" != "$after" ]; then lost=$((lost+1)); note "DATA LOST ($rc): $target by $*"; return; fi
    if [ $rc = 0 ]; then wrong=$((wrong+1)); note "ACCEPTED: $*"; return; fi
    [ $rc = 1 ] || [ $rc = 2 ] || { other=$((other+1)); note "exit $rc: $*"; }
}
expect_ok() { # -- CMD...
    shift
    run_case "$@" || return
    [ $rc = 0 ] || { other=$((other+1)); note "FAILED ($rc): $* :: $(head -c 200 "$T/err")"; }
}

# ---- fixtures ----------------------------------------------------------------------------
cd "$T"
cp "$REPO"/examples/*.rasp .
"$I" compile reverse.rasp -o model.safetensors >/dev/null 2>&1
"$I" gen -n 40 -o data --quiet --split train=0.8,val=0.2 --seed 3
"$I" train --data data -o meta.safetensors --d-model 16 --layers 1 --heads 2 --batch 4 --steps 3 --eval-every 0 2>/dev/null
printf '{"step":1,"loss":2.0}\n{"step":2,"loss":1.5}\n' > log.jsonl
"$I" report --log log.jsonl -o curves.svg 2>/dev/null
printf 'some notes\n' > notes.txt
SHARD=data/train/shard-000000.safetensors
[ -f model.safetensors ] && [ -f meta.safetensors ] && [ -f "$SHARD" ] && [ -f curves.svg ] || { echo "fixtures failed" >&2; exit 1; }
CHARDEV=0; mknod chardev c 1 3 2>/dev/null && CHARDEV=1

# ---- 1. output paths ---------------------------------------------------------------------
# make_target KIND NAME: creates the hostile target NAME of KIND fresh
make_target() {
    [ $1 = input ] && return
    rm -rf "$2" "$2.to"
    case $1 in
        input) ;;                                       # the command's own input: NAME is it
        rasp) cp reverse.rasp "$2" ;;
        txt) cp notes.txt "$2" ;;
        empty) : > "$2" ;;
        shard) cp "$SHARD" "$2" ;;
        model) cp model.safetensors "$2" ;;
        meta) cp meta.safetensors "$2" ;;
        svg) cp curves.svg "$2" ;;
        dir) mkdir "$2" ;;
        fifo) mkfifo "$2" ;;
        link_txt) cp notes.txt "$2.to"; ln -s "$2.to" "$2" ;;
        link_shard) cp "$SHARD" "$2.to"; ln -s "$2.to" "$2" ;;
        link_dangling) ln -s "$2.to" "$2" ;;
        link_loop) ln -s "$2" "$2" ;;
        missing_dir) ;;
        new) ;;
    esac
}
KINDS="rasp txt empty shard model meta svg dir fifo link_txt link_shard link_dangling link_loop missing_dir new"
# writer NAME: the command writing to $out (inputs are fixed files); what it may replace
out_cmd() { # WRITER OUT FORCE -> sets CMD
    local f=(); [ "$3" = 1 ] && f=(--force)
    case $1 in
        compile) CMD=("$I" compile reverse.rasp -o "$2" "${f[@]}") ;;
        demo) CMD=("$I" demo -o "$2" "${f[@]}") ;;
        report) CMD=("$I" report --log log.jsonl -o "$2") ;;
        train) CMD=("$I" train --data data -o "$2" --d-model 16 --layers 1 --heads 2 --batch 4 --steps 2 --eval-every 0 "${f[@]}") ;;
        trainlog) CMD=("$I" train --data data -o "fresh$RANDOM.safetensors" --d-model 16 --layers 1 --heads 2 --batch 4 --steps 2 --eval-every 0 --log "$2") ;;
    esac
}
allowed() { # WRITER KIND FORCE: 0 when the write should succeed
    case $2 in new|link_dangling) return 0 ;; esac
    case $1:$2:$3 in
        compile:model:1|demo:model:1|train:meta:1|report:svg:*|report:empty:*|trainlog:empty:*) return 0 ;;
    esac
    return 1
}
for w in compile demo report train trainlog; do
    for k in $KINDS input; do
        for force in 0 1; do
            out="o_${w}_${k}_$force"
            [ $k = missing_dir ] && out="nodir/$out"
            if [ $k = input ]; then
                case $w in compile) out=reverse.rasp ;; report) out=log.jsonl ;; *) continue ;; esac
            fi
            make_target $k "$out"
            out_cmd $w "$out" $force
            if allowed $w $k $force; then expect_ok -- "${CMD[@]}"; else expect_refuse "$out" -- "${CMD[@]}"; fi
        done
    done
    if [ $CHARDEV = 1 ]; then out_cmd $w chardev 1; expect_refuse chardev -- "${CMD[@]}"; fi
done
# hard link to the input
ln reverse.rasp hard.rasp
expect_refuse reverse.rasp -- "$I" compile reverse.rasp -o hard.rasp --force
# '-' is standard output
for w in compile report; do out_cmd $w - 0; expect_ok -- "${CMD[@]}"; done
[ -e ./- ] && { lost=$((lost+1)); note "a file named '-' was written"; }

# ---- 2. run and forward accept the same inputs -------------------------------------------
INPUTS=("" "a" "BOS" "compiler_bos" "compiler_pad" "99999999999999999999999" "-1" "1.5" "nan" "inf"
        "True" "None" "é" "'a'" "\"a\"" "a,b" "0x10" "1e3" "01" "1 2 3 4 5 6 7 8 9 10 11 12" "0" "1" "2 1")
for f in "$REPO"/examples/*.rasp; do
    n=$(basename "$f" .rasp)
    "$I" compile "$f" -o "m_$n.safetensors" >/dev/null 2>&1 || continue
    for x in "${INPUTS[@]}"; do
        run_case "$I" run "$f" --input "$x" || continue
        r1=$rc
        run_case "$I" forward "m_$n.safetensors" --input "$x" || continue
        r2=$rc
        if [ $((r1 == 0)) != $((r2 == 0)) ]; then wrong=$((wrong+1)); note "DISAGREE $n '$x': run $r1, forward $r2"; fi
    done
done

# ---- 3. bit flips in a model file and in a shard ------------------------------------------
flip() { # FILE OFFSET BIT -> FILE.flip
    cp "$1" "$1.flip"
    local b; b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $(( b ^ (1 << $3) )))" | dd of="$1.flip" bs=1 seek="$2" conv=notrunc status=none
}
want=$("$I" forward m_sort.safetensors --input "3 1 2")
size=$(stat -c %s m_sort.safetensors)
RANDOM=7
for _ in $(seq 1 150); do
    off=$(( (RANDOM * 32768 + RANDOM) % size )); bit=$((RANDOM % 8))
    flip m_sort.safetensors $off $bit
    run_case "$I" forward m_sort.safetensors.flip --input "3 1 2" || continue
    if [ $rc = 0 ] && [ "$(cat "$T/out")" != "$want" ]; then wrong=$((wrong+1)); note "SILENT: model flip at $off bit $bit gives $(cat "$T/out")"; fi
done
"$I" dataset stats data > stats.want 2>/dev/null
size=$(stat -c %s "$SHARD")
for _ in $(seq 1 60); do
    off=$(( (RANDOM * 32768 + RANDOM) % size )); bit=$((RANDOM % 8))
    flip "$SHARD" $off $bit
    cp "$SHARD" shard.orig; cp "$SHARD.flip" "$SHARD"
    run_case "$I" dataset stats data
    if [ $rc = 0 ] && ! cmp -s "$T/out" stats.want; then wrong=$((wrong+1)); note "SILENT: shard flip at $off bit $bit"; fi
    cp shard.orig "$SHARD"
done

# ---- 4. programs that ask for unbounded work ---------------------------------------------
for L in 0 -1 4096 4097 2147483647 9223372036854775807 99999999999999999999 1000000000; do
    printf 'vocab {1, 2, 3}\nmax_seq_len %s\nx = SelectorWidth(Select(tokens, tokens, EQ))\ny = SequenceMap(lambda a, b: a + b, x, indices)\n' "$L" > big.rasp
    for c in check compile run demo; do
        case $c in compile) a=(big.rasp -o big.safetensors --force) ;; run) a=(big.rasp --input "1 2") ;; demo) a=(--program big.rasp) ;; *) a=(big.rasp) ;; esac
        run_case "$I" $c "${a[@]}"
    done
done
for L in 0 4097 2147483647 99999999999999999999; do
    run_case "$I" check sort.rasp --max-seq-len $L
    run_case "$I" compile sort.rasp --max-seq-len $L -o big.safetensors --force
done
{ printf 'vocab {'; seq -s, 1 200000; printf '}\nmax_seq_len 4\nx = Map(lambda v: v + 1, tokens)\n'; } > bigvocab.rasp
{ printf 'vocab {1, 2}\nmax_seq_len 4\ns0 = Map(lambda v: v + 1, tokens)\n'; seq 1 200000 | awk '{printf "s%d = Map(lambda v: v, s%d)\n", $1, $1-1}'; } > bigstmts.rasp
expect_ok -- "$I" check bigvocab.rasp
expect_ok -- "$I" check bigstmts.rasp

# ---- 5. datasets, training, full disks, numbers out of range -----------------------------
mkdir -p theirs/train && cp "$SHARD" theirs/train/
expect_refuse theirs/train/shard-000000.safetensors -- "$I" gen -n 5 -o theirs --quiet
expect_refuse data/manifest.json -- "$I" gen -n 5 -o data --quiet
cp "$SHARD" data/train/shard-000077.safetensors
expect_refuse meta.safetensors -- "$I" train --data data -o meta.safetensors --resume --steps 5
run_case "$I" dataset stats data; [ $rc = 0 ] && { wrong=$((wrong+1)); note "stats accepted a stray shard"; }
rm data/train/shard-000077.safetensors
expect_refuse meta.safetensors -- "$I" train --data data -o meta.safetensors --resume --lr 0.5
expect_refuse meta.safetensors -- "$I" train --data theirs -o meta.safetensors --resume
expect_refuse x -- "$I" gen -n 1 -o x --seed 18446744073709551616
expect_refuse x -- "$I" gen -n 1 -o x --exclude /nonexistent
expect_refuse x -- "$I" gen -n 1 -o x --max-seq-len 64
if [ -w /dev/full ]; then
    for c in "run reverse.rasp --input a" "forward model.safetensors --input a" "info model.safetensors" "fmt reverse.rasp" "check reverse.rasp" "report --log log.jsonl -o -" "compile reverse.rasp -o -"; do
        # shellcheck disable=SC2086
        timeout 60 "$I" $c >/dev/full 2>"$T/err" </dev/null; rc=$?
        total=$((total+1))
        if [ $rc -ge 124 ] || grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/err"; then crashes=$((crashes+1)); note "CRASH/HANG ($rc): $c > /dev/full"
        elif [ $rc = 0 ]; then wrong=$((wrong+1)); note "exit 0 with stdout on a full disk: $c"; fi
    done
fi

echo "cases: $total"
echo "crashes: $crashes  hangs: $hangs  data lost: $lost  silently wrong: $wrong  other unexpected: $other"
[ $((crashes + hangs + lost + wrong + other)) -eq 0 ]
