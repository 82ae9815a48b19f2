/* Naming lifted functions and discovering intermediate values (docs/lift.md).
 *
 * A function read from the weights is a table from input values to output positions. A
 * candidate lambda (one of the lambda library's, or one of a small grammar of arithmetic
 * and comparison expressions enumerated here) names the table when it agrees with it on the
 * whole domain. When the output values are not known (an intermediate SOp), a candidate
 * also fixes them: it must produce exactly as many distinct values as the SOp has
 * directions, in the same sorted order as the directions, and those become the values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen/lambda_lib.h"
#include "lift/lift_internal.h"
#include "lift/lift_name.h"

static PyExpr *P(Arena *a, int i) { return py_param(a, i); }
static PyExpr *C(Arena *a, Value v) { return py_const(a, v); }
static PyExpr *B(Arena *a, PyBinOp op, PyExpr *l, PyExpr *r) { return py_binary(a, op, l, r); }
static PyExpr *CMP(Arena *a, PyCmpOp op, PyExpr *l, PyExpr *r) { return py_cmp2(a, op, l, r); }

static void add(PyExpr **out, int *n, int cap, PyExpr *e) {
    if (*n < cap) out[(*n)++] = e;
}

/* Constants worth trying: small integers and the values of the domain. */
static int consts(const Value *dom, int n, Value *c, int cap) {
    int k = 0;
    for (int i = -5; i <= 10 && k < cap; i++) c[k++] = val_int(i);
    for (int i = 0; i < n && k < cap; i++) {
        bool dup = false;
        for (int j = 0; j < k && !dup; j++) dup = c[j].kind == dom[i].kind && val_eq(c[j], dom[i]);
        if (!dup && (dom[i].kind == VAL_STR || dom[i].kind == VAL_INT || dom[i].kind == VAL_BOOL))
            c[k++] = dom[i];
    }
    return k;
}

int lift_map_candidates(Arena *a, const Value *dom, int n, PyExpr **out, int cap) {
    int k = 0;
    Value c[64];
    int nc = consts(dom, n, c, 64);
    add(out, &k, cap, P(a, 0));
    add(out, &k, cap, py_unary(a, PY_NOT, P(a, 0)));
    for (int i = 0; i < gen_lib_count(); i++) {
        const GenFn *g = gen_lib_get(i);
        if (g && g->kind == GEN_FN_MAP && g->fn) add(out, &k, cap, g->fn->body);
    }
    add(out, &k, cap, py_unary(a, PY_NEG, P(a, 0)));
    /* tuples (make_nary_sequencemap packs arguments): x[0] op x[1] (op x[2]) */
    if (n > 0 && dom[0].kind == VAL_TUPLE && (dom[0].u.t->n == 2 || dom[0].u.t->n == 3)) {
        int L = (int)dom[0].u.t->n;
        static const PyBinOp bo[] = {PYB_ADD, PYB_SUB, PYB_MUL, PYB_DIV};
        PyExpr *e0 = py_index(a, P(a, 0), C(a, val_int(0))),
               *e1 = py_index(a, P(a, 0), C(a, val_int(1)));
        for (int o1 = 0; o1 < 4; o1++) {
            PyExpr *two = B(a, bo[o1], e0, e1);
            if (L == 2) add(out, &k, cap, two);
            else
                for (int o2 = 0; o2 < 4; o2++)
                    add(out, &k, cap, B(a, bo[o2], two, py_index(a, P(a, 0), C(a, val_int(2)))));
        }
    }
    static const PyCmpOp ops[] = {PYC_EQ, PYC_NE, PYC_LT, PYC_LE, PYC_GT, PYC_GE};
    for (int i = 0; i < nc; i++) {
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
            add(out, &k, cap, CMP(a, ops[o], P(a, 0), C(a, c[i])));
        if (c[i].kind != VAL_INT) continue;
        if (c[i].u.i > 0) {
            add(out, &k, cap, B(a, PYB_ADD, P(a, 0), C(a, c[i])));
            add(out, &k, cap, B(a, PYB_SUB, P(a, 0), C(a, c[i])));
        }
        add(out, &k, cap, B(a, PYB_SUB, C(a, c[i]), P(a, 0)));
        if (c[i].u.i != 0 && c[i].u.i != 1) add(out, &k, cap, B(a, PYB_MUL, C(a, c[i]), P(a, 0)));
    }
    return k;
}

