/* The encoder's parameters: one contiguous block, laid out tensor by tensor in HF order, so
 * that a gradient, AdamW's moments and the file share one table (bert_tensors). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert/bert.h"
#include "util/errmsg.h"
#include "util/rng.h"

/* Small by design: the encoder is trained on 2 CPU cores, and a file that asks for more is
 * refused rather than exhausting memory. */
#define BERT_MAX_DIM 4096
#define BERT_MAX_LAYERS 24
#define BERT_MAX_PARAMS (64.0 * 1024 * 1024)

static void add(BertTensor *t, int *n, size_t *off, bool decay, int ndim, int64_t r, int64_t c,
                const char *fmt, int layer) {
    BertTensor *x = &t[(*n)++];
    snprintf(x->name, sizeof x->name, fmt, layer);
    x->ndim = ndim;
    x->shape[0] = r;
    x->shape[1] = ndim == 2 ? c : 1;
    x->numel = (size_t)r * (size_t)(ndim == 2 ? c : 1);
    x->offset = *off;
    x->decay = decay;
    *off += x->numel;
}

int bert_tensors(const BertConfig *c, BertTensor *t) {
    int n = 0;
    size_t off = 0;
    int64_t D = c->hidden, I = c->intermediate;
    add(t, &n, &off, true, 2, c->vocab, D, "embeddings.word_embeddings.weight", 0);
    add(t, &n, &off, true, 2, c->positions, D, "embeddings.position_embeddings.weight", 0);
    add(t, &n, &off, false, 1, D, 0, "embeddings.LayerNorm.weight", 0);
    add(t, &n, &off, false, 1, D, 0, "embeddings.LayerNorm.bias", 0);
    for (int l = 0; l < c->layers && n + 16 < BERT_MAX_TENSORS; l++) {
        static const char *qkv[3] = {"query", "key", "value"};
        for (int j = 0; j < 3; j++) {
            char w[96], b[96];
            snprintf(w, sizeof w, "encoder.layer.%%d.attention.self.%s.weight", qkv[j]);
            snprintf(b, sizeof b, "encoder.layer.%%d.attention.self.%s.bias", qkv[j]);
            add(t, &n, &off, true, 2, D, D, w, l);
            add(t, &n, &off, false, 1, D, 0, b, l);
        }
        add(t, &n, &off, true, 2, D, D, "encoder.layer.%d.attention.output.dense.weight", l);
        add(t, &n, &off, false, 1, D, 0, "encoder.layer.%d.attention.output.dense.bias", l);
        add(t, &n, &off, false, 1, D, 0, "encoder.layer.%d.attention.output.LayerNorm.weight", l);
        add(t, &n, &off, false, 1, D, 0, "encoder.layer.%d.attention.output.LayerNorm.bias", l);
        add(t, &n, &off, true, 2, I, D, "encoder.layer.%d.intermediate.dense.weight", l);
        add(t, &n, &off, false, 1, I, 0, "encoder.layer.%d.intermediate.dense.bias", l);
        add(t, &n, &off, true, 2, D, I, "encoder.layer.%d.output.dense.weight", l);
        add(t, &n, &off, false, 1, D, 0, "encoder.layer.%d.output.dense.bias", l);
        add(t, &n, &off, false, 1, D, 0, "encoder.layer.%d.output.LayerNorm.weight", l);
        add(t, &n, &off, false, 1, D, 0, "encoder.layer.%d.output.LayerNorm.bias", l);
    }
    add(t, &n, &off, true, 2, c->classes, D, "classifier.weight", 0);
    add(t, &n, &off, false, 1, c->classes, 0, "classifier.bias", 0);
    return n;
}

int bert_config_check(const BertConfig *c, char *err, size_t errcap) {
    const struct {
        const char *name;
        int v, max;
    } f[] = {{"vocabulary", c->vocab, 65536},
             {"positions", c->positions, 4097},
             {"hidden size", c->hidden, BERT_MAX_DIM},
             {"heads", c->heads, BERT_MAX_DIM},
             {"layers", c->layers, BERT_MAX_LAYERS},
             {"intermediate size", c->intermediate, 4 * BERT_MAX_DIM},
             {"classes", c->classes, 65536}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < 1 || f[i].v > f[i].max)
            return err_printf(err, errcap, "%s %d is outside 1..%d", f[i].name, f[i].v, f[i].max);
    if (c->hidden % c->heads)
        return err_printf(err, errcap, "hidden size %d is not a multiple of the %d heads",
                          c->hidden, c->heads);
    if (!(c->ln_eps > 0 && c->ln_eps < 1))
        return err_printf(err, errcap, "layer_norm_eps %g is outside (0, 1)", c->ln_eps);
    double D = c->hidden, I = c->intermediate;
    double n = (c->vocab + c->positions + 2.0) * D +
               c->layers * (4 * D * D + 10 * D + 2 * D * I + I) + c->classes * (D + 1);
    if (n > BERT_MAX_PARAMS)
        return err_printf(err, errcap, "%.0f parameters, at most %.0f", n, BERT_MAX_PARAMS);
    return 0;
}

