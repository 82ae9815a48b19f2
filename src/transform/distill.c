/* Distillation (transform.h): a student of the compiled model's shape, re-initialised at
 * random, trained on the compiled model's input/output behaviour alone.
 *
 * The student's parameters are the weights of a CompiledModel (one contiguous block, the
 * order of model_alloc_weights), so the result is an ordinary model file. Loss on a batch of
 * random inputs: categorical outputs, softmax cross-entropy of the student's unembedded row
 * against the teacher's decoded column, at the positions where the teacher's value is defined
 * (tf_compare's rule); numerical outputs, the squared error against the teacher's output.
 * The BOS position is never scored. Gradients: hand-written backpropagation through the
 * same forward pass as forward.c (attention with BOS, causal mask and 1/sqrt(ks) scale, ReLU
 * MLPs, residual adds), checked against finite differences in tests/test_transform_distill.c.
 *
 * Shapes: R = rows (every sequence's positions, BOS first, stacked), D residual, HK =
 * heads * key_size, M MLP width, NO output columns. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transform/tf_internal.h"
#include "util/adam.h"
#include "util/errmsg.h"

#define mm tf_mm

static double *dalloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof(double));
    if (!p) abort();
    return p;
}

/* Weights of a model of m's shape (the block of model_alloc_weights). */
static size_t n_weights(const CompiledModel *m) {
    size_t D = (size_t)m->residual_dim, HK = (size_t)m->num_heads * m->key_size,
           M = (size_t)m->mlp_hidden_size;
    return (size_t)m->vocab_size * D + (size_t)(m->max_seq_len + 1) * D +
           (size_t)m->num_layers * (4 * D * HK + 2 * D * M) + D * (size_t)m->n_out;
}

struct TfDistillLoss {
    CompiledModel *s; /* a shallow view of the teacher with its own layer array, bound to
                              * the weights tf_dloss_eval is given */
    int D, HK, M, NO, L, H, ks;
    int B, R, A;
    int *len, *off, *ids; /* [B], [B], [R] */
    int *target;          /* [R] teacher's column (categorical; -1: not scored) */
    double *tval;         /* [R] teacher's value (numerical) */
    double n_scored;
    double *xs;            /* [2L + 1, R, D] the stream before each block, then the final */
    double *q, *k, *v, *z; /* [L, R, HK] */
    double *att;           /* [L, H, A] */
    double *h;             /* [L, R, M] pre-activations */
    double *out;           /* [R, NO] */
    double *gy, *gq, *gk, *gv, *gz, *gh, *tmp; /* [R, D], [R, HK] x4, [R, M], max([R, M], [R, D]) */
    double *gout;                              /* [R, NO] */
    double *gA;                                /* [Tmax] */
};

