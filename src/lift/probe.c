/* probe_model: the program read from activations (probe.h, docs/probe.md). */
#include "lift/probe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/lambda_lib.h"
#include "lift/lift_internal.h"
#include "lift/probe_internal.h"
#include "rasp/rasp.h"
#include "transform/transform.h"
#include "util/errmsg.h"

#define MAX_FEATS 96
/* A selection key's weight counts as selected from this share of its row's largest weight. */
#define SEL_SHARE 0.5
/* Explanations: the unexplained share of a block's variance that still counts as explained
 * (compressed models leave a few percent of interference), and the share of queries whose
 * selected keys may disagree on the copied value. */
#define MAX_UV 0.08
#define MAX_MIXED 0.01

typedef struct PFeat {
    LsKind kind;
    int n;              /* labels 0..n-1 */
    int *lab;           /* [P] label at each position, -1: none */
    int a, b;           /* MAP: a; SEQMAP: a, b; AGG: a (the copied feature) */
    int sk, sq;         /* AGG, SW: the selector's keys and queries */
    unsigned char *sel; /* [n(sk) * n(sq)] key-major predicate table */
    int *tab;           /* MAP [n(a)], SEQMAP [n(a) * n(b)]: output label */
    int stage;          /* the residual stage from which it can be read */
    bool out;           /* the output table: labels are the model's output columns */
} PFeat;

typedef struct Probe {
    const CompiledModel *m;
    PAct A;
    PFeat f[MAX_FEATS];
    int nf;
    char *err;
    size_t errcap;
} Probe;

void probe_options_default(ProbeOptions *o) {
    memset(o, 0, sizeof *o);
    o->max_inputs = PROBE_MAX_INPUTS;
    o->check_inputs = 20000;
    o->seed = 1;
    o->name_functions = true;
}

void probe_result_free(ProbeResult *r) {
    free(r->program);
    compiled_model_free(r->model);
    memset(r, 0, sizeof *r);
}

static int new_feat(Probe *p, LsKind k, int n, int stage) {
    if (p->nf == MAX_FEATS) return -1;
    PFeat *f = &p->f[p->nf];
    memset(f, 0, sizeof *f);
    f->kind = k;
    f->n = n;
    f->lab = malloc(sizeof(int) * (size_t)p->A.P); /* [P] */
    f->a = f->b = f->sk = f->sq = -1;
    f->stage = stage;
    if (getenv("ITRACR_PROBE_DEBUG")) fprintf(stderr, "probe: feature %d kind %d stage %d\n", p->nf, (int)k, stage);
    return p->nf++;
}

static void free_feats(Probe *p) {
    for (int i = 0; i < p->nf; i++) free(p->f[i].lab), free(p->f[i].sel), free(p->f[i].tab);
}

/* ---- explanations ------------------------------------------------------------------------ */

/* Share of the variance of the vectors x [P, dim] left within the groups of the labels of
 * features a (and b when >= 0; -1 labels form their own group). sums [G, dim] and cnt [G]
 * are scratch with G = (n_a + 1)(n_b + 1). 0 when x does not vary. */
static double unexplained(const Probe *p, const double *x, int dim, int a, int b, double *sums,
                          double *cnt) {
    const PFeat *fa = &p->f[a], *fb = b >= 0 ? &p->f[b] : NULL;
    int nb1 = fb ? fb->n + 1 : 1, G = (fa->n + 1) * nb1;
    memset(sums, 0, sizeof(double) * (size_t)G * dim);
    memset(cnt, 0, sizeof(double) * (size_t)G);
    double sq = 0;
    for (int i = 0; i < p->A.P; i++) {
        int g = (fa->lab[i] + 1) * nb1 + (fb ? fb->lab[i] + 1 : 0);
        const double *xi = x + (size_t)i * dim;
        double *s = sums + (size_t)g * dim;
        for (int d = 0; d < dim; d++) s[d] += xi[d], sq += xi[d] * xi[d];
        cnt[g] += 1;
    }
    double between = 0, n = p->A.P;
    double *tot = calloc((size_t)dim, sizeof(double)); /* [dim] */
    for (int g = 0; g < G; g++) {
        if (!cnt[g]) continue;
        const double *s = sums + (size_t)g * dim;
        for (int d = 0; d < dim; d++) between += s[d] * s[d] / cnt[g], tot[d] += s[d];
    }
    double mean_sq = 0;
    for (int d = 0; d < dim; d++) mean_sq += tot[d] * tot[d] / n;
    free(tot);
    double ss_tot = sq - mean_sq, ss_within = sq - between;
    if (ss_tot <= 1e-12 * (sq + 1e-300)) return 0;
    double u = ss_within / ss_tot;
    return u < 0 ? 0 : u;
}

