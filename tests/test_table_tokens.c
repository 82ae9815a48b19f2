/* Table functions in program tokens: a lambda outside the library is written as its table
 * over the input's value set (or as the library entry with the same values there), and
 * tokens -> program -> tokens is the identity with the same compiled model, for hand-written
 * programs on string vocabularies and for the sampler's table samples. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/model.h"
#include "dataset/model_hash.h"
#include "gen/program_tokens.h"
#include "gen/sampler.h"
#include "rasp/rasp.h"
#include "compile_helpers.h"
#include "test.h"

/* tokens t decode (in vocab) to a program whose encoding is t again and whose compiled
 * model is `want` (when given; else: compiles). */
static void round_trip(const int16_t *t, const Value *vocab, int nv, int len, bool causal,
                       const uint64_t *want) {
    RaspProgram q;
    char err[512];
    if (pt_decode(t, vocab, nv, len, &q, err, sizeof err) != 0) {
        char *s = pt_format_table(t);
        CHECK_MSG(0, "decode: %s\n%s", err, s);
        free(s);
        return;
    }
    q.causal = causal;
    int16_t t2[PT_ROWS * PT_COLS];
    if (pt_encode(&q, t2, err, sizeof err) != 0) CHECK_MSG(0, "re-encode: %s", err);
    else CHECK(memcmp(t, t2, sizeof t2) == 0);
    uint64_t h[3];
    tc_model_hash(&q, h);
    CHECK(h[2] == 1);
    if (want) CHECK(want[2] == 1 && h[0] == want[0] && h[1] == want[1]);
    rasp_program_free(&q);
}

static int parse(const char *text, RaspProgram *p) {
    char err[512];
    if (rasp_parse("<test>", text, p, err, sizeof err) != 0) {
        CHECK_MSG(0, "parse: %s", err);
        return 1;
    }
    return 0;
}

static int count_fn(const int16_t *t, int fn) {
    int c = 0;
    for (int r = 1; r < PT_ROWS && t[r * PT_COLS] != PT_END; r++)
        c += t[r * PT_COLS + PT_COL_FN] == fn;
    return c;
}

/* The table's values, read back from the cells after the END row. */
static int table_values(const int16_t *t, int16_t *vals) {
    int r = 1;
    while (t[r * PT_COLS] != PT_END) r++;
    int n = 0;
    for (int i = (r + 1) * PT_COLS; t[i] != PT_END; i++) vals[n++] = t[i];
    return n;
}

static void test_string_table(void) {
    /* frac_prevs of a function no library entry has (and that raises on nothing here) */
    const char *src =
        "vocab {\"c\", \"a\", \"b\"}\nmax_seq_len 4\n"
        "is_ab = numerical(Map(lambda x: 1 if x == \"a\" else 1 if x == \"b\" else 0, tokens))\n"
        "prevs = Select(indices, indices, LEQ)\n"
        "out = numerical(Aggregate(prevs, is_ab, default=0))\n";
    RaspProgram p;
    if (parse(src, &p)) return;
    int16_t t[PT_ROWS * PT_COLS];
    char err[512];
    if (pt_encode(&p, t, err, sizeof err) != 0) {
        CHECK_MSG(0, "%s", err);
        rasp_program_free(&p);
        return;
    }
    CHECK(count_fn(t, PT_FN_TABLE) == 1);
    int16_t vals[PT_MAX_TABLE];
    int n = table_values(t, vals);
    /* keys a, b, c (the compiler's order, not the vocab directive's): 1 1 0 */
    CHECK(n == 3);
    if (n == 3)
        CHECK(vals[0] == PT_VAL_INT0 + 1 - PT_VAL_INT_MIN && vals[1] == vals[0] &&
              vals[2] == PT_VAL_INT0 - PT_VAL_INT_MIN);
    uint64_t h[3];
    tc_model_hash(&p, h);
    round_trip(t, p.vocab, p.n_vocab, p.max_seq_len, false, h);
    rasp_program_free(&p);
}

