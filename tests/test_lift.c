/* itracr lift: every classic program (compiled here, and Tracr's own weights imported) is
 * lifted from its weights alone and verified; every block kind and encoding round-trips;
 * table lambdas parse, print and evaluate; Tracr-shaped but different weights lift to the
 * program they really compute; rotated and noisy models are refused by the Tracr-layout reader
 * (the canonicalised basis for rotated ones is tests/test_lift_canon.c). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <unistd.h>

#include "compile_helpers.h"
#include "compiler/model.h"
#include "compiler/model_import.h"
#include "io/json_util.h"
#include "lift/lift.h"
#include "rasp/rasp.h"
#include "test.h"
#include "tracr_export.h"

static const char *DIR_ = FIXTURE_DIR "/tracr";

/* Lifts m; returns 1 when verified. *prog (optional) receives the program text. */
static int lift_ok(const CompiledModel *m, bool naming, char **prog, int *named_all,
                   const char *what) {
    LiftOptions o;
    lift_options_default(&o);
    o.name_functions = naming;
    LiftResult r;
    char err[1024];
    if (lift_model(m, &o, &r, err, sizeof err)) {
        fprintf(stderr, "  %s: refused: %s\n", what, err);
        return 0;
    }
    int ok = r.verified && r.weights_equal && r.n_output_diffs == 0 && r.n_inputs > 0;
    if (!ok) fprintf(stderr, "  %s: %s\n%s", what, r.verdict, r.program);
    if (named_all) *named_all = r.n_named == r.n_functions;
    if (prog) *prog = strdup(r.program);
    lift_result_free(&r);
    return ok;
}

static int n_stems;
static char stems[32][64];

static void list_fixtures(void) {
    n_stems = test_list_stems(DIR_, ".rasp", stems, 32);
    if (n_stems < 0) n_stems = 0;
}

static void test_classics_compiled(void) {
    int verified = 0, named = 0;
    for (int i = 0; i < n_stems; i++) {
        char path[4096], err[1024];
        snprintf(path, sizeof path, "%s/%s.rasp", DIR_, stems[i]);
        RaspProgram p;
        CHECK(rasp_parse_file(path, &p, err, sizeof err) == 0);
        CompileOptions o;
        compile_options_default(&o);
        CompiledModel *m = NULL;
        CHECK_MSG(compile_program(&p, &o, &m, err, sizeof err) == 0, "%s", err);
        int na = 0, ok = m && lift_ok(m, true, NULL, &na, stems[i]);
        CHECK_MSG(ok, "%s not verified", stems[i]);
        verified += ok;
        named += ok && na;
        /* tables only: the table lambdas compile back to the same weights too */
        if (m)
            CHECK_MSG(lift_ok(m, false, NULL, NULL, stems[i]), "%s (tables) not verified",
                      stems[i]);
        compiled_model_free(m);
        rasp_program_free(&p);
    }
    printf("classics compiled here: %d/%d verified, %d with every function named\n", verified,
           n_stems, named);
    CHECK(n_stems == 15 && verified == 15);
    CHECK(named >= 12);
}

/* Tracr's own weights (the fixtures' JSON) through itracr import, then lift. */
static void test_classics_tracr_weights(void) {
    char tmp[64];
    if (test_tmpdir(tmp, sizeof tmp, "lift") != 0) return;
    int verified = 0;
    for (int i = 0; i < n_stems; i++) {
        char path[4096], w[256], meta[256], err[1024];
        snprintf(path, sizeof path, "%s/%s.json", DIR_, stems[i]);
        cJSON *J = NULL;
        CHECK(json_read_file(path, &J, err, sizeof err) == 0);
        if (!J) continue;
        snprintf(w, sizeof w, "%s/w.npz", tmp);
        snprintf(meta, sizeof meta, "%s/w.json", tmp);
        CHECK(tx_write_weights(J, w, 0, 0) == 0 && tx_write_meta(J, meta) == 0);
        CompiledModel *m = NULL;
        CHECK_MSG(model_import_files(w, meta, &m, err, sizeof err) == 0, "%s", err);
        int ok = m && lift_ok(m, true, NULL, NULL, stems[i]);
        CHECK_MSG(ok, "%s (Tracr's weights) not verified", stems[i]);
        verified += ok;
        compiled_model_free(m);
        cJSON_Delete(J);
        unlink(w);
        unlink(meta);
    }
    rmdir(tmp);
    printf("classics with Tracr's own weights: %d/%d verified\n", verified, n_stems);
    CHECK(verified == 15);
}

