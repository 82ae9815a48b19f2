#!/usr/bin/env bash
# `itracr decompile --method probe` (the program read from activations) and `eval --probe`:
# verdicts, exit codes, JSON, a numerical output, the auto chain on a compressed model that lift
# refuses.
. "$(dirname "$0")/lib.sh"
F=tests/fixtures/tracr
"$I" compile $F/sort.rasp -o "$T/sort.safetensors" >/dev/null 2>&1 || bad "compile sort"
"$I" decompile "$T/sort.safetensors" --method probe >"$T/sort.rasp" 2>"$T/err"; rc=$?
[ $rc = 0 ] && grep -q "^method: probe" "$T/err" && grep -q "^verified: function" "$T/err" && ok \
    || bad "probe sort: rc $rc: $(cat "$T/err")"
# the program is ordinary RASP with the model's own behaviour
"$I" compile "$T/sort.rasp" -o "$T/sort2.safetensors" >/dev/null 2>&1 || bad "compile the probed program"
a=$("$I" forward "$T/sort.safetensors" --input "3 1 4 2"); b=$("$I" forward "$T/sort2.safetensors" --input "3 1 4 2")
[ "$a" = "$b" ] && [ "$a" = "1 2 3 4" ] && ok || bad "probed sort outputs '$b' vs '$a'"
j=$("$I" decompile "$T/sort.safetensors" --method probe --json 2>/dev/null)
[[ "$j" == *'"method":"probe"'* && "$j" == *'"verified":"function"'* ]] && ok || bad "probe --json: $j"
# a numerical output: frac_prevs read back as a mean, the same numbers as its source
"$I" compile $F/frac_prevs.rasp -o "$T/fp.safetensors" >/dev/null 2>&1 || bad "compile frac_prevs"
"$I" decompile "$T/fp.safetensors" --method probe >"$T/fp.rasp" 2>"$T/err"; rc=$?
[ $rc = 0 ] && grep -q "^verified: function" "$T/err" && grep -q "numerical(Aggregate(" "$T/fp.rasp" && ok ||
    bad "probe frac_prevs: rc $rc: $(cat "$T/err")"
for x in "h e l l o" "l" "o l l e h l"; do
    [ "$("$I" run "$T/fp.rasp" --input "$x" 2>&1)" = "$("$I" run $F/frac_prevs.rasp --input "$x" 2>&1)" ] && ok ||
        bad "probed frac_prevs on '$x': $("$I" run "$T/fp.rasp" --input "$x" 2>&1)"
done
# not verified (reverse compressed to 20 dimensions in 30 steps: an approximation that probe's
# program misses on some inputs): exit 1, the verdict, nothing on stdout
"$I" compile $F/reverse.rasp -o "$T/rv.safetensors" >/dev/null 2>&1 || bad "compile reverse"
"$I" transform "$T/rv.safetensors" --compress 20 --steps 30 -o "$T/rv20.safetensors" >/dev/null 2>&1 || bad "compress reverse"
"$I" decompile "$T/rv20.safetensors" --method probe >"$T/rv.rasp" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "NOT VERIFIED" "$T/err" && [ ! -s "$T/rv.rasp" ] && ok || bad "probe reverse/20: rc $rc: $(cat "$T/err")"
# shuffle_dyck: a Map read straight from a mean, which Tracr's value sets get wrong: verified
# in exact mode, and the program says so
"$I" compile $F/shuffle_dyck.rasp -o "$T/sd.safetensors" >/dev/null 2>&1 || bad "compile shuffle_dyck"
"$I" decompile "$T/sd.safetensors" --method probe >"$T/sd.rasp" 2>"$T/err"; rc=$?
[ $rc = 0 ] && grep -q "^# compile with --exact" "$T/sd.rasp" && ok || bad "probe shuffle_dyck: rc $rc: $(cat "$T/err")"
"$I" compile "$T/sd.rasp" --exact -o "$T/sd2.safetensors" >/dev/null 2>&1 || bad "compile the probed shuffle_dyck"
for x in "( ) )" "( ( ) )" ") ("; do
    [ "$("$I" forward "$T/sd2.safetensors" --input "$x")" = "$("$I" forward "$T/sd.safetensors" --input "$x")" ] && ok ||
        bad "probed shuffle_dyck on '$x'"
done
# compressed: lift refuses it, the default pipeline falls to probe, which verifies
"$I" compile $F/nary_sequencemap.rasp -o "$T/ns.safetensors" >/dev/null 2>&1 || bad "compile nary"
"$I" transform "$T/ns.safetensors" --compress 37 --steps 300 --seed 1 -o "$T/ns37.safetensors" \
    >/dev/null 2>&1 || bad "compress nary_sequencemap"
