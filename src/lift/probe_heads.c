/* probe's reading of attention heads: aggregates and selector widths (docs/probe.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lift/probe_internal.h"
#include "util/errmsg.h"

/* ---- attention ----------------------------------------------------------------------------- */

/* A head reads its value at every key: vv = x Wv_h Wo_h [D], the vector it writes per unit of
 * attention. vv [P, D] at the positions, bos [D] at BOS (the same row in every input: BOS
 * attends to itself and its stream does not depend on the input). */
static void value_vectors(const Probe *p, int l, int h, double *vv, double *bos) {
    const PAct *A = &p->A;
    const CompiledModel *m = p->m;
    int D = A->D, ks = m->key_size, HK = m->num_heads * ks;
    const ModelLayer *ly = &m->layers[l];
    double *v = malloc(sizeof(double) * (size_t)ks); /* [ks] */
    for (int in = 0; in < A->n_in; in++) {
        const float *x = pa_resid(A, 2 * l, in);
        for (int t = in ? 1 : 0; t <= A->len[in]; t++) {
            for (int c = 0; c < ks; c++) {
                double s = 0;
                for (int d = 0; d < D; d++) s += x[(size_t)t * D + d] * ly->v[(size_t)d * HK + h * ks + c];
                v[c] = s;
            }
            double *o = t ? vv + (size_t)(A->off[in] + t - 1) * D : bos;
            for (int d = 0; d < D; d++) {
                double s = 0;
                for (int c = 0; c < ks; c++) s += v[c] * ly->o[(size_t)(h * ks + c) * D + d];
                o[d] = s;
            }
        }
    }
    free(v);
}

/* Keys selected by each query of head (l, h): keys [P] bit k-1 for key position k when its
 * weight is at least SEL_SHARE of the largest non-BOS weight and above BOS's. */
static void selections(const Probe *p, int l, int h, uint64_t *keys) {
    const PAct *A = &p->A;
    int T1 = A->N + 1;
    for (int i = 0; i < A->P; i++) {
        int in = A->inp[i], t = A->tpos[i] + 1, n = A->len[in];
        const float *row = pa_attn(A, l, h, in) + (size_t)t * T1;
        int kmax = p->m->causal ? t : n;
        float mx = 0;
        for (int k = 1; k <= kmax; k++)
            if (row[k] > mx) mx = row[k];
        uint64_t s = 0;
        if (mx > row[0])
            for (int k = 1; k <= kmax; k++)
                if (row[k] >= p->par.sel_share * mx) s |= 1ull << (k - 1);
        keys[i] = s;
    }
}

/* Exceptions weigh against the size of the table: a finer feature always explains a noisy
 * selection a little better, so each cell must pay for itself. */
static double select_score(const Probe *p, int fk, int fq, long exceptions, size_t cells,
                           long pairs) {
    if (p->par.tokens_first && (fk == 0 || fq == 0)) return (double)exceptions;
    return (double)exceptions + p->par.cell_cost * (double)pairs * (double)cells;
}

/* The selector from the selections: the pair of features (keys, queries) readable at stage
 * st whose labels determine the selected keys best (majority per cell, select_score). Fills
 * f->sk, f->sq, f->sel; returns the exceptions. */
