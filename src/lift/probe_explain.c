/* probe's features and explanations: which SOps' labels a block's activations follow, and
 * the clusters of a block's write (probe_internal.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lift/probe_internal.h"
#include "util/errmsg.h"

int pf_new(Probe *p, LsKind k, int n, int stage) {
    if (p->nf == MAX_FEATS) return -1;
    PFeat *f = &p->f[p->nf];
    memset(f, 0, sizeof *f);
    f->kind = k;
    f->n = n;
    f->lab = malloc(sizeof(int) * (size_t)p->A.P); /* [P] */
    f->a = f->b = f->sk = f->sq = -1;
    f->stage = stage;
    if (pf_debug()) fprintf(stderr, "probe: feature %d kind %d stage %d\n", p->nf, (int)k, stage);
    return p->nf++;
}

void pf_free_all(Probe *p) {
    for (int i = 0; i < p->nf; i++) {
        PFeat *f = &p->f[i];
        free(f->lab), free(f->sel), free(f->tab), free(f->ftab), free(f->nums);
    }
}

/* ---- explanations ------------------------------------------------------------------------ */

/* Share of the variance of the vectors x [P, dim] left within the groups of the labels of
 * features a (and b when >= 0; -1 labels form their own group). sums [G, dim] and cnt [G]
 * are scratch with G = (n_a + 1)(n_b + 1). 0 when x does not vary. */
double pf_unexplained(const Probe *p, const double *x, int dim, int a, int b, double *sums,
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
double pf_explain(const Probe *p, const double *x, int dim, int st, int *a, int *b,
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
                /* Tracr's SequenceMaps read categorical SOps only */
                cand[i] = su[i] < INFINITY && better < PAIR_TOP && !p->f[i].numerical;
            }
        long best_cells = 0;
        for (int i = 0; i < p->nf; i++) {
            if (pass == 0) su[i] = INFINITY;
            /* single: a head's copied value, which Tracr's categorical Aggregate takes from a
             * categorical SOp only */
            if (p->f[i].stage > st || (pass == 1 && !cand[i]) || (single && p->f[i].numerical))
                continue;
            for (int j = pass ? i + 1 : -1; j < (pass ? p->nf : 0); j++) {
                if (j >= 0 && (p->f[j].stage > st || !cand[j])) continue;
                double u = pf_unexplained(p, x, dim, i, j, sums, cnt);
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
int pf_cluster_write(const Probe *p, const double *w, int dim, int a, int b, int *tab) {
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

