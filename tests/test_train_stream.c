/* Streamed training data (meta/meta.h) and starting from a checkpoint: samples are a
 * function of (seed, position); only train-split, non-classic programs come out; the
 * frequency pool and class weights move the mix the way they claim; a streamed run resumes
 * bit-identically; --init copies parameters (and AdamW state when asked) and restarts the
 * schedule. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset/accept.h"
#include "dataset/gen_driver.h"
#include "meta/meta.h"
#include "rasp/rasp.h"
#include "test.h"

#define CELLS (PT_ROWS * PT_COLS)

static int open_stream(TrainStream *s, uint64_t seed, const char *split, const char *exclude) {
    WtOptions wt;
    wt_options_default(&wt);
    char err[256];
    int rc = train_stream_init(s, NULL, &wt, seed, split, exclude, 320, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    return rc;
}

static int same_sample(const TrainData *a, int i, const TrainData *b, int j) {
    int64_t pa = a->off[i + 1] - a->off[i], pb = b->off[j + 1] - b->off[j];
    return pa == pb &&
           memcmp(a->prog + (size_t)i * CELLS, b->prog + (size_t)j * CELLS,
                  sizeof(int16_t) * CELLS) == 0 &&
           memcmp(a->payload + a->off[i] * WT_WIDTH, b->payload + b->off[j] * WT_WIDTH,
                  sizeof(float) * WT_WIDTH * (size_t)pa) == 0 &&
           memcmp(a->ids + a->off[i] * WT_N_IDS, b->ids + b->off[j] * WT_N_IDS,
                  sizeof(int16_t) * WT_N_IDS * (size_t)pa) == 0;
}

static void test_deterministic_by_position(void) {
    TrainStream s1, s2, s3;
    TrainData a, b, c;
    train_data_init(&a), train_data_init(&b), train_data_init(&c);
    char err[256];
    if (open_stream(&s1, 5, "train", NULL) || open_stream(&s2, 5, "train", NULL) ||
        open_stream(&s3, 6, "train", NULL))
        return;
    CHECK(train_stream_fill(&s1, 0, 8, &a, err, sizeof err) == 0);
    CHECK(train_stream_fill(&s2, 5, 3, &b, err, sizeof err) == 0); /* positions 5..7 alone */
    CHECK(train_stream_fill(&s3, 0, 8, &c, err, sizeof err) == 0);
    CHECK(a.n == 8 && b.n == 3 && c.n == 8);
    for (int k = 0; k < 3; k++) CHECK(same_sample(&a, 5 + k, &b, k));
    int same = 0, distinct = 0;
    for (int k = 0; k < 8; k++) same += same_sample(&a, k, &c, k);
    for (int k = 1; k < 8; k++) distinct += !same_sample(&a, k, &a, k - 1);
    CHECK(same < 8);      /* another seed, other samples */
    CHECK(distinct >= 6); /* positions are not one sample repeated */
    train_stream_free(&s1), train_stream_free(&s2), train_stream_free(&s3);
    train_data_free(&a), train_data_free(&b), train_data_free(&c);
}

/* Every streamed program falls in the stream's split under `itracr gen`'s rule. */
static void test_split_rule(void) {
    GdConfig gd;
    gd_config_default(&gd);
    const char *splits[2] = {"train", "test"};
    int want[2] = {0, 2};
    CHECK_STR(gd.split_name[0], "train");
    CHECK_STR(gd.split_name[2], "test");
    for (int k = 0; k < 2; k++) {
        TrainStream s;
        TrainData d;
        train_data_init(&d);
        char err[256];
        if (open_stream(&s, 9, splits[k], NULL)) return;
        CHECK(train_stream_fill(&s, 0, k == 0 ? 40 : 8, &d, err, sizeof err) == 0);
        int bad = 0;
        for (int i = 0; i < d.n; i++) {
            uint64_t h[2];
            acc_tokens_hash(d.prog + (size_t)i * CELLS, h);
            bad += gd_pick_split(&gd, h) != want[k];
        }
        CHECK_MSG(bad == 0, "%d of %d %s samples outside their split", bad, d.n, splits[k]);
        if (k == 0) CHECK(s.wrong_split > 0);        /* the rule did turn candidates away */
        if (k == 1) CHECK(s.wrong_split > 10 * d.n); /* test is 2%: most candidates are elsewhere */
        train_stream_free(&s);
        train_data_free(&d);
    }
    TrainStream s;
    char err[256];
    WtOptions wt;
    wt_options_default(&wt);
    CHECK(train_stream_init(&s, NULL, &wt, 1, "holdout", NULL, 320, err, sizeof err) != 0 &&
          strstr(err, "holdout"));
}

