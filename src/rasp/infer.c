/* Tracr's basis_inference value sets (docs/tracr.md §2.2).
 *
 * Nodes are visited in the DFS post-order from the output (children before parents, first
 * child first), as networkx's dfs_postorder_nodes on the reversed graph does, so the first
 * failure reported is the one Tracr raises. Sets keep insertion order; Tracr's Python sets
 * iterate in hash order, which only matters for which of several equal representatives
 * (1, 1.0, True) is kept. valset_add hashes its members, so products of large sets stay
 * linear. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rasp/rasp.h"
#include "util/errmsg.h"


static const char *label_of(const RaspExpr *e) {
    return e->label ? e->label : e->name ? e->name : rasp_default_name(e->kind);
}

static void oom(void) {
    fprintf(stderr, "itracr: out of memory\n");
    abort();
}

/* Python repr of a set, e.g. {1, 2, 3}, for messages. */
static void set_repr(const ValueSet *s, char *buf, size_t cap) {
    if (s->n == 0) {
        snprintf(buf, cap, "set()");
        return;
    }
    size_t len = (size_t)snprintf(buf, cap, "{");
    for (size_t i = 0; i < s->n && len < cap; i++) {
        if (i) len += (size_t)snprintf(buf + len, cap - len, ", ");
        if (len < cap) len += val_repr_fmt(s->items[i], buf + len, cap - len);
    }
    if (len < cap) snprintf(buf + len, cap - len, "}");
}


static int child_ok(const RaspProgram *p, const RaspExpr *e, int c) {
    int ch = e->child[c];
    return ch >= 0 && ch < p->n_exprs && rasp_is_sop(p->exprs[ch].kind);
}

