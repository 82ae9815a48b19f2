/* Minimal test harness: each tests/test_*.c is one binary; TEST functions are registered
 * with RUN in main and every failed CHECK prints file:line and the condition. The binary
 * ends with "TESTSUM passed=P failed=F", which tests/run.sh adds up. */
#ifndef ITRACR_TEST_H
#define ITRACR_TEST_H
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int t_failed_checks, t_tests_passed, t_tests_failed, t_cur_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                      \
            t_failed_checks++;                                                                     \
            t_cur_failed = 1;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                      \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            t_failed_checks++;                                                                     \
            t_cur_failed = 1;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *t_a = (a), *t_b = (b);                                                         \
        if (!t_a || !t_b || strcmp(t_a, t_b) != 0) {                                               \
            fprintf(stderr, "  FAIL %s:%d: %s == %s: \"%s\" vs \"%s\"\n", __FILE__, __LINE__, #a,  \
                    #b, t_a ? t_a : "(null)", t_b ? t_b : "(null)");                               \
            t_failed_checks++;                                                                     \
            t_cur_failed = 1;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double t_x = (a), t_y = (b);                                                               \
        if (!(fabs(t_x - t_y) <= (tol))) {                                                         \
            fprintf(stderr, "  FAIL %s:%d: %s ~ %s: %.9g vs %.9g\n", __FILE__, __LINE__, #a, #b,   \
                    t_x, t_y);                                                                     \
            t_failed_checks++;                                                                     \
            t_cur_failed = 1;                                                                      \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        t_cur_failed = 0;                                                                          \
        fn();                                                                                      \
        if (t_cur_failed) {                                                                        \
            t_tests_failed++;                                                                      \
            fprintf(stderr, "FAILED %s\n", #fn);                                                   \
        } else {                                                                                   \
            t_tests_passed++;                                                                      \
        }                                                                                          \
    } while (0)

#define TEST_END()                                                                                 \
    do {                                                                                           \
        printf("TESTSUM passed=%d failed=%d\n", t_tests_passed, t_tests_failed);                   \
        return t_tests_failed ? 1 : 0;                                                             \
    } while (0)

/* A fresh scratch directory "/tmp/itracr_<tag>_XXXXXX" (mkdtemp) in dir[cap]. Returns 0, or
 * -1 with the reason on stderr. */
static inline int test_tmpdir(char *dir, size_t cap, const char *tag) {
    if (snprintf(dir, cap, "/tmp/itracr_%s_XXXXXX", tag) >= (int)cap || !mkdtemp(dir)) {
        fprintf(stderr, "test_tmpdir(%s): cannot create a scratch directory\n", tag);
        return -1;
    }
    return 0;
}

static inline int test_cmp_stem(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

/* The names in dir that end in ext, without it, sorted (readdir's order is the file
 * system's): at most cap of them into stems[cap][64]. Returns the count, -1 when dir cannot
 * be opened. */
static inline int test_list_stems(const char *dir, const char *ext, char (*stems)[64], int cap) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    size_t le = strlen(ext);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        size_t L = strlen(e->d_name);
        if (L > le && L - le < 64 && strcmp(e->d_name + L - le, ext) == 0)
            snprintf(stems[n++], 64, "%.*s", (int)(L - le), e->d_name);
    }
    closedir(d);
    qsort(stems, (size_t)n, 64, test_cmp_stem);
    return n;
}

/* Removes dir and everything below it (links are removed, never followed). */
static inline void test_rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char p[4096];
            struct stat st;
            if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) test_rm_tree(p);
            else unlink(p);
        }
        closedir(d);
    }
    if (rmdir(dir) != 0 && d) fprintf(stderr, "test_rm_tree: could not remove %s\n", dir);
}

/* Directory with test fixtures, relative to the repository root (tests run from there). */
#define FIXTURE_DIR "tests/fixtures"

#endif
