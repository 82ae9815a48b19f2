/* The traced forward pass (see trace.h): model_forward_f64's arithmetic, one sequence, with
 * every intermediate residual and attention pattern kept. */
#include "compiler/trace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* C[m,n] (+)= A[m,k] B[k,n], row-major; small matrices, plain loops. */
static void mm(double *C, const double *A, const double *B, int m, int k, int n, int acc) {
    for (int i = 0; i < m; i++) {
        double *c = C + (size_t)i * n;
        if (!acc) memset(c, 0, sizeof(double) * (size_t)n);
        for (int p = 0; p < k; p++) {
            double a = A[(size_t)i * k + p];
            if (a == 0) continue;
            const double *b = B + (size_t)p * n;
            for (int j = 0; j < n; j++) c[j] += a * b[j];
        }
    }
}

void model_trace_free(ModelTrace *tr) {
    free(tr->ids);
    free(tr->resid);
    free(tr->attn);
    free(tr->out);
    memset(tr, 0, sizeof *tr);
}

void model_trace_stage_name(int stage, char *buf, size_t cap) {
    if (stage == 0) snprintf(buf, cap, "embeddings");
    else snprintf(buf, cap, "layer %d %s", (stage - 1) / 2, stage % 2 ? "attention" : "MLP");
}

int model_trace(const CompiledModel *m, const Value *xs, int n, ModelTrace *tr, char *err,
                size_t errcap) {
    memset(tr, 0, sizeof *tr);
    const int D = m->residual_dim, H = m->num_heads, ks = m->key_size, M = m->mlp_hidden_size;
    const int HK = H * ks, T = n + 1, L = m->num_layers;
    tr->T = T, tr->n_stages = 1 + 2 * L, tr->H = H, tr->D = D;
    tr->ids = malloc(sizeof(int) * (size_t)T);
    if (!tr->ids) abort();
    if (model_encode(m, xs, n, tr->ids, err, errcap) != 0) {
        model_trace_free(tr);
        return 1;
    }
    tr->resid = malloc(sizeof(double) * (size_t)tr->n_stages * T * D);
    tr->attn = malloc(sizeof(double) * ((size_t)L * H * T * T + 1));
    tr->out = malloc(sizeof(double) * (size_t)T * m->n_out);
    double *q = malloc(sizeof(double) * (size_t)T * HK * 4); /* q, k, v, z: [T, HK] each */
    double *hid = malloc(sizeof(double) * (size_t)T * M);    /* [T, M] */
    if (!tr->resid || !tr->attn || !tr->out || !q || !hid) abort();
    double *k = q + (size_t)T * HK, *v = k + (size_t)T * HK, *z = v + (size_t)T * HK;
    double *x = tr->resid; /* stage 0 */
    for (int t = 0; t < T; t++)
        for (int d = 0; d < D; d++)
            x[(size_t)t * D + d] =
                m->token_embed[(size_t)tr->ids[t] * D + d] + m->pos_embed[(size_t)t * D + d];
    const double scale = 1.0 / sqrt((double)ks);
    for (int l = 0; l < L; l++) {
        const ModelLayer *Ly = &m->layers[l];
        double *xa = x + (size_t)T * D; /* after attention */
        memcpy(xa, x, sizeof(double) * (size_t)T * D);
        mm(q, x, Ly->q, T, D, HK, 0);
        mm(k, x, Ly->k, T, D, HK, 0);
        mm(v, x, Ly->v, T, D, HK, 0);
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                double *a = tr->attn + (((size_t)l * H + h) * T + i) * T, mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    double s = -1e30;
                    if (!(m->causal && j > i)) {
                        s = 0;
                        for (int c = 0; c < ks; c++)
                            s += q[(size_t)i * HK + h * ks + c] * k[(size_t)j * HK + h * ks + c];
                        s *= scale;
                    }
                    a[j] = s;
                    if (s > mx) mx = s;
                }
                for (int j = 0; j < T; j++) sum += (a[j] = exp(a[j] - mx));
                double *zi = z + (size_t)i * HK + h * ks;
                for (int c = 0; c < ks; c++) zi[c] = 0;
                for (int j = 0; j < T; j++) {
                    a[j] /= sum;
                    for (int c = 0; c < ks; c++) zi[c] += a[j] * v[(size_t)j * HK + h * ks + c];
                }
            }
        mm(xa, z, Ly->o, T, HK, D, 1);
        double *xm = xa + (size_t)T * D; /* after the MLP */
        memcpy(xm, xa, sizeof(double) * (size_t)T * D);
        mm(hid, xa, Ly->w1, T, D, M, 0);
        for (size_t i = 0; i < (size_t)T * M; i++)
            if (hid[i] < 0) hid[i] = 0;
        mm(xm, hid, Ly->w2, T, M, D, 1);
        x = xm;
    }
    mm(tr->out, x, m->unembed, T, D, m->n_out, 0);
    free(q);
    free(hid);
    return 0;
}
