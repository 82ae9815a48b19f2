/* itracr import: every Tracr fixture exported as .npz (float32 and float64 members, with and
 * without zero biases) and as safetensors, imported, must reproduce Tracr's own forward-pass
 * outputs (the fixture's `model` field) on every listed case; corrupt, truncated and
 * inconsistent inputs give clear errors. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <unistd.h>

#include "compiler/model.h"
#include "compiler/model_import.h"
#include "io/json_util.h"
#include "io/npz.h"
#include "test.h"
#include "tracr_export.h"

static const char *DIR_ = FIXTURE_DIR "/tracr";
static char tmpdir[256];

static Value jval(const cJSON *j) {
    if (cJSON_IsString(j)) return val_str(j->valuestring);
    if (cJSON_IsBool(j)) return val_bool(cJSON_IsTrue(j));
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == floor(d) && fabs(d) < 1e15) return val_int((int64_t)d);
        return val_float(d);
    }
    return val_none();
}

static cJSON *load(const char *stem) {
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/%s.json", DIR_, stem);
    cJSON *J = NULL;
    if (json_read_file(path, &J, err, sizeof err)) fprintf(stderr, "  %s\n", err);
    return J;
}

/* Cases where the imported model's output differs from Tracr's. */
static int check_cases(const cJSON *J, const CompiledModel *m, const char *stem) {
    const cJSON *cs;
    int bad = 0, n_cases = 0;
    char err[512];
    cJSON_ArrayForEach(cs, cJSON_GetObjectItemCaseSensitive(J, "cases")) {
        const cJSON *inp = cJSON_GetObjectItemCaseSensitive(cs, "input"),
                    *mo = cJSON_GetObjectItemCaseSensitive(cs, "model");
        int n = cJSON_GetArraySize(inp);
        Value xs[64], got[64];
        double raw[64];
        for (int i = 0; i < n && i < 64; i++) xs[i] = jval(cJSON_GetArrayItem(inp, i));
        if (model_run(m, xs, n, true, got, raw, err, sizeof err)) {
            fprintf(stderr, "  %s: %s\n", stem, err);
            bad++;
            continue;
        }
        n_cases++;
        for (int i = 0; i < n; i++) {
            const cJSON *w = cJSON_GetArrayItem(mo, i);
            bool ok = m->output_numerical
                          ? fabs(raw[i] - w->valuedouble) <= 1e-5 * (1 + fabs(w->valuedouble))
                          : val_eq(got[i], jval(w));
            if (!ok) bad++;
        }
    }
    CHECK_MSG(n_cases > 0, "%s has no cases", stem);
    return bad;
}

