/* The weight half of lift's proof: the recompiled model equals the input model once its
 * residual directions are mapped onto the input's through the lifted SOps (label "s:v" ->
 * the direction the lift read value v of SOp s from), with the heads of a layer and the
 * hidden units of an MLP matched as multisets (their order follows labels). A direct
 * comparison, so symmetric directions that a label-free hash cannot tell apart are still
 * checked one by one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lift/lift_internal.h"

static bool same(double a, double b) { return fabs(a - b) <= 1e-5 * (1 + fabs(a) + fabs(b)); }

/* label the compiler gives direction d of the input model, from the lifted SOps */
static char *orig_label(const Lift *x, int d, const char *const *names) {
    char buf[512], v[256];
    const CompiledModel *m = x->m;
    if (d == x->one) return strdup("one");
    if (d == x->bos || d == x->pad) {
        val_str_fmt(m->tokens[d == x->bos ? m->bos_id : m->pad_id], v, sizeof v);
        snprintf(buf, sizeof buf, "tokens:%s", v);
        return strdup(buf);
    }
    for (int i = 0; i < x->n; i++) {
        const LSop *s = &x->s[i];
        if (s->kind == LS_SW && s->sw_dim == d) {
            snprintf(buf, sizeof buf, "%s_selector_width_attn_output", names[i]);
            return strdup(buf);
        }
        for (int k = 0; k < s->n; k++)
            if (s->dims[k] == d) {
                if (s->numerical) return strdup(names[i]);
                val_str_fmt(s->vals[k], v, sizeof v);
                snprintf(buf, sizeof buf, "%s:%s", names[i], v);
                return strdup(buf);
            }
    }
    return NULL;
}

/* per-head bilinear forms [D*D] in the input's coordinates */
static void head_forms(const CompiledModel *m, int l, int h, const int *map, int D0, double *qk,
                       double *ov) {
    const ModelLayer *L = &m->layers[l];
    int D = m->residual_dim, ks = m->key_size, HK = m->num_heads * ks;
    memset(qk, 0, sizeof(double) * (size_t)D0 * D0);
    memset(ov, 0, sizeof(double) * (size_t)D0 * D0);
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double s = 0, t = 0;
            for (int c = h * ks; c < (h + 1) * ks; c++) {
                s += L->q[(size_t)a * HK + c] * L->k[(size_t)b * HK + c];
                t += L->v[(size_t)a * HK + c] * L->o[(size_t)c * D + b];
            }
            int A = map ? map[a] : a, B = map ? map[b] : b;
            if (s != 0) qk[(size_t)A * D0 + B] += s;
            if (t != 0) ov[(size_t)A * D0 + B] += t;
        }
}

static bool vec_same(const double *a, const double *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!same(a[i], b[i])) return false;
    return true;
}

static bool all_zero(const double *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i]) > 1e-9) return false;
    return true;
}

