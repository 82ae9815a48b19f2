/* eval_lift_ceiling (see eval_lift.h). */
#include "eval/eval_lift.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compiler/model.h"
#include "eval/eval_setting.h"
#include "gen/program_tokens.h"
#include "lift/lift.h"
#include "rasp/rasp.h"
#include "transform/transform.h"
#include "util/errmsg.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int dcmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Every weight of m rounded to float32, as a model file holds it. */
static void round_f32(CompiledModel *m) {
    size_t n = (size_t)(m->unembed - m->token_embed) + (size_t)m->residual_dim * (size_t)m->n_out;
    for (size_t i = 0; i < n; i++) m->token_embed[i] = (float)m->token_embed[i];
}

/* m permuted and rotated with seed, rounded to float32, lifted; adds to st. */
static void one_rotated(const CompiledModel *m, uint64_t seed, EvalLiftStats *st, double *ms) {
    CompiledModel *t = tf_model_clone(m);
    char err[512];
    *ms = -1;
    if (!t || tf_permute(t, seed, err, sizeof err) || tf_rotate(t, seed, err, sizeof err)) {
        compiled_model_free(t);
        return;
    }
    round_f32(t);
    LiftResult r;
    double t0 = now_ms();
    int rc = lift_model(t, NULL, &r, err, sizeof err);
    *ms = now_ms() - t0;
    if (!rc) {
        st->rot_lifted++;
        st->rot_verified += r.verified;
        st->rot_exact += r.verified && r.weights_equal;
        lift_result_free(&r);
    }
    compiled_model_free(t);
}

/* Compiles p, lifts the model (and, for samples, its rotated copy); adds to st. Returns 0
 * or non-zero (compile failure). */
static int one(const RaspProgram *p, bool classic, uint64_t seed, EvalLiftStats *st, double *ms,
               double *rot_ms, bool *verified, char *err, size_t errcap) {
    CompileOptions o;
    compile_options_default(&o);
    CompiledModel *m = NULL;
    if (compile_program(p, &o, &m, err, errcap)) return 1;
    LiftResult r;
    char lerr[512];
    double t0 = now_ms();
    int rc = lift_model(m, NULL, &r, lerr, sizeof lerr);
    *ms = now_ms() - t0;
    *verified = false;
    if (!rc) {
        *verified = r.verified;
        if (!classic) {
            st->lifted++;
            st->verified += r.verified;
            st->named_all += r.verified && r.n_named == r.n_functions;
        }
        lift_result_free(&r);
    }
    if (!classic) {
        st->n++;
        one_rotated(m, seed, st, rot_ms);
    }
    compiled_model_free(m);
    return 0;
}

int eval_lift_ceiling(const TrainData *d, const int *sample, int n, const Value *vocab, int n_vocab,
                      int max_seq_len, const int32_t *settings, char *const *classic_paths,
                      int n_classics, EvalLiftStats *st, char *err, size_t errcap) {
    memset(st, 0, sizeof *st);
    double *ms = malloc(sizeof(double) * (size_t)(n + n_classics + 1) * 2),
           *rot_ms = ms + n + n_classics + 1; /* [n + classics + 1] each */
    int nm = 0, n_rot = 0, rc = 0;
    char sub[512];
    for (int i = 0; i < n && !rc; i++) {
        PtOp rows[PT_MAX_VARS];
        int nr = 0;
        RaspProgram p;
        bool v;
        const int16_t *tok = d->prog + (size_t)sample[i] * PT_ROWS * PT_COLS;
        GenSetting gs;
        EvalSetting es;
        if (eval_setting_of(settings, sample[i], vocab, n_vocab, max_seq_len, &gs, &es)) {
            rc = err_printf(err, errcap, "sample %d: its sample_setting row is not a setting",
                            sample[i]);
            break;
        }
        if (pt_tokens_to_ops(tok, rows, &nr, sub, sizeof sub) ||
            pt_build_program(rows, nr, es.vocab, es.n_vocab, es.max_seq_len, &p, sub, sizeof sub)) {
            rc = err_printf(err, errcap, "sample %d: %s", sample[i], sub);
            break;
        }
        p.causal = es.causal; /* compiled as the generator compiled it */
        if (one(&p, false, (uint64_t)sample[i] + 1, st, &ms[nm], &rot_ms[n_rot], &v, sub,
                sizeof sub))
            rc = err_printf(err, errcap, "sample %d: %s", sample[i], sub);
        else nm++, n_rot += rot_ms[n_rot] >= 0;
        rasp_program_free(&p);
    }
    for (int i = 0; i < n_classics && !rc; i++) {
        RaspProgram p;
        bool v;
        if (rasp_parse_file(classic_paths[i], &p, sub, sizeof sub)) {
            rc = err_printf(err, errcap, "%s", sub);
            break;
        }
        /* a classic Tracr refuses has no model to lift */
        double unused;
        if (!one(&p, true, 0, st, &ms[nm], &unused, &v, sub, sizeof sub)) {
            nm++;
            st->classics++;
            st->classics_verified += v;
        }
        rasp_program_free(&p);
    }
    qsort(ms, (size_t)nm, sizeof(double), dcmp);
    st->median_ms = nm ? ms[nm / 2] : 0;
    qsort(rot_ms, (size_t)n_rot, sizeof(double), dcmp);
    st->rot_median_ms = n_rot ? rot_ms[n_rot / 2] : 0;
    free(ms);
    return rc;
}
