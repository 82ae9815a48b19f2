/* Issue 14 items 5-6: model files and meta checkpoints whose content lies are refused when
 * read. A bit flip in the tensors fails the stored checksum; a config that disagrees with
 * the tensors (more layers than num_layers, vocab_size, bos_id, pad_id) is an error instead
 * of a model that runs with wrong outputs; a NaN in a checkpoint is an error instead of a
 * garbage decode, and a NaN reaching the meta-model's fast exp is no undefined behaviour.
 * Files without a checksum (written before it existed) still load. */
#include <cjson/cJSON.h>
#include <unistd.h>

#include "compiler/model.h"
#include "dataset/shard.h"
#include "io/safetensors.h"
#include "io/st_digest.h"
#include "meta/meta.h"
#include "rasp/rasp.h"
#include "test.h"

static CompiledModel *compile_example(const char *path, RaspProgram *p) {
    char err[1024];
    CompiledModel *m = NULL;
    CompileOptions o;
    compile_options_default(&o);
    if (rasp_parse_file(path, p, err, sizeof err) != 0 ||
        compile_program(p, &o, &m, err, sizeof err) != 0) {
        fprintf(stderr, "  %s\n", err);
        return NULL;
    }
    return m;
}

/* Re-serializes buf with metadata key set to value (NULL: removed); keep_digest false also
 * drops the tensor checksum (as an older writer would have). */
static int rewrite(const unsigned char *buf, size_t len, const char *key, const char *value,
                   bool keep_digest, unsigned char **out, size_t *out_len) {
    StFile f;
    char err[256];
    if (st_read_buffer(buf, len, &f, err, sizeof err) != 0) return -1;
    StWriter w;
    st_writer_init(&w);
    for (int i = 0; i < f.n; i++)
        st_writer_add(&w, f.tensors[i].name, f.tensors[i].dtype, f.tensors[i].ndim,
                      f.tensors[i].shape, f.tensors[i].data);
    bool seen = false;
    for (int i = 0; i < f.n_meta; i++) {
        if (!keep_digest && strcmp(f.meta[i].key, ST_DIGEST_KEY) == 0) continue;
        if (key && strcmp(f.meta[i].key, key) == 0) {
            seen = true;
            if (value) st_writer_meta(&w, key, value);
        } else {
            st_writer_meta(&w, f.meta[i].key, f.meta[i].value);
        }
    }
    if (key && value && !seen) st_writer_meta(&w, key, value);
    int rc = st_writer_serialize(&w, out, out_len, err, sizeof err);
    st_writer_free(&w);
    st_file_free(&f);
    return rc;
}

static void expect_load(const unsigned char *b, size_t n, bool ok, const char *what,
                        const char *needle) {
    CompiledModel *l = NULL;
    char err[1024] = "";
    int rc = model_load_buffer(b, n, &l, err, sizeof err);
    if (ok) CHECK_MSG(rc == 0, "%s: %s", what, err);
    else {
        CHECK_MSG(rc != 0, "%s was accepted", what);
        CHECK_MSG(!needle || strstr(err, needle), "%s: message \"%s\" lacks \"%s\"", what, err,
                  needle);
    }
    compiled_model_free(l);
}

/* The config JSON of buf with key set to v (an integer). */
static char *config_with(const unsigned char *buf, size_t len, const char *key, double v) {
    StFile f;
    char err[256];
    if (st_read_buffer(buf, len, &f, err, sizeof err) != 0) return NULL;
    cJSON *c = cJSON_Parse(st_meta_get(&f, "config"));
    cJSON_ReplaceItemInObject(c, key, cJSON_CreateNumber(v));
    char *s = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    st_file_free(&f);
    return s;
}

