/* Program tokens: vocabularies, canonical order, encode/decode round trips on sampled
 * programs (and on shuffled, relabelled copies of them), precise decoding errors, and
 * random or corrupted tables that must give errors, never crashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gen/lambda_lib.h"
#include "gen/program_tokens.h"
#include "gen/sampler.h"
#include "rasp/rasp.h"
#include "test.h"

static int fn_id(const char *name) { return pt_token_id(PT_COL_FN, name); }

static PtOp row(int op, int enc, int fn, int a1, int a2) {
    PtOp o;
    memset(&o, 0, sizeof o);
    o.op = (int16_t)op;
    o.enc = (int16_t)enc;
    o.fn = (int16_t)fn;
    o.arg[0] = (int16_t)a1;
    o.arg[1] = (int16_t)a2;
    return o;
}

static void test_vocab(void) {
    for (int c = 0; c < PT_COLS; c++) {
        int n = pt_vocab_size(c);
        CHECK(n > 3);
        for (int id = 0; id < n; id++) {
            const char *s = pt_token_name(c, id);
            CHECK(s != NULL);
            if (s) CHECK(pt_token_id(c, s) == id);
        }
        CHECK(pt_token_name(c, n) == NULL);
        CHECK(pt_token_name(c, -1) == NULL);
        CHECK_STR(pt_token_name(c, PT_START), "START");
    }
    CHECK_STR(pt_token_name(PT_COL_OP, PT_OP_SELWIDTH), "SelectorWidth");
    CHECK_STR(pt_token_name(PT_COL_ENC, PT_ENC_NONE), "-");
    CHECK_STR(pt_token_name(PT_COL_FN, PT_FN_PRED0 + PRED_LEQ), "LEQ");
    CHECK_STR(pt_token_name(PT_COL_FN, PT_FN_LIB0), gen_lib_get(0)->name);
    CHECK_STR(pt_token_name(PT_COL_A1, PT_ARG_V1 + 6), "v7");
    CHECK_STR(pt_token_name(PT_COL_OUT, PT_OUT_V1 + PT_MAX_VARS - 1), "v30");
    /* the library as it was when "table" was added, then "table" */
    CHECK(gen_lib_count() == PT_LIB_V1);
    CHECK(pt_vocab_size(PT_COL_FN) == PT_FN_LIB0 + gen_lib_count() + 1);
    CHECK_STR(pt_token_name(PT_COL_FN, PT_FN_TABLE), "table");
    for (int i = 0; i < gen_lib_count(); i++) CHECK(pt_fn_lib(pt_fn_of_lib(i)) == i);
    CHECK(pt_fn_lib(PT_FN_TABLE) == -1 && pt_fn_lib(PT_FN_NONE) == -1);
}

/* frac_prevs with a library function, written in a non-canonical order: the Select first.
 * Canonical: the Map (layer 0 MLP), the Select (before layer 1 attention), the Aggregate. */
