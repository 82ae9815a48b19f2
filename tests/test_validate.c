/* Validation: every static reason of Tracr's validating.py (wording copied from its
 * exceptions), Tracr's UNSUPPORTED_TEST_CASES, the two dynamic failures of
 * validating_test.py, and each compile-time failure of docs/tracr.md §5.1. */
#include "rasp_build.h"
#include "test.h"

static PyExpr *X(RaspProgram *p) { return py_param(&p->arena, 0); }
static PyExpr *Y(RaspProgram *p) { return py_param(&p->arena, 1); }
static PyExpr *K(RaspProgram *p, Value v) { return py_const(&p->arena, v); }
static PyExpr *BIN(RaspProgram *p, PyBinOp op, PyExpr *a, PyExpr *b) {
    return py_binary(&p->arena, op, a, b);
}

static Value V123[4];
static const Value *v123(void) {
    for (int i = 0; i < 4; i++) V123[i] = val_int(i + 1);
    return V123;
}

static int numtok(RaspProgram *p) {
    RaspExpr e = rb_blank(EXPR_TOKENS);
    e.enc = ENC_NUMERICAL;
    return rb_add(p, e, NULL);
}
static int numidx(RaspProgram *p) {
    RaspExpr e = rb_blank(EXPR_INDICES);
    e.enc = ENC_NUMERICAL;
    return rb_add(p, e, NULL);
}
/* numerical(Map(lambda x: x, sop)) */
static int num_id(RaspProgram *p, int sop) { return rb_map(p, X(p), sop, ENC_NUMERICAL, NULL); }

static bool report_has(const RaspReport *r, const char *msg) {
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->items[i].msg, msg) == 0) return true;
    fprintf(stderr, "  missing issue: %s\n  have:\n", msg);
    for (int i = 0; i < r->n; i++)
        fprintf(stderr, "    [%d] %s\n", r->items[i].expr, r->items[i].msg);
    return false;
}

static int run_static(RaspProgram *p, RaspReport *r) {
    rasp_report_init(r);
    return rasp_validate_static(p, r);
}

/* ---- static reasons ------------------------------------------------------------------- */
static void test_static_numerical_primitives(void) {
    RaspProgram p;
    RaspReport r;
    rasp_program_init(&p);
    rb_finish(&p, numtok(&p));
    CHECK(run_static(&p, &r) == 1);
    CHECK_STR(r.items[0].msg, "tokens: tokens should always be categorical.");
    CHECK(r.items[0].expr == 0);
    rasp_report_free(&r);
    rasp_program_free(&p);

    rasp_program_init(&p);
    rb_finish(&p, numidx(&p));
    CHECK(run_static(&p, &r) == 1);
    CHECK_STR(r.items[0].msg,
              "indices: tokens should always be categorical."); /* Tracr's wording */
    rasp_report_free(&r);
    rasp_program_free(&p);
}

static void test_static_select(void) {
    RaspProgram p;
    RaspReport r;
    /* UNSUPPORTED numerical_selector */
    rasp_program_init(&p);
    int t = rb_tokens(&p);
    int a = num_id(&p, t), b = num_id(&p, t);
    int s = rb_select(&p, a, b, PRED_LT, NULL);
    int w = rb_selwidth(&p, s, ENC_CATEGORICAL, NULL);
    rb_finish(&p, w);
    CHECK(run_static(&p, &r) == 1);
    CHECK_STR(r.items[0].msg, "select_2: Select keys must be categorical.");
    rasp_report_free(&r);
    rasp_program_free(&p);

    rasp_program_init(&p);
    t = rb_tokens(&p);
    b = num_id(&p, t);
    s = rb_select(&p, t, b, PRED_LT, NULL);
    w = rb_selwidth(&p, s, ENC_CATEGORICAL, NULL);
    rb_finish(&p, w);
    CHECK(run_static(&p, &r) == 1);
    CHECK_STR(r.items[0].msg, "select_2: Select queries must be categorical.");
    rasp_report_free(&r);
    rasp_program_free(&p);
}

