/* The decoding constraint on a model's own vocabulary (PcContext): random walks through the
 * allowed tokens on string, mixed and integer vocabularies end in programs that decode, pass
 * rasp_validate_compilable and compile there, tables included; without a context the
 * constraint never offers a table token; a sampler table round-trips through the flat codec
 * and is accepted token by token. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/model.h"
#include "gen/program_tokens.h"
#include "gen/sampler.h"
#include "meta/meta.h"
#include "rasp/rasp.h"
#include "test.h"

static uint64_t g_rng = 88172645463325252ULL;
static uint64_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

typedef struct WalkStats {
    int walks, finished, dead, tables, pred_tables, compiled, failed;
} WalkStats;

/* One random walk: each step takes an allowed token (EOS with chance 1/3 when allowed, so
 * that programs stay short), then decodes and compiles the result. Uniform choices are
 * adversarial: they fill all 30 rows far more often than a trained model. */
/* The same answer from a context with a cache (shared by all walks of a run, so that it
 * fills, is emptied and resumes from other walks' prefixes), for seq[0..n) and for a random
 * shorter prefix of it. */
static void check_cached(const PcContext *ctx, PcCache *cache, const int32_t *seq, int n, int cnt,
                         const unsigned char *allowed) {
    int V = pc_vocab_size();
    unsigned char *a2 = malloc((size_t)V), *a3 = malloc((size_t)V);
    PcContext cc = *ctx;
    cc.cache = cache;
    int c2 = pc_allowed_ctx(&cc, seq, n, a2);
    CHECK_MSG(c2 == cnt && memcmp(a2, allowed, (size_t)V) == 0, "cached answer differs at %d", n);
    int m = (int)(rnd() % (uint64_t)(n + 1));
    c2 = pc_allowed_ctx(&cc, seq, m, a2);
    int c3 = pc_allowed_ctx(ctx, seq, m, a3);
    CHECK_MSG(c2 == c3 && memcmp(a2, a3, (size_t)V) == 0, "cached answer differs at %d", m);
    free(a2);
    free(a3);
}

static void walk(const PcContext *ctx, PcCache *cache, WalkStats *ws) {
    int V = pc_vocab_size();
    unsigned char *allowed = malloc((size_t)V);
    int32_t seq[PC_MAX_LEN];
    int n = 0;
    ws->walks++;
    for (;;) {
        int cnt = pc_allowed_ctx(ctx, seq, n, allowed);
        if (cache) check_cached(ctx, cache, seq, n, cnt, allowed);
        if (cnt <= 0 || n >= PC_MAX_LEN) {
            ws->dead++;
            free(allowed);
            return;
        }
        int pick = -1;
        if (allowed[PC_EOS] && rnd() % 3 == 0) pick = PC_EOS;
        if (pick < 0) {
            int want = (int)(rnd() % (uint64_t)cnt), seen = 0;
            for (int v = 0; v < V && pick < 0; v++)
                if (allowed[v] && seen++ == want) pick = v;
        }
        seq[n++] = pick;
        if (pick == PC_EOS) break;
    }
    free(allowed);
    ws->finished++;
    int16_t table[PT_ROWS * PT_COLS];
    char err[512];
    RaspProgram p;
    if (pc_decode(seq, n, table, err, sizeof err) != 0 ||
        pt_decode(table, ctx->vocab, ctx->n_vocab, ctx->max_seq_len, &p, err, sizeof err) != 0) {
        CHECK_MSG(0, "decode: %s", err);
        ws->failed++;
        return;
    }
    for (int r = 1; r < PT_ROWS && table[r * PT_COLS] != PT_END; r++) {
        ws->tables += table[r * PT_COLS + PT_COL_FN] == PT_FN_TABLE;
        ws->pred_tables += table[r * PT_COLS + PT_COL_FN] == PT_FN_TABLE &&
                           table[r * PT_COLS + PT_COL_OP] == PT_OP_SELECT;
    }
    RaspReport rep;
    rasp_report_init(&rep);
    if (rasp_validate_compilable(&p, ctx->vocab, ctx->n_vocab, ctx->max_seq_len, &rep) != 0) {
        if (ws->failed++ < 3) {
            char *t = rasp_format(&p);
            CHECK_MSG(0, "does not validate: %s\n%s", rep.items[0].msg, t);
            free(t);
        }
    } else {
        CompileOptions o;
        compile_options_default(&o);
        CompiledModel *m = NULL;
        if (compile_program(&p, &o, &m, err, sizeof err) != 0) {
            if (ws->failed++ < 3) CHECK_MSG(0, "compile: %s", err);
        } else {
            ws->compiled++;
            compiled_model_free(m);
        }
    }
    rasp_report_free(&rep);
    rasp_program_free(&p);
}

