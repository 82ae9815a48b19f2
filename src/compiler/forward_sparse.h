/* Float64 forward pass on the weights' non-zeros. Compiled weights are almost all zero
 * (one-hot embeddings, a few rows per block), so a product over the non-zeros is one or two
 * orders of magnitude cheaper than dense BLAS at the batch sizes verification uses. The
 * result equals the dense pass up to summation order (the skipped terms are exact zeros).
 * The plan's API is public (model.h); this header adds the unchecked run for forward.c. */
#ifndef ITRACR_COMPILER_FORWARD_SPARSE_H
#define ITRACR_COMPILER_FORWARD_SPARSE_H
#include "compiler/model.h"

/* FwdSparse, fwd_sparse_new/free and model_forward_f64_sparse are public (model.h). */
/* ids: [B, T] (already checked), out: [B, T, n_out]. s keeps the activation buffers between
 * runs, so one FwdSparse serves one thread at a time. Returns 0, or -1 when the buffers
 * cannot be allocated (out untouched: run the dense pass). */
int fwd_sparse_run(const CompiledModel *m, FwdSparse *s, const int *ids, int B, int T, double *out);

#endif
