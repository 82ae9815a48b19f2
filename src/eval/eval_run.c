/* The evaluation loop (eval_run.h). */
#include "eval/eval_run.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval/eval_truth.h"
#include "gen/lambda_lib.h"
#include "gen/program_tokens.h"
#include "lift/probe.h"
#include "meta/meta.h"
#include "rasp/rasp.h"
#include "util/rng.h"

#define TABLE_CELLS (PT_ROWS * PT_COLS)

void eval_run_options_default(EvalRunOptions *o) {
    memset(o, 0, sizeof *o);
    o->beam = 1;
    o->seed = 1;
    o->teacher = true;
    o->noise = true;
    o->func = true;
    equiv_options_default(&o->equiv);
    search_options_default(&o->search_opt);
    wt_options_default(&o->wt);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* START row, END row, PAD: what a failed decode is scored as (a zero-row program). */
static void empty_table(int16_t *t) {
    memset(t, 0, sizeof(int16_t) * TABLE_CELLS);
    for (int c = 0; c < PT_COLS; c++) {
        t[c] = PT_START;
        t[PT_COLS + c] = PT_END;
    }
}

void eval_noise_payload(const float *payload, int P, uint64_t seed, long sample, float *out) {
    Rng rng;
    /* one stream per (seed, sample), independent of the order samples are processed in */
    rng_seed(&rng, seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(sample + 1)));
    for (int p = 0; p < P; p++) {
        const float *x = payload + (size_t)p * WT_WIDTH;
        float *y = out + (size_t)p * WT_WIDTH;
        double nx = 0, ng = 0;
        double g[WT_WIDTH];
        for (int k = 0; k < WT_WIDTH; k++) {
            nx += (double)x[k] * x[k];
            g[k] = rng_normal(&rng);
            ng += g[k] * g[k];
        }
        double s = nx > 0 && ng > 0 ? sqrt(nx / ng) : 0;
        for (int k = 0; k < WT_WIDTH; k++) y[k] = (float)(g[k] * s);
    }
}

/* Fills n doubles with Gaussian noise scaled to the L2 norm the block had. */
static void noise_block(double *w, size_t n, Rng *rng) {
    double nw = 0, ng = 0;
    for (size_t i = 0; i < n; i++) nw += w[i] * w[i];
    for (size_t i = 0; i < n; i++) {
        double g = rng_normal(rng);
        ng += g * g;
        w[i] = g;
    }
    double sc = nw > 0 && ng > 0 ? sqrt(nw / ng) : 0;
    for (size_t i = 0; i < n; i++) w[i] *= sc;
}

CompiledModel *eval_noise_model(const CompiledModel *m, uint64_t seed, long sample) {
    unsigned char *buf = NULL;
    size_t len = 0;
    char err[256];
    CompiledModel *c = NULL;
    if (model_serialize(m, &buf, &len, err, sizeof err) != 0) return NULL;
    int rc = model_load_buffer(buf, len, &c, err, sizeof err);
    free(buf);
    if (rc != 0) return NULL;
    Rng rng;
    rng_seed(&rng, seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(sample + 1)));
    size_t D = (size_t)c->residual_dim, HK = (size_t)c->num_heads * c->key_size,
           M = (size_t)c->mlp_hidden_size;
    noise_block(c->token_embed, (size_t)c->vocab_size * D, &rng);
    noise_block(c->pos_embed, (size_t)(c->max_seq_len + 1) * D, &rng);
    for (int l = 0; l < c->num_layers; l++) {
        ModelLayer *L = &c->layers[l];
        noise_block(L->q, D * HK, &rng);
        noise_block(L->k, D * HK, &rng);
        noise_block(L->v, D * HK, &rng);
        noise_block(L->o, HK * D, &rng);
        noise_block(L->w1, D * M, &rng);
        noise_block(L->w2, M * D, &rng);
    }
    noise_block(c->unembed, D * (size_t)c->n_out, &rng);
    return c;
}

