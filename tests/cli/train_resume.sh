#!/usr/bin/env bash
# itracr train: kill -9 mid-run then --resume gives the same loss curve as an uninterrupted
# run; a crash while a checkpoint is being written (ITRACR_TEST_CRASH_IN_CHECKPOINT=1: exit
# after the temporary file is written, before the rename) leaves the previous checkpoint
# intact and loadable.
set -u
I=${ITRACR:?path to itracr}
T=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"' EXIT
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "  FAIL: $*" >&2; }
export OMP_NUM_THREADS=1
TINY=(--d-model 16 --layers 1 --heads 2 --batch 4 --ckpt-every 5 --eval-every 50 --seed 3)
STEPS=200
curve() { sed -E 's/.*"step":([0-9]+),"loss":([^,]+),"lr":([^,]+),.*/\1 \2 \3/' "$1"; }

"$I" gen -n 60 -o "$T/d" --quiet --split train=0.8,val=0.2 || bad "gen failed"

# the reference: one uninterrupted run
if "$I" train --data "$T/d" -o "$T/ref.safetensors" "${TINY[@]}" --steps $STEPS 2>"$T/ref.err"; then ok
else bad "reference run failed: $(tail -3 "$T/ref.err")"; fi

# killed with SIGKILL once it has logged step 30 or later
"$I" train --data "$T/d" -o "$T/m.safetensors" "${TINY[@]}" --steps $STEPS 2>"$T/run.err" &
PID=$!
for _ in $(seq 1 400); do
    last=$(tail -n1 "$T/m.safetensors.log.jsonl" 2>/dev/null | sed -nE 's/^\{"step":([0-9]+),.*/\1/p')
    [ -n "$last" ] && [ "$last" -ge 30 ] && break
    sleep 0.02
done
kill -9 "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
rc=$?
PID=
if [ "$rc" -eq 137 ]; then ok; else bad "the run was not killed mid-run (exit $rc)"; fi
[ -f "$T/m.safetensors" ] && ok || bad "no checkpoint after the kill"

if "$I" train --data "$T/d" -o "$T/m.safetensors" --resume 2>"$T/resume.err"; then ok
else bad "--resume failed: $(tail -3 "$T/resume.err")"; fi
grep -q "resumed .* at step" "$T/resume.err" && ok || bad "resume did not load the checkpoint: $(head -5 "$T/resume.err")"
if [ "$(curve "$T/ref.safetensors.log.jsonl")" == "$(curve "$T/m.safetensors.log.jsonl")" ]; then ok
else bad "resumed loss curve differs from the uninterrupted one"; diff <(curve "$T/ref.safetensors.log.jsonl") <(curve "$T/m.safetensors.log.jsonl") | head -5 >&2; fi
tail -n1 "$T/m.safetensors.log.jsonl" | grep -q "\"step\":$STEPS," && ok || bad "resumed run did not reach step $STEPS"
grep -q '"val_token_acc":' "$T/m.safetensors.log.jsonl" && grep -q '"val_exact":' "$T/m.safetensors.log.jsonl" && ok ||
    bad "no validation metrics in the log"

# a crash between writing the temporary checkpoint and renaming it
before=$(cksum < "$T/m.safetensors")
ITRACR_TEST_CRASH_IN_CHECKPOINT=1 "$I" train --data "$T/d" -o "$T/m.safetensors" --resume --steps $((STEPS + 10)) 2>"$T/crash.err"
rc=$?
[ "$rc" -eq 3 ] && ok || bad "the crash hook did not fire (exit $rc)"
[ "$(cksum < "$T/m.safetensors")" == "$before" ] && ok || bad "the previous checkpoint changed"
[ -f "$T/m.safetensors.tmp" ] && ok || bad "no temporary checkpoint left by the crash"
if "$I" train --data "$T/d" -o "$T/m.safetensors" --resume --steps $((STEPS + 10)) 2>"$T/after.err"; then ok
else bad "resume after the crash failed: $(tail -3 "$T/after.err")"; fi
grep -q "resumed .* at step $STEPS" "$T/after.err" && ok || bad "did not resume from step $STEPS: $(head -5 "$T/after.err")"
tail -n1 "$T/m.safetensors.log.jsonl" | grep -q "\"step\":$((STEPS + 10))," && ok || bad "did not reach step $((STEPS + 10))"

# bad usage is reported, not crashed on
"$I" train -o "$T/x.safetensors" 2>/dev/null; [ $? -eq 2 ] && ok || bad "missing --data: want exit 2"
"$I" train --data "$T/nowhere" -o "$T/x.safetensors" 2>/dev/null; [ $? -eq 1 ] && ok || bad "missing dataset: want exit 1"
"$I" train --data "$T/d" -o "$T/x.safetensors" --heads 5 --d-model 16 2>"$T/e"; [ $? -eq 1 ] && ok || bad "bad config: want exit 1"

# decompile with the (barely trained) meta-model: always a valid program
"$I" compile examples/length.rasp -o "$T/len.safetensors" >/dev/null 2>&1 || bad "compile examples/length.rasp failed"
if "$I" decompile "$T/len.safetensors" --meta "$T/m.safetensors" >"$T/pred.rasp" 2>"$T/dec.err"; then ok
else bad "decompile failed: $(head -3 "$T/dec.err")"; fi
"$I" fmt "$T/pred.rasp" >/dev/null 2>&1 && ok || bad "decompiled program does not parse: $(head -5 "$T/pred.rasp")"
"$I" decompile "$T/len.safetensors" --meta "$T/m.safetensors" --rows --beam 2 2>/dev/null | head -n1 | grep -q START && ok ||
    bad "--rows does not print the table"
"$I" decompile "$T/len.safetensors" --meta "$T/m.safetensors" --check >/dev/null 2>"$T/chk.err"
rc=$?
{ [ $rc -eq 0 ] || [ $rc -eq 1 ]; } && grep -q "^check: " "$T/chk.err" && ok || bad "--check: exit $rc, $(head -3 "$T/chk.err")"
"$I" decompile "$T/len.safetensors" 2>/dev/null; [ $? -eq 2 ] && ok || bad "missing --meta: want exit 2"
"$I" decompile "$T/nothing.safetensors" --meta "$T/m.safetensors" 2>/dev/null; [ $? -eq 1 ] && ok || bad "missing model: want exit 1"
"$I" decompile "$T/len.safetensors" --meta "$T/len.safetensors" 2>/dev/null; [ $? -eq 1 ] && ok || bad "not a meta-model: want exit 1"

echo "TESTSUM passed=$pass failed=$fail"