int lift_same_weights(const Lift *x, const CompiledModel *re, char *why, size_t cap) {
    const CompiledModel *m = x->m;
    int D = m->residual_dim, rc = 0;
    if (re->residual_dim != D || re->num_layers != m->num_layers ||
        re->vocab_size != m->vocab_size || re->max_seq_len != m->max_seq_len ||
        re->n_out != m->n_out) {
        snprintf(why, cap,
                 "the recompiled model's shape differs (residual %d vs %d, layers %d vs %d)",
                 re->residual_dim, D, re->num_layers, m->num_layers);
        return 0;
    }
    const char **names = calloc((size_t)x->n, sizeof(char *));
    char **ol = calloc((size_t)D, sizeof(char *));
    int *map = malloc(sizeof(int) * (size_t)D);
    char lb[64];
    for (int i = 0; i < x->n; i++) {
        const LSop *s = &x->s[i];
        static const char *k[] = {
            "tokens",    "indices",       "map", "sequence_map", "linear_sequence_map",
            "aggregate", "selector_width"};
        if (s->kind == LS_TOKENS || s->kind == LS_INDICES) names[i] = strdup(k[s->kind]);
        else if (i == x->output) names[i] = strdup(x->out_name);
        else {
            snprintf(lb, sizeof lb, "%s_%d", k[s->kind], i);
            names[i] = strdup(lb);
        }
    }
    for (int d = 0; d < D; d++) ol[d] = orig_label(x, d, names);
    for (int r = 0; r < D; r++) {
        map[r] = -1;
        for (int d = 0; d < D && map[r] < 0; d++)
            if (ol[d] && strcmp(ol[d], re->residual_labels[r]) == 0) map[r] = d;
        if (map[r] < 0) {
            snprintf(why, cap, "recompiled direction %s has no counterpart",
                     re->residual_labels[r]);
            goto out;
        }
    }
    /* embeddings and unembedding (token ids and output columns are in the same order) */
    for (int t = 0; t < m->vocab_size; t++)
        for (int r = 0; r < D; r++)
            if (!same(re->token_embed[(size_t)t * D + r], m->token_embed[(size_t)t * D + map[r]])) {
                snprintf(why, cap, "token embedding differs");
                goto out;
            }
    for (int p = 0; p <= m->max_seq_len; p++)
        for (int r = 0; r < D; r++)
            if (!same(re->pos_embed[(size_t)p * D + r], m->pos_embed[(size_t)p * D + map[r]])) {
                snprintf(why, cap, "position embedding differs");
                goto out;
            }
    for (int r = 0; r < D; r++)
        for (int j = 0; j < m->n_out; j++)
            if (!same(re->unembed[(size_t)r * m->n_out + j],
                      m->unembed[(size_t)map[r] * m->n_out + j])) {
                snprintf(why, cap, "unembedding differs");
                goto out;
            }
    size_t DD = (size_t)D * D;
    int H0 = m->num_heads, H1 = re->num_heads;
    double *f0 = malloc(sizeof(double) * DD * 2 * (size_t)H0),
           *f1 = malloc(sizeof(double) * DD * 2 * (size_t)H1);
    int M0 = m->mlp_hidden_size, M1 = re->mlp_hidden_size;
    double *u0 = malloc(sizeof(double) * (size_t)2 * D * M0),
           *u1 = malloc(sizeof(double) * (size_t)2 * D * M1);
    char *used = malloc((size_t)(H0 > M0 ? H0 : M0) + 1);
    for (int l = 0; l < m->num_layers && !why[0]; l++) {
        for (int h = 0; h < H0; h++)
            head_forms(m, l, h, NULL, D, f0 + DD * 2 * h, f0 + DD * (2 * h + 1));
        for (int h = 0; h < H1; h++)
            head_forms(re, l, h, map, D, f1 + DD * 2 * h, f1 + DD * (2 * h + 1));
        memset(used, 0, (size_t)H0 + 1);
        for (int h = 0; h < H1 && !why[0]; h++) {
            if (all_zero(f1 + DD * 2 * h, 2 * DD)) continue;
            int hit = -1;
            for (int g = 0; g < H0 && hit < 0; g++)
                if (!used[g] && vec_same(f1 + DD * 2 * h, f0 + DD * 2 * g, 2 * DD)) hit = g;
            if (hit < 0)
                snprintf(why, cap, "layer %d: recompiled head %d has no equal head in the model", l,
                         h);
            else used[hit] = 1;
        }
        for (int g = 0; g < H0 && !why[0]; g++)
            if (!used[g] && !all_zero(f0 + DD * 2 * g, 2 * DD))
                snprintf(why, cap,
                         "layer %d: head %d of the model is missing from the recompiled one", l, g);
        /* hidden units as (W1 column, W2 row) in the model's coordinates */
        const ModelLayer *A = &m->layers[l], *B = &re->layers[l];
        for (int j = 0; j < M0; j++)
            for (int d = 0; d < D; d++) {
                u0[(size_t)j * 2 * D + d] = A->w1[(size_t)d * M0 + j];
                u0[(size_t)j * 2 * D + D + d] = A->w2[(size_t)j * D + d];
            }
        memset(u1, 0, sizeof(double) * (size_t)2 * D * M1);
        for (int j = 0; j < M1; j++)
            for (int r = 0; r < D; r++) {
                u1[(size_t)j * 2 * D + map[r]] = B->w1[(size_t)r * M1 + j];
                u1[(size_t)j * 2 * D + D + map[r]] = B->w2[(size_t)j * D + r];
            }
        memset(used, 0, (size_t)M0 + 1);
        for (int j = 0; j < M1 && !why[0]; j++) {
            if (all_zero(u1 + (size_t)j * 2 * D, 2 * (size_t)D)) continue;
            int hit = -1;
            for (int g = 0; g < M0 && hit < 0; g++)
                if (!used[g] &&
                    vec_same(u1 + (size_t)j * 2 * D, u0 + (size_t)g * 2 * D, 2 * (size_t)D))
                    hit = g;
            if (hit < 0)
                snprintf(why, cap,
                         "layer %d: recompiled MLP unit %d has no equal unit in the model", l, j);
            else used[hit] = 1;
        }
        for (int g = 0; g < M0 && !why[0]; g++)
            if (!used[g] && !all_zero(u0 + (size_t)g * 2 * D, 2 * (size_t)D))
                snprintf(why, cap,
                         "layer %d: MLP unit %d of the model is missing from the recompiled one", l,
                         g);
    }
    free(f0), free(f1), free(u0), free(u1), free(used);
    rc = !why[0];
out:
    for (int i = 0; i < x->n; i++) free((char *)names[i]);
    for (int d = 0; d < D; d++) free(ol[d]);
    free(names), free(ol), free(map);
    return rc;
}
