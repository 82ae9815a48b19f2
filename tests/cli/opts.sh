#!/usr/bin/env bash
# The one option parser (src/cli/cli_opts.c): --opt=value as well as --opt value, operands
# before or after the options, one message for an unknown option / a missing value / a
# value given to a flag (exit 2, naming the command and the option), checked numbers
# (garbage, overflow, range; --seed >= 2^64), and the --json outputs of check, compile and
# dataset stats, parsed by Python's json.
set -u
I=${ITRACR:?path to itracr}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "  FAIL: $*" >&2; }
expect_err() { # NAME WANT_RC STDERR_SUBSTRING -- CMD...
    local name=$1 want_rc=$2 want=$3; shift 4
    "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ "$rc" != "$want_rc" ]; then bad "$name: exit $rc, want $want_rc; stderr: $(head -c 300 "$T/err")"; return; fi
    if ! grep -qF -- "$want" "$T/err"; then bad "$name: stderr '$(head -c 300 "$T/err")' lacks '$want'"; return; fi
    ok
}
E=examples
export OMP_NUM_THREADS=1

# --opt=value and --opt value, operands anywhere: the same bytes
"$I" compile $E/reverse.rasp -o "$T/a.st" --max-seq-len 4 >/dev/null 2>&1 || bad "compile (spaced)"
"$I" compile --max-seq-len=4 -o "$T/b.st" $E/reverse.rasp >/dev/null 2>&1 || bad "compile (--opt=value, operand last)"
"$I" compile -o"$T/c.st" $E/reverse.rasp --max-seq-len=4 >/dev/null 2>&1 || bad "compile (-oPATH)"
cmp -s "$T/a.st" "$T/b.st" && cmp -s "$T/a.st" "$T/c.st" && ok || bad "compile: the spellings give different models"
"$I" gen -n 12 -o "$T/g1" --seed 5 --quiet --no-exclude || bad "gen --seed 5"
"$I" gen --quiet -n=12 --no-exclude -o "$T/g2" --seed=5 2>/dev/null
# -n=12 is the short option -n with value "=12": refused, not read as 12
[ $? -eq 2 ] && ok || bad "gen -n=12 should be a bad number"
"$I" gen --quiet -n12 --no-exclude -o "$T/g2" --seed=5 || bad "gen -n12 --seed=5"
cmp -s "$T/g1/train/shard-000000.safetensors" "$T/g2/train/shard-000000.safetensors" && ok || bad "gen --seed=5 differs from --seed 5"
out=$("$I" run --input="a b c" $E/reverse.rasp 2>&1) && [ "$out" = "c b a" ] && ok || bad "run --input=...: $out"
out=$("$I" fmt -- $E/reverse.rasp 2>&1) && [ -n "$out" ] && ok || bad "fmt -- FILE: $out"
"$I" transform "$T/a.st" --rotate --seed=7 --check=50 -o "$T/r1.st" >/dev/null 2>&1 || bad "transform --seed=7"
"$I" transform --rotate "$T/a.st" --seed 7 --check 50 -o "$T/r2.st" >/dev/null 2>&1 || bad "transform --seed 7"
cmp -s "$T/r1.st" "$T/r2.st" && ok || bad "transform: --seed=7 differs from --seed 7"

# unknown options: every command, one message
for cmd in run check fmt compile forward info transform report gen train decompile eval lift import demo; do
    expect_err "$cmd-unknown" 2 "itracr $cmd: unknown option '--frobnicate'" -- "$I" $cmd --frobnicate
done
expect_err dataset-unknown 2 "itracr dataset stats: unknown option '--frobnicate'" -- "$I" dataset stats --frobnicate "$T/g1"
expect_err short-unknown 2 "itracr compile: unknown option '-x'" -- "$I" compile $E/reverse.rasp -x
# abbreviations are not options (getopt_long would take --verif for --verify)
expect_err abbreviation 2 "unknown option '--verif'" -- "$I" compile $E/reverse.rasp --verif 10
expect_err abbreviation-eq 2 "unknown option '--max-seq'" -- "$I" check $E/reverse.rasp --max-seq=3

