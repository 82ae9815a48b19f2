/* The meta-model's own PRNG (xoshiro256** seeded through splitmix64), so initialisation and
 * sampling are identical on every platform and can be saved in a checkpoint. */
#ifndef ITRACR_META_RNG_H
#define ITRACR_META_RNG_H
#include <stdint.h>

typedef struct MetaRng {
    uint64_t s[4];
} MetaRng;

void meta_rng_seed(MetaRng *r, uint64_t seed);
uint64_t meta_rng_next(MetaRng *r);
/* Uniform in [0, 1) with 53 random bits. */
double meta_rng_uniform(MetaRng *r);
/* Standard normal (Box-Muller, one value per call: no hidden cached state to save). */
double meta_rng_normal(MetaRng *r);
/* Uniform integer in [0, n), n > 0. */
uint64_t meta_rng_below(MetaRng *r, uint64_t n);

#endif
