/* Per-program settings of the sampler (GenConfig.vary): every range end, vocabulary kind,
 * encoding and causality is drawn; every sample decodes and compiles in its own setting with
 * the sizes the sampler predicts; one-point ranges give the fixed setting's samples bit for
 * bit; the same seed gives the same bytes; settings survive their integer form and a shard. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/model.h"
#include "dataset/accept.h"
#include "dataset/shard.h"
#include "gen/program_tokens.h"
#include "gen/sampler.h"
#include "rasp/rasp.h"
#include "test.h"

static GenSampler *new_sampler(const GenConfig *c) {
    char err[256];
    GenSampler *s = gen_sampler_new(c, err, sizeof err);
    CHECK_MSG(s != NULL, "%s", err);
    return s;
}

static int kind_index(int kind) {
    for (int k = 0; k < GEN_VOCAB_KINDS; k++)
        if (kind == 1 << k) return k;
    return -1;
}

/* The setting's own vocabulary is what the sample's values come from. */
static void check_vocab(const GenSetting *g) {
    CHECK(g->n_vocab >= 2 && g->n_vocab <= 10);
    int nint = 0, nstr = 0;
    for (int i = 0; i < g->n_vocab; i++) {
        nint += g->vocab[i].kind == VAL_INT;
        nstr += g->vocab[i].kind == VAL_STR;
        if (i > 0) CHECK(val_dir_cmp("tokens", g->vocab[i - 1], g->vocab[i]) < 0);
    }
    switch (g->kind) {
    case GEN_VOCAB_INT:
        CHECK(nint == g->n_vocab);
        for (int i = 0; i < g->n_vocab; i++) CHECK(g->vocab[i].u.i == i);
        break;
    case GEN_VOCAB_LETTERS:
        CHECK(nstr == g->n_vocab);
        for (int i = 0; i < g->n_vocab; i++) CHECK(strlen(g->vocab[i].u.s) == 1);
        break;
    case GEN_VOCAB_WORDS:
        CHECK(nstr == g->n_vocab);
        for (int i = 0; i < g->n_vocab; i++) CHECK(strlen(g->vocab[i].u.s) >= 2);
        break;
    case GEN_VOCAB_MIXED: CHECK(nint >= 1 && nstr >= 1 && nint + nstr == g->n_vocab); break;
    default: CHECK_MSG(0, "unknown kind %d", g->kind);
    }
}

static void test_coverage_and_compile(void) {
    GenConfig c;
    gen_config_general(&c);
    char err[512];
    CHECK(gen_config_check(&c, err, sizeof err) == 0);
    CHECK(gen_config_varies(&c));
    GenSampler *s = new_sampler(&c);
    if (!s) return;
    int sizes[11] = {0}, lens[11] = {0}, kinds[GEN_VOCAB_KINDS] = {0}, causal[2] = {0};
    int num_map = 0, num_agg = 0, cat_agg = 0, num_sw = 0, compiled = 0, failed = 0, invalid = 0;
    int kinds_compiled[GEN_VOCAB_KINDS] = {0}, causal_compiled = 0;
    for (int i = 0; i < 600; i++) {
        GenSample g;
        if (gen_sample(s, gen_sample_seed(5, (uint64_t)i), &g) != 0) continue;
        const GenSetting *st = &g.setting;
        check_vocab(st);
        sizes[st->n_vocab]++;
        CHECK(st->max_seq_len >= 2 && st->max_seq_len <= 10);
        lens[st->max_seq_len]++;
        kinds[kind_index(st->kind)]++;
        causal[st->causal]++;
        for (int k = 0; k < g.n_rows; k++) {
            const PtOp *o = &g.rows[k];
            num_map += o->op == PT_OP_MAP && o->enc == PT_ENC_NUM;
            num_agg += o->op == PT_OP_AGGREGATE && o->enc == PT_ENC_NUM;
            cat_agg += o->op == PT_OP_AGGREGATE && o->enc == PT_ENC_CAT;
            num_sw += o->op == PT_OP_SELWIDTH && o->enc == PT_ENC_NUM;
        }
        RaspProgram p;
        if (pt_decode(g.tokens, st->vocab, st->n_vocab, st->max_seq_len, &p, err, sizeof err) !=
            0) {
            CHECK_MSG(0, "%s", err);
            continue;
        }
        p.causal = st->causal;
        RaspReport r;
        rasp_report_init(&r);
        if (rasp_validate_compilable(&p, st->vocab, st->n_vocab, st->max_seq_len, &r) != 0 &&
            invalid++ < 3) {
            char *t = pt_format_table(g.tokens), d[256];
            gen_setting_describe(st, d, sizeof d);
            CHECK_MSG(0, "not compilable in %s: %s\n%s", d, r.items[0].msg, t);
            free(t);
        }
        rasp_report_free(&r);
        if (i % 3 == 0) {
            CompileOptions o;
            compile_options_default(&o);
            CompiledModel *m = NULL;
            if (compile_program(&p, &o, &m, err, sizeof err) != 0) {
                if (failed++ < 3) CHECK_MSG(0, "compile failed: %s", err);
            } else {
                compiled++;
                kinds_compiled[kind_index(st->kind)]++;
                causal_compiled += m->causal;
                CHECK(m->causal == st->causal && m->max_seq_len == st->max_seq_len &&
                      m->vocab_size == st->n_vocab + 2);
                CHECK_MSG(m->residual_dim == g.residual && m->num_layers == g.layers &&
                              m->mlp_hidden_size == g.mlp_width && m->key_size == g.key_size,
                          "predicted D=%d L=%d M=%d ks=%d, compiled %d %d %d %d", g.residual,
                          g.layers, g.mlp_width, g.key_size, m->residual_dim, m->num_layers,
                          m->mlp_hidden_size, m->key_size);
                compiled_model_free(m);
            }
        }
        rasp_program_free(&p);
    }
    CHECK(sizes[2] > 0 && sizes[10] > 0 && lens[2] > 0 && lens[10] > 0);
    for (int k = 0; k < GEN_VOCAB_KINDS; k++)
        CHECK_MSG(kinds[k] > 50 && kinds_compiled[k] > 5, "kind %d: %d", k, kinds[k]);
    CHECK(causal[0] > 300 && causal[1] > 80 && causal_compiled > 10);
    CHECK(num_map > 20 && num_agg > 20 && cat_agg > 20 && num_sw > 20);
    CHECK(compiled > 150 && failed == 0 && invalid == 0);
    gen_sampler_free(s);
}

