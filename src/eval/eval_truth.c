/* The per-sample functional check (eval_truth.h). */
#include "eval/eval_truth.h"

#include <stdio.h>

#include "gen/program_tokens.h"

void eval_truth_init(EvalTruth *t) {
    t->state = 0;
    t->cm = NULL;
    rasp_program_init(&t->prog);
}

void eval_truth_free(EvalTruth *t) {
    if (t->cm) compiled_model_free(t->cm);
    rasp_program_free(&t->prog);
    eval_truth_init(t);
}

int eval_truth_compile(EvalTruth *t, const int16_t *truth, const EvalSetting *s, char *detail,
                       size_t dcap) {
    if (t->state != 0) return t->state;
    char err[512];
    CompileOptions co;
    compile_options_default(&co);
    t->state = -1;
    /* pt_decode writes the vocabulary and max_seq_len into the program's directives; the
     * causal flag is the setting's too (the generator sets it the same way, acc_finish) */
    int rc = pt_decode(truth, s->vocab, s->n_vocab, s->max_seq_len, &t->prog, err, sizeof err);
    if (!rc) {
        t->prog.causal = s->causal;
        rc = compile_program(&t->prog, &co, &t->cm, err, sizeof err);
    }
    if (!rc) t->state = 1;
    else if (detail) snprintf(detail, dcap, "the true program does not compile: %.200s", err);
    return t->state;
}

/* eval_truth_run with equiv_check_tokens' own shortcut on identical tables when true_tokens
 * is not NULL. */
static EvalFunc check(EvalTruth *t, const int16_t *truth, const int16_t *true_tokens,
                      const int16_t *pred, const EvalSetting *s, const EquivOptions *eo,
                      char *detail, size_t dcap) {
    char err[512];
    if (eval_truth_compile(t, truth, s, detail, dcap) < 0) return EVAL_FN_TRUE_FAILED;
    /* equiv_check_tokens compiles pred with the truth's vocabulary, max_seq_len and causality */
    CompileOptions co;
    compile_options_default(&co);
    EquivResult r;
    if (equiv_check_tokens(t->cm, &t->prog, true_tokens, pred, &co, eo, &r, err, sizeof err) != 0) {
        if (detail) snprintf(detail, dcap, "functional check failed: %.200s", err);
        return EVAL_FN_UNCHECKED;
    }
    if (detail && r.detail[0]) snprintf(detail, dcap, "%.240s", r.detail);
    return r.status;
}

EvalFunc eval_truth_check(EvalTruth *t, const int16_t *truth, const int16_t *pred,
                          const EvalSetting *s, const EquivOptions *eo, char *detail, size_t dcap) {
    EvalPair pr;
    eval_compare(truth, pred, &pr);
    if (pr.exact) return EVAL_FN_EQUIVALENT; /* identical tables: nothing to run */
    return check(t, truth, truth, pred, s, eo, detail, dcap);
}

EvalFunc eval_truth_run(EvalTruth *t, const int16_t *truth, const int16_t *pred,
                        const EvalSetting *s, const EquivOptions *eo, char *detail, size_t dcap) {
    return check(t, truth, NULL, pred, s, eo, detail, dcap);
}
