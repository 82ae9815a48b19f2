/* The whole encoder: forward pass with the activations kept, the cross-entropy loss and the
 * hand-written backward pass through every layer (bert_layers.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert/bert.h"
#include "util/errmsg.h"

typedef struct LayerAct {
    double *x;               /* [R, D] the layer's input */
    double *q, *k, *v, *ctx; /* [R, D] */
    double *probs;           /* [B, H, T, T] */
    double *n1, *rs1, *a;    /* [R, D], [R], [R, D]: attention LN */
    double *u, *g;           /* [R, I]: before and after GELU */
    double *n2, *rs2;        /* [R, D], [R]: output LN (its output is the next x) */
} LayerAct;

typedef struct Acts {
    double *ne, *rse; /* [R, D], [R]: embeddings LN */
    LayerAct *l;      /* [L] */
    double *out;      /* [R, D] the last layer's output */
    double *block;    /* everything above, one allocation */
} Acts;

static void acts_alloc(const BertConfig *c, int B, int T, Acts *a) {
    size_t R = (size_t)B * T, D = (size_t)c->hidden, I = (size_t)c->intermediate;
    size_t per = 6 * R * D + (size_t)B * c->heads * T * T + 2 * R * D + R + 2 * R * I + R;
    size_t total = R * D + R + (size_t)c->layers * per + R * D;
    a->block = calloc(total, sizeof(double));
    a->l = calloc((size_t)c->layers + 1, sizeof(LayerAct));
    if (!a->block || !a->l) abort();
    double *p = a->block;
#define TAKE(dst, n) (dst = p, p += (n))
    TAKE(a->ne, R * D);
    TAKE(a->rse, R);
    for (int l = 0; l < c->layers; l++) {
        LayerAct *y = &a->l[l];
        TAKE(y->q, R * D);
        TAKE(y->k, R * D);
        TAKE(y->v, R * D);
        TAKE(y->ctx, R * D);
        TAKE(y->probs, (size_t)B * c->heads * T * T);
        TAKE(y->n1, R * D);
        TAKE(y->a, R * D);
        TAKE(y->rs1, R);
        TAKE(y->u, R * I);
        TAKE(y->g, R * I);
        TAKE(y->n2, R * D);
        TAKE(y->rs2, R);
        TAKE(y->x, R * D); /* layer 0's x is the embeddings' output */
    }
    TAKE(a->out, R * D);
#undef TAKE
}

static void acts_free(Acts *a) {
    free(a->block);
    free(a->l);
}

static int check_batch(const BertConfig *c, const BertBatch *bt, char *err, size_t errcap) {
    if (bt->B < 1 || bt->T < 1 || bt->T > c->positions)
        return err_printf(err, errcap, "batch of %d sequences of length %d (positions: %d)", bt->B,
                          bt->T, c->positions);
    for (int b = 0; b < bt->B; b++)
        if (bt->len[b] < 1 || bt->len[b] > bt->T)
            return err_printf(err, errcap, "sequence %d: length %d outside 1..%d", b, bt->len[b],
                              bt->T);
    for (size_t r = 0; r < (size_t)bt->B * bt->T; r++)
        if (bt->ids[r] < 0 || bt->ids[r] >= c->vocab)
            return err_printf(err, errcap, "token id %d outside 0..%d", bt->ids[r], c->vocab - 1);
    return 0;
}

