/* The evaluation report as one self-contained HTML page. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/report.h"
#include "eval/svg.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "rasp/rasp.h"

#define esc svg_escape

static const char k_css[] =
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:0;"
    "background:#f1f5f9;color:#111827;font-size:14px}"
    "header{background:#0f172a;color:#f8fafc;padding:18px 32px}"
    "header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#94a3b8}"
    "main{max-width:1240px;margin:0 auto;padding:8px 24px 40px}"
    "section{background:#fff;border:1px solid #e2e8f0;border-radius:10px;padding:14px 20px;margin:16px 0}"
    "h2{font-size:17px;margin:2px 0 10px}h3{font-size:14px;margin:14px 0 6px}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px}"
    ".card{border:1px solid #e2e8f0;border-radius:10px;padding:12px 14px;background:#f8fafc}"
    ".card .label{font-size:12px;color:#475569;text-transform:uppercase;letter-spacing:.04em}"
    ".card .big{font-size:32px;font-weight:700;margin:4px 0}"
    ".card .sub{font-size:12px;color:#64748b}"
    ".card.main{background:#eff6ff;border-color:#93c5fd}"
    "table{border-collapse:collapse;font-size:13px;margin:4px 0}"
    "th,td{border:1px solid #e2e8f0;padding:3px 9px;text-align:left;vertical-align:top}"
    "th{background:#f8fafc;font-weight:600}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "table.prog td{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}"
    "table.prog td.bad{background:#fecaca;color:#7f1d1d;font-weight:700}"
    "table.prog td.miss{background:#fef3c7}"
    "table.prog tr.frame td{color:#94a3b8}"
    ".pair{display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start}"
    ".example{border-top:1px solid #e2e8f0;padding:10px 0}"
    ".badge{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600}"
    ".b-exact{background:#dcfce7;color:#166534}.b-equivalent{background:#dbeafe;color:#1e40af}"
    ".b-wrong{background:#fee2e2;color:#991b1b}"
    "pre{background:#f8fafc;border:1px solid #e2e8f0;padding:8px;font-size:12px;margin:6px 0;"
    "max-width:560px;overflow:auto;white-space:pre-wrap}"
    ".charts{display:flex;flex-wrap:wrap;gap:14px}.charts svg{border:1px solid #e2e8f0;border-radius:8px}"
    ".muted{color:#64748b}.detail{font-size:12px;color:#475569;margin:4px 0}"
    ".grid3{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px}"
    /* long values (paths, one-line JSON) wrap anywhere inside a fixed-width table */
    ".settings-wrap{max-width:100%;overflow-x:auto}"
    "#settings-table{table-layout:fixed;width:100%}"
    "#settings-table th{width:190px}"
    "#settings-table td{overflow-wrap:anywhere;word-break:break-word;white-space:pre-wrap;"
    "font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}";

const char *report_verdict(bool exact, EvalFunc func) {
    if (exact) return "exact";
    if (func == EVAL_FN_EQUIVALENT) return "equivalent";
    return "wrong";
}

static void pct(StrBuf *b, double v) {
    if (isnan(v)) sb_append(b, "&ndash;");
    else sb_printf(b, "%.1f%%", v * 100);
}

static const char *tok(int col, int id, char *buf, size_t cap) {
    const char *s = pt_token_name(col, id);
    if (s) return s;
    snprintf(buf, cap, "#%d", id);
    return buf;
}

/* ---- headline -------------------------------------------------------------------------- */

typedef double (*MetricFn)(const EvalMetrics *);

static void card(StrBuf *b, const ReportInput *in, const char *label, MetricFn fn, bool main_card) {
    sb_printf(b, "<div class=\"card%s\"><div class=\"label\">", main_card ? " main" : "");
    esc(b, label);
    sb_append(b, "</div><div class=\"big\">");
    pct(b, fn(in->decoded));
    sb_append(b, "</div><div class=\"sub\">teacher-forced ");
    if (in->teacher) pct(b, fn(in->teacher));
    else sb_append(b, "&ndash;");
    sb_append(b, " &middot; noise ");
    if (in->noise) pct(b, fn(in->noise));
    else sb_append(b, "&ndash;");
    sb_append(b, "</div></div>");
}

