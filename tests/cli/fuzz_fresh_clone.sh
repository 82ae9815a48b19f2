#!/usr/bin/env bash
# Issue 14 item 9: `make fuzz-safetensors` works from a fresh clone (its seeds used to live
# in a folder git ignores). Copies the files git would clone into a scratch folder and runs
# the target for 2 seconds. Runs once, in the release pass of `make check` (it builds its
# own sanitizer binaries, so the san pass would only repeat it), and needs clang.
set -u
pass=0; fail=0
case "${ITRACR:-}" in */san/*) echo "fuzz_fresh_clone: covered by the release pass"; echo "TESTSUM passed=0 failed=0"; exit 0 ;; esac
if ! command -v clang >/dev/null; then echo "fuzz_fresh_clone: no clang (scripts/deps.sh installs it)" >&2; echo "TESTSUM passed=0 failed=1"; exit 1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
git ls-files -co --exclude-standard | grep -v '^build/' | tar cf - -T - | tar xf - -C "$T"
if (cd "$T" && nice make fuzz-safetensors FUZZ_SECONDS=2 >"$T/log" 2>&1) && grep -q "Done [0-9]* runs" "$T/log"; then
    pass=$((pass+1))
else
    fail=$((fail+1)); echo "  FAIL: make fuzz-safetensors in a fresh copy: $(tail -5 "$T/log")" >&2
fi
echo "TESTSUM passed=$pass failed=$fail"
[ "$fail" -eq 0 ]
