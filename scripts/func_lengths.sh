#!/bin/sh
# Function lengths in lines (signature to closing brace), from Universal Ctags' line/end fields.
#   scripts/func_lengths.sh [DIR...]          the summary (count, median, p90, max) and the
#                                             functions over LIMIT lines (default 150)
#   LIMIT=100 scripts/func_lengths.sh src     another threshold
#   ALL=1 scripts/func_lengths.sh src         every function, longest first
# Needs universal-ctags (scripts/deps.sh installs it).
set -eu
[ $# -gt 0 ] || set -- src
LIMIT=${LIMIT:-150}
find "$@" -name '*.[ch]' | sort | xargs ctags --fields=+ne --c-kinds=f --language-force=C -f - |
awk -F'\t' '{
    line = ""; end = "";
    for (i = 4; i <= NF; i++) {
        if ($i ~ /^line:/) line = substr($i, 6);
        if ($i ~ /^end:/) end = substr($i, 5);
    }
    if (line != "" && end != "") printf "%d\t%s:%s\t%s\n", end - line + 1, $2, line, $1;
}' | sort -k1,1nr -k2,2 > "${TMPDIR:-/tmp}/func_lengths.$$"
f="${TMPDIR:-/tmp}/func_lengths.$$"
n=$(wc -l < "$f")
if [ "${ALL:-0}" = 1 ]; then cat "$f"; fi
sort -n "$f" | awk -v n="$n" -v limit="$LIMIT" '
    { v[NR] = $1 }
    END {
        if (n == 0) { print "no functions"; exit }
        med = v[int((n + 1) / 2)]; p90 = v[int(0.9 * n + 0.999999)]; if (p90 == "") p90 = v[n];
        over = 0; for (i = 1; i <= n; i++) if (v[i] > limit) over++;
        printf "functions %d  median %d  p90 %d  max %d  over %d: %d\n", n, med, p90, v[n], limit, over;
    }'
[ "${ALL:-0}" = 1 ] || awk -v limit="$LIMIT" '$1 > limit' "$f"
rm -f "$f"
