#!/usr/bin/env bash
# Renders the evaluation report in a real browser (headless Debian Chromium) and checks that
# the page loads without errors and shows its tables, charts and headline numbers; renders a
# real `itracr eval` report (models/meta-small.safetensors on a small dataset generated here)
# and measures in the browser that nothing overflows horizontally and that every float is the
# shortest text that reads back; also checks `itracr report` (training curves as SVG). Prints
# "TESTSUM passed=P failed=F" last.
#
# Needs $ITRACR (the itracr binary); the synthetic report comes from the test binary next to it
# ($(dirname $ITRACR)/tests/test_report --emit-html). Chromium is installed with apt-get when
# missing. ITRACR_SKIP_BROWSER=1 skips the browser part (reported on stderr, not counted).
. "$(dirname "$0")/../cli/lib.sh"
B=$(dirname "$I")
check() { # NAME CONDITION-COMMAND...
    local name=$1; shift
    if "$@"; then ok; else bad "$name"; fi
}

# ---- itracr report: curves alone ------------------------------------------------------
cat > "$T/train.jsonl" <<'LOG'
{"step": 0, "loss": 4.2, "lr": 0.0}
{"step": 100, "loss": 2.1, "lr": 0.0003, "val_token_acc": 0.5, "val_exact": 0.01}
this line is broken
{"step": 200, "loss": 1.0, "lr": 0.0006}
{"step": 300, "loss": 0.6, "lr": 0.0005, "val_token_acc": 0.8, "val_exact": 0.2}
{"loss": 0.5}
LOG
"$I" report --log "$T/train.jsonl" -o "$T/curves.svg" 2>"$T/err"; rc=$?
check "report exits 0 on a log with bad lines (got $rc)" [ "$rc" = 0 ]
check "report warns about the 2 bad lines: $(cat "$T/err")" grep -q "skipped 2 malformed lines (the first is line 3)" "$T/err"
check "curves.svg is an SVG document" grep -q '<svg xmlns="http://www.w3.org/2000/svg"' "$T/curves.svg"
check "curves.svg has 4 curves" [ "$(grep -o 'class="curve"' "$T/curves.svg" | wc -l)" = 4 ]
"$I" report --log "$T/missing.jsonl" -o "$T/x.svg" 2>"$T/err"; rc=$?
check "missing log: exit 1 (got $rc)" [ "$rc" = 1 ]
check "missing log: message names the file" grep -q "missing.jsonl" "$T/err"
check "missing log: no output file" [ ! -e "$T/x.svg" ]
printf 'nonsense\n[1,2]\n' > "$T/bad.jsonl"
"$I" report --log "$T/bad.jsonl" -o "$T/x.svg" 2>"$T/err"; rc=$?
check "malformed log: exit 1 (got $rc)" [ "$rc" = 1 ]
check "malformed log: says why" grep -q "no valid record" "$T/err"
"$I" report -o "$T/x.svg" 2>/dev/null; rc=$?
check "report without --log: usage error (got $rc)" [ "$rc" = 2 ]
"$I" report --help >"$T/out"; rc=$?
check "report --help" [ "$rc" = 0 ]
check "report --help text" grep -q "usage: itracr report" "$T/out"

# ---- the HTML report in Chromium --------------------------------------------------------
if [ ! -x "$B/tests/test_report" ]; then
    bad "no $B/tests/test_report (build the tests first)"
    echo "TESTSUM passed=$pass failed=$fail"; exit 1
fi
"$B/tests/test_report" --emit-html "$T/report.html" || bad "could not write the synthetic report"

# a real report: a tiny dataset and the shipped meta-model (a few seconds)
META="$(dirname "$0")/../../models/meta-small.safetensors"
REAL=0
if [ -f "$META" ]; then
    "$I" gen -n 30 --seed 5 -o "$T/gen" >"$T/gen.out" 2>&1 &&
        "$I" eval --data "$T/gen" --meta "$META" --n 8 --split train --jobs 1 --seed 1 \
            -o "$T/real.html" >"$T/eval.out" 2>&1 && REAL=1
    check "itracr eval writes a real report: $(tail -3 "$T/eval.out" 2>/dev/null)" [ "$REAL" = 1 ]
