/* Value-set inference (docs/tracr.md §2.2): Tracr's basis_inference_test cases (§5.3) and
 * the value sets quoted in §4. Counts marked CPython were computed with /usr/bin/python3
 * using Tracr's formulas. */
#include "rasp_build.h"
#include "test.h"

static PyExpr *X(RaspProgram *p) { return py_param(&p->arena, 0); }
static PyExpr *Y(RaspProgram *p) { return py_param(&p->arena, 1); }
static PyExpr *K(RaspProgram *p, Value v) { return py_const(&p->arena, v); }
static PyExpr *BIN(RaspProgram *p, PyBinOp op, PyExpr *a, PyExpr *b) {
    return py_binary(&p->arena, op, a, b);
}

static Value VI[16];
static const Value *ivocab(const int *v, int n) {
    for (int i = 0; i < n; i++) VI[i] = val_int(v[i]);
    return VI;
}

/* true when set s equals the given ints (as Python sets: any order, numbers by value) */
static bool set_is(const ValueSet *s, const double *want, int n) {
    if ((int)s->n != n) return false;
    for (int i = 0; i < n; i++)
        if (!valset_contains(s, val_float(want[i]))) return false;
    return true;
}

typedef struct {
    ValueSet sets[32];
    char err[400];
    int rc;
} Inf;

static void infer(const RaspProgram *p, const Value *vocab, int nv, int N, Inf *r) {
    r->rc = rasp_infer_value_sets(p, vocab, nv, N, r->sets, r->err, sizeof r->err);
}

static void test_one_edge(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p);
    int m = rb_map(&p, BIN(&p, PYB_ADD, X(&p), K(&p, val_int(1))), t, ENC_CATEGORICAL, NULL);
    rb_finish(&p, m);
    Inf r;
    infer(&p, ivocab((int[]){1, 2, 3}, 3), 3, 1, &r);
    CHECK(r.rc == 0);
    CHECK(set_is(&r.sets[m], (double[]){2, 3, 4}, 3));
    CHECK(set_is(&r.sets[t], (double[]){1, 2, 3}, 3));
    rasp_free_value_sets(r.sets, p.n_exprs);
    infer(&p, ivocab((int[]){0, 5}, 2), 2, 1, &r);
    CHECK(r.rc == 0 && set_is(&r.sets[m], (double[]){1, 6}, 2));
    rasp_free_value_sets(r.sets, p.n_exprs);
    rasp_program_free(&p);
}

static void test_arithmetic_error_skipped(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p);
    int m = rb_map(&p, BIN(&p, PYB_DIV, K(&p, val_int(1)), X(&p)), t, ENC_NUMERICAL, NULL);
    rb_finish(&p, m);
    Inf r;
    infer(&p, ivocab((int[]){0, 1, 2}, 3), 3, 1, &r);
    CHECK(r.rc == 0);
    CHECK(set_is(&r.sets[m], (double[]){1.0, 0.5}, 2));
    rasp_free_value_sets(r.sets, p.n_exprs);
    rasp_program_free(&p);
}

static void test_primitive_close_to_tip(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    int m = rb_map(&p, BIN(&p, PYB_ADD, X(&p), K(&p, val_int(1))), t, ENC_CATEGORICAL, NULL);
    /* intermediate + intermediate: the full product even though both sides are one node */
    int mm = rb_seqmap(&p, BIN(&p, PYB_ADD, X(&p), Y(&p)), m, m, ENC_CATEGORICAL, NULL);
    int out = rb_seqmap(&p, BIN(&p, PYB_ADD, X(&p), Y(&p)), mm, i, ENC_CATEGORICAL, NULL);
    rb_finish(&p, out);
    Inf r;
    infer(&p, ivocab((int[]){0, 1}, 2), 2, 2, &r);
    CHECK(r.rc == 0);
    CHECK(set_is(&r.sets[mm], (double[]){2, 3, 4}, 3));
    CHECK(set_is(&r.sets[out], (double[]){2, 3, 4, 5}, 4));
    rasp_free_value_sets(r.sets, p.n_exprs);
    rasp_program_free(&p);
}

