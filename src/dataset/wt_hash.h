/* Small hashing helpers shared by the weight tokens and the compiled-model hash. */
#ifndef ITRACR_DATA_WT_HASH_H
#define ITRACR_DATA_WT_HASH_H
#include <math.h>
#include <stdint.h>

/* splitmix64's finaliser: a bijective 64-bit mix. */
static inline uint64_t wt_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Order-dependent combination. */
static inline uint64_t wt_combine(uint64_t h, uint64_t x) {
    return wt_mix64(h ^ (x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)));
}

/* A weight rounded to 2^-16 (compiled weights are sums of a few exact constants, so two
 * compilations of the same model agree far below this; -0.0 and 0.0 are the same). */
static inline int64_t wt_quantize(double w) {
    if (w == 0.0) return 0; /* most weights: skip llround */
    if (!(fabs(w) < 1e12)) return w > 0 ? INT64_MAX : w < 0 ? INT64_MIN : 0x7ff8;
    return (int64_t)llround(w * 65536.0);
}

#endif
