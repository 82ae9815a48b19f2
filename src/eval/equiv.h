/* Functional equivalence of a predicted program with the true one, judged by their compiled
 * models (docs/evaluation.md).
 *
 * The prediction is decoded from tokens, compiled with the true model's vocabulary and
 * max_seq_len (the other compile options are the caller's), and both models are run, float64,
 * on every input of length 1..max_seq_len when there are at most max_exhaustive of them,
 * else on n_random seeded random inputs (length uniform in 1..N, tokens uniform). Outputs
 * are compared at every position: categorical decoded values by val_eq, numerical raw
 * outputs within |p - t| <= atol + rtol |t|. When one output is categorical and the other
 * numerical, the categorical value must be a number and is compared with the same
 * tolerance. Positions where the true program's output is None (or inputs where its
 * interpreter raises) are not compared: Tracr's model has no None, and its output there is
 * whatever the weights give, so two programs that agree wherever the truth is defined could
 * otherwise differ. That needs the true RaspProgram; the interpreter only runs on inputs
 * where the models disagree. A prediction that does not decode or does not compile is not
 * equivalent and says so in its status. */
#ifndef ITRACR_EVAL_EQUIV_H
#define ITRACR_EVAL_EQUIV_H
#include <stdbool.h>
#include <stdint.h>

#include "compiler/model.h"
#include "eval/metrics.h"

typedef struct EquivOptions {
    long max_exhaustive; /* 100000 */
    int n_random;        /* 10000 */
    uint64_t seed;       /* 1 */
    double rtol, atol;   /* 0.005, 1e-5 */
    bool count_all;      /* false: stop at the first differing input; true: run every
                              input and count the differing ones (n_different) */
    /* The truth's forward pass in place of model_forward_f64(truth), NULL for that: the same
     * contract (ids [B, T] in truth's token ids, BOS first; out [B, T, truth->n_out]; 0 or
     * non-zero with a message). For weights that are not a compiled model's, e.g. a BERT
     * encoder read through its adapter (bert/bert.h): truth then supplies only the token and
     * output tables. */
    int (*truth_forward)(void *ctx, const int *ids, int B, int T, double *out, char *err,
                         size_t errcap);
    void *truth_ctx;
} EquivOptions;

void equiv_options_default(EquivOptions *o);

typedef struct EquivResult {
    EvalFunc status;  /* NO_DECODE, NO_COMPILE, DIFFERENT, EQUIVALENT, TRUE_FAILED */
    bool exact;       /* the two tables are identical (then no input is run) */
    long n_inputs;    /* inputs run (up to and including the first difference) */
    long n_undefined; /* positions not compared: the truth is None there */
    long n_different; /* inputs with a differing position (count_all; else 0 or 1) */
    bool exhaustive;  /* the inputs were every input up to max_seq_len */
    char detail[512]; /* the decode/compile error, or the first differing input */
} EquivResult;

/* Compares two compiled models over the inputs described above. The models must share the
 * token vocabulary and max_seq_len. truth_prog (may be NULL: every position is compared) is
 * the program truth was compiled from. Returns 0 with r->status EQUIVALENT or DIFFERENT, or
 * -1 with a message (different vocabularies, a forward-pass failure). */
int equiv_models(const CompiledModel *truth, const RaspProgram *truth_prog,
                 const CompiledModel *pred, const EquivOptions *o, EquivResult *r, char *err,
                 size_t errcap);

/* Decodes pred_tokens [PT_ROWS * PT_COLS], compiles the result with copt (NULL: defaults)
 * but truth's vocabulary, max_seq_len and causality, and compares (truth_prog as for equiv_models). true_tokens [PT_ROWS * PT_COLS] may
 * be NULL; when given and identical to pred_tokens through the END row, the prediction is
 * equivalent without running anything (r->exact). Returns 0 (the verdict is in r), -1 on an
 * error that says nothing about the prediction. */
int equiv_check_tokens(const CompiledModel *truth, const RaspProgram *truth_prog,
                       const int16_t *true_tokens, const int16_t *pred_tokens,
                       const CompileOptions *copt, const EquivOptions *o, EquivResult *r, char *err,
                       size_t errcap);

/* The same from two token tables: the true table is decoded and compiled with vocab[n_vocab]
 * and max_seq_len first (status TRUE_FAILED when that fails). */
int equiv_check_pair(const int16_t *true_tokens, const int16_t *pred_tokens, const Value *vocab,
                     int n_vocab, int max_seq_len, const CompileOptions *copt,
                     const EquivOptions *o, EquivResult *r, char *err, size_t errcap);

/* The verdict on a decompiled program whose truth is a RaspProgram (the classic programs,
 * which usually have no token form): compiles truth with copt (vocab/max_seq_len from copt,
 * else truth's directives) and checks pred_tokens against it; r->exact when pt_encode(truth)
 * equals pred_tokens. */
int equiv_check_program(const RaspProgram *truth, const int16_t *pred_tokens,
                        const CompileOptions *copt, const EquivOptions *o, EquivResult *r,
                        char *err, size_t errcap);

/* Number of inputs of length 1..n over v tokens, saturated at limit + 1. */
long equiv_input_count(int v, int n, long limit);

#endif
