#!/usr/bin/env bash
# itracr lift and itracr import from the command line: exit codes, the program file, the
# verdict, JSON output, refusals and import errors.
. "$(dirname "$0")/lib.sh"
F=tests/fixtures/tracr
"$I" compile $F/sort_freq.rasp -o "$T/sf.safetensors" >/dev/null 2>&1 || bad "compile sort_freq"
out=$("$I" lift "$T/sf.safetensors" -o "$T/sf.rasp" 2>&1); rc=$?
[ $rc = 0 ] && [[ "$out" == *VERIFIED* ]] && ok || bad "lift sort_freq: rc $rc: $out"
# the lifted program is ordinary RASP: it runs and compiles to a model with the same outputs
a=$("$I" forward "$T/sf.safetensors" --input "2 4 2 1"); "$I" compile "$T/sf.rasp" -o "$T/sf2.safetensors" >/dev/null 2>&1
b=$("$I" forward "$T/sf2.safetensors" --input "2 4 2 1")
[ "$a" = "$b" ] && [ "$a" = "2 2 4 1" ] && ok || bad "lifted program outputs '$b' vs '$a'"
r=$("$I" run "$T/sf.rasp" --input "2 4 2 1") && [ "$r" = "2 2 4 1" ] && ok || bad "lifted program runs: '$r'"
j=$("$I" lift "$T/sf.safetensors" --json 2>/dev/null) && [[ "$j" == *'"verified": true'* ]] && ok || bad "lift --json: $j"
# the program in --json (escaped by json_write_string) reads back as the very text lift prints
"$I" lift "$T/sf.safetensors" 2>/dev/null > "$T/plain.rasp"
if command -v python3 >/dev/null; then
    printf '%s' "$j" | python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["program"])' > "$T/json.rasp" &&
        cmp -s "$T/plain.rasp" "$T/json.rasp" && ok || bad "lift --json program differs from lift's"
fi
t=$("$I" lift "$T/sf.safetensors" --tables 2>/dev/null) && [[ "$t" == *"}[(x, y)]"* ]] && ok || bad "lift --tables prints tables"
"$I" lift --help | grep -q "usage: itracr lift" && ok || bad "lift --help"
"$I" lift >/dev/null 2>&1; [ $? = 2 ] && ok || bad "lift without a model: usage error"
# not a Tracr model at all: refused, exit 1
head -c 200 "$T/sf.safetensors" > "$T/trunc.safetensors"
"$I" lift "$T/trunc.safetensors" >/dev/null 2>"$T/err"; [ $? = 1 ] && ok || bad "lift of a truncated file"
# import: errors are clear and exit 1
printf 'PK\003\004garbage' > "$T/bad.npz"; echo '{}' > "$T/bad.json"
"$I" import "$T/bad.npz" -o "$T/x.safetensors" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "bad.npz" "$T/err" && ok || bad "import of a corrupt npz: rc $rc $(cat "$T/err")"
[ ! -e "$T/x.safetensors" ] && ok || bad "a failed import left a file"
"$I" import --help | grep -q "usage: itracr import" && ok || bad "import --help"
# import of Haiku-named parameters in safetensors (an itracr model file has exactly those
# tensors) with a hand-written encoding JSON; forward, lift and decompile accept the result
"$I" compile $F/reverse.rasp -o "$T/rv.safetensors" >/dev/null 2>&1
cat > "$T/rv.json" <<'JSON'
{"token_ids": [["a", 0], ["b", 1], ["c", 2], ["compiler_bos", 3], ["compiler_pad", 4], ["d", 5]],
 "bos": "compiler_bos", "pad": "compiler_pad", "max_seq_len": 5, "causal": false, "num_heads": 1,
 "output": {"name": "reverse", "encoding": "categorical", "values": ["a", "b", "c", "d"]}}
JSON
"$I" import "$T/rv.safetensors" --meta "$T/rv.json" -o "$T/imp.safetensors" >/dev/null 2>&1 && ok || bad "import safetensors"
[ "$("$I" forward "$T/imp.safetensors" --input "a b c d")" = "d c b a" ] && ok || bad "forward of the imported model"
"$I" lift "$T/imp.safetensors" -o "$T/imp.rasp" 2>/dev/null | grep -q VERIFIED && ok || bad "lift of the imported model"
"$I" info "$T/imp.safetensors" | grep -q "r0, r1" && ok || bad "imported residual labels are neutral"
sed 's/"num_heads": 1/"num_heads": 5/' "$T/rv.json" > "$T/bad2.json"
"$I" import "$T/rv.safetensors" --meta "$T/bad2.json" -o "$T/x.safetensors" >/dev/null 2>"$T/err"
[ $? = 1 ] && grep -q num_heads "$T/err" && ok || bad "import with a wrong head count: $(cat "$T/err")"
finish