int eval_teacher_table(MetaModel *m, const int16_t *truth, const float *payload, const int16_t *ids,
                       int P, int16_t *table, char *err, size_t errcap) {
    int32_t seq[PC_MAX_LEN], tok[PC_MAX_LEN];
    int len = 0;
    if (pc_encode(truth, seq, &len, err, errcap) != 0) return 1;
    if (len > m->cfg.max_prog) {
        snprintf(err, errcap, "program of %d tokens, but the meta-model takes at most %d", len,
                 m->cfg.max_prog);
        return 1;
    }
    int32_t *ids32 = meta_ids_widen(ids, P);
    if (!ids32) {
        snprintf(err, errcap, "out of memory");
        return 1;
    }
    tok[0] = PC_BOS;
    for (int j = 1; j < len; j++) tok[j] = seq[j - 1];
    int32_t plen = P;
    MetaBatch b = {1, P, len, payload, ids32, &plen, tok, NULL};
    int rc = meta_forward(m, &b, NULL, err, errcap);
    free(ids32);
    if (rc != 0) return rc;
    int V = m->cfg.vocab;
    memset(table, 0, sizeof(int16_t) * TABLE_CELLS);
    for (int c = 0; c < PT_COLS; c++) table[c] = PT_START;
    for (int j = 0; j < len; j++) {
        const float *z = m->acts.logits + (size_t)j * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (z[v] > z[best]) best = v;
        int r = 1 + j / PT_COLS, c = j % PT_COLS, col = -1, id = -1;
        int16_t cell;
        if (pc_unflat(best, &col, &id) == 0 && col == c) cell = (int16_t)id;
        else if (best == PC_EOS) cell = PT_END;
        else cell = (int16_t)pt_vocab_size(c); /* the out-of-range bucket */
        if (j < len - 1) {
            table[r * PT_COLS + c] = cell;
        } else if (r < PT_ROWS) {
            /* the position after the last row: EOS keeps the END row; anything else is a
             * (wrong) extra row, the rest of which the pass never predicted: END there */
            for (int k = 0; k < PT_COLS; k++) table[r * PT_COLS + k] = PT_END;
            if (cell != PT_END) table[r * PT_COLS] = cell;
        }
    }
    return 0;
}

int eval_run_setting(const EvalRunOptions *o, int sample, GenSetting *store, EvalSetting *out) {
    return eval_setting_of(o->settings, sample, o->vocab, o->n_vocab, o->max_seq_len, store, out);
}

/* The top-1 decode of one prefix: with per-sample settings under the constraint on the
 * sample's vocabulary and max_seq_len (as decompile and the search decode a given model),
 * else as before (no vocabulary: a fixed-setting dataset's numbers stay what they were). */
static int decode_top1(MetaModel *mm, const float *payload, const int16_t *ids, int P,
                       const EvalRunOptions *o, const EvalSetting *st, bool reuse, int16_t *table,
                       char *err, size_t errcap) {
    if (o->settings) {
        PcContext on_model = {st->vocab, st->n_vocab, st->max_seq_len, 0, NULL};
        return meta_decode_table_for(mm, payload, ids, P, o->beam, &on_model, table, err, errcap);
    }
    return reuse ? meta_decode_table_reuse(mm, payload, ids, P, o->beam, table, err, errcap)
                 : meta_decode_table(mm, payload, ids, P, o->beam, table, err, errcap);
}

/* The weights sample s's tokens were read from, for a transformed dataset: its stock model
 * (tc->cm) transformed again with the sample's seed, as the generator did, and checked
 * against the sample's weight tokens (payload [P, WT_WIDTH], ids [P, WT_N_IDS]) bit for bit,
 * so that the search sees exactly those weights. Returns the model, or NULL with a message. */
static CompiledModel *rebuild_transformed(const EvalTruth *tc, const EvalRunOptions *o, int s,
                                          const float *payload, const int16_t *ids, int P,
                                          char *err, size_t errcap) {
    if (!o->sample_seed) {
        snprintf(err, errcap, "the shards do not say each sample's seed (sample_index, seed)");
        return NULL;
    }
    CompiledModel *t = NULL;
    bool accepted;
    char why[256];
    if (acc_transform_model(tc->cm, o->transform, o->compress_steps, o->sample_seed[s], &t,
                            &accepted, why, sizeof why) != 0) {
        snprintf(err, errcap, "rebuilding its %s model: %s", acc_transform_name(o->transform),
                 why);
        return NULL;
    }
    WtTokens w;
    wt_tokens_init(&w);
    int same = wt_encode(t, &o->wt, &w, why, sizeof why) == 0 && w.n == P &&
               memcmp(w.payload, payload, sizeof(float) * WT_WIDTH * (size_t)P) == 0 &&
               memcmp(w.ids, ids, sizeof(int16_t) * WT_N_IDS * (size_t)P) == 0;
    wt_tokens_free(&w);
    if (!same) {
        snprintf(err, errcap,
                 "its %s model, rebuilt from the program and the sample's seed, has other weight "
                 "tokens than the shard",
                 acc_transform_name(o->transform));
        compiled_model_free(t);
        return NULL;
    }
    return t;
}

