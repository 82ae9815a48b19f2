/* Dataset shard writer and validating reader (see shard.h). */
#include "dataset/shard.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checksum.h"
#include "io/json_util.h"
#include "util/strbuf.h"

#define PT_CELLS (PT_ROWS * PT_COLS)

void shard_builder_init(ShardBuilder *b) {
    memset(b, 0, sizeof *b);
    wt_options_default(&b->wt);
}

void shard_builder_free(ShardBuilder *b) {
    free(b->prog);
    free(b->meta);
    free(b->index);
    free(b->mhash);
    free(b->offsets);
    free(b->payload);
    free(b->ids);
    free(b->setting);
    WtOptions wt = b->wt;
    bool settings = b->settings, tables = b->tables;
    shard_builder_init(b);
    b->wt = wt;
    b->settings = settings;
    b->tables = tables;
}

void shard_builder_clear(ShardBuilder *b) {
    b->n = 0;
    b->total = 0;
}

static int grow(void **p, size_t elem, int64_t n) {
    void *q = realloc(*p, elem * (size_t)n);
    if (!q) return -1;
    *p = q;
    return 0;
}

int shard_builder_add(ShardBuilder *b, const AccResult *r, int64_t index) {
    if (b->n + 1 > b->cap) {
        int cap = b->cap ? b->cap * 2 : 64;
        if (grow((void **)&b->prog, sizeof(int16_t) * PT_CELLS, cap) ||
            grow((void **)&b->meta, sizeof(int32_t) * ACC_META_COLS, cap) ||
            grow((void **)&b->index, sizeof(int64_t), cap) ||
            grow((void **)&b->mhash, sizeof(uint64_t) * 2, cap) ||
            grow((void **)&b->offsets, sizeof(int64_t), cap + 1) ||
            grow((void **)&b->setting, sizeof(int32_t) * GEN_SETTING_COLS, cap))
            return -1;
        b->cap = cap;
    }
    if (b->total + r->wt.n > b->tcap) {
        int64_t tcap = b->tcap ? b->tcap : 4096;
        while (tcap < b->total + r->wt.n) tcap *= 2;
        if (grow((void **)&b->payload, sizeof(float) * WT_WIDTH, tcap) ||
            grow((void **)&b->ids, sizeof(int16_t) * WT_N_IDS, tcap))
            return -1;
        b->tcap = tcap;
    }
    int i = b->n++;
    memcpy(b->prog + (size_t)i * PT_CELLS, r->tokens, sizeof(int16_t) * PT_CELLS);
    memcpy(b->meta + (size_t)i * ACC_META_COLS, r->meta, sizeof(int32_t) * ACC_META_COLS);
    b->index[i] = index;
    if (gen_setting_to_row(&r->sample.setting, b->setting + (size_t)i * GEN_SETTING_COLS) &&
        b->settings) {
        b->n--;
        return -2;
    }
    b->mhash[2 * i] = r->model_hash[0];
    b->mhash[2 * i + 1] = r->model_hash[1];
    b->offsets[0] = 0;
    if (r->wt.n) {
        memcpy(b->payload + (size_t)b->total * WT_WIDTH, r->wt.payload,
               sizeof(float) * WT_WIDTH * (size_t)r->wt.n);
        memcpy(b->ids + (size_t)b->total * WT_N_IDS, r->wt.ids,
               sizeof(int16_t) * WT_N_IDS * (size_t)r->wt.n);
    }
    b->total += r->wt.n;
    b->offsets[i + 1] = b->total;
    return 0;
}

static int cmp_tensor_name(const void *a, const void *b) {
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    return strcmp(x->name, y->name);
}

