/* safetensors reader and writer. The reader validates the whole header before any tensor
 * is handed out; the writer produces a canonical byte layout (see safetensors.h). */
#include "io/safetensors.h"
#include "util/errmsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "io/json_util.h"
#include "util/strbuf.h"

/* Tensor bytes are the host's memory image: that is the format's byte order only on a
 * little-endian host. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
_Static_assert(0, "safetensors.c assumes a little-endian host (the format is little-endian)");
#endif

static const char *const dtype_names[ST_NUM_DTYPES] = {
    [ST_F32] = "F32", [ST_F64] = "F64",   [ST_I16] = "I16",   [ST_I32] = "I32", [ST_I64] = "I64",
    [ST_U8] = "U8",   [ST_I8] = "I8",     [ST_U16] = "U16",   [ST_U32] = "U32", [ST_U64] = "U64",
    [ST_F16] = "F16", [ST_BF16] = "BF16", [ST_BOOL] = "BOOL",
};
static const unsigned char dtype_sizes[ST_NUM_DTYPES] = {
    [ST_F32] = 4, [ST_F64] = 8,  [ST_I16] = 2,  [ST_I32] = 4, [ST_I64] = 8,
    [ST_U8] = 1,  [ST_I8] = 1,   [ST_U16] = 2,  [ST_U32] = 4, [ST_U64] = 8,
    [ST_F16] = 2, [ST_BF16] = 2, [ST_BOOL] = 1,
};
_Static_assert(ST_BOOL + 1 == ST_NUM_DTYPES, "ST_NUM_DTYPES out of date");

static int dtype_ok(StDtype d) { return (unsigned)d < ST_NUM_DTYPES; }

size_t st_dtype_size(StDtype d) { return dtype_ok(d) ? dtype_sizes[d] : 0; }
const char *st_dtype_name(StDtype d) { return dtype_ok(d) ? dtype_names[d] : "?"; }

int st_dtype_parse(const char *s, StDtype *d) {
    for (int i = 0; i < ST_NUM_DTYPES; i++)
        if (strcmp(s, dtype_names[i]) == 0) {
            *d = (StDtype)i;
            return 0;
        }
    return -1;
}

int64_t st_numel(const StTensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim && i < ST_MAX_DIMS; i++) n *= t->shape[i];
    return n;
}


static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "itracr: out of memory (%zu bytes)\n", n);
        abort();
    }
    return q;
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = xrealloc(NULL, n);
    memcpy(d, s, n);
    return d;
}

/* Element count times element size, or -1 on overflow (or a dim over 2^53-1). */
static int tensor_bytes(StDtype dtype, int ndim, const int64_t *shape, uint64_t *out) {
    uint64_t n = 1;
    int zero = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || shape[i] > JSON_MAX_EXACT_INT) return -1;
        if (shape[i] == 0) zero = 1;
    }
    if (zero) {
        *out = 0;
        return 0;
    }
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (n > UINT64_MAX / d) return -1;
        n *= d;
    }
    uint64_t sz = st_dtype_size(dtype);
    if (n > UINT64_MAX / sz) return -1;
    n *= sz;
    if (n > (uint64_t)SIZE_MAX) return -1;
    *out = n;
    return 0;
}

/* ================================ writer ================================ */

void st_writer_init(StWriter *w) { memset(w, 0, sizeof *w); }

void st_writer_free(StWriter *w) {
    for (int i = 0; i < w->n; i++) free(w->tensors[i].name);
    for (int i = 0; i < w->n_meta; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->tensors);
    free(w->meta);
    memset(w, 0, sizeof *w);
}

void st_writer_add(StWriter *w, const char *name, StDtype dtype, int ndim, const int64_t *shape,
                   const void *data) {
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 16;
        w->tensors = xrealloc(w->tensors, (size_t)w->cap * sizeof *w->tensors);
    }
    StTensor *t = &w->tensors[w->n++];
    memset(t, 0, sizeof *t);
    t->name = name ? xstrdup(name) : NULL; /* NULL is reported by serialize */
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim && i < ST_MAX_DIMS; i++) t->shape[i] = shape[i];
    t->data = data;
}