static long find_select(const Probe *p, int st, const uint64_t *keys, PFeat *f) {
    const PAct *A = &p->A;
    long best = -1, pairs = 0;
    double best_score = INFINITY;
    int maxn = 1;
    for (int i = 0; i < p->nf; i++)
        if (p->f[i].n > maxn) maxn = p->f[i].n;
    for (int i = 0; i < A->P; i++) pairs += p->m->causal ? A->tpos[i] + 1 : A->len[A->inp[i]];
    long *c = malloc(sizeof(long) * (size_t)maxn * maxn * 2); /* [n_k, n_q, 2] */
    for (int fk = 0; fk < p->nf; fk++)
        for (int fq = 0; fq < p->nf; fq++) {
            const PFeat *K = &p->f[fk], *Q = &p->f[fq];
            if (K->stage > st || Q->stage > st || K->numerical || Q->numerical) continue;
            size_t cells = (size_t)K->n * (size_t)Q->n;
            memset(c, 0, sizeof(long) * cells * 2);
            for (int i = 0; i < A->P; i++) {
                int lq = Q->lab[i];
                if (lq < 0) continue;
                int in = A->inp[i], t = A->tpos[i] + 1;
                int kmax = p->m->causal ? t : A->len[in];
                for (int k = 1; k <= kmax; k++) {
                    int lk = K->lab[A->off[in] + k - 1];
                    if (lk < 0) continue;
                    c[((size_t)lk * Q->n + lq) * 2 + ((keys[i] >> (k - 1)) & 1)]++;
                }
            }
            long err = 0;
            for (size_t j = 0; j < cells; j++) err += c[2 * j] < c[2 * j + 1] ? c[2 * j] : c[2 * j + 1];
            double sc = select_score(p, fk, fq, err, cells, pairs);
            if (sc < best_score) {
                best = err, best_score = sc;
                free(f->sel);
                f->sel = malloc(cells ? cells : 1); /* [n_k * n_q] */
                for (size_t j = 0; j < cells; j++) f->sel[j] = c[2 * j + 1] > c[2 * j];
                f->sk = fk, f->sq = fq;
            }
        }
    free(c);
    return best;
}

/* The predicate table the selections show (majority per (key, query) label cell) for keys
 * K and queries Q, into tab [n_k * n_q]; returns the queries whose selected-key count under
 * that table differs from width. */
static long width_from_attention(const Probe *p, const PFeat *K, const PFeat *Q, const int *width,
                                 const uint64_t *keys, unsigned char *tab) {
    const PAct *A = &p->A;
    size_t cells = (size_t)K->n * Q->n;
    long *c = calloc(cells * 2, sizeof(long)); /* [n_k, n_q, 2] */
    for (int i = 0; i < A->P; i++) {
        int lq = Q->lab[i], in = A->inp[i];
        if (lq < 0) continue;
        int kmax = p->m->causal ? A->tpos[i] + 1 : A->len[in];
        for (int k = 1; k <= kmax; k++) {
            int lk = K->lab[A->off[in] + k - 1];
            if (lk >= 0) c[((size_t)lk * Q->n + lq) * 2 + ((keys[i] >> (k - 1)) & 1)]++;
        }
    }
    for (size_t j = 0; j < cells; j++) tab[j] = c[2 * j + 1] > c[2 * j];
    free(c);
    long err = 0;
    for (int i = 0; i < A->P; i++) {
        int lq = Q->lab[i], in = A->inp[i], sel = 0;
        if (lq < 0) continue;
        int kmax = p->m->causal ? A->tpos[i] + 1 : A->len[in];
        for (int k = 1; k <= kmax; k++) {
            int lk = K->lab[A->off[in] + k - 1];
            if (lk >= 0) sel += tab[(size_t)lk * Q->n + lq];
        }
        err += sel != width[i];
    }
    return err;
}

/* A selector width's selector from its widths: the pair (keys, queries) and the predicate
 * table whose selected-key counts equal width [P] for the most queries (each query label's
 * row of the table tried exhaustively over the distinct key-label counts it meets). Fills
 * f->sk, f->sq, f->sel; returns the queries it miscounts, or -1 when no pair has key labels
 * few enough to try. */