static void metric_row(StrBuf *b, const ReportInput *in, const char *name, MetricFn fn) {
    sb_append(b, "<tr><th>");
    esc(b, name);
    sb_append(b, "</th>");
    const EvalMetrics *ms[3] = {in->decoded, in->teacher, in->noise};
    for (int i = 0; i < 3; i++) {
        sb_append(b, "<td class=\"num\">");
        if (ms[i]) pct(b, fn(ms[i]));
        else sb_append(b, "&ndash;");
        sb_append(b, "</td>");
    }
    sb_append(b, "</tr>");
}

static void count_row(StrBuf *b, const ReportInput *in, const char *name, size_t off) {
    sb_append(b, "<tr><th>");
    esc(b, name);
    sb_append(b, "</th>");
    const EvalMetrics *ms[3] = {in->decoded, in->teacher, in->noise};
    for (int i = 0; i < 3; i++) {
        if (ms[i])
            sb_printf(b, "<td class=\"num\">%ld</td>", *(const long *)((const char *)ms[i] + off));
        else sb_append(b, "<td class=\"num\">&ndash;</td>");
    }
    sb_append(b, "</tr>");
}

/* Top-1 and verified@K side by side (and the noise baseline through the same search). */
static void verified_table(StrBuf *b, const ReportInput *in) {
    const char *lab = in->verified_label ? in->verified_label : "verified";
    sb_append(b, "<h3 id=\"verified\">Top-1 and ");
    esc(b, lab);
    sb_append(b, "</h3><table id=\"verified-table\"><thead><tr><th>metric</th><th>top-1</th><th>");
    esc(b, lab);
    sb_append(b, "</th><th>noise top-1</th><th>noise ");
    esc(b, lab);
    sb_append(b, "</th></tr></thead><tbody>");
    const char *names[] = {"exact program match", "functional equivalence", "token accuracy"};
    MetricFn fns[] = {eval_exact_rate, eval_equiv_rate, eval_token_acc};
    const EvalMetrics *ms[4] = {in->decoded, in->verified, in->noise, in->noise_verified};
    for (int r = 0; r < 3; r++) {
        sb_append(b, "<tr><th>");
        esc(b, names[r]);
        sb_append(b, "</th>");
        for (int i = 0; i < 4; i++) {
            sb_append(b, "<td class=\"num\">");
            if (ms[i]) pct(b, fns[r](ms[i]));
            else sb_append(b, "&ndash;");
            sb_append(b, "</td>");
        }
        sb_append(b, "</tr>");
    }
    sb_append(b, "</tbody></table>");
    if (in->verified_note) {
        sb_append(b, "<p class=\"muted\">");
        esc(b, in->verified_note);
        sb_append(b, "</p>");
    }
}

static void headline(StrBuf *b, const ReportInput *in) {
    sb_append(b, "<section id=\"headline\"><h2>Headline (fully decoded)</h2><div class=\"cards\">");
    card(b, in, "exact program match", eval_exact_rate, true);
    card(b, in, "functional equivalence", eval_equiv_rate, true);
    card(b, in, "token accuracy", eval_token_acc, false);
    card(b, in, "row accuracy", eval_row_acc, false);
    card(b, in, "compiles", eval_compile_rate, false);
    card(b, in, "decodes", eval_decode_rate, false);
    sb_append(b,
              "</div><h3>All numbers</h3><table id=\"metrics\"><thead><tr><th>metric</th>"
              "<th>decoded</th><th>teacher-forced</th><th>noise baseline</th></tr></thead><tbody>");
    metric_row(b, in, "exact program match", eval_exact_rate);
    metric_row(b, in, "functional equivalence", eval_equiv_rate);
    metric_row(b, in, "compiles", eval_compile_rate);
    metric_row(b, in, "decodes", eval_decode_rate);
    metric_row(b, in, "token accuracy", eval_token_acc);
    metric_row(b, in, "row accuracy", eval_row_acc);
    count_row(b, in, "programs", offsetof(EvalMetrics, n));
    count_row(b, in, "functionally checked", offsetof(EvalMetrics, func_checked));
    count_row(b, in, "equivalent but not exact", offsetof(EvalMetrics, equivalent_not_exact));
    count_row(b, in, "true program failed to compile", offsetof(EvalMetrics, true_failed));
    sb_append(b, "</tbody></table><p class=\"muted\">Functional equivalence and compile rate are "
                 "over the functionally checked programs; token and row accuracy count missing "
                 "and extra rows as wrong (docs/evaluation.md).</p>");
    if (in->verified) verified_table(b, in);
    sb_append(b, "</section>");
}

