#!/usr/bin/env bash
# Issue 14 items 7-9: what a careless or hostile user types gets a clear error, never a
# silently different answer or unbounded work.
. "$(dirname "$0")/lib.sh"
E=examples
export OMP_NUM_THREADS=1

# item 8: run refuses what forward refuses, and says why
"$I" compile $E/reverse.rasp -o "$T/rev.safetensors" >/dev/null 2>&1 || bad "compile reverse"
for cmd in run forward; do
    src=$E/reverse.rasp; [ $cmd = forward ] && src="$T/rev.safetensors"
    expect_err $cmd-oov 1 "not in the" -- "$I" $cmd "$src" --input "a z"
    expect_err $cmd-bos 1 "not in the" -- "$I" $cmd "$src" --input "a BOS"
    expect_err $cmd-too-long 1 "max_seq_len" -- "$I" $cmd "$src" --input "a b c d a b c d a b c d"
done
"$I" compile $E/sort.rasp -o "$T/sort.safetensors" >/dev/null 2>&1 || bad "compile sort"
expect_err forward-spelling 1 "not in the model's vocabulary" -- "$I" forward "$T/sort.safetensors" --input "01 2"
expect_err run-spelling 1 "not spelled as in the vocabulary" -- "$I" run $E/sort.rasp --input "01 2"
expect_err run-huge-int 1 "read as 1e+23" -- "$I" run $E/sort.rasp --input "1 99999999999999999999999"

# item 7: one cap on max_seq_len, for the directive and the flags
printf 'vocab {1, 2}\nmax_seq_len 1000000000\nx = Map(lambda v: v + 1, tokens)\n' > "$T/huge.rasp"
for cmd in check compile run demo; do
    case $cmd in
        compile) args=(-o "$T/huge.safetensors") ;;
        run) args=(--input "1 2") ;;
        *) args=() ;;
    esac
    if [ $cmd = demo ]; then set -- --program; else set --; fi
    expect_err $cmd-huge-max-seq-len 1 "huge.rasp:2:13: error" -- timeout 60 "$I" $cmd "$@" "$T/huge.rasp" "${args[@]}"
done
grep -qF "at most 4096" "$T/err" && ok || bad "the cap is not stated: $(cat "$T/err")"
printf 'vocab {1, 2}\nmax_seq_len 4\nw = SelectorWidth(Select(tokens, tokens, EQ))\n' > "$T/sw.rasp"
expect_err check-flag-cap 2 "[1, 4096]" -- timeout 60 "$I" check "$T/sw.rasp" --max-seq-len 2147483647
expect_err compile-flag-cap 2 "[1, 4096]" -- timeout 60 "$I" compile "$T/sw.rasp" --max-seq-len 4097 -o "$T/sw.safetensors"
expect_err gen-flag-range 2 "[1, 63]" -- "$I" gen -n 1 -o "$T/g" --max-seq-len 64
# the size is estimated from the value sets before any block is built (building them first
# took 0.5-1 GB and seconds for these 4-line programs)
printf 'vocab {1, 2, 3}\nmax_seq_len 4096\nw = SelectorWidth(Select(tokens, tokens, EQ))\n' > "$T/sw4096.rasp"
printf 'vocab {1, 2, 3}\nmax_seq_len 4096\nt = Map(lambda v: v, tokens)\nx = Map(lambda v: v + 1, indices)\ny = SequenceMap(lambda a, b: a + b, x, t)\n' > "$T/seqmap4096.rasp"
for f in sw4096 seqmap4096; do
    expect_err compile-$f 1 "would have at least" -- timeout 60 "$I" compile "$T/$f.rasp" -o "$T/$f.safetensors"
    expect_err demo-$f 1 "would have at least" -- timeout 60 "$I" demo --program "$T/$f.rasp"
done
# the parse is linear: a 200,000-entry vocabulary and 400,000 statements (minutes each when
# the duplicate check and the symbol lookup were linear scans; well under a second now)
{ printf 'vocab {'; seq -s, 1 200000; printf '}\nmax_seq_len 4\nx = Map(lambda v: v + 1, tokens)\noutput x\n'; } > "$T/bigvocab.rasp"
{ printf 'vocab {1, 2}\nmax_seq_len 4\ns0 = Map(lambda v: v + 1, tokens)\n'; seq 1 400000 | awk '{printf "s%d = Map(lambda v: v, s%d)\n", $1, $1-1}'; printf 'output s0\n'; } > "$T/bigstmts.rasp"
for f in bigvocab bigstmts; do
    if timeout 60 "$I" check "$T/$f.rasp" >/dev/null 2>"$T/err"; then ok; else bad "check $f.rasp: exit $? (timeout 60 s): $(head -c 200 "$T/err")"; fi
done

# item 9: verify reports the positions where RASP gives None (Tracr issue #25's program:
# the model gives 2 3 0 0 where RASP gives 2 3 None None). No key matches query q when
# q + 2 >= length: 1 position of each of the 4 inputs of length 1, 2 of each longer input:
# 4 + 2 * (16 + 64 + 256) = 676.
printf 'vocab {0, 1, 2, 3}\nmax_seq_len 4\nshifted = Aggregate(Select(indices, indices, lambda k, q: k == q + 2), tokens)\n' > "$T/t25.rasp"
out=$("$I" compile "$T/t25.rasp" --verify 1000 2>"$T/err")
if [[ "$out" == *"(all), 0 mismatches"*", 676 None positions"* ]]; then ok; else bad "verify line: $out"; fi
grep -qF "RASP gives None at 676 positions (in 340 inputs), where the model outputs a value" "$T/err" && ok || bad "no None warning: $(cat "$T/err")"
finish
