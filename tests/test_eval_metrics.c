/* Evaluation metrics and functional equivalence: toy tables with hand-computed answers, and
 * functional equivalence against a brute-force check with the RASP interpreter. */
#include <math.h>

#include "compiler/model.h"
#include "eval/equiv.h"
#include "eval/eval_truth.h"
#include "eval/metrics.h"
#include "eval_tables.h"
#include "gen/sampler.h"
#include "rasp/rasp.h"
#include "test.h"

#define T_SIZE (PT_ROWS * PT_COLS)

/* frac_prevs of x < 2 (docs/program-tokens.md) */
static const char *FRAC =
    "Map num lt2 tokens - v1; Select - LEQ indices indices v2; Aggregate num - v2 v1 v3";

static void test_table_len(void) {
    int16_t t[T_SIZE];
    tab_build(t, FRAC);
    CHECK(eval_table_len(t) == 3);
    tab_build(t, "Map cat lt2 tokens - v1");
    CHECK(eval_table_len(t) == 1);
    tab_build(t, "Map cat lt2 tokens - v1; NOEND"); /* PAD after the row ends it too */
    CHECK(eval_table_len(t) == 1);
    for (int i = 0; i < T_SIZE; i++) t[i] = 7; /* garbage: no END, no START */
    CHECK(eval_table_len(t) == PT_ROWS - 1);
}

static void test_compare_identical(void) {
    int16_t t[T_SIZE], p[T_SIZE];
    tab_build(t, FRAC);
    tab_build(p, FRAC);
    p[(PT_ROWS - 1) * PT_COLS] = 5; /* junk after END is ignored by exact match */
    EvalPair e;
    eval_compare(t, p, &e);
    CHECK(e.exact);
    CHECK(e.true_len == 3 && e.pred_len == 3);
    CHECK(e.scored_rows == 4);
    CHECK(e.tok_total == 24 && e.tok_correct == 24);
    CHECK(e.row_total == 3 && e.row_correct == 3);
}

static void test_compare_one_cell(void) {
    int16_t t[T_SIZE], p[T_SIZE];
    tab_build(t, FRAC);
    tab_build(p,
              "Map num lt2 tokens - v1; Select - LT indices indices v2; Aggregate num - v2 v1 v3");
    EvalPair e;
    eval_compare(t, p, &e);
    CHECK(!e.exact);
    CHECK(e.tok_total == 24 && e.tok_correct == 23);
    CHECK(e.row_total == 3 && e.row_correct == 2);
    CHECK(e.col_correct[PT_COL_FN] == 3 && e.col_correct[PT_COL_OP] == 4);
}

static void test_compare_shorter(void) {
    int16_t t[T_SIZE], p[T_SIZE];
    tab_build(t, FRAC);
    tab_build(p, "Map num lt2 tokens - v1");
    EvalPair e;
    eval_compare(t, p, &e);
    /* rows 1..4: row 1 equal; row 2 (Select) vs END, rows 3 (Aggregate) and 4 (END) vs PAD */
    CHECK(e.true_len == 3 && e.pred_len == 1);
    CHECK(e.scored_rows == 4);
    CHECK(e.tok_total == 24 && e.tok_correct == 6);
    CHECK(e.row_total == 3 && e.row_correct == 1);
    CHECK(!e.exact);
}

static void test_compare_longer(void) {
    int16_t t[T_SIZE], p[T_SIZE];
    tab_build(t, "Map cat lt2 tokens - v1");
    tab_build(p, "Map cat min2 tokens - v1; Map cat lt2 v1 - v2");
    EvalPair e;
    eval_compare(t, p, &e);
    /* row 1: 5 of 6 (fn differs); row 2: END vs an op row: 0; row 3: PAD vs END: 0 */
    CHECK(e.scored_rows == 3);
    CHECK(e.tok_total == 18 && e.tok_correct == 5);
    CHECK(e.row_total == 2 && e.row_correct == 0);
    CHECK(!e.exact);
}

