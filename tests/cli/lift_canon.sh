#!/usr/bin/env bash
# itracr lift and decompile on rotated + permuted + rescaled models (lift/canon.h): the basis
# is canonicalised and the program verified on the model's own outputs; decompile says which
# method answered (--method auto|lift|meta) and warns when the meta-model decodes a model
# outside its training distribution; compressed models are refused, never mis-lifted.
set -u
I=${ITRACR:?path to itracr}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "  FAIL: $*" >&2; }
F=tests/fixtures/tracr
META=models/meta-small.safetensors
"$I" compile $F/reverse.rasp -o "$T/rv.safetensors" >/dev/null 2>&1 || bad "compile reverse"
"$I" transform "$T/rv.safetensors" --rotate --permute --scale --seed 7 -o "$T/rot.safetensors" >/dev/null 2>&1 || bad "transform"
[ "$("$I" forward "$T/rot.safetensors" --input "a b c d")" = "d c b a" ] && ok || bad "the rotated model's function"
out=$("$I" lift "$T/rot.safetensors" -o "$T/rot.rasp" 2>&1); rc=$?
[ $rc = 0 ] && [[ "$out" == *"VERIFIED (basis canonicalised"* ]] && ok || bad "lift of the rotated model: rc $rc: $out"
[ "$("$I" run "$T/rot.rasp" --input "a b c d")" = "d c b a" ] && ok || bad "the lifted program runs: $(cat "$T/rot.rasp")"
j=$("$I" lift "$T/rot.safetensors" --json 2>/dev/null)
[[ "$j" == *'"verified": true'* && "$j" == *'"canonicalised": true'* ]] && ok || bad "lift --json: $j"
j=$("$I" lift "$T/rv.safetensors" --json 2>/dev/null)
[[ "$j" == *'"canonicalised": false'* ]] && ok || bad "a stock model is read in Tracr's layout: $j"
# decompile: --method lift needs no meta-model; auto answers with lift; the JSON says so
j=$("$I" decompile "$T/rot.safetensors" --method lift --json 2>/dev/null); rc=$?
[ $rc = 0 ] && [[ "$j" == *'"method":"lift"'* && "$j" == *'"verified":"function"'* ]] && ok || bad "decompile --method lift: $rc $j"
j=$("$I" decompile "$T/rv.safetensors" --method lift --json 2>/dev/null)
[[ "$j" == *'"method":"lift"'* && "$j" == *'"verified":"weights"'* ]] && ok || bad "decompile --method lift, stock: $j"
if [ -f "$META" ]; then
    "$I" decompile "$T/rot.safetensors" --meta "$META" >"$T/auto.rasp" 2>"$T/auto.err" && grep -q "^method: lift" "$T/auto.err" &&
        [ "$("$I" run "$T/auto.rasp" --input "a b c d")" = "d c b a" ] && ok || bad "decompile auto: $(cat "$T/auto.err")"
    j=$("$I" decompile "$T/rot.safetensors" --meta "$META" --json 2>/dev/null)
    [[ "$j" == *'"method":"lift"'* ]] && ok || bad "decompile auto --json: $j"
    # out of the training distribution (longer than any length the shipped model was trained
    # on, 2..10): the meta path warns, JSON "ood"
    printf 'vocab {0, 1, 2, 3, 4}\nmax_seq_len 12\n\nv1 = Map(lambda x: x + 1, tokens)\noutput v1\n' >"$T/rv12.rasp"
    "$I" compile "$T/rv12.rasp" -o "$T/rv12.safetensors" >/dev/null 2>&1 || bad "compile a Map at length 12"
    "$I" decompile "$T/rv12.safetensors" --meta "$META" --method meta >/dev/null 2>"$T/ood.err"
    grep -q "^warning: out of the meta-model's training distribution .*max_seq_len 12, trained on" "$T/ood.err" && ok ||
        bad "no out-of-distribution warning: $(cat "$T/ood.err")"
    j=$("$I" decompile "$T/rv12.safetensors" --meta "$META" --method meta --json 2>/dev/null)
    [[ "$j" == *'"ood":"max_seq_len 12, trained on'* ]] && ok || bad "no ood in JSON: $j"
    "$I" compile tests/fixtures/search/sample29.rasp -o "$T/in.safetensors" >/dev/null 2>&1
    "$I" decompile "$T/in.safetensors" --meta "$META" --method meta >/dev/null 2>"$T/in.err"
    ! grep -q "out of the meta-model" "$T/in.err" && ok || bad "in-distribution model warned: $(cat "$T/in.err")"
    # --method meta prints what it always printed: no method field
    j=$("$I" decompile "$T/rv.safetensors" --meta "$META" --method meta --json 2>/dev/null)
    j=$("$I" decompile "$T/in.safetensors" --meta "$META" --method meta --json 2>/dev/null)
    [[ "$j" != *'"method"'* && "$j" != *'"ood"'* && "$j" == *'"rows":'* ]] && ok || bad "decompile --method meta --json changed: $j"
    # every number is json_number_text's shortest round-trip text (the score is
    # -1.411942456092902, which cJSON's printer wrote as -1.4119424560929019)
    if command -v python3 >/dev/null; then
        printf '%s' "$j" | python3 -c '
