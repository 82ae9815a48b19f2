#!/usr/bin/env bash
# Issue 14 items 1-2: no command destroys a file it was not asked to replace. Inputs, dataset
# shards, foreign files, devices and FIFOs are refused; an existing model needs --force (train:
# or --resume); a symlink is written through to its target; '-' is standard output.
. "$(dirname "$0")/lib.sh"
# refused NAME FILE STDERR_SUBSTRING -- CMD...: exit 1, the message, FILE unchanged
refused() {
    local name=$1 file=$2 want=$3; shift 4
    local before after
    state() { if [ -f "$1" ] && [ ! -L "$1" ]; then sha256sum < "$1"; else stat -c '%F %i %t %T' "$1" 2>/dev/null || echo gone; fi; }
    before=$(state "$file")
    "$@" >"$T/out" 2>"$T/err"; local rc=$?
    after=$(state "$file")
    if [ "$rc" != 1 ]; then bad "$name: exit $rc, want 1"; return; fi
    if ! grep -qF -- "$want" "$T/err"; then bad "$name: stderr '$(head -c 300 "$T/err")' lacks '$want'"; return; fi
    if [ "$before" != "$after" ]; then bad "$name: $file was changed"; return; fi
    ok
}
export OMP_NUM_THREADS=1
E=examples
cp $E/reverse.rasp "$T/p.rasp"
refused compile-over-source "$T/p.rasp" "is also an input" -- "$I" compile "$T/p.rasp" -o "$T/p.rasp"
refused compile-over-source-force "$T/p.rasp" "is also an input" -- "$I" compile "$T/p.rasp" -o "$T/p.rasp" --force
printf 'hello\n' > "$T/notes.txt"
refused compile-over-foreign "$T/notes.txt" "not an itracr model file" -- "$I" compile "$T/p.rasp" -o "$T/notes.txt" --force
"$I" compile "$T/p.rasp" -o "$T/m.safetensors" >/dev/null 2>&1 && ok || bad "first compile failed"
refused compile-existing "$T/m.safetensors" "pass --force" -- "$I" compile $E/sort.rasp -o "$T/m.safetensors"
if "$I" compile $E/sort.rasp -o "$T/m.safetensors" --force >/dev/null 2>&1 &&
   [ "$("$I" forward "$T/m.safetensors" --input "3 1 2")" = "1 2 3" ]; then ok; else bad "compile --force did not replace the model"; fi

refused demo-over-source "$T/p.rasp" "is also an input" -- "$I" demo --program "$T/p.rasp" -o "$T/p.rasp" --force
refused demo-existing "$T/m.safetensors" "pass --force" -- "$I" demo -o "$T/m.safetensors"

# '-' is standard output, and what it writes is the same model
if (cd "$T" && "$I" compile p.rasp -o - > stdout.safetensors 2>err) && [ ! -e "$T/-" ] &&
   [ "$("$I" forward "$T/stdout.safetensors" --input "a b c")" = "c b a" ]; then ok; else bad "compile -o - did not write the model to stdout"; fi

# symlinks: the target gets the content, the link stays a link
mkdir "$T/real"
ln -s real/linked.safetensors "$T/link.safetensors"
if "$I" compile "$T/p.rasp" -o "$T/link.safetensors" >/dev/null 2>&1 && [ -L "$T/link.safetensors" ] &&
   [ -f "$T/real/linked.safetensors" ]; then ok; else bad "compile through a dangling symlink"; fi
if "$I" compile $E/sort.rasp -o "$T/link.safetensors" --force >/dev/null 2>&1 && [ -L "$T/link.safetensors" ] &&
   [ "$("$I" forward "$T/real/linked.safetensors" --input "3 1 2")" = "1 2 3" ]; then ok; else bad "compile --force through a symlink"; fi

