/* Layer kernels, written once over META_REAL and compiled twice (meta_layers_f32.c,
 * meta_layers_f64.c). The including file includes meta/meta.h, then defines META_REAL,
 * META_FN(name), META_GEMM_BLAS, META_GEMV_BLAS, META_EXP, META_LOG, META_SQRT and META_TANH.
 * Every parallel loop writes disjoint outputs and every reduction runs in a fixed order, so
 * results never depend on the thread count or scheduling. Private to meta/. */
#if !defined(META_REAL) || !defined(META_FN)
#error "meta_layers_tmpl.h: define META_REAL and META_FN first (meta_layers_f32.c)"
#endif
#include <math.h>
#include <omp.h>
#include <string.h>

#include "meta/meta.h"
#include "meta/meta_par.h"

/* Below this many multiply-adds a parallel region costs more than it saves. */
#define PAR_MIN_WORK (1L << 17)
/* Rows (or columns) of C per BLAS call when a product is split over threads. */
#define GEMM_SLAB 128

void META_FN(meta_gemm)(int ta, int tb, int M, int N, int K, META_REAL alpha, const META_REAL *A,
                        int lda, const META_REAL *Bm, int ldb, META_REAL beta, META_REAL *Cm,
                        int ldc) {
    if (M <= 0 || N <= 0) return;
    if (meta_blas_enabled()) {
        /* OpenBLAS runs single-threaded (meta.h); OpenMP spreads fixed slabs of
         * GEMM_SLAB rows of C (or columns, when C is short and wide) over the threads. The
         * slabs depend only on the sizes, never on the thread count, so neither does any
         * bit of the result. Inside a parallel region the loop simply runs serially. */
        CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
        if (M == 1 && !ta) {
            /* One row (a decoding step): GEMM would pack all of B for a single product, which
             * cost as much as the product itself. C[1,N] = A[1,K] op(B). */
            META_GEMV_BLAS(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? N : K, tb ? K : N,
                           alpha, Bm, ldb, A, 1, beta, Cm, 1);
            return;
        }
        int rows = M >= 2 * GEMM_SLAB, total = rows ? M : N;
        if ((long)M * N * K < 8 * PAR_MIN_WORK || total < 2 * GEMM_SLAB) {
            META_GEMM_BLAS(CblasRowMajor, TA, TB, M, N, K, alpha, A, lda, Bm, ldb, beta, Cm, ldc);
            return;
        }
        int ns = (total + GEMM_SLAB - 1) / GEMM_SLAB;
        META_PAR(
            1, "omp parallel for schedule(static)", for (int sl = 0; sl < ns; sl++) {
                int lo = sl * GEMM_SLAB, n = total - lo < GEMM_SLAB ? total - lo : GEMM_SLAB;
                if (rows)
                    META_GEMM_BLAS(CblasRowMajor, TA, TB, n, N, K, alpha,
                                   ta ? A + lo : A + (size_t)lo * lda, lda, Bm, ldb, beta,
                                   Cm + (size_t)lo * ldc, ldc);
                else
                    META_GEMM_BLAS(CblasRowMajor, TA, TB, M, n, K, alpha, A, lda,
                                   tb ? Bm + (size_t)lo * ldb : Bm + lo, ldb, beta, Cm + lo, ldc);
            });
        return;
    }
    /* Plain loops: each row of C is owned by one thread and summed in k order. */
    META_PAR((long)M * N * K > PAR_MIN_WORK, "omp parallel for schedule(static)",
             for (int i = 0; i < M; i++) {
                 META_REAL *c = Cm + (size_t)i * ldc;
                 if (beta == 0)
                     for (int j = 0; j < N; j++) c[j] = 0;
                 else if (beta != 1)
                     for (int j = 0; j < N; j++) c[j] *= beta;
                 if (tb) {
                     /* B stored [N,K]: each C entry is a dot product of two contiguous rows (when !ta). */
                     for (int j = 0; j < N; j++) {
                         const META_REAL *b = Bm + (size_t)j * ldb;
                         META_REAL s = 0;
                         if (!ta) {
                             const META_REAL *a = A + (size_t)i * lda;
                             for (int k = 0; k < K; k++) s += a[k] * b[k];
                         } else {
                             for (int k = 0; k < K; k++) s += A[(size_t)k * lda + i] * b[k];
                         }
                         c[j] += alpha * s;
                     }
                 } else {
                     /* B stored [K,N]: stream its rows into C's row. */
                     for (int k = 0; k < K; k++) {
                         META_REAL a =
                             alpha * (ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
                         const META_REAL *b = Bm + (size_t)k * ldb;
                         for (int j = 0; j < N; j++) c[j] += a * b[j];
                     }
                 }
             });
}

/* sums[j] += sum over rows n of x[n, j], x [N,C] with row stride ld. Threads own column
 * ranges and add rows in order, so the result is independent of the thread count. */
static void META_FN(colsum_acc)(META_REAL *sums, const META_REAL *x, int N, int C, int ld) {
    META_PAR((long)N * C > PAR_MIN_WORK, "omp parallel", {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int j0 = (int)((long)C * id / nt), j1 = (int)((long)C * (id + 1) / nt);
        for (int n = 0; n < N; n++) {
            const META_REAL *r = x + (size_t)n * ld;
            for (int j = j0; j < j1; j++) sums[j] += r[j];
        }
    });
}

void META_FN(meta_linear_forward)(META_REAL *out, const META_REAL *inp, const META_REAL *w,
                                  const META_REAL *bias, int N, int IC, int OC, int accumulate) {
    if (N <= 0) return;
    META_REAL beta = accumulate ? 1 : 0;
    if (bias) {
        /* Seed the output with the bias so the product accumulates onto it: no second pass. */
        META_PAR((long)N * OC > PAR_MIN_WORK, "omp parallel for schedule(static)",
                 for (int n = 0; n < N; n++) {
                     META_REAL *o = out + (size_t)n * OC;
                     if (accumulate)
                         for (int j = 0; j < OC; j++) o[j] += bias[j];
                     else
                         for (int j = 0; j < OC; j++) o[j] = bias[j];
                 });
        beta = 1;
    }
    META_FN(meta_gemm)(0, 1, N, OC, IC, 1, inp, IC, w, IC, beta, out, OC);
}

void META_FN(meta_linear_backward)(META_REAL *dinp, META_REAL *dw, META_REAL *db,
                                   const META_REAL *dout, const META_REAL *inp, const META_REAL *w,
                                   int N, int IC, int OC) {
    if (N <= 0) return;
    if (dinp) META_FN(meta_gemm)(0, 0, N, IC, OC, 1, dout, OC, w, IC, 1, dinp, IC);
    META_FN(meta_gemm)(1, 0, OC, IC, N, 1, dout, OC, inp, IC, 1, dw, IC);
    if (db) META_FN(colsum_acc)(db, dout, N, OC, OC);
}

void META_FN(meta_embedding_forward)(META_REAL *out, const int32_t *idx, int idx_stride,
                                     const META_REAL *table, int N, int C) {
    for (int n = 0; n < N; n++) {
        const META_REAL *t = table + (size_t)idx[(size_t)n * idx_stride] * C;
        META_REAL *o = out + (size_t)n * C;
        for (int j = 0; j < C; j++) o[j] += t[j];
    }
}

void META_FN(meta_embedding_backward)(META_REAL *dtable, const META_REAL *dout, const int32_t *idx,
                                      int idx_stride, int N, int C) {
    for (int n = 0; n < N; n++) {
        META_REAL *t = dtable + (size_t)idx[(size_t)n * idx_stride] * C;
        const META_REAL *d = dout + (size_t)n * C;
        for (int j = 0; j < C; j++) t[j] += d[j];
    }
}

void META_FN(meta_layernorm_forward)(META_REAL *out, META_REAL *mean, META_REAL *rstd,
                                     const META_REAL *inp, const META_REAL *g, const META_REAL *b,
                                     int N, int C) {
    const META_REAL eps = (META_REAL)1e-5;
    META_PAR((long)N * C > PAR_MIN_WORK, "omp parallel for schedule(static)",
             for (int n = 0; n < N; n++) {
                 const META_REAL *x = inp + (size_t)n * C;
                 META_REAL m = 0;
                 for (int j = 0; j < C; j++) m += x[j];
                 m /= (META_REAL)C;
                 META_REAL v = 0;
                 for (int j = 0; j < C; j++) v += (x[j] - m) * (x[j] - m);
                 v /= (META_REAL)C;
                 META_REAL s = 1 / META_SQRT(v + eps);
                 META_REAL *o = out + (size_t)n * C;
                 for (int j = 0; j < C; j++) o[j] = (x[j] - m) * s * g[j] + b[j];
                 mean[n] = m;
                 rstd[n] = s;
             });
}

void META_FN(meta_layernorm_backward)(META_REAL *dinp, META_REAL *dg, META_REAL *db,
                                      const META_REAL *dout, const META_REAL *inp,
                                      const META_REAL *g, const META_REAL *mean,
                                      const META_REAL *rstd, int N, int C) {
    META_PAR((long)N * C > PAR_MIN_WORK, "omp parallel", {
        /* dg, db: threads own column ranges and walk the rows in order. */
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int j0 = (int)((long)C * id / nt), j1 = (int)((long)C * (id + 1) / nt);
        for (int n = 0; n < N; n++) {
            const META_REAL *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
            META_REAL m = mean[n], s = rstd[n];
            for (int j = j0; j < j1; j++) {
                dg[j] += d[j] * (x[j] - m) * s;
                db[j] += d[j];
            }
        }
        /* dinp: threads own row ranges (rows are independent) */
        int n0 = (int)((long)N * id / nt), n1 = (int)((long)N * (id + 1) / nt);
        for (int n = n0; n < n1; n++) {
            const META_REAL *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
            META_REAL m = mean[n], s = rstd[n];
            /* dxhat = d * g; dx = s * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) */
            META_REAL a = 0, bsum = 0;
            for (int j = 0; j < C; j++) {
                META_REAL dxh = d[j] * g[j];
                a += dxh;
                bsum += dxh * (x[j] - m) * s;
            }
            a /= (META_REAL)C;
            bsum /= (META_REAL)C;
            META_REAL *dx = dinp + (size_t)n * C;
            for (int j = 0; j < C; j++) {
                META_REAL xh = (x[j] - m) * s;
                dx[j] += s * (d[j] * g[j] - a - xh * bsum);
            }
        }
    });
}

#define GELU_S ((META_REAL)0.7978845608028654) /* sqrt(2/pi) */
#define GELU_A ((META_REAL)0.044715)

void META_FN(meta_gelu_forward)(META_REAL *out, const META_REAL *inp, size_t n) {
    META_PAR_SIMD((long)n > PAR_MIN_WORK, "omp parallel for simd schedule(static)",
                  for (size_t i = 0; i < n; i++) {
                      META_REAL x = inp[i];
                      META_REAL t = META_TANH(GELU_S * (x + GELU_A * x * x * x));
                      out[i] = (META_REAL)0.5 * x * (1 + t);
                  });
}

void META_FN(meta_gelu_backward)(META_REAL *dinp, const META_REAL *inp, const META_REAL *dout,
                                 size_t n) {
    META_PAR_SIMD((long)n > PAR_MIN_WORK, "omp parallel for simd schedule(static)",
                  for (size_t i = 0; i < n; i++) {
                      META_REAL x = inp[i];
                      META_REAL t = META_TANH(GELU_S * (x + GELU_A * x * x * x));
                      META_REAL dt = GELU_S * (1 + 3 * GELU_A * x * x);
                      META_REAL grad =
                          (META_REAL)0.5 * (1 + t) + (META_REAL)0.5 * x * (1 - t * t) * dt;
                      dinp[i] += grad * dout[i];
                  });
}

void META_FN(meta_residual_forward)(META_REAL *out, const META_REAL *a, const META_REAL *b,
                                    size_t n) {
    META_PAR((long)n > PAR_MIN_WORK, "omp parallel for schedule(static)",
             for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];);
}

