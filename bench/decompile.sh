#!/usr/bin/env bash
# Decompilation benchmark: the shipped meta-model's top-1 (greedy) answer against the verified
# search (`itracr decompile --search K`) on the first N held-out test samples, through
# `itracr eval --search K` (the noise baseline runs through the same search). The named
# baseline is the greedy decode of the same run: ratio_vs_greedy = search median time / greedy
# median time per sample. Prints the load average, wall and CPU seconds of the run, then as its
# last line:
#   top1_exact=… verified_exact=… verified_equiv=… median_ms=… p95_ms=… top1_median_ms=…
#   ratio_vs_greedy=… noise_verified_exact=… (one line)
# DATA defaults to data/meta1, the shipped model's own dataset (`itracr gen -n 120000 --seed 1`,
# generated here when absent); its test split is disjoint from the training split by
# construction. A set drawn with another seed overlaps the training programs (docs/performance.md).
#   usage: bench/decompile.sh [N] [K] [BUDGET_MS] [DATA] [META]   (run from the repository root)
set -euo pipefail
N=${1:-1000}
K=${2:-64}
BUDGET=${3:-0}
DATA=${4:-data/meta1}
META=${5:-models/meta-small.safetensors}
B=${B:-build/release}
JOBS=${JOBS:-$(nproc)}
make -s B="$B" "$B/itracr" >&2
if [ ! -d "$DATA" ]; then
    [ "$DATA" = data/meta1 ] || { echo "no dataset $DATA" >&2; exit 1; }
    echo "generating $DATA (itracr gen -n 120000 --seed 1, as the shipped model's training set) ..." >&2
    "$B/itracr" gen -n 120000 --seed 1 -o "$DATA" --jobs "$JOBS" --quiet >&2
fi
[ -x /usr/bin/time ] || { echo "installing time (Debian) ..." >&2; apt-get install -y time >&2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "load_average=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,) cores=$(nproc) jobs=$JOBS n=$N K=$K budget_ms=$BUDGET data=$DATA" >&2
budget=()
[ "$BUDGET" != 0 ] && budget=(--budget-ms "$BUDGET")
t0=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$tmp/time" "$B/itracr" eval --data "$DATA" --meta "$META" --n "$N" --search "$K" \
    "${budget[@]}" --no-teacher --no-classics --jobs "$JOBS" --quiet --json "$tmp/m.json" > "$tmp/out"
t1=$(date +%s.%N)
cat "$tmp/out" >&2
awk -v a="$t0" -v b="$t1" '{ printf "wall_s=%.1f cpu_s=%.1f\n", b - a, $1 + $2 }' "$tmp/time" >&2
# one JSON member: "key": number, the first after the given object key ("" for the top)
num() {
    local j
    j=$(tr -d '\n' < "$tmp/m.json")
    [ -n "$1" ] && j=${j#*\"$1\": }
    j=${j#*\"$2\": }
    echo "${j%%[,\}]*}"
}
top1=$(num headline exact)
vexact=$(num verified exact)
vequiv=$(num verified equivalent)
med=$(num verified median_ms)
p95=$(num verified p95_ms)
tmed=$(num verified top1_median_ms)
nexact=$(j=$(tr -d '\n' < "$tmp/m.json"); j=${j#*\"verified\": }; j=${j#*\"noise\": }; j=${j#*\"exact\": }; echo "${j%%[,\}]*}")
awk -v a="$top1" -v b="$vexact" -v c="$vequiv" -v m="$med" -v p="$p95" -v t="$tmed" -v ne="$nexact" \
    'BEGIN { printf "top1_exact=%s verified_exact=%s verified_equiv=%s median_ms=%s p95_ms=%s top1_median_ms=%s ratio_vs_greedy=%.2f noise_verified_exact=%s\n", a, b, c, m, p, t, (t > 0 ? m / t : 0), ne }'
