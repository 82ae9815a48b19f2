/* Writes the seed corpus of fuzz_npz (tests/fuzz/corpus_npz): a float32 and a float64 .npy
 * and a small .npz, each prefixed with the fuzz target's selector byte. Build and run:
 *   cc -Isrc -Itests tests/fuzz/gen_npz_seeds.c -lzip -lcjson build/release/libitracr.a -lm \
 *      -o /tmp/gen && /tmp/gen tests/fuzz/corpus_npz */
#include <stdio.h>
#include <stdlib.h>

#include "tracr_export.h"

static void put(const char *dir, const char *name, unsigned char sel, const unsigned char *b,
                size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputc(sel, f);
    fwrite(b, 1, n, f);
    fclose(f);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    double d[6] = {1, -2.5, 3, 0, 1e-3, 100};
    size_t n;
    unsigned char *a = tx_npy(d, 2, 3, 0, &n);
    put(dir, "f32.npy", 0, a, n);
    free(a);
    a = tx_npy(d, 6, -1, 1, &n);
    put(dir, "f64.npy", 0, a, n);
    free(a);
    char path[512];
    snprintf(path, sizeof path, "%s/tmp.npz", dir);
    int e = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &e);
    if (!z) return 1;
    a = tx_npy(d, 3, 2, 0, &n);
    zip_file_add(z, "token_embed/embeddings.npy", zip_source_buffer(z, a, n, 1), 0);
    unsigned char *b = tx_npy(d, 6, -1, 1, &n);
    zip_file_add(z, "unembed/b.npy", zip_source_buffer(z, b, n, 1), 0);
    if (zip_close(z)) return 1;
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len);
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) return 1;
    fclose(f);
    remove(path);
    put(dir, "small.npz", 1, buf, (size_t)len);
    free(buf);
    return 0;
}