static void test_aggregates_and_width(void) {
    RaspProgram p;
    Inf r;
    /* categorical aggregate passes the value set through */
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    int s = rb_select(&p, t, i, PRED_EQ, NULL);
    int a = rb_aggregate(&p, s, i, val_none(), ENC_CATEGORICAL, NULL);
    rb_finish(&p, a);
    infer(&p, ivocab((int[]){0, 1}, 2), 2, 3, &r);
    CHECK(r.rc == 0 && set_is(&r.sets[a], (double[]){0, 1, 2}, 3));
    CHECK(r.sets[s].n == 0); /* selectors have no value set */
    rasp_free_value_sets(r.sets, p.n_exprs);
    rasp_program_free(&p);

    /* numerical aggregate of {0,1}, N=2 -> {0, 1, 1/2} */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    i = rb_indices(&p);
    s = rb_select(&p, t, i, PRED_EQ, NULL);
    int tn =
        rb_add(&p, (RaspExpr){.kind = EXPR_TOKENS, .child = {-1, -1}, .enc = ENC_NUMERICAL}, NULL);
    a = rb_aggregate(&p, s, tn, val_int(0), ENC_NUMERICAL, NULL);
    rb_finish(&p, a);
    infer(&p, ivocab((int[]){0, 1}, 2), 2, 2, &r);
    CHECK(r.rc == 0 && set_is(&r.sets[a], (double[]){0, 1, 0.5}, 3));
    for (size_t k = 0; k < r.sets[a].n; k++)
        CHECK(r.sets[a].items[k].kind == VAL_FLOAT); /* v / l */
    rasp_free_value_sets(r.sets, p.n_exprs);
    /* ... and of {1,2,3}: NotImplementedError */
    infer(&p, ivocab((int[]){1, 2, 3}, 3), 3, 2, &r);
    CHECK(r.rc != 0);
    CHECK_STR(r.err,
              "aggregate_1: NotImplementedError: Attention patterns can currently only average "
              "binary variables. Not: {1, 2, 3}");
    rasp_free_value_sets(r.sets, p.n_exprs);
    /* int() of a string fails first, as Tracr's set comprehension does */
    Value sv[2] = {val_int(2), val_str("a")};
    infer(&p, sv, 2, 2, &r);
    CHECK(r.rc != 0);
    CHECK_STR(r.err, "aggregate_1: ValueError: invalid literal for int() with base 10: 'a'");
    rasp_free_value_sets(r.sets, p.n_exprs);
    /* int(0.5) == 0 passes Tracr's check */
    Value fv[2] = {val_float(0.5), val_int(1)};
    infer(&p, fv, 2, 2, &r);
    CHECK(r.rc == 0 && set_is(&r.sets[a], (double[]){0.5, 0.25, 1, 0.5}, 3));
    rasp_free_value_sets(r.sets, p.n_exprs);
    rasp_program_free(&p);

    /* selector width N=3 -> {0..3}; annotated tokens/indices */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    i = rb_indices(&p);
    s = rb_select(&p, t, i, PRED_EQ, NULL);
    int w = rb_selwidth(&p, s, ENC_CATEGORICAL, NULL);
    rb_finish(&p, w);
    infer(&p, ivocab((int[]){0, 1}, 2), 2, 3, &r);
    CHECK(r.rc == 0 && set_is(&r.sets[w], (double[]){0, 1, 2, 3}, 4));
    CHECK(set_is(&r.sets[i], (double[]){0, 1, 2}, 3));
    rasp_free_value_sets(r.sets, p.n_exprs);
    rasp_program_free(&p);

    rasp_program_init(&p);
    i = rb_indices(&p);
    rb_finish(&p, i);
    Value ab[2] = {val_str("a"), val_str("b")};
    infer(&p, ab, 2, 2, &r);
    CHECK(r.rc == 0 && set_is(&r.sets[i], (double[]){0, 1}, 2));
    rasp_free_value_sets(r.sets, p.n_exprs);
    rasp_program_free(&p);

    rasp_program_init(&p);
    t = rb_tokens(&p);
    rb_finish(&p, t);
    infer(&p, ab, 2, 2, &r);
    CHECK(r.rc == 0 && r.sets[t].n == 2 && valset_contains(&r.sets[t], val_str("b")));
    rasp_free_value_sets(r.sets, p.n_exprs);
    rasp_program_free(&p);
}