void st_writer_meta(StWriter *w, const char *key, const char *value) {
    if (w->n_meta == w->cap_meta) {
        w->cap_meta = w->cap_meta ? 2 * w->cap_meta : 8;
        w->meta = xrealloc(w->meta, (size_t)w->cap_meta * sizeof *w->meta);
    }
    StMeta *m = &w->meta[w->n_meta++];
    m->key = key ? xstrdup(key) : NULL;
    m->value = value ? xstrdup(value) : NULL;
}

/* Storage order: larger elements first (keeps every tensor aligned), then name. */
static int cmp_storage(const void *a, const void *b) {
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    size_t sx = st_dtype_size(x->dtype), sy = st_dtype_size(y->dtype);
    if (sx != sy) return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_name(const void *a, const void *b) {
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_meta(const void *a, const void *b) {
    const StMeta *x = *(const StMeta *const *)a, *y = *(const StMeta *const *)b;
    return strcmp(x->key, y->key);
}

static int check_text(const char *what, const char *s, char *err, size_t errcap) {
    if (!s) {
        err_printf(err, errcap, "safetensors writer: %s is NULL", what);
        return -1;
    }
    if (!json_utf8_valid(s, strlen(s))) {
        err_printf(err, errcap, "safetensors writer: %s \"%s\" is not valid UTF-8", what, s);
        return -1;
    }
    return 0;
}

/* What a file will hold: the header (the 8-byte length is not in it) and the tensors in
 * storage order with their byte counts. */
typedef struct {
    StrBuf header;
    const StTensor **order;
    uint64_t *sizes;
    uint64_t data_len;
} Plan;

static void plan_free(Plan *p) {
    sb_free(&p->header);
    free(p->order);
    free(p->sizes);
}

/* Validates w and lays the file out; on error p holds nothing to free. */
static int plan_build(const StWriter *w, Plan *p, char *err, size_t errcap) {
    int rc = -1;
    const StTensor **order = xrealloc(NULL, (size_t)w->n * sizeof *order);
    const StMeta **morder = xrealloc(NULL, (size_t)w->n_meta * sizeof *morder);
    uint64_t *sizes = xrealloc(NULL, (size_t)w->n * sizeof *sizes);
    StrBuf h;
    sb_init(&h);

    for (int i = 0; i < w->n; i++) {
        const StTensor *t = &w->tensors[i];
        if (check_text("tensor name", t->name, err, errcap) != 0) goto done;
        if (strcmp(t->name, "__metadata__") == 0) {
            err_printf(err, errcap,
                       "safetensors writer: \"__metadata__\" is reserved, not a tensor name");
            goto done;
        }
        if (!dtype_ok(t->dtype)) {
            err_printf(err, errcap, "safetensors writer: tensor \"%s\": invalid dtype %d", t->name,
                       (int)t->dtype);
            goto done;
        }
        if (t->ndim < 0 || t->ndim > ST_MAX_DIMS) {
            err_printf(err, errcap,
                       "safetensors writer: tensor \"%s\": %d dimensions (0 to %d allowed)",
                       t->name, t->ndim, ST_MAX_DIMS);
            goto done;
        }
        order[i] = t;
    }
    /* Duplicates first (a name sort puts them side by side), then the storage order. */
    qsort(order, (size_t)w->n, sizeof *order, cmp_name);
    for (int i = 1; i < w->n; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
            err_printf(err, errcap, "safetensors writer: duplicate tensor name \"%s\"",
                       order[i]->name);
            goto done;
        }
    qsort(order, (size_t)w->n, sizeof *order, cmp_storage);
    for (int i = 0; i < w->n_meta; i++) {
        if (check_text("metadata key", w->meta[i].key, err, errcap) != 0) goto done;
        if (check_text("metadata value", w->meta[i].value, err, errcap) != 0) goto done;
        morder[i] = &w->meta[i];
    }
    qsort(morder, (size_t)w->n_meta, sizeof *morder, cmp_meta);
    for (int i = 1; i < w->n_meta; i++)
        if (strcmp(morder[i - 1]->key, morder[i]->key) == 0) {
            err_printf(err, errcap, "safetensors writer: duplicate metadata key \"%s\"",
                       morder[i]->key);
            goto done;
        }

    /* Header JSON. */
    uint64_t offset = 0;
    sb_append(&h, "{");
    if (w->n_meta > 0) {
        sb_append(&h, "\"__metadata__\":{");
        for (int i = 0; i < w->n_meta; i++) {
            if (i) sb_append(&h, ",");
            json_write_string(&h, morder[i]->key, strlen(morder[i]->key));
            sb_append(&h, ":");
            json_write_string(&h, morder[i]->value, strlen(morder[i]->value));
        }
        sb_append(&h, "}");
    }
    for (int i = 0; i < w->n; i++) {
        const StTensor *t = order[i];
        uint64_t nb;
        if (tensor_bytes(t->dtype, t->ndim, t->shape, &nb) != 0) {
            err_printf(
                err, errcap,
                "safetensors writer: tensor \"%s\": shape has a negative dimension, one over "
                "2^53-1, or too many bytes",
                t->name);
            goto done;
        }
        if (nb > 0 && !t->data) {
            err_printf(err, errcap, "safetensors writer: tensor \"%s\": data is NULL", t->name);
            goto done;
        }
        if (offset + nb < offset || offset + nb > (uint64_t)JSON_MAX_EXACT_INT) {
            err_printf(err, errcap, "safetensors writer: total data size overflows");
            goto done;
        }
        sizes[i] = nb;
        if (w->n_meta > 0 || i > 0) sb_append(&h, ",");
        json_write_string(&h, t->name, strlen(t->name));
        sb_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            sb_printf(&h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        sb_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                  (unsigned long long)(offset + nb));
        offset += nb;
    }
    sb_append(&h, "}");
    while (h.len % 8 != 0) sb_append(&h, " ");
    if (h.len > ST_MAX_HEADER) {
        err_printf(err, errcap,
                   "safetensors writer: header of %zu bytes exceeds the %llu-byte limit", h.len,
                   (unsigned long long)ST_MAX_HEADER);
        goto done;
    }
    if (offset > (uint64_t)SIZE_MAX - 8 - h.len) {
        err_printf(err, errcap, "safetensors writer: file too large");
        goto done;
    }
    p->header = h;
    p->order = order;
    p->sizes = sizes;
    p->data_len = offset;
    free(morder);
    return 0;
done:
    sb_free(&h);
    free(order);
    free(morder);
    free(sizes);
    return rc;
}

static void put_len(unsigned char out[8], uint64_t v) {
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)(v >> (8 * i));
}

int st_writer_serialize(const StWriter *w, unsigned char **out, size_t *out_len, char *err,
                        size_t errcap) {
    *out = NULL;
    *out_len = 0;
    Plan p;
    if (plan_build(w, &p, err, errcap) != 0) return -1;
    size_t total = 8 + p.header.len + (size_t)p.data_len;
    unsigned char *buf = malloc(total);
    if (!buf) {
        err_printf(err, errcap, "safetensors writer: out of memory (%zu bytes)", total);
        plan_free(&p);
        return -1;
    }
    put_len(buf, p.header.len);
    memcpy(buf + 8, p.header.s, p.header.len);
    size_t pos = 8 + p.header.len;
    for (int i = 0; i < w->n; i++) {
        if (p.sizes[i]) memcpy(buf + pos, p.order[i]->data, (size_t)p.sizes[i]);
        pos += (size_t)p.sizes[i];
    }
    plan_free(&p);
    *out = buf;
    *out_len = total;
    return 0;
}

/* Streams header and tensors straight into the temporary file: no second copy of the data
 * (dataset shards can be large). */
int st_writer_save(const StWriter *w, const char *path, char *err, size_t errcap) {
    Plan p;
    char sub[512];
    if (plan_build(w, &p, sub, sizeof sub) != 0) {
        err_printf(err, errcap, "%s: %s", path, sub);
        return -1;
    }
    AtomicFile f;
    unsigned char len_le[8];
    put_len(len_le, p.header.len);
    int rc = atomic_file_open(&f, path, err, errcap);
    if (rc == 0) {
        rc = atomic_file_write(&f, len_le, 8, err, errcap);
        if (rc == 0) rc = atomic_file_write(&f, p.header.s, p.header.len, err, errcap);
        for (int i = 0; rc == 0 && i < w->n; i++)
            if (p.sizes[i])
                rc = atomic_file_write(&f, p.order[i]->data, (size_t)p.sizes[i], err, errcap);
        if (rc == 0) rc = atomic_file_commit(&f, err, errcap);
        else atomic_file_abort(&f);
    }
    plan_free(&p);
    return rc;
}

/* ================================ reader ================================ */

typedef struct {
    uint64_t begin, end;
    int index; /* into f->tensors */
} Span;

static int cmp_span(const void *a, const void *b) {
    const Span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->index - y->index;
}

void st_file_free(StFile *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->tensors);
    free(f->meta);
    free(f->buf);
    memset(f, 0, sizeof *f);
}

