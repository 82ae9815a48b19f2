/* Evaluation in each sample's own setting (eval/eval_setting.h, eval/eval_truth.h,
 * eval/eval_breakdown.h) on a small dataset generated here with drawn settings (`gen
 * --setting general`): the settings read back in sample order, the lift ceiling verifies
 * every sample, every true program is equivalent to itself through eval's own functional
 * check (the prediction side decoded and compiled in the sample's setting), causal samples
 * compile causal -- and compiling one without the mask gives another function, so the
 * self-check above would fail if the prediction side lost causality --, and the breakdown's
 * groups add up to the samples. */
#include <cjson/cJSON.h>

#include "compiler/model.h"
#include "dataset/ds_manifest.h"
#include "dataset/gen_driver.h"
#include "dataset/shard.h"
#include "eval/eval_breakdown.h"
#include "eval/eval_lift.h"
#include "eval/eval_setting.h"
#include "eval/eval_truth.h"
#include "gen/lambda_lib.h"
#include "meta/meta.h"
#include "test.h"

#define N_GEN 60

static char dir[64];
static TrainData d;
static DsGenerator ds;
static const int32_t *rows; /* [d.n, GEN_SETTING_COLS]: d.setting */

/* The dataset: N_GEN samples with drawn settings, half of them in the test split. */
static int make_dataset(void) {
    GdConfig c;
    gd_config_default(&c);
    gen_config_general(&c.gen);
    c.n = N_GEN;
    c.seed = 3;
    c.out_dir = dir;
    char err[512];
    if (gd_parse_splits(&c, "train=0.5,test=0.5", err, sizeof err) != 0) return 1;
    GdStats st;
    if (gd_run(&c, &st, err, sizeof err) != 0 ||
        train_data_load_split(&d, dir, "test", 0, err, sizeof err) != 0 ||
        ds_manifest_generator(dir, &ds, err, sizeof err) != 0) {
        fprintf(stderr, "dataset: %s\n", err);
        return 1;
    }
    rows = d.setting;
    return 0;
}

/* Rows in sample order: the shard's own sample_setting, one row per loaded sample, and still
 * row k for sample k when the loader skips the samples with too many weight tokens. */
static void settings_read_back(void) {
    CHECK(ds.settings);
    CHECK(d.n >= 20);
    DsShardList ml;
    char err[512];
    CHECK(ds_manifest_shards(dir, "test", &ml, err, sizeof err) == 1);
    int k = 0;
    for (int i = 0; i < ml.n; i++) {
        Shard s;
        if (shard_read_file(ml.paths[i], &s, err, sizeof err) != 0) {
            CHECK_MSG(0, "%s", err);
            continue;
        }
        CHECK(s.setting != NULL);
        for (int j = 0; s.setting && j < s.n && k < d.n; j++, k++)
            CHECK(memcmp(rows + (size_t)k * GEN_SETTING_COLS,
                         s.setting + (size_t)j * GEN_SETTING_COLS,
                         sizeof(int32_t) * GEN_SETTING_COLS) == 0);
        shard_free(&s);
    }
    ds_shard_list_free(&ml);
    CHECK(k == d.n);
    CHECK(d.setting_rows == d.n);
    TrainData d2;
    train_data_init(&d2);
    int max_p = d.max_p / 2;
    CHECK(train_data_load_split(&d2, dir, "test", max_p, err, sizeof err) == 0);
    CHECK(d2.skipped > 0 && d2.n > 0 && d2.setting_rows == d2.n);
    /* d2's samples are d's with P <= max_p, in order */
    int j = 0;
    for (int i = 0; i < d2.n; i++) {
        while (j < d.n && d.off[j + 1] - d.off[j] > max_p) j++;
        if (j >= d.n) break;
        CHECK(memcmp(d2.prog + (size_t)i * PT_ROWS * PT_COLS, d.prog + (size_t)j * PT_ROWS * PT_COLS,
                     sizeof(int16_t) * PT_ROWS * PT_COLS) == 0);
        CHECK(memcmp(d2.setting + (size_t)i * GEN_SETTING_COLS, rows + (size_t)j * GEN_SETTING_COLS,
                     sizeof(int32_t) * GEN_SETTING_COLS) == 0);
        j++;
    }
    CHECK(j <= d.n);
    train_data_free(&d2);
    /* the dataset-wide setting when there are no rows */
    GenSetting g;
    EvalSetting es;
    CHECK(eval_setting_of(NULL, 0, ds.vocab, ds.n_vocab, ds.max_seq_len, &g, &es) == 0);
    CHECK(es.vocab == ds.vocab && es.n_vocab == ds.n_vocab && !es.causal && es.kind == 0);
}