static void test_all_fixtures_import(void) {
    DIR *d = opendir(DIR_);
    CHECK(d != NULL);
    if (!d) return;
    struct dirent *e;
    int n_ok = 0;
    while ((e = readdir(d))) {
        size_t L = strlen(e->d_name);
        if (L < 6 || strcmp(e->d_name + L - 5, ".json") != 0) continue;
        char stem[128];
        snprintf(stem, sizeof stem, "%.*s", (int)(L - 5), e->d_name);
        cJSON *J = load(stem);
        CHECK(J != NULL);
        if (!J) continue;
        char meta[400], w[400], err[1024];
        snprintf(meta, sizeof meta, "%s/%s.json", tmpdir, stem);
        CHECK(tx_write_meta(J, meta) == 0);
        int all = 1;
        for (int fmt = 0; fmt < 3; fmt++) {
            snprintf(w, sizeof w, "%s/%s.%s", tmpdir, stem, fmt < 2 ? "npz" : "safetensors");
            CHECK(tx_write_weights(J, w, fmt, fmt == 1) == 0);
            CompiledModel *m = NULL;
            int rc = model_import_files(w, meta, &m, err, sizeof err);
            CHECK_MSG(rc == 0, "%s fmt %d: %s", stem, fmt, err);
            if (rc) {
                all = 0;
                continue;
            }
            const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(J, "config");
            CHECK(m->residual_dim ==
                  cJSON_GetObjectItemCaseSensitive(cfg, "residual_dim")->valueint);
            CHECK(m->num_layers == cJSON_GetObjectItemCaseSensitive(cfg, "num_layers")->valueint);
            int bad = check_cases(J, m, stem);
            CHECK_MSG(bad == 0, "%s fmt %d: %d output positions differ from Tracr's", stem, fmt,
                      bad);
            all &= bad == 0;
            /* the model file round trip keeps it usable by forward/lift/decompile */
            if (fmt == 0) {
                char out[700];
                snprintf(out, sizeof out, "%s/%s.model.safetensors", tmpdir, stem);
                CHECK(model_save(m, out, err, sizeof err) == 0);
                CompiledModel *m2 = NULL;
                CHECK_MSG(model_load(out, &m2, err, sizeof err) == 0, "%s", err);
                if (m2) CHECK(check_cases(J, m2, stem) == 0);
                compiled_model_free(m2);
                unlink(out);
            }
            compiled_model_free(m);
            unlink(w);
        }
        n_ok += all;
        unlink(meta);
        cJSON_Delete(J);
    }
    closedir(d);
    printf("%d fixtures imported with all outputs equal to Tracr's\n", n_ok);
    CHECK(n_ok == 15);
}

static int import_err(const char *w, const char *meta, char *err, size_t cap) {
    CompiledModel *m = NULL;
    int rc = model_import_files(w, meta, &m, err, cap);
    compiled_model_free(m);
    return rc;
}

static void test_npy_header_validation(void) {
    double d[6] = {1, 2, 3, 4, 5, 6};
    size_t len;
    unsigned char *img = tx_npy(d, 2, 3, 0, &len);
    NpyArray a;
    char err[512];
    CHECK(npy_parse(img, len, "x", &a, err, sizeof err) == 0);
    CHECK(a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3 && a.data[5] == 6);
    npy_free(&a);
    /* truncated data, truncated header, bad magic */
    CHECK(npy_parse(img, len - 1, "x", &a, err, sizeof err) != 0 && strstr(err, "truncated"));
    CHECK(npy_parse(img, 12, "x", &a, err, sizeof err) != 0 && strstr(err, "truncated"));
    img[1] = 'X';
    CHECK(npy_parse(img, len, "x", &a, err, sizeof err) != 0 && strstr(err, "magic"));
    img[1] = 'N';
    /* dtype, order and shape checks */
    char *h = (char *)img + 10;
    memcpy(strstr(h, "<f4"), "<i4", 3);
    CHECK(npy_parse(img, len, "x", &a, err, sizeof err) != 0 && strstr(err, "'<i4'"));
    memcpy(strstr(h, "<i4"), ">f4", 3);
    CHECK(npy_parse(img, len, "x", &a, err, sizeof err) != 0 && strstr(err, "'>f4'"));
    memcpy(strstr(h, ">f4"), "<f4", 3);
    memcpy(strstr(h, "False"), "True ", 5);
    CHECK(npy_parse(img, len, "x", &a, err, sizeof err) != 0 && strstr(err, "Fortran"));
    memcpy(strstr(h, "True "), "False", 5);
    memcpy(strstr(h, "(2, 3)"), "(2, x)", 6);
    CHECK(npy_parse(img, len, "x", &a, err, sizeof err) != 0 && strstr(err, "shape"));
    memcpy(strstr(h, "(2, x)"), "(3, 3)", 6);
    CHECK(npy_parse(img, len, "x", &a, err, sizeof err) != 0 && strstr(err, "need"));
    free(img);
    /* float64 and a vector */
    img = tx_npy(d, 6, -1, 1, &len);
    CHECK(npy_parse(img, len, "x", &a, err, sizeof err) == 0 && a.ndim == 1 && a.numel == 6 &&
          a.data[2] == 3);
    npy_free(&a);
    free(img);
}

