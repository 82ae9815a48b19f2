/* probe's numerical output (probe_internal.h, docs/probe.md): the model's one output number at
 * each position, read either as a numerical Map of a feature already read (the number is a
 * function of its labels) or as a numerical Aggregate, the mean over a head's selected keys of
 * a 0/1 function of the value that head copies. Both are linear in the unknown numbers, so
 * each candidate is a least-squares fit on the observed outputs; the smallest residual wins.
 * Scale needs no calibration: the output is read after the unembedding, in the program's own
 * units, whatever basis the residual stream has. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lift/probe_internal.h"

/* An aggregate wins over a Map only below this share of the Map's residual: a mean over keys
 * can fit a function of the query's own labels too, when the selection is the query alone. */
#define AGG_OVER_MAP 0.5

/* The model's output number at each position into y [P]; its variance about the mean. */
static double outputs(const Probe *p, double *y) {
    const PAct *A = &p->A;
    double s = 0, sq = 0;
    for (int i = 0; i < A->P; i++) {
        y[i] = A->out[(size_t)i * A->n_out];
        s += y[i], sq += y[i] * y[i];
    }
    return sq - s * s / A->P;
}

/* Solves the n x n system M x = r (M symmetric positive semi-definite, destroyed) with a tiny
 * ridge, by Gaussian elimination with partial pivoting; unused unknowns come out 0. */
static void solve(double *M, double *r, int n, double *x) {
    double tr = 0;
    for (int i = 0; i < n; i++) tr += M[(size_t)i * n + i];
    for (int i = 0; i < n; i++) M[(size_t)i * n + i] += 1e-9 * (tr > 0 ? tr : 1) + 1e-12;
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int i = c + 1; i < n; i++)
            if (fabs(M[(size_t)i * n + c]) > fabs(M[(size_t)piv * n + c])) piv = i;
        if (piv != c) {
            for (int j = 0; j < n; j++) {
                double t = M[(size_t)c * n + j];
                M[(size_t)c * n + j] = M[(size_t)piv * n + j];
                M[(size_t)piv * n + j] = t;
            }
            double t = r[c];
            r[c] = r[piv], r[piv] = t;
        }
        double d = M[(size_t)c * n + c];
        if (fabs(d) < 1e-300) continue;
        for (int i = c + 1; i < n; i++) {
            double f = M[(size_t)i * n + c] / d;
            if (f == 0) continue;
            for (int j = c; j < n; j++) M[(size_t)i * n + j] -= f * M[(size_t)c * n + j];
            r[i] -= f * r[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        double s = r[c];
        for (int j = c + 1; j < n; j++) s -= M[(size_t)c * n + j] * x[j];
        double d = M[(size_t)c * n + c];
        x[c] = fabs(d) < 1e-300 ? 0 : s / d;
    }
}

/* Per position, the share of the keys selected by aggregate X's selector that carry each
 * label of its value (coef [P, stride], columns 0..n_v-1); all zero where none is selected
 * (default 0). */
static void agg_coefs(const Probe *p, const PFeat *X, double *coef, int stride) {
    const PAct *A = &p->A;
    const PFeat *K = &p->f[X->sk], *Q = &p->f[X->sq], *V = &p->f[X->a];
    int nv = V->n;
    for (int i = 0; i < A->P; i++) {
        double *c = coef + (size_t)i * stride;
        memset(c, 0, sizeof(double) * (size_t)nv);
        int lq = Q->lab[i], in = A->inp[i];
        if (lq < 0) continue;
        int kmax = p->m->causal ? A->tpos[i] + 1 : A->len[in], nsel = 0;
        for (int k = 1; k <= kmax; k++) {
            int j = A->off[in] + k - 1, lk = K->lab[j];
            if (lk < 0 || !X->sel[(size_t)lk * Q->n + lq]) continue;
            nsel++;
            if (V->lab[j] >= 0) c[V->lab[j]] += 1;
        }
        for (int v = 0; nsel && v < nv; v++) c[v] /= nsel;
    }
}

