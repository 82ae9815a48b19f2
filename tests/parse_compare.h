/* Structural comparison of two parsed programs, used by test_format and the parser fuzz
 * target: parse(format(p)) must give the same graph as p. Returns NULL when equal, else a
 * static description of the first difference. */
#ifndef ITRACR_TEST_PARSE_COMPARE_H
#define ITRACR_TEST_PARSE_COMPARE_H
#include <stdio.h>
#include <string.h>

#include "rasp/rasp.h"

/* Same value and same Python type (1, 1.0 and True differ; -0.0 equals 0.0). */
static inline bool pc_value_same(Value a, Value b) {
    if (a.kind != b.kind) return false;
    if (a.kind == VAL_FLOAT && a.u.f != a.u.f) return b.u.f != b.u.f;
    return val_eq(a, b);
}

static inline bool pc_lambda_same(const Lambda *a, const Lambda *b) {
    if (!a || !b) return a == b;
    return a->n_params == b->n_params && py_equal(a->body, b->body);
}

static inline const char *pc_program_diff(const RaspProgram *p, const RaspProgram *q) {
    static char why[256];
    if (p->n_exprs != q->n_exprs) {
        snprintf(why, sizeof why, "expression count %d vs %d", p->n_exprs, q->n_exprs);
        return why;
    }
    if (p->output != q->output) return "output index";
    if (p->has_vocab != q->has_vocab || p->n_vocab != q->n_vocab) return "vocab size";
    for (int i = 0; i < p->n_vocab; i++)
        if (!pc_value_same(p->vocab[i], q->vocab[i])) return "vocab value";
    if (p->max_seq_len != q->max_seq_len || p->causal != q->causal ||
        p->mlp_exactness != q->mlp_exactness)
        return "settings";
    for (int i = 0; i < p->n_exprs; i++) {
        const RaspExpr *a = &p->exprs[i], *b = &q->exprs[i];
        snprintf(why, sizeof why, "expression %d (%s): ", i, a->label ? a->label : "?");
        size_t n = strlen(why);
        const char *d = NULL;
        if (a->kind != b->kind) d = "kind";
        else if (!a->label || !b->label || strcmp(a->label, b->label) != 0) d = "label";
        else if (rasp_is_sop(a->kind) && a->enc != b->enc) d = "encoding";
        else if (a->child[0] != b->child[0] || a->child[1] != b->child[1]) d = "children";
        else if (a->kind == EXPR_SELECT && a->pred != b->pred) d = "predicate";
        else if ((a->kind == EXPR_MAP || a->kind == EXPR_SEQMAP || a->kind == EXPR_LINSEQMAP ||
                  (a->kind == EXPR_SELECT && a->pred == PRED_LAMBDA)) &&
                 !pc_lambda_same(a->fn, b->fn))
            d = "function";
        else if (a->kind == EXPR_LINSEQMAP &&
                 (!pc_value_same(a->lin_a, b->lin_a) || !pc_value_same(a->lin_b, b->lin_b)))
            d = "coefficients";
        else if (a->kind == EXPR_AGGREGATE && !pc_value_same(a->default_value, b->default_value))
            d = "default";
        else if (a->kind == EXPR_FULL && !pc_value_same(a->full_value, b->full_value))
            d = "fill value";
        if (d) {
            snprintf(why + n, sizeof why - n, "%s", d);
            return why;
        }
    }
    return NULL;
}

#endif
