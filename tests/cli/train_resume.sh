#!/usr/bin/env bash
# itracr train: kill -9 mid-run then --resume gives the same loss curve as an uninterrupted
# run; a crash while a checkpoint is being written (ITRACR_TEST_CRASH_IN_CHECKPOINT=1: exit
# after the temporary file is written, before the rename) leaves the previous checkpoint
# intact and loadable.
. "$(dirname "$0")/lib.sh"
PID=
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"' EXIT
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

# --stream: the same kill -9 / --resume check on freshly generated batches (no dataset), then
# --init from that checkpoint with and without its AdamW state
STREAM=(--stream --dedup-pool 2000 --d-model 16 --layers 1 --heads 2 --batch 4 --ckpt-every 5 --eval-every 20 --seed 3)
echo '{"eval_tf":8,"eval_decode":2}' > "$T/small_eval.json"
if "$I" train "${STREAM[@]}" --config "$T/small_eval.json" -o "$T/sref.safetensors" --steps 60 2>"$T/sref.err"; then ok
else bad "streamed reference run failed: $(tail -3 "$T/sref.err")"; fi
grep -q '^stream: .* candidates tried' "$T/sref.err" && ok || bad "no stream summary: $(tail -3 "$T/sref.err")"
grep -q '"stream":1,.*"dedup_pool":2000' "$T/sref.safetensors.train.json" && ok || bad "stream settings not in the train config"
"$I" train "${STREAM[@]}" --config "$T/small_eval.json" -o "$T/s.safetensors" --steps 60 2>"$T/s.err" &
PID=$!
for _ in $(seq 1 600); do
    last=$(tail -n1 "$T/s.safetensors.log.jsonl" 2>/dev/null | sed -nE 's/^\{"step":([0-9]+),.*/\1/p')
    [ -n "$last" ] && [ "$last" -ge 20 ] && break
    sleep 0.02
done
kill -9 "$PID" 2>/dev/null
wait "$PID" 2>/dev/null
rc=$?
PID=
[ "$rc" -eq 137 ] && ok || bad "the streamed run was not killed mid-run (exit $rc)"
if "$I" train -o "$T/s.safetensors" --resume 2>"$T/sres.err"; then ok
else bad "streamed --resume failed: $(tail -3 "$T/sres.err")"; fi
grep -q "resumed .* at step" "$T/sres.err" && ok || bad "streamed resume did not load the checkpoint"
if [ "$(curve "$T/sref.safetensors.log.jsonl")" == "$(curve "$T/s.safetensors.log.jsonl")" ]; then ok
else bad "resumed streamed loss curve differs"; diff <(curve "$T/sref.safetensors.log.jsonl") <(curve "$T/s.safetensors.log.jsonl") | head -5 >&2; fi
cmp -s "$T/sref.safetensors" "$T/s.safetensors" && ok || bad "resumed streamed checkpoint differs from the uninterrupted one"
# --stop-at: the same schedule run in two pieces
"$I" train "${STREAM[@]}" --config "$T/small_eval.json" -o "$T/st.safetensors" --steps 60 --stop-at 25 2>"$T/st.err" &&
    grep -q "^done: 25 steps" "$T/st.err" && ok || bad "--stop-at 25 did not stop at 25: $(tail -2 "$T/st.err")"
"$I" train -o "$T/st.safetensors" --resume 2>"$T/st2.err" && grep -q "resumed .* at step 25" "$T/st2.err" && cmp -s "$T/sref.safetensors" "$T/st.safetensors" &&
    [ "$(curve "$T/sref.safetensors.log.jsonl")" == "$(curve "$T/st.safetensors.log.jsonl")" ] && ok ||
    bad "a run stopped with --stop-at and resumed differs from the straight one"
"$I" train --stream --init "$T/sref.safetensors" --init-adam -o "$T/si.safetensors" --steps 10 --warmup 5 --lr 1e-3 \
    --config "$T/small_eval.json" 2>"$T/si.err" && ok || bad "--init --init-adam failed: $(tail -3 "$T/si.err")"
grep -q "initialised from .* AdamW step count 60 kept" "$T/si.err" && ok || bad "--init-adam did not keep the step count: $(head -3 "$T/si.err")"
grep -q '"d_model":16,.*"init_step":60' "$T/si.safetensors.train.json" && ok || bad "--init did not take the model config / record init_step"
head -n1 "$T/si.safetensors.log.jsonl" | grep -q '^{"step":10,' && ok || bad "the --init run does not count steps from 0"
"$I" train --stream --init "$T/sref.safetensors" -o "$T/sp.safetensors" --steps 5 --config "$T/small_eval.json" 2>"$T/sp.err" &&
    grep -q "parameters only" "$T/sp.err" && ok || bad "--init (parameters only) failed: $(tail -3 "$T/sp.err")"