/* An escaped NUL ("\u0000") would silently cut a name or value short in cJSON's C strings
 * (two distinct names could then collide): reject it. Outside strings a backslash is a JSON
 * error anyway, so scanning escapes without tracking strings is exact. */
static int has_escaped_nul(const char *s, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\') continue;
        if (s[i + 1] == 'u' && i + 5 < n && memcmp(s + i + 2, "0000", 4) == 0) return 1;
        i++; /* skip the escaped character */
    }
    return 0;
}

/* Parses an integer array element that must lie in [0, 2^53-1]. */
static int nonneg_int(const cJSON *it, int64_t *out) {
    if (!cJSON_IsNumber(it)) return -1;
    char dummy[1];
    if (json_as_int(it, "", out, dummy, 0) != 0) return -1;
    return *out < 0 ? -1 : 0;
}

static void shape_text(const StTensor *t, char *out, size_t cap) {
    size_t k = 0;
    k += (size_t)snprintf(out + k, cap - k, "[");
    for (int i = 0; i < t->ndim && k < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (k < cap) snprintf(out + k, cap - k, "]");
}

/* The 8-byte header length and the JSON header itself: checks, then *root (an object without
 * duplicate entries). */
static int parse_header(const unsigned char *buf, size_t len, const char *label, cJSON **root,
                        uint64_t *hl_out, char *err, size_t errcap) {
    if (len < 8)
        return err_printf(err, errcap,
                          "%s: truncated: %zu bytes, too short for the 8-byte header length", label,
                          len);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | buf[i];
    if (hl > ST_MAX_HEADER)
        return err_printf(err, errcap, "%s: header length %llu exceeds the %llu-byte limit", label,
                          (unsigned long long)hl, (unsigned long long)ST_MAX_HEADER);
    if (hl > len - 8)
        return err_printf(err, errcap,
                          "%s: truncated: header says %llu bytes, file has %zu after the length",
                          label, (unsigned long long)hl, len - 8);
    const char *hdr = (const char *)buf + 8;
    if (hl == 0) return err_printf(err, errcap, "%s: header is empty (length 0)", label);
    if (hdr[0] != '{') return err_printf(err, errcap, "%s: header does not start with '{'", label);
    if (!json_utf8_valid(hdr, (size_t)hl))
        return err_printf(err, errcap, "%s: header is not valid UTF-8", label);
    if (has_escaped_nul(hdr, (size_t)hl))
        return err_printf(err, errcap, "%s: header contains an escaped NUL character (\\u0000)",
                          label);
    char ctx[256];
    snprintf(ctx, sizeof ctx, "%s: header", label);
    if (json_parse(ctx, hdr, (size_t)hl, root, err, errcap) != 0) return 1;
    if (!cJSON_IsObject(*root))
        return err_printf(err, errcap, "%s: header is a JSON %s, not an object", label,
                          json_type_name(*root));
    const char *dup = json_duplicate_key(*root);
    if (dup) return err_printf(err, errcap, "%s: header: duplicate entry \"%s\"", label, dup);
    *hl_out = hl;
    return 0;
}

/* The header's __metadata__ object (not null) into f->meta. */
static int parse_metadata(const cJSON *c, const char *label, StFile *f, char *err, size_t errcap) {
    if (!cJSON_IsObject(c))
        return err_printf(err, errcap, "%s: __metadata__ must be an object of strings, got %s",
                          label, json_type_name(c));
    const char *mdup = json_duplicate_key(c);
    if (mdup) return err_printf(err, errcap, "%s: __metadata__: duplicate key \"%s\"", label, mdup);
    int nm = 0;
    for (const cJSON *m = c->child; m; m = m->next) nm++;
    f->meta = calloc((size_t)nm + 1, sizeof *f->meta);
    if (!f->meta) return err_printf(err, errcap, "%s: out of memory", label);
    for (const cJSON *m = c->child; m; m = m->next) {
        if (!cJSON_IsString(m) || !m->valuestring)
            return err_printf(err, errcap,
                              "%s: __metadata__ value of \"%s\" must be a string, got %s", label,
                              m->string, json_type_name(m));
        StMeta *sm = &f->meta[f->n_meta++];
        sm->key = xstrdup(m->string);
        sm->value = xstrdup(m->valuestring);
    }
    return 0;
}

/* One tensor entry of the header: appends f->tensors[f->n] (its data inside data, a buffer of
 * data_len bytes) and its byte span. */
static int parse_tensor(const cJSON *c, const char *label, const unsigned char *data,
                        size_t data_len, StFile *f, Span *span, char *err, size_t errcap) {
    const char *name = c->string;
    StTensor *t = &f->tensors[f->n];
    char ctx[256];
    snprintf(ctx, sizeof ctx, "%s: tensor \"%s\"", label, name);
    if (!cJSON_IsObject(c))
        return err_printf(err, errcap, "%s: entry must be an object, got %s", ctx,
                          json_type_name(c));
    t->name = xstrdup(name);
    f->n++; /* from here on st_file_free owns the name */
    const char *dt;
    const cJSON *shape, *offs;
    if (json_get_string(c, "dtype", ctx, &dt, err, errcap) != 0) return 1;
    if (st_dtype_parse(dt, &t->dtype) != 0)
        return err_printf(err, errcap, "%s: unknown dtype \"%s\"", ctx, dt);
    if (json_get_array(c, "shape", ctx, &shape, err, errcap) != 0) return 1;
    int nd = cJSON_GetArraySize(shape);
    if (nd > ST_MAX_DIMS)
        return err_printf(err, errcap, "%s: shape has %d dimensions, at most %d are supported", ctx,
                          nd, ST_MAX_DIMS);
    t->ndim = nd;
    int d = 0;
    for (const cJSON *e = shape->child; e; e = e->next, d++)
        if (nonneg_int(e, &t->shape[d]) != 0)
            return err_printf(err, errcap, "%s: shape entry %d is not an integer in [0, 2^53-1]",
                              ctx, d);
    if (json_get_array(c, "data_offsets", ctx, &offs, err, errcap) != 0) return 1;
    int64_t b, e;
    if (cJSON_GetArraySize(offs) != 2 || nonneg_int(offs->child, &b) != 0 ||
        nonneg_int(offs->child->next, &e) != 0)
        return err_printf(err, errcap,
                          "%s: data_offsets must be two integers [begin, end] in [0, 2^53-1]", ctx);
    if (e < b)
        return err_printf(err, errcap, "%s: data_offsets [%lld, %lld] end before they begin", ctx,
                          (long long)b, (long long)e);
    uint64_t nb;
    char st[160];
    shape_text(t, st, sizeof st);
    if (tensor_bytes(t->dtype, t->ndim, t->shape, &nb) != 0)
        return err_printf(err, errcap, "%s: shape %s times %zu-byte %s overflows", ctx, st,
                          st_dtype_size(t->dtype), dt);
    if ((uint64_t)(e - b) != nb)
        return err_printf(
            err, errcap,
            "%s: data_offsets [%lld, %lld] span %lld bytes, but shape %s of %s needs %llu", ctx,
            (long long)b, (long long)e, (long long)(e - b), st, dt, (unsigned long long)nb);
    if ((uint64_t)e > data_len)
        return err_printf(
            err, errcap,
            "%s: data_offsets [%lld, %lld] go past the end of the %zu-byte data buffer", ctx,
            (long long)b, (long long)e, data_len);
    t->nbytes = (size_t)nb;
    t->data = data + (size_t)b;
    *span = (Span){(uint64_t)b, (uint64_t)e, f->n - 1};
    return 0;
}

/* The tensors must tile the data buffer: sorted by offset, each starts where the previous
 * ended, and the last ends at the end of the file. Sorts spans. */
static int check_tiling(const StFile *f, Span *spans, size_t data_len, const char *label, char *err,
                        size_t errcap) {
    qsort(spans, (size_t)f->n, sizeof *spans, cmp_span);
    uint64_t expect = 0;
    for (int i = 0; i < f->n; i++) {
        const Span *s = &spans[i];
        if (s->begin > expect)
            return err_printf(
                err, errcap,
                "%s: gap in the data buffer: bytes [%llu, %llu) belong to no tensor (next is "
                "\"%s\")",
                label, (unsigned long long)expect, (unsigned long long)s->begin,
                f->tensors[s->index].name);
        if (s->begin < expect)
            return err_printf(err, errcap,
                              "%s: tensor \"%s\" overlaps tensor \"%s\" in the data buffer", label,
                              f->tensors[s->index].name, f->tensors[spans[i - 1].index].name);
        expect = s->end;
    }
    if (expect != data_len)
        return err_printf(
            err, errcap,
            "%s: the tensors cover %llu bytes of the %zu-byte data buffer (trailing bytes)", label,
            (unsigned long long)expect, data_len);
    return 0;
}

/* Takes ownership of buf (freed on error). */
static int parse_owned(unsigned char *buf, size_t len, const char *label, StFile *f, char *err,
                       size_t errcap) {
    memset(f, 0, sizeof *f);
    cJSON *root = NULL;
    Span *spans = NULL;
    int rc = -1;
    uint64_t hl = 0;
    if (parse_header(buf, len, label, &root, &hl, err, errcap)) goto fail;
    size_t data_len = len - 8 - (size_t)hl;

    int n_entries = 0;
    for (const cJSON *c = root->child; c; c = c->next) n_entries++;
    f->tensors = calloc((size_t)n_entries + 1, sizeof *f->tensors);
    spans = calloc((size_t)n_entries + 1, sizeof *spans);
    if (!f->tensors || !spans) {
        err_printf(err, errcap, "%s: out of memory", label);
        goto fail;
    }
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, "__metadata__") == 0) {
            if (cJSON_IsNull(c)) continue; /* the reference accepts null as "no metadata" */
            if (parse_metadata(c, label, f, err, errcap)) goto fail;
            continue;
        }
        if (parse_tensor(c, label, buf + 8 + hl, data_len, f, &spans[f->n], err, errcap)) goto fail;
    }
    if (check_tiling(f, spans, data_len, label, err, errcap)) goto fail;

    /* Hand the tensors out in data order. */
    StTensor *sorted = calloc((size_t)f->n + 1, sizeof *sorted);
    if (!sorted) {
        err_printf(err, errcap, "%s: out of memory", label);
        goto fail;
    }
    for (int i = 0; i < f->n; i++) sorted[i] = f->tensors[spans[i].index];
    free(f->tensors);
    f->tensors = sorted;
    f->buf = buf;
    f->len = len;
    buf = NULL;
    rc = 0;
fail:
    cJSON_Delete(root);
    free(spans);
    free(buf);
    if (rc != 0) st_file_free(f);
    return rc;
}

int st_read_buffer_named(const unsigned char *data, size_t len, const char *label, StFile *f,
                         char *err, size_t errcap) {
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) {
        memset(f, 0, sizeof *f);
        err_printf(err, errcap, "%s: out of memory (%zu bytes)", label, len);
        return -1;
    }
    if (len) memcpy(copy, data, len);
    return parse_owned(copy, len, label, f, err, errcap);
}

int st_read_buffer(const unsigned char *data, size_t len, StFile *f, char *err, size_t errcap) {
    return st_read_buffer_named(data, len, "<buffer>", f, err, errcap);
}

int st_read_file(const char *path, StFile *f, char *err, size_t errcap) {
    unsigned char *buf;
    size_t len;
    memset(f, 0, sizeof *f);
    if (read_whole_file(path, &buf, &len, err, errcap) != 0) return -1;
    return parse_owned(buf, len, path, f, err, errcap);
}

const StTensor *st_find(const StFile *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *st_meta_get(const StFile *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
    return NULL;
}