static void test_static_aggregate(void) {
    RaspProgram p;
    RaspReport r;
    /* UNSUPPORTED numerical_categorical_aggregate: categorical aggregate of a numerical SOp */
    rasp_program_init(&p);
    int t = rb_tokens(&p);
    int s = rb_select(&p, t, t, PRED_TRUE, NULL);
    int a = rb_aggregate(&p, s, num_id(&p, t), val_none(), ENC_CATEGORICAL, NULL);
    rb_finish(&p, a);
    CHECK(run_static(&p, &r) == 1);
    CHECK_STR(r.items[0].msg,
              "aggregate_1: An aggregate's output encoding must match its input encoding. "
              "Input: Encoding.CATEGORICAL   Output: Encoding.NUMERICAL  ");
    rasp_report_free(&r);
    rasp_program_free(&p);

    /* UNSUPPORTED categorical_numerical_aggregate */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    s = rb_select(&p, t, t, PRED_TRUE, NULL);
    a = rb_aggregate(&p, s, t, val_none(), ENC_NUMERICAL, NULL);
    rb_finish(&p, a);
    CHECK(run_static(&p, &r) == 1);
    CHECK_STR(r.items[0].msg,
              "aggregate_1: An aggregate's output encoding must match its input encoding. "
              "Input: Encoding.NUMERICAL   Output: Encoding.CATEGORICAL  ");
    rasp_report_free(&r);
    rasp_program_free(&p);

    /* categorical aggregate with a default */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    s = rb_select(&p, t, t, PRED_TRUE, NULL);
    a = rb_aggregate(&p, s, t, val_int(0), ENC_CATEGORICAL, NULL);
    rb_finish(&p, a);
    CHECK(run_static(&p, &r) == 1);
    CHECK_STR(r.items[0].msg,
              "aggregate_1: Categorical aggregate only supports None as default value.");
    rasp_report_free(&r);
    rasp_program_free(&p);

    /* UNSUPPORTED aggregate_with_not_None_default (numerical, default 1), and default None */
    for (int k = 0; k < 3; k++) {
        rasp_program_init(&p);
        int i = rb_indices(&p);
        int tn = num_id(&p, rb_tokens(&p));
        s = rb_select(&p, i, i, PRED_EQ, NULL);
        Value d = k == 0 ? val_int(1) : k == 1 ? val_none() : val_bool(false);
        a = rb_aggregate(&p, s, tn, d, ENC_NUMERICAL, NULL);
        rb_finish(&p, a);
        if (k < 2) {
            CHECK(run_static(&p, &r) == 1);
            CHECK_STR(r.items[0].msg,
                      "aggregate_1: Numerical aggregate only supports 0 as default value.");
        } else {
            CHECK(run_static(&p, &r) == 0); /* False == 0 */
        }
        rasp_report_free(&r);
        rasp_program_free(&p);
    }
}

static void test_static_sequence_maps(void) {
    RaspProgram p;
    RaspReport r;
    /* UNSUPPORTED numerical_SequenceMap */
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    int sm = rb_seqmap(&p, BIN(&p, PYB_ADD, X(&p), Y(&p)), num_id(&p, i), num_id(&p, t),
                       ENC_NUMERICAL, NULL);
    rb_finish(&p, sm);
    CHECK(run_static(&p, &r) == 1);
    CHECK_STR(r.items[0].msg,
              "sequence_map_1: (Non-linear) SequenceMap only supports categorical inputs/outputs.");
    rasp_report_free(&r);
    rasp_program_free(&p);

    /* UNSUPPORTED categorical_LinearSequenceMap */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    i = rb_indices(&p);
    int lin = rb_linseqmap(&p, i, t, val_int(1), val_int(1), ENC_CATEGORICAL, NULL);
    rb_finish(&p, lin);
    CHECK(run_static(&p, &r) == 1);
    CHECK_STR(r.items[0].msg,
              "linear_sequence_map_1: LinearSequenceMap only supports numerical inputs/outputs.");
    rasp_report_free(&r);
    rasp_program_free(&p);
}

