/* Validation: Tracr's static_validate and dynamic_validate (compiler/validating.py), plus
 * the failures Tracr only meets while compiling (docs/tracr.md §5.1). Reasons are worded
 * as Tracr's exceptions; each issue reads "<label>: <reason>". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rasp/rasp.h"
#include "rasp/validate_sets.h"

#define BOS_TOKEN "compiler_bos"
#define PAD_TOKEN "compiler_pad"

void rasp_report_init(RaspReport *r) {
    r->items = NULL;
    r->n = r->cap = 0;
}

void rasp_report_free(RaspReport *r) {
    free(r->items);
    rasp_report_init(r);
}

void rasp_report_add(RaspReport *r, int expr, const char *fmt, ...) {
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 8;
        RaspIssue *p = realloc(r->items, (size_t)cap * sizeof *p);
        if (!p) {
            fprintf(stderr, "itracr: out of memory\n");
            abort();
        }
        r->items = p;
        r->cap = cap;
    }
    RaspIssue *it = &r->items[r->n++];
    it->expr = expr;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->msg, sizeof it->msg, fmt, ap);
    va_end(ap);
}

static bool has_issue(const RaspReport *r, int expr) {
    for (int i = 0; i < r->n; i++)
        if (r->items[i].expr == expr) return true;
    return false;
}

static const char *label_of(const RaspExpr *e) {
    return e->label ? e->label : e->name ? e->name : rasp_default_name(e->kind);
}

static const char *name_of(const RaspExpr *e) {
    return e->name ? e->name : rasp_default_name(e->kind);
}

static bool valid_child(const RaspProgram *p, int ch) { return ch >= 0 && ch < p->n_exprs; }

static bool is_cat(const RaspProgram *p, int i) {
    return valid_child(p, i) && p->exprs[i].enc == ENC_CATEGORICAL;
}
static bool is_num(const RaspProgram *p, int i) {
    return valid_child(p, i) && p->exprs[i].enc == ENC_NUMERICAL;
}

static const char *enc_repr(Encoding e) {
    return e == ENC_NUMERICAL ? "Encoding.NUMERICAL" : "Encoding.CATEGORICAL";
}

/* Python repr of a list of values as a set: {a, b} (insertion order), "set()" if empty. */
static void set_repr(const Value *v, size_t n, char *buf, size_t cap) {
    if (!n) {
        snprintf(buf, cap, "set()");
        return;
    }
    size_t len = (size_t)snprintf(buf, cap, "{");
    for (size_t i = 0; i < n && len < cap; i++) {
        if (i) len += (size_t)snprintf(buf + len, cap - len, ", ");
        if (len < cap) len += val_repr_fmt(v[i], buf + len, cap - len);
    }
    if (len < cap) snprintf(buf + len, cap - len, "}");
}

/* ---- static ---------------------------------------------------------------------------- */
/* _static_validate_expr: the first applicable reason, or NULL. buf holds formatted ones. */
static const char *static_reason(const RaspProgram *p, const RaspExpr *e, char *buf, size_t cap) {
    switch (e->kind) {
    case EXPR_TOKENS:
    case EXPR_INDICES:
        /* Tracr uses the tokens wording for indices too */
        if (e->enc == ENC_NUMERICAL) return "tokens should always be categorical.";
        break;
    case EXPR_SELECT:
        if (!is_cat(p, e->child[0])) return "Select keys must be categorical.";
        if (!is_cat(p, e->child[1])) return "Select queries must be categorical.";
        break;
    case EXPR_AGGREGATE:
        if (valid_child(p, e->child[1]) && p->exprs[e->child[1]].enc != e->enc) {
            /* Tracr prints the aggregate's encoding as "Input" and the SOp's as "Output" */
            snprintf(
                buf, cap,
                "An aggregate's output encoding must match its input encoding. Input: %s   Output: %s  ",
                enc_repr(e->enc), enc_repr(p->exprs[e->child[1]].enc));
            return buf;
        }
        if (e->enc == ENC_CATEGORICAL && e->default_value.kind != VAL_NONE)
            return "Categorical aggregate only supports None as default value.";
        if (e->enc == ENC_NUMERICAL && !val_eq(e->default_value, val_int(0)))
            return "Numerical aggregate only supports 0 as default value.";
        break;
    case EXPR_SEQMAP:
        if (!is_cat(p, e->child[0]) || !is_cat(p, e->child[1]) || e->enc != ENC_CATEGORICAL)
            return "(Non-linear) SequenceMap only supports categorical inputs/outputs.";
        break;
    case EXPR_LINSEQMAP:
        if (!is_num(p, e->child[0]) || !is_num(p, e->child[1]) || e->enc != ENC_NUMERICAL)
            return "LinearSequenceMap only supports numerical inputs/outputs.";
        break;
    default: break;
    }
    return NULL;
}

