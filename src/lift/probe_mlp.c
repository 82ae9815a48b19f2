/* probe's reading of MLPs: hidden units grouped into Maps and SequenceMaps (docs/probe.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lift/probe_internal.h"
#include "util/errmsg.h"

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
                if (fa[g] < 0 || fa[h] < 0 || p->f[fa[g]].numerical || p->f[fa[h]].numerical)
                    continue; /* no SequenceMap of a number */
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

/* A SequenceMap's table from the positions alone has holes: a pair of input values that no
 * probed input reached (at length 5 over nine tokens, a selector width of 5 at index 4 needs
 * every token to be one of two). The hidden units that would answer such a pair were never
 * on, so the reading above left them out; they are the units off at every position whose
 * pre-activations still follow the pair. A ReLU layer's pre-activations are linear in the
 * stream, and in a stream that holds each input as its own directions they are a sum of a
 * part that follows a and a part that follows b: h(x, y) = h(x, y') + h(x', y) - h(x', y')
 * for reached x', y'. So each hole's write is computed from three reached cells, and takes
 * the output label of the reached cell whose write it is nearest, when that one is clearly
 * nearer than any cell of another label; otherwise the hole keeps label 0, as before.
 * group [ng]: the group's hidden units; ga [M]: -2 for units the reading left out; w [P, D]:
 * the group's write at each position. */
#define HOLE_SAMPLES 8 /* positions per seen cell that the hole reading uses */
static void fill_unseen(const Probe *p, int l, const int *group, int ng, const int *ga, int a,
                        int b, const double *w, int *tab) {
    const PAct *A = &p->A;
    const ModelLayer *ly = &p->m->layers[l];
    int D = A->D, M = p->m->mlp_hidden_size, na = p->f[a].n, nb = p->f[b].n, G = na * nb;
    double *cnt = calloc((size_t)G, sizeof(double)); /* [G] positions per cell */
    int holes = 0;
    for (int i = 0; i < A->P; i++) {
        int la = p->f[a].lab[i], lb = p->f[b].lab[i];
        if (la >= 0 && lb >= 0) cnt[la * nb + lb] += 1;
    }
    for (int g = 0; g < G; g++) holes += cnt[g] == 0;
    if (!holes) {
        free(cnt);
        return;
    }
    /* a few positions of each seen cell: the pre-activations are a function of the cell */
    int *pos = malloc(sizeof(int) * (size_t)G * HOLE_SAMPLES); /* [S] */
    int *cell = malloc(sizeof(int) * (size_t)G * HOLE_SAMPLES); /* [S] */
    int *taken = calloc((size_t)G, sizeof(int));               /* [G] */
    int S = 0;
    for (int i = 0; i < A->P; i++) {
        int la = p->f[a].lab[i], lb = p->f[b].lab[i];
        if (la < 0 || lb < 0 || taken[la * nb + lb] == HOLE_SAMPLES) continue;
        taken[la * nb + lb]++;
        pos[S] = i, cell[S++] = la * nb + lb;
    }
    const float **xs = malloc(sizeof(float *) * (size_t)S); /* [S] each one's stream row [D] */
    for (int s = 0; s < S; s++)
        xs[s] = pa_resid(A, 2 * l + 1, A->inp[pos[s]]) + (size_t)(A->tpos[pos[s]] + 1) * D;
    int *units = malloc(sizeof(int) * (size_t)M);          /* [nu <= M] */
    double *hm = calloc((size_t)G * M, sizeof(double));    /* [G, nu] mean pre-activation */
    double *col = malloc(sizeof(double) * (size_t)S);      /* [S] */
    int nu = 0;
    for (int u = 0; u < M; u++) {
        bool in_group = false;
        for (int k = 0; k < ng; k++) in_group |= group[k] == u;
        if (!in_group && ga[u] != -2) continue;
        double s1 = 0, s2 = 0;
        for (int s = 0; s < S; s++) {
            double v = 0;
            for (int d = 0; d < D; d++) v += xs[s][d] * ly->w1[(size_t)d * M + u];
            col[s] = v, s1 += v, s2 += v * v;
        }
        double *hu = hm + (size_t)nu; /* column nu of [G, M] */
        for (int g = 0; g < G; g++) hu[(size_t)g * M] = 0;
        for (int s = 0; s < S; s++) hu[(size_t)cell[s] * M] += col[s] / taken[cell[s]];
        if (!in_group) { /* a left-out unit joins when it varies and the pair decides it */
            double tot = s2 - s1 * s1 / S, within = 0;
            for (int s = 0; s < S; s++) {
                double e = col[s] - hu[(size_t)cell[s] * M];
                within += e * e;
            }
            if (!(tot > 1e-9 * (s2 + 1e-300)) || within > 1e-3 * tot) continue;
        }
        units[nu++] = u;
    }
    double *wm = calloc((size_t)G * D, sizeof(double)); /* [G, D] mean write of the whole cell */
    for (int i = 0; i < A->P; i++) {
        int la = p->f[a].lab[i], lb = p->f[b].lab[i];
        if (la < 0 || lb < 0) continue;
        int g = la * nb + lb;
        for (int d = 0; d < D; d++) wm[(size_t)g * D + d] += w[(size_t)i * D + d] / cnt[g];
    }
    double *h = malloc(sizeof(double) * (size_t)(nu ? nu : 1)), *wr = malloc(sizeof(double) * (size_t)D);
    for (int g = 0; g < G; g++) {
        if (cnt[g]) continue;
        int la = g / nb, lb = g % nb, best = -1;
        double bestc = 0;
        for (int a1 = 0; a1 < na; a1++)
            for (int b1 = 0; b1 < nb; b1++) {
                double c1 = cnt[la * nb + b1], c2 = cnt[a1 * nb + lb], c3 = cnt[a1 * nb + b1];
                double c = c1 < c2 ? c1 : c2;
                if (c3 < c) c = c3;
                if (c > bestc) bestc = c, best = a1 * nb + b1;
            }
        if (best < 0) continue;
        int a1 = best / nb, b1 = best % nb;
        for (int k = 0; k < nu; k++)
            h[k] = hm[(size_t)(la * nb + b1) * M + k] + hm[(size_t)(a1 * nb + lb) * M + k] -
                   hm[(size_t)best * M + k];
        memset(wr, 0, sizeof(double) * (size_t)D);
        for (int k = 0; k < nu; k++)
            if (h[k] > 0)
                for (int d = 0; d < D; d++) wr[d] += h[k] * ly->w2[(size_t)units[k] * D + d];
        double d1 = INFINITY, d2 = INFINITY; /* nearest cell, nearest of another label */
        int near = -1;
        for (int r = 0; r < G; r++) {
            if (!cnt[r]) continue;
            double s = 0;
            for (int d = 0; d < D; d++) {
                double e = wr[d] - wm[(size_t)r * D + d];
                s += e * e;
            }
            s = sqrt(s);
            if (s < d1) {
                if (near >= 0 && tab[near] != tab[r]) d2 = d1;
                d1 = s, near = r;
            } else if (s < d2 && tab[r] != tab[near]) {
                d2 = s;
            }
        }
        if (pf_debug())
            fprintf(stderr, "probe:   unseen cell (%d, %d) of %d units: nearest (%d, %d) at %.3g, "
                    "another label at %.3g\n", la, lb, nu, near / nb, near % nb, d1, d2);
        if (near >= 0 && 3 * d1 < d2) tab[g] = tab[near];
    }
    free(cnt), free(pos), free(cell), free(taken), free(xs), free(units), free(hm), free(col),
        free(wm), free(h), free(wr);
}