/* static_validate skips a child whose *name* was already visited (§1.6, §5.2.10) */
static void test_static_dedup_by_name(void) {
    RaspProgram p;
    RaspReport r;
    rasp_program_init(&p);
    int t = rb_tokens(&p);
    int s = rb_select(&p, t, t, PRED_TRUE, NULL);
    int agg1 = rb_aggregate(&p, s, t, val_int(1), ENC_CATEGORICAL, "agg");
    int agg2 = rb_aggregate(&p, s, t, val_int(2), ENC_CATEGORICAL, "agg");
    int mm = rb_map(&p, X(&p), agg2, ENC_CATEGORICAL, "mm");
    int out = rb_seqmap(&p, BIN(&p, PYB_ADD, X(&p), Y(&p)), agg1, mm, ENC_CATEGORICAL, "out");
    rb_finish(&p, out);
    CHECK(run_static(&p, &r) == 1);
    CHECK(r.items[0].expr == agg1);
    CHECK_STR(r.items[0].msg, "agg: Categorical aggregate only supports None as default value.");
    rasp_report_free(&r);
    /* both siblings are enqueued before either is visited, so both are checked */
    p.exprs[out].child[1] = agg2;
    CHECK(run_static(&p, &r) == 2);
    rasp_report_free(&r);
    /* the compiler's block builder re-checks what static_validate skipped */
    p.exprs[out].child[1] = mm;
    rasp_report_init(&r);
    rasp_validate_compilable(&p, v123(), 3, 5, &r);
    CHECK(report_has(
        &r, "agg: NotImplementedError: Default for a categorical aggregate must be None. Got 2"));
    CHECK(r.n == 2);
    rasp_report_free(&r);
    rasp_program_free(&p);

    /* the same for a Select with numerical keys and for a SequenceMap / LinearSequenceMap */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    int i = rb_indices(&p);
    int nt = num_id(&p, t);
    int a = rb_map(&p, X(&p), t, ENC_CATEGORICAL, "s");
    s = rb_select(&p, nt, t, PRED_EQ, "s");
    int w = rb_selwidth(&p, s, ENC_CATEGORICAL, "w");
    int b = rb_map(&p, X(&p), t, ENC_CATEGORICAL, "q");
    int sm = rb_seqmap(&p, BIN(&p, PYB_ADD, X(&p), Y(&p)), nt, i, ENC_CATEGORICAL, "q");
    int lin = rb_linseqmap(&p, i, i, val_int(1), val_int(1), ENC_NUMERICAL, "q");
    int m1 = rb_map(&p, X(&p), sm, ENC_CATEGORICAL, "m1");
    int m2 = rb_map(&p, X(&p), lin, ENC_CATEGORICAL, "m2");
    int s1 = rb_seqmap(&p, BIN(&p, PYB_ADD, X(&p), Y(&p)), a, w, ENC_CATEGORICAL, "s1");
    int s2 = rb_seqmap(&p, BIN(&p, PYB_ADD, X(&p), Y(&p)), b, m1, ENC_CATEGORICAL, "s2");
    int s3 = rb_seqmap(&p, BIN(&p, PYB_ADD, X(&p), Y(&p)), s1, s2, ENC_CATEGORICAL, "s3");
    /* two more levels, so that m2 is visited after b has made the name "q" visited */
    int m3 = rb_map(&p, X(&p), rb_map(&p, X(&p), m2, ENC_CATEGORICAL, "m4"), ENC_CATEGORICAL, "m3");
    int out2 = rb_seqmap(&p, BIN(&p, PYB_ADD, X(&p), Y(&p)), s3, m3, ENC_CATEGORICAL, "out");
    rb_finish(&p, out2);
    CHECK(run_static(&p, &r) == 0);
    rasp_report_free(&r);
    rasp_report_init(&r);
    rasp_validate_compilable(&p, v123(), 3, 5, &r);
    CHECK(report_has(&r, "w: NotImplementedError: Selector keys and queries must be categorical."));
    CHECK(report_has(
        &r,
        "q: NotImplementedError: (Non-linear) SequenceMap only supports categorical inputs/outputs."));
    CHECK(report_has(
        &r, "q: NotImplementedError: Linear SequenceMap only supports numerical inputs/outputs."));
    rasp_report_free(&r);
    rasp_program_free(&p);
}

