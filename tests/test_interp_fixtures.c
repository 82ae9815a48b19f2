/* The evaluator and value-set inference against Tracr's own results in
 * tests/fixtures/tracr/NAME.json: every case's `eval` (the RASP evaluator's output, or
 * `eval_error`), and the output's unembedding columns (`output.values`: the sorted value set
 * of the sink). Programs are built by hand here, mirroring NAME.rasp, so this test does not
 * depend on the parser. */
#include <cjson/cJSON.h>

#include "io/json_util.h"
#include "rasp_build.h"
#include "test.h"

static PyExpr *X(RaspProgram *p) { return py_param(&p->arena, 0); }
static PyExpr *Y(RaspProgram *p) { return py_param(&p->arena, 1); }
static PyExpr *K(RaspProgram *p, Value v) { return py_const(&p->arena, v); }
static PyExpr *BIN(RaspProgram *p, PyBinOp op, PyExpr *a, PyExpr *b) {
    return py_binary(&p->arena, op, a, b);
}

static cJSON *load_fixture(const char *name) {
    char path[256];
    snprintf(path, sizeof path, FIXTURE_DIR "/tracr/%s.json", name);
    cJSON *j = NULL;
    char err[512];
    if (json_read_file(path, &j, err, sizeof err) != 0) fprintf(stderr, "  %s\n", err);
    return j;
}

static Value json_value(const cJSON *j) {
    if (cJSON_IsNull(j)) return val_none();
    if (cJSON_IsBool(j)) return val_bool(cJSON_IsTrue(j));
    if (cJSON_IsString(j)) return val_str(j->valuestring);
    double d = j->valuedouble;
    if (d == (double)(int64_t)d) return val_int((int64_t)d);
    return val_float(d);
}

/* JSON null = None, bools stay bools, numbers compare with 1e-9 (they have 9 digits) */
static bool value_matches(Value got, const cJSON *want) {
    if (cJSON_IsNull(want)) return got.kind == VAL_NONE;
    if (cJSON_IsBool(want)) return got.kind == VAL_BOOL && got.u.b == cJSON_IsTrue(want);
    if (cJSON_IsString(want)) return got.kind == VAL_STR && strcmp(got.u.s, want->valuestring) == 0;
    if (cJSON_IsNumber(want))
        return (got.kind == VAL_INT || got.kind == VAL_FLOAT) &&
               fabs(val_as_double(got) - want->valuedouble) <= 1e-9 * (1 + fabs(want->valuedouble));
    return false;
}

/* Runs every case of the fixture; returns the number of mismatches. */
static int check_fixture(RaspProgram *p, const char *name) {
    cJSON *j = load_fixture(name);
    if (!j) {
        fprintf(stderr, "  cannot read fixture %s\n", name);
        return 1;
    }
    int bad = 0, n_cases = 0;
    bool causal = cJSON_IsTrue(cJSON_GetObjectItem(j, "causal"));
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases")) {
        const cJSON *in = cJSON_GetObjectItem(c, "input"), *want = cJSON_GetObjectItem(c, "eval");
        int n = cJSON_GetArraySize(in);
        Value xs[64], out[64];
        for (int i = 0; i < n; i++) xs[i] = json_value(cJSON_GetArrayItem(in, i));
        char err[300];
        int rc = rasp_interp(p, xs, n, causal, out, err, sizeof err);
        bool want_err = cJSON_GetObjectItem(c, "eval_error") != NULL;
        n_cases++;
        if (want_err || rc) {
            if (!(want_err && rc)) {
                fprintf(stderr, "  %s case %d: error mismatch (%s)\n", name, n_cases,
                        rc ? err : "no error");
                bad++;
            }
            continue;
        }
        for (int i = 0; i < n; i++)
            if (!value_matches(out[i], cJSON_GetArrayItem(want, i))) {
                char g[64];
                val_repr_fmt(out[i], g, sizeof g);
                fprintf(stderr, "  %s case %d pos %d: got %s\n", name, n_cases, i, g);
                bad++;
            }
    }
    if (n_cases < 10) bad++;

    /* value set of the output, sorted as residual directions == the unembedding columns */
    const cJSON *vocab = cJSON_GetObjectItem(j, "vocab");
    int nv = cJSON_GetArraySize(vocab);
    Value vv[32];
    for (int i = 0; i < nv; i++) vv[i] = json_value(cJSON_GetArrayItem(vocab, i));
    int N = cJSON_GetObjectItem(j, "max_seq_len")->valueint;
    ValueSet *sets = calloc((size_t)p->n_exprs, sizeof *sets);
    char err[300];
    if (rasp_infer_value_sets(p, vv, nv, N, sets, err, sizeof err)) {
        fprintf(stderr, "  %s: inference failed: %s\n", name, err);
        bad++;
    } else {
        const cJSON *cols = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "output"), "values");
        ValueSet *o = &sets[p->output];
        if (p->exprs[p->output].enc == ENC_CATEGORICAL) {
            valset_sort(o, p->exprs[p->output].label);
            if ((int)o->n != cJSON_GetArraySize(cols)) {
                fprintf(stderr, "  %s: %zu output values, fixture has %d\n", name, o->n,
                        cJSON_GetArraySize(cols));
                bad++;
            } else {
                for (int i = 0; i < (int)o->n; i++)
                    if (!value_matches(o->items[i], cJSON_GetArrayItem(cols, i))) bad++;
            }
        }
    }
    rasp_free_value_sets(sets, p->n_exprs);
    free(sets);
    cJSON_Delete(j);
    return bad;
}

