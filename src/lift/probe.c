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
#include "util/errmsg.h"

#define MAX_FEATS 96
/* A selection key's weight counts as selected from this share of its row's largest weight. */
#define SEL_SHARE 0.5
/* Explanations are judged by the share of a block's variance left within the groups of a
 * feature's labels. Up to MAX_UV one feature explains a hidden unit (a SequenceMap's unit
 * leaves most of its variance to either input alone); beyond it a pair is preferred. No block
 * is refused for a poor explanation: compressed and distilled models leave much interference,
 * the best explanation is often still the right one, and the final check judges the program. */
#define MAX_UV 0.3
/* ... and the share above which a pair of features is tried as well. */
#define PAIR_FROM_UV 0.1
/* Pairs are tried among this many of the best single features. */
#define PAIR_TOP 10
/* Hidden units whose write is below this share of the layer's largest are not read. */
#define MIN_UNIT_SHARE 0.01
/* A head whose value vectors at the positions carry less than this share of BOS's energy
 * takes its value from BOS alone: a selector width. */
#define SW_VALUE_SHARE 0.3

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

/* The thresholds above, as one variant of the reading (probe_model tries several). */
typedef struct ProbeParams {
    double sel_share;    /* SEL_SHARE */
    double max_uv;       /* MAX_UV */
    double pair_from_uv; /* PAIR_FROM_UV */
    double tau_noise;    /* a write's clusters merge within this many times its noise */
    double cell_cost;    /* a selector table's cost per cell, per (query, key) pair */
} ProbeParams;

/* The first is the default; the others lean towards noisier or cleaner models. */
static const ProbeParams VARIANTS[] = {
    {SEL_SHARE, MAX_UV, PAIR_FROM_UV, 4, 2e-4}, {SEL_SHARE, MAX_UV, 1e-4, 4, 2e-4},
    {0.3, MAX_UV, PAIR_FROM_UV, 4, 2e-4},       {SEL_SHARE, 0.5, 0.2, 8, 2e-4},
    {SEL_SHARE, MAX_UV, PAIR_FROM_UV, 2, 1e-3}, {0.7, MAX_UV, PAIR_FROM_UV, 4, 5e-5},
};
#define N_VARIANTS ((int)(sizeof VARIANTS / sizeof *VARIANTS))

typedef struct Probe {
    const CompiledModel *m;
    ProbeParams par;
    PAct A;
    PRef ref; /* the given model's outputs on the check's inputs */
    PFeat f[MAX_FEATS];
    int nf;
    char *err;
    size_t errcap;
} Probe;