TfDistillLoss *tf_dloss_new(const CompiledModel *teacher, int width, const int *ids, const int *len,
                            int B) {
    TfDistillLoss *c = calloc(1, sizeof *c);
    if (!c) abort();
    const CompiledModel *m = teacher;
    c->s = malloc(sizeof *c->s);
    if (!c->s) abort();
    *c->s = *m; /* config, tokens, output decoding; never freed through this view */
    if (width > 0) c->s->residual_dim = width;
    c->s->layers = malloc(sizeof(ModelLayer) * (size_t)(m->num_layers ? m->num_layers : 1));
    if (!c->s->layers) abort();
    c->D = c->s->residual_dim, c->HK = m->num_heads * m->key_size, c->M = m->mlp_hidden_size,
    c->NO = m->n_out;
    c->L = m->num_layers, c->H = m->num_heads, c->ks = m->key_size;
    int R = 0, A = 0, T = 1;
    for (int b = 0; b < B; b++) {
        R += len[b], A += len[b] * len[b];
        if (len[b] > T) T = len[b];
    }
    c->B = B, c->R = R, c->A = A;
    c->len = malloc(sizeof(int) * (size_t)(B + 1));
    c->off = malloc(sizeof(int) * (size_t)(B + 1));
    c->ids = malloc(sizeof(int) * (size_t)(R + 1));
    c->target = malloc(sizeof(int) * (size_t)(R + 1));
    if (!c->len || !c->off || !c->ids || !c->target) abort();
    size_t RD = (size_t)R * c->D, RH = (size_t)R * c->HK, RM = (size_t)R * c->M;
    c->tval = dalloc((size_t)R);
    c->xs = dalloc((size_t)(2 * c->L + 1) * RD);
    c->q = dalloc(c->L * RH), c->k = dalloc(c->L * RH), c->v = dalloc(c->L * RH),
    c->z = dalloc(c->L * RH);
    c->att = dalloc((size_t)c->L * c->H * A), c->h = dalloc(c->L * RM),
    c->out = dalloc((size_t)R * c->NO);
    c->gy = dalloc(RD), c->gq = dalloc(RH), c->gk = dalloc(RH), c->gv = dalloc(RH);
    c->gz = dalloc(RH), c->gh = dalloc(RM), c->tmp = dalloc(RM > RD ? RM : RD);
    c->gout = dalloc((size_t)R * c->NO), c->gA = dalloc((size_t)T);
    /* the teacher's outputs: one forward batch per sequence (lengths differ) */
    double *y = dalloc((size_t)T * c->NO);
    char err[128];
    for (int b = 0, r = 0; b < B; b++) {
        c->len[b] = len[b], c->off[b] = r;
        memcpy(c->ids + r, ids + r, sizeof(int) * (size_t)len[b]);
        model_forward_f64_sparse(m, NULL, ids + r, 1, len[b], y, err, sizeof err);
        for (int t = 0; t < len[b]; t++) {
            const double *row = y + (size_t)t * c->NO;
            c->target[r + t] = -1;
            if (t == 0) continue;
            if (m->output_numerical) {
                c->tval[r + t] = row[0];
                c->target[r + t] = 0;
                c->n_scored++;
                continue;
            }
            int best = 0;
            double t1 = row[0], t2 = -INFINITY, big = fabs(row[0]);
            for (int j = 1; j < c->NO; j++) {
                if (row[j] > t1) t2 = t1, t1 = row[j], best = j;
                else if (row[j] > t2) t2 = row[j];
                if (fabs(row[j]) > big) big = fabs(row[j]);
            }
            if (c->NO == 1 || (t1 - t2 > 0.5 * big && t1 - t2 > 1e-3)) {
                c->target[r + t] = best;
                c->n_scored++;
            }
        }
        r += len[b];
    }
    free(y);
    if (c->n_scored < 1) c->n_scored = 1;
    return c;
}

void tf_dloss_free(TfDistillLoss *c) {
    if (!c) return;
    free(c->s->layers);
    free(c->s);
    free(c->gout), free(c->gA);
    free(c->len), free(c->off), free(c->ids), free(c->target), free(c->tval), free(c->xs);
    free(c->q), free(c->k), free(c->v), free(c->z), free(c->att), free(c->h), free(c->out);
    free(c->gy), free(c->gq), free(c->gk), free(c->gv), free(c->gz), free(c->gh), free(c->tmp);
    free(c);
}

