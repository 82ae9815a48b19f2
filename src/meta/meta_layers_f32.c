/* Float build of the layer kernels (the model's). */
#include <cblas.h>

#define REAL float
#define FN(n) n
#define GEMM_BLAS cblas_sgemm
#define EXP expf
#define LOG logf
#define SQRT sqrtf
#define TANH tanhf
#include "meta/meta_layers_tmpl.h"
