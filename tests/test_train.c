/* Meta-model training pieces: the flat program-token codec, the decoding constraint (random
 * walks through it always give tables pt_decode accepts; real programs are never refused),
 * a tiny model overfitting real compiled samples, and bit-identical resume. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/accept.h"
#include "meta/meta.h"
#include "test.h"
#include "util/rng.h"

/* Real samples: generated programs, compiled and turned into weight tokens. */
static void make_samples(TrainData *d, int n, uint64_t base) {
    GenConfig gc;
    gen_config_default(&gc);
    char err[256];
    GenSampler *s = gen_sampler_new(&gc, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    AccSettings st;
    acc_settings_default(&st);
    AccResult r;
    acc_result_init(&r);
    for (uint64_t i = 0; d->n < n && i < (uint64_t)n * 20; i++) {
        if (acc_run(s, &st, gen_sample_seed(base, i), &r) != ACC_OK) continue;
        CHECK(train_data_add(d, r.tokens, r.wt.payload, r.wt.ids, r.wt.n, 512) == 0);
    }
    acc_result_free(&r);
    gen_sampler_free(s);
    CHECK(d->n == n);
}

static void test_codec_roundtrip(void) {
    TrainData d;
    train_data_init(&d);
    make_samples(&d, 40, 7);
    int V = pc_vocab_size();
    CHECK(V > 3);
    /* every flat id names one (column, id) pair, or one value token, and back */
    for (int f = PC_FIRST; f < V; f++) {
        int c, id;
        CHECK(pc_unflat(f, &c, &id) == 0 &&
              (c == PC_COL_VAL ? pc_flat_value(id) : pc_flat(c, id)) == f);
    }
    /* the ids from before tables keep their meaning: the shipped meta-model's vocabulary is
     * the first PC_BASE_VOCAB, and its last token is out:v30 */
    CHECK(pc_col_offset(PT_COLS) == PC_BASE_VOCAB &&
          pc_flat(PT_COL_OUT, PT_OUT_V1 + PT_MAX_VARS - 1) == PC_BASE_VOCAB - 1);
    CHECK(pc_flat(PT_COL_FN, PT_FN_TABLE) == PC_BASE_VOCAB && pc_flat_value(PT_END) == V - 1);
    int c, id;
    CHECK(pc_unflat(V, &c, &id) != 0 && pc_unflat(PC_EOS, &c, &id) != 0);
    char err[256];
    for (int s = 0; s < d.n; s++) {
        const int16_t *tab = d.prog + (size_t)s * PT_ROWS * PT_COLS;
        int32_t seq[PC_MAX_LEN];
        int len;
        CHECK(pc_encode(tab, seq, &len, err, sizeof err) == 0);
        CHECK(len % PT_COLS == 1 && seq[len - 1] == PC_EOS);
        int16_t back[PT_ROWS * PT_COLS];
        CHECK(pc_decode(seq, len, back, err, sizeof err) == 0);
        CHECK(memcmp(back, tab, sizeof back) == 0);
        /* the constraint lets every real program through, token by token */
        unsigned char *allowed = malloc((size_t)V);
        for (int t = 0; t < len; t++) {
            CHECK(pc_allowed(seq, t, allowed) > 0);
            CHECK_MSG(allowed[seq[t]], "sample %d: token %d refused", s, t);
        }
        CHECK(pc_allowed(seq, len, allowed) == 0); /* nothing after EOS */
        free(allowed);
    }
    /* malformed sequences are errors, not crashes */
    int32_t bad[3] = {PC_FIRST, PC_FIRST, PC_EOS};
    int16_t tab[PT_ROWS * PT_COLS];
    CHECK(pc_decode(bad, 3, tab, err, sizeof err) != 0);
    CHECK(pc_decode(bad, 0, tab, err, sizeof err) != 0);
    int32_t wrongcol[7];
    for (int i = 0; i < 6; i++) wrongcol[i] = pc_col_offset(0);
    wrongcol[6] = PC_EOS;
    CHECK(pc_decode(wrongcol, 7, tab, err, sizeof err) != 0 && strstr(err, "column"));
    train_data_free(&d);
}

/* Random walks: at every step pick a uniformly random allowed token; the walk must never get
 * stuck and must always end in a table that pt_decode accepts. Walks biased towards long
 * programs (EOS taken rarely) exercise the row limit. */
static void test_constraint_walks(void) {
    int V = pc_vocab_size();
    unsigned char *allowed = malloc((size_t)V);
    Rng r;
    rng_seed(&r, 99);
    int max_rows = 0, fails = 0, walks = 3000;
    for (int w = 0; w < walks; w++) {
        int32_t seq[PC_MAX_LEN + 1];
        int n = 0;
        double p_eos = w % 3 == 0 ? 0.02 : 0.5;
        while (1) {
            int cnt = pc_allowed(seq, n, allowed);
            if (cnt <= 0 || n >= PC_MAX_LEN) break;
            int pick = -1;
            if (allowed[PC_EOS] && rng_uniform(&r) < p_eos) pick = PC_EOS;
            else {
                int k = (int)rng_below(&r, (uint64_t)cnt), seen = 0;
                for (int v = 0; v < V && pick < 0; v++)
                    if (allowed[v] && seen++ == k) pick = v;
                if (pick == PC_EOS && cnt > 1 && rng_uniform(&r) >= p_eos) continue;
            }
            seq[n++] = pick;
            if (pick == PC_EOS) break;
        }
        char err[256];
        int16_t tab[PT_ROWS * PT_COLS];
        RaspProgram p;
        int ok = n > 0 && seq[n - 1] == PC_EOS && pc_decode(seq, n, tab, err, sizeof err) == 0 &&
                 pt_decode(tab, NULL, 0, 0, &p, err, sizeof err) == 0;
        if (!ok) {
            if (fails++ < 3) fprintf(stderr, "walk %d (%d tokens) invalid: %s\n", w, n, err);
        } else {
            rasp_program_free(&p);
            if ((n - 1) / PT_COLS > max_rows) max_rows = (n - 1) / PT_COLS;
        }
    }
    CHECK_MSG(fails == 0, "%d of %d walks gave invalid programs", fails, walks);
    printf("constraint walks: %d, longest %d rows\n", walks, max_rows);
    CHECK(max_rows == PT_MAX_VARS); /* the row limit is reached and respected */
    free(allowed);
}

static TrainConfig tiny_config(void) {
    TrainConfig c;
    train_config_default(&c);
    c.d_model = 64, c.n_layer = 2, c.n_head = 4, c.batch = 8, c.lr = 3e-3, c.lr_min = 3e-3;
    c.warmup = 10, c.steps = 300, c.weight_decay = 0, c.max_prefix = 512, c.seed = 5;
    return c;
}

static void test_overfit_real(void) {
    TrainData d;
    train_data_init(&d);
    make_samples(&d, 8, 123);
    TrainConfig c = tiny_config();
    Trainer t;
    char err[256];
    CHECK(trainer_init(&t, &c, &d, err, sizeof err) == 0);
    float loss = 0, lr = 0, first = 0;
    double acc = 0, ex = 0;
    long step;
    for (step = 0; step < c.steps; step++) {
        CHECK(trainer_step(&t, &loss, &lr, err, sizeof err) == 0);
        if (step == 0) first = loss;
        if (step % 50 == 49) {
            CHECK(trainer_eval(&t, &d, d.n, d.n, &acc, &ex, err, sizeof err) == 0);
            if (ex == 1.0) break;
        }
    }
    printf("overfit: %ld steps, loss %.3f -> %.4f, token acc %.3f, exact %.3f\n", step + 1, first,
           loss, acc, ex);
    CHECK(ex == 1.0 && acc == 1.0);
    /* beam search agrees on the memorised programs */
    int16_t tab[PT_ROWS * PT_COLS];
    CHECK(meta_decode_table(&t.m, d.payload, d.ids, (int)d.off[1], 3, tab, err, sizeof err) == 0);
    CHECK(memcmp(tab, d.prog, sizeof tab) == 0);
    trainer_free(&t);
    train_data_free(&d);
}

static void test_resume_identical(void) {
    TrainData d;
    train_data_init(&d);
    make_samples(&d, 13, 321); /* 13 samples, batch 8: epochs straddle batches */
    TrainConfig c = tiny_config();
    c.d_model = 32, c.steps = 12, c.lr_min = 1e-4;
    char err[256], path[] = "/tmp/itracr_test_train_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    float straight[12], resumed[12], lr;
    Trainer t;
    CHECK(trainer_init(&t, &c, &d, err, sizeof err) == 0);
    for (int s = 0; s < 12; s++) CHECK(trainer_step(&t, &straight[s], &lr, err, sizeof err) == 0);
    trainer_free(&t);
    CHECK(trainer_init(&t, &c, &d, err, sizeof err) == 0);
    for (int s = 0; s < 6; s++) CHECK(trainer_step(&t, &resumed[s], &lr, err, sizeof err) == 0);
    CHECK(trainer_save(&t, path, err, sizeof err) == 0);
    trainer_free(&t);
    CHECK_MSG(trainer_init_resume(&t, &c, &d, path, err, sizeof err) == 0, "%s", err);
    CHECK(t.m.step == 6);
    for (int s = 6; s < 12; s++) CHECK(trainer_step(&t, &resumed[s], &lr, err, sizeof err) == 0);
    trainer_free(&t);
    CHECK(memcmp(straight, resumed, sizeof straight) == 0);
    /* a different model config does not resume silently */
    TrainConfig c2 = c;
    c2.d_model = 64;
    CHECK(trainer_init_resume(&t, &c2, &d, path, err, sizeof err) != 0);
    unlink(path);
    train_data_free(&d);
}

static void test_config_json(void) {
    TrainConfig a, b;
    train_config_default(&a);
    a.d_model = 96, a.lr = 0.00025, a.seed = 77, a.steps = 1234;
    char *j = train_config_to_json(&a);
    train_config_default(&b);
    char err[256];
    CHECK(train_config_from_json(j, &b, err, sizeof err) == 0);
    CHECK(b.d_model == 96 && b.lr == 0.00025 && b.seed == 77 && b.steps == 1234);
    free(j);
    CHECK(train_config_from_json("{\"d_modl\":3}", &b, err, sizeof err) != 0 &&
          strstr(err, "d_modl"));
    CHECK(train_config_from_json("{\"batch\":1.5}", &b, err, sizeof err) != 0);
    CHECK(train_config_from_json("[1]", &b, err, sizeof err) != 0);
    b.n_head = 5;
    CHECK(train_config_check(&b, err, sizeof err) != 0);
}

int main(void) {
    RUN(test_config_json);
    RUN(test_codec_roundtrip);
    RUN(test_constraint_walks);
    RUN(test_resume_identical);
    RUN(test_overfit_real);
    TEST_END();
}