/* The feature (or pair) among those readable at stage st that best explains x [P, dim]:
 * the smallest unexplained share, then the fewest labels. Returns that share; *a, *b (-1
 * for a single feature). Pairs are tried only when no single feature explains x. */
static double explain(const Probe *p, const double *x, int dim, int st, int *a, int *b) {
    int maxn = 1;
    for (int i = 0; i < p->nf; i++)
        if (p->f[i].n + 1 > maxn) maxn = p->f[i].n + 1;
    double *sums = malloc(sizeof(double) * (size_t)maxn * maxn * dim); /* [G, dim] */
    double *cnt = malloc(sizeof(double) * (size_t)maxn * maxn);       /* [G] */
    double best = INFINITY;
    long best_cells = 0;
    *a = *b = -1;
    for (int pass = 0; pass < 2 && !(best <= MAX_UV); pass++)
        for (int i = 0; i < p->nf; i++) {
            if (p->f[i].stage > st) continue;
            for (int j = pass ? i + 1 : -1; j < (pass ? p->nf : 0); j++) {
                if (j >= 0 && p->f[j].stage > st) continue;
                double u = unexplained(p, x, dim, i, j, sums, cnt);
                long cells = (long)p->f[i].n * (j >= 0 ? p->f[j].n : 1);
                /* equal within rounding: the coarser feature is the one the block reads */
                double slack = 1e-9 + 0.05 * best;
                bool better = *a < 0 || u < best - slack;
                bool tie = *a >= 0 && fabs(u - best) <= slack && cells < best_cells;
                if (better || tie) {
                    if (better || u < best) best = u;
                    best_cells = cells, *a = i, *b = j;
                }
            }
        }
    free(sums);
    free(cnt);
    return best;
}

/* ---- output labels of a block: clusters of its mean write per input label ----------------- */

/* w [P, dim]: a block's write. Groups positions by the labels of a (and b), averages w per
 * group and clusters the averages; tab [n_a (* n_b)] gets each group's cluster (0 where the
 * group never occurs). Returns the number of clusters (1: the write is constant). */
static int cluster_write(const Probe *p, const double *w, int dim, int a, int b, int *tab) {
    const PFeat *fa = &p->f[a], *fb = b >= 0 ? &p->f[b] : NULL;
    int nb = fb ? fb->n : 1, G = fa->n * nb;
    double *mean = calloc((size_t)G * dim, sizeof(double)); /* [G, dim] */
    double *cnt = calloc((size_t)G, sizeof(double));       /* [G] */
    for (int i = 0; i < p->A.P; i++) {
        int la = fa->lab[i], lb = fb ? fb->lab[i] : 0;
        if (la < 0 || lb < 0) continue;
        int g = la * nb + lb;
        for (int d = 0; d < dim; d++) mean[(size_t)g * dim + d] += w[(size_t)i * dim + d];
        cnt[g] += 1;
    }
    for (int g = 0; g < G; g++)
        if (cnt[g])
            for (int d = 0; d < dim; d++) mean[(size_t)g * dim + d] /= cnt[g];
    double within = 0, n = 0;
    for (int i = 0; i < p->A.P; i++) {
        int la = fa->lab[i], lb = fb ? fb->lab[i] : 0;
        if (la < 0 || lb < 0) continue;
        const double *mu = mean + (size_t)(la * nb + lb) * dim;
        for (int d = 0; d < dim; d++) {
            double e = w[(size_t)i * dim + d] - mu[d];
            within += e * e;
        }
        n += 1;
    }
    double noise = n ? sqrt(within / n) : 0, scale = 0;
    for (int g = 0; g < G; g++)
        for (int h = 0; h < g && cnt[g]; h++) {
            if (!cnt[h]) continue;
            double s = 0;
            for (int d = 0; d < dim; d++) {
                double e = mean[(size_t)g * dim + d] - mean[(size_t)h * dim + d];
                s += e * e;
            }
            if (sqrt(s) > scale) scale = sqrt(s);
        }
    double tau = 4 * noise;
    if (tau < 0.02 * scale) tau = 0.02 * scale;
    if (tau > 0.45 * scale) tau = 0.45 * scale;
    int *lead = malloc(sizeof(int) * (size_t)(G ? G : 1)); /* [clusters] leader group */
    int k = 0;
    for (int g = 0; g < G; g++) {
        tab[g] = 0;
        if (!cnt[g]) continue;
        int c = -1;
        for (int j = 0; j < k && c < 0; j++) {
            double s = 0;
            for (int d = 0; d < dim; d++) {
                double e = mean[(size_t)g * dim + d] - mean[(size_t)lead[j] * dim + d];
                s += e * e;
            }
            if (sqrt(s) <= tau || scale <= 1e-9) c = j;
        }
        if (c < 0) lead[k] = g, c = k++;
        tab[g] = c;
    }
    free(lead), free(mean), free(cnt);
    return k;
}

