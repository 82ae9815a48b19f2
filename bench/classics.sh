#!/usr/bin/env bash
# The 15 classic programs (examples/*.rasp), each compiled at its own vocabulary and
# max_seq_len, then decompiled from the weights alone, twice: with the meta-model and the
# verified search (`itracr decompile --method meta --search K`), and with the default
# pipeline (`--method auto`: the exact reader, lift, first), and once more with probe alone
# (`--method probe`: from the activations, the reader for models lift cannot read). One row per program: vocabulary
# kind and size, length, residual width, whether the model lies outside what the meta-model
# was trained on (OOD), whether the program has a program-token form at all (`itracr fmt
# --tokens`: without one the meta-model can only reach an equivalent program, never the same
# one; the reason otherwise), each method's verdict and wall time (a verdict the search's
# repair reached says so, with the candidates' own verdict). The named baseline is lift:
# ratio_vs_lift = total meta search time / total auto time. Last line:
#   classics=15 token_form=… meta_verified=… meta_weights=… meta_repaired=… auto_verified=… probe_verified=… ood=… ratio_vs_lift=…
#   usage: bench/classics.sh [K] [META]   (from the repository root; without META, decompile
#   picks among the shipped meta-models the first whose training box holds the model)
set -euo pipefail
K=${1:-64}
META=(); [ -n "${2:-}" ] && META=(--meta "$2")
B=${B:-build/release}
I=$B/itracr
make -s B="$B" "$I" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s%N; }
for f in examples/*.rasp; do
    p=$(basename "$f" .rasp)
    "$I" compile "$f" -o "$tmp/$p.safetensors" >/dev/null 2>&1 || { echo "$p: does not compile" >&2; continue; }
    "$I" info "$tmp/$p.safetensors" --json >"$tmp/$p.info.json"
    "$I" fmt "$f" --tokens >/dev/null 2>"$tmp/$p.tokens.err" || true
    t0=$(now)
    "$I" decompile "$tmp/$p.safetensors" ${META[@]+"${META[@]}"} --method meta --search "$K" --json >"$tmp/$p.meta.json" 2>/dev/null || true
    t1=$(now)
    "$I" decompile "$tmp/$p.safetensors" ${META[@]+"${META[@]}"} --json >"$tmp/$p.auto.json" 2>/dev/null || true
    t2=$(now)
    "$I" decompile "$tmp/$p.safetensors" --method probe --json >"$tmp/$p.probe.json" 2>"$tmp/$p.probe.err" || true
    echo "$p $(((t1 - t0) / 1000000)) $(((t2 - t1) / 1000000))" >>"$tmp/times"
done
python3 - "$tmp" "$K" <<'PY'
import json, re, sys
tmp, K = sys.argv[1], sys.argv[2]
def load(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return {}
rows, n, mv, mw, mr, av, pv, ood, tm, ta, nf = [], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
for line in open(tmp + "/times"):
    p, ms_m, ms_a = line.split()
    n += 1
    info, meta, auto = (load(f"{tmp}/{p}.{x}.json") for x in ("info", "meta", "auto"))
    cfg = info.get("config", {})
    prog = meta.get("program", "")
    m = re.search(r"^vocab \{(.*)\}$", prog, re.M)
    toks = [t.strip() for t in m.group(1).split(",")] if m else []
    kinds = {"str" if t.startswith('"') else "int" for t in toks}
    kind = "mixed" if len(kinds) > 1 else (kinds.pop() if kinds else "?")
    mline = meta.get("verified_line", "error")
    if meta.get("repaired"):
        mline += f" (repair: {meta['repair']['steps']} steps; candidates alone: {meta.get('search_verified')})"
    mr += bool(meta.get("repaired"))
    aline = (auto.get("method", "?") + ": " + auto.get("verified_line", auto.get("verified", "?"))) if auto else "error"
    mv += meta.get("verified") in ("weights", "function")
    mw += meta.get("verified") == "weights"
    av += auto.get("verified") in ("weights", "function")
    probe = load(f"{tmp}/{p}.probe.json")
    pv += probe.get("verified") == "function"
    if probe:
        pline = probe.get("verified_line", "?")
    else:  # refused: the reason, from stderr
        pline = open(f"{tmp}/{p}.probe.err").read().strip().replace("itracr decompile: ", "")[:80]
    ood += bool(meta.get("ood"))
    tm += int(ms_m); ta += int(ms_a)
    used = meta.get("meta", "?").rsplit("/", 1)[-1].replace(".safetensors", "")
    why = open(f"{tmp}/{p}.tokens.err").read().strip()
    form = "yes" if not why else why.split("no token form: ", 1)[-1]
    nf += not why
    rows.append(f"| {p} | {kind} {len(toks)} | {cfg.get('max_seq_len', '?')} | {cfg.get('residual_dim', '?')} | "
                f"{used} | {'yes' if meta.get('ood') else 'no'} | {form} | {mline} | {ms_m} | {aline} | {ms_a} | {pline} |")
print(f"| program | vocab | len | residual | meta-model | OOD | token form | meta-model, --search {K} | ms | default (auto) | ms | probe alone |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
print(f"classics={n} token_form={nf} meta_verified={mv} meta_weights={mw} meta_repaired={mr} auto_verified={av} probe_verified={pv} ood={ood} "
      f"ratio_vs_lift={tm / ta if ta else 0:.1f}")
PY
