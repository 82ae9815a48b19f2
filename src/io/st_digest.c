/* Tensor digest of safetensors files (see st_digest.h). */
#include "io/st_digest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "util/errmsg.h"

static int cmp_name(const void *a, const void *b) {
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_key(const void *a, const void *b) {
    const StMeta *x = *(const StMeta *const *)a, *y = *(const StMeta *const *)b;
    return strcmp(x->key, y->key);
}

static void digest(const StTensor *ts, int n, const StMeta *meta, int n_meta,
                   char out[ST_DIGEST_HEX]) {
    const StTensor **order = malloc(sizeof *order * (size_t)(n ? n : 1)); /* [n] */
    if (!order) abort();
    for (int i = 0; i < n; i++) order[i] = &ts[i];
    qsort(order, (size_t)n, sizeof *order, cmp_name);
    XXH3_state_t *s = XXH3_createState();
    if (!s) abort();
    XXH3_128bits_reset(s);
    for (int i = 0; i < n; i++) {
        const StTensor *t = order[i];
        int64_t dims[ST_MAX_DIMS + 2] = {t->dtype, t->ndim}; /* fixed-size, so no ambiguity */
        for (int d = 0; d < t->ndim && d < ST_MAX_DIMS; d++) dims[2 + d] = t->shape[d];
        XXH3_128bits_update(s, t->name, strlen(t->name) + 1);
        XXH3_128bits_update(s, dims, sizeof dims);
        if (t->nbytes) XXH3_128bits_update(s, t->data, t->nbytes);
    }
    /* the metadata too (a flipped token id or output value would change answers as surely
     * as a weight), in key order, without the digest itself */
    const StMeta **mo = malloc(sizeof *mo * (size_t)(n_meta ? n_meta : 1)); /* [n_meta] */
    if (!mo) abort();
    int k = 0;
    for (int i = 0; i < n_meta; i++)
        if (strcmp(meta[i].key, ST_DIGEST_KEY) != 0) mo[k++] = &meta[i];
    qsort(mo, (size_t)k, sizeof *mo, cmp_key);
    for (int i = 0; i < k; i++) {
        XXH3_128bits_update(s, mo[i]->key, strlen(mo[i]->key) + 1);
        XXH3_128bits_update(s, mo[i]->value, strlen(mo[i]->value) + 1);
    }
    free(mo);
    XXH128_hash_t h = XXH3_128bits_digest(s);
    XXH3_freeState(s);
    free(order);
    snprintf(out, ST_DIGEST_HEX, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
}

void st_digest_add(StWriter *w) {
    /* the writer's tensors carry no nbytes yet: fill a copy */
    StTensor *ts = malloc(sizeof *ts * (size_t)(w->n ? w->n : 1)); /* [n] */
    if (!ts) abort();
    for (int i = 0; i < w->n; i++) {
        ts[i] = w->tensors[i];
        size_t nb = st_dtype_size(ts[i].dtype);
        for (int d = 0; d < ts[i].ndim; d++) nb *= (size_t)ts[i].shape[d];
        ts[i].nbytes = nb;
    }
    char hex[ST_DIGEST_HEX];
    digest(ts, w->n, w->meta, w->n_meta, hex);
    free(ts);
    st_writer_meta(w, ST_DIGEST_KEY, hex);
}

int st_digest_check(const StFile *f, const char *label, char *err, size_t errcap) {
    const char *want = st_meta_get(f, ST_DIGEST_KEY);
    if (!want) return 0;
    char got[ST_DIGEST_HEX];
    digest(f->tensors, f->n, f->meta, f->n_meta, got);
    if (strcmp(want, got) != 0)
        return err_printf(err, errcap,
                          "%s: the content does not match its checksum (%s %s, "
                          "computed %s): the file is corrupt",
                          label, ST_DIGEST_KEY, want, got);
    return 0;
}
