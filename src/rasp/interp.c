/* Tracr's reference evaluator (rasp.evaluate) and causal evaluator (causal_eval.evaluate).
 *
 * Nodes are evaluated once each (memoised), children before parents in the DFS post-order
 * that Tracr's recursive evaluator follows (first child fully, then the second), so the
 * first error reported is the one Tracr would raise. On failure the trace is released and
 * left zeroed, so callers only free it after success (freeing a zeroed trace is harmless). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rasp/rasp.h"
#include "util/errmsg.h"

void rasp_trace_free(RaspTrace *t) {
    free(t->sop);
    free(t->sel);
    free(t->done);
    memset(t, 0, sizeof *t);
}


static const char *label_of(const RaspExpr *e) {
    return e->label ? e->label : e->name ? e->name : rasp_default_name(e->kind);
}

/* Python repr of a list of values, e.g. ['a', 'b'], for error messages. */
static void list_repr(const Value *v, int n, char *buf, size_t cap) {
    size_t len = 0;
    len += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n && len < cap; i++) {
        if (i) len += (size_t)snprintf(buf + len, cap - len, ", ");
        if (len < cap) len += val_repr_fmt(v[i], buf + len, cap - len);
    }
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

/* The DFS post-order (children in child order) of the expressions reachable from root.
 * Returns the count written into order[n_exprs]. */

int rasp_select_pred(const RaspExpr *e, Value key, Value query, bool *out, char *msg,
                       size_t cap) {
    if (e->pred == PRED_LAMBDA) {
        if (!e->fn) return err_printf(msg, cap, "internal error: Select has no predicate function");
        Value args[2] = {key, query}, r;
        if (lambda_call(e->fn, args, &r, msg, cap)) return 1;
        *out = val_truthy(r);
        return 0;
    }
    if (key.kind == VAL_NONE) return err_printf(msg, cap, "ValueError: key is None!");
    if (query.kind == VAL_NONE) return err_printf(msg, cap, "ValueError: query is None!");
    PyCmpOp op;
    switch (e->pred) {
    case PRED_TRUE: *out = true; return 0;
    case PRED_FALSE: *out = false; return 0;
    case PRED_EQ: op = PYC_EQ; break;
    case PRED_LT: op = PYC_LT; break;
    case PRED_LEQ: op = PYC_LE; break;
    case PRED_GT: op = PYC_GT; break;
    case PRED_GEQ: op = PYC_GE; break;
    case PRED_NEQ: op = PYC_NE; break;
    default: return err_printf(msg, cap, "internal error: unknown predicate");
    }
    return py_compare(op, key, query, out, msg, cap) ? 1 : 0;
}

/* Tracr's _mean: empty -> default, one value -> itself, numbers -> sum/len, else error. */
static int aggregate_row(const Value *sel_vals, int k, Value dflt, Value *out, char *msg,
                         size_t cap) {
    if (k == 0) {
        *out = dflt;
        return 0;
    }
    if (k == 1) {
        *out = sel_vals[0];
        return 0;
    }
    for (int i = 0; i < k; i++) {
        if (!val_is_number(sel_vals[i])) {
            char list[200];
            list_repr(sel_vals, k, list, sizeof list);
            return err_printf(
                msg, cap,
                "ValueError: Only types int, bool, and float are supported for aggregation. "
                "Received sequence: %s",
                list);
        }
    }
    Value sum = val_int(0);
    for (int i = 0; i < k; i++)
        if (py_binop(PYB_ADD, sum, sel_vals[i], &sum, msg, cap)) return 1;
    return py_binop(PYB_DIV, sum, val_int(k), out, msg, cap) ? 1 : 0;
}

