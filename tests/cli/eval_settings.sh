#!/usr/bin/env bash
# `itracr eval` on a dataset with drawn settings (gen --setting general): every sample is
# evaluated in its own vocabulary, max_seq_len and causality (before, the whole dataset was
# read with the manifest's {0..4}, 5, and the lift ceiling stopped at the first table with
# "the table has 3 values, but its input has 5 values"); the by_setting breakdown in the
# summary and the JSON adds up to the samples; the numbers do not depend on --jobs; a
# fixed-setting dataset gets no breakdown. The shipped meta-model decodes (it cannot emit
# tables, so its numbers are low: only their consistency is checked).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
META=models/meta-small.safetensors

if ! "$I" gen -n 60 --seed 3 -o "$T/g" --setting general --split train=0.5,test=0.5 --quiet \
        >"$T/gen.log" 2>&1; then
    bad "gen: $(tail -c 400 "$T/gen.log")"
fi
N=16
run_eval() { # OUT JSON JOBS [more args]
    local out=$1 js=$2 jobs=$3; shift 3
    "$I" eval --data "$T/g" --meta "$META" --n $N --no-teacher --no-noise --no-classics \
        --jobs "$jobs" --json "$js" "$@" >"$out" 2>"$T/eval.err"
}
if run_eval "$T/e1.out" "$T/e1.json" 1; then ok; else bad "eval: $(head -c 600 "$T/eval.err")"; fi
# the exact decompiler recovers every sample in its own setting
grep -q "^lift (exact decompiler, ceiling): samples verified $N/$N " "$T/e1.out" && ok \
    || bad "lift ceiling: $(grep '^lift' "$T/e1.out") $(head -c 300 "$T/eval.err")"
grep -q '^by setting ' "$T/e1.out" && grep -q '^  attention ' "$T/e1.out" && ok \
    || bad "no by-setting table: $(head -c 600 "$T/e1.out")"

cat >"$T/check.py" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
n, verified = int(sys.argv[2]), sys.argv[3] == "1"
errs = []
b = m.get("by_setting")
if not isinstance(b, dict):
    sys.exit("no by_setting object")
if m["samples"] != n:
    errs.append("samples %r, want %d" % (m["samples"], n))
groups = {"vocab_kind": {"int", "letters", "words", "mixed"}, "causal": {"causal", "non-causal"},
          "encoding": {"categorical", "numerical"}}
for dim in ("vocab_kind", "max_seq_len", "vocab_size", "causal", "encoding"):
    g = b.get(dim)
    if not isinstance(g, dict) or not g:
        errs.append("%s: %r" % (dim, g)); continue
    if sum(v["n"] for v in g.values()) != n:
        errs.append("%s: n adds up to %d, want %d" % (dim, sum(v["n"] for v in g.values()), n))
    if dim in groups and not set(g) <= groups[dim]:
        errs.append("%s: groups %r" % (dim, sorted(g)))
    if dim in ("max_seq_len", "vocab_size") and not all(k.isdigit() for k in g):
        errs.append("%s: groups %r" % (dim, sorted(g)))
    for k, v in g.items():
        for r in ("exact", "equivalent"):
            if not (isinstance(v[r], (int, float)) and 0 <= v[r] <= 1):
                errs.append("%s.%s.%s = %r" % (dim, k, r, v[r]))
        for r in ("verified_exact", "verified_equivalent"):
            ok = (isinstance(v[r], (int, float)) and 0 <= v[r] <= 1) if verified else v[r] is None
            if not ok:
                errs.append("%s.%s.%s = %r" % (dim, k, r, v[r]))
# the breakdown is the headline split up: its exact matches add up to the headline's
g = b["causal"]
exact = sum(round(v["exact"] * v["n"]) for v in g.values())
if exact != m["decoded"]["counts"]["exact"]:
    errs.append("exact %d by setting, %d in the headline" % (exact, m["decoded"]["counts"]["exact"]))
if len(b["vocab_kind"]) < 2:
    errs.append("one vocabulary kind only: %r" % b["vocab_kind"])
print("\n".join(errs))
EOF
out=$("$PY" "$T/check.py" "$T/e1.json" $N 0 2>&1)
[ -z "$out" ] && ok || bad "by_setting JSON: $out"

# the same numbers with two threads (times aside)
if run_eval "$T/e2.out" "$T/e2.json" 2; then ok; else bad "eval --jobs 2: $(head -c 600 "$T/eval.err")"; fi
strip() { # the JSON without its wall times
    "$PY" -c 'import json,sys
m = json.load(open(sys.argv[1]))
m.pop("seconds")
for k in ("lift_ceiling", "lift_rotated"): m[k].pop("median_ms")
print(json.dumps(m, sort_keys=True))' "$1"
}
[ "$(strip "$T/e1.json")" = "$(strip "$T/e2.json")" ] && ok || bad "--jobs 1 and --jobs 2 differ"

# with the search: verified@K columns, verified_* rates
N=2
if run_eval "$T/s.out" "$T/s.json" 2 --search 2; then ok; else bad "eval --search: $(head -c 600 "$T/eval.err")"; fi
grep -q '^by setting .*verified@2 exact' "$T/s.out" && ok || bad "no verified@2 columns: $(grep '^by setting' "$T/s.out")"
out=$("$PY" "$T/check.py" "$T/s.json" $N 1 2>&1)
[ -z "$out" ] && ok || bad "by_setting JSON with --search: $out"

# a fixed-setting dataset: no breakdown, in the text or the JSON
if "$I" gen -n 40 --seed 3 -o "$T/f" --split train=0.5,test=0.5 --quiet >"$T/gen.log" 2>&1 &&
    "$I" eval --data "$T/f" --meta "$META" --n 4 --no-teacher --no-noise --no-classics \
        --json "$T/f.json" >"$T/f.out" 2>"$T/eval.err"; then ok; else bad "fixed: $(head -c 600 "$T/eval.err")"; fi
grep -q '^by setting' "$T/f.out" && bad "a fixed-setting dataset got a breakdown" || ok
grep -q '"by_setting"' "$T/f.json" && bad "a fixed-setting dataset's JSON has by_setting" || ok
finish
