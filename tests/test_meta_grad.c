/* Gradient checks for the meta-model: every layer on its own and the whole model, in double,
 * analytic backward against central finite differences. Error metric, per element:
 *   |a - n| / max(|a|, |n|, 1e-6) < 1e-4        (a: analytic, n: numeric, step h = 1e-5)
 * The 1e-6 floor sits above the finite-difference round-off (~1e-16 |f| / h = 1e-11) so that
 * gradients that are exactly 0 in theory (e.g. key biases: softmax is shift invariant) compare
 * as an absolute error below 1e-10.
 * Layers are checked on loss = sum(out .* R) with R random, so dout = R. Also: the BLAS path
 * agrees with the plain loops in float (per tensor max|a-b| / max|b| < 1e-5), masking and
 * padding hold exactly, and training is deterministic. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

#include "meta/meta.h"
#include "test.h"
#include "util/rng.h"

#define H_STEP 1e-5
#define REL_TOL 1e-4

static Rng g_rng;

static void fill(double *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * (2.0 * rng_uniform(&g_rng) - 1.0);
}
static void fillf(float *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * (2.0 * rng_uniform(&g_rng) - 1.0));
}
static double *dalloc(size_t n) { return calloc(n ? n : 1, sizeof(double)); }
static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Compares analytic gradient g[n] of variable x[n] with central differences of f. Returns the
 * worst relative error. */
typedef double (*LossFn)(void *ctx);
static double grad_check(const char *what, double *x, const double *g, size_t n, LossFn f,
                         void *ctx) {
    double worst = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + H_STEP;
        double fp = f(ctx);
        x[i] = keep - H_STEP;
        double fm = f(ctx);
        x[i] = keep;
        double num = (fp - fm) / (2 * H_STEP);
        double den = fmax(fmax(fabs(g[i]), fabs(num)), 1e-6);
        double rel = fabs(g[i] - num) / den;
        if (rel > worst) {
            worst = rel;
            worst_i = i;
        }
    }
    CHECK_MSG(worst < REL_TOL, "%s: worst relative error %.3g at element %zu", what, worst,
              worst_i);
    return worst;
}

/* ---- linear ---- */
typedef struct {
    int N, IC, OC;
    double *inp, *w, *b, *out, *R;
} LinCtx;
static double lin_loss(void *p) {
    LinCtx *c = p;
    meta_linear_forward_f64(c->out, c->inp, c->w, c->b, c->N, c->IC, c->OC, 0);
    return dot(c->out, c->R, (size_t)c->N * c->OC);
}
static void test_linear(void) {
    LinCtx c = {5, 7, 4, 0, 0, 0, 0, 0};
    c.inp = dalloc(35), c.w = dalloc(28), c.b = dalloc(4), c.out = dalloc(20), c.R = dalloc(20);
    fill(c.inp, 35, 1), fill(c.w, 28, 1), fill(c.b, 4, 1), fill(c.R, 20, 1);
    double *dinp = dalloc(35), *dw = dalloc(28), *db = dalloc(4);
    meta_linear_backward_f64(dinp, dw, db, c.R, c.inp, c.w, c.N, c.IC, c.OC);
    grad_check("linear dinp", c.inp, dinp, 35, lin_loss, &c);
    grad_check("linear dw", c.w, dw, 28, lin_loss, &c);
    grad_check("linear db", c.b, db, 4, lin_loss, &c);
    /* accumulate = 1 adds onto the existing output */
    double *o2 = dalloc(20);
    for (int i = 0; i < 20; i++) o2[i] = 1.5;
    meta_linear_forward_f64(o2, c.inp, c.w, c.b, c.N, c.IC, c.OC, 1);
    lin_loss(&c);
    for (int i = 0; i < 20; i++) CHECK_NEAR(o2[i], c.out[i] + 1.5, 1e-12);
    /* backward accumulates */
    double *dw2 = dalloc(28);
    for (int i = 0; i < 28; i++) dw2[i] = 2.0;
    meta_linear_backward_f64(NULL, dw2, NULL, c.R, c.inp, c.w, c.N, c.IC, c.OC);
    for (int i = 0; i < 28; i++) CHECK_NEAR(dw2[i], dw[i] + 2.0, 1e-12);
    free(c.inp), free(c.w), free(c.b), free(c.out), free(c.R), free(dinp), free(dw), free(db),
        free(o2), free(dw2);
}

