/* probe (lift/probe.h): programs read from activations, checked against Tracr's classic
 * programs through the compiler and the interpreter (eval/equiv.h skips the positions where
 * the true program's value is None), on stock, rotated and compressed weights. */
#include <string.h>

#include "compile_helpers.h"
#include "eval/equiv.h"
#include "lift/probe.h"
#include "rasp/rasp.h"
#include "test.h"
#include "transform/transform.h"
#include "util/rng.h"

/* A fixture by name: tests/fixtures/tracr/NAME.rasp, or tests/fixtures/NAME.rasp when the name
 * has a folder (probe/...). */
static CompiledModel *fixture(const char *name, RaspProgram *prog) {
    char path[256];
    snprintf(path, sizeof path, strchr(name, '/') ? "tests/fixtures/%s.rasp"
                                                  : "tests/fixtures/tracr/%s.rasp", name);
    char err[1024];
    if (rasp_parse_file(path, prog, err, sizeof err)) {
        fprintf(stderr, "  %s\n", err);
        return NULL;
    }
    return tc_compile_program(prog, path);
}

/* The probed program computes the true program's function on every input where the true
 * program has a value (the independent reference: the interpreter). */
static bool equivalent(const CompiledModel *truth, const RaspProgram *prog, const ProbeResult *r) {
    EquivOptions eo;
    equiv_options_default(&eo);
    EquivResult er;
    char err[512];
    if (!r->model || equiv_models(truth, prog, r->model, &eo, &er, err, sizeof err) != 0) return false;
    if (er.status != EVAL_FN_EQUIVALENT) fprintf(stderr, "  %s\n", er.detail);
    return er.status == EVAL_FN_EQUIVALENT;
}

/* Every classic with a categorical output (shuffle_dyck and shuffle_dyck2 through means of
 * 0/1 values, checked in exact mode) comes back verified on its
 * own model and equivalent to its source. */
static void test_classics(void) {
    static const char *names[] = {"count",        "count_less_freq", "detect_pattern",
                                  "hist",         "length",          "nary_sequencemap",
                                  "reverse",      "shift_by",        "sort",
                                  "sort_unique",  "sort_freq",       "shuffle_dyck",
                                  "shuffle_dyck2"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        RaspProgram prog;
        CompiledModel *m = fixture(names[i], &prog);
        CHECK_MSG(m != NULL, "%s", names[i]);
        if (!m) continue;
        ProbeResult r;
        char err[1024];
        int rc = probe_model(m, NULL, &r, err, sizeof err);
        CHECK_MSG(rc == 0, "%s: %s", names[i], err);
        if (rc == 0) {
            CHECK_MSG(r.verified && r.exhaustive, "%s: %s", names[i], r.verdict);
            CHECK_MSG(r.n_positions > 0 && r.n_positions_match == r.n_positions, "%s", names[i]);
            CHECK_MSG(equivalent(m, &prog, &r), "%s", names[i]);
            CHECK(strstr(r.program, "method probe") != NULL);
            probe_result_free(&r);
        }
        compiled_model_free(m);
        rasp_program_free(&prog);
    }
}

/* Numerical outputs: frac_prevs (a mean of a 0/1 Map over a causal-style selector) and
 * pair_balance (a LinearSequenceMap of two such means) come back verified and equivalent to
 * their sources, with the numerical blocks they are made of; frac_prevs also when rescaled,
 * permuted and rotated (the output number is read after the unembedding, in the program's
 * own units); two numbers that add what two SOps contribute (a LinearSequenceMap of two
 * Maps, one of them reading a mean); and numbers whose best reading does not read tokens (a
 * length over an all-True selector, read over tokens; a causal count that is a function of
 * the index, read through a SequenceMap that takes tokens and ignores them). */