#define SW_MAX_KEY_LABELS 12
static long find_width_select(const Probe *p, int st, const int *width, const uint64_t *keys,
                              PFeat *f) {
    const PAct *A = &p->A;
    long best = -1, pairs = 0;
    double best_score = INFINITY;
    for (int i = 0; i < A->P; i++) pairs += p->m->causal ? A->tpos[i] + 1 : A->len[A->inp[i]];
    /* distinct (count vector, width) per query label, with multiplicity */
    int cap = 4096;
    int *sig = malloc(sizeof(int) * (size_t)cap * (SW_MAX_KEY_LABELS + 1)); /* [cap, nk + 1] */
    long *mult = malloc(sizeof(long) * (size_t)cap);                      /* [cap] */
    int cnt[SW_MAX_KEY_LABELS + 1];
    for (int fk = 0; fk < p->nf; fk++)
        for (int fq = 0; fq < p->nf; fq++) {
            const PFeat *K = &p->f[fk], *Q = &p->f[fq];
            if (K->stage > st || Q->stage > st || K->numerical || Q->numerical) continue;
            int nk = K->n, W = nk + 1;
            size_t cells = (size_t)nk * Q->n;
            unsigned char *tab = calloc(cells ? cells : 1, 1); /* [n_k * n_q] */
            long err = 0;
            if (nk > SW_MAX_KEY_LABELS) {
                /* too many rows to try: the table the attention shows, judged by its counts */
                err = width_from_attention(p, K, Q, width, keys, tab);
                nk = 0; /* skip the exhaustive rows below */
            }
            for (int lq = 0; lq < Q->n && err >= 0 && nk > 0; lq++) {
                int ns = 0;
                for (int i = 0; i < A->P; i++) {
                    if (Q->lab[i] != lq) continue;
                    int in = A->inp[i], t = A->tpos[i] + 1;
                    int kmax = p->m->causal ? t : A->len[in];
                    memset(cnt, 0, sizeof cnt);
                    for (int k = 1; k <= kmax; k++) {
                        int lk = K->lab[A->off[in] + k - 1];
                        if (lk >= 0) cnt[lk]++;
                    }
                    cnt[nk] = width[i];
                    int j = 0;
                    while (j < ns && memcmp(sig + (size_t)j * W, cnt, sizeof(int) * W)) j++;
                    if (j == ns) {
                        if (ns == cap) { err = -1; break; }
                        memcpy(sig + (size_t)ns * W, cnt, sizeof(int) * W);
                        mult[ns++] = 0;
                    }
                    mult[j]++;
                }
                if (err < 0) break;
                long row_best = -1;
                unsigned row_arg = 0;
                for (unsigned r = 0; r < 1u << nk; r++) {
                    long e = 0;
                    for (int j = 0; j < ns; j++) {
                        int sel = 0;
                        for (int lk = 0; lk < nk; lk++)
                            if (r >> lk & 1) sel += sig[(size_t)j * W + lk];
                        if (sel != sig[(size_t)j * W + nk]) e += mult[j];
                    }
                    if (row_best < 0 || e < row_best) row_best = e, row_arg = r;
                }
                err += row_best < 0 ? 0 : row_best;
                for (int lk = 0; lk < nk; lk++) tab[(size_t)lk * Q->n + lq] = row_arg >> lk & 1;
            }
            double sc = err < 0 ? INFINITY : select_score(p, fk, fq, err, cells, pairs);
            if (sc < best_score) {
                best = err, best_score = sc;
                free(f->sel);
                f->sel = tab;
                f->sk = fk, f->sq = fq;
            } else free(tab);
        }
    free(sig), free(mult);
    return best;
}

/* x [D] through head h's columns of W ([D, H*ks]: q or k) into out [ks]. */
static void head_project(const float *x, const double *W, int D, int HK, int h, int ks,
                         double *out) {
    for (int c = 0; c < ks; c++) {
        out[c] = 0;
        for (int d = 0; d < D; d++) out[c] += x[d] * W[(size_t)d * HK + h * ks + c];
    }
}

/* Cells of the selector's table that no probed input showed (a key value and a query value
 * that never met in one input) were left unselected above. A head's score is a function of
 * the query's and the key's stream alone, so such a cell is read from a query position of
 * one input and a key position of another: selected when the key would weigh at least
 * sel_share of BOS's weight for that query (a selector width's BOS weighs like a selected
 * key, an aggregate's half as much in the log, so one bound serves both). */
