/* The meta-model (float): parameters, gradients and AdamW state in flat arrays addressed by
 * the named tensor table (meta_config.h), activations for batches up to max_batch.
 *
 *   MetaModel m; meta_model_init(&m, &cfg, seed, max_batch, err, sizeof err);
 *   loop: meta_zero_grad(&m); meta_forward(&m, &batch, &loss, ...); meta_backward(&m, &batch);
 *         meta_clip_grad_norm(&m, 1.0f); meta_adamw_step(&m, &hp, meta_lr_schedule(&s, m.step));
 */
#ifndef ITRACR_META_MODEL_H
#define ITRACR_META_MODEL_H
#include <stddef.h>
#include <stdint.h>

#include "meta/meta_config.h"
#include "meta/meta_net.h"
#include "util/rng.h"

typedef struct MetaModel {
    MetaConfig cfg;
    MetaLayout lay;
    float *params, *grads; /* [n_params] */
    float *adam_m, *adam_v; /* [n_params] AdamW first and second moments */
    long step;              /* AdamW steps taken */
    Rng rng;            /* the stream after initialisation (saved in checkpoints) */
    uint64_t seed;
    MetaActs acts;
    int max_batch;
} MetaModel;

/* GPT-2 style initialisation from seed: matrices and embeddings N(0, 0.02), the two residual
 * projections of each block N(0, 0.02 / sqrt(2 * n_layer)), biases 0, LayerNorm gains 1.
 * Returns 0, or non-zero with a message (invalid config, OOM). */
int meta_model_init(MetaModel *m, const MetaConfig *cfg, uint64_t seed, int max_batch, char *err,
                    size_t errcap);
void meta_model_free(MetaModel *m);

/* Validates the batch, runs the forward pass; *loss = mean cross-entropy over targets that
 * are not -1 (0 if none / no targets). Returns 0, or non-zero with a message. Logits of the
 * program positions are in m->acts.logits [B,T,V]. */
int meta_forward(MetaModel *m, const MetaBatch *b, float *loss, char *err, size_t errcap);
/* Accumulates the gradient of the last forward's loss into m->grads; b must be the batch of
 * that forward. */
void meta_backward(MetaModel *m, const MetaBatch *b);
void meta_zero_grad(MetaModel *m);

typedef struct MetaAdamW {
    float beta1, beta2, eps, weight_decay;
} MetaAdamW;

/* beta1 0.9, beta2 0.95, eps 1e-8, weight decay 0.1. */
MetaAdamW meta_adamw_defaults(void);
/* One AdamW step with bias correction; decoupled weight decay (p -= lr * wd * p) only on the
 * matrices of linear layers (tensors with decay = 1): not on LayerNorm gains/biases, biases or
 * embedding tables. Increments m->step. */
void meta_adamw_step(MetaModel *m, const MetaAdamW *hp, float lr);
/* Global L2 norm of the gradients (summed in a fixed order); if it exceeds max_norm > 0 the
 * gradients are scaled down to max_norm. Returns the norm before clipping. */
float meta_clip_grad_norm(MetaModel *m, float max_norm);

typedef struct MetaSchedule {
    float lr_max, lr_min;
    long warmup; /* steps of linear warm-up from lr_max / warmup to lr_max */
    long total;  /* cosine decay from lr_max (after warm-up) to lr_min at step total */
} MetaSchedule;

/* Learning rate for the step with index `step` (0-based): linear warm-up, cosine decay, then
 * lr_min after total. */
float meta_lr_schedule(const MetaSchedule *s, long step);

#endif