static void test_numerical(void) {
    static const struct {
        const char *name, *must;
        bool rotate;
    } cases[] = {{"frac_prevs", "numerical(Aggregate(", false},
                 {"pair_balance", "numerical(LinearSequenceMap(", false},
                 {"frac_prevs", "numerical(Aggregate(", true},
                 /* sums of two Maps, one of them of a mean's numbers */
                 {"probe/sum_of_maps", "numerical(LinearSequenceMap(", false},
                 {"probe/mean_plus_map", "numerical(LinearSequenceMap(", false},
                 /* a number read from SOps that do not read tokens */
                 {"probe/neg_length", "Select(tokens, tokens, TRUE)", false},
                 {"probe/causal_width", "numerical(Map(", false}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        RaspProgram prog;
        CompiledModel *m = fixture(cases[i].name, &prog);
        CHECK_MSG(m != NULL, "%s", cases[i].name);
        if (!m) continue;
        char err[1024] = "";
        CompiledModel *given = m;
        if (cases[i].rotate) {
            given = tf_model_clone(m);
            CHECK(tf_scale(given, 5, err, sizeof err) == 0);
            CHECK(tf_permute(given, 5, err, sizeof err) == 0);
            CHECK(tf_rotate(given, 5, err, sizeof err) == 0);
        }
        ProbeResult r;
        int rc = probe_model(given, NULL, &r, err, sizeof err);
        CHECK_MSG(rc == 0, "%s: %s", cases[i].name, err);
        if (rc == 0) {
            CHECK_MSG(r.verified, "%s: %s", cases[i].name, r.verdict);
            CHECK_MSG(strstr(r.program, cases[i].must) != NULL, "%s: %s", cases[i].name, r.program);
            CHECK_MSG(equivalent(m, &prog, &r), "%s", cases[i].name);
            probe_result_free(&r);
        }
        if (given != m) compiled_model_free(given);
        compiled_model_free(m);
        rasp_program_free(&prog);
    }
}

/* probe reads activations, not the basis: a rescaled, permuted and rotated model gives a
 * verified program equivalent to the source, and the same text twice (same seed). */
static void test_rotated(void) {
    RaspProgram prog;
    CompiledModel *m = fixture("sort_unique", &prog);
    CHECK(m != NULL);
    if (!m) return;
    char err[1024];
    CHECK(tf_scale(m, 3, err, sizeof err) == 0);
    CHECK(tf_permute(m, 3, err, sizeof err) == 0);
    CHECK(tf_rotate(m, 3, err, sizeof err) == 0);
    ProbeResult r, r2;
    CHECK(probe_model(m, NULL, &r, err, sizeof err) == 0);
    CHECK(probe_model(m, NULL, &r2, err, sizeof err) == 0);
    if (r.program && r2.program) {
        CHECK_MSG(r.verified, "%s", r.verdict);
        CHECK(equivalent(m, &prog, &r));
        CHECK_STR(r.program, r2.program);
    }
    probe_result_free(&r);
    probe_result_free(&r2);
    compiled_model_free(m);
    rasp_program_free(&prog);
}

/* Table cells the probed inputs never show: a SequenceMap cell (index 4, width 5) that only
 * an input of five "b"s reaches (probe samples its inputs here: nine tokens, length 5) and
 * the selector cells that input would need are read from the weights; an output value that
 * no position shows clearly (a selector width of 9) is read from the output scores. On stock
 * weights and rotated ones; the equivalence check is exhaustive, so the rare inputs are among
 * its inputs. */
static void test_unseen_cells(void) {
    static const char *names[] = {"probe/rare_pair", "probe/wide_width"};
    for (int c = 0; c < 4; c++) {
        int rotate = c % 2;
        const char *name = names[c / 2];
        RaspProgram prog;
        CompiledModel *m = fixture(name, &prog);
        CHECK(m != NULL);
        if (!m) return;
        char err[1024] = "";
        CompiledModel *given = m;
        if (rotate) {
            given = tf_model_clone(m);
            CHECK(tf_permute(given, 7, err, sizeof err) == 0);
            CHECK(tf_rotate(given, 7, err, sizeof err) == 0);
        }
        ProbeResult r;
        int rc = probe_model(given, NULL, &r, err, sizeof err);
        CHECK_MSG(rc == 0, "%s", err);
        if (rc == 0) {
            CHECK_MSG(!r.exhaustive, "%s: the probe's inputs should be a sample here", name);
            CHECK_MSG(equivalent(m, &prog, &r), "%s, rotated %d: %s", name, rotate, r.program);
            probe_result_free(&r);
        }
        if (given != m) compiled_model_free(given);
        compiled_model_free(m);
        rasp_program_free(&prog);
    }
}

