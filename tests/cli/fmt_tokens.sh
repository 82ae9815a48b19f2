#!/usr/bin/env bash
# `itracr fmt PROG --tokens`: the program-token table of a classic with a lambda predicate
# (shift_by: a predicate table, q == k + 1 over indices 0..4, key-major) and a refusal with
# the reason for a classic without a token form (sort: a float table value).
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
expect_err "sort has no token form" 1 "no token form: keys: table value 1.0 has no value token" -- \
    "$I" fmt "$F/sort.rasp" --tokens
expect_err "--tracr with --tokens" 2 "exclude each other" -- "$I" fmt "$F/sort.rasp" --tokens --tracr
# the plain form is unchanged by the option parser
"$I" fmt "$F/shift_by.rasp" >"$T/plain" 2>"$T/err" && grep -q '^output shift_by$' "$T/plain" && ok \
    || bad "fmt: $(cat "$T/err") $(head -c 200 "$T/plain")"
finish
