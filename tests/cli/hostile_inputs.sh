#!/usr/bin/env bash
# Issue 14 items 7-9: what a careless or hostile user types gets a clear error, never a
# silently different answer or unbounded work.
set -u
I=${ITRACR:?path to itracr}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "  FAIL: $*" >&2; }
expect_err() { # NAME WANT_RC STDERR_SUBSTRING -- CMD...
    local name=$1 want_rc=$2 want=$3; shift 4
    "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ "$rc" != "$want_rc" ]; then bad "$name: exit $rc, want $want_rc; stderr: $(head -c 300 "$T/err")"; return; fi
    if ! grep -qF -- "$want" "$T/err"; then bad "$name: stderr '$(head -c 300 "$T/err")' lacks '$want'"; return; fi
    ok
}
E=examples
export OMP_NUM_THREADS=1

# item 8: run refuses what forward refuses, and says why
"$I" compile $E/reverse.rasp -o "$T/rev.safetensors" >/dev/null 2>&1 || bad "compile reverse"
for cmd in run forward; do
    src=$E/reverse.rasp; [ $cmd = forward ] && src="$T/rev.safetensors"
    expect_err $cmd-oov 1 "not in the" -- "$I" $cmd "$src" --input "a z"
    expect_err $cmd-bos 1 "not in the" -- "$I" $cmd "$src" --input "a BOS"
    expect_err $cmd-too-long 1 "max_seq_len" -- "$I" $cmd "$src" --input "a b c d a b c d a b c d"
done
expect_err run-huge-int 1 "read as 1e+23" -- "$I" run $E/sort.rasp --input "1 99999999999999999999999"
echo "TESTSUM passed=$pass failed=$fail"
[ "$fail" -eq 0 ]