# missing values and values given to flags
expect_err missing-long 2 "itracr compile: --verify needs a value" -- "$I" compile $E/reverse.rasp --verify
expect_err missing-short 2 "itracr compile: -o needs a value" -- "$I" compile $E/reverse.rasp -o
expect_err missing-train 2 "itracr train: --steps needs a value" -- "$I" train --stream -o "$T/m.st" --steps
expect_err missing-eval 2 "itracr eval: --data needs a value" -- "$I" eval --meta x --data
expect_err missing-gen 2 "itracr gen: -n needs a value" -- "$I" gen -o "$T/x" -n
expect_err flag-value 2 "itracr compile: --causal takes no value" -- "$I" compile $E/reverse.rasp --causal=1 -o "$T/x.st"
expect_err flag-value-json 2 "itracr info: --json takes no value" -- "$I" info "$T/a.st" --json=yes

# numbers: garbage, trailing text, overflow, range, floats
expect_err int-garbage 2 "itracr compile: bad --verify 'abc': expects an integer in [0, 100000000]" -- "$I" compile $E/reverse.rasp --verify abc
expect_err int-trailing 2 "bad --verify '10x'" -- "$I" compile $E/reverse.rasp --verify 10x
expect_err int-overflow 2 "bad --verify '99999999999999999999'" -- "$I" compile $E/reverse.rasp --verify 99999999999999999999
expect_err int-space 2 "bad --verify ' 10'" -- "$I" compile $E/reverse.rasp --verify " 10"
expect_err int-range 2 "bad --max-seq-len '0'" -- "$I" check $E/reverse.rasp --max-seq-len 0
expect_err gen-n-negative 2 "bad -n '-1'" -- "$I" gen -n -1 -o "$T/x"
expect_err range-reversed 2 "bad --ops '5-2'" -- "$I" gen -n 1 -o "$T/x" --ops 5-2
expect_err range-garbage 2 "bad --vocab-size '2-x'" -- "$I" gen -n 1 -o "$T/x" --vocab-size 2-x
expect_err real-garbage 2 "itracr train: bad --lr 'fast'" -- "$I" train --stream -o "$T/m.st" --lr fast
expect_err real-open 2 "bad --lr '0': expects a number in (0, 10)" -- "$I" transform "$T/a.st" --compress 4 --lr 0 -o "$T/x.st"
expect_err real-range 2 "bad --p-table '2'" -- "$I" gen -n 1 -o "$T/x" --p-table 2
expect_err real-nan 2 "bad --causal 'nan'" -- "$I" gen -n 1 -o "$T/x" --causal nan
expect_err real-overflow 2 "bad --lr-min '1e999'" -- "$I" train --stream -o "$T/m.st" --lr-min 1e999
# --seed: 2^64 and above, and signs, are errors for every command that takes one
for cmd in gen transform decompile compile eval train; do
    case $cmd in
        gen) args=(-n 1 -o "$T/s") ;; transform) args=("$T/a.st" --rotate -o "$T/s.st") ;;
        decompile) args=("$T/a.st" --meta "$T/a.st") ;; compile) args=($E/reverse.rasp --verify 1) ;;
        eval) args=(--data "$T/g1" --meta "$T/a.st") ;; train) args=(--stream -o "$T/s.st") ;;
    esac
    expect_err $cmd-seed-2-64 2 "itracr $cmd: bad --seed '18446744073709551616'" -- "$I" $cmd "${args[@]}" --seed 18446744073709551616
    expect_err $cmd-seed-eq 2 "bad --seed '99999999999999999999'" -- "$I" $cmd "${args[@]}" --seed=99999999999999999999
    expect_err $cmd-seed-neg 2 "bad --seed '-1'" -- "$I" $cmd "${args[@]}" --seed -1
done
"$I" gen -n 2 -o "$T/maxseed" --seed 18446744073709551615 --quiet --no-exclude && ok || bad "gen --seed 2^64-1 refused"

