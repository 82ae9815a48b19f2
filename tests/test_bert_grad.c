/* Finite-difference checks of every layer of the BERT encoder (src/bert/bert_layers.c) and of
 * the whole loss: each analytic gradient against central differences of a scalar function
 * L = sum(y * r) with a fixed random r. */
#include <stdlib.h>

#include "bert/bert.h"
#include "test.h"
#include "util/rng.h"

static Rng g_rng;
static void fill(double *x, size_t n, double s) {
    for (size_t i = 0; i < n; i++) x[i] = s * rng_normal(&g_rng);
}
static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* The largest |analytic - numeric| relative to max(1e-6, |numeric|) over the entries of p. */
typedef double (*ScalarFn)(void *ctx);
static double fd_err(ScalarFn f, void *ctx, double *p, const double *grad, size_t n) {
    double worst = 0, h = 1e-5;
    for (size_t i = 0; i < n; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double up = f(ctx);
        p[i] = keep - h;
        double dn = f(ctx);
        p[i] = keep;
        double num = (up - dn) / (2 * h), e = fabs(num - grad[i]) / fmax(1e-4, fabs(num));
        if (e > worst) worst = e;
    }
    return worst;
}

enum { R = 5, IN = 4, OUT = 3 };
typedef struct {
    double x[R * IN], W[OUT * IN], b[OUT], r[R * OUT];
} LinCtx;
static double lin_f(void *c) {
    LinCtx *l = c;
    double y[R * OUT];
    bert_linear_fwd(l->x, l->W, l->b, R, IN, OUT, y);
    return dot(y, l->r, R * OUT);
}
static void test_linear(void) {
    LinCtx c;
    fill(c.x, R * IN, 1), fill(c.W, OUT * IN, 1), fill(c.b, OUT, 1), fill(c.r, R * OUT, 1);
    double dx[R * IN], dW[OUT * IN] = {0}, db[OUT] = {0};
    bert_linear_bwd(c.x, c.W, c.r, R, IN, OUT, dx, dW, db);
    CHECK(fd_err(lin_f, &c, c.x, dx, R * IN) < 1e-6);
    CHECK(fd_err(lin_f, &c, c.W, dW, OUT * IN) < 1e-6);
    CHECK(fd_err(lin_f, &c, c.b, db, OUT) < 1e-6); /* the biases */
}

enum { D = 6 };
typedef struct {
    double x[R * D], g[D], b[D], r[R * D];
} LnCtx;
static double ln_f(void *c) {
    LnCtx *l = c;
    double y[R * D], n[R * D], rs[R];
    bert_layernorm_fwd(l->x, l->g, l->b, R, D, 1e-12, y, n, rs);
    return dot(y, l->r, R * D);
}
static void test_layernorm(void) {
    LnCtx c;
    fill(c.x, R * D, 2), fill(c.g, D, 1), fill(c.b, D, 1), fill(c.r, R * D, 1);
    double y[R * D], n[R * D], rs[R], dx[R * D], dg[D] = {0}, db[D] = {0};
    bert_layernorm_fwd(c.x, c.g, c.b, R, D, 1e-12, y, n, rs);
    double mean = 0;
    for (int d = 0; d < D; d++) mean += n[d];
    CHECK_NEAR(mean, 0, 1e-12); /* normalised rows */
    bert_layernorm_bwd(c.r, n, rs, c.g, R, D, dx, dg, db);
    CHECK(fd_err(ln_f, &c, c.x, dx, R * D) < 1e-5);
    CHECK(fd_err(ln_f, &c, c.g, dg, D) < 1e-6);
    CHECK(fd_err(ln_f, &c, c.b, db, D) < 1e-6);
}

typedef struct {
    double u[40], r[40];
} GeluCtx;
static double gelu_f(void *c) {
    GeluCtx *l = c;
    double y[40];
    bert_gelu_fwd(l->u, 40, y);
    return dot(y, l->r, 40);
}
static void test_gelu(void) {
    GeluCtx c;
    fill(c.u, 40, 2), fill(c.r, 40, 1);
    double du[40], y[3], u3[3] = {0, 1, -1};
    bert_gelu_bwd(c.u, c.r, 40, du);
    CHECK(fd_err(gelu_f, &c, c.u, du, 40) < 1e-6);
    bert_gelu_fwd(u3, 3, y); /* torch.nn.functional.gelu: 0, 0.8413447460685429, -0.158655... */
    CHECK_NEAR(y[0], 0, 1e-15);
    CHECK_NEAR(y[1], 0.8413447460685429, 1e-14);
    CHECK_NEAR(y[2], -0.15865525393145707, 1e-14);
}

