/* libFuzzer target for the safetensors reader: `make fuzz-safetensors`.
 * Any input must either be rejected with a message or load into tensors that lie inside the
 * buffer; a loaded file must survive a round trip through the writer unchanged (names,
 * dtypes, shapes, bytes, metadata). Seeds: tests/fuzz/corpus_safetensors (made by
 * tests/fuzz/gen_safetensors_seeds.c with the writer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_safetensors: property failed: %s (line %d)\n", #c, __LINE__);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    StFile f;
    char err[512];
    err[0] = '\0';
    if (st_read_buffer(data, size, &f, err, sizeof err) != 0) {
        REQUIRE(err[0] != '\0'); /* every rejection says why */
        REQUIRE(f.n == 0 && f.buf == NULL);
        st_file_free(&f);
        return 0;
    }
    for (int i = 0; i < f.n; i++) {
        const StTensor *t = &f.tensors[i];
        const unsigned char *p = t->data;
        REQUIRE(p >= f.buf && p <= f.buf + f.len && t->nbytes <= (size_t)(f.buf + f.len - p));
        REQUIRE((int64_t)t->nbytes == st_numel(t) * (int64_t)st_dtype_size(t->dtype));
        REQUIRE(st_find(&f, t->name) == t);
    }

    StWriter w;
    st_writer_init(&w);
    for (int i = 0; i < f.n; i++) {
        const StTensor *t = &f.tensors[i];
        st_writer_add(&w, t->name, t->dtype, t->ndim, t->shape, t->data);
    }
    for (int i = 0; i < f.n_meta; i++) st_writer_meta(&w, f.meta[i].key, f.meta[i].value);
    unsigned char *out;
    size_t out_len;
    REQUIRE(st_writer_serialize(&w, &out, &out_len, err, sizeof err) == 0);
    StFile g;
    REQUIRE(st_read_buffer(out, out_len, &g, err, sizeof err) == 0);
    REQUIRE(g.n == f.n && g.n_meta == f.n_meta);
    for (int i = 0; i < f.n; i++) {
        const StTensor *a = &f.tensors[i], *b = st_find(&g, a->name);
        REQUIRE(b && a->dtype == b->dtype && a->ndim == b->ndim && a->nbytes == b->nbytes);
        REQUIRE(memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof a->shape[0]) == 0);
        REQUIRE(a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0);
    }
    for (int i = 0; i < f.n_meta; i++) {
        const char *v = st_meta_get(&g, f.meta[i].key);
        REQUIRE(v && strcmp(v, f.meta[i].value) == 0);
    }
    /* The writer is canonical: writing what it read gives the same bytes again. */
    StWriter w2;
    st_writer_init(&w2);
    for (int i = 0; i < g.n; i++)
        st_writer_add(&w2, g.tensors[i].name, g.tensors[i].dtype, g.tensors[i].ndim,
                      g.tensors[i].shape, g.tensors[i].data);
    for (int i = 0; i < g.n_meta; i++) st_writer_meta(&w2, g.meta[i].key, g.meta[i].value);
    unsigned char *out2;
    size_t out2_len;
    REQUIRE(st_writer_serialize(&w2, &out2, &out2_len, err, sizeof err) == 0);
    REQUIRE(out2_len == out_len && memcmp(out, out2, out_len) == 0);
    free(out2);
    st_writer_free(&w2);
    st_file_free(&g);
    free(out);
    st_writer_free(&w);
    st_file_free(&f);
    return 0;
}