/* eval_run.h */
int eval_given_model(EvalTruth *tc, const int16_t *truth, const EvalSetting *st,
                       const EvalRunOptions *o, int s, const float *payload, const int16_t *ids,
                       int P, CompiledModel **tm, char *herr, size_t hcap) {
    char err[512];
    *tm = NULL;
    if (eval_truth_compile(tc, truth, st, NULL, 0) < 0) return 2;
    if (o->transform != ACC_TF_NONE &&
        !(*tm = rebuild_transformed(tc, o, s, payload, ids, P, err, sizeof err))) {
        snprintf(herr, hcap, "%.400s", err);
        return 1;
    }
    return 0;
}

/* The search on the sample's model and on its noise model (eval_run.h). The given model is
 * the truth compiled in the sample's setting (on a transformed dataset, transformed again as
 * the generator did), so the search decodes and compiles its candidates in that setting too
 * (search.h takes all of it from the given model). Returns 0, or 1 with a message when a
 * transformed model cannot be rebuilt. */
static int run_search(MetaModel *mm, EvalTruth *tc, const int16_t *truth, const float *payload,
                      const int16_t *ids, int P, const float *noise_tokens, int s,
                      const EvalRunOptions *o, const EvalSetting *st, EvalSampleResult *res,
                      char *herr, size_t hcap) {
    char err[512];
    SearchOptions so = o->search_opt;
    so.max_candidates = o->search;
    memcpy(res->ver, res->dec, sizeof res->ver);
    memcpy(res->ver_alone, res->dec, sizeof res->ver_alone);
    memcpy(res->noise_ver, res->noise, sizeof res->noise_ver);
    res->ver_func = res->noise_ver_func = res->ver_alone_func = EVAL_FN_UNCHECKED;
    CompiledModel *tm = NULL;
    int g = eval_given_model(tc, truth, st, o, s, payload, ids, P, &tm, herr, hcap);
    if (g == 2) res->ver_func = res->noise_ver_func = EVAL_FN_TRUE_FAILED;
    if (g) return g == 1;
    const CompiledModel *given = tm ? tm : tc->cm;
    /* transformed weights are no compiled model's: no repair can reach their digests */
    if (tm) so.repair.max_steps = 0;
    SearchResult sr;
    if (search_decompile(mm, given, payload, ids, P, &so, &sr, err, sizeof err) != 0) {
        res->ver_failed = true;
    } else {
        memcpy(res->ver, sr.table, sizeof res->ver);
        res->verdict = sr.verdict;
        memcpy(res->ver_alone, sr.search_table, sizeof res->ver_alone);
        res->verdict_alone = sr.search_verdict;
        res->repair_ran = sr.repair_ran;
        res->repaired = sr.repaired;
        res->repair_ms = sr.repair.ms;
        res->ver_winner = sr.winner;
        res->ver_tried = sr.tried;
    }
    res->ver_ms = sr.ms;
    if (o->noise) {
        CompiledModel *nm = eval_noise_model(given, o->seed, s);
        /* no compiled program has noise weights: the repair could only spend its compiles */
        so.repair.max_steps = 0;
        if (nm && search_decompile(mm, nm, noise_tokens, ids, P, &so, &sr, err, sizeof err) == 0) {
            memcpy(res->noise_ver, sr.table, sizeof res->noise_ver);
            res->noise_verdict = sr.verdict;
        }
        if (nm) compiled_model_free(nm);
    }
    compiled_model_free(tm);
    return 0;
}

/* probe on model m; *state as EvalSampleResult.probe_state, *func its program against the
 * truth's model on the true program's defined positions; with truth_state, also whether the
 * truth's model reproduces m under probe's own check (EvalSampleResult.probe_truth_state). */
static void probe_judged(EvalTruth *tc, const CompiledModel *m, int s, const EvalRunOptions *o,
                         const char *tag, signed char *state, EvalFunc *func,
                         signed char *truth_state) {
    char err[512];
    ProbeOptions po;
    probe_options_default(&po);
    if (truth_state) po.reference = tc->cm;
    ProbeResult pr;
    int refused = probe_model(m, &po, &pr, err, sizeof err);
    if (truth_state) *truth_state = (signed char)pr.reference_verified;
    if (refused) {
        *state = 1;
        *func = EVAL_FN_NO_COMPILE;
        if (getenv("ITRACR_PROBE_DEBUG")) fprintf(stderr, "probe sample %d%s: %s\n", s, tag, err);
        return;
    }
    *state = pr.verified ? 3 : 2;
    EquivResult er;
    if (equiv_models(tc->cm, &tc->prog, pr.model, &o->equiv, &er, err, sizeof err) == 0)
        *func = er.status;
    if (getenv("ITRACR_PROBE_DEBUG"))
        fprintf(stderr, "probe sample %d%s: %s; truth: %s\n", s, tag, pr.verdict,
                eval_func_name(*func));
    probe_result_free(&pr);
}