static void test_compare_garbage(void) {
    int16_t t[T_SIZE], p[T_SIZE];
    tab_build(t, "Map cat lt2 tokens - v1");
    for (int i = 0; i < T_SIZE; i++) p[i] = (int16_t)(i % 3 == 0 ? -5 : 999);
    for (int c = 0; c < PT_COLS; c++) p[c] = PT_START;
    EvalPair e;
    eval_compare(t, p, &e);
    /* no END in pred: all 31 rows after START are scored, none equal */
    CHECK(e.pred_len == PT_ROWS - 1);
    CHECK(e.scored_rows == PT_ROWS - 1);
    CHECK(e.tok_total == (PT_ROWS - 1) * 6 && e.tok_correct == 0);
    CHECK(e.row_total == PT_ROWS - 1 && e.row_correct == 0);
    EvalMetrics m;
    CHECK(eval_metrics_init(&m) == 0);
    eval_metrics_add(&m, t, p, EVAL_FN_UNCHECKED);
    CHECK(m.decodes == 0 && m.n == 1);
    /* the out-of-range predictions land in the extra column of the confusion table */
    EvalConfusion top[4];
    int n = eval_top_confusions(&m, PT_COL_OP, top, 4);
    /* op column: Map (row 1), END (row 2) and PAD (rows 3..31) all predicted as -5 */
    CHECK(n == 3);
    CHECK(top[0].true_id == PT_PAD && top[0].count == PT_ROWS - 3);
    CHECK(top[0].pred_id == m.conf_v[PT_COL_OP]);
    CHECK(top[1].true_id == PT_END && top[2].true_id == PT_OP_MAP && top[2].count == 1);
    eval_metrics_free(&m);
}

