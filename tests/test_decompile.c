/* Decompilation end to end on real samples: a tiny meta-model memorises a few generated
 * programs; then each program's compiled model goes through a model file, weight tokens
 * (identical to the dataset's), constrained greedy and beam decoding, pt_decode and the
 * functional-equivalence check -- the path `itracr decompile --check` takes. An untrained
 * model's decodes must still be valid programs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/model.h"
#include "dataset/accept.h"
#include "eval/equiv.h"
#include "eval/eval_run.h"
#include "eval/search.h"
#include "meta/meta.h"
#include "test.h"

enum { NS = 5 };
static const int k_vocab[5] = {0, 1, 2, 3, 4};

static CompiledModel *compile_table(const int16_t *tab) {
    Value voc[5];
    for (int i = 0; i < 5; i++) voc[i] = val_int(k_vocab[i]);
    RaspProgram p;
    char err[512];
    if (pt_decode(tab, voc, 5, 5, &p, err, sizeof err) != 0) return NULL;
    CompileOptions co;
    compile_options_default(&co);
    CompiledModel *m = NULL;
    int rc = compile_program(&p, &co, &m, err, sizeof err);
    rasp_program_free(&p);
    return rc == 0 ? m : NULL;
}

/* The compiled model after a save/load round trip through a model file's bytes. */
static CompiledModel *via_file(CompiledModel *m) {
    unsigned char *buf = NULL;
    size_t len = 0;
    char err[256];
    CompiledModel *back = NULL;
    if (model_serialize(m, &buf, &len, err, sizeof err) == 0)
        model_load_buffer(buf, len, &back, err, sizeof err);
    free(buf);
    return back;
}

/* The search on a memorised sample: the greedy decode is the truth, so the first candidate
 * verifies by weights; on the same weights with one residual direction's sign flipped in
 * every matrix (an orthogonal change: same function, weights no longer Tracr's), it verifies
 * by function; results repeat exactly under a seed, in every order. */
static void check_search(MetaModel *mm, CompiledModel *m, const WtTokens *wt,
                         const int16_t *truth) {
    char err[512];
    SearchOptions so;
    search_options_default(&so);
    search_options_seed(&so, 9);
    so.max_candidates = 8;
    SearchResult r;
    CHECK_MSG(search_decompile(mm, m, wt->payload, wt->ids, wt->n, &so, &r, err, sizeof err) == 0,
              "%s", err);
    CHECK(r.verdict == SEARCH_WEIGHTS && r.winner == 0 && r.tried == 1);
    CHECK(memcmp(r.table, truth, sizeof r.table) == 0);

    CompiledModel *f = via_file(m);
    CHECK(f != NULL);
    if (!f) return;
    /* flip direction 0: column 0 of what writes the stream, row 0 of what reads it */
    int D = f->residual_dim, HK = f->num_heads * f->key_size, M = f->mlp_hidden_size;
    for (int i = 0; i < f->vocab_size; i++) f->token_embed[(size_t)i * D] *= -1;
    for (int i = 0; i <= f->max_seq_len; i++) f->pos_embed[(size_t)i * D] *= -1;
    for (int l = 0; l < f->num_layers; l++) {
        ModelLayer *L = &f->layers[l];
        for (int j = 0; j < HK; j++)
            L->q[j] *= -1, L->k[j] *= -1, L->v[j] *= -1, L->o[(size_t)j * D] *= -1;
        for (int j = 0; j < M; j++) L->w1[j] *= -1, L->w2[(size_t)j * D] *= -1;
    }
    for (int j = 0; j < f->n_out; j++) f->unembed[j] *= -1;
    SearchResult rf;
    CHECK(search_decompile(mm, f, wt->payload, wt->ids, wt->n, &so, &rf, err, sizeof err) == 0);
    CHECK_MSG(rf.verdict == SEARCH_FUNCTION, "verdict %s (%s)", search_verdict_name(rf.verdict),
              rf.detail);
    CHECK(!rf.out_of_budget && rf.winner >= 0 && rf.winner < rf.tried);
    CHECK(rf.func_checked >= 1 && memcmp(rf.table, truth, sizeof rf.table) == 0);
    compiled_model_free(f);

    /* meta_cands_limit_last: once the greedy candidate is limited to changes before position
     * L, every later candidate of the tree (redecode: all descend from it) first differs from
     * it before L; with L = 0 none is left */
    for (int L = 0; L <= PT_COLS; L += PT_COLS) {
        MetaCandOptions co;
        meta_cand_options_default(&co);
        co.mode = MC_REDECODE;
        MetaCands *mc = meta_cands_new(mm, wt->payload, wt->ids, wt->n, &co, NULL, err, sizeof err);
        CHECK_MSG(mc != NULL, "%s", err);
        if (!mc) break;
        int16_t tab[PT_ROWS * PT_COLS];
        int32_t g[PC_MAX_LEN], q[PC_MAX_LEN];
        int gn = 0, qn = 0, drawn = 0;
        double sc;
        CHECK(meta_cands_next(mc, tab, &sc, err, sizeof err) == 1 &&
              pc_encode(tab, g, &gn, err, sizeof err) == 0);
        CHECK(meta_cands_limit_last(mc, L) > 0);
        while (drawn < 12 && meta_cands_next(mc, tab, &sc, err, sizeof err) == 1) {
            drawn++;
            CHECK(pc_encode(tab, q, &qn, err, sizeof err) == 0);
            int first = 0;
            while (first < gn && first < qn && g[first] == q[first]) first++;
            CHECK_MSG(first < L, "limit %d: a candidate first differs at %d", L, first);
        }
        CHECK(L > 0 ? drawn > 0 : drawn == 0);
        meta_cands_free(mc);
    }

    /* determinism: two runs, each order, identical results */
    for (int mode = MC_REDECODE; mode <= MC_MIX; mode++) {
        SearchOptions o2 = so;
        o2.cands.mode = (MetaCandMode)mode;
        o2.max_candidates = 6;
        o2.function_check = false;
        /* a model none of the candidates can match: every one of them is drawn */
        CompiledModel *n = eval_noise_model(m, 1, 0);
        CHECK(n != NULL);
        if (!n) continue;
        SearchResult a, b;
        CHECK(search_decompile(mm, n, wt->payload, wt->ids, wt->n, &o2, &a, err, sizeof err) == 0);
        CHECK(search_decompile(mm, n, wt->payload, wt->ids, wt->n, &o2, &b, err, sizeof err) == 0);
        CHECK(a.verdict == SEARCH_NONE && b.verdict == SEARCH_NONE);
        CHECK_MSG(a.tried == b.tried && a.winner == b.winner && a.model_steps == b.model_steps &&
                      memcmp(a.table, b.table, sizeof a.table) == 0,
                  "order %s: two runs differ", meta_cand_mode_name((MetaCandMode)mode));
        CHECK(a.tried >= 2);
        compiled_model_free(n);
    }
}

