/* Compile-time warnings for Tracr's silent failures (docs/tracr.md §5.2). The model is
 * still built exactly as Tracr builds it; each warning says what can go wrong and whether
 * exact mode (docs/compiler.md) fixes it. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/compile_internal.h"

void compile_warn_add(CCtx *c, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (c->n_warn == c->cap_warn) {
        c->cap_warn = c->cap_warn ? 2 * c->cap_warn : 8;
        c->warn = realloc(c->warn, sizeof(char *) * (size_t)c->cap_warn);
    }
    c->warn[c->n_warn++] = strdup(buf);
}

static CNode *kid(CCtx *c, const CNode *nd, int k) {
    int e = nd->e->child[k];
    return e < 0 || c->node_of[e] < 0 ? NULL : &c->nodes[c->node_of[e]];
}

/* A discretising MLP prepared for evaluation on many inputs: its only non-zero inputs are x
 * and one (BOS is 0 here), and most of W2 is zero. Evaluating it this way gives bit for bit
 * blk_mlp_apply's result: the skipped terms add exact zeros, and x*w + 1*u is summed in
 * either order to the same double. */
typedef struct DiscEval {
    int nh, no;
    bool generic;      /* x not among the inputs: fall back to blk_mlp_apply */
    double *wx, *wone; /* [nh] W1 rows of x and one (zero when absent) */
    int *row;          /* [nh + 1] CSR offsets into col/val of W2's non-zeros */
    int *col;
    double *val;
    double *in; /* [in.n] generic-path input */
    /* Units whose W2 row is zero add nothing and are left out (a threshold where f does
     * not change). The threshold units share one x weight W, so x*W + u is monotone in u:
     * once a unit is off (<= 0), every later one whose u is no larger is off too. chain:
     * the units with wx == W, in order; dom[i]: no later chain unit has a larger u than
     * chain[i]. other: the remaining units (start, clean BOS), in order. */
    double W;
    int *chain, n_chain, *other, n_other;
    bool *dom;
} DiscEval;

static void disc_prepare(CCtx *c, const MlpBlock *b, Dir xdir, DiscEval *de) {
    int nh = b->hidden.n, no = b->out.n, ix = -1, ione = -1;
    de->nh = nh;
    de->no = no;
    de->in = arena_alloc(c->a, sizeof(double) * (size_t)(b->in.n + 1));
    for (int i = 0; i < b->in.n; i++) {
        if (dir_eq(&b->in.d[i], &xdir)) ix = i, de->in[i] = 0;
        else if (dir_eq(&b->in.d[i], &c->bc.one)) ione = i, de->in[i] = 1;
    }
    de->generic = ix < 0;
    de->wx = arena_alloc(c->a, sizeof(double) * (size_t)(nh + 1));
    de->wone = arena_alloc(c->a, sizeof(double) * (size_t)(nh + 1));
    for (int h = 0; h < nh; h++) {
        if (ix >= 0) de->wx[h] = b->w1[(size_t)ix * nh + h];
        if (ione >= 0) de->wone[h] = b->w1[(size_t)ione * nh + h];
    }
    int nnz = 0;
    for (size_t i = 0; i < (size_t)nh * (size_t)no; i++) nnz += b->w2[i] != 0;
    de->row = arena_alloc(c->a, sizeof(int) * (size_t)(nh + 1));
    de->col = arena_alloc(c->a, sizeof(int) * (size_t)(nnz + 1));
    de->val = arena_alloc(c->a, sizeof(double) * (size_t)(nnz + 1));
    int k = 0;
    for (int h = 0; h < nh; h++) {
        de->row[h] = k;
        for (int o = 0; o < no; o++) {
            double w = b->w2[(size_t)h * no + o];
            if (w != 0) de->col[k] = o, de->val[k++] = w;
        }
    }
    de->row[nh] = k;
    de->W = nh ? de->wx[0] : 0;
    de->chain = arena_alloc(c->a, sizeof(int) * (size_t)(nh + 1));
    de->other = arena_alloc(c->a, sizeof(int) * (size_t)(nh + 1));
    de->dom = arena_alloc(c->a, sizeof(bool) * (size_t)(nh + 1));
    de->n_chain = de->n_other = 0;
    for (int h = 0; h < nh; h++) {
        if (de->row[h] == de->row[h + 1]) continue; /* W2 reads nothing from this unit */
        if (de->wx[h] == de->W && !isnan(de->W)) de->chain[de->n_chain++] = h;
        else de->other[de->n_other++] = h;
    }
    de->other[de->n_other] = nh; /* sentinel */
    double later = -INFINITY;    /* the largest u after chain[i] */
    for (int i = de->n_chain - 1; i >= 0; i--) {
        double u = de->wone[de->chain[i]];
        de->dom[i] = later <= u; /* false when either is NaN */
        if (!(later >= u)) later = isnan(u) || isnan(later) ? NAN : u;
    }
}

