/* The reference evaluator: every primitive and Tracr's corner cases (docs/tracr.md §1),
 * labels and BFS order (§1.1, §2.1). Expected values are worked out by hand from Tracr's
 * rasp.py semantics, or are the outputs listed in docs/tracr.md §4. */
#include "rasp_build.h"
#include "test.h"

static Arena *AR(RaspProgram *p) { return &p->arena; }
static PyExpr *X(RaspProgram *p) { return py_param(AR(p), 0); }
static PyExpr *Y(RaspProgram *p) { return py_param(AR(p), 1); }
static PyExpr *K(RaspProgram *p, Value v) { return py_const(AR(p), v); }

static Value *ints(const int *v, int n) {
    static Value buf[32];
    for (int i = 0; i < n; i++) buf[i] = val_int(v[i]);
    return buf;
}
static Value *strs(const char *s) {
    static Value buf[32];
    for (int i = 0; s[i]; i++) buf[i] = val_strn(s + i, 1);
    return buf;
}

static int eval_ok(RaspProgram *p, const Value *xs, int n, bool causal, Value *out) {
    char err[300];
    int rc = rasp_interp(p, xs, n, causal, out, err, sizeof err);
    if (rc) fprintf(stderr, "  eval error: %s\n", err);
    return rc == 0;
}

static void test_primitives(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    int m =
        rb_map(&p, py_binary(AR(&p), PYB_ADD, X(&p), K(&p, val_int(1))), t, ENC_CATEGORICAL, NULL);
    int sm = rb_seqmap(&p, py_binary(AR(&p), PYB_ADD, X(&p), Y(&p)), m, i, ENC_CATEGORICAL, NULL);
    rb_finish(&p, sm);
    Value out[3];
    CHECK(eval_ok(&p, ints((int[]){1, 2, 3}, 3), 3, false, out));
    /* (x+1) + i */
    CHECK(val_eq(out[0], val_int(2)) && val_eq(out[1], val_int(4)) && val_eq(out[2], val_int(6)));
    RaspTrace tr;
    char err[200];
    CHECK(rasp_interp_trace(&p, ints((int[]){1, 2, 3}, 3), 3, false, &tr, err, sizeof err) == 0);
    CHECK(tr.done[t] && tr.done[i] && tr.done[m] && tr.done[sm]);
    CHECK(val_eq(tr.sop[(size_t)i * 3 + 2], val_int(2)));
    CHECK(val_eq(tr.sop[(size_t)t * 3 + 1], val_int(2)));
    rasp_trace_free(&tr);
    /* empty input gives empty output */
    CHECK(eval_ok(&p, NULL, 0, false, out));
    rasp_program_free(&p);
}

static void test_linear_and_full(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    int lin = rb_linseqmap(&p, t, i, val_int(2), val_float(-0.5), ENC_NUMERICAL, NULL);
    rb_finish(&p, lin);
    Value out[3];
    CHECK(eval_ok(&p, ints((int[]){1, 2, 3}, 3), 3, false, out));
    /* 2*x - 0.5*i */
    CHECK(out[0].kind == VAL_FLOAT && out[0].u.f == 2.0);
    CHECK(out[1].u.f == 3.5 && out[2].u.f == 5.0);
    rasp_program_free(&p);

    rasp_program_init(&p);
    int f = rb_full(&p, val_str("z"), NULL);
    rb_finish(&p, f);
    CHECK(eval_ok(&p, ints((int[]){1, 2}, 2), 2, false, out));
    CHECK_STR(out[0].u.s, "z");
    CHECK_STR(out[1].u.s, "z");
    CHECK_STR(p.exprs[f].label, "full_1");
    rasp_program_free(&p);
}

