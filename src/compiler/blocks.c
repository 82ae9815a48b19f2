#include "compiler/blocks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/model.h"
#include "rasp/program.h"

/* ---- callback adapters --------------------------------------------------------------- */
static PyErr fn_lambda(void *ctx, const Value *args, Value *out, char *msg, size_t cap) {
    return lambda_call((const Lambda *)ctx, args, out, msg, cap);
}
static PyErr fn_lambda_diag(void *ctx, const Value *args, Value *out, char *msg, size_t cap) {
    Value two[2] = {args[0], args[0]};
    return lambda_call((const Lambda *)ctx, two, out, msg, cap);
}
BlkFn blk_fn_lambda(const Lambda *f) { return (BlkFn){fn_lambda, (void *)f}; }
BlkFn blk_fn_lambda_diag(const Lambda *f) { return (BlkFn){fn_lambda_diag, (void *)f}; }

static PyErr pred_call(void *ctx, Value key, Value query, bool *out, char *msg, size_t cap) {
    const BlkPredState *s = ctx;
    bool ok = true;
    int c = 0;
    switch ((Pred)s->pred) {
    case PRED_EQ: *out = val_eq(key, query); return PYERR_OK;
    case PRED_NEQ: *out = !val_eq(key, query); return PYERR_OK;
    case PRED_TRUE: *out = true; return PYERR_OK;
    case PRED_FALSE: *out = false; return PYERR_OK;
    case PRED_LT:
    case PRED_LEQ:
    case PRED_GT:
    case PRED_GEQ:
        c = val_pycmp(key, query, &ok);
        if (!ok) {
            if (msg)
                snprintf(msg, cap,
                         "TypeError: comparison not supported between key and query values");
            return PYERR_TYPE;
        }
        *out = s->pred == PRED_LT    ? c < 0
               : s->pred == PRED_LEQ ? c <= 0
               : s->pred == PRED_GT  ? c > 0
                                     : c >= 0;
        return PYERR_OK;
    case PRED_LAMBDA: {
        Value args[2] = {key, query}, r;
        PyErr e = lambda_call(s->fn, args, &r, msg, cap);
        if (e) return e;
        *out = val_truthy(r);
        return PYERR_OK;
    }
    }
    if (msg) snprintf(msg, cap, "unknown predicate");
    return PYERR_VALUE;
}
BlkPred blk_pred_make(BlkPredState *state) { return (BlkPred){pred_call, state}; }

/* ---- helpers ------------------------------------------------------------------------- */
static double *zalloc(Arena *a, int r, int c) {
    size_t n = (size_t)(r > 0 ? r : 1) * (size_t)(c > 0 ? c : 1);
    return arena_alloc(a, n * sizeof(double));
}

static int fail(const BlkCtx *c, const char *fmt, const char *detail) {
    char tmp[256];
    snprintf(tmp, sizeof tmp, fmt, detail ? detail : "");
    snprintf(c->err, c->errcap, "%s: %s", c->where ? c->where : "block", tmp);
    return 1;
}

/* Refuses a block whose dense matrices alone (cells) exceed the model-size limit, before they
 * are allocated: every block is a sub-matrix of the assembled layer, so such a model would be
 * refused anyway, and zero-filling gigabytes first took seconds (decoded programs with wide
 * SequenceMaps). */
static int size_guard(const BlkCtx *c, double cells) {
    if (cells <= COMPILE_MAX_WEIGHTS) return 0;
    snprintf(c->err, c->errcap,
             "%s: the model would have more than %.3g weights (this block alone), more than "
             "itracr's limit of %.3g",
             c->where ? c->where : "block", cells, (double)COMPILE_MAX_WEIGHTS);
    return 1;
}

static Space space1(Arena *a, Dir d) { return space_make(a, &d, 1); }
static Space space2(Arena *a, Dir x, Dir y) {
    Dir d[2] = {x, y};
    return space_make(a, d, 2);
}

static int val_number(Value v, double *out) {
    if (!val_is_number(v)) return 0;
    *out = val_as_double(v);
    return 1;
}