"$I" decompile "$T/ns37.safetensors" >"$T/ns.rasp" 2>"$T/err"; rc=$?
[ $rc = 0 ] && grep -q "^method: probe" "$T/err" && ok || bad "decompile compressed: rc $rc: $(cat "$T/err")"
"$I" lift "$T/ns37.safetensors" >/dev/null 2>&1; [ $? = 1 ] && ok || bad "lift should refuse the compressed model"
"$I" decompile "$T/ns.safetensors" --method nope >/dev/null 2>"$T/err"; [ $? = 2 ] && grep -q probe "$T/err" && ok \
    || bad "unknown --method lists probe: $(cat "$T/err")"
# eval --probe on a small rotated dataset: every model read, the count reported (text, JSON)
gen_small "$T/rot" 60 12 --transform rotate
"$I" eval --data "$T/rot" --meta models/meta-small.safetensors --probe --no-teacher --no-noise \
    --no-classics --jobs 2 --json "$T/m.json" >"$T/eval.out" 2>"$T/eval.err" || bad "eval --probe: $(head -c 400 "$T/eval.err")"
line=$(grep '^probe (activations' "$T/eval.out")
n=$(sed -n 's/^probe (activations, no meta-model): \([0-9]*\)\/\([0-9]*\) .*/\1 \2/p' "$T/eval.out")
set -- $n "" ""
[ -n "$1" ] && [ "$2" -ge 1 ] && [ "$1" -ge 1 ] && ok || bad "eval --probe line: $line"
grep -q '"probe": {"samples": ' "$T/m.json" && ok || bad "eval --json has no probe object"
# the ceiling line: on stock weights the true program reproduces every given model (the
# negative case, noise weights, is in test_probe's test_reference)
gen_small "$T/stock" 24 13
"$I" eval --data "$T/stock" --meta models/meta-small.safetensors --probe --no-teacher --no-noise \
    --no-classics --jobs 2 --json "$T/s.json" >"$T/evals.out" 2>"$T/eval.err" || bad "eval --probe stock: $(head -c 400 "$T/eval.err")"
tot=$(sed -n 's/^probe (activations, no meta-model): [0-9]*\/\([0-9]*\) .*/\1/p' "$T/evals.out")
c=$(sed -n 's/^the true program itself reproduces the given model.s outputs on \([0-9]*\) of them.*/\1/p' "$T/evals.out")
[ -n "$tot" ] && [ "$tot" -ge 1 ] && [ "$c" = "$tot" ] && grep -q "\"truth_verified\": $tot" "$T/s.json" && ok \
    || bad "truth ceiling on stock weights: '$c' of '$tot': $(grep -i 'true program' "$T/evals.out")"
# with the search as well: both orders are counted; the search first keeps the search's exact
# answers (probe's never count as exact), so its exact count is at most verified@K's
"$I" eval --data "$T/stock" --meta models/meta-small.safetensors --probe --search 8 --no-teacher \
    --no-noise --no-classics --jobs 2 --json "$T/s8.json" >"$T/evals8.out" 2>"$T/eval.err" || bad "eval --probe --search: $(head -c 400 "$T/eval.err")"
set -- $(sed -n 's/^the meta-model.s search, else probe: \([0-9]*\)\/\([0-9]*\) exact .*, \([0-9]*\)\/[0-9]* equivalent.*/\1 \2 \3/p' "$T/evals8.out")
vx=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(round(d['verified']['exact'] * d['samples']))" "$T/s8.json" 2>/dev/null)
[ -n "$1" ] && [ "$1" -le "$3" ] && [ "$3" -le "$2" ] && [ -n "$vx" ] && [ "$1" -le "$vx" ] &&
    grep -q "\"after_search\": {\"exact\": $1, \"equivalent\": $3}" "$T/s8.json" && ok ||
    bad "search, else probe: '$*' (verified exact $vx): $(grep -i 'else' "$T/evals8.out")"
# with the noise baseline: probe on noise weights of the same shapes reads nothing equivalent
"$I" eval --data "$T/rot" --meta models/meta-small.safetensors --probe --no-teacher --no-classics \
    --n 10 --jobs 2 --json "$T/n.json" >"$T/eval2.out" 2>"$T/eval2.err" || bad "eval --probe (noise): $(head -c 400 "$T/eval2.err")"
n=$(sed -n 's/^probe on noise weights (the baseline): \([0-9]*\)\/\([0-9]*\) .*/\1 \2/p' "$T/eval2.out")
set -- $n "" ""
[ -n "$1" ] && [ "$2" -ge 10 ] && [ "$1" -le 1 ] && ok || bad "probe noise baseline line: $(grep -i noise "$T/eval2.out")"
grep -q '"noise": {"equivalent": ' "$T/n.json" && ok || bad "eval --json has no probe noise object"
finish