/* ---- embedding ---- */
typedef struct {
    double *table, *out, *R;
    int32_t *idx;
} EmbCtx;
static double emb_loss(void *p) {
    EmbCtx *c = p;
    memset(c->out, 0, sizeof(double) * 6 * 3);
    meta_embedding_forward_f64(c->out, c->idx, 2, c->table, 6, 3);
    return dot(c->out, c->R, 18);
}
static void test_embedding(void) {
    int32_t idx[12] = {1, 9, 3, 9, 1, 9, 0, 9, 3, 9, 3, 9}; /* stride 2: rows 1,3,1,0,3,3 */
    EmbCtx c = {dalloc(12), dalloc(18), dalloc(18), idx};
    fill(c.table, 12, 1), fill(c.R, 18, 1);
    double *dt = dalloc(12);
    meta_embedding_backward_f64(dt, c.R, idx, 2, 6, 3);
    grad_check("embedding dtable", c.table, dt, 12, emb_loss, &c);
    for (int j = 0; j < 3; j++) CHECK(dt[2 * 3 + j] == 0.0); /* row 2 never used */
    free(c.table), free(c.out), free(c.R), free(dt);
}

/* ---- layernorm ---- */
typedef struct {
    double *inp, *g, *b, *out, *mean, *rstd, *R;
} LnCtx;
static double ln_loss(void *p) {
    LnCtx *c = p;
    meta_layernorm_forward_f64(c->out, c->mean, c->rstd, c->inp, c->g, c->b, 4, 6);
    return dot(c->out, c->R, 24);
}
static void test_layernorm(void) {
    LnCtx c = {dalloc(24), dalloc(6), dalloc(6), dalloc(24), dalloc(4), dalloc(4), dalloc(24)};
    fill(c.inp, 24, 2), fill(c.g, 6, 1), fill(c.b, 6, 1), fill(c.R, 24, 1);
    double *di = dalloc(24), *dg = dalloc(6), *db = dalloc(6);
    ln_loss(&c);
    /* the normalised row has mean 0 and variance 1 before the affine part */
    double m = 0;
    for (int j = 0; j < 6; j++) m += (c.out[j] - c.b[j]) / c.g[j];
    CHECK_NEAR(m, 0.0, 1e-9);
    meta_layernorm_backward_f64(di, dg, db, c.R, c.inp, c.g, c.mean, c.rstd, 4, 6);
    grad_check("layernorm dinp", c.inp, di, 24, ln_loss, &c);
    grad_check("layernorm dg", c.g, dg, 6, ln_loss, &c);
    grad_check("layernorm db", c.b, db, 6, ln_loss, &c);
    free(c.inp), free(c.g), free(c.b), free(c.out), free(c.mean), free(c.rstd), free(c.R), free(di),
        free(dg), free(db);
}

/* ---- gelu, residual ---- */
typedef struct {
    double *a, *b, *out, *R;
    int which;
} EwCtx;
static double ew_loss(void *p) {
    EwCtx *c = p;
    if (c->which == 0) meta_gelu_forward_f64(c->out, c->a, 16);
    else meta_residual_forward_f64(c->out, c->a, c->b, 16);
    return dot(c->out, c->R, 16);
}
static void test_gelu_residual(void) {
    EwCtx c = {dalloc(16), dalloc(16), dalloc(16), dalloc(16), 0};
    fill(c.a, 16, 3), fill(c.b, 16, 3), fill(c.R, 16, 1);
    /* hand values: gelu(0) = 0, gelu(1) = 0.5 * (1 + tanh(sqrt(2/pi) * 1.044715)) */
    double x2[2] = {0, 1}, y2[2];
    meta_gelu_forward_f64(y2, x2, 2);
    CHECK_NEAR(y2[0], 0.0, 1e-15);
    CHECK_NEAR(y2[1], 0.5 * (1 + tanh(0.7978845608028654 * 1.044715)), 1e-15);
    double *da = dalloc(16), *db = dalloc(16);
    meta_gelu_backward_f64(da, c.a, c.R, 16);
    grad_check("gelu dinp", c.a, da, 16, ew_loss, &c);
    c.which = 1;
    memset(da, 0, sizeof(double) * 16);
    meta_residual_backward_f64(da, db, c.R, 16);
    grad_check("residual da", c.a, da, 16, ew_loss, &c);
    grad_check("residual db", c.b, db, 16, ew_loss, &c);
    free(c.a), free(c.b), free(c.out), free(c.R), free(da), free(db);
}