/* ---- attention ----------------------------------------------------------------------------- */

/* Selected keys of every query position of head (l, h): keys [P] bit k-1 for key position k
 * (BOS excluded), bos [P] whether BOS is selected too. */
static void selections(const Probe *p, int l, int h, uint64_t *keys, unsigned char *bos) {
    const PAct *A = &p->A;
    int T1 = A->N + 1;
    for (int i = 0; i < A->P; i++) {
        int in = A->inp[i], t = A->tpos[i] + 1, n = A->len[in];
        const float *row = pa_attn(A, l, h, in) + (size_t)t * T1;
        int kmax = p->m->causal ? t : n;
        float mx = 0;
        for (int k = 0; k <= kmax; k++)
            if (row[k] > mx) mx = row[k];
        uint64_t s = 0;
        for (int k = 1; k <= kmax; k++)
            if (row[k] >= SEL_SHARE * mx) s |= 1ull << (k - 1);
        keys[i] = s;
        bos[i] = row[0] >= SEL_SHARE * mx;
    }
}

/* The selector: the pair of features (keys, queries) readable at stage st whose labels
 * determine the selection with the fewest exceptions (then the smallest table). Fills
 * f->sk, f->sq, f->sel; returns the exceptions. */
static long find_select(const Probe *p, int st, const uint64_t *keys, PFeat *f) {
    const PAct *A = &p->A;
    long best = -1, best_cells = 0;
    int maxn = 1;
    for (int i = 0; i < p->nf; i++)
        if (p->f[i].n > maxn) maxn = p->f[i].n;
    long *c = malloc(sizeof(long) * (size_t)maxn * maxn * 2); /* [n_k, n_q, 2] */
    for (int fk = 0; fk < p->nf; fk++)
        for (int fq = 0; fq < p->nf; fq++) {
            const PFeat *K = &p->f[fk], *Q = &p->f[fq];
            if (K->stage > st || Q->stage > st) continue;
            memset(c, 0, sizeof(long) * (size_t)K->n * Q->n * 2);
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
            size_t cells = (size_t)K->n * (size_t)Q->n;
            for (size_t j = 0; j < cells; j++) err += c[2 * j] < c[2 * j + 1] ? c[2 * j] : c[2 * j + 1];
            if (getenv("ITRACR_PROBE_DEBUG"))
                fprintf(stderr, "  select (%d, %d): %zu cells, %ld exceptions\n", fk, fq, cells, err);
            if (best < 0 || err < best || (err == best && (long)cells < best_cells)) {
                best = err, best_cells = (long)cells;
                free(f->sel);
                f->sel = malloc(cells ? cells : 1); /* [n_k * n_q] */
                for (size_t j = 0; j < cells; j++) f->sel[j] = c[2 * j + 1] > c[2 * j];
                f->sk = fk, f->sq = fq;
            }
        }
    free(c);
    return best;
}

