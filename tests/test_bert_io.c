/* Encoder files: save/load round trip, HF variants accepted (float32, a "bert." prefix,
 * pooler and token-type tensors), and corrupt, truncated, misnamed or inconsistent files
 * refused with a message. */
#include <stdlib.h>

#include "bert/bert.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "test.h"

static char g_dir[256];

static void path_of(char *p, size_t cap, const char *name) {
    snprintf(p, cap, "%s/%s", g_dir, name);
}

/* A random tiny encoder with a 3-token vocabulary (plus BOS and PAD) and 2 classes. */
static void tiny(BertModel *m) {
    BertConfig cfg = {.vocab = 5,
                      .positions = 4,
                      .hidden = 4,
                      .heads = 2,
                      .layers = 2,
                      .intermediate = 6,
                      .classes = 2,
                      .ln_eps = 1e-12};
    char err[256];
    CHECK(bert_alloc(m, &cfg, err, sizeof err) == 0);
    bert_init(m, 3);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] += 0.01 * (double)(i % 7);
    Value toks[5] = {val_str("a"), val_str("b"), val_str("c"), val_str("compiler_bos"),
                     val_str("compiler_pad")};
    Value outs[2] = {val_int(0), val_int(7)};
    BertVocab v = {toks, 5, 3, 4, outs, 2, 3, "vocab {\"a\"}\n", "t.rasp"};
    bert_set_vocab(m, &v);
}

static void test_round_trip(void) {
    BertModel m, r;
    tiny(&m);
    char p[300], err[512];
    path_of(p, sizeof p, "rt.safetensors");
    CHECK_MSG(bert_save(&m, p, err, sizeof err) == 0, "%s", err);
    CHECK(bert_sniff(p) == 1);
    CHECK_MSG(bert_load(p, &r, err, sizeof err) == 0, "%s", err);
    CHECK(r.cfg.vocab == 5 && r.cfg.hidden == 4 && r.cfg.heads == 2 && r.cfg.layers == 2 &&
          r.cfg.intermediate == 6 && r.cfg.classes == 2 && r.cfg.positions == 4);
    CHECK(r.n_params == m.n_params);
    CHECK(memcmp(r.params, m.params, sizeof(double) * m.n_params) == 0);
    CHECK(r.voc.bos_id == 3 && r.voc.pad_id == 4 && r.voc.max_seq_len == 3);
    CHECK(val_eq(r.voc.tokens[1], val_str("b")) && val_eq(r.voc.outputs[1], val_int(7)));
    CHECK_STR(r.voc.task, "t.rasp");
    /* the names are HF's */
    StFile f;
    CHECK(st_read_file(p, &f, err, sizeof err) == 0);
    CHECK(st_find(&f, "encoder.layer.1.attention.output.LayerNorm.bias") != NULL);
    CHECK(st_find(&f, "encoder.layer.0.intermediate.dense.weight")->shape[0] == 6);
    CHECK(st_find(&f, "classifier.weight")->shape[1] == 4);
    st_file_free(&f);
    bert_free(&r);
    bert_free(&m);
}

enum { V_F32 = 1, V_PREFIX = 2, V_EXTRA = 4, V_DROP = 8, V_ALIEN = 16, V_NAN = 32, V_SHAPE = 64 };

/* Writes m's tensors with the variations in flags and metadata meta (NULL: none). */
static void write_variant(const BertModel *m, const char *path, int flags, const char *meta) {
    BertTensor *t = malloc(sizeof(BertTensor) * BERT_MAX_TENSORS);
    int n = bert_tensors(&m->cfg, t);
    float *f32 = malloc(sizeof(float) * m->n_params);
    double *f64 = malloc(sizeof(double) * m->n_params);
    for (size_t i = 0; i < m->n_params; i++) f32[i] = (float)m->params[i], f64[i] = m->params[i];
    if (flags & V_NAN) f64[7] = NAN;
    StWriter w;
    st_writer_init(&w);
    char names[BERT_MAX_TENSORS][128];
    for (int i = 0; i < n; i++) {
        if ((flags & V_DROP) && strstr(t[i].name, "layer.1.output.dense.bias")) continue;
        bool cls = strncmp(t[i].name, "classifier", 10) == 0; /* HF keeps it unprefixed */
        snprintf(names[i], sizeof names[i], "%s%s", (flags & V_PREFIX) && !cls ? "bert." : "",
                 t[i].name);
        int64_t shape[2] = {t[i].shape[0], t[i].shape[1]};
        if ((flags & V_SHAPE) && i == 5) shape[0] = 1, shape[1] = (int64_t)t[i].numel;
        if (flags & V_F32) st_writer_add(&w, names[i], ST_F32, t[i].ndim, shape, f32 + t[i].offset);
        else st_writer_add(&w, names[i], ST_F64, t[i].ndim, shape, f64 + t[i].offset);
    }
    static const double pool[16] = {0}, tt[2 * 4] = {1, 2, 3, 4, 9, 9, 9, 9};
    int64_t ps[2] = {4, 4}, ts[2] = {2, 4};
    if (flags & V_EXTRA) {
        st_writer_add(&w, "bert.pooler.dense.weight", ST_F64, 2, ps, pool);
        st_writer_add(&w, "bert.embeddings.token_type_embeddings.weight", ST_F64, 2, ts, tt);
    }
    if (flags & V_ALIEN)
        st_writer_add(&w, "encoder.layer.0.crossattention.weight", ST_F64, 2, ps, pool);
    if (meta) st_writer_meta(&w, "itracr_bert", meta);
    char err[256];
    CHECK_MSG(st_writer_save(&w, path, err, sizeof err) == 0, "%s", err);
    st_writer_free(&w);
    free(t);
    free(f32);
    free(f64);
}

