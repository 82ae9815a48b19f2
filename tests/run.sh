#!/usr/bin/env bash
# Runs every test binary in $1/tests and every tests/cli/*.sh, then prints the totals as
# "N passed, N failed". Exit status is non-zero when anything failed or nothing ran.
set -u
B=${1:?build dir}
export ITRACR=${ITRACR:-$B/itracr}
passed=0; failed=0; broken=()
run_one() {
    local name=$1; shift
    local out
    out=$("$@" 2> >(sed "s/^/[$name] /" >&2))
    local rc=$?
    local line
    line=$(printf '%s\n' "$out" | grep '^TESTSUM' | tail -n1)
    if [ -z "$line" ]; then
        echo "[$name] crashed or printed no summary (exit $rc)" >&2
        failed=$((failed+1)); broken+=("$name"); return
    fi
    local p f
    p=$(sed -E 's/.*passed=([0-9]+).*/\1/' <<<"$line")
    f=$(sed -E 's/.*failed=([0-9]+).*/\1/' <<<"$line")
    passed=$((passed+p)); failed=$((failed+f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed+1)); broken+=("$name"); fi
    [ "$f" -gt 0 ] && broken+=("$name")
    printf '%-28s %4d passed %4d failed\n' "$name" "$p" "$f"
}
for t in "$B"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for s in tests/cli/*.sh; do
    [ -f "$s" ] || continue
    [ "$(basename "$s")" = lib.sh ] && continue # the scripts' shared preamble, not a test
    run_one "$(basename "$s")" bash "$s"
done
[ ${#broken[@]} -gt 0 ] && echo "failing: ${broken[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
