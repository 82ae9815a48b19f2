#!/usr/bin/env bash
# Regenerates the shipped meta-model (models/meta-general.safetensors and, byte for byte the
# same since session 12, models/meta-small.safetensors) from the fixed-setting model of
# scripts/train-meta.sh (its result data/recipe/meta-small.safetensors): training, then
# evaluation. One command; rerun it after a kill and it resumes.
#
#   scripts/train-general.sh            # the result is data/recipe-general/meta-general4.safetensors
#   scripts/train-general.sh --install  # ... then copy it (+ .train.json, .log.jsonl) to models/
#                                       #     as meta-general and meta-small
#
# The shipped model's lineage (docs/experiments.md, "Session 8" and "Session 9"):
#   G1. meta-small's parameters and AdamW state (`--init --init-adam`), its output vocabulary
#       widened with the table tokens (--general > 0 does it), trained on a stream of seed 31
#       in which each sample is drawn in the general setting (vocabularies of 2..10 ints,
#       letters, words or mixed; lengths 2..10; a quarter causal; table lambdas) with
#       probability 0.5 and in the fixed setting otherwise (vocabulary {0..4}, length 5), so
#       that the fixed setting is not forgotten: batch 32, 200 warm-up steps to 3e-4, a cosine
#       to 3e-5 over 5,000 steps, stopped at step 738;
#   G2. the same run resumed with the schedule cut to 4,000 steps, stopped at step 1,025,
#   G3. resumed with it cut to 3,500 steps, stopped at step 1,360, and
#   G4. resumed with it cut to 3,000 steps (the machine was busier than planned; each cut
#       moves the cosine's end so that the lr reaches its floor within the session), run to
#       its end (session 8's shipped model);
#   G5. a new run from G4's parameters and AdamW state (docs/experiments.md, "Session 9"):
#       stream seed 32, general share 0.5, 100 warm-up steps to 2e-4, a cosine to 2e-5 over
#       8,000 steps, stopped at step 1,660 (the shipped run drew no predicate tables before
#       its step 1,517: they did not exist yet; this recipe draws them from the start);
#   G6. resumed with the schedule cut to 6,000 steps, run to its end (session 9's model);
#   G7. a new run from G6's parameters and AdamW state (docs/experiments.md, "Session 12"):
#       stream seed 41, general share 0.3 (more of the fixed setting than before),
#       --dedup-pool 300000, 100 warm-up steps to 2e-4, a cosine to 2e-5 over 6,000 steps,
#       stopped at step 1,008 (the shipped run was stopped there by SIGTERM, which checkpoints
#       as --stop-at does);
#   G8. resumed with the schedule cut to 4,800 steps, run to its end (session 12's model);
#   G9. a new run from G8's parameters and AdamW state (docs/experiments.md, "Session 13"):
#       stream seed 42, general share 0.3, --dedup-pool 300000, 100 warm-up steps to 1e-4, a
#       cosine to 1e-5 over 3,000 steps, run to its end in one piece (the shipped model);
#   E.  itracr eval on 1,000 test samples of data/general777 (`itracr gen -n 50000 --seed 777
#       --setting general`) and of data/heldout777 (`itracr gen -n 60000 --seed 777`), seeds no
#       training step used (the split is a function of the program, so no test program of
#       either is ever streamed). The shipped numbers used session 8's data/general777; this
#       build's `--setting general` also draws predicate tables, so a fresh run makes a
#       slightly different general test set.
# Budget: about 3.5 hours for G1-G6, 1.5 hours for G7-G8 and 1 hour for G9 on the 2 cores of
# the project VM (~0.9-1.4 s per step; generation ~3 min; evaluation ~2 min without --search).
set -euo pipefail
cd "$(dirname "$0")/.."