enum { AB = 2, AT = 4, AD = 6, AH = 2 };
typedef struct {
    double q[AB * AT * AD], k[AB * AT * AD], v[AB * AT * AD], r[AB * AT * AD];
    int len[AB];
    bool causal;
} AttCtx;
static double att_f(void *c) {
    AttCtx *a = c;
    double probs[AB * AH * AT * AT], ctx[AB * AT * AD];
    bert_attention_fwd(a->q, a->k, a->v, a->len, AB, AT, AD, AH, a->causal, probs, ctx);
    double s = 0; /* padding rows do not count, as in the loss */
    for (int b = 0; b < AB; b++)
        for (int i = 0; i < a->len[b]; i++)
            for (int d = 0; d < AD; d++) {
                size_t j = ((size_t)b * AT + i) * AD + d;
                s += ctx[j] * a->r[j];
            }
    return s;
}
static void attention_case(bool causal) {
    AttCtx c = {.len = {AT, 2}, .causal = causal};
    fill(c.q, sizeof c.q / 8, 1), fill(c.k, sizeof c.k / 8, 1), fill(c.v, sizeof c.v / 8, 1);
    fill(c.r, sizeof c.r / 8, 1);
    for (int i = 2; i < AT; i++) /* sequence 1 is 2 long: its padding rows carry no loss */
        for (int d = 0; d < AD; d++) c.r[((size_t)AT + i) * AD + d] = 0;
    size_t n = sizeof c.q / 8;
    double probs[AB * AH * AT * AT], ctx[AB * AT * AD], dq[AB * AT * AD], dk[AB * AT * AD],
        dv[AB * AT * AD];
    bert_attention_fwd(c.q, c.k, c.v, c.len, AB, AT, AD, AH, causal, probs, ctx);
    bert_attention_bwd(c.q, c.k, c.v, probs, c.r, c.len, AB, AT, AD, AH, dq, dk, dv);
    CHECK(fd_err(att_f, &c, c.q, dq, n) < 1e-6);
    CHECK(fd_err(att_f, &c, c.k, dk, n) < 1e-6);
    CHECK(fd_err(att_f, &c, c.v, dv, n) < 1e-6);
    /* keys past a sequence's length get no weight; causal rows none from later keys */
    CHECK(probs[((size_t)(1 * AH + 0) * AT + 0) * AT + 2] == 0);
    if (causal) CHECK(probs[0 * AT + 1] == 0);
}
static void test_attention(void) {
    attention_case(false);
    attention_case(true);
}

typedef struct {
    BertModel m;
    BertBatch bt;
} NetCtx;
static double net_f(void *c) {
    NetCtx *n = c;
    return bert_loss(&n->m, &n->bt, NULL);
}
static void net_case(bool causal) {
    BertConfig cfg = {.vocab = 5,
                      .positions = 4,
                      .hidden = 4,
                      .heads = 2,
                      .layers = 2,
                      .intermediate = 6,
                      .classes = 3,
                      .ln_eps = 1e-12,
                      .causal = causal};
    NetCtx c;
    char err[256];
    CHECK(bert_alloc(&c.m, &cfg, err, sizeof err) == 0);
    bert_init(&c.m, 7);
    fill(c.m.params, c.m.n_params, 0.5); /* larger than HF's 0.02 so that every path matters */
    int ids[2 * 4] = {3, 0, 1, 2, 3, 2, 4, 4}, tgt[2 * 4] = {-1, 0, 2, 1, -1, 1, -1, -1};
    int len[2] = {4, 2};
    c.bt = (BertBatch){ids, tgt, len, 2, 4};
    double *grad = malloc(sizeof(double) * c.m.n_params);
    double loss = bert_loss(&c.m, &c.bt, grad);
    CHECK(isfinite(loss) && loss > 0);
    CHECK(fd_err(net_f, &c, c.m.params, grad, c.m.n_params) < 1e-4);
    /* the word row of a token that never occurs gets no gradient */
    bool zero = true;
    for (int d = 0; d < cfg.hidden; d++) zero &= c.m.w.word[0 * cfg.hidden + d] == c.m.w.word[d];
    CHECK(zero);
    free(grad);
    bert_free(&c.m);
}
static void test_whole_loss(void) {
    net_case(false);
    net_case(true);
}

static void test_bad_batch(void) {
    BertConfig cfg = {.vocab = 5,
                      .positions = 4,
                      .hidden = 4,
                      .heads = 2,
                      .layers = 1,
                      .intermediate = 6,
                      .classes = 3,
                      .ln_eps = 1e-12};
    BertModel m;
    char err[256];
    CHECK(bert_alloc(&m, &cfg, err, sizeof err) == 0);
    int ids[4] = {0, 9, 1, 1}, tgt[4] = {0, 0, 0, 0}, len[1] = {4};
    BertBatch bt = {ids, tgt, len, 1, 4};
    double logits[12];
    CHECK(bert_forward(&m, &bt, logits, err, sizeof err) == 1);
    CHECK(strstr(err, "token id 9") != NULL);
    CHECK(isnan(bert_loss(&m, &bt, NULL)));
    bert_free(&m);
    cfg.heads = 3;
    CHECK(bert_alloc(&m, &cfg, err, sizeof err) == 1);
    CHECK(strstr(err, "multiple") != NULL);
    bert_free(&m);
}

int main(void) {
    rng_seed(&g_rng, 12345);
    RUN(test_linear);
    RUN(test_layernorm);
    RUN(test_gelu);
    RUN(test_attention);
    RUN(test_whole_loss);
    RUN(test_bad_batch);
    TEST_END();
}