static void forward(TfDistillLoss *c) {
    const CompiledModel *s = c->s;
    int R = c->R, D = c->D, HK = c->HK, M = c->M, ks = c->ks;
    size_t RD = (size_t)R * D;
    double *x = c->xs;
    for (int b = 0; b < c->B; b++)
        for (int t = 0; t < c->len[b]; t++) {
            int r = c->off[b] + t;
            const double *te = s->token_embed + (size_t)c->ids[r] * D,
                         *pe = s->pos_embed + (size_t)t * D;
            for (int d = 0; d < D; d++) x[(size_t)r * D + d] = te[d] + pe[d];
        }
    for (int l = 0; l < c->L; l++) {
        const ModelLayer *L = &s->layers[l];
        double *xin = c->xs + (size_t)(2 * l) * RD, *xmid = xin + RD, *xout = xmid + RD;
        double *q = c->q + (size_t)l * R * HK, *k = c->k + (size_t)l * R * HK,
               *v = c->v + (size_t)l * R * HK;
        double *z = c->z + (size_t)l * R * HK, *att = c->att + (size_t)l * c->H * c->A;
        mm(q, xin, L->q, R, D, HK, false, false, 0);
        mm(k, xin, L->k, R, D, HK, false, false, 0);
        mm(v, xin, L->v, R, D, HK, false, false, 0);
        TfBatch bt = {c->B, R, c->len, c->off};
        tf_attn_forward(&bt, c->H, ks, s->causal, q, k, v, att, (size_t)c->A, z);
        memcpy(xmid, xin, sizeof(double) * RD);
        mm(xmid, z, L->o, R, HK, D, false, false, 1);
        double *h = c->h + (size_t)l * R * M;
        mm(h, xmid, L->w1, R, D, M, false, false, 0);
        for (size_t i = 0; i < (size_t)R * M; i++) c->tmp[i] = h[i] > 0 ? h[i] : 0;
        memcpy(xout, xmid, sizeof(double) * RD);
        mm(xout, c->tmp, L->w2, R, M, D, false, false, 1);
    }
    mm(c->out, c->xs + (size_t)(2 * c->L) * RD, s->unembed, R, D, c->NO, false, false, 0);
}

double tf_dloss_eval(TfDistillLoss *c, const double *w, double *grad) {
    CompiledModel *s = c->s;
    model_bind_weights(s, (double *)w);
    forward(c);
    int R = c->R, D = c->D, HK = c->HK, M = c->M, NO = c->NO, ks = c->ks;
    size_t RD = (size_t)R * D;
    double loss = 0;
    double *gout = c->gout;
    memset(gout, 0, sizeof(double) * (size_t)R * NO);
    for (int r = 0; r < R; r++) {
        int tg = c->target[r];
        if (tg < 0) continue;
        const double *row = c->out + (size_t)r * NO;
        double *g = gout + (size_t)r * NO;
        if (s->output_numerical) {
            double d = row[0] - c->tval[r];
            loss += d * d;
            g[0] = 2 * d / c->n_scored;
        } else {
            double mx = row[0], sum = 0;
            for (int j = 1; j < NO; j++)
                if (row[j] > mx) mx = row[j];
            for (int j = 0; j < NO; j++) sum += exp(row[j] - mx);
            loss += log(sum) + mx - row[tg];
            for (int j = 0; j < NO; j++) g[j] = (exp(row[j] - mx) / sum - (j == tg)) / c->n_scored;
        }
    }
    loss /= c->n_scored;
    if (!grad) return loss;
    /* grad has the layout of the weights: bind a second model view onto it */
    CompiledModel gview = *s;
    ModelLayer *gl = malloc(sizeof(ModelLayer) * (size_t)(c->L ? c->L : 1));
    if (!gl) abort();
    gview.layers = gl;
    model_bind_weights(&gview, grad);
    memset(grad, 0, sizeof(double) * n_weights(s));
    const double *xfin = c->xs + (size_t)(2 * c->L) * RD;
    mm(gview.unembed, xfin, gout, D, R, NO, true, false, 0); /* dU = x^T gout */
    mm(c->gy, gout, s->unembed, R, NO, D, false, true, 0);   /* gy = gout U^T */
    for (int l = c->L - 1; l >= 0; l--) {
        const ModelLayer *L = &s->layers[l];
        ModelLayer *G = &gl[l];
        const double *xin = c->xs + (size_t)(2 * l) * RD, *xmid = xin + RD;
        /* MLP: xout = xmid + relu(xmid W1) W2 */
        const double *h = c->h + (size_t)l * R * M;
        double *r = c->tmp;
        for (size_t i = 0; i < (size_t)R * M; i++) r[i] = h[i] > 0 ? h[i] : 0;
        mm(G->w2, r, c->gy, M, R, D, true, false, 0);     /* dW2 = relu^T gy */
        mm(c->gh, c->gy, L->w2, R, D, M, false, true, 0); /* d relu */
        for (size_t i = 0; i < (size_t)R * M; i++)
            if (!(h[i] > 0)) c->gh[i] = 0;
        mm(G->w1, xmid, c->gh, D, R, M, true, false, 0);  /* dW1 = xmid^T gh */
        mm(c->gy, c->gh, L->w1, R, M, D, false, true, 1); /* gy(xmid) += gh W1^T */
        /* attention: xmid = xin + z Wo */
        const double *q = c->q + (size_t)l * R * HK, *k = c->k + (size_t)l * R * HK,
                     *v = c->v + (size_t)l * R * HK;
        const double *z = c->z + (size_t)l * R * HK, *att = c->att + (size_t)l * c->H * c->A;
        mm(G->o, z, c->gy, HK, R, D, true, false, 0);     /* dWo = z^T gy */
        mm(c->gz, c->gy, L->o, R, D, HK, false, true, 0); /* gz = gy Wo^T */
        TfBatch bt = {c->B, R, c->len, c->off};
        tf_attn_backward(&bt, c->H, ks, q, k, v, att, (size_t)c->A, c->gz, c->gq, c->gk, c->gv,
                         c->gA);
        mm(G->q, xin, c->gq, D, R, HK, true, false, 0);
        mm(G->k, xin, c->gk, D, R, HK, true, false, 0);
        mm(G->v, xin, c->gv, D, R, HK, true, false, 0);
        mm(c->gy, c->gq, L->q, R, HK, D, false, true, 1);
        mm(c->gy, c->gk, L->k, R, HK, D, false, true, 1);
        mm(c->gy, c->gv, L->v, R, HK, D, false, true, 1);
    }
    /* embeddings: x0 = tok[id] + pos[t] */
    for (int b = 0; b < c->B; b++)
        for (int t = 0; t < c->len[b]; t++) {
            int r = c->off[b] + t;
            double *gt = gview.token_embed + (size_t)c->ids[r] * D,
                   *gp = gview.pos_embed + (size_t)t * D;
            for (int d = 0; d < D; d++) {
                gt[d] += c->gy[(size_t)r * D + d];
                gp[d] += c->gy[(size_t)r * D + d];
            }
        }
    free(gl);
    return loss;
}