int lift_seqmap_candidates(Arena *a, int max_seq_len, PyExpr **out, int cap) {
    int k = 0;
    PyExpr *x = P(a, 0), *y = P(a, 1);
    /* logic first: on booleans `x and y` is what Tracr's & builds, and x * y would turn
     * the values into integers */
    add(out, &k, cap, py_boolop(a, PY_AND, x, y));
    add(out, &k, cap, py_boolop(a, PY_OR, x, y));
    for (int i = 0; i < gen_lib_count(); i++) {
        const GenFn *g = gen_lib_get(i);
        if (g && g->kind == GEN_FN_SEQMAP && g->fn) add(out, &k, cap, g->fn->body);
    }
    static const PyBinOp bops[] = {PYB_ADD, PYB_SUB, PYB_MUL};
    for (size_t o = 0; o < 3; o++) {
        add(out, &k, cap, B(a, bops[o], x, y));
        add(out, &k, cap, B(a, bops[o], y, x));
    }
    static const PyCmpOp ops[] = {PYC_EQ, PYC_NE, PYC_LT, PYC_LE, PYC_GT, PYC_GE};
    for (size_t o = 0; o < 6; o++) add(out, &k, cap, CMP(a, ops[o], x, y));
    /* a pair extended by one more argument, (x[0], x[1], y), before plain pairs (x, y):
     * on non-tuples indexing fails and the candidate drops out */
    PyExpr *tup3[3] = {py_index(a, x, C(a, val_int(0))), py_index(a, x, C(a, val_int(1))), y};
    add(out, &k, cap, py_tuple(a, tup3, 3));
    PyExpr *tup[2] = {x, y};
    add(out, &k, cap, py_tuple(a, tup, 2));
    /* x + c * y / n: Tracr's make_sort keys (min_key * i / max_seq_len) */
    for (int c = -3; c <= 3; c++) {
        if (c == 0) continue;
        PyExpr *cy = c == 1 ? y : B(a, PYB_MUL, C(a, val_int(c)), y);
        add(out, &k, cap, B(a, PYB_ADD, x, B(a, PYB_DIV, cy, C(a, val_int(max_seq_len)))));
        PyExpr *cx = c == 1 ? x : B(a, PYB_MUL, C(a, val_int(c)), x);
        add(out, &k, cap, B(a, PYB_ADD, y, B(a, PYB_DIV, cx, C(a, val_int(max_seq_len)))));
    }
    for (int c = -5; c <= 5; c++) {
        if (!c) continue;
        add(out, &k, cap, B(a, PYB_ADD, B(a, PYB_ADD, x, y), C(a, val_int(c))));
        add(out, &k, cap, B(a, PYB_ADD, B(a, PYB_SUB, x, y), C(a, val_int(c))));
        add(out, &k, cap, B(a, PYB_ADD, B(a, PYB_SUB, y, x), C(a, val_int(c))));
    }
    return k;
}

int lift_pred_candidates(Arena *a, const Value *kdom, int nk, int max_seq_len, PyExpr **out,
                         int cap) {
    int k = 0;
    PyExpr *kk = P(a, 0), *q = P(a, 1);
    for (int c = -max_seq_len; c <= max_seq_len; c++) {
        if (!c) continue;
        add(out, &k, cap, CMP(a, PYC_EQ, q, B(a, PYB_ADD, kk, C(a, val_int(c)))));
    }
    Value c[64];
    int nc = consts(kdom, nk, c, 64);
    static const PyCmpOp ops[] = {PYC_EQ, PYC_NE, PYC_LT, PYC_LE, PYC_GT, PYC_GE};
    for (int i = 0; i < nc; i++)
        for (size_t o = 0; o < 6; o++) {
            add(out, &k, cap, CMP(a, ops[o], kk, C(a, c[i])));
            add(out, &k, cap, CMP(a, ops[o], q, C(a, c[i])));
        }
    return k;
}

/* Sorted distinct outputs: res[i] for i < n; -1 when fewer/more than want distinct. */
static int cmp_name_sort(Value a, Value b) { return val_dir_cmp("v", a, b); }

bool lift_fit(const PyExpr *body, int arity, const Value *args, int n_args, const int *tab,
              Value *outvals, int n_out, bool discover) {
    /* args: [n_args * arity] */
    Value got[1024];
    if (n_args > 1024) return false;
    for (int i = 0; i < n_args; i++) {
        Value r;
        if (py_eval(body, args + (size_t)i * arity, &r, NULL, 0) != PYERR_OK) return false;
        if (tab[i] == -1) {
            if (r.kind != VAL_NONE) return false;
        } else if (r.kind == VAL_NONE) return false;
        got[i] = r;
    }
    if (!discover) {
        for (int i = 0; i < n_args; i++) {
            if (tab[i] >= 0 &&
                (got[i].kind != outvals[tab[i]].kind || !val_eq(got[i], outvals[tab[i]])))
                return false;
            if (tab[i] == -2) { /* free: any of the values */
                bool in = false;
                for (int j = 0; j < n_out && !in; j++)
                    in = got[i].kind == outvals[j].kind && val_eq(got[i], outvals[j]);
                if (!in) return false;
            }
        }
        return true;
    }
    Value set[1024];
    int ns = 0;
    for (int i = 0; i < n_args; i++) {
        if (tab[i] == -1) continue;
        bool dup = false;
        for (int j = 0; j < ns && !dup; j++) dup = val_eq(set[j], got[i]);
        if (!dup) {
            if (ns == n_out) return false;
            set[ns++] = got[i];
        }
    }
    if (ns != n_out) return false;
    /* insertion sort in the residual order */
    for (int i = 1; i < ns; i++)
        for (int j = i; j > 0 && cmp_name_sort(set[j - 1], set[j]) > 0; j--) {
            Value t = set[j];
            set[j] = set[j - 1];
            set[j - 1] = t;
        }
    for (int i = 0; i < n_args; i++) {
        if (tab[i] < 0) continue;
        if (!val_eq(set[tab[i]], got[i])) return false;
    }
    for (int i = 0; i < n_out; i++) outvals[i] = set[i];
    return true;
}

bool lift_fit_num(const PyExpr *body, int arity, const Value *args, int n_args,
                  const double *want) {
    for (int i = 0; i < n_args; i++) {
        Value r;
        if (py_eval(body, args + (size_t)i * arity, &r, NULL, 0) != PYERR_OK || !val_is_number(r))
            return false;
        double g = val_as_double(r);
        if (fabs(g - want[i]) > 1e-6 * (1 + fabs(want[i]))) return false;
    }
    return true;
}
