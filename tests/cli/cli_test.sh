#!/usr/bin/env bash
# End-to-end tests of the itracr command line (exit codes, outputs, files).
. "$(dirname "$0")/lib.sh"
# expect NAME WANT_RC WANT_STDOUT_SUBSTRING -- CMD...
expect() {
    local name=$1 want_rc=$2 want=$3; shift 4
    local out rc
    out=$("$@" 2>"$T/err"); rc=$?
    if [ "$rc" != "$want_rc" ]; then bad "$name: exit $rc, want $want_rc; stderr: $(head -c 300 "$T/err")"; return; fi
    if [ -n "$want" ] && [[ "$out" != *"$want"* ]]; then bad "$name: stdout '$out' lacks '$want'"; return; fi
    ok
}
E=examples
expect help 0 "commands:" -- "$I" --help
expect no-args 2 "" -- "$I"
expect unknown-cmd 2 "" -- "$I" frobnicate
for c in run check fmt compile forward info demo; do expect "$c-help" 0 "usage: itracr $c" -- "$I" "$c" --help; done
expect run-reverse 0 "d c b a" -- "$I" run $E/reverse.rasp --input "a b c d"
expect run-json 0 '["d", "c", "b", "a"]' -- "$I" run $E/reverse.rasp --input "a b c d" --json
expect run-frac-json 0 '[false, 0.0, 0.3333333333333333, 0.5, 0.4]' -- "$I" run $E/frac_prevs.rasp --input "h e l l o" --json
expect run-shift-none 0 "None a b c" -- "$I" run $E/shift_by.rasp --input "a b c d"
expect run-sort-int 0 "1 2 2 4" -- "$I" run $E/sort.rasp --input "2 4 1 2"
expect run-causal 0 "1 2 3" -- "$I" run $E/length.rasp --input "a b c" --causal
expect run-missing-input 2 "" -- "$I" run $E/reverse.rasp
expect run-bad-opt 2 "" -- "$I" run $E/reverse.rasp --input a --bogus
expect_err run-missing-file 1 "nonexistent.rasp" -- "$I" run "$T/nonexistent.rasp" --input a
printf 'vocab {"a"}\nmax_seq_len 3\nx = Map(lambda x: x +, tokens)\n' > "$T/bad.rasp"
expect_err run-syntax 1 "bad.rasp:3:" -- "$I" run "$T/bad.rasp" --input a
expect check-ok 0 ": ok" -- "$I" check $E/shuffle_dyck2.rasp
printf 'vocab {1, 2}\nmax_seq_len 3\nn = numerical(tokens)\nm = numerical(Aggregate(Select(indices, indices, TRUE), n, default=0))\n' > "$T/unsup.rasp"
expect check-unsupported 1 "problem" -- "$I" check "$T/unsup.rasp"
for f in $E/*.rasp; do
    n=$(basename "$f" .rasp)
    "$I" fmt "$f" > "$T/$n.fmt.rasp" 2>"$T/err" || { bad "fmt $n: $(cat "$T/err")"; continue; }
    "$I" fmt "$T/$n.fmt.rasp" > "$T/$n.fmt2.rasp" 2>"$T/err" || { bad "refmt $n: $(cat "$T/err")"; continue; }
    if cmp -s "$T/$n.fmt.rasp" "$T/$n.fmt2.rasp"; then ok; else bad "fmt $n is not a fixed point"; fi
done
expect fmt-run-same 0 "d c b a" -- "$I" run "$T/reverse.fmt.rasp" --input "a b c d"
expect compile 0 "4 layers" -- "$I" compile $E/reverse.rasp -o "$T/rev.safetensors"
expect compile-verify 0 "0 mismatches" -- "$I" compile $E/sort.rasp -o "$T/sort.safetensors" --verify 200
expect forward 0 "d c b a" -- "$I" forward "$T/rev.safetensors" --input "a b c d"
expect forward-json 0 '["c", "b", "a"]' -- "$I" forward "$T/rev.safetensors" --input "a b c" --json
expect forward-sort 0 "1 2 2 4" -- "$I" forward "$T/sort.safetensors" --input "2 4 1 2"
expect_err forward-bad-token 1 "not in the model's vocabulary" -- "$I" forward "$T/rev.safetensors" --input "a z"
expect_err forward-too-long 1 "max_seq_len" -- "$I" forward "$T/rev.safetensors" --input "a a a a a a"
expect info 0 "residual" -- "$I" info "$T/rev.safetensors"
expect info-json 0 '"residual_dim"' -- "$I" info "$T/rev.safetensors" --json
head -c 100 "$T/rev.safetensors" > "$T/trunc.safetensors"
expect_err forward-truncated 1 "trunc.safetensors" -- "$I" forward "$T/trunc.safetensors" --input "a"
expect_err compile-unsupported 1 "cannot compile" -- "$I" compile "$T/unsup.rasp" -o "$T/u.safetensors"
if [ ! -e "$T/u.safetensors" ]; then ok; else bad "a failed compile left a file"; fi
# a SequenceMap whose value-set product exceeds itracr's limit is refused, not an OOM
{ printf 'vocab {%s}\nmax_seq_len 3\n' "$(seq -s, 0 299)"; echo 'p = SequenceMap(lambda x, y: x * 1000 + y, tokens, indices)'; echo 'q = SequenceMap(lambda x, y: x + y, p, tokens)'; } > "$T/huge.rasp"
expect_err compile-too-large 1 "value set too large" -- "$I" compile "$T/huge.rasp" -o "$T/huge.safetensors"
expect check-too-large 1 "value set too large" -- "$I" check "$T/huge.rasp"
expect demo 0 "0 mismatches" -- "$I" demo -o "$T/demo.safetensors"
finish
