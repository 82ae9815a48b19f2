/* The project's own PRNG (xoshiro256** seeded through splitmix64), so the meta-model's
 * initialisation and sampling and the model transforms are identical on every platform, and
 * the state can be saved in a checkpoint. */
#ifndef ITRACR_UTIL_RNG_H
#define ITRACR_UTIL_RNG_H
#include <stdint.h>

typedef struct Rng {
    uint64_t s[4];
} Rng;

/* One step of splitmix64 on *state: a well-mixed 64-bit value per call. Used alone where a
 * whole generator state is not needed (per-sample seeds, input sampling). */
uint64_t rng_splitmix64(uint64_t *state);
void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_next(Rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform(Rng *r);
/* Standard normal (Box-Muller, one value per call: no hidden cached state to save). */
double rng_normal(Rng *r);
/* Uniform integer in [0, n), n > 0. */
uint64_t rng_below(Rng *r, uint64_t n);

#endif
