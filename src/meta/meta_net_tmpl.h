/* Whole-model forward/backward, compiled twice (meta_net_f32.c, meta_net_f64.c); the including
 * file includes meta/meta.h, then defines META_REAL and META_FN(name). Private to meta/. */
#if !defined(META_REAL) || !defined(META_FN)
#error "meta_net_tmpl.h: define META_REAL and META_FN first (meta_net_f32.c)"
#endif
#include <stdlib.h>
#include <string.h>

#include "meta/meta.h"

typedef META_FN(MetaActs) Acts;

/* Carves buffers out of one block; 16-value alignment keeps rows SIMD-friendly. */
typedef struct {
    char *base;
    size_t off;
} Carver;

static META_REAL *META_FN(carve)(Carver *cv, size_t n) {
    size_t bytes = ((n * sizeof(META_REAL)) + 63) & ~(size_t)63;
    META_REAL *p = cv->base ? (META_REAL *)(cv->base + cv->off) : NULL;
    cv->off += bytes;
    return p;
}

static size_t META_FN(acts_layout)(Acts *a, const MetaConfig *c, int maxB, Carver *cv) {
    size_t C = (size_t)c->d_model, L = (size_t)c->max_prefix + (size_t)c->max_prog;
    size_t N = (size_t)maxB * L, BT = (size_t)maxB * (size_t)c->max_prog;
    size_t M = (size_t)c->mlp_ratio * C, V = (size_t)c->vocab, H = (size_t)c->n_head;
    size_t AL = (size_t)maxB * H * L * L;
    int nl = c->n_layer;
    a->pay = META_FN(carve)(cv, (size_t)maxB * (size_t)c->max_prefix * (size_t)c->payload_dim);
    for (int l = 0; l <= nl; l++) {
        a->resid[l] = META_FN(carve)(cv, N * C);
        if (l == nl) break;
        a->ln1[l] = META_FN(carve)(cv, N * C);
        a->ln1_mean[l] = META_FN(carve)(cv, N);
        a->ln1_rstd[l] = META_FN(carve)(cv, N);
        a->qkv[l] = META_FN(carve)(cv, N * 3 * C);
        a->att[l] = META_FN(carve)(cv, AL);
        a->atty[l] = META_FN(carve)(cv, N * C);
        a->mid[l] = META_FN(carve)(cv, N * C);
        a->ln2[l] = META_FN(carve)(cv, N * C);
        a->ln2_mean[l] = META_FN(carve)(cv, N);
        a->ln2_rstd[l] = META_FN(carve)(cv, N);
        a->fch[l] = META_FN(carve)(cv, N * M);
        a->fchg[l] = META_FN(carve)(cv, N * M);
    }
    a->xprog = META_FN(carve)(cv, BT * C);
    a->lnf = META_FN(carve)(cv, BT * C);
    a->lnf_mean = META_FN(carve)(cv, BT);
    a->lnf_rstd = META_FN(carve)(cv, BT);
    a->logits = META_FN(carve)(cv, BT * V);
    a->probs = META_FN(carve)(cv, BT * V);
    a->losses = META_FN(carve)(cv, BT);
    a->dres = META_FN(carve)(cv, N * C);
    a->dln = META_FN(carve)(cv, N * C);
    a->dqkv = META_FN(carve)(cv, N * 3 * C);
    a->datt = META_FN(carve)(cv, AL);
    a->datty = META_FN(carve)(cv, N * C);
    a->dfch = META_FN(carve)(cv, N * M);
    a->dfchg = META_FN(carve)(cv, N * M);
    a->dxprog = META_FN(carve)(cv, BT * C);
    a->dlnf = META_FN(carve)(cv, BT * C);
    a->dlogits = META_FN(carve)(cv, BT * V);
    return cv->off;
}

int META_FN(meta_acts_alloc)(Acts *a, const MetaConfig *c, int max_batch) {
    memset(a, 0, sizeof *a);
    int nl = c->n_layer;
    META_REAL ***lists[] = {&a->resid,    &a->ln1,  &a->ln1_mean, &a->ln1_rstd, &a->qkv,
                            &a->att,      &a->atty, &a->mid,      &a->ln2,      &a->ln2_mean,
                            &a->ln2_rstd, &a->fch,  &a->fchg};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        *lists[i] = calloc((size_t)nl + 1, sizeof(META_REAL *));
        if (!*lists[i]) goto oom;
    }
    Carver cv = {NULL, 0};
    size_t total = META_FN(acts_layout)(a, c, max_batch, &cv);
    /* calloc: buffers start as zeros, so never-written padding is still defined. */
    a->block = calloc(1, total + 64);
    if (!a->block) goto oom;
    cv.base = (char *)(((uintptr_t)a->block + 63) & ~(uintptr_t)63);
    cv.off = 0;
    META_FN(acts_layout)(a, c, max_batch, &cv);
    a->max_batch = max_batch;
    return 0;
oom:
    META_FN(meta_acts_free)(a);
    return -1;
}