/* probe on the sample's given model (eval_run.h); its program judged against the truth's
 * model on the true program's defined positions. Returns 0, or 1 with a message when a
 * transformed model cannot be rebuilt. */
static int run_probe(EvalTruth *tc, const int16_t *truth, const float *payload,
                     const int16_t *ids, int P, int s, const EvalRunOptions *o,
                     const EvalSetting *st, EvalSampleResult *res, char *herr, size_t hcap) {
    res->probe_func = EVAL_FN_UNCHECKED;
    res->probe_truth_state = -1;
    CompiledModel *tm = NULL;
    int g = eval_given_model(tc, truth, st, o, s, payload, ids, P, &tm, herr, hcap);
    if (g == 2) res->probe_func = EVAL_FN_TRUE_FAILED;
    if (g) return g == 1;
    double t0 = now_s();
    probe_judged(tc, tm ? tm : tc->cm, s, o, "", &res->probe_state, &res->probe_func,
                 &res->probe_truth_state);
    res->probe_ms = 1e3 * (now_s() - t0);
    res->noise_probe_func = EVAL_FN_UNCHECKED;
    if (o->noise) { /* the baseline: the same reading of noise weights of the same shapes */
        CompiledModel *nm = eval_noise_model(tm ? tm : tc->cm, o->seed, s);
        if (nm)
            probe_judged(tc, nm, s, o, " (noise)", &res->noise_probe_state,
                         &res->noise_probe_func, NULL);
        compiled_model_free(nm);
    }
    compiled_model_free(tm);
    return 0;
}

/* Adds sample x's probe results to r's sums (o->probe). searched: x also has the search's
 * answer (the samples the meta-model could not read have probe's alone). */
static void add_probe(EvalRunResult *r, const EvalSampleResult *x, const EvalRunOptions *o,
                      const int16_t *truth, bool searched) {
    if (!o->probe) return;
    bool probe_answers = x->probe_state == 3;
    r->probe_refused += x->probe_state == 1;
    r->probe_verified += probe_answers;
    r->probe_equivalent += x->probe_func == EVAL_FN_EQUIVALENT;
    r->probe_truth_verified += x->probe_truth_state == 1;
    /* neither verified: decompile prints the one closer to the model's outputs; this count
     * takes the search's, so it can only understate the pair */
    r->either_verified += probe_answers || (searched && x->verdict != SEARCH_NONE);
    r->either_equivalent += probe_answers ? x->probe_func == EVAL_FN_EQUIVALENT
                                          : searched && x->ver_func == EVAL_FN_EQUIVALENT;
    bool search_answers = searched && (x->verdict != SEARCH_NONE || !probe_answers);
    if (search_answers) {
        EvalPair pair;
        eval_compare(truth, x->ver, &pair);
        r->search_first_exact += pair.exact;
        r->search_first_equivalent += x->ver_func == EVAL_FN_EQUIVALENT;
    } else {
        r->search_first_equivalent += probe_answers && x->probe_func == EVAL_FN_EQUIVALENT;
    }
    r->noise_probe_verified += x->noise_probe_state == 3;
    r->noise_probe_equivalent += x->noise_probe_func == EVAL_FN_EQUIVALENT;
}

/* probe alone on sample s (one the meta-model cannot read: too many weight tokens). Returns
 * 0, or 1 with a message as run_probe. */
static int probe_only(const TrainData *d, int s, const EvalRunOptions *o, EvalSampleResult *res,
                      char *herr, size_t hcap) {
    GenSetting gs;
    EvalSetting st;
    if (eval_run_setting(o, s, &gs, &st) != 0) {
        snprintf(herr, hcap, "its sample_setting row is not a setting");
        return 1;
    }
    EvalTruth tc;
    eval_truth_init(&tc);
    int rc = run_probe(&tc, d->prog + (size_t)s * TABLE_CELLS,
                       d->payload + d->off[s] * WT_WIDTH, d->ids + d->off[s] * WT_N_IDS,
                       (int)(d->off[s + 1] - d->off[s]), s, o, &st, res, herr, hcap);
    eval_truth_free(&tc);
    return rc;
}

