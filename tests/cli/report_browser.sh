#!/usr/bin/env bash
# The evaluation report in headless Chromium, and `itracr report` (tests/browser/check_report.sh).
exec bash "$(dirname "$0")/../browser/check_report.sh" "$@"