/* One-point ranges of kind int, never causal: the fixed setting's samples, bit for bit. */
static void test_point_ranges_are_fixed(void) {
    GenConfig fixed, point;
    gen_config_default(&fixed);
    gen_config_general(&point);
    point.vocab_min = point.vocab_max = 5;
    point.vocab_kinds = GEN_VOCAB_INT;
    point.len_min = point.len_max = 5;
    point.p_causal = 0;
    point.p_table = 0;
    point.p_pred_table = 0;
    CHECK(!gen_config_varies(&point) &&
          gen_config_varies(
              &(GenConfig){.vary = true, .vocab_min = 2, .vocab_max = 3, .vocab_kinds = 1}));
    GenSampler *a = new_sampler(&fixed), *b = new_sampler(&point);
    if (!a || !b) return;
    int same = 0;
    for (int i = 0; i < 200; i++) {
        GenSample x, y;
        int ra = gen_sample(a, gen_sample_seed(9, (uint64_t)i), &x);
        int rb = gen_sample(b, gen_sample_seed(9, (uint64_t)i), &y);
        CHECK(ra == rb);
        if (ra || rb) continue;
        same += memcmp(x.tokens, y.tokens, sizeof x.tokens) == 0;
        int32_t rx[GEN_SETTING_COLS], ry[GEN_SETTING_COLS];
        CHECK(gen_setting_to_row(&x.setting, rx) == 0 && gen_setting_to_row(&y.setting, ry) == 0);
        CHECK(memcmp(rx, ry, sizeof rx) == 0);
    }
    CHECK(same >= 190);
    GenConfig n = point;
    gen_config_normalize(&n);
    CHECK(!n.vary && n.n_vocab == 5 && n.max_seq_len == 5 && n.vocab[4] == 4);
    gen_sampler_free(a);
    gen_sampler_free(b);
}

static void test_determinism(void) {
    GenConfig c;
    gen_config_general(&c);
    GenSampler *a = new_sampler(&c), *b = new_sampler(&c);
    if (!a || !b) return;
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        GenSample x, y, z;
        int ra = gen_sample(a, gen_sample_seed(2, (uint64_t)i), &x);
        gen_sample(b, gen_sample_seed(2, (uint64_t)(99 - i)), &y); /* another order */
        int rz = gen_sample(b, gen_sample_seed(2, (uint64_t)i), &z);
        CHECK(ra == rz);
        if (ra) continue;
        int32_t rx[GEN_SETTING_COLS], rzr[GEN_SETTING_COLS];
        CHECK(gen_setting_to_row(&x.setting, rx) == 0 && gen_setting_to_row(&z.setting, rzr) == 0);
        CHECK(memcmp(x.tokens, z.tokens, sizeof x.tokens) == 0 && memcmp(rx, rzr, sizeof rx) == 0);
        differ += x.setting.n_vocab != y.setting.n_vocab || x.setting.kind != y.setting.kind;
    }
    CHECK(differ > 50);
    gen_sampler_free(a);
    gen_sampler_free(b);
}

