/* The encoder's layers, forward and backward, one function each so that every one can be
 * checked alone against finite differences (tests/test_bert_grad.c). Dense layers go through
 * OpenBLAS: they are R x in x out with R = B * T rows, the only products large enough to pay. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "bert/bert.h"

void bert_linear_fwd(const double *x, const double *W, const double *b, int R, int in, int out,
                     double *y) {
    for (int r = 0; r < R; r++)
        for (int o = 0; o < out; o++) y[(size_t)r * out + o] = b ? b[o] : 0.0;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, out, in, 1.0, x, in, W, in, 1.0, y,
                out);
}

void bert_linear_bwd(const double *x, const double *W, const double *dy, int R, int in, int out,
                     double *dx, double *dW, double *db) {
    if (dx)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, in, out, 1.0, dy, out, W, in, 0.0,
                    dx, in);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, R, 1.0, dy, out, x, in, 1.0, dW,
                in);
    if (db)
        for (int r = 0; r < R; r++)
            for (int o = 0; o < out; o++) db[o] += dy[(size_t)r * out + o];
}

void bert_layernorm_fwd(const double *x, const double *g, const double *b, int R, int D, double eps,
                        double *y, double *n, double *rstd) {
    for (int r = 0; r < R; r++) {
        const double *xr = x + (size_t)r * D;
        double mean = 0, var = 0;
        for (int d = 0; d < D; d++) mean += xr[d];
        mean /= D;
        for (int d = 0; d < D; d++) var += (xr[d] - mean) * (xr[d] - mean);
        double rs = 1.0 / sqrt(var / D + eps); /* biased variance, as torch */
        rstd[r] = rs;
        for (int d = 0; d < D; d++) {
            double v = (xr[d] - mean) * rs;
            n[(size_t)r * D + d] = v;
            y[(size_t)r * D + d] = g[d] * v + b[d];
        }
    }
}

void bert_layernorm_bwd(const double *dy, const double *n, const double *rstd, const double *g,
                        int R, int D, double *dx, double *dg, double *db) {
    for (int r = 0; r < R; r++) {
        const double *dyr = dy + (size_t)r * D, *nr = n + (size_t)r * D;
        double s1 = 0, s2 = 0; /* mean of dn and of dn * n */
        for (int d = 0; d < D; d++) {
            double dn = dyr[d] * g[d];
            s1 += dn;
            s2 += dn * nr[d];
            dg[d] += dyr[d] * nr[d];
            db[d] += dyr[d];
        }
        s1 /= D;
        s2 /= D;
        for (int d = 0; d < D; d++)
            dx[(size_t)r * D + d] = rstd[r] * (dyr[d] * g[d] - s1 - nr[d] * s2);
    }
}

void bert_gelu_fwd(const double *u, size_t n, double *y) {
    for (size_t i = 0; i < n; i++) y[i] = 0.5 * u[i] * (1.0 + erf(u[i] * M_SQRT1_2));
}

void bert_gelu_bwd(const double *u, const double *dy, size_t n, double *du) {
    const double inv_sqrt_2pi = 0.3989422804014327;
    for (size_t i = 0; i < n; i++) {
        double cdf = 0.5 * (1.0 + erf(u[i] * M_SQRT1_2));
        double pdf = inv_sqrt_2pi * exp(-0.5 * u[i] * u[i]);
        du[i] = dy[i] * (cdf + u[i] * pdf);
    }
}

/* May query i see key j of a sequence with len positions in use? */
static inline bool visible(int i, int j, int len, bool causal) {
    return j < len && (!causal || j <= i);
}

void bert_attention_fwd(const double *q, const double *k, const double *v, const int *len, int B,
                        int T, int D, int H, bool causal, double *probs, double *ctx) {
    int dh = D / H;
    double scale = 1.0 / sqrt((double)dh);
    memset(ctx, 0, sizeof(double) * (size_t)B * T * D);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                double *p = probs + (((size_t)b * H + h) * T + i) * T;
                const double *qi = q + ((size_t)b * T + i) * D + h * dh;
                double mx = -INFINITY;
                for (int j = 0; j < T; j++) {
                    p[j] = 0;
                    if (!visible(i, j, len[b], causal)) continue;
                    const double *kj = k + ((size_t)b * T + j) * D + h * dh;
                    double s = 0;
                    for (int e = 0; e < dh; e++) s += qi[e] * kj[e];
                    p[j] = s * scale;
                    if (p[j] > mx) mx = p[j];
                }
                double z = 0;
                for (int j = 0; j < T; j++)
                    if (visible(i, j, len[b], causal)) z += (p[j] = exp(p[j] - mx));
                double *ci = ctx + ((size_t)b * T + i) * D + h * dh;
                for (int j = 0; j < T; j++) {
                    if (!visible(i, j, len[b], causal)) continue;
                    p[j] /= z;
                    const double *vj = v + ((size_t)b * T + j) * D + h * dh;
                    for (int e = 0; e < dh; e++) ci[e] += p[j] * vj[e];
                }
            }
}

void bert_attention_bwd(const double *q, const double *k, const double *v, const double *probs,
                        const double *dctx, const int *len, int B, int T, int D, int H, double *dq,
                        double *dk, double *dv) {
    int dh = D / H;
    double scale = 1.0 / sqrt((double)dh);
    size_t cells = (size_t)B * T * D;
    memset(dq, 0, sizeof(double) * cells);
    memset(dk, 0, sizeof(double) * cells);
    memset(dv, 0, sizeof(double) * cells);
    double dp[4097]; /* [T] dL/dprobs of one query row; T <= positions <= 4097 */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                const double *p = probs + (((size_t)b * H + h) * T + i) * T;
                const double *dci = dctx + ((size_t)b * T + i) * D + h * dh;
                double dot = 0; /* sum_j p_j dp_j, the softmax Jacobian's shared term */
                for (int j = 0; j < T; j++) {
                    dp[j] = 0;
                    if (p[j] == 0) continue; /* masked (or underflowed: zero gradient either way) */
                    const double *vj = v + ((size_t)b * T + j) * D + h * dh;
                    double *dvj = dv + ((size_t)b * T + j) * D + h * dh;
                    for (int e = 0; e < dh; e++) {
                        dp[j] += dci[e] * vj[e];
                        dvj[e] += p[j] * dci[e];
                    }
                    dot += p[j] * dp[j];
                }
                const double *qi = q + ((size_t)b * T + i) * D + h * dh;
                double *dqi = dq + ((size_t)b * T + i) * D + h * dh;
                for (int j = 0; j < T; j++) {
                    if (p[j] == 0) continue;
                    double ds = p[j] * (dp[j] - dot) * scale;
                    const double *kj = k + ((size_t)b * T + j) * D + h * dh;
                    double *dkj = dk + ((size_t)b * T + j) * D + h * dh;
                    for (int e = 0; e < dh; e++) {
                        dqi[e] += ds * kj[e];
                        dkj[e] += ds * qi[e];
                    }
                }
            }
}
