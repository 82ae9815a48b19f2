/* Compression of the residual stream to width D' by a learned projection (transform.h;
 * the loss is in compress_loss.c). Adam on P [D', D], a fresh random batch each step,
 * cosine decay of the learning rate to a tenth; then P is folded into the weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transform/tf_internal.h"
#include "util/errmsg.h"

void tf_compress_options_default(TfCompressOptions *o) {
    memset(o, 0, sizeof *o);
    o->steps = 2000;
    o->batch = 32;
    o->lr = 1e-2;
    o->seed = 1;
    o->out_weight = 1.0;
}

/* The model of width dim with p [dim, D] folded in: writers W p^T, readers p W. */
static CompiledModel *fold(const CompiledModel *m, const double *p, int dim) {
    CompiledModel *c = tf_model_clone(m);
    if (!c) return NULL;
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    c->residual_dim = dim;
    model_alloc_weights(c); /* a new block of the new shapes (the clone's old one stays in its arena) */
    tf_mm(c->token_embed, m->token_embed, p, m->vocab_size, D, dim, false, true, 0);
    tf_mm(c->pos_embed, m->pos_embed, p, m->max_seq_len + 1, D, dim, false, true, 0);
    for (int l = 0; l < m->num_layers; l++) {
        const ModelLayer *S = &m->layers[l];
        ModelLayer *L = &c->layers[l];
        tf_mm(L->q, p, S->q, dim, D, HK, false, false, 0);
        tf_mm(L->k, p, S->k, dim, D, HK, false, false, 0);
        tf_mm(L->v, p, S->v, dim, D, HK, false, false, 0);
        tf_mm(L->o, S->o, p, HK, D, dim, false, true, 0);
        tf_mm(L->w1, p, S->w1, dim, D, M, false, false, 0);
        tf_mm(L->w2, S->w2, p, M, D, dim, false, true, 0);
    }
    tf_mm(c->unembed, p, m->unembed, dim, D, m->n_out, false, false, 0);
    tf_relabel_residual(c, "cmp");
    return c;
}

int tf_compress(const CompiledModel *m, const TfCompressOptions *o, CompiledModel **out, TfCompressReport *rep,
                char *err, size_t errcap) {
    *out = NULL;
    memset(rep, 0, sizeof *rep);
    int D = m->residual_dim, dim = o->dim, N = m->max_seq_len, B = o->batch;
    if (dim < 1 || dim > D) return err_printf(err, errcap, "compressed width %d is outside 1..%d", dim, D);
    if (B < 1 || o->steps < 0) return err_printf(err, errcap, "bad batch or step count");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    TfRng g;
    tf_rng_seed(&g, o->seed ^ 0x636f6d7072657373ULL); /* "compress" */
    size_t PD = (size_t)dim * D;
    double *p = malloc(sizeof(double) * (size_t)D * D); /* [D, D] Haar, then its first dim rows = P */
    double *gr = calloc(PD, sizeof(double)), *m1 = calloc(PD, sizeof(double)), *m2 = calloc(PD, sizeof(double));
    int *tok = malloc(sizeof(int) * (size_t)m->vocab_size);      /* real token ids */
    int *ids = malloc(sizeof(int) * (size_t)B * (size_t)(N + 1)); /* [sum len] */
    int *len = malloc(sizeof(int) * (size_t)B);
    if (!p || !gr || !m1 || !m2 || !tok || !ids || !len) abort();
    int rc = tf_haar_orthogonal(D, &g, p, err, errcap);
    int V = 0;
    for (int i = 0; i < m->vocab_size; i++)
        if (i != m->bos_id && i != m->pad_id) tok[V++] = i;
    if (!rc && V == 0) rc = err_printf(err, errcap, "the model has no input tokens");
    TfCompressLoss *c = NULL;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    for (int step = 0; !rc && step <= o->steps; step++) {
        int r = 0;
        for (int b = 0; b < B; b++) {
            int n = 1 + (int)(tf_rng_next(&g) % (uint64_t)N);
            len[b] = n + 1;
            ids[r++] = m->bos_id;
            for (int t = 0; t < n; t++) ids[r++] = tok[tf_rng_next(&g) % (uint64_t)V];
        }
        if (!c) c = tf_closs_new(m, dim, ids, 0, 1, o->out_weight);
        tf_closs_set_batch(c, ids, len, B);
        double loss = tf_closs_eval(c, p, step < o->steps ? gr : NULL);
        if (!isfinite(loss)) {
            rc = err_printf(err, errcap, "the compression loss diverged at step %d", step);
            break;
        }
        if (step == 0) rep->loss_first = loss;
        rep->loss_last = loss;
        if (o->verbose && o->steps >= 10 && step % (o->steps / 10) == 0)
            fprintf(stderr, "compress step %d/%d loss %.5g\n", step, o->steps, loss);
        if (step == o->steps) break; /* the last batch only measures the final P */
        double lr = o->lr * (0.1 + 0.45 * (1 + cos(M_PI * step / (double)o->steps)));
        double c1 = 1 - pow(b1, step + 1), c2 = 1 - pow(b2, step + 1);
        for (size_t i = 0; i < PD; i++) {
            m1[i] = b1 * m1[i] + (1 - b1) * gr[i];
            m2[i] = b2 * m2[i] + (1 - b2) * gr[i] * gr[i];
            p[i] -= lr * (m1[i] / c1) / (sqrt(m2[i] / c2) + eps);
        }
        rep->steps = step + 1;
    }
    if (!rc) {
        *out = fold(m, p, dim);
        if (!*out) rc = err_printf(err, errcap, "out of memory");
        else tf_note(*out, "compress", o->seed);
    }
    tf_closs_free(c);
    free(p), free(gr), free(m1), free(m2), free(tok), free(ids), free(len);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    rep->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return rc;
}
