#!/usr/bin/env bash
# End-to-end test of `itracr eval`: a tiny dataset (itracr gen), a tiny meta-model trained for
# a few steps (itracr train), then eval with the HTML report and the metrics JSON; the
# numbers' ranges and consistency, determinism across thread counts, and the error exits.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
check() { # NAME CMD...: passes when CMD exits 0
    local name=$1; shift
    if "$@" >"$T/out" 2>&1; then ok; else bad "$name: $(head -c 600 "$T/out")"; fi
}

# ---- a tiny dataset and model ------------------------------------------------------------
if ! "$I" gen -n 120 -o "$T/d" --seed 5 --split train=0.75,test=0.25 --quiet >"$T/gen.log" 2>&1; then
    bad "gen: $(tail -c 400 "$T/gen.log")"
fi
if ! "$I" train --data "$T/d" -o "$T/m.safetensors" --steps 6 --d-model 16 --layers 1 --heads 2 --batch 4 \
        --warmup 2 --seed 3 >"$T/train.log" 2>&1; then
    bad "train: $(tail -c 400 "$T/train.log")"
fi
[ -f "$T/m.safetensors.log.jsonl" ] && ok || bad "train wrote no log next to the checkpoint"

# ---- eval with report and JSON ----------------------------------------------------------
NTEST=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["splits"]["test"]["samples"])' "$T/d/manifest.json")
N=12
if "$I" eval --data "$T/d" --meta "$T/m.safetensors" --n $N -o "$T/r.html" --json "$T/m.json" --seed 7 \
        >"$T/eval.out" 2>"$T/eval.err"; then ok; else bad "eval exit $?: $(head -c 600 "$T/eval.err")"; fi
grep -q '^decoded ' "$T/eval.out" && grep -q '^noise baseline ' "$T/eval.out" && grep -q '^teacher-forced ' "$T/eval.out" \
    && ok || bad "summary lines missing: $(head -c 400 "$T/eval.out")"
[ -s "$T/eval.err" ] && bad "eval wrote to stderr in a pipe: $(head -c 300 "$T/eval.err")" || ok
# the ceiling row: the exact decompiler verifies every sample it is given
grep -q "^lift (exact decompiler, ceiling): samples verified $N/$N " "$T/eval.out" && ok \
    || bad "lift ceiling row: $(grep '^lift' "$T/eval.out")"

# The JSON: headline fields in [0,1], the three variants, counts consistent with --n, the
# noise baseline, every classic program listed with a known verdict.
cat >"$T/check.py" <<'EOF'
import json, os, sys
m = json.load(open(sys.argv[1]))
n, ntest, ex_dir = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
errs = []
def rate(x, where):
    if not (isinstance(x, (int, float)) and 0 <= x <= 1):
        errs.append("%s = %r not in [0,1]" % (where, x))
for part in ("headline", "teacher_forced_headline", "noise_headline"):
    for k in ("exact", "equivalent", "token_acc", "row_acc", "compiles", "decodes"):
        if k not in m[part]:
            errs.append("%s.%s missing" % (part, k))
for k in ("exact", "token_acc", "row_acc", "decodes"):
    for part in ("headline", "noise_headline", "teacher_forced_headline"):
        rate(m[part][k], part + "." + k)
for part in ("headline", "noise_headline"):   # decoded predictions always decode and get checked
    rate(m[part]["equivalent"], part + ".equivalent")
    rate(m[part]["compiles"], part + ".compiles")
    if m[part]["decodes"] != 1:
        errs.append("%s.decodes = %r: constrained decoding must always give a program" % (part, m[part]["decodes"]))
for part in ("decoded", "teacher_forced", "noise"):
    d = m[part]
    if d["n"] != min(n, ntest):
        errs.append("%s.n = %r, want %d" % (part, d["n"], min(n, ntest)))
    c = d["counts"]
    if not (c["exact"] <= c["decodes"] <= d["n"] and c["equivalent"] <= c["compiles"] <= c["func_checked"] <= d["n"]):
        errs.append("%s counts inconsistent: %r" % (part, c))
    if c["equivalent"] < c["exact"] and part != "teacher_forced":
        errs.append("%s: fewer equivalent than exact: %r" % (part, c))
    if abs(d["token_acc"] - m[{"decoded": "headline", "teacher_forced": "teacher_forced_headline", "noise": "noise_headline"}[part]]["token_acc"]) > 1e-9:
        errs.append("%s token_acc differs from its headline" % part)
if m["decoded"]["counts"]["func_checked"] != m["decoded"]["n"]:
    errs.append("not every decoded prediction was functionally checked: %r" % m["decoded"]["counts"])
if m["samples"] != min(n, ntest) or m["split_samples"] != ntest:
    errs.append("samples %r / split_samples %r, want %d / %d" % (m["samples"], m["split_samples"], min(n, ntest), ntest))
