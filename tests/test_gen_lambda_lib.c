/* The lambda library: every entry parses, prints back as its source, is neither constant
 * nor the identity (nor a projection) on its domain, and differs from every other entry of
 * the same kind on that domain. Domains are built here by hand: vocab {0..4}, indices and
 * selector widths {0..5}, bools, and every numerical mean k/l (l <= 5) that can occur. */
#include <string.h>

#include "gen/lambda_lib.h"
#include "test.h"

#define MAXD 16

typedef struct Dom {
    unsigned vt;
    int n;
    Value v[MAXD];
} Dom;

static Dom dom_int(int n) {
    Dom d = {GEN_VT_INT, n, {{0}}};
    for (int i = 0; i < n; i++) d.v[i] = val_int(i);
    return d;
}
static Dom dom_bool(void) {
    Dom d = {GEN_VT_BOOL, 2, {{0}}};
    d.v[0] = val_bool(false);
    d.v[1] = val_bool(true);
    return d;
}
/* The run-time values of a numerical mean of 0/1 values over at most 5 positions. */
static Dom dom_frac(void) {
    Dom d = {GEN_VT_FRAC, 0, {{0}}};
    for (int l = 1; l <= 5; l++)
        for (int k = 0; k <= l; k++) {
            Value x = val_float((double)k / l);
            int dup = 0;
            for (int i = 0; i < d.n; i++) dup |= val_eq(d.v[i], x);
            if (!dup) d.v[d.n++] = x;
        }
    return d;
}

static void test_init_and_names(void) {
    char err[512] = "";
    CHECK_MSG(gen_lib_init(err, sizeof err) == 0, "%s", err);
    CHECK(gen_lib_count() >= 30);
    for (int i = 0; i < gen_lib_count(); i++) {
        const GenFn *f = gen_lib_get(i);
        CHECK(f != NULL && f->fn != NULL);
        if (!f) continue;
        CHECK(gen_lib_find(f->name) == i);
        for (int j = 0; j < i; j++) CHECK(strcmp(gen_lib_get(j)->name, f->name) != 0);
    }
    CHECK(gen_lib_get(-1) == NULL);
    CHECK(gen_lib_get(gen_lib_count()) == NULL);
    CHECK(gen_lib_find("no such entry") == -1);
}

/* The source text is what the printer writes for the parsed lambda. */
static void test_source_prints_back(void) {
    for (int i = 0; i < gen_lib_count(); i++) {
        const GenFn *f = gen_lib_get(i);
        if (f->kind == GEN_FN_LINEAR) {
            CHECK(f->va.kind == VAL_INT && f->va.u.i == f->lin_a);
            CHECK(f->vb.kind == VAL_INT && f->vb.u.i == f->lin_b);
            char src[32];
            snprintf(src, sizeof src, "%d, %d", f->lin_a, f->lin_b);
            CHECK_STR(f->src, src);
            CHECK(gen_lib_lookup_linear(f->va, f->vb) == i);
            continue;
        }
        char body[200], text[300];
        py_format(f->fn->body, f->fn->params, body, sizeof body);
        if (f->fn->n_params == 1)
            snprintf(text, sizeof text, "lambda %s: %s", f->fn->params[0], body);
        else
            snprintf(text, sizeof text, "lambda %s, %s: %s", f->fn->params[0], f->fn->params[1],
                     body);
        CHECK_STR(text, f->src);
        CHECK(f->fn->n_params == (f->kind == GEN_FN_MAP ? 1 : 2));
        CHECK(gen_lib_lookup_lambda(f->kind, f->fn) == i);
    }
    CHECK(gen_lib_lookup_linear(val_int(1), val_int(0)) == -1);
    CHECK(gen_lib_lookup_linear(val_float(1), val_float(1)) == -1); /* 1.0 prints differently */
}

static bool range_ok(unsigned range, Value r) {
    if (range == GEN_VT_BOOL) return r.kind == VAL_BOOL;
    if (range == GEN_VT_INT) return r.kind == VAL_INT;
    return val_is_number(r);
}

/* outs[n] of entry i on d (pairs: all n*n combinations). Returns false on an error. */
static bool outputs(int i, const Dom *d, Value *outs, int *n) {
    const GenFn *f = gen_lib_get(i);
    *n = 0;
    if (f->kind == GEN_FN_MAP) {
        for (int a = 0; a < d->n; a++)
            if (gen_lib_call(i, &d->v[a], &outs[(*n)++]) != PYERR_OK) return false;
    } else {
        for (int a = 0; a < d->n; a++)
            for (int b = 0; b < d->n; b++) {
                Value args[2] = {d->v[a], d->v[b]};
                if (gen_lib_call(i, args, &outs[(*n)++]) != PYERR_OK) return false;
            }
    }
    return true;
}

