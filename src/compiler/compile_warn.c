/* Compile-time warnings for Tracr's silent failures (tracr-reference §5.2). The model is
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

/* Runs the node's discretising MLP on input value x (one = 1, bos = 0). out: [mlp.out.n]. */
static void disc_apply(CCtx *c, const CNode *nd, Dir xdir, double x, double *in, double *out) {
    const MlpBlock *b = &nd->mlp;
    for (int i = 0; i < b->in.n; i++) {
        in[i] = 0;
        if (dir_eq(&b->in.d[i], &xdir)) in[i] = x;
        else if (dir_eq(&b->in.d[i], &c->bc.one)) in[i] = 1;
    }
    blk_mlp_apply(b, in, out);
}

/* Checks a discretising MLP on every value its input can really take. Returns the number of
 * bad values and describes the first in desc. */
static int check_disc(CCtx *c, const CNode *nd, Dir xdir, const Value *xs, size_t nx, BlkFn f,
                      const ValueSet *built_from, int *n_checked, char *desc, size_t cap) {
    const MlpBlock *b = &nd->mlp;
    double *in = malloc(sizeof(double) * (size_t)(b->in.n + 1));
    double *out = malloc(sizeof(double) * (size_t)(b->out.n + 1));
    bool cat = nd->e->enc == ENC_CATEGORICAL;
    int bad = 0;
    *n_checked = 0;
    desc[0] = 0;
    for (size_t i = 0; i < nx; i++) {
        Value y;
        if (!val_is_number(xs[i])) continue;
        if (f.call(f.ctx, &xs[i], &y, NULL, 0) != PYERR_OK || y.kind == VAL_NONE) continue;
        double x = val_as_double(xs[i]);
        disc_apply(c, nd, xdir, x, in, out);
        (*n_checked)++;
        char xb[64], yb[64], gb[64];
        val_str_fmt(xs[i], xb, sizeof xb);
        val_str_fmt(y, yb, sizeof yb);
        bool unseen = built_from && !valset_contains(built_from, xs[i]);
        if (!cat) {
            int o = 0;
            for (int k = 0; k < b->out.n; k++)
                if (strcmp(b->out.d[k].name, nd->e->label) == 0) o = k;
            double want = val_is_number(y) ? val_as_double(y) : NAN;
            if (!(fabs(out[o] - want) <= 1e-6 * (1 + fabs(want)))) {
                if (!bad++)
                    snprintf(desc, cap, "input %s%s gives %.6g instead of %s", xb,
                             unseen ? " (missing from Tracr's value set)" : "", out[o], yb);
            }
            continue;
        }
        Dir want = {nd->e->label, y};
        int wi = space_find(&b->out, &want), best = -1;
        double bv = -INFINITY, dev = 0;
        for (int k = 0; k < b->out.n; k++) {
            if (strcmp(b->out.d[k].name, nd->e->label) != 0) continue;
            if (out[k] > bv) bv = out[k], best = k;
            double d = fabs(out[k] - (k == wi ? 1.0 : 0.0));
            if (d > dev) dev = d;
        }
        if (wi < 0 || best != wi || dev > 1e-6) {
            if (best >= 0) val_str_fmt(b->out.d[best].value, gb, sizeof gb);
            else snprintf(gb, sizeof gb, "nothing");
            if (!bad++)
                snprintf(desc, cap, "input %s%s %s %s instead of %s", xb,
                         unseen ? " (missing from Tracr's value set)" : "",
                         (wi >= 0 && best == wi) ? "gives a mixed vector decoding to" : "decodes to", gb, yb);
        }
    }
    free(in);
    free(out);
    return bad;
}

/* May the node's residual directions be non-zero at the BOS position? */
static bool disc_nonzero_at_bos(CCtx *c, const CNode *nd) {
    CNode *x = kid(c, nd, 0);
    Dir xd = {x->e->label, val_none()};
    double *in = malloc(sizeof(double) * (size_t)(nd->mlp.in.n + 1));
    double *out = malloc(sizeof(double) * (size_t)(nd->mlp.out.n + 1));
    disc_apply(c, nd, xd, 0.0, in, out);
    bool nz = false;
    for (int k = 0; k < nd->mlp.out.n; k++)
        if (fabs(out[k]) > 1e-9) nz = true;
    free(in);
    free(out);
    return nz;
}