/* ---- breakdown charts ------------------------------------------------------------------ */

static void charts(StrBuf *b, const ReportInput *in) {
    const EvalMetrics *m = in->decoded;
    sb_append(b, "<section id=\"breakdowns\"><h2>Breakdowns (decoded)</h2><div class=\"charts\">");
    /* by program length */
    {
        char labels[PT_MAX_VARS + 1][8];
        const char *cats[PT_MAX_VARS + 1];
        double vals[3 * (PT_MAX_VARS + 1)];
        int n = 0, idx[PT_MAX_VARS + 1];
        for (int i = 0; i <= PT_MAX_VARS; i++)
            if (m->by_len[i].programs) idx[n++] = i;
        for (int k = 0; k < n; k++) {
            const EvalLenStats *s = &m->by_len[idx[k]];
            snprintf(labels[k], sizeof labels[k], "%d", idx[k]);
            cats[k] = labels[k];
            vals[k] = eval_rate(s->exact, s->programs);
            vals[n + k] = eval_rate(s->equivalent, s->func_checked);
            vals[2 * n + k] = eval_rate(s->tok_correct, s->tok_total);
        }
        const char *series[3] = {"exact", "equivalent", "token acc"};
        SvgChart c;
        svg_chart_init(&c, "by program length (rows)");
        c.percent = true;
        c.ymax = 1;
        c.ymin = 0;
        c.xlabel = "operation rows in the true program";
        c.width = 560;
        svg_bar_chart(b, &c, cats, n, series, NULL, vals, 3);
    }
    /* by op type */
    {
        const char *cats[PT_OP_VOCAB];
        double vals[2 * PT_OP_VOCAB];
        int n = 0, idx[PT_OP_VOCAB];
        for (int i = 0; i < PT_OP_VOCAB; i++)
            if (m->by_op[i].rows) idx[n++] = i;
        for (int k = 0; k < n; k++) {
            const EvalRowStats *s = &m->by_op[idx[k]];
            cats[k] = pt_token_name(PT_COL_OP, idx[k]);
            vals[k] = eval_rate(s->rows_correct, s->rows);
            vals[n + k] = eval_rate(s->tok_correct, s->tok_total);
        }
        const char *series[2] = {"row acc", "token acc"};
        const char *colors[2] = {"#2563eb", "#10b981"};
        SvgChart c;
        svg_chart_init(&c, "by operation (true rows)");
        c.percent = true;
        c.ymin = 0;
        c.ymax = 1;
        c.width = 560;
        svg_bar_chart(b, &c, cats, n, series, colors, vals, 2);
    }
    /* by column, decoded beside teacher-forced */
    {
        const char *cats[PT_COLS];
        double vals[2 * PT_COLS];
        for (int c = 0; c < PT_COLS; c++) {
            cats[c] = eval_col_name(c);
            vals[c] = eval_rate(m->col_correct[c], m->col_total);
            vals[PT_COLS + c] =
                in->teacher ? eval_rate(in->teacher->col_correct[c], in->teacher->col_total) : NAN;
        }
        const char *series[2] = {"decoded", "teacher-forced"};
        const char *colors[2] = {"#2563eb", "#94a3b8"};
        SvgChart c;
        svg_chart_init(&c, "token accuracy by column");
        c.percent = true;
        c.ymin = 0;
        c.ymax = 1;
        c.width = 560;
        svg_bar_chart(b, &c, cats, PT_COLS, series, colors, vals, in->teacher ? 2 : 1);
    }
    /* by lambda entry (fn column) */
    {
        int nf = m->n_fn;
        const char **cats = malloc(sizeof(char *) * (size_t)(nf ? nf : 1));
        double *vals = malloc(sizeof(double) * 2 * (size_t)(nf ? nf : 1));
        int *idx = malloc(sizeof(int) * (size_t)(nf ? nf : 1));
        if (!cats || !vals || !idx) abort();
        int n = 0;
        for (int i = 0; i < nf; i++)
            if (m->by_fn[i].rows) idx[n++] = i;
        for (int k = 0; k < n; k++) {
            const EvalRowStats *s = &m->by_fn[idx[k]];
            cats[k] = pt_token_name(PT_COL_FN, idx[k]);
            vals[k] = eval_rate(s->key_correct, s->rows);
            vals[n + k] = eval_rate(s->rows_correct, s->rows);
        }
        const char *series[2] = {"fn token acc", "row acc"};
        const char *colors[2] = {"#8b5cf6", "#2563eb"};
        SvgChart c;
        svg_chart_init(&c, "by function (fn column of the true row)");
        c.percent = true;
        c.ymin = 0;
        c.ymax = 1;
        c.width = 1134;
        c.height = 300;
        svg_bar_chart(b, &c, cats, n, series, colors, vals, 2);
        free(cats);
        free(vals);
        free(idx);
    }
    sb_append(b, "</div></section>");
}