int pf_read_mlp(Probe *p, int l, double *w) {
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
    int *units = malloc(sizeof(int) * (size_t)M); /* [M] one group's hidden units */
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
        double uv = pf_explain(p, col, 1, st, &ga[u], &gb[u], false);
        if (pf_debug() && uv > p->par.max_uv)
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
        int nu = 0;
        for (int v = u; v < M; v++) {
            if (ga[v] != a || gb[v] != b) continue;
            ga[v] = -3;
            units[nu++] = v;
            const double *wr = ly->w2 + (size_t)v * D;
            for (int i = 0; i < A->P; i++) {
                double s = act[(size_t)i * M + v];
                if (s == 0) continue;
                for (int d = 0; d < D; d++) w[(size_t)i * D + d] += s * wr[d];
            }
        }
        int G = p->f[a].n * (b >= 0 ? p->f[b].n : 1);
        int *tab = malloc(sizeof(int) * (size_t)(G ? G : 1)); /* [G] */
        int k = pf_cluster_write(p, w, D, a, b, tab);
        if (k <= 1) {
            free(tab);
            continue;
        }
        if (b >= 0) fill_unseen(p, l, units, nu, ga, a, b, w, tab);
        int fi = pf_new(p, b >= 0 ? LS_SEQMAP : LS_MAP, k, 2 * l + 2);
        if (fi < 0) {
            free(tab);
            rc = err_printf(p->err, p->errcap, "layer %d MLP: too many SOps to probe", l);
            break;
        }
        PFeat *f = &p->f[fi];
        f->a = a, f->b = b, f->tab = tab;
        if (pf_debug()) fprintf(stderr, "probe:   map of (%d, %d): %d labels\n", a, b, k);
        int nb = b >= 0 ? p->f[b].n : 1;
        for (int i = 0; i < A->P; i++) {
            int la = p->f[a].lab[i], lb = b >= 0 ? p->f[b].lab[i] : 0;
            f->lab[i] = la < 0 || lb < 0 ? -1 : tab[la * nb + lb];
        }
    }
    free(act), free(col), free(ga), free(gb), free(energy), free(units);
    return rc;
}

