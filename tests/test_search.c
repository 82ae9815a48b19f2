/* The search's checks (eval/search.h) against independent references: a candidate that
 * compiles to the given weights is accepted by the weights check; one weight changed in the
 * given model makes it fail; a candidate that disagrees on exactly one input is rejected by
 * the function check, which counts that input (brute force over every input as the
 * reference); a model that is not Tracr's -- the residual stream rotated by a random
 * orthogonal matrix, every weight changed, the function kept -- fails the weights check and
 * passes the function check; and the noise model keeps the config but not the weights. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_helpers.h"
#include "compiler/model.h"
#include "eval/eval_run.h"
#include "eval/eval_truth.h"
#include "eval/metrics.h"
#include "eval/search.h"
#include "rasp/rasp.h"
#include "test.h"
#include "util/rng.h"

static CompiledModel *copy_model(const CompiledModel *m) {
    unsigned char *buf = NULL;
    size_t len = 0;
    char err[256];
    CompiledModel *c = NULL;
    if (model_serialize(m, &buf, &len, err, sizeof err) == 0)
        model_load_buffer(buf, len, &c, err, sizeof err);
    free(buf);
    return c;
}

static const char *k_truth = "vocab {0, 1, 2, 3, 4}\nmax_seq_len 4\n"
                             "a = Map(lambda x: x + 1, tokens)\n"
                             "s = Select(tokens, tokens, EQ)\n"
                             "b = Aggregate(s, a)\n";
/* equal to k_truth except where token 4 is aggregated (compiled from source: its lambda is
 * not in the library, so it has no table) */
static const char *k_other = "vocab {0, 1, 2, 3, 4}\nmax_seq_len 4\n"
                             "a = Map(lambda x: x + 1 if x < 4 else 0, tokens)\n"
                             "s = Select(tokens, tokens, EQ)\n"
                             "b = Aggregate(s, a)\n";

static void test_weights_check(void) {
    char err[512], why[512];
    CompiledModel *m = tc_compile_text(k_truth);
    CHECK(m != NULL);
    if (!m) return;
    SearchGiven g;
    CHECK(search_given_init(&g, m, err, sizeof err) == 0);
    int16_t tab[PT_ROWS * PT_COLS];
    CHECK(tc_table_of(k_truth, tab));
    CompiledModel *c = NULL;
    CHECK_MSG(search_compile(&g, tab, &c, why, sizeof why) == 0, "%s", why);
    CHECK(c && search_same_weights(&g, c));

    /* one weight of the given model changed: no longer the same weights */
    CompiledModel *pm = copy_model(m);
    CHECK(pm != NULL);
    size_t D = (size_t)pm->residual_dim, M = (size_t)pm->mlp_hidden_size;
    int changed = 0;
    for (int l = 0; l < pm->num_layers && !changed; l++)
        for (size_t i = 0; i < D * M && !changed; i++)
            if (pm->layers[l].w1[i] != 0) {
                pm->layers[l].w1[i] += 0.25;
                changed = 1;
            }
    CHECK(changed);
    SearchGiven gp;
    CHECK(search_given_init(&gp, pm, err, sizeof err) == 0);
    CHECK(!search_same_weights(&gp, c));
    /* and the unchanged copy still is the same */
    CompiledModel *cm2 = copy_model(m);
    SearchGiven g2;
    CHECK(search_given_init(&g2, cm2, err, sizeof err) == 0);
    CHECK(search_same_weights(&g2, c));
    search_given_free(&g2);
    compiled_model_free(cm2);

    /* a different program: compiles, not the same weights, and the function check finds the
     * very inputs brute force finds */
    CompiledModel *c2 = tc_compile_text(k_other);
    CHECK(c2 && !search_same_weights(&g, c2));
    EquivOptions eo;
    equiv_options_default(&eo);
    EquivResult r;
    CHECK(search_same_function(&g, c2, &eo, &r, err, sizeof err) == 0);
    CHECK(r.status == EVAL_FN_DIFFERENT && r.n_different == 1);
    eo.count_all = true;
    CHECK(search_same_function(&g, c2, &eo, &r, err, sizeof err) == 0);
    long total = 0, want = tc_brute_disagree(m, c2, &total);
    CHECK(want > 0);
    CHECK_MSG(r.status == EVAL_FN_DIFFERENT && r.n_different == want && r.n_inputs == total,
              "count %ld of %ld, brute force %ld of %ld", r.n_different, r.n_inputs, want, total);
    CHECK(r.exhaustive);
    /* the truth itself passes the function check on every input */
    CHECK(search_same_function(&g, c, &eo, &r, err, sizeof err) == 0);
    CHECK(r.status == EVAL_FN_EQUIVALENT && r.n_different == 0 && r.n_inputs == total);

    compiled_model_free(c2);
    compiled_model_free(c);
    search_given_free(&gp);
    compiled_model_free(pm);
    search_given_free(&g);
    compiled_model_free(m);
}