static void run_walks(const Value *vocab, int nv, int len, int walks, const char *what) {
    PcContext ctx = {vocab, nv, len, 0, NULL};
    WalkStats ws = {0};
    PcCache *cache = pc_cache_new();
    CHECK(cache != NULL);
    /* half the walks also ask a cache: the same answers, every time */
    for (int i = 0; i < walks; i++) walk(&ctx, i % 2 ? cache : NULL, &ws);
    pc_cache_free(cache);
    printf("%s: %d walks, %d finished, %d dead ends, %d compiled, %d failed, %d tables (%d of "
           "Selects)\n",
           what, ws.walks, ws.finished, ws.dead, ws.compiled, ws.failed, ws.tables,
           ws.pred_tables);
    /* Every finished walk compiles. A walk may still get stuck (no token allowed) in rare
     * corners the row budget does not foresee (a LinearSequenceMap whose value set would
     * exceed itracr's product limit); decoding then fails instead of printing a program. */
    CHECK(ws.failed == 0 && ws.compiled == ws.finished && ws.finished + ws.dead == walks);
    CHECK_MSG(ws.dead * 20 <= walks, "%d dead ends in %d walks", ws.dead, walks);
    CHECK(ws.tables > 0 && ws.pred_tables > 0);
}

static void test_walks_strings(void) {
    Value v[4] = {val_str("h"), val_str("e"), val_str("l"), val_str("o")};
    run_walks(v, 4, 5, 60, "letters");
}

static void test_walks_mixed(void) {
    Value v[5] = {val_int(0), val_int(1), val_str("a"), val_str("b"), val_str("c")};
    run_walks(v, 5, 4, 60, "mixed");
}

static void test_walks_ints(void) {
    Value v[5] = {val_int(0), val_int(1), val_int(2), val_int(3), val_int(4)};
    run_walks(v, 5, 5, 40, "ints");
}

/* Without a context: no table token is ever allowed (a meta-model from before tables). */
static void test_no_context_no_tables(void) {
    int V = pc_vocab_size();
    unsigned char *allowed = malloc((size_t)V);
    int32_t seq[PC_MAX_LEN];
    for (int w = 0; w < 50; w++) {
        int n = 0;
        for (;;) {
            int cnt = pc_allowed(seq, n, allowed);
            if (cnt <= 0) break;
            for (int v = PC_BASE_VOCAB; v < V; v++) CHECK(!allowed[v]);
            int want = (int)(rnd() % (uint64_t)cnt), seen = 0, pick = -1;
            for (int v = 0; v < V && pick < 0; v++)
                if (allowed[v] && seen++ == want) pick = v;
            seq[n++] = pick;
            if (pick == PC_EOS) break;
        }
    }
    free(allowed);
}

/* Sampler samples with tables: the flat codec round-trips them and the constraint (on the
 * sample's own vocabulary) accepts every token. */
static void test_sampler_sequences_allowed(void) {
    GenConfig c;
    gen_config_general(&c);
    c.p_table = 0.3;
    char err[256];
    GenSampler *s = gen_sampler_new(&c, err, sizeof err);
    if (!s) return;
    int V = pc_vocab_size(), checked = 0;
    unsigned char *allowed = malloc((size_t)V);
    for (int i = 0; i < 300 && checked < 25; i++) {
        GenSample g;
        if (gen_sample(s, gen_sample_seed(3, (uint64_t)i), &g) != 0) continue;
        int has = 0;
        for (int k = 0; k < g.n_rows; k++) has |= g.rows[k].fn == PT_FN_TABLE;
        if (!has) continue;
        checked++;
        int32_t seq[PC_MAX_LEN];
        int len;
        int16_t back[PT_ROWS * PT_COLS];
        CHECK(pc_encode(g.tokens, seq, &len, err, sizeof err) == 0);
        CHECK(pc_decode(seq, len, back, err, sizeof err) == 0 &&
              memcmp(back, g.tokens, sizeof back) == 0);
        PcContext ctx = {g.setting.vocab, g.setting.n_vocab, g.setting.max_seq_len, 0, NULL};
        for (int t = 0; t < len; t++) {
            pc_allowed_ctx(&ctx, seq, t, allowed);
            if (!allowed[seq[t]]) {
                char name[64];
                CHECK_MSG(0, "sample %d: token %d (%s) not allowed", i, t,
                          pc_token_name(seq[t], name, sizeof name));
                break;
            }
        }
    }
    CHECK(checked == 25);
    free(allowed);
    gen_sampler_free(s);
}

int main(void) {
    RUN(test_no_context_no_tables);
    RUN(test_sampler_sequences_allowed);
    RUN(test_walks_strings);
    RUN(test_walks_mixed);
    RUN(test_walks_ints);
    TEST_END();
}
