/* The evaluation loop behind `itracr eval` (docs/evaluation.md, "itracr eval"): a trained
 * meta-model against held-out samples, three ways -- decoded (constrained greedy or beam: the
 * headline), teacher-forced (argmax at each position given the true prefix, one forward pass
 * per sample) and the noise baseline (decoded from noise weight tokens) -- each scored by
 * eval_metrics_add with a functional check of the prediction (eval/equiv.h); and the classic
 * programs decompiled and judged against their own source.
 *
 * Samples run in parallel (OpenMP, one meta-model copy per thread); every result is kept per
 * sample and added in sample order, so the numbers do not depend on the thread count. */
#ifndef ITRACR_EVAL_EVAL_RUN_H
#define ITRACR_EVAL_EVAL_RUN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler/model.h"
#include "dataset/weight_tokens.h"
#include "eval/equiv.h"
#include "eval/eval_breakdown.h"
#include "eval/eval_setting.h"
#include "eval/eval_truth.h"
#include "eval/metrics.h"
#include "eval/search.h"
#include "meta/meta.h"

typedef struct EvalRunOptions {
    int beam;            /* <= 1: greedy */
    uint64_t seed;       /* noise baseline (and nothing else) */
    bool teacher, noise; /* run those two variants (default both) */
    bool func;           /* functional checks (default on; off: token metrics only) */
    const Value *vocab;  /* the dataset's token vocabulary and max_seq_len: the true */
    int n_vocab;         /* programs and the predictions compile with them */
    int max_seq_len;
    /* Per-sample settings (eval/eval_setting.h), NULL for a fixed-setting dataset: rows
     * [d->n, GEN_SETTING_COLS] as the shards store them, row i for TrainData sample i. Then
     * each sample's own vocabulary, max_seq_len and causality replace the three above for its
     * true program, every prediction's decoding constraint (PcContext), compile and check,
     * the search's given model and the noise model; and the result has a breakdown by
     * setting. */
    const int32_t *settings;
    EquivOptions equiv;
    int jobs; /* threads (0: OpenMP default) */
    /* verified@K (eval/search.h): search > 0 runs the search with K = search on each sample's
     * model (rebuilt by compiling its program: the dataset holds weight tokens, not model
     * files; the search sees that model and its weight tokens only) and on the noise
     * baseline's model (the same model with every weight matrix replaced by seeded noise of
     * the same norm, decoded from the same noise tokens as the top-1 baseline). */
    int search;
    SearchOptions search_opt;
    /* A transformed dataset (gen --transform; AccTransform, ACC_TF_NONE for stock): the
     * search's given model is the sample's stock model transformed again with its seed
     * (sample_seed[i] for TrainData sample i, TrainData.sample_seed) and compress_steps, and
     * must give the sample's weight tokens under wt exactly; else the evaluation stops. */
    int transform, compress_steps;
    const uint64_t *sample_seed;
    WtOptions wt;
    bool progress; /* a progress line on stderr */
    /* Also read each sample's given model (transformed where the dataset is) with probe
     * (lift/probe.h: from its activations, no meta-model) and check that program against the
     * true one as the predictions are checked. */
    bool probe;
} EvalRunOptions;

void eval_run_options_default(EvalRunOptions *o);
/* The setting sample (an index into the TrainData) is evaluated in: its row of o->settings
 * decoded into *store, or o's dataset-wide vocabulary and max_seq_len (eval_setting_of). */
int eval_run_setting(const EvalRunOptions *o, int sample, GenSetting *store, EvalSetting *out);

/* The model sample s (an index into the TrainData) was made from, i.e. what its weight
 * tokens (payload [P, WT_WIDTH], ids [P, WT_N_IDS]) were read from: its truth compiled in
 * setting st into tc, and on a transformed dataset (o->transform) that model transformed
 * again with the sample's seed and checked against the tokens bit for bit (*tm, else NULL;
 * the caller frees it). Returns 0, 1 with a message when the transformed model cannot be
 * rebuilt, 2 when the truth does not compile. */
int eval_given_model(EvalTruth *tc, const int16_t *truth, const EvalSetting *st,
                     const EvalRunOptions *o, int s, const float *payload, const int16_t *ids,
                     int P, CompiledModel **tm, char *err, size_t errcap);

/* What happened to one sample (index into the evaluated set). */
typedef struct EvalSampleResult {
    int16_t dec[PT_ROWS * PT_COLS], tf[PT_ROWS * PT_COLS], noise[PT_ROWS * PT_COLS];
    EvalFunc dec_func, tf_func, noise_func;
    bool dec_failed;  /* decoding itself failed (no EOS within the limit, ...): dec is
                               then an empty program (START, END) */
    char detail[256]; /* decoded prediction: decode error or functional-check message */
    /* the search (when run): its answer and verdict, on the sample and on the noise model */
    int16_t ver[PT_ROWS * PT_COLS], noise_ver[PT_ROWS * PT_COLS];
    EvalFunc ver_func, noise_ver_func;
    SearchVerdict verdict, noise_verdict;
    bool ver_failed; /* the search itself failed (ver is then the top-1 decode) */
    int ver_winner, ver_tried;
    double top1_ms, ver_ms; /* wall time of the top-1 decode and of the search */
    /* the drawn candidates alone, before the repair (search.h): answer, check, verdict */
    int16_t ver_alone[PT_ROWS * PT_COLS];
    EvalFunc ver_alone_func;
    SearchVerdict verdict_alone;
    bool repair_ran, repaired; /* the repair was tried; it gave the answer */
    double repair_ms;
    /* probe (o->probe): 0 not run, 1 refused, 2 a program that does not reproduce the given
     * model's outputs, 3 one that does; probe_func: that program against the true one */
    signed char probe_state;
    EvalFunc probe_func;
    double probe_ms;
    /* the true program's model checked against the given model as probe's program is: 1 it
     * reproduces it, 0 not, -1 not checked (the ceiling of probe_state 3 on transformed
     * weights, which only approximate the program) */
    signed char probe_truth_state;
    /* probe on the noise model (o->probe and o->noise), the same states and judgement */
    signed char noise_probe_state;
    EvalFunc noise_probe_func;
} EvalSampleResult;