/* nary_sequencemap (residual 74) compressed to 37 (300 Adam steps, seed 1: every output
 * position kept): the probed program is verified on the compressed model and equivalent to
 * the source, where lift refuses the weights. */
static void test_compressed(void) {
    RaspProgram prog;
    CompiledModel *m = fixture("nary_sequencemap", &prog);
    CHECK(m != NULL);
    if (!m) return;
    TfCompressOptions o;
    tf_compress_options_default(&o);
    o.dim = (m->residual_dim + 1) / 2;
    o.steps = 300;
    o.seed = 1;
    CompiledModel *c = NULL;
    TfCompressReport rep;
    char err[1024];
    CHECK(tf_compress(m, &o, &c, &rep, err, sizeof err) == 0);
    if (c) {
        ProbeResult r;
        int rc = probe_model(c, NULL, &r, err, sizeof err);
        CHECK_MSG(rc == 0, "%s", err);
        if (rc == 0) {
            CHECK_MSG(r.verified, "%s", r.verdict);
            CHECK(equivalent(m, &prog, &r));
            probe_result_free(&r);
        }
        compiled_model_free(c);
    }
    compiled_model_free(m);
    rasp_program_free(&prog);
}

/* Every weight matrix of m replaced by seeded standard normal noise. */
static void noise_weights(CompiledModel *m, uint64_t seed) {
    Rng g;
    rng_seed(&g, seed);
    for (int l = 0; l < m->num_layers; l++) {
        ModelLayer *ly = &m->layers[l];
        size_t qk = (size_t)m->residual_dim * m->num_heads * m->key_size;
        size_t mlp = (size_t)m->residual_dim * m->mlp_hidden_size;
        double *mats[] = {ly->q, ly->k, ly->v, ly->o, ly->w1, ly->w2};
        size_t sizes[] = {qk, qk, qk, qk, mlp, mlp};
        for (int k = 0; k < 6; k++)
            for (size_t i = 0; i < sizes[k]; i++) mats[k][i] = rng_normal(&g);
    }
}

/* Weights replaced by noise: refused or not verified, never a crash or a false verdict. */
static void test_noise(void) {
    RaspProgram prog;
    CompiledModel *m = fixture("reverse", &prog);
    CHECK(m != NULL);
    if (!m) return;
    noise_weights(m, 5);
    ProbeResult r;
    char err[1024];
    if (probe_model(m, NULL, &r, err, sizeof err) == 0) {
        CHECK_MSG(!r.verified, "%s", r.verdict);
        probe_result_free(&r);
    } else {
        CHECK(err[0] != 0);
    }
    compiled_model_free(m);
    rasp_program_free(&prog);
}

/* The reference model (eval's ceiling): the true program's model reproduces its own weights'
 * outputs, not those of noise weights of the same shapes, whether probe reads the noise or
 * refuses it; without a reference nothing is compared. */
static void test_reference(void) {
    RaspProgram prog, prog2;
    CompiledModel *m = fixture("reverse", &prog), *n = fixture("reverse", &prog2);
    CHECK(m != NULL && n != NULL);
    if (m && n) {
        ProbeOptions o;
        probe_options_default(&o);
        o.reference = m;
        ProbeResult r;
        char err[1024];
        CHECK_MSG(probe_model(m, &o, &r, err, sizeof err) == 0, "%s", err);
        CHECK(r.reference_verified == 1);
        probe_result_free(&r);
        noise_weights(n, 5);
        int rc = probe_model(n, &o, &r, err, sizeof err);
        CHECK(r.reference_verified == 0);
        if (rc == 0) probe_result_free(&r);
        CHECK(probe_model(m, NULL, &r, err, sizeof err) == 0);
        CHECK(r.reference_verified == -1);
        probe_result_free(&r);
    }
    compiled_model_free(m);
    compiled_model_free(n);
    rasp_program_free(&prog);
    rasp_program_free(&prog2);
}

int main(void) {
    RUN(test_classics);
    RUN(test_numerical);
    RUN(test_rotated);
    RUN(test_unseen_cells);
    RUN(test_compressed);
    RUN(test_noise);
    RUN(test_reference);
    TEST_END();
}