/* ---- dynamic --------------------------------------------------------------------------- */
static void test_dynamic_failures(void) {
    Value xs[4] = {val_int(1), val_int(2), val_int(3), val_int(4)};
    Pred preds[2] = {PRED_TRUE, PRED_LEQ}; /* "mean" and "prev_mean" */
    for (int k = 0; k < 2; k++) {
        RaspProgram p;
        RaspReport r;
        rasp_program_init(&p);
        int t = rb_tokens(&p);
        int s = rb_select(&p, t, t, preds[k], NULL);
        int a = rb_aggregate(&p, s, t, val_none(), ENC_CATEGORICAL, NULL);
        rb_finish(&p, a);
        CHECK(run_static(&p, &r) == 0);
        CHECK(rasp_validate_dynamic(&p, xs, 4, &r) == 1);
        CHECK_STR(r.items[0].msg,
                  "aggregate_1: Categorical aggregate does not support Selectors with width > 1 "
                  "that require aggregation (eg. averaging).");
        rasp_report_free(&r);
        /* a width-1 selector moves values and passes */
        p.exprs[s].pred = PRED_EQ;
        rasp_report_init(&r);
        CHECK(rasp_validate_dynamic(&p, xs, 4, &r) == 0);
        rasp_report_free(&r);
        rasp_program_free(&p);
    }

    /* UNSUPPORTED numerical_numerical_aggregate: static-clean, flagged on input [1,2,3] */
    RaspProgram p;
    RaspReport r;
    rasp_program_init(&p);
    int t = rb_tokens(&p);
    int s = rb_select(&p, t, t, PRED_TRUE, NULL);
    int a = rb_aggregate(&p, s, num_id(&p, t), val_int(0), ENC_NUMERICAL, NULL);
    rb_finish(&p, a);
    CHECK(run_static(&p, &r) == 0);
    Value in3[3] = {val_int(3), val_int(1), val_int(2)};
    CHECK(rasp_validate_dynamic(&p, in3, 3, &r) == 1);
    CHECK_STR(
        r.items[0].msg,
        "aggregate_1: Numerical aggregate only supports binary inputs 0, 1. But got {1, 2, 3}.");
    rasp_report_free(&r);
    rasp_report_init(&r);
    Value in01[3] = {val_int(0), val_int(1), val_bool(true)};
    CHECK(rasp_validate_dynamic(&p, in01, 3, &r) == 0);
    rasp_report_free(&r);
    /* ... and compiling fails in value-set inference */
    rasp_report_init(&r);
    rasp_validate_compilable(&p, v123(), 3, 5, &r);
    CHECK(report_has(
        &r, "aggregate_1: NotImplementedError: Attention patterns can currently only average "
            "binary variables. Not: {1, 2, 3}"));
    rasp_report_free(&r);
    /* an evaluation error is an issue too */
    rasp_report_init(&r);
    Value bad[2] = {val_int(1), val_none()};
    p.exprs[s].pred = PRED_EQ;
    CHECK(rasp_validate_dynamic(&p, bad, 2, &r) == 1);
    CHECK_STR(r.items[0].msg, "select_2: ValueError: key is None!");
    rasp_report_free(&r);
    rasp_program_free(&p);
}

