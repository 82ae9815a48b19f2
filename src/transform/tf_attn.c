/* Softmax attention over a ragged batch, forward and backward, in double precision: the one
 * copy used by compression (frozen weights, gradient into the projection) and distillation
 * (gradient into every weight). */
#include <math.h>
#include <string.h>

#include "transform/tf_internal.h"

/* Sequence s's [T, T] block within one head's attention matrices. */
static size_t block_offset(const TfBatch *b, int s) {
    size_t o = 0;
    for (int i = 0; i < s; i++) o += (size_t)b->len[i] * (size_t)b->len[i];
    return o;
}

void tf_attn_forward(const TfBatch *b, int H, int ks, bool causal, const double *q, const double *k,
                     const double *v, double *att, size_t head_stride, double *z) {
    const int HK = H * ks;
    const double scale = 1.0 / sqrt((double)ks);
    memset(z, 0, sizeof(double) * (size_t)b->R * HK);
    for (int s = 0; s < b->B; s++) {
        int T = b->len[s], r0 = b->off[s];
        size_t ao = block_offset(b, s);
        for (int hd = 0; hd < H; hd++) {
            double *A = att + (size_t)hd * head_stride + ao; /* [T, T] */
            for (int i = 0; i < T; i++) {
                const double *qi = q + (size_t)(r0 + i) * HK + hd * ks;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    double sc = -1e30;
                    if (!(causal && j > i)) {
                        const double *kj = k + (size_t)(r0 + j) * HK + hd * ks;
                        sc = 0;
                        for (int u = 0; u < ks; u++) sc += qi[u] * kj[u];
                        sc *= scale;
                    }
                    A[i * T + j] = sc;
                    if (sc > mx) mx = sc;
                }
                for (int j = 0; j < T; j++) sum += (A[i * T + j] = exp(A[i * T + j] - mx));
                double *zi = z + (size_t)(r0 + i) * HK + hd * ks;
                for (int j = 0; j < T; j++) {
                    double p = (A[i * T + j] /= sum);
                    if (p == 0) continue;
                    const double *vj = v + (size_t)(r0 + j) * HK + hd * ks;
                    for (int u = 0; u < ks; u++) zi[u] += p * vj[u];
                }
            }
        }
    }
}

void tf_attn_backward(const TfBatch *b, int H, int ks, const double *q, const double *k,
                      const double *v, const double *att, size_t head_stride, const double *gz,
                      double *gq, double *gk, double *gv, double *gA) {
    const int HK = H * ks;
    const double scale = 1.0 / sqrt((double)ks);
    memset(gq, 0, sizeof(double) * (size_t)b->R * HK);
    memset(gk, 0, sizeof(double) * (size_t)b->R * HK);
    memset(gv, 0, sizeof(double) * (size_t)b->R * HK);
    for (int s = 0; s < b->B; s++) {
        int T = b->len[s], r0 = b->off[s];
        size_t ao = block_offset(b, s);
        for (int hd = 0; hd < H; hd++) {
            const double *A = att + (size_t)hd * head_stride + ao;
            for (int i = 0; i < T; i++) {
                const double *gzi = gz + (size_t)(r0 + i) * HK + hd * ks;
                double dot = 0;
                for (int j = 0; j < T; j++) {
                    const double *vj = v + (size_t)(r0 + j) * HK + hd * ks;
                    double *gvj = gv + (size_t)(r0 + j) * HK + hd * ks;
                    double g = 0, p = A[i * T + j];
                    for (int u = 0; u < ks; u++) {
                        g += gzi[u] * vj[u];
                        gvj[u] += p * gzi[u];
                    }
                    gA[j] = g;
                    dot += g * p;
                }
                /* softmax: d score_ij = A_ij (gA_ij - sum_j' A_ij' gA_ij'); masked entries have A = 0 */
                double *gqi = gq + (size_t)(r0 + i) * HK + hd * ks;
                const double *qi = q + (size_t)(r0 + i) * HK + hd * ks;
                for (int j = 0; j < T; j++) {
                    double gs = A[i * T + j] * (gA[j] - dot) * scale;
                    if (gs == 0) continue;
                    const double *kj = k + (size_t)(r0 + j) * HK + hd * ks;
                    double *gkj = gk + (size_t)(r0 + j) * HK + hd * ks;
                    for (int u = 0; u < ks; u++) {
                        gqi[u] += gs * kj[u];
                        gkj[u] += gs * qi[u];
                    }
                }
            }
        }
    }
}
