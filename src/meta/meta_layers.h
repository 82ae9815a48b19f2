/* The meta-model's layers, llm.c style: outputs first, then inputs, then sizes; every
 * backward ACCUMULATES (+=) into its gradient outputs. Each function exists in float (the
 * model) and, with the suffix _f64, in double (gradient checks against finite differences).
 * Matrix products go through OpenBLAS or the plain loops (meta_blas.h); results do not
 * depend on the number of threads. */
#ifndef ITRACR_META_LAYERS_H
#define ITRACR_META_LAYERS_H
#include <stddef.h>
#include <stdint.h>

#include "meta/meta_blas.h"

#define META_REAL float
#define META_FN(n) n
#include "meta/meta_layers_decl.h"
#undef META_REAL
#undef META_FN

#define META_REAL double
#define META_FN(n) n##_f64
#include "meta/meta_layers_decl.h"
#undef META_REAL
#undef META_FN

#endif
