"""Runs what `itracr fmt --tracr` writes for the 15 classic programs against a stand-in of
Tracr's rasp module (tests/python/mock_tracr) and compares its evaluation with the outputs of
Tracr's own RASP evaluator stored in tests/fixtures/tracr (`eval`).

usage: check_fmt_tracr.py ITRACR
Prints one line per failure and, last, "TESTSUM passed=N failed=N".
"""
import contextlib
import glob
import io
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "mock_tracr"))
from tracr.compiler import compiling  # noqa: E402
from tracr.rasp import rasp  # noqa: E402
from checks import check, summary  # noqa: E402

itracr = sys.argv[1]


def same(a, b):
    if a is None or b is None:
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= 1e-6 + 1e-6 * abs(b)
    return a == b


fixtures = sorted(glob.glob(os.path.join(HERE, "..", "fixtures", "tracr", "*.json")))
check(len(fixtures) == 15, f"expected 15 fixtures, found {len(fixtures)}")
for fx in fixtures:
    d = json.load(open(fx))
    name = d["name"]
    r = subprocess.run([itracr, "fmt", "--tracr", fx[:-5] + ".rasp"], capture_output=True, text=True)
    check(r.returncode == 0, f"{name}: fmt --tracr failed: {r.stderr[-300:]}")
    if r.returncode:
        continue
    ns = {"__name__": "fmt_tracr_check"}
    exec(compile(r.stdout, name + ".py", "exec"), ns)
    program = ns["program"]
    check(program.label == d["output"]["name"], f"{name}: program is {program.label}, want {d['output']['name']}")
    for i, case in enumerate(d["cases"]):
        if case.get("eval_error") is not None or "eval" not in case:
            continue
        try:
            got = rasp.evaluate(program, case["input"])
        except Exception as e:  # noqa: BLE001
            got = f"raised {e}"
        ok = isinstance(got, list) and len(got) == len(case["eval"]) and all(map(same, got, case["eval"]))
        check(ok, f"{name} case {i}: {got} != Tracr's evaluation {case['eval']}")
    # The script's own main block: compile call with the file's settings, then a run.
    words = [str(t) for t in d["cases"][0]["input"]]
    compiling.calls.clear()
    old_argv, sys.argv = sys.argv, [name + ".py"] + words
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            exec(compile(r.stdout, name + ".py", "exec"), {"__name__": "__main__"})
    finally:
        sys.argv = old_argv
    kw = compiling.calls[0][1] if compiling.calls else {}
    check(kw.get("max_seq_len") == d["max_seq_len"] and sorted(map(str, kw.get("vocab", []))) == sorted(map(str, d["vocab"]))
          and kw.get("causal", False) == d["causal"], f"{name}: compile call {kw}")
    check(out.getvalue().startswith("model:"), f"{name}: main block printed {out.getvalue()[:200]!r}")

summary()