void META_FN(meta_residual_backward)(META_REAL *da, META_REAL *db, const META_REAL *dout,
                                     size_t n) {
    META_PAR((long)n > PAR_MIN_WORK, "omp parallel for schedule(static)",
             for (size_t i = 0; i < n; i++) {
                 da[i] += dout[i];
                 db[i] += dout[i];
             });
}

/* Visible keys of query i: [0, npre) and, for program queries, [P, i]. */
static inline int META_FN(n_pre)(const int32_t *plen, int b, int P) {
    int v = plen[b];
    return v < P ? v : P;
}

void META_FN(meta_attention_forward)(META_REAL *out, META_REAL *att, const META_REAL *qkv,
                                     const int32_t *plen, int B, int P, int T, int C, int H) {
    int L = P + T, hs = C / H, C3 = 3 * C;
    META_REAL scale = 1 / META_SQRT((META_REAL)hs);
    META_PAR((long)B * H * L * L * hs > PAR_MIN_WORK, "omp parallel for schedule(dynamic, 1)",
             for (int bh = 0; bh < B * H; bh++) {
                 int b = bh / H, h = bh % H;
                 const META_REAL *q = qkv + (size_t)b * L * C3 + (size_t)h * hs;
                 const META_REAL *k = q + C, *v = q + 2 * C;
                 META_REAL *S = att + (size_t)bh * L * L;
                 META_REAL *y = out + (size_t)b * L * C + (size_t)h * hs;
                 META_FN(meta_gemm)(0, 1, L, L, hs, scale, q, C3, k, C3, 0, S, L);
                 int np = META_FN(n_pre)(plen, b, P);
                 for (int i = 0; i < L; i++) {
                     META_REAL *s = S + (size_t)i * L;
                     int pe = i >= P ? i + 1 : P; /* program keys visible: [P, pe) */
                     META_REAL mx = -INFINITY;
                     for (int j = 0; j < np; j++) mx = s[j] > mx ? s[j] : mx;
                     for (int j = P; j < pe; j++) mx = s[j] > mx ? s[j] : mx;
                     if (mx == -INFINITY) { /* nothing visible */
                         memset(s, 0, sizeof *s * (size_t)L);
                         continue;
                     }
                     META_REAL sum = 0;
                     for (int j = 0; j < np; j++) {
                         s[j] = META_EXP(s[j] - mx);
                         sum += s[j];
                     }
                     for (int j = P; j < pe; j++) {
                         s[j] = META_EXP(s[j] - mx);
                         sum += s[j];
                     }
                     META_REAL inv = 1 / sum;
                     for (int j = 0; j < np; j++) s[j] *= inv;
                     for (int j = np; j < P; j++) s[j] = 0;
                     for (int j = P; j < pe; j++) s[j] *= inv;
                     for (int j = pe; j < L; j++) s[j] = 0;
                 }
                 META_FN(meta_gemm)(0, 0, L, hs, L, 1, S, L, v, C3, 0, y, C);
             });
}

