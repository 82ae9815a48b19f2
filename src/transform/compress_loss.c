/* The compression loss and its gradient (transform.h, docs/transforms.md).
 *
 * With P [D', D] and the projector Pi = P^T P [D, D], the model of width D' that tf_compress
 * writes computes exactly the original model on a residual stream y [R, D] in which every
 * write passes through Pi: y = x0 Pi after the embeddings, y += a_b Pi after each block b
 * (attention, MLP) whose output is a_b, and every read sees y. The loss compares each
 * write with the original model's (teacher) write t_b on the same inputs:
 *
 *   L = sum_b ||a_b Pi - t_b||^2 / sum_b ||t_b||^2 + ow ||y U - o||^2 / ||o||^2
 *
 * (b runs over the embedding and the 2 * num_layers blocks; o is the original unembedded
 * output). a_b comes from the compressed stream, so errors compound through the layers as
 * they do in the compressed model. The gradient is hand-written backpropagation: dL/dPi
 * collects a_b^T dL/dw_b over the blocks, and dL/dP = P (G + G^T) for G = dL/dPi.
 *
 * Shapes: R = rows of the batch (every sequence's T_s positions, BOS included, stacked),
 * D = residual, HK = heads * key_size, M = MLP width, NO = output columns. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "transform/tf_internal.h"

#define mm tf_mm

static double *dalloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof(double));
    if (!p) abort();
    return p;
}

struct TfCompressLoss {
    const CompiledModel *m;
    int dim, D, HK, M, NO, nb; /* nb = 1 + 2 * num_layers blocks */
    double out_weight;
    /* batch */
    int B, R, cap_b, cap_rows, cap_att; /* the cap_ fields: what the buffers hold */
    int *len, *off;                     /* [B] sequence lengths and first rows */
    int *ids;                           /* [R] */
    /* teacher */
    double *x0;    /* [R, D] embeddings */
    double *tgt;   /* [nb, R, D] the original model's writes */
    double *o_tgt; /* [R, NO] */
    double z_blocks, z_out;
    /* student activations */
    double *a;              /* [nb, R, D] block outputs before Pi */
    double *w;              /* [nb, R, D] a Pi */
    double *q, *k, *v, *zz; /* [L, R, HK] each */
    double *att;            /* [L, H, sum_s T_s^2] attention weights */
    double *h;              /* [L, R, M] MLP pre-activations */
    double *y, *gy;         /* [R, D] */
    double *o;              /* [R, NO] */
    /* scratch */
    double *pi, *gpi;          /* [D, D] */
    double *ga;                /* [R, D] */
    double *gq, *gk, *gv, *gz; /* [R, HK] */
    double *gh;                /* [R, M] */
    double *ga_att;            /* [T, T] */
};

/* Attention of layer l on the current stream y: fills q, k, v, att, zz of the layer, then
 * the block output a = zz Wo. */
static void attn_forward(TfCompressLoss *c, int l, const double *y, double *a) {
    const CompiledModel *m = c->m;
    const ModelLayer *L = &m->layers[l];
    int R = c->R, D = c->D, HK = c->HK, H = m->num_heads, ks = m->key_size;
    double *q = c->q + (size_t)l * R * HK, *k = c->k + (size_t)l * R * HK,
           *v = c->v + (size_t)l * R * HK;
    double *z = c->zz + (size_t)l * R * HK, *att = c->att + (size_t)l * H * c->cap_att;
    mm(q, y, L->q, R, D, HK, false, false, 0);
    mm(k, y, L->k, R, D, HK, false, false, 0);
    mm(v, y, L->v, R, D, HK, false, false, 0);
    TfBatch bt = {c->B, R, c->len, c->off};
    tf_attn_forward(&bt, H, ks, m->causal, q, k, v, att, (size_t)c->cap_att, z);
    mm(a, z, L->o, R, HK, D, false, false, 0);
}

static void mlp_forward(TfCompressLoss *c, int l, const double *y, double *a) {
    const ModelLayer *L = &c->m->layers[l];
    int R = c->R, M = c->M;
    double *h = c->h + (size_t)l * R * M;
    mm(h, y, L->w1, R, c->D, M, false, false, 0);
    double *r = c->gh; /* scratch: relu(h) */
    for (size_t i = 0; i < (size_t)R * M; i++) r[i] = h[i] > 0 ? h[i] : 0;
    mm(a, r, L->w2, R, M, c->D, false, false, 0);
}

/* Runs the model on y (written through pi when pi is not NULL): the block outputs into a
 * [nb, R, D] (a[0] = the embeddings), writes into w, the final output into out [R, NO]. */