"$I" train --stream --init "$T/sref.safetensors" -o "$T/sx.safetensors" --d-model 32 --steps 5 2>/dev/null
[ $? -eq 1 ] && ok || bad "--init with another model shape: want exit 1"
"$I" train --stream --data "$T/d" -o "$T/x.safetensors" 2>/dev/null; [ $? -eq 2 ] && ok || bad "--stream with --data: want exit 2"
"$I" train --stream --exclude "$T/nowhere" -o "$T/x.safetensors" 2>/dev/null; [ $? -eq 1 ] && ok || bad "missing --exclude folder: want exit 1"
"$I" train --stream --weight bogus=2 -o "$T/x.safetensors" 2>/dev/null; [ $? -eq 2 ] && ok || bad "bad --weight: want exit 2"

# bad usage is reported, not crashed on
"$I" train -o "$T/x.safetensors" 2>/dev/null; [ $? -eq 2 ] && ok || bad "missing --data: want exit 2"
"$I" train --data "$T/nowhere" -o "$T/x.safetensors" 2>/dev/null; [ $? -eq 1 ] && ok || bad "missing dataset: want exit 1"
"$I" train --data "$T/d" -o "$T/x.safetensors" --heads 5 --d-model 16 2>"$T/e"; [ $? -eq 1 ] && ok || bad "bad config: want exit 1"

# decompile with the (barely trained) meta-model: always a valid program
"$I" compile examples/length.rasp -o "$T/len.safetensors" >/dev/null 2>&1 || bad "compile examples/length.rasp failed"
if "$I" decompile "$T/len.safetensors" --meta "$T/m.safetensors" --method meta >"$T/pred.rasp" 2>"$T/dec.err"; then ok
else bad "decompile failed: $(head -3 "$T/dec.err")"; fi
"$I" fmt "$T/pred.rasp" >/dev/null 2>&1 && ok || bad "decompiled program does not parse: $(head -5 "$T/pred.rasp")"
"$I" decompile "$T/len.safetensors" --meta "$T/m.safetensors" --method meta --rows --beam 2 2>/dev/null | head -n1 | grep -q START && ok ||
    bad "--rows does not print the table"
"$I" decompile "$T/len.safetensors" --meta "$T/m.safetensors" --method meta --check >/dev/null 2>"$T/chk.err"
rc=$?
{ [ $rc -eq 0 ] || [ $rc -eq 1 ]; } && grep -q "^check: " "$T/chk.err" && ok || bad "--check: exit $rc, $(head -3 "$T/chk.err")"
# no --meta and no shipped model next to the binary (a copy far from the checkout): usage error
mkdir -p "$T/a/b/bin" && cp "$I" "$T/a/b/bin/itracr"
(cd "$T" && ./a/b/bin/itracr decompile len.safetensors 2>"$T/nometa.err"); [ $? -eq 2 ] && grep -q "no shipped meta-model" "$T/nometa.err" && ok ||
    bad "missing --meta: want exit 2, $(head -2 "$T/nometa.err")"
# several --meta: the first whose training distribution holds the model decodes it. g is m with
# the sidecar of a stream that drew general-setting samples (string vocabularies included).
cp "$T/m.safetensors" "$T/g.safetensors"
sed -E 's/"stream":0/"stream":1/; s/"general":0([,}])/"general":0.5\1/' "$T/m.safetensors.train.json" >"$T/g.safetensors.train.json"
"$I" compile examples/reverse.rasp -o "$T/rev.safetensors" >/dev/null 2>&1 || bad "compile examples/reverse.rasp failed"
"$I" decompile "$T/rev.safetensors" --meta "$T/m.safetensors" --meta "$T/g.safetensors" --method meta 2>"$T/pick.err" >/dev/null &&
    grep -q "meta-model: $T/g.safetensors (its training distribution holds" "$T/pick.err" && ok ||
    bad "string vocabulary: want g.safetensors, $(head -3 "$T/pick.err")"
"$I" decompile "$T/len.safetensors" --meta "$T/g.safetensors" --meta "$T/m.safetensors" --method meta --json 2>/dev/null |
    grep -q "\"meta\":\"$T/g.safetensors\"" && ok || bad "--json: want \"meta\" naming the first that holds the model"
"$I" decompile "$T/nothing.safetensors" --meta "$T/m.safetensors" 2>/dev/null; [ $? -eq 1 ] && ok || bad "missing model: want exit 1"
"$I" decompile "$T/len.safetensors" --meta "$T/len.safetensors" 2>/dev/null; [ $? -eq 1 ] && ok || bad "not a meta-model: want exit 1"

finish