import json, sys
def digits(t):
    m = t.lstrip("-").split("e")[0].split("E")[0].replace(".", "").lstrip("0").rstrip("0")
    return max(len(m), 1)
bad = []
def num(t):
    r = repr(float(t))
    if float(r) != float(t) or digits(t) > digits(r): bad.append(t)
    return float(t)
d = json.loads(sys.stdin.read(), parse_float=num)
if bad or not isinstance(d.get("score"), float): sys.exit("not shortest: %s" % bad)
' && ok || bad "decompile --json numbers are not the shortest round-trip text: $j"
    fi
fi
# a compressed residual stream is not an orthogonal change of basis: refused with a reason
"$I" transform "$T/rv.safetensors" --compress 20 --steps 30 -o "$T/cmp.safetensors" >/dev/null 2>&1 || bad "compress"
"$I" lift "$T/cmp.safetensors" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "refused: .*as a rotated model: " "$T/err" && ok || bad "lift of a compressed model: rc $rc $(cat "$T/err")"
"$I" decompile "$T/cmp.safetensors" --method lift >/dev/null 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "lift refused" "$T/err" && ok || bad "decompile --method lift of a compressed model: rc $rc $(cat "$T/err")"
if [ -f "$META" ]; then # auto falls back to probe or the meta-model and says why lift did not answer
    j=$("$I" decompile "$T/cmp.safetensors" --meta "$META" --json 2>/dev/null)
    [[ "$j" == *'"method":"'@(meta|probe)'"'* && "$j" == *'"lift":"lift refused: '* ]] && ok || bad "decompile auto fallback --json: $j"
    m=$(sed 's/.*"method":"\([a-z]*\)".*/\1/' <<<"$j")
    "$I" decompile "$T/cmp.safetensors" --meta "$META" >/dev/null 2>"$T/err"
    # one method line, naming the method whose program was printed (the JSON's)
    [ "$(grep -c '^method: ' "$T/err")" = 1 ] && grep -q "^method: $m (lift refused: " "$T/err" && ok ||
        bad "decompile auto fallback ($m): $(cat "$T/err")"
fi
"$I" decompile "$T/rot.safetensors" --method magic 2>/dev/null; [ $? = 2 ] && ok || bad "unknown --method: want exit 2"
# without --meta: the shipped meta-models when found (lift answers first here), else a usage error
if [ -f "$META" ]; then
    "$I" decompile "$T/rot.safetensors" >/dev/null 2>"$T/err" && grep -q "^method: lift" "$T/err" && ok ||
        bad "auto without --meta (shipped models): $(head -3 "$T/err")"
fi
mkdir -p "$T/x/y/bin" && cp "$I" "$T/x/y/bin/itracr"
(cd "$T" && ./x/y/bin/itracr decompile rot.safetensors 2>/dev/null); [ $? = 2 ] && ok || bad "auto without --meta, none shipped: want exit 2"
echo "TESTSUM passed=$pass failed=$fail"
