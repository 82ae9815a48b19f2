/* The adapter: an encoder in the compiled-model form (compiler/model.h) that weight tokens
 * are made from, so that the meta-model can read it (docs/bert.md, "Adapter").
 *
 * A compiled model is x -> x + sum of heads -> x + MLP with no normalisation and no biases,
 * and its residual stream has a constant direction "one" (every token embeds 1 there) through
 * which Tracr's MLPs read their biases. The mapping keeps what has a place in that form:
 *   residual width D + 1; the last direction is "one"
 *   token_embed[v]  = word[v] * g_e + b_e, and 1 in "one"     (embeddings LN: gain, bias)
 *   pos_embed[p]    = pos[p] * g_e                              (p = 0..N)
 *   Q, K, V         = W^T [D, D] per head's columns, bias in the row of "one"
 *   O               = Wo^T * diag(g_1)       (the LN after attention: its gain only)
 *   W1              = Wi^T, bias in the row of "one"             (GELU read as ReLU)
 *   W2              = W2^T * diag(g_2)       (the LN after the MLP: its gain only)
 *   unembed         = classifier^T, bias in the row of "one"
 * What is lost: the normalisation itself (centring and 1/std per position), the biases of the
 * writers (attention output and MLP output dense) and the LayerNorm biases after layers,
 * GELU's negative lobe. The result's own forward pass is therefore not the encoder's; only
 * the encoder's forward pass (bert_equiv_forward) is used to verify a candidate program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert/bert.h"
#include "util/errmsg.h"

/* dst [D1, cols] (row-major): rows 0..D-1 = W^T for W [cols, D], row D ("one") = bias. */
static void put_reader(const double *W, const double *bias, int D, int cols, double *dst) {
    for (int c = 0; c < cols; c++) {
        for (int d = 0; d < D; d++) dst[(size_t)d * cols + c] = W[(size_t)c * D + d];
        dst[(size_t)D * cols + c] = bias ? bias[c] : 0.0;
    }
}

/* dst [rows, D1]: W^T * diag(gain) for W [D, rows]; the column of "one" stays 0. */
static void put_writer(const double *W, const double *gain, int D, int rows, double *dst) {
    int D1 = D + 1;
    for (int r = 0; r < rows; r++) {
        for (int d = 0; d < D; d++) dst[(size_t)r * D1 + d] = W[(size_t)d * rows + r] * gain[d];
        dst[(size_t)r * D1 + D] = 0.0;
    }
}

static void put_embeddings(const BertModel *b, CompiledModel *m) {
    int D = b->cfg.hidden, D1 = D + 1;
    for (int v = 0; v < b->cfg.vocab; v++) {
        for (int d = 0; d < D; d++)
            m->token_embed[(size_t)v * D1 + d] =
                b->w.word[(size_t)v * D + d] * b->w.eln_g[d] + b->w.eln_b[d];
        m->token_embed[(size_t)v * D1 + D] = 1.0;
    }
    for (int p = 0; p <= m->max_seq_len; p++)
        for (int d = 0; d < D1; d++)
            m->pos_embed[(size_t)p * D1 + d] =
                d < D ? b->w.pos[(size_t)p * D + d] * b->w.eln_g[d] : 0;
}

static void set_config(const BertModel *b, CompiledModel *m) {
    m->num_layers = b->cfg.layers;
    m->num_heads = b->cfg.heads;
    m->key_size = b->cfg.hidden / b->cfg.heads;
    m->mlp_hidden_size = b->cfg.intermediate;
    m->residual_dim = b->cfg.hidden + 1;
    m->max_seq_len = b->voc.max_seq_len;
    m->causal = b->cfg.causal;
    m->mlp_exactness = 100;
    m->exact = false;
    m->vocab_size = b->cfg.vocab;
    m->n_out = b->cfg.classes;
    m->output_numerical = 0;
}

static void set_labels(const BertModel *b, CompiledModel *m) {
    Arena *a = &m->arena;
    m->tokens = arena_alloc(a, sizeof(Value) * (size_t)m->vocab_size);
    m->out_values = arena_alloc(a, sizeof(Value) * (size_t)m->n_out);
    m->residual_labels = arena_alloc(a, sizeof(char *) * (size_t)m->residual_dim);
    if (!m->tokens || !m->out_values || !m->residual_labels) abort();
    memcpy(m->tokens, b->voc.tokens, sizeof(Value) * (size_t)m->vocab_size);
    memcpy(m->out_values, b->voc.outputs, sizeof(Value) * (size_t)m->n_out);
    m->bos_id = b->voc.bos_id;
    m->pad_id = b->voc.pad_id;
    for (int d = 0; d < m->residual_dim; d++) {
        char s[32];
        snprintf(s, sizeof s, d + 1 < m->residual_dim ? "bert:%d" : "one", d);
        m->residual_labels[d] = arena_strdup(a, s);
    }
    m->output_name = arena_strdup(a, "classifier");
    m->source = arena_strdup(a, "");
    m->transform = arena_strdup(a, "bert-adapter");
    m->info = NULL;
    m->warnings = NULL;
    m->n_warnings = 0;
}

int bert_to_compiled(const BertModel *b, CompiledModel **out, char *err, size_t errcap) {
    *out = NULL;
    if (b->voc.max_seq_len < 1 || b->voc.max_seq_len + 1 > b->cfg.positions)
        return err_printf(err, errcap, "max_seq_len %d does not fit %d positions",
                          b->voc.max_seq_len, b->cfg.positions);
    CompiledModel *m = calloc(1, sizeof *m);
    if (!m) abort();
    arena_init(&m->arena);
    set_config(b, m);
    set_labels(b, m);
    model_alloc_weights(m);
    if (!m->layers || !m->token_embed) abort();
    put_embeddings(b, m);
    int D = b->cfg.hidden, I = b->cfg.intermediate;
    for (int l = 0; l < b->cfg.layers; l++) {
        const BertLayerW *w = &b->w.layers[l];
        ModelLayer *y = &m->layers[l];
        put_reader(w->wq, w->bq, D, D, y->q);
        put_reader(w->wk, w->bk, D, D, y->k);
        put_reader(w->wv, w->bv, D, D, y->v);
        put_writer(w->wo, w->ln1_g, D, D, y->o);
        put_reader(w->wi, w->bi, D, I, y->w1);
        put_writer(w->w2, w->ln2_g, D, I, y->w2);
    }
    put_reader(b->w.cls_w, b->w.cls_b, D, b->cfg.classes, m->unembed);
    *out = m;
    return 0;
}

int bert_equiv_forward(void *ctx, const int *ids, int B, int T, double *out, char *err,
                       size_t errcap) {
    const BertModel *m = ctx;
    int *len = malloc(sizeof(int) * (size_t)B);
    if (!len) abort();
    for (int b = 0; b < B; b++) len[b] = T; /* equiv batches hold inputs of one length */
    BertBatch bt = {ids, NULL, len, B, T};
    int rc = bert_forward(m, &bt, out, err, errcap);
    free(len);
    return rc;
}
