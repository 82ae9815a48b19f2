/* Predicate tables in program tokens: a Select whose lambda predicate is no comparison is
 * written as the table of its truth values over the keys' and queries' value sets, so the
 * classic programs with lambda predicates (count, count_less_freq, detect_pattern, shift_by)
 * have a token form. Checked against Tracr's own programs: tokens -> program compiles to the
 * same model as the original (name-independent hash), and the sampler's predicate tables
 * round-trip to the same model. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/model.h"
#include "dataset/model_hash.h"
#include "eval/equiv.h"
#include "gen/program_tokens.h"
#include "gen/sampler.h"
#include "rasp/rasp.h"
#include "compile_helpers.h"
#include "test.h"

/* Rows of t whose op is Select and fn `table`. */
static int pred_tables(const int16_t *t) {
    int c = 0;
    for (int r = 1; r < PT_ROWS && t[r * PT_COLS] != PT_END; r++)
        c += t[r * PT_COLS + PT_COL_OP] == PT_OP_SELECT && t[r * PT_COLS + PT_COL_FN] == PT_FN_TABLE;
    return c;
}

/* Tracr's classic programs with lambda predicates: encoded with predicate tables, decoded on
 * their own vocabulary, they compile to the original's model; tokens round-trip. */
static void test_classics(void) {
    const char *names[] = {"count", "count_less_freq", "detect_pattern", "shift_by"};
    const int want_tables[] = {1, 1, 2, 1};
    for (int i = 0; i < 4; i++) {
        char path[256], err[512];
        snprintf(path, sizeof path, FIXTURE_DIR "/tracr/%s.rasp", names[i]);
        RaspProgram p, q;
        if (rasp_parse_file(path, &p, err, sizeof err) != 0) {
            CHECK_MSG(0, "%s: %s", path, err);
            continue;
        }
        int16_t t[PT_ROWS * PT_COLS], t2[PT_ROWS * PT_COLS];
        if (pt_encode(&p, t, err, sizeof err) != 0) {
            CHECK_MSG(0, "%s: encode: %s", names[i], err);
            rasp_program_free(&p);
            continue;
        }
        CHECK_MSG(pred_tables(t) == want_tables[i], "%s: %d predicate tables", names[i],
                  pred_tables(t));
        if (pt_decode(t, p.vocab, p.n_vocab, p.max_seq_len, &q, err, sizeof err) != 0) {
            CHECK_MSG(0, "%s: decode: %s", names[i], err);
            rasp_program_free(&p);
            continue;
        }
        /* the same model up to the names of its residual directions: the same shapes and
         * the same output on every input (the name-independent hash may still differ where
         * directions tie, as in detect_pattern's two symmetric Aggregates) */
        CompiledModel *a = tc_compile_program(&p, names[i]), *b = tc_compile_program(&q, names[i]);
            CHECK(a && b);
        if (a && b) {
            CHECK_MSG(a->residual_dim == b->residual_dim && a->num_layers == b->num_layers &&
                          a->num_heads == b->num_heads && a->key_size == b->key_size &&
                          a->mlp_hidden_size == b->mlp_hidden_size,
                      "%s: another shape", names[i]);
            EquivOptions eo;
            equiv_options_default(&eo);
            EquivResult r;
            CHECK(equiv_models(a, NULL, b, &eo, &r, err, sizeof err) == 0);
            CHECK_MSG(r.status == EVAL_FN_EQUIVALENT && r.exhaustive, "%s: %s", names[i],
                      r.detail);
            uint64_t ha[2], hb[2];
            if (i != 2) /* every direction has its own signature: equal hashes too */
                CHECK(model_hash128(a, ha) == 0 && model_hash128(b, hb) == 0 && ha[0] == hb[0] &&
                      ha[1] == hb[1]);
        }
        compiled_model_free(a);
        compiled_model_free(b);
        CHECK_MSG(pt_encode(&q, t2, err, sizeof err) == 0 && memcmp(t, t2, sizeof t) == 0,
                  "%s: tokens do not round-trip (%s)", names[i], err);
        rasp_program_free(&q);
        rasp_program_free(&p);
    }
}

static int parse(const char *text, RaspProgram *p) {
    char err[512];
    if (rasp_parse("<test>", text, p, err, sizeof err) != 0) {
        CHECK_MSG(0, "parse: %s", err);
        return 1;
    }
    return 0;
}

/* A lambda predicate that some comparison equals on the value sets is spelled by that
 * comparison's name (in EQ LT LEQ GT GEQ NEQ TRUE FALSE order), as Tracr calls it: (key,
 * query). */
static void test_compact_spelling(void) {
    const char *body[] = {"k == q", "k < q", "q > k", "q >= k", "k != q", "k + q >= 0",
                          "k < 0", "q == k + 1"};
    const char *want[] = {"EQ", "LT", "LT", "LEQ", "NEQ", "TRUE", "FALSE", "table"};
    for (int i = 0; i < 8; i++) {
        char src[256];
        snprintf(src, sizeof src,
                 "vocab {0, 1, 2}\nmax_seq_len 4\ns = Select(tokens, indices, lambda k, q: %s)\n"
                 "w = SelectorWidth(s)\n",
                 body[i]);
        RaspProgram p;
        if (parse(src, &p)) continue;
        int16_t t[PT_ROWS * PT_COLS];
        char err[512];
        if (pt_encode(&p, t, err, sizeof err) != 0) CHECK_MSG(0, "%s: %s", body[i], err);
        else CHECK_MSG(t[PT_COLS + PT_COL_FN] == pt_token_id(PT_COL_FN, want[i]), "%s: %s", body[i],
                       pt_token_name(PT_COL_FN, t[PT_COLS + PT_COL_FN]));
        rasp_program_free(&p);
    }
}

