/* Transform benchmark: per model, the median time of tf_rotate, tf_permute and tf_scale and
 * one tf_compress run to half the residual width and one tf_distill run (a student of the same
 * shape from a random start), against a baseline measured in the same
 * run: baseline=compile_us, the median time to compile the same program (parse excluded).
 * Models: the classic programs of DIR (default tests/fixtures/tracr) and G programs of the
 * dataset sampler (default settings, seeds 1, 2, ... that compile). For compression it also
 * prints the share of output positions that decode as the original's on every input (or
 * 3,000 random ones), through the written float32 file; for distillation, the share of whole
 * inputs (every input, or 20,000 random ones; accepted at >= 99%).
 *
 * Usage: bench/transform [DIR] [G] [compress_steps] [min_ms] [distill_steps]
 * The last line is `rotate_ms=... compress_ms=... distill_ms=...`: medians over all models. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "compiler/model.h"
#include "gen/program_tokens.h"
#include "gen/sampler.h"
#include "rasp/rasp.h"
#include "transform/transform.h"

/* compile_program(p). */
static double run_compile(void *ctx, int i) {
    char err[512];
    double t0 = bench_now_us();
    CompiledModel *m = NULL;
    int rc = compile_program(ctx, NULL, &m, err, sizeof err);
    double us = bench_now_us() - t0;
    compiled_model_free(m);
    return rc ? -1 : us;
}

typedef struct TfRun {
    const CompiledModel *m;
    int which; /* 0 rotate, 1 permute, 2 scale */
} TfRun;

/* One transform (seed i + 1) on a fresh clone (the clone is not timed). */
static double run_tf(void *ctx, int i) {
    const TfRun *r = ctx;
    char err[256];
    CompiledModel *c = tf_model_clone(r->m);
    double t0 = bench_now_us();
    int rc = r->which == 0   ? tf_rotate(c, (uint64_t)i + 1, err, sizeof err)
             : r->which == 1 ? tf_permute(c, (uint64_t)i + 1, err, sizeof err)
                             : tf_scale(c, (uint64_t)i + 1, err, sizeof err);
    double us = bench_now_us() - t0;
    compiled_model_free(c);
    return rc ? -1 : us;
}

static double time_tf(const CompiledModel *m, int which, double min_ms) {
    TfRun r = {m, which};
    return bench_median_us(run_tf, &r, 11, min_ms);
}

typedef struct Row {
    char name[64];
    double compile_us, rot_us, perm_us, scale_us, comp_ms, acc, dist_ms, dist_acc;
    int D;
} Row;