/* Lift reads Tracr weights exactly: in each sample's own setting it recovers every one. */
static void lift_ceiling_all(void) {
    int *idx = malloc(sizeof(int) * (size_t)d.n);
    for (int i = 0; i < d.n; i++) idx[i] = i;
    EvalLiftStats st;
    char err[512] = "";
    int rc = eval_lift_ceiling(&d, idx, d.n, ds.vocab, ds.n_vocab, ds.max_seq_len, rows, NULL, 0,
                               &st, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    CHECK(st.n == d.n);
    CHECK_MSG(st.verified == d.n, "verified %d of %d", st.verified, d.n);
    free(idx);
}

/* Every true program against itself through the full check (decoded, compiled in the
 * sample's setting, run on every input): equivalent. The truth's model has the setting's
 * vocabulary, length and causality; for a causal sample whose function depends on the mask
 * the same program compiled without it differs, so the self-check also shows that the
 * prediction side is compiled causal. */
static void truth_equivalent_to_itself(void) {
    EquivOptions eo;
    equiv_options_default(&eo);
    /* fewer inputs than eval's default (up to 100,000): enough to tell a causal model from
     * one without the mask, and seconds instead of a minute under the sanitizers */
    eo.max_exhaustive = 4000;
    eo.n_random = 1000;
    int n_causal = 0, n_mask_matters = 0, n_kinds = 0;
    unsigned kinds = 0;
    for (int i = 0; i < d.n; i++) {
        const int16_t *truth = d.prog + (size_t)i * PT_ROWS * PT_COLS;
        GenSetting g;
        EvalSetting es;
        CHECK(eval_setting_of(rows, i, ds.vocab, ds.n_vocab, ds.max_seq_len, &g, &es) == 0);
        kinds |= (unsigned)es.kind;
        EvalTruth t;
        eval_truth_init(&t);
        char detail[256] = "";
        EvalFunc f = eval_truth_run(&t, truth, truth, &es, &eo, detail, sizeof detail);
        CHECK_MSG(f == EVAL_FN_EQUIVALENT, "sample %d: %s (%s)", i, eval_func_name(f), detail);
        CHECK(eval_truth_check(&t, truth, truth, &es, &eo, NULL, 0) == EVAL_FN_EQUIVALENT);
        if (t.state != 1) {
            eval_truth_free(&t);
            continue;
        }
        CHECK(t.cm->causal == es.causal);
        CHECK(t.cm->max_seq_len == es.max_seq_len);
        CHECK(t.cm->vocab_size == es.n_vocab + 2); /* BOS and PAD */
        for (int k = 0; k < es.n_vocab; k++) CHECK(model_token_id(t.cm, es.vocab[k]) >= 0);
        if (es.causal) {
            n_causal++;
            CompileOptions co;
            compile_options_default(&co);
            co.causal = 0;
            CompiledModel *nc = NULL;
            char err[512];
            CHECK(compile_program(&t.prog, &co, &nc, err, sizeof err) == 0);
            EquivResult r;
            if (nc && equiv_models(t.cm, &t.prog, nc, &eo, &r, err, sizeof err) == 0)
                n_mask_matters += r.status == EVAL_FN_DIFFERENT;
            if (nc) compiled_model_free(nc);
        }
        eval_truth_free(&t);
    }
    for (unsigned k = kinds; k; k &= k - 1) n_kinds++;
    CHECK_MSG(n_kinds >= 3, "vocabulary kinds 0x%x", kinds);
    CHECK_MSG(n_causal >= 1, "no causal sample");
    CHECK_MSG(n_mask_matters >= 1, "%d causal samples, none whose function needs the mask",
              n_causal);
}

/* Sum of "n" over the groups of one dimension of the by_setting JSON. */
static long sum_n(const cJSON *o, const char *dim, int *groups) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, dim), *it;
    long s = 0;
    *groups = 0;
    cJSON_ArrayForEach(it, g) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "n");
        s += cJSON_IsNumber(n) ? (long)n->valuedouble : -1000000;
        (*groups)++;
    }
    return s;
}