/* One input on which two programs disagree, nothing else: max_seq_len 1, the lambdas differ
 * only at token 4. */
static void test_one_input(void) {
    const char *a = "vocab {0, 1, 2, 3, 4}\nmax_seq_len 1\ny = Map(lambda x: x + 1, tokens)\n";
    const char *b =
        "vocab {0, 1, 2, 3, 4}\nmax_seq_len 1\ny = Map(lambda x: x + 1 if x < 4 else 1, tokens)\n";
    char err[512];
    CompiledModel *m = tc_compile_text(a);
    CHECK(m != NULL);
    if (!m) return;
    SearchGiven g;
    CHECK(search_given_init(&g, m, err, sizeof err) == 0);
    CompiledModel *c = tc_compile_text(b);
    CHECK(c && !search_same_weights(&g, c));
    EquivOptions eo;
    equiv_options_default(&eo);
    eo.count_all = true;
    EquivResult r;
    CHECK(search_same_function(&g, c, &eo, &r, err, sizeof err) == 0);
    long total = 0;
    CHECK(tc_brute_disagree(m, c, &total) == 1 && total == 5);
    CHECK_MSG(r.status == EVAL_FN_DIFFERENT && r.n_different == 1 && r.n_inputs == 5, "%ld of %ld",
              r.n_different, r.n_inputs);
    CHECK(strstr(r.detail, "input [4]") != NULL);
    compiled_model_free(c);
    search_given_free(&g);
    compiled_model_free(m);
}

/* W [rows, cols] <- Q^T W (the rows are residual directions) or W Q (the columns are). */
static void rot_rows(double *w, int rows, int cols, const double *Q, int D) {
    double *t = malloc(sizeof(double) * (size_t)rows * cols);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < cols; j++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += Q[(size_t)k * D + i] * w[(size_t)k * cols + j];
            t[(size_t)i * cols + j] = s;
        }
    memcpy(w, t, sizeof(double) * (size_t)rows * cols);
    free(t);
}
static void rot_cols(double *w, int rows, const double *Q, int D) {
    double *t = malloc(sizeof(double) * (size_t)D);
    for (int i = 0; i < rows; i++) {
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += w[(size_t)i * D + k] * Q[(size_t)k * D + j];
            t[j] = s;
        }
        memcpy(w + (size_t)i * D, t, sizeof(double) * (size_t)D);
    }
    free(t);
}

/* A random orthogonal D x D matrix: Gram-Schmidt on seeded Gaussian columns. */
static void random_orthogonal(double *Q, int D, uint64_t seed) {
    Rng rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < D * D; i++) Q[i] = rng_normal(&rng);
    for (int j = 0; j < D; j++) {
        for (int k = 0; k < j; k++) {
            double d = 0;
            for (int i = 0; i < D; i++) d += Q[(size_t)i * D + j] * Q[(size_t)i * D + k];
            for (int i = 0; i < D; i++) Q[(size_t)i * D + j] -= d * Q[(size_t)i * D + k];
        }
        double n = 0;
        for (int i = 0; i < D; i++) n += Q[(size_t)i * D + j] * Q[(size_t)i * D + j];
        n = sqrt(n);
        for (int i = 0; i < D; i++) Q[(size_t)i * D + j] /= n;
    }
}

/* The given model with its residual stream rotated: every matrix that reads it gets Q^T in
 * front, every one that writes it Q behind. Same function, different weights. */