/* ---- MLPs ---------------------------------------------------------------------------- */
int blk_map_cat(const BlkCtx *c, const Space *in, const char *out_name, const Space *out, BlkFn f,
                MlpBlock *m) {
    if (size_guard(c, ((double)in->n + out->n) * out->n)) return 1;
    m->in = *in;
    m->hidden = *out; /* Tracr's hidden space is the output space itself */
    m->out = *out;
    m->w1 = zalloc(c->arena, in->n, out->n);
    m->w2 = zalloc(c->arena, out->n, out->n);
    for (int j = 0; j < out->n; j++) m->w2[(size_t)j * out->n + j] = 1;
    for (int i = 0; i < in->n; i++) {
        Value y;
        char msg[160];
        if (f.call(f.ctx, &in->d[i].value, &y, msg, sizeof msg)) return fail(c, "%s", msg);
        if (y.kind == VAL_NONE) continue;
        Dir d = {out_name, y};
        int j = space_find(out, &d);
        if (j >= 0) m->w1[(size_t)i * out->n + j] = 1;
    }
    return 0;
}

int blk_map_cat_num(const BlkCtx *c, const Space *in, Dir out_dir, BlkFn f, bool allow_negative,
                    const char *hidden_name, MlpBlock *m) {
    double *fv = zalloc(c->arena, in->n, 1);
    bool neg = false;
    for (int i = 0; i < in->n; i++) {
        Value y;
        char msg[160];
        if (f.call(f.ctx, &in->d[i].value, &y, msg, sizeof msg)) return fail(c, "%s", msg);
        if (!val_number(y, &fv[i]))
            return fail(c, "numerical Map returned a non-numeric value%s", "");
        if (fv[i] < 0) neg = true;
    }
    m->in = *in;
    m->out = space1(c->arena, out_dir);
    if (allow_negative && neg) {
        /* out = relu(f) - relu(-f): exact for negative f as well. */
        m->hidden =
            space2(c->arena, (Dir){hidden_name, val_int(1)}, (Dir){hidden_name, val_int(-1)});
        int ip = m->hidden.d[0].value.u.i == 1 ? 0 : 1, in_ = 1 - ip;
        m->w1 = zalloc(c->arena, in->n, 2);
        m->w2 = zalloc(c->arena, 2, 1);
        for (int i = 0; i < in->n; i++) {
            m->w1[(size_t)i * 2 + ip] = fv[i];
            m->w1[(size_t)i * 2 + in_] = -fv[i];
        }
        m->w2[ip] = 1;
        m->w2[in_] = -1;
        return 0;
    }
    m->hidden = m->out;
    m->w1 = fv;
    m->w2 = zalloc(c->arena, 1, 1);
    m->w2[0] = 1;
    return 0;
}

typedef struct NumPair {
    double x;
    Value xv, y;
} NumPair;
static int numpair_cmp(const void *a, const void *b) {
    double x = ((const NumPair *)a)->x, y = ((const NumPair *)b)->x;
    return x < y ? -1 : x > y;
}

/* qsort with numpair_cmp, which glibc runs as a stable merge sort: without NaN the order is
 * total, so a stable insertion sort gives the same array. With NaN (equal to everything
 * under numpair_cmp) the result depends on the algorithm, so qsort itself runs. */
static void sort_numpairs(NumPair *vs, int n) {
    bool nan = false;
    for (int i = 0; i < n && !nan; i++) nan = isnan(vs[i].x);
    if (nan || n > 64) {
        qsort(vs, (size_t)n, sizeof(NumPair), numpair_cmp);
        return;
    }
    for (int i = 1; i < n; i++) {
        NumPair v = vs[i];
        int j = i - 1;
        while (j >= 0 && vs[j].x > v.x) {
            vs[j + 1] = vs[j];
            j--;
        }
        vs[j + 1] = v;
    }
}

static char *cat2(Arena *a, const char *x, const char *y) {
    size_t n = strlen(x), m = strlen(y);
    char *s = arena_alloc(a, n + m + 1);
    memcpy(s, x, n);
    memcpy(s + n, y, m + 1);
    return s;
}

