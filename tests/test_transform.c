/* Function-preserving transforms (src/transform): a rotated / permuted / rescaled model gives
 * the same outputs as the compiled one on every input (or 3,000 random ones), for the
 * classic Tracr programs of tests/fixtures/tracr and for random programs of the dataset
 * sampler; the Haar matrix is orthogonal; the transformed file loads and still matches;
 * weight tokens and model_hash accept a dense rotated model. */
#include <math.h>

#include "compile_helpers.h"
#include "compiler/model.h"
#include "dataset/model_hash.h"
#include "dataset/weight_tokens.h"
#include "gen/program_tokens.h"
#include "gen/sampler.h"
#include "rasp/rasp.h"
#include "test.h"
#include "transform/transform.h"

static const char *FIXTURES[] = {"reverse",  "sort",         "hist",  "frac_prevs",
                                 "length",   "shuffle_dyck", "count", "nary_sequencemap",
                                 "shift_by", "sort_unique"};

/* The token embedding (every row non-zero) becomes dense under a rotation. */
static bool nonzero_frac_above(const CompiledModel *m, double frac) {
    size_t n = (size_t)m->vocab_size * m->residual_dim, nz = 0;
    for (size_t i = 0; i < n; i++) nz += m->token_embed[i] != 0;
    return (double)nz > frac * (double)n;
}

/* t (transformed in float64) against m: every compared position matches and the unembedded
 * outputs agree to 1e-7 relative to their size; then through a model file (float32
 * weights): the decoded outputs still match. */
static void check_same(const CompiledModel *t, const CompiledModel *m, const char *what) {
    TfCompare c;
    char err[512];
    CHECK_MSG(tf_compare(t, m, 3000, 7, 1e-9, 1e-9, &c, err, sizeof err) == 0, "%s: %s", what, err);
    CHECK_MSG(c.n_positions > 0 && c.n_positions_match == c.n_positions, "%s: %ld/%ld (%s)", what,
              c.n_positions_match, c.n_positions, c.first_mismatch);
    CHECK_MSG(c.max_abs_diff <= 1e-7 * (1 + c.max_ref_abs), "%s: max diff %g (scale %g)", what,
              c.max_abs_diff, c.max_ref_abs);
    unsigned char *buf = NULL;
    size_t len = 0;
    CompiledModel *back = NULL;
    CHECK(model_serialize(t, &buf, &len, err, sizeof err) == 0);
    CHECK_MSG(model_load_buffer(buf, len, &back, err, sizeof err) == 0, "%s: %s", what, err);
    if (back) {
        CHECK(tf_compare(back, m, 3000, 7, 1e-3, 1e-4, &c, err, sizeof err) == 0);
        CHECK_MSG(c.n_positions_match == c.n_positions, "%s (file): %ld/%ld (%s)", what,
                  c.n_positions_match, c.n_positions, c.first_mismatch);
        CHECK_STR(back->transform, t->transform);
    }
    free(buf);
    compiled_model_free(back);
}

static void transform_all(const CompiledModel *m, const char *name, uint64_t seed) {
    char err[256], what[128];
    for (int k = 0; k < 4; k++) {
        CompiledModel *t = tf_model_clone(m);
        int rc = 0;
        if (k == 0 || k == 3) rc |= tf_scale(t, seed, err, sizeof err);
        if (k == 1 || k == 3) rc |= tf_permute(t, seed, err, sizeof err);
        if (k == 2 || k == 3) rc |= tf_rotate(t, seed, err, sizeof err);
        CHECK(rc == 0);
        snprintf(what, sizeof what, "%s/%s", name,
                 (const char *[]){"scale", "permute", "rotate", "all"}[k]);
        check_same(t, m, what);
        if (k >= 2) {
            CHECK_MSG(nonzero_frac_above(t, 0.9), "%s: rotation left the weights sparse", what);
            CHECK(strncmp(t->residual_labels[0], "rot:", 4) == 0);
        }
        compiled_model_free(t);
    }
}

static void test_fixtures(void) {
    char path[256];
    for (size_t i = 0; i < sizeof FIXTURES / sizeof *FIXTURES; i++) {
        snprintf(path, sizeof path, "tests/fixtures/tracr/%s.rasp", FIXTURES[i]);
        CompiledModel *m = tc_compile_file(path);
        CHECK_MSG(m != NULL, "%s", path);
        if (!m) continue;
        transform_all(m, FIXTURES[i], 11 + i);
        compiled_model_free(m);
    }
}