static void test_setting_rows(void) {
    GenSetting g = {0}, h;
    g.kind = GEN_VOCAB_MIXED;
    g.n_vocab = 3;
    g.vocab[0] = val_int(0);
    g.vocab[1] = val_str("q");
    g.vocab[2] = val_str("zoo");
    g.max_seq_len = 7;
    g.causal = true;
    int32_t row[GEN_SETTING_COLS];
    CHECK(gen_setting_to_row(&g, row) == 0);
    CHECK(row[GEN_SET_VOCAB0] == 0 && row[GEN_SET_VOCAB0 + 1] == -(1 + ('q' - 'a')));
    CHECK(gen_setting_from_row(row, &h) == 0);
    CHECK(h.kind == g.kind && h.n_vocab == 3 && h.max_seq_len == 7 && h.causal);
    for (int i = 0; i < 3; i++)
        CHECK(val_eq(h.vocab[i], g.vocab[i]) && h.vocab[i].kind == g.vocab[i].kind);
    char d[128];
    gen_setting_describe(&h, d, sizeof d);
    CHECK_STR(d, "mixed 3 [0 q zoo] len 7 causal");
    /* no code: a string outside the symbols, a negative int */
    g.vocab[1] = val_str("BOS");
    CHECK(gen_setting_to_row(&g, row) != 0);
    g.vocab[1] = val_int(-3);
    CHECK(gen_setting_to_row(&g, row) != 0);
    /* not a setting: duplicate tokens, unknown kind, unknown symbol */
    g.vocab[1] = val_str("q");
    CHECK(gen_setting_to_row(&g, row) == 0);
    int32_t bad[GEN_SETTING_COLS];
    memcpy(bad, row, sizeof bad);
    bad[GEN_SET_VOCAB0 + 2] = bad[GEN_SET_VOCAB0 + 1];
    CHECK(gen_setting_from_row(bad, &h) != 0);
    memcpy(bad, row, sizeof bad);
    bad[GEN_SET_KIND] = 3;
    CHECK(gen_setting_from_row(bad, &h) != 0);
    memcpy(bad, row, sizeof bad);
    bad[GEN_SET_VOCAB0] = -1000;
    CHECK(gen_setting_from_row(bad, &h) != 0);
    unsigned mask;
    CHECK(gen_parse_vocab_kinds("letters,mixed", &mask) == 0 &&
          mask == (GEN_VOCAB_LETTERS | GEN_VOCAB_MIXED));
    CHECK(gen_parse_vocab_kinds("int,float", &mask) != 0 && gen_parse_vocab_kinds("", &mask) != 0);
}

/* The whole acceptance pipeline in drawn settings, and the settings through a shard. */
static void test_accept_and_shard(void) {
    GenConfig c;
    gen_config_general(&c);
    GenSampler *s = new_sampler(&c);
    if (!s) return;
    AccSettings as;
    acc_settings_default(&as);
    AccResult r;
    acc_result_init(&r);
    ShardBuilder b;
    shard_builder_init(&b);
    b.settings = true;
    int accepted = 0, kinds[GEN_VOCAB_KINDS] = {0}, causal = 0;
    int32_t rows[40][GEN_SETTING_COLS];
    for (int i = 0; i < 400 && accepted < 40; i++) {
        if (acc_run(s, &as, gen_sample_seed(11, (uint64_t)i), &r) != ACC_OK) continue;
        const GenSetting *g = &r.sample.setting;
        CHECK(r.meta[ACC_META_VOCAB] == g->n_vocab + 2 &&
              r.meta[ACC_META_MAX_SEQ_LEN] == g->max_seq_len);
        kinds[kind_index(g->kind)]++;
        causal += g->causal;
        CHECK(gen_setting_to_row(g, rows[accepted]) == 0);
        CHECK(shard_builder_add(&b, &r, i) == 0);
        accepted++;
    }
    CHECK(accepted == 40);
    for (int k = 0; k < GEN_VOCAB_KINDS; k++)
        CHECK_MSG(kinds[k] > 0, "no accepted sample of kind %d", k);
    CHECK(causal > 0);
    unsigned char *buf = NULL;
    size_t len = 0;
    char err[512];
    CHECK(shard_serialize(&b, NULL, 0, &buf, &len, err, sizeof err) == 0);
    Shard sh;
    if (shard_read_buffer(buf, len, "mem", &sh, err, sizeof err) == 0) {
        CHECK(sh.setting != NULL && sh.n == accepted);
        if (sh.setting)
            CHECK(memcmp(sh.setting, rows, sizeof(int32_t) * GEN_SETTING_COLS * (size_t)accepted) ==
                  0);
        CHECK(st_meta_get(&sh.f, "vocab_symbols") != NULL);
        shard_free(&sh);
    } else {
        CHECK_MSG(0, "%s", err);
    }
    free(buf);
    /* without settings the shard has no sample_setting tensor (a fixed-setting dataset) */
    b.settings = false;
    CHECK(shard_serialize(&b, NULL, 0, &buf, &len, err, sizeof err) == 0);
    if (shard_read_buffer(buf, len, "mem", &sh, err, sizeof err) == 0) {
        CHECK(sh.setting == NULL);
        shard_free(&sh);
    }
    free(buf);
    shard_builder_free(&b);
    acc_result_free(&r);
    gen_sampler_free(s);
}

int main(void) {
    RUN(test_setting_rows);
    RUN(test_point_ranges_are_fixed);
    RUN(test_determinism);
    RUN(test_coverage_and_compile);
    RUN(test_accept_and_shard);
    TEST_END();
}