static void test_canonical_by_hand(void) {
    PtOp ops[3] = {
        row(PT_OP_SELECT, PT_ENC_NONE, PT_FN_PRED0 + PRED_LEQ, PT_SRC_INDICES, PT_SRC_INDICES),
        row(PT_OP_MAP, PT_ENC_NUM, fn_id("lt2"), PT_SRC_TOKENS, PT_SRC_NONE),
        row(PT_OP_AGGREGATE, PT_ENC_NUM, PT_FN_NONE, 0, 1),
    };
    PtOp out[PT_MAX_VARS];
    int n;
    char err[256];
    CHECK(pt_canonicalize(ops, 3, 2, out, &n, err, sizeof err) == 0);
    CHECK(n == 3);
    int16_t t[PT_ROWS * PT_COLS];
    pt_ops_to_tokens(out, n, t);
    char *txt = pt_format_table(t);
    CHECK_STR(txt, "START START START START START START\n"
                   "Map num lt2 tokens - v1\n"
                   "Select - LEQ indices indices v2\n"
                   "Aggregate num - v2 v1 v3\n"
                   "END END END END END END\n");
    free(txt);
    int sub[3];
    CHECK(pt_layer_alloc(ops, 3, sub, NULL) == 2);
    CHECK(sub[0] == -1);
    CHECK(sub[1] == 1 && sub[2] == 2);

    /* Two identical Maps merge; an unused op is dropped; ties in a layer go by tokens. */
    PtOp ops2[5] = {
        row(PT_OP_MAP, PT_ENC_CAT, fn_id("add1"), PT_SRC_TOKENS, PT_SRC_NONE),
        row(PT_OP_MAP, PT_ENC_CAT, fn_id("add1"), PT_SRC_TOKENS, PT_SRC_NONE),
        row(PT_OP_MAP, PT_ENC_CAT, fn_id("neg"), PT_SRC_INDICES, PT_SRC_NONE),
        row(PT_OP_MAP, PT_ENC_CAT, fn_id("sq"), PT_SRC_INDICES, PT_SRC_NONE), /* unused */
        row(PT_OP_SEQMAP, PT_ENC_CAT, fn_id("add_xy"), 2, 1),
    };
    CHECK(pt_canonicalize(ops2, 5, 4, out, &n, err, sizeof err) == 0);
    pt_ops_to_tokens(out, n, t);
    txt = pt_format_table(t);
    CHECK_STR(txt, "START START START START START START\n"
                   "Map cat add1 tokens - v1\n"
                   "Map cat neg indices - v2\n"
                   "SequenceMap cat add_xy v2 v1 v3\n"
                   "END END END END END END\n");
    free(txt);
}

/* A random topological reordering of rows[n]: shuffled[i] = rows[perm[i]]. */
static void shuffle_rows(const PtOp *rows, int n, uint64_t *rng, PtOp *shuffled) {
    int pos[PT_MAX_VARS], placed[PT_MAX_VARS] = {0};
    for (int i = 0; i < n; i++) {
        int ready[PT_MAX_VARS], nr = 0;
        for (int r = 0; r < n; r++) {
            if (placed[r]) continue;
            bool ok = true;
            for (int j = 0; j < 2; j++)
                if (rows[r].arg[j] >= 0 && !placed[rows[r].arg[j]]) ok = false;
            /* keep the output last so it stays the output */
            if (r == n - 1 && i != n - 1) ok = false;
            if (ok) ready[nr++] = r;
        }
        int r = ready[rng_splitmix64(rng) % (uint64_t)nr];
        placed[r] = 1;
        pos[r] = i;
        shuffled[i] = rows[r];
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 2; j++)
            if (shuffled[i].arg[j] >= 0) shuffled[i].arg[j] = (int16_t)pos[shuffled[i].arg[j]];
}

static void test_roundtrip_samples(void) {
    GenConfig cfg;
    gen_config_default(&cfg);
    char err[512];
    GenSampler *s = gen_sampler_new(&cfg, err, sizeof err);
    CHECK_MSG(s != NULL, "%s", err);
    if (!s) return;
    Value vocab[5];
    for (int i = 0; i < 5; i++) vocab[i] = val_int(i);
    GenSample g;
    uint64_t rng = 12345;
    int done = 0, bad = 0;
    for (uint64_t i = 0; i < 3000; i++) {
        if (gen_sample(s, gen_sample_seed(7, i), &g) != 0) continue;
        done++;
        RaspProgram p;
        if (pt_decode(g.tokens, vocab, 5, 5, &p, err, sizeof err) != 0) {
            if (bad++ < 3) CHECK_MSG(0, "decode of a sample failed: %s", err);
            continue;
        }
        int16_t again[PT_ROWS * PT_COLS];
        CHECK_MSG(pt_encode(&p, again, err, sizeof err) == 0, "%s", err);
        if (memcmp(again, g.tokens, sizeof again) != 0 && bad++ < 3)
            CHECK_MSG(0, "encode(decode(t)) != t");
        rasp_program_free(&p);

        /* The same program with rows shuffled and relabelled encodes to the same table. */
        PtOp sh[PT_MAX_VARS];
        shuffle_rows(g.rows, g.n_rows, &rng, sh);
        RaspProgram q;
        CHECK(pt_build_program(sh, g.n_rows, vocab, 5, 5, &q, err, sizeof err) == 0);
        CHECK_MSG(pt_encode(&q, again, err, sizeof err) == 0, "%s", err);
        if (memcmp(again, g.tokens, sizeof again) != 0 && bad++ < 3) {
            char *a = pt_format_table(g.tokens), *b = pt_format_table(again);
            CHECK_MSG(0, "shuffled program encodes differently:\n%s---\n%s", a, b);
            free(a);
            free(b);
        }
        rasp_program_free(&q);
    }
    CHECK(done > 2900);
    CHECK(bad == 0);
    gen_sampler_free(s);
}

