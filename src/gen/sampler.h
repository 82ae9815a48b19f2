/* Typed random RASP programs, built operation by operation from tokens, indices and the
 * variables defined so far, under Tracr's typing rules (docs/program-tokens.md, "Sampler").
 *
 * Every SOp of a sample feeds the output (the last operation): the sampler keeps count of
 * the variables nothing uses yet and, when the operations left could no longer consume them
 * all, makes the next operation take them as arguments. The value set of every variable is
 * computed as Tracr infers it, which lets the sampler refuse operations that would be
 * constant, the identity, wider than the size caps, or inexact after compilation (a
 * numerical mean feeding anything but a test of x == 0).
 *
 * A sample is a function of (config, seed) only: gen_sample reseeds its own splitmix64
 * generator from the seed it is given, so samples can be drawn in any order or thread. */
#ifndef ITRACR_GEN_SAMPLER_H
#define ITRACR_GEN_SAMPLER_H
#include <stdbool.h>
#include <stdint.h>

#include "gen/program_tokens.h"
#include "rasp/value.h"

#define GEN_MAX_VOCAB 32
#define GEN_MAX_VALS 64 /* value-set size the sampler can track per variable */

/* SOp kinds the sampler draws (op weights are indexed by these). */
enum { GEN_K_MAP, GEN_K_SEQMAP, GEN_K_LINSEQMAP, GEN_K_AGGREGATE, GEN_K_SELWIDTH, GEN_K_COUNT };

typedef struct GenConfig {
    int min_ops, max_ops;       /* SOps per program (Selects not counted); default 1..8 */
    int vocab[GEN_MAX_VOCAB];   /* integer tokens; default {0,1,2,3,4} */
    int n_vocab;
    int max_seq_len;            /* default 5 */
    double op_weight[GEN_K_COUNT]; /* relative chance of each SOp kind */
    double pred_weight[8];      /* Select predicates in Pred order (EQ..FALSE) */
    double p_numerical;         /* chance that an op which may be numerical is made numerical */
    double p_reuse_select;      /* chance to reuse an existing Select instead of a new one */
    bool categorical_only;      /* no numerical SOps at all */
    int max_values;             /* value-set size of a categorical SOp (<= GEN_MAX_VALS) */
    int max_residual;           /* residual width D */
    int max_layers;             /* transformer layers */
    int max_mlp_width;          /* MLP hidden units per layer */
    int max_tries;              /* fresh starts per sample before giving up */
} GenConfig;

void gen_config_default(GenConfig *c);
/* Checks the ranges (ops 1..15, vocab 1..32 distinct, max_seq_len 1..64, weights >= 0 with
 * some positive, caps positive). Returns 0 or non-zero with a message. */
int gen_config_check(const GenConfig *c, char *err, size_t errcap);

/* Why an attempt was abandoned (counted, for tuning and reports). */
enum {
    GEN_R_STUCK,      /* no valid operation found for a step */
    GEN_R_LAYERS,     /* too many layers */
    GEN_R_MLP,        /* a layer's MLP too wide */
    GEN_R_RESIDUAL,   /* residual too wide */
    GEN_R_NO_TOKENS,  /* the output does not depend on tokens (Tracr refuses it) */
    GEN_R_HEAD,       /* a categorical Aggregate wider than key_size (Tracr's assembly fails) */
    GEN_R_COUNT
};

typedef struct GenSample {
    PtOp rows[PT_MAX_VARS]; /* canonical rows */
    int n_rows;
    int n_sops;
    int16_t tokens[PT_ROWS * PT_COLS];
    /* Sizes Tracr will give the compiled model (as the sampler predicts them). */
    int residual, layers, mlp_width, key_size;
} GenSample;

typedef struct GenSampler GenSampler;

/* Returns NULL (with a message) for a bad config or a broken lambda library. */
GenSampler *gen_sampler_new(const GenConfig *c, char *err, size_t errcap);
void gen_sampler_free(GenSampler *s);
const GenConfig *gen_sampler_config(const GenSampler *s);
/* Draws the sample of `seed`. Returns 0, or non-zero when max_tries fresh starts all failed
 * (the caller moves on to another seed). */
int gen_sample(GenSampler *s, uint64_t seed, GenSample *out);
/* Abandoned attempts by reason since gen_sampler_new: counts[GEN_R_COUNT]. */
void gen_sampler_rejections(const GenSampler *s, long *counts);

/* splitmix64: the generator, and the seed of sample i of a run with seed `base`. */
uint64_t gen_splitmix64(uint64_t *state);
uint64_t gen_sample_seed(uint64_t base, uint64_t i);

#endif