/* ---- attention ---- */
enum { AB = 3, AP = 3, AT = 4, AC = 8, AH = 2, AL = AP + AT };
typedef struct {
    double *qkv, *out, *att, *R;
    int32_t plen[AB];
} AttCtx;
static double att_loss(void *p) {
    AttCtx *c = p;
    meta_attention_forward_f64(c->out, c->att, c->qkv, c->plen, AB, AP, AT, AC, AH);
    return dot(c->out, c->R, (size_t)AB * AL * AC);
}
static void test_attention(void) {
    AttCtx c = {dalloc(AB * AL * 3 * AC),
                dalloc(AB * AL * AC),
                dalloc(AB * AH * AL * AL),
                dalloc(AB * AL * AC),
                {3, 1, 0}};
    fill(c.qkv, AB * AL * 3 * AC, 1), fill(c.R, AB * AL * AC, 1);
    att_loss(&c);
    /* the mask: probabilities are exactly 0 outside the visible set and rows sum to 1 */
    int mask_ok = 1;
    for (int b = 0; b < AB; b++)
        for (int h = 0; h < AH; h++)
            for (int i = 0; i < AL; i++) {
                double s = 0;
                int any = 0;
                for (int j = 0; j < AL; j++) {
                    int vis = j < AP ? j < c.plen[b] : (i >= AP && j <= i);
                    double pij = c.att[(((size_t)b * AH + h) * AL + i) * AL + j];
                    if (!vis && pij != 0.0) mask_ok = 0;
                    if (vis && !(pij > 0.0)) mask_ok = 0;
                    any |= vis;
                    s += pij;
                }
                if (any && fabs(s - 1) > 1e-12) mask_ok = 0;
                if (!any && s != 0) mask_ok = 0;
            }
    CHECK(mask_ok);
    /* a single visible key: the output is that key's value (sample 1, query 0 sees key 0) */
    for (int d = 0; d < AC; d++)
        CHECK_NEAR(c.out[((size_t)1 * AL + 0) * AC + d],
                   c.qkv[((size_t)1 * AL + 0) * 3 * AC + 2 * AC + d], 1e-12);
    double *dqkv = dalloc(AB * AL * 3 * AC), *datt = dalloc(AB * AH * AL * AL);
    meta_attention_backward_f64(dqkv, datt, c.R, c.qkv, c.att, c.plen, AB, AP, AT, AC, AH);
    grad_check("attention dqkv", c.qkv, dqkv, AB * AL * 3 * AC, att_loss, &c);
    /* padding keys/values (sample 1, positions 1..2) get exactly zero gradient */
    for (int p = 1; p < AP; p++)
        for (int d = AC; d < 3 * AC; d++) CHECK(dqkv[((size_t)1 * AL + p) * 3 * AC + d] == 0.0);
    free(c.qkv), free(c.out), free(c.att), free(c.R), free(dqkv), free(datt);
}

