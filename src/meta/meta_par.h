/* Conditional OpenMP regions that cost nothing when they do not fork.
 *
 * libgomp enters its runtime, two futex system calls, for every `parallel` construct, even one
 * whose if clause is false or that is nested in another region and so runs on one thread. A
 * decoding step runs ~30 small kernels; those calls were 1.2 million futexes for 100 evaluated
 * samples and a third of the wall time. META_PAR runs BODY as an OpenMP region (PRAGMA, a string
 * such as "omp parallel for schedule(static)") only when COND holds outside any parallel
 * region, and as plain serial code otherwise. BODY must give the same result on one thread
 * (omp_get_num_threads() is 1 and omp_get_thread_num() 0 outside a region). */
#ifndef ITRACR_META_PAR_H
#define ITRACR_META_PAR_H
#include <omp.h>

#define META_PAR(COND, PRAGMA, ...)                                                                \
    do {                                                                                           \
        if ((COND) && !omp_in_parallel()) {                                                        \
            _Pragma(PRAGMA) __VA_ARGS__                                                            \
        } else {                                                                                   \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    } while (0)

/* The same for a simd loop: the serial branch keeps the vectorisation that "omp parallel for
 * simd" asks for (-O2 alone will not vectorise a loop that needs an epilogue). */
#define META_PAR_SIMD(COND, PRAGMA, ...)                                                           \
    do {                                                                                           \
        if ((COND) && !omp_in_parallel()) {                                                        \
            _Pragma(PRAGMA) __VA_ARGS__                                                            \
        } else {                                                                                   \
            _Pragma("omp simd") __VA_ARGS__                                                        \
        }                                                                                          \
    } while (0)

#endif