/* One sample, all variants. */
static void run_sample(MetaModel *mm, const TrainData *d, int s, const EvalRunOptions *o,
                       float *noise_buf, EvalSampleResult *res, int *hard_error, char *herr,
                       size_t hcap) {
    const int16_t *truth = d->prog + (size_t)s * TABLE_CELLS;
    int P = (int)(d->off[s + 1] - d->off[s]);
    const float *payload = d->payload + d->off[s] * WT_WIDTH;
    const int16_t *ids = d->ids + d->off[s] * WT_N_IDS;
    char err[512];
    res->detail[0] = 0;
    GenSetting gs;
    EvalSetting st;
    if (eval_run_setting(o, s, &gs, &st) != 0) {
        *hard_error = 1;
        snprintf(herr, hcap, "its sample_setting row is not a setting");
        return;
    }
    /* teacher-forced first: its forward pass encodes the prefix, which decoding then reuses */
    int tf_ok = 0;
    if (o->teacher) {
        if (eval_teacher_table(mm, truth, payload, ids, P, res->tf, err, sizeof err) != 0) {
            *hard_error = 1;
            snprintf(herr, hcap, "teacher-forced pass: %.400s", err);
            empty_table(res->tf);
        } else {
            tf_ok = 1;
        }
    }
    double t1 = now_s();
    int dec_rc = decode_top1(mm, payload, ids, P, o, &st, tf_ok, res->dec, err, sizeof err);
    res->top1_ms = 1e3 * (now_s() - t1);
    if (dec_rc != 0) {
        empty_table(res->dec);
        res->dec_failed = true;
        snprintf(res->detail, sizeof res->detail, "decoding failed: %.200s", err);
    }
    if (o->noise) {
        eval_noise_payload(payload, P, o->seed, s, noise_buf);
        if (decode_top1(mm, noise_buf, ids, P, o, &st, false, res->noise, err, sizeof err) != 0)
            empty_table(res->noise);
    }
    res->dec_func = res->tf_func = res->noise_func = EVAL_FN_UNCHECKED;
    EvalTruth tc;
    eval_truth_init(&tc);
    if (o->search > 0 &&
        run_search(mm, &tc, truth, payload, ids, P, noise_buf, s, o, &st, res, herr, hcap)) {
        *hard_error = 1;
        eval_truth_free(&tc);
        return;
    }
    if (o->probe && run_probe(&tc, truth, payload, ids, P, s, o, &st, res, herr, hcap)) {
        *hard_error = 1;
        eval_truth_free(&tc);
        return;
    }
    if (!o->func) {
        eval_truth_free(&tc);
        return;
    }
    const EquivOptions *eo = &o->equiv;
    if (res->dec_failed) res->dec_func = EVAL_FN_NO_DECODE;
    else
        res->dec_func =
            eval_truth_check(&tc, truth, res->dec, &st, eo, res->detail, sizeof res->detail);
    if (o->teacher) res->tf_func = eval_truth_check(&tc, truth, res->tf, &st, eo, NULL, 0);
    if (o->noise) res->noise_func = eval_truth_check(&tc, truth, res->noise, &st, eo, NULL, 0);
    if (o->search > 0) {
        res->ver_func = eval_truth_check(&tc, truth, res->ver, &st, eo, NULL, 0);
        res->ver_alone_func =
            !res->repaired ? res->ver_func
                           : eval_truth_check(&tc, truth, res->ver_alone, &st, eo, NULL, 0);
        if (o->noise)
            res->noise_ver_func = eval_truth_check(&tc, truth, res->noise_ver, &st, eo, NULL, 0);
    }
    eval_truth_free(&tc);
}