/* Tracr walks a queue that may hold an expression several times and marks *names* as
 * visited: a child is enqueued unless an expression of the same name was already visited,
 * and every dequeued expression is checked. Re-checking the same expression only repeats
 * an issue and re-enqueues children that are already queued, so each expression is
 * checked once here; the set of checked expressions and the order of first reports are
 * Tracr's. */
int rasp_validate_static(const RaspProgram *p, RaspReport *r) {
    if (p->output < 0 || p->output >= p->n_exprs) return 0;
    int before = r->n;
    int qcap = 2 * p->n_exprs + 2, head = 0, tail = 0;
    /* Small programs (nearly all) need no heap: stack buffers, else one block. */
    enum { SMALL = 64 };
    int queue0[2 * SMALL + 2];
    unsigned char checked0[SMALL];
    const char *visited0[SMALL];
    void *block = NULL;
    int *queue = queue0;
    unsigned char *checked = checked0;
    const char **visited = visited0;
    if (p->n_exprs > SMALL) {
        block = malloc((size_t)p->n_exprs * (sizeof *visited + 1) + (size_t)qcap * sizeof *queue);
        if (!block) {
            fprintf(stderr, "itracr: out of memory\n");
            abort();
        }
        visited = block;
        queue = (int *)(visited + p->n_exprs);
        checked = (unsigned char *)(queue + qcap);
    }
    memset(checked, 0, (size_t)p->n_exprs);
    int *queue_heap = NULL; /* the queue once it outgrows its first buffer */
    int n_visited = 0;
    queue[tail++] = p->output;
    while (head < tail) {
        int x = queue[head++];
        if (checked[x]) continue;
        checked[x] = 1;
        const RaspExpr *e = &p->exprs[x];
        const char *nm = name_of(e);
        bool known = false;
        for (int i = 0; i < n_visited && !known; i++) known = strcmp(visited[i], nm) == 0;
        if (!known) visited[n_visited++] = nm;
        char buf[300];
        const char *why = static_reason(p, e, buf, sizeof buf);
        if (why) rasp_report_add(r, x, "%s: %s", label_of(e), why);
        for (int c = 0; c < 2; c++) {
            int ch = e->child[c];
            if (!valid_child(p, ch) || checked[ch]) continue;
            const char *cn = name_of(&p->exprs[ch]);
            bool seen = false;
            for (int i = 0; i < n_visited && !seen; i++) seen = strcmp(visited[i], cn) == 0;
            if (seen) continue;
            if (tail == qcap) {
                qcap *= 2;
                int *q = realloc(queue_heap, (size_t)qcap * sizeof *q);
                if (!q) {
                    fprintf(stderr, "itracr: out of memory\n");
                    abort();
                }
                if (!queue_heap) memcpy(q, queue, (size_t)tail * sizeof *q);
                queue = queue_heap = q;
            }
            queue[tail++] = ch;
        }
    }
    free(queue_heap);
    free(block);
    return r->n - before;
}

/* ---- dynamic --------------------------------------------------------------------------- */
int rasp_validate_dynamic(const RaspProgram *p, const Value *xs, int n, RaspReport *r) {
    int before = r->n;
    RaspTrace t;
    char err[400];
    if (rasp_interp_trace(p, xs, n, false, &t, err, sizeof err)) {
        rasp_report_add(r, -1, "%s", err);
        return r->n - before;
    }
    int *order = malloc((size_t)p->n_exprs * sizeof *order);
    if (!order) {
        fprintf(stderr, "itracr: out of memory\n");
        abort();
    }
    int cnt = rasp_post_order(p, p->output, order);
    ValueSet in;
    valset_init(&in);
    for (int i = 0; i < cnt; i++) {
        int x = order[i];
        const RaspExpr *e = &p->exprs[x];
        if (e->kind != EXPR_AGGREGATE || !valid_child(p, e->child[1])) continue;
        const Value *out = t.sop + (size_t)x * (size_t)n;
        const Value *agg_in = t.sop + (size_t)e->child[1] * (size_t)n;
        valset_clear(&in);
        for (int j = 0; j < n; j++) valset_add(&in, agg_in[j]);
        if (e->enc == ENC_CATEGORICAL) {
            bool ok = true;
            for (int j = 0; j < n && ok; j++)
                ok = out[j].kind == VAL_NONE || valset_contains(&in, out[j]);
            if (!ok)
                rasp_report_add(
                    r, x,
                    "%s: Categorical aggregate does not support Selectors with width > 1 "
                    "that require aggregation (eg. averaging).",
                    label_of(e));
        } else {
            bool ok = true;
            for (size_t j = 0; j < in.n && ok; j++)
                ok = val_eq(in.items[j], val_int(0)) || val_eq(in.items[j], val_int(1));
            if (!ok) {
                char sr[200];
                valset_sort(&in, label_of(e)); /* small ints iterate in order in CPython sets */
                set_repr(in.items, in.n, sr, sizeof sr);
                rasp_report_add(
                    r, x, "%s: Numerical aggregate only supports binary inputs 0, 1. But got %s.",
                    label_of(e), sr);
            }
        }
    }
    valset_free(&in);
    free(order);
    rasp_trace_free(&t);
    return r->n - before;
}

