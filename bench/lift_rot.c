/* lift on rotated models: generated programs (the dataset sampler, seeds
 * gen_sample_seed(SEED, i)), each compiled, then permuted + rotated (+ rescaled with --scale)
 * with the sample index as seed, rounded to float32 as model files are, and lifted through the
 * canonicalised basis (lift/canon.h), verified on the rotated model's outputs.
 *
 * Baseline: baseline=stock-lift, the median lift time of the same models unrotated.
 * Usage: bench/lift_rot [N] [SEED] [--scale] [--why] [--data DIR [--split S]]: with --data, the
 * programs of the first N samples of a dataset's split (default test; its generator's default
 * vocab {0..4} and max_seq_len 5) instead of the sampler's. --why prints each refusal. Last line:
 * stock_verified=S/T stock_exact=X/T rotated_verified=R/T exact=E/T median_ms=M. exact: the lifted
 * program compiles to the true program's canonical model hash (data/model_hash.h). Times are the thread's CPU time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compiler/model.h"
#include "dataset/model_hash.h"
#include "gen/program_tokens.h"
#include "gen/sampler.h"
#include "lift/lift.h"
#include "meta/meta.h"
#include "rasp/rasp.h"
#include "transform/transform.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int dcmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), dcmp);
    return n ? v[n / 2] : 0;
}

/* Whether text compiles to m's canonical model hash. */
static int same_hash(const CompiledModel *m, const char *text) {
    RaspProgram p;
    char err[512];
    if (rasp_parse("<lifted>", text, &p, err, sizeof err)) return 0;
    CompileOptions o;
    compile_options_default(&o);
    o.max_seq_len = m->max_seq_len;
    CompiledModel *re = NULL;
    uint64_t h1[2], h2[2];
    int eq = !compile_program(&p, &o, &re, err, sizeof err) && !model_hash128(m, h1) &&
             !model_hash128(re, h2) && h1[0] == h2[0] && h1[1] == h2[1];
    compiled_model_free(re);
    rasp_program_free(&p);
    return eq;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 200;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 777;
    int scale = 0, why = 0;
    for (int i = 1; i < argc; i++)
        scale |= !strcmp(argv[i], "--scale"), why |= !strcmp(argv[i], "--why");
    char err[1024];
    GenConfig gc;
    gen_config_default(&gc);
    GenSampler *s = gen_sampler_new(&gc, err, sizeof err);
    if (!s) {
        fprintf(stderr, "bench/lift_rot: %s\n", err);
        return 1;
    }
    Value vocab[GEN_MAX_VOCAB];
    for (int i = 0; i < gc.n_vocab; i++) vocab[i] = val_int(gc.vocab[i]);
    double *ms = malloc(sizeof(double) * (size_t)n * 2), *base = ms + n; /* [n] each */
    int total = 0, stock = 0, stock_exact = 0, rot = 0, exact = 0, weq = 0;
    const char *data = NULL, *split = "test";
    for (int i = 3; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--data")) data = argv[i + 1];
        if (!strcmp(argv[i], "--split")) split = argv[i + 1];
    }
    TrainData d;
    train_data_init(&d);
    if (data && train_data_load_split(&d, data, split, 0, err, sizeof err)) {
        fprintf(stderr, "bench/lift_rot: %s\n", err);
        return 1;
    }
    for (uint64_t i = 0; total < n && i < (uint64_t)n * 4 && (!data || i < (uint64_t)d.n); i++) {
        GenSample smp;
        RaspProgram p;
        CompiledModel *m = NULL, *t = NULL;
        CompileOptions o;
        compile_options_default(&o);
        if (data) {
            PtOp rows[PT_MAX_VARS];
            int nr = 0;
            if (pt_tokens_to_ops(d.prog + (size_t)i * PT_ROWS * PT_COLS, rows, &nr, err,
                                 sizeof err) ||
                pt_build_program(rows, nr, vocab, gc.n_vocab, gc.max_seq_len, &p, err, sizeof err))
                continue;
        } else if (gen_sample(s, gen_sample_seed(seed, i), &smp) ||
                   pt_build_program(smp.rows, smp.n_rows, vocab, gc.n_vocab, gc.max_seq_len, &p,
                                    err, sizeof err))
            continue;
        if (compile_program(&p, &o, &m, err, sizeof err)) {
            rasp_program_free(&p);
            continue;
        }
        LiftResult r;
        double t0 = now_ms();
        if (!lift_model(m, NULL, &r, err, sizeof err)) {
            stock += r.verified;
            stock_exact += r.verified && same_hash(m, r.program);
            lift_result_free(&r);
        }
        base[total] = now_ms() - t0;
        t = tf_model_clone(m);
        if (scale) tf_scale(t, i + 1, err, sizeof err);
        tf_permute(t, i + 1, err, sizeof err);
        tf_rotate(t, i + 1, err, sizeof err);
        size_t nw =
            (size_t)(t->unembed - t->token_embed) + (size_t)t->residual_dim * (size_t)t->n_out;
        for (size_t k = 0; k < nw; k++) t->token_embed[k] = (float)t->token_embed[k];
        if (getenv("LIFT_ROT_DUMP") &&
            (uint64_t)atoll(getenv("LIFT_ROT_DUMP")) == i) { /* debugging one sample */
            model_save(t, "lift_rot_sample.safetensors", err, sizeof err);
            model_save(m, "lift_rot_stock.safetensors", err, sizeof err);
        }
        t0 = now_ms();
        int rc = lift_model(t, NULL, &r, err, sizeof err);
        ms[total++] = now_ms() - t0;
        if (!rc) {
            rot += r.verified;
            exact += r.verified && same_hash(m, r.program);
            weq += r.verified && r.weights_equal;
            if (why && !r.verified) printf("sample %llu: %s\n", (unsigned long long)i, r.verdict);
            lift_result_free(&r);
        } else if (why) {
            const char *c = strstr(err, "as a rotated model: ");
            printf("sample %llu: %s\n", (unsigned long long)i, c ? c + 20 : err);
        }
        compiled_model_free(t);
        compiled_model_free(m);
        rasp_program_free(&p);
    }
    gen_sampler_free(s);
    train_data_free(&d);
    double mr = median(ms, total), mb = median(base, total);
    printf(
        "rotated%s: verified %d/%d, recompiling to the true weights %d/%d; stock lift verified %d/%d, recompiling to "
        "the true weights %d/%d; median %.3f ms (baseline=stock-lift %.3f ms, ratio %.1fx)\n",
        scale ? " + scaled" : "", rot, total, exact, total, stock, total, stock_exact, total, mr,
        mb, mb > 0 ? mr / mb : 0);
    printf(
        "stock_verified=%d/%d stock_exact=%d/%d rotated_verified=%d/%d weights_equal=%d/%d exact=%d/%d median_ms=%.3f\n",
        stock, total, stock_exact, total, rot, total, weq, total, exact, total, mr);
    free(ms);
    return 0;
}