/* ---- supported programs validate clean ---------------------------------------------------- */
static void test_supported_clean(void) {
    RaspProgram p;
    RaspReport r;
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    int bools = rb_map(&p, py_cmp2(&p.arena, PYC_EQ, X(&p), K(&p, val_str("l"))), t, ENC_NUMERICAL,
                       "bools");
    int prevs = rb_select(&p, i, i, PRED_LEQ, "prevs");
    int frac = rb_aggregate(&p, prevs, bools, val_int(0), ENC_NUMERICAL, "frac_prevs");
    rb_finish(&p, frac);
    Value hello[5] = {val_str("h"), val_str("e"), val_str("l"), val_str("l"), val_str("o")};
    Value vocab[4] = {val_str("e"), val_str("h"), val_str("l"), val_str("o")};
    rasp_report_init(&r);
    CHECK(rasp_validate_static(&p, &r) == 0);
    CHECK(rasp_validate_dynamic(&p, hello, 5, &r) == 0);
    CHECK(rasp_validate_compilable(&p, vocab, 4, 5, &r) == 0);
    rasp_report_free(&r);
    rasp_program_free(&p);

    /* make_reverse */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    i = rb_indices(&p);
    int all = rb_select(&p, t, t, PRED_TRUE, NULL);
    int len = rb_selwidth(&p, all, ENC_CATEGORICAL, "length");
    int opp = rb_seqmap(&p, BIN(&p, PYB_SUB, X(&p), Y(&p)), len, i, ENC_CATEGORICAL, "opp_idx");
    int opp1 =
        rb_map(&p, BIN(&p, PYB_SUB, X(&p), K(&p, val_int(1))), opp, ENC_CATEGORICAL, "opp_idx-1");
    int flip = rb_select(&p, i, opp1, PRED_EQ, NULL);
    int rev = rb_aggregate(&p, flip, t, val_none(), ENC_CATEGORICAL, "reverse");
    rb_finish(&p, rev);
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, vocab, 4, 5, &r) == 0);
    CHECK(rasp_validate_dynamic(&p, hello, 5, &r) == 0);
    rasp_report_free(&r);
    rasp_program_free(&p);
}

/* ---- compile-time failures (§5.1) --------------------------------------------------------- */
static void test_compile_bos_pad(void) {
    RaspProgram p;
    RaspReport r;
    rasp_program_init(&p);
    int t = rb_tokens(&p);
    int m = rb_map(&p, X(&p), t, ENC_CATEGORICAL, NULL);
    rb_finish(&p, m);
    Value v[3] = {val_str("a"), val_str("compiler_bos"), val_str("compiler_pad")};
    rasp_report_init(&r);
    rasp_validate_compilable(&p, v, 3, 2, &r);
    CHECK(report_has(
        &r, "vocab: ValueError: Compiler BOS token must not be present in the vocab. Found "
            "'compiler_bos' in {'a', 'compiler_bos', 'compiler_pad'}"));
    CHECK(report_has(
        &r, "vocab: ValueError: Compiler PAD token must not be present in the vocab. Found "
            "'compiler_pad' in {'a', 'compiler_bos', 'compiler_pad'}"));
    CHECK(r.n == 2 && r.items[0].expr == -1);
    rasp_report_free(&r);
    rasp_program_free(&p);
}

