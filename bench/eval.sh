#!/usr/bin/env bash
# Evaluation-speed benchmark: `itracr eval` of the shipped first model on the first N test
# samples of DATA (default 1000 of data/meta1: `itracr gen -n 120000 -o data/meta1 --jobs 2`),
# everything on (decoded, teacher-forced, noise baseline, functional checks, classic
# programs, HTML report), first with one job (the named baseline, baseline=jobs1), then with
# every core. Prints the load average, the OpenBLAS kernel, each run's wall and CPU seconds.
# Last line: eval_n=N wall_s=X baseline_jobs1_wall_s=Y ratio_vs_baseline=Z
#   usage: bench/eval.sh [N] [DATA] [META]      (run from the repository root)
set -euo pipefail
N=${1:-1000}
DATA=${2:-data/meta1}
META=${3:-models/meta-small.safetensors}
B=${B:-build/release}
make -s B="$B" "$B/itracr" >&2
[ -d "$DATA" ] || { echo "no dataset $DATA (itracr gen -n 120000 -o $DATA --jobs 2)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "load_average=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,) openblas_coretype=${OPENBLAS_CORETYPE:-auto} cores=$(nproc)"
run() { # $1: label, rest: extra flags; prints "wall cpu"
    local label=$1
    shift
    local t0 t1 c
    t0=$(date +%s.%N)
    /usr/bin/time -f "%U %S" -o "$tmp/time" "$B/itracr" eval --data "$DATA" --meta "$META" --n "$N" \
        -o "$tmp/report.html" --json "$tmp/m.json" --quiet "$@" > "$tmp/$label.out"
    t1=$(date +%s.%N)
    c=$(awk '{ printf "%.1f", $1 + $2 }' "$tmp/time")
    awk -v a="$t0" -v b="$t1" -v c="$c" -v l="$label" 'BEGIN { printf "%s wall_s=%.1f cpu_s=%s\n", l, b - a, c }' >&2
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }'
}
[ -x /usr/bin/time ] || { echo "installing time (Debian) ..." >&2; apt-get install -y time >&2; }
base=$(run jobs1 --jobs 1)
full=$(run jobs_all)
head -4 "$tmp/jobs_all.out" >&2
awk -v n="$N" -v f="$full" -v b="$base" 'BEGIN { printf "eval_n=%s wall_s=%s baseline_jobs1_wall_s=%s ratio_vs_baseline=%.2f\n", n, f, b, b / f }'
