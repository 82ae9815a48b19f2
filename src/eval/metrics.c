/* Token, row and program metrics over (true, predicted) program-token tables. */
#include "eval/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/lambda_lib.h"
#include "io/json_util.h"

const char *eval_func_name(EvalFunc f) {
    switch (f) {
    case EVAL_FN_UNCHECKED: return "unchecked";
    case EVAL_FN_NO_DECODE: return "no-decode";
    case EVAL_FN_NO_COMPILE: return "no-compile";
    case EVAL_FN_DIFFERENT: return "different";
    case EVAL_FN_EQUIVALENT: return "equivalent";
    case EVAL_FN_TRUE_FAILED: return "true-failed";
    }
    return "?";
}

int eval_table_len(const int16_t *t) {
    for (int r = 1; r < PT_ROWS; r++) {
        int16_t op = t[r * PT_COLS + PT_COL_OP];
        if (op == PT_END || op == PT_PAD) return r - 1;
    }
    return PT_ROWS - 1;
}

/* The end (one past the last cell) of the value section of table t with L operation rows: the
 * cells after the END row that hold the values of its table functions, in row order, each
 * table closed by END (gen/program_tokens.h). Those values are part of the program -- two
 * tables with the same rows but different values are different functions -- so exact match
 * compares them; what follows them (PAD in a real program) is ignored as before. A section
 * that is not closed ends at the end of the table. */
static int values_end(const int16_t *t, int L) {
    int n_tables = 0;
    for (int r = 1; r <= L; r++) n_tables += t[r * PT_COLS + PT_COL_FN] == PT_FN_TABLE;
    int at = (L + 2) * PT_COLS;
    for (; n_tables > 0 && at < PT_ROWS * PT_COLS; at++)
        if (t[at] == PT_END) n_tables--;
    return at < PT_ROWS * PT_COLS ? at : PT_ROWS * PT_COLS;
}

void eval_compare(const int16_t *truth, const int16_t *pred, EvalPair *o) {
    memset(o, 0, sizeof *o);
    o->true_len = eval_table_len(truth);
    o->pred_len = eval_table_len(pred);
    int L = o->true_len > o->pred_len ? o->true_len : o->pred_len;
    int last = L + 1 < PT_ROWS - 1 ? L + 1 : PT_ROWS - 1;
    o->scored_rows = last;
    o->row_total = L;
    for (int r = 1; r <= last; r++) {
        int eq = 0;
        for (int c = 0; c < PT_COLS; c++) {
            int same = truth[r * PT_COLS + c] == pred[r * PT_COLS + c];
            eq += same;
            o->col_correct[c] += same;
        }
        o->tok_total += PT_COLS;
        o->tok_correct += eq;
        if (r <= L && eq == PT_COLS) o->row_correct++;
    }
    /* the rows up to END, then the tables' values (equal rows hold the same table rows, so
     * the truth's value section is the prediction's too); a true table without END (not a
     * real program) can never match exactly */
    o->exact = o->true_len == o->pred_len && o->true_len + 1 < PT_ROWS &&
               memcmp(truth, pred, sizeof(int16_t) * (size_t)values_end(truth, o->true_len)) == 0;
}

int eval_metrics_init(EvalMetrics *m) {
    memset(m, 0, sizeof *m);
    char err[256];
    if (gen_lib_init(err, sizeof err)) return 1;
    m->n_fn = pt_vocab_size(PT_COL_FN);
    m->by_fn = calloc((size_t)m->n_fn, sizeof *m->by_fn);
    if (!m->by_fn) abort();
    for (int c = 0; c < PT_COLS; c++) {
        int v = pt_vocab_size(c);
        m->conf_v[c] = v;
        m->confusion[c] = calloc((size_t)v * (size_t)(v + 1), sizeof(long));
        if (!m->confusion[c]) abort();
    }
    return 0;
}

void eval_metrics_free(EvalMetrics *m) {
    free(m->by_fn);
    for (int c = 0; c < PT_COLS; c++) free(m->confusion[c]);
    memset(m, 0, sizeof *m);
}

static void add_row(EvalRowStats *s, const int16_t *t, const int16_t *p, int key_col) {
    int eq = 0;
    for (int c = 0; c < PT_COLS; c++) eq += t[c] == p[c];
    s->rows++;
    s->rows_correct += eq == PT_COLS;
    s->tok_total += PT_COLS;
    s->tok_correct += eq;
    s->key_correct += t[key_col] == p[key_col];
}