static void expect_error(const int16_t *t, const char *want) {
    RaspProgram p;
    char err[512] = "";
    int rc = pt_decode(t, NULL, 0, 0, &p, err, sizeof err);
    CHECK_MSG(rc != 0, "decoded a bad table (want \"%s\")", want);
    CHECK_MSG(strstr(err, want) != NULL, "got \"%s\", want \"%s\"", err, want);
    rasp_program_free(&p);
}

static void test_errors(void) {
    PtOp ok[3] = {
        row(PT_OP_MAP, PT_ENC_CAT, fn_id("add1"), PT_SRC_TOKENS, PT_SRC_NONE),
        row(PT_OP_SELECT, PT_ENC_NONE, PT_FN_PRED0 + PRED_EQ, PT_SRC_INDICES, 0),
        row(PT_OP_AGGREGATE, PT_ENC_CAT, PT_FN_NONE, 1, PT_SRC_TOKENS),
    };
    int16_t t[PT_ROWS * PT_COLS], base[PT_ROWS * PT_COLS];
    pt_ops_to_tokens(ok, 3, base);
    RaspProgram p;
    char err[256];
    CHECK_MSG(pt_decode(base, NULL, 0, 0, &p, err, sizeof err) == 0, "%s", err);
    CHECK(p.output >= 0 && p.exprs[p.output].kind == EXPR_AGGREGATE);
    CHECK_STR(p.exprs[p.output].label, "v3");
    rasp_program_free(&p);

#define MUT(r, c, v) (memcpy(t, base, sizeof t), t[(r)*PT_COLS + (c)] = (int16_t)(v))
    MUT(1, PT_COL_FN, PT_FN_NONE);
    expect_error(t, "row 1: Map needs a Map function in column fn");
    MUT(1, PT_COL_FN, PT_FN_PRED0);
    expect_error(t, "row 1: Map needs a Map function in column fn");
    MUT(2, PT_COL_A2, PT_ARG_V1 + 6);
    expect_error(t, "row 2: v7 used before it is defined");
    MUT(2, PT_COL_A2, PT_ARG_V1 + 1);
    expect_error(t, "row 2: v2 used before it is defined");
    MUT(3, PT_COL_FN, 999);
    expect_error(t, "row 3: unknown token id 999 in column fn");
    MUT(3, PT_COL_OP, -4);
    expect_error(t, "row 3: unknown token id -4 in column op");
    MUT(4, PT_COL_OP, PT_PAD);
    expect_error(t, "missing END");
    MUT(0, PT_COL_A1, PT_PAD);
    expect_error(t, "row 0: expected the START row");
    MUT(3, PT_COL_A1, PT_ARG_V1);
    expect_error(t, "row 3: Aggregate needs a Select in column a1, but v1 is an SOp");
    MUT(3, PT_COL_ENC, PT_ENC_NUM);
    expect_error(t, "row 3: the aggregated SOp must be numerical, but tokens is categorical");
    MUT(2, PT_COL_ENC, PT_ENC_CAT);
    expect_error(t, "row 2: Select takes '-' in column enc");
    MUT(2, PT_COL_FN, fn_id("add1"));
    expect_error(t, "row 2: Select needs a predicate");
    MUT(3, PT_COL_OUT, PT_OUT_V1);
    expect_error(t, "row 3: column out must be v3");
    MUT(5, PT_COL_OP, PT_OP_MAP);
    expect_error(t, "row 5: expected padding after the END row");
    MUT(4, PT_COL_FN, PT_PAD);
    expect_error(t, "END row needs END in every column");
#undef MUT

    /* Structure: unused rows, a Select as output, an empty table. */
    PtOp unused[2] = {row(PT_OP_MAP, PT_ENC_CAT, fn_id("add1"), PT_SRC_TOKENS, PT_SRC_NONE),
                      row(PT_OP_MAP, PT_ENC_CAT, fn_id("neg"), PT_SRC_TOKENS, PT_SRC_NONE)};
    pt_ops_to_tokens(unused, 2, t);
    expect_error(t, "row 1: v1 is never used");
    PtOp sel_out[1] = {row(PT_OP_SELECT, PT_ENC_NONE, PT_FN_PRED0, PT_SRC_TOKENS, PT_SRC_TOKENS)};
    pt_ops_to_tokens(sel_out, 1, t);
    expect_error(t, "must be an SOp, not a Select");
    pt_ops_to_tokens(NULL, 0, t);
    expect_error(t, "no operation rows");
    PtOp numsel[2] = {row(PT_OP_MAP, PT_ENC_NUM, fn_id("add1"), PT_SRC_TOKENS, PT_SRC_NONE),
                      row(PT_OP_SELWIDTH, PT_ENC_CAT, PT_FN_NONE, 2, PT_SRC_NONE)};
    PtOp numsel3[3] = {numsel[0], row(PT_OP_SELECT, PT_ENC_NONE, PT_FN_PRED0, 0, PT_SRC_TOKENS),
                       numsel[1]};
    numsel3[2].arg[0] = 1;
    pt_ops_to_tokens(numsel3, 3, t);
    expect_error(t, "row 2: the Select keys must be categorical, but v1 is numerical");
    PtOp seqnum[2] = {row(PT_OP_MAP, PT_ENC_NUM, fn_id("add1"), PT_SRC_TOKENS, PT_SRC_NONE),
                      row(PT_OP_SEQMAP, PT_ENC_CAT, fn_id("add_xy"), 0, PT_SRC_TOKENS)};
    pt_ops_to_tokens(seqnum, 2, t);
    expect_error(t, "row 2: the first SequenceMap input must be categorical, but v1 is numerical");
    PtOp lin[1] = {
        row(PT_OP_LINSEQMAP, PT_ENC_NUM, fn_id("lin_1_1"), PT_SRC_TOKENS, PT_SRC_INDICES)};
    pt_ops_to_tokens(lin, 1, t);
    expect_error(t, "must be numerical, but tokens is categorical");
    lin[0].fn = (int16_t)fn_id("add_xy");
    pt_ops_to_tokens(lin, 1, t);
    expect_error(t, "LinearSequenceMap needs a coefficient pair in column fn");
    CHECK(pt_decode(NULL, NULL, 0, 0, &p, err, sizeof err) != 0);
    rasp_program_free(&p);
}