int blk_discretising(const BlkCtx *c, Dir x, const Value *in_values, size_t n_in, BlkFn f,
                     const char *hidden_name, const Space *out_space, Dir out_dir, MlpBlock *m) {
    Arena *a = c->arena;
    /* hidden <= 2 n_in units; outputs <= n_in + 1 directions */
    if (size_guard(c, 2.0 * (double)n_in * (2.0 + (out_space ? out_space->n : 1)))) return 1;
    NumPair *vs = arena_alloc(a, sizeof(NumPair) * (n_in ? n_in : 1));
    int n = 0;
    for (size_t i = 0; i < n_in; i++) {
        Value y;
        char msg[160];
        PyErr e = f.call(f.ctx, &in_values[i], &y, msg, sizeof msg);
        if (e == PYERR_ARITH) continue; /* Tracr skips (and logs) arithmetic errors here */
        if (e) return fail(c, "%s", msg);
        if (y.kind == VAL_NONE) continue;
        if (!val_is_number(in_values[i]))
            return fail(c, "numerical input value is not a number%s", "");
        vs[n++] = (NumPair){val_as_double(in_values[i]), in_values[i], y};
    }
    if (n == 0) return fail(c, "the function is undefined on every input value%s", "");
    sort_numpairs(vs, n);

    const char *start = cat2(a, hidden_name, "start");
    int nh = 1 + 2 * (n - 1);
    Dir *hd = arena_alloc(a, sizeof(Dir) * (size_t)nh);
    hd[0] = (Dir){start, val_none()};
    for (int k = 1; k < n; k++) {
        hd[2 * k - 1] = (Dir){hidden_name, val_int_pair(k, 0)};
        hd[2 * k] = (Dir){hidden_name, val_int_pair(k, 1)};
    }
    /* Sorted hidden order: every (k, i) (ascending k, then i), then start, because
     * hidden_name is a proper prefix of hidden_name+"start". */
    m->hidden.n = nh;
    m->hidden.d = arena_alloc(a, sizeof(Dir) * (size_t)nh);
    for (int k = 1; k < n; k++) {
        m->hidden.d[2 * (k - 1)] = hd[2 * k - 1];
        m->hidden.d[2 * (k - 1) + 1] = hd[2 * k];
    }
    m->hidden.d[nh - 1] = hd[0];
    int h_start = nh - 1;

    m->in = space2(a, x, c->one);
    int ix = space_find(&m->in, &x), ione = 1 - ix;
    m->out = out_space ? *out_space : space1(a, out_dir);
    int no = m->out.n;
    m->w1 = zalloc(a, m->in.n, nh);
    m->w2 = zalloc(a, nh, no);
    /* Output columns of each region. */
    int *col = arena_alloc(a, sizeof(int) * (size_t)n);
    double *num = arena_alloc(a, sizeof(double) * (size_t)n);
    for (int k = 0; k < n; k++) {
        if (out_space) {
            Dir d = {out_space->n ? out_space->d[0].name : "", vs[k].y};
            col[k] = space_find(out_space, &d);
            if (col[k] < 0)
                return fail(c, "discretising MLP output value outside the output space%s", "");
        } else if (!val_number(vs[k].y, &num[k])) {
            return fail(c, "numerical Map returned a non-numeric value%s", "");
        }
    }
    double L = c->L;
    m->w1[(size_t)ione * nh + h_start] = 1;
    if (out_space) m->w2[(size_t)h_start * no + col[0]] += 1;
    else m->w2[h_start] = num[0];
    for (int k = 1; k < n; k++) {
        double t = (vs[k - 1].x + vs[k].x) / 2;
        int h0 = 2 * (k - 1), h1 = h0 + 1;
        m->w1[(size_t)ix * nh + h0] = L;
        m->w1[(size_t)ione * nh + h0] = 1 - L * t;
        m->w1[(size_t)ix * nh + h1] = L;
        m->w1[(size_t)ione * nh + h1] = -L * t;
        if (out_space) {
            m->w2[(size_t)h0 * no + col[k]] += 1;
            m->w2[(size_t)h0 * no + col[k - 1]] -= 1;
            m->w2[(size_t)h1 * no + col[k]] -= 1;
            m->w2[(size_t)h1 * no + col[k - 1]] += 1;
        } else {
            double dlt = num[k] - num[k - 1];
            m->w2[h0] = dlt;
            m->w2[h1] = -dlt;
        }
    }
    return 0;
}