static void test_model_checksum_and_config(void) {
    RaspProgram p;
    CompiledModel *m = compile_example("examples/sort.rasp", &p);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(m->num_layers >= 2);
    unsigned char *buf = NULL, *b2 = NULL;
    size_t len = 0, l2 = 0;
    char err[512];
    CHECK(model_serialize(m, &buf, &len, err, sizeof err) == 0);
    expect_load(buf, len, true, "the model as written", NULL);

    /* a flipped bit in the last tensor byte: still a valid float, caught only by the checksum */
    unsigned char *c = malloc(len);
    memcpy(c, buf, len);
    c[len - 2] ^= 0x01;
    expect_load(c, len, false, "a bit flip in the tensors", "checksum");
    free(c);

    /* a changed output value in the metadata, the checksum kept: refused */
    {
        StFile f;
        CHECK(st_read_buffer(buf, len, &f, err, sizeof err) == 0);
        char *outv = strdup(st_meta_get(&f, "output"));
        st_file_free(&f);
        char *digit = strpbrk(outv, "0123456789");
        CHECK(digit != NULL);
        if (digit) *digit = *digit == '9' ? '8' : (char)(*digit + 1);
        CHECK(rewrite(buf, len, "output", outv, true, &b2, &l2) == 0);
        expect_load(b2, l2, false, "a changed output value", "checksum");
        free(b2);
        free(outv);
    }

    /* without the checksum (older files): loads */
    CHECK(rewrite(buf, len, NULL, NULL, false, &b2, &l2) == 0);
    expect_load(b2, l2, true, "a model without a checksum", NULL);
    free(b2);

    /* the config says fewer layers than the file holds */
    char *cfg = config_with(buf, len, "num_layers", m->num_layers - 1);
    CHECK(rewrite(buf, len, "config", cfg, false, &b2, &l2) == 0);
    expect_load(b2, l2, false, "num_layers lower than the tensors", "beyond config num_layers");
    free(b2);
    free(cfg);

    cfg = config_with(buf, len, "vocab_size", m->vocab_size + 1);
    CHECK(rewrite(buf, len, "config", cfg, false, &b2, &l2) == 0);
    expect_load(b2, l2, false, "vocab_size that disagrees with token_ids", "vocab_size");
    free(b2);
    free(cfg);

    cfg = config_with(buf, len, "bos_id", m->bos_id == 0 ? 1 : 0);
    CHECK(rewrite(buf, len, "config", cfg, false, &b2, &l2) == 0);
    expect_load(b2, l2, false, "bos_id that is not the BOS token", "bos_id");
    free(b2);
    free(cfg);

    cfg = config_with(buf, len, "pad_id", m->vocab_size + 5);
    CHECK(rewrite(buf, len, "config", cfg, false, &b2, &l2) == 0);
    expect_load(b2, l2, false, "pad_id out of range", "pad_id");
    free(b2);
    free(cfg);

    free(buf);
    compiled_model_free(m);
    rasp_program_free(&p);
}

static void test_shipped_files_load(void) {
    /* written before the checksum existed */
    MetaModel mm;
    char err[1024];
    CHECK_MSG(meta_checkpoint_load(&mm, "models/meta-small.safetensors", 1, err, sizeof err) == 0,
              "%s", err);
    meta_model_free(&mm);
}

static MetaConfig tiny_cfg(void) {
    MetaConfig c = {0};
    c.d_model = 16, c.n_head = 2, c.n_layer = 1, c.mlp_ratio = 2, c.payload_dim = 4;
    c.n_id_fields = 2, c.id_vocab[0] = 3, c.id_vocab[1] = 6;
    c.vocab = 9, c.max_prefix = 6, c.max_prog = 5;
    return c;
}