static void fill_select_holes(const Probe *p, int l, int h, PFeat *f) {
    const PAct *A = &p->A;
    const PFeat *K = &p->f[f->sk], *Q = &p->f[f->sq];
    const ModelLayer *ly = &p->m->layers[l];
    int D = A->D, ks = p->m->key_size, HK = p->m->num_heads * ks, st = 2 * l;
    size_t cells = (size_t)K->n * Q->n;
    unsigned char *met = calloc(cells ? cells : 1, 1); /* [n_k * n_q] */
    int *qpos = malloc(sizeof(int) * (size_t)(Q->n ? Q->n : 1)); /* [n_q] a position of each */
    int *kpos = malloc(sizeof(int) * (size_t)(K->n ? K->n : 1)); /* [n_k] */
    for (int v = 0; v < Q->n; v++) qpos[v] = -1;
    for (int v = 0; v < K->n; v++) kpos[v] = -1;
    for (int i = 0; i < A->P; i++) {
        int lq = Q->lab[i], in = A->inp[i];
        if (K->lab[i] >= 0 && kpos[K->lab[i]] < 0) kpos[K->lab[i]] = i;
        if (lq < 0) continue;
        if (qpos[lq] < 0) qpos[lq] = i;
        int kmax = p->m->causal ? A->tpos[i] + 1 : A->len[in];
        for (int k = 1; k <= kmax; k++) {
            int lk = K->lab[A->off[in] + k - 1];
            if (lk >= 0) met[(size_t)lk * Q->n + lq] = 1;
        }
    }
    /* each key value's key vector, once */
    double *kv = malloc(sizeof(double) * (size_t)(K->n ? K->n : 1) * ks); /* [n_k, ks] */
    for (int lk = 0; lk < K->n; lk++) {
        int j = kpos[lk];
        if (j >= 0)
            head_project(pa_resid(A, st, A->inp[j]) + (size_t)(A->tpos[j] + 1) * D, ly->k, D, HK,
                         h, ks, kv + (size_t)lk * ks);
    }
    double *qv = malloc(sizeof(double) * (size_t)ks), *bv = malloc(sizeof(double) * (size_t)ks);
    const double bound = log(p->par.sel_share), scale = 1.0 / sqrt((double)ks);
    for (int lq = 0; lq < Q->n; lq++) {
        int i = qpos[lq];
        if (i < 0) continue;
        const float *xs = pa_resid(A, st, A->inp[i]); /* [N+1, D], BOS first */
        head_project(xs + (size_t)(A->tpos[i] + 1) * D, ly->q, D, HK, h, ks, qv);
        head_project(xs, ly->k, D, HK, h, ks, bv);
        double s_bos = 0;
        for (int c = 0; c < ks; c++) s_bos += qv[c] * bv[c];
        for (int lk = 0; lk < K->n; lk++) {
            if (met[(size_t)lk * Q->n + lq] || kpos[lk] < 0) continue;
            double sc = 0;
            for (int c = 0; c < ks; c++) sc += qv[c] * kv[(size_t)lk * ks + c];
            f->sel[(size_t)lk * Q->n + lq] = scale * (sc - s_bos) >= bound;
            if (pf_debug())
                fprintf(stderr, "probe: layer %d head %d: unmet cell (key %d, query %d): %s\n", l,
                        h, lk, lq, f->sel[(size_t)lk * Q->n + lq] ? "selected" : "not selected");
        }
    }
    free(met), free(qpos), free(kpos), free(qv), free(kv), free(bv);
}

/* A table that decides every cell alike does not depend on its SOps: it is read as a
 * selector over tokens (Tracr's own length, Select(tokens, tokens, TRUE)), so that a program
 * that reads its input only through such a selector still reads tokens (Tracr compiles no
 * other), whichever SOps happened to fit the attention first. */
static void constant_on_tokens(const Probe *p, PFeat *f) {
    size_t cells = (size_t)p->f[f->sk].n * p->f[f->sq].n;
    const PFeat *T = &p->f[0];
    if (!cells || T->kind != LS_TOKENS || (f->sk == 0 && f->sq == 0)) return;
    for (size_t j = 1; j < cells; j++)
        if (f->sel[j] != f->sel[0]) return;
    size_t tc = (size_t)T->n * T->n;
    unsigned char *sel = malloc(tc ? tc : 1); /* [n_tok * n_tok] */
    memset(sel, f->sel[0], tc);
    free(f->sel);
    f->sel = sel;
    f->sk = f->sq = 0;
}