static void test_reverse(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    int all = rb_select(&p, t, t, PRED_TRUE, "all_true_selector");
    int len = rb_selwidth(&p, all, ENC_CATEGORICAL, "length");
    int opp = rb_seqmap(&p, BIN(&p, PYB_SUB, X(&p), Y(&p)), len, i, ENC_CATEGORICAL, "opp_idx");
    int opp1 =
        rb_map(&p, BIN(&p, PYB_SUB, X(&p), K(&p, val_int(1))), opp, ENC_CATEGORICAL, "opp_idx_m1");
    int flip = rb_select(&p, i, opp1, PRED_EQ, "reverse_selector");
    int rev = rb_aggregate(&p, flip, t, val_none(), ENC_CATEGORICAL, "reverse");
    rb_finish(&p, rev);
    CHECK(check_fixture(&p, "reverse") == 0);
    rasp_program_free(&p);
}

static void test_frac_prevs(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    int bools = rb_map(&p, py_cmp2(&p.arena, PYC_EQ, X(&p), K(&p, val_str("l"))), t, ENC_NUMERICAL,
                       "bools");
    int prevs = rb_select(&p, i, i, PRED_LEQ, "prevs");
    int frac = rb_aggregate(&p, prevs, bools, val_int(0), ENC_NUMERICAL, "frac_prevs");
    rb_finish(&p, frac);
    CHECK(check_fixture(&p, "frac_prevs") == 0);
    rasp_program_free(&p);
}

static void test_hist_length_count(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p);
    int s = rb_select(&p, t, t, PRED_EQ, "same_tok");
    rb_finish(&p, rb_selwidth(&p, s, ENC_CATEGORICAL, "hist"));
    CHECK(check_fixture(&p, "hist") == 0);
    rasp_program_free(&p);

    rasp_program_init(&p);
    t = rb_tokens(&p);
    s = rb_select(&p, t, t, PRED_TRUE, "all_true_selector");
    rb_finish(&p, rb_selwidth(&p, s, ENC_CATEGORICAL, "length"));
    CHECK(check_fixture(&p, "length") == 0);
    rasp_program_free(&p);

    rasp_program_init(&p);
    t = rb_tokens(&p);
    s = rb_select_fn(&p, t, t, py_cmp2(&p.arena, PYC_EQ, X(&p), K(&p, val_str("a"))), "select_a");
    rb_finish(&p, rb_selwidth(&p, s, ENC_CATEGORICAL, "count_a"));
    CHECK(check_fixture(&p, "count") == 0);
    rasp_program_free(&p);
}

static void test_shift_by_and_sort_unique(void) {
    RaspProgram p;
    rasp_program_init(&p);
    int t = rb_tokens(&p), i = rb_indices(&p);
    PyExpr *body = py_cmp2(&p.arena, PYC_EQ, Y(&p), BIN(&p, PYB_ADD, X(&p), K(&p, val_int(1))));
    int s = rb_select_fn(&p, i, i, body, "select_off_by_offset");
    rb_finish(&p, rb_aggregate(&p, s, t, val_none(), ENC_CATEGORICAL, "shift_by"));
    CHECK(check_fixture(&p, "shift_by") == 0);
    rasp_program_free(&p);

    rasp_program_init(&p);
    t = rb_tokens(&p);
    i = rb_indices(&p);
    int smaller = rb_select(&p, t, t, PRED_LT, "smaller");
    int target = rb_selwidth(&p, smaller, ENC_CATEGORICAL, "target_pos");
    int sel_new = rb_select(&p, target, i, PRED_EQ, "sel_new");
    rb_finish(&p, rb_aggregate(&p, sel_new, t, val_none(), ENC_CATEGORICAL, "sort"));
    CHECK(check_fixture(&p, "sort_unique") == 0);
    rasp_program_free(&p);
}

int main(void) {
    RUN(test_reverse);
    RUN(test_frac_prevs);
    RUN(test_hist_length_count);
    RUN(test_shift_by_and_sort_unique);
    TEST_END();
}