/* The coefficients of two aggregates side by side (coef [P, n_1 + n_2]); returns n_1 + n_2. */
static int pair_coefs(const Probe *p, int x1, int x2, double *coef) {
    int n1 = p->f[p->f[x1].a].n, n2 = p->f[p->f[x2].a].n, P = p->A.P;
    double *c2 = malloc(sizeof(double) * (size_t)P * (n2 ? n2 : 1)); /* [P, n_2] */
    agg_coefs(p, &p->f[x1], coef, n1 + n2);
    agg_coefs(p, &p->f[x2], c2, n2);
    for (int i = 0; i < P; i++)
        memcpy(coef + (size_t)i * (n1 + n2) + n1, c2 + (size_t)i * n2, sizeof(double) * (size_t)n2);
    free(c2);
    return n1 + n2;
}

/* The least-squares g [n_v] for y ~ coef g, and its residual sum of squares. */
static double fit_agg(const Probe *p, const double *coef, int nv, const double *y, double *g) {
    const PAct *A = &p->A;
    double *M = calloc((size_t)nv * nv, sizeof(double)); /* [n_v, n_v] coef' coef */
    double *r = calloc((size_t)nv, sizeof(double));      /* [n_v] coef' y */
    for (int i = 0; i < A->P; i++) {
        const double *c = coef + (size_t)i * nv;
        for (int u = 0; u < nv; u++) {
            if (!c[u]) continue;
            r[u] += c[u] * y[i];
            for (int v = 0; v < nv; v++) M[(size_t)u * nv + v] += c[u] * c[v];
        }
    }
    solve(M, r, nv, g);
    free(M), free(r);
    double ss = 0;
    for (int i = 0; i < A->P; i++) {
        double e = y[i];
        for (int v = 0; v < nv; v++) e -= coef[(size_t)i * nv + v] * g[v];
        ss += e * e;
    }
    return ss;
}

/* A number read from float32 activations, snapped to a nearby integer or to 1e-3. */
static double snap(double v) {
    double r = round(v);
    if (fabs(v - r) < 0.02) return r;
    return round(v * 1000) / 1000;
}

/* Residual sum of squares of the Map candidate c (y a function of c's labels), with its
 * numbers per label in g [n_c] (0 for a label no position has). */
static double fit_map(const Probe *p, int c, const double *y, double *g) {
    const PAct *A = &p->A;
    const PFeat *F = &p->f[c];
    double *cnt = calloc((size_t)F->n + 1, sizeof(double)); /* [n + 1], unlabelled last */
    double *sum = calloc((size_t)F->n + 1, sizeof(double)); /* [n + 1] */
    for (int i = 0; i < A->P; i++) {
        int l = F->lab[i] >= 0 ? F->lab[i] : F->n;
        cnt[l] += 1, sum[l] += y[i];
    }
    for (int l = 0; l < F->n; l++) g[l] = cnt[l] ? sum[l] / cnt[l] : 0;
    double ss = 0;
    for (int i = 0; i < A->P; i++) {
        int l = F->lab[i];
        double e = y[i] - (l >= 0 ? g[l] : sum[F->n] / cnt[F->n]);
        ss += e * e;
    }
    free(cnt), free(sum);
    return ss;
}

/* The sum of two Maps, y ~ g_1(c1's label) + g_2(c2's label) (a LinearSequenceMap of two
 * numerical Maps: a number that adds what two SOps contribute, e.g. `4 x*x - width`): indicator
 * columns of both features' labels (an unlabelled position has a column of its own, as in
 * fit_map), fitted jointly; g [n_1 + 1 + n_2 + 1]. The constant is shared by the two sides;
 * the caller fixes that freedom. Returns the residual sum of squares. */