typedef struct HRec {
    Dir d;
    int i, j;
} HRec;
static int hrec_cmp(const void *a, const void *b) {
    return dir_cmp(&((const HRec *)a)->d, &((const HRec *)b)->d);
}

int blk_seqmap_cat(const BlkCtx *c, const Space *x1, const Space *x2, const char *out_name,
                   const Space *out, BlkFn f, const char *hidden_name, MlpBlock *m) {
    Arena *a = c->arena;
    for (int i = 0; i < x1->n; i++)
        if (space_find(x2, &x1->d[i]) >= 0)
            return fail(c, "ValueError: SequenceMap input spaces are not disjoint%s", "");
    if (size_guard(c, (double)x1->n * x2->n * ((double)x1->n + x2->n + 1 + out->n))) return 1;
    int nh = x1->n * x2->n;
    HRec *r = arena_alloc(a, sizeof(HRec) * (size_t)(nh ? nh : 1));
    Value *name2 = arena_alloc(a, sizeof(Value) * (size_t)(x2->n + 1)); /* interned once per name */
    for (int j = 0; j < x2->n; j++)
        name2[j] =
            j > 0 && x2->d[j].name == x2->d[j - 1].name ? name2[j - 1] : val_str(x2->d[j].name);
    Value name1 = val_none();
    for (int i = 0; i < x1->n; i++) {
        if (i == 0 || x1->d[i].name != x1->d[i - 1].name) name1 = val_str(x1->d[i].name);
        for (int j = 0; j < x2->n; j++) {
            Value t[4] = {name1, x1->d[i].value, name2[j], x2->d[j].value};
            r[i * x2->n + j] = (HRec){{hidden_name, val_tuple(t, 4)}, i, j};
        }
    }
    /* The (i, j) order is already sorted when both inputs' values are totally ordered (the
     * tuples then compare as (value i, value j), and each space is sorted): qsort, a stable
     * sort, would leave the array as it is. */
    bool sorted = space_total_order(x1) && space_total_order(x2);
    for (int h = 1; h < nh && sorted; h++) sorted = hrec_cmp(&r[h - 1], &r[h]) <= 0;
    if (!sorted)
        qsort(r, (size_t)nh, sizeof(HRec), hrec_cmp); /* directions are distinct: order is total */
    Space s12 = space_join(a, x1, x2);
    Space ones = space1(a, c->one);
    m->in = space_join(a, &s12, &ones);
    m->out = *out;
    m->hidden.n = nh;
    m->hidden.d = arena_alloc(a, sizeof(Dir) * (size_t)(nh ? nh : 1));
    int *row1 = arena_alloc(a, sizeof(int) * (size_t)(x1->n + 1));
    int *row2 = arena_alloc(a, sizeof(int) * (size_t)(x2->n + 1));
    for (int i = 0; i < x1->n; i++) row1[i] = space_find(&m->in, &x1->d[i]);
    for (int j = 0; j < x2->n; j++) row2[j] = space_find(&m->in, &x2->d[j]);
    int rone = space_find(&m->in, &c->one);
    m->w1 = zalloc(a, m->in.n, nh);
    m->w2 = zalloc(a, nh, out->n);
    for (int h = 0; h < nh; h++) {
        m->hidden.d[h] = r[h].d;
        m->w1[(size_t)rone * nh + h] = -1;
        m->w1[(size_t)row1[r[h].i] * nh + h] = 1;
        m->w1[(size_t)row2[r[h].j] * nh + h] = 1;
        Value args[2] = {x1->d[r[h].i].value, x2->d[r[h].j].value}, y;
        char msg[160];
        if (f.call(f.ctx, args, &y, msg, sizeof msg)) return fail(c, "%s", msg);
        if (y.kind == VAL_NONE) continue;
        Dir d = {out_name, y};
        int o = space_find(out, &d);
        if (o >= 0) m->w2[(size_t)h * out->n + o] = 1;
    }
    return 0;
}