void META_FN(meta_acts_free)(Acts *a) {
    free(a->resid);
    free(a->ln1);
    free(a->ln1_mean);
    free(a->ln1_rstd);
    free(a->qkv);
    free(a->att);
    free(a->atty);
    free(a->mid);
    free(a->ln2);
    free(a->ln2_mean);
    free(a->ln2_rstd);
    free(a->fch);
    free(a->fchg);
    free(a->block);
    memset(a, 0, sizeof *a);
}

double META_FN(meta_net_forward)(Acts *a, const MetaConfig *c, const MetaLayout *lay,
                                 const META_REAL *params, const MetaBatch *bt) {
    int B = bt->B, P = bt->P, T = bt->T, L = P + T, C = c->d_model, H = c->n_head;
    int F = c->payload_dim, K = c->n_id_fields, M = c->mlp_ratio * C, V = c->vocab;
    int N = B * L, BT = B * T;
    const META_REAL *pr = params;
    a->B = B;
    a->P = P;
    a->T = T;

    /* embeddings */
    META_REAL *x = a->resid[0];
    memset(x, 0, sizeof(META_REAL) * (size_t)N * C);
    for (int b = 0; b < B; b++) {
        int np = bt->prefix_len[b] < P ? bt->prefix_len[b] : P;
        META_REAL *pay = a->pay + (size_t)b * P * F;
        const float *src = bt->payload + (size_t)b * P * F;
        for (size_t i = 0; i < (size_t)np * F; i++) pay[i] = (META_REAL)src[i];
        META_REAL *xb = x + (size_t)b * L * C;
        META_FN(meta_linear_forward)(xb, pay, pr + lay->pay_w, pr + lay->pay_b, np, F, C, 0);
        for (int k = 0; k < K; k++)
            META_FN(meta_embedding_forward)
            (xb, bt->ids + (size_t)b * P * K + k, K, pr + lay->id_emb[k], np, C);
        META_REAL *xp = xb + (size_t)P * C;
        META_FN(meta_embedding_forward)(xp, bt->tokens + (size_t)b * T, 1, pr + lay->wte, T, C);
        const META_REAL *wpe = pr + lay->wpe;
        for (size_t i = 0; i < (size_t)T * C; i++) xp[i] += wpe[i];
    }

    for (int l = 0; l < c->n_layer; l++) {
        const MetaBlockOffsets *o = &lay->blocks[l];
        META_FN(meta_layernorm_forward)
        (a->ln1[l], a->ln1_mean[l], a->ln1_rstd[l], a->resid[l], pr + o->ln1_g, pr + o->ln1_b, N,
         C);
        META_FN(meta_linear_forward)
        (a->qkv[l], a->ln1[l], pr + o->qkv_w, pr + o->qkv_b, N, C, 3 * C, 0);
        META_FN(meta_attention_forward)
        (a->atty[l], a->att[l], a->qkv[l], bt->prefix_len, B, P, T, C, H);
        /* Residual add fused into the projection: mid = resid + proj(atty). */
        memcpy(a->mid[l], a->resid[l], sizeof(META_REAL) * (size_t)N * C);
        META_FN(meta_linear_forward)
        (a->mid[l], a->atty[l], pr + o->proj_w, pr + o->proj_b, N, C, C, 1);
        META_FN(meta_layernorm_forward)
        (a->ln2[l], a->ln2_mean[l], a->ln2_rstd[l], a->mid[l], pr + o->ln2_g, pr + o->ln2_b, N, C);
        META_FN(meta_linear_forward)(a->fch[l], a->ln2[l], pr + o->fc_w, pr + o->fc_b, N, C, M, 0);
        META_FN(meta_gelu_forward)(a->fchg[l], a->fch[l], (size_t)N * M);
        memcpy(a->resid[l + 1], a->mid[l], sizeof(META_REAL) * (size_t)N * C);
        META_FN(meta_linear_forward)
        (a->resid[l + 1], a->fchg[l], pr + o->fcp_w, pr + o->fcp_b, N, M, C, 1);
    }

    const META_REAL *xo = a->resid[c->n_layer];
    for (int b = 0; b < B; b++)
        memcpy(a->xprog + (size_t)b * T * C, xo + ((size_t)b * L + P) * C,
               sizeof(META_REAL) * (size_t)T * C);
    META_FN(meta_layernorm_forward)
    (a->lnf, a->lnf_mean, a->lnf_rstd, a->xprog, pr + lay->lnf_g, pr + lay->lnf_b, BT, C);
    META_FN(meta_linear_forward)(a->logits, a->lnf, pr + lay->head_w, NULL, BT, C, V, 0);
    a->count = 0;
    if (!bt->targets) return 0.0;
    return META_FN(meta_crossentropy_forward)(a->losses, a->probs, a->logits, bt->targets, BT, V,
                                              &a->count);
}

