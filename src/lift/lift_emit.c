/* Values and text of a lifted program (docs/lift.md): categorical values are identified
 * where the weights say them (vocabulary, indices, widths, output columns, and copies of
 * those through categorical aggregates) or where a named function fixes them; the rest are
 * canonical (0, 1, ... in direction order, which is value order). Each function is printed
 * by name when a candidate agrees with its table, else as a table lambda. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lift/lift_internal.h"
#include "lift/lift_name.h"
#include "rasp/program.h"
#include "util/strbuf.h"

#define MAX_CAND 4096

static int find(Lift *x, int i) {
    while (x->s[i].cls != i) i = x->s[i].cls = x->s[x->s[i].cls].cls;
    return i;
}

static Value num_value(double d) {
    if (d == floor(d) && fabs(d) < 1e15) return val_int((int64_t)d);
    return val_float(d);
}

static void put_val(StrBuf *b, Arena *a, Value v) {
    char buf[256];
    size_t n = py_format(py_const(a, v), NULL, buf, sizeof buf);
    if (n < sizeof buf) sb_append(b, buf);
    else {
        char *big = malloc(n + 1);
        py_format(py_const(a, v), NULL, big, n + 1);
        sb_append(b, big);
        free(big);
    }
}

static void put_expr(StrBuf *b, const PyExpr *e, const char *p0, const char *p1) {
    const char *names[2] = {p0, p1};
    size_t n = py_format(e, names, NULL, 0);
    char *s = malloc(n + 1);
    py_format(e, names, s, n + 1);
    sb_append(b, s);
    free(s);
}

/* The values of s's class: copied from a known member, or canonical. */
static void class_values(Lift *x, int si) {
    LSop *s = &x->s[si];
    if (s->numerical || s->vals) return;
    int r = find(x, si);
    for (int i = 0; i < x->n; i++)
        if (find(x, i) == r && x->s[i].known && x->s[i].vals && x->s[i].n == s->n) {
            s->vals = x->s[i].vals;
            s->known = true;
            return;
        }
    s->vals = NULL;
}

static void set_class(Lift *x, int si, Value *vals) {
    int r = find(x, si);
    for (int i = 0; i < x->n; i++)
        if (find(x, i) == r && !x->s[i].numerical) x->s[i].vals = vals, x->s[i].known = true;
}

static Value *canonical(Lift *x, int n) {
    Value *v = arena_alloc(&x->a, sizeof(Value) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) v[i] = val_int(i);
    return v;
}

static Value vs_value(double d) { return num_value(d); }

