/* Model files: save -> load gives the same model; the header follows docs/compiler.md "Model file"; damaged
 * or inconsistent files are rejected with a message. */
#include <cjson/cJSON.h>
#include <unistd.h>

#include "compiler/model.h"
#include "io/safetensors.h"
#include "rasp/program.h"
#include "rasp/rasp.h"
#include "test.h"

static int add(RaspProgram *p, ExprKind k, Encoding enc, const char *label, int c0, int c1) {
    RaspExpr e;
    memset(&e, 0, sizeof e);
    e.kind = k;
    e.enc = enc;
    e.label = e.name = label;
    e.user_named = k != EXPR_TOKENS && k != EXPR_INDICES;
    e.child[0] = c0;
    e.child[1] = c1;
    return rasp_add_expr(p, &e);
}

/* frac_prevs over tokens == 1, plus a SelectorWidth, so both encodings and a layer with an
 * attention head and an MLP appear. */
static CompiledModel *build(RaspProgram *p) {
    rasp_program_init(p);
    Arena *a = &p->arena;
    int t = add(p, EXPR_TOKENS, ENC_CATEGORICAL, "tokens", -1, -1);
    int ix = add(p, EXPR_INDICES, ENC_CATEGORICAL, "indices", -1, -1);
    int b = add(p, EXPR_MAP, ENC_NUMERICAL, "bools", t, -1);
    Lambda *l = arena_alloc(a, sizeof *l);
    l->n_params = 1;
    l->params[0] = "x";
    l->body = py_cmp2(a, PYC_EQ, py_param(a, 0), py_const(a, val_int(1)));
    p->exprs[b].fn = l;
    int s = add(p, EXPR_SELECT, ENC_CATEGORICAL, "prevs", ix, ix);
    p->exprs[s].pred = PRED_LEQ;
    int f = add(p, EXPR_AGGREGATE, ENC_NUMERICAL, "frac", s, b);
    p->exprs[f].default_value = val_int(0);
    p->output = f;
    p->source = "# frac_prevs (built in the test)\n";
    Value voc[3] = {val_int(1), val_int(2), val_int(3)};
    CompileOptions o;
    compile_options_default(&o);
    o.vocab = voc;
    o.n_vocab = 3;
    o.max_seq_len = 4;
    CompiledModel *m = NULL;
    char err[512];
    int rc = compile_program(p, &o, &m, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    return m;
}

static size_t nweights(const CompiledModel *m) {
    size_t D = (size_t)m->residual_dim, HK = (size_t)m->num_heads * m->key_size,
           M = (size_t)m->mlp_hidden_size;
    return (size_t)m->vocab_size * D + (size_t)(m->max_seq_len + 1) * D +
           (3 * D * HK + HK * D + 2 * D * M) * m->num_layers + D * (size_t)m->n_out;
}

static void test_roundtrip(void) {
    RaspProgram p;
    CompiledModel *m = build(&p);
    if (!m) return;
    char dir[64];
    CHECK(test_tmpdir(dir, sizeof dir, "mio") == 0);
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    CHECK_MSG(model_save(m, path, err, sizeof err) == 0, "%s", err);
    CompiledModel *l = NULL;
    CHECK_MSG(model_load(path, &l, err, sizeof err) == 0, "%s", err);
    if (l) {
        CHECK(l->num_layers == m->num_layers && l->num_heads == m->num_heads &&
              l->key_size == m->key_size);
        CHECK(l->mlp_hidden_size == m->mlp_hidden_size && l->residual_dim == m->residual_dim);
        CHECK(l->max_seq_len == m->max_seq_len && l->causal == m->causal &&
              l->mlp_exactness == m->mlp_exactness);
        CHECK(l->vocab_size == m->vocab_size && l->bos_id == m->bos_id && l->pad_id == m->pad_id);
        for (int i = 0; i < m->vocab_size; i++) CHECK(val_eq(l->tokens[i], m->tokens[i]));
        for (int i = 0; i < m->residual_dim; i++)
            CHECK_STR(l->residual_labels[i], m->residual_labels[i]);
        CHECK_STR(l->output_name, m->output_name);
        CHECK(l->output_numerical == m->output_numerical && l->n_out == m->n_out);
        CHECK_STR(l->source, m->source);
        CHECK(l->n_warnings == m->n_warnings);
        size_t n = nweights(m);
        size_t diff = 0;
        for (size_t i = 0; i < n; i++)
            if (l->token_embed[i] != (double)(float)m->token_embed[i]) diff++;
        CHECK(diff == 0);
        for (int li = 0; li < m->num_layers; li++) {
            CHECK(l->info[li].n_heads == m->info[li].n_heads &&
                  l->info[li].mlp_hidden == m->info[li].mlp_hidden);
            for (int h = 0; h < m->info[li].mlp_hidden; h++)
                CHECK_STR(l->info[li].hidden_labels[h], m->info[li].hidden_labels[h]);
        }
        /* the same float32 forward, bit for bit; float64 within float32 rounding */
        int ids[5];
        Value xs[4] = {val_int(1), val_int(2), val_int(1), val_int(1)};
        CHECK(model_encode(m, xs, 4, ids, err, sizeof err) == 0);
        float a[5], b[5];
        double c[5], d[5];
        CHECK(model_forward_f32(m, ids, 1, 5, a, err, sizeof err) == 0);
        CHECK(model_forward_f32(l, ids, 1, 5, b, err, sizeof err) == 0);
        CHECK(memcmp(a, b, sizeof a) == 0);
        CHECK(model_forward_f64(m, ids, 1, 5, c, err, sizeof err) == 0);
        CHECK(model_forward_f64(l, ids, 1, 5, d, err, sizeof err) == 0);
        for (int i = 0; i < 5; i++) CHECK_NEAR(c[i], d[i], 1e-5);
        CHECK_NEAR(c[3], 2.0 / 3, 1e-5);
        CHECK_NEAR(c[4], 3.0 / 4, 1e-5);
    }
    compiled_model_free(l);
    unlink(path);
    rmdir(dir);
    compiled_model_free(m);
    rasp_program_free(&p);
}

static void test_header(void) {
    RaspProgram p;
    CompiledModel *m = build(&p);
    if (!m) return;
    unsigned char *buf = NULL;
    size_t len = 0;
    char err[512];
    CHECK(model_serialize(m, &buf, &len, err, sizeof err) == 0);
    CHECK(len > 8);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | buf[i];
    CHECK(hl + 8 <= len);
    cJSON *h = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hl);
    CHECK(h != NULL);
    if (h) {
        const cJSON *te = cJSON_GetObjectItemCaseSensitive(h, "token_embed/embeddings");
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(te, "dtype")->valuestring, "F32");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(te, "shape");
        CHECK(cJSON_GetArrayItem(sh, 0)->valueint == 5 &&
              cJSON_GetArrayItem(sh, 1)->valueint == m->residual_dim);
        char nm[96];
        for (int l = 0; l < m->num_layers; l++) {
            const char *parts[] = {"attn/query/w",   "attn/query/b",   "attn/key/w",
                                   "attn/key/b",     "attn/value/w",   "attn/value/b",
                                   "attn/linear/w",  "attn/linear/b",  "mlp/linear_1/w",
                                   "mlp/linear_1/b", "mlp/linear_2/w", "mlp/linear_2/b"};
            for (int k = 0; k < 12; k++) {
                snprintf(nm, sizeof nm, "transformer/layer_%d/%s", l, parts[k]);
                CHECK_MSG(cJSON_GetObjectItemCaseSensitive(h, nm) != NULL, "%s", nm);
            }
        }
        CHECK(cJSON_GetObjectItemCaseSensitive(h, "pos_embed/embeddings") &&
              cJSON_GetObjectItemCaseSensitive(h, "unembed/w"));
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(h, "__metadata__");
        CHECK_STR(cJSON_GetObjectItemCaseSensitive(md, "format")->valuestring, "itracr-model/1");
        cJSON *cfg = cJSON_Parse(cJSON_GetObjectItemCaseSensitive(md, "config")->valuestring);
        CHECK(cfg &&
              cJSON_GetObjectItemCaseSensitive(cfg, "residual_dim")->valueint == m->residual_dim);
        CHECK(cfg && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cfg, "causal")));
        CHECK(cfg && cJSON_GetObjectItemCaseSensitive(cfg, "mlp_exactness")->valueint == 100);
        cJSON_Delete(cfg);
        cJSON *ti = cJSON_Parse(cJSON_GetObjectItemCaseSensitive(md, "token_ids")->valuestring);
        /* vocab {1,2,3}: ids 1->0, 2->1, 3->2, bos->3, pad->4 (docs/tracr.md §2.6) */
        CHECK(ti && cJSON_GetArraySize(ti) == 5);
        CHECK(ti && cJSON_GetArrayItem(cJSON_GetArrayItem(ti, 0), 0)->valueint == 1);
        CHECK(ti && strcmp(cJSON_GetArrayItem(cJSON_GetArrayItem(ti, 3), 0)->valuestring,
                           "compiler_bos") == 0);
        cJSON_Delete(ti);
        cJSON *o = cJSON_Parse(cJSON_GetObjectItemCaseSensitive(md, "output")->valuestring);
        CHECK(o && strcmp(cJSON_GetObjectItemCaseSensitive(o, "encoding")->valuestring,
                          "numerical") == 0);
        CHECK(o && strcmp(cJSON_GetObjectItemCaseSensitive(o, "name")->valuestring, "frac") == 0);
        cJSON_Delete(o);
        cJSON *rl =
            cJSON_Parse(cJSON_GetObjectItemCaseSensitive(md, "residual_labels")->valuestring);
        CHECK(rl && cJSON_GetArraySize(rl) == m->residual_dim);
        cJSON_Delete(rl);
        CHECK(cJSON_GetObjectItemCaseSensitive(md, "source") != NULL);
        cJSON_Delete(h);
    }
    free(buf);
    compiled_model_free(m);
    rasp_program_free(&p);
}

