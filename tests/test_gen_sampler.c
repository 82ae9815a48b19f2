/* The typed sampler: determinism, the op-count and type rules (every sample passes Tracr's
 * compilability checks), every op used, categorical-only mode, size predictions equal to
 * what the compiler builds, and decode(encode(p)) compiling to the identical model. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/model.h"
#include "gen/lambda_lib.h"
#include "gen/program_tokens.h"
#include "gen/sampler.h"
#include "rasp/rasp.h"
#include "test.h"

static Value g_vocab[5];

static GenSampler *new_sampler(const GenConfig *c) {
    char err[256];
    GenSampler *s = gen_sampler_new(c, err, sizeof err);
    CHECK_MSG(s != NULL, "%s", err);
    return s;
}

static void test_config(void) {
    GenConfig c;
    gen_config_default(&c);
    char err[256];
    CHECK(c.min_ops == 1 && c.max_ops == 8 && c.max_seq_len == 5 && c.n_vocab == 5);
    for (int i = 0; i < 5; i++) CHECK(c.vocab[i] == i);
    CHECK(gen_config_check(&c, err, sizeof err) == 0);
    GenConfig b = c;
    b.max_ops = 16;
    CHECK(gen_config_check(&b, err, sizeof err) != 0);
    b = c;
    b.vocab[1] = 0;
    CHECK(gen_config_check(&b, err, sizeof err) != 0 && strstr(err, "twice"));
    b = c;
    for (int k = 0; k < GEN_K_COUNT; k++) b.op_weight[k] = 0;
    CHECK(gen_config_check(&b, err, sizeof err) != 0);
    CHECK(gen_sampler_new(&b, err, sizeof err) == NULL);
    b = c;
    b.p_numerical = 1.5;
    CHECK(gen_config_check(&b, err, sizeof err) != 0);
}

static void test_determinism(void) {
    GenConfig c;
    gen_config_default(&c);
    GenSampler *a = new_sampler(&c), *b = new_sampler(&c);
    if (!a || !b) return;
    GenSample x, y;
    int differ = 0;
    /* b draws the seeds in another order: a sample depends on its seed alone. */
    for (int i = 0; i < 200; i++) {
        int ra = gen_sample(a, gen_sample_seed(1, (uint64_t)i), &x);
        int rb = gen_sample(b, gen_sample_seed(1, (uint64_t)(199 - i)), &y);
        (void)rb;
        GenSample z;
        int rz = gen_sample(b, gen_sample_seed(1, (uint64_t)i), &z);
        CHECK(ra == rz);
        if (ra == 0) CHECK(memcmp(x.tokens, z.tokens, sizeof x.tokens) == 0);
        if (ra == 0 && rb == 0) differ += memcmp(x.tokens, y.tokens, sizeof x.tokens) != 0;
    }
    CHECK(differ > 150);
    CHECK(gen_sample_seed(1, 0) != gen_sample_seed(2, 0));
    CHECK(gen_sample_seed(1, 0) != gen_sample_seed(1, 1));
    gen_sampler_free(a);
    gen_sampler_free(b);
}

typedef struct Stats {
    int samples, failed, by_ops[16], by_kind[PT_OP_VOCAB], num_rows, max_layers;
    int invalid, size_mismatch, compiled, compile_failed, model_differs;
} Stats;

static void check_sample(const GenConfig *c, const GenSample *g, Stats *st, bool compile) {
    char err[1024];
    int sops = 0;
    for (int k = 0; k < g->n_rows; k++) {
        st->by_kind[g->rows[k].op]++;
        sops += g->rows[k].op != PT_OP_SELECT;
        st->num_rows += g->rows[k].enc == PT_ENC_NUM;
    }
    CHECK(sops == g->n_sops);
    CHECK(g->n_sops >= c->min_ops && g->n_sops <= c->max_ops);
    st->by_ops[g->n_sops]++;
    CHECK(g->rows[g->n_rows - 1].op != PT_OP_SELECT);
    CHECK(g->layers <= c->max_layers && g->mlp_width <= c->max_mlp_width &&
          g->residual <= c->max_residual);
    if (g->layers > st->max_layers) st->max_layers = g->layers;

    RaspProgram p;
    if (pt_decode(g->tokens, g_vocab, 5, c->max_seq_len, &p, err, sizeof err) != 0) {
        CHECK_MSG(0, "%s", err);
        return;
    }
    RaspReport r;
    rasp_report_init(&r);
    if (rasp_validate_compilable(&p, g_vocab, 5, c->max_seq_len, &r) != 0) {
        if (st->invalid++ < 3) {
            char *t = pt_format_table(g->tokens);
            CHECK_MSG(0, "sample not compilable: %s\n%s", r.items[0].msg, t);
            free(t);
        }
    }
    rasp_report_free(&r);
    if (compile) {
        CompileOptions o;
        compile_options_default(&o);
        CompiledModel *m = NULL, *m2 = NULL;
        if (compile_program(&p, &o, &m, err, sizeof err) != 0) {
            if (st->compile_failed++ < 3) CHECK_MSG(0, "compile failed: %s", err);
        } else {
            st->compiled++;
            if ((m->residual_dim != g->residual || m->num_layers != g->layers ||
                 m->mlp_hidden_size != g->mlp_width || m->key_size != g->key_size) &&
                st->size_mismatch++ < 3) {
                char *t = pt_format_table(g->tokens);
                CHECK_MSG(0, "predicted D=%d layers=%d mlp=%d ks=%d, compiled %d %d %d %d\n%s",
                          g->residual, g->layers, g->mlp_width, g->key_size, m->residual_dim,
                          m->num_layers, m->mlp_hidden_size, m->key_size, t);
                free(t);
            }
            /* decode(encode(p)) compiles to the same bytes. */
            int16_t t2[PT_ROWS * PT_COLS];
            RaspProgram q;
            if (pt_encode(&p, t2, err, sizeof err) == 0 &&
                pt_decode(t2, g_vocab, 5, c->max_seq_len, &q, err, sizeof err) == 0) {
                if (compile_program(&q, &o, &m2, err, sizeof err) == 0) {
                    unsigned char *b1 = NULL, *b2 = NULL;
                    size_t n1 = 0, n2 = 0;
                    int ok1 = model_serialize(m, &b1, &n1, err, sizeof err);
                    int ok2 = model_serialize(m2, &b2, &n2, err, sizeof err);
                    if (ok1 != 0 || ok2 != 0 || n1 != n2 || memcmp(b1, b2, n1) != 0)
                        st->model_differs++;
                    free(b1);
                    free(b2);
                    compiled_model_free(m2);
                } else {
                    st->model_differs++;
                }
                rasp_program_free(&q);
            } else {
                st->model_differs++;
            }
            compiled_model_free(m);
        }
    }
    rasp_program_free(&p);
}