uint64_t shard_checksum(const StTensor *const *tensors, int n) {
    const StTensor **sorted = malloc(sizeof *sorted * (size_t)(n ? n : 1));
    if (!sorted) return 0;
    memcpy(sorted, tensors, sizeof *sorted * (size_t)n);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_tensor_name);
    Checksum64 c;
    checksum64_init(&c, 0);
    for (int i = 0; i < n; i++) {
        /* from the shape: the writer's tensors carry no nbytes */
        size_t nb = (size_t)st_numel(sorted[i]) * st_dtype_size(sorted[i]->dtype);
        if (nb) checksum64_update(&c, sorted[i]->data, nb);
    }
    free(sorted);
    return checksum64_final(&c);
}

/* tables: the vocabulary with the "table" function and the value tokens; otherwise the
 * vocabulary as it was before tables (a dataset without tables keeps its bytes). */
static char *program_vocab_json(bool tables) {
    StrBuf b;
    sb_init(&b);
    static const char *const cols[PT_COLS] = {"op", "enc", "fn", "a1", "a2", "out"};
    sb_append(&b, "{\"columns\":[");
    for (int c = 0; c < PT_COLS; c++) sb_printf(&b, "%s\"%s\"", c ? "," : "", cols[c]);
    sb_append(&b, "],\"sizes\":[");
    int size[PT_COLS];
    for (int c = 0; c < PT_COLS; c++)
        size[c] = c == PT_COL_FN && !tables ? PT_FN_TABLE : pt_vocab_size(c);
    for (int c = 0; c < PT_COLS; c++) sb_printf(&b, "%s%d", c ? "," : "", size[c]);
    sb_append(&b, "],\"names\":[");
    for (int c = 0; c < PT_COLS; c++) {
        sb_append(&b, c ? ",[" : "[");
        for (int id = 0; id < size[c]; id++) {
            const char *nm = pt_token_name(c, id);
            if (id) sb_append(&b, ",");
            json_write_string(&b, nm ? nm : "?", strlen(nm ? nm : "?"));
        }
        sb_append(&b, "]");
    }
    sb_append(&b, "]");
    if (tables) {
        sb_append(&b, ",\"values\":[");
        for (int id = 0; id < PT_VAL_VOCAB; id++) {
            const char *nm = pt_value_name(id);
            if (id) sb_append(&b, ",");
            json_write_string(&b, nm ? nm : "?", strlen(nm ? nm : "?"));
        }
        sb_append(&b, "]");
    }
    sb_append(&b, "}");
    return sb_take(&b);
}

static char *wt_json(const WtOptions *o) {
    StrBuf b;
    sb_init(&b);
    int voc[WT_N_IDS];
    wt_id_vocab(voc);
    sb_printf(
        &b,
        "{\"scheme\":\"%s\",\"norm\":\"%s\",\"width\":%d,\"id_names\":[\"kind\",\"layer\",\"pos\",\"sub\"],\"id_vocab\":[%d,%d,%d,%d],"
        "\"kinds\":[",
        wt_scheme_name(o->scheme), wt_norm_name(o->norm), WT_WIDTH, voc[0], voc[1], voc[2], voc[3]);
    for (int k = 0; k < WT_KIND_COUNT; k++)
        sb_printf(&b, "%s\"%s\"", k ? "," : "", wt_kind_name(k));
    sb_append(&b, "]}");
    return sb_take(&b);
}

static char *meta_cols_json(void) {
    StrBuf b;
    sb_init(&b);
    sb_append(&b, "[");
    for (int k = 0; k < ACC_META_COLS; k++)
        sb_printf(&b, "%s\"%s\"", k ? "," : "", acc_meta_names[k]);
    sb_append(&b, "]");
    return sb_take(&b);
}

/* The strings a negative token code names (sampler.h, "settings as integers"). */
static char *symbols_json(void) {
    StrBuf b;
    sb_init(&b);
    sb_append(&b, "[");
    for (int k = 0; k < GEN_N_SYMBOLS; k++) sb_printf(&b, "%s\"%s\"", k ? "," : "", gen_symbol(k));
    sb_append(&b, "]");
    return sb_take(&b);
}