/* The table's layout: key-major over the compiler's order of each value set. */
static void test_layout_and_damage(void) {
    const char *src = "vocab {\"b\", \"a\"}\nmax_seq_len 3\n"
                      "s = Select(tokens, indices, lambda k, q: k == \"a\" and q > 0)\n"
                      "w = SelectorWidth(s)\n";
    RaspProgram p;
    if (parse(src, &p)) return;
    int16_t t[PT_ROWS * PT_COLS], d[PT_ROWS * PT_COLS];
    char err[512];
    if (pt_encode(&p, t, err, sizeof err) != 0) {
        CHECK_MSG(0, "encode: %s", err);
        rasp_program_free(&p);
        return;
    }
    /* START, Select, SelectorWidth, END, then keys a, b x queries 0, 1, 2 */
    const int at = 4 * PT_COLS;
    const int16_t F = PT_VAL_FALSE, T = PT_VAL_TRUE;
    const int16_t want[7] = {F, T, T, F, F, F, PT_END};
    CHECK(memcmp(t + at, want, sizeof want) == 0);
    RaspProgram q;
    PtOp rows[PT_MAX_VARS];
    int n;
    memcpy(d, t, sizeof d);
    d[at + 1] = PT_VAL_INT0 + 1; /* the int 1 -16 + 1, not a bool */
    CHECK(pt_tokens_to_ops(d, rows, &n, err, sizeof err) != 0 &&
          strstr(err, "row 1: the predicate table of v1 holds -15, not True or False"));
    memcpy(d, t, sizeof d);
    d[at + 5] = PT_END, d[at + 6] = PT_PAD; /* 5 values for 6 pairs */
    CHECK(pt_decode(d, p.vocab, p.n_vocab, p.max_seq_len, &q, err, sizeof err) != 0 &&
          strstr(err, "row 1: the table has 5 values, but its input has 6 value pairs"));
    CHECK(pt_decode(t, NULL, 0, 3, &q, err, sizeof err) != 0 &&
          strstr(err, "a table needs the vocabulary"));
    rasp_program_free(&p);
    /* a lambda predicate on a numerical SOp has no token form */
    const char *num = "vocab {0, 1}\nmax_seq_len 3\n"
                      "f = numerical(Map(lambda x: x, tokens))\n"
                      "s = Select(f, tokens, lambda k, q: k > 0.5)\nw = SelectorWidth(s)\n";
    if (parse(num, &p)) return;
    CHECK(pt_encode(&p, t, err, sizeof err) != 0 &&
          strstr(err, "a lambda predicate on a numerical SOp has no token form"));
    rasp_program_free(&p);
}

/* The sampler's predicate tables (gen_config_general): each sample holding one decodes on its
 * own setting, compiles to a model, and re-encodes to the same tokens; every shape occurs. */
static void test_sampler(void) {
    GenConfig c;
    gen_config_general(&c);
    c.p_pred_table = 0.5;
    char err[256];
    GenSampler *s = gen_sampler_new(&c, err, sizeof err);
    CHECK_MSG(s != NULL, "%s", err);
    if (!s) return;
    int with = 0, on_strings = 0, on_indices = 0;
    for (int i = 0; i < 600 && with < 60; i++) {
        GenSample g;
        if (gen_sample(s, gen_sample_seed(5, (uint64_t)i), &g) != 0) continue;
        if (!pred_tables(g.tokens)) continue;
        with++;
        for (int k = 0; k < g.n_rows; k++) {
            const PtOp *o = &g.rows[k];
            if (o->op != PT_OP_SELECT || o->fn != PT_FN_TABLE) continue;
            on_indices += o->arg[0] == PT_SRC_INDICES && o->arg[1] == PT_SRC_INDICES;
            on_strings += o->arg[0] == PT_SRC_TOKENS && g.setting.kind != GEN_VOCAB_INT;
        }
        const GenSetting *st = &g.setting;
        RaspProgram q;
        if (pt_decode(g.tokens, st->vocab, st->n_vocab, st->max_seq_len, &q, err, sizeof err)) {
            CHECK_MSG(0, "decode: %s", err);
            continue;
        }
        q.causal = st->causal;
        int16_t t2[PT_ROWS * PT_COLS];
        CHECK_MSG(pt_encode(&q, t2, err, sizeof err) == 0 &&
                      memcmp(t2, g.tokens, sizeof t2) == 0,
                  "sample %d does not round-trip (%s)", i, err);
        uint64_t h[3];
        tc_model_hash(&q, h);
        CHECK(h[2] == 1);
        rasp_program_free(&q);
    }
    CHECK_MSG(with == 60 && on_strings > 3 && on_indices > 3, "%d samples, %d on strings, %d on "
              "indices", with, on_strings, on_indices);
    gen_sampler_free(s);
    /* the fixed setting draws no predicate table */
    GenConfig a;
    gen_config_default(&a);
    CHECK(a.p_pred_table == 0);
    GenSampler *sa = gen_sampler_new(&a, err, sizeof err);
    int n_ok = 0;
    for (int i = 0; sa && i < 100; i++) {
        GenSample x;
        if (gen_sample(sa, gen_sample_seed(9, (uint64_t)i), &x) != 0) continue;
        n_ok++;
        CHECK(!pred_tables(x.tokens));
    }
    CHECK(n_ok > 50);
    gen_sampler_free(sa);
}

int main(void) {
    RUN(test_classics);
    RUN(test_compact_spelling);
    RUN(test_layout_and_damage);
    RUN(test_sampler);
    TEST_END();
}
