#!/usr/bin/env bash
# `itracr eval --search` on a transformed dataset (gen --transform) searches against the
# weights the meta-model read: each sample's stock model transformed again with the sample's
# seed, checked to give the shard's weight tokens bit for bit. Before, the search was given
# the stock compiled program, so on a rotated dataset candidates could "verify by weights"
# against weights the decompiler never saw. A rotated model's weights never equal a compiled
# candidate's (the hash is not blind to a rotation), so verification by weights must be 0%
# there, while the same programs unrotated verify by weights.
. "$(dirname "$0")/lib.sh"
META=models/meta-small.safetensors
gen_small "$T/stock" 120 11
gen_small "$T/rot" 120 11 --transform rotate
run() { # DIR OUT
    "$I" eval --data "$1" --meta "$META" --search 8 --no-teacher --no-noise --no-classics \
        --jobs 2 >"$2" 2>"$T/eval.err" || bad "eval $1: $(head -c 600 "$T/eval.err")"
}
run "$T/stock" "$T/stock.out"
run "$T/rot" "$T/rot.out"
share() { sed -n 's/^verified@8: .*(weights \([0-9.]*\)%.*/\1/p' "$1"; }
ws=$(share "$T/stock.out"); wr=$(share "$T/rot.out")
[ -n "$ws" ] && awk -v x="$ws" 'BEGIN { exit !(x > 0) }' && ok \
    || bad "stock: weights share '$ws': $(grep '^verified@8' "$T/stock.out")"
[ "$wr" = "0.00" ] && ok || bad "rotated: weights share '$wr', want 0.00: $(grep '^verified@8' "$T/rot.out")"
grep -q '^evaluated [1-9][0-9]* test samples' "$T/rot.out" && ok \
    || bad "rotated: nothing evaluated: $(head -c 300 "$T/rot.out")"
# a manifest that names another transform than the shards were made with: the rebuilt
# weights differ from the tokens, and eval says so instead of searching the wrong model
sed 's/"transform":"rotate"/"transform":"distill"/' "$T/rot/manifest.json" >"$T/m.json" \
    && cp "$T/m.json" "$T/rot/manifest.json"
expect_err "mismatched transform" 1 "has other weight tokens than the shard" -- \
    "$I" eval --data "$T/rot" --meta "$META" --n 1 --search 2 --no-teacher --no-noise \
    --no-classics --jobs 1
finish