/* Select(tokens, tokens, pred) on [0, 1]; expected [query][key] matrices from rasp_test. */
static void test_select_comparisons(void) {
    static const struct {
        Pred pred;
        unsigned char m[4];
    } cases[] = {
        {PRED_EQ, {1, 0, 0, 1}},   {PRED_LT, {0, 0, 1, 0}},    {PRED_LEQ, {1, 0, 1, 1}},
        {PRED_GT, {0, 1, 0, 0}},   {PRED_GEQ, {1, 1, 0, 1}},   {PRED_NEQ, {0, 1, 1, 0}},
        {PRED_TRUE, {1, 1, 1, 1}}, {PRED_FALSE, {0, 0, 0, 0}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        RaspProgram p;
        rasp_program_init(&p);
        int t = rb_tokens(&p);
        int s = rb_select(&p, t, t, cases[c].pred, NULL);
        int w = rb_selwidth(&p, s, ENC_CATEGORICAL, NULL);
        rb_finish(&p, w);
        RaspTrace tr;
        char err[200];
        CHECK(rasp_interp_trace(&p, ints((int[]){0, 1}, 2), 2, false, &tr, err, sizeof err) == 0);
        CHECK_MSG(memcmp(tr.sel + (size_t)s * 4, cases[c].m, 4) == 0, "pred %s",
                  rasp_pred_name(cases[c].pred));
        rasp_trace_free(&tr);
        rasp_program_free(&p);
    }
}

static void test_lambda_predicate_gets_key_then_query(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int i = rb_indices(&p), t = rb_tokens(&p);
    /* shift_by(1): lambda k, q: q == k + 1 */
    PyExpr *body =
        py_cmp2(AR(&p), PYC_EQ, Y(&p), py_binary(AR(&p), PYB_ADD, X(&p), K(&p, val_int(1))));
    int s = rb_select_fn(&p, i, i, body, NULL);
    int a = rb_aggregate(&p, s, t, val_none(), ENC_CATEGORICAL, "shift_by(1)");
    rb_finish(&p, a);
    Value out[4];
    CHECK(eval_ok(&p, strs("abcd"), 4, false, out));
    /* §4.10: "abcd" -> [None, a, b, c] */
    CHECK(out[0].kind == VAL_NONE);
    CHECK_STR(out[1].u.s, "a");
    CHECK_STR(out[2].u.s, "b");
    CHECK_STR(out[3].u.s, "c");
    rasp_program_free(&p);
}

static void test_aggregate_rules(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    /* key >= query on indices: [[T,T],[F,T]] */
    int s = rb_select(&p, i, i, PRED_GEQ, NULL);
    int a = rb_aggregate(&p, s, t, val_none(), ENC_NUMERICAL, NULL);
    rb_finish(&p, a);
    Value out[2];
    CHECK(eval_ok(&p, ints((int[]){0, 1}, 2), 2, false, out));
    CHECK(out[0].kind == VAL_FLOAT && out[0].u.f == 0.5);
    CHECK(out[1].kind == VAL_INT && out[1].u.i == 1); /* single selected value keeps its type */
    rasp_program_free(&p);

    /* nothing selected -> default */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    s = rb_select(&p, t, t, PRED_FALSE, NULL);
    a = rb_aggregate(&p, s, t, val_int(7), ENC_CATEGORICAL, NULL);
    rb_finish(&p, a);
    CHECK(eval_ok(&p, ints((int[]){3, 4}, 2), 2, false, out));
    CHECK(val_eq(out[0], val_int(7)) && val_eq(out[1], val_int(7)));
    rasp_program_free(&p);

    /* mean of strings is Tracr's ValueError, even of identical strings */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    s = rb_select(&p, t, t, PRED_TRUE, NULL);
    a = rb_aggregate(&p, s, t, val_none(), ENC_CATEGORICAL, NULL);
    rb_finish(&p, a);
    char err[300];
    CHECK(rasp_interp(&p, strs("aa"), 2, false, out, err, sizeof err) != 0);
    CHECK_STR(err, "aggregate_1: ValueError: Only types int, bool, and float are supported for "
                   "aggregation. Received sequence: ['a', 'a']");
    /* ... but one element is fine */
    CHECK(eval_ok(&p, strs("a"), 1, false, out));
    CHECK_STR(out[0].u.s, "a");
    /* causal: position 0 sees only itself, position 1 averages -> error */
    CHECK(rasp_interp(&p, strs("ab"), 2, true, out, err, sizeof err) != 0);
    rasp_program_free(&p);
}

/* make_frac_prevs(tokens == "l"): §4.7, "hello" -> [False, 0.0, 1/3, 1/2, 2/5] */
static void test_frac_prevs(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    int bools =
        rb_map(&p, py_cmp2(AR(&p), PYC_EQ, X(&p), K(&p, val_str("l"))), t, ENC_NUMERICAL, "bools");
    int prevs = rb_select(&p, i, i, PRED_LEQ, "prevs");
    int frac = rb_aggregate(&p, prevs, bools, val_int(0), ENC_NUMERICAL, "frac_prevs");
    rb_finish(&p, frac);
    Value out[5];
    CHECK(eval_ok(&p, strs("hello"), 5, false, out));
    CHECK(out[0].kind == VAL_BOOL && !out[0].u.b);
    CHECK(out[1].kind == VAL_FLOAT && out[1].u.f == 0.0);
    CHECK_NEAR(out[2].u.f, 1.0 / 3, 0);
    CHECK_NEAR(out[3].u.f, 0.5, 0);
    CHECK_NEAR(out[4].u.f, 0.4, 0);
    /* "lllo" -> [True, 1.0, 1.0, 0.75] */
    CHECK(eval_ok(&p, strs("lllo"), 4, false, out));
    CHECK(out[0].kind == VAL_BOOL && out[0].u.b);
    CHECK(out[1].u.f == 1.0 && out[3].u.f == 0.75);
    /* causal evaluation gives the same (the selector is already lower-triangular) */
    CHECK(eval_ok(&p, strs("hello"), 5, true, out));
    CHECK_NEAR(out[4].u.f, 0.4, 0);
    rasp_program_free(&p);
}

/* make_length and the causal mask: "abcd" -> [4,4,4,4], causal -> [1,2,3,4] */
static void test_length_causal(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p);
    int s = rb_select(&p, t, t, PRED_TRUE, "all_true_selector");
    int len = rb_selwidth(&p, s, ENC_CATEGORICAL, "length");
    rb_finish(&p, len);
    Value out[4];
    CHECK(eval_ok(&p, strs("abcd"), 4, false, out));
    for (int k = 0; k < 4; k++) CHECK(val_eq(out[k], val_int(4)));
    CHECK(eval_ok(&p, strs("abcd"), 4, true, out));
    for (int k = 0; k < 4; k++) CHECK(val_eq(out[k], val_int(k + 1)));
    rasp_program_free(&p);
}

