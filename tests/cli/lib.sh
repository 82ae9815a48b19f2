# The shared preamble of the tests/cli/*.sh scripts; each sources it first:
#     . "$(dirname "$0")/lib.sh"
# (tests/run.sh runs every other tests/cli/*.sh, not this one). It sets
#   I         the itracr binary ($ITRACR, made absolute so that a script may cd)
#   T         a scratch folder, removed on exit (a script that needs more cleanup sets its own
#             EXIT trap, which must remove "$T" too)
#   ok, bad   count a passed / failed check (bad prints its arguments)
#   expect_err NAME WANT_RC STDERR_SUBSTRING -- CMD...   the exit status and the message
#             (stdout goes to $T/out, stderr to $T/err)
#   gen_small DIR N SEED [GEN ARGS]   a small dataset (splits train, test half and half),
#             a failed check when gen fails
#   finish    prints the "TESTSUM passed=P failed=F" line run.sh reads; fails when F > 0
set -u
I=$(realpath "${ITRACR:?path to itracr}")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "  FAIL: $*" >&2; }
expect_err() {
    local name=$1 want_rc=$2 want=$3; shift 4
    "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ "$rc" != "$want_rc" ]; then bad "$name: exit $rc, want $want_rc; stderr: $(head -c 300 "$T/err")"; return; fi
    if ! grep -qF -- "$want" "$T/err"; then bad "$name: stderr '$(head -c 300 "$T/err")' lacks '$want'"; return; fi
    ok
}
gen_small() {
    local d=$1 n=$2 seed=$3; shift 3
    "$I" gen -n "$n" --seed "$seed" -o "$d" --split train=0.5,test=0.5 --quiet "$@" >"$T/gen.log" 2>&1 \
        || bad "gen $*: $(tail -c 400 "$T/gen.log")"
}
finish() {
    echo "TESTSUM passed=$pass failed=$fail"
    [ "$fail" -eq 0 ]
}