void eval_metrics_add(EvalMetrics *m, const int16_t *truth, const int16_t *pred, EvalFunc func) {
    EvalPair pr;
    eval_compare(truth, pred, &pr);
    bool decodes;
    if (func == EVAL_FN_UNCHECKED || func == EVAL_FN_TRUE_FAILED) {
        PtOp rows[PT_MAX_VARS];
        int n;
        char err[256];
        decodes = pt_tokens_to_ops(pred, rows, &n, err, sizeof err) == 0;
    } else {
        decodes = func != EVAL_FN_NO_DECODE;
    }
    bool checked = func != EVAL_FN_UNCHECKED && func != EVAL_FN_TRUE_FAILED;
    bool compiles = func == EVAL_FN_DIFFERENT || func == EVAL_FN_EQUIVALENT;
    bool equiv = func == EVAL_FN_EQUIVALENT;

    m->n++;
    m->exact += pr.exact;
    m->decodes += decodes;
    m->func_checked += checked;
    m->compiles += checked && compiles;
    m->equivalent += checked && equiv;
    m->true_failed += func == EVAL_FN_TRUE_FAILED;
    m->equivalent_not_exact += checked && equiv && !pr.exact;
    m->tok_total += pr.tok_total;
    m->tok_correct += pr.tok_correct;
    m->row_total += pr.row_total;
    m->row_correct += pr.row_correct;
    m->col_total += pr.scored_rows;
    for (int c = 0; c < PT_COLS; c++) m->col_correct[c] += pr.col_correct[c];

    EvalLenStats *ls = &m->by_len[pr.true_len < PT_MAX_VARS ? pr.true_len : PT_MAX_VARS];
    ls->programs++;
    ls->exact += pr.exact;
    ls->decodes += decodes;
    ls->func_checked += checked;
    ls->compiles += checked && compiles;
    ls->equivalent += checked && equiv;
    ls->tok_total += pr.tok_total;
    ls->tok_correct += pr.tok_correct;
    ls->row_total += pr.row_total;
    ls->row_correct += pr.row_correct;

    int true_rows = pr.true_len < PT_MAX_VARS ? pr.true_len : PT_MAX_VARS;
    for (int r = 1; r <= true_rows; r++) {
        const int16_t *t = truth + r * PT_COLS, *p = pred + r * PT_COLS;
        if (t[PT_COL_OP] >= 0 && t[PT_COL_OP] < PT_OP_VOCAB)
            add_row(&m->by_op[t[PT_COL_OP]], t, p, PT_COL_OP);
        if (t[PT_COL_FN] >= 0 && t[PT_COL_FN] < m->n_fn)
            add_row(&m->by_fn[t[PT_COL_FN]], t, p, PT_COL_FN);
    }
    for (int r = 1; r <= pr.scored_rows; r++)
        for (int c = 0; c < PT_COLS; c++) {
            int ti = truth[r * PT_COLS + c], pi = pred[r * PT_COLS + c];
            int v = m->conf_v[c];
            if (ti == pi || ti < 0 || ti >= v) continue;
            if (pi < 0 || pi >= v) pi = v;
            m->confusion[c][(size_t)ti * (size_t)(v + 1) + (size_t)pi]++;
        }
}

static void merge_row(EvalRowStats *d, const EvalRowStats *s) {
    d->rows += s->rows;
    d->rows_correct += s->rows_correct;
    d->tok_total += s->tok_total;
    d->tok_correct += s->tok_correct;
    d->key_correct += s->key_correct;
}

