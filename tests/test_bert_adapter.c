/* The adapter: a tiny encoder trained in-test is mapped onto the compiled-model form (shapes,
 * the "one" direction, folded gains), its weight tokens fit the shipped meta-model, and the
 * functional check runs the encoder itself: the true program is equivalent, another is not,
 * and the verified search runs end to end. */
#include <stdlib.h>

#include "bert/bert.h"
#include "dataset/weight_tokens.h"
#include "eval/equiv.h"
#include "eval/search.h"
#include "meta/meta.h"
#include "test.h"

static char g_dir[256], g_task[300];
static BertModel g_m;
static BertTask g_t;

static const char *reverse3 = "vocab {\"a\", \"b\", \"c\"}\nmax_seq_len 3\n"
                              "length = SelectorWidth(Select(tokens, tokens, TRUE))\n"
                              "opp = length - indices - 1\n"
                              "reverse = Aggregate(Select(indices, opp, EQ), tokens)\n";

static int setup(void) {
    snprintf(g_task, sizeof g_task, "%s/reverse3.rasp", g_dir);
    FILE *f = fopen(g_task, "w");
    fputs(reverse3, f);
    fclose(f);
    char err[512];
    if (bert_task_load(g_task, 1000, 1, &g_t, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    BertConfig cfg = {.vocab = g_t.voc.n_tokens,
                      .positions = g_t.T,
                      .hidden = 8,
                      .heads = 2,
                      .layers = 1,
                      .intermediate = 16,
                      .classes = g_t.voc.n_outputs,
                      .ln_eps = 1e-12};
    if (bert_alloc(&g_m, &cfg, err, sizeof err)) return 1;
    bert_set_vocab(&g_m, &g_t.voc);
    bert_init(&g_m, 2);
    BertTrainOptions o;
    bert_train_options_default(&o);
    o.steps = 2000;
    o.batch = 16;
    return bert_train(&g_m, &g_t, &o, NULL, err, sizeof err);
}

static void test_mapping(void) {
    CompiledModel *cm;
    char err[512];
    CHECK_MSG(bert_to_compiled(&g_m, &cm, err, sizeof err) == 0, "%s", err);
    int D = 8, D1 = 9;
    CHECK(cm->residual_dim == D1 && cm->num_heads == 2 && cm->key_size == 4 &&
          cm->mlp_hidden_size == 16 && cm->num_layers == 1 && cm->n_out == 3 &&
          cm->max_seq_len == 3 && cm->vocab_size == 5);
    CHECK(strcmp(cm->residual_labels[D], "one") == 0);
    const BertLayerW *w = &g_m.w.layers[0];
    for (int v = 0; v < 5; v++) CHECK(cm->token_embed[v * D1 + D] == 1.0);
    CHECK_NEAR(cm->token_embed[1 * D1 + 2], g_m.w.word[1 * D + 2] * g_m.w.eln_g[2] + g_m.w.eln_b[2],
               1e-15);
    /* readers: W^T with the bias in the row of "one" */
    CHECK(cm->layers[0].q[3 * D + 5] == w->wq[5 * D + 3]);
    CHECK(cm->layers[0].k[D * D + 6] == w->bk[6]);
    CHECK(cm->layers[0].w1[D * 16 + 11] == w->bi[11]);
    CHECK(cm->unembed[D * 3 + 2] == g_m.w.cls_b[2]);
    /* writers: W^T with the next LayerNorm's gain folded in, nothing written to "one" */
    CHECK_NEAR(cm->layers[0].o[2 * D1 + 5], w->wo[5 * D + 2] * w->ln1_g[5], 1e-15);
    CHECK_NEAR(cm->layers[0].w2[7 * D1 + 1], w->w2[1 * 16 + 7] * w->ln2_g[1], 1e-15);
    CHECK(cm->layers[0].w2[7 * D1 + D] == 0);
    WtTokens t;
    wt_tokens_init(&t);
    WtOptions wo;
    wt_options_default(&wo);
    CHECK(wt_encode(cm, &wo, &t, err, sizeof err) == 0);
    CHECK(t.n > 0 && t.n <= 320); /* the shipped meta-model's max_prefix */
    wt_tokens_free(&t);
    compiled_model_free(cm);
}

static void test_truth_forward(void) {
    int ids[2 * 4] = {3, 0, 1, 2, 3, 2, 2, 0}, len[2] = {4, 4};
    double a[2 * 4 * 3], b[2 * 4 * 3];
    char err[256];
    BertBatch bt = {ids, NULL, len, 2, 4};
    CHECK(bert_forward(&g_m, &bt, a, err, sizeof err) == 0);
    CHECK(bert_equiv_forward(&g_m, ids, 2, 4, b, err, sizeof err) == 0);
    CHECK(memcmp(a, b, sizeof a) == 0);
    ids[1] = 99;
    CHECK(bert_equiv_forward(&g_m, ids, 2, 4, b, err, sizeof err) != 0);
}

/* Compiles text with the task's vocabulary. */
static CompiledModel *compile_text(const char *text) {
    RaspProgram p;
    char err[512];
    CompiledModel *cm = NULL;
    if (rasp_parse("t.rasp", text, &p, err, sizeof err) == 0) {
        CompileOptions co;
        compile_options_default(&co);
        if (compile_program(&p, &co, &cm, err, sizeof err)) cm = NULL;
    }
    rasp_program_free(&p);
    return cm;
}

static void test_functional_check(void) {
    BertAccuracy acc;
    char err[512];
    CHECK(bert_accuracy(&g_m, &g_t, &acc, err, sizeof err) == 0);
    CHECK_MSG(acc.inputs_ok == 39, "trained to %ld of 39", acc.inputs_ok);
    CompiledModel *given, *truth = compile_text(reverse3),
                          *ident = compile_text("vocab {\"a\", \"b\", \"c\"}\nmax_seq_len 3\n"
                                                "x = Map(lambda x: x, tokens)\n");
    CHECK(truth && ident);
    CHECK(bert_to_compiled(&g_m, &given, err, sizeof err) == 0);
    EquivOptions eo;
    equiv_options_default(&eo);
    eo.truth_forward = bert_equiv_forward;
    eo.truth_ctx = &g_m;
    EquivResult r;
    CHECK_MSG(equiv_models(given, NULL, truth, &eo, &r, err, sizeof err) == 0, "%s", err);
    CHECK(r.status == EVAL_FN_EQUIVALENT && r.exhaustive && r.n_inputs == 39);
    eo.count_all = true;
    CHECK(equiv_models(given, NULL, ident, &eo, &r, err, sizeof err) == 0);
    CHECK(r.status == EVAL_FN_DIFFERENT);
    /* reversing differs from the identity where first and last token differ: 3*2 + 18 = 24 */
    CHECK_MSG(r.n_different == 24, "%ld", r.n_different);
    /* without truth_forward the adapted weights' own pass is used: not the encoder */
    eo.truth_forward = NULL;
    CHECK(equiv_models(given, NULL, truth, &eo, &r, err, sizeof err) == 0);
    CHECK(r.status == EVAL_FN_DIFFERENT);
    compiled_model_free(truth);
    compiled_model_free(ident);
    compiled_model_free(given);
}

static void test_search_end_to_end(void) {
    MetaModel mm;
    char err[512];
    CHECK_MSG(meta_checkpoint_load(&mm, "models/meta-small.safetensors", 1, err, sizeof err) == 0,
              "%s", err);
    CompiledModel *given;
    CHECK(bert_to_compiled(&g_m, &given, err, sizeof err) == 0);
    WtTokens t;
    wt_tokens_init(&t);
    WtOptions wo;
    wt_options_default(&wo);
    CHECK(wt_encode(given, &wo, &t, err, sizeof err) == 0);
    SearchOptions so;
    search_options_default(&so);
    so.max_candidates = 4;
    so.weights_check = false;
    so.equiv.truth_forward = bert_equiv_forward;
    so.equiv.truth_ctx = &g_m;
    SearchResult r;
    CHECK_MSG(search_decompile(&mm, given, t.payload, t.ids, t.n, &so, &r, err, sizeof err) == 0,
              "%s", err);
    CHECK(r.tried >= 1 && r.tried <= 4);
    CHECK(r.verdict != SEARCH_WEIGHTS);
    if (r.verdict == SEARCH_NONE && r.n_inputs > 0) CHECK(r.n_inputs == 39 && r.n_disagree > 0);
    wt_tokens_free(&t);
    compiled_model_free(given);
    meta_model_free(&mm);
}

int main(void) {
    if (test_tmpdir(g_dir, sizeof g_dir, "bert_adapter")) return 1;
    if (setup()) return 1;
    RUN(test_mapping);
    RUN(test_truth_forward);
    RUN(test_functional_check);
    RUN(test_search_end_to_end);
    bert_free(&g_m);
    bert_task_free(&g_t);
    test_rm_tree(g_dir);
    TEST_END();
}