static double fit_map_pair(const Probe *p, int c1, int c2, const double *y, double *g) {
    const PAct *A = &p->A;
    const PFeat *F1 = &p->f[c1], *F2 = &p->f[c2];
    int n1 = F1->n + 1, n = n1 + F2->n + 1;
    double *M = calloc((size_t)n * n, sizeof(double)); /* [n, n] counts of label pairs */
    double *r = calloc((size_t)n, sizeof(double));     /* [n] sums of y per label */
    for (int i = 0; i < A->P; i++) {
        int u = F1->lab[i] >= 0 ? F1->lab[i] : F1->n;
        int v = n1 + (F2->lab[i] >= 0 ? F2->lab[i] : F2->n);
        M[(size_t)u * n + u] += 1, M[(size_t)v * n + v] += 1;
        M[(size_t)u * n + v] += 1, M[(size_t)v * n + u] += 1;
        r[u] += y[i], r[v] += y[i];
    }
    solve(M, r, n, g);
    free(M), free(r);
    double ss = 0;
    for (int i = 0; i < A->P; i++) {
        int u = F1->lab[i] >= 0 ? F1->lab[i] : F1->n;
        int v = n1 + (F2->lab[i] >= 0 ? F2->lab[i] : F2->n);
        double e = y[i] - g[u] - g[v];
        ss += e * e;
    }
    return ss;
}

/* A numerical Map of feature a with the number ftab[l] for label l (ftab [n(a)]). When a is
 * itself a Map of a number (a mean), the new Map reads that number instead: a table keyed by
 * the numbers the model showed would fail on the rest of the mean's value set, while the
 * regions between them cover it. Its index, or -1 when there is no room. */
static int new_numeric_map(Probe *p, int a, const double *ftab) {
    int out = pf_new(p, LS_MAP, 1, 1 << 30);
    if (out < 0) return -1;
    const PAct *A = &p->A;
    PFeat *O = &p->f[out];
    const PFeat *Fa = &p->f[a];
    bool via = Fa->kind == LS_MAP && Fa->tab && Fa->a >= 0 && p->f[Fa->a].nums;
    int src = via ? Fa->a : a, n = p->f[src].n;
    O->numerical = true;
    O->a = src;
    O->ftab = malloc(sizeof(double) * (size_t)(n ? n : 1)); /* [n_src] */
    for (int v = 0; v < n; v++) {
        int l = via ? Fa->tab[v] : v;
        O->ftab[v] = l >= 0 ? snap(ftab[l]) : 0;
    }
    for (int i = 0; i < A->P; i++) O->lab[i] = -1;
    return out;
}

/* The Map pair (c1, c2) whose sum explains y best, with its fitted numbers g (fit_map_pair's);
 * of the shifts that move a constant from one side to the other, the one that gives one of
 * c1's labels a 0 and leaves the fewest numbers that are not integers after snapping (ties:
 * the first). */
static void pair_shift(const Probe *p, int c1, int c2, double *g) {
    int n1 = p->f[c1].n, n2 = p->f[c2].n;
    double *h = g + n1 + 1; /* c2's numbers */
    double best_k = 0;
    int best_frac = -1;
    for (int s0 = 0; s0 < n1; s0++) {
        double k = -g[s0];
        int frac = 0;
        for (int v = 0; v < n1; v++) frac += snap(g[v] + k) != round(g[v] + k);
        for (int v = 0; v < n2; v++) frac += snap(h[v] - k) != round(h[v] - k);
        if (best_frac < 0 || frac < best_frac) best_frac = frac, best_k = k;
    }
    for (int v = 0; v < n1; v++) g[v] += best_k;
    for (int v = 0; v < n2; v++) h[v] -= best_k;
}

/* A mean with aggregate xi's selector: a numerical 0/1 Map of feature src (bit [n_src] per
 * label, labelled 0/1) and the numerical Aggregate of it (n_mean labels, all -1, for the caller
 * to set), readable from stage. Its index, or -1 when there is no room. */
