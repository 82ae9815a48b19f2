/* A hash of a compiled model for de-duplicating a dataset: two programs whose compiled
 * models are the same up to the naming of residual directions, the order of hidden units,
 * the order of heads in a layer and the basis inside a head get the same hash.
 *
 * Hashed: the config, the token of each embedding row and the value of each unembedding
 * column (the encoders), and the weights rounded to 2^-16, with residual directions in
 * wt_residual_order's name-independent order; per layer, each head as its bilinear forms
 * Q_h K_h^T and V_h O_h ([D, D], invariant to the head's internal basis) and each MLP hidden
 * unit as its (W1 column, W2 row); heads and units enter as multisets. Residual labels,
 * layer info and the program source are never read. */
#ifndef ITRACR_DATA_MODEL_HASH_H
#define ITRACR_DATA_MODEL_HASH_H
#include <stdint.h>

#include "compiler/model.h"

/* out[2]: two independent 64-bit hashes (128 bits). Returns 0, or -1 on OOM. */
int model_hash128(const CompiledModel *m, uint64_t out[2]);

#endif