void eval_metrics_merge(EvalMetrics *d, const EvalMetrics *s) {
    d->n += s->n;
    d->exact += s->exact;
    d->decodes += s->decodes;
    d->func_checked += s->func_checked;
    d->compiles += s->compiles;
    d->equivalent += s->equivalent;
    d->true_failed += s->true_failed;
    d->equivalent_not_exact += s->equivalent_not_exact;
    d->tok_total += s->tok_total;
    d->tok_correct += s->tok_correct;
    d->row_total += s->row_total;
    d->row_correct += s->row_correct;
    d->col_total += s->col_total;
    for (int c = 0; c < PT_COLS; c++) d->col_correct[c] += s->col_correct[c];
    for (int i = 0; i <= PT_MAX_VARS; i++) {
        EvalLenStats *a = &d->by_len[i];
        const EvalLenStats *b = &s->by_len[i];
        a->programs += b->programs;
        a->exact += b->exact;
        a->decodes += b->decodes;
        a->func_checked += b->func_checked;
        a->compiles += b->compiles;
        a->equivalent += b->equivalent;
        a->tok_total += b->tok_total;
        a->tok_correct += b->tok_correct;
        a->row_total += b->row_total;
        a->row_correct += b->row_correct;
    }
    for (int i = 0; i < PT_OP_VOCAB; i++) merge_row(&d->by_op[i], &s->by_op[i]);
    for (int i = 0; i < d->n_fn && i < s->n_fn; i++) merge_row(&d->by_fn[i], &s->by_fn[i]);
    for (int c = 0; c < PT_COLS; c++) {
        size_t cells = (size_t)d->conf_v[c] * (size_t)(d->conf_v[c] + 1);
        for (size_t k = 0; k < cells; k++) d->confusion[c][k] += s->confusion[c][k];
    }
}

double eval_rate(long num, long den) { return den > 0 ? (double)num / (double)den : NAN; }
double eval_token_acc(const EvalMetrics *m) { return eval_rate(m->tok_correct, m->tok_total); }
double eval_row_acc(const EvalMetrics *m) { return eval_rate(m->row_correct, m->row_total); }
double eval_exact_rate(const EvalMetrics *m) { return eval_rate(m->exact, m->n); }
double eval_decode_rate(const EvalMetrics *m) { return eval_rate(m->decodes, m->n); }
double eval_compile_rate(const EvalMetrics *m) { return eval_rate(m->compiles, m->func_checked); }
double eval_equiv_rate(const EvalMetrics *m) { return eval_rate(m->equivalent, m->func_checked); }

static int conf_cmp(const void *a, const void *b) {
    const EvalConfusion *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    if (x->true_id != y->true_id) return x->true_id < y->true_id ? -1 : 1;
    return (x->pred_id > y->pred_id) - (x->pred_id < y->pred_id);
}

