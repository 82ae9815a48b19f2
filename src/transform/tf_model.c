/* A deep copy of a compiled model. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transform/tf_internal.h"

static const char **dup_strs(Arena *a, const char *const *s, int n) {
    const char **d = arena_alloc(a, sizeof(char *) * (size_t)(n + 1));
    for (int i = 0; i < n; i++) d[i] = arena_strdup(a, s[i] ? s[i] : "");
    return d;
}

CompiledModel *tf_model_clone(const CompiledModel *m) {
    CompiledModel *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    *c = *m; /* config, ids, counts; every pointer and the arena are replaced below */
    arena_init(&c->arena);
    Arena *a = &c->arena;
    c->tokens = arena_alloc(a, sizeof(Value) *
                                   (size_t)m->vocab_size); /* Values are interned: copies share */
    memcpy(c->tokens, m->tokens, sizeof(Value) * (size_t)m->vocab_size);
    c->residual_labels = dup_strs(a, m->residual_labels, m->residual_dim);
    c->output_name = arena_strdup(a, m->output_name ? m->output_name : "");
    c->out_values = arena_alloc(a, sizeof(Value) * (size_t)m->n_out);
    memcpy(c->out_values, m->out_values, sizeof(Value) * (size_t)m->n_out);
    c->source = arena_strdup(a, m->source ? m->source : "");
    c->transform = arena_strdup(a, m->transform ? m->transform : "");
    c->warnings = dup_strs(a, m->warnings, m->n_warnings);
    c->info = NULL;
    if (m->info) {
        c->info = arena_alloc(a, sizeof(ModelLayerInfo) * (size_t)m->num_layers);
        for (int l = 0; l < m->num_layers; l++) {
            const ModelLayerInfo *s = &m->info[l];
            ModelLayerInfo *d = &c->info[l];
            *d = *s;
            d->head_nodes = dup_strs(a, s->head_nodes, s->n_heads);
            d->mlp_nodes = dup_strs(a, s->mlp_nodes, s->n_mlp_nodes);
            d->hidden_labels = dup_strs(a, s->hidden_labels, s->mlp_hidden);
        }
    }
    model_alloc_weights(c);
    /* both models hold their weights as one block in the same order (model_alloc_weights) */
    size_t n = (size_t)(c->unembed - c->token_embed) + (size_t)c->residual_dim * (size_t)c->n_out;
    memcpy(c->token_embed, m->token_embed, sizeof(double) * n);
    return c;
}

void tf_relabel_residual(CompiledModel *m, const char *prefix) {
    const char **lab = arena_alloc(&m->arena, sizeof(char *) * (size_t)(m->residual_dim + 1));
    char buf[64];
    for (int i = 0; i < m->residual_dim; i++) {
        snprintf(buf, sizeof buf, "%s:%d", prefix, i);
        lab[i] = arena_strdup(&m->arena, buf);
    }
    m->residual_labels = lab;
}

void tf_note(CompiledModel *m, const char *name, uint64_t seed) {
    const char *old = m->transform ? m->transform : "";
    size_t n = strlen(old) + strlen(name) + 40;
    char *s = arena_alloc(&m->arena, n);
    snprintf(s, n, "%s%s%s(seed=%llu)", old, old[0] ? " " : "", name, (unsigned long long)seed);
    m->transform = s;
}

void tf_mm(double *C, const double *A, const double *B, int m, int k, int n, bool ta, bool tb,
           double beta) {
    if (m == 0 || n == 0) return;
    if (k == 0) { /* BLAS leaves C untouched then; beta still applies */
        for (size_t i = 0; i < (size_t)m * n; i++) C[i] = beta == 0 ? 0 : C[i] * beta;
        return;
    }
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, 1, A, ta ? m : k, B, tb ? k : n, beta, C, n);
}
