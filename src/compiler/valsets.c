/* Completed value sets (docs/tracr.md §5.2 item 2). Tracr infers a numerical mean's values
 * as {v/l}, which misses k/l for k > 1, so a later numerical MLP discretises values it never
 * saw. Here every node downstream of such a mean gets the set of values it can really take;
 * exact mode compiles from these sets, default mode uses them to warn. */
#include <stdio.h>
#include <stdlib.h>

#include "compiler/compile_internal.h"

static bool subset(const ValueSet *a, const ValueSet *b) {
    for (size_t i = 0; i < a->n; i++)
        if (!valset_contains(b, a->items[i])) return false;
    return true;
}

static void apply1(const Lambda *f, const ValueSet *in, ValueSet *out) {
    for (size_t i = 0; i < in->n; i++) {
        Value y;
        if (lambda_call(f, &in->items[i], &y, NULL, 0) == PYERR_OK && y.kind != VAL_NONE)
            valset_add(out, y);
    }
}

static void apply2(const Lambda *f, const ValueSet *x, const ValueSet *y, ValueSet *out) {
    for (size_t i = 0; i < x->n; i++)
        for (size_t j = 0; j < y->n; j++) {
            Value a[2] = {x->items[i], y->items[j]}, r;
            if (lambda_call(f, a, &r, NULL, 0) == PYERR_OK && r.kind != VAL_NONE)
                valset_add(out, r);
        }
}

void cvs_complete(CCtx *c, ValueSet *store) {
    const RaspProgram *p = c->p;
    /* Only nodes feeding a numerical-input MLP need completing, unless in exact mode (the
     * products of completed sets can be large). Parents come after children in index order. */
    bool *need = arena_alloc(c->a, (size_t)p->n_exprs + 1);
    for (int i = p->n_exprs - 1; i >= 0; i--) {
        if (c->node_of[i] < 0) continue;
        const RaspExpr *e = &p->exprs[i];
        if (c->exact) need[i] = true;
        if (e->kind == EXPR_MAP && e->child[0] >= 0 && p->exprs[e->child[0]].enc == ENC_NUMERICAL)
            need[e->child[0]] = true;
        if (need[i])
            for (int k = 0; k < 2; k++)
                if (e->child[k] >= 0) need[e->child[k]] = true;
    }
    for (int i = 0; i < p->n_exprs; i++) {
        int id = c->node_of[i];
        if (id < 0) continue;
        CNode *nd = &c->nodes[id];
        nd->cvals = nd->vals;
        nd->incomplete = false;
        if (!nd->sop || !need[i]) continue;
        const RaspExpr *e = nd->e;
        CNode *x = e->child[0] >= 0 && c->node_of[e->child[0]] >= 0
                       ? &c->nodes[c->node_of[e->child[0]]]
                       : NULL;
        CNode *y = e->child[1] >= 0 && c->node_of[e->child[1]] >= 0
                       ? &c->nodes[c->node_of[e->child[1]]]
                       : NULL;
        ValueSet *out = &store[i];
        switch (e->kind) {
        case EXPR_MAP:
            if (!x || !x->incomplete) continue;
            apply1(e->fn, x->cvals, out);
            break;
        case EXPR_SEQMAP:
        case EXPR_LINSEQMAP:
            if (!x || !y || (!x->incomplete && !y->incomplete)) continue;
            apply2(e->fn, x->cvals, y->cvals, out);
            break;
        case EXPR_AGGREGATE:
            if (!y) continue;
            if (e->enc == ENC_CATEGORICAL) {
                nd->cvals = y->cvals;
                nd->incomplete = y->incomplete;
                continue;
            } else {
                /* Means of 1..N selected 0/1 values, plus the default 0 (empty selection). */
                bool has0 = false, has1 = false;
                for (size_t k = 0; k < y->cvals->n; k++) {
                    Value v = y->cvals->items[k];
                    if (!val_is_number(v)) continue;
                    double d = val_as_double(v);
                    if (d == 0) has0 = true;
                    else if (d == 1) has1 = true;
                }
                valset_copy(out, nd->vals);
                valset_add(out, val_float(0.0));
                for (int l = 1; l <= c->N; l++)
                    for (int k = has0 ? 0 : l; k <= (has1 ? l : 0); k++)
                        valset_add(out, val_float((double)k / l));
            }
            break;
        default: continue;
        }
        if (!subset(out, nd->vals)) {
            nd->cvals = out;
            nd->incomplete = true;
        } else {
            valset_clear(out);
        }
    }
}