static CompiledModel *rotated(const CompiledModel *m, uint64_t seed) {
    CompiledModel *r = copy_model(m);
    if (!r) return NULL;
    int D = r->residual_dim, HK = r->num_heads * r->key_size, M = r->mlp_hidden_size;
    double *Q = malloc(sizeof(double) * (size_t)D * D);
    random_orthogonal(Q, D, seed);
    rot_cols(r->token_embed, r->vocab_size, Q, D);
    rot_cols(r->pos_embed, r->max_seq_len + 1, Q, D);
    for (int l = 0; l < r->num_layers; l++) {
        ModelLayer *L = &r->layers[l];
        rot_rows(L->q, D, HK, Q, D);
        rot_rows(L->k, D, HK, Q, D);
        rot_rows(L->v, D, HK, Q, D);
        rot_cols(L->o, HK, Q, D);
        rot_rows(L->w1, D, M, Q, D);
        rot_cols(L->w2, M, Q, D);
    }
    rot_rows(r->unembed, D, r->n_out, Q, D);
    free(Q);
    return r;
}

static void test_not_tracr(void) {
    char err[512], why[512];
    CompiledModel *m = tc_compile_text(k_truth);
    CHECK(m != NULL);
    if (!m) return;
    CompiledModel *rm = rotated(m, 5);
    CHECK(rm != NULL);
    /* every weight matrix moved: the residual stream is no longer one-hot */
    int moved = 0;
    for (int i = 0; i < rm->vocab_size * rm->residual_dim; i++)
        moved += fabs(rm->token_embed[i] - m->token_embed[i]) > 1e-6;
    CHECK(moved > rm->residual_dim);
    SearchGiven g;
    CHECK(search_given_init(&g, rm, err, sizeof err) == 0);
    int16_t tab[PT_ROWS * PT_COLS];
    CHECK(tc_table_of(k_truth, tab));
    CompiledModel *c = NULL;
    CHECK(search_compile(&g, tab, &c, why, sizeof why) == 0);
    CHECK(c && !search_same_weights(&g, c));
    EquivOptions eo;
    equiv_options_default(&eo);
    EquivResult r;
    CHECK(search_same_function(&g, c, &eo, &r, err, sizeof err) == 0);
    CHECK_MSG(r.status == EVAL_FN_EQUIVALENT && r.exhaustive, "%s", r.detail);
    /* and the rotated model still tells a wrong program apart */
    CompiledModel *c2 = tc_compile_text(k_other);
    CHECK(c2 != NULL);
    CHECK(search_same_function(&g, c2, &eo, &r, err, sizeof err) == 0);
    CHECK(r.status == EVAL_FN_DIFFERENT);
    compiled_model_free(c2);
    compiled_model_free(c);
    search_given_free(&g);
    compiled_model_free(rm);

    /* the noise baseline's model: same config, other weights, deterministic per seed */
    CompiledModel *n1 = eval_noise_model(m, 3, 7), *n2 = eval_noise_model(m, 3, 7),
                  *n3 = eval_noise_model(m, 4, 7);
    CHECK(n1 && n2 && n3);
    SearchGiven gn;
    CHECK(search_given_init(&gn, n1, err, sizeof err) == 0);
    CompiledModel *c3 = NULL;
    CHECK(search_compile(&gn, tab, &c3, why, sizeof why) == 0);
    CHECK(c3 && !search_same_weights(&gn, c3));
    size_t nw = (size_t)m->vocab_size * m->residual_dim;
    CHECK(memcmp(n1->token_embed, n2->token_embed, sizeof(double) * nw) == 0);
    CHECK(memcmp(n1->token_embed, n3->token_embed, sizeof(double) * nw) != 0);
    compiled_model_free(c3);
    search_given_free(&gn);
    compiled_model_free(n1);
    compiled_model_free(n2);
    compiled_model_free(n3);
    compiled_model_free(m);
}