typedef struct EvalRunResult {
    EvalMetrics decoded, teacher, noise;
    EvalMetrics verified, noise_verified; /* the search's answers (when run) */
    EvalMetrics verified_alone;           /* ... of the drawn candidates alone (no repair) */
    long n_alone_verified;                /* samples the drawn candidates alone verify */
    long n_repair_ran, n_repaired;        /* samples the repair was tried on, and repaired */
    long n_weights, n_function;           /* search verdicts over the samples */
    long noise_n_weights, noise_n_function;
    long search_errors;
    /* o->probe: over the n samples and the probe_extra ones after them that the meta-model
     * could not read (skipped_prefix, within the first n + skipped_prefix) */
    long probe_refused, probe_verified, probe_equivalent;
    long probe_truth_verified; /* samples whose given model the true program reproduces */
    int probe_extra;
    /* o->probe with a search: decompile's order without lift (probe's program when verified,
     * else the search's answer; probe's alone on the probe_extra samples), over the same
     * n + probe_extra samples: answers equivalent to the truth, and answers verified */
    long either_equivalent, either_verified;
    /* ... and the other order: the search's answer when verified, else probe's when verified,
     * else the search's: answers exact (probe's never count: canonical names) and equivalent */
    long search_first_exact, search_first_equivalent;
    /* o->probe and o->noise: probe on each sample's noise model (the baseline) */
    long noise_probe_equivalent, noise_probe_verified;
    bool have_breakdown;      /* settings were given: by_setting is filled */
    EvalBreakdown by_setting; /* top-1 (and verified@K) by setting */
    int n;                    /* samples evaluated */
    int *sample;              /* [n] index into the TrainData of each evaluated sample */
    EvalSampleResult *res;    /* [n] */
    long skipped_prefix;      /* samples with more weight tokens than the meta-model takes */
    long decode_errors;       /* decoded predictions whose decoding failed */
    double seconds;
} EvalRunResult;

/* Evaluates up to n samples of d (the first n whose weight tokens fit the meta-model; n <= 0:
 * all). m is only read (each thread decodes with its own copy). Returns 0, or non-zero with
 * a message (the lambda library, a model/data format mismatch, OOM). */
int eval_run(const MetaModel *m, const TrainData *d, int n, const EvalRunOptions *o,
             EvalRunResult *r, char *err, size_t errcap);
void eval_run_result_free(EvalRunResult *r);

/* The noise baseline's weight tokens: payload [P, WT_WIDTH] -> out [P, WT_WIDTH], each token
 * replaced by Gaussian noise (seeded by seed and sample) scaled to the token's own L2 norm
 * (all-zero tokens stay zero). ids are kept as they are. */
void eval_noise_payload(const float *payload, int P, uint64_t seed, long sample, float *out);

/* The noise baseline's model for the search: a copy of m with every weight matrix replaced by
 * Gaussian noise (seeded by seed and sample) scaled to that matrix's L2 norm; the config and
 * encoders are kept. NULL on OOM. */
CompiledModel *eval_noise_model(const CompiledModel *m, uint64_t seed, long sample);

/* The teacher-forced prediction of one sample as a table: one forward pass with the true
 * flat sequence as input; the argmax at each field position becomes that cell (an argmax
 * outside the field's column: the out-of-range id pt_vocab_size(col); EOS: END), and the
 * END row is kept when the argmax after the last row is EOS, else its op cell gets the
 * prediction (so the length is wrong). m->max_batch >= 1. Returns 0, or non-zero with a
 * message. */
int eval_teacher_table(MetaModel *m, const int16_t *truth, const float *payload, const int16_t *ids,
                       int P, int16_t *table, char *err, size_t errcap);

/* A classic program and the decompiler's verdict on it. */
typedef struct EvalClassic {
    char name[64];
    bool ood; /* out of distribution: not decoded (reason in detail) */
    bool exact;
    EvalFunc func;
    int n_wt;              /* weight tokens of its compiled model */
    char detail[512];      /* the reason / the functional-check message / notes */
    char *pred_rasp;       /* the decompiled program (malloc'ed; NULL if none) */
    bool searched;         /* the prediction came from the verified search */
    SearchVerdict verdict; /* its verdict (searched only) */
} EvalClassic;

/* Parses, compiles (with its own directives) and decompiles path; the verdict as
 * equiv_check_program gives it. wt: the weight-token options the meta-model was trained with;
 * train_vocab/train_msl describe its training setting (the detail notes a difference).
 * Returns 0 (the verdict, or ood, in c), or non-zero with a message when the program cannot
 * be read or compiled. */
int eval_classic(MetaModel *m, const char *path, const WtOptions *wt, int beam,
                 const Value *train_vocab, int train_n_vocab, int train_msl, const EquivOptions *eo,
                 EvalClassic *c, char *err, size_t errcap);
/* The same with the verified search (so: its options, max_candidates = K) instead of the
 * greedy/beam decode when so is not NULL: the compiled classic is the given model. */
int eval_classic_search(MetaModel *m, const char *path, const WtOptions *wt, int beam,
                        const SearchOptions *so, const Value *train_vocab, int train_n_vocab,
                        int train_msl, const EquivOptions *eo, EvalClassic *c, char *err,
                        size_t errcap);
void eval_classic_free(EvalClassic *c);

#endif