static void test_bad_files(void) {
    cJSON *J = load("reverse");
    CHECK(J != NULL);
    if (!J) return;
    char w[400], meta[400], err[1024];
    snprintf(w, sizeof w, "%s/rev.npz", tmpdir);
    snprintf(meta, sizeof meta, "%s/rev.json", tmpdir);
    CHECK(tx_write_weights(J, w, 0, 0) == 0);
    CHECK(tx_write_meta(J, meta) == 0);
    CHECK(import_err(w, meta, err, sizeof err) == 0);

    /* truncated zip */
    FILE *f = fopen(w, "rb");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)sz);
    CHECK(fread(buf, 1, (size_t)sz, f) == (size_t)sz);
    fclose(f);
    char t[400];
    snprintf(t, sizeof t, "%s/trunc.npz", tmpdir);
    f = fopen(t, "wb");
    fwrite(buf, 1, (size_t)sz / 2, f);
    fclose(f);
    CHECK(import_err(t, meta, err, sizeof err) != 0 && strstr(err, "trunc.npz"));
    /* corrupt member data (CRC / deflate error) */
    for (long i = 200; i < 260 && i < sz; i++) buf[i] ^= 0x5a;
    f = fopen(t, "wb");
    fwrite(buf, 1, (size_t)sz, f);
    fclose(f);
    CHECK(import_err(t, meta, err, sizeof err) != 0);
    printf("corrupt npz: %s\n", err);
    free(buf);
    unlink(t);

    /* mismatched JSON: wrong head count, missing output values, unknown BOS, bad token_ids */
    cJSON *m = tx_meta(J);
    cJSON_ReplaceItemInObject(m, "num_heads", cJSON_CreateNumber(5));
    char *s = cJSON_Print(m);
    tx_write_text(meta, s);
    free(s);
    CHECK(import_err(w, meta, err, sizeof err) != 0 && strstr(err, "num_heads"));
    cJSON_Delete(m);

    m = tx_meta(J);
    cJSON_DeleteItemFromArray(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "output"), "values"),
        0);
    s = cJSON_Print(m);
    tx_write_text(meta, s);
    free(s);
    CHECK(import_err(w, meta, err, sizeof err) != 0 && strstr(err, "columns"));
    cJSON_Delete(m);

    m = tx_meta(J);
    cJSON_ReplaceItemInObject(m, "bos", cJSON_CreateString("BOS"));
    s = cJSON_Print(m);
    tx_write_text(meta, s);
    free(s);
    CHECK(import_err(w, meta, err, sizeof err) != 0 && strstr(err, "BOS"));
    cJSON_Delete(m);

    m = tx_meta(J);
    cJSON_ReplaceItemInObject(m, "max_seq_len", cJSON_CreateNumber(7));
    s = cJSON_Print(m);
    tx_write_text(meta, s);
    free(s);
    CHECK(import_err(w, meta, err, sizeof err) != 0 && strstr(err, "pos_embed"));
    cJSON_Delete(m);

    tx_write_text(meta, "{\"token_ids\": [");
    CHECK(import_err(w, meta, err, sizeof err) != 0 && strstr(err, "rev.json"));
    /* a weights file that is neither */
    tx_write_text(t, "hello");
    CHECK(tx_write_meta(J, meta) == 0);
    CHECK(import_err(t, meta, err, sizeof err) != 0);
    unlink(t);
    unlink(w);
    unlink(meta);
    cJSON_Delete(J);
}

int main(void) {
    if (test_tmpdir(tmpdir, sizeof tmpdir, "import") != 0) return 1;
    RUN(test_npy_header_validation);
    RUN(test_all_fixtures_import);
    RUN(test_bad_files);
    rmdir(tmpdir);
    TEST_END();
}
