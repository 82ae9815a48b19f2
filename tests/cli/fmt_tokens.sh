#!/usr/bin/env bash
# `itracr fmt PROG --tokens`: the program-token table of a classic with a lambda predicate
# (shift_by: a predicate table, q == k + 1 over indices 0..4, key-major), one whose float keys
# are written as their ranks (sort: x + i/5 over 4 tokens and 5 indices, ranks 0..19), and a
# refusal with the reason for the one classic without a token form (shuffle_dyck2: its tables'
# values do not fit the cells after the END row).
. "$(dirname "$0")/lib.sh"
F=tests/fixtures/tracr
if "$I" fmt "$F/shift_by.rasp" --tokens >"$T/out" 2>"$T/err"; then ok; else bad "fmt --tokens shift_by: $(cat "$T/err")"; fi
cat >"$T/want" <<'W'
START START START START START START
Select - table indices indices v1
Aggregate cat - v1 tokens v2
END END END END END END
False True False False False False False True False False False False False True False False False False False True False False False False False END
W
cmp -s "$T/out" "$T/want" && ok || bad "shift_by tokens: $(cat "$T/out")"
"$I" fmt "$F/sort.rasp" --tokens >"$T/out" 2>"$T/err" || bad "fmt --tokens sort: $(cat "$T/err")"
cat >"$T/want" <<'W'
START START START START START START
SequenceMap cat table tokens indices v1
Select - LT v1 v1 v2
SelectorWidth cat - v2 - v3
Select - EQ v3 indices v4
Aggregate cat - v4 tokens v5
END END END END END END
0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 END
W
cmp -s "$T/out" "$T/want" && ok || bad "sort tokens: $(cat "$T/out")"
expect_err "shuffle_dyck2 has no token form" 1 \
    "no token form: the tables' values do not fit after the END row (27 rows)" -- \
    "$I" fmt "$F/shuffle_dyck2.rasp" --tokens
expect_err "--tracr with --tokens" 2 "exclude each other" -- "$I" fmt "$F/sort.rasp" --tokens --tracr
# the plain form is unchanged by the option parser
"$I" fmt "$F/shift_by.rasp" >"$T/plain" 2>"$T/err" && grep -q '^output shift_by$' "$T/plain" && ok \
    || bad "fmt: $(cat "$T/err") $(head -c 200 "$T/plain")"
finish
