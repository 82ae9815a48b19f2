/* Float build of the layer kernels (the model's). */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* The clamps below are float selects; GCC vectorises them only when it may assume that a
 * comparison never traps, which holds here (nothing reads the floating-point flags). */
#pragma GCC optimize("no-trapping-math")

/* exp with ~1 ulp error on [-87, 88] (Cephes-style range reduction and polynomial), written
 * so that GCC vectorises the loops that inline it (libm's expm1f/tanhf are scalar calls and
 * were 15% of a training step in GELU). */
static inline float meta_fast_expf(float x) {
    /* written so that NaN clamps too (every comparison with NaN is false): a NaN reaching the
     * int conversion below would be undefined behaviour */
    x = x > 88.0f ? 88.0f : (x >= -87.0f ? x : -87.0f);
    /* round to nearest via the 1.5 * 2^23 trick: no libm call in the loop */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* tanh(u) = 1 - 2 / (exp(2u) + 1); absolute error ~1e-7, which is all GELU needs. */
static inline float meta_fast_tanhf(float u) {
    u = u < -9.0f ? -9.0f : (u > 9.0f ? 9.0f : u);
    return 1.0f - 2.0f / (meta_fast_expf(2.0f * u) + 1.0f);
}

#include "meta/meta.h" /* first: it expands the declarations with META_REAL of its own */

#define META_REAL float
#define META_FN(n) n
#define META_GEMM_BLAS cblas_sgemm
#define META_GEMV_BLAS cblas_sgemv
#define META_EXP expf
#define META_LOG logf
#define META_SQRT sqrtf
#define META_TANH meta_fast_tanhf
#include "meta/meta_layers_tmpl.h"