static int eval_node(const RaspProgram *p, int x, const Value *xs, int n, bool causal, RaspTrace *t,
                     char *msg, size_t cap) {
    const RaspExpr *e = &p->exprs[x];
    Value *out = t->sop + (size_t)x * (size_t)n;
    unsigned char *sel = t->sel + (size_t)x * (size_t)n * (size_t)n;
    for (int c = 0; c < 2; c++) {
        int ch = e->child[c];
        if (ch >= p->n_exprs) return err_printf(msg, cap, "internal error: bad child index");
        if (ch < 0) continue;
        bool want_sel =
            (e->kind == EXPR_AGGREGATE || e->kind == EXPR_SELWIDTH)
                ? c == 0
                : (e->kind == EXPR_SEL_AND || e->kind == EXPR_SEL_OR || e->kind == EXPR_SEL_NOT);
        if (rasp_is_selector(p->exprs[ch].kind) != want_sel)
            return err_printf(msg, cap, "TypeError: %s expects %s as argument %d",
                              rasp_kind_name(e->kind), want_sel ? "a selector" : "an SOp", c + 1);
    }
    const Value *a = e->child[0] >= 0 ? t->sop + (size_t)e->child[0] * (size_t)n : NULL;
    const Value *b = e->child[1] >= 0 ? t->sop + (size_t)e->child[1] * (size_t)n : NULL;
    const unsigned char *sa =
        e->child[0] >= 0 ? t->sel + (size_t)e->child[0] * (size_t)n * (size_t)n : NULL;
    const unsigned char *sb =
        e->child[1] >= 0 ? t->sel + (size_t)e->child[1] * (size_t)n * (size_t)n : NULL;
    bool needs[2] = {false, false};
    switch (e->kind) {
    case EXPR_MAP:
    case EXPR_SEL_NOT:
    case EXPR_SELWIDTH: needs[0] = true; break;
    case EXPR_SEQMAP:
    case EXPR_LINSEQMAP:
    case EXPR_SELECT:
    case EXPR_AGGREGATE:
    case EXPR_SEL_AND:
    case EXPR_SEL_OR: needs[0] = needs[1] = true; break;
    default: break;
    }
    if ((needs[0] && !a) || (needs[1] && !b))
        return err_printf(msg, cap, "internal error: missing child");

    switch (e->kind) {
    case EXPR_TOKENS:
        for (int i = 0; i < n; i++) out[i] = xs[i];
        break;
    case EXPR_INDICES:
        for (int i = 0; i < n; i++) out[i] = val_int(i);
        break;
    case EXPR_FULL:
        for (int i = 0; i < n; i++) out[i] = e->full_value;
        break;
    case EXPR_MAP:
        if (!e->fn) return err_printf(msg, cap, "internal error: Map has no function");
        for (int i = 0; i < n; i++) {
            if (a[i].kind == VAL_NONE) out[i] = val_none();
            else if (lambda_call(e->fn, &a[i], &out[i], msg, cap)) return 1;
        }
        break;
    case EXPR_SEQMAP:
    case EXPR_LINSEQMAP:
        for (int i = 0; i < n; i++) {
            if (a[i].kind == VAL_NONE || b[i].kind == VAL_NONE) {
                out[i] = val_none();
                continue;
            }
            Value args[2] = {a[i], b[i]};
            if (e->kind == EXPR_LINSEQMAP && (e->lin_a.kind != VAL_NONE || !e->fn)) {
                /* Tracr's f = lambda x, y: fst_fac * x + snd_fac * y */
                Value ax, by;
                if (py_binop(PYB_MUL, e->lin_a, a[i], &ax, msg, cap) ||
                    py_binop(PYB_MUL, e->lin_b, b[i], &by, msg, cap) ||
                    py_binop(PYB_ADD, ax, by, &out[i], msg, cap))
                    return 1;
            } else {
                if (!e->fn)
                    return err_printf(msg, cap, "internal error: SequenceMap has no function");
                if (lambda_call(e->fn, args, &out[i], msg, cap)) return 1;
            }
        }
        break;
    case EXPR_SELECT:
        /* keys = child 0, queries = child 1; M[query][key] */
        for (int q = 0; q < n; q++)
            for (int k = 0; k < n; k++) {
                bool r;
                if (rasp_select_pred(e, a[k], b[q], &r, msg, cap)) return 1;
                sel[(size_t)q * n + k] = r;
            }
        break;
    case EXPR_SEL_AND:
    case EXPR_SEL_OR:
        for (size_t i = 0; i < (size_t)n * n; i++)
            sel[i] = e->kind == EXPR_SEL_AND ? (sa[i] && sb[i]) : (sa[i] || sb[i]);
        break;
    case EXPR_SEL_NOT:
        for (size_t i = 0; i < (size_t)n * n; i++) sel[i] = !sa[i];
        break;
    case EXPR_SELWIDTH:
        for (int q = 0; q < n; q++) {
            int64_t w = 0;
            for (int k = 0; k < n; k++) w += sa[(size_t)q * n + k];
            out[q] = val_int(w);
        }
        break;
    case EXPR_AGGREGATE: {
        Value *buf = malloc((size_t)(n ? n : 1) * sizeof *buf);
        if (!buf) return err_printf(msg, cap, "MemoryError");
        for (int q = 0; q < n; q++) {
            int k = 0;
            for (int j = 0; j < n; j++)
                if (sa[(size_t)q * n + j]) buf[k++] = b[j];
            if (aggregate_row(buf, k, e->default_value, &out[q], msg, cap)) {
                free(buf);
                return 1;
            }
        }
        free(buf);
        break;
    }
    }
    if (causal && rasp_is_selector(e->kind))
        for (int q = 0; q < n; q++)
            for (int k = q + 1; k < n; k++) sel[(size_t)q * n + k] = 0;
    return 0;
}