/* The head's write at every position: w [P, D] = sum_k a_qk (x_k Wv_h) Wo_h. */
static void head_write(const Probe *p, int l, int h, double *w) {
    const PAct *A = &p->A;
    const CompiledModel *m = p->m;
    int D = A->D, ks = m->key_size, HK = m->num_heads * ks, T1 = A->N + 1;
    const ModelLayer *ly = &m->layers[l];
    double *v = malloc(sizeof(double) * (size_t)T1 * ks); /* [T, ks] */
    double *z = malloc(sizeof(double) * (size_t)ks);      /* [ks] */
    for (int in = 0; in < A->n_in; in++) {
        int n = A->len[in];
        const float *x = pa_resid(A, 2 * l, in);
        for (int k = 0; k <= n; k++)
            for (int c = 0; c < ks; c++) {
                double s = 0;
                for (int d = 0; d < D; d++) s += x[(size_t)k * D + d] * ly->v[(size_t)d * HK + h * ks + c];
                v[k * ks + c] = s;
            }
        const float *att = pa_attn(A, l, h, in);
        for (int t = 1; t <= n; t++) {
            for (int c = 0; c < ks; c++) {
                double s = 0;
                for (int k = 0; k <= n; k++) s += att[(size_t)t * T1 + k] * v[k * ks + c];
                z[c] = s;
            }
            double *wi = w + (size_t)(A->off[in] + t - 1) * D;
            for (int d = 0; d < D; d++) {
                double s = 0;
                for (int c = 0; c < ks; c++) s += z[c] * ly->o[(size_t)(h * ks + c) * D + d];
                wi[d] = s;
            }
        }
    }
    free(v), free(z);
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

/* Reads head (l, h) into a feature (or none when its write does not vary). */
static int read_head(Probe *p, int l, int h, double *w) {
    const PAct *A = &p->A;
    if (head_unused(p->m, l, h)) return 0;
    uint64_t *keys = malloc(sizeof(uint64_t) * (size_t)A->P); /* [P] */
    unsigned char *bos = malloc((size_t)A->P);               /* [P] */
    selections(p, l, h, keys, bos);
    if (getenv("ITRACR_PROBE_ROWS"))
        for (int i = A->P - 40; i < A->P; i += 3) {
            int in = A->inp[i], t = A->tpos[i] + 1, n = A->len[in];
            const float *row = pa_attn(A, l, h, in) + (size_t)t * (A->N + 1);
            fprintf(stderr, "L%d H%d in%d t%d toks", l, h, in, t);
            for (int k = 0; k < n; k++) fprintf(stderr, " %d", A->tok[A->off[in] + k]);
            fprintf(stderr, " | ");
            for (int k = 0; k <= n; k++) fprintf(stderr, " %.3f", row[k]);
            fprintf(stderr, "\n");
        }
    long with_keys = 0, with_both = 0;
    for (int i = 0; i < A->P; i++)
        if (keys[i]) with_keys++, with_both += bos[i];
    head_write(p, l, h, w);
    int rc = 0, st = 2 * l;
    int fi = new_feat(p, LS_AGG, 0, 2 * l + 1);
    if (fi < 0) {
        rc = fail(p, "layer %d head %d: too many SOps to probe", l, h);
        goto out;
    }
    PFeat *f = &p->f[fi];
    long exc = find_select(p, st, keys, f);
    if (getenv("ITRACR_PROBE_DEBUG"))
        fprintf(stderr, "probe: layer %d head %d: %ld of %d queries select keys, %ld with BOS; "
                "selector (%d, %d) with %ld exceptions\n", l, h, with_keys, A->P, with_both, f->sk,
                f->sq, exc);
    if (with_keys && 2 * with_both > with_keys) {
        /* BOS among the selected keys of most queries: a selector width */
        f->kind = LS_SW;
        f->n = A->N + 1;
        for (int i = 0; i < A->P; i++) f->lab[i] = __builtin_popcountll(keys[i]);
        goto out;
    }
    /* an aggregate: the feature whose value at the selected keys the write follows */
    double *sums = NULL, *cnt = NULL;
    int *lab = malloc(sizeof(int) * (size_t)A->P); /* [P] */
    double best = INFINITY;
    int best_n = 0;
    for (int c = 0; c < p->nf - 1; c++) {
        const PFeat *V = &p->f[c];
        if (V->stage > st) continue;
        long mixed = 0;
        for (int i = 0; i < A->P; i++) {
            int in = A->inp[i], o = -1;
            for (int k = 0; k < A->len[in]; k++)
                if (keys[i] >> k & 1) {
                    int v = V->lab[A->off[in] + k];
                    if (o == -1) o = v;
                    else if (o != v) o = -2;
                }
            if (o == -2) mixed++, o = -1;
            lab[i] = o;
        }
        if (mixed > MAX_MIXED * (with_keys + 1)) continue;
        /* the labels this copy gives, as a temporary feature in slot fi */
        int *keep = f->lab;
        f->lab = lab;
        f->n = V->n;
        int G = (V->n + 1);
        sums = realloc(sums, sizeof(double) * (size_t)G * A->D);
        cnt = realloc(cnt, sizeof(double) * (size_t)G);
        double u = unexplained(p, w, A->D, fi, -1, sums, cnt);
        f->lab = keep;
        if (u < best - 1e-9 || (u <= best + 1e-9 && V->n < best_n)) {
            best = u, best_n = V->n;
            f->a = c;
            memcpy(f->lab, lab, sizeof(int) * (size_t)A->P);
        }
    }
    free(lab), free(sums), free(cnt);
    if (getenv("ITRACR_PROBE_DEBUG"))
        fprintf(stderr, "probe: layer %d head %d: copies %d, %.4f unexplained\n", l, h, f->a, best);
    if (f->a < 0 || best > MAX_UV) {
        /* a write that does not vary carries nothing: drop the head */
        double sq = 0;
        for (size_t i = 0; i < (size_t)A->P * A->D; i++) sq += w[i] * w[i];
        if (f->a < 0 && sq <= 1e-12 * A->P) {
            free(f->lab), free(f->sel);
            p->nf--;
            goto out;
        }
        rc = fail(p, "layer %d head %d: its write copies no known SOp (numerical or mixed "
                     "aggregates are not probed)", l, h);
        goto out;
    }
    f->n = p->f[f->a].n;
out:
    free(keys), free(bos);
    return rc;
}

/* ---- MLP ------------------------------------------------------------------------------------ */

static int read_mlp(Probe *p, int l, double *w) {
    const PAct *A = &p->A;
    const CompiledModel *m = p->m;
    int D = A->D, M = m->mlp_hidden_size, st = 2 * l + 1;
    const ModelLayer *ly = &m->layers[l];
    if (M == 0) return 0;
    double *act = malloc(sizeof(double) * (size_t)A->P * M); /* [P, M] */
    double *col = malloc(sizeof(double) * (size_t)A->P);     /* [P] */
    for (int in = 0; in < A->n_in; in++) {
        const float *x = pa_resid(A, st, in);
        for (int t = 1; t <= A->len[in]; t++) {
            double *ai = act + (size_t)(A->off[in] + t - 1) * M;
            for (int u = 0; u < M; u++) ai[u] = 0;
            for (int d = 0; d < D; d++) {
                double xd = x[(size_t)t * D + d];
                if (xd == 0) continue;
                const double *wr = ly->w1 + (size_t)d * M;
                for (int u = 0; u < M; u++) ai[u] += xd * wr[u];
            }
            for (int u = 0; u < M; u++)
                if (ai[u] < 0) ai[u] = 0;
        }
    }
    int *ga = malloc(sizeof(int) * (size_t)M), *gb = malloc(sizeof(int) * (size_t)M); /* [M] */
    int rc = 0;
    for (int u = 0; u < M && !rc; u++) {
        ga[u] = gb[u] = -2; /* -2: the unit writes nothing or does not vary */
        double wn = 0;
        for (int d = 0; d < D; d++) wn += fabs(ly->w2[(size_t)u * D + d]);
        if (wn == 0) continue;
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < A->P; i++) {
            col[i] = act[(size_t)i * M + u];
            if (col[i] < lo) lo = col[i];
            if (col[i] > hi) hi = col[i];
        }
        if (hi - lo <= 1e-9 * (1 + fabs(hi))) continue;
        double uv = explain(p, col, 1, st, &ga[u], &gb[u]);
        if (uv > MAX_UV)
            rc = err_printf(p->err, p->errcap,
                            "layer %d MLP: hidden unit %d follows no known SOp or pair "
                            "(%.0f%% of its variance unexplained)",
                            l, u, 100 * uv);
    }
    /* one Map (SequenceMap) per explanation */
    for (int u = 0; u < M && !rc; u++) {
        if (ga[u] < 0) continue;
        int a = ga[u], b = gb[u];
        memset(w, 0, sizeof(double) * (size_t)A->P * D);
        for (int v = u; v < M; v++) {
            if (ga[v] != a || gb[v] != b) continue;
            ga[v] = -3;
            const double *wr = ly->w2 + (size_t)v * D;
            for (int i = 0; i < A->P; i++) {
                double s = act[(size_t)i * M + v];
                if (s == 0) continue;
                for (int d = 0; d < D; d++) w[(size_t)i * D + d] += s * wr[d];
            }
        }
        int G = p->f[a].n * (b >= 0 ? p->f[b].n : 1);
        int *tab = malloc(sizeof(int) * (size_t)(G ? G : 1)); /* [G] */
        int k = cluster_write(p, w, D, a, b, tab);
        if (k <= 1) {
            free(tab);
            continue;
        }
        int fi = new_feat(p, b >= 0 ? LS_SEQMAP : LS_MAP, k, 2 * l + 2);
        if (fi < 0) {
            free(tab);
            rc = err_printf(p->err, p->errcap, "layer %d MLP: too many SOps to probe", l);
            break;
        }
        PFeat *f = &p->f[fi];
        f->a = a, f->b = b, f->tab = tab;
        if (getenv("ITRACR_PROBE_DEBUG")) fprintf(stderr, "probe:   map of (%d, %d): %d labels\n", a, b, k);
        int nb = b >= 0 ? p->f[b].n : 1;
        for (int i = 0; i < A->P; i++) {
            int la = p->f[a].lab[i], lb = b >= 0 ? p->f[b].lab[i] : 0;
            f->lab[i] = la < 0 || lb < 0 ? -1 : tab[la * nb + lb];
        }
    }
    free(act), free(col), free(ga), free(gb);
    return rc;
}