static void run_many(const GenConfig *c, int n, uint64_t seed, bool compile, Stats *st) {
    GenSampler *s = new_sampler(c);
    if (!s) return;
    GenSample g;
    for (int i = 0; i < n; i++) {
        if (gen_sample(s, gen_sample_seed(seed, (uint64_t)i), &g) != 0) {
            st->failed++;
            continue;
        }
        st->samples++;
        check_sample(c, &g, st, compile);
    }
    gen_sampler_free(s);
}

static void test_default_samples(void) {
    GenConfig c;
    gen_config_default(&c);
    Stats st;
    memset(&st, 0, sizeof st);
    run_many(&c, 2000, 11, true, &st);
    CHECK(st.failed * 100 < st.samples); /* under 1% of seeds give up */
    for (int k = 1; k <= 8; k++) CHECK_MSG(st.by_ops[k] > 150, "ops=%d: %d", k, st.by_ops[k]);
    for (int op = PT_OP_MAP; op < PT_OP_VOCAB; op++)
        CHECK_MSG(st.by_kind[op] > (op == PT_OP_LINSEQMAP ? 50 : 200), "%s: %d",
                  pt_token_name(PT_COL_OP, op), st.by_kind[op]);
    CHECK(st.num_rows > 500);
    CHECK(st.invalid == 0);
    CHECK(st.compile_failed == 0);
    CHECK(st.compiled == st.samples);
    CHECK(st.size_mismatch == 0);
    CHECK(st.model_differs == 0);
    CHECK(st.max_layers >= 5);
}

static void test_categorical_only_and_caps(void) {
    GenConfig c;
    gen_config_default(&c);
    c.categorical_only = true;
    c.min_ops = 3;
    c.max_ops = 6;
    c.max_mlp_width = 40;
    c.max_residual = 60;
    c.max_layers = 4;
    Stats st;
    memset(&st, 0, sizeof st);
    run_many(&c, 600, 5, true, &st);
    CHECK(st.samples > 550);
    CHECK(st.num_rows == 0);
    CHECK(st.by_kind[PT_OP_LINSEQMAP] == 0);
    CHECK(st.by_ops[1] == 0 && st.by_ops[2] == 0 && st.by_ops[7] == 0);
    CHECK(st.invalid == 0 && st.compile_failed == 0 && st.size_mismatch == 0);

    /* Only Maps and SelectorWidths, larger vocab and length. */
    gen_config_default(&c);
    for (int k = 0; k < GEN_K_COUNT; k++) c.op_weight[k] = 0;
    c.op_weight[GEN_K_MAP] = 1;
    c.op_weight[GEN_K_SELWIDTH] = 1;
    c.max_seq_len = 8;
    memset(&st, 0, sizeof st);
    run_many(&c, 300, 9, false, &st);
    CHECK(st.samples > 280);
    CHECK(st.by_kind[PT_OP_AGGREGATE] == 0 && st.by_kind[PT_OP_SEQMAP] == 0);
    CHECK(st.by_kind[PT_OP_SELWIDTH] > 50);
    CHECK(st.invalid == 0);
}

int main(void) {
    for (int i = 0; i < 5; i++) g_vocab[i] = val_int(i);
    RUN(test_config);
    RUN(test_determinism);
    RUN(test_default_samples);
    RUN(test_categorical_only_and_caps);
    TEST_END();
}
