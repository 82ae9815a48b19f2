/* Training the meta-model on weight tokens -> flat program tokens (prog_codec.h).
 *
 * Data order is a function of (seed, step) only: the sample at global position g = step * B
 * + b is perm_e[g mod n] with e = g / n and perm_e a Fisher-Yates permutation drawn from
 * seed and e. So a run resumed from a checkpoint at step s sees exactly the batches of an
 * uninterrupted run, and with the bit-identical optimizer state of the checkpoint
 * (meta_checkpoint.h) its loss curve is identical. */
#ifndef ITRACR_META_TRAIN_H
#define ITRACR_META_TRAIN_H
#include <stddef.h>
#include <stdint.h>

#include "data/weight_tokens.h"
#include "meta/meta_model.h"
#include "meta/train_data.h"

typedef struct TrainConfig {
    /* model */
    int d_model, n_layer, n_head, mlp_ratio;
    int max_prefix;          /* weight tokens per sample at most (longer samples are dropped) */
    /* optimisation */
    int batch;
    double lr, lr_min;       /* cosine from lr to lr_min over steps, after warmup */
    long warmup, steps;
    double weight_decay, clip;
    uint64_t seed;           /* initialisation and data order */
    /* bookkeeping */
    long eval_every, ckpt_every, log_every;
    int eval_tf;             /* validation samples for teacher-forced token accuracy */
    int eval_decode;         /* validation samples for decoded exact match (greedy) */
    WtOptions wt;            /* the weight-token options of the data (for decompile) */
} TrainConfig;

void train_config_default(TrainConfig *c);
/* The meta-model config for the data: payload/id sizes from weight_tokens.h, vocabulary and
 * max_prog from prog_codec.h. */
MetaConfig train_meta_config(const TrainConfig *c);
/* One-line JSON of every field (malloc'ed). */
char *train_config_to_json(const TrainConfig *c);
/* Overrides the fields named in json (an object with a subset of the keys of
 * train_config_to_json); unknown keys are an error. Returns 0 or non-zero with a message. */
int train_config_from_json(const char *json, TrainConfig *c, char *err, size_t errcap);
/* Checks ranges. Returns 0 or non-zero with a message. */
int train_config_check(const TrainConfig *c, char *err, size_t errcap);

typedef struct Trainer {
    TrainConfig tc;
    MetaModel m;
    const TrainData *data;
    int max_batch;
    /* the batch being built */
    float *payload;     /* [max_batch, max_prefix, F] */
    int32_t *ids;       /* [max_batch, max_prefix, K] */
    int32_t *plen;      /* [max_batch] */
    int32_t *tokens, *targets; /* [max_batch, PC_MAX_LEN] */
    int P, T;           /* of the last batch built */
    long tok_count;     /* weight + program tokens of the last batch */
    long perm_epoch;    /* epoch of perm (-1: none) */
    int *perm;          /* [data->n] */
} Trainer;

/* A fresh model (meta_model_init with tc->seed). data must outlive the trainer. */
int trainer_init(Trainer *t, const TrainConfig *tc, const TrainData *data, char *err, size_t errcap);
/* The model and optimizer state of a checkpoint (its config must match tc's model fields). */
int trainer_init_resume(Trainer *t, const TrainConfig *tc, const TrainData *data, const char *ckpt,
                        char *err, size_t errcap);
void trainer_free(Trainer *t);

/* One optimizer step on the batch of step t->m.step. *loss = its mean token loss (before the
 * update), *lr the learning rate used. Returns 0 or non-zero with a message. */
int trainer_step(Trainer *t, float *loss, float *lr, char *err, size_t errcap);
/* Sample index at global position g (data order, see above). */
int trainer_sample_at(Trainer *t, long g);

/* Validation on the first n_tf samples of d (teacher-forced next-token accuracy over program
 * tokens, EOS included) and greedy constrained decoding of the first n_dec (exact match of
 * the whole sequence). Either count may be 0 (its result is then 0). */
int trainer_eval(Trainer *t, const TrainData *d, int n_tf, int n_dec, double *tok_acc,
                 double *exact, char *err, size_t errcap);

/* Atomic checkpoint: meta_checkpoint_save to "<path>.tmp", then rename over path. With the
 * environment variable ITRACR_TEST_CRASH_IN_CHECKPOINT=1 the process _exit(3)s between the
 * two (a simulated crash for tests/cli/train_resume.sh). */
int trainer_save(const Trainer *t, const char *path, char *err, size_t errcap);

#endif
