/* Sparse forward pass (see fast_forward.h). */
#include "data/fast_forward.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sp_build(FfSparse *s, const double *a, int rows, int cols) {
    s->rows = rows;
    s->cols = cols;
    size_t nnz = 0;
    for (size_t i = 0; i < (size_t)rows * cols; i++) nnz += a[i] != 0.0;
    s->start = malloc(sizeof(int) * (size_t)(rows + 1));
    s->col = malloc(sizeof(int) * (nnz ? nnz : 1));
    s->val = malloc(sizeof(double) * (nnz ? nnz : 1));
    s->active = malloc(sizeof(int) * (size_t)(rows ? rows : 1));
    s->n_active = 0;
    if (!s->start || !s->col || !s->val || !s->active) return -1;
    size_t k = 0;
    for (int r = 0; r < rows; r++) {
        s->start[r] = (int)k;
        for (int c = 0; c < cols; c++) {
            double v = a[(size_t)r * cols + c];
            if (v != 0.0) {
                s->col[k] = c;
                s->val[k++] = v;
            }
        }
    }
    s->start[rows] = (int)k;
    for (int r = 0; r < rows; r++)
        if (s->start[r + 1] > s->start[r]) s->active[s->n_active++] = r;
    return 0;
}

static void sp_free(FfSparse *s) {
    free(s->start);
    free(s->col);
    free(s->val);
    free(s->active);
}

void ff_free(FfModel *f) {
    if (f->mats) {
        int n = 6 * f->m->num_layers + 1;
        for (int i = 0; i < n; i++) sp_free(&f->mats[i]);
        free(f->mats);
    }
    f->mats = NULL;
}

int ff_build(const CompiledModel *m, FfModel *f) {
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    f->m = m;
    f->mats = calloc((size_t)(6 * m->num_layers + 1), sizeof *f->mats);
    if (!f->mats) return -1;
    int rc = 0;
    for (int l = 0; l < m->num_layers && !rc; l++) {
        const ModelLayer *L = &m->layers[l];
        FfSparse *s = f->mats + 6 * l;
        rc |= sp_build(&s[0], L->q, D, HK) | sp_build(&s[1], L->k, D, HK) | sp_build(&s[2], L->v, D, HK) |
              sp_build(&s[3], L->o, HK, D) | sp_build(&s[4], L->w1, D, M) | sp_build(&s[5], L->w2, M, D);
    }
    if (!rc) rc = sp_build(&f->mats[6 * m->num_layers], m->unembed, D, m->n_out);
    if (rc) ff_free(f);
    return rc;
}

/* y[n, cols] (+)= x[n, rows] @ s. */
static void sp_mm(double *y, const double *x, const FfSparse *s, int n, int acc) {
    if (!acc) memset(y, 0, sizeof(double) * (size_t)n * s->cols);
    for (int i = 0; i < n; i++) {
        const double *xi = x + (size_t)i * s->rows;
        double *yi = y + (size_t)i * s->cols;
        for (int ai = 0; ai < s->n_active; ai++) {
            int d = s->active[ai];
            double a = xi[d];
            if (a == 0.0) continue;
            for (int k = s->start[d]; k < s->start[d + 1]; k++) yi[s->col[k]] += a * s->val[k];
        }
    }
}

int ff_forward(const FfModel *f, const int *ids, int B, int T, double *out, char *err, size_t errcap) {
    const CompiledModel *m = f->m;
    const int D = m->residual_dim, H = m->num_heads, ks = m->key_size, M = m->mlp_hidden_size;
    const int HK = H * ks, BT = B * T;
    if (B < 0 || T < 1 || T > m->max_seq_len + 1) {
        snprintf(err, errcap, "input length %d is outside 1..%d (BOS included)", T, m->max_seq_len + 1);
        return 1;
    }
    for (int i = 0; i < BT; i++)
        if (ids[i] < 0 || ids[i] >= m->vocab_size) {
            snprintf(err, errcap, "token id %d is outside 0..%d", ids[i], m->vocab_size - 1);
            return 1;
        }
    if (B == 0) return 0;
    double *x = malloc(sizeof(double) * (size_t)BT * D);
    double *q = malloc(sizeof(double) * ((size_t)BT * HK * 4 + 1));
    double *hid = malloc(sizeof(double) * ((size_t)BT * M + 1));
    double *att = malloc(sizeof(double) * (size_t)T);
    if (!x || !q || !hid || !att) {
        free(x);
        free(q);
        free(hid);
        free(att);
        snprintf(err, errcap, "out of memory");
        return 1;
    }
    double *k = q + (size_t)BT * HK, *v = k + (size_t)BT * HK, *z = v + (size_t)BT * HK;
    for (int r = 0; r < BT; r++) {
        const double *te = m->token_embed + (size_t)ids[r] * D, *pe = m->pos_embed + (size_t)(r % T) * D;
        for (int d = 0; d < D; d++) x[(size_t)r * D + d] = te[d] + pe[d];
    }
    const double scale = 1.0 / sqrt((double)ks);
    for (int l = 0; l < m->num_layers; l++) {
        const FfSparse *s = f->mats + 6 * l;
        if (s[0].start[D] && s[1].start[D] && s[2].start[D] && s[3].start[HK]) {
            sp_mm(q, x, &s[0], BT, 0);
            sp_mm(k, x, &s[1], BT, 0);
            sp_mm(v, x, &s[2], BT, 0);
            for (int b = 0; b < B; b++)
                for (int h = 0; h < H; h++)
                    for (int i = 0; i < T; i++) {
                        const double *qi = q + ((size_t)b * T + i) * HK + (size_t)h * ks;
                        double mx = -INFINITY;
                        for (int j = 0; j < T; j++) {
                            double sc;
                            if (m->causal && j > i) {
                                sc = -1e30;
                            } else {
                                const double *kj = k + ((size_t)b * T + j) * HK + (size_t)h * ks;
                                sc = 0;
                                for (int c = 0; c < ks; c++) sc += qi[c] * kj[c];
                                sc *= scale;
                            }
                            att[j] = sc;
                            if (sc > mx) mx = sc;
                        }
                        double sum = 0;
                        for (int j = 0; j < T; j++) sum += (att[j] = exp(att[j] - mx));
                        double *zi = z + ((size_t)b * T + i) * HK + (size_t)h * ks;
                        for (int c = 0; c < ks; c++) zi[c] = 0;
                        for (int j = 0; j < T; j++) {
                            double a = att[j] / sum;
                            if (a == 0) continue;
                            const double *vj = v + ((size_t)b * T + j) * HK + (size_t)h * ks;
                            for (int c = 0; c < ks; c++) zi[c] += a * vj[c];
                        }
                    }
            sp_mm(x, z, &s[3], BT, 1);
        }
        if (s[4].start[D]) {
            sp_mm(hid, x, &s[4], BT, 0);
            for (size_t i = 0; i < (size_t)BT * M; i++)
                if (hid[i] < 0) hid[i] = 0;
            sp_mm(x, hid, &s[5], BT, 1);
        }
    }
    sp_mm(out, x, &f->mats[6 * m->num_layers], BT, 0);
    free(x);
    free(q);
    free(hid);
    free(att);
    return 0;
}
