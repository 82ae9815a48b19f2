#!/usr/bin/env bash
# `itracr dataset show`: one sample of a generated dataset, its true program, and the model its
# weight tokens were read from (rebuilt as eval rebuilds it: compiled in the sample's setting,
# transformed again with the sample's seed on a `gen --transform` dataset). The references are
# independent: the printed program compiled by `itracr compile` must compute what the written
# model computes, and a stock sample's model must be Tracr's own (lift verifies it by weights).
. "$(dirname "$0")/lib.sh"
gen_small "$T/stock" 40 11
gen_small "$T/rot" 40 11 --transform rotate
gen_small "$T/gen" 40 11 --setting general
prog() { sed -n '/^program:$/,/^model:/p' "$1" | sed '1d;/^model:/d'; } # the program's lines
same_outputs() { # A B (models) INPUT...: the same forward outputs on every input
    local a=$1 b=$2; shift 2
    for x in "$@"; do
        [ "$("$I" forward "$a" --input "$x" 2>&1)" = "$("$I" forward "$b" --input "$x" 2>&1)" ] || return 1
    done
}
for k in 0 3; do
    "$I" dataset show "$T/stock" --index $k -o "$T/s$k.safetensors" >"$T/s$k.txt" 2>"$T/err" \
        || bad "show stock $k: $(cat "$T/err")"
    prog "$T/s$k.txt" >"$T/s$k.rasp"
    "$I" compile "$T/s$k.rasp" -o "$T/c$k.safetensors" >/dev/null 2>&1 || bad "compile shown program $k"
    same_outputs "$T/s$k.safetensors" "$T/c$k.safetensors" "0 1 2 3 4" "4 4 1" "2" "3 0 3 0 1" && ok \
        || bad "stock $k: the written model and the printed program differ"
    "$I" decompile "$T/s$k.safetensors" --method lift >/dev/null 2>"$T/err" && grep -q "^verified: weights" "$T/err" \
        && ok || bad "stock $k: lift does not verify the written model: $(cat "$T/err")"
done
grep -q "^setting: vocab {0, 1, 2, 3, 4}, max_seq_len 5, non-causal$" "$T/s0.txt" && grep -q "^transform: none$" "$T/s0.txt" \
    && ok || bad "stock header: $(head -6 "$T/s0.txt")"
# rotated: the written model is the rotated one (the model says its transform), and it still
# computes the printed program (on full-length inputs: this program's selectors then always
# match, so no output is a tie that float rounding could break either way)
"$I" dataset show "$T/rot" --index 1 -o "$T/r1.safetensors" >"$T/r1.txt" 2>"$T/err" || bad "show rot: $(cat "$T/err")"
grep -q "^transform: rotate$" "$T/r1.txt" && ok || bad "rot header: $(head -6 "$T/r1.txt")"
"$I" info "$T/r1.safetensors" --json | grep -q '"transform":.*rotate(' && ok || bad "rot: the model is not rotated"
prog "$T/r1.txt" >"$T/r1.rasp"
"$I" compile "$T/r1.rasp" -o "$T/rc1.safetensors" >/dev/null 2>&1 || bad "compile shown rotated program"
same_outputs "$T/r1.safetensors" "$T/rc1.safetensors" "0 1 2 3 4" "4 4 1 0 2" "3 0 3 0 1" && ok \
    || bad "rot: the written model and the printed program differ"
# a drawn setting: the JSON says it, and the program's own header agrees
j=$("$I" dataset show "$T/gen" --split train --index 2 --json) || bad "show general --json"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); s=d["setting"]
assert d["index"] == 2 and d["split"] == "train" and d["model"] is None and d["weight_tokens"] > 0
assert ("max_seq_len %d" % s["max_seq_len"]) in d["program"] and isinstance(s["causal"], bool)
assert len(s["vocab"]) >= 2' "$j" && ok || bad "general --json: $j"
# errors: no index (usage), out of range, not a dataset, an existing model without --force
expect_err no-index 2 "missing --index" -- "$I" dataset show "$T/stock"
expect_err range 1 "index 0.." -- "$I" dataset show "$T/stock" --index 999
expect_err not-dataset 1 "not a dataset" -- "$I" dataset show "$T" --index 0
expect_err exists 1 "pass --force" -- "$I" dataset show "$T/stock" --index 0 -o "$T/s0.safetensors"
"$I" dataset show "$T/stock" --index 3 -o "$T/s0.safetensors" --force >/dev/null 2>&1 \
    && same_outputs "$T/s0.safetensors" "$T/s3.safetensors" "0 1 2 3 4" "4 4 1" && ok || bad "--force"
finish