/* The head's write at every position: w [P, D] = sum_k a_qk vv_k. */
static void head_write(const Probe *p, int l, int h, const double *vv, const double *bos,
                       double *w) {
    const PAct *A = &p->A;
    int D = A->D, T1 = A->N + 1;
    for (int i = 0; i < A->P; i++) {
        int in = A->inp[i], t = A->tpos[i] + 1;
        const float *row = pa_attn(A, l, h, in) + (size_t)t * T1;
        double *wi = w + (size_t)i * D;
        for (int d = 0; d < D; d++) wi[d] = row[0] * bos[d];
        for (int k = 1; k <= A->len[in]; k++) {
            if (row[k] == 0) continue;
            const double *v = vv + (size_t)(A->off[in] + k - 1) * D;
            for (int d = 0; d < D; d++) wi[d] += row[k] * v[d];
        }
    }
}

static bool head_unused(const CompiledModel *m, int l, int h) {
    int D = m->residual_dim, ks = m->key_size, HK = m->num_heads * ks;
    double so = 0, sv = 0;
    for (int c = 0; c < ks; c++)
        for (int d = 0; d < D; d++) {
            so += fabs(m->layers[l].o[(size_t)(h * ks + c) * D + d]);
            sv += fabs(m->layers[l].v[(size_t)d * HK + h * ks + c]);
        }
    return so == 0 || sv == 0;
}

static int fail(Probe *p, const char *fmt, int l, int h) {
    return err_printf(p->err, p->errcap, fmt, l, h);
}

/* A selector width: the head's value comes from BOS alone, so its write is BOS's share of
 * the attention, 1 / (width + 1). */
static int read_width(Probe *p, int l, int h, int fi) {
    const PAct *A = &p->A;
    PFeat *f = &p->f[fi];
    int T1 = A->N + 1;
    f->kind = LS_SW;
    f->n = A->N + 1;
    for (int i = 0; i < A->P; i++) {
        int in = A->inp[i], t = A->tpos[i] + 1;
        int kmax = p->m->causal ? t : A->len[in];
        double b = pa_attn(A, l, h, in)[(size_t)t * T1];
        int wd = b > 0 ? (int)lround(1 / b - 1) : kmax;
        f->lab[i] = wd < 0 ? 0 : wd > kmax ? kmax : wd;
    }
    /* a selector width's head weighs BOS like each selected key */
    uint64_t *keys = malloc(sizeof(uint64_t) * (size_t)A->P); /* [P] */
    for (int i = 0; i < A->P; i++) {
        int in = A->inp[i], t = A->tpos[i] + 1;
        int kmax = p->m->causal ? t : A->len[in];
        const float *row = pa_attn(A, l, h, in) + (size_t)t * T1;
        keys[i] = 0;
        for (int k = 1; k <= kmax; k++)
            if (row[k] >= p->par.sel_share * row[0]) keys[i] |= 1ull << (k - 1);
    }
    long exc = find_width_select(p, 2 * l, f->lab, keys, f);
    free(keys);
    if (pf_debug())
        fprintf(stderr, "probe: layer %d head %d: selector width, selector (%d, %d), %ld queries "
                "miscounted\n", l, h, f->sk, f->sq, exc);
    if (exc < 0) return fail(p, "layer %d head %d: a selector width over too many key values", l, h);
    fill_select_holes(p, l, h, f);
    constant_on_tokens(p, f);
    return 0;
}

