/* Test helper: writes a Tracr fixture (tests/fixtures/tracr/NAME.json) the way a Tracr user
 * would export a model for `itracr import`: the Haiku parameters as .npz (members written
 * with libzip, float32 or float64 .npy) or safetensors, plus the encoding JSON. */
#ifndef ITRACR_TESTS_TRACR_EXPORT_H
#define ITRACR_TESTS_TRACR_EXPORT_H
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "io/safetensors.h"

/* A .npy image of a float matrix [r, c] (c < 0: a vector [r]). */
static unsigned char *tx_npy(const double *d, int r, int c, int f64, size_t *len) {
    char hdr[256];
    int hl = c < 0 ? snprintf(hdr, sizeof hdr,
                              "{'descr': '<f%d', 'fortran_order': False, 'shape': (%d,), }",
                              f64 ? 8 : 4, r)
                   : snprintf(hdr, sizeof hdr,
                              "{'descr': '<f%d', 'fortran_order': False, 'shape': (%d, %d), }",
                              f64 ? 8 : 4, r, c);
    int total = 10 + hl + 1;
    int pad = (64 - total % 64) % 64;
    hl += pad + 1;
    size_t n = (size_t)r * (size_t)(c < 0 ? 1 : c), ws = f64 ? 8 : 4;
    unsigned char *b = malloc(10 + (size_t)hl + n * ws + 1);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hl & 0xff);
    b[9] = (unsigned char)(hl >> 8);
    memcpy(b + 10, hdr, strlen(hdr));
    memset(b + 10 + strlen(hdr), ' ', (size_t)hl - strlen(hdr));
    b[10 + hl - 1] = '\n';
    for (size_t i = 0; i < n; i++) {
        if (f64) memcpy(b + 10 + hl + 8 * i, &d[i], 8);
        else {
            float f = (float)d[i];
            memcpy(b + 10 + hl + 4 * i, &f, 4);
        }
    }
    *len = 10 + (size_t)hl + n * ws;
    return b;
}

/* fixture weight -> doubles [r, c] */
static double *tx_mat(const cJSON *w, int *r, int *c) {
    *r = cJSON_GetArraySize(w);
    *c = *r ? cJSON_GetArraySize(cJSON_GetArrayItem(w, 0)) : 0;
    double *d = calloc((size_t)(*r) * (size_t)(*c) + 1, sizeof(double));
    int i = 0;
    const cJSON *row, *x;
    cJSON_ArrayForEach(row, w) {
        int k = 0;
        cJSON_ArrayForEach(x, row) d[(size_t)i * (*c) + k++] = x->valuedouble;
        i++;
    }
    return d;
}

/* Writes J's weights to path as .npz (fmt 0: float32, 1: float64) or safetensors (fmt 2),
 * with zero biases when biases is set. Returns 0 on success. */
static int tx_write_weights(const cJSON *J, const char *path, int fmt, int biases) {
    const cJSON *W = cJSON_GetObjectItemCaseSensitive(J, "weights"), *w;
    zip_t *z = NULL;
    StWriter sw;
    double **keep = calloc(256, sizeof(double *));
    float **keepf = calloc(256, sizeof(float *));
    int nk = 0;
    if (fmt < 2) {
        int e = 0;
        z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &e);
        if (!z) return 1;
    } else {
        st_writer_init(&sw);
    }
    cJSON_ArrayForEach(w, W) {
        int r, c;
        double *d = tx_mat(w, &r, &c);
        for (int b = 0; b <= (biases && strstr(w->string, "/w") ? 1 : 0); b++) {
            char name[200];
            snprintf(name, sizeof name, "%s", w->string);
            int rr = r, cc = c;
            const double *src = d;
            double *zero = NULL;
            if (b) {
                name[strlen(name) - 1] = 'b';
                rr = c, cc = -1;
                zero = calloc((size_t)c + 1, sizeof(double));
                src = zero;
            }
            if (fmt < 2) {
                size_t len;
                unsigned char *img = tx_npy(src, rr, cc, fmt == 1, &len);
                strcat(name, ".npy");
                zip_source_t *s = zip_source_buffer(z, img, len, 1);
                if (zip_file_add(z, name, s, ZIP_FL_OVERWRITE) < 0) zip_source_free(s);
                free(zero);
            } else {
                size_t n = (size_t)rr * (size_t)(cc < 0 ? 1 : cc);
                float *f = malloc(sizeof(float) * (n + 1));
                for (size_t i = 0; i < n; i++) f[i] = (float)src[i];
                int64_t shape[2] = {rr, cc};
                st_writer_add(&sw, name, ST_F32, cc < 0 ? 1 : 2, shape, f);
                keepf[nk] = f;
                keep[nk++] = zero;
            }
        }
        if (fmt < 2) free(d);
        else keep[nk] = d, keepf[nk++] = NULL;
    }
    int rc = 0;
    if (fmt < 2) rc = zip_close(z) != 0;
    else {
        char err[256];
        rc = st_writer_save(&sw, path, err, sizeof err);
        st_writer_free(&sw);
    }
    for (int i = 0; i < nk; i++) free(keep[i]), free(keepf[i]);
    free(keep);
    free(keepf);
    return rc;
}

/* The encoding JSON for J (a cJSON object the caller deletes). */
static cJSON *tx_meta(const cJSON *J) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddItemToObject(m, "token_ids",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(J, "token_ids"), 1));
    cJSON_AddStringToObject(m, "bos",
                            cJSON_GetObjectItemCaseSensitive(J, "compiler_bos")->valuestring);
    cJSON_AddStringToObject(m, "pad",
                            cJSON_GetObjectItemCaseSensitive(J, "compiler_pad")->valuestring);
    cJSON_AddNumberToObject(m, "max_seq_len",
                            cJSON_GetObjectItemCaseSensitive(J, "max_seq_len")->valuedouble);
    cJSON_AddBoolToObject(m, "causal", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(J, "causal")));
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(J, "config");
    cJSON_AddNumberToObject(m, "num_heads",
                            cJSON_GetObjectItemCaseSensitive(cfg, "num_heads")->valuedouble);
    cJSON_AddNumberToObject(m, "key_size",
                            cJSON_GetObjectItemCaseSensitive(cfg, "key_size")->valuedouble);
    cJSON_AddNumberToObject(m, "mlp_exactness",
                            cJSON_GetObjectItemCaseSensitive(J, "mlp_exactness")->valuedouble);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(J, "output");
    cJSON *oo = cJSON_CreateObject();
    cJSON_AddStringToObject(oo, "name", cJSON_GetObjectItemCaseSensitive(o, "name")->valuestring);
    cJSON_AddStringToObject(oo, "encoding",
                            cJSON_GetObjectItemCaseSensitive(o, "encoding")->valuestring);
    cJSON_AddItemToObject(oo, "values",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o, "values"), 1));
    cJSON_AddItemToObject(m, "output", oo);
    return m;
}

static int tx_write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    fputs(text, f);
    return fclose(f) != 0;
}

static int tx_write_meta(const cJSON *J, const char *path) {
    cJSON *m = tx_meta(J);
    char *s = cJSON_Print(m);
    int rc = tx_write_text(path, s);
    free(s);
    cJSON_Delete(m);
    return rc;
}

#endif
