#!/usr/bin/env bash
# The BERT-shaped experiment of issue 13 (docs/bert.md, docs/experiments.md): trains a small
# post-LN BERT encoder from scratch on each task's input/output pairs, reports its accuracy,
# and decompiles it with the shipped meta-model (--search K) through the adapter; for
# reference, the same search on the Tracr-compiled model of the same task.
#   scripts/bert_experiment.sh [OUT_DIR]        (default: a fresh folder under /tmp)
# Environment: STEPS (3000), SEARCH (256), SEED (1), TASKS ("reverse sort hist").
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-$(mktemp -d /tmp/itracr_bert_XXXXXX)}
STEPS=${STEPS:-3000} SEARCH=${SEARCH:-256} SEED=${SEED:-1}
TASKS=${TASKS:-reverse sort hist}
META=models/meta-small.safetensors
mkdir -p "$OUT"
make -j2 build/release/itracr >/dev/null
I=build/release/itracr
# small enough that the adapted encoder's weight tokens fit the meta-model's 320-token prefix
ARCH=(--layers 2 --hidden 16 --heads 2 --intermediate 32)
verdict() { grep -E '^verified:' "$1" | sed -E 's/ \(candidate.*//' || echo "error: $(tail -n1 "$1")"; }
rows=()
for t in $TASKS; do
    task=examples/$t.rasp
    [ -f "$task" ] || { echo "missing $task" >&2; exit 1; }
    enc=$OUT/$t.bert.safetensors
    "$I" bert train --task "$task" -o "$enc" --force "${ARCH[@]}" --steps "$STEPS" --seed "$SEED" \
        --quiet >"$OUT/$t.train.txt"
    pos=$(sed -nE 's/^position accuracy: ([0-9.]+%).*/\1/p' "$OUT/$t.train.txt")
    seq=$(sed -nE 's/^sequence accuracy: ([0-9.]+%).*/\1/p' "$OUT/$t.train.txt")
    params=$(sed -nE 's/.* ([0-9]+) parameters.*/\1/p' "$OUT/$t.train.txt")
    secs=$(sed -nE 's/.*, ([0-9.]+) s$/\1/p' "$OUT/$t.train.txt")
    "$I" decompile "$enc" --meta "$META" --search "$SEARCH" --seed "$SEED" \
        >"$OUT/$t.bert.rasp" 2>"$OUT/$t.bert.decompile.txt" || true
    "$I" compile "$task" -o "$OUT/$t.model.safetensors" --force >/dev/null 2>&1
    "$I" decompile "$OUT/$t.model.safetensors" --meta "$META" --method meta --search "$SEARCH" \
        --seed "$SEED" >"$OUT/$t.model.rasp" 2>"$OUT/$t.model.decompile.txt" || true
    rows+=("| $t | $params | $secs s | $pos | $seq | $(verdict "$OUT/$t.bert.decompile.txt") | $(verdict "$OUT/$t.model.decompile.txt") |")
done
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "encoder: ${ARCH[*]}, $STEPS steps, seed $SEED; decompile --search $SEARCH with $META"
echo
echo "| task | parameters | training | position acc. | sequence acc. | decompile of the encoder | decompile of Tracr's compiled model (--method meta) |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "files: $OUT"