/* One program per block kind and encoding; each must lift, verify and (where a comparison
 * or a simple expression is meant) print by name. */
static void test_block_kinds(void) {
    static const struct {
        const char *what, *src, *expect;
    } cases[] = {
        {"cat->cat Map", "vocab {1, 2, 3}\nmax_seq_len 3\ny = Map(lambda x: x + 1, tokens)\n",
         "x + 1"},
        {"cat->cat Map to strings",
         "vocab {1, 2, 3}\nmax_seq_len 3\ny = Map(lambda x: \"odd\" if x % 2 else \"even\", tokens)\n",
         NULL},
        {"cat->num Map",
         "vocab {1, 2, 3}\nmax_seq_len 3\ny = numerical(Map(lambda x: x / 4, tokens))\n", NULL},
        {"num->num Map",
         "vocab {\"a\", \"b\"}\nmax_seq_len 4\nb = numerical(Map(lambda x: x == \"a\", tokens))\n"
         "s = Select(indices, indices, LEQ)\nf = numerical(Aggregate(s, b, default=0))\n"
         "y = numerical(Map(lambda x: x + 1, f))\n",
         NULL},
        {"num->cat Map",
         "vocab {\"a\", \"b\"}\nmax_seq_len 4\nb = numerical(Map(lambda x: x == \"a\", tokens))\n"
         "s = Select(indices, indices, LEQ)\nf = numerical(Aggregate(s, b, default=0))\n"
         "y = Map(lambda x: x > 0.5, f)\n",
         NULL},
        {"SequenceMap",
         "vocab {0, 1, 2}\nmax_seq_len 4\ny = SequenceMap(lambda x, y: x + y, tokens, indices)\n",
         "x + y"},
        {"LinearSequenceMap",
         "vocab {\"a\", \"b\"}\nmax_seq_len 4\nb = numerical(Map(lambda x: x == \"a\", tokens))\n"
         "c = numerical(Map(lambda x: x == \"b\", tokens))\ny = numerical(LinearSequenceMap(b, c, 2, -3))\n",
         "LinearSequenceMap"},
        {"Select EQ",
         "vocab {0, 1, 2}\nmax_seq_len 4\ns = Select(tokens, tokens, EQ)\ny = SelectorWidth(s)\n",
         "EQ)"},
        {"Select LT",
         "vocab {0, 1, 2}\nmax_seq_len 4\ns = Select(tokens, tokens, LT)\ny = SelectorWidth(s)\n",
         "LT)"},
        {"Select LEQ",
         "vocab {0, 1, 2}\nmax_seq_len 4\ns = Select(indices, indices, LEQ)\ny = Aggregate(s, tokens)\n",
         "LEQ)"},
        {"Select GT",
         "vocab {0, 1, 2}\nmax_seq_len 4\ns = Select(tokens, tokens, GT)\ny = SelectorWidth(s)\n",
         "GT)"},
        {"Select GEQ",
         "vocab {0, 1, 2}\nmax_seq_len 4\ns = Select(tokens, tokens, GEQ)\ny = SelectorWidth(s)\n",
         "GEQ)"},
        {"Select NEQ",
         "vocab {0, 1, 2}\nmax_seq_len 4\ns = Select(tokens, tokens, NEQ)\ny = SelectorWidth(s)\n",
         "NEQ)"},
        {"Select TRUE",
         "vocab {0, 1, 2}\nmax_seq_len 4\ns = Select(tokens, tokens, TRUE)\ny = SelectorWidth(s)\n",
         "TRUE)"},
        {"Select FALSE",
         "vocab {0, 1, 2}\nmax_seq_len 4\ns = Select(tokens, tokens, FALSE)\ny = SelectorWidth(s)\n",
         "FALSE)"},
        {"Select lambda",
         "vocab {0, 1, 2}\nmax_seq_len 4\ns = Select(indices, indices, lambda k, q: q == k + 1)\n"
         "y = Aggregate(s, tokens)\n",
         "q == k + 1"},
        {"numerical Aggregate",
         "vocab {0, 1}\nmax_seq_len 4\nb = numerical(Map(lambda x: x == 1, tokens))\n"
         "s = Select(indices, indices, TRUE)\ny = numerical(Aggregate(s, b, default=0))\n",
         "default=0"},
        {"numerical SelectorWidth",
         "vocab {0, 1}\nmax_seq_len 4\ns = Select(tokens, tokens, EQ)\ny = numerical(SelectorWidth(s))\n",
         "numerical(SelectorWidth"},
        {"causal",
         "vocab {\"a\", \"b\"}\nmax_seq_len 4\ncausal\ns = Select(tokens, tokens, TRUE)\ny = SelectorWidth(s)\n",
         "causal"},
        {"Map of a Map",
         "vocab {1, 2, 3}\nmax_seq_len 3\na = Map(lambda x: x + 1, tokens)\ny = Map(lambda x: x * 3, a, simplify=False)\n",
         "simplify=False"},
        {"table function",
         "vocab {1, 2, 3, 4}\nmax_seq_len 3\ny = Map(lambda x: {1: 7, 2: 3, 3: 9, 4: 3}[x], tokens)\n",
         "}[x]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CompiledModel *m = tc_compile_text(cases[i].src);
        CHECK_MSG(m != NULL, "%s does not compile", cases[i].what);
        if (!m) continue;
        char *prog = NULL;
        CHECK_MSG(lift_ok(m, true, &prog, NULL, cases[i].what), "%s", cases[i].what);
        if (prog && cases[i].expect)
            CHECK_MSG(strstr(prog, cases[i].expect) != NULL, "%s: no '%s' in\n%s", cases[i].what,
                      cases[i].expect, prog);
        free(prog);
        compiled_model_free(m);
    }
}

static void test_table_lambda_text(void) {
    const char *src =
        "vocab {1, 2, 3}\nmax_seq_len 3\n"
        "a = Map(lambda x: {1: \"p\", 2: (1, 2), 3: None, 1: \"q\"}[x], tokens)\n"
        "b = SequenceMap(lambda x, y: {(1, 0): True, (2, 1): 2.5}[(x, y)], tokens, indices)\n"
        "c = SequenceMap(lambda x, y: (x, y), a, b)\n";
    RaspProgram p, q;
    char err[512];
    CHECK(rasp_parse("t", src, &p, err, sizeof err) == 0);
    char *text = rasp_format(&p);
    CHECK(strstr(text, "{1: \"p\", 2: (1, 2), 3: None, 1: \"q\"}[x]") != NULL);
    CHECK(rasp_parse("t2", text, &q, err, sizeof err) == 0);
    char *text2 = rasp_format(&q);
    CHECK_STR(text, text2);
    /* last key wins, missing keys raise KeyError */
    Value xs[2] = {val_int(1), val_int(2)}, out[2];
    int ia = -1;
    for (int i = 0; i < p.n_exprs; i++)
        if (strcmp(p.exprs[i].label, "a") == 0) ia = i;
    CHECK(ia >= 0);
    Value r;
    CHECK(lambda_call(p.exprs[ia].fn, &xs[0], &r, NULL, 0) == PYERR_OK && r.kind == VAL_STR &&
          strcmp(r.u.s, "q") == 0);
    Value four = val_int(4);
    char msg[128];
    CHECK(lambda_call(p.exprs[ia].fn, &four, &r, msg, sizeof msg) == PYERR_INDEX &&
          strstr(msg, "KeyError"));
    CHECK(strstr(text, "{(1, 0): True, (2, 1): 2.5}[(x, y)]") != NULL);
    p.output = ia;
    CHECK(rasp_interp(&p, xs, 2, false, out, err, sizeof err) == 0 && out[1].kind == VAL_TUPLE);
    free(text), free(text2);
    rasp_program_free(&p);
    rasp_program_free(&q);
    /* a dict that is not subscripted is an error with a position */
    CHECK(rasp_parse("t3", "vocab {1}\ny = Map(lambda x: {1: 2}, tokens)\n", &p, err, sizeof err) !=
              0 &&
          strstr(err, "t3:2:"));
    rasp_program_free(&p);
    CHECK(rasp_parse("t4", "vocab {1}\ny = Map(lambda x: {1 2}[x], tokens)\n", &p, err,
                     sizeof err) != 0 &&
          strstr(err, "':'"));
    rasp_program_free(&p);
}

static uint64_t rng = 12345;
static double urand(void) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static void for_all_weights(CompiledModel *m, void (*f)(double *w, size_t n, void *), void *ctx) {
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    f(m->token_embed, (size_t)m->vocab_size * D, ctx);
    f(m->pos_embed, (size_t)(m->max_seq_len + 1) * D, ctx);
    for (int l = 0; l < m->num_layers; l++) {
        ModelLayer *L = &m->layers[l];
        f(L->q, (size_t)D * HK, ctx), f(L->k, (size_t)D * HK, ctx), f(L->v, (size_t)D * HK, ctx);
        f(L->o, (size_t)HK * D, ctx), f(L->w1, (size_t)D * M, ctx), f(L->w2, (size_t)M * D, ctx);
    }
    f(m->unembed, (size_t)D * m->n_out, ctx);
}

static void add_noise(double *w, size_t n, void *ctx) {
    double s = *(double *)ctx;
    for (size_t i = 0; i < n; i++) w[i] += s * (urand() - 0.5);
}

/* rotation of residual dims a, b by angle t in every matrix that touches the residual */
static void rotate(CompiledModel *m, int a, int b, double t) {
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    double c = cos(t), s = sin(t);
#define ROTCOL(W, R, C)                                                                            \
    for (int r_ = 0; r_ < (R); r_++) {                                                             \
        double *w_ = (W) + (size_t)r_ * (C);                                                       \
        double x_ = w_[a], y_ = w_[b];                                                             \
        w_[a] = c * x_ - s * y_, w_[b] = s * x_ + c * y_;                                          \
    }
#define ROTROW(W, C)                                                                               \
    for (int c_ = 0; c_ < (C); c_++) {                                                             \
        double x_ = (W)[(size_t)a * (C) + c_], y_ = (W)[(size_t)b * (C) + c_];                     \
        (W)[(size_t)a * (C) + c_] = c * x_ - s * y_, (W)[(size_t)b * (C) + c_] = s * x_ + c * y_;  \
    }
    ROTCOL(m->token_embed, m->vocab_size, D);
    ROTCOL(m->pos_embed, m->max_seq_len + 1, D);
    for (int l = 0; l < m->num_layers; l++) {
        ModelLayer *L = &m->layers[l];
        ROTROW(L->q, HK);
        ROTROW(L->k, HK);
        ROTROW(L->v, HK);
        ROTCOL(L->o, HK, D);
        ROTROW(L->w1, M);
        ROTCOL(L->w2, M, D);
    }
    ROTROW(m->unembed, m->n_out);
#undef ROTCOL
#undef ROTROW
}

static void test_refusals(void) {
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/reverse.rasp", DIR_);
    RaspProgram p;
    CHECK(rasp_parse_file(path, &p, err, sizeof err) == 0);
    CompileOptions o;
    compile_options_default(&o);
    LiftResult r;
    for (int kind = 0; kind < 4; kind++) {
        CompiledModel *m = NULL;
        CHECK(compile_program(&p, &o, &m, err, sizeof err) == 0);
        if (!m) continue;
        if (kind == 0) rotate(m, 0, 1, 0.3); /* a rotated residual */
        if (kind == 1) {                     /* noise on every weight */
            double s = 1e-3;
            for_all_weights(m, add_noise, &s);
        }
        if (kind == 2) { /* one query-key entry off */
            int D = m->residual_dim, HK = m->num_heads * m->key_size;
            for (int i = 0; i < D * HK; i++)
                if (m->layers[3].q[i] != 0) {
                    m->layers[3].q[i] *= 0.7;
                    break;
                }
        }
        if (kind == 3) rotate(m, m->residual_dim - 3, m->residual_dim - 2, 1.0);
        /* Tracr's layout alone (the rotations are function-preserving, so the canonicalised
         * basis lifts them: tests/test_lift_canon.c) */
        LiftOptions lo;
        lift_options_default(&lo);
        lo.canon = false;
        int rc = lift_model(m, &lo, &r, err, sizeof err);
        CHECK_MSG(rc != 0 || !r.verified, "kind %d lifted and claimed verified", kind);
        if (rc) printf("refused (%d): %s\n", kind, err);
        else lift_result_free(&r);
        if (kind == 2) CHECK(rc != 0 && strstr(err, "layer 3 head 0"));
        compiled_model_free(m);
    }
    rasp_program_free(&p);
}

/* Tracr-shaped weights of another program lift to that program, verified. */
static void test_other_program_weights(void) {
    CompiledModel *m = tc_compile_text(
        "vocab {\"a\", \"b\", \"c\"}\nmax_seq_len 4\ny = numerical(Map(lambda x: x == \"a\", tokens))\n");
    CHECK(m != NULL);
    if (!m) return;
    /* the cat->num MLP's weight for "a" is 1: make it 0.75 */
    int D = m->residual_dim, M = m->mlp_hidden_size, hit = 0;
    for (int d = 0; d < D; d++)
        for (int j = 0; j < M; j++)
            if (m->layers[0].w1[(size_t)d * M + j] == 1)
                m->layers[0].w1[(size_t)d * M + j] = 0.75, hit++;
    CHECK(hit == 1);
    char *prog = NULL;
    CHECK(lift_ok(m, true, &prog, NULL, "0.75 map"));
    if (prog) CHECK_MSG(strstr(prog, "0.75") != NULL, "%s", prog);
    free(prog);
    compiled_model_free(m);
}

/* Single weights set to random values anywhere in two models: lift must never crash, and
 * whatever it lifts and calls verified must really have equal weights. */
static void test_random_perturbations(void) {
    const char *names[2] = {"reverse", "shuffle_dyck2"};
    int refused = 0, verified = 0, total = 0;
    for (int f = 0; f < 2; f++) {
        char path[256], err[1024];
        snprintf(path, sizeof path, "%s/%s.rasp", DIR_, names[f]);
        CompiledModel *m = tc_compile_file(path);
        CHECK(m != NULL);
        if (!m) continue;
        int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
        for (int it = 0; it < 60; it++) {
            int l = (int)(urand() * m->num_layers), which = (int)(urand() * 8);
            ModelLayer *L = &m->layers[l];
            double *w;
            size_t n;
            switch (which) {
            case 0: w = L->q, n = (size_t)D * HK; break;
            case 1: w = L->k, n = (size_t)D * HK; break;
            case 2: w = L->v, n = (size_t)D * HK; break;
            case 3: w = L->o, n = (size_t)HK * D; break;
            case 4: w = L->w1, n = (size_t)D * M; break;
            case 5: w = L->w2, n = (size_t)M * D; break;
            case 6: w = m->token_embed, n = (size_t)m->vocab_size * D; break;
            default: w = m->unembed, n = (size_t)D * m->n_out; break;
            }
            size_t i = (size_t)(urand() * (double)n);
            double old = w[i];
            w[i] = urand() < 0.5 ? 0 : (urand() - 0.5) * 200;
            LiftResult r;
            total++;
            if (lift_model(m, NULL, &r, err, sizeof err)) refused++;
            else {
                verified += r.verified;
                CHECK(!r.verified || r.weights_equal);
                lift_result_free(&r);
            }
            w[i] = old;
        }
        compiled_model_free(m);
    }
    printf("random single-weight perturbations: %d, refused %d, verified %d\n", total, refused,
           verified);
}

int main(void) {
    list_fixtures();
    RUN(test_table_lambda_text);
    RUN(test_block_kinds);
    RUN(test_classics_compiled);
    RUN(test_classics_tracr_weights);
    RUN(test_refusals);
    RUN(test_other_program_weights);
    RUN(test_random_perturbations);
    TEST_END();
}