static void run(TfCompressLoss *c, const double *pi, double *a, double *w, double *out) {
    int R = c->R, D = c->D;
    size_t RD = (size_t)R * D;
    memcpy(a, c->x0, sizeof(double) * RD);
    for (int b = 0; b < c->nb; b++) {
        double *ab = a + (size_t)b * RD, *wb = w + (size_t)b * RD;
        if (b > 0) {
            int l = (b - 1) / 2;
            if ((b - 1) % 2 == 0) attn_forward(c, l, c->y, ab);
            else mlp_forward(c, l, c->y, ab);
        }
        if (pi) mm(wb, ab, pi, R, D, D, false, false, 0);
        else memcpy(wb, ab, sizeof(double) * RD);
        if (b == 0) memcpy(c->y, wb, sizeof(double) * RD);
        else
            for (size_t i = 0; i < RD; i++) c->y[i] += wb[i];
    }
    mm(out, c->y, c->m->unembed, R, D, c->NO, false, false, 0);
}

TfCompressLoss *tf_closs_new(const CompiledModel *m, int dim, const int *ids, int B, int T,
                             double out_weight) {
    TfCompressLoss *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->m = m;
    c->dim = dim;
    c->D = m->residual_dim;
    c->HK = m->num_heads * m->key_size;
    c->M = m->mlp_hidden_size;
    c->NO = m->n_out;
    c->nb = 1 + 2 * m->num_layers;
    c->out_weight = out_weight;
    c->pi = dalloc((size_t)c->D * c->D);
    c->gpi = dalloc((size_t)c->D * c->D);
    int *len = malloc(sizeof(int) * (size_t)(B ? B : 1));
    if (!len) abort();
    for (int b = 0; b < B; b++) len[b] = T;
    tf_closs_set_batch(c, ids, len, B);
    free(len);
    return c;
}

static void free_batch(TfCompressLoss *c) {
    free(c->len), free(c->off), free(c->ids), free(c->x0), free(c->tgt), free(c->o_tgt);
    free(c->a), free(c->w), free(c->q), free(c->k), free(c->v), free(c->zz), free(c->att),
        free(c->h);
    free(c->y), free(c->gy), free(c->o), free(c->ga), free(c->gq), free(c->gk), free(c->gv),
        free(c->gz);
    free(c->gh), free(c->ga_att);
}

void tf_closs_free(TfCompressLoss *c) {
    if (!c) return;
    free_batch(c);
    free(c->pi), free(c->gpi);
    free(c);
}

void tf_closs_set_batch(TfCompressLoss *c, const int *ids, const int *len, int B) {
    const CompiledModel *m = c->m;
    int R = 0, A = 0, Tmax = 1;
    for (int b = 0; b < B; b++) {
        R += len[b];
        A += len[b] * len[b];
        if (len[b] > Tmax) Tmax = len[b];
    }
    if (R > c->cap_rows || A > c->cap_att || B > c->cap_b || !c->len) {
        free_batch(c);
        int L = m->num_layers, H = m->num_heads, nb = c->nb;
        size_t RD = (size_t)R * c->D, RH = (size_t)R * c->HK, RM = (size_t)R * c->M;
        c->len = malloc(sizeof(int) * (size_t)(B ? B : 1));
        c->off = malloc(sizeof(int) * (size_t)(B ? B : 1));
        c->ids = malloc(sizeof(int) * (size_t)(R ? R : 1));
        if (!c->len || !c->off || !c->ids) abort();
        c->x0 = dalloc(RD), c->tgt = dalloc(nb * RD), c->o_tgt = dalloc((size_t)R * c->NO);
        c->a = dalloc(nb * RD), c->w = dalloc(nb * RD);
        c->q = dalloc(L * RH), c->k = dalloc(L * RH), c->v = dalloc(L * RH), c->zz = dalloc(L * RH);
        c->att = dalloc((size_t)L * H * A), c->h = dalloc(L * RM);
        c->y = dalloc(RD), c->gy = dalloc(RD), c->o = dalloc((size_t)R * c->NO), c->ga = dalloc(RD);
        c->gq = dalloc(RH), c->gk = dalloc(RH), c->gv = dalloc(RH), c->gz = dalloc(RH),
        c->gh = dalloc(RM);
        c->ga_att = dalloc((size_t)Tmax * Tmax > (size_t)A ? (size_t)Tmax * Tmax : (size_t)A);
        c->cap_b = B, c->cap_rows = R, c->cap_att = A;
    }
    c->B = B, c->R = R;
    for (int b = 0, r = 0; b < B; b++) {
        c->len[b] = len[b], c->off[b] = r;
        for (int t = 0; t < len[b]; t++) {
            c->ids[r + t] = ids[r + t];
            const double *te = m->token_embed + (size_t)ids[r + t] * c->D,
                         *pe = m->pos_embed + (size_t)t * c->D;
            for (int d = 0; d < c->D; d++) c->x0[(size_t)(r + t) * c->D + d] = te[d] + pe[d];
        }
        r += len[b];
    }
    /* the teacher: the same pass without projection */
    run(c, NULL, c->a, c->tgt, c->o_tgt);
    c->z_blocks = 0;
    for (size_t i = 0; i < (size_t)c->nb * R * c->D; i++) c->z_blocks += c->tgt[i] * c->tgt[i];
    c->z_out = 0;
    for (size_t i = 0; i < (size_t)R * c->NO; i++) c->z_out += c->o_tgt[i] * c->o_tgt[i];
    if (c->z_blocks < 1e-12) c->z_blocks = 1e-12;
    if (c->z_out < 1e-12) c->z_out = 1e-12;
}