/* Rewrites a serialized model: drops one tensor and/or replaces one metadata value. */
static int rebuild(const unsigned char *buf, size_t len, const char *drop, const char *key,
                   const char *value, unsigned char **out, size_t *out_len) {
    StFile f;
    char err[256];
    if (st_read_buffer(buf, len, &f, err, sizeof err)) return 1;
    StWriter w;
    st_writer_init(&w);
    for (int i = 0; i < f.n; i++)
        if (!drop || strcmp(f.tensors[i].name, drop) != 0)
            st_writer_add(&w, f.tensors[i].name, f.tensors[i].dtype, f.tensors[i].ndim,
                          f.tensors[i].shape, f.tensors[i].data);
    for (int i = 0; i < f.n_meta; i++)
        st_writer_meta(&w, f.meta[i].key,
                       key && strcmp(f.meta[i].key, key) == 0 ? value : f.meta[i].value);
    int rc = st_writer_serialize(&w, out, out_len, err, sizeof err);
    st_writer_free(&w);
    st_file_free(&f);
    return rc;
}

static void expect_reject(const unsigned char *b, size_t n, const char *what, const char *needle) {
    CompiledModel *l = NULL;
    char err[512] = "";
    int rc = model_load_buffer(b, n, &l, err, sizeof err);
    CHECK_MSG(rc != 0, "%s was accepted", what);
    CHECK_MSG(!needle || strstr(err, needle), "%s: message \"%s\" lacks \"%s\"", what, err, needle);
    compiled_model_free(l);
}

