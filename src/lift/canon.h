/* Canonicalising the basis of a Tracr model that was rotated, permuted and rescaled
 * (src/transform: residual stream times an unknown orthogonal R, heads and MLP hidden units
 * permuted, hidden units positively rescaled), so that lift can read it (docs/lift.md,
 * "Rotated models").
 *
 * In a Tracr model every residual direction is written by exactly one source: the token and
 * position embeddings (one-hot rows, plus the shared `one` direction on every token row),
 * or one block, and every block writes its output SOp's directions in a fixed shape. The
 * canonicaliser finds those directions ("atoms", unit vectors in the given model's
 * coordinates) source by source in layer order: position rows, token rows minus `one`,
 * each head's value-output images of the atoms it reads, each MLP block's output rows once
 * its hidden units are recognised and their scales undone. Every reader must lie in the span
 * of the atoms known before its block, every writer in the span after it, and the atoms must
 * be orthonormal and D in number; otherwise the model is refused naming the block.
 *
 * Two facts are not in the weights up to the proof: the sign of `one` (the token rows fix it
 * only up to a reflection) and the sign of each numerical direction written by a discretising
 * or linear-sequence MLP. A `variant` picks them (bit 0: `one`, bit 1 + i: the i-th such
 * numerical direction); the caller tries variants and keeps the one lift accepts and whose
 * program computes the given model's function. */
#ifndef ITRACR_LIFT_CANON_H
#define ITRACR_LIFT_CANON_H
#include <stddef.h>

#include "compiler/model.h"

/* Relative tolerance of "lies in the span", "unit norm" and "orthogonal" (float32 weights of
 * a rotated model carry ~1e-6 relative rounding; Tracr's structure is exact). */
#define CANON_TOL 1e-4
/* Canonical weights below this fraction of their row's (writers) or column's (readers)
 * largest magnitude are float32 residue of the rotation and are set to 0. */
#define CANON_ZERO 2e-5
/* At most this many sign-ambiguous numerical directions are resolved by trial. */
#define CANON_MAX_AMBIGUOUS 6

typedef struct CanonInfo {
    int n_ambiguous; /* numerical directions of unknown sign met (bits 1.. of variant) */
    int n_found;     /* directions found before the refusal (D when none): how far it got */
} CanonInfo;

/* Rewrites m into the basis its weights are Tracr-sparse in, hidden units in Tracr's block
 * order with their scales undone. Returns 0 with *out (free with compiled_model_free), or 1
 * with the reason in err; info is filled either way. */
int lift_canon(const CompiledModel *m, unsigned variant, CompiledModel **out, CanonInfo *info,
               char *err, size_t errcap);

#endif