/* Tables of random ids and corrupted valid tables: an error or a program, never a crash;
 * whatever decodes also encodes, and the canonical table decodes again. */
static void test_fuzz_tables(void) {
    GenConfig cfg;
    gen_config_default(&cfg);
    char err[512];
    GenSampler *s = gen_sampler_new(&cfg, err, sizeof err);
    if (!s) return;
    uint64_t rng = 99;
    int decoded = 0, failed = 0;
    GenSample g;
    for (int it = 0; it < 20000; it++) {
        int16_t t[PT_ROWS * PT_COLS];
        int mode = it % 3;
        if (mode == 0) {
            for (int k = 0; k < PT_ROWS * PT_COLS; k++)
                t[k] = (int16_t)((int)(rng_splitmix64(&rng) % 80) - 5);
        } else {
            if (gen_sample(s, gen_sample_seed(3, (uint64_t)it), &g) != 0) continue;
            memcpy(t, g.tokens, sizeof t);
            int muts = 1 + (int)(rng_splitmix64(&rng) % 3);
            for (int m = 0; m < muts; m++) {
                int nr = g.n_rows + 3 < PT_ROWS ? g.n_rows + 3 : PT_ROWS;
                int cell = (int)(rng_splitmix64(&rng) % (uint64_t)(nr * PT_COLS));
                int col = cell % PT_COLS;
                int v = mode == 1 ? (int)(rng_splitmix64(&rng) % (uint64_t)pt_vocab_size(col))
                                  : (int)(rng_splitmix64(&rng) % 70000) - 35000;
                t[cell] = (int16_t)v;
            }
        }
        RaspProgram p;
        err[0] = 0;
        if (pt_decode(t, NULL, 0, 0, &p, err, sizeof err) != 0) {
            failed++;
            CHECK(err[0] != 0);
            rasp_program_free(&p);
            continue;
        }
        decoded++;
        int16_t c[PT_ROWS * PT_COLS];
        CHECK_MSG(pt_encode(&p, c, err, sizeof err) == 0, "%s", err);
        rasp_program_free(&p);
        RaspProgram q;
        CHECK_MSG(pt_decode(c, NULL, 0, 0, &q, err, sizeof err) == 0, "%s", err);
        rasp_program_free(&q);
    }
    CHECK(decoded > 100 && failed > 1000);
    gen_sampler_free(s);
}