/* Names (or discovers values for) the function of SOp si. */
static void name_sop(Lift *x, int si, bool naming, int *n_fn, int *n_named) {
    LSop *s = &x->s[si];
    class_values(x, si);
    PyExpr **cand = malloc(sizeof(PyExpr *) * MAX_CAND);
    int nc = 0, arity = 1, nargs = 0;
    Value *args = NULL;
    const int *tab = NULL;
    const double *ftab = NULL;
    if (s->kind == LS_MAP || s->kind == LS_SEQMAP) {
        (*n_fn)++;
        const LSop *A = &x->s[s->a];
        if (s->kind == LS_SEQMAP) {
            const LSop *Bs = &x->s[s->b];
            arity = 2;
            nargs = A->n * Bs->n;
            args = malloc(sizeof(Value) * (size_t)nargs * 2);
            for (int i = 0; i < A->n; i++)
                for (int j = 0; j < Bs->n; j++) {
                    args[2 * (i * Bs->n + j)] = A->vals[i];
                    args[2 * (i * Bs->n + j) + 1] = Bs->vals[j];
                }
            tab = s->tab;
            if (s->tabfree) { /* free entries: any value, no rank */
                int *t2 = arena_alloc(&x->a, sizeof(int) * (size_t)nargs);
                for (int i = 0; i < nargs; i++) t2[i] = s->tabfree[i] ? -2 : s->tab[i];
                tab = t2;
            }
            if (naming) nc = lift_seqmap_candidates(&x->a, x->N, cand, MAX_CAND);
        } else if (!A->numerical) {
            nargs = A->n;
            args = malloc(sizeof(Value) * (size_t)nargs);
            memcpy(args, A->vals, sizeof(Value) * (size_t)nargs);
            tab = s->tab;
            ftab = s->ftab;
        } else {
            nargs = s->n_vs;
            args = malloc(sizeof(Value) * (size_t)nargs);
            for (int i = 0; i < nargs; i++) args[i] = vs_value(s->vs[i]);
            tab = s->rtab;
            ftab = s->rftab;
        }
        if (naming && s->kind == LS_MAP)
            nc = lift_map_candidates(&x->a, args, nargs, cand, MAX_CAND);
        bool done = false;
        if (s->numerical) {
            for (int c = 0; c < nc && !done; c++)
                if (lift_fit_num(cand[c], 1, args, nargs, ftab)) s->named = cand[c], done = true;
        } else {
            bool discover = s->vals == NULL;
            Value *out =
                discover ? arena_alloc(&x->a, sizeof(Value) * (size_t)(s->n ? s->n : 1)) : s->vals;
            for (int c = 0; c < nc && !done; c++)
                if (lift_fit(cand[c], arity, args, nargs, tab, out, s->n, discover))
                    s->named = cand[c], done = true;
            if (discover) set_class(x, si, done ? out : canonical(x, s->n));
        }
        if (s->named) (*n_named)++;
    } else if (!s->numerical && !s->vals) {
        set_class(x, si, canonical(x, s->n));
    }
    /* the selector of an aggregate / selector width */
    if (s->kind == LS_AGG || s->kind == LS_SW) {
        (*n_fn)++;
        const LSop *K = &x->s[s->sel.keys], *Q = &x->s[s->sel.queries];
        s->pred = -1;
        static const Pred preds[] = {PRED_TRUE, PRED_FALSE, PRED_EQ,  PRED_LT,
                                     PRED_LEQ,  PRED_GT,    PRED_GEQ, PRED_NEQ};
        static const PyCmpOp ops[] = {0, 0, PYC_EQ, PYC_LT, PYC_LE, PYC_GT, PYC_GE, PYC_NE};
        for (size_t p = 0; p < 8 && s->pred < 0 && naming; p++) {
            bool ok = true;
            for (int ki = 0; ki < K->n && ok; ki++)
                for (int qi = 0; qi < Q->n && ok; qi++) {
                    bool sel;
                    if (p == 0) sel = true;
                    else if (p == 1) sel = false;
                    else if (py_compare(ops[p], K->vals[ki], Q->vals[qi], &sel, NULL, 0) !=
                             PYERR_OK)
                        ok = false;
                    if (ok) ok = sel == (s->sel.tab[ki * Q->n + qi] != 0);
                }
            if (ok) s->pred = (int)preds[p];
        }
        if (s->pred < 0 && naming) {
            nc = lift_pred_candidates(&x->a, K->vals, K->n, x->N, cand, MAX_CAND);
            Value pair[2];
            for (int c = 0; c < nc && !s->pred_named; c++) {
                bool ok = true;
                for (int ki = 0; ki < K->n && ok; ki++)
                    for (int qi = 0; qi < Q->n && ok; qi++) {
                        Value r;
                        pair[0] = K->vals[ki];
                        pair[1] = Q->vals[qi];
                        ok = py_eval(cand[c], pair, &r, NULL, 0) == PYERR_OK &&
                             val_truthy(r) == (s->sel.tab[ki * Q->n + qi] != 0);
                    }
                if (ok) s->pred_named = cand[c];
            }
        }
        if (s->pred >= 0 || s->pred_named) (*n_named)++;
    }
    free(args);
    free(cand);
}

static const char *label(const Lift *x, int si, char *buf, size_t cap) {
    const LSop *s = &x->s[si];
    static const char *kinds[] = {
        "tokens",    "indices",       "map", "sequence_map", "linear_sequence_map",
        "aggregate", "selector_width"};
    if (s->kind == LS_TOKENS || s->kind == LS_INDICES) return kinds[s->kind];
    if (si == x->output) return x->out_name;
    snprintf(buf, cap, "%s_%d", kinds[s->kind], si);
    return buf;
}

