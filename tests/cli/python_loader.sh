#!/usr/bin/env bash
# The numpy/PyTorch loader of model files (python/itracr_model.py, docs/python.md): the 15
# classic programs, compiled by itracr, run in numpy and PyTorch, against Tracr's own outputs
# and `itracr forward`.
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 "$(dirname "$0")/../python/check_loader.py" "$I" "$T" || true
