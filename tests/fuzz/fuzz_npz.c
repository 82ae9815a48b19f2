/* libFuzzer target for the .npy/.npz reader (io/npz.h): `make fuzz-npz`.
 * The first byte picks the entry point (even: one .npy image, odd: an .npz archive read with
 * libzip); the rest is the file. Any input must either be rejected with a message or give
 * arrays whose element count is the product of their shape. Seeds: tests/fuzz/corpus_npz
 * (made by tests/fuzz/gen_npz_seeds.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npz.h"

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_npz: property failed: %s (line %d)\n", #c, __LINE__);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_array(const NpyArray *a) {
    REQUIRE(a->ndim >= 0 && a->ndim <= NPY_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < a->ndim; i++) {
        REQUIRE(a->shape[i] >= 0);
        n *= a->shape[i];
    }
    REQUIRE(n == a->numel);
    volatile double s = 0;
    for (int64_t i = 0; i < a->numel; i++) s += a->data[i]; /* every element is readable */
    (void)s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char err[512];
    err[0] = '\0';
    if (data[0] % 2 == 0) {
        NpyArray a;
        if (npy_parse(data + 1, size - 1, "fuzz", &a, err, sizeof err) != 0) {
            REQUIRE(err[0] != '\0');
            return 0;
        }
        check_array(&a);
        npy_free(&a);
    } else {
        NpzFile f;
        if (npz_read_buffer(data + 1, size - 1, "fuzz", &f, err, sizeof err) != 0) {
            REQUIRE(err[0] != '\0');
            REQUIRE(f.n == 0 && f.arrays == NULL);
            return 0;
        }
        for (int i = 0; i < f.n; i++) check_array(&f.arrays[i]);
        npz_free(&f);
    }
    return 0;
}
