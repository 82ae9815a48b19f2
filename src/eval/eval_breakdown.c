/* Top-1 and verified@K by setting (eval_breakdown.h). */
#include "eval/eval_breakdown.h"

#include <math.h>
#include <string.h>

#include "io/json_util.h"

bool eval_table_numerical(const int16_t *truth) {
    int len = eval_table_len(truth);
    for (int r = 1; r <= len; r++)
        if (truth[r * PT_COLS + PT_COL_ENC] == PT_ENC_NUM) return true;
    return false;
}

static void count(EvalSetCounts *c, bool exact, EvalFunc f, bool ver) {
    bool checked = f != EVAL_FN_UNCHECKED && f != EVAL_FN_TRUE_FAILED;
    bool equiv = checked && f == EVAL_FN_EQUIVALENT;
    if (ver) {
        c->ver_exact += exact;
        c->ver_func_checked += checked;
        c->ver_equivalent += equiv;
    } else {
        c->n++;
        c->exact += exact;
        c->func_checked += checked;
        c->equivalent += equiv;
    }
}

/* The group of each dimension that sample s falls in. */
static void groups(EvalBreakdown *b, const EvalSetting *s, const int16_t *truth,
                   EvalSetCounts **g) {
    int k = 0; /* the dataset-wide setting (kind 0) has integer tokens */
    for (int i = 0; i < GEN_VOCAB_KINDS; i++)
        if (s->kind == 1 << i) k = i;
    int len = s->max_seq_len < 1                 ? 1
              : s->max_seq_len > EVAL_BD_MAX_LEN ? EVAL_BD_MAX_LEN
                                                 : s->max_seq_len;
    int nv = s->n_vocab < 0 ? 0 : s->n_vocab > GEN_MAX_VOCAB ? GEN_MAX_VOCAB : s->n_vocab;
    g[0] = &b->kind[k];
    g[1] = &b->max_seq_len[len];
    g[2] = &b->vocab_size[nv];
    g[3] = &b->causal[s->causal];
    g[4] = &b->encoding[eval_table_numerical(truth)];
}

void eval_breakdown_add(EvalBreakdown *b, const EvalSetting *s, const int16_t *truth,
                        const int16_t *top1, EvalFunc top1_func, const int16_t *ver,
                        EvalFunc ver_func) {
    EvalSetCounts *g[5];
    groups(b, s, truth, g);
    EvalPair pr, pv;
    eval_compare(truth, top1, &pr);
    if (ver) eval_compare(truth, ver, &pv);
    for (int i = 0; i < 5; i++) {
        count(g[i], pr.exact, top1_func, false);
        if (ver) count(g[i], pv.exact, ver_func, true);
    }
    if (ver) b->verified = true;
}

/* The dimensions in print order: name, groups, group count, and each group's name. */
typedef struct Dim {
    const char *json, *text;
    const EvalSetCounts *c;
    int n;
} Dim;

static const char *const k_causal[2] = {"non-causal", "causal"};
static const char *const k_enc[2] = {"categorical", "numerical"};

static int dims(const EvalBreakdown *b, Dim *d) {
    d[0] = (Dim){"vocab_kind", "vocab kind", b->kind, GEN_VOCAB_KINDS};
    d[1] = (Dim){"max_seq_len", "max_seq_len", b->max_seq_len, EVAL_BD_MAX_LEN + 1};
    d[2] = (Dim){"vocab_size", "vocab size", b->vocab_size, GEN_MAX_VOCAB + 1};
    d[3] = (Dim){"causal", "attention", b->causal, 2};
    d[4] = (Dim){"encoding", "encoding", b->encoding, 2};
    return 5;
}

static const char *group_name(int dim, int i, char *buf, size_t cap) {
    switch (dim) {
    case 0: return gen_vocab_kind_name(1 << i);
    case 3: return k_causal[i];
    case 4: return k_enc[i];
    case 1:
        if (i == EVAL_BD_MAX_LEN) return ">=64";
        /* fall through */
    default: snprintf(buf, cap, "%d", i); return buf;
    }
}

static void json_rate(StrBuf *sb, const char *key, long num, long den) {
    sb_printf(sb, ", \"%s\": ", key);
    json_write_number(sb, eval_rate(num, den));
}

void eval_breakdown_json(const EvalBreakdown *b, StrBuf *sb) {
    Dim d[5];
    int nd = dims(b, d);
    sb_append(sb, "{");
    for (int k = 0; k < nd; k++) {
        sb_printf(sb, "%s\"%s\": {", k ? ", " : "", d[k].json);
        int first = 1;
        for (int i = 0; i < d[k].n; i++) {
            const EvalSetCounts *c = &d[k].c[i];
            if (!c->n) continue;
            char nb[16];
            const char *name = group_name(k, i, nb, sizeof nb);
            if (!first) sb_append(sb, ", ");
            first = 0;
            json_write_string(sb, name, strlen(name));
            sb_printf(sb, ": {\"n\": %ld", c->n);
            json_rate(sb, "exact", c->exact, c->n);
            json_rate(sb, "equivalent", c->equivalent, c->func_checked);
            json_rate(sb, "verified_exact", c->ver_exact, b->verified ? c->n : 0);
            json_rate(sb, "verified_equivalent", c->ver_equivalent,
                      b->verified ? c->ver_func_checked : 0);
            sb_append(sb, "}");
        }
        sb_append(sb, "}");
    }
    sb_append(sb, "}");
}

/* " 12.34%", or "    n/a" where nothing was counted. */
static const char *pct(char *buf, size_t cap, long num, long den) {
    double x = eval_rate(num, den);
    if (isnan(x)) snprintf(buf, cap, "%7s", "n/a");
    else snprintf(buf, cap, "%6.2f%%", 100 * x);
    return buf;
}

void eval_breakdown_print(const EvalBreakdown *b, const char *ver_label, FILE *f) {
    Dim d[5];
    int nd = dims(b, d);
    fprintf(f, "by setting                 samples  top-1 exact  equivalent");
    if (b->verified) fprintf(f, "  %s exact  equivalent", ver_label);
    fputc('\n', f);
    int vw = (int)strlen(ver_label) + 6; /* the width of "<label> exact" */
    for (int k = 0; k < nd; k++)
        for (int i = 0; i < d[k].n; i++) {
            const EvalSetCounts *c = &d[k].c[i];
            if (!c->n) continue;
            char nb[16], a[16], e[16], label[48];
            snprintf(label, sizeof label, "%s %s", d[k].text, group_name(k, i, nb, sizeof nb));
            fprintf(f, "  %-24s %7ld  %11s  %10s", label, c->n, pct(a, sizeof a, c->exact, c->n),
                    pct(e, sizeof e, c->equivalent, c->func_checked));
            if (b->verified)
                fprintf(f, "  %*s  %10s", vw, pct(a, sizeof a, c->ver_exact, c->n),
                        pct(e, sizeof e, c->ver_equivalent, c->ver_func_checked));
            fputc('\n', f);
        }
}
