#!/usr/bin/env bash
# itracr bert train / eval and decompile of an encoder: exit codes, the accuracy lines, the
# verdict, the refusals (bad options, bad files, a file that exists).
. "$(dirname "$0")/lib.sh"
cat > "$T/rev3.rasp" <<'RASP'
vocab {"a", "b", "c"}
max_seq_len 3
length = SelectorWidth(Select(tokens, tokens, TRUE))
opp = length - indices - 1
reverse = Aggregate(Select(indices, opp, EQ), tokens)
RASP
E="$T/enc.safetensors"
"$I" bert train --task "$T/rev3.rasp" -o "$E" --hidden 8 --heads 2 --layers 1 --steps 1500 \
    --batch 16 --quiet >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 0 ] && grep -q "sequence accuracy: 100.00% (39 of 39)" "$T/out" && ok ||
    bad "bert train: rc $rc: $(cat "$T/out" "$T/err")"
[ -s "$E" ] && ok || bad "bert train wrote no file"
# eval reads the task source stored in the file, or --task
"$I" bert eval "$E" >"$T/out" 2>&1 && grep -q "position accuracy: 100.00% (102 of 102)" "$T/out" &&
    grep -q "per position: 0: 100.00% 1: 100.00% 2: 100.00%" "$T/out" && ok || bad "bert eval: $(cat "$T/out")"
"$I" bert eval "$E" --task "$T/rev3.rasp" >/dev/null 2>&1 && ok || bad "bert eval --task"
# the same seed gives the same bytes
"$I" bert train --task "$T/rev3.rasp" -o "$T/enc2.safetensors" --hidden 8 --heads 2 --layers 1 \
    --steps 1500 --batch 16 --quiet >/dev/null 2>&1
cmp -s "$E" "$T/enc2.safetensors" && ok || bad "bert train is not deterministic"
# decompile reads the encoder through the adapter and prints an honest verdict
"$I" decompile "$E" --meta models/meta-small.safetensors --search 4 >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 0 ] && grep -q "^method: meta (a BERT encoder" "$T/err" &&
    grep -Eq "^verified: (function|none \((disagrees on [0-9]+ of 39 inputs|does not compile)\))" "$T/err" &&
    grep -q "^vocab" "$T/out" && ok || bad "decompile of an encoder: rc $rc: $(cat "$T/err")"
"$I" decompile "$E" --meta models/meta-small.safetensors --json >"$T/out" 2>/dev/null &&
    grep -q '"verified":"\(none\|function\)"' "$T/out" && ok || bad "decompile --json: $(cat "$T/out")"
expect_err "lift of an encoder" 1 "is a BERT encoder" -- "$I" decompile "$E" --method lift
# refusals
expect_err "existing output" 1 "exists" -- "$I" bert train --task "$T/rev3.rasp" -o "$E" --steps 1
"$I" bert train --task "$T/rev3.rasp" -o "$E" --steps 1 --force >/dev/null 2>&1 && ok || bad "--force"
expect_err "no task" 2 "missing --task" -- "$I" bert train -o "$T/x.safetensors"
expect_err "heads" 2 "not a multiple" -- "$I" bert train --task "$T/rev3.rasp" -o "$T/x.st" --hidden 10 --heads 4
expect_err "bad steps" 2 "--steps" -- "$I" bert train --task "$T/rev3.rasp" -o "$T/x.st" --steps -3
expect_err "bad action" 2 "unknown action" -- "$I" bert fly
expect_err "missing task file" 1 "no_such.rasp" -- "$I" bert train --task "$T/no_such.rasp" -o "$T/x.st"
printf 'vocab {1, 2}\nmax_seq_len 3\nx = numerical(Map(lambda x: x / 2, tokens))\n' > "$T/num.rasp"
expect_err "numerical task" 1 "numerical" -- "$I" bert train --task "$T/num.rasp" -o "$T/x.st"
head -c 300 "$E" > "$T/cut.safetensors"
expect_err "truncated encoder" 1 "cut.safetensors" -- "$I" bert eval "$T/cut.safetensors"
expect_err "text to bert eval" 1 "rev3.rasp" -- "$I" bert eval "$T/rev3.rasp"
"$I" compile "$T/rev3.rasp" -o "$T/model.safetensors" >/dev/null 2>&1
expect_err "compiled model to bert eval" 1 "word_embeddings" -- "$I" bert eval "$T/model.safetensors"
[ ! -e "$T/x.st" ] && ok || bad "a failed train left a file"
"$I" bert --help | grep -q "usage: itracr bert train" && ok || bad "bert --help"
"$I" bert train --help | grep -q "usage: itracr bert train" && ok || bad "bert train --help"
finish