static int add_mean(Probe *p, int xi, int src, const unsigned char *bit, int n_mean, int stage) {
    const PAct *A = &p->A;
    int ns = p->f[src].n;
    int vi = pf_new(p, LS_MAP, 2, p->f[src].stage);
    int oi = vi < 0 ? -1 : pf_new(p, LS_AGG, n_mean, stage);
    if (oi < 0) return -1;
    PFeat *V = &p->f[vi], *O = &p->f[oi];
    const PFeat *X = &p->f[xi];
    V->numerical = O->numerical = true;
    V->a = src;
    V->ftab = malloc(sizeof(double) * (size_t)(ns ? ns : 1)); /* [n_src] */
    for (int v = 0; v < ns; v++) V->ftab[v] = bit[v];
    V->nums = malloc(sizeof(double) * 2); /* [2] */
    V->nums[0] = 0, V->nums[1] = 1;
    O->a = vi, O->sk = X->sk, O->sq = X->sq;
    size_t cells = (size_t)p->f[X->sk].n * p->f[X->sq].n;
    O->sel = malloc(cells ? cells : 1); /* [n_k * n_q] */
    memcpy(O->sel, X->sel, cells);
    for (int i = 0; i < A->P; i++) {
        int l = p->f[src].lab[i];
        V->lab[i] = l < 0 ? -1 : bit[l];
        O->lab[i] = -1;
    }
    return oi;
}

/* The output mean of the 0/1 Map `bit` [n_v] of aggregate xi's value. When that value is
 * itself a categorical Map, the 0/1 Map reads the Map's input directly (one MLP, not two). */
static int new_numeric_agg(Probe *p, int xi, const unsigned char *bit) {
    int a = p->f[xi].a, src = a;
    const PFeat *Va = &p->f[a];
    if (Va->kind == LS_MAP && !Va->numerical && Va->tab && Va->a >= 0) src = Va->a;
    int ns = p->f[src].n;
    unsigned char *bs = malloc((size_t)(ns ? ns : 1)); /* [n_src] */
    for (int v = 0; v < ns; v++) {
        int l = src == a ? v : Va->tab[v];
        bs[v] = l >= 0 && bit[l];
    }
    int oi = add_mean(p, xi, src, bs, 1, 1 << 30);
    free(bs);
    return oi;
}

/* Splits a fitted h [n] = c * bit into the coefficient c (the number of largest magnitude,
 * snapped) and the 0/1 pattern bit [n]. */
static double split_coef(const double *h, int n, unsigned char *bit) {
    double c = 0;
    for (int v = 0; v < n; v++)
        if (fabs(h[v]) > fabs(c)) c = h[v];
    for (int v = 0; v < n; v++) bit[v] = c != 0 && h[v] / c > 0.5;
    return snap(c);
}

