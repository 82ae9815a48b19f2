/* lift benchmark: exact decompilation of the 15 classic programs (tests/fixtures/tracr) and
 * of generated programs (the dataset generator's sampler, seeds gen_sample_seed(777, i), the
 * same stream as `itracr gen --seed 777`), each compiled, lifted from its weights and
 * verified (recompile + weight comparison + forward pass on up to 256 inputs).
 *
 * Baseline: baseline=compile, the median time to compile the same models from their source
 * (lift includes one recompilation, so the ratio says how much the reading and the proof
 * add). Usage: bench/lift [FIXTURE_DIR] [N_GENERATED]. Last line:
 * lifted=L/T verified=V/T named_all=K/T median_ms=M. Times are the thread's CPU time (lift is
 * single-threaded; on a shared machine wall time measures the other jobs too). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "compiler/model.h"
#include "gen/program_tokens.h"
#include "gen/sampler.h"
#include "lift/lift.h"
#include "rasp/rasp.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: the machine is shared */
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int dcmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct Tally {
    int total, lifted, verified, named_all;
    double *lift_ms, *compile_ms;
    int n;
} Tally;

static void one(Tally *t, const RaspProgram *p, const char *name, bool print) {
    CompileOptions o;
    compile_options_default(&o);
    CompiledModel *m = NULL;
    char err[1024];
    double t0 = now_ms();
    if (compile_program(p, &o, &m, err, sizeof err)) return;
    double t1 = now_ms();
    t->total++;
    LiftResult r;
    /* classics: the median of 7 lifts (a single run on a shared machine is noise) */
    int reps = print ? 7 : 1;
    double ts[7], t2 = 0, t3 = 0;
    int rc = 0;
    for (int k = 0; k < reps; k++) {
        if (k) lift_result_free(&r);
        t2 = now_ms();
        rc = lift_model(m, NULL, &r, err, sizeof err);
        t3 = now_ms();
        ts[k] = t3 - t2;
        if (rc) {
            reps = k + 1;
            break;
        }
    }
    qsort(ts, (size_t)reps, sizeof(double), dcmp);
    t2 = 0, t3 = ts[reps / 2];
    t->compile_ms[t->n] = t1 - t0;
    t->lift_ms[t->n++] = t3 - t2;
    static int shown_tables;
    if (!rc && !print && r.n_named < r.n_functions && getenv("LIFT_BENCH_SHOW_TABLES") &&
        shown_tables++ < 6)
        printf("--- generated #%d with tables:\n%s", t->total - 1, r.program);
    if (!rc) {
        t->lifted++;
        t->verified += r.verified;
        t->named_all += r.n_named == r.n_functions;
    }
    /* the first few generated failures, with their reason */
    static int shown;
    if (!print && (rc || !r.verified) && shown < 8) {
        shown++;
        if (getenv("LIFT_BENCH_SAVE") && shown == 1)
            model_save(m, getenv("LIFT_BENCH_SAVE"), err, sizeof err);
        printf("generated #%d: %s\n", t->total - 1, rc ? err : r.verdict);
    }
    if (print)
        printf("%-18s %s %s named %d/%d  lift %.3f ms  compile %.3f ms\n", name,
               rc ? "REFUSED" : "lifted",
               rc           ? err
               : r.verified ? "verified"
                            : "NOT verified",
               rc ? 0 : r.n_named, rc ? 0 : r.n_functions, t3 - t2, t1 - t0);
    if (!rc) lift_result_free(&r);
    compiled_model_free(m);
}

static double median(double *v, int n) {
    if (!n) return 0;
    qsort(v, (size_t)n, sizeof(double), dcmp);
    return v[n / 2];
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/fixtures/tracr";
    int ngen = argc > 2 ? atoi(argv[2]) : 1000;
    Tally c = {0}, g = {0};
    c.lift_ms = calloc(64, sizeof(double)), c.compile_ms = calloc(64, sizeof(double));
    g.lift_ms = calloc((size_t)ngen + 1, sizeof(double)),
    g.compile_ms = calloc((size_t)ngen + 1, sizeof(double));
    char names[64][128];
    int nn = bench_list_rasp("lift", dir, NULL, names, 64);
    if (nn < 0) return 1;
    char err[1024], path[8400];
    for (int i = 0; i < nn; i++) {
        RaspProgram p;
        snprintf(path, sizeof path, "%s/%s.rasp", dir, names[i]);
        if (rasp_parse_file(path, &p, err, sizeof err) == 0) one(&c, &p, names[i], true);
        rasp_program_free(&p);
    }
    GenConfig gc;
    gen_config_default(&gc);
    GenSampler *s = gen_sampler_new(&gc, err, sizeof err);
    if (!s) {
        fprintf(stderr, "bench/lift: %s\n", err);
        return 1;
    }
    Value vocab[GEN_MAX_VOCAB];
    for (int i = 0; i < gc.n_vocab; i++) vocab[i] = val_int(gc.vocab[i]);
    for (uint64_t i = 0; g.total < ngen && i < (uint64_t)ngen * 4; i++) {
        GenSample smp;
        if (gen_sample(s, gen_sample_seed(777, i), &smp)) continue;
        RaspProgram p;
        if (pt_build_program(smp.rows, smp.n_rows, vocab, gc.n_vocab, gc.max_seq_len, &p, err,
                             sizeof err) == 0)
            one(&g, &p, "", false);
        rasp_program_free(&p);
    }
    gen_sampler_free(s);
    double cm = median(c.lift_ms, c.n), cc = median(c.compile_ms, c.n);
    double gm = median(g.lift_ms, g.n), gcm = median(g.compile_ms, g.n);
    printf(
        "classics:  lifted %d/%d verified %d/%d every function named %d/%d  median lift %.3f ms, compile %.3f ms "
        "(baseline=compile ratio %.1fx)\n",
        c.lifted, c.total, c.verified, c.total, c.named_all, c.total, cm, cc, cc > 0 ? cm / cc : 0);
    printf(
        "generated: lifted %d/%d verified %d/%d every function named %d/%d  median lift %.3f ms, compile %.3f ms "
        "(baseline=compile ratio %.1fx)\n",
        g.lifted, g.total, g.verified, g.total, g.named_all, g.total, gm, gcm,
        gcm > 0 ? gm / gcm : 0);
    double *all = malloc(sizeof(double) * (size_t)(c.n + g.n + 1));
    memcpy(all, c.lift_ms, sizeof(double) * (size_t)c.n);
    memcpy(all + c.n, g.lift_ms, sizeof(double) * (size_t)g.n);
    int T = c.total + g.total;
    printf("lifted=%d/%d verified=%d/%d named_all=%d/%d median_ms=%.3f\n", c.lifted + g.lifted, T,
           c.verified + g.verified, T, c.named_all + g.named_all, T, median(all, c.n + g.n));
    free(all), free(c.lift_ms), free(c.compile_ms), free(g.lift_ms), free(g.compile_ms);
    return 0;
}
