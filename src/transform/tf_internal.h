/* Helpers shared by the transforms (not part of transform.h's interface). */
#ifndef ITRACR_TRANSFORM_TF_INTERNAL_H
#define ITRACR_TRANSFORM_TF_INTERNAL_H
#include <stdbool.h>
#include <stdint.h>

#include "transform/transform.h"

/* residual_labels[i] = "PREFIX:i" (the compiler's labels no longer name the directions). */
void tf_relabel_residual(CompiledModel *m, const char *prefix);
/* Appends "NAME(seed=S)" to m->transform. */
void tf_note(CompiledModel *m, const char *name, uint64_t seed);

/* C [m, n] = beta C + op(A) op(B), row-major, op(A) [m, k], op(B) [k, n] (cblas_dgemm). */
void tf_mm(double *C, const double *A, const double *B, int m, int k, int n, bool ta, bool tb,
           double beta);

/* A ragged batch: B sequences, sequence s has len[s] rows from row off[s] (R rows in all).
 * Per head, attention matrices lie back to back, [len[s], len[s]] each, head_stride apart. */
typedef struct TfBatch {
    int B, R;
    const int *len, *off;
} TfBatch;
/* Multi-head softmax attention (Tracr's: scores q.k / sqrt(ks), causal mask when asked):
 * q, k, v [R, H*ks] -> att (the probabilities) and z [R, H*ks]. */
void tf_attn_forward(const TfBatch *b, int H, int ks, bool causal, const double *q, const double *k,
                     const double *v, double *att, size_t head_stride, double *z);
/* Its backward: gz [R, H*ks] -> gq, gk, gv [R, H*ks] (overwritten); gA [max len] scratch. */
void tf_attn_backward(const TfBatch *b, int H, int ks, const double *q, const double *k,
                      const double *v, const double *att, size_t head_stride, const double *gz,
                      double *gq, double *gk, double *gv, double *gA);

#endif
