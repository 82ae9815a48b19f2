/* lift on rotated, permuted and rescaled models (lift/canon.h): every classic program compiled,
 * transformed with several seeds, rounded to float32 as model files are, canonicalised and
 * lifted; the program must verify on the transformed model's outputs, recompile to the
 * canonicalised weights, and compute what the original program computes (the interpreter on
 * both programs, every input). Noisy and compressed models are refused, not mis-lifted. */
#include <dirent.h>
#include <math.h>
#include <string.h>

#include "compile_helpers.h"
#include "compiler/model.h"
#include "lift/canon.h"
#include "lift/lift.h"
#include "rasp/rasp.h"
#include "test.h"
#include "transform/transform.h"
#include "util/rng.h"

static const char *DIR_ = FIXTURE_DIR "/tracr";

static int n_stems;
static char stems[32][64];

static void list_fixtures(void) {
    n_stems = test_list_stems(DIR_, ".rasp", stems, 32);
    if (n_stems < 0) n_stems = 0;
}

static size_t n_weights(const CompiledModel *m) {
    return (size_t)(m->unembed - m->token_embed) + (size_t)m->residual_dim * (size_t)m->n_out;
}

/* m scaled, permuted and rotated with seed, every weight rounded to float32. */
static CompiledModel *transformed(const CompiledModel *m, uint64_t seed) {
    char err[256];
    CompiledModel *t = tf_model_clone(m);
    if (!t || tf_scale(t, seed, err, sizeof err) || tf_permute(t, seed, err, sizeof err) ||
        tf_rotate(t, seed, err, sizeof err)) {
        compiled_model_free(t);
        return NULL;
    }
    for (size_t i = 0; i < n_weights(t); i++) t->token_embed[i] = (float)t->token_embed[i];
    return t;
}

/* The interpreter on a and b over every input of lengths 1..N (at most ~4000, else a seeded
 * sample of 2000): outputs equal wherever a's is not None (numbers within 1e-6). */
static int same_function(const RaspProgram *a, const RaspProgram *b, const CompiledModel *m,
                         char *why, size_t cap) {
    Value vocab[64];
    int nv = 0, N = m->max_seq_len;
    for (int i = 0; i < m->vocab_size && nv < 64; i++)
        if (i != m->bos_id && i != m->pad_id) vocab[nv++] = m->tokens[i];
    double total = 0, p = 1;
    for (int n = 1; n <= N; n++) total += (p *= nv);
    bool all = total <= 4000;
    uint64_t seed = 7;
    Value xs[64], oa[64], ob[64];
    char err[256];
    for (int n = 1; n <= N; n++) {
        double cnt = all ? pow(nv, n) : 2000.0 / N;
        for (long k = 0; k < (long)cnt; k++) {
            long code = k;
            for (int i = 0; i < n; i++) {
                int d = all ? (int)(code % nv) : (int)(rng_splitmix64(&seed) % (uint64_t)nv);
                code /= nv;
                xs[i] = vocab[d];
            }
            if (rasp_interp(a, xs, n, m->causal, oa, err, sizeof err))
                continue; /* not a valid input of a */
            if (rasp_interp(b, xs, n, m->causal, ob, err, sizeof err)) {
                snprintf(why, cap, "the lifted program fails: %.150s", err);
                return 0;
            }
            for (int i = 0; i < n; i++) {
                if (oa[i].kind == VAL_NONE) continue;
                bool eq = val_eq(oa[i], ob[i]);
                if (!eq && oa[i].kind != VAL_STR && ob[i].kind != VAL_STR && ob[i].kind != VAL_NONE)
                    eq = fabs(val_as_double(oa[i]) - val_as_double(ob[i])) <=
                         1e-6 * (1 + fabs(val_as_double(oa[i])));
                if (!eq) {
                    snprintf(why, cap, "input of length %d, position %d differs", n, i);
                    return 0;
                }
            }
        }
    }
    return 1;
}