/* The breakdown: every dimension's groups add up to the samples; rates from the counts. */
static void breakdown_sums(void) {
    EvalBreakdown b;
    memset(&b, 0, sizeof b);
    int16_t empty[PT_ROWS * PT_COLS] = {0};
    long n_num = 0;
    for (int i = 0; i < d.n; i++) {
        const int16_t *truth = d.prog + (size_t)i * PT_ROWS * PT_COLS;
        GenSetting g;
        EvalSetting es;
        CHECK(eval_setting_of(rows, i, ds.vocab, ds.n_vocab, ds.max_seq_len, &g, &es) == 0);
        n_num += eval_table_numerical(truth);
        /* top-1 right on the even samples, verified@K right on all */
        bool even = i % 2 == 0;
        eval_breakdown_add(&b, &es, truth, even ? truth : empty,
                           even ? EVAL_FN_EQUIVALENT : EVAL_FN_NO_DECODE, truth,
                           EVAL_FN_EQUIVALENT);
    }
    StrBuf sb;
    sb_init(&sb);
    eval_breakdown_json(&b, &sb);
    cJSON *o = cJSON_Parse(sb.s);
    CHECK(o != NULL);
    const char *dims[] = {"vocab_kind", "max_seq_len", "vocab_size", "causal", "encoding"};
    for (int k = 0; k < 5; k++) {
        int groups;
        CHECK_MSG(sum_n(o, dims[k], &groups) == d.n, "%s", dims[k]);
        CHECK(groups >= 2); /* 30 drawn settings span several of each */
    }
    const cJSON *enc = cJSON_GetObjectItemCaseSensitive(o, "encoding");
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(enc, "numerical");
    CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(num, "n")) &&
          (long)cJSON_GetObjectItemCaseSensitive(num, "n")->valuedouble == n_num);
    const cJSON *nc = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(o, "causal"), "non-causal");
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(nc, "verified_exact");
    CHECK(cJSON_IsNumber(x) && x->valuedouble == 1);
    x = cJSON_GetObjectItemCaseSensitive(nc, "exact");
    CHECK(cJSON_IsNumber(x) && x->valuedouble > 0.2 && x->valuedouble < 0.8);
    cJSON_Delete(o);
    sb_free(&sb);
    /* without the search, its rates are null */
    EvalBreakdown b2;
    memset(&b2, 0, sizeof b2);
    GenSetting g;
    EvalSetting es;
    CHECK(eval_setting_of(rows, 0, ds.vocab, ds.n_vocab, ds.max_seq_len, &g, &es) == 0);
    eval_breakdown_add(&b2, &es, d.prog, d.prog, EVAL_FN_EQUIVALENT, NULL, EVAL_FN_UNCHECKED);
    sb_init(&sb);
    eval_breakdown_json(&b2, &sb);
    CHECK(strstr(sb.s, "\"verified_exact\": null") && !strstr(sb.s, "\"verified_exact\": 1"));
    sb_free(&sb);
}

int main(void) {
    char err[256];
    if (gen_lib_init(err, sizeof err) != 0 || test_tmpdir(dir, sizeof dir, "evset") != 0) return 1;
    train_data_init(&d);
    if (make_dataset() == 0) {
        RUN(settings_read_back);
        RUN(lift_ceiling_all);
        RUN(truth_equivalent_to_itself);
        RUN(breakdown_sums);
    } else {
        t_tests_failed++;
    }
    ds_generator_free(&ds);
    train_data_free(&d);
    test_rm_tree(dir);
    TEST_END();
}