void compile_warnings(CCtx *c) {
    const RaspProgram *p = c->p;
    bool *bos_nz = calloc((size_t)c->n + 1, sizeof(bool));
    int *sw_in_layer = calloc((size_t)c->n + 1, sizeof(int));
    for (int i = 0; i < c->n; i++)
        if (c->nodes[i].mk == MK_SW && c->nodes[i].mlp_slot >= 0) sw_in_layer[c->nodes[i].mlp_slot]++;
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
            if (nd->mk == MK_CAT || nd->mk == MK_CATNUM) bos_nz[id] = x && bos_nz[x - c->nodes];
            if (nd->mk == MK_SEQ) bos_nz[id] = x && y && bos_nz[x - c->nodes] && bos_nz[y - c->nodes];
            if (nd->mk == MK_CATNUM && nd->mlp.hidden.n == 1) {
                for (int k = 0; k < nd->mlp.in.n; k++)
                    if (nd->mlp.w1[k] < 0) {
                        char vb[64];
                        val_str_fmt(nd->mlp.in.d[k].value, vb, sizeof vb);
                        compile_warn_add(c,
                                         "%s: categorical->numerical Map gives negative values (f(%s) = %g); the "
                                         "MLP's ReLU outputs 0 instead (as Tracr does; exact mode keeps the sign)",
                                         lb, vb, nd->mlp.w1[k]);
                        break;
                    }
            }
            if (nd->mk == MK_DISC) {
                Dir xd = {x->e->label, val_none()};
                int n_checked;
                int bad = check_disc(c, nd, xd, x->cvals->items, x->cvals->n, blk_fn_lambda(nd->e->fn), x->vals,
                                     &n_checked, desc, sizeof desc);
                if (bad)
                    compile_warn_add(c,
                                     "%s: the numerical-input MLP (mlp_exactness %g) is wrong on %d of %d input "
                                     "values: %s (as Tracr; exact mode fixes it)",
                                     lb, c->L, bad, n_checked, desc);
                bos_nz[id] = bos_nz[x - c->nodes] || disc_nonzero_at_bos(c, nd);
            }
            break;
        case EXPR_LINSEQMAP:
            bos_nz[id] = (x && bos_nz[x - c->nodes]) || (y && bos_nz[y - c->nodes]);
            break;
        case EXPR_AGGREGATE:
        case EXPR_SELWIDTH: {
            CNode *keys = kid(c, x, 0), *queries = kid(c, x, 1);
            bool kz = bos_nz[keys - c->nodes], qz = bos_nz[queries - c->nodes];
            if (kz)
                compile_warn_add(c,
                                 "%s: its selector's keys (%s) are not zero at the BOS position, which shifts "
                                 "the BOS attention logit; queries that select nothing may not read the default "
                                 "(as Tracr)",
                                 lb, keys->e->label);
            if (nd->e->kind == EXPR_SELWIDTH) {
                bos_nz[id] = qz || sw_in_layer[nd->mlp_slot] > 1;
                int N = c->N, n_checked;
                Value *iv = malloc(sizeof(Value) * (size_t)(N + 1));
                for (int w = 0; w <= N; w++) iv[w] = val_float(1.0 / (w + 1));
                int bad = check_disc(c, nd, nd->sw_attn_dir, iv, (size_t)N + 1, (BlkFn){blk_sw_fn, NULL}, NULL,
                                     &n_checked, desc, sizeof desc);
                free(iv);
                if (bad)
                    compile_warn_add(c,
                                     "%s: SelectorWidth is inexact for some widths up to max_seq_len %d with "
                                     "mlp_exactness %g (attention output 1/(w+1) values closer than 2/L): %s "
                                     "(as Tracr; exact mode raises mlp_exactness)",
                                     lb, N, c->L, desc);
                break;
            }
            bos_nz[id] = (y && bos_nz[y - c->nodes]) || qz;
            if (nd->e->enc == ENC_NUMERICAL) {
                has_num_mean = true;
                if (y && bos_nz[y - c->nodes])
                    compile_warn_add(c,
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
                        if (!dir_eq(&a->k.d[k], &c->bc.bos) && a->wqk[(size_t)q * a->k.n + k] != 0) cnt++;
                    if (cnt > 1) single = false;
                }
                if (!single)
                    compile_warn_add(c,
                                     "%s: categorical Aggregate whose selector may pick several keys: if they hold "
                                     "different values the model outputs their average, decoded by argmax, where "
                                     "RASP fails (Tracr's dynamic validator flags this at run time)",
                                     lb);
            }
            break;
        }
        default:
            break;
        }
    }
    if (has_num_mean && c->key_size > 1) {
        double leak = exp(-50.0 / sqrt((double)c->key_size));
        if (leak > 1e-4)
            compile_warn_add(c,
                             "numerical means are off by up to %.2g relative: the compiled attention divides logits "
                             "by sqrt(key_size = %d), so the BOS position keeps weight exp(-50/sqrt(key_size)) "
                             "(as Tracr)",
                             leak, c->key_size);
    }
    free(bos_nz);
    free(sw_in_layer);
}
