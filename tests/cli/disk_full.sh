#!/usr/bin/env bash
# Issue 14 item 4: a full disk is an error, never exit 0 with output lost. The training log
# fills a tiny tmpfs when one can be mounted (root); otherwise a file-size limit (ulimit -f,
# with SIGXFSZ ignored so writes fail with EFBIG) stands in for the full disk. Standard
# output is checked with /dev/full.
. "$(dirname "$0")/lib.sh"
MNT=
cleanup() { [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
export OMP_NUM_THREADS=1

if [ -w /dev/full ]; then
    "$I" run examples/reverse.rasp --input "a b c" > /dev/full 2>"$T/err"; rc=$?
    if [ $rc = 1 ] && grep -q "standard output: write failed" "$T/err"; then ok; else bad "run > /dev/full: exit $rc: $(cat "$T/err")"; fi
    cp examples/reverse.rasp "$T/r.rasp"
    (cd "$T" && "$I" compile r.rasp -o - > /dev/full 2>err); rc=$?  # in $T: a binary that
    rm -f -- "$T/-"                                                  # writes a file '-' leaves it there
    [ $rc = 1 ] && ok || bad "compile -o - > /dev/full: exit $rc"
fi

"$I" gen -n 20 -o "$T/d" --quiet --split train=1 || bad "gen failed"
TINY=(--d-model 16 --layers 1 --heads 2 --batch 4 --eval-every 0 --ckpt-every 0 --seed 3 --steps 3000)
mkdir "$T/small"
if mount -t tmpfs -o size=4k tmpfs "$T/small" 2>/dev/null; then
    MNT="$T/small"
    "$I" train --data "$T/d" -o "$T/meta.safetensors" "${TINY[@]}" --log "$T/small/log.jsonl" 2>"$T/err"; rc=$?
else
    ( trap '' XFSZ; ulimit -f 4; exec "$I" train --data "$T/d" -o "$T/meta.safetensors" "${TINY[@]}" --log "$T/small/log.jsonl" ) 2>"$T/err"; rc=$?
fi
if [ $rc = 1 ] && grep -q "log .*write failed" "$T/err"; then ok; else bad "train with a full log disk: exit $rc: $(tail -3 "$T/err")"; fi
finish