/* Reads head (l, h) into a feature (or none when its write does not vary). */
int pf_read_head(Probe *p, int l, int h, double *w) {
    const PAct *A = &p->A;
    if (head_unused(p->m, l, h)) return 0;
    int D = A->D, rc = 0, st = 2 * l;
    double *vv = malloc(sizeof(double) * (size_t)A->P * D); /* [P, D] */
    double *bosv = calloc((size_t)D, sizeof(double)); /* [D] */
    value_vectors(p, l, h, vv, bosv);
    double pos_sq = 0, bos_sq = 0;
    for (size_t i = 0; i < (size_t)A->P * D; i++) pos_sq += vv[i] * vv[i];
    for (int d = 0; d < D; d++) bos_sq += bosv[d] * bosv[d];
    int fi = pf_new(p, LS_AGG, 0, 2 * l + 1);
    if (fi < 0) {
        rc = fail(p, "layer %d head %d: too many SOps to probe", l, h);
        goto out;
    }
    PFeat *f = &p->f[fi];
    if (bos_sq > 0 && pos_sq / A->P <= SW_VALUE_SHARE * bos_sq) {
        rc = read_width(p, l, h, fi);
        goto out;
    }
    /* an aggregate: the feature its value vectors follow, then per query the value the
     * attention puts the most weight on (none when that is BOS) */
    int a, b;
    double uv = pf_explain(p, vv, D, st, &a, &b, true);
    if (pf_debug())
        fprintf(stderr, "probe: layer %d head %d: value vectors: position/BOS energy %.4g, follow "
                "%d (%.4f unexplained)\n", l, h, bos_sq > 0 ? pos_sq / A->P / bos_sq : -1.0, a, uv);
    if (a < 0 || pos_sq <= 1e-12 * A->P) { /* a head that writes nothing */
        free(f->lab), free(f->sel);
        p->nf--;
        goto out;
    }
    /* Copy only what the head carries: when its value vectors take fewer distinct values than
     * the feature has labels, copy a Map of it to those values (Tracr's value matrix must fit
     * the head, and a finer feature only adds noise). The Map goes before the aggregate. */
    int *vtab = malloc(sizeof(int) * (size_t)(p->f[a].n ? p->f[a].n : 1)); /* [n_a] */
    int vk = pf_cluster_write(p, vv, D, a, -1, vtab);
    if (vk >= 2 && vk < p->f[a].n && p->nf < MAX_FEATS) {
        int mi = pf_new(p, LS_MAP, vk, p->f[a].stage);
        PFeat *mf = &p->f[mi];
        mf->a = a, mf->tab = vtab, vtab = NULL;
        for (int i = 0; i < A->P; i++)
            mf->lab[i] = p->f[a].lab[i] < 0 ? -1 : mf->tab[p->f[a].lab[i]];
        PFeat tmp = p->f[fi]; /* the Map before the aggregate */
        p->f[fi] = p->f[mi];
        p->f[mi] = tmp;
        a = fi, fi = mi;
        f = &p->f[fi];
    }
    free(vtab);
    const PFeat *V = &p->f[a];
    f->a = a;
    f->n = V->n;
    int T1 = A->N + 1;
    double *mass = malloc(sizeof(double) * (size_t)(V->n + 1)); /* [n_v + 1], BOS last */
    for (int i = 0; i < A->P; i++) {
        int in = A->inp[i], t = A->tpos[i] + 1;
        const float *row = pa_attn(A, l, h, in) + (size_t)t * T1;
        memset(mass, 0, sizeof(double) * (size_t)(V->n + 1));
        mass[V->n] = row[0];
        for (int k = 1; k <= A->len[in]; k++) {
            int v = V->lab[A->off[in] + k - 1];
            mass[v >= 0 ? v : V->n] += row[k];
        }
        int arg = V->n;
        for (int v = 0; v < V->n; v++)
            if (mass[v] > mass[arg]) arg = v;
        f->lab[i] = arg == V->n ? -1 : arg;
    }
    free(mass);
    uint64_t *keys = malloc(sizeof(uint64_t) * (size_t)A->P); /* [P] */
    selections(p, l, h, keys);
    long exc = find_select(p, st, keys, f);
    free(keys);
    if (exc >= 0) {
        fill_select_holes(p, l, h, f);
        constant_on_tokens(p, f);
    }
    if (pf_debug())
        fprintf(stderr, "probe: layer %d head %d: copies %d (%.4f unexplained), selector (%d, "
                "%d) with %ld exceptions\n", l, h, a, uv, f->sk, f->sq, exc);
    if (pf_debug()) { /* how well the copied value explains the write (a mean would not) */
        head_write(p, l, h, vv, bosv, w);
        double *sums = malloc(sizeof(double) * (size_t)(f->n + 1) * D); /* [n + 1, D] */
        double *cn = malloc(sizeof(double) * (size_t)(f->n + 1));        /* [n + 1] */
        fprintf(stderr, "probe: layer %d head %d: write %.4f unexplained by the copy\n", l, h,
                pf_unexplained(p, w, D, fi, -1, sums, cn));
        free(sums), free(cn);
    }
    pf_numeric_mean(p, fi, vv);
out:
    free(vv), free(bosv);
    return rc;
}