# --json: check, compile, dataset stats (and info), parsed by Python
py() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); $1" "$2"; }
"$I" check $E/sort.rasp --json > "$T/c.json" && py 'assert d["ok"] is True and d["problems"] == [] and d["error"] is None and d["max_seq_len"] == 5' "$T/c.json" && ok || bad "check --json (ok): $(cat "$T/c.json")"
printf 'vocab {1, 2}\nmax_seq_len 3\nn = numerical(tokens)\nm = numerical(Aggregate(Select(indices, indices, TRUE), n, default=0))\n' > "$T/unsup.rasp"
"$I" check "$T/unsup.rasp" --json > "$T/c2.json"; rc=$?
[ $rc -eq 1 ] && py 'assert d["ok"] is False and len(d["problems"]) == 2 and all("message" in p and "expr" in p for p in d["problems"])' "$T/c2.json" && ok || bad "check --json (problems): rc $rc, $(cat "$T/c2.json")"
printf 'vocab {"a"}\nmax_seq_len 3\nx = Map(lambda x: x +, tokens)\n' > "$T/syn.rasp"
"$I" check "$T/syn.rasp" --json > "$T/c3.json" 2>/dev/null
py 'assert d["ok"] is False and "syn.rasp:3:" in d["error"]' "$T/c3.json" && ok || bad "check --json (syntax): $(cat "$T/c3.json")"
"$I" compile $E/sort.rasp -o "$T/sort.st" --verify 50 --json > "$T/k.json" 2>/dev/null &&
    py 'assert d["ok"] and d["output"].endswith("sort.st") and d["config"]["num_layers"] == 3 and d["config"]["bos_id"] == 4 and d["verify"]["inputs"] == 50 and d["verify"]["mismatches"] == 0 and len(d["warnings"]) == 1' "$T/k.json" && ok || bad "compile --json: $(cat "$T/k.json")"
# -o -: the model on stdout, the JSON alone on stderr
"$I" compile $E/sort.rasp -o - --json > "$T/sort2.st" 2> "$T/k2.json" && cmp -s "$T/sort.st" "$T/sort2.st" &&
    py 'assert d["ok"] and d["output"] == "-"' "$T/k2.json" && ok || bad "compile -o - --json: $(head -c 300 "$T/k2.json")"
"$I" compile "$T/unsup.rasp" --verify 3 --json > "$T/k3.json" 2>/dev/null; rc=$?
[ $rc -eq 1 ] && py 'assert d["ok"] is False and "cannot be compiled" in d["error"] and d["verify"] is None' "$T/k3.json" && ok || bad "compile --json (refused): $(cat "$T/k3.json")"
"$I" info "$T/sort.st" --json > "$T/i.json" && py 'assert d["config"]["pad_id"] == 5 and d["config"]["residual_dim"] == 43' "$T/i.json" && ok || bad "info --json"
"$I" dataset stats "$T/g1" > "$T/st.txt" && "$I" dataset stats "$T/g1" --json > "$T/st.json" || bad "dataset stats"
n=$(sed -n 's/^\([0-9]*\) samples in \([0-9]*\) shards.*/\1 \2/p' "$T/st.txt")
py "assert '%d %d' % (d['samples'], d['shards']) == '$n' and d['transform'] is None and sum(b['count'] for b in d['ops']['buckets']) == d['samples'] and sum(d['vocab_kind'].values()) == d['samples'] and sum(d['op_types'].values()) > 0" "$T/st.json" && ok || bad "dataset stats --json vs text ($n): $(head -c 400 "$T/st.json")"

# the training config sidecar prints floats as the shortest text that reads back
"$I" gen -n 20 -o "$T/d" --seed 3 --quiet --no-exclude --split train=0.8,val=0.2 || bad "gen for train"
"$I" train --data "$T/d" -o "$T/m.st" --steps=2 --d-model=16 --layers 1 --heads 2 --batch 2 --lr=0.0002 --lr-min 0.00002 2>"$T/train.err" || bad "train: $(tail -3 "$T/train.err")"
grep -q '"lr":0.0002,"lr_min":2e-05,.*"weight_decay":0.1,' "$T/m.st.train.json" && ok || bad "sidecar floats: $(cat "$T/m.st.train.json")"
# a path with a quote and a backslash stays a JSON string in the sidecar (it was written raw)
"$I" train --data "$T/d" -o "$T/q.st" --steps 1 --d-model 16 --layers 1 --heads 2 --batch 2 --exclude 'a"b\c' 2>/dev/null
py 'assert d["exclude"] == "a\"b\\c"' "$T/q.st.train.json" && ok || bad "sidecar with a quoted path: $(cat "$T/q.st.train.json")"
echo "TESTSUM passed=$pass failed=$fail"
[ "$fail" -eq 0 ]