static void test_decompile_roundtrip(void) {
    GenConfig gc;
    gen_config_default(&gc);
    char err[512];
    GenSampler *s = gen_sampler_new(&gc, err, sizeof err);
    AccSettings st;
    acc_settings_default(&st);
    AccResult r;
    acc_result_init(&r);
    TrainData d;
    train_data_init(&d);
    for (uint64_t i = 0; d.n < NS && i < 200; i++)
        if (acc_run(s, &st, gen_sample_seed(77, i), &r) == ACC_OK && r.wt.n <= 256)
            CHECK(train_data_add(&d, r.tokens, r.wt.payload, r.wt.ids, r.wt.n, 256) == 0);
    CHECK(d.n == NS);
    acc_result_free(&r);
    gen_sampler_free(s);

    TrainConfig c;
    train_config_default(&c);
    c.d_model = 48, c.n_layer = 2, c.n_head = 4, c.batch = NS, c.lr = 3e-3, c.lr_min = 3e-3,
    c.warmup = 10;
    c.steps = 400, c.weight_decay = 0, c.max_prefix = 256, c.seed = 11;
    Trainer t;
    CHECK(trainer_init(&t, &c, &d, err, sizeof err) == 0);

    /* untrained: decodes are arbitrary but always valid programs */
    for (int k = 0; k < NS; k++) {
        int16_t tab[PT_ROWS * PT_COLS];
        int P = (int)(d.off[k + 1] - d.off[k]);
        CHECK_MSG(meta_decode_table(&t.m, d.payload + d.off[k] * WT_WIDTH,
                                    d.ids + d.off[k] * WT_N_IDS, P, 1, tab, err, sizeof err) == 0,
                  "%s", err);
        RaspProgram p;
        CHECK_MSG(pt_decode(tab, NULL, 0, 0, &p, err, sizeof err) == 0, "untrained decode %d: %s",
                  k, err);
        rasp_program_free(&p);
        /* after a forward on the same prefix with other program tokens (the teacher-forced
         * pass), decoding that reuses its keys and values gives the same program, greedy and beam */
        int32_t ids32[256 * WT_N_IDS], toks[5] = {PC_BOS, 3, 4, 5, 6}, plen = P;
        for (int i = 0; i < P * WT_N_IDS; i++) ids32[i] = d.ids[d.off[k] * WT_N_IDS + i];
        MetaBatch b = {1, P, 5, d.payload + d.off[k] * WT_WIDTH, ids32, &plen, toks, NULL};
        for (int beam = 1; beam <= 3; beam += 2) {
            int16_t want[PT_ROWS * PT_COLS], got[PT_ROWS * PT_COLS];
            CHECK(meta_decode_table(&t.m, d.payload + d.off[k] * WT_WIDTH,
                                    d.ids + d.off[k] * WT_N_IDS, P, beam, want, err,
                                    sizeof err) == 0);
            CHECK(meta_forward(&t.m, &b, NULL, err, sizeof err) == 0);
            CHECK_MSG(meta_decode_table_reuse(&t.m, d.payload + d.off[k] * WT_WIDTH,
                                              d.ids + d.off[k] * WT_N_IDS, P, beam, got, err,
                                              sizeof err) == 0,
                      "%s", err);
            CHECK(memcmp(want, got, sizeof want) == 0);
        }
        /* a last forward on another prefix length is refused */
        MetaBatch b2 = {1, P - 1, 5, d.payload + d.off[k] * WT_WIDTH, ids32, &plen, toks, NULL};
        plen = P - 1;
        CHECK(meta_forward(&t.m, &b2, NULL, err, sizeof err) == 0);
        CHECK(meta_decode_table_reuse(&t.m, d.payload + d.off[k] * WT_WIDTH,
                                      d.ids + d.off[k] * WT_N_IDS, P, 1, tab, err,
                                      sizeof err) != 0 &&
              strstr(err, "reuse_prefix"));
    }

    float loss, lr;
    double acc = 0, ex = 0;
    for (long step = 0; step < c.steps; step++) {
        CHECK(trainer_step(&t, &loss, &lr, err, sizeof err) == 0);
        if (step % 25 == 24) {
            CHECK(trainer_eval(&t, &d, NS, NS, &acc, &ex, err, sizeof err) == 0);
            if (ex == 1.0) break;
        }
    }
    CHECK_MSG(ex == 1.0, "memorised %.2f of the programs", ex);

    for (int k = 0; k < NS; k++) {
        const int16_t *truth = d.prog + (size_t)k * PT_ROWS * PT_COLS;
        CompiledModel *m0 = compile_table(truth);
        CHECK(m0 != NULL);
        if (!m0) continue;
        CompiledModel *m = via_file(m0);
        CHECK(m != NULL);
        if (!m) {
            compiled_model_free(m0);
            continue;
        }
        WtOptions wo;
        wt_options_default(&wo);
        WtTokens wt;
        wt_tokens_init(&wt);
        CHECK(wt_encode(m, &wo, &wt, err, sizeof err) == 0);
        /* the model file gives the dataset's weight tokens exactly */
        int P = (int)(d.off[k + 1] - d.off[k]);
        CHECK(wt.n == P && memcmp(wt.payload, d.payload + d.off[k] * WT_WIDTH,
                                  sizeof(float) * WT_WIDTH * (size_t)P) == 0);
        for (int beam = 1; beam <= 3; beam += 2) {
            int16_t pred[PT_ROWS * PT_COLS];
            CHECK(meta_decode_table(&t.m, wt.payload, wt.ids, wt.n, beam, pred, err, sizeof err) ==
                  0);
            CHECK_MSG(memcmp(pred, truth, sizeof pred) == 0, "sample %d beam %d: wrong program", k,
                      beam);
            EquivOptions eo;
            equiv_options_default(&eo);
            EquivResult er;
            CHECK(equiv_check_tokens(m, NULL, NULL, pred, NULL, &eo, &er, err, sizeof err) == 0);
            CHECK_MSG(er.status == EVAL_FN_EQUIVALENT, "sample %d: %s %s", k,
                      eval_func_name(er.status), er.detail);
        }
        check_search(&t.m, m, &wt, truth);
        /* another sample's program is not equivalent to this model */
        const int16_t *other = d.prog + (size_t)((k + 1) % NS) * PT_ROWS * PT_COLS;
        EquivOptions eo;
        equiv_options_default(&eo);
        EquivResult er;
        CHECK(equiv_check_tokens(m, NULL, NULL, other, NULL, &eo, &er, err, sizeof err) == 0);
        CHECK(er.status != EVAL_FN_EQUIVALENT ||
              memcmp(other, truth, sizeof(int16_t) * PT_ROWS * PT_COLS) == 0);
        wt_tokens_free(&wt);
        compiled_model_free(m);
        compiled_model_free(m0);
    }
    /* more weight tokens than the meta-model takes: an error, not a crash */
    int16_t tab[PT_ROWS * PT_COLS];
    float *big = calloc((size_t)(c.max_prefix + 1) * WT_WIDTH, sizeof(float));
    int16_t *bid = calloc((size_t)(c.max_prefix + 1) * WT_N_IDS, sizeof(int16_t));
    CHECK(meta_decode_table(&t.m, big, bid, c.max_prefix + 1, 1, tab, err, sizeof err) != 0 &&
          strstr(err, "at most"));
    free(big);
    free(bid);
    trainer_free(&t);
    train_data_free(&d);
}

int main(void) {
    RUN(test_decompile_roundtrip);
    TEST_END();
}