static void put_table_map(StrBuf *b, Lift *x, const LSop *s) {
    const LSop *A = &x->s[s->a];
    if (!A->numerical) {
        sb_append(b, "lambda x: {");
        for (int i = 0; i < A->n; i++) {
            if (i) sb_append(b, ", ");
            put_val(b, &x->a, A->vals[i]);
            sb_append(b, ": ");
            if (s->numerical) put_val(b, &x->a, num_value(s->ftab[i]));
            else put_val(b, &x->a, s->tab[i] >= 0 ? s->vals[s->tab[i]] : val_none());
        }
        sb_append(b, "}[x]");
        return;
    }
    /* numerical input: the regions of the discretising MLP, split at the midpoints */
    sb_append(b, "lambda x: ");
    for (int r = 0; r < s->n_vs; r++) {
        Value out = s->numerical ? num_value(s->rftab[r]) : s->vals[s->rtab[r]];
        put_val(b, &x->a, out);
        if (r + 1 < s->n_vs) {
            sb_append(b, " if x < ");
            put_val(b, &x->a, val_float((s->vs[r] + s->vs[r + 1]) / 2));
            sb_append(b, " else ");
        }
    }
}

/* The model's output name when it is a plain identifier that cannot clash with the names
 * given here (kind_N, select_N) or with the language's words; else "result". */
static const char *pick_out_name(const char *s) {
    static const char *bad[] = {
        "tokens", "indices", "output", "vocab", "max_seq_len", "causal", "mlp_exactness",
        "lambda", "True",    "False",  "None",  "and",         "or",     "not",
        "if",     "else",    "in",     "is",    "length",      NULL};
    if (!s || !*s || strlen(s) > 60 || !(s[0] == '_' || ((s[0] | 32) >= 'a' && (s[0] | 32) <= 'z')))
        return "result";
    for (const char *p = s; *p; p++)
        if (!(*p == '_' || (*p >= '0' && *p <= '9') || ((*p | 32) >= 'a' && (*p | 32) <= 'z')))
            return "result";
    for (int i = 0; bad[i]; i++)
        if (strcmp(s, bad[i]) == 0) return "result";
    static const char *kinds[] = {"map_",       "sequence_map_",   "linear_sequence_map_",
                                  "aggregate_", "selector_width_", "select_",
                                  NULL};
    for (int i = 0; kinds[i]; i++)
        if (strncmp(s, kinds[i], strlen(kinds[i])) == 0) return "result";
    /* Map, Select, ...: names of the language's operations */
    if (s[0] >= 'A' && s[0] <= 'Z') return "result";
    return s;
}

