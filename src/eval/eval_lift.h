/* The exact decompiler as the evaluation's ceiling row (docs/lift.md): every evaluated sample's
 * compiled model, and every classic program, lifted from its weights and verified. What the
 * learned decompiler is measured against. */
#ifndef ITRACR_EVAL_EVAL_LIFT_H
#define ITRACR_EVAL_EVAL_LIFT_H
#include <stddef.h>
#include <stdint.h>

#include "meta/meta.h"
#include "rasp/value.h"

typedef struct EvalLiftStats {
    int n;                           /* samples tried */
    int lifted;                      /* of those, not refused */
    int verified;                    /* recompiled weights equal and outputs equal */
    int named_all;                   /* verified with every function named */
    int classics, classics_verified; /* classic programs that compile, and verified */
    double median_ms;                /* lift time per model (verification included) */
    /* the same samples' models permuted + rotated (tf_permute, tf_rotate; seeded by the sample
     * index) and rounded to float32 as model files are, lifted through the canonicalised basis
     * (lift/canon.h) and verified on the rotated model's outputs */
    int rot_lifted, rot_verified;
    int rot_exact; /* verified, and the recompiled weights equal the canonicalised model's (up to
                       * residual, head and unit permutation): the true weights up to the transform */
    double rot_median_ms;
} EvalLiftStats;

/* Lifts the compiled model of each sample[i] of d (its program tokens compiled in its
 * setting: settings' row sample[i] when settings is not NULL -- [d->n, GEN_SETTING_COLS],
 * eval/eval_setting.h: its vocabulary, max_seq_len and causality --, else vocab /
 * max_seq_len, non-causal) and of each classic program path (its own directives). Returns
 * 0, or non-zero with a message when a program cannot be rebuilt or compiled. */
int eval_lift_ceiling(const TrainData *d, const int *sample, int n, const Value *vocab, int n_vocab,
                      int max_seq_len, const int32_t *settings, char *const *classic_paths,
                      int n_classics, EvalLiftStats *st, char *err, size_t errcap);

#endif