else
    echo "report_browser: no $META: the real-report checks are skipped" >&2
fi

# Measures a report in the browser: a copy of the page gets a script that writes, into a
# <pre id="probe">, the page's and the settings section's scrollWidth and clientWidth (at a
# 1000-pixel window, narrower than the page's 1240-pixel main column) and every float in the
# page's text that is longer than the shortest text of the same double (so also any with more
# than 17 significant digits).
check_layout() { # REPORT NAME
    local f=$1 name=$2
    sed 's|</body>|<script>(function(){var o=[],de=document.documentElement,s=document.getElementById("settings");o.push("page "+de.scrollWidth+" "+de.clientWidth);o.push("settings "+(s?s.scrollWidth:-1)+" "+(s?s.clientWidth:-1));function sig(x){x=x.replace(/^-/,"").toLowerCase().split("e")[0].replace(".","").replace(/^0+/,"").replace(/0+$/,"");return Math.max(x.length,1);}var re=/-?[0-9]+[.][0-9]+(?:[eE][-+]?[0-9]+)?/g,t=document.body.innerText,m,b=[],n=0;while((m=re.exec(t))){n++;var v=String(parseFloat(m[0]));if(sig(m[0])>sig(v)\|\|sig(m[0])>17)b.push(m[0]);}o.push("floats "+n+" long "+b.length+" "+b.slice(0,5).join(" "));var p=document.createElement("pre");p.id="probe";p.textContent=o.join("\\n");document.body.appendChild(p);})();</script></body>|' \
        "$f" > "${f%.html}.probe.html"
    timeout 120 "$CH" "${FLAGS[@]}" --user-data-dir="$(mktemp -d -p "$T")" --window-size=1000,2000 \
        --dump-dom "file://${f%.html}.probe.html" >"$T/$name.probe.dom" 2>"$T/$name.probe.log"
    local probe
    probe=$(tr '\n' '\a' <"$T/$name.probe.dom" | sed 's/.*<pre id="probe">//; s/<\/pre>.*//' | tr '\a' '\n')
    read -r _ psw pcw < <(grep '^page ' <<<"$probe")
    read -r _ ssw scw < <(grep '^settings ' <<<"$probe")
    read -r _ nfl _ nlong rest < <(grep '^floats ' <<<"$probe")
    local page_ok=0 set_ok=0 fl_ok=0
    [ -n "${psw:-}" ] && [ -n "${pcw:-}" ] && [ "$psw" -le "$pcw" ] && page_ok=1
    [ -n "${ssw:-}" ] && [ -n "${scw:-}" ] && [ "$ssw" -gt 0 ] && [ "$ssw" -le "$scw" ] && set_ok=1
    [ -n "${nlong:-}" ] && [ "$nlong" = 0 ] && [ "${nfl:-0}" -gt 0 ] && fl_ok=1
    check "$name report: the page overflows horizontally (scrollWidth ${psw:-?}, clientWidth ${pcw:-?})" [ $page_ok = 1 ]
    check "$name report: the settings table overflows its section (scrollWidth ${ssw:-?}, clientWidth ${scw:-?})" [ $set_ok = 1 ]
    check "$name report: floats not in their shortest form (${nlong:-?} of ${nfl:-?}): ${rest:-}" [ $fl_ok = 1 ]
}

find_chromium() { command -v chromium || command -v chromium-browser || true; }
CH=$(find_chromium)
if [ -z "$CH" ] && [ "${ITRACR_SKIP_BROWSER:-0}" != 1 ]; then
    echo "report_browser: installing chromium with apt-get" >&2
    SUDO=; [ "$(id -u)" != 0 ] && command -v sudo >/dev/null && SUDO="sudo -n"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } \
        >"$T/apt.log" 2>&1 || { tail -5 "$T/apt.log" >&2; }
    CH=$(find_chromium)