/* ---- compile-time failures ------------------------------------------------------------ */
/* Calls a categorical block's function on every input it will see and reports the first
 * exception (Tracr's categorical MLPs call f unguarded, so even ZeroDivisionError crashes). */
static void check_categorical_fn(const RaspProgram *p, int x, const ValueSet *sets, RaspReport *r) {
    const RaspExpr *e = &p->exprs[x];
    char em[300];
    if (e->kind == EXPR_MAP) {
        const ValueSet *in = &sets[e->child[0]];
        bool to_num = e->enc == ENC_NUMERICAL;
        for (size_t i = 0; i < in->n; i++) {
            Value v;
            if (lambda_call(e->fn, &in->items[i], &v, em, sizeof em)) {
                rasp_report_add(r, x, "%s: %s", label_of(e), em);
                return;
            }
            if (to_num && !val_is_number(v)) {
                char vr[100], ir[100];
                val_repr_fmt(v, vr, sizeof vr);
                val_repr_fmt(in->items[i], ir, sizeof ir);
                rasp_report_add(
                    r, x,
                    "%s: TypeError: a numerical Map must give a number, but gives %s for %s "
                    "(Tracr multiplies it with a vector)",
                    label_of(e), vr, ir);
                return;
            }
        }
        return;
    }
    /* categorical SequenceMap: all pairs, or only the diagonal when both inputs are one node
     * (Tracr then builds a Map of f(x, x)) */
    const ValueSet *s1 = &sets[e->child[0]], *s2 = &sets[e->child[1]];
    const RaspExpr *c1 = &p->exprs[e->child[0]], *c2 = &p->exprs[e->child[1]];
    bool same =
        e->child[0] == e->child[1] || (c1->label && c2->label && strcmp(c1->label, c2->label) == 0);
    for (size_t i = 0; i < s1->n; i++)
        for (size_t j = 0; j < s2->n; j++) {
            if (same && i != j) continue;
            Value args[2] = {s1->items[i], same ? s1->items[i] : s2->items[j]}, v;
            if (lambda_call(e->fn, args, &v, em, sizeof em)) {
                rasp_report_add(r, x, "%s: %s", label_of(e), em);
                return;
            }
        }
}

/* A numerical-input Map becomes a discretising MLP: it needs at least one input value on
 * which f is defined, and numbers as outputs when the Map is numerical. */
static void check_numerical_fn(const RaspProgram *p, int x, const ValueSet *sets, RaspReport *r) {
    const RaspExpr *e = &p->exprs[x];
    const ValueSet *in = &sets[e->child[0]];
    char em[300];
    int defined = 0;
    for (size_t i = 0; i < in->n; i++) {
        Value v;
        PyErr pe = lambda_call(e->fn, &in->items[i], &v, em, sizeof em);
        if (pe == PYERR_ARITH || (!pe && v.kind == VAL_NONE)) continue;
        if (pe) return; /* value-set inference reported it already */
        defined++;
        if (e->enc == ENC_NUMERICAL && !val_is_number(v)) {
            char vr[100];
            val_repr_fmt(v, vr, sizeof vr);
            rasp_report_add(r, x, "%s: TypeError: a numerical Map must give a number, but gives %s",
                            label_of(e), vr);
            return;
        }
    }
    if (!defined)
        rasp_report_add(
            r, x,
            "%s: IndexError: list index out of range (the function is undefined on every "
            "value of its numerical input)",
            label_of(e));
}

