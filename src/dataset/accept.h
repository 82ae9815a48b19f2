/* Acceptance of one generated sample: draw the program of a seed, compile it, check the
 * compiled model against the interpreter, reject degenerate programs, and make the
 * sample's weight tokens and hashes. Each rejection has a reason, counted by the driver.
 *
 * Checks, in order (the first failure is the reason):
 *   sampler      gen_sample found no program for the seed
 *   build        the canonical rows do not make a program (a bug; reported, not aborted)
 *   eval_error   the interpreter raised on every test input
 *   constant     the output has one value (or only None) over all test inputs
 *   identity     the output equals the input tokens on every test input
 *   mostly_none  more than half of the output positions are None
 *   const_op     (when reject_const_ops, the default) some operation never varies
 *   compile      compile_program refused it
 *   caps         the model is wider or deeper than the size caps
 *   mismatch     the float64 forward pass disagrees with the interpreter on a test input
 *   transform    (with a transform, AccSettings.transform) the transformed model no longer
 *                matches the interpreter on the test inputs (distill: the student matches
 *                the compiled model on fewer than 99% of the inputs), or the transform failed
 *   wtokens      the weight tokens exceed their caps
 * The checks up to const_op need only the interpreter, so they run before compiling (a
 * sample is accepted when every check passes; the order only decides the reason counted).
 * Test inputs: every input up to max_seq_len when there are at most n_test of them, else
 * n_test random ones (lengths spread evenly, drawn from the sample's seed), over the
 * vocabulary in ascending order (the compiled model's token order). */
#ifndef ITRACR_DATA_ACCEPT_H
#define ITRACR_DATA_ACCEPT_H
#include <stdbool.h>
#include <stdint.h>

#include "compiler/model.h"
#include "dataset/weight_tokens.h"
#include "gen/sampler.h"

enum {
    ACC_OK,
    ACC_R_SAMPLER,
    ACC_R_BUILD,
    ACC_R_COMPILE,
    ACC_R_CAPS,
    ACC_R_EVAL,
    ACC_R_MISMATCH,
    ACC_R_CONSTANT,
    ACC_R_IDENTITY,
    ACC_R_MOSTLY_NONE,
    ACC_R_CONST_OP,
    ACC_R_WTOKENS,
    ACC_R_TRANSFORM,
    ACC_R_COUNT
};
const char *acc_reason_name(int r); /* "sampler", "compile", ... ("ok" for ACC_OK) */

/* Per-sample metadata columns (the shard's sample_meta). */
enum {
    ACC_META_VOCAB,
    ACC_META_MAX_SEQ_LEN,
    ACC_META_RESIDUAL,
    ACC_META_LAYERS,
    ACC_META_OPS,
    ACC_META_ROWS,
    ACC_META_MLP,
    ACC_META_HEADS,
    ACC_META_COLS
};
extern const char *const acc_meta_names[ACC_META_COLS];

/* Transforms of the compiled model before its weight tokens are made (src/transform,
 * docs/transforms.md), seeded by the sample's seed. The model hash stays the stock model's,
 * so duplicates are still found by program and compiled model. */
typedef enum {
    ACC_TF_NONE,
    ACC_TF_ROTATE,   /* heads and hidden units permuted, then a Haar rotation of the residual */
    ACC_TF_COMPRESS, /* a learned projection to ceil(D/2) (tf_compress) */
    ACC_TF_DISTILL,  /* a student of the same shape trained on the outputs (tf_distill); kept
                      * when it matches on >= 99% of the inputs up to max_seq_len */
    ACC_TF_COUNT
} AccTransform;
const char *acc_transform_name(int t);            /* "none", "rotate", "compress", "distill" */
int acc_transform_parse(const char *s, int *out); /* 0, or -1 for an unknown name */
/* The transformed copy of m that the generator encodes for a sample of seed `seed`
 * (transform != ACC_TF_NONE; steps: AccSettings.compress_steps), in *out. *accepted: false
 * for a student that misses the acceptance bar (the generator rejects those). The same
 * model, seed and steps give the same copy, which is how evaluation rebuilds the weights a
 * sample's tokens were read from. Returns 0, or non-zero with a message. */
int acc_transform_model(const CompiledModel *m, int transform, int steps, uint64_t seed,
                        CompiledModel **out, bool *accepted, char *err, size_t errcap);

typedef struct AccSettings {
    int n_test;            /* test inputs (64) */
    bool reject_const_ops; /* reject samples with an operation that never varies (default) */
    WtOptions wt;
    int transform;      /* AccTransform (ACC_TF_NONE) */
    int compress_steps; /* Adam steps of ACC_TF_COMPRESS (300) and ACC_TF_DISTILL */
} AccSettings;

void acc_settings_default(AccSettings *s);

typedef struct AccResult {
    int reason;       /* ACC_OK or ACC_R_* */
    char detail[200]; /* why, for rejections */
    int16_t tokens[PT_ROWS * PT_COLS];
    int32_t meta[ACC_META_COLS];
    uint64_t prog_hash[2];             /* of tokens */
    uint64_t model_hash[2];            /* model_hash128 */
    bool has_const_op;                 /* some SOp has one value over all test inputs */
    long sampler_rejects[GEN_R_COUNT]; /* the sampler's abandoned attempts for this seed */
    WtTokens wt;                       /* valid when reason == ACC_OK */
    GenSample sample;                  /* acc_sample's program */
    bool skipped;                      /* the driver skipped acc_finish (a known duplicate) */
    bool tf_attempted;                 /* a transform ran on this sample */
    double tf_seconds;                 /* its wall time (transform + its check) */
} AccResult;

void acc_result_init(AccResult *r);
void acc_result_free(AccResult *r);

/* Hash of a program-token table (two independent 64-bit halves). */
void acc_tokens_hash(const int16_t *tokens, uint64_t out[2]);

/* Runs the whole pipeline for seed with sampler s (one sampler per thread). r must be
 * initialised; its weight-token buffers are reused. Returns r->reason. */
int acc_run(GenSampler *s, const AccSettings *st, uint64_t seed, AccResult *r);
/* acc_run in two steps: acc_sample draws the program and its tokens and hash (reason
 * ACC_R_SAMPLER or ACC_OK), acc_finish does the rest, so that a caller can skip the
 * compilation of a program it already has. */
int acc_sample(GenSampler *s, uint64_t seed, AccResult *r);
int acc_finish(GenSampler *s, const AccSettings *st, uint64_t seed, AccResult *r);

/* The checks after sampling, for a program built elsewhere (tests): p and its compiled model
 * m. Fills reason, detail, has_const_op. */
int acc_check_model(const RaspProgram *p, const CompiledModel *m, const AccSettings *st,
                    uint64_t seed, AccResult *r);

#endif
