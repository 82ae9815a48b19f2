/* .npy / .npz reading (see npz.h). The zip container is libzip's job; the .npy header is a
 * Python dict literal that this file parses with a small strict scanner. */
#include "io/npz.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "util/errmsg.h"

/* Largest array accepted: 2^28 elements (2 GiB as double). */
#define NPY_MAX_NUMEL (1LL << 28)

typedef struct Hdr {
    const char *s, *end;
} Hdr;

static void skip_ws(Hdr *h) {
    while (h->s < h->end && (*h->s == ' ' || *h->s == '\t' || *h->s == '\n' || *h->s == '\r'))
        h->s++;
}

static bool take(Hdr *h, char c) {
    skip_ws(h);
    if (h->s < h->end && *h->s == c) {
        h->s++;
        return true;
    }
    return false;
}

/* A quoted string (single or double quotes, no escapes: numpy never writes any here). */
static bool read_str(Hdr *h, char *out, size_t cap) {
    skip_ws(h);
    if (h->s >= h->end || (*h->s != '\'' && *h->s != '"')) return false;
    char q = *h->s++;
    size_t n = 0;
    while (h->s < h->end && *h->s != q) {
        if (*h->s == '\\' || n + 1 >= cap) return false;
        out[n++] = *h->s++;
    }
    if (h->s >= h->end) return false;
    h->s++;
    out[n] = 0;
    return true;
}

static bool read_word(Hdr *h, const char *w) {
    skip_ws(h);
    size_t n = strlen(w);
    if ((size_t)(h->end - h->s) < n || memcmp(h->s, w, n) != 0) return false;
    h->s += n;
    return true;
}

/* (d0, d1, ...) with Python's tuple forms: (), (5,), (3, 4). */
static bool read_shape(Hdr *h, int *ndim, int64_t *shape) {
    if (!take(h, '(')) return false;
    *ndim = 0;
    for (;;) {
        skip_ws(h);
        if (take(h, ')')) return true;
        if (*ndim == NPY_MAX_DIMS) return false;
        int64_t v = 0;
        int digits = 0;
        while (h->s < h->end && *h->s >= '0' && *h->s <= '9') {
            if (v > (INT64_MAX - 9) / 10) return false;
            v = v * 10 + (*h->s++ - '0');
            digits++;
        }
        if (!digits) return false;
        if (h->s < h->end && *h->s == 'L') h->s++; /* Python 2 longs */
        shape[(*ndim)++] = v;
        if (take(h, ',')) continue;
        if (take(h, ')')) return true;
        return false;
    }
}

static int parse_header(const char *s, size_t len, int *word_size, int *ndim, int64_t *shape,
                        char *err, size_t cap, const char *label) {
    Hdr h = {s, s + len};
    char key[32], descr[32] = "";
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (!take(&h, '{')) return err_printf(err, cap, "%s: .npy header is not a dict", label);
    for (;;) {
        if (take(&h, '}')) break;
        if (!read_str(&h, key, sizeof key) || !take(&h, ':'))
            return err_printf(err, cap, "%s: .npy header is malformed", label);
        if (strcmp(key, "descr") == 0) {
            if (!read_str(&h, descr, sizeof descr))
                return err_printf(err, cap, "%s: .npy header 'descr' is not a dtype string", label);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (read_word(&h, "True"))
                return err_printf(
                    err, cap, "%s: Fortran-ordered arrays are not supported (save with C order)",
                    label);
            if (!read_word(&h, "False"))
                return err_printf(err, cap, "%s: .npy header 'fortran_order' is not True/False",
                                  label);
            have_order = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (!read_shape(&h, ndim, shape))
                return err_printf(err, cap,
                                  "%s: .npy header 'shape' is not a tuple of at most %d integers",
                                  label, NPY_MAX_DIMS);
            have_shape = 1;
        } else {
            return err_printf(err, cap, "%s: .npy header has an unknown key '%s'", label, key);
        }
        if (take(&h, '}')) break;
        if (!take(&h, ',')) return err_printf(err, cap, "%s: .npy header is malformed", label);
    }
    skip_ws(&h);
    if (h.s != h.end) return err_printf(err, cap, "%s: .npy header has text after the dict", label);
    if (!have_descr || !have_order || !have_shape)
        return err_printf(err, cap, "%s: .npy header lacks %s", label,
                          !have_descr   ? "'descr'"
                          : !have_order ? "'fortran_order'"
                                        : "'shape'");
    if (strcmp(descr, "<f4") == 0) *word_size = 4;
    else if (strcmp(descr, "<f8") == 0) *word_size = 8;
    else
        return err_printf(err, cap, "%s: dtype '%s' is not supported (expected '<f4' or '<f8')",
                          label, descr);
    return 0;
}