int eval_run(const MetaModel *m, const TrainData *d, int n, const EvalRunOptions *o,
             EvalRunResult *r, char *err, size_t errcap) {
    memset(r, 0, sizeof *r);
    double t0 = now_s();
    if (gen_lib_init(err, errcap) != 0) return 1;
    if (m->cfg.payload_dim != WT_WIDTH || m->cfg.n_id_fields != WT_N_IDS ||
        !meta_vocab_known(m->cfg.vocab)) {
        snprintf(
            err, errcap,
            "the meta-model's config does not match the token formats (payload %d, ids %d, vocab %d)",
            m->cfg.payload_dim, m->cfg.n_id_fields, m->cfg.vocab);
        return 1;
    }
    if (eval_metrics_init(&r->decoded) || eval_metrics_init(&r->teacher) ||
        eval_metrics_init(&r->noise) || eval_metrics_init(&r->verified) ||
        eval_metrics_init(&r->noise_verified) || eval_metrics_init(&r->verified_alone)) {
        snprintf(err, errcap, "cannot load the lambda library");
        eval_run_result_free(r);
        return 1;
    }
    int want = n > 0 && n < d->n ? n : d->n;
    r->sample = malloc(sizeof(int) * (size_t)(want > 0 ? want : 1));
    r->res = calloc((size_t)(want > 0 ? want : 1), sizeof *r->res);
    if (!r->sample || !r->res) {
        snprintf(err, errcap, "out of memory");
        eval_run_result_free(r);
        return 1;
    }
    for (int s = 0; s < d->n && r->n < want; s++) {
        if (d->off[s + 1] - d->off[s] > m->cfg.max_prefix) r->skipped_prefix++;
        else r->sample[r->n++] = s;
    }
    int nt = o->jobs > 0 ? o->jobs : omp_get_max_threads();
    if (nt > r->n) nt = r->n > 0 ? r->n : 1;
    int max_batch = o->beam > 1 ? o->beam : 1;
    MetaModel *models = calloc((size_t)nt, sizeof *models);
    float **noise_buf = calloc((size_t)nt, sizeof *noise_buf);
    int ok = models && noise_buf;
    int made = 0;
    for (; ok && made < nt; made++) {
        if (meta_model_init(&models[made], &m->cfg, m->seed, max_batch, err, errcap) != 0) {
            ok = 0;
            break;
        }
        memcpy(models[made].params, m->params, sizeof(float) * m->lay.n_params);
        noise_buf[made] = malloc(sizeof(float) * WT_WIDTH *
                                 (size_t)(m->cfg.max_prefix > 0 ? m->cfg.max_prefix : 1));
        if (!noise_buf[made]) {
            made++;
            ok = 0;
            snprintf(err, errcap, "out of memory");
        }
    }
    if (!models || !noise_buf) snprintf(err, errcap, "out of memory");
    int hard_error = 0;
    char herr[512] = "";
    /* the meta kernels parallelise inside a forward pass when they are not already in a
     * parallel region; with one outer thread keep them serial too (tiny per-step work and a
     * barrier per call: on a busy machine that is far slower than one thread) */
    int saved_threads = omp_get_max_threads();
    if (nt == 1) omp_set_num_threads(1);
    if (ok) {
        long done = 0;
        double last = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
        for (int k = 0; k < r->n; k++) {
            int tid = omp_get_thread_num();
            char e2[512] = "";
            int h = 0;
            run_sample(&models[tid], d, r->sample[k], o, noise_buf[tid], &r->res[k], &h, e2,
                       sizeof e2);
            long now_done;
#pragma omp atomic capture
            now_done = ++done;
            if (h) {
#pragma omp critical(eval_err)
                {
                    if (!hard_error)
                        snprintf(herr, sizeof herr, "sample %d: %.450s", r->sample[k], e2);
                    hard_error = 1;
                }
            }
            if (o->progress && tid == 0) {
                double t = now_s();
                if (t - last > 0.25 || now_done == r->n) {
                    last = t;
                    double rate = (double)now_done / (t - t0 > 1e-9 ? t - t0 : 1e-9);
                    fprintf(stderr, "\reval: %ld/%d samples  %.1f/s  ETA %.0f s   ", now_done, r->n,
                            rate, (double)(r->n - now_done) / (rate > 0 ? rate : 1));
                }
            }
        }
        if (o->progress) fprintf(stderr, "\r%60s\r", "");
    }
    omp_set_num_threads(saved_threads);
    for (int i = 0; i < made; i++) {
        meta_model_free(&models[i]);
        free(noise_buf[i]);
    }
    free(models);
    free(noise_buf);
    if (!ok) {
        eval_run_result_free(r);
        return 1;
    }
    if (hard_error) {
        snprintf(err, errcap, "%s", herr);
        eval_run_result_free(r);
        return 1;
    }
    /* probe reads every model, also those with too many weight tokens for the meta-model */
    if (o->probe && !hard_error) {
        int n_all = 0;
        int *rest = malloc(sizeof(int) * (size_t)(d->n > 0 ? d->n : 1)); /* [skipped] */
        for (int s = 0; s < d->n && n_all < want + r->skipped_prefix; s++) {
            if (d->off[s + 1] - d->off[s] > m->cfg.max_prefix) rest[r->probe_extra++] = s;
            n_all++;
        }
        EvalSampleResult *pr = calloc((size_t)(r->probe_extra ? r->probe_extra : 1), sizeof *pr);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
        for (int k = 0; k < r->probe_extra; k++) {
            char e2[512] = "";
            if (probe_only(d, rest[k], o, &pr[k], e2, sizeof e2)) {
#pragma omp critical(eval_err)
                {
                    if (!hard_error)
                        snprintf(herr, sizeof herr, "sample %d: %.450s", rest[k], e2);
                    hard_error = 1;
                }
            }
        }
        for (int k = 0; k < r->probe_extra; k++) {
            add_probe(r, &pr[k], o, NULL, false);
        }
        free(pr);
        free(rest);
        if (hard_error) {
            snprintf(err, errcap, "%s", herr);
            eval_run_result_free(r);
            return 1;
        }
    }
    /* in sample order: the same sums for any thread count */
    r->have_breakdown = o->settings != NULL;
    for (int k = 0; k < r->n; k++) {
        const int16_t *truth = d->prog + (size_t)r->sample[k] * TABLE_CELLS;
        EvalSampleResult *x = &r->res[k];
        GenSetting gs;
        EvalSetting st;
        if (o->settings && eval_run_setting(o, r->sample[k], &gs, &st) == 0)
            eval_breakdown_add(&r->by_setting, &st, truth, x->dec, x->dec_func,
                               o->search > 0 ? x->ver : NULL, x->ver_func);
        r->decode_errors += x->dec_failed;
        add_probe(r, x, o, truth, o->search > 0);
        eval_metrics_add(&r->decoded, truth, x->dec, x->dec_func);
        if (o->teacher) eval_metrics_add(&r->teacher, truth, x->tf, x->tf_func);
        if (o->noise) eval_metrics_add(&r->noise, truth, x->noise, x->noise_func);
        if (o->search > 0) {
            eval_metrics_add(&r->verified, truth, x->ver, x->ver_func);
            eval_metrics_add(&r->verified_alone, truth, x->ver_alone, x->ver_alone_func);
            r->n_alone_verified += x->verdict_alone != SEARCH_NONE;
            r->n_repair_ran += x->repair_ran;
            r->n_repaired += x->repaired;
            r->n_weights += x->verdict == SEARCH_WEIGHTS;
            r->n_function += x->verdict == SEARCH_FUNCTION;
            r->search_errors += x->ver_failed;
            if (o->noise) {
                eval_metrics_add(&r->noise_verified, truth, x->noise_ver, x->noise_ver_func);
                r->noise_n_weights += x->noise_verdict == SEARCH_WEIGHTS;
                r->noise_n_function += x->noise_verdict == SEARCH_FUNCTION;
            }
        }
    }
    r->seconds = now_s() - t0;
    return 0;
}