/* The predicate is evaluated on every (key value, query value) pair to build W_QK. */
static void check_predicate(const RaspProgram *p, int x, const RaspExpr *sel, const ValueSet *sets,
                            RaspReport *r) {
    const ValueSet *ks = &sets[sel->child[0]], *qs = &sets[sel->child[1]];
    static const PyCmpOp ops[] = {[PRED_EQ] = PYC_EQ, [PRED_LT] = PYC_LT,  [PRED_LEQ] = PYC_LE,
                                  [PRED_GT] = PYC_GT, [PRED_GEQ] = PYC_GE, [PRED_NEQ] = PYC_NE};
    if (sel->pred == PRED_TRUE || sel->pred == PRED_FALSE) return;
    char em[300];
    for (size_t i = 0; i < qs->n; i++)
        for (size_t j = 0; j < ks->n; j++) {
            PyErr pe;
            if (sel->pred == PRED_LAMBDA) {
                Value args[2] = {ks->items[j], qs->items[i]}, v;
                pe = sel->fn ? lambda_call(sel->fn, args, &v, em, sizeof em) : PYERR_VALUE;
                if (!sel->fn) snprintf(em, sizeof em, "ValueError: Select has no predicate");
            } else {
                bool b;
                pe = py_compare(ops[sel->pred], ks->items[j], qs->items[i], &b, em, sizeof em);
            }
            if (pe) {
                rasp_report_add(r, x, "%s: %s", label_of(&p->exprs[x]), em);
                return;
            }
        }
}

static bool has_none(const ValueSet *s) {
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].kind == VAL_NONE) return true;
    return false;
}

/* A categorical SequenceMap's check may be left to its block: the block calls f on every
 * pair of input directions (or on (x, x) when both inputs are one node), which are all the
 * pairs the check calls it on when no input value is None. Two distinct inputs with one
 * label are checked on the diagonal only, which the block does not call. */
static bool seqmap_deferrable(const RaspProgram *p, const RaspExpr *e, const ValueSet *sets) {
    const RaspExpr *c1 = &p->exprs[e->child[0]], *c2 = &p->exprs[e->child[1]];
    bool same_label = c1->label && c2->label && strcmp(c1->label, c2->label) == 0;
    if (e->child[0] != e->child[1] && same_label) return false;
    return !has_none(&sets[e->child[0]]) && !has_none(&sets[e->child[1]]);
}

static int basis_size(const RaspProgram *p, int i, const ValueSet *sets) {
    return p->exprs[i].enc == ENC_NUMERICAL ? 1 : (int)sets[i].n;
}

int rasp_validate_compilable(const RaspProgram *p, const Value *vocab, int n_vocab, int max_seq_len,
                             RaspReport *r) {
    ValueSet *sets = malloc(((size_t)p->n_exprs + 1) * sizeof *sets);
    if (!sets) {
        fprintf(stderr, "itracr: out of memory\n");
        abort();
    }
    bool have_sets;
    int n =
        rasp_validate_compilable_sets(p, vocab, n_vocab, max_seq_len, r, sets, &have_sets, false);
    rasp_free_value_sets(sets, p->n_exprs);
    free(sets);
    return n;
}

/* The compiler's BOS and PAD tokens must not be in the vocabulary. */
static void check_special_tokens(const Value *vocab, int n_vocab, RaspReport *r) {
    char buf[400];
    static _Atomic(const char *) bos_slot, pad_slot;
    Value bos = val_str_once(BOS_TOKEN, &bos_slot), pad = val_str_once(PAD_TOKEN, &pad_slot);
    bool has_bos = false, has_pad = false;
    for (int i = 0; i < n_vocab; i++) {
        has_bos |= val_eq(vocab[i], bos);
        has_pad |= val_eq(vocab[i], pad);
    }
    if (!has_bos && !has_pad) return;
    set_repr(vocab, (size_t)n_vocab, buf, sizeof buf);
    if (has_bos)
        rasp_report_add(r, -1,
                        "vocab: ValueError: Compiler BOS token must not be present in the vocab. "
                        "Found '" BOS_TOKEN "' in %s",
                        buf);
    if (has_pad)
        rasp_report_add(r, -1,
                        "vocab: ValueError: Compiler PAD token must not be present in the vocab. "
                        "Found '" PAD_TOKEN "' in %s",
                        buf);
}

