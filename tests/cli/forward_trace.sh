#!/usr/bin/env bash
# itracr forward --trace / --trace-html: the JSON has one residual per stage (embeddings, then
# every attention and MLP sublayer) labelled by the residual directions, one pattern per head
# whose rows sum to 1, and decodes to what forward prints; the page embeds it; both go
# through the output guard.
. "$(dirname "$0")/lib.sh"
for n in sort reverse frac_prevs; do
    "$I" compile examples/$n.rasp -o "$T/$n.safetensors" >/dev/null 2>&1 || { bad "compile $n"; continue; }
    case $n in sort) in="3 1 2" ;; reverse) in="a b c" ;; frac_prevs) in="h e l" ;; esac
    want=$("$I" forward "$T/$n.safetensors" --input "$in" --json)
    "$I" forward "$T/$n.safetensors" --input "$in" --trace "$T/$n.json" --trace-html "$T/$n.html" >/dev/null 2>"$T/err" || { bad "trace $n: $(cat "$T/err")"; continue; }
    if python3 - "$T/$n.json" "$want" "$("$I" info "$T/$n.safetensors" --json)" <<'PY'
import json, sys
t = json.load(open(sys.argv[1])); want = json.loads(sys.argv[2]); info = json.loads(sys.argv[3])
L, D = info["config"]["num_layers"], info["config"]["residual_dim"]
assert [s["name"] for s in t["stages"]][:3] == ["embeddings", "layer 0 attention", "layer 0 MLP"], t["stages"][0]["name"]
assert len(t["stages"]) == 1 + 2 * L and len(t["residual_labels"]) == D
assert all(len(r) == D for s in t["stages"] for r in s["residual"])
assert all(abs(sum(row) - 1) < 1e-9 for a in t["attention"] for row in a["pattern"])
dec = t["output"]["decoded"]
if t["output"]["encoding"] == "numerical":
    assert all(abs(a - b) < 1e-3 for a, b in zip(dec, want)), (dec, want)
else:
    assert dec == [str(w) for w in want], (dec, want)
PY
    then ok; else bad "trace $n: the JSON does not check out"; fi
    grep -q '<script id="trace" type="application/json">' "$T/$n.html" && grep -q '"stages"' "$T/$n.html" && ok || bad "page $n"
done
"$I" forward "$T/sort.safetensors" --input "3 1 2" --trace "$T/sort.safetensors" >/dev/null 2>"$T/err"
[ $? = 1 ] && grep -q "is also an input" "$T/err" && ok || bad "--trace over the model: $(cat "$T/err")"
out=$("$I" forward "$T/sort.safetensors" --input "3 1 2" --trace - 2>/dev/null | head -c 1)
[ "$out" = "{" ] && ok || bad "--trace - did not write JSON to stdout"
finish