/* ---- cross-entropy ---- */
typedef struct {
    double *logits, *probs, *losses;
    int32_t t[5];
} CeCtx;
static double ce_loss(void *p) {
    CeCtx *c = p;
    return meta_crossentropy_forward_f64(c->losses, c->probs, c->logits, c->t, 5, 6, NULL);
}
static void test_crossentropy(void) {
    CeCtx c = {dalloc(30), dalloc(30), dalloc(5), {2, -1, 0, 5, -1}};
    fill(c.logits, 30, 3);
    int cnt = 0;
    double l = meta_crossentropy_forward_f64(c.losses, c.probs, c.logits, c.t, 5, 6, &cnt);
    CHECK(cnt == 3);
    /* brute force reference */
    double ref = 0;
    for (int n = 0; n < 5; n++) {
        if (c.t[n] < 0) continue;
        double s = 0;
        for (int j = 0; j < 6; j++) s += exp(c.logits[n * 6 + j]);
        ref += -log(exp(c.logits[n * 6 + c.t[n]]) / s);
    }
    CHECK_NEAR(l, ref / 3, 1e-12);
    double *dl = dalloc(30);
    meta_crossentropy_backward_f64(dl, c.probs, c.t, 5, 6, 1.0 / 3);
    grad_check("crossentropy dlogits", c.logits, dl, 30, ce_loss, &c);
    for (int j = 0; j < 6; j++) CHECK(dl[6 + j] == 0.0 && dl[24 + j] == 0.0); /* ignored rows */
    int32_t none[2] = {-1, -1};
    CHECK(meta_crossentropy_forward_f64(c.losses, c.probs, c.logits, none, 2, 6, &cnt) == 0.0 &&
          cnt == 0);
    free(c.logits), free(c.probs), free(c.losses), free(dl);
}

/* ---- whole model ---- */
static MetaConfig tiny_cfg(void) {
    MetaConfig c = {0};
    c.d_model = 8, c.n_head = 2, c.n_layer = 2, c.mlp_ratio = 2, c.payload_dim = 3;
    c.n_id_fields = 2, c.id_vocab[0] = 3, c.id_vocab[1] = 4;
    c.vocab = 5, c.max_prefix = 4, c.max_prog = 4;
    return c;
}

typedef struct {
    float payload[2 * 4 * 3];
    int32_t ids[2 * 4 * 2], plen[2], tokens[2 * 3], targets[2 * 3];
    MetaBatch b;
} TinyBatch;
static void tiny_batch(TinyBatch *t) {
    fillf(t->payload, 24, 1);
    for (int i = 0; i < 16; i++) t->ids[i] = (int32_t)rng_below(&g_rng, i % 2 ? 4 : 3);
    t->plen[0] = 4, t->plen[1] = 2; /* sample 1 has two padding weight tokens */
    int32_t tok[6] = {0, 3, 1, 0, 2, 4}, tgt[6] = {3, 1, -1, 2, 4, 1};
    memcpy(t->tokens, tok, sizeof tok);
    memcpy(t->targets, tgt, sizeof tgt);
    MetaBatch b = {2, 4, 3, t->payload, t->ids, t->plen, t->tokens, t->targets};
    t->b = b;
}

typedef struct {
    MetaActs_f64 acts;
    MetaConfig cfg;
    MetaLayout lay;
    double *params;
    const MetaBatch *b;
} NetCtx;
static double net_loss(void *p) {
    NetCtx *c = p;
    return meta_net_forward_f64(&c->acts, &c->cfg, &c->lay, c->params, c->b);
}

