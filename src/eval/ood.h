/* What a meta-model was trained on, and whether a model lies outside it (issue 12): the
 * vocabulary (its size and kind), max_seq_len, residual width, layers and MLP width of the
 * training programs, read from META.safetensors.train.json: the dataset it names ("data",
 * whose manifest.json records the generator's settings and caps), or, for a streamed run or a
 * meta-model without one, the generator's defaults (gen_config_default), which is what the
 * stream draws. `itracr decompile` warns with these reasons when it uses the meta-model. */
#ifndef ITRACR_EVAL_OOD_H
#define ITRACR_EVAL_OOD_H
#include <stdbool.h>
#include <stddef.h>

#include "compiler/model.h"
#include "gen/sampler.h"

typedef struct MetaDomain {
    bool vary;                /* drawn settings (gen --setting general): ranges below */
    int vocab[GEN_MAX_VOCAB]; /* fixed setting: the integer tokens */
    int n_vocab;
    int max_seq_len;          /* fixed setting */
    int vocab_min, vocab_max; /* drawn settings */
    int len_min, len_max;
    int max_residual, max_layers, max_mlp_width; /* the generator's caps */
    char source[300];                            /* where these came from, for the message */
} MetaDomain;

/* Reads the training domain of meta-model META (see above). Returns 0, or non-zero with a
 * message (a sidecar or manifest that exists but cannot be read). */
int meta_domain_read(const char *meta, MetaDomain *d, char *err, size_t errcap);

/* Writes to why ("" when none) every way m lies outside d, "; "-separated; returns how many. */
int meta_domain_check(const MetaDomain *d, const CompiledModel *m, char *why, size_t cap);

#endif