/* The four pairs above plus one failing decode, aggregated; every number by hand. */
static void test_aggregate(void) {
    int16_t t1[T_SIZE], p1[T_SIZE], p2[T_SIZE], p3[T_SIZE], t4[T_SIZE], p4[T_SIZE];
    tab_build(t1, FRAC);
    tab_build(p1, FRAC);
    tab_build(p2,
              "Map num lt2 tokens - v1; Select - LT indices indices v2; Aggregate num - v2 v1 v3");
    tab_build(p3, "Map num lt2 tokens - v1");
    tab_build(t4, "Map cat lt2 tokens - v1");
    tab_build(p4, "Map cat min2 tokens - v1; Map cat lt2 v1 - v2");
    EvalMetrics m;
    CHECK(eval_metrics_init(&m) == 0);
    eval_metrics_add(&m, t1, p1, EVAL_FN_EQUIVALENT);
    eval_metrics_add(&m, t1, p2, EVAL_FN_DIFFERENT);
    eval_metrics_add(&m, t1, p3, EVAL_FN_NO_COMPILE);
    eval_metrics_add(&m, t4, p4, EVAL_FN_EQUIVALENT);
    CHECK(m.n == 4);
    CHECK(m.exact == 1);
    CHECK(m.decodes == 4 && m.func_checked == 4 && m.compiles == 3 && m.equivalent == 2);
    CHECK(m.equivalent_not_exact == 1);
    CHECK(m.tok_total == 90 && m.tok_correct == 58);
    CHECK(m.row_total == 11 && m.row_correct == 6);
    CHECK_NEAR(eval_token_acc(&m), 58.0 / 90, 1e-12);
    CHECK_NEAR(eval_row_acc(&m), 6.0 / 11, 1e-12);
    CHECK_NEAR(eval_exact_rate(&m), 0.25, 1e-12);
    CHECK_NEAR(eval_compile_rate(&m), 0.75, 1e-12);
    CHECK_NEAR(eval_equiv_rate(&m), 0.5, 1e-12);
    /* by column: scored rows 4 + 4 + 4 + 3 = 15. fn column: pair1 4, pair2 3 (LEQ->LT),
     * pair3 1, pair4 0 (lt2->min2, END->lt2, PAD->END) */
    CHECK(m.col_total == 15);
    CHECK(m.col_correct[PT_COL_FN] == 8);
    CHECK(m.col_correct[PT_COL_OP] == 4 + 4 + 1 + 1);
    /* by length: three programs of 3 rows, one of 1 */
    CHECK(m.by_len[3].programs == 3 && m.by_len[3].exact == 1 && m.by_len[3].equivalent == 1);
    CHECK(m.by_len[3].tok_correct == 24 + 23 + 6 && m.by_len[3].tok_total == 72);
    CHECK(m.by_len[1].programs == 1 && m.by_len[1].equivalent == 1 && m.by_len[1].row_correct == 0);
    /* by op (true rows only): Map rows: t1 row 1 x3 (all right), t4 row 1 (fn wrong) */
    EvalRowStats *map = &m.by_op[PT_OP_MAP];
    CHECK(map->rows == 4 && map->rows_correct == 3 && map->key_correct == 4);
    CHECK(map->tok_total == 24 && map->tok_correct == 23);
    EvalRowStats *sel = &m.by_op[PT_OP_SELECT];
    CHECK(sel->rows == 3 && sel->rows_correct == 1 && sel->key_correct == 2); /* p3 has END */
    CHECK(sel->tok_correct == 6 + 5 + 0);
    EvalRowStats *agg = &m.by_op[PT_OP_AGGREGATE];
    CHECK(agg->rows == 3 && agg->rows_correct == 2 && agg->tok_correct == 12);
    /* by fn: lt2 rows: 3 (num, frac) + 1 (cat) = 4, the cat one predicted min2 */
    int lt2 = pt_token_id(PT_COL_FN, "lt2");
    CHECK(m.by_fn[lt2].rows == 4 && m.by_fn[lt2].key_correct == 3);
    int leq = pt_token_id(PT_COL_FN, "LEQ");
    CHECK(m.by_fn[leq].rows == 3 && m.by_fn[leq].key_correct == 1);
    /* confusions of column fn: LEQ->LT 1, LEQ->END 1, "-"->PAD 1 (p3 row 3), END->PAD 1
     * (p3 row 4), lt2->min2 1, END->lt2 1 (p4 row 2), PAD->END 1 (p4 row 3): all ties, so
     * ordered by true id, then pred id */
    EvalConfusion top[10];
    int n = eval_top_confusions(&m, PT_COL_FN, top, 10);
    CHECK(n == 7);
    CHECK(top[0].true_id == PT_PAD && top[0].pred_id == PT_END && top[0].count == 1);
    CHECK(top[1].true_id == PT_END && top[1].pred_id == PT_PAD);
    CHECK(top[2].true_id == PT_END && top[2].pred_id == lt2);
    CHECK(top[3].true_id == PT_FN_NONE && top[3].pred_id == PT_PAD);
    CHECK(top[4].true_id == leq && top[4].pred_id == PT_END);
    CHECK(top[5].true_id == leq && top[5].pred_id == pt_token_id(PT_COL_FN, "LT"));
    CHECK(top[6].true_id == lt2 && top[6].pred_id == pt_token_id(PT_COL_FN, "min2"));
    /* a count of 2 goes first: add pair 2 once more */
    eval_metrics_add(&m, t1, p2, EVAL_FN_DIFFERENT);
    n = eval_top_confusions(&m, PT_COL_FN, top, 2);
    CHECK(n == 2 && top[0].true_id == leq && top[0].count == 2 && top[1].count == 1);
    /* merging equals adding */
    EvalMetrics a, b;
    CHECK(eval_metrics_init(&a) == 0 && eval_metrics_init(&b) == 0);
    eval_metrics_add(&a, t1, p1, EVAL_FN_EQUIVALENT);
    eval_metrics_add(&a, t1, p2, EVAL_FN_DIFFERENT);
    eval_metrics_add(&b, t1, p3, EVAL_FN_NO_COMPILE);
    eval_metrics_add(&b, t4, p4, EVAL_FN_EQUIVALENT);
    eval_metrics_add(&b, t1, p2, EVAL_FN_DIFFERENT);
    eval_metrics_merge(&a, &b);
    CHECK(a.tok_correct == m.tok_correct && a.row_correct == m.row_correct && a.n == m.n);
    CHECK(a.by_fn[leq].key_correct == m.by_fn[leq].key_correct);
    n = eval_top_confusions(&a, PT_COL_FN, top, 2);
    CHECK(n == 2 && top[0].true_id == leq && top[0].count == 2);
    eval_metrics_free(&a);
    eval_metrics_free(&b);
    StrBuf j;
    sb_init(&j);
    eval_metrics_json(&m, &j);
    CHECK(strstr(j.s, "\"n\": 5") != NULL);
    CHECK(strstr(j.s, "\"exact\": 0.2,") != NULL);
    CHECK(strstr(j.s, "{\"true\": \"LEQ\", \"pred\": \"LT\", \"count\": 2}") != NULL);
    sb_free(&j);
    eval_metrics_free(&m);
}