void META_FN(meta_attention_backward)(META_REAL *dqkv, META_REAL *datt, const META_REAL *dout,
                                      const META_REAL *qkv, const META_REAL *att,
                                      const int32_t *plen, int B, int P, int T, int C, int H) {
    int L = P + T, hs = C / H, C3 = 3 * C;
    META_REAL scale = 1 / META_SQRT((META_REAL)hs);
    META_PAR((long)B * H * L * L * hs > PAR_MIN_WORK, "omp parallel for schedule(dynamic, 1)",
             for (int bh = 0; bh < B * H; bh++) {
                 int b = bh / H, h = bh % H;
                 size_t base = (size_t)b * L * C3 + (size_t)h * hs;
                 const META_REAL *q = qkv + base, *k = q + C, *v = q + 2 * C;
                 META_REAL *dq = dqkv + base, *dk = dq + C, *dv = dq + 2 * C;
                 const META_REAL *S = att + (size_t)bh * L * L;
                 META_REAL *dS = datt + (size_t)bh * L * L;
                 const META_REAL *dy = dout + (size_t)b * L * C + (size_t)h * hs;
                 META_FN(meta_gemm)(1, 0, L, hs, L, 1, S, L, dy, C, 1, dv, C3);
                 META_FN(meta_gemm)(0, 1, L, L, hs, 1, dy, C, v, C3, 0, dS, L);
                 /* softmax backward, then the score scale; masked entries have S = 0 and stay 0. */
                 for (int i = 0; i < L; i++) {
                     const META_REAL *s = S + (size_t)i * L;
                     META_REAL *d = dS + (size_t)i * L;
                     META_REAL dot = 0;
                     for (int j = 0; j < L; j++) dot += s[j] * d[j];
                     for (int j = 0; j < L; j++) d[j] = s[j] * (d[j] - dot) * scale;
                 }
                 META_FN(meta_gemm)(0, 0, L, hs, L, 1, dS, L, k, C3, 1, dq, C3);
                 META_FN(meta_gemm)(1, 0, L, hs, L, 1, dS, L, q, C3, 1, dk, C3);
             });
}