fi
if [ "${ITRACR_SKIP_BROWSER:-0}" = 1 ]; then
    echo "report_browser: ITRACR_SKIP_BROWSER=1: browser checks skipped" >&2
elif [ -z "$CH" ]; then
    bad "chromium is not installed and apt-get could not install it"
else
    FLAGS=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
           --disable-background-networking --disable-component-update --disable-sync
           --enable-logging=stderr --v=0)
    URL="file://$T/report.html"
    timeout 120 "$CH" "${FLAGS[@]}" --user-data-dir="$(mktemp -d -p "$T")" --dump-dom "$URL" \
        >"$T/dom.html" 2>"$T/dom.log"; rc=$?
    check "chromium --dump-dom exits 0 (got $rc): $(tail -3 "$T/dom.log")" [ "$rc" = 0 ]
    timeout 120 "$CH" "${FLAGS[@]}" --user-data-dir="$(mktemp -d -p "$T")" --hide-scrollbars \
        --window-size=1280,2400 --screenshot="$T/shot.png" "$URL" >"$T/shot.out" 2>"$T/shot.log"; rc=$?
    check "chromium --screenshot exits 0 (got $rc)" [ "$rc" = 0 ]
    # page errors: console messages (the page has no script, so any is a problem), uncaught
    # exceptions, failed resource loads
    cat "$T/dom.log" "$T/shot.log" > "$T/all.log"
    if grep -E 'CONSOLE|Uncaught|net::ERR_|Failed to load resource|Refused to' "$T/all.log" >"$T/page_errors"; then
        bad "the page logged errors: $(head -5 "$T/page_errors")"
    else ok; fi
    D="$T/dom.html"
    check "DOM: parsed page has the headline section" grep -q '<section id="headline">' "$D"
    n_src=$(grep -o '<table class="prog">' "$T/report.html" | wc -l)
    n_dom=$(grep -o '<table class="prog">' "$D" | wc -l)
    check "DOM: program tables ($n_dom of $n_src)" [ "$n_dom" -ge 4 ] && [ "$n_dom" = "$n_src" ]
    check "DOM: wrong cells highlighted" grep -q '<td class="bad">' "$D"
    check "DOM: metric table" grep -q '<table id="metrics">' "$D"
    check "DOM: headline numbers" grep -Eq '<div class="big">[0-9]+\.[0-9]%</div>' "$D"
    n_svg=$(grep -o '<svg' "$D" | wc -l)
    check "DOM: charts ($n_svg svg elements)" [ "$n_svg" -ge 8 ]
    check "DOM: bars" grep -q '<rect class="bar"' "$D"
    check "DOM: curves" grep -q '<path class="curve"' "$D"
    check "DOM: classic programs" grep -q '<table id="classic-table">' "$D"
    check "DOM: settings" grep -q '<table id="settings-table">' "$D"
    check "DOM: escaped text stays text" grep -q '&lt;script&gt;' "$D"
    check "DOM: no script element" bash -c "! grep -q '<script' '$D'"
    # a real, non-blank PNG
    if [ -s "$T/shot.png" ] && [ "$(head -c 8 "$T/shot.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
        ok
        size=$(stat -c %s "$T/shot.png")
        check "screenshot is not blank ($size bytes)" [ "$size" -gt 40000 ]
    else
        bad "no PNG screenshot"
    fi
    [ -n "${REPORT_SHOT:-}" ] && cp "$T/shot.png" "$REPORT_SHOT" && cp "$T/report.html" "${REPORT_SHOT%.png}.html"
    [ "$REAL" = 1 ] && check_layout "$T/real.html" real
    check_layout "$T/report.html" synthetic
fi
finish