static void test_no_decode_counts(void) {
    int16_t t[T_SIZE], p[T_SIZE];
    tab_build(t, "Map cat lt2 tokens - v1");
    tab_build(p, "Map cat - tokens - v1"); /* a Map without a function */
    EvalMetrics m;
    CHECK(eval_metrics_init(&m) == 0);
    eval_metrics_add(&m, t, p, EVAL_FN_UNCHECKED);
    eval_metrics_add(&m, t, t, EVAL_FN_UNCHECKED);
    CHECK(m.decodes == 1 && m.func_checked == 0 && m.exact == 1);
    CHECK(isnan(eval_equiv_rate(&m)) && isnan(eval_compile_rate(&m)));
    eval_metrics_add(&m, t, p, EVAL_FN_NO_DECODE);
    CHECK(m.decodes == 1 && m.func_checked == 1 && m.compiles == 0);
    eval_metrics_add(&m, t, t, EVAL_FN_TRUE_FAILED);
    CHECK(m.true_failed == 1 && m.func_checked == 1);
    eval_metrics_free(&m);
}

/* A table function's values live after the END row (gen/program_tokens.h). Exact match
 * used to compare the rows up to END only, so a prediction with the true rows and a wrong
 * value counted as exact, and eval_truth_check's shortcut for identical tables then called it
 * equivalent without running it (on general777, verified@64 "exact" above the samples the
 * search verified). A program of the general setting: mixed vocabulary, causal, a table. */
static const char *k_mixed_table =
    "vocab {\"b\", 3, \"a\", 0}\nmax_seq_len 3\ncausal\n"
    "m = numerical(Map(lambda x: 1 if x == \"a\" or x == 3 else 0, tokens))\n"
    "prevs = Select(indices, indices, LEQ)\n"
    "out = numerical(Aggregate(prevs, m, default=0))\n";

static void test_compare_table_values(void) {
    RaspProgram p;
    char err[512] = "";
    int16_t t[T_SIZE], q[T_SIZE];
    if (rasp_parse("t.rasp", k_mixed_table, &p, err, sizeof err) ||
        pt_encode(&p, t, err, sizeof err)) {
        CHECK_MSG(0, "%s", err);
        rasp_program_free(&p);
        return;
    }
    int L = eval_table_len(t), at = (L + 2) * PT_COLS;
    CHECK(L == 3 && t[PT_COLS + PT_COL_FN] == PT_FN_TABLE);
    CHECK(t[at] >= PT_VAL_INT0 && t[at] != PT_END); /* the first value of the table */

    EvalPair e;
    memcpy(q, t, sizeof q);
    q[T_SIZE - 1] = 5; /* junk after the tables is still ignored */
    eval_compare(t, q, &e);
    CHECK(e.exact);
    /* one value changed: the same rows, another function */
    memcpy(q, t, sizeof q);
    q[at] = (int16_t)(q[at] == PT_VAL_INT0 - PT_VAL_INT_MIN ? PT_VAL_INT0 + 1 - PT_VAL_INT_MIN
                                                            : PT_VAL_INT0 - PT_VAL_INT_MIN);
    eval_compare(t, q, &e);
    CHECK(!e.exact);
    CHECK(e.tok_correct == e.tok_total && e.row_correct == e.row_total); /* rows only */
    /* a missing END closing the table: not exact either */
    memcpy(q, t, sizeof q);
    for (int i = at; i < T_SIZE; i++)
        if (q[i] == PT_END) {
            q[i] = PT_PAD;
            break;
        }
    eval_compare(t, q, &e);
    CHECK(!e.exact);

    /* the functional check in the sample's setting runs the changed table (no shortcut) */
    memcpy(q, t, sizeof q);
    q[at] = (int16_t)(q[at] == PT_VAL_INT0 - PT_VAL_INT_MIN ? PT_VAL_INT0 + 1 - PT_VAL_INT_MIN
                                                            : PT_VAL_INT0 - PT_VAL_INT_MIN);
    EvalSetting st = {p.vocab, p.n_vocab, p.max_seq_len, true, 0};
    EquivOptions eo;
    equiv_options_default(&eo);
    EvalTruth tc;
    eval_truth_init(&tc);
    char detail[256] = "";
    CHECK(eval_truth_check(&tc, t, t, &st, &eo, detail, sizeof detail) == EVAL_FN_EQUIVALENT);
    EvalFunc f = eval_truth_check(&tc, t, q, &st, &eo, detail, sizeof detail);
    CHECK_MSG(f == EVAL_FN_DIFFERENT, "%s: %s", eval_func_name(f), detail);
    CHECK(tc.state == 1 && tc.cm && tc.cm->causal);
    if (tc.state == 1) {
        EquivResult r;
        CHECK(equiv_check_tokens(tc.cm, &tc.prog, t, q, NULL, &eo, &r, err, sizeof err) == 0);
        CHECK(!r.exact && r.status == EVAL_FN_DIFFERENT);
    }
    eval_truth_free(&tc);
    rasp_program_free(&p);
}