static void check_on(int i, const Dom *d) {
    const GenFn *f = gen_lib_get(i);
    Value out[MAXD * MAXD];
    int n;
    CHECK_MSG(outputs(i, d, out, &n), "%s raises on its domain", f->name);
    bool varies = false, not_x = false, not_y = false;
    for (int k = 0; k < n; k++) {
        varies |= !val_eq(out[k], out[0]);
        CHECK_MSG(range_ok(f->range, out[k]), "%s: result of the wrong type", f->name);
        Value x = f->kind == GEN_FN_MAP ? d->v[k] : d->v[k / d->n], y = d->v[k % d->n];
        not_x |= !val_eq(out[k], x);
        not_y |= !val_eq(out[k], y);
    }
    CHECK_MSG(varies, "%s is constant on its domain", f->name);
    CHECK_MSG(not_x, "%s is the identity on its domain", f->name);
    if (f->kind != GEN_FN_MAP) CHECK_MSG(not_y, "%s returns its second argument", f->name);
    /* cat->num maps go through a ReLU: declared only where results are >= 0. */
    if (f->kind == GEN_FN_MAP && (f->modes & GEN_MODE_CN) && d->vt != GEN_VT_FRAC)
        for (int k = 0; k < n; k++)
            CHECK_MSG(val_as_double(out[k]) >= 0, "%s declared cat->num but negative", f->name);
}

static void test_not_constant_not_identity(void) {
    Dom ints[2] = {dom_int(5), dom_int(6)}, b = dom_bool(), fr = dom_frac();
    for (int i = 0; i < gen_lib_count(); i++) {
        const GenFn *f = gen_lib_get(i);
        if (f->dom & GEN_VT_INT) {
            check_on(i, &ints[0]);
            check_on(i, &ints[1]);
        }
        if (f->dom & GEN_VT_BOOL) check_on(i, &b);
        if ((f->dom & GEN_VT_FRAC) && f->kind == GEN_FN_MAP) {
            check_on(i, &fr);
            /* Exact after compilation only if it depends on x == 0 alone (Tracr's value
             * set of a mean misses k/l for k > 1). */
            Value one, r;
            Value x1 = val_float(1.0);
            gen_lib_call(i, &x1, &one);
            for (int k = 0; k < fr.n; k++) {
                if (val_as_double(fr.v[k]) == 0) continue;
                gen_lib_call(i, &fr.v[k], &r);
                CHECK_MSG(val_eq(r, one), "%s on fractions depends on more than x == 0", f->name);
            }
        }
        CHECK(f->dom != 0);
        CHECK(f->modes == (f->kind == GEN_FN_SEQMAP   ? (unsigned)GEN_MODE_CC
                           : f->kind == GEN_FN_LINEAR ? (unsigned)GEN_MODE_NN
                                                      : f->modes));
    }
}

static void test_distinct(void) {
    Dom ds[3] = {dom_int(5), dom_bool(), dom_frac()};
    int pairs = 0;
    for (int i = 0; i < gen_lib_count(); i++)
        for (int j = 0; j < i; j++) {
            const GenFn *a = gen_lib_get(i), *b = gen_lib_get(j);
            if (a->kind != b->kind) continue;
            for (int t = 0; t < 3; t++) {
                if (!(a->dom & b->dom & ds[t].vt)) continue;
                if (ds[t].vt == GEN_VT_FRAC && a->kind != GEN_FN_MAP) continue;
                Value oa[MAXD * MAXD], ob[MAXD * MAXD];
                int na, nb;
                outputs(i, &ds[t], oa, &na);
                outputs(j, &ds[t], ob, &nb);
                bool same = na == nb;
                for (int k = 0; k < na && same; k++) same = val_eq(oa[k], ob[k]);
                CHECK_MSG(!same, "%s and %s compute the same function", a->name, b->name);
                pairs++;
            }
        }
    CHECK(pairs > 250);
}

/* A few hand-computed values. */
static void test_values(void) {
    Value r, x = val_int(3);
    CHECK(gen_lib_call(gen_lib_find("dist2"), &x, &r) == PYERR_OK && r.kind == VAL_INT &&
          r.u.i == 1);
    CHECK(gen_lib_call(gen_lib_find("half"), &x, &r) == PYERR_OK && r.u.i == 1);
    CHECK(gen_lib_call(gen_lib_find("rsub4"), &x, &r) == PYERR_OK && r.u.i == 1);
    CHECK(gen_lib_call(gen_lib_find("even"), &x, &r) == PYERR_OK && r.kind == VAL_BOOL && !r.u.b);
    Value xy[2] = {val_int(1), val_int(4)};
    CHECK(gen_lib_call(gen_lib_find("parity_xy"), xy, &r) == PYERR_OK && r.u.i == 1);
    CHECK(gen_lib_call(gen_lib_find("sub_xy"), xy, &r) == PYERR_OK && r.u.i == -3);
    CHECK(gen_lib_call(gen_lib_find("lin_2_m1"), xy, &r) == PYERR_OK && val_eq(r, val_int(-2)));
    Value bb[2] = {val_bool(true), val_bool(false)};
    CHECK(gen_lib_call(gen_lib_find("or_xy"), bb, &r) == PYERR_OK && r.kind == VAL_BOOL && r.u.b);
    CHECK(gen_lib_call(gen_lib_find("and_xy"), bb, &r) == PYERR_OK && r.kind == VAL_BOOL && !r.u.b);
}

int main(void) {
    RUN(test_init_and_names);
    RUN(test_source_prints_back);
    RUN(test_not_constant_not_identity);
    RUN(test_distinct);
    RUN(test_values);
    TEST_END();
}