static void layer_fwd(const BertConfig *c, const BertLayerW *w, LayerAct *y, const BertBatch *bt,
                      double *next) {
    int R = bt->B * bt->T, D = c->hidden, I = c->intermediate;
    bert_linear_fwd(y->x, w->wq, w->bq, R, D, D, y->q);
    bert_linear_fwd(y->x, w->wk, w->bk, R, D, D, y->k);
    bert_linear_fwd(y->x, w->wv, w->bv, R, D, D, y->v);
    bert_attention_fwd(y->q, y->k, y->v, bt->len, bt->B, bt->T, D, c->heads, c->causal, y->probs,
                       y->ctx);
    double *s = next; /* the pre-LN sums use next as scratch: it is overwritten last */
    bert_linear_fwd(y->ctx, w->wo, w->bo, R, D, D, s);
    for (size_t i = 0; i < (size_t)R * D; i++) s[i] += y->x[i];
    bert_layernorm_fwd(s, w->ln1_g, w->ln1_b, R, D, c->ln_eps, y->a, y->n1, y->rs1);
    bert_linear_fwd(y->a, w->wi, w->bi, R, D, I, y->u);
    bert_gelu_fwd(y->u, (size_t)R * I, y->g);
    bert_linear_fwd(y->g, w->w2, w->b2, R, I, D, s);
    for (size_t i = 0; i < (size_t)R * D; i++) s[i] += y->a[i];
    bert_layernorm_fwd(s, w->ln2_g, w->ln2_b, R, D, c->ln_eps, next, y->n2, y->rs2);
}

/* Runs the encoder; logits [R, C]. */
static void forward(const BertModel *m, const BertBatch *bt, Acts *a, double *logits) {
    const BertConfig *c = &m->cfg;
    int R = bt->B * bt->T, D = c->hidden;
    double *e = a->out; /* scratch until the last layer writes it */
    for (int r = 0; r < R; r++)
        for (int d = 0; d < D; d++)
            e[(size_t)r * D + d] =
                m->w.word[(size_t)bt->ids[r] * D + d] + m->w.pos[(size_t)(r % bt->T) * D + d];
    double *x0 = c->layers ? a->l[0].x : a->out;
    double *tmp = malloc(sizeof(double) * (size_t)R * D);
    if (!tmp) abort();
    bert_layernorm_fwd(e, m->w.eln_g, m->w.eln_b, R, D, c->ln_eps, tmp, a->ne, a->rse);
    memcpy(x0, tmp, sizeof(double) * (size_t)R * D);
    free(tmp);
    for (int l = 0; l < c->layers; l++)
        layer_fwd(c, &m->w.layers[l], &a->l[l], bt, l + 1 < c->layers ? a->l[l + 1].x : a->out);
    bert_linear_fwd(a->out, m->w.cls_w, m->w.cls_b, R, D, c->classes, logits);
}

int bert_forward(const BertModel *m, const BertBatch *bt, double *logits, char *err,
                 size_t errcap) {
    if (check_batch(&m->cfg, bt, err, errcap)) return 1;
    Acts a;
    acts_alloc(&m->cfg, bt->B, bt->T, &a);
    forward(m, bt, &a, logits);
    acts_free(&a);
    return 0;
}

/* dx [R, D] holds dL/d(layer output) on entry and dL/d(layer input) on return. */
static void layer_bwd(const BertConfig *c, const BertLayerW *w, BertLayerW *gw, const LayerAct *y,
                      const BertBatch *bt, double *dx) {
    int R = bt->B * bt->T, D = c->hidden, I = c->intermediate;
    size_t RD = (size_t)R * D;
    double *ds = malloc(sizeof(double) * RD * 5), *dg = malloc(sizeof(double) * (size_t)R * I);
    if (!ds || !dg) abort();
    double *da = ds + RD, *dq = ds + 2 * RD, *dk = ds + 3 * RD, *dv = ds + 4 * RD;
    bert_layernorm_bwd(dx, y->n2, y->rs2, w->ln2_g, R, D, ds, gw->ln2_g, gw->ln2_b);
    bert_linear_bwd(y->g, w->w2, ds, R, I, D, dg, gw->w2, gw->b2);
    bert_gelu_bwd(y->u, dg, (size_t)R * I, dg);
    bert_linear_bwd(y->a, w->wi, dg, R, D, I, da, gw->wi, gw->bi);
    for (size_t i = 0; i < RD; i++) da[i] += ds[i]; /* the residual around the MLP */
    bert_layernorm_bwd(da, y->n1, y->rs1, w->ln1_g, R, D, ds, gw->ln1_g, gw->ln1_b);
    bert_linear_bwd(y->ctx, w->wo, ds, R, D, D, da, gw->wo, gw->bo); /* da = dctx */
    bert_attention_bwd(y->q, y->k, y->v, y->probs, da, bt->len, bt->B, bt->T, D, c->heads, dq, dk,
                       dv);
    memcpy(dx, ds, sizeof(double) * RD); /* the residual around attention */
    const double *dd[3] = {dq, dk, dv}, *ww[3] = {w->wq, w->wk, w->wv};
    double *gwm[3] = {gw->wq, gw->wk, gw->wv}, *gwb[3] = {gw->bq, gw->bk, gw->bv};
    for (int j = 0; j < 3; j++) {
        bert_linear_bwd(y->x, ww[j], dd[j], R, D, D, da, gwm[j], gwb[j]);
        for (size_t i = 0; i < RD; i++) dx[i] += da[i];
    }
    free(ds);
    free(dg);
}