/* ---- functional equivalence ------------------------------------------------------------ */

static const Value *vocab5(void) {
    static Value v[5];
    for (int i = 0; i < 5; i++) v[i] = val_int(i);
    return v;
}

static EvalFunc check_pair(const char *truth, const char *pred, EquivResult *r) {
    int16_t t[T_SIZE], p[T_SIZE];
    tab_build(t, truth);
    tab_build(p, pred);
    char err[512] = "";
    int rc = equiv_check_pair(t, p, vocab5(), 5, 4, NULL, NULL, r, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    return r->status;
}

static void test_equiv_hand(void) {
    EquivResult r;
    /* identical tables: exact, nothing run */
    CHECK(check_pair(FRAC, FRAC, &r) == EVAL_FN_EQUIVALENT);
    CHECK(r.exact && r.n_inputs == 0);
    /* different lengths, same function: x < 2 == min(x, 2) < 2 */
    CHECK(check_pair("Map cat lt2 tokens - v1", "Map cat min2 tokens - v1; Map cat lt2 v1 - v2",
                     &r) == EVAL_FN_EQUIVALENT);
    CHECK(!r.exact && r.exhaustive && r.n_inputs == 5 + 25 + 125 + 625);
    /* x + x == 2x */
    EvalFunc f =
        check_pair("Map cat mul2 tokens - v1", "SequenceMap cat add_xy tokens tokens v1", &r);
    CHECK_MSG(f == EVAL_FN_EQUIVALENT, "%s %s", eval_func_name(f), r.detail);
    /* the same function with a numerical output: compared as numbers */
    f = check_pair("Map cat mul2 tokens - v1", "Map num mul2 tokens - v1", &r);
    CHECK_MSG(f == EVAL_FN_EQUIVALENT, "%s %s", eval_func_name(f), r.detail);
    /* x < 2 vs x < 3: the first input that differs is [2] */
    CHECK(check_pair("Map cat lt2 tokens - v1", "Map cat lt3 tokens - v1", &r) ==
          EVAL_FN_DIFFERENT);
    CHECK(r.n_inputs == 3);
    CHECK_MSG(strcmp(r.detail, "input [2] position 0: true False, predicted True") == 0, "%s",
              r.detail);
    /* frac_prevs with LEQ vs LT differ on the first position already */
    CHECK(check_pair(
              FRAC,
              "Map num lt2 tokens - v1; Select - LT indices indices v2; Aggregate num - v2 v1 v3",
              &r) == EVAL_FN_DIFFERENT);
    /* does not decode */
    CHECK(check_pair(FRAC, "Map cat - tokens - v1", &r) == EVAL_FN_NO_DECODE);
    CHECK_MSG(strstr(r.detail, "row 1") != NULL, "%s", r.detail);
    CHECK(check_pair(FRAC, "Map cat lt2 v2 - v1", &r) == EVAL_FN_NO_DECODE);
    /* decodes, but a numerical mean of values other than 0/1 does not compile */
    f = check_pair(
        FRAC, "Map num add1 tokens - v1; Select - LEQ indices indices v2; Aggregate num - v2 v1 v3",
        &r);
    CHECK_MSG(f == EVAL_FN_NO_COMPILE, "%s %s", eval_func_name(f), r.detail);
    /* the true table itself broken */
    CHECK(check_pair("Map cat - tokens - v1", FRAC, &r) == EVAL_FN_TRUE_FAILED);
}

/* A truth given as a RaspProgram (the classic programs): exact when the prediction is its own
 * table, else judged by running both. */
static void test_equiv_program(void) {
    RaspProgram p;
    char err[512];
    CHECK(rasp_parse("t.rasp",
                     "vocab {0, 1, 2, 3, 4}\nmax_seq_len 3\nsmall = Map(lambda x: x < 2, tokens)\n",
                     &p, err, sizeof err) == 0);
    int16_t pred[T_SIZE];
    EquivResult r;
    tab_build(pred, "Map cat lt2 tokens - v1");
    CHECK(equiv_check_program(&p, pred, NULL, NULL, &r, err, sizeof err) == 0);
    CHECK(r.status == EVAL_FN_EQUIVALENT && r.exact);
    tab_build(pred, "Map cat min2 tokens - v1; Map cat lt2 v1 - v2");
    CHECK(equiv_check_program(&p, pred, NULL, NULL, &r, err, sizeof err) == 0);
    CHECK(r.status == EVAL_FN_EQUIVALENT && !r.exact && r.n_inputs == 5 + 25 + 125);
    rasp_program_free(&p);
    /* a classic program with no token form (its lambda is not in the library) */
    CHECK(rasp_parse_file(FIXTURE_DIR "/tracr/sort.rasp", &p, err, sizeof err) == 0);
    tab_build(pred, "Map cat lt2 tokens - v1");
    CHECK(equiv_check_program(&p, pred, NULL, NULL, &r, err, sizeof err) == 0);
    CHECK_MSG(r.status == EVAL_FN_DIFFERENT && !r.exact, "%s %s", eval_func_name(r.status),
              r.detail);
    rasp_program_free(&p);
}

/* Random inputs when the input space is larger than max_exhaustive: seeded, so the same. */
static void test_equiv_random(void) {
    int16_t t[T_SIZE], p[T_SIZE], q[T_SIZE];
    tab_build(t, "Map cat lt2 tokens - v1");
    tab_build(p, "Map cat min2 tokens - v1; Map cat lt2 v1 - v2");
    tab_build(q, "Map cat lt3 tokens - v1");
    EquivOptions o;
    equiv_options_default(&o);
    o.max_exhaustive = 100;
    o.n_random = 300;
    EquivResult r, r2;
    char err[256];
    CHECK(equiv_check_pair(t, p, vocab5(), 5, 4, NULL, &o, &r, err, sizeof err) == 0);
    CHECK(r.status == EVAL_FN_EQUIVALENT && !r.exhaustive && r.n_inputs == 300);
    CHECK(equiv_check_pair(t, q, vocab5(), 5, 4, NULL, &o, &r, err, sizeof err) == 0);
    CHECK(equiv_check_pair(t, q, vocab5(), 5, 4, NULL, &o, &r2, err, sizeof err) == 0);
    CHECK(r.status == EVAL_FN_DIFFERENT && r.n_inputs == r2.n_inputs);
    CHECK_STR(r.detail, r2.detail);
    CHECK(equiv_input_count(5, 4, 100000) == 780);
    CHECK(equiv_input_count(10, 10, 100000) == 100001);
    CHECK(equiv_input_count(2, 63, 100000) == 100001);
}

/* Brute force with the interpreter: outputs of both decoded programs on every input. */
static bool brute_equiv(const RaspProgram *a, const RaspProgram *b, const Value *vocab, int nv,
                        int N, bool *skipped) {
    Value xs[8], oa[8], ob[8];
    int d[8];
    char err[256];
    for (int l = 1; l <= N; l++) {
        memset(d, 0, sizeof d);
        for (;;) {
            for (int i = 0; i < l; i++) xs[i] = vocab[d[i]];
            int ea = rasp_interp(a, xs, l, false, oa, err, sizeof err);
            int eb = rasp_interp(b, xs, l, false, ob, err, sizeof err);
            if (ea || eb) {
                *skipped = true;
            } else {
                for (int i = 0; i < l; i++) {
                    if (oa[i].kind == VAL_NONE) continue; /* the truth is undefined there */
                    bool same;
                    if (val_is_number(oa[i]) && val_is_number(ob[i])) {
                        double x = val_as_double(oa[i]), y = val_as_double(ob[i]);
                        same = fabs(x - y) <= 1e-5 + 0.005 * fabs(x);
                    } else {
                        same = val_eq(oa[i], ob[i]);
                    }
                    if (!same) return false;
                }
            }
            int i = l - 1;
            while (i >= 0 && ++d[i] == nv) d[i--] = 0;
            if (i < 0) break;
        }
    }
    return true;
}

/* Near-miss predictions: one cell of the true table replaced by another id of its column. */
static void mutate(const int16_t *t, int16_t *p, uint64_t *st) {
    memcpy(p, t, sizeof(int16_t) * T_SIZE);
    int len = eval_table_len(t);
    int row = 1 + (int)(rng_splitmix64(st) % (uint64_t)len);
    int col = (int)(rng_splitmix64(st) % 5); /* not out: that never decodes */
    int v = pt_vocab_size(col);
    int16_t old = t[row * PT_COLS + col];
    int16_t id = (int16_t)(3 + rng_splitmix64(st) % (uint64_t)(v - 4));
    p[row * PT_COLS + col] = id >= old ? (int16_t)(id + 1) : id; /* never the true id */
}

/* Equivalent rewrites: the arguments of a commutative SequenceMap swapped. Returns false
 * when the table has no such row. */
static bool swap_commutative(const int16_t *t, int16_t *p) {
    static const char *const comm[] = {"add_xy",    "mul_xy", "min_xy", "max_xy", "absdiff_xy",
                                       "parity_xy", "eq_xy",  "and_xy", "or_xy",  "xor_xy"};
    memcpy(p, t, sizeof(int16_t) * T_SIZE);
    for (int r = 1; r <= eval_table_len(t); r++) {
        int16_t *row = p + r * PT_COLS;
        if (row[PT_COL_OP] != PT_OP_SEQMAP || row[PT_COL_A1] == row[PT_COL_A2]) continue;
        for (size_t i = 0; i < sizeof comm / sizeof comm[0]; i++)
            if (row[PT_COL_FN] == pt_token_id(PT_COL_FN, comm[i])) {
                int16_t x = row[PT_COL_A1];
                row[PT_COL_A1] = row[PT_COL_A2];
                row[PT_COL_A2] = x;
                return true;
            }
    }
    return false;
}

/* True when the compiled model of the table computes what the interpreter does (Tracr's
 * silent failures aside, the model and the program agree). */
static bool faithful(const int16_t *t, const Value *vocab, int nv, int N) {
    RaspProgram p;
    char err[512];
    bool ok = false;
    if (pt_decode(t, vocab, nv, N, &p, err, sizeof err) == 0) {
        CompileOptions co;
        compile_options_default(&co);
        co.vocab = vocab;
        co.n_vocab = nv;
        co.max_seq_len = N;
        CompiledModel *m = NULL;
        if (compile_program(&p, &co, &m, err, sizeof err) == 0) {
            VerifyReport vr;
            ok = compile_verify(m, &p, 100000, 1, &vr, err, sizeof err) == 0 && vr.exhaustive;
            compiled_model_free(m);
        }
    }
    rasp_program_free(&p);
    return ok;
}

static void test_equiv_brute_force(void) {
    GenConfig c;
    gen_config_default(&c);
    c.max_ops = 4;
    c.max_seq_len = 4;
    char err[512];
    GenSampler *s = gen_sampler_new(&c, err, sizeof err);
    CHECK_MSG(s != NULL, "%s", err);
    if (!s) return;
    Value vocab[GEN_MAX_VOCAB];
    for (int i = 0; i < c.n_vocab; i++) vocab[i] = val_int(c.vocab[i]);
    uint64_t st = 42;
    long undefined = 0;
    int compared = 0, agree = 0, equiv = 0, diff = 0, skipped_pairs = 0, unfaithful = 0;
    for (int k = 0; k < 400; k++) {
        GenSample a, b;
        if (gen_sample(s, gen_sample_seed(7, (uint64_t)k), &a)) continue;
        int16_t pred[T_SIZE];
        if (k % 3 == 0) {
            if (gen_sample(s, gen_sample_seed(8, (uint64_t)k), &b)) continue;
            memcpy(pred, b.tokens, sizeof pred);
        } else if (k % 3 == 1 || !swap_commutative(a.tokens, pred)) {
            mutate(a.tokens, pred, &st);
        }
        EquivResult r;
        int rc = equiv_check_pair(a.tokens, pred, vocab, c.n_vocab, c.max_seq_len, NULL, NULL, &r,
                                  err, sizeof err);
        CHECK_MSG(rc == 0, "%s", err);
        CHECK_MSG(r.status != EVAL_FN_TRUE_FAILED, "sample %d: %s", k, r.detail);
        if (r.status != EVAL_FN_EQUIVALENT && r.status != EVAL_FN_DIFFERENT) continue;
        /* the compiled models stand for their programs only where Tracr compiles faithfully */
        if (!faithful(a.tokens, vocab, c.n_vocab, c.max_seq_len) ||
            !faithful(pred, vocab, c.n_vocab, c.max_seq_len)) {
            unfaithful++;
            continue;
        }
        RaspProgram pa, pb;
        CHECK(pt_decode(a.tokens, vocab, c.n_vocab, c.max_seq_len, &pa, err, sizeof err) == 0);
        CHECK(pt_decode(pred, vocab, c.n_vocab, c.max_seq_len, &pb, err, sizeof err) == 0);
        bool skipped = false;
        bool brute = brute_equiv(&pa, &pb, vocab, c.n_vocab, c.max_seq_len, &skipped);
        rasp_program_free(&pa);
        rasp_program_free(&pb);
        if (skipped) { /* the interpreter raised on some input: no reference verdict */
            skipped_pairs++;
            continue;
        }
        compared++;
        bool model = r.status == EVAL_FN_EQUIVALENT;
        undefined += r.n_undefined;
        equiv += model;
        CHECK(!r.exact); /* every prediction differs from its truth somewhere */
        diff += !model;
        if (model == brute) agree++;
        else
            fprintf(stderr, "  disagreement on pair %d: model %s, interpreter %s (%s)\n", k,
                    eval_func_name(r.status), brute ? "equivalent" : "different", r.detail);
    }
    gen_sampler_free(s);
    fprintf(stderr,
            "  brute force: %d pairs compared (%d equivalent, %d different), %d agree, "
            "%d skipped (interpreter raised), %d skipped (unfaithful compilation)\n",
            compared, equiv, diff, agree, skipped_pairs, unfaithful);
    CHECK(compared >= 150);
    CHECK(equiv >= 20 && diff >= 20);
    CHECK(agree == compared);
    CHECK(undefined > 0); /* positions where the truth is None were met and skipped */
}

int main(void) {
    RUN(test_table_len);
    RUN(test_compare_identical);
    RUN(test_compare_one_cell);
    RUN(test_compare_shorter);
    RUN(test_compare_longer);
    RUN(test_compare_garbage);
    RUN(test_aggregate);
    RUN(test_no_decode_counts);
    RUN(test_compare_table_values);
    RUN(test_equiv_hand);
    RUN(test_equiv_program);
    RUN(test_equiv_random);
    RUN(test_equiv_brute_force);
    TEST_END();
}
