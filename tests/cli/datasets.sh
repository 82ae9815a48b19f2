#!/usr/bin/env bash
# Issue 14 item 3: datasets are never mixed. gen refuses a folder that holds someone else's
# files or a killed run; --resume finishes a killed run to the same bytes as an
# uninterrupted one (and removes its orphan temporary files); two gen runs, or two train
# runs, on one output cannot both proceed; readers (train, dataset stats) take exactly the
# shards the manifest lists and check their checksums.
. "$(dirname "$0")/lib.sh"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
wait_for() { # FILE: up to 60 s
    for _ in $(seq 1 600); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1
}
export OMP_NUM_THREADS=1
G=(-n 600 --shard-size 10 --split train=0.8,val=0.2 --seed 5 --quiet)

# the reference: an uninterrupted run
"$I" gen "${G[@]}" -o "$T/ref" || bad "reference gen failed"

# someone's shard in the folder: refused, untouched
mkdir -p "$T/someone/train"
cp "$T/ref/train/shard-000000.safetensors" "$T/someone/train/"
sum=$(sha256sum < "$T/someone/train/shard-000000.safetensors")
expect_err gen-non-empty 1 "is not empty" -- "$I" gen "${G[@]}" -o "$T/someone"
[ "$(sha256sum < "$T/someone/train/shard-000000.safetensors")" = "$sum" ] && ok || bad "gen changed someone's shard"
expect_err gen-finished 1 "finished dataset" -- "$I" gen "${G[@]}" -o "$T/ref"

# killed mid-run, then resumed
"$I" gen "${G[@]}" -o "$T/k" & PIDS+=($!)
wait_for "$T/k/train/shard-000004.safetensors" || bad "the run to kill wrote no shards"
kill -9 "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null
[ -e "$T/k/manifest.json" ] && bad "the run finished before the kill (make it longer)"
touch "$T/k/train/shard-000099.safetensors.tmp.12345.0"   # what a kill mid-write leaves
expect_err gen-after-kill 1 "did not finish" -- "$I" gen "${G[@]}" -o "$T/k"
expect_err gen-resume-other 1 "other settings" -- "$I" gen "${G[@]}" --seed 6 -o "$T/k" --resume
if "$I" gen "${G[@]}" -o "$T/k" --resume 2>"$T/err"; then ok; else bad "gen --resume: $(cat "$T/err")"; fi
if diff -r "$T/ref" "$T/k" >"$T/diff"; then ok; else bad "resumed dataset differs from the uninterrupted one: $(head -5 "$T/diff")"; fi

# two gen runs on one folder
"$I" gen -n 100000 --quiet -o "$T/busy" & PIDS+=($!)
wait_for "$T/busy/.itracr-gen-run" || bad "the busy run did not start"
expect_err gen-concurrent 1 "in use by another itracr process" -- "$I" gen -n 10 --quiet -o "$T/busy" --resume
kill -9 "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null

# a shard the manifest does not list, and a listed shard replaced by another run's
cp -r "$T/ref" "$T/stale"
"$I" gen -n 40 --shard-size 10 --split train=1 --seed 9 --quiet -o "$T/other" || bad "gen other"
cp "$T/other/train/shard-000000.safetensors" "$T/stale/train/shard-000099.safetensors"
TINY=(--d-model 16 --layers 1 --heads 2 --batch 4 --eval-every 0 --seed 3)
expect_err train-stray-shard 1 "does not list this shard" -- "$I" train --data "$T/stale" -o "$T/m.safetensors" "${TINY[@]}" --steps 2
expect_err stats-stray-shard 1 "does not list this shard" -- "$I" dataset stats "$T/stale"
rm "$T/stale/train/shard-000099.safetensors"
cp "$T/other/train/shard-000001.safetensors" "$T/stale/train/shard-000001.safetensors"
expect_err train-swapped-shard 1 "manifest.json lists" -- "$I" train --data "$T/stale" -o "$T/m.safetensors" "${TINY[@]}" --steps 2
expect_err stats-swapped-shard 1 "manifest.json lists" -- "$I" dataset stats "$T/stale"
if "$I" dataset stats "$T/ref" >/dev/null 2>"$T/err"; then ok; else bad "stats of a good dataset: $(cat "$T/err")"; fi

# two train runs on one checkpoint
"$I" train --data "$T/ref" -o "$T/t.safetensors" "${TINY[@]}" --steps 100000 2>/dev/null & PIDS+=($!)
wait_for "$T/t.safetensors.train.json" || bad "the busy train did not start"
expect_err train-concurrent 1 "in use by another itracr process" -- "$I" train --data "$T/ref" -o "$T/t.safetensors" --resume --steps 5
kill -9 "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null

# item 9: --exclude of a missing folder, a seed past 2^64
expect_err gen-exclude-missing 1 "not a directory" -- "$I" gen -n 1 -o "$T/x1" --exclude "$T/nonexistent"
expect_err gen-seed-2-64 2 "bad --seed" -- "$I" gen -n 1 -o "$T/x2" --seed 18446744073709551616
finish
