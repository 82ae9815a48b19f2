/* The benchmarks' timing loop: run a piece of work until it has run at least min_runs times
 * and for min_ms in all, then take the median (a median, not a mean: the machine is shared
 * and a run that another job delays is an outlier, not a sample of the code). */
#ifndef ITRACR_BENCH_H
#define ITRACR_BENCH_H
#include <stdlib.h>
#include <time.h>

#define BENCH_MAX_RUNS 200000

static inline double bench_now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static inline int bench_dcmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts t[n] and returns its median (0 when n is 0). */
static inline double bench_median(double *t, int n) {
    qsort(t, (size_t)n, sizeof(double), bench_dcmp);
    return n ? t[n / 2] : 0;
}

/* One timed run: run number i (0, 1, ...); returns the microseconds of the part it times
 * (set-up it does not want counted is left out), or a negative number on failure. */
typedef double (*BenchRun)(void *ctx, int i);

/* The median microseconds of run, over at least min_runs runs and min_ms milliseconds (at
 * most BENCH_MAX_RUNS runs); -1 as soon as a run fails. */
static inline double bench_median_us(BenchRun run, void *ctx, int min_runs, double min_ms) {
    static double t[BENCH_MAX_RUNS];
    int n = 0;
    double start = bench_now_us();
    while (n < BENCH_MAX_RUNS && (n < min_runs || bench_now_us() - start < min_ms * 1000)) {
        double us = run(ctx, n);
        if (us < 0) return -1;
        t[n++] = us;
    }
    return bench_median(t, n);
}

#endif