static int bench_one(const char *name, const RaspProgram *p, int steps, int dsteps, double min_ms,
                     Row *r) {
    CompiledModel *m = NULL;
    char err[512];
    if (compile_program(p, NULL, &m, err, sizeof err)) return 1;
    snprintf(r->name, sizeof r->name, "%s", name);
    r->D = m->residual_dim;
    r->compile_us = bench_median_us(run_compile, (void *)p, 11, min_ms);
    r->rot_us = time_tf(m, 0, min_ms);
    r->perm_us = time_tf(m, 1, min_ms);
    r->scale_us = time_tf(m, 2, min_ms);
    TfCompressOptions o;
    tf_compress_options_default(&o);
    o.dim = (m->residual_dim + 1) / 2;
    o.steps = steps;
    CompiledModel *c = NULL, *back = NULL;
    TfCompressReport rep;
    double t0 = bench_now_us();
    int rc = tf_compress(m, &o, &c, &rep, err, sizeof err);
    r->comp_ms = (bench_now_us() - t0) / 1000;
    r->acc = -1;
    unsigned char *buf = NULL;
    size_t len = 0;
    TfCompare cmp;
    if (!rc && !model_serialize(c, &buf, &len, err, sizeof err) &&
        !model_load_buffer(buf, len, &back, err, sizeof err) &&
        !tf_compare(back, m, 3000, 1, 1e-3, 1e-4, &cmp, err, sizeof err) && cmp.n_positions)
        r->acc = 100.0 * (double)cmp.n_positions_match / (double)cmp.n_positions;
    free(buf);
    compiled_model_free(back);
    compiled_model_free(c);
    TfDistillOptions dopt;
    tf_distill_options_default(&dopt);
    dopt.steps = dsteps;
    TfDistillReport drep;
    CompiledModel *st = NULL;
    t0 = bench_now_us();
    rc = tf_distill(m, &dopt, &st, &drep, err, sizeof err);
    r->dist_ms = (bench_now_us() - t0) / 1000; /* includes its final check on every input */
    r->dist_acc = rc ? -1 : 100 * drep.input_accuracy;
    compiled_model_free(st);
    compiled_model_free(m);
    return 0;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/fixtures/tracr";
    int G = argc > 2 ? atoi(argv[2]) : 15;
    int steps = argc > 3 ? atoi(argv[3]) : 300;
    double min_ms = argc > 4 ? atof(argv[4]) : 100;
    int dsteps = argc > 5 ? atoi(argv[5]) : 300;
    char names[128][128];
    int n = bench_list_rasp("transform", dir, NULL, names, 128);
    if (n < 0) return 1;
    Row *rows = calloc((size_t)(n + G), sizeof(Row));
    int nr = 0;
    char err[512], path[20000];
    for (int i = 0; i < n; i++) {
        RaspProgram p;
        snprintf(path, sizeof path, "%s/%s.rasp", dir, names[i]);
        if (rasp_parse_file(path, &p, err, sizeof err)) continue;
        if (!bench_one(names[i], &p, steps, dsteps, min_ms, &rows[nr])) nr++;
        rasp_program_free(&p);
    }
    GenConfig gc;
    gen_config_default(&gc);
    GenSampler *s = gen_sampler_new(&gc, err, sizeof err);
    Value vocab[GEN_MAX_VOCAB];
    for (int i = 0; i < gc.n_vocab; i++) vocab[i] = val_int(gc.vocab[i]);
    int got = 0;
    for (uint64_t seed = 1; s && got < G && seed < 1000; seed++) {
        GenSample gs;
        RaspProgram p;
        if (gen_sample(s, seed, &gs)) continue;
        if (pt_build_program(gs.rows, gs.n_rows, vocab, gc.n_vocab, gc.max_seq_len, &p, err,
                             sizeof err) == 0) {
            char name[64];
            snprintf(name, sizeof name, "gen_seed_%llu", (unsigned long long)seed);
            if (!bench_one(name, &p, steps, dsteps, min_ms, &rows[nr])) nr++, got++;
        }
        rasp_program_free(&p);
    }
    gen_sampler_free(s);

    printf("baseline=compile_us (compile_program of the same program, parse excluded, same run)\n");
    printf(
        "compress: one run to ceil(D/2), %d Adam steps, batch 32; acc = output positions decoded as the "
        "original's\n",
        steps);
    printf(
        "distill: one student, %d Adam steps, batch 32 (time includes the final check); dacc = whole inputs\n",
        dsteps);
    printf("%-20s %4s %10s %10s %10s %10s %9s %11s %8s %10s %8s\n", "model", "D", "compile_us",
           "rotate_us", "permute_us", "scale_us", "rot/comp", "compress_ms", "acc_%", "distill_ms",
           "dacc_%");
    double *rot = malloc(sizeof(double) * (size_t)(nr + 1)),
           *cmp = malloc(sizeof(double) * (size_t)(nr + 1));
    double *ratio = malloc(sizeof(double) * (size_t)(nr + 1)),
           *acc = malloc(sizeof(double) * (size_t)(nr + 1));
    double *dms = malloc(sizeof(double) * (size_t)(nr + 1)),
           *dacc = malloc(sizeof(double) * (size_t)(nr + 1));
    int n_acc = 0;
    for (int i = 0; i < nr; i++) {
        Row *r = &rows[i];
        printf("%-20s %4d %10.1f %10.1f %10.1f %10.1f %9.2f %11.1f %8.2f %10.1f %8.2f\n", r->name,
               r->D, r->compile_us, r->rot_us, r->perm_us, r->scale_us, r->rot_us / r->compile_us,
               r->comp_ms, r->acc, r->dist_ms, r->dist_acc);
        rot[i] = r->rot_us / 1000, cmp[i] = r->comp_ms, ratio[i] = r->rot_us / r->compile_us,
        acc[i] = r->acc;
        dms[i] = r->dist_ms, dacc[i] = r->dist_acc;
        n_acc += r->dist_acc >= 99;
    }
    printf(
        "models=%d median rotate/compile=%.2f median compress accuracy=%.2f%% students accepted (>= 99%% of "
        "inputs)=%d median student input accuracy=%.2f%%\n",
        nr, bench_median(ratio, nr), bench_median(acc, nr), n_acc, bench_median(dacc, nr));
    printf("rotate_ms=%.4f compress_ms=%.1f distill_ms=%.1f\n", bench_median(rot, nr),
           bench_median(cmp, nr), bench_median(dms, nr));
    free(rot), free(cmp), free(ratio), free(acc), free(dms), free(dacc), free(rows);
    return 0;
}