static void test_reverse_value_sets(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    int all = rb_select(&p, t, t, PRED_TRUE, NULL);
    int len = rb_selwidth(&p, all, ENC_CATEGORICAL, "length");
    int opp = rb_seqmap(&p, BIN(&p, PYB_SUB, X(&p), Y(&p)), len, i, ENC_CATEGORICAL, "opp_idx");
    int opp1 =
        rb_map(&p, BIN(&p, PYB_SUB, X(&p), K(&p, val_int(1))), opp, ENC_CATEGORICAL, "opp_idx-1");
    int flip = rb_select(&p, i, opp1, PRED_EQ, NULL);
    int rev = rb_aggregate(&p, flip, t, val_none(), ENC_CATEGORICAL, "reverse");
    rb_finish(&p, rev);
    Value abcd[4] = {val_str("a"), val_str("b"), val_str("c"), val_str("d")};
    Inf r;
    infer(&p, abcd, 4, 5, &r);
    CHECK(r.rc == 0);
    CHECK(r.sets[len].n == 6);
    CHECK(r.sets[opp].n == 10 &&
          set_is(&r.sets[opp], (double[]){-4, -3, -2, -1, 0, 1, 2, 3, 4, 5}, 10));
    CHECK(r.sets[opp1].n == 10 &&
          set_is(&r.sets[opp1], (double[]){-5, -4, -3, -2, -1, 0, 1, 2, 3, 4}, 10));
    CHECK(r.sets[rev].n == 4);
    /* residual-direction order: ints compare natively, so it is numeric */
    valset_sort(&r.sets[opp1], "opp_idx-1");
    CHECK(val_eq(r.sets[opp1].items[0], val_int(-5)) && val_eq(r.sets[opp1].items[9], val_int(4)));
    rasp_free_value_sets(r.sets, p.n_exprs);
    rasp_program_free(&p);
}

/* make_sort keys' = x + min_key*i/max_seq_len (§4.5, §4.6) */
static void test_sort_keys_value_sets(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    PyExpr *body =
        BIN(&p, PYB_ADD, X(&p),
            BIN(&p, PYB_DIV, BIN(&p, PYB_MUL, K(&p, val_int(1)), Y(&p)), K(&p, val_int(5))));
    int keys = rb_seqmap(&p, body, t, i, ENC_CATEGORICAL, NULL);
    rb_finish(&p, keys);
    Inf r;
    infer(&p, ivocab((int[]){1, 2, 3, 4}, 4), 4, 5, &r);
    CHECK(r.rc == 0 && r.sets[keys].n == 20); /* CPython: 20 */
    CHECK(valset_contains(&r.sets[keys], val_float(1.2)) &&
          valset_contains(&r.sets[keys], val_float(4.8)));
    rasp_free_value_sets(r.sets, p.n_exprs);
    rasp_program_free(&p);

    /* sort_freq: hist = -1 * histogram, keys' = hist + i/5 has -0.19999999999999996 */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    i = rb_indices(&p);
    int s = rb_select(&p, t, t, PRED_EQ, NULL);
    int hist = rb_selwidth(&p, s, ENC_CATEGORICAL, "hist");
    int neg = rb_map(&p, BIN(&p, PYB_MUL, K(&p, val_int(-1)), X(&p)), hist, ENC_CATEGORICAL, NULL);
    body = BIN(&p, PYB_ADD, X(&p),
               BIN(&p, PYB_DIV, BIN(&p, PYB_MUL, K(&p, val_int(1)), Y(&p)), K(&p, val_int(5))));
    keys = rb_seqmap(&p, body, neg, i, ENC_CATEGORICAL, NULL);
    rb_finish(&p, keys);
    infer(&p, ivocab((int[]){1, 2, 3, 4}, 4), 4, 5, &r);
    CHECK(r.rc == 0 && r.sets[keys].n == 30); /* CPython: 30 */
    bool found = false;
    for (size_t k = 0; k < r.sets[keys].n; k++) {
        char buf[64];
        val_str_fmt(r.sets[keys].items[k], buf, sizeof buf);
        found |= strcmp(buf, "-0.19999999999999996") == 0;
    }
    CHECK(found);
    rasp_free_value_sets(r.sets, p.n_exprs);
    rasp_program_free(&p);
}

