/* Growing a meta-model in depth (meta.h, "growing in depth").
 *
 * Why: the meta-model is underfit (training and test scores agree), and a deeper model
 * trained from scratch would spend hours relearning what the shallow one knows. A pre-LN
 * block whose two output projections are zero adds nothing to the residual stream, so a
 * deeper model made of the shallow one's blocks plus such blocks computes exactly the same
 * function, and training continues from there with the extra depth to use. The same
 * copying widens the output vocabulary, so that a model of the fixed setting can be taught
 * the general one's table tokens without forgetting its own. */
#include "meta/meta.h"

#include <stdio.h>
#include <string.h>

/* Where block i of l old blocks goes among L >= l new ones: spread evenly, first to first
 * and last to last, so that new blocks sit between old ones. */
int meta_grow_place(int i, int l, int L) {
    if (l <= 1) return 0;
    return (i * (L - 1) + (l - 1) / 2) / (l - 1);
}

/* b may be a's config with more layers and a larger output vocabulary, nothing else. */
static int same_but_depth(const MetaConfig *a, const MetaConfig *b) {
    if (a->d_model != b->d_model || a->n_head != b->n_head || a->mlp_ratio != b->mlp_ratio ||
        a->payload_dim != b->payload_dim || a->n_id_fields != b->n_id_fields ||
        a->vocab > b->vocab || a->max_prefix != b->max_prefix || a->max_prog != b->max_prog)
        return 0;
    for (int k = 0; k < a->n_id_fields; k++)
        if (a->id_vocab[k] != b->id_vocab[k]) return 0;
    return 1;
}

/* Tensors with one row per output token: a larger vocabulary adds rows at their end. */
static int per_token(const char *name) {
    return strcmp(name, "embed.token") == 0 || strcmp(name, "head.w") == 0;
}

/* Copies tensor `from` of src into tensor `to` of dst (same shape, or for a per-token tensor
 * src's rows as dst's first rows), with the AdamW moments when keep_adam. Returns 0, or -1
 * when either is missing or the shapes differ. */
static int copy_tensor(MetaModel *dst, const MetaModel *src, const char *from, const char *to,
                       int keep_adam) {
    const MetaTensorInfo *s = meta_layout_find(&src->lay, from);
    const MetaTensorInfo *d = meta_layout_find(&dst->lay, to);
    if (!s || !d || (s->numel != d->numel && !(per_token(to) && s->numel < d->numel)))
        return -1;
    memcpy(dst->params + d->offset, src->params + s->offset, sizeof(float) * s->numel);
    if (keep_adam) {
        memcpy(dst->adam_m + d->offset, src->adam_m + s->offset, sizeof(float) * s->numel);
        memcpy(dst->adam_v + d->offset, src->adam_v + s->offset, sizeof(float) * s->numel);
    }
    return 0;
}

static void zero_tensor(MetaModel *dst, const char *name) {
    const MetaTensorInfo *d = meta_layout_find(&dst->lay, name);
    if (d) memset(dst->params + d->offset, 0, sizeof(float) * d->numel);
}

int meta_model_grow(MetaModel *dst, const MetaModel *src, int keep_adam, char *err, size_t errcap) {
    int l = src->cfg.n_layer, L = dst->cfg.n_layer;
    if (!same_but_depth(&src->cfg, &dst->cfg)) {
        snprintf(err, errcap,
                 "growing a meta-model: only the depth and the output vocabulary may grow "
                 "(d_model %d, heads %d, MLP ratio %d, vocabulary %d, max_prefix %d against the "
                 "old model's %d, %d, %d, %d, %d)",
                 dst->cfg.d_model, dst->cfg.n_head, dst->cfg.mlp_ratio, dst->cfg.vocab,
                 dst->cfg.max_prefix, src->cfg.d_model, src->cfg.n_head, src->cfg.mlp_ratio,
                 src->cfg.vocab, src->cfg.max_prefix);
        return -1;
    }
    if (L < l) {
        snprintf(err, errcap,
                 "growing a meta-model: the new model has %d layers; it needs at least its %d", L,
                 l);
        return -1;
    }
    size_t np = dst->lay.n_params;
    memset(dst->adam_m, 0, sizeof(float) * np);
    memset(dst->adam_v, 0, sizeof(float) * np);
    char from[META_NAME_MAX + 16], to[META_NAME_MAX + 16];
    /* every block of the new model starts as identity; old blocks then overwrite theirs */
    static const char *outputs[] = {"attn.proj.w", "attn.proj.b", "mlp.proj.w", "mlp.proj.b"};
    for (int j = 0; j < L; j++)
        for (int k = 0; k < 4; k++) {
            snprintf(to, sizeof to, "block%d.%s", j, outputs[k]);
            zero_tensor(dst, to);
        }
    for (int t = 0; t < src->lay.n_tensors; t++) {
        const char *name = src->lay.tensors[t].name;
        int i = -1, n = 0;
        if (sscanf(name, "block%d.%n", &i, &n) == 1 && n > 0) {
            snprintf(to, sizeof to, "block%d.%s", meta_grow_place(i, l, L), name + n);
            snprintf(from, sizeof from, "%s", name);
        } else {
            snprintf(from, sizeof from, "%s", name);
            snprintf(to, sizeof to, "%s", name);
        }
        if (copy_tensor(dst, src, from, to, keep_adam) != 0) {
            snprintf(err, errcap, "growing a meta-model: tensor %s has no counterpart", name);
            return -1;
        }
    }
    dst->step = keep_adam ? src->step : 0;
    return 0;
}