int npy_parse(const unsigned char *buf, size_t len, const char *label, NpyArray *out, char *err,
              size_t errcap) {
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return err_printf(err, errcap, "%s: not a .npy array (bad magic)", label);
    int major = buf[6];
    size_t hlen, off;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        off = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return err_printf(err, errcap, "%s: truncated .npy header", label);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        off = 12;
    } else {
        return err_printf(err, errcap, "%s: .npy version %d is not supported", label, major);
    }
    if (hlen > len - off) return err_printf(err, errcap, "%s: truncated .npy header", label);
    int ws = 0, ndim = 0;
    int64_t shape[NPY_MAX_DIMS];
    if (parse_header((const char *)buf + off, hlen, &ws, &ndim, shape, err, errcap, label))
        return 1;
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] > NPY_MAX_NUMEL || (shape[i] && numel > NPY_MAX_NUMEL / shape[i]))
            return err_printf(err, errcap, "%s: array too large", label);
        numel *= shape[i];
    }
    size_t data_off = off + hlen, need = (size_t)numel * (size_t)ws;
    if (len - data_off != need)
        return err_printf(err, errcap, "%s: data is %zu bytes; the shape and dtype need %zu%s",
                          label, len - data_off, need, len - data_off < need ? " (truncated)" : "");
    out->data = malloc(sizeof(double) * (size_t)(numel ? numel : 1));
    if (!out->data) return err_printf(err, errcap, "%s: out of memory", label);
    const unsigned char *p = buf + data_off;
    for (int64_t i = 0; i < numel; i++) {
        if (ws == 4) {
            float f;
            memcpy(&f, p + 4 * i, 4);
            out->data[i] = f;
        } else {
            memcpy(&out->data[i], p + 8 * i, 8);
        }
    }
    out->ndim = ndim;
    memcpy(out->shape, shape, sizeof(int64_t) * (size_t)ndim);
    out->numel = numel;
    out->name = strdup("");
    return 0;
}

void npy_free(NpyArray *a) {
    free(a->name);
    free(a->data);
    memset(a, 0, sizeof *a);
}

void npz_free(NpzFile *f) {
    for (int i = 0; i < f->n; i++) npy_free(&f->arrays[i]);
    free(f->arrays);
    f->arrays = NULL;
    f->n = 0;
}

const NpyArray *npz_find(const NpzFile *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->arrays[i].name, name) == 0) return &f->arrays[i];
    return NULL;
}

static int read_archive(zip_t *z, const char *label, NpzFile *f, char *err, size_t errcap) {
    zip_int64_t n = zip_get_num_entries(z, 0);
    if (n < 0 || n > 100000) return err_printf(err, errcap, "%s: unreadable zip directory", label);
    f->arrays = calloc((size_t)(n ? n : 1), sizeof(NpyArray));
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(z, (zip_uint64_t)i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME) ||
            !(st.valid & ZIP_STAT_SIZE))
            return err_printf(err, errcap, "%s: member %lld: %s", label, (long long)i,
                              zip_strerror(z));
        size_t nl = strlen(st.name);
        if (nl > 0 && st.name[nl - 1] == '/') continue; /* a directory entry */
        if (nl < 5 || strcmp(st.name + nl - 4, ".npy") != 0)
            return err_printf(err, errcap, "%s: member '%s' is not a .npy array", label, st.name);
        if (st.size > (zip_uint64_t)(NPY_MAX_NUMEL * 8 + 65536))
            return err_printf(err, errcap, "%s: member '%s' is too large", label, st.name);
        char mlabel[512];
        snprintf(mlabel, sizeof mlabel, "%s: %s", label, st.name);
        unsigned char *buf = malloc((size_t)st.size + 1);
        zip_file_t *zf = zip_fopen_index(z, (zip_uint64_t)i, 0);
        if (!buf || !zf) {
            free(buf);
            return err_printf(err, errcap, "%s: cannot open (%s)", mlabel, zip_strerror(z));
        }
        zip_int64_t got = zip_fread(zf, buf, st.size);
        int ok = got == (zip_int64_t)st.size;
        char zmsg[200] = "";
        if (!ok) snprintf(zmsg, sizeof zmsg, "%s", zip_error_strerror(zip_file_get_error(zf)));
        zip_fclose(zf);
        if (!ok) {
            free(buf);
            return err_printf(err, errcap, "%s: corrupt or truncated member (%s)", mlabel, zmsg);
        }
        NpyArray *a = &f->arrays[f->n];
        int rc = npy_parse(buf, (size_t)st.size, mlabel, a, err, errcap);
        free(buf);
        if (rc) return 1;
        f->n++;
        free(a->name);
        a->name = strndup(st.name, nl - 4);
        for (int k = 0; k < f->n - 1; k++)
            if (strcmp(f->arrays[k].name, a->name) == 0)
                return err_printf(err, errcap, "%s: array '%s' appears twice", label, a->name);
    }
    return 0;
}

static int open_error(int code, const char *label, char *err, size_t errcap) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, code);
    err_printf(err, errcap, "%s: not a readable .npz (zip) file: %s", label,
               zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return 1;
}

int npz_read_file(const char *path, NpzFile *f, char *err, size_t errcap) {
    memset(f, 0, sizeof *f);
    int code = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &code);
    if (!z) return open_error(code, path, err, errcap);
    int rc = read_archive(z, path, f, err, errcap);
    zip_discard(z);
    if (rc) npz_free(f);
    return rc;
}

int npz_read_buffer(const unsigned char *data, size_t len, const char *label, NpzFile *f, char *err,
                    size_t errcap) {
    memset(f, 0, sizeof *f);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    if (!src) {
        zip_error_fini(&ze);
        return err_printf(err, errcap, "%s: out of memory", label);
    }
    zip_t *z = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (!z) {
        int code = zip_error_code_zip(&ze);
        zip_source_free(src);
        zip_error_fini(&ze);
        return open_error(code, label, err, errcap);
    }
    zip_error_fini(&ze);
    int rc = read_archive(z, label, f, err, errcap);
    zip_discard(z);
    if (rc) npz_free(f);
    return rc;
}
