/* A sparse float64 forward pass for verifying freshly compiled models.
 *
 * Tracr's weights and residual streams are mostly zeros (one-hot categorical directions), so
 * x @ W is done as: for each nonzero x[i, d], add x[i, d] * (the nonzeros of row d of W).
 * Same operations as model_forward_f64 (compiler/forward.c), summed in another order: the
 * results agree to rounding (tests/test_gen_driver.c checks it). Several times faster on the
 * dataset's small models than dense BLAS calls. */
#ifndef ITRACR_DATA_FAST_FORWARD_H
#define ITRACR_DATA_FAST_FORWARD_H
#include "compiler/model.h"

/* One matrix [rows, cols] by rows: row r's nonzeros are col[start[r] .. start[r+1]-1]. */
typedef struct FfSparse {
    int rows, cols;
    int *start;   /* [rows + 1] */
    int *col;     /* [nnz] */
    double *val;  /* [nnz] */
    int n_active; /* rows with a nonzero: only these are looked at in x */
    int *active;  /* [n_active] */
} FfSparse;

typedef struct FfModel {
    const CompiledModel *m;
    FfSparse *mats; /* per layer q, k, v, o, w1, w2; then unembed: [6 * num_layers + 1] */
} FfModel;

/* Returns 0, or -1 on OOM. m must outlive f. */
int ff_build(const CompiledModel *m, FfModel *f);
void ff_free(FfModel *f);
/* ids [B, T] (BOS first, checked like model_forward_f64); out [B, T, n_out]. Returns 0, or
 * non-zero with a message. */
int ff_forward(const FfModel *f, const int *ids, int B, int T, double *out, char *err, size_t errcap);

#endif
