/* Compile-time benchmark: median time to compile each classic program (parse excluded and
 * parse included), against Tracr's published intermediate-model times.
 *
 * Baseline: baseline=tracr_intermediate_ms, the per-program times quoted in the compiler
 * issue (Tracr 1.0.0, Python): shift_by 0.4 ms ... shuffle_dyck2 17 ms. Only those two are
 * given; other programs print "n/a" for the baseline and the ratio.
 *
 * Also per program: floor_us, the median time to allocate and zero a block the size of the
 * model's weights (malloc + memset + free: what any dense compile must at least do), the
 * compile time over that floor, and verify64_us, the median compile_verify on 64 inputs (the
 * dataset generator's per-sample check; the model is compiled once outside the timing).
 * Usage: bench/compile [DIR] [min_ms] [NAME]: NAME runs that program alone (for callgrind:
 * `valgrind --tool=callgrind --toggle-collect=compile_program bench/compile DIR 1 shift_by`
 * counts the instructions of its compiles). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "compiler/model.h"
#include "io/atomic_file.h"
#include "rasp/rasp.h"

static const struct {
    const char *name;
    double ms;
} BASE[] = {{"shift_by", 0.4}, {"shuffle_dyck2", 17.0}};

static double baseline_ms(const char *name) {
    for (size_t i = 0; i < sizeof BASE / sizeof BASE[0]; i++)
        if (strcmp(BASE[i].name, name) == 0) return BASE[i].ms;
    return 0;
}

static char *slurp(const char *path) {
    unsigned char *b = NULL;
    size_t len;
    char err[256];
    return read_whole_file(path, &b, &len, err, sizeof err) ? NULL : (char *)b;
}

static size_t weight_bytes(const CompiledModel *m) {
    size_t D = (size_t)m->residual_dim, HK = (size_t)m->num_heads * (size_t)m->key_size;
    size_t M = (size_t)m->mlp_hidden_size;
    size_t n = (size_t)m->vocab_size * D + (size_t)(m->max_seq_len + 1) * D +
               (size_t)m->num_layers * (4 * D * HK + 2 * D * M) + D * (size_t)m->n_out;
    return n * sizeof(double);
}

/* malloc + memset + free of the model's weight bytes: the floor of any dense compile. */
static double run_floor(void *ctx, int i) {
    size_t bytes = *(const size_t *)ctx;
    static volatile unsigned char sink;
    double t0 = bench_now_us();
    unsigned char *w = malloc(bytes);
    memset(w, 0, bytes);
    sink ^= w[bytes / 2];
    free(w);
    return bench_now_us() - t0;
}

typedef struct VerifyRun {
    const CompiledModel *m;
    const RaspProgram *p;
} VerifyRun;

/* compile_verify(m, p, 64 inputs), seed i + 1. */
static double run_verify(void *ctx, int i) {
    const VerifyRun *v = ctx;
    char err[1024];
    VerifyReport rep;
    double t0 = bench_now_us();
    if (compile_verify(v->m, v->p, 64, (unsigned long long)i + 1, &rep, err, sizeof err) < 0)
        return -1;
    return bench_now_us() - t0;
}

typedef struct CompileRun {
    const char *path, *text;
    const RaspProgram *parsed;
    bool with_parse;
} CompileRun;

/* compile_program of the parsed program, or of the text parsed again (with_parse). */
static double run_compile(void *ctx, int i) {
    const CompileRun *c = ctx;
    char err[1024];
    double t0 = bench_now_us();
    RaspProgram p;
    const RaspProgram *use = c->parsed;
    if (c->with_parse) {
        if (rasp_parse(c->path, c->text, &p, err, sizeof err)) return -1;
        use = &p;
    }
    CompiledModel *m = NULL;
    int rc = compile_program(use, NULL, &m, err, sizeof err);
    compiled_model_free(m);
    if (c->with_parse) rasp_program_free(&p);
    return rc ? -1 : bench_now_us() - t0;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/fixtures/tracr";
    double min_ms = argc > 2 ? atof(argv[2]) : 300;
    const char *only = argc > 3 ? argv[3] : NULL;
    char names[128][128];
    int n = bench_list_rasp("compile", dir, only, names, 128);
    if (n < 0) return 1;
    double us[128];
    printf("baseline=tracr_intermediate_ms (Tracr 1.0.0 times quoted in the compiler issue)\n");
    printf("%-18s %4s %6s %8s %11s %16s %8s %9s %9s %10s %11s\n", "program", "D", "layers",
           "weight_KB", "compile_us", "parse+compile_us", "tracr_ms", "speedup", "floor_us",
           "vs_floor", "verify64_us");
    for (int i = 0; i < n; i++) {
        char path[512], err[1024];
        snprintf(path, sizeof path, "%.300s/%.120s.rasp", dir, names[i]);
        char *text = slurp(path);
        RaspProgram p;
        us[i] = -1;
        if (!text || rasp_parse(path, text, &p, err, sizeof err)) {
            printf("%-18s parse failed: %s\n", names[i], text ? err : "unreadable");
            free(text);
            continue;
        }
        CompiledModel *m = NULL;
        if (compile_program(&p, NULL, &m, err, sizeof err)) {
            printf("%-18s compile failed: %s\n", names[i], err);
        } else {
            CompileRun ca = {path, text, &p, false}, cb = {path, text, &p, true};
            double a = bench_median_us(run_compile, &ca, 21, min_ms),
                   b = bench_median_us(run_compile, &cb, 21, min_ms);
            size_t wb = weight_bytes(m);
            VerifyRun vr = {m, &p};
            double fl = bench_median_us(run_floor, &wb, 21, min_ms / 3),
                   ve = bench_median_us(run_verify, &vr, 21, min_ms / 3);
            us[i] = a;
            double base = baseline_ms(names[i]);
            char ratio[32] = "n/a", bs[32] = "n/a";
            if (base > 0) {
                snprintf(bs, sizeof bs, "%.1f", base);
                snprintf(ratio, sizeof ratio, "%.0fx", base * 1000 / a);
            }
            printf("%-18s %4d %6d %9.1f %11.2f %16.2f %8s %9s %9.2f %9.1fx %11.1f\n", names[i],
                   m->residual_dim, m->num_layers, wb / 1024.0, a, b, bs, ratio, fl, a / fl, ve);
        }
        compiled_model_free(m);
        rasp_program_free(&p);
        free(text);
    }
    for (int i = 0; i < n; i++)
        if (us[i] >= 0) printf("program=%s median_us=%.2f\n", names[i], us[i]);
    return 0;
}