/* Softmax cross-entropy per row: the mean loss over rows with tgt >= 0; dlogits [R, C]. */
static double xent(const double *logits, const int *tgt, int R, int C, double *dlogits) {
    long n = 0;
    for (int r = 0; r < R; r++) n += tgt[r] >= 0;
    double loss = 0;
    for (int r = 0; r < R; r++) {
        const double *z = logits + (size_t)r * C;
        double *dz = dlogits + (size_t)r * C;
        if (tgt[r] < 0 || tgt[r] >= C) {
            memset(dz, 0, sizeof(double) * (size_t)C);
            continue;
        }
        double mx = z[0], s = 0;
        for (int j = 1; j < C; j++) mx = z[j] > mx ? z[j] : mx;
        for (int j = 0; j < C; j++) s += exp(z[j] - mx);
        loss += log(s) + mx - z[tgt[r]];
        for (int j = 0; j < C; j++) dz[j] = (exp(z[j] - mx) / s - (j == tgt[r])) / (double)n;
    }
    return n ? loss / (double)n : 0.0;
}

double bert_loss(const BertModel *m, const BertBatch *bt, double *grad) {
    char err[256];
    const BertConfig *c = &m->cfg;
    if (check_batch(c, bt, err, sizeof err)) return NAN;
    int R = bt->B * bt->T, D = c->hidden, C = c->classes;
    Acts a;
    acts_alloc(c, bt->B, bt->T, &a);
    double *logits = malloc(sizeof(double) * (size_t)R * C * 2);
    double *dx = malloc(sizeof(double) * (size_t)R * D * 2);
    if (!logits || !dx) abort();
    double *dlogits = logits + (size_t)R * C, *de = dx + (size_t)R * D;
    forward(m, bt, &a, logits);
    double loss = xent(logits, bt->tgt, R, C, dlogits);
    if (grad) {
        memset(grad, 0, sizeof(double) * m->n_params);
        BertW g;
        BertLayerW *gl = calloc((size_t)c->layers + 1, sizeof(BertLayerW));
        if (!gl) abort();
        bert_bind(c, grad, &g, gl);
        bert_linear_bwd(a.out, m->w.cls_w, dlogits, R, D, C, dx, g.cls_w, g.cls_b);
        for (int l = c->layers - 1; l >= 0; l--)
            layer_bwd(c, &m->w.layers[l], &gl[l], &a.l[l], bt, dx);
        bert_layernorm_bwd(dx, a.ne, a.rse, m->w.eln_g, R, D, de, g.eln_g, g.eln_b);
        for (int r = 0; r < R; r++)
            for (int d = 0; d < D; d++) {
                g.word[(size_t)bt->ids[r] * D + d] += de[(size_t)r * D + d];
                g.pos[(size_t)(r % bt->T) * D + d] += de[(size_t)r * D + d];
            }
        free(gl);
    }
    free(logits);
    free(dx);
    acts_free(&a);
    return loss;
}