/* ---- output ---------------------------------------------------------------------------------- */

/* The model's output column at each position, -1 where it has no clear winner (tf_compare's
 * rule: Tracr's rows are all zero where the program's value is None). */
static void output_columns(const Probe *p, int *col) {
    const PAct *A = &p->A;
    int NO = A->n_out;
    for (int i = 0; i < A->P; i++) {
        const float *r = A->out + (size_t)i * NO;
        double t1 = -INFINITY, t2 = -INFINITY, big = 0;
        int arg = 0;
        for (int j = 0; j < NO; j++) {
            if (r[j] > t1) t2 = t1, t1 = r[j], arg = j;
            else if (r[j] > t2) t2 = r[j];
            if (fabs(r[j]) > big) big = fabs(r[j]);
        }
        col[i] = NO == 1 || (t1 - t2 > 0.5 * big && t1 - t2 > 1e-3) ? arg : -1;
    }
}

/* The output table: from the feature whose labels determine the columns with the fewest
 * exceptions (then the fewest labels, then the latest). Returns its index or -1. */
static int read_output(Probe *p, long *exceptions) {
    const PAct *A = &p->A;
    int NO = A->n_out;
    int *col = malloc(sizeof(int) * (size_t)A->P); /* [P] */
    output_columns(p, col);
    long best = -1;
    int bf = -1;
    for (int c = 0; c < p->nf; c++) {
        const PFeat *F = &p->f[c];
        long *cnt = calloc((size_t)F->n * NO, sizeof(long)); /* [n, NO] */
        for (int i = 0; i < A->P; i++)
            if (col[i] >= 0 && F->lab[i] >= 0) cnt[(size_t)F->lab[i] * NO + col[i]]++;
        long err = 0;
        for (int l = 0; l < F->n; l++) {
            long tot = 0, mx = 0;
            for (int j = 0; j < NO; j++) {
                tot += cnt[(size_t)l * NO + j];
                if (cnt[(size_t)l * NO + j] > mx) mx = cnt[(size_t)l * NO + j];
            }
            err += tot - mx;
        }
        /* positions with a value whose feature has none cannot be matched */
        for (int i = 0; i < A->P; i++)
            if (col[i] >= 0 && F->lab[i] < 0) err++;
        free(cnt);
        if (bf < 0 || err < best || (err == best && F->n <= p->f[bf].n)) best = err, bf = c;
    }
    int fi = new_feat(p, LS_MAP, NO, 1 << 30);
    if (fi < 0 || bf < 0) {
        free(col);
        return -1;
    }
    PFeat *f = &p->f[fi];
    f->a = bf;
    f->out = true;
    const PFeat *F = &p->f[bf];
    f->tab = calloc((size_t)(F->n ? F->n : 1), sizeof(int)); /* [n(a)] */
    long *cnt = calloc((size_t)(F->n ? F->n : 1) * NO, sizeof(long));
    for (int i = 0; i < A->P; i++)
        if (col[i] >= 0 && F->lab[i] >= 0) cnt[(size_t)F->lab[i] * NO + col[i]]++;
    for (int l = 0; l < F->n; l++) {
        long mx = -1;
        for (int j = 0; j < NO; j++)
            if (cnt[(size_t)l * NO + j] > mx) mx = cnt[(size_t)l * NO + j], f->tab[l] = j;
    }
    for (int i = 0; i < A->P; i++) f->lab[i] = F->lab[i] < 0 ? -1 : f->tab[F->lab[i]];
    free(cnt), free(col);
    *exceptions = best;
    return fi;
}