int pf_read_numeric_output(Probe *p) {
    const PAct *A = &p->A;
    double *y = malloc(sizeof(double) * (size_t)A->P); /* [P] */
    double ss_tot = outputs(p, y);
    int maxn = 1, nf = p->nf;
    for (int c = 0; c < nf; c++)
        if (p->f[c].n > maxn) maxn = p->f[c].n;
    double *g = malloc(sizeof(double) * 2 * (size_t)maxn);           /* [2n] a candidate's numbers */
    double *coef = malloc(sizeof(double) * (size_t)A->P * 2 * maxn); /* [P, n_1 + n_2] */
    unsigned char *bit = malloc(2 * (size_t)maxn);                   /* [2n] */
    int best_map = -1, best_agg = -1, pair[2] = {-1, -1};
    double ss_map = INFINITY, ss_agg = INFINITY, ss_pair = INFINITY;
    for (int c = 0; c < nf; c++) {
        const PFeat *F = &p->f[c];
        if (F->n <= 0 || F->numerical) continue;
        double ss = fit_map(p, c, y, g);
        if (ss < ss_map) ss_map = ss, best_map = c;
    }
    bool is_agg[MAX_FEATS] = {0};
    for (int c = 0; c < nf; c++) {
        const PFeat *F = &p->f[c];
        if (F->kind != LS_AGG || F->numerical || !F->sel || F->a < 0 || p->f[F->a].n <= 0)
            continue;
        is_agg[c] = true;
        agg_coefs(p, F, coef, p->f[F->a].n);
        double ss = fit_agg(p, coef, p->f[F->a].n, y, g);
        if (ss < ss_agg) ss_agg = ss, best_agg = c;
    }
    /* a LinearSequenceMap of two aggregates (pair_balance: opens - closes), fitted jointly */
    for (int c1 = 0; c1 < nf; c1++)
        for (int c2 = c1 + 1; is_agg[c1] && c2 < nf; c2++) {
            if (!is_agg[c2]) continue;
            int n12 = pair_coefs(p, c1, c2, coef);
            double ss = fit_agg(p, coef, n12, y, g);
            if (ss < ss_pair) ss_pair = ss, pair[0] = c1, pair[1] = c2;
        }
    /* a LinearSequenceMap of two Maps, tried only when no single reading above is exact */
    int mpair[2] = {-1, -1};
    double ss_mpair = INFINITY, exact = 1e-9 * (ss_tot > 0 ? ss_tot : 1);
    double *gp = malloc(sizeof(double) * (2 * (size_t)maxn + 2)); /* [n_1 + 1 + n_2 + 1] */
    double *gbest = malloc(sizeof(double) * (2 * (size_t)maxn + 2)); /* the best pair's gp */
    if (ss_map > exact && ss_agg > exact && ss_pair > exact)
        for (int c1 = 0; c1 < nf; c1++)
            for (int c2 = c1 + 1; c2 < nf; c2++) {
                const PFeat *F1 = &p->f[c1], *F2 = &p->f[c2];
                if (F1->n <= 1 || F2->n <= 1 || F1->numerical || F2->numerical) continue;
                double ss = fit_map_pair(p, c1, c2, y, gp);
                if (ss < ss_mpair) {
                    ss_mpair = ss, mpair[0] = c1, mpair[1] = c2;
                    memcpy(gbest, gp, sizeof(double) * (size_t)(F1->n + F2->n + 2));
                }
            }
    double sm = ss_map, sa = ss_agg, sp = ss_pair;
    double best1 = sm < sa ? sm : sa;
    bool use_mpair = mpair[0] >= 0 && ss_mpair < AGG_OVER_MAP * (best1 < sp ? best1 : sp);
    bool use_pair = !use_mpair && pair[0] >= 0 && ss_pair < AGG_OVER_MAP * best1;
    bool use_agg = !use_mpair && !use_pair && best_agg >= 0 && ss_agg < AGG_OVER_MAP * ss_map;
    if (pf_debug())
        fprintf(stderr, "probe: numerical output: unexplained: Map of %d %.4g, aggregate %d %.4g, "
                "pair (%d, %d) %.4g: %s\n", best_map, ss_tot > 0 ? ss_map / ss_tot : 0.0, best_agg,
                ss_tot > 0 ? ss_agg / ss_tot : 0.0, pair[0], pair[1],
                ss_tot > 0 ? ss_pair / ss_tot : 0.0,
                use_mpair ? "sum of Maps" : use_pair ? "pair" : use_agg ? "aggregate" : "Map");
    if (pf_debug() && mpair[0] >= 0)
        fprintf(stderr, "probe: numerical output: sum of Maps of (%d, %d) %.4g\n", mpair[0],
                mpair[1], ss_tot > 0 ? ss_mpair / ss_tot : 0.0);
    int out = -1;
    if (use_mpair) {
        pair_shift(p, mpair[0], mpair[1], gbest);
        int o1 = new_numeric_map(p, mpair[0], gbest);
        int o2 = o1 < 0 ? -1 : new_numeric_map(p, mpair[1], gbest + p->f[mpair[0]].n + 1);
        out = o2 < 0 ? -1 : pf_new(p, LS_LINSEQ, 1, 1 << 30);
        if (out >= 0) {
            PFeat *O = &p->f[out];
            O->numerical = true;
            O->a = o1, O->b = o2, O->ca = 1, O->cb = 1;
            for (int i = 0; i < A->P; i++) O->lab[i] = -1;
        }
    } else if (use_pair) {
        int n1 = p->f[p->f[pair[0]].a].n, n2 = pair_coefs(p, pair[0], pair[1], coef) - n1;
        fit_agg(p, coef, n1 + n2, y, g);
        /* Where both selectors select at every query, adding k to one aggregate's numbers and
         * taking it from the other's changes nothing: of the shifts that give one side a 0
         * (Tracr's 0/1 values times a coefficient), keep the one whose snapped program fits */
        double ca = 0, cb = 0, best = INFINITY;
        double *h = malloc(sizeof(double) * (size_t)(n1 + n2)); /* [n_1 + n_2] */
        unsigned char *tb = malloc((size_t)(n1 + n2));          /* [n_1 + n_2] */
        for (int s0 = -1; s0 < n1; s0++) {
            double k = s0 < 0 ? 0 : -g[s0];
            for (int v = 0; v < n1 + n2; v++) h[v] = g[v] + (v < n1 ? k : -k);
            double a1 = split_coef(h, n1, tb), b1 = split_coef(h + n1, n2, tb + n1);
            for (int v = 0; v < n1 + n2; v++) h[v] = tb[v] ? (v < n1 ? a1 : b1) : 0;
            double ss = 0;
            for (int i = 0; i < A->P; i++) {
                double e = y[i];
                for (int v = 0; v < n1 + n2; v++) e -= coef[(size_t)i * (n1 + n2) + v] * h[v];
                ss += e * e;
            }
            if (ss < best) best = ss, ca = a1, cb = b1, memcpy(bit, tb, (size_t)(n1 + n2));
        }
        free(h), free(tb);
        int o1 = new_numeric_agg(p, pair[0], bit);
        int o2 = o1 < 0 ? -1 : new_numeric_agg(p, pair[1], bit + n1);
        out = o2 < 0 ? -1 : pf_new(p, LS_LINSEQ, 1, 1 << 30);
        if (out >= 0) {
            PFeat *O = &p->f[out];
            O->numerical = true;
            O->a = o1, O->b = o2, O->ca = ca, O->cb = cb;
            for (int i = 0; i < A->P; i++) O->lab[i] = -1;
        }
    } else if (use_agg) {
        int nv = p->f[p->f[best_agg].a].n;
        agg_coefs(p, &p->f[best_agg], coef, nv);
        fit_agg(p, coef, nv, y, g);
        /* Tracr averages only 0/1 values: each label's number is snapped to the nearer */
        for (int v = 0; v < nv; v++) bit[v] = g[v] > 0.5;
        out = new_numeric_agg(p, best_agg, bit);
    } else if (best_map >= 0) {
        fit_map(p, best_map, y, g);
        out = new_numeric_map(p, best_map, g);
    }
    free(y), free(g), free(gp), free(gbest), free(coef), free(bit);
    return out;
}