double META_FN(meta_crossentropy_forward)(META_REAL *losses, META_REAL *probs,
                                          const META_REAL *logits, const int32_t *targets, int N,
                                          int V, int *count) {
    META_PAR((long)N * V > PAR_MIN_WORK, "omp parallel for schedule(static)",
             for (int n = 0; n < N; n++) {
                 const META_REAL *z = logits + (size_t)n * V;
                 META_REAL *p = probs + (size_t)n * V;
                 META_REAL mx = z[0];
                 for (int j = 1; j < V; j++) mx = z[j] > mx ? z[j] : mx;
                 META_REAL sum = 0;
                 for (int j = 0; j < V; j++) {
                     p[j] = META_EXP(z[j] - mx);
                     sum += p[j];
                 }
                 META_REAL inv = 1 / sum;
                 for (int j = 0; j < V; j++) p[j] *= inv;
                 int t = targets[n];
                 /* log-sum-exp form: exact even when the target's probability underflows. */
                 losses[n] = t < 0 ? 0 : META_LOG(sum) - (z[t] - mx);
             });
    double total = 0;
    int cnt = 0;
    for (int n = 0; n < N; n++)
        if (targets[n] >= 0) {
            total += (double)losses[n];
            cnt++;
        }
    if (count) *count = cnt;
    return cnt ? total / cnt : 0.0;
}

void META_FN(meta_crossentropy_backward)(META_REAL *dlogits, const META_REAL *probs,
                                         const int32_t *targets, int N, int V, META_REAL scale) {
    META_PAR((long)N * V > PAR_MIN_WORK, "omp parallel for schedule(static)",
             for (int n = 0; n < N; n++) {
                 int t = targets[n];
                 if (t < 0) continue;
                 const META_REAL *p = probs + (size_t)n * V;
                 META_REAL *d = dlogits + (size_t)n * V;
                 for (int j = 0; j < V; j++) d[j] += scale * p[j];
                 d[t] -= scale;
             });
}