static void test_string_values_and_pairs(void) {
    /* a Map into string tokens (tK) and a SequenceMap table over pairs */
    const char *src =
        "vocab {\"x\", \"y\", \"z\"}\nmax_seq_len 3\n"
        "shift = Map(lambda x: \"y\" if x == \"x\" else \"z\" if x == \"y\" else \"x\", tokens)\n"
        "same = SequenceMap(lambda a, b: 1 if a == b else 2 if a < b else 0, shift, tokens)\n"
        "sel = Select(indices, same, EQ)\n"
        "out = Aggregate(sel, shift)\n";
    RaspProgram p;
    if (parse(src, &p)) return;
    int16_t t[PT_ROWS * PT_COLS];
    char err[512];
    if (pt_encode(&p, t, err, sizeof err) != 0) {
        CHECK_MSG(0, "%s", err);
        rasp_program_free(&p);
        return;
    }
    CHECK(count_fn(t, PT_FN_TABLE) == 2);
    int16_t vals[2 * PT_MAX_TABLE];
    int n = table_values(t, vals);
    /* the Map's 3 values (t1 t2 t0: y z x), END, the SequenceMap's 9 */
    CHECK(n >= 3 && vals[0] == PT_VAL_TOK0 + 1 && vals[1] == PT_VAL_TOK0 + 2 &&
          vals[2] == PT_VAL_TOK0);
    uint64_t h[3];
    tc_model_hash(&p, h);
    round_trip(t, p.vocab, p.n_vocab, p.max_seq_len, false, h);
    /* the decoder needs the vocabulary for a table, and the right one */
    RaspProgram q;
    CHECK(pt_decode(t, NULL, 0, 3, &q, err, sizeof err) != 0 &&
          strstr(err, "needs the vocabulary"));
    Value two[2] = {val_str("x"), val_str("y")};
    CHECK(pt_decode(t, two, 2, 3, &q, err, sizeof err) != 0 &&
          strstr(err, "the table has 3 values, but its input has 2"));
    rasp_program_free(&p);
}

static void test_compact_spelling_and_refusals(void) {
    /* x + 1 written as a table on {0..4}: the library's add1 */
    const char *src =
        "vocab {0, 1, 2, 3, 4}\nmax_seq_len 5\n"
        "m = Map(lambda x: 1 if x == 0 else 2 if x == 1 else 3 if x == 2 else 4 if x == 3 else 5, tokens)\n";
    RaspProgram p;
    if (parse(src, &p)) return;
    int16_t t[PT_ROWS * PT_COLS];
    char err[512];
    CHECK_MSG(pt_encode(&p, t, err, sizeof err) == 0, "%s", err);
    CHECK(t[PT_COLS + PT_COL_FN] == pt_token_id(PT_COL_FN, "add1"));
    rasp_program_free(&p);
    /* a float value has no value token (the output is not renamed); a SequenceMap reads
     * only categorical SOps */
    const char *bad[] = {
        "vocab {\"a\", \"b\"}\nmax_seq_len 3\nm = Map(lambda x: 0.5 if x == \"a\" else 1, tokens)\n",
        "vocab {0, 1, 2}\nmax_seq_len 3\nz = numerical(Map(lambda x: 1 if x == 0 else 0, tokens))\n"
        "n = numerical(Aggregate(Select(indices, indices, LEQ), z, default=0))\nm = SequenceMap(lambda x, y: 7 if x == 0 else y, n, tokens)\n",
        "vocab {0, 1, 2}\nmax_seq_len 3\nm = Map(lambda x: 99 if x == 0 else 3, tokens)\n",
    };
    const char *want[] = {"table value 0.5 has no value token",
                          "a SequenceMap of a numerical SOp has no token form",
                          "table value 99 has no value token"};
    for (int i = 0; i < 3; i++) {
        if (parse(bad[i], &p)) continue;
        err[0] = 0;
        CHECK_MSG(pt_encode(&p, t, err, sizeof err) != 0, "case %d encoded", i);
        CHECK_MSG(strstr(err, want[i]) != NULL, "%s", err);
        rasp_program_free(&p);
    }
    /* value tokens */
    Value voc[2] = {val_str("p"), val_str("q")};
    CHECK(pt_value_token(val_bool(true), voc, 2) == PT_VAL_TRUE &&
          pt_value_token(val_int(-16), voc, 2) == PT_VAL_INT0);
    CHECK(pt_value_token(val_int(32), voc, 2) == -1 &&
          pt_value_token(val_str("q"), voc, 2) == PT_VAL_TOK0 + 1);
    Value v;
    CHECK(pt_token_value(PT_VAL_TOK0 + 2, voc, 2, &v) != 0 &&
          pt_token_value(PT_VAL_INT0 + 20, voc, 2, &v) == 0 && v.kind == VAL_INT && v.u.i == 4);
    CHECK_STR(pt_value_name(PT_VAL_TOK0 + 3), "t3");
    CHECK_STR(pt_value_name(PT_VAL_FALSE), "False");
}

/* p's tokens t decode to a program with p's compiled model (hash) that gives p's output on
 * every input (brute force through model_run over more than min_inputs inputs). */