static inline void disc_unit(const DiscEval *de, int h, double s, double *out) {
    if (s <= 0) return;
    for (int k = de->row[h]; k < de->row[h + 1]; k++) out[de->col[k]] += s * de->val[k];
}

/* Runs the node's discretising MLP on input value x (one = 1, bos = 0). out: [mlp.out.n]. */
static void disc_apply(const MlpBlock *b, const DiscEval *de, double x, double *out) {
    if (de->generic) {
        blk_mlp_apply(b, de->in, out);
        return;
    }
    for (int o = 0; o < de->no; o++) out[o] = 0;
    /* Every unit that can be on, in unit order (the order of the sums). other[n_other] is a
     * sentinel past every unit. */
    double xw = x * de->W;
    const int *other = de->other;
    for (int i = 0; i < de->n_chain; i++) {
        int h = de->chain[i];
        for (; *other < h; other++)
            disc_unit(de, *other, x * de->wx[*other] + de->wone[*other], out);
        double s = xw + de->wone[h];
        if (s <= 0) {
            if (de->dom[i]) break;
            continue;
        }
        for (int k = de->row[h]; k < de->row[h + 1]; k++) out[de->col[k]] += s * de->val[k];
    }
    for (; *other < de->nh; other++)
        disc_unit(de, *other, x * de->wx[*other] + de->wone[*other], out);
}

/* Checks a discretising MLP on every value its input can really take. Returns the number of
 * bad values and describes the first in desc. */
