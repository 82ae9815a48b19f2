/* Double build of the layer kernels, for gradient checks against finite differences. */
#include <cblas.h>

#include "meta/meta.h" /* first: it expands the declarations with META_REAL of its own */

#define META_REAL double
#define META_FN(n) n##_f64
#define META_GEMM_BLAS cblas_dgemm
#define META_GEMV_BLAS cblas_dgemv
#define META_EXP exp
#define META_LOG log
#define META_SQRT sqrt
#define META_TANH tanh
#include "meta/meta_layers_tmpl.h"