static void same_model(const RaspProgram *p, const int16_t *t, long min_inputs, const char *what) {
    uint64_t h[3];
    char err[512];
    tc_model_hash(p, h);
    round_trip(t, p->vocab, p->n_vocab, p->max_seq_len, false, h);
    RaspProgram q;
    CompiledModel *m0 = tc_compile_program(p, what), *m1 = NULL;
    if (pt_decode(t, p->vocab, p->n_vocab, p->max_seq_len, &q, err, sizeof err) == 0) {
        m1 = tc_compile_program(&q, "decoded");
        rasp_program_free(&q);
    }
    long total = 0;
    CHECK_MSG(m0 && m1 && tc_brute_disagree(m0, m1, &total) == 0 && total > min_inputs, "%s: %ld",
              what, total);
    compiled_model_free(m0);
    compiled_model_free(m1);
}

/* Values without a value token, renamed to their ranks: Tracr's sort keys (x + i/5), the
 * same keys over negative counts (sort_freq), nary_sequencemap's argument tuples. The tokens
 * decode to a program whose compiled model has the same weights (hash) and gives the same
 * output as the original on every input (brute force through model_run). */
static void test_renamed_values(void) {
    const char *stems[] = {"sort", "sort_freq", "nary_sequencemap"};
    for (int f = 0; f < 3; f++) {
        char path[256], err[512];
        snprintf(path, sizeof path, "%s/tracr/%s.rasp", FIXTURE_DIR, stems[f]);
        RaspProgram p;
        if (rasp_parse_file(path, &p, err, sizeof err)) {
            CHECK_MSG(0, "%s", err);
            rasp_program_free(&p);
            continue;
        }
        int16_t t[PT_ROWS * PT_COLS];
        if (pt_encode(&p, t, err, sizeof err) != 0) {
            CHECK_MSG(0, "%s: %s", stems[f], err);
            rasp_program_free(&p);
            continue;
        }
        same_model(&p, t, 300, stems[f]);
        if (f == 0) { /* the 20 keys x + i/5 in the compiler's order: ranks 0..19 */
            int16_t vals[2 * PT_MAX_TABLE];
            int n = table_values(t, vals);
            CHECK(n == 20);
            for (int i = 0; i < n && i < 20; i++) CHECK(vals[i] == PT_VAL_INT0 + 16 + i);
        }
        if (f == 2) { /* 45 argument triples: ranks from -16 */
            int r = 1;
            while (t[r * PT_COLS] != PT_END) r++;
            const int16_t *v = &t[(r + 1) * PT_COLS]; /* 9 values, END, 45, END, 45, END */
            CHECK(v[9] == PT_END && v[10] == PT_VAL_INT0 && v[10 + 44] == PT_VAL_INT0 + 44 &&
                  v[55] == PT_END && v[56 + 45] == PT_END);
        }
        rasp_program_free(&p);
    }
}

/* Where renaming would change the function or the weights, it is not done: the renamed SOp
 * is the output, or an Aggregate carries its values. A Select comparing renamed values with
 * another SOp's becomes a table; a library function reading them becomes a table too (and
 * its own float results are renamed in turn); both keep the weights. */
static void test_renaming_limits(void) {
    const char *head = "vocab {1, 2}\nmax_seq_len 3\nk = SequenceMap(lambda x, i: x + i / 5, tokens, indices)\n";
    const char *refused[] = {"",
                             "s = Select(indices, indices, EQ)\nout = Aggregate(s, k)\n"};
    char src[1024], err[512];
    int16_t t[PT_ROWS * PT_COLS];
    for (int i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s%s", head, refused[i]);
        RaspProgram p;
        if (parse(src, &p)) continue;
        err[0] = 0;
        CHECK_MSG(pt_encode(&p, t, err, sizeof err) != 0 && strstr(err, "has no value token"),
                  "case %d: %s", i, err);
        rasp_program_free(&p);
    }
    const char *kept[] = {"s = Select(k, tokens, LT)\nout = SelectorWidth(s)\n",
                          "m = Map(lambda x: x + 1, k)\ns = Select(m, m, GT)\nout = SelectorWidth(s)\n"};
    for (int i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s%s", head, kept[i]);
        RaspProgram p;
        if (parse(src, &p)) continue;
        if (pt_encode(&p, t, err, sizeof err) != 0) {
            CHECK_MSG(0, "case %d: %s", i, err);
            rasp_program_free(&p);
            continue;
        }
        /* case 0: k's table and the Select's; case 1: k's and the Map's (GT kept) */
        CHECK_MSG(count_fn(t, PT_FN_TABLE) == 2, "case %d", i);
        same_model(&p, t, 5, kept[i]);
        rasp_program_free(&p);
    }
}

/* A Map of a numerical SOp outside the library is its table over that SOp's value set: a
 * hand-written one and shuffle_dyck's `balance < 0` (as Tracr fuses it with the identity Map
 * into a numerical one). Same weights, same outputs on every input. */