static void attn_backward(TfCompressLoss *c, int l, const double *ga) {
    const CompiledModel *m = c->m;
    const ModelLayer *L = &m->layers[l];
    int R = c->R, D = c->D, HK = c->HK, H = m->num_heads, ks = m->key_size;
    const double *q = c->q + (size_t)l * R * HK, *k = c->k + (size_t)l * R * HK,
                 *v = c->v + (size_t)l * R * HK;
    const double *att = c->att + (size_t)l * H * c->cap_att;
    mm(c->gz, ga, L->o, R, D, HK, false, true, 0); /* gz = ga Wo^T */
    TfBatch bt = {c->B, R, c->len, c->off};
    tf_attn_backward(&bt, H, ks, q, k, v, att, (size_t)c->cap_att, c->gz, c->gq, c->gk, c->gv,
                     c->ga_att);
    mm(c->gy, c->gq, L->q, R, HK, D, false, true, 1);
    mm(c->gy, c->gk, L->k, R, HK, D, false, true, 1);
    mm(c->gy, c->gv, L->v, R, HK, D, false, true, 1);
}

static void mlp_backward(TfCompressLoss *c, int l, const double *ga) {
    const ModelLayer *L = &c->m->layers[l];
    int R = c->R, M = c->M;
    const double *h = c->h + (size_t)l * R * M;
    mm(c->gh, ga, L->w2, R, c->D, M, false, true, 0); /* d relu = ga W2^T */
    for (size_t i = 0; i < (size_t)R * M; i++)
        if (!(h[i] > 0)) c->gh[i] = 0;
    mm(c->gy, c->gh, L->w1, R, M, c->D, false, true, 1);
}

double tf_closs_eval(TfCompressLoss *c, const double *p, double *grad) {
    int R = c->R, D = c->D, dim = c->dim, NO = c->NO;
    size_t RD = (size_t)R * D;
    mm(c->pi, p, p, D, dim, D, true, false, 0); /* pi = P^T P */
    run(c, c->pi, c->a, c->w, c->o);
    double lb = 0, lo = 0;
    for (size_t i = 0; i < (size_t)c->nb * RD; i++) {
        double d = c->w[i] - c->tgt[i];
        lb += d * d;
    }
    for (size_t i = 0; i < (size_t)R * NO; i++) {
        double d = c->o[i] - c->o_tgt[i];
        lo += d * d;
    }
    double loss = lb / c->z_blocks + c->out_weight * lo / c->z_out;
    if (!grad) return loss;

    /* d/d out -> gy = go U^T */
    double *gob = malloc(sizeof(double) * (size_t)R * NO);
    if (!gob) abort();
    for (size_t i = 0; i < (size_t)R * NO; i++)
        gob[i] = 2 * c->out_weight * (c->o[i] - c->o_tgt[i]) / c->z_out;
    mm(c->gy, gob, c->m->unembed, R, NO, D, false, true, 0);
    free(gob);
    memset(c->gpi, 0, sizeof(double) * (size_t)D * D);
    for (int b = c->nb - 1; b >= 0; b--) {
        const double *ab = c->a + (size_t)b * RD, *wb = c->w + (size_t)b * RD,
                     *tb = c->tgt + (size_t)b * RD;
        /* gw = gy + dL/dw_b, in the ga buffer; ga = gw Pi then goes into w_b's buffer */
        double *gw = c->ga;
        for (size_t i = 0; i < RD; i++) gw[i] = c->gy[i] + 2 * (wb[i] - tb[i]) / c->z_blocks;
        mm(c->gpi, ab, gw, D, R, D, true, false, 1); /* gPi += a^T gw */
        if (b == 0) break;
        double *gab = c->w + (size_t)b * RD;          /* w_b is not needed again: reuse as ga */
        mm(gab, gw, c->pi, R, D, D, false, false, 0); /* Pi symmetric */
        int l = (b - 1) / 2;
        /* y before this block = y after it minus w_b; gy passes through the residual */
        if ((b - 1) % 2 == 0) attn_backward(c, l, gab);
        else mlp_backward(c, l, gab);
    }
    /* dL/dP = P (G + G^T) */
    for (int i = 0; i < D; i++)
        for (int j = i; j < D; j++) {
            double s = c->gpi[(size_t)i * D + j] + c->gpi[(size_t)j * D + i];
            c->gpi[(size_t)i * D + j] = c->gpi[(size_t)j * D + i] = s;
        }
    mm(grad, p, c->gpi, dim, D, D, false, false, 0);
    return loss;
}