void tf_distill_options_default(TfDistillOptions *o) {
    memset(o, 0, sizeof *o);
    o->steps = 3000;
    o->batch = 32;
    o->lr = 3e-3;
    o->seed = 1;
    o->min_accuracy = 0.99;
    o->check_inputs = 20000;
}

/* Random initialisation: normal with standard deviation 1/sqrt(fan-in) (embeddings: 1). */
static void init_student(CompiledModel *s, Rng *g) {
    int D = s->residual_dim, HK = s->num_heads * s->key_size, M = s->mlp_hidden_size;
    size_t nt = (size_t)s->vocab_size * D, np = (size_t)(s->max_seq_len + 1) * D;
    for (size_t i = 0; i < nt; i++) s->token_embed[i] = rng_normal(g);
    for (size_t i = 0; i < np; i++) s->pos_embed[i] = rng_normal(g);
    double sd = 1 / sqrt((double)D), so = 1 / sqrt((double)HK), s2 = 1 / sqrt((double)M);
    for (int l = 0; l < s->num_layers; l++) {
        ModelLayer *L = &s->layers[l];
        for (size_t i = 0; i < (size_t)D * HK; i++) {
            L->q[i] = sd * rng_normal(g);
            L->k[i] = sd * rng_normal(g);
            L->v[i] = sd * rng_normal(g);
            L->o[i] = so * rng_normal(g);
        }
        for (size_t i = 0; i < (size_t)D * M; i++) {
            L->w1[i] = sd * rng_normal(g);
            L->w2[i] = s2 * rng_normal(g);
        }
    }
    for (size_t i = 0; i < (size_t)D * s->n_out; i++) s->unembed[i] = sd * rng_normal(g);
}