void META_FN(meta_net_backward)(Acts *a, const MetaConfig *c, const MetaLayout *lay,
                                const META_REAL *params, META_REAL *grads, const MetaBatch *bt) {
    if (!bt->targets || a->count == 0) return;
    int B = a->B, P = a->P, T = a->T, L = P + T, C = c->d_model, H = c->n_head;
    int F = c->payload_dim, K = c->n_id_fields, M = c->mlp_ratio * C, V = c->vocab;
    int N = B * L, BT = B * T;
    const META_REAL *pr = params;
    META_REAL *gr = grads;
    size_t NC = (size_t)N * C;

    memset(a->dlogits, 0, sizeof(META_REAL) * (size_t)BT * V);
    META_FN(meta_crossentropy_backward)
    (a->dlogits, a->probs, bt->targets, BT, V, (META_REAL)1 / (META_REAL)a->count);
    memset(a->dlnf, 0, sizeof(META_REAL) * (size_t)BT * C);
    META_FN(meta_linear_backward)
    (a->dlnf, gr + lay->head_w, NULL, a->dlogits, a->lnf, pr + lay->head_w, BT, C, V);
    memset(a->dxprog, 0, sizeof(META_REAL) * (size_t)BT * C);
    META_FN(meta_layernorm_backward)
    (a->dxprog, gr + lay->lnf_g, gr + lay->lnf_b, a->dlnf, a->xprog, pr + lay->lnf_g, a->lnf_mean,
     a->lnf_rstd, BT, C);
    memset(a->dres, 0, sizeof(META_REAL) * NC);
    for (int b = 0; b < B; b++)
        memcpy(a->dres + ((size_t)b * L + P) * C, a->dxprog + (size_t)b * T * C,
               sizeof(META_REAL) * (size_t)T * C);

    for (int l = c->n_layer - 1; l >= 0; l--) {
        const MetaBlockOffsets *o = &lay->blocks[l];
        /* dres holds d(resid[l+1]); the skip path passes it to d(mid) unchanged. */
        memset(a->dfchg, 0, sizeof(META_REAL) * (size_t)N * M);
        META_FN(meta_linear_backward)
        (a->dfchg, gr + o->fcp_w, gr + o->fcp_b, a->dres, a->fchg[l], pr + o->fcp_w, N, M, C);
        memset(a->dfch, 0, sizeof(META_REAL) * (size_t)N * M);
        META_FN(meta_gelu_backward)(a->dfch, a->fch[l], a->dfchg, (size_t)N * M);
        memset(a->dln, 0, sizeof(META_REAL) * NC);
        META_FN(meta_linear_backward)
        (a->dln, gr + o->fc_w, gr + o->fc_b, a->dfch, a->ln2[l], pr + o->fc_w, N, C, M);
        META_FN(meta_layernorm_backward)
        (a->dres, gr + o->ln2_g, gr + o->ln2_b, a->dln, a->mid[l], pr + o->ln2_g, a->ln2_mean[l],
         a->ln2_rstd[l], N, C);
        /* dres now holds d(mid). */
        memset(a->datty, 0, sizeof(META_REAL) * NC);
        META_FN(meta_linear_backward)
        (a->datty, gr + o->proj_w, gr + o->proj_b, a->dres, a->atty[l], pr + o->proj_w, N, C, C);
        memset(a->dqkv, 0, sizeof(META_REAL) * NC * 3);
        META_FN(meta_attention_backward)
        (a->dqkv, a->datt, a->datty, a->qkv[l], a->att[l], bt->prefix_len, B, P, T, C, H);
        memset(a->dln, 0, sizeof(META_REAL) * NC);
        META_FN(meta_linear_backward)
        (a->dln, gr + o->qkv_w, gr + o->qkv_b, a->dqkv, a->ln1[l], pr + o->qkv_w, N, C, 3 * C);
        META_FN(meta_layernorm_backward)
        (a->dres, gr + o->ln1_g, gr + o->ln1_b, a->dln, a->resid[l], pr + o->ln1_g, a->ln1_mean[l],
         a->ln1_rstd[l], N, C);
    }

    /* embeddings: dres holds d(resid[0]) */
    for (int b = 0; b < B; b++) {
        int np = bt->prefix_len[b] < P ? bt->prefix_len[b] : P;
        const META_REAL *db = a->dres + (size_t)b * L * C;
        META_FN(meta_linear_backward)
        (NULL, gr + lay->pay_w, gr + lay->pay_b, db, a->pay + (size_t)b * P * F, pr + lay->pay_w,
         np, F, C);
        for (int k = 0; k < K; k++)
            META_FN(meta_embedding_backward)
            (gr + lay->id_emb[k], db, bt->ids + (size_t)b * P * K + k, K, np, C);
        const META_REAL *dp = db + (size_t)P * C;
        META_FN(meta_embedding_backward)(gr + lay->wte, dp, bt->tokens + (size_t)b * T, 1, T, C);
        META_REAL *gwpe = gr + lay->wpe;
        for (size_t i = 0; i < (size_t)T * C; i++) gwpe[i] += dp[i];
    }
}