static void confusions(StrBuf *b, const EvalMetrics *m) {
    sb_append(b, "<section id=\"confusions\"><h2>Most frequent wrong tokens (decoded)</h2>"
                 "<div class=\"grid3\">");
    for (int c = 0; c < PT_COLS; c++) {
        EvalConfusion top[8];
        int n = eval_top_confusions(m, c, top, 8);
        sb_append(b, "<div><h3>column ");
        esc(b, eval_col_name(c));
        sb_append(b, "</h3><table class=\"conf\"><thead><tr><th>true</th><th>predicted</th>"
                     "<th>count</th></tr></thead><tbody>");
        if (!n) sb_append(b, "<tr><td colspan=\"3\" class=\"muted\">no errors</td></tr>");
        for (int i = 0; i < n; i++) {
            char b1[16], b2[16];
            sb_append(b, "<tr><td>");
            esc(b, tok(c, top[i].true_id, b1, sizeof b1));
            sb_append(b, "</td><td>");
            if (top[i].pred_id >= m->conf_v[c]) sb_append(b, "(out of range)");
            else esc(b, tok(c, top[i].pred_id, b2, sizeof b2));
            sb_printf(b, "</td><td class=\"num\">%ld</td></tr>", top[i].count);
        }
        sb_append(b, "</tbody></table></div>");
    }
    sb_append(b, "</div></section>");
}

/* ---- examples -------------------------------------------------------------------------- */

static void prog_table(StrBuf *b, const char *caption, const int16_t *t, const int16_t *other,
                       int rows, bool is_pred) {
    static const char *const hdr[PT_COLS] = {"op", "enc", "fn", "a1", "a2", "out"};
    sb_append(b, "<table class=\"prog\"><caption>");
    esc(b, caption);
    sb_append(b, "</caption><thead><tr><th>#</th>");
    for (int c = 0; c < PT_COLS; c++) sb_printf(b, "<th>%s</th>", hdr[c]);
    sb_append(b, "</tr></thead><tbody>");
    for (int r = 0; r <= rows; r++) {
        const int16_t *row = t + r * PT_COLS;
        bool frame = row[0] == PT_START || row[0] == PT_END || row[0] == PT_PAD;
        sb_printf(b, "<tr%s><td class=\"muted\">%d</td>", frame ? " class=\"frame\"" : "", r);
        for (int c = 0; c < PT_COLS; c++) {
            char buf[16];
            bool wrong = r > 0 && row[c] != other[r * PT_COLS + c];
            sb_printf(b, "<td%s>", wrong ? (is_pred ? " class=\"bad\"" : " class=\"miss\"") : "");
            esc(b, tok(c, row[c], buf, sizeof buf));
            sb_append(b, "</td>");
        }
        sb_append(b, "</tr>");
    }
    sb_append(b, "</tbody></table>");
}