static void test_corrupt(void) {
    RaspProgram p;
    CompiledModel *m = build(&p);
    if (!m) return;
    unsigned char *buf = NULL, *b2 = NULL;
    size_t len = 0, l2 = 0;
    char err[512];
    CHECK(model_serialize(m, &buf, &len, err, sizeof err) == 0);
    CompiledModel *ok = NULL;
    CHECK(model_load_buffer(buf, len, &ok, err, sizeof err) == 0);
    compiled_model_free(ok);
    expect_reject(buf, len / 2, "truncated file", NULL);
    expect_reject(buf, 7, "8-byte prefix cut", NULL);
    unsigned char *c = malloc(len);
    memcpy(c, buf, len);
    c[9] ^= 0x55; /* break the JSON header */
    expect_reject(c, len, "damaged header", NULL);
    free(c);
    CHECK(rebuild(buf, len, "unembed/w", NULL, NULL, &b2, &l2) == 0);
    expect_reject(b2, l2, "missing unembed", "unembed/w");
    free(b2);
    CHECK(rebuild(buf, len, "transformer/layer_0/mlp/linear_1/b", NULL, NULL, &b2, &l2) == 0);
    expect_reject(b2, l2, "missing bias", "linear_1/b");
    free(b2);
    CHECK(rebuild(buf, len, NULL, "format", "something-else/9", &b2, &l2) == 0);
    expect_reject(b2, l2, "wrong format", "format");
    free(b2);
    char cfg[512];
    snprintf(
        cfg, sizeof cfg,
        "{\"num_layers\":%d,\"num_heads\":%d,\"key_size\":%d,\"mlp_hidden_size\":%d,\"residual_dim\":%d,"
        "\"max_seq_len\":%d,\"causal\":false,\"mlp_exactness\":100}",
        m->num_layers, m->num_heads, m->key_size, m->mlp_hidden_size, m->residual_dim + 1,
        m->max_seq_len);
    CHECK(rebuild(buf, len, NULL, "config", cfg, &b2, &l2) == 0);
    expect_reject(b2, l2, "config/shape mismatch", NULL);
    free(b2);
    CHECK(rebuild(buf, len, NULL, "config", "[1,2]", &b2, &l2) == 0);
    expect_reject(b2, l2, "config not an object", "config");
    free(b2);
    CHECK(rebuild(buf, len, NULL, "token_ids", "[[1,0],[2,0]]", &b2, &l2) == 0);
    expect_reject(b2, l2, "bad token ids", "token_ids");
    free(b2);
    CHECK(rebuild(buf, len, NULL, "residual_labels", "[\"a\"]", &b2, &l2) == 0);
    expect_reject(b2, l2, "too few residual labels", "residual_labels");
    free(b2);
    CHECK(rebuild(buf, len, NULL, "output", "{\"name\":\"x\"}", &b2, &l2) == 0);
    expect_reject(b2, l2, "output without encoding", "output");
    free(b2);
    free(buf);
    compiled_model_free(m);
    rasp_program_free(&p);
    CompiledModel *l = NULL;
    CHECK(model_load("/nonexistent/dir/model.safetensors", &l, err, sizeof err) != 0 && l == NULL);
}

int main(void) {
    RUN(test_roundtrip);
    RUN(test_header);
    RUN(test_corrupt);
    TEST_END();
}
