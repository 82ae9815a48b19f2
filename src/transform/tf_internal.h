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
void tf_mm(double *C, const double *A, const double *B, int m, int k, int n, bool ta, bool tb, double beta);

#endif
