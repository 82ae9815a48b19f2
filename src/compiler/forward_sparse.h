/* Float64 forward pass on the weights' non-zeros. Compiled weights are almost all zero
 * (one-hot embeddings, a few rows per block), so a product over the non-zeros is one or two
 * orders of magnitude cheaper than dense BLAS at the batch sizes verification uses. The
 * result equals the dense pass up to summation order (the skipped terms are exact zeros).
 * Internal to the compiler: model_forward_f64 and compile_verify use it. */
#ifndef ITRACR_COMPILER_FORWARD_SPARSE_H
#define ITRACR_COMPILER_FORWARD_SPARSE_H
#include "compiler/model.h"

typedef struct FwdSparse FwdSparse;

/* The non-zeros of every weight matrix of m, or NULL when a weight is not finite or is so
 * large that skipping a 0 * w term could hide an overflow (use the dense pass then). */
FwdSparse *fwd_sparse_new(const CompiledModel *m);
void fwd_sparse_free(FwdSparse *s);
/* ids: [B, T] (already checked), out: [B, T, n_out]. s keeps the activation buffers between
 * runs, so one FwdSparse serves one thread at a time. */
void fwd_sparse_run(const CompiledModel *m, FwdSparse *s, const int *ids, int B, int T, double *out);
/* model_forward_f64 with a prepared plan (s NULL: the dense pass), for repeated batches. */
int model_forward_f64_sparse(const CompiledModel *m, FwdSparse *s, const int *token_ids, int B, int T,
                             double *out, char *err, size_t errcap);

#endif
