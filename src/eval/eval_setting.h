/* The setting each evaluated sample was generated in (docs/evaluation.md, "Per-sample
 * settings"): its vocabulary, max_seq_len and causality. A dataset generated with drawn
 * settings (`itracr gen --setting general`) stores one per sample in its shards'
 * sample_setting tensor (docs/dataset.md, "Shard format"); a fixed-setting dataset has one
 * for all, the manifest's. Evaluation decodes, compiles and checks every sample in its own
 * setting, as the generator compiled it. */
#ifndef ITRACR_EVAL_EVAL_SETTING_H
#define ITRACR_EVAL_EVAL_SETTING_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gen/sampler.h"
#include "rasp/value.h"

/* One sample's setting. vocab points either into the GenSetting the caller passed to
 * eval_setting_of or at the dataset-wide vocabulary, so it lives as long as they do. */
typedef struct EvalSetting {
    const Value *vocab; /* [n_vocab] in the setting's order (any order decodes) */
    int n_vocab, max_seq_len;
    bool causal;
    int kind; /* GEN_VOCAB_* of a per-sample setting; 0 for the dataset-wide one */
} EvalSetting;

/* The setting of sample `sample`: row `sample` of settings ([*, GEN_SETTING_COLS], as the
 * shards store them) decoded into *store when settings is not NULL, else the dataset-wide
 * vocab[n_vocab] / max_seq_len, non-causal. Returns 0, or -1 for a row that is not a
 * setting (the shard reader has already refused those). */
int eval_setting_of(const int32_t *settings, int sample, const Value *vocab, int n_vocab,
                    int max_seq_len, GenSetting *store, EvalSetting *out);

#endif