static const char *good_meta =
    "{\"num_attention_heads\": 2, \"tokens\": [\"a\", \"b\", \"c\", \"compiler_bos\", "
    "\"compiler_pad\"], \"outputs\": [0, 7], \"bos_id\": 3, \"pad_id\": 4}";

static void test_hf_variants(void) {
    BertModel m, r;
    tiny(&m);
    char p[300], err[512];
    path_of(p, sizeof p, "hf.safetensors");
    write_variant(&m, p, V_F32 | V_PREFIX | V_EXTRA, good_meta);
    CHECK(bert_sniff(p) == 1);
    CHECK_MSG(bert_load(p, &r, err, sizeof err) == 0, "%s", err);
    CHECK(r.voc.max_seq_len == 3 && r.cfg.ln_eps == 1e-12 && !r.cfg.causal);
    CHECK_NEAR(r.w.word[5], m.w.word[5], 1e-7); /* float32 */
    /* token type 0's row is added to every position */
    CHECK_NEAR(r.w.pos[2 * 4 + 1], m.w.pos[2 * 4 + 1] + 2.0, 1e-6);
    bert_free(&r);
    bert_free(&m);
}

static void expect_refused(const char *name, int flags, const char *meta, const char *needle) {
    BertModel m, r;
    tiny(&m);
    char p[300], err[512] = "";
    path_of(p, sizeof p, name);
    write_variant(&m, p, flags, meta);
    CHECK_MSG(bert_load(p, &r, err, sizeof err) == 1, "%s loaded", name);
    CHECK_MSG(strstr(err, needle) != NULL, "%s: \"%s\" lacks \"%s\"", name, err, needle);
    bert_free(&r);
    bert_free(&m);
}

static void test_refused(void) {
    expect_refused("nometa.st", 0, NULL, "no \"itracr_bert\" metadata");
    expect_refused("badjson.st", 0, "{\"num_attention_heads\": 2,", "itracr_bert");
    expect_refused("noheads.st", 0, "{\"tokens\": []}", "num_attention_heads");
    expect_refused("heads3.st", 0,
                   "{\"num_attention_heads\": 3, \"tokens\": [], \"outputs\": [], \"bos_id\": 0, "
                   "\"pad_id\": 1}",
                   "multiple");
    expect_refused("fewtokens.st", 0,
                   "{\"num_attention_heads\": 2, \"tokens\": [\"a\"], \"outputs\": [0, 7], "
                   "\"bos_id\": 0, \"pad_id\": 1}",
                   "array of 5 values");
    expect_refused("samebos.st", 0,
                   "{\"num_attention_heads\": 2, \"tokens\": [\"a\", \"b\", \"c\", \"d\", \"e\"], "
                   "\"outputs\": [0, 7], \"bos_id\": 1, \"pad_id\": 1}",
                   "two different rows");
    expect_refused("missing.st", V_DROP, good_meta,
                   "missing tensor encoder.layer.1.output.dense.bias");
    expect_refused("alien.st", V_ALIEN, good_meta,
                   "unexpected tensor encoder.layer.0.crossattention");
    expect_refused("nan.st", V_NAN, good_meta, "not finite");
    expect_refused("shape.st", V_SHAPE, good_meta, "expected [");
}

static void test_corrupt_files(void) {
    BertModel m, r;
    tiny(&m);
    char p[300], q[300], err[512];
    path_of(p, sizeof p, "ok.safetensors");
    CHECK(bert_save(&m, p, err, sizeof err) == 0);
    unsigned char *buf;
    size_t len;
    CHECK(read_whole_file(p, &buf, &len, err, sizeof err) == 0);
    path_of(q, sizeof q, "cut.safetensors"); /* truncated */
    CHECK(atomic_write(q, buf, len - 9, err, sizeof err) == 0);
    CHECK(bert_load(q, &r, err, sizeof err) == 1 && strstr(err, "cut.safetensors"));
    CHECK(bert_sniff(q) == 0);
    bert_free(&r);
    buf[3] ^= 0x40; /* the header length */
    path_of(q, sizeof q, "hdr.safetensors");
    CHECK(atomic_write(q, buf, len, err, sizeof err) == 0);
    CHECK(bert_load(q, &r, err, sizeof err) == 1);
    bert_free(&r);
    CHECK(bert_load("tests/no/such/file", &r, err, sizeof err) == 1);
    bert_free(&r);
    free(buf);
    /* a compiled model is not an encoder */
    CHECK(bert_sniff("tests/fixtures/tracr/count.rasp") == 0);
    bert_free(&m);
}

int main(void) {
    if (test_tmpdir(g_dir, sizeof g_dir, "bert_io")) return 1;
    RUN(test_round_trip);
    RUN(test_hf_variants);
    RUN(test_refused);
    RUN(test_corrupt_files);
    test_rm_tree(g_dir);
    TEST_END();
}