/* Fills w (tensors borrowed from b) and the metadata; strings to free go to owned[4]. */
static void fill_writer(StWriter *w, const ShardBuilder *b, const char *const *extra, int n_extra,
                        char **owned) {
    static const int64_t zero = 0;
    int64_t N = b->n, T = b->total;
    int64_t sp[3] = {N, PT_ROWS, PT_COLS};
    st_writer_add(w, "program_tokens", ST_I16, 3, sp, b->prog);
    int64_t sw[2] = {T, WT_WIDTH};
    st_writer_add(w, "wt_payload", ST_F32, 2, sw, b->payload);
    int64_t si[2] = {T, WT_N_IDS};
    st_writer_add(w, "wt_ids", ST_I16, 2, si, b->ids);
    int64_t so[1] = {N + 1};
    st_writer_add(w, "wt_offsets", ST_I64, 1, so,
                  N ? (const void *)b->offsets : (const void *)&zero);
    int64_t sm[2] = {N, ACC_META_COLS};
    st_writer_add(w, "sample_meta", ST_I32, 2, sm, b->meta);
    int64_t sx[1] = {N};
    st_writer_add(w, "sample_index", ST_I64, 1, sx, b->index);
    int64_t sh[2] = {N, 2};
    st_writer_add(w, "model_hash", ST_U64, 2, sh, b->mhash);
    int64_t ss[2] = {N, GEN_SETTING_COLS};
    if (b->settings) st_writer_add(w, "sample_setting", ST_I32, 2, ss, b->setting);

    const StTensor *ptrs[16];
    for (int i = 0; i < w->n; i++) ptrs[i] = &w->tensors[i];
    char hex[17];
    checksum_hex(shard_checksum(ptrs, w->n), hex);
    st_writer_meta(w, "checksum", hex);
    st_writer_meta(w, "format", SHARD_FORMAT);
    char nb[32];
    snprintf(nb, sizeof nb, "%d", b->n);
    st_writer_meta(w, "n_samples", nb);
    owned[0] = program_vocab_json(b->tables);
    owned[1] = wt_json(&b->wt);
    owned[2] = meta_cols_json();
    st_writer_meta(w, "program_vocab", owned[0] ? owned[0] : "{}");
    st_writer_meta(w, "weight_tokens", owned[1] ? owned[1] : "{}");
    st_writer_meta(w, "meta_columns", owned[2] ? owned[2] : "[]");
    if (b->settings) {
        owned[3] = symbols_json();
        st_writer_meta(w, "vocab_symbols", owned[3] ? owned[3] : "[]");
    }
    for (int i = 0; i < n_extra; i++) st_writer_meta(w, extra[2 * i], extra[2 * i + 1]);
}

int shard_serialize(const ShardBuilder *b, const char *const *extra, int n_extra,
                    unsigned char **out, size_t *out_len, char *err, size_t errcap) {
    StWriter w;
    st_writer_init(&w);
    char *owned[4] = {0};
    fill_writer(&w, b, extra, n_extra, owned);
    int rc = st_writer_serialize(&w, out, out_len, err, errcap);
    st_writer_free(&w);
    for (int i = 0; i < 4; i++) free(owned[i]);
    return rc;
}

int shard_write(const ShardBuilder *b, const char *path, const char *const *extra, int n_extra,
                char *err, size_t errcap) {
    StWriter w;
    st_writer_init(&w);
    char *owned[4] = {0};
    fill_writer(&w, b, extra, n_extra, owned);
    int rc = st_writer_save(&w, path, err, errcap);
    st_writer_free(&w);
    for (int i = 0; i < 4; i++) free(owned[i]);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------- */

void shard_free(Shard *s) {
    st_file_free(&s->f);
    memset(s, 0, sizeof *s);
}

static const StTensor *need(const StFile *f, const char *name, StDtype dt, int ndim,
                            const int64_t *shape, const char *label, char *err, size_t errcap) {
    const StTensor *t = st_find(f, name);
    if (!t) {
        snprintf(err, errcap, "%s: damaged shard: tensor %s is missing", label, name);
        return NULL;
    }
    if (t->dtype != dt || t->ndim != ndim) {
        snprintf(err, errcap, "%s: damaged shard: tensor %s should be %s with %d dims", label, name,
                 st_dtype_name(dt), ndim);
        return NULL;
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] >= 0 && t->shape[i] != shape[i]) {
            snprintf(err, errcap, "%s: damaged shard: tensor %s has dim %d = %lld, expected %lld",
                     label, name, i, (long long)t->shape[i], (long long)shape[i]);
            return NULL;
        }
    if (t->nbytes && ((uintptr_t)t->data % st_dtype_size(dt)) != 0) {
        snprintf(err, errcap, "%s: damaged shard: tensor %s is not aligned", label, name);
        return NULL;
    }
    return t;
}

