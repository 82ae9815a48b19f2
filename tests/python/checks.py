"""The tally the Python checkers share (check_fmt_tracr.py, check_loader.py): check() counts a
passed or a failed check and prints the failure; summary() prints the last line,
"TESTSUM passed=N failed=N", which tests/run.sh reads."""

passed = 0
failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def summary():
    print(f"TESTSUM passed={passed} failed={failed}")
