/* Test helpers: build RASP programs directly with rasp_add_expr (no parser needed).
 * Every helper returns the new expression's index. Used by the semantics tests. */
#ifndef ITRACR_TEST_RASP_BUILD_H
#define ITRACR_TEST_RASP_BUILD_H
#include <string.h>

#include "rasp/rasp.h"

static inline RaspExpr rb_blank(ExprKind k) {
    RaspExpr e;
    memset(&e, 0, sizeof e);
    e.kind = k;
    e.child[0] = e.child[1] = -1;
    e.enc = ENC_CATEGORICAL;
    return e;
}

static inline int rb_add(RaspProgram *p, RaspExpr e, const char *name) {
    if (name) {
        e.name = arena_strdup(&p->arena, name);
        e.user_named = true;
    }
    return rasp_add_expr(p, &e);
}

static inline int rb_tokens(RaspProgram *p) { return rb_add(p, rb_blank(EXPR_TOKENS), NULL); }
static inline int rb_indices(RaspProgram *p) { return rb_add(p, rb_blank(EXPR_INDICES), NULL); }

static inline Lambda *rb_lambda(RaspProgram *p, int n_params, PyExpr *body) {
    Lambda *l = arena_alloc(&p->arena, sizeof *l);
    l->n_params = n_params;
    l->params[0] = "x";
    l->params[1] = "y";
    l->body = body;
    return l;
}

static inline int rb_map(RaspProgram *p, PyExpr *body, int inner, Encoding enc, const char *name) {
    RaspExpr e = rb_blank(EXPR_MAP);
    e.child[0] = inner;
    e.fn = rb_lambda(p, 1, body);
    e.enc = enc;
    return rb_add(p, e, name);
}

static inline int rb_seqmap(RaspProgram *p, PyExpr *body, int fst, int snd, Encoding enc,
                            const char *name) {
    RaspExpr e = rb_blank(EXPR_SEQMAP);
    e.child[0] = fst;
    e.child[1] = snd;
    e.fn = rb_lambda(p, 2, body);
    e.enc = enc;
    return rb_add(p, e, name);
}

static inline int rb_linseqmap(RaspProgram *p, int fst, int snd, Value a, Value b, Encoding enc,
                               const char *name) {
    RaspExpr e = rb_blank(EXPR_LINSEQMAP);
    e.child[0] = fst;
    e.child[1] = snd;
    e.lin_a = a;
    e.lin_b = b;
    e.enc = enc;
    return rb_add(p, e, name);
}

static inline int rb_full(RaspProgram *p, Value v, const char *name) {
    RaspExpr e = rb_blank(EXPR_FULL);
    e.full_value = v;
    return rb_add(p, e, name);
}

static inline int rb_select(RaspProgram *p, int keys, int queries, Pred pred, const char *name) {
    RaspExpr e = rb_blank(EXPR_SELECT);
    e.child[0] = keys;
    e.child[1] = queries;
    e.pred = pred;
    return rb_add(p, e, name);
}

/* pred(key, query) given as a 2-parameter body: param 0 = key, param 1 = query */
static inline int rb_select_fn(RaspProgram *p, int keys, int queries, PyExpr *body,
                               const char *name) {
    RaspExpr e = rb_blank(EXPR_SELECT);
    e.child[0] = keys;
    e.child[1] = queries;
    e.pred = PRED_LAMBDA;
    e.fn = rb_lambda(p, 2, body);
    e.fn->params[0] = "k";
    e.fn->params[1] = "q";
    return rb_add(p, e, name);
}

static inline int rb_aggregate(RaspProgram *p, int sel, int sop, Value dflt, Encoding enc,
                               const char *name) {
    RaspExpr e = rb_blank(EXPR_AGGREGATE);
    e.child[0] = sel;
    e.child[1] = sop;
    e.default_value = dflt;
    e.enc = enc;
    return rb_add(p, e, name);
}

static inline int rb_selwidth(RaspProgram *p, int sel, Encoding enc, const char *name) {
    RaspExpr e = rb_blank(EXPR_SELWIDTH);
    e.child[0] = sel;
    e.enc = enc;
    return rb_add(p, e, name);
}

static inline int rb_selcomb(RaspProgram *p, ExprKind k, int a, int b, const char *name) {
    RaspExpr e = rb_blank(k);
    e.child[0] = a;
    e.child[1] = b;
    return rb_add(p, e, name);
}

/* Sets the output and labels, as the parser does at the end. */
static inline void rb_finish(RaspProgram *p, int output) {
    p->output = output;
    rasp_assign_labels(p);
}

#endif