static void rasp_text(StrBuf *b, const char *given, const int16_t *t) {
    sb_append(b, "<pre class=\"rasp\">");
    if (given) {
        esc(b, given);
    } else {
        RaspProgram p;
        char err[512];
        if (pt_decode(t, NULL, 0, 0, &p, err, sizeof err) == 0) {
            char *s = rasp_format(&p);
            esc(b, s);
            free(s);
        } else {
            sb_append(b, "# does not decode: ");
            esc(b, err);
        }
        rasp_program_free(&p);
    }
    sb_append(b, "</pre>");
}

static void example(StrBuf *b, const ReportExample *e) {
    EvalPair pr;
    eval_compare(e->true_tokens, e->pred_tokens, &pr);
    const char *v = report_verdict(pr.exact, e->func);
    sb_append(b, "<div class=\"example\"><h3>");
    esc(b, e->title ? e->title : "example");
    sb_printf(b,
              " <span class=\"badge b-%s\">%s</span> <span class=\"muted\">%d rows true, %d "
              "predicted &middot; %d/%d tokens &middot; functional check: %s</span></h3>",
              v, v, pr.true_len, pr.pred_len, pr.tok_correct, pr.tok_total,
              eval_func_name(e->func));
    if (e->detail && e->detail[0]) {
        sb_append(b, "<div class=\"detail\">");
        esc(b, e->detail);
        sb_append(b, "</div>");
    }
    sb_append(b, "<div class=\"pair\"><div>");
    prog_table(b, "true", e->true_tokens, e->pred_tokens, pr.scored_rows, false);
    rasp_text(b, e->true_rasp, e->true_tokens);
    sb_append(b, "</div><div>");
    prog_table(b, "predicted", e->pred_tokens, e->true_tokens, pr.scored_rows, true);
    rasp_text(b, e->pred_rasp, e->pred_tokens);
    sb_append(b, "</div></div></div>");
}

static void examples(StrBuf *b, const ReportInput *in) {
    sb_append(b, "<section id=\"examples\"><h2>Examples: true vs predicted</h2>"
                 "<p class=\"muted\">Wrong predicted cells are red; the true cells they should "
                 "have been are yellow.</p>");
    for (int pass = 0; pass < 2; pass++) {
        sb_append(b, pass == 0 ? "<h3>Successes</h3>" : "<h3>Failures</h3>");
        int shown = 0;
        for (int i = 0; i < in->n_examples; i++) {
            const ReportExample *e = &in->examples[i];
            EvalPair pr;
            eval_compare(e->true_tokens, e->pred_tokens, &pr);
            bool ok = pr.exact || e->func == EVAL_FN_EQUIVALENT;
            if (ok != (pass == 0)) continue;
            example(b, e);
            shown++;
        }
        if (!shown) sb_append(b, "<p class=\"muted\">none in the sample</p>");
    }
    sb_append(b, "</section>");
}

/* ---- the rest -------------------------------------------------------------------------- */

static void curves(StrBuf *b, const ReportInput *in) {
    sb_append(b, "<section id=\"curves\"><h2>Training curves</h2>");
    if (!in->log || !in->log->n) {
        sb_append(b, "<p class=\"muted\">no training log given</p></section>");
        return;
    }
    sb_printf(b, "<p class=\"muted\">%d records", in->log->n);
    if (in->log->n_bad)
        sb_printf(b, "; %ld malformed line%s skipped", in->log->n_bad,
                  in->log->n_bad == 1 ? "" : "s");
    sb_append(b, "</p><div class=\"charts\">");
    report_curves_svg(b, in->log, 0, 0, false);
    sb_append(b, "</div></section>");
}