int blk_linseqmap(const BlkCtx *c, Dir x, Dir y, double fa, double fb, const char *hidden_name,
                  Dir out_dir, MlpBlock *m) {
    Arena *a = c->arena;
    const char *hx = cat2(a, hidden_name, "x"), *hy = cat2(a, hidden_name, "y");
    /* Sorted: (hx,-1) (hx,1) (hy,-1) (hy,1). */
    Dir hd[4] = {{hx, val_int(-1)}, {hx, val_int(1)}, {hy, val_int(-1)}, {hy, val_int(1)}};
    m->hidden.n = 4;
    m->hidden.d = arena_alloc(a, sizeof hd);
    memcpy(m->hidden.d, hd, sizeof hd);
    m->in = space2(a, x, y);
    m->out = space1(a, out_dir);
    int rx = space_find(&m->in, &x), ry = space_find(&m->in, &y);
    m->w1 = zalloc(a, m->in.n, 4);
    m->w2 = zalloc(a, 4, 1);
    m->w1[(size_t)rx * 4 + 0] += -1;
    m->w1[(size_t)rx * 4 + 1] += 1;
    m->w1[(size_t)ry * 4 + 2] += -1;
    m->w1[(size_t)ry * 4 + 3] += 1;
    m->w2[0] = -fa;
    m->w2[1] = fa;
    m->w2[2] = -fb;
    m->w2[3] = fb;
    return 0;
}

/* ---- attention ----------------------------------------------------------------------- */
static int attn_qk(const BlkCtx *c, const Space *q0, const Space *k0, BlkPred pred, bool always_bos,
                   AttnBlock *h) {
    Arena *a = c->arena;
    if (size_guard(c, ((double)q0->n + 2) * ((double)k0->n + 1))) return 1;
    Space bo = space2(a, c->bos, c->one), b1 = space1(a, c->bos);
    h->q = space_join(a, q0, &bo);
    h->k = space_join(a, k0, &b1);
    int nk = h->k.n;
    h->wqk = zalloc(a, h->q.n, nk); /* zero: the entries below that stay 0 are not written */
    const double coldness = 100;
    /* 1: the key is BOS, 2: the key is "one" (neither is a real key value) */
    unsigned char *kspecial = arena_alloc(a, (size_t)nk + 1);
    for (int j = 0; j < nk; j++)
        kspecial[j] = dir_eq(&h->k.d[j], &c->bos) ? 1 : dir_eq(&h->k.d[j], &c->one) ? 2 : 0;
    for (int i = 0; i < h->q.n; i++) {
        const Dir *qd = &h->q.d[i];
        double *row = h->wqk + (size_t)i * nk;
        if (dir_eq(qd, &c->one)) { /* one x BOS: the default attention to BOS */
            for (int j = 0; j < nk; j++)
                if (kspecial[j] == 1) row[j] = always_bos ? coldness : 0.5 * coldness;
            continue;
        }
        if (dir_eq(qd, &c->bos)) continue;
        for (int j = 0; j < nk; j++) {
            if (kspecial[j]) continue;
            bool sel;
            char msg[160];
            if (pred.call(pred.ctx, h->k.d[j].value, qd->value, &sel, msg, sizeof msg))
                return fail(c, "%s", msg);
            if (sel) row[j] = coldness;
        }
    }
    return 0;
}

int blk_attn_aggregate(const BlkCtx *c, const Space *q0, const Space *k0, BlkPred pred,
                       const Space *vs, const Space *o, AttnBlock *h) {
    if (size_guard(c, ((double)vs->n + 1) * o->n) || attn_qk(c, q0, k0, pred, false, h)) return 1;
    Space b1 = space1(c->arena, c->bos);
    h->v = space_join(c->arena, vs, &b1);
    h->o = *o;
    h->wov = zalloc(c->arena, h->v.n, o->n);
    int k = 0;
    for (int i = 0; i < h->v.n; i++) {
        if (dir_eq(&h->v.d[i], &c->bos)) continue; /* bos -> default output 0 */
        if (k >= o->n) return fail(c, "aggregate value and output spaces differ in size%s", "");
        h->wov[(size_t)i * o->n + k] = 1;
        k++;
    }
    if (k != o->n) return fail(c, "aggregate value and output spaces differ in size%s", "");
    return 0;
}

