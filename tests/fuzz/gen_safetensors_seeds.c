/* Writes the fuzzing seeds (into the folder given; `make fuzz-safetensors` uses
 * build/fuzz/seeds_st) with the library's writer.
 *   make build/fuzz/gen_safetensors_seeds && build/fuzz/gen_safetensors_seeds DIR
 * Kept tiny: the fuzzer mutates their headers, and small inputs run fastest. */
#include <stdio.h>
#include <string.h>

#include "io/safetensors.h"

static int save(StWriter *w, const char *dir, const char *name) {
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (st_writer_save(w, path, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    st_writer_free(w);
    return 0;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "build/fuzz/seeds_st";
    StWriter w;
    int rc = 0;
    float f[6] = {1, -2, 0.5f, 3, 4, 5};
    int16_t i16[3] = {-1, 2, 300};
    uint8_t u8[2] = {7, 255};
    double d = 2.25;
    int64_t s23[2] = {2, 3}, s3[1] = {3}, s2[1] = {2}, s0[1] = {0};

    st_writer_init(&w); /* empty file: "{}" padded */
    rc |= save(&w, dir, "empty.safetensors");

    st_writer_init(&w);
    st_writer_add(&w, "w", ST_F32, 2, s23, f);
    rc |= save(&w, dir, "one_f32.safetensors");

    st_writer_init(&w);
    st_writer_add(&w, "a/w", ST_F32, 2, s23, f);
    st_writer_add(&w, "b", ST_I16, 1, s3, i16);
    st_writer_add(&w, "c", ST_U8, 1, s2, u8);
    st_writer_add(&w, "scalar", ST_F64, 0, NULL, &d);
    st_writer_add(&w, "empty", ST_BOOL, 1, s0, NULL);
    st_writer_meta(&w, "format", "itracr-model/1");
    st_writer_meta(&w, "note", "q\"uote\n\xc3\xa9");
    rc |= save(&w, dir, "mixed_meta.safetensors");
    return rc;
}
