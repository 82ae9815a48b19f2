#!/usr/bin/env bash
# itracr gen with per-program settings: the fixed default and its spelling as one-point
# ranges write the same bytes; drawn settings are stored and `dataset stats` shows them;
# same seed, same bytes; bad setting flags are usage errors.
. "$(dirname "$0")/lib.sh"
same_dirs() { # A B: every file of A equal in B
    local f
    for f in $(cd "$1" && find . -type f | sort); do cmp -s "$1/$f" "$2/$f" || return 1; done
}

"$I" gen -n 80 -o "$T/fixed" --seed 4 --quiet --no-exclude || bad "gen (fixed default) failed"
"$I" gen -n 80 -o "$T/point" --seed 4 --quiet --no-exclude --vocab-size 5 --max-seq-len 5 \
    --vocab-kind int --causal 0 || bad "gen (one-point ranges) failed"
if same_dirs "$T/fixed" "$T/point"; then ok; else bad "one-point ranges differ from the fixed default"; fi

"$I" gen -n 120 -o "$T/g1" --seed 4 --quiet --no-exclude --setting general || bad "gen --setting general failed"
"$I" gen -n 120 -o "$T/g2" --seed 4 --quiet --no-exclude --setting general --jobs 2 || bad "gen --jobs 2 failed"
if same_dirs "$T/g1" "$T/g2"; then ok; else bad "drawn settings: --jobs 2 differs from --jobs 1"; fi
if grep -q '"setting":{"vocab_size":\[2,10\]' "$T/g1/manifest.json"; then ok; else bad "manifest lacks the setting ranges"; fi
grep -q '"setting"' "$T/fixed/manifest.json" && bad "fixed manifest names a setting" || ok

"$I" dataset stats "$T/g1" > "$T/stats" || bad "dataset stats failed"
for want in "vocabulary size: min 2" "max_seq_len: min 2" "  letters " "  words " "  mixed " "  int " "causal: " "encodings"; do
    if grep -qF -- "$want" "$T/stats"; then ok; else bad "stats lack '$want'"; fi
done
"$I" dataset stats "$T/fixed" > "$T/stats0" || bad "dataset stats (fixed) failed"
if grep -qF "fixed (int)" "$T/stats0" && grep -qF "vocabulary size: min 5  median 5  mean 5.0  max 5" "$T/stats0"; then ok; else bad "fixed stats"; fi

"$I" gen -n 30 -o "$T/narrow" --seed 2 --quiet --no-exclude --vocab-size 3-4 --vocab-kind words \
    --max-seq-len 7-8 --causal 1 || bad "gen narrow failed"
"$I" dataset stats "$T/narrow" > "$T/stats2"
if grep -qF "vocabulary size: min 3" "$T/stats2" && grep -qF "max 4" "$T/stats2" && grep -qF "max_seq_len: min 7" "$T/stats2" \
   && grep -qF "causal: 30 (100.0%)" "$T/stats2" && grep -qE "^  words +30 " "$T/stats2"; then ok; else bad "narrow ranges: $(head -30 "$T/stats2")"; fi

for args in "--vocab-size 0-3" "--vocab-size 5-2" "--vocab-kind floats" "--causal 2" "--setting odd" \
            "--max-seq-len 0-4" "--vocab 0,1 --setting general" "--vocab-size 2-30 --vocab-kind letters"; do
    # shellcheck disable=SC2086
    "$I" gen -n 5 -o "$T/bad" --quiet $args 2>/dev/null; rc=$?
    if [ "$rc" = 2 ]; then ok; else bad "gen $args: exit $rc, want 2"; fi
done
finish