I=${ITRACR:-build/release/itracr}
D=${RECIPE_DIR:-data/recipe-general}
BASE=${BASE:-data/recipe/meta-small.safetensors} # scripts/train-meta.sh's result
unset OPENBLAS_CORETYPE # see scripts/train-meta.sh: the forced kernel is ~8x slower here
SMOKE=${SMOKE:-0}        # SMOKE=1: 1/100 of the steps and small datasets, to check the recipe
if [ "$SMOKE" = 1 ]; then
    DIV=100 NG=3000 NH=3000 NEVAL=40 CKB=5 GEN=$D/general777 HELD=$D/heldout777
else
    DIV=1 NG=50000 NH=60000 NEVAL=1000 CKB=100 GEN=data/general777 HELD=data/heldout777
fi
RECIPE=train-general HELP_END=45
. scripts/recipe-lib.sh
recipe_args "$@"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

[ -x "$I" ] || make -j2
[ -f "$BASE" ] || { say "no $BASE (scripts/train-meta.sh makes it)"; exit 1; }
mkdir -p "$D"

gen "$GEN" 777 "$NG" --setting general
gen "$HELD" 777 "$NH"

M=$D/meta-general.safetensors
first_piece g1 "$M" "$((738 / DIV))" --stream --general 0.5 --init "$BASE" --init-adam \
    --seed 31 --lr 3e-4 --lr-min 3e-5 --warmup $((200 / DIV)) --steps $((5000 / DIV)) \
    --eval-every 500 --ckpt-every "$CKB"
piece g2 "$D/g2.err" -o "$M" --resume --steps "$((4000 / DIV))" --stop-at "$((1025 / DIV))"
piece g3 "$D/g3.err" -o "$M" --resume --steps "$((3500 / DIV))" --stop-at "$((1360 / DIV))"
piece g4 "$D/g4.err" -o "$M" --resume --steps "$((3000 / DIV))"
G=$M
M=$D/meta-general2.safetensors
first_piece g5 "$M" "$((1660 / DIV))" --stream --general 0.5 --init "$G" --init-adam \
    --seed 32 --lr 2e-4 --lr-min 2e-5 --warmup $((100 / DIV)) --steps $((8000 / DIV)) \
    --eval-every 1000 --ckpt-every "$CKB"
piece g6 "$D/g6.err" -o "$M" --resume --steps "$((6000 / DIV))"
G=$M
M=$D/meta-general3.safetensors
first_piece g7 "$M" "$((1008 / DIV))" --stream --dedup-pool 300000 --general 0.3 --init "$G" \
    --init-adam --seed 41 --lr 2e-4 --lr-min 2e-5 --warmup $((100 / DIV)) --steps $((6000 / DIV)) \
    --eval-every 1000 --ckpt-every "$CKB"
piece g8 "$D/g8.err" -o "$M" --resume --steps "$((4800 / DIV))"
G=$M
M=$D/meta-general4.safetensors
first_piece g9 "$M" "$((3000 / DIV))" --stream --dedup-pool 300000 --general 0.3 --init "$G" \
    --init-adam --seed 42 --lr 1e-4 --lr-min 1e-5 --warmup $((100 / DIV)) --steps $((3000 / DIV)) \
    --eval-every 1000 --ckpt-every "$CKB"

say "evaluating $M on $NEVAL test samples of $GEN and of $HELD"
"$I" eval --data "$GEN" --meta "$M" --n "$NEVAL" --json "$D/eval-general.json" --no-teacher --quiet
"$I" eval --data "$HELD" --meta "$M" --n "$NEVAL" --json "$D/eval-fixed.json" --no-teacher --quiet
if [ "$INSTALL" = 1 ] && [ "$SMOKE" != 1 ]; then
    for s in "" .train.json .log.jsonl; do
        cp "$M$s" "models/meta-general.safetensors$s"
        cp "$M$s" "models/meta-small.safetensors$s"
    done
    say "installed models/meta-general.safetensors and models/meta-small.safetensors (the same model)"
fi
say "done: $M (metrics $D/eval-general.json, $D/eval-fixed.json)"