void bert_bind(const BertConfig *c, double *p, BertW *w, BertLayerW *layers) {
    size_t D = (size_t)c->hidden, I = (size_t)c->intermediate;
    w->word = p;
    p += (size_t)c->vocab * D;
    w->pos = p;
    p += (size_t)c->positions * D;
    w->eln_g = p;
    w->eln_b = p + D;
    p += 2 * D;
    w->layers = layers;
    for (int l = 0; l < c->layers; l++) { /* the order of bert_tensors */
        BertLayerW *y = &layers[l];
        double **mat[] = {&y->wq, &y->wk, &y->wv}, **bias[] = {&y->bq, &y->bk, &y->bv};
        for (int j = 0; j < 3; j++) {
            *mat[j] = p;
            *bias[j] = p + D * D;
            p += D * D + D;
        }
        y->wo = p, y->bo = p + D * D, p += D * D + D;
        y->ln1_g = p, y->ln1_b = p + D, p += 2 * D;
        y->wi = p, y->bi = p + I * D, p += I * D + I;
        y->w2 = p, y->b2 = p + D * I, p += D * I + D;
        y->ln2_g = p, y->ln2_b = p + D, p += 2 * D;
    }
    w->cls_w = p;
    w->cls_b = p + (size_t)c->classes * D;
}

int bert_alloc(BertModel *m, const BertConfig *cfg, char *err, size_t errcap) {
    memset(m, 0, sizeof *m);
    arena_init(&m->arena);
    if (bert_config_check(cfg, err, errcap)) return 1;
    m->cfg = *cfg;
    BertTensor *t = malloc(sizeof(BertTensor) * BERT_MAX_TENSORS);
    if (!t) abort();
    int n = bert_tensors(cfg, t);
    m->n_params = t[n - 1].offset + t[n - 1].numel;
    free(t);
    m->params = calloc(m->n_params, sizeof(double));
    BertLayerW *layers = arena_alloc(&m->arena, sizeof(BertLayerW) * (size_t)cfg->layers);
    if (!m->params || !layers) abort();
    bert_bind(cfg, m->params, &m->w, layers);
    m->voc.source = m->voc.task = "";
    return 0;
}

void bert_init(BertModel *m, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    BertTensor *t = malloc(sizeof(BertTensor) * BERT_MAX_TENSORS);
    if (!t) abort();
    int n = bert_tensors(&m->cfg, t);
    for (int i = 0; i < n; i++) {
        double *p = m->params + t[i].offset;
        bool gain = strstr(t[i].name, "LayerNorm.weight") != NULL;
        for (size_t j = 0; j < t[i].numel; j++)
            p[j] = t[i].ndim == 2 ? 0.02 * rng_normal(&r) : gain ? 1.0 : 0.0;
    }
    free(t);
}

void bert_free(BertModel *m) {
    free(m->params);
    m->params = NULL;
    arena_free(&m->arena);
}

void bert_set_vocab(BertModel *m, const BertVocab *voc) {
    BertVocab *v = &m->voc;
    *v = *voc;
    v->tokens = arena_alloc(&m->arena, sizeof(Value) * (size_t)voc->n_tokens);
    v->outputs = arena_alloc(&m->arena, sizeof(Value) * (size_t)voc->n_outputs);
    if (!v->tokens || !v->outputs) abort();
    memcpy(v->tokens, voc->tokens, sizeof(Value) * (size_t)voc->n_tokens);
    memcpy(v->outputs, voc->outputs, sizeof(Value) * (size_t)voc->n_outputs);
    v->source = arena_strdup(&m->arena, voc->source ? voc->source : "");
    v->task = arena_strdup(&m->arena, voc->task ? voc->task : "");
}
