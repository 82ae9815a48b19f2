/* The functional check of a sample's predictions against its true program, as `itracr eval`
 * runs it (docs/evaluation.md, "itracr eval"): the true table is decoded and compiled once, in
 * the sample's own setting (eval/eval_setting.h: vocabulary, max_seq_len, causal -- as the
 * generator compiled it), and every prediction is decoded and compiled in the same setting
 * and run against it (eval/equiv.h). The truth is compiled lazily, on the first prediction
 * that is not identical to it, so exact predictions cost nothing. */
#ifndef ITRACR_EVAL_EVAL_TRUTH_H
#define ITRACR_EVAL_EVAL_TRUTH_H
#include <stddef.h>
#include <stdint.h>

#include "compiler/model.h"
#include "eval/equiv.h"
#include "eval/eval_setting.h"
#include "eval/metrics.h"
#include "rasp/rasp.h"

typedef struct EvalTruth {
    int state;         /* 0: not compiled yet, 1: compiled, -1: failed */
    CompiledModel *cm; /* state 1: the true program's model (causal when the setting is) */
    RaspProgram prog;  /* state 1: the true program (the interpreter's reference) */
} EvalTruth;

void eval_truth_init(EvalTruth *t);
void eval_truth_free(EvalTruth *t);

/* Decodes truth [PT_ROWS * PT_COLS] in setting s and compiles it into t, once: later calls
 * return t->state at once. On failure detail (when not NULL) says why. Returns t->state. */
int eval_truth_compile(EvalTruth *t, const int16_t *truth, const EvalSetting *s, char *detail,
                       size_t dcap);

/* The verdict on pred [PT_ROWS * PT_COLS]: EQUIVALENT without running anything when the
 * tables are identical (eval_compare's exact match), else eval_truth_run. */
EvalFunc eval_truth_check(EvalTruth *t, const int16_t *truth, const int16_t *pred,
                          const EvalSetting *s, const EquivOptions *eo, char *detail, size_t dcap);

/* The check itself, identical tables included: pred decoded and compiled in s (the truth's
 * vocabulary, max_seq_len and causality) and both models run on eo's inputs. TRUE_FAILED
 * when the truth does not compile, UNCHECKED when the check itself failed (detail says
 * why), else the check's status with its detail (the first differing input). */
EvalFunc eval_truth_run(EvalTruth *t, const int16_t *truth, const int16_t *pred,
                        const EvalSetting *s, const EquivOptions *eo, char *detail, size_t dcap);

#endif
