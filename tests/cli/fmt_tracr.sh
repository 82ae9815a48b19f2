#!/usr/bin/env bash
# `itracr fmt --tracr`: the Python it writes for the 15 classic programs runs against a
# stand-in of Tracr's rasp module and evaluates as Tracr's own evaluator did (fixtures).
set -u
I=${ITRACR:?path to itracr}
/usr/bin/python3 "$(dirname "$0")/../python/check_fmt_tracr.py" "$I" || true
