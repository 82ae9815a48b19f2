#!/usr/bin/env bash
# Train-speed benchmark: the same meta-model config trained for STEPS steps (default 10) on
# THREADS threads (default 2) in itracr (bench/train.c) and in PyTorch (bench/train_torch.py).
# Last line: itracr_tok_s=X torch_tok_s=Y ratio=Z gflops=G peak_gflops=P
#   usage: bench/train.sh [steps] [threads]      (run from the repository root)
set -euo pipefail
STEPS=${1:-10}
THREADS=${2:-2}
B=${B:-build/release}
if [ -n "${LIB_DIRS:-}" ]; then make -s B="$B" LIB_DIRS="$LIB_DIRS" "$B/bench/train" >&2; else make -s B="$B" "$B/bench/train" >&2; fi
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "installing python3-torch (Debian) ..." >&2
    apt-get install -y python3-torch >&2
fi
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
it=$("$B/bench/train" "$STEPS" "$THREADS")
echo "$it"
tt=$(/usr/bin/python3 bench/train_torch.py "$STEPS" "$THREADS")
echo "$tt"
itok=$(sed -n 's/.*itracr_tok_s=\([0-9.]*\).*/\1/p' <<<"$it")
gfl=$(sed -n 's/.* gflops=\([0-9.]*\).*/\1/p' <<<"$it")
peak=$(sed -n 's/.*peak_gflops=\([0-9.]*\).*/\1/p' <<<"$it")
ttok=$(sed -n 's/.*torch_tok_s=\([0-9.]*\).*/\1/p' <<<"$tt")
ratio=$(awk -v a="$itok" -v b="$ttok" 'BEGIN { printf "%.2f", a / b }')
echo "itracr_tok_s=$itok torch_tok_s=$ttok ratio=$ratio gflops=$gfl peak_gflops=$peak"