static void test_compile_structure(void) {
    RaspProgram p;
    RaspReport r;
    /* Full as a node */
    rasp_program_init(&p);
    int t = rb_tokens(&p);
    int f = rb_full(&p, val_int(1), NULL);
    int sm = rb_seqmap(&p, BIN(&p, PYB_ADD, X(&p), Y(&p)), t, f, ENC_CATEGORICAL, NULL);
    rb_finish(&p, sm);
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, v123(), 3, 3, &r) == 1);
    CHECK_STR(r.items[0].msg,
              "full_2: NotImplementedError: Expression full_2 (a Full) cannot be translated to a "
              "model component.");
    rasp_report_free(&r);
    rasp_program_free(&p);

    /* Aggregate over an unsimplified SelectorAnd; SelectorWidth over a SelectorNot */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    int i = rb_indices(&p);
    int s1 = rb_select(&p, t, t, PRED_EQ, NULL), s2 = rb_select(&p, i, i, PRED_LEQ, NULL);
    int sa = rb_selcomb(&p, EXPR_SEL_AND, s1, s2, NULL);
    int agg = rb_aggregate(&p, sa, t, val_none(), ENC_CATEGORICAL, "agg");
    int sn = rb_selcomb(&p, EXPR_SEL_NOT, s1, -1, NULL);
    int w = rb_selwidth(&p, sn, ENC_CATEGORICAL, "w");
    int out = rb_seqmap(&p, BIN(&p, PYB_ADD, X(&p), Y(&p)), agg, w, ENC_CATEGORICAL, "out");
    rb_finish(&p, out);
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, v123(), 3, 3, &r) == 2);
    CHECK(report_has(
        &r, "agg: TypeError: Compiling composite Selectors is not supported. Got a SelectorAnd "
            "(selector_and_4)."));
    CHECK(report_has(&r, "w: AttributeError: 'SelectorNot' object has no attribute 'keys'"));
    rasp_report_free(&r);
    rasp_program_free(&p);

    /* just tokens: no block, and UNSUPPORTED numerical_tokens */
    rasp_program_init(&p);
    t = numtok(&p);
    rb_finish(&p, t);
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, v123(), 3, 3, &r) == 2);
    CHECK_STR(r.items[0].msg, "tokens: tokens should always be categorical.");
    CHECK_STR(r.items[1].msg,
              "tokens: ValueError: min() arg is an empty sequence (the program has no MLP or "
              "attention block to allocate to a layer)");
    rasp_report_free(&r);
    rasp_program_free(&p);

    /* output that does not depend on tokens */
    rasp_program_init(&p);
    i = rb_indices(&p);
    int m = rb_map(&p, BIN(&p, PYB_ADD, X(&p), K(&p, val_int(1))), i, ENC_CATEGORICAL, NULL);
    rb_finish(&p, m);
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, v123(), 3, 3, &r) == 1);
    CHECK_STR(
        r.items[0].msg,
        "map_1: ValueError: Failed to find a node with label tokens. This is probably because "
        "your RASP program does not include rasp.tokens. A program must include "
        "rasp.tokens to be compiled.");
    rasp_report_free(&r);
    rasp_program_free(&p);

    /* a selector as output; no output at all */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    int s = rb_select(&p, t, t, PRED_TRUE, "sel");
    rb_finish(&p, s);
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, v123(), 3, 3, &r) == 1);
    CHECK_STR(r.items[0].msg, "sel: TypeError: the output must be an SOp, not a selector");
    rasp_report_free(&r);
    p.output = -1;
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, v123(), 3, 3, &r) == 1);
    CHECK_STR(r.items[0].msg, "program: ValueError: the program has no output");
    rasp_report_free(&r);
    rasp_program_free(&p);
}

static void test_compile_functions(void) {
    RaspProgram p;
    RaspReport r;
    Value v01[2] = {val_int(0), val_int(1)};
    /* categorical Map whose f raises ZeroDivisionError on its value set: Tracr crashes */
    rasp_program_init(&p);
    int t = rb_tokens(&p);
    int m = rb_map(&p, BIN(&p, PYB_DIV, K(&p, val_int(1)), X(&p)), t, ENC_CATEGORICAL, NULL);
    rb_finish(&p, m);
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, v01, 2, 3, &r) == 1);
    CHECK_STR(r.items[0].msg, "map_1: ZeroDivisionError: division by zero");
    rasp_report_free(&r);
    /* the numerical (cat->num) version crashes as well: f is called for every input value */
    p.exprs[m].enc = ENC_NUMERICAL;
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, v01, 2, 3, &r) == 1);
    CHECK_STR(r.items[0].msg, "map_1: ZeroDivisionError: division by zero");
    rasp_report_free(&r);
    rasp_program_free(&p);

    /* cat->num Map that returns a string */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    m = rb_map(&p, K(&p, val_str("a")), t, ENC_NUMERICAL, NULL);
    rb_finish(&p, m);
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, v01, 2, 3, &r) == 1);
    CHECK_STR(r.items[0].msg,
              "map_1: TypeError: a numerical Map must give a number, but gives 'a' for 0 (Tracr "
              "multiplies it with a vector)");
    rasp_report_free(&r);
    rasp_program_free(&p);

    /* categorical SequenceMap: 1 / (x == y) raises off the diagonal only */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    PyExpr *body = BIN(&p, PYB_DIV, K(&p, val_int(1)), py_cmp2(&p.arena, PYC_EQ, X(&p), Y(&p)));
    int same = rb_seqmap(&p, body, t, t, ENC_CATEGORICAL, NULL);
    rb_finish(&p, same);
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, v01, 2, 3, &r) == 0); /* same node: only f(x, x) */
    rasp_report_free(&r);
    int id = rb_map(&p, X(&p), t, ENC_CATEGORICAL, "ident");
    int diff = rb_seqmap(&p, body, t, id, ENC_CATEGORICAL, "pairs");
    rb_finish(&p, diff);
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, v01, 2, 3, &r) == 1);
    CHECK_STR(r.items[0].msg, "pairs: ZeroDivisionError: division by zero");
    rasp_report_free(&r);
    rasp_program_free(&p);

    /* numerical-input Map defined on no input value: the discretising MLP has no outputs */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    int zero = rb_map(&p, K(&p, val_int(0)), t, ENC_NUMERICAL, "zero");
    int inv = rb_map(&p, BIN(&p, PYB_DIV, K(&p, val_int(1)), X(&p)), zero, ENC_NUMERICAL, "inv");
    inv = rb_map(&p, X(&p), inv, ENC_NUMERICAL, NULL);
    rb_finish(&p, p.n_exprs - 2); /* output = inv */
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, v01, 2, 3, &r) == 1);
    CHECK_STR(r.items[0].msg,
              "inv: IndexError: list index out of range (the function is undefined on every "
              "value of its numerical input)");
    rasp_report_free(&r);
    /* ... and a numerical Map that gives a string from a numerical input */
    int strm = rb_map(&p, K(&p, val_str("s")), zero, ENC_NUMERICAL, "strm");
    rb_finish(&p, strm);
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, v01, 2, 3, &r) == 1);
    CHECK_STR(r.items[0].msg, "strm: TypeError: a numerical Map must give a number, but gives 's'");
    rasp_report_free(&r);
    rasp_program_free(&p);

    /* a Select predicate that raises on its value sets: 'a' < 0 */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    int i = rb_indices(&p);
    int s = rb_select(&p, t, i, PRED_LT, NULL);
    int w = rb_selwidth(&p, s, ENC_CATEGORICAL, "w");
    rb_finish(&p, w);
    Value va[1] = {val_str("a")};
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, va, 1, 3, &r) == 1);
    CHECK_STR(r.items[0].msg,
              "w: TypeError: '<' not supported between instances of 'str' and 'int'");
    rasp_report_free(&r);
    rasp_program_free(&p);
}