static void test_selector_combinators(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int i = rb_indices(&p);
    int lt = rb_select(&p, i, i, PRED_LT, NULL); /* key < query */
    int ne = rb_select(&p, i, i, PRED_NEQ, NULL);
    int eq = rb_select(&p, i, i, PRED_EQ, NULL);
    int a = rb_selcomb(&p, EXPR_SEL_AND, lt, ne, NULL);
    int o = rb_selcomb(&p, EXPR_SEL_OR, a, eq, NULL);  /* key <= query */
    int n = rb_selcomb(&p, EXPR_SEL_NOT, o, -1, NULL); /* key > query */
    int w = rb_selwidth(&p, n, ENC_CATEGORICAL, NULL);
    rb_finish(&p, w);
    RaspTrace tr;
    char err[200];
    CHECK(rasp_interp_trace(&p, ints((int[]){5, 5, 5}, 3), 3, false, &tr, err, sizeof err) == 0);
    for (int q = 0; q < 3; q++)
        for (int k = 0; k < 3; k++) {
            CHECK(tr.sel[(size_t)a * 9 + q * 3 + k] == (k < q));
            CHECK(tr.sel[(size_t)o * 9 + q * 3 + k] == (k <= q));
            CHECK(tr.sel[(size_t)n * 9 + q * 3 + k] == (k > q));
        }
    CHECK(val_eq(tr.sop[(size_t)w * 3 + 0], val_int(2)) &&
          val_eq(tr.sop[(size_t)w * 3 + 2], val_int(0)));
    rasp_trace_free(&tr);
    /* causal masks every selector, so NOT(key <= query) becomes empty */
    CHECK(rasp_interp_trace(&p, ints((int[]){5, 5, 5}, 3), 3, true, &tr, err, sizeof err) == 0);
    for (int q = 0; q < 3; q++) CHECK(val_eq(tr.sop[(size_t)w * 3 + q], val_int(0)));
    rasp_trace_free(&tr);
    rasp_program_free(&p);
}