PyErr blk_sw_fn(void *ctx, const Value *args, Value *out, char *msg, size_t cap) {
    double x = val_as_double(args[0]);
    if (x == 0) {
        if (msg) snprintf(msg, cap, "ZeroDivisionError: float division by zero");
        return PYERR_ARITH;
    }
    *out = val_int((int64_t)nearbyint(1.0 / x - 1.0)); /* default rounding: half to even */
    return PYERR_OK;
}

int blk_selector_width(const BlkCtx *c, const Space *q0, const Space *k0, BlkPred pred,
                       const char *label, int max_seq_len, const Space *out_space, AttnBlock *h,
                       MlpBlock *m, Dir *attn_out_dir) {
    Arena *a = c->arena;
    Dir A = {cat2(a, label, "_selector_width_attn_output"), val_none()};
    *attn_out_dir = A;
    if (attn_qk(c, q0, k0, pred, true, h)) return 1;
    h->v = space1(a, c->bos);
    h->o = space1(a, A);
    h->wov = zalloc(a, 1, 1);
    h->wov[0] = 1;

    int N = max_seq_len;
    Value *iv = arena_alloc(a, sizeof(Value) * (size_t)(N + 1));
    for (int w = 0; w <= N; w++) iv[w] = val_float(1.0 / (double)(w + 1));
    const char *hn = cat2(a, cat2(a, "_hidden_", label), "_");
    MlpBlock d;
    Dir out_dir = {label, val_none()};
    if (blk_discretising(c, A, iv, (size_t)N + 1, (BlkFn){blk_sw_fn, NULL}, hn, out_space, out_dir,
                         &d))
        return 1;
    /* Combine in parallel with the clean-BOS unit. */
    Dir clean = {"_hidden_clean_bos_", val_none()};
    Space sc = space1(a, clean), sb = space1(a, c->bos), sa = space1(a, A);
    m->in = space_join(a, &d.in, &sb);
    m->hidden = space_join(a, &d.hidden, &sc);
    m->out = space_join(a, &d.out, &sa);
    int ni = m->in.n, nh = m->hidden.n, no = m->out.n;
    m->w1 = zalloc(a, ni, nh);
    m->w2 = zalloc(a, nh, no);
    int *ri = arena_alloc(a, sizeof(int) * (size_t)d.in.n),
        *rh = arena_alloc(a, sizeof(int) * (size_t)d.hidden.n),
        *ro = arena_alloc(a, sizeof(int) * (size_t)d.out.n);
    for (int i = 0; i < d.in.n; i++) ri[i] = space_find(&m->in, &d.in.d[i]);
    for (int i = 0; i < d.hidden.n; i++) rh[i] = space_find(&m->hidden, &d.hidden.d[i]);
    for (int i = 0; i < d.out.n; i++) ro[i] = space_find(&m->out, &d.out.d[i]);
    for (int i = 0; i < d.in.n; i++)
        for (int j = 0; j < d.hidden.n; j++)
            m->w1[(size_t)ri[i] * nh + rh[j]] += d.w1[(size_t)i * d.hidden.n + j];
    for (int i = 0; i < d.hidden.n; i++)
        for (int j = 0; j < d.out.n; j++)
            m->w2[(size_t)rh[i] * no + ro[j]] += d.w2[(size_t)i * d.out.n + j];
    int hc = space_find(&m->hidden, &clean);
    m->w1[(size_t)space_find(&m->in, &c->bos) * nh + hc] += 1;
    m->w2[(size_t)hc * no + space_find(&m->out, &A)] -= 1;
    if (out_space) {
        Dir z = {label, val_int(0)};
        int oz = space_find(&m->out, &z);
        if (oz < 0) return fail(c, "selector width output space lacks 0%s", "");
        m->w2[(size_t)hc * no + oz] -= 1;
    }
    return 0;
}

void blk_mlp_apply(const MlpBlock *m, const double *in, double *out) {
    int nh = m->hidden.n, no = m->out.n;
    for (int o = 0; o < no; o++) out[o] = 0;
    for (int h = 0; h < nh; h++) {
        double s = 0;
        for (int i = 0; i < m->in.n; i++) s += in[i] * m->w1[(size_t)i * nh + h];
        if (s <= 0) continue;
        for (int o = 0; o < no; o++) out[o] += s * m->w2[(size_t)h * no + o];
    }
}