static void test_model_grad(void) {
    char err[256];
    MetaModel m;
    MetaConfig cfg = tiny_cfg();
    CHECK(meta_model_init(&m, &cfg, 7, 2, err, sizeof err) == 0);
    TinyBatch tb;
    tiny_batch(&tb);
    NetCtx c;
    c.cfg = cfg;
    CHECK(meta_layout_build(&c.lay, &cfg) == 0);
    CHECK(meta_acts_alloc_f64(&c.acts, &cfg, 2) == 0);
    size_t n = c.lay.n_params;
    c.params = dalloc(n);
    /* the init's biases are 0 and gains 1; randomise everything so each path is exercised */
    for (size_t i = 0; i < n; i++) c.params[i] = m.params[i] + 0.3 * (2 * rng_uniform(&g_rng) - 1);
    c.b = &tb.b;
    double *g = dalloc(n);
    double loss = net_loss(&c);
    CHECK(loss > 0 && c.acts.count == 5);
    meta_net_backward_f64(&c.acts, &cfg, &c.lay, c.params, g, c.b);
    for (int i = 0; i < c.lay.n_tensors; i++) {
        const MetaTensorInfo *t = &c.lay.tensors[i];
        grad_check(t->name, c.params + t->offset, g + t->offset, t->numel, net_loss, &c);
    }
    /* position table rows >= T and id rows never used get exactly zero gradient */
    const MetaTensorInfo *wpe = meta_layout_find(&c.lay, "embed.pos");
    for (int j = 0; j < cfg.d_model; j++) CHECK(g[wpe->offset + 3 * cfg.d_model + j] == 0.0);

    /* padding weight tokens are never read: changing them leaves the loss bit-identical */
    double l0 = net_loss(&c);
    for (int i = 2 * 3; i < 4 * 3; i++) tb.payload[4 * 3 + i] = 99.0f;
    tb.ids[(4 + 2) * 2] = 1000; /* out of range, but padding */
    CHECK(net_loss(&c) == l0);
    char e2[128];
    CHECK(meta_batch_validate(&cfg, &tb.b, 2, e2, sizeof e2) == 0);
    tb.ids[(4 + 1) * 2] = 1000; /* a real token: rejected with a message */
    CHECK(meta_batch_validate(&cfg, &tb.b, 2, e2, sizeof e2) != 0 &&
          strstr(e2, "id field 0") != NULL);

    free(c.params), free(g);
    meta_acts_free_f64(&c.acts);
    meta_layout_free(&c.lay);
    meta_model_free(&m);
}

/* Program position t must not see program tokens after t; weight tokens see no program token. */
static void test_model_causal(void) {
    char err[256];
    MetaModel m;
    MetaConfig cfg = tiny_cfg();
    CHECK(meta_model_init(&m, &cfg, 3, 2, err, sizeof err) == 0);
    TinyBatch tb;
    tiny_batch(&tb);
    float l1;
    CHECK(meta_forward(&m, &tb.b, &l1, err, sizeof err) == 0);
    size_t nl = (size_t)2 * 3 * cfg.vocab;
    float *lg = malloc(sizeof(float) * nl);
    memcpy(lg, m.acts.logits, sizeof(float) * nl);
    float *w0 = malloc(sizeof(float) * 2 * 4 * 8);
    memcpy(w0, m.acts.resid[cfg.n_layer], sizeof(float) * 4 * 8); /* sample 0's weight tokens */
    tb.tokens[2] = 4;                                             /* sample 0, last program token */
    CHECK(meta_forward(&m, &tb.b, &l1, err, sizeof err) == 0);
    for (int t = 0; t < 2; t++)
        for (int v = 0; v < cfg.vocab; v++)
            CHECK(m.acts.logits[t * cfg.vocab + v] == lg[t * cfg.vocab + v]);
    int changed = 0;
    for (int v = 0; v < cfg.vocab; v++)
        changed |= m.acts.logits[2 * cfg.vocab + v] != lg[2 * cfg.vocab + v];
    CHECK(changed);
    CHECK(memcmp(w0, m.acts.resid[cfg.n_layer], sizeof(float) * 4 * 8) == 0);
    free(lg), free(w0);
    meta_model_free(&m);
}

/* ---- BLAS path == plain loops (float) ---- */
static double max_rel(const float *a, const float *b, size_t n) {
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)a[i] - b[i]));
        mb = fmax(mb, fabs((double)b[i]));
    }
    return md / fmax(mb, 1e-30);
}

static void run_fb(MetaModel *m, const MetaBatch *b, float *loss) {
    char err[256];
    meta_zero_grad(m);
    CHECK(meta_forward(m, b, loss, err, sizeof err) == 0);
    meta_backward(m, b);
}