static void test_none_handling(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int i = rb_indices(&p), t = rb_tokens(&p);
    PyExpr *body =
        py_cmp2(AR(&p), PYC_EQ, Y(&p), py_binary(AR(&p), PYB_ADD, X(&p), K(&p, val_int(1))));
    int s = rb_select_fn(&p, i, i, body, NULL);
    int shifted = rb_aggregate(&p, s, t, val_none(), ENC_CATEGORICAL, "shifted");
    /* Map x + 1 would raise TypeError on None, but Tracr never calls f on None */
    int m = rb_map(&p, py_binary(AR(&p), PYB_ADD, X(&p), K(&p, val_int(1))), shifted,
                   ENC_CATEGORICAL, "m");
    int sm = rb_seqmap(&p, py_binary(AR(&p), PYB_ADD, X(&p), Y(&p)), m, t, ENC_CATEGORICAL, "sm");
    rb_finish(&p, sm);
    Value out[3];
    CHECK(eval_ok(&p, ints((int[]){10, 20, 30}, 3), 3, false, out));
    CHECK(out[0].kind == VAL_NONE);
    CHECK(val_eq(out[1], val_int(31)) && val_eq(out[2], val_int(51)));
    rasp_program_free(&p);

    /* a comparison Select raises on a None query (and key) */
    rasp_program_init(&p);
    i = rb_indices(&p);
    t = rb_tokens(&p);
    s = rb_select_fn(&p, i, i,
                     py_cmp2(&p.arena, PYC_EQ, py_param(&p.arena, 1),
                             py_binary(&p.arena, PYB_ADD, py_param(&p.arena, 0),
                                       py_const(&p.arena, val_int(1)))),
                     NULL);
    shifted = rb_aggregate(&p, s, t, val_none(), ENC_CATEGORICAL, "shifted");
    int s2 = rb_select(&p, t, shifted, PRED_TRUE, "sel2");
    int w = rb_selwidth(&p, s2, ENC_CATEGORICAL, "w");
    rb_finish(&p, w);
    char err[200];
    CHECK(rasp_interp(&p, ints((int[]){1, 2}, 2), 2, false, out, err, sizeof err) != 0);
    CHECK_STR(err, "sel2: ValueError: query is None!");
    rasp_program_free(&p);

    rasp_program_init(&p);
    t = rb_tokens(&p);
    s = rb_select(&p, t, t, PRED_EQ, "sel");
    w = rb_selwidth(&p, s, ENC_CATEGORICAL, "w");
    rb_finish(&p, w);
    Value xs[2] = {val_int(1), val_none()};
    CHECK(rasp_interp(&p, xs, 2, false, out, err, sizeof err) != 0);
    CHECK_STR(err, "sel: ValueError: key is None!");
    rasp_program_free(&p);
}

static void test_function_errors(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p);
    int m =
        rb_map(&p, py_binary(AR(&p), PYB_DIV, K(&p, val_int(1)), X(&p)), t, ENC_CATEGORICAL, NULL);
    rb_finish(&p, m);
    Value out[2];
    char err[200];
    CHECK(eval_ok(&p, ints((int[]){1, 2}, 2), 2, false, out));
    CHECK(out[1].kind == VAL_FLOAT && out[1].u.f == 0.5);
    CHECK(rasp_interp(&p, ints((int[]){1, 0}, 2), 2, false, out, err, sizeof err) != 0);
    CHECK_STR(err, "map_1: ZeroDivisionError: division by zero");
    rasp_program_free(&p);

    /* a selector as output is refused, not evaluated as an SOp */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    int s = rb_select(&p, t, t, PRED_TRUE, "s");
    rb_finish(&p, s);
    CHECK(rasp_interp(&p, ints((int[]){1}, 1), 1, false, out, err, sizeof err) != 0);
    CHECK_STR(err, "s: the output is a selector, not an SOp");
    rasp_program_free(&p);

    /* malformed: a Map whose child is a selector */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    s = rb_select(&p, t, t, PRED_TRUE, "s");
    m = rb_map(&p, X(&p), s, ENC_CATEGORICAL, "bad");
    rb_finish(&p, m);
    CHECK(rasp_interp(&p, ints((int[]){1}, 1), 1, false, out, err, sizeof err) != 0);
    CHECK_STR(err, "bad: TypeError: Map expects an SOp as argument 1");
    rasp_program_free(&p);
}