/* Programs outside the token language are refused with the label and the reason. */
static void test_encode_refuses(void) {
    RaspProgram p;
    rasp_program_init(&p);
    RaspExpr e;
    memset(&e, 0, sizeof e);
    e.kind = EXPR_TOKENS;
    e.label = e.name = "tokens";
    e.child[0] = e.child[1] = -1;
    int tok = rasp_add_expr(&p, &e);
    Lambda *f = arena_alloc(&p.arena, sizeof *f);
    f->n_params = 1;
    f->params[0] = "x";
    f->body = py_binary(&p.arena, PYB_ADD, py_param(&p.arena, 0), py_const(&p.arena, val_int(7)));
    memset(&e, 0, sizeof e);
    e.kind = EXPR_MAP;
    e.label = e.name = "m";
    e.child[0] = tok;
    e.child[1] = -1;
    e.fn = f;
    p.output = rasp_add_expr(&p, &e);
    int16_t t[PT_ROWS * PT_COLS];
    char err[256] = "";
    CHECK(pt_encode(&p, t, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "m: function `x + 7` is not in the lambda library") != NULL, "%s", err);
    /* The library's own x + 1 is accepted. */
    f->body = py_binary(&p.arena, PYB_ADD, py_param(&p.arena, 0), py_const(&p.arena, val_int(1)));
    CHECK_MSG(pt_encode(&p, t, err, sizeof err) == 0, "%s", err);
    CHECK(t[PT_COLS + PT_COL_FN] == fn_id("add1"));
    p.output = tok;
    CHECK(pt_encode(&p, t, err, sizeof err) != 0);
    CHECK(strstr(err, "needs at least one operation") != NULL);
    rasp_program_free(&p);
}

int main(void) {
    RUN(test_vocab);
    RUN(test_canonical_by_hand);
    RUN(test_roundtrip_samples);
    RUN(test_errors);
    RUN(test_fuzz_tables);
    RUN(test_encode_refuses);
    TEST_END();
}
