/* Included twice by meta/meta.h (float, then double with suffix _f64); no include guard. */

/* C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C, row-major; op(X) = X^T when the trans
 * flag is set (then A is stored [K,M], B is stored [N,K]). beta == 0 ignores C's contents. */
void META_FN(meta_gemm)(int trans_a, int trans_b, int M, int N, int K, META_REAL alpha,
                        const META_REAL *A, int lda, const META_REAL *B, int ldb, META_REAL beta,
                        META_REAL *C, int ldc);

/* out[N,OC] (=, or += when accumulate) inp[N,IC] @ w[OC,IC]^T + bias[OC] (bias may be NULL). */
void META_FN(meta_linear_forward)(META_REAL *out, const META_REAL *inp, const META_REAL *w,
                                  const META_REAL *bias, int N, int IC, int OC, int accumulate);
/* dinp[N,IC] += dout @ w; dw[OC,IC] += dout^T @ inp; db[OC] += column sums of dout[N,OC].
 * dinp and db may be NULL. */
void META_FN(meta_linear_backward)(META_REAL *dinp, META_REAL *dw, META_REAL *db,
                                   const META_REAL *dout, const META_REAL *inp, const META_REAL *w,
                                   int N, int IC, int OC);

/* out[n, :] += table[idx[n * idx_stride], :]; out [N,C], table [V,C]. */
void META_FN(meta_embedding_forward)(META_REAL *out, const int32_t *idx, int idx_stride,
                                     const META_REAL *table, int N, int C);
/* dtable[idx[n * idx_stride], :] += dout[n, :] (serial: rows may repeat). */
void META_FN(meta_embedding_backward)(META_REAL *dtable, const META_REAL *dout, const int32_t *idx,
                                      int idx_stride, int N, int C);

/* out[N,C] = (inp - mean) * rstd * g + b per row; mean, rstd [N] are kept for backward. */
void META_FN(meta_layernorm_forward)(META_REAL *out, META_REAL *mean, META_REAL *rstd,
                                     const META_REAL *inp, const META_REAL *g, const META_REAL *b,
                                     int N, int C);
void META_FN(meta_layernorm_backward)(META_REAL *dinp, META_REAL *dg, META_REAL *db,
                                      const META_REAL *dout, const META_REAL *inp,
                                      const META_REAL *g, const META_REAL *mean,
                                      const META_REAL *rstd, int N, int C);

/* GELU, tanh approximation, elementwise over n values. */
void META_FN(meta_gelu_forward)(META_REAL *out, const META_REAL *inp, size_t n);
void META_FN(meta_gelu_backward)(META_REAL *dinp, const META_REAL *inp, const META_REAL *dout,
                                 size_t n);

/* out = a + b over n values; backward: da += dout, db += dout. */
void META_FN(meta_residual_forward)(META_REAL *out, const META_REAL *a, const META_REAL *b,
                                    size_t n);
void META_FN(meta_residual_backward)(META_REAL *da, META_REAL *db, const META_REAL *dout, size_t n);

/* Multi-head attention with the prefix-LM mask over sequences of L = P + T positions: the
 * first P are weight tokens, of which only the first plen[b] are real. Query i may see key j
 * iff j < min(plen[b], P), or P <= j <= i (program keys, causal; program queries only).
 * A query with no visible key outputs zeros.
 * out [B,L,C]; att [B,H,L,L] softmax probabilities (kept for backward, 0 where masked);
 * qkv [B,L,3C] (q of all heads, then k, then v; head h uses columns h*C/H ...). */
void META_FN(meta_attention_forward)(META_REAL *out, META_REAL *att, const META_REAL *qkv,
                                     const int32_t *plen, int B, int P, int T, int C, int H);
/* dqkv [B,L,3C] +=; datt [B,H,L,L] is scratch (overwritten). */
void META_FN(meta_attention_backward)(META_REAL *dqkv, META_REAL *datt, const META_REAL *dout,
                                      const META_REAL *qkv, const META_REAL *att,
                                      const int32_t *plen, int B, int P, int T, int C, int H);

/* Softmax cross-entropy per row of logits [N,V]: probs [N,V] = softmax, losses[n] =
 * -log probs[n, targets[n]], or 0 where targets[n] == -1 (ignored). Returns the mean loss
 * over the rows not ignored (0 if none) and their number in *count. Targets must be in
 * [-1, V). */
double META_FN(meta_crossentropy_forward)(META_REAL *losses, META_REAL *probs,
                                          const META_REAL *logits, const int32_t *targets, int N,
                                          int V, int *count);
/* dlogits [N,V] += scale * (probs - onehot(target)) on rows not ignored. */
void META_FN(meta_crossentropy_backward)(META_REAL *dlogits, const META_REAL *probs,
                                         const int32_t *targets, int N, int V, META_REAL scale);