static void test_classics_rotated(void) {
    int ok = 0, total = 0, weights = 0;
    for (int i = 0; i < n_stems; i++) {
        char path[4096], err[1024];
        snprintf(path, sizeof path, "%s/%s.rasp", DIR_, stems[i]);
        RaspProgram p;
        CHECK(rasp_parse_file(path, &p, err, sizeof err) == 0);
        CompileOptions o;
        compile_options_default(&o);
        CompiledModel *m = NULL;
        CHECK_MSG(compile_program(&p, &o, &m, err, sizeof err) == 0, "%s", err);
        for (uint64_t seed = 1; m && seed <= 3; seed++) {
            CompiledModel *t = transformed(m, seed * 101 + (uint64_t)i);
            CHECK(t != NULL);
            LiftResult r;
            total++;
            int rc = t ? lift_model(t, NULL, &r, err, sizeof err) : 1;
            CHECK_MSG(rc == 0, "%s seed %llu refused: %s", stems[i], (unsigned long long)seed, err);
            if (!rc) {
                CHECK_MSG(r.verified && r.canonical && r.n_output_diffs == 0 && r.n_inputs > 0,
                          "%s: %s", stems[i], r.verdict);
                weights += r.weights_equal;
                /* known gap (docs/lift.md): the shuffle_dyck pair's two discretising MLPs on one
                 * numerical SOp lift to a program that computes the same function but whose
                 * recompiled layer-3 MLP differs from the canonicalised one */
                bool known = strncmp(stems[i], "shuffle_dyck", 12) == 0;
                CHECK_MSG(r.weights_equal || known, "%s seed %llu: %s", stems[i],
                          (unsigned long long)seed, r.verdict);
                RaspProgram q;
                char why[256] = "";
                CHECK_MSG(rasp_parse("<lifted>", r.program, &q, err, sizeof err) == 0, "%s", err);
                int same = same_function(&p, &q, m, why, sizeof why);
                CHECK_MSG(same, "%s seed %llu: %s\n%s", stems[i], (unsigned long long)seed, why,
                          r.program);
                ok += same && r.verified;
                rasp_program_free(&q);
                lift_result_free(&r);
            }
            compiled_model_free(t);
        }
        compiled_model_free(m);
        rasp_program_free(&p);
    }
    printf(
        "classics rotated + permuted + scaled: %d/%d lifted, verified and equivalent; %d/%d recompile to the "
        "canonicalised weights\n",
        ok, total, weights, total);
    CHECK(total == 3 * n_stems && n_stems == 15);
    CHECK(weights >= total - 6); /* every other classic recompiles to its canonicalised weights */
}

/* Tracr's own layout is read first: an untransformed model never takes the canonical path. */
static void test_stock_not_canonical(void) {
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/sort_freq.rasp", DIR_);
    RaspProgram p;
    CHECK(rasp_parse_file(path, &p, err, sizeof err) == 0);
    CompileOptions o;
    compile_options_default(&o);
    CompiledModel *m = NULL;
    CHECK(compile_program(&p, &o, &m, err, sizeof err) == 0);
    LiftResult r;
    CHECK(m && lift_model(m, NULL, &r, err, sizeof err) == 0);
    if (m) {
        CHECK(r.verified && !r.canonical && r.weights_equal);
        lift_result_free(&r);
        /* the canonicaliser on the stock model gives a model lift reads exactly */
        CompiledModel *c = NULL;
        CanonInfo ci;
        int rc = 1;
        for (unsigned v = 0; v < 2 && rc; v++) {
            compiled_model_free(c);
            c = NULL;
            if (lift_canon(m, v, &c, &ci, err, sizeof err)) continue;
            LiftOptions lo;
            lift_options_default(&lo);
            lo.canon = false;
            rc = lift_model(c, &lo, &r, err, sizeof err);
            if (!rc) {
                CHECK_MSG(r.verified && r.weights_equal, "%s", r.verdict);
                lift_result_free(&r);
            }
        }
        CHECK_MSG(rc == 0, "no sign of `one` gives a liftable canonical model: %s", err);
        compiled_model_free(c);
    }
    compiled_model_free(m);
    rasp_program_free(&p);
}

static double urand(uint64_t *s) { return (double)(rng_splitmix64(s) >> 11) / 9007199254740992.0; }

/* Noise on every weight of a rotated model, or a compressed residual stream: refused with a
 * reason, never lifted to a program claimed verified. */
static void test_refusals(void) {
    const char *names[3] = {"reverse", "frac_prevs", "sort_unique"};
    for (int f = 0; f < 3; f++) {
        char path[4096], err[1024];
        snprintf(path, sizeof path, "%s/%s.rasp", DIR_, names[f]);
        CompiledModel *m = tc_compile_file(path);
        CHECK(m != NULL);
        if (!m) continue;
        for (int kind = 0; kind < 3; kind++) {
            CompiledModel *t = NULL;
            if (kind < 2) { /* noise of 1e-3 / 1e-2 on every weight after rotating */
                t = transformed(m, 5);
                uint64_t s = 99;
                double a = kind ? 1e-2 : 1e-3;
                for (size_t i = 0; t && i < n_weights(t); i++)
                    t->token_embed[i] += a * (urand(&s) - 0.5);
            } else { /* the residual compressed by two dimensions (learned projection, few steps) */
                TfCompressOptions co;
                TfCompressReport rep;
                tf_compress_options_default(&co);
                co.dim = m->residual_dim - 2, co.steps = 30, co.seed = 3;
                CHECK(tf_compress(m, &co, &t, &rep, err, sizeof err) == 0);
            }
            if (!t) continue;
            LiftResult r;
            int rc = lift_model(t, NULL, &r, err, sizeof err);
            CHECK_MSG(rc != 0, "%s kind %d lifted (%s)", names[f], kind, rc ? "" : r.verdict);
            if (rc) {
                CHECK(strstr(err, "as a rotated model: ") != NULL &&
                      strlen(strstr(err, "as a rotated model: ")) > 25);
                if (f == 0) printf("refused (%d): %s\n", kind, strstr(err, "as a rotated model: "));
            } else lift_result_free(&r);
            compiled_model_free(t);
        }
        compiled_model_free(m);
    }
}

int main(void) {
    list_fixtures();
    RUN(test_classics_rotated);
    RUN(test_stock_not_canonical);
    RUN(test_refusals);
    TEST_END();
}
