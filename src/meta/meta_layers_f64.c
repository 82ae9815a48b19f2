/* Double build of the layer kernels, for gradient checks against finite differences. */
#include <cblas.h>

#define REAL double
#define FN(n) n##_f64
#define GEMM_BLAS cblas_dgemm
#define GEMV_BLAS cblas_dgemv
#define EXP exp
#define LOG log
#define SQRT sqrt
#define TANH tanh
#include "meta/meta_layers_tmpl.h"