/* ---- the program --------------------------------------------------------------------------- */

static void mark(const Probe *p, int i, bool *used) {
    if (i < 0 || used[i]) return;
    used[i] = true;
    const PFeat *f = &p->f[i];
    mark(p, f->a, used);
    mark(p, f->b, used);
    mark(p, f->sk, used);
    mark(p, f->sq, used);
}

/* Builds lift's form of the used features and prints it (lift_emit). */
static char *emit(Probe *p, int out, bool naming, int *n_sops) {
    const CompiledModel *m = p->m;
    bool used[MAX_FEATS] = {0};
    mark(p, out, used);
    used[0] = used[1] = true;
    int map[MAX_FEATS];
    Lift x;
    memset(&x, 0, sizeof x);
    arena_init(&x.a);
    x.m = m;
    x.N = m->max_seq_len;
    x.output = -1;
    *n_sops = 0;
    for (int i = 0; i < p->nf; i++) {
        if (!used[i]) continue;
        const PFeat *f = &p->f[i];
        int si = lift_new_sop(&x, f->kind, false, f->n, 0);
        map[i] = si;
        LSop *s = &x.s[si];
        if (i >= 2) ++*n_sops;
        s->a = f->a >= 0 ? map[f->a] : -1;
        s->b = f->b >= 0 ? map[f->b] : -1;
        if (f->kind == LS_TOKENS) {
            s->vals = arena_alloc(&x.a, sizeof(Value) * (size_t)f->n);
            for (int v = 0; v < f->n; v++) s->vals[v] = m->tokens[p->A.vid[v]];
            s->known = true;
        } else if (f->kind == LS_INDICES) {
            s->vals = arena_alloc(&x.a, sizeof(Value) * (size_t)f->n);
            for (int v = 0; v < f->n; v++) s->vals[v] = val_int(v);
            s->known = true;
        } else if (f->out) {
            s->vals = m->out_values;
            s->known = true;
        }
        if (f->tab) {
            int G = p->f[f->a].n * (f->b >= 0 ? p->f[f->b].n : 1);
            s->tab = arena_alloc(&x.a, sizeof(int) * (size_t)(G ? G : 1));
            memcpy(s->tab, f->tab, sizeof(int) * (size_t)G);
        }
        if (f->sel) {
            s->sel.keys = map[f->sk];
            s->sel.queries = map[f->sq];
            size_t cells = (size_t)p->f[f->sk].n * p->f[f->sq].n;
            s->sel.tab = arena_alloc(&x.a, cells ? cells : 1);
            memcpy(s->sel.tab, f->sel, cells);
        }
        if (i == out) x.output = si;
    }
    int nf = 0, nn = 0;
    char *text = lift_emit(&x, naming, &nf, &nn);
    arena_free(&x.a);
    return text;
}

