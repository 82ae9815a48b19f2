/* A toy meta-model batch shared by the meta-model tests: three samples of random weight
 * tokens and program tokens (one target masked), and a small config of any depth. Include it
 * in one test file; the arrays are that file's own. */
#ifndef ITRACR_TESTS_META_TOY_H
#define ITRACR_TESTS_META_TOY_H
#include <stdint.h>

#include "meta/meta.h"
#include "util/rng.h"

enum { B = 3, P = 6, T = 5, V = 9 };
static float pay[B * P * 4];                                /* [B, P, payload 4] */
static int32_t ids[B * P * 2];                              /* [B, P, 2 id fields] */
static int32_t plen[B] = {6, 3, 4}, tok[B * T], tgt[B * T]; /* [B], [B, T], [B, T] */

static MetaConfig toy_cfg(int layers) {
    MetaConfig c = {0};
    c.d_model = 16, c.n_head = 2, c.n_layer = layers, c.mlp_ratio = 2, c.payload_dim = 4;
    c.n_id_fields = 2, c.id_vocab[0] = 3, c.id_vocab[1] = P;
    c.vocab = V, c.max_prefix = P, c.max_prog = T;
    return c;
}

static void toy_fill(uint64_t seed) {
    Rng g;
    rng_seed(&g, seed);
    for (size_t i = 0; i < sizeof pay / sizeof *pay; i++) pay[i] = (float)rng_normal(&g);
    for (int i = 0; i < B * P * 2; i++) ids[i] = (int32_t)rng_below(&g, i % 2 ? P : 3);
    for (int i = 0; i < B * T; i++)
        tok[i] = (int32_t)rng_below(&g, V), tgt[i] = (int32_t)rng_below(&g, V);
    tgt[4] = -1;
}

#endif