char *lift_emit(Lift *x, bool name_functions, int *n_functions, int *n_named) {
    *n_functions = *n_named = 0;
    x->out_name = pick_out_name(x->m->output_name);
    for (int i = 0; i < x->n; i++)
        if (x->s[i].kind == LS_AGG && !x->s[i].numerical) {
            int a = find(x, i), b = find(x, x->s[i].a);
            if (a != b) x->s[a].cls = b;
        }
    for (int i = 0; i < x->n; i++) name_sop(x, i, name_functions, n_functions, n_named);
    const CompiledModel *m = x->m;
    StrBuf b;
    sb_init(&b);
    sb_append(&b, x->header ? x->header
                            : "# lifted by itracr lift from the weights alone; intermediate values that the\n"
                              "# weights do not identify are canonical (docs/lift.md)\n");
    sb_append(&b, "vocab {");
    const LSop *T = &x->s[0];
    for (int i = 0; i < T->n; i++) {
        if (i) sb_append(&b, ", ");
        put_val(&b, &x->a, T->vals[i]);
    }
    sb_printf(&b, "}\nmax_seq_len %d\n", m->max_seq_len);
    if (m->causal) sb_append(&b, "causal\n");
    if (m->mlp_exactness != 100) sb_printf(&b, "mlp_exactness %d\n", m->mlp_exactness);
    sb_append(&b, "\n");
    char l0[64], l1[64], l2[64];
    for (int i = 2; i < x->n; i++) {
        LSop *s = &x->s[i];
        const char *nm = label(x, i, l0, sizeof l0);
        if (s->kind == LS_AGG || s->kind == LS_SW) {
            sb_printf(&b, "select_%d = Select(%s, %s, ", i, label(x, s->sel.keys, l1, sizeof l1),
                      label(x, s->sel.queries, l2, sizeof l2));
            if (s->pred >= 0) sb_append(&b, rasp_pred_name((Pred)s->pred));
            else if (s->pred_named) {
                sb_append(&b, "lambda k, q: ");
                put_expr(&b, s->pred_named, "k", "q");
            } else {
                const LSop *K = &x->s[s->sel.keys], *Q = &x->s[s->sel.queries];
                sb_append(&b, "lambda k, q: {");
                for (int ki = 0; ki < K->n; ki++)
                    for (int qi = 0; qi < Q->n; qi++) {
                        if (ki || qi) sb_append(&b, ", ");
                        sb_append(&b, "(");
                        put_val(&b, &x->a, K->vals[ki]);
                        sb_append(&b, ", ");
                        put_val(&b, &x->a, Q->vals[qi]);
                        sb_append(&b, s->sel.tab[ki * Q->n + qi] ? "): True" : "): False");
                    }
                sb_append(&b, "}[(k, q)]");
            }
            sb_append(&b, ")\n");
        }
        sb_printf(&b, "%s = %s", nm, s->numerical ? "numerical(" : "");
        switch (s->kind) {
        case LS_MAP:
            sb_append(&b, "Map(");
            if (s->named) {
                sb_append(&b, "lambda x: ");
                put_expr(&b, s->named, "x", "y");
            } else put_table_map(&b, x, s);
            sb_printf(&b, ", %s%s)", label(x, s->a, l1, sizeof l1),
                      x->s[s->a].kind == LS_MAP ? ", simplify=False" : "");
            break;
        case LS_SEQMAP: {
            sb_append(&b, "SequenceMap(lambda x, y: ");
            const LSop *A = &x->s[s->a], *Bs = &x->s[s->b];
            if (s->named) put_expr(&b, s->named, "x", "y");
            else {
                sb_append(&b, "{");
                for (int ai = 0; ai < A->n; ai++)
                    for (int bi = 0; bi < Bs->n; bi++) {
                        if (ai || bi) sb_append(&b, ", ");
                        sb_append(&b, "(");
                        put_val(&b, &x->a, A->vals[ai]);
                        sb_append(&b, ", ");
                        put_val(&b, &x->a, Bs->vals[bi]);
                        sb_append(&b, "): ");
                        int t = s->tab[ai * Bs->n + bi];
                        put_val(&b, &x->a, t >= 0 ? s->vals[t] : val_none());
                    }
                sb_append(&b, "}[(x, y)]");
            }
            sb_printf(&b, ", %s, %s)", label(x, s->a, l1, sizeof l1),
                      label(x, s->b, l2, sizeof l2));
            break;
        }
        case LS_LINSEQ:
            sb_printf(&b, "LinearSequenceMap(%s, %s, ", label(x, s->a, l1, sizeof l1),
                      label(x, s->b, l2, sizeof l2));
            put_val(&b, &x->a, num_value(s->ca));
            sb_append(&b, ", ");
            put_val(&b, &x->a, num_value(s->cb));
            sb_append(&b, ")");
            break;
        case LS_AGG:
            sb_printf(&b, "Aggregate(select_%d, %s%s)", i, label(x, s->a, l1, sizeof l1),
                      s->numerical ? ", default=0" : "");
            break;
        case LS_SW: sb_printf(&b, "SelectorWidth(select_%d)", i); break;
        default: break;
        }
        sb_append(&b, s->numerical ? ")\n" : "\n");
    }
    sb_printf(&b, "output %s\n", x->out_name);
    return sb_take(&b);
}