/* §2.6 Crash: Aggregate(Select(indices, indices, EQ), tokens), 20 tokens, N=3 */
static void test_compile_head_too_wide(void) {
    RaspProgram p;
    RaspReport r;
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    int s = rb_select(&p, i, i, PRED_EQ, NULL);
    int a = rb_aggregate(&p, s, t, val_none(), ENC_CATEGORICAL, NULL);
    rb_finish(&p, a);
    Value v[20];
    for (int k = 0; k < 20; k++) v[k] = val_int(k);
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, v, 20, 3, &r) == 1);
    /* key_size = max(|Q|+2, |K|+1) = max(5, 4) */
    CHECK_STR(r.items[0].msg,
              "aggregate_1: ValueError: the head's output width 20 exceeds key_size 5, so Tracr's "
              "assembly fails to broadcast its value matrix");
    rasp_report_free(&r);
    /* 5 tokens fit */
    rasp_report_init(&r);
    CHECK(rasp_validate_compilable(&p, v, 5, 3, &r) == 0);
    rasp_report_free(&r);
    rasp_program_free(&p);
}

static void test_report_basics(void) {
    RaspReport r;
    rasp_report_init(&r);
    for (int k = 0; k < 20; k++) rasp_report_add(&r, k, "issue %d", k);
    CHECK(r.n == 20 && r.items[19].expr == 19);
    CHECK_STR(r.items[7].msg, "issue 7");
    rasp_report_free(&r);
    CHECK(r.n == 0 && r.items == NULL);
}

int main(void) {
    RUN(test_static_numerical_primitives);
    RUN(test_static_select);
    RUN(test_static_aggregate);
    RUN(test_static_sequence_maps);
    RUN(test_static_dedup_by_name);
    RUN(test_dynamic_failures);
    RUN(test_supported_clean);
    RUN(test_compile_bos_pad);
    RUN(test_compile_structure);
    RUN(test_compile_functions);
    RUN(test_compile_head_too_wide);
    RUN(test_report_basics);
    TEST_END();
}
