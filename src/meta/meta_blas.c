#include "meta/meta.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

static int g_use_blas = -1, g_threads_set;

static void single_threaded_blas(void) {
    /* One thread pool: OpenMP splits the products, OpenBLAS runs on the calling thread.
     * Two pools spinning on the same cores slow each other down badly. */
    if (!g_threads_set) openblas_set_num_threads(1);
    g_threads_set = 1;
}

int meta_blas_enabled(void) {
    if (g_use_blas < 0) {
        const char *e = getenv("ITRACR_NO_BLAS");
        g_use_blas = !(e && *e && strcmp(e, "0") != 0);
        single_threaded_blas();
    }
    return g_use_blas;
}

void meta_set_blas(int on) {
    g_use_blas = on ? 1 : 0;
    single_threaded_blas();
}

const char *meta_blas_corename(void) {
    const char *s = openblas_get_corename();
    return s ? s : "none";
}