int eval_top_confusions(const EvalMetrics *m, int col, EvalConfusion *out, int k) {
    if (col < 0 || col >= PT_COLS || k <= 0 || !m->confusion[col]) return 0;
    int v = m->conf_v[col], n = 0;
    /* keep the k best seen so far in out[], sorted: a small insertion sort is enough for
     * vocabularies of a few dozen ids */
    for (int t = 0; t < v; t++)
        for (int p = 0; p <= v; p++) {
            long cnt = m->confusion[col][(size_t)t * (size_t)(v + 1) + (size_t)p];
            if (!cnt) continue;
            EvalConfusion e = {col, t, p, cnt};
            if (n == k && conf_cmp(&e, &out[n - 1]) >= 0) continue;
            int i = n < k ? n++ : k - 1;
            while (i > 0 && conf_cmp(&e, &out[i - 1]) < 0) {
                out[i] = out[i - 1];
                i--;
            }
            out[i] = e;
        }
    return n;
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void json_num(StrBuf *b, double x) { json_write_number(b, x); }

static void json_key(StrBuf *b, const char *k) {
    json_write_string(b, k, strlen(k));
    sb_append(b, ": ");
}

static const char *tok_name(int col, int id, char *buf, size_t cap) {
    const char *s = pt_token_name(col, id);
    if (s) return s;
    snprintf(buf, cap, "#%d", id);
    return buf;
}

static void json_rowstats(StrBuf *b, const EvalRowStats *s) {
    sb_printf(b, "{\"rows\": %ld, \"row_acc\": ", s->rows);
    json_num(b, eval_rate(s->rows_correct, s->rows));
    sb_append(b, ", \"token_acc\": ");
    json_num(b, eval_rate(s->tok_correct, s->tok_total));
    sb_append(b, ", \"key_acc\": ");
    json_num(b, eval_rate(s->key_correct, s->rows));
    sb_append(b, "}");
}

static const char *const k_col_names[PT_COLS] = {"op", "enc", "fn", "a1", "a2", "out"};

const char *eval_col_name(int col) { return col >= 0 && col < PT_COLS ? k_col_names[col] : "?"; }

void eval_headline_json_fields(const EvalMetrics *m, StrBuf *b) {
    sb_append(b, "\"exact\": ");
    json_num(b, eval_exact_rate(m));
    sb_append(b, ", \"equivalent\": ");
    json_num(b, eval_equiv_rate(m));
    sb_append(b, ", \"compiles\": ");
    json_num(b, eval_compile_rate(m));
    sb_append(b, ", \"decodes\": ");
    json_num(b, eval_decode_rate(m));
    sb_append(b, ", \"token_acc\": ");
    json_num(b, eval_token_acc(m));
    sb_append(b, ", \"row_acc\": ");
    json_num(b, eval_row_acc(m));
}

void eval_metrics_json(const EvalMetrics *m, StrBuf *b) {
    char nb[32];
    sb_printf(b, "{\"n\": %ld, ", m->n);
    eval_headline_json_fields(m, b);
    sb_printf(b,
              ", \"counts\": {\"exact\": %ld, \"decodes\": %ld, \"func_checked\": %ld, "
              "\"compiles\": %ld, \"equivalent\": %ld, \"equivalent_not_exact\": %ld, "
              "\"true_failed\": %ld}",
              m->exact, m->decodes, m->func_checked, m->compiles, m->equivalent,
              m->equivalent_not_exact, m->true_failed);
    sb_append(b, ", \"by_column\": {");
    for (int c = 0; c < PT_COLS; c++) {
        if (c) sb_append(b, ", ");
        json_key(b, k_col_names[c]);
        json_num(b, eval_rate(m->col_correct[c], m->col_total));
    }
    sb_append(b, "}, \"by_length\": {");
    int first = 1;
    for (int i = 0; i <= PT_MAX_VARS; i++) {
        const EvalLenStats *s = &m->by_len[i];
        if (!s->programs) continue;
        sb_printf(b, "%s\"%d\": {\"programs\": %ld, \"exact\": ", first ? "" : ", ", i,
                  s->programs);
        first = 0;
        json_num(b, eval_rate(s->exact, s->programs));
        sb_append(b, ", \"equivalent\": ");
        json_num(b, eval_rate(s->equivalent, s->func_checked));
        sb_append(b, ", \"compiles\": ");
        json_num(b, eval_rate(s->compiles, s->func_checked));
        sb_append(b, ", \"token_acc\": ");
        json_num(b, eval_rate(s->tok_correct, s->tok_total));
        sb_append(b, ", \"row_acc\": ");
        json_num(b, eval_rate(s->row_correct, s->row_total));
        sb_append(b, "}");
    }
    sb_append(b, "}, \"by_op\": {");
    first = 1;
    for (int i = 0; i < PT_OP_VOCAB; i++) {
        if (!m->by_op[i].rows) continue;
        if (!first) sb_append(b, ", ");
        first = 0;
        json_key(b, tok_name(PT_COL_OP, i, nb, sizeof nb));
        json_rowstats(b, &m->by_op[i]);
    }
    sb_append(b, "}, \"by_fn\": {");
    first = 1;
    for (int i = 0; i < m->n_fn; i++) {
        if (!m->by_fn[i].rows) continue;
        if (!first) sb_append(b, ", ");
        first = 0;
        json_key(b, tok_name(PT_COL_FN, i, nb, sizeof nb));
        json_rowstats(b, &m->by_fn[i]);
    }
    sb_append(b, "}, \"confusions\": {");
    for (int c = 0; c < PT_COLS; c++) {
        EvalConfusion top[10];
        int n = eval_top_confusions(m, c, top, 10);
        if (c) sb_append(b, ", ");
        json_key(b, k_col_names[c]);
        sb_append(b, "[");
        for (int i = 0; i < n; i++) {
            char nb2[32];
            if (i) sb_append(b, ", ");
            sb_append(b, "{\"true\": ");
            const char *tn = tok_name(c, top[i].true_id, nb, sizeof nb);
            json_write_string(b, tn, strlen(tn));
            sb_append(b, ", \"pred\": ");
            const char *pn = top[i].pred_id >= m->conf_v[c]
                                 ? "(out of range)"
                                 : tok_name(c, top[i].pred_id, nb2, sizeof nb2);
            json_write_string(b, pn, strlen(pn));
            sb_printf(b, ", \"count\": %ld}", top[i].count);
        }
        sb_append(b, "]");
    }
    sb_append(b, "}}");
}
