#include "meta/meta.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "io/st_digest.h"

#define FORMAT "itracr-meta/1"

static const char *const PREFIX[3] = {"param.", "adam_m.", "adam_v."};

static float *slot(const MetaModel *m, int which) {
    return which == 0 ? m->params : which == 1 ? m->adam_m : m->adam_v;
}

int meta_checkpoint_save(const MetaModel *m, const char *path, char *err, size_t errcap) {
    StWriter w;
    st_writer_init(&w);
    int nt = m->lay.n_tensors, rc = -1;
    char(*names)[META_NAME_MAX + 8] = malloc(sizeof *names * (size_t)(3 * nt));
    char *cfg = meta_config_to_json(&m->cfg);
    if (!names || !cfg) {
        snprintf(err, errcap, "%s: out of memory", path);
        goto done;
    }
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < nt; i++) {
            const MetaTensorInfo *t = &m->lay.tensors[i];
            char *nm = names[k * nt + i];
            snprintf(nm, META_NAME_MAX + 8, "%s%s", PREFIX[k], t->name);
            int64_t shape[2] = {t->shape[0], t->shape[1]};
            st_writer_add(&w, nm, ST_F32, t->ndim, shape, slot(m, k) + t->offset);
        }
    char buf[128];
    st_writer_meta(&w, "format", FORMAT);
    st_writer_meta(&w, "config", cfg);
    snprintf(buf, sizeof buf, "%ld", m->step);
    st_writer_meta(&w, "step", buf);
    snprintf(buf, sizeof buf, "%" PRIu64, m->seed);
    st_writer_meta(&w, "seed", buf);
    snprintf(buf, sizeof buf, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, m->rng.s[0],
             m->rng.s[1], m->rng.s[2], m->rng.s[3]);
    st_writer_meta(&w, "rng", buf);
    st_digest_add(&w);
    rc = st_writer_save(&w, path, err, errcap);
done:
    st_writer_free(&w);
    free(names);
    free(cfg);
    return rc;
}

static int parse_u64(const char *s, int base, uint64_t *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (*end || errno) return -1;
    *out = v;
    return 0;
}

int meta_checkpoint_load(MetaModel *m, const char *path, int max_batch, char *err, size_t errcap) {
    memset(m, 0, sizeof *m);
    StFile f;
    if (st_read_file(path, &f, err, errcap)) return -1;
    char e2[200];
    MetaConfig cfg;
    uint64_t step = 0, seed = 0, rng[4];
    const char *fmt = st_meta_get(&f, "format"), *cj = st_meta_get(&f, "config");
    const char *rs = st_meta_get(&f, "rng");
    if (!fmt || strcmp(fmt, FORMAT) != 0) {
        snprintf(err, errcap, "%s: not a meta-model checkpoint (format \"%s\", expected \"%s\")",
                 path, fmt ? fmt : "(missing)", FORMAT);
        goto fail;
    }
    if (!cj || meta_config_from_json(cj, &cfg, e2, sizeof e2)) {
        snprintf(err, errcap, "%s: %s", path, cj ? e2 : "config missing from metadata");
        goto fail;
    }
    if (parse_u64(st_meta_get(&f, "step"), 10, &step) || step > (uint64_t)1 << 62 ||
        parse_u64(st_meta_get(&f, "seed"), 10, &seed) || !rs || strlen(rs) != 64) {
        snprintf(err, errcap, "%s: step, seed or rng metadata missing or malformed", path);
        goto fail;
    }
    for (int i = 0; i < 4; i++) {
        char word[17];
        memcpy(word, rs + 16 * i, 16);
        word[16] = 0;
        if (parse_u64(word, 16, &rng[i])) {
            snprintf(err, errcap, "%s: rng metadata malformed", path);
            goto fail;
        }
    }
    if (meta_model_init(m, &cfg, seed, max_batch, e2, sizeof e2)) {
        snprintf(err, errcap, "%s: %s", path, e2);
        goto fail;
    }
    if (f.n != 3 * m->lay.n_tensors) {
        snprintf(err, errcap, "%s: %d tensors, the config implies %d", path, f.n,
                 3 * m->lay.n_tensors);
        goto fail;
    }
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < m->lay.n_tensors; i++) {
            const MetaTensorInfo *t = &m->lay.tensors[i];
            char nm[META_NAME_MAX + 8];
            snprintf(nm, sizeof nm, "%s%s", PREFIX[k], t->name);
            const StTensor *st = st_find(&f, nm);
            if (!st) {
                snprintf(err, errcap, "%s: tensor %s missing", path, nm);
                goto fail;
            }
            int ok = st->dtype == ST_F32 && st->ndim == t->ndim && st->shape[0] == t->shape[0] &&
                     (t->ndim == 1 || st->shape[1] == t->shape[1]);
            if (!ok) {
                snprintf(err, errcap,
                         "%s: tensor %s is %s with %d dims [%" PRId64 ", %" PRId64
                         "], expected F32 [%d, %d] (%d dims)",
                         path, nm, st_dtype_name(st->dtype), st->ndim,
                         st->ndim > 0 ? st->shape[0] : 0, st->ndim > 1 ? st->shape[1] : 0,
                         t->shape[0], t->ndim > 1 ? t->shape[1] : 0, t->ndim);
                goto fail;
            }
            float *dst = slot(m, k) + t->offset;
            memcpy(dst, st->data, sizeof(float) * t->numel); /* memcpy: any alignment */
            for (size_t j = 0; j < t->numel; j++)
                if (!isfinite(dst[j])) { /* would decode to garbage, or train on NaN */
                    snprintf(err, errcap, "%s: tensor %s holds a non-finite value at element %zu",
                             path, nm, j);
                    goto fail;
                }
        }
    if (st_digest_check(&f, path, err, errcap)) goto fail;
    m->step = (long)step;
    for (int i = 0; i < 4; i++) m->rng.s[i] = rng[i];
    st_file_free(&f);
    return 0;
fail:
    st_file_free(&f);
    meta_model_free(m);
    return -1;
}