static int check(Probe *p, const ProbeOptions *o, ProbeResult *r) {
    const CompiledModel *m = p->m;
    RaspProgram prog;
    char sub[1024];
    if (rasp_parse("<probed>", r->program, &prog, sub, sizeof sub))
        return err_printf(p->err, p->errcap, "the probed program does not parse: %s", sub);
    Value *vocab = malloc(sizeof(Value) * (size_t)p->A.nv); /* [nv] */
    for (int v = 0; v < p->A.nv; v++) vocab[v] = m->tokens[p->A.vid[v]];
    CompileOptions co;
    char bos[256], pad[256];
    lift_compile_options(m, vocab, p->A.nv, &co, bos, pad);
    CompiledModel *re = NULL;
    int rc = 0;
    if (compile_program(&prog, &co, &re, sub, sizeof sub)) {
        rc = err_printf(p->err, p->errcap, "the probed program does not compile: %.400s", sub);
        goto out;
    }
    TfCompare c;
    if (tf_compare(re, m, o->check_inputs > 0 ? o->check_inputs : 20000, o->seed, 1e-3, 1e-4, &c,
                   sub, sizeof sub)) {
        rc = err_printf(p->err, p->errcap, "comparing the probed program: %.400s", sub);
        goto out;
    }
    r->n_inputs = c.n_inputs, r->n_inputs_match = c.n_inputs_match;
    r->n_positions = c.n_positions, r->n_positions_match = c.n_positions_match;
    r->exhaustive = c.exhaustive;
    r->verified = c.n_positions > 0 && c.n_positions_match == c.n_positions;
    snprintf(r->verdict, sizeof r->verdict,
             "%s: outputs equal the model's on %ld of %ld %sinputs (%ld of %ld positions with a "
             "clear output)%s%.200s",
             r->verified ? "VERIFIED" : "NOT VERIFIED", c.n_inputs_match, c.n_inputs,
             c.exhaustive ? "" : "sampled ", c.n_positions_match, c.n_positions,
             c.first_mismatch[0] ? "; first difference: " : "", c.first_mismatch);
out:
    if (rc) compiled_model_free(re);
    else r->model = re;
    rasp_program_free(&prog);
    free(vocab);
    return rc;
}

