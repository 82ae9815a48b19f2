#!/usr/bin/env bash
# itracr lift and itracr import from the command line: exit codes, the program file, the
# verdict, JSON output, refusals and import errors.
set -u
I=${ITRACR:?path to itracr}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "  FAIL: $*" >&2; }
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
echo "TESTSUM passed=$pass failed=$fail"