/* pair balance of shuffle_dyck: 27 values (§4.9; CPython: 27) */
static void test_balance_value_set(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    int bo = rb_map(&p, py_cmp2(&p.arena, PYC_EQ, X(&p), K(&p, val_str("("))), t, ENC_NUMERICAL,
                    "bools_open");
    int po = rb_select(&p, i, i, PRED_LEQ, NULL);
    int opens = rb_aggregate(&p, po, bo, val_int(0), ENC_NUMERICAL, "opens");
    int bc = rb_map(&p, py_cmp2(&p.arena, PYC_EQ, X(&p), K(&p, val_str(")"))), t, ENC_NUMERICAL,
                    "bools_close");
    int closes = rb_aggregate(&p, po, bc, val_int(0), ENC_NUMERICAL, "closes");
    int bal = rb_linseqmap(&p, opens, closes, val_int(1), val_int(-1), ENC_NUMERICAL, "balance");
    rb_finish(&p, bal);
    Value v[4] = {val_str("("), val_str(")"), val_str("{"), val_str("}")};
    Inf r;
    infer(&p, v, 4, 5, &r);
    CHECK(r.rc == 0);
    CHECK(r.sets[bo].n == 2 && r.sets[bo].items[0].kind == VAL_BOOL);
    CHECK(r.sets[opens].n == 6);
    CHECK(r.sets[bal].n == 27);
    rasp_free_value_sets(r.sets, p.n_exprs);
    rasp_program_free(&p);
}

static void test_failures_and_none(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p);
    /* None results are dropped */
    PyExpr *ife = py_ifexp(&p.arena, X(&p), py_cmp2(&p.arena, PYC_GT, X(&p), K(&p, val_int(1))),
                           K(&p, val_none()));
    int m = rb_map(&p, ife, t, ENC_CATEGORICAL, NULL);
    int bad = rb_map(&p, BIN(&p, PYB_ADD, X(&p), K(&p, val_str("a"))), m, ENC_CATEGORICAL, "bad");
    (void)bad;
    rb_finish(&p, m);
    Inf r;
    infer(&p, ivocab((int[]){1, 2, 3}, 3), 3, 2, &r);
    CHECK(r.rc == 0 && set_is(&r.sets[m], (double[]){2, 3}, 2));
    rasp_free_value_sets(r.sets, p.n_exprs);
    /* a non-arithmetic exception stops inference with Tracr's error */
    rb_finish(&p, bad);
    infer(&p, ivocab((int[]){1, 2, 3}, 3), 3, 2, &r);
    CHECK(r.rc != 0);
    CHECK_STR(r.err, "bad: TypeError: unsupported operand type(s) for +: 'int' and 'str'");
    rasp_free_value_sets(r.sets, p.n_exprs);
    rasp_program_free(&p);

    /* Full(c) -> {c}; the first representative of equal values is kept */
    rasp_program_init(&p);
    t = rb_tokens(&p);
    int f = rb_full(&p, val_bool(true), NULL);
    int sm = rb_seqmap(&p, BIN(&p, PYB_MUL, X(&p), Y(&p)), f, t, ENC_CATEGORICAL, NULL);
    rb_finish(&p, sm);
    Value v[2] = {val_float(1.0), val_int(1)};
    infer(&p, v, 2, 2, &r);
    CHECK(r.rc == 0 && r.sets[t].n == 1 && r.sets[t].items[0].kind == VAL_FLOAT);
    CHECK(r.sets[f].n == 1 && r.sets[f].items[0].kind == VAL_BOOL);
    CHECK(r.sets[sm].n == 1 && r.sets[sm].items[0].kind == VAL_FLOAT);
    rasp_free_value_sets(r.sets, p.n_exprs);
    rasp_program_free(&p);
}

int main(void) {
    RUN(test_one_edge);
    RUN(test_arithmetic_error_skipped);
    RUN(test_primitive_close_to_tip);
    RUN(test_aggregates_and_width);
    RUN(test_reverse_value_sets);
    RUN(test_sort_keys_value_sets);
    RUN(test_balance_value_set);
    RUN(test_failures_and_none);
    TEST_END();
}