int probe_model(const CompiledModel *m, const ProbeOptions *o_in, ProbeResult *r, char *err,
                size_t errcap) {
    ProbeOptions o;
    if (o_in) o = *o_in;
    else probe_options_default(&o);
    memset(r, 0, sizeof *r);
    if (m->output_numerical)
        return err_printf(err, errcap, "numerical outputs are not probed");
    if (m->bos_id < 0 || m->max_seq_len > 64)
        return err_printf(err, errcap, "the model has no BOS token or is longer than 64");
    char lerr[512];
    if (o.name_functions && gen_lib_init(lerr, sizeof lerr))
        return err_printf(err, errcap, "lambda library: %s", lerr);
    Probe p;
    memset(&p, 0, sizeof p);
    p.m = m;
    p.err = err;
    p.errcap = errcap;
    if (probe_acts(m, o.max_inputs > 0 ? o.max_inputs : PROBE_MAX_INPUTS, o.seed, &p.A, err,
                   errcap))
        return 1;
    const PAct *A = &p.A;
    int t = new_feat(&p, LS_TOKENS, A->nv, 0), ix = new_feat(&p, LS_INDICES, A->N, 0);
    for (int i = 0; i < A->P; i++) p.f[t].lab[i] = A->tok[i], p.f[ix].lab[i] = A->tpos[i];
    double *w = malloc(sizeof(double) * (size_t)A->P * A->D); /* [P, D] a block's write */
    int rc = 0;
    for (int l = 0; l < m->num_layers && !rc; l++) {
        for (int h = 0; h < m->num_heads && !rc; h++) rc = read_head(&p, l, h, w);
        if (!rc) rc = read_mlp(&p, l, w);
    }
    long exc = 0;
    int out = rc ? -1 : read_output(&p, &exc);
    if (!rc && out < 0) rc = err_printf(err, errcap, "too many SOps to probe");
    if (!rc) {
        r->program = emit(&p, out, o.name_functions, &r->n_sops);
        rc = check(&p, &o, r);
        if (rc) probe_result_free(r);
    }
    free(w);
    free_feats(&p);
    probe_acts_free(&p.A);
    return rc;
}