static void test_random_programs(void) {
    GenConfig gc;
    gen_config_default(&gc);
    char err[512];
    GenSampler *s = gen_sampler_new(&gc, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    Value vocab[GEN_MAX_VOCAB];
    for (int i = 0; i < gc.n_vocab; i++) vocab[i] = val_int(gc.vocab[i]);
    int done = 0;
    for (uint64_t seed = 1; seed < 200 && done < 12; seed++) {
        GenSample gs;
        if (gen_sample(s, seed, &gs)) continue;
        RaspProgram p;
        CompiledModel *m = NULL;
        if (pt_build_program(gs.rows, gs.n_rows, vocab, gc.n_vocab, gc.max_seq_len, &p, err,
                             sizeof err) == 0 &&
            compile_program(&p, NULL, &m, err, sizeof err) == 0) {
            char name[64];
            snprintf(name, sizeof name, "random seed %llu", (unsigned long long)seed);
            transform_all(m, name, seed);
            done++;
        }
        compiled_model_free(m);
        rasp_program_free(&p);
    }
    CHECK(done == 12);
    gen_sampler_free(s);
}

static void test_haar(void) {
    Rng g;
    rng_seed(&g, 3);
    const int n = 37;
    double q[37 * 37], mean_diag = 0;
    char err[128];
    CHECK(tf_haar_orthogonal(n, &g, q, err, sizeof err) == 0);
    double worst = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += q[i * n + k] * q[j * n + k];
            if (fabs(s - (i == j)) > worst) worst = fabs(s - (i == j));
        }
    CHECK(worst < 1e-12);
    /* Haar: E[Q_ii] = 0; the QR without the sign fix has a positive-biased diagonal. Over 200
     * draws of size 8 the mean diagonal entry has sd about 0.0125. */
    for (int r = 0; r < 200; r++) {
        double q8[64];
        CHECK(tf_haar_orthogonal(8, &g, q8, err, sizeof err) == 0);
        for (int i = 0; i < 8; i++) mean_diag += q8[i * 9] / 1600.0;
    }
    CHECK_MSG(fabs(mean_diag) < 0.05, "mean diagonal %g", mean_diag);
    /* determinism */
    double a[16], b[16];
    Rng g1, g2;
    rng_seed(&g1, 9), rng_seed(&g2, 9);
    tf_haar_orthogonal(4, &g1, a, err, sizeof err);
    tf_haar_orthogonal(4, &g2, b, err, sizeof err);
    CHECK(memcmp(a, b, sizeof a) == 0);
}

/* A broken transform must be caught: flipping one W2 entry of the rotated model changes
 * outputs (the comparison is not vacuous). */
static void test_compare_detects_change(void) {
    CompiledModel *m = tc_compile_file("tests/fixtures/tracr/reverse.rasp");
    CHECK(m != NULL);
    if (!m) return;
    CompiledModel *t = tf_model_clone(m);
    char err[256];
    CHECK(tf_rotate(t, 5, err, sizeof err) == 0);
    for (int d = 0; d < t->residual_dim; d++)
        t->unembed[(size_t)d * t->n_out] *= -1; /* column 0 negated */
    TfCompare c;
    CHECK(tf_compare(t, m, 3000, 7, 1e-9, 1e-9, &c, err, sizeof err) == 0);
    CHECK(c.n_positions_match < c.n_positions);
    compiled_model_free(t);
    compiled_model_free(m);
}

/* Weight tokens and the hash on a dense rotated model: no crash; either tokens within the
 * caps or a clear error; the hash of a rotated model differs from the stock one. */
static void test_tokens_and_hash(void) {
    CompiledModel *m = tc_compile_file("tests/fixtures/tracr/sort.rasp");
    CHECK(m != NULL);
    if (!m) return;
    CompiledModel *t = tf_model_clone(m);
    char err[256];
    CHECK(tf_rotate(t, 2, err, sizeof err) == 0);
    WtOptions o;
    wt_options_default(&o);
    WtTokens a, b;
    wt_tokens_init(&a), wt_tokens_init(&b);
    CHECK(wt_encode(m, &o, &a, err, sizeof err) == 0);
    int rc = wt_encode(t, &o, &b, err, sizeof err);
    CHECK_MSG(rc == 0 || strstr(err, "weight tokens") != NULL, "%s", err);
    if (rc == 0) CHECK(b.n >= a.n); /* dense: no zero chunk is dropped */
    o.scheme = WT_SCHEME_RESIDUAL;
    rc = wt_encode(t, &o, &b, err, sizeof err);
    CHECK_MSG(rc == 0 || strstr(err, "weight tokens") != NULL, "%s", err);
    uint64_t h1[2], h2[2], h3[2];
    CHECK(model_hash128(m, h1) == 0 && model_hash128(t, h2) == 0 && model_hash128(t, h3) == 0);
    CHECK(h1[0] != h2[0] && h2[0] == h3[0] && h2[1] == h3[1]);
    wt_tokens_free(&a), wt_tokens_free(&b);
    compiled_model_free(t);
    compiled_model_free(m);
}

int main(void) {
    RUN(test_haar);
    RUN(test_compare_detects_change);
    RUN(test_fixtures);
    RUN(test_random_programs);
    RUN(test_tokens_and_hash);
    TEST_END();
}