/* ---- a mean read by later blocks ------------------------------------------------------------ */

void pf_numeric_mean(Probe *p, int fi, const double *vv) {
    const PAct *A = &p->A;
    int D = A->D, a = p->f[fi].a;
    if (a < 0 || p->f[fi].sk < 0 || !p->f[fi].sel || p->nf + 2 > MAX_FEATS) return;
    int na = p->f[a].n;
    if (na < 2) return;
    /* the mean value vector of each label of the copied value */
    double *mu = calloc((size_t)na * D, sizeof(double)); /* [n_a, D] */
    double *cnt = calloc((size_t)na, sizeof(double));     /* [n_a] */
    for (int i = 0; i < A->P; i++) {
        int l = p->f[a].lab[i];
        if (l < 0) continue;
        for (int d = 0; d < D; d++) mu[(size_t)l * D + d] += vv[(size_t)i * D + d];
        cnt[l] += 1;
    }
    double mx = 0, *nrm = malloc(sizeof(double) * (size_t)na); /* [n_a] */
    for (int l = 0; l < na; l++) {
        double s = 0;
        for (int d = 0; cnt[l] && d < D; d++) {
            mu[(size_t)l * D + d] /= cnt[l];
            s += mu[(size_t)l * D + d] * mu[(size_t)l * D + d];
        }
        nrm[l] = sqrt(s);
        if (nrm[l] > mx) mx = nrm[l];
    }
    /* 0/1: the labels that write (nearly) nothing are 0, the others write one vector */
    unsigned char *bit = malloc((size_t)na); /* [n_a] */
    int n1 = 0, n0 = 0;
    double *avg = calloc((size_t)D, sizeof(double)); /* [D] the 1s' mean vector */
    for (int l = 0; l < na; l++) {
        bit[l] = cnt[l] > 0 && nrm[l] >= 0.1 * mx;
        n1 += bit[l], n0 += cnt[l] > 0 && !bit[l];
        for (int d = 0; bit[l] && d < D; d++) avg[d] += mu[(size_t)l * D + d];
    }
    bool ok = n1 > 0 && n0 > 0;
    double an = 0;
    for (int d = 0; d < D; d++) avg[d] /= n1 ? n1 : 1, an += avg[d] * avg[d];
    for (int l = 0; l < na && ok; l++) {
        if (!bit[l]) continue;
        double e = 0;
        for (int d = 0; d < D; d++) e += (mu[(size_t)l * D + d] - avg[d]) * (mu[(size_t)l * D + d] - avg[d]);
        ok = e <= 0.04 * an;
    }
    free(mu), free(cnt), free(nrm), free(avg);
    /* the mean at each query under the selector read, and the queries that mix 0s and 1s */
    double *mean = malloc(sizeof(double) * (size_t)A->P); /* [P] */
    long mixed = 0, with = 0;
    const PFeat *X = &p->f[fi], *K = &p->f[X->sk], *Q = &p->f[X->sq], *V = &p->f[a];
    for (int i = 0; i < A->P && ok; i++) {
        mean[i] = 0;
        int lq = Q->lab[i], in = A->inp[i], c0 = 0, c1 = 0;
        if (lq < 0) continue;
        int kmax = p->m->causal ? A->tpos[i] + 1 : A->len[in];
        for (int k = 1; k <= kmax; k++) {
            int j = A->off[in] + k - 1, lk = K->lab[j];
            if (lk < 0 || !X->sel[(size_t)lk * Q->n + lq] || V->lab[j] < 0) continue;
            if (bit[V->lab[j]]) c1++;
            else c0++;
        }
        if (c0 + c1) mean[i] = (double)c1 / (c0 + c1), with++;
        mixed += c0 && c1;
    }
    ok = ok && mixed >= 3 && mixed >= 0.02 * with;
    if (pf_debug() && a >= 0)
        fprintf(stderr, "probe: head feature %d: %s (%ld of %ld queries mix 0s and 1s)\n", fi,
                ok ? "a mean of a 0/1 value" : "not a mean", mixed, with);
    if (!ok) {
        free(bit), free(mean);
        return;
    }
    /* the numbers: distinct means, ascending */
    double *nums = malloc(sizeof(double) * (size_t)A->P); /* [P] at most */
    int nn = 0;
    for (int i = 0; i < A->P; i++) {
        int j = 0;
        while (j < nn && fabs(nums[j] - mean[i]) > 1e-9) j++;
        if (j == nn) nums[nn++] = mean[i];
    }
    for (int i = 1; i < nn; i++)
        for (int j = i; j > 0 && nums[j - 1] > nums[j]; j--) {
            double t = nums[j];
            nums[j] = nums[j - 1], nums[j - 1] = t;
        }
    int ni = add_mean(p, fi, a, bit, nn, p->f[fi].stage);
    PFeat *N = &p->f[ni];
    N->nums = nums;
    for (int i = 0; i < A->P; i++) {
        int j = 0;
        while (j < nn - 1 && fabs(nums[j] - mean[i]) > 1e-9) j++;
        N->lab[i] = j;
    }
    free(bit), free(mean);
}