static int validate(Shard *s, const char *label, char *err, size_t errcap) {
    const StFile *f = &s->f;
    const char *fmt = st_meta_get(f, "format");
    if (!fmt || strcmp(fmt, SHARD_FORMAT) != 0) {
        snprintf(err, errcap, "%s: not a shard of format %s (format is %s)", label, SHARD_FORMAT,
                 fmt ? fmt : "missing");
        return 1;
    }
    const char *ck = st_meta_get(f, "checksum");
    uint64_t want;
    if (!ck || checksum_parse_hex(ck, &want)) {
        snprintf(err, errcap, "%s: damaged shard: missing or malformed checksum", label);
        return 1;
    }
    const StTensor *ptrs[64];
    if (f->n > 64) {
        snprintf(err, errcap, "%s: damaged shard: %d tensors", label, f->n);
        return 1;
    }
    for (int i = 0; i < f->n; i++) ptrs[i] = &f->tensors[i];
    uint64_t got = shard_checksum(ptrs, f->n);
    if (got != want) {
        char gh[17];
        checksum_hex(got, gh);
        snprintf(err, errcap, "%s: damaged shard: checksum mismatch (stored %s, computed %s)",
                 label, ck, gh);
        return 1;
    }
    const StTensor *tp = st_find(f, "program_tokens");
    if (!tp || tp->ndim != 3) {
        snprintf(err, errcap, "%s: damaged shard: tensor program_tokens is missing or not 3-d",
                 label);
        return 1;
    }
    int64_t N = tp->shape[0];
    const StTensor *tw = st_find(f, "wt_payload");
    if (!tw || tw->ndim != 2) {
        snprintf(err, errcap, "%s: damaged shard: tensor wt_payload is missing or not 2-d", label);
        return 1;
    }
    int64_t T = tw->shape[0];
    int64_t sp[3] = {N, PT_ROWS, PT_COLS}, sw[2] = {T, WT_WIDTH}, si[2] = {T, WT_N_IDS},
            so[1] = {N + 1}, sm[2] = {N, ACC_META_COLS}, sx[1] = {N}, sh[2] = {N, 2};
    const StTensor *a = need(f, "program_tokens", ST_I16, 3, sp, label, err, errcap);
    const StTensor *b = a ? need(f, "wt_payload", ST_F32, 2, sw, label, err, errcap) : NULL;
    const StTensor *c = b ? need(f, "wt_ids", ST_I16, 2, si, label, err, errcap) : NULL;
    const StTensor *d = c ? need(f, "wt_offsets", ST_I64, 1, so, label, err, errcap) : NULL;
    const StTensor *e = d ? need(f, "sample_meta", ST_I32, 2, sm, label, err, errcap) : NULL;
    const StTensor *g = e ? need(f, "sample_index", ST_I64, 1, sx, label, err, errcap) : NULL;
    const StTensor *h = g ? need(f, "model_hash", ST_U64, 2, sh, label, err, errcap) : NULL;
    if (!h) return 1;
    const char *ns = st_meta_get(f, "n_samples");
    if (!ns || strtoll(ns, NULL, 10) != N) {
        snprintf(err, errcap, "%s: damaged shard: n_samples %s does not match %lld programs", label,
                 ns ? ns : "missing", (long long)N);
        return 1;
    }
    const int64_t *off = d->data;
    if (off[0] != 0 || off[N] != T) {
        snprintf(err, errcap,
                 "%s: damaged shard: inconsistent offsets (first %lld, last %lld, %lld tokens)",
                 label, (long long)off[0], (long long)off[N], (long long)T);
        return 1;
    }
    for (int64_t i = 0; i < N; i++)
        if (off[i + 1] < off[i]) {
            snprintf(err, errcap,
                     "%s: damaged shard: inconsistent offsets (sample %lld ends before it starts)",
                     label, (long long)i);
            return 1;
        }
    int voc[WT_N_IDS];
    wt_id_vocab(voc);
    const int16_t *ids = c->data;
    for (int64_t i = 0; i < T * WT_N_IDS; i++)
        if (ids[i] < 0 || ids[i] >= voc[i % WT_N_IDS]) {
            snprintf(err, errcap,
                     "%s: damaged shard: weight-token id %d out of range in token %lld", label,
                     ids[i], (long long)(i / WT_N_IDS));
            return 1;
        }
    const int16_t *pt = a->data;
    for (int64_t i = 0; i < N; i++) {
        int bad = pt_first_bad_cell(pt + i * PT_ROWS * PT_COLS);
        if (bad >= 0) {
            snprintf(err, errcap, "%s: damaged shard: program token %d out of range in sample %lld",
                     label, pt[i * PT_ROWS * PT_COLS + bad], (long long)i);
            return 1;
        }
    }
    /* The checksum only proves the bytes are the writer's; a NaN or inf payload (a bad writer,
     * or a file rewritten with a fresh checksum) would reach training as a non-finite loss
     * and evaluation as a garbage decode. */
    const float *pay = b->data;
    for (int64_t i = 0; i < T * WT_WIDTH; i++)
        if (!isfinite(pay[i])) {
            int64_t tk = i / WT_WIDTH, smp = 0;
            while (smp < N && off[smp + 1] <= tk) smp++;
            snprintf(
                err, errcap,
                "%s: damaged shard: weight token %lld (sample %lld) holds a non-finite payload value",
                label, (long long)tk, (long long)smp);
            return 1;
        }
    const StTensor *ts = st_find(f, "sample_setting");
    if (ts) {
        int64_t sset[2] = {N, GEN_SETTING_COLS};
        if (!need(f, "sample_setting", ST_I32, 2, sset, label, err, errcap)) return 1;
        for (int64_t i = 0; i < N; i++) {
            GenSetting gs;
            if (gen_setting_from_row((const int32_t *)ts->data + i * GEN_SETTING_COLS, &gs)) {
                snprintf(err, errcap,
                         "%s: damaged shard: sample_setting of sample %lld is not a setting", label,
                         (long long)i);
                return 1;
            }
        }
        s->setting = ts->data;
    }
    if (N > 0x7fffffff) {
        snprintf(err, errcap, "%s: too many samples", label);
        return 1;
    }
    s->n = (int)N;
    s->total = T;
    s->prog = a->data;
    s->payload = b->data;
    s->ids = ids;
    s->offsets = off;
    s->meta = e->data;
    s->index = g->data;
    s->mhash = h->data;
    return 0;
}

int shard_read_buffer(const unsigned char *data, size_t len, const char *label, Shard *s, char *err,
                      size_t errcap) {
    memset(s, 0, sizeof *s);
    if (st_read_buffer_named(data, len, label, &s->f, err, errcap)) return 1;
    if (validate(s, label, err, errcap)) {
        shard_free(s);
        return 1;
    }
    return 0;
}

int shard_read_file(const char *path, Shard *s, char *err, size_t errcap) {
    memset(s, 0, sizeof *s);
    if (st_read_file(path, &s->f, err, errcap)) return 1;
    if (validate(s, path, err, errcap)) {
        shard_free(s);
        return 1;
    }
    return 0;
}