static int check_disc(CCtx *c, const CNode *nd, Dir xdir, const Value *xs, size_t nx, BlkFn f,
                      const ValueSet *built_from, int *n_checked, char *desc, size_t cap) {
    const MlpBlock *b = &nd->mlp;
    int bad = 0;
    *n_checked = 0;
    desc[0] = 0;
    {
        /* Fast path: every value is one the MLP was built from and neighbours are at least
         * 2/L apart, so each lies on a flat step (docs/tracr.md §2.4.3). */
        bool all_known = true;
        double *v = arena_alloc(c->a, sizeof(double) * (nx + 1));
        size_t m = 0;
        for (size_t i = 0; i < nx; i++) {
            if (built_from && !valset_contains(built_from, xs[i])) all_known = false;
            if (val_is_number(xs[i])) v[m++] = val_as_double(xs[i]);
        }
        double gap = INFINITY;
        if (all_known) {
            compile_sort_doubles(v, m);
            for (size_t i = 1; i < m; i++)
                if (v[i] - v[i - 1] < gap) gap = v[i] - v[i - 1];
        }
        *n_checked = (int)m;
        if (all_known && gap * c->L >= 2 * (1 + 1e-9)) return 0;
        *n_checked = 0;
    }
    double *out = arena_alloc(c->a, sizeof(double) * (size_t)(b->out.n + 1));
    bool cat = nd->e->enc == ENC_CATEGORICAL;
    DiscEval de;
    disc_prepare(c, b, xdir, &de);
    /* Output columns of the node itself (the SelectorWidth MLP also writes A). */
    int o_num = 0;
    bool *own = arena_alloc(c->a, sizeof(bool) * (size_t)(b->out.n + 1));
    for (int k = 0; k < b->out.n; k++)
        if ((own[k] = strcmp(b->out.d[k].name, nd->e->label) == 0)) o_num = k;
    for (size_t i = 0; i < nx; i++) {
        Value y;
        if (!val_is_number(xs[i])) continue;
        if (f.call(f.ctx, &xs[i], &y, NULL, 0) != PYERR_OK || y.kind == VAL_NONE) continue;
        double x = val_as_double(xs[i]);
        disc_apply(b, &de, x, out);
        (*n_checked)++;
        /* Only the first bad value is described: the strings are made for it alone. */
        char xb[64], yb[64], gb[64];
        if (!cat) {
            int o = o_num;
            double want = val_is_number(y) ? val_as_double(y) : NAN;
            if (!(fabs(out[o] - want) <= 1e-6 * (1 + fabs(want)))) {
                if (!bad++) {
                    bool unseen = built_from && !valset_contains(built_from, xs[i]);
                    val_str_fmt(xs[i], xb, sizeof xb);
                    val_str_fmt(y, yb, sizeof yb);
                    snprintf(desc, cap, "input %s%s gives %.6g instead of %s", xb,
                             unseen ? " (missing from Tracr's value set)" : "", out[o], yb);
                }
            }
            continue;
        }
        Dir want = {nd->e->label, y};
        int wi = space_find(&b->out, &want), best = -1;
        double bv = -INFINITY, dev = 0;
        for (int k = 0; k < b->out.n; k++) {
            if (!own[k]) continue;
            if (out[k] > bv) bv = out[k], best = k;
            double d = fabs(out[k] - (k == wi ? 1.0 : 0.0));
            if (d > dev) dev = d;
        }
        if (wi < 0 || best != wi || dev > 1e-6) {
            if (!bad++) {
                bool unseen = built_from && !valset_contains(built_from, xs[i]);
                val_str_fmt(xs[i], xb, sizeof xb);
                val_str_fmt(y, yb, sizeof yb);
                if (best >= 0) val_str_fmt(b->out.d[best].value, gb, sizeof gb);
                else snprintf(gb, sizeof gb, "nothing");
                if (wi >= 0 && best == wi)
                    snprintf(desc, cap,
                             "input %s%s gives a mixed vector (argmax still %s, but not one-hot)",
                             xb, unseen ? " (missing from Tracr's value set)" : "", yb);
                else
                    snprintf(desc, cap, "input %s%s decodes to %s instead of %s", xb,
                             unseen ? " (missing from Tracr's value set)" : "", gb, yb);
            }
        }
    }
    return bad;
}