int tf_distill(const CompiledModel *m, const TfDistillOptions *o, CompiledModel **out,
               TfDistillReport *rep, char *err, size_t errcap) {
    *out = NULL;
    memset(rep, 0, sizeof *rep);
    if (o->batch < 1 || o->steps < 0) return err_printf(err, errcap, "bad batch or step count");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (o->width < 0 || o->width > 1 << 20)
        return err_printf(err, errcap, "bad student width %d", o->width);
    CompiledModel *s = tf_model_clone(m);
    if (!s) return err_printf(err, errcap, "out of memory");
    if (o->width > 0 && o->width != m->residual_dim) { /* a narrower (or wider) student */
        s->residual_dim = o->width;
        model_alloc_weights(s); /* a new block of the new shapes (the old one stays in the arena) */
    }
    Rng g;
    rng_seed(&g, o->seed ^ 0x64697374696c6cULL); /* "distill" */
    init_student(s, &g);
    size_t nw = n_weights(s);
    double *w = s->token_embed; /* the student's own block */
    double *gr = dalloc(nw), *m1 = dalloc(nw), *m2 = dalloc(nw);
    int N = m->max_seq_len, B = o->batch, V = 0, rc = 0;
    int *tok = malloc(sizeof(int) * (size_t)m->vocab_size),
        *ids = malloc(sizeof(int) * (size_t)B * (N + 1));
    int *len = malloc(sizeof(int) * (size_t)B);
    if (!tok || !ids || !len) abort();
    for (int i = 0; i < m->vocab_size; i++)
        if (i != m->bos_id && i != m->pad_id) tok[V++] = i;
    if (V == 0) rc = err_printf(err, errcap, "the model has no input tokens");
    for (int step = 0; !rc && step < o->steps; step++) {
        int r = 0;
        for (int b = 0; b < B; b++) {
            int n = 1 + (int)(rng_next(&g) % (uint64_t)N);
            len[b] = n + 1;
            ids[r++] = m->bos_id;
            for (int t = 0; t < n; t++) ids[r++] = tok[rng_next(&g) % (uint64_t)V];
        }
        TfDistillLoss *c = tf_dloss_new(m, o->width, ids, len, B);
        double loss = tf_dloss_eval(c, w, gr);
        tf_dloss_free(c);
        if (!isfinite(loss)) {
            rc = err_printf(err, errcap, "the distillation loss diverged at step %d", step);
            break;
        }
        if (step == 0) rep->loss_first = loss;
        rep->loss_last = loss;
        if (o->verbose && o->steps >= 10 && step % (o->steps / 10) == 0)
            fprintf(stderr, "distill step %d/%d loss %.5g\n", step, o->steps, loss);
        double lr = o->lr * (0.1 + 0.45 * (1 + cos(M_PI * step / (double)o->steps)));
        adam_update(w, gr, m1, m2, nw, step, lr, 0, NULL);
        rep->steps = step + 1;
    }
    if (!rc) {
        s->info = NULL; /* the student's heads and units are not the compiler's */
        tf_relabel_residual(s, "dst");
        tf_note(s, "distill", o->seed);
        TfCompare cmp;
        rc = tf_compare(s, m, o->check_inputs > 0 ? o->check_inputs : 20000, o->seed, 1e-3, 1e-4,
                        &cmp, err, errcap);
        if (!rc) {
            rep->input_accuracy =
                cmp.n_inputs ? (double)cmp.n_inputs_match / (double)cmp.n_inputs : 0;
            rep->position_accuracy =
                cmp.n_positions ? (double)cmp.n_positions_match / (double)cmp.n_positions : 0;
            rep->accepted = rep->input_accuracy >= o->min_accuracy;
        }
    }
    free(gr), free(m1), free(m2), free(tok), free(ids), free(len);
    if (rc) compiled_model_free(s);
    else *out = s;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    rep->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return rc;
}