/* ITRACR_PROBE_DEBUG=1: each block's explanation on stderr (docs/probe.md). */
static bool debug(void) { return getenv("ITRACR_PROBE_DEBUG") != NULL; }

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
    if (debug()) fprintf(stderr, "probe: feature %d kind %d stage %d\n", p->nf, (int)k, stage);
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
static double explain(const Probe *p, const double *x, int dim, int st, int *a, int *b,
                      bool single) {
    int maxn = 1;
    for (int i = 0; i < p->nf; i++)
        if (p->f[i].n + 1 > maxn) maxn = p->f[i].n + 1;
    double *sums = malloc(sizeof(double) * (size_t)maxn * maxn * dim); /* [G, dim] */
    double *cnt = malloc(sizeof(double) * (size_t)maxn * maxn);       /* [G] */
    double best[2] = {INFINITY, INFINITY}; /* singles, pairs */
    int ba[2] = {-1, -1}, bb[2] = {-1, -1};
    double su[MAX_FEATS]; /* each feature's share alone */
    bool cand[MAX_FEATS];  /* the pairs' candidates: the PAIR_TOP best features alone */
    for (int pass = 0; pass < 2; pass++) {
        /* pairs only where one feature leaves a real share unexplained */
        if (pass == 1 && (single || best[0] <= p->par.pair_from_uv)) break;
        if (pass == 1) /* a pair's inputs each explain part of a unit: the cost of trying every
                        * pair grows with the square of the SOps, a distilled model's all of it */
            for (int i = 0; i < p->nf; i++) {
                int better = 0;
                for (int j = 0; j < p->nf; j++) better += su[j] < su[i] || (su[j] == su[i] && j < i);
                cand[i] = su[i] < INFINITY && better < PAIR_TOP;
            }
        long best_cells = 0;
        for (int i = 0; i < p->nf; i++) {
            if (pass == 0) su[i] = INFINITY;
            if (p->f[i].stage > st || (pass == 1 && !cand[i])) continue;
            for (int j = pass ? i + 1 : -1; j < (pass ? p->nf : 0); j++) {
                if (j >= 0 && (p->f[j].stage > st || !cand[j])) continue;
                double u = unexplained(p, x, dim, i, j, sums, cnt);
                if (j < 0) su[i] = u;
                long cells = (long)p->f[i].n * (j >= 0 ? p->f[j].n : 1);
                /* equal within rounding: the coarser feature is the one the block reads, and
                 * of two as coarse, the later (a block reads what was just computed more often
                 * than what an earlier SOp was computed from) */
                double slack = 1e-9 + 0.05 * best[pass];
                bool better = ba[pass] < 0 || u < best[pass] - slack;
                bool tie = ba[pass] >= 0 && fabs(u - best[pass]) <= slack && cells <= best_cells;
                if (better || tie) {
                    if (better || u < best[pass]) best[pass] = u;
                    best_cells = cells, ba[pass] = i, bb[pass] = j;
                }
            }
        }
    }
    free(sums);
    free(cnt);
    /* a pair must do much better than one of its inputs: a SequenceMap's unit that one input
     * mostly decides still reads both, while a finer pair always fits noise a little */
    int k = ba[1] >= 0 && (best[0] > p->par.max_uv || best[1] < best[0] / 4) ? 1 : 0;

    *a = ba[k], *b = bb[k];
    return best[k];
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
    double tau = p->par.tau_noise * noise;
    if (tau < 0.02 * scale) tau = 0.02 * scale;
    if (tau > 0.45 * scale) tau = 0.45 * scale;
    int *lead = malloc(sizeof(int) * (G > 0 ? (size_t)G : 1)); /* [clusters] leader group */
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
static double select_score(const Probe *p, long exceptions, size_t cells, long pairs) {
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
            if (K->stage > st || Q->stage > st) continue;
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
            double sc = select_score(p, err, cells, pairs);
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
            if (K->stage > st || Q->stage > st) continue;
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
            double sc = err < 0 ? INFINITY : select_score(p, err, cells, pairs);
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
    if (debug())
        fprintf(stderr, "probe: layer %d head %d: selector width, selector (%d, %d), %ld queries "
                "miscounted\n", l, h, f->sk, f->sq, exc);
    if (exc < 0) return fail(p, "layer %d head %d: a selector width over too many key values", l, h);
    return 0;
}

/* Reads head (l, h) into a feature (or none when its write does not vary). */
static int read_head(Probe *p, int l, int h, double *w) {
    const PAct *A = &p->A;
    if (head_unused(p->m, l, h)) return 0;
    int D = A->D, rc = 0, st = 2 * l;
    double *vv = malloc(sizeof(double) * (size_t)A->P * D); /* [P, D] */
    double *bosv = calloc((size_t)D, sizeof(double)); /* [D] */
    value_vectors(p, l, h, vv, bosv);
    double pos_sq = 0, bos_sq = 0;
    for (size_t i = 0; i < (size_t)A->P * D; i++) pos_sq += vv[i] * vv[i];
    for (int d = 0; d < D; d++) bos_sq += bosv[d] * bosv[d];
    int fi = new_feat(p, LS_AGG, 0, 2 * l + 1);
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
    double uv = explain(p, vv, D, st, &a, &b, true);
    if (debug())
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
    int vk = cluster_write(p, vv, D, a, -1, vtab);
    if (vk >= 2 && vk < p->f[a].n && p->nf < MAX_FEATS) {
        int mi = new_feat(p, LS_MAP, vk, p->f[a].stage);
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
    if (debug())
        fprintf(stderr, "probe: layer %d head %d: copies %d (%.4f unexplained), selector (%d, "
                "%d) with %ld exceptions\n", l, h, a, uv, f->sk, f->sq, exc);
    if (debug()) { /* how well the copied value explains the write (a mean would not) */
        head_write(p, l, h, vv, bosv, w);
        double *sums = malloc(sizeof(double) * (size_t)(f->n + 1) * D); /* [n + 1, D] */
        double *cn = malloc(sizeof(double) * (size_t)(f->n + 1));        /* [n + 1] */
        fprintf(stderr, "probe: layer %d head %d: write %.4f unexplained by the copy\n", l, h,
                unexplained(p, w, D, fi, -1, sums, cn));
        free(sums), free(cn);
    }
out:
    free(vv), free(bosv);
    return rc;
}

/* ---- MLP ------------------------------------------------------------------------------------ */

/* The units of one SequenceMap that both inputs' values decide can each be explained by
 * one input alone (when the inputs are related), which splits the SequenceMap into groups
 * that together write one value. Such groups never write at the same position (one unit
 * per value pair is on), while two Maps of the same layer write at every position: groups
 * whose writes are mutually exclusive merge, as long as they read at most two features. */
static void merge_exclusive(const Probe *p, int l, const double *act, int *ga, int *gb) {
    const PAct *A = &p->A;
    int D = A->D, M = p->m->mlp_hidden_size;
    const ModelLayer *ly = &p->m->layers[l];
    int ng = 0, *gid = malloc(sizeof(int) * (size_t)M); /* [M] */
    int *fa = malloc(sizeof(int) * (size_t)M), *fb = malloc(sizeof(int) * (size_t)M); /* [ng] */
    for (int u = 0; u < M; u++) {
        gid[u] = -1;
        if (ga[u] < 0) continue;
        int g = 0;
        while (g < ng && !(fa[g] == ga[u] && fb[g] == gb[u])) g++;
        if (g == ng) fa[ng] = ga[u], fb[ng] = gb[u], ng++;
        gid[u] = g;
    }
    if (ng < 2) {
        free(gid), free(fa), free(fb);
        return;
    }
    unsigned char *on = calloc((size_t)ng * A->P, 1); /* [ng, P] where the group writes */
    double *nrm = malloc(sizeof(double) * (size_t)A->P); /* [P] */
    double *wp = malloc(sizeof(double) * (size_t)D);      /* [D] */
    for (int g = 0; g < ng; g++) {
        double mx = 0;
        for (int i = 0; i < A->P; i++) {
            memset(wp, 0, sizeof(double) * (size_t)D);
            for (int u = 0; u < M; u++) {
                double s = gid[u] == g ? act[(size_t)i * M + u] : 0;
                if (s == 0) continue;
                for (int d = 0; d < D; d++) wp[d] += s * ly->w2[(size_t)u * D + d];
            }
            double n2 = 0;
            for (int d = 0; d < D; d++) n2 += wp[d] * wp[d];
            nrm[i] = sqrt(n2);
            if (nrm[i] > mx) mx = nrm[i];
        }
        for (int i = 0; i < A->P; i++) on[(size_t)g * A->P + i] = nrm[i] > 0.25 * mx;
    }
    bool changed = true;
    while (changed) {
        changed = false;
        for (int g = 0; g < ng && !changed; g++)
            for (int h = g + 1; h < ng && !changed; h++) {
                if (fa[g] < 0 || fa[h] < 0) continue;
                int f[4] = {fa[g], fb[g], fa[h], fb[h]}, u2[2] = {-1, -1}, nu = 0;
                for (int k = 0; k < 4 && nu <= 2; k++) {
                    if (f[k] < 0 || (nu > 0 && u2[0] == f[k]) || (nu > 1 && u2[1] == f[k])) continue;
                    if (nu < 2) u2[nu] = f[k];
                    nu++;
                }
                if (nu > 2) continue;
                long both = 0, cg = 0, ch = 0;
                for (int i = 0; i < A->P; i++) {
                    bool x = on[(size_t)g * A->P + i], y = on[(size_t)h * A->P + i];
                    both += x && y, cg += x, ch += y;
                }
                if (both > 0.01 * (cg < ch ? cg : ch)) continue;
                for (int i = 0; i < A->P; i++) on[(size_t)g * A->P + i] |= on[(size_t)h * A->P + i];
                if (nu == 2 && u2[0] > u2[1]) {
                    int t = u2[0];
                    u2[0] = u2[1], u2[1] = t;
                }
                fa[g] = u2[0], fb[g] = nu == 2 ? u2[1] : -1;
                fa[h] = -1;
                for (int u = 0; u < M; u++)
                    if (gid[u] == h) gid[u] = g;
                changed = true;
            }
    }
    for (int u = 0; u < M; u++)
        if (gid[u] >= 0) ga[u] = fa[gid[u]], gb[u] = fb[gid[u]];
    free(gid), free(fa), free(fb), free(on), free(nrm), free(wp);
}

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
    /* each unit's share of the layer's write: std of its activation times its W2 row's norm.
     * Units far below the largest carry rounding (a ReLU at its hinge in a float32 stream) or
     * interference, not an operation. */
    double *energy = malloc(sizeof(double) * (size_t)M); /* [M] */
    double emax = 0;
    for (int u = 0; u < M; u++) {
        double wn = 0, s1 = 0, s2 = 0;
        for (int d = 0; d < D; d++) wn += ly->w2[(size_t)u * D + d] * ly->w2[(size_t)u * D + d];
        for (int i = 0; i < A->P; i++) {
            double x = act[(size_t)i * M + u];
            s1 += x, s2 += x * x;
        }
        double var = s2 / A->P - (s1 / A->P) * (s1 / A->P);
        energy[u] = sqrt(wn * (var > 0 ? var : 0));
        if (energy[u] > emax) emax = energy[u];
    }
    int rc = 0;
    for (int u = 0; u < M && !rc; u++) {
        ga[u] = gb[u] = -2; /* -2: the unit writes nothing that varies */
        if (!(energy[u] > MIN_UNIT_SHARE * emax)) continue;
        for (int i = 0; i < A->P; i++) col[i] = act[(size_t)i * M + u];
        double uv = explain(p, col, 1, st, &ga[u], &gb[u], false);
        if (debug() && uv > p->par.max_uv)
            fprintf(stderr, "probe: layer %d MLP: unit %d: %.0f%% of its variance unexplained by "
                    "(%d, %d)\n", l, u, 100 * uv, ga[u], gb[u]);
    }
    /* A SequenceMap's MLP also has units that follow one of its inputs alone: a unit
     * explained by one feature joins a pair that holds it (the pair's output is then the
     * joint value, still a function of the pair). */
    for (int u = 0; u < M && !rc; u++) {
        if (ga[u] < 0 || gb[u] >= 0) continue;
        for (int v = 0; v < M; v++)
            if (ga[v] >= 0 && gb[v] >= 0 && (ga[v] == ga[u] || gb[v] == ga[u])) {
                ga[u] = ga[v], gb[u] = gb[v];
                break;
            }
    }
    if (!rc) merge_exclusive(p, l, act, ga, gb);
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
        if (debug()) fprintf(stderr, "probe:   map of (%d, %d): %d labels\n", a, b, k);
        int nb = b >= 0 ? p->f[b].n : 1;
        for (int i = 0; i < A->P; i++) {
            int la = p->f[a].lab[i], lb = b >= 0 ? p->f[b].lab[i] : 0;
            f->lab[i] = la < 0 || lb < 0 ? -1 : tab[la * nb + lb];
        }
    }
    free(act), free(col), free(ga), free(gb), free(energy);
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
    if (!used[0]) {
        /* Tracr compiles only programs that read tokens: the output table takes them as a
         * second argument it ignores */
        PFeat *o = &p->f[out];
        int na = p->f[o->a].n, nt = p->f[0].n;
        int *tab = malloc(sizeof(int) * (size_t)(na ? na : 1) * nt); /* [n_a * n_tokens] */
        for (int i = 0; i < na; i++)
            for (int t = 0; t < nt; t++) tab[i * nt + t] = o->tab[i];
        free(o->tab);
        o->tab = tab;
        o->kind = LS_SEQMAP;
        o->b = 0;
    }
    used[0] = used[1] = true;
    int map[MAX_FEATS];
    Lift x;
    memset(&x, 0, sizeof x);
    arena_init(&x.a);
    x.m = m;
    x.N = m->max_seq_len;
    x.output = -1;
    x.header = "# read by itracr decompile --method probe from the model's activations; the\n"
               "# values of intermediate SOps are canonical (docs/probe.md)\n";
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

static int check(Probe *p, ProbeResult *r) {
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
    PCompare c;
    if (probe_ref_compare(&p->ref, m, re, &c, sub, sizeof sub)) {
        rc = err_printf(p->err, p->errcap, "comparing the probed program: %.400s", sub);
        goto out;
    }
    r->n_inputs = c.n_inputs, r->n_inputs_match = c.n_inputs_match;
    r->n_positions = c.n_positions, r->n_positions_match = c.n_positions_match;
    r->exhaustive = p->ref.exhaustive;
    r->verified = c.n_positions > 0 && c.n_positions_match == c.n_positions;
    snprintf(r->verdict, sizeof r->verdict,
             "%s: outputs equal the model's on %ld of %ld %sinputs (%ld of %ld positions with a "
             "clear output)%s%.200s",
             r->verified ? "VERIFIED" : "NOT VERIFIED", c.n_inputs_match, c.n_inputs,
             p->ref.exhaustive ? "" : "sampled ", c.n_positions_match, c.n_positions,
             c.first[0] ? "; first difference: " : "", c.first);
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
    if (probe_ref_init(m, A, o.check_inputs > 0 ? o.check_inputs : 20000, o.seed, &p.ref, err,
                       errcap)) {
        probe_acts_free(&p.A);
        return 1;
    }
    double *w = malloc(sizeof(double) * (size_t)A->P * A->D); /* [P, D] a block's write */
    int rc = 1, nvar = o.variants > 0 && o.variants < N_VARIANTS ? o.variants : N_VARIANTS;
    char verr[512] = "";
    /* Variants of the thresholds, each checked against the model: the first verified one,
     * else the one whose outputs agree with the model's at the most positions. */
    for (int v = 0; v < nvar; v++) {
        p.par = VARIANTS[v];
        p.nf = 0;
        p.err = verr;
        p.errcap = sizeof verr;
        int t = new_feat(&p, LS_TOKENS, A->nv, 0), ix = new_feat(&p, LS_INDICES, A->N, 0);
        for (int i = 0; i < A->P; i++) p.f[t].lab[i] = A->tok[i], p.f[ix].lab[i] = A->tpos[i];
        int vrc = 0;
        for (int l = 0; l < m->num_layers && !vrc; l++) {
            for (int h = 0; h < m->num_heads && !vrc; h++) vrc = read_head(&p, l, h, w);
            if (!vrc) vrc = read_mlp(&p, l, w);
        }
        long exc = 0;
        int out = vrc ? -1 : read_output(&p, &exc);
        if (!vrc && out < 0) vrc = err_printf(verr, sizeof verr, "too many SOps to probe");
        ProbeResult t_r;
        memset(&t_r, 0, sizeof t_r);
        if (!vrc) {
            t_r.program = emit(&p, out, o.name_functions, &t_r.n_sops);
            vrc = check(&p, &t_r);
            if (vrc) probe_result_free(&t_r);
        }
        free_feats(&p);
        if (debug())
            fprintf(stderr, "probe: variant %d: %s\n", v, vrc ? verr : t_r.verdict);
        if (vrc) {
            if (rc && v == 0) snprintf(err, errcap, "%s", verr); /* the default's reason */
            continue;
        }
        t_r.variant = v;
        if (rc || t_r.n_positions_match > r->n_positions_match ||
            (t_r.n_positions_match == r->n_positions_match &&
             t_r.n_inputs_match > r->n_inputs_match)) {
            if (!rc) probe_result_free(r);
            *r = t_r;
            rc = 0;
        } else probe_result_free(&t_r);
        if (r->verified) break;
    }
    free(w);
    probe_ref_free(&p.ref);
    probe_acts_free(&p.A);
    return rc;
}
