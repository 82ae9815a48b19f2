"""Checks python/itracr_model.py (numpy and PyTorch) against Tracr's own outputs and against
`itracr forward`, on the 15 classic programs of tests/fixtures/tracr.

usage: check_loader.py ITRACR WORKDIR
Prints one line per failure and, last, "TESTSUM passed=N failed=N".
"""
import glob
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import itracr_model  # noqa: E402
from checks import check, summary  # noqa: E402

itracr, work = sys.argv[1], sys.argv[2]


def same(got, want, numerical):
    if len(got) != len(want):
        return False
    if not numerical:
        return all(g == w for g, w in zip(got, want))
    return all(abs(g - w) <= 1e-5 + 1e-4 * abs(w) for g, w in zip(got, want))


try:
    import torch
except ImportError:
    torch = None
check(torch is not None, "PyTorch is not importable (scripts/deps.sh installs python3-torch)")

fixtures = sorted(glob.glob(os.path.join(HERE, "..", "fixtures", "tracr", "*.json")))
check(len(fixtures) == 15, f"expected 15 fixtures, found {len(fixtures)}")
for fx in fixtures:
    d = json.load(open(fx))
    name = d["name"]
    path = os.path.join(work, name + ".safetensors")
    r = subprocess.run([itracr, "compile", fx[:-5] + ".rasp", "-o", path], capture_output=True, text=True)
    check(r.returncode == 0, f"{name}: itracr compile failed: {r.stderr[-300:]}")
    if r.returncode:
        continue
    m = itracr_model.load(path)
    net = m.to_torch() if torch is not None else None
    for i, case in enumerate(d["cases"]):
        if "model" not in case:
            continue
        want = case["model"]
        got = m.run(case["input"])
        # Tracr's outputs are the independent reference for the numpy forward pass.
        check(same(got, want, m.numerical), f"{name} case {i} numpy: {got} != Tracr's {want}")
        if net is not None:
            with torch.no_grad():
                cols = net(torch.tensor(m.encode(case["input"])[None]))[0].numpy()
            check(same(m.decode(cols[1:]), want, m.numerical), f"{name} case {i} torch: differs from Tracr's {want}")
        if i < 3:  # and against the C forward pass, through the CLI
            text = " ".join(str(t) for t in case["input"])
            r = subprocess.run([itracr, "forward", path, "--input", text, "--json"], capture_output=True, text=True)
            c_out = json.loads(r.stdout) if r.returncode == 0 else None
            check(c_out is not None and same(got, c_out, m.numerical), f"{name} case {i}: numpy {got} != itracr forward {c_out}")
    # A file that is not an itracr model is refused with a clear error, not misread.
    bad = os.path.join(work, name + ".bad")
    with open(path, "rb") as f:
        data = f.read()
    with open(bad, "wb") as f:
        f.write(data[:100])
    try:
        itracr_model.load(bad)
        check(False, f"{name}: truncated file loaded")
    except itracr_model.FormatError:
        check(True, "")

summary()