/* A candidate far larger than the given model is refused before compiling. */
static void test_guard(void) {
    const char *small = "vocab {0, 1, 2, 3, 4}\nmax_seq_len 5\ny = Map(lambda x: x + 1, tokens)\n";
    const char *big = "vocab {0, 1, 2, 3, 4}\nmax_seq_len 5\n"
                      "a = SequenceMap(lambda x, y: x * y, tokens, indices)\n"
                      "b = SequenceMap(lambda x, y: x * y, a, a)\n"
                      "c = SequenceMap(lambda x, y: x * y, b, b)\n";
    char err[512], why[512];
    CompiledModel *m = tc_compile_text(small);
    CHECK(m != NULL);
    if (!m) return;
    SearchGiven g;
    CHECK(search_given_init(&g, m, err, sizeof err) == 0);
    int16_t tab[PT_ROWS * PT_COLS];
    CHECK(tc_table_of(big, tab));
    {
        CompiledModel *c = NULL;
        CHECK(search_compile(&g, tab, &c, why, sizeof why) != 0 && c == NULL);
        CHECK_MSG(strstr(why, "too large") != NULL, "%s", why);
    }
    search_given_free(&g);
    compiled_model_free(m);
}

/* The general setting as `itracr eval` builds it: the true program -- a table function on a
 * mixed vocabulary, causal -- compiled from its table in the sample's setting (the vocabulary
 * in the setting's order, not the compiler's) is the given model. The true table as a
 * candidate verifies by weights; the same rows with one table value changed verify by
 * neither check (exact match of such a table used to ignore the values, metrics.c). */
static void test_general_setting_truth(void) {
    const char *src = "vocab {\"b\", 3, \"a\", 0}\nmax_seq_len 3\ncausal\n"
                      "m = numerical(Map(lambda x: 1 if x == \"a\" or x == 3 else 0, tokens))\n"
                      "prevs = Select(indices, indices, LEQ)\n"
                      "out = numerical(Aggregate(prevs, m, default=0))\n";
    RaspProgram p;
    char err[512], why[512];
    int16_t tab[PT_ROWS * PT_COLS], other[PT_ROWS * PT_COLS];
    CHECK(tc_table_of(src, tab));
    if (rasp_parse("t.rasp", src, &p, err, sizeof err)) {
        CHECK_MSG(0, "%s", err);
        rasp_program_free(&p);
        return;
    }
    int at = (eval_table_len(tab) + 2) * PT_COLS; /* the table's first value */
    CHECK(tab[PT_COLS + PT_COL_FN] == PT_FN_TABLE && tab[at] != PT_END);
    EvalSetting st = {p.vocab, p.n_vocab, p.max_seq_len, true, 0};
    EvalTruth tc;
    eval_truth_init(&tc);
    CHECK_MSG(eval_truth_compile(&tc, tab, &st, why, sizeof why) == 1, "%s", why);
    if (tc.state == 1) {
        SearchGiven g;
        CHECK(search_given_init(&g, tc.cm, err, sizeof err) == 0);
        CompiledModel *c = NULL;
        CHECK_MSG(search_compile(&g, tab, &c, why, sizeof why) == 0, "%s", why);
        CHECK(c && c->causal && search_same_weights(&g, c));
        if (c) compiled_model_free(c);

        memcpy(other, tab, sizeof other);
        const int16_t zero = PT_VAL_INT0 - PT_VAL_INT_MIN, one = zero + 1;
        other[at] = other[at] == zero ? one : zero;
        c = NULL;
        CHECK_MSG(search_compile(&g, other, &c, why, sizeof why) == 0, "%s", why);
        CHECK(c && !search_same_weights(&g, c));
        EquivOptions eo;
        equiv_options_default(&eo);
        EquivResult r;
        CHECK(c && search_same_function(&g, c, &eo, &r, err, sizeof err) == 0 &&
              r.status == EVAL_FN_DIFFERENT);
        if (c) compiled_model_free(c);
        EvalPair e;
        eval_compare(tab, other, &e);
        CHECK(!e.exact);
        search_given_free(&g);
    }
    eval_truth_free(&tc);
    rasp_program_free(&p);
}

int main(void) {
    RUN(test_weights_check);
    RUN(test_one_input);
    RUN(test_not_tracr);
    RUN(test_guard);
    RUN(test_general_setting_truth);
    TEST_END();
}