# devices and FIFOs are never replaced (/dev/null is a device every system has)
refused compile-dev-null /dev/null "device, FIFO or socket" -- "$I" compile "$T/p.rasp" -o /dev/null --force
[ -c /dev/null ] && ok || bad "/dev/null is no longer a device"
mkfifo "$T/fifo"
refused compile-fifo "$T/fifo" "device, FIFO or socket" -- "$I" compile "$T/p.rasp" -o "$T/fifo" --force
[ -p "$T/fifo" ] && ok || bad "the FIFO was replaced"

# report: the log is an input
printf '{"step":1,"loss":2.0}\n{"step":2,"loss":1.5}\n' > "$T/log.jsonl"
refused report-over-log "$T/log.jsonl" "is also an input" -- "$I" report --log "$T/log.jsonl" -o "$T/log.jsonl"
refused report-over-source "$T/p.rasp" "not a SVG itracr wrote" -- "$I" report --log "$T/log.jsonl" -o "$T/p.rasp"
"$I" report --log "$T/log.jsonl" -o "$T/c.svg" 2>/dev/null && "$I" report --log "$T/log.jsonl" -o "$T/c.svg" 2>/dev/null && ok || bad "report could not rewrite its own SVG"
out=$("$I" report --log "$T/log.jsonl" -o - 2>/dev/null | head -c 5)
[ "$out" = "<?xml" ] && ok || bad "report -o - wrote '$out'"

# train: an existing checkpoint, a dataset shard, a compiled model
"$I" gen -n 20 -o "$T/d" --quiet --split train=1 || bad "gen failed"
TINY=(--d-model 16 --layers 1 --heads 2 --batch 4 --steps 2 --eval-every 0 --seed 3)
shard="$T/d/train/shard-000000.safetensors"
refused train-over-shard "$shard" "a dataset shard" -- "$I" train --data "$T/d" -o "$shard" "${TINY[@]}"
refused train-over-shard-force "$shard" "a dataset shard" -- "$I" train --data "$T/d" -o "$shard" "${TINY[@]}" --force
refused train-over-compiled "$T/m.safetensors" "not a checkpoint" -- "$I" train --data "$T/d" -o "$T/m.safetensors" "${TINY[@]}" --force
"$I" train --data "$T/d" -o "$T/meta.safetensors" "${TINY[@]}" 2>"$T/err" && ok || bad "train: $(tail -2 "$T/err")"
refused train-existing "$T/meta.safetensors" "pass --force" -- "$I" train --data "$T/d" -o "$T/meta.safetensors" "${TINY[@]}"
[ -s "$T/meta.safetensors.log.jsonl" ] && ok || bad "the refused run emptied the log"
"$I" train --data "$T/d" -o "$T/meta.safetensors" "${TINY[@]}" --force 2>/dev/null && ok || bad "train --force"
"$I" train --data "$T/d" -o "$T/meta.safetensors" --resume --steps 4 2>/dev/null && ok || bad "train --resume"
refused train-log-over-source "$T/p.rasp" "not a training log" -- "$I" train --data "$T/d" -o "$T/meta2.safetensors" "${TINY[@]}" --log "$T/p.rasp"

# issue 14 item 9: a resumed run cannot silently ignore a changed setting or dataset
refused resume-lr "$T/meta.safetensors" "--lr cannot change" -- "$I" train --data "$T/d" -o "$T/meta.safetensors" --resume --lr 0.1 --steps 6
"$I" gen -n 20 -o "$T/d2" --quiet --split train=1 --seed 9 || bad "gen d2 failed"
refused resume-other-data "$T/meta.safetensors" "would mix datasets" -- "$I" train --data "$T/d2" -o "$T/meta.safetensors" --resume --steps 6
# issue 14 item 5: a garbage training config is an error wherever it is read
printf 'garbage\n' > "$T/meta.safetensors.train.json"
refused decompile-garbage-config "$T/meta.safetensors" "not a training config" -- "$I" decompile "$T/m.safetensors" --meta "$T/meta.safetensors"
refused resume-garbage-config "$T/meta.safetensors" "not a training config" -- "$I" train --data "$T/d" -o "$T/meta.safetensors" --resume --steps 6
finish