static void test_checkpoint_nan_and_checksum(void) {
    char dir[64], path[128], bad[128], err[1024];
    CHECK(test_tmpdir(dir, sizeof dir, "integrity") == 0);
    snprintf(path, sizeof path, "%s/ok.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    MetaConfig c = tiny_cfg();
    MetaModel m, r;
    CHECK(meta_model_init(&m, &c, 5, 2, err, sizeof err) == 0);
    CHECK(meta_checkpoint_save(&m, path, err, sizeof err) == 0);
    CHECK_MSG(meta_checkpoint_load(&r, path, 2, err, sizeof err) == 0, "%s", err);
    meta_model_free(&r);

    /* a NaN parameter, saved through the writer (so the checksum matches): refused */
    m.params[3] = NAN;
    CHECK(meta_checkpoint_save(&m, bad, err, sizeof err) == 0);
    CHECK(meta_checkpoint_load(&r, bad, 2, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "non-finite") != NULL, "%s", err);
    m.params[3] = 0.5f;

    /* a bit flip in a saved checkpoint: refused */
    unsigned char *data = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 0, SEEK_END);
        len = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        data = malloc(len);
        CHECK(fread(data, 1, len, f) == len);
        fclose(f);
        data[len - 3] ^= 0x02;
        f = fopen(bad, "wb");
        fwrite(data, 1, len, f);
        fclose(f);
        CHECK(meta_checkpoint_load(&r, bad, 2, err, sizeof err) != 0);
        CHECK_MSG(strstr(err, "checksum") != NULL, "%s", err);
        free(data);
    }
    meta_model_free(&m);
    unlink(path);
    unlink(bad);
    rmdir(dir);
}

/* All-NaN parameters through the forward pass: the result is a non-finite loss, never
 * undefined behaviour in the fast exp (the sanitizer build aborts on it). */
static void test_nan_forward_defined(void) {
    MetaConfig c = tiny_cfg();
    MetaModel m;
    char err[256];
    CHECK(meta_model_init(&m, &c, 5, 2, err, sizeof err) == 0);
    for (size_t i = 0; i < m.lay.n_params; i++) m.params[i] = NAN;
    enum { B = 2, P = 6, T = 5 };
    float pay[B * P * 4] = {0};
    int32_t ids[B * P * 2] = {0}, plen[B] = {6, 3}, tok[B * T] = {0}, tgt[B * T] = {0};
    MetaBatch b = {B, P, T, pay, ids, plen, tok, tgt};
    float loss = 0;
    CHECK(meta_forward(&m, &b, &loss, err, sizeof err) == 0);
    CHECK(!isfinite(loss));
    meta_model_free(&m);
}

/* A shard whose payload holds a NaN, written with a valid checksum: every reader (dataset
 * stats, train, eval all go through shard_read_*) refuses it and names the token. */
static void test_shard_nan_payload(void) {
    for (int bad = 0; bad < 3; bad++) {
        ShardBuilder b;
        shard_builder_init(&b);
        AccResult r;
        acc_result_init(&r);
        r.wt.cap = 3;
        r.wt.payload = calloc((size_t)WT_WIDTH * 3, sizeof(float));
        r.wt.ids = calloc((size_t)WT_N_IDS * 3, sizeof(int16_t));
        r.wt.n = 3;
        for (int s = 0; s < 2; s++) {
            if (bad && s == 1) r.wt.payload[WT_WIDTH + 2] = bad == 1 ? NAN : INFINITY;
            CHECK(shard_builder_add(&b, &r, s) == 0);
        }
        unsigned char *buf = NULL;
        size_t len = 0;
        char err[512] = "";
        CHECK(shard_serialize(&b, NULL, 0, &buf, &len, err, sizeof err) == 0);
        Shard sh;
        int rc =
            shard_read_buffer(buf, len, "d/train/shard-000000.safetensors", &sh, err, sizeof err);
        if (!bad) {
            CHECK_MSG(rc == 0, "%s", err);
            shard_free(&sh);
        } else {
            CHECK(rc != 0);
            CHECK_MSG(strstr(err, "shard-000000") && strstr(err, "non-finite") &&
                          strstr(err, "weight token 4 (sample 1)"),
                      "%s", err);
        }
        free(buf);
        acc_result_free(&r);
        shard_builder_free(&b);
    }
}

int main(void) {
    RUN(test_shard_nan_payload);
    RUN(test_model_checksum_and_config);
    RUN(test_shipped_files_load);
    RUN(test_checkpoint_nan_and_checksum);
    RUN(test_nan_forward_defined);
    TEST_END();
}