/* make_reverse (§4.2) with its labels and BFS order */
static void test_reverse_labels_and_bfs(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    int all = rb_select(&p, t, t, PRED_TRUE, NULL);
    int len = rb_selwidth(&p, all, ENC_CATEGORICAL, "length");
    int opp =
        rb_seqmap(&p, py_binary(AR(&p), PYB_SUB, X(&p), Y(&p)), len, i, ENC_CATEGORICAL, "opp_idx");
    int opp1 = rb_map(&p, py_binary(AR(&p), PYB_SUB, X(&p), K(&p, val_int(1))), opp,
                      ENC_CATEGORICAL, NULL);
    int flip = rb_select(&p, i, opp1, PRED_EQ, NULL);
    int rev = rb_aggregate(&p, flip, t, val_none(), ENC_CATEGORICAL, "reverse");
    rb_finish(&p, rev);
    /* BFS from the sink: reverse(1), flip(2), tokens, indices, opp1(3), opp_idx(4), length(5),
     * indices again (already seen), all(6) */
    int order[16];
    int n = rasp_bfs_order(&p, order);
    int want[] = {rev, flip, t, i, opp1, opp, len, all};
    CHECK(n == 8);
    for (int k = 0; k < 8 && k < n; k++) CHECK(order[k] == want[k]);
    CHECK_STR(p.exprs[rev].label, "reverse");
    CHECK_STR(p.exprs[flip].label, "select_2");
    CHECK_STR(p.exprs[opp1].label, "map_3");
    CHECK_STR(p.exprs[opp].label, "opp_idx");
    CHECK_STR(p.exprs[all].label, "select_6");
    CHECK_STR(p.exprs[t].label, "tokens");
    CHECK_STR(p.exprs[i].label, "indices");
    rasp_assign_labels(&p); /* idempotent */
    CHECK_STR(p.exprs[all].label, "select_6");
    Value out[4];
    CHECK(eval_ok(&p, strs("abcd"), 4, false, out));
    CHECK_STR(out[0].u.s, "d");
    CHECK_STR(out[3].u.s, "a");
    CHECK(eval_ok(&p, strs("dab"), 3, false, out));
    CHECK_STR(out[0].u.s, "b");
    CHECK_STR(out[1].u.s, "a");
    CHECK_STR(out[2].u.s, "d");
    rasp_program_free(&p);
}

static void test_names(void) {
    CHECK_STR(rasp_default_name(EXPR_LINSEQMAP), "linear_sequence_map");
    CHECK_STR(rasp_default_name(EXPR_SELWIDTH), "selector_width");
    CHECK_STR(rasp_default_name(EXPR_SEL_NOT), "selector_not");
    CHECK_STR(rasp_kind_name(EXPR_SEQMAP), "SequenceMap");
    CHECK_STR(rasp_kind_name(EXPR_SEL_AND), "SelectorAnd");
    CHECK_STR(rasp_pred_name(PRED_GEQ), "GEQ");
    CHECK_STR(rasp_pred_name(PRED_LAMBDA), "lambda");
    CHECK(rasp_is_sop(EXPR_FULL) && !rasp_is_sop(EXPR_SEL_OR) && rasp_is_selector(EXPR_SELECT));
}

int main(void) {
    RUN(test_primitives);
    RUN(test_linear_and_full);
    RUN(test_select_comparisons);
    RUN(test_lambda_predicate_gets_key_then_query);
    RUN(test_aggregate_rules);
    RUN(test_frac_prevs);
    RUN(test_length_causal);
    RUN(test_selector_combinators);
    RUN(test_none_handling);
    RUN(test_function_errors);
    RUN(test_reverse_labels_and_bfs);
    RUN(test_names);
    TEST_END();
}