int rasp_interp_trace(const RaspProgram *p, const Value *xs, int n, bool causal, RaspTrace *t,
                      char *err, size_t errcap) {
    memset(t, 0, sizeof *t);
    if (err && errcap) err[0] = 0;
    if (p->output < 0 || p->output >= p->n_exprs)
        return err_printf(err, errcap, "program has no output");
    if (n < 0) return err_printf(err, errcap, "negative input length");
    t->n = n;
    t->n_exprs = p->n_exprs;
    size_t ne = (size_t)p->n_exprs, nn = (size_t)(n ? n : 1);
    t->sop = calloc(ne * nn, sizeof *t->sop);
    t->sel = calloc(ne * nn * nn, 1);
    t->done = calloc(ne, 1);
    int *order = malloc(ne * sizeof *order);
    if (!t->sop || !t->sel || !t->done || !order) {
        free(order);
        rasp_trace_free(t);
        return err_printf(err, errcap,
                          "out of memory evaluating a program of %d expressions on %d tokens",
                          p->n_exprs, n);
    }
    int cnt = rasp_post_order(p, p->output, order);
    for (int i = 0; i < cnt; i++) {
        char msg[400];
        msg[0] = 0;
        if (eval_node(p, order[i], xs, n, causal, t, msg, sizeof msg)) {
            err_printf(err, errcap, "%s: %s", label_of(&p->exprs[order[i]]), msg);
            free(order);
            rasp_trace_free(t);
            return 1;
        }
        t->done[order[i]] = 1;
    }
    free(order);
    if (cnt < 0) {
        rasp_trace_free(t);
        return err_printf(err, errcap, "out of memory");
    }
    return 0;
}

int rasp_interp(const RaspProgram *p, const Value *xs, int n, bool causal, Value *out, char *err,
                size_t errcap) {
    if (p->output >= 0 && p->output < p->n_exprs && !rasp_is_sop(p->exprs[p->output].kind))
        return err_printf(err, errcap, "%s: the output is a selector, not an SOp",
                          label_of(&p->exprs[p->output]));
    RaspTrace t;
    if (rasp_interp_trace(p, xs, n, causal, &t, err, errcap)) return 1;
    memcpy(out, t.sop + (size_t)p->output * (size_t)n, (size_t)n * sizeof *out);
    rasp_trace_free(&t);
    return 0;
}