if "noise_method" not in m or m.get("noise_seed") != 7:
    errs.append("noise method/seed missing")
want = sorted(f[:-5] for f in os.listdir(ex_dir) if f.endswith(".rasp"))
got = [c["name"] for c in m["classics"]]
if got != want:
    errs.append("classics %r, want %r" % (got, want))
for c in m["classics"]:
    if c["verdict"] not in ("exact", "equivalent", "wrong", "out of distribution"):
        errs.append("classic %s: verdict %r" % (c["name"], c["verdict"]))
    if c["verdict"] == "out of distribution" and not c["detail"].startswith("out of distribution"):
        errs.append("classic %s: out of distribution without a reason" % c["name"])
if errs:
    print("\n".join(errs))
    sys.exit(1)
EOF
check json-fields "$PY" "$T/check.py" "$T/m.json" $N "$NTEST" examples

# The HTML: every section, the classic table with each program, the settings.
for s in headline breakdowns curves examples confusions classics settings; do
    grep -q "<section id=\"$s\"" "$T/r.html" && ok || bad "report lacks section $s"
done
grep -q 'id="classic-table"' "$T/r.html" && grep -q '>reverse<' "$T/r.html" && grep -q '>sort_unique<' "$T/r.html" \
    && ok || bad "report lacks the classic programs"
grep -q 'no training log given' "$T/r.html" && bad "report did not pick up the training log next to the checkpoint" || ok
grep -q "$T/d" "$T/r.html" && ok || bad "report lacks the dataset setting"

# Deterministic: one thread and two threads give the same numbers (and the same as above).
"$I" eval --data "$T/d" --meta "$T/m.safetensors" --n $N --json "$T/j1.json" --seed 7 --jobs 1 --no-classics >/dev/null 2>&1
"$I" eval --data "$T/d" --meta "$T/m.safetensors" --n $N --json "$T/j2.json" --seed 7 --jobs 2 --no-classics >/dev/null 2>&1
check jobs-deterministic "$PY" -c '
import json, sys
a, b, c = (json.load(open(p)) for p in sys.argv[1:4])
for k in ("decoded", "teacher_forced", "noise"):
    assert a[k] == b[k] == c[k], k' "$T/j1.json" "$T/j2.json" "$T/m.json"
# Another noise seed changes the noise baseline's predictions, not the decoded ones.
"$I" eval --data "$T/d" --meta "$T/m.safetensors" --n $N --json "$T/j3.json" --seed 8 --no-classics --no-teacher >/dev/null 2>&1
check noise-seed "$PY" -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["decoded"] == b["decoded"]
assert b["teacher_forced"] is None' "$T/j1.json" "$T/j3.json"

# ---- errors -------------------------------------------------------------------------------
expect_err missing-data 1 "no such dataset directory" -- "$I" eval --data "$T/nope" --meta "$T/m.safetensors"
mkdir -p "$T/empty"
expect_err not-a-dataset 1 "manifest.json" -- "$I" eval --data "$T/empty" --meta "$T/m.safetensors"
expect_err missing-meta 1 "no such checkpoint" -- "$I" eval --data "$T/d" --meta "$T/nope.safetensors"
head -c 3000 "$T/m.safetensors" >"$T/bad.safetensors"
expect_err corrupt-meta 1 "bad.safetensors" -- "$I" eval --data "$T/d" --meta "$T/bad.safetensors"
printf 'not a checkpoint' >"$T/junk.safetensors"
expect_err junk-meta 1 "junk.safetensors" -- "$I" eval --data "$T/d" --meta "$T/junk.safetensors"
cp -r "$T/d" "$T/d2"
shard=$(ls "$T"/d2/test/*.safetensors | head -n1)
size=$(stat -c %s "$shard")
printf '\x55\x55\x55\x55' | dd of="$shard" bs=1 seek=$((size - 100)) conv=notrunc 2>/dev/null
expect_err damaged-shard 1 "itracr eval:" -- "$I" eval --data "$T/d2" --meta "$T/m.safetensors"
expect_err no-split 1 "itracr eval:" -- "$I" eval --data "$T/d" --meta "$T/m.safetensors" --split val
expect_err usage-no-meta 2 "--meta" -- "$I" eval --data "$T/d"
expect_err usage-no-data 2 "--data" -- "$I" eval --meta "$T/m.safetensors"
expect_err usage-bad-beam 2 "--beam" -- "$I" eval --data "$T/d" --meta "$T/m.safetensors" --beam 0
expect_err usage-unknown 2 "unknown option" -- "$I" eval --data "$T/d" --meta "$T/m.safetensors" --frob
"$I" eval --help | grep -q "usage: itracr eval" && ok || bad "eval --help"

finish
