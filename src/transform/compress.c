/* Compression of the residual stream to width D' by a learned projection (transform.h;
 * the loss is in compress_loss.c). Adam on P [D', D] from the first D' rows of a Haar
 * rotation, a fresh random batch each step, cosine decay of the learning rate to a tenth;
 * the best of `restarts` runs on a fixed evaluation batch is folded into the weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transform/tf_internal.h"
#include "util/adam.h"
#include "util/errmsg.h"

void tf_compress_options_default(TfCompressOptions *o) {
    memset(o, 0, sizeof *o);
    o->steps = 2000;
    o->batch = 32;
    o->lr = 1e-2;
    o->seed = 1;
    o->out_weight = 10.0;
    o->restarts = 1;
}

/* The model of width dim with p [dim, D] folded in: writers W p^T, readers p W. */
static CompiledModel *fold(const CompiledModel *m, const double *p, int dim) {
    CompiledModel *c = tf_model_clone(m);
    if (!c) return NULL;
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    c->residual_dim = dim;
    model_alloc_weights(
        c); /* a new block of the new shapes (the clone's old one stays in its arena) */
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

/* Draws B sequences (lengths 1..N, uniform tokens) into ids/len. */
static void draw_batch(const CompiledModel *m, Rng *g, const int *tok, int V, int B, int *ids,
                       int *len) {
    int r = 0;
    for (int b = 0; b < B; b++) {
        int n = 1 + (int)(rng_next(g) % (uint64_t)m->max_seq_len);
        len[b] = n + 1;
        ids[r++] = m->bos_id;
        for (int t = 0; t < n; t++) ids[r++] = tok[rng_next(g) % (uint64_t)V];
    }
}

/* One training run from a Haar-random start (seed): p [dim, D] receives the result.
 * ids/len: room for batch sequences. */
static int train_one(const CompiledModel *m, const TfCompressOptions *o, uint64_t seed,
                     const int *tok, int V, int *ids, int *len, double *p, TfCompressReport *rep,
                     char *err, size_t errcap) {
    int D = m->residual_dim, dim = o->dim, B = o->batch;
    Rng g;
    rng_seed(&g, seed);
    size_t PD = (size_t)dim * D;
    double *q =
        malloc(sizeof(double) * (size_t)D * D); /* [D, D] Haar: its first dim rows start P */
    double *gr = calloc(PD, sizeof(double)), *m1 = calloc(PD, sizeof(double)),
           *m2 = calloc(PD, sizeof(double));
    if (!q || !gr || !m1 || !m2) abort();
    int rc = tf_haar_orthogonal(D, &g, q, err, errcap);
    memcpy(p, q, sizeof(double) * PD);
    TfCompressLoss *c = NULL;
    for (int step = 0; !rc && step < o->steps; step++) {
        draw_batch(m, &g, tok, V, B, ids, len);
        if (!c) c = tf_closs_new(m, dim, ids, 0, 1, o->out_weight);
        tf_closs_set_batch(c, ids, len, B);
        double loss = tf_closs_eval(c, p, gr);
        if (!isfinite(loss)) {
            rc = err_printf(err, errcap, "the compression loss diverged at step %d", step);
            break;
        }
        if (step == 0) rep->loss_first = loss;
        if (o->verbose && o->steps >= 10 && step % (o->steps / 10) == 0)
            fprintf(stderr, "compress seed %llu step %d/%d loss %.5g\n", (unsigned long long)seed,
                    step, o->steps, loss);
        double lr = o->lr * (0.1 + 0.45 * (1 + cos(M_PI * step / (double)o->steps)));
        adam_update(p, gr, m1, m2, PD, step, lr, 0, NULL);
        rep->steps++;
    }
    tf_closs_free(c);
    free(q), free(gr), free(m1), free(m2);
    return rc;
}

int tf_compress(const CompiledModel *m, const TfCompressOptions *o, CompiledModel **out,
                TfCompressReport *rep, char *err, size_t errcap) {
    *out = NULL;
    memset(rep, 0, sizeof *rep);
    int D = m->residual_dim, dim = o->dim, N = m->max_seq_len, B = o->batch, EB = 4 * o->batch;
    if (dim < 1 || dim > D)
        return err_printf(err, errcap, "compressed width %d is outside 1..%d", dim, D);
    if (B < 1 || o->steps < 0 || o->restarts < 1)
        return err_printf(err, errcap, "bad batch, step or restart count");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t PD = (size_t)dim * D;
    double *p = malloc(sizeof(double) * PD), *best = malloc(sizeof(double) * PD); /* [dim, D] */
    int *tok = malloc(sizeof(int) * (size_t)m->vocab_size);        /* real token ids */
    int *ids = malloc(sizeof(int) * (size_t)EB * (size_t)(N + 1)); /* [sum len] */
    int *len = malloc(sizeof(int) * (size_t)EB);
    if (!p || !best || !tok || !ids || !len) abort();
    int V = 0, rc = 0;
    for (int i = 0; i < m->vocab_size; i++)
        if (i != m->bos_id && i != m->pad_id) tok[V++] = i;
    if (V == 0) rc = err_printf(err, errcap, "the model has no input tokens");
    /* Restarts end in different local minima; the one with the lowest loss on a fixed
     * evaluation batch is kept. */
    Rng ge;
    rng_seed(&ge, o->seed ^ 0x6576616cULL); /* "eval" */
    TfCompressLoss *ev = NULL;
    if (!rc) {
        draw_batch(m, &ge, tok, V, EB, ids, len);
        ev = tf_closs_new(m, dim, ids, 0, 1, o->out_weight);
        tf_closs_set_batch(ev, ids, len, EB);
    }
    double best_loss = INFINITY;
    for (int r = 0; !rc && r < o->restarts; r++) {
        TfCompressReport one = {0};
        uint64_t seed = (o->seed ^ 0x636f6d7072657373ULL) +
                        0x9e3779b97f4a7c15ULL * (uint64_t)r; /* "compress" */
        rc = train_one(m, o, seed, tok, V, ids, len, p, &one, err, errcap);
        if (rc) break;
        double l = tf_closs_eval(ev, p, NULL);
        if (r == 0) rep->loss_first = one.loss_first;
        rep->steps += one.steps;
        if (o->verbose) fprintf(stderr, "compress restart %d: evaluation loss %.5g\n", r, l);
        if (l < best_loss || r == 0) {
            best_loss = l;
            memcpy(best, p, sizeof(double) * PD);
        }
    }
    rep->loss_last = best_loss;
    if (!rc) {
        *out = fold(m, best, dim);
        if (!*out) rc = err_printf(err, errcap, "out of memory");
        else tf_note(*out, "compress", o->seed);
    }
    tf_closs_free(ev);
    free(p), free(best), free(tok), free(ids), free(len);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    rep->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return rc;
}