/* A config and batch large enough that every kernel takes its parallel path. */
enum { BB = 3, BP = 40, BT = 24 };
static float b_pay[BB * BP * 24];
static int32_t b_ids[BB * BP * 3], b_plen[BB] = {40, 17, 1}, b_tok[BB * BT], b_tgt[BB * BT];
static MetaConfig big_setup(MetaBatch *b) {
    MetaConfig cfg = {0};
    cfg.d_model = 64, cfg.n_head = 4, cfg.n_layer = 2, cfg.mlp_ratio = 4, cfg.payload_dim = 24;
    cfg.n_id_fields = 3, cfg.id_vocab[0] = 5, cfg.id_vocab[1] = 6, cfg.id_vocab[2] = 40;
    cfg.vocab = 37, cfg.max_prefix = 40, cfg.max_prog = 24;
    Rng r;
    rng_seed(&r, 77);
    for (size_t i = 0; i < sizeof b_pay / sizeof *b_pay; i++)
        b_pay[i] = (float)(2 * rng_uniform(&r) - 1);
    for (int i = 0; i < BB * BP * 3; i++)
        b_ids[i] = (int32_t)rng_below(&r, (uint64_t)cfg.id_vocab[i % 3]);
    for (int i = 0; i < BB * BT; i++) {
        b_tok[i] = (int32_t)rng_below(&r, 37);
        b_tgt[i] = i % 7 == 3 ? -1 : (int32_t)rng_below(&r, 37);
    }
    MetaBatch bb = {BB, BP, BT, b_pay, b_ids, b_plen, b_tok, b_tgt};
    *b = bb;
    return cfg;
}

static void test_blas_vs_plain(void) {
    MetaBatch b;
    MetaConfig cfg = big_setup(&b);
    enum { B = BB, T = BT };
    char err[256];
    MetaModel m;
    CHECK(meta_model_init(&m, &cfg, 11, B, err, sizeof err) == 0);
    size_t n = m.lay.n_params, nlog = (size_t)B * T * cfg.vocab;
    float *g_blas = malloc(sizeof(float) * n), *lg_blas = malloc(sizeof(float) * nlog);
    float lb, lp;
    meta_set_blas(1);
    run_fb(&m, &b, &lb);
    memcpy(g_blas, m.grads, sizeof(float) * n);
    memcpy(lg_blas, m.acts.logits, sizeof(float) * nlog);
    meta_set_blas(0);
    run_fb(&m, &b, &lp);
    meta_set_blas(1);
    CHECK_NEAR(lb, lp, 1e-5 * fabs(lp));
    double r = max_rel(lg_blas, m.acts.logits, nlog);
    CHECK_MSG(r < 1e-5, "logits differ: %.3g", r);
    for (int i = 0; i < m.lay.n_tensors; i++) {
        const MetaTensorInfo *t = &m.lay.tensors[i];
        r = max_rel(g_blas + t->offset, m.grads + t->offset, t->numel);
        CHECK_MSG(r < 1e-5, "%s: BLAS vs plain gradient differs by %.3g", t->name, r);
    }
    free(g_blas), free(lg_blas);
    meta_model_free(&m);
}

/* ---- determinism: same seed, same numbers, whatever the thread count ---- */
static void train_steps(int threads, float *losses, float *params_out, size_t n_out) {
    MetaBatch b;
    MetaConfig cfg = big_setup(&b);
    char err[256];
    MetaModel m;
    CHECK(meta_model_init(&m, &cfg, 99, BB, err, sizeof err) == 0);
    int prev = omp_get_max_threads();
    omp_set_num_threads(threads);
    MetaAdamW hp = meta_adamw_defaults();
    MetaSchedule s = {1e-2f, 1e-3f, 2, 10};
    for (int i = 0; i < 5; i++) {
        run_fb(&m, &b, &losses[i]);
        meta_clip_grad_norm(&m, 1.0f);
        meta_adamw_step(&m, &hp, meta_lr_schedule(&s, m.step));
    }
    omp_set_num_threads(prev);
    memcpy(params_out, m.params, sizeof(float) * (n_out < m.lay.n_params ? n_out : m.lay.n_params));
    meta_model_free(&m);
}

static void test_determinism(void) {
    float l1[5], l2[5], l3[5];
    static float p1[1 << 18], p2[1 << 18], p3[1 << 18];
    train_steps(2, l1, p1, 1 << 18);
    train_steps(2, l2, p2, 1 << 18);
    train_steps(1, l3, p3, 1 << 18);
    CHECK(memcmp(l1, l2, sizeof l1) == 0 && memcmp(p1, p2, sizeof p1) == 0);
    CHECK(memcmp(l1, l3, sizeof l1) == 0 && memcmp(p1, p3, sizeof p1) == 0);
    CHECK(l1[4] < l1[0]);
}