/* An Aggregate's output encoding and default value. */
static void check_aggregate_output(const RaspProgram *p, int x, RaspReport *r) {
    const RaspExpr *e = &p->exprs[x];
    const RaspExpr *so = &p->exprs[e->child[1]];
    if (so->enc != e->enc)
        rasp_report_add(r, x,
                        "%s: NotImplementedError: An Aggregate's output encoding must match "
                        "the input encoding. Input: %s, Output: %s",
                        label_of(e), enc_repr(so->enc), enc_repr(e->enc));
    else if (e->enc == ENC_CATEGORICAL && e->default_value.kind != VAL_NONE) {
        char dv[100];
        val_str_fmt(e->default_value, dv, sizeof dv);
        rasp_report_add(r, x,
                        "%s: NotImplementedError: Default for a categorical aggregate must "
                        "be None. Got %s",
                        label_of(e), dv);
    } else if (e->enc == ENC_NUMERICAL && !val_eq(e->default_value, val_int(0))) {
        char dv[100];
        val_str_fmt(e->default_value, dv, sizeof dv);
        rasp_report_add(r, x,
                        "%s: NotImplementedError: Default for a numerical aggregate must be "
                        "0. Got %s",
                        label_of(e), dv);
    }
}

/* An Aggregate or SelectorWidth: its selector, and the key_size its head needs. */
static void check_head(const RaspProgram *p, int x, const ValueSet *sets, bool have_sets,
                       bool defer, RaspReport *r, int *key_size) {
    const RaspExpr *e = &p->exprs[x];
    int s = e->child[0];
    if (!valid_child(p, s)) return;
    const RaspExpr *sel = &p->exprs[s];
    if (sel->kind != EXPR_SELECT) {
        if (e->kind == EXPR_AGGREGATE)
            rasp_report_add(r, x,
                            "%s: TypeError: Compiling composite Selectors is not supported. "
                            "Got a %s (%s).",
                            label_of(e), rasp_kind_name(sel->kind), label_of(sel));
        else
            rasp_report_add(r, x, "%s: AttributeError: '%s' object has no attribute 'keys'",
                            label_of(e), rasp_kind_name(sel->kind));
        return;
    }
    if (!valid_child(p, sel->child[0]) || !valid_child(p, sel->child[1])) return;
    if (!is_cat(p, sel->child[0]) || !is_cat(p, sel->child[1])) {
        /* the block builder re-checks what static_validate may have skipped by name */
        if (!has_issue(r, s) && !has_issue(r, x))
            rasp_report_add(r, x,
                            "%s: NotImplementedError: Selector keys and queries must be "
                            "categorical.",
                            label_of(e));
        return;
    }
    if (e->kind == EXPR_AGGREGATE && !has_issue(r, x) && valid_child(p, e->child[1]))
        check_aggregate_output(p, x, r);
    if (!have_sets) return;
    /* attn_qk calls the predicate on every pair of key and query directions */
    if (!defer || has_none(&sets[sel->child[0]]) || has_none(&sets[sel->child[1]]) ||
        (sel->pred == PRED_LAMBDA && !sel->fn))
        check_predicate(p, x, sel, sets, r);
    int q = basis_size(p, sel->child[1], sets) + 2, k = basis_size(p, sel->child[0], sets) + 1;
    if (q > *key_size) *key_size = q;
    if (k > *key_size) *key_size = k;
}

/* One node of the craft graph: what its block builder would refuse. */
static void check_node(const RaspProgram *p, int x, const ValueSet *sets, bool have_sets,
                       bool defer, RaspReport *r, int *key_size) {
    const RaspExpr *e = &p->exprs[x];
    switch (e->kind) {
    case EXPR_FULL:
        rasp_report_add(r, x,
                        "%s: NotImplementedError: Expression %s (a Full) cannot be translated to a "
                        "model component.",
                        label_of(e), label_of(e));
        break;
    case EXPR_MAP:
        if (!have_sets || !e->fn || !valid_child(p, e->child[0])) break;
        if (p->exprs[e->child[0]].enc == ENC_CATEGORICAL) {
            /* the block calls f on the input's directions: the set without None */
            if (!defer || has_none(&sets[e->child[0]])) check_categorical_fn(p, x, sets, r);
        } else if (!defer) { /* the discretising MLP calls f on every input value */
            check_numerical_fn(p, x, sets, r);
        }
        break;
    case EXPR_SEQMAP:
        if (has_issue(r, x)) break;
        if (!is_cat(p, e->child[0]) || !is_cat(p, e->child[1]) || e->enc != ENC_CATEGORICAL) {
            rasp_report_add(r, x,
                            "%s: NotImplementedError: (Non-linear) SequenceMap only supports "
                            "categorical inputs/outputs.",
                            label_of(e));
            break;
        }
        if (have_sets && e->fn && !(defer && seqmap_deferrable(p, e, sets)))
            check_categorical_fn(p, x, sets, r);
        break;
    case EXPR_LINSEQMAP:
        if (!has_issue(r, x) &&
            (!is_num(p, e->child[0]) || !is_num(p, e->child[1]) || e->enc != ENC_NUMERICAL))
            rasp_report_add(r, x,
                            "%s: NotImplementedError: Linear SequenceMap only supports numerical "
                            "inputs/outputs.",
                            label_of(e));
        break;
    case EXPR_AGGREGATE:
    case EXPR_SELWIDTH: check_head(p, x, sets, have_sets, defer, r, key_size); break;
    default: break;
    }
}