static void test_numerical_input_table(void) {
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/tracr/shuffle_dyck.rasp", FIXTURE_DIR);
    const char *hand = "vocab {0, 1, 2}\nmax_seq_len 3\nz = numerical(Map(lambda x: 1 if x == 0 else 0, tokens))\n"
                       "n = numerical(Aggregate(Select(indices, indices, LEQ), z, default=0))\n"
                       "m = Map(lambda x: 7 if x == 0 else 3, n)\n";
    for (int c = 0; c < 2; c++) {
        RaspProgram p;
        if (c == 0 ? parse(hand, &p) : rasp_parse_file(path, &p, err, sizeof err)) {
            CHECK_MSG(c == 0, "%s", err);
            rasp_program_free(&p);
            continue;
        }
        int16_t t[PT_ROWS * PT_COLS];
        if (pt_encode(&p, t, err, sizeof err) != 0) {
            CHECK_MSG(0, "case %d: %s", c, err);
            rasp_program_free(&p);
            continue;
        }
        CHECK(count_fn(t, PT_FN_TABLE) >= 1);
        same_model(&p, t, 10, c == 0 ? "hand-written" : "shuffle_dyck");
        rasp_program_free(&p);
    }
}

static void test_damaged_tables(void) {
    const char *src =
        "vocab {\"a\", \"b\"}\nmax_seq_len 3\nm = Map(lambda x: 1 if x == \"a\" else 0, tokens)\n";
    RaspProgram p;
    if (parse(src, &p)) return;
    int16_t t[PT_ROWS * PT_COLS], d[PT_ROWS * PT_COLS];
    char err[512];
    CHECK_MSG(pt_encode(&p, t, err, sizeof err) == 0, "%s", err);
    PtOp rows[PT_MAX_VARS];
    int n;
    const int at = 3 * PT_COLS; /* START, the Map, END, then the table */
    CHECK(t[at + 2] == PT_END && t[at + 3] == PT_PAD);
    memcpy(d, t, sizeof d);
    d[at + 2] = PT_PAD; /* never closed */
    CHECK(pt_tokens_to_ops(d, rows, &n, err, sizeof err) != 0 && strstr(err, "not a value token"));
    memcpy(d, t, sizeof d);
    d[at] = PT_END; /* empty */
    CHECK(pt_tokens_to_ops(d, rows, &n, err, sizeof err) != 0 && strstr(err, "is empty"));
    memcpy(d, t, sizeof d);
    d[at + 4] = PT_VAL_TRUE; /* after the last table */
    CHECK(pt_tokens_to_ops(d, rows, &n, err, sizeof err) != 0 &&
          strstr(err, "expected padding after the tables"));
    memcpy(d, t, sizeof d);
    d[at] = PT_VAL_VOCAB; /* unknown value id */
    CHECK(pt_first_bad_cell(d) == at && pt_first_bad_cell(t) == -1);
    rasp_program_free(&p);
}

/* The sampler's tables: every sample with one round-trips to the same model. */
static void test_sampler_tables(void) {
    GenConfig c;
    gen_config_general(&c);
    c.p_table = 0.3;
    char err[256];
    GenSampler *s = gen_sampler_new(&c, err, sizeof err);
    CHECK_MSG(s != NULL, "%s", err);
    if (!s) return;
    int with_table = 0, str_in = 0, int_in = 0, num_out = 0;
    for (int i = 0; i < 400 && with_table < 60; i++) {
        GenSample g;
        if (gen_sample(s, gen_sample_seed(21, (uint64_t)i), &g) != 0) continue;
        bool has = false;
        for (int k = 0; k < g.n_rows; k++) {
            const PtOp *o = &g.rows[k];
            if (o->fn != PT_FN_TABLE) continue;
            has = true;
            num_out += o->enc == PT_ENC_NUM;
            if (o->arg[0] == PT_SRC_TOKENS && g.setting.kind != GEN_VOCAB_INT) str_in++;
            else int_in++;
        }
        if (!has) continue;
        with_table++;
        const GenSetting *st = &g.setting;
        round_trip(g.tokens, st->vocab, st->n_vocab, st->max_seq_len, st->causal, NULL);
    }
    CHECK(with_table == 60 && str_in > 10 && int_in > 5 && num_out > 3);
    gen_sampler_free(s);
}

int main(void) {
    RUN(test_string_table);
    RUN(test_string_values_and_pairs);
    RUN(test_compact_spelling_and_refusals);
    RUN(test_renamed_values);
    RUN(test_renaming_limits);
    RUN(test_numerical_input_table);
    RUN(test_damaged_tables);
    RUN(test_sampler_tables);
    TEST_END();
}