/* ---- optimizer pieces against hand-computed values ---- */
static void test_optim(void) {
    MetaSchedule s = {1.0f, 0.1f, 10, 110};
    CHECK_NEAR(meta_lr_schedule(&s, 0), 0.1, 1e-7);
    CHECK_NEAR(meta_lr_schedule(&s, 9), 1.0, 1e-7);
    CHECK_NEAR(meta_lr_schedule(&s, 10), 1.0, 1e-7);
    CHECK_NEAR(meta_lr_schedule(&s, 60), 0.55, 1e-6);
    CHECK_NEAR(meta_lr_schedule(&s, 110), 0.1, 1e-7);
    CHECK_NEAR(meta_lr_schedule(&s, 500), 0.1, 1e-7);

    MetaConfig cfg = tiny_cfg();
    char err[256];
    MetaModel m;
    CHECK(meta_model_init(&m, &cfg, 1, 1, err, sizeof err) == 0);
    for (size_t i = 0; i < m.lay.n_params; i++) m.grads[i] = 0.5f;
    double norm = 0.5 * sqrt((double)m.lay.n_params);
    CHECK_NEAR(meta_clip_grad_norm(&m, 1.0f), norm, 1e-3);
    CHECK_NEAR(meta_clip_grad_norm(&m, 0.0f), 1.0, 1e-5);
    /* first AdamW step: m_hat = g, v_hat = g^2, so p -= lr * (sign(g) + wd * p) on decayed
     * tensors and p -= lr * sign(g) elsewhere */
    for (size_t i = 0; i < m.lay.n_params; i++) m.grads[i] = (i % 2) ? 0.25f : -0.25f;
    float *before = malloc(sizeof(float) * m.lay.n_params);
    memcpy(before, m.params, sizeof(float) * m.lay.n_params);
    MetaAdamW hp = {0.9f, 0.95f, 0.0f, 0.1f};
    meta_adamw_step(&m, &hp, 0.01f);
    CHECK(m.step == 1);
    const MetaTensorInfo *qkv = meta_layout_find(&m.lay, "block0.attn.qkv.w");
    const MetaTensorInfo *lng = meta_layout_find(&m.lay, "block0.ln1.g");
    const MetaTensorInfo *emb = meta_layout_find(&m.lay, "embed.token");
    CHECK(qkv && qkv->decay && lng && !lng->decay && emb && !emb->decay);
    size_t i = qkv->offset + 1, j = lng->offset + 1;
    CHECK_NEAR(m.params[i], before[i] - 0.01 * ((i % 2 ? 1 : -1) + 0.1 * before[i]), 1e-6);
    CHECK_NEAR(m.params[j], before[j] - 0.01 * (j % 2 ? 1 : -1), 1e-6);
    free(before);
    meta_model_free(&m);
}

static void test_bad_config(void) {
    MetaConfig c = tiny_cfg();
    c.n_head = 3;
    char err[256];
    MetaModel m;
    CHECK(meta_model_init(&m, &c, 1, 1, err, sizeof err) != 0 && strstr(err, "n_head") != NULL);
    c = tiny_cfg();
    char *js = meta_config_to_json(&c);
    MetaConfig d;
    CHECK(js && meta_config_from_json(js, &d, err, sizeof err) == 0 &&
          memcmp(&c, &d, sizeof c) == 0);
    free(js);
    CHECK(meta_config_from_json("{\"d_model\": 8}", &d, err, sizeof err) != 0);
    CHECK(meta_config_from_json("not json", &d, err, sizeof err) != 0);
}

int main(void) {
    rng_seed(&g_rng, 12345);
    RUN(test_linear);
    RUN(test_embedding);
    RUN(test_layernorm);
    RUN(test_gelu_residual);
    RUN(test_attention);
    RUN(test_crossentropy);
    RUN(test_model_grad);
    RUN(test_model_causal);
    RUN(test_blas_vs_plain);
    RUN(test_determinism);
    RUN(test_optim);
    RUN(test_bad_config);
    TEST_END();
}