/* A head's value/output columns are padded to key_size; a wider head cannot be copied. */
static void check_head_widths(const RaspProgram *p, const int *order, int n, const ValueSet *sets,
                              int key_size, RaspReport *r) {
    for (int i = 0; i < n; i++) {
        int x = order[i];
        const RaspExpr *e = &p->exprs[x];
        if (e->kind != EXPR_AGGREGATE || !valid_child(p, e->child[0]) ||
            p->exprs[e->child[0]].kind != EXPR_SELECT)
            continue;
        int width = e->enc == ENC_NUMERICAL ? 1 : (int)sets[x].n;
        if (width > key_size)
            rasp_report_add(r, x,
                            "%s: ValueError: the head's output width %d exceeds key_size %d, so "
                            "Tracr's assembly fails to broadcast its value matrix",
                            label_of(e), width, key_size);
    }
}

int rasp_validate_compilable_sets(const RaspProgram *p, const Value *vocab, int n_vocab,
                                  int max_seq_len, RaspReport *r, ValueSet *sets,
                                  bool *have_sets_out, bool defer) {
    int before = r->n;
    for (int i = 0; i < p->n_exprs; i++) valset_init(&sets[i]);
    *have_sets_out = false;
    check_special_tokens(vocab, n_vocab, r);
    if (p->output < 0 || p->output >= p->n_exprs) {
        rasp_report_add(r, -1, "program: ValueError: the program has no output");
        return r->n - before;
    }
    const RaspExpr *out = &p->exprs[p->output];
    if (!rasp_is_sop(out->kind)) {
        rasp_report_add(r, p->output, "%s: TypeError: the output must be an SOp, not a selector",
                        label_of(out));
        return r->n - before;
    }
    rasp_validate_static(p, r);

    int *order = malloc((size_t)p->n_exprs * sizeof *order);
    if (!order) {
        fprintf(stderr, "itracr: out of memory\n");
        abort();
    }
    char buf[400];
    bool have_sets =
        rasp_infer_value_sets(p, vocab, n_vocab, max_seq_len, sets, buf, sizeof buf) == 0;
    if (!have_sets) rasp_report_add(r, -1, "%s", buf);

    /* expr_to_craft_graph visits the graph nodes in BFS insertion order */
    int n = rasp_bfs_order(p, order);
    bool has_tokens = false, has_block = false;
    int key_size = 1;
    for (int i = 0; i < n; i++) {
        ExprKind kind = p->exprs[order[i]].kind;
        if (kind == EXPR_TOKENS) has_tokens = true;
        if (kind == EXPR_MAP || kind == EXPR_SEQMAP || kind == EXPR_LINSEQMAP ||
            kind == EXPR_AGGREGATE || kind == EXPR_SELWIDTH)
            has_block = true;
        check_node(p, order[i], sets, have_sets, defer, r, &key_size);
    }
    if (have_sets) check_head_widths(p, order, n, sets, key_size, r);
    if (!has_block)
        rasp_report_add(r, p->output,
                        "%s: ValueError: min() arg is an empty sequence (the program has no MLP or "
                        "attention block to allocate to a layer)",
                        label_of(out));
    if (!has_tokens)
        rasp_report_add(r, p->output,
                        "%s: ValueError: Failed to find a node with label tokens. This is probably "
                        "because your RASP program does not include rasp.tokens. A program must "
                        "include rasp.tokens to be compiled.",
                        label_of(out));
    *have_sets_out = have_sets;
    free(order);
    return r->n - before;
}