static int infer_node(const RaspProgram *p, int x, const Value *vocab, int n_vocab, int N,
                      ValueSet *sets, char *msg, size_t cap) {
    const RaspExpr *e = &p->exprs[x];
    ValueSet *out = &sets[x];
    int rc = 0;
    char em[300];
    valset_clear(out);
    switch (e->kind) {
    case EXPR_TOKENS:
        for (int i = 0; i < n_vocab; i++) valset_add(out, vocab[i]);
        break;
    case EXPR_INDICES:
        for (int i = 0; i < N; i++) valset_add(out, val_int(i));
        break;
    case EXPR_SELWIDTH:
        for (int i = 0; i <= N; i++) valset_add(out, val_int(i));
        break;
    case EXPR_FULL: valset_add(out, e->full_value); break;
    case EXPR_MAP: {
        if (!child_ok(p, e, 0) || !e->fn) {
            rc = err_printf(msg, cap, "ValueError: Unsupported S-Op: malformed Map");
            break;
        }
        const ValueSet *in = &sets[e->child[0]];
        for (size_t i = 0; i < in->n && !rc; i++) {
            Value r;
            PyErr pe = lambda_call(e->fn, &in->items[i], &r, em, sizeof em);
            if (pe == PYERR_ARITH) continue; /* Tracr: ignoring_arithmetic_errors */
            if (pe) rc = err_printf(msg, cap, "%s", em);
            else if (r.kind != VAL_NONE) valset_add(out, r);
        }
        break;
    }
    case EXPR_SEQMAP:
    case EXPR_LINSEQMAP: {
        bool lin = e->kind == EXPR_LINSEQMAP && (e->lin_a.kind != VAL_NONE || !e->fn);
        if (!child_ok(p, e, 0) || !child_ok(p, e, 1) || (!lin && !e->fn)) {
            rc = err_printf(msg, cap, "ValueError: Unsupported S-Op: malformed SequenceMap");
            break;
        }
        /* full product, even when both children are the same node */
        const ValueSet *s1 = &sets[e->child[0]], *s2 = &sets[e->child[1]];
        if ((double)s1->n * (double)s2->n > RASP_MAX_PRODUCT) {
            /* Tracr would try; its MLP would need |V1|*|V2| hidden units. A decoded or
             * generated program can chain such products until nothing fits in memory. */
            rc = err_printf(msg, cap,
                            "ValueError: value set too large: %zu x %zu input values exceed "
                            "itracr's limit of %d for one SequenceMap",
                            s1->n, s2->n, RASP_MAX_PRODUCT);
            break;
        }
        for (size_t i = 0; i < s1->n && !rc; i++)
            for (size_t j = 0; j < s2->n && !rc; j++) {
                Value args[2] = {s1->items[i], s2->items[j]}, r, ax, by;
                PyErr pe;
                if (lin) {
                    pe = py_binop(PYB_MUL, e->lin_a, args[0], &ax, em, sizeof em);
                    if (!pe) pe = py_binop(PYB_MUL, e->lin_b, args[1], &by, em, sizeof em);
                    if (!pe) pe = py_binop(PYB_ADD, ax, by, &r, em, sizeof em);
                } else {
                    pe = lambda_call(e->fn, args, &r, em, sizeof em);
                }
                if (pe == PYERR_ARITH) continue;
                if (pe) rc = err_printf(msg, cap, "%s", em);
                else if (r.kind != VAL_NONE) valset_add(out, r);
            }
        break;
    }
    case EXPR_AGGREGATE: {
        if (!child_ok(p, e, 1)) {
            rc = err_printf(msg, cap, "ValueError: Unsupported S-Op: malformed Aggregate");
            break;
        }
        const ValueSet *in = &sets[e->child[1]];
        if (e->enc == ENC_CATEGORICAL) {
            for (size_t i = 0; i < in->n; i++) valset_add(out, in->items[i]);
            break;
        }
        /* {int(x) for x in V} is built completely before the subset test, so an int()
         * failure wins over the non-binary complaint */
        bool binary = true;
        for (size_t i = 0; i < in->n && !rc; i++) {
            Value iv;
            if (py_int(in->items[i], &iv, em, sizeof em)) rc = err_printf(msg, cap, "%s", em);
            else if (iv.u.i != 0 && iv.u.i != 1) binary = false;
        }
        if (!rc && !binary) {
            char sr[200];
            set_repr(in, sr, sizeof sr);
            rc = err_printf(msg, cap,
                            "NotImplementedError: Attention patterns can currently only average "
                            "binary variables. Not: %s",
                            sr);
        }
        for (size_t i = 0; i < in->n && !rc; i++)
            for (int len = 1; len <= N && !rc; len++) {
                Value r;
                if (py_binop(PYB_DIV, in->items[i], val_int(len), &r, em, sizeof em))
                    rc = err_printf(msg, cap, "%s", em);
                else valset_add(out, r);
            }
        break;
    }
    default: break; /* selectors have no value set */
    }
    return rc;
}

int rasp_infer_value_sets(const RaspProgram *p, const Value *vocab, int n_vocab, int max_seq_len,
                          ValueSet *sets, char *err, size_t errcap) {
    for (int i = 0; i < p->n_exprs; i++) valset_init(&sets[i]);
    if (err && errcap) err[0] = 0;
    if (p->output < 0 || p->output >= p->n_exprs)
        return err_printf(err, errcap, "program has no output");
    enum { SMALL = 64 }; /* nearly every program: no heap for the traversal */
    int buf0[2 * SMALL];
    unsigned char state0[2 * SMALL];
    int *order = buf0, *stack = buf0 + SMALL;
    unsigned char *state = state0;
    void *block = NULL;
    if (p->n_exprs > SMALL) {
        block = malloc((size_t)p->n_exprs * (2 * sizeof(int) + 2));
        if (!block) oom();
        order = block;
        stack = order + p->n_exprs;
        state = (unsigned char *)(stack + p->n_exprs);
    }
    int n = rasp_post_order_into(p, p->output, order, stack, state);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        char msg[400];
        if (infer_node(p, order[i], vocab, n_vocab, max_seq_len, sets, msg, sizeof msg))
            rc = err_printf(err, errcap, "%s: %s", label_of(&p->exprs[order[i]]), msg);
    }
    free(block);
    return rc;
}

void rasp_free_value_sets(ValueSet *sets, int n) {
    if (!sets) return;
    for (int i = 0; i < n; i++) valset_free(&sets[i]);
}
