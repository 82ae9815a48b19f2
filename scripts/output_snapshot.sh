#!/bin/bash
# Byte-identity check for refactors: every output a fixed seed makes (gen shards in two
# settings, compile and compile --exact of every example, transform rotate/permute/scale,
# distill and compress, lift, decompile --search, eval with its HTML report and JSON).
#   scripts/output_snapshot.sh BIN DIR          writes the outputs of BIN into DIR
#   scripts/output_snapshot.sh --cmp DIR1 DIR2  compares two snapshots with cmp
# The comparison prints "timing-only: FILE" for files that differ only in wall times (elapsed
# seconds, per-sample milliseconds, samples per second), "DIFFER: FILE" for anything else,
# and exits 1 when anything differs. Run it on the old binary, then the new one.
set -u
cd "$(dirname "$0")/.." || exit 2
if [ "${1:-}" = --cmp ]; then
    A=$2; B=$3; bad=0
    norm() { sed -E -e 's/in [0-9.]+ ?s/in T s/g' -e 's/median [0-9.]+ ms/median T ms/' \
        -e 's/"median_ms": [0-9.]+/"median_ms": T/' -e 's/"seconds": [0-9.]+/"seconds": T/' \
        -e 's/"ms":[0-9.e+-]+/"ms":T/g' -e 's|evaluation time</th><td>[0-9.]+ s|evaluation time</th><td>T s|' \
        -e 's/\(([0-9]+) accepted\/s/(R accepted\/s/' -e 's/, [0-9.]+ s(;|$)/, T s\1/' -e 's/ in [0-9.]+ ms/ in T ms/g' "$1"; }
    diff <(cd "$A" && find . -type f | sort) <(cd "$B" && find . -type f | sort) || bad=1
    while read -r f; do
        [ -f "$B/$f" ] || continue
        cmp -s "$A/$f" "$B/$f" && continue
        if cmp -s <(norm "$A/$f") <(norm "$B/$f"); then echo "timing-only: $f"; else echo "DIFFER: $f"; bad=1; fi
    done < <(cd "$A" && find . -type f | sort)
    echo "files: $(cd "$A" && find . -type f | wc -l), differing: $bad"
    exit $bad
fi
I=$(realpath "${1:?usage: output_snapshot.sh BIN DIR | --cmp DIR1 DIR2}"); FINAL=${2:?output folder}
O=$(mktemp -d) # one working path for every run, so that paths printed in outputs agree
rc() { echo "$1 rc $2" >> "$O/rc.txt"; }
nice -n 5 "$I" gen -n 300 --seed 5 -o "$O/gen" > "$O/gen.out" 2>&1; rc gen $?
nice -n 5 "$I" gen -n 200 --seed 2 --setting general -o "$O/gen_general" > "$O/gen_general.out" 2>&1; rc gen_general $?
for f in examples/*.rasp; do
    b=$(basename "$f" .rasp)
    nice -n 5 "$I" compile "$f" -o "$O/$b.safetensors" > "$O/$b.compile.out" 2>&1; rc "compile $b" $?
    nice -n 5 "$I" compile "$f" --exact -o "$O/$b.exact.safetensors" > "$O/$b.exact.out" 2>&1; rc "compile --exact $b" $?
done
for b in reverse frac_prevs; do
    nice -n 5 "$I" transform "$O/$b.safetensors" --rotate --permute --scale --seed 3 -o "$O/$b.rot.safetensors" > "$O/$b.transform.out" 2>&1; rc "transform $b" $?
done
nice -n 5 "$I" transform "$O/frac_prevs.safetensors" --distill --steps 50 --seed 3 -o "$O/frac_prevs.distill.safetensors" > "$O/distill.out" 2>&1; rc distill $?
nice -n 5 "$I" transform "$O/reverse.safetensors" --compress 12 --steps 50 --seed 3 -o "$O/reverse.compress.safetensors" > "$O/compress.out" 2>&1; rc compress $?
for b in reverse length; do
    nice -n 5 "$I" lift "$O/$b.safetensors" -o "$O/$b.lifted.rasp" > "$O/$b.lift.out" 2>&1; rc "lift $b" $?
    nice -n 5 "$I" decompile "$O/$b.safetensors" --meta models/meta-small.safetensors --search 8 --seed 1 --json > "$O/$b.decompile.json" 2> "$O/$b.decompile.err"; rc "decompile $b" $?
done
nice -n 5 "$I" eval --data "$O/gen" --meta models/meta-small.safetensors --n 50 --split train --json "$O/m.json" -o "$O/r.html" --jobs 1 --seed 1 > "$O/eval.out" 2>&1; rc eval $?
sed -i "s|$O|OUT|g" "$O"/*.out "$O"/*.err "$O"/*.json "$O"/*.html
rm -rf "$FINAL"; mv "$O" "$FINAL"