static void classics(StrBuf *b, const ReportInput *in) {
    sb_append(b, "<section id=\"classics\"><h2>Classic programs (fixtures/tracr)</h2>");
    if (!in->n_classics) {
        sb_append(b, "<p class=\"muted\">not evaluated</p></section>");
        return;
    }
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < in->n_classics; i++) {
        const char *v = report_verdict(in->classics[i].exact, in->classics[i].func);
        counts[v[0] == 'e' ? (v[1] == 'x' ? 0 : 1) : 2]++;
    }
    sb_printf(b, "<p>%d exact, %d equivalent, %d wrong of %d</p>", counts[0], counts[1], counts[2],
              in->n_classics);
    sb_append(b, "<table id=\"classic-table\"><thead><tr><th>program</th><th>verdict</th>"
                 "<th>check</th><th>detail</th><th>decompiled</th></tr></thead><tbody>");
    for (int i = 0; i < in->n_classics; i++) {
        const ReportClassic *c = &in->classics[i];
        const char *v = report_verdict(c->exact, c->func);
        sb_append(b, "<tr><td>");
        esc(b, c->name);
        sb_printf(
            b, "</td><td><span class=\"badge b-%s\">%s</span></td><td>%s</td><td class=\"detail\">",
            v, v, eval_func_name(c->func));
        esc(b, c->detail ? c->detail : "");
        sb_append(b, "</td><td>");
        if (c->pred_rasp) {
            sb_append(b, "<pre class=\"rasp\">");
            esc(b, c->pred_rasp);
            sb_append(b, "</pre>");
        }
        sb_append(b, "</td></tr>");
    }
    sb_append(b, "</tbody></table></section>");
}

static void settings(StrBuf *b, const ReportInput *in) {
    sb_append(b, "<section id=\"settings\"><h2>Model and dataset settings</h2>");
    if (!in->n_settings) {
        sb_append(b, "<p class=\"muted\">none given</p></section>");
        return;
    }
    /* the wrapper scrolls whatever still cannot wrap, so that the page never widens */
    sb_append(b, "<div class=\"settings-wrap\"><table id=\"settings-table\"><tbody>");
    for (int i = 0; i < in->n_settings; i++) {
        sb_append(b, "<tr><th>");
        esc(b, in->settings[i].key);
        sb_append(b, "</th><td>");
        /* JSON values (the configs, the generator) may come from files written with %.17g */
        char *short_json = json_shortest_text(in->settings[i].value);
        esc(b, short_json ? short_json : in->settings[i].value);
        free(short_json);
        sb_append(b, "</td></tr>");
    }
    sb_append(b, "</tbody></table></div></section>");
}

void report_html(StrBuf *b, const ReportInput *in) {
    const char *title = in->title ? in->title : "itracr evaluation";
    sb_append(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    esc(b, title);
    sb_append(b, "</title><style>");
    sb_append(b, k_css);
    sb_append(b, "</style></head><body><header><h1>");
    esc(b, title);
    sb_printf(b, "</h1><p>%ld held-out programs &middot; decoded exact match ", in->decoded->n);
    pct(b, eval_exact_rate(in->decoded));
    sb_append(b, " &middot; functional equivalence ");
    pct(b, eval_equiv_rate(in->decoded));
    sb_append(b, "</p></header><main>");
    headline(b, in);
    charts(b, in);
    curves(b, in);
    examples(b, in);
    confusions(b, in->decoded);
    classics(b, in);
    settings(b, in);
    sb_append(b, "</main></body></html>\n");
}

int report_write_html(const char *path, const ReportInput *in, char *err, size_t errcap) {
    StrBuf b;
    sb_init(&b);
    report_html(&b, in);
    int rc = atomic_write(path, b.s, b.len, err, errcap);
    sb_free(&b);
    return rc;
}