void eval_run_result_free(EvalRunResult *r) {
    eval_metrics_free(&r->decoded);
    eval_metrics_free(&r->verified_alone);
    eval_metrics_free(&r->teacher);
    eval_metrics_free(&r->noise);
    eval_metrics_free(&r->verified);
    eval_metrics_free(&r->noise_verified);
    free(r->sample);
    free(r->res);
    memset(r, 0, sizeof *r);
}

/* ---- classic programs ------------------------------------------------------------------ */

static void one_line(char *s);

static void base_name(const char *path, char *out, size_t cap) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 5 && strcmp(b + n - 5, ".rasp") == 0) n -= 5;
    if (n >= cap) n = cap - 1;
    memcpy(out, b, n);
    out[n] = 0;
}

/* The model's input vocabulary (BOS and PAD left out): malloc'ed, count in *n. */
static Value *model_vocab(const CompiledModel *cm, int *n) {
    Value *v = malloc(sizeof(Value) * (size_t)(cm->vocab_size > 0 ? cm->vocab_size : 1));
    *n = 0;
    for (int i = 0; v && i < cm->vocab_size; i++)
        if (i != cm->bos_id && i != cm->pad_id) v[(*n)++] = cm->tokens[i];
    return v;
}

static bool same_vocab(const Value *a, int na, const Value *b, int nb) {
    if (na != nb) return false;
    for (int i = 0; i < na; i++) {
        bool found = false;
        for (int j = 0; j < nb && !found; j++) found = val_eq(a[i], b[j]);
        if (!found) return false;
    }
    return true;
}

int eval_classic(MetaModel *m, const char *path, const WtOptions *wt, int beam,
                 const Value *train_vocab, int train_n_vocab, int train_msl, const EquivOptions *eo,
                 EvalClassic *c, char *err, size_t errcap) {
    return eval_classic_search(m, path, wt, beam, NULL, train_vocab, train_n_vocab, train_msl, eo,
                               c, err, errcap);
}