/* A program written as a classic file is never streamed: the position that drew it gets
 * another sample. */
static void test_classics_excluded(void) {
    TrainStream s, sx;
    TrainData a, b;
    train_data_init(&a), train_data_init(&b);
    char err[256];
    if (open_stream(&s, 12, "train", NULL)) return;
    CHECK(train_stream_fill(&s, 0, 1, &a, err, sizeof err) == 0);
    Value vocab[5];
    for (int i = 0; i < 5; i++) vocab[i] = val_int(i);
    RaspProgram p;
    CHECK_MSG(pt_decode(a.prog, vocab, 5, 5, &p, err, sizeof err) == 0, "%s", err);
    char *text = rasp_format(&p);
    rasp_program_free(&p);
    char dir[64];
    CHECK(test_tmpdir(dir, sizeof dir, "test_stream") == 0);
    char path[256];
    snprintf(path, sizeof path, "%s/classic.rasp", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    free(text);
    uint64_t h[4][2], want[2];
    int total = 0;
    CHECK(gd_classic_hashes(dir, h, 4, &total) == 1 && total == 1);
    acc_tokens_hash(a.prog, want);
    CHECK(h[0][0] == want[0] && h[0][1] == want[1]); /* the file is that program */
    if (open_stream(&sx, 12, "train", dir)) return;
    CHECK(sx.n_classic == 1);
    CHECK(train_stream_fill(&sx, 0, 30, &b, err, sizeof err) == 0);
    CHECK(sx.classic_hits >= 1);
    CHECK(!same_sample(&a, 0, &b, 0));
    for (int i = 0; i < b.n; i++) {
        uint64_t g[2];
        acc_tokens_hash(b.prog + (size_t)i * CELLS, g);
        CHECK(!(g[0] == want[0] && g[1] == want[1]));
    }
    unlink(path);
    rmdir(dir);
    train_stream_free(&s), train_stream_free(&sx);
    train_data_free(&a), train_data_free(&b);
}

static double one_row_share(long pool, double w_one_row, int n) {
    TrainStream s;
    TrainData d;
    train_data_init(&d);
    char err[256];
    if (open_stream(&s, 21, "train", NULL)) return -1;
    CHECK(train_stream_set_pool(&s, pool, err, sizeof err) == 0);
    CHECK(train_stream_set_weight(&s, TS_CLASS_ONE_ROW, w_one_row, err, sizeof err) == 0);
    CHECK(train_stream_fill(&s, 0, n, &d, err, sizeof err) == 0);
    int ones = 0;
    for (int i = 0; i < d.n; i++)
        ones += (ts_classes(d.prog + (size_t)i * CELLS) >> TS_CLASS_ONE_ROW) & 1;
    if (pool) CHECK(s.freq_thinned > 0);
    if (w_one_row > 1) CHECK(s.thinned > 0);
    train_stream_free(&s);
    train_data_free(&d);
    return (double)ones / n;
}

/* The raw sampler repeats short programs; a de-duplicated dataset holds each once. The pool
 * brings the stream's share of one-row programs down toward the dataset's; a class weight
 * raises it. */
static void test_pool_and_weights(void) {
    double raw = one_row_share(0, 1, 300), pooled = one_row_share(20000, 1, 300),
           up = one_row_share(0, 20, 300);
    printf("one-row share: raw %.3f, pool 20000 %.3f, weight 20 %.3f\n", raw, pooled, up);
    CHECK(raw > 0.04);
    CHECK(pooled < raw / 3);
    CHECK(up > 2 * raw);
    char err[256];
    TrainStream s;
    if (open_stream(&s, 21, "train", NULL)) return;
    CHECK(train_stream_set_weight(&s, TS_CLASS_ONE_ROW, 0.5, err, sizeof err) != 0);
    /* a pool count is the number of pool draws with that program */
    CHECK(train_stream_set_pool(&s, 2000, err, sizeof err) == 0);
    AccResult r;
    acc_result_init(&r);
    long n = 0, found = 0;
    uint64_t first[2] = {0, 0};
    for (long i = 0; i < 2000; i++)
        if (acc_sample(s.samp, gen_sample_seed(21 ^ TS_POOL_SALT, (uint64_t)i), &r) == ACC_OK) {
            if (!found++) memcpy(first, r.prog_hash, sizeof first);
            n += r.prog_hash[0] == first[0] && r.prog_hash[1] == first[1];
        }
    CHECK(found > 0 && train_stream_pool_count(&s, first) == (uint32_t)n);
    acc_result_free(&r);
    train_stream_free(&s);
}

/* ts_classes on hand-made tables: one Map row by add2 (injective) or mod2 (not), and a
 * two-row program with a LinearSequenceMap. */
static void test_classes(void) {
    int16_t t[CELLS];
    memset(t, 0, sizeof t);
    for (int c = 0; c < PT_COLS; c++) t[c] = PT_START, t[2 * PT_COLS + c] = PT_END;
    int16_t *r = t + PT_COLS;
    r[PT_COL_OP] = PT_OP_MAP, r[PT_COL_ENC] = PT_ENC_CAT,
    r[PT_COL_FN] = (int16_t)pt_token_id(PT_COL_FN, "add2");
    r[PT_COL_A1] = PT_ARG_TOKENS, r[PT_COL_A2] = PT_ARG_NONE, r[PT_COL_OUT] = PT_OUT_V1;
    CHECK(r[PT_COL_FN] >= PT_FN_LIB0);
    CHECK(ts_classes(t) == (1u << TS_CLASS_ONE_ROW | 1u << TS_CLASS_MONO_MAP));
    r[PT_COL_FN] = (int16_t)pt_token_id(PT_COL_FN, "mod2");
    CHECK(ts_classes(t) == 1u << TS_CLASS_ONE_ROW);
    r[PT_COL_ENC] = PT_ENC_NUM;
    CHECK(ts_classes(t) == (1u << TS_CLASS_ONE_ROW | 1u << TS_CLASS_NUM_MAP));
    int16_t *r2 = t + 2 * PT_COLS;
    r2[PT_COL_OP] = PT_OP_LINSEQMAP, r2[PT_COL_ENC] = PT_ENC_NUM, r2[PT_COL_FN] = PT_FN_LIB0;
    r2[PT_COL_A1] = PT_ARG_TOKENS, r2[PT_COL_A2] = PT_ARG_V1, r2[PT_COL_OUT] = PT_OUT_V1 + 1;
    for (int c = 0; c < PT_COLS; c++) t[3 * PT_COLS + c] = PT_END;
    CHECK(ts_classes(t) == (1u << TS_CLASS_LINSEQMAP | 1u << TS_CLASS_NUM_MAP));
    CHECK_STR(ts_class_name(TS_CLASS_MONO_MAP), "mono_map");
    CHECK(ts_class_name(TS_CLASS_COUNT) == NULL);
}

static TrainConfig tiny(void) {
    TrainConfig c;
    train_config_default(&c);
    c.d_model = 16, c.n_layer = 1, c.n_head = 2, c.batch = 4, c.lr = 3e-3, c.lr_min = 3e-4;
    c.warmup = 3, c.steps = 8, c.max_prefix = 320, c.seed = 4, c.stream = 1;
    return c;
}

/* Trainer on a stream: the batch of step s holds the stream's positions s*B .. s*B+B-1,
 * and a run saved at step 4 and resumed gives the losses and parameters of a straight run. */
static void test_stream_training_resumes(void) {
    TrainConfig c = tiny();
    char err[256], path[] = "/tmp/itracr_test_stream_ckpt_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    TrainStream s;
    if (open_stream(&s, c.seed, "train", NULL)) return;
    Trainer t;
    float straight[8], resumed[8], lr;
    CHECK(trainer_init(&t, &c, NULL, err, sizeof err) == 0);
    trainer_set_stream(&t, &s);
    for (int k = 0; k < 8; k++)
        CHECK_MSG(trainer_step(&t, &straight[k], &lr, err, sizeof err) == 0, "%s", err);
    float *ref = malloc(sizeof(float) * t.m.lay.n_params);
    size_t np = t.m.lay.n_params;
    memcpy(ref, t.m.params, sizeof(float) * np);
    trainer_free(&t);
    train_stream_free(&s);

    if (open_stream(&s, c.seed, "train", NULL)) return;
    CHECK(trainer_init(&t, &c, NULL, err, sizeof err) == 0);
    trainer_set_stream(&t, &s);
    CHECK(trainer_step(&t, &resumed[0], &lr, err, sizeof err) == 0);
    /* the slot the prefetch thread is not writing holds step 0's batch */
    const TrainData *b0 = &t.sbuf[t.th_slot ^ 1];
    TrainStream s2;
    TrainData want;
    train_data_init(&want);
    if (open_stream(&s2, c.seed, "train", NULL)) return;
    CHECK(train_stream_fill(&s2, 0, c.batch, &want, err, sizeof err) == 0);
    CHECK(b0->n == c.batch && t.sstep[t.th_slot ^ 1] == 0);
    for (int i = 0; i < c.batch && b0->n == c.batch; i++) CHECK(same_sample(b0, i, &want, i));
    for (int k = 1; k < 4; k++) CHECK(trainer_step(&t, &resumed[k], &lr, err, sizeof err) == 0);
    CHECK(trainer_save(&t, path, err, sizeof err) == 0);
    trainer_free(&t);
    train_stream_free(&s);

    if (open_stream(&s, c.seed, "train", NULL)) return;
    CHECK_MSG(trainer_init_resume(&t, &c, NULL, path, err, sizeof err) == 0, "%s", err);
    trainer_set_stream(&t, &s);
    CHECK(trainer_run_step(&t) == 4);
    for (int k = 4; k < 8; k++) CHECK(trainer_step(&t, &resumed[k], &lr, err, sizeof err) == 0);
    CHECK(memcmp(straight, resumed, sizeof straight) == 0);
    CHECK(memcmp(ref, t.m.params, sizeof(float) * np) == 0);
    trainer_free(&t);
    train_stream_free(&s), train_stream_free(&s2);
    train_data_free(&want);
    free(ref);
    unlink(path);
}

/* trainer_init_from: parameters always, AdamW state only with keep_adam; the schedule and
 * data positions restart at run step 0. */
static void test_init_from_checkpoint(void) {
    TrainConfig c = tiny();
    char err[256], path[] = "/tmp/itracr_test_stream_init_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    TrainStream s;
    if (open_stream(&s, c.seed, "train", NULL)) return;
    Trainer t;
    float loss, lr;
    CHECK(trainer_init(&t, &c, NULL, err, sizeof err) == 0);
    trainer_set_stream(&t, &s);
    for (int k = 0; k < 5; k++) CHECK(trainer_step(&t, &loss, &lr, err, sizeof err) == 0);
    CHECK(trainer_save(&t, path, err, sizeof err) == 0);
    size_t np = t.m.lay.n_params;
    float *p = malloc(sizeof(float) * np * 3);
    memcpy(p, t.m.params, sizeof(float) * np);
    memcpy(p + np, t.m.adam_m, sizeof(float) * np);
    memcpy(p + 2 * np, t.m.adam_v, sizeof(float) * np);
    trainer_free(&t);

    for (int keep = 0; keep < 2; keep++) {
        TrainConfig c2 = c;
        c2.lr = 1e-3, c2.warmup = 10, c2.seed = 77;
        CHECK_MSG(trainer_init_from(&t, &c2, NULL, path, keep, err, sizeof err) == 0, "%s", err);
        CHECK(memcmp(t.m.params, p, sizeof(float) * np) == 0);
        CHECK(trainer_run_step(&t) == 0);
        CHECK(t.tc.init_step == (keep ? 5 : 0) && t.m.step == (keep ? 5 : 0));
        CHECK_STR(t.tc.init, path);
        int zero = 1;
        for (size_t i = 0; i < np; i++) zero &= t.m.adam_m[i] == 0 && t.m.adam_v[i] == 0;
        if (keep)
            CHECK(memcmp(t.m.adam_m, p + np, sizeof(float) * np) == 0 &&
                  memcmp(t.m.adam_v, p + 2 * np, sizeof(float) * np) == 0);
        else CHECK(zero);
        trainer_set_stream(&t, &s);
        CHECK(trainer_step(&t, &loss, &lr, err, sizeof err) == 0);
        CHECK_NEAR(lr, 1e-3 / 10, 1e-9); /* warm-up step 0 of the new schedule */
        CHECK(trainer_run_step(&t) == 1);
        trainer_free(&t);
    }
    TrainConfig c3 = c;
    c3.d_model = 32;
    CHECK(trainer_init_from(&t, &c3, NULL, path, 0, err, sizeof err) != 0);
    free(p);
    train_stream_free(&s);
    unlink(path);
}

static void test_config_fields(void) {
    TrainConfig a, b;
    train_config_default(&a);
    a.stream = 1, a.val_seed = 99, a.dedup_pool = 1234, a.w_linseqmap = 3, a.init_step = 8000;
    a.general = 0.25;
    snprintf(a.init, sizeof a.init, "models/x.safetensors");
    a.exclude[0] = 0;
    char *j = train_config_to_json(&a);
    char err[256];
    train_config_default(&b);
    CHECK_MSG(train_config_from_json(j, &b, err, sizeof err) == 0, "%s", err);
    free(j);
    CHECK(b.stream == 1 && b.val_seed == 99 && b.dedup_pool == 1234 && b.w_linseqmap == 3 &&
          b.init_step == 8000 && b.general == 0.25);
    CHECK_STR(b.init, "models/x.safetensors");
    CHECK_STR(b.exclude, "");
    CHECK(train_config_from_json("{\"init\":\"a\\\"b\"}", &b, err, sizeof err) != 0);
    CHECK(train_config_from_json("{\"init\":3}", &b, err, sizeof err) != 0);
    b.w_one_row = 0.5;
    CHECK(train_config_check(&b, err, sizeof err) != 0);
    b.w_one_row = 1, b.general = 1.5;
    CHECK(train_config_check(&b, err, sizeof err) != 0);
}

/* The setting of sample i as its config token says it: asinh of the compiled vocabulary
 * size (BOS and PAD included) and of max_seq_len, and the causal flag (docs/dataset.md). */
static void sample_setting(const TrainData *d, int i, int *vocab, int *len, int *causal) {
    const float *pay = d->payload + d->off[i] * WT_WIDTH;
    const int16_t *id = d->ids + d->off[i] * WT_N_IDS;
    *vocab = *len = *causal = -1;
    if (id[0] != WT_KIND_CONFIG) return;
    *vocab = (int)lround(sinh(pay[6]));
    *len = (int)lround(sinh(pay[5]));
    *causal = pay[9] != 0;
}

/* --general P: P = 0 is the plain stream sample for sample; P = 1 draws every sample in the
 * general setting (vocabularies and lengths vary, some causal, some tables); P = 0.5 mixes
 * both, deterministically by position. */
static void test_general_share(void) {
    enum { N = 48 };
    TrainStream plain, zero, all, half, half2;
    TrainData a, z, g, h, h2;
    train_data_init(&a), train_data_init(&z), train_data_init(&g), train_data_init(&h);
    train_data_init(&h2);
    char err[256];
    if (open_stream(&plain, 7, "train", NULL) || open_stream(&zero, 7, "train", NULL) ||
        open_stream(&all, 7, "train", NULL) || open_stream(&half, 7, "train", NULL) ||
        open_stream(&half2, 7, "train", NULL))
        return;
    CHECK(train_stream_set_general(&zero, 0, err, sizeof err) == 0);
    CHECK(train_stream_set_general(&all, 1, err, sizeof err) == 0);
    CHECK(train_stream_set_general(&half, 0.5, err, sizeof err) == 0);
    CHECK(train_stream_set_general(&half2, 0.5, err, sizeof err) == 0);
    CHECK(train_stream_set_general(&half2, 1.5, err, sizeof err) != 0);
    CHECK(train_stream_set_general(&half2, 0.5, err, sizeof err) == 0);
    CHECK(train_stream_fill(&plain, 0, N, &a, err, sizeof err) == 0);
    CHECK(train_stream_fill(&zero, 0, N, &z, err, sizeof err) == 0);
    CHECK_MSG(train_stream_fill(&all, 0, N, &g, err, sizeof err) == 0, "%s", err);
    CHECK(train_stream_fill(&half, 0, N, &h, err, sizeof err) == 0);
    CHECK(train_stream_fill(&half2, 20, 8, &h2, err, sizeof err) == 0);
    int same = 1;
    for (int i = 0; i < N; i++) same &= same_sample(&a, i, &z, i);
    CHECK(same);
    CHECK(zero.general == 0 && all.general == N && half.general > 10 && half.general < N - 10);
    int fixed_g = 0, causal_g = 0, tables_g = 0, fixed_h = 0, other_vocab = 0, other_len = 0;
    for (int i = 0; i < N; i++) {
        int v, l, c;
        sample_setting(&a, i, &v, &l, &c);
        CHECK(v == 7 && l == 5 && c == 0); /* {0..4} with BOS and PAD, length 5 */
        sample_setting(&g, i, &v, &l, &c);
        CHECK(v >= 4 && v <= 12 && l >= 2 && l <= 10);
        fixed_g += v == 7 && l == 5 && c == 0;
        causal_g += c == 1;
        other_vocab += v != 7;
        other_len += l != 5;
        for (int k = 0; k < CELLS; k++)
            tables_g += k % PT_COLS == PT_COL_FN && g.prog[(size_t)i * CELLS + k] == PT_FN_TABLE;
        sample_setting(&h, i, &v, &l, &c);
        fixed_h += v == 7 && l == 5 && c == 0;
    }
    CHECK(causal_g > 0 && tables_g > 0 && other_vocab > N / 2 && other_len > N / 2);
    CHECK(fixed_h > fixed_g && fixed_h < N);
    for (int k = 0; k < 8; k++) CHECK(same_sample(&h, 20 + k, &h2, k));
    train_stream_free(&plain), train_stream_free(&zero), train_stream_free(&all);
    train_stream_free(&half), train_stream_free(&half2);
    train_data_free(&a), train_data_free(&z), train_data_free(&g), train_data_free(&h);
    train_data_free(&h2);
}

int main(void) {
    RUN(test_config_fields);
    RUN(test_general_share);
    RUN(test_deterministic_by_position);
    RUN(test_split_rule);
    RUN(test_classics_excluded);
    RUN(test_classes);
    RUN(test_pool_and_weights);
    RUN(test_stream_training_resumes);
    RUN(test_init_from_checkpoint);
    TEST_END();
}