void compile_warnings(CCtx *c) {
    const RaspProgram *p = c->p;
    bool *bos_nz = arena_alloc(c->a, sizeof(bool) * ((size_t)c->n + 1));
    double *xb = arena_alloc(c->a, sizeof(double) * ((size_t)c->model->residual_dim + 1));
    compile_bos_residual(c, xb);
    for (int i = 0; i < c->n; i++) {
        const Space *b = &c->nodes[i].basis;
        if (!c->nodes[i].sop || c->nodes[i].e->kind == EXPR_TOKENS) continue;
        for (int k = 0; k < b->n; k++) {
            int r = space_index_find(&c->rix, &b->d[k]);
            if (r >= 0 && fabs(xb[r]) > 1e-6) bos_nz[i] = true;
        }
    }
    bool has_num_mean = false;
    char desc[400];

    for (int ei = 0; ei < p->n_exprs; ei++) {
        int id = c->node_of[ei];
        if (id < 0) continue;
        CNode *nd = &c->nodes[id];
        if (!nd->sop) continue;
        const char *lb = nd->e->label;
        CNode *x = kid(c, nd, 0), *y = kid(c, nd, 1);
        switch (nd->e->kind) {
        case EXPR_MAP:
        case EXPR_SEQMAP:
            if (nd->mk == MK_CATNUM && nd->mlp.hidden.n == 1) {
                for (int k = 0; k < nd->mlp.in.n; k++)
                    if (nd->mlp.w1[k] < 0) {
                        char vb[64];
                        val_str_fmt(nd->mlp.in.d[k].value, vb, sizeof vb);
                        compile_warn_add(
                            c,
                            "%s: categorical->numerical Map gives negative values (f(%s) = %g); the "
                            "MLP's ReLU outputs 0 instead (as Tracr does; exact mode keeps the sign)",
                            lb, vb, nd->mlp.w1[k]);
                        break;
                    }
            }
            if (nd->mk == MK_DISC) {
                Dir xd = {x->e->label, val_none()};
                int n_checked;
                int bad =
                    check_disc(c, nd, xd, x->cvals->items, x->cvals->n, blk_fn_lambda(nd->e->fn),
                               x->vals, &n_checked, desc, sizeof desc);
                if (bad)
                    compile_warn_add(
                        c,
                        "%s: the numerical-input MLP (mlp_exactness %g) is wrong on %d of %d input "
                        "values: %s (as Tracr; exact mode fixes it)",
                        lb, c->L, bad, n_checked, desc);
            }
            break;
        case EXPR_AGGREGATE:
        case EXPR_SELWIDTH: {
            CNode *keys = kid(c, x, 0);
            bool kz = bos_nz[keys - c->nodes];
            if (kz)
                compile_warn_add(
                    c,
                    "%s: its selector's keys (%s) are not zero at the BOS position, which shifts "
                    "the BOS attention logit; queries that select nothing may not read the default "
                    "(as Tracr)",
                    lb, keys->e->label);
            if (nd->e->kind == EXPR_SELWIDTH) {
                int N = c->N, n_checked;
                Value *iv = malloc(sizeof(Value) * (size_t)(N + 1));
                for (int w = 0; w <= N; w++) iv[w] = val_float(1.0 / (w + 1));
                int bad = check_disc(c, nd, nd->sw_attn_dir, iv, (size_t)N + 1,
                                     (BlkFn){blk_sw_fn, NULL}, NULL, &n_checked, desc, sizeof desc);
                free(iv);
                if (bad)
                    compile_warn_add(
                        c,
                        "%s: SelectorWidth is inexact for some widths up to max_seq_len %d with "
                        "mlp_exactness %g (attention output 1/(w+1) values closer than 2/L): %s "
                        "(as Tracr; exact mode raises mlp_exactness)",
                        lb, N, c->L, desc);
                break;
            }
            if (nd->e->enc == ENC_NUMERICAL) {
                has_num_mean = true;
                if (y && bos_nz[y - c->nodes])
                    compile_warn_add(
                        c,
                        "%s: the averaged SOp %s is not zero at the BOS position, so a query that "
                        "selects nothing reads it instead of the default 0 (as Tracr)",
                        lb, y->e->label);
            } else if (y && y->vals->n > 1) {
                /* Provably one key per query: keys are the indices (distinct per position) and
                 * every query value selects at most one key value. */
                bool single = keys->e->kind == EXPR_INDICES;
                const AttnBlock *a = &nd->attn;
                for (int q = 0; single && q < a->q.n; q++) {
                    if (dir_eq(&a->q.d[q], &c->bc.one) || dir_eq(&a->q.d[q], &c->bc.bos)) continue;
                    int cnt = 0;
                    for (int k = 0; k < a->k.n; k++)
                        if (!dir_eq(&a->k.d[k], &c->bc.bos) && a->wqk[(size_t)q * a->k.n + k] != 0)
                            cnt++;
                    if (cnt > 1) single = false;
                }
                if (!single)
                    compile_warn_add(
                        c,
                        "%s: categorical Aggregate whose selector may pick several keys: if they hold "
                        "different values the model outputs their average, decoded by argmax, where "
                        "RASP fails (Tracr's dynamic validator flags this at run time)",
                        lb);
            }
            break;
        }
        default: break;
        }
    }
    if (has_num_mean && c->key_size > 1) {
        double leak = exp(-50.0 / sqrt((double)c->key_size));
        if (leak > 1e-4)
            compile_warn_add(
                c,
                "numerical means are off by up to %.2g relative: the compiled attention divides logits "
                "by sqrt(key_size = %d), so the BOS position keeps weight exp(-50/sqrt(key_size)) "
                "(as Tracr)",
                leak, c->key_size);
    }
}