int eval_classic_search(MetaModel *m, const char *path, const WtOptions *wt, int beam,
                        const SearchOptions *so, const Value *train_vocab, int train_n_vocab,
                        int train_msl, const EquivOptions *eo, EvalClassic *c, char *err,
                        size_t errcap) {
    memset(c, 0, sizeof *c);
    base_name(path, c->name, sizeof c->name);
    c->func = EVAL_FN_UNCHECKED;
    RaspProgram p;
    rasp_program_init(&p);
    CompiledModel *cm = NULL;
    WtTokens toks;
    wt_tokens_init(&toks);
    Value *vocab = NULL;
    int rc = 1;
    char e2[512];
    if (rasp_parse_file(path, &p, err, errcap) != 0) goto done;
    CompileOptions co;
    compile_options_default(&co);
    if (compile_program(&p, &co, &cm, e2, sizeof e2) != 0) {
        c->ood = true;
        snprintf(c->detail, sizeof c->detail, "out of distribution: does not compile: %.400s", e2);
        rc = 0;
        goto done;
    }
    int nv = 0;
    vocab = model_vocab(cm, &nv);
    if (!vocab) {
        snprintf(err, errcap, "out of memory");
        goto done;
    }
    if (wt_encode(cm, wt, &toks, e2, sizeof e2) != 0) {
        c->ood = true;
        snprintf(c->detail, sizeof c->detail, "out of distribution: no weight tokens: %.400s", e2);
        rc = 0;
        goto done;
    }
    c->n_wt = toks.n;
    if (toks.n > m->cfg.max_prefix) {
        c->ood = true;
        snprintf(
            c->detail, sizeof c->detail,
            "out of distribution: %d weight tokens, the meta-model takes at most %d (residual width %d, %d "
            "layers)",
            toks.n, m->cfg.max_prefix, cm->residual_dim, cm->num_layers);
        rc = 0;
        goto done;
    }
    char note[256] = "";
    if (train_vocab &&
        (!same_vocab(vocab, nv, train_vocab, train_n_vocab) || cm->max_seq_len != train_msl))
        snprintf(note, sizeof note,
                 " [vocab of %d tokens, max_seq_len %d: not the training setting (%d tokens, %d)]",
                 nv, cm->max_seq_len, train_n_vocab, train_msl);
    int16_t table[TABLE_CELLS];
    if (so) {
        SearchResult sr;
        if (search_decompile(m, cm, toks.payload, toks.ids, toks.n, so, &sr, e2, sizeof e2) != 0) {
            c->func = EVAL_FN_NO_DECODE;
            snprintf(c->detail, sizeof c->detail, "search failed: %.250s%.200s", e2, note);
            rc = 0;
            goto done;
        }
        c->searched = true;
        c->verdict = sr.verdict;
        memcpy(table, sr.table, sizeof table);
        size_t k = strlen(note);
        snprintf(note + k, sizeof note - k, " [search: verified %s, candidate %d of %d]",
                 search_verdict_name(sr.verdict), sr.winner + 1, sr.tried);
    } else if (meta_decode_table(m, toks.payload, toks.ids, toks.n, beam, table, e2, sizeof e2) !=
               0) {
        c->func = EVAL_FN_NO_DECODE;
        snprintf(c->detail, sizeof c->detail, "decoding failed: %.250s%.200s", e2, note);
        rc = 0;
        goto done;
    }
    RaspProgram pp;
    if (pt_decode(table, vocab, nv, cm->max_seq_len, &pp, e2, sizeof e2) == 0)
        c->pred_rasp = rasp_format(&pp);
    rasp_program_free(&pp);
    EquivResult r;
    if (equiv_check_program(&p, table, &co, eo, &r, e2, sizeof e2) != 0) {
        snprintf(c->detail, sizeof c->detail, "functional check failed: %.250s%.200s", e2, note);
    } else {
        c->exact = r.exact;
        c->func = r.status;
        snprintf(c->detail, sizeof c->detail, "%.300s%.200s", r.detail, note);
    }
    rc = 0;
done:
    one_line(c->detail);
    free(vocab);
    wt_tokens_free(&toks);
    if (cm) compiled_model_free(cm);
    rasp_program_free(&p);
    return rc;
}

/* Messages go on one line (compiler errors span several). */
static void one_line(char *s) {
    for (; *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t') *s = ' ';
}

void eval_classic_free(EvalClassic *c) {
    free(c->pred_rasp);
    c->pred_rasp = NULL;
}
