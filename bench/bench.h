/* The benchmarks' timing loop: run a piece of work until it has run at least min_runs times
 * and for min_ms in all, then take the median (a median, not a mean: the machine is shared
 * and a run that another job delays is an outlier, not a sample of the code). */
#ifndef ITRACR_BENCH_H
#define ITRACR_BENCH_H
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The programs of a benchmark: the stems of DIR's *.rasp files (names[k] without ".rasp"),
 * sorted, at most cap; only the stem `only` when it is not NULL. Returns their number, or -1
 * (with a message naming the benchmark) when DIR cannot be opened. */
static inline int bench_list_rasp(const char *bench, const char *dir, const char *only,
                                  char names[][128], int cap) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "bench/%s: cannot open %s\n", bench, dir);
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        size_t L = strlen(e->d_name);
        if (L > 5 && L < 120 && strcmp(e->d_name + L - 5, ".rasp") == 0) {
            memcpy(names[n], e->d_name, L - 5);
            names[n][L - 5] = 0;
            if (!only || strcmp(names[n], only) == 0) n++;
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    return n;
}

#endif
