#include "meta/meta_blas.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

static int g_use_blas = -1;

int meta_blas_enabled(void) {
    if (g_use_blas < 0) {
        const char *e = getenv("ITRACR_NO_BLAS");
        g_use_blas = !(e && *e && strcmp(e, "0") != 0);
    }
    return g_use_blas;
}

void meta_set_blas(int on) { g_use_blas = on ? 1 : 0; }

int meta_blas_serial_begin(void) {
    if (!meta_blas_enabled()) return 0;
    int prev = openblas_get_num_threads();
    if (prev != 1) openblas_set_num_threads(1);
    return prev;
}

void meta_blas_serial_end(int prev) {
    if (prev > 1) openblas_set_num_threads(prev);
}

const char *meta_blas_corename(void) {
    const char *s = openblas_get_corename();
    return s ? s : "none";
}
