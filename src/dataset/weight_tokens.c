/* Weight tokens of a compiled model (see weight_tokens.h and docs/dataset.md). */
#include "dataset/weight_tokens.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/wt_hash.h"

void wt_options_default(WtOptions *o) {
    o->scheme = WT_SCHEME_CHUNKS;
    o->norm = WT_NORM_ASINH;
}

static const char *const SCHEME_NAMES[WT_SCHEME_COUNT] = {"chunks", "residual"};
static const char *const NORM_NAMES[WT_NORM_COUNT] = {"asinh", "none"};
static const char *const KIND_NAMES[WT_KIND_COUNT] = {
    "pad", "config", "token_value", "out_value", "token_embed", "pos_embed", "q",
    "k",   "v",      "o",           "w1",        "w2",          "unembed"};

const char *wt_scheme_name(WtScheme s) {
    return (unsigned)s < WT_SCHEME_COUNT ? SCHEME_NAMES[s] : "?";
}
const char *wt_norm_name(WtNorm n) { return (unsigned)n < WT_NORM_COUNT ? NORM_NAMES[n] : "?"; }
const char *wt_kind_name(int kind) {
    return kind >= 0 && kind < WT_KIND_COUNT ? KIND_NAMES[kind] : NULL;
}

int wt_scheme_parse(const char *s, WtScheme *out) {
    for (int i = 0; i < WT_SCHEME_COUNT; i++)
        if (strcmp(s, SCHEME_NAMES[i]) == 0) {
            *out = (WtScheme)i;
            return 0;
        }
    return -1;
}

int wt_norm_parse(const char *s, WtNorm *out) {
    for (int i = 0; i < WT_NORM_COUNT; i++)
        if (strcmp(s, NORM_NAMES[i]) == 0) {
            *out = (WtNorm)i;
            return 0;
        }
    return -1;
}

void wt_id_vocab(int vocab[WT_N_IDS]) {
    vocab[WT_ID_KIND] = WT_KIND_VOCAB;
    vocab[WT_ID_LAYER] = WT_LAYER_VOCAB;
    vocab[WT_ID_POS] = WT_POS_VOCAB;
    vocab[WT_ID_SUB] = WT_SUB_VOCAB;
}

void wt_tokens_init(WtTokens *t) { memset(t, 0, sizeof *t); }

void wt_tokens_free(WtTokens *t) {
    free(t->payload);
    free(t->ids);
    wt_tokens_init(t);
}

/* ---- building ------------------------------------------------------------------------ */

typedef struct Enc {
    WtTokens *t;
    WtNorm norm;
    char *err;
    size_t errcap;
    int failed;
} Enc;

static float *enc_push(Enc *e, int kind, int layer, int pos, int sub) {
    WtTokens *t = e->t;
    if (e->failed) return NULL;
    if (t->n >= WT_MAX_TOKENS) {
        snprintf(e->err, e->errcap, "more than %d weight tokens", WT_MAX_TOKENS);
        e->failed = 1;
        return NULL;
    }
    if (pos >= WT_POS_VOCAB || sub >= WT_SUB_VOCAB || layer >= WT_LAYER_VOCAB) {
        snprintf(e->err, e->errcap, "weight token id out of range (%s: layer %d, pos %d, chunk %d)",
                 wt_kind_name(kind), layer, pos, sub);
        e->failed = 1;
        return NULL;
    }
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 256;
        float *p = realloc(t->payload, sizeof(float) * (size_t)cap * WT_WIDTH);
        if (p) t->payload = p;
        int16_t *q = realloc(t->ids, sizeof(int16_t) * (size_t)cap * WT_N_IDS);
        if (q) t->ids = q;
        if (!p || !q) {
            snprintf(e->err, e->errcap, "out of memory");
            e->failed = 1;
            return NULL;
        }
        t->cap = cap;
    }
    int16_t *id = t->ids + (size_t)t->n * WT_N_IDS;
    id[WT_ID_KIND] = (int16_t)kind;
    id[WT_ID_LAYER] = (int16_t)layer;
    id[WT_ID_POS] = (int16_t)pos;
    id[WT_ID_SUB] = (int16_t)sub;
    float *pl = t->payload + (size_t)t->n * WT_WIDTH;
    memset(pl, 0, sizeof(float) * WT_WIDTH);
    t->n++;
    return pl;
}

/* asinh(+-0) = +-0: zeros (most entries of a kept chunk) skip the libm call. */
static float norm_value(WtNorm n, double w) {
    return (float)(n == WT_NORM_ASINH && w != 0.0 ? asinh(w) : w);
}

/* Pushes the vector x[i * stride], i < len, as chunks of WT_WIDTH (sub = chunk index),
 * dropping all-zero chunks. */
static void enc_vector(Enc *e, int kind, int layer, int pos, const double *x, size_t stride,
                       int len) {
    int n_chunks = (len + WT_WIDTH - 1) / WT_WIDTH;
    if (n_chunks > WT_SUB_VOCAB && !e->failed) {
        snprintf(e->err, e->errcap, "%s row of width %d needs more than %d chunks",
                 wt_kind_name(kind), len, WT_SUB_VOCAB);
        e->failed = 1;
    }
    for (int c = 0; c < n_chunks && !e->failed; c++) {
        int lo = c * WT_WIDTH, hi = lo + WT_WIDTH < len ? lo + WT_WIDTH : len;
        int nz = 0;
        for (int i = lo; i < hi && !nz; i++) nz = x[(size_t)i * stride] != 0.0;
        if (!nz) continue;
        float *pl = enc_push(e, kind, layer, pos, c);
        if (!pl) return;
        for (int i = lo; i < hi; i++) pl[i - lo] = norm_value(e->norm, x[(size_t)i * stride]);
    }
}

/* Value token payload: [0] the number (0 when not a number), [1] asinh of it, [2..7] kind
 * flags none/bool/int/float/str/tuple, [8] BOS, [9] PAD, [10] numerical output column,
 * [11..26] +-1 from a hash of the value for strings and tuples (distinguishes them without
 * a text vocabulary). */
static void enc_value(Enc *e, int kind, int pos, Value v, int is_bos, int is_pad, int numerical) {
    float *pl = enc_push(e, kind, 0, pos, 0);
    if (!pl) return;
    if (val_is_number(v) && !is_bos && !is_pad) {
        double x = val_as_double(v);
        pl[0] = (float)x;
        pl[1] = (float)asinh(x);
    }
    int flag = 2;
    switch (v.kind) {
    case VAL_NONE: flag = 2; break;
    case VAL_BOOL: flag = 3; break;
    case VAL_INT: flag = 4; break;
    case VAL_FLOAT: flag = 5; break;
    case VAL_STR: flag = 6; break;
    case VAL_TUPLE: flag = 7; break;
    }
    if (!is_bos && !is_pad) pl[flag] = 1;
    pl[8] = (float)is_bos;
    pl[9] = (float)is_pad;
    pl[10] = (float)numerical;
    if ((v.kind == VAL_STR || v.kind == VAL_TUPLE) && !is_bos && !is_pad) {
        uint64_t h = wt_mix64(val_hash(v));
        for (int i = 0; i < 16; i++) pl[11 + i] = (h >> i) & 1 ? 1.0f : -1.0f;
    }
}

static void enc_header(Enc *e, const CompiledModel *m) {
    float *pl = enc_push(e, WT_KIND_CONFIG, 0, 0, 0);
    if (!pl) return;
    const int cfg[] = {m->num_layers,       m->num_heads,   m->key_size,   m->mlp_hidden_size,
                       m->residual_dim,     m->max_seq_len, m->vocab_size, m->n_out,
                       m->output_numerical, m->causal};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) pl[i] = (float)asinh((double)cfg[i]);
    for (int r = 0; r < m->vocab_size; r++)
        enc_value(e, WT_KIND_TOKEN_VALUE, r, m->tokens[r], r == m->bos_id, r == m->pad_id, 0);
    for (int c = 0; c < m->n_out; c++)
        enc_value(e, WT_KIND_OUT_VALUE, c, m->out_values[c], 0, 0, m->output_numerical);
}

/* Row-major matrix [rows, cols] as row chunks. */
static void enc_matrix(Enc *e, int kind, int layer, const double *a, int rows, int cols) {
    for (int r = 0; r < rows && !e->failed; r++)
        enc_vector(e, kind, layer, r, a + (size_t)r * cols, 1, cols);
}

static void enc_chunks(Enc *e, const CompiledModel *m) {
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    enc_matrix(e, WT_KIND_TOKEN_EMBED, 0, m->token_embed, m->vocab_size, D);
    enc_matrix(e, WT_KIND_POS_EMBED, 0, m->pos_embed, m->max_seq_len + 1, D);
    for (int l = 0; l < m->num_layers; l++) {
        const ModelLayer *L = &m->layers[l];
        enc_matrix(e, WT_KIND_Q, l + 1, L->q, D, HK);
        enc_matrix(e, WT_KIND_K, l + 1, L->k, D, HK);
        enc_matrix(e, WT_KIND_V, l + 1, L->v, D, HK);
        enc_matrix(e, WT_KIND_O, l + 1, L->o, HK, D);
        enc_matrix(e, WT_KIND_W1, l + 1, L->w1, D, M);
        enc_matrix(e, WT_KIND_W2, l + 1, L->w2, M, D);
    }
    enc_matrix(e, WT_KIND_UNEMBED, 0, m->unembed, D, m->n_out);
}

static int enc_residual(Enc *e, const CompiledModel *m) {
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    int *perm = malloc(sizeof(int) * (size_t)(D ? D : 1));
    if (!perm || wt_residual_order(m, perm, NULL)) {
        free(perm);
        snprintf(e->err, e->errcap, "out of memory");
        return 1;
    }
    for (int i = 0; i < D && !e->failed; i++) {
        int d = perm[i];
        enc_vector(e, WT_KIND_TOKEN_EMBED, 0, i, m->token_embed + d, (size_t)D, m->vocab_size);
        enc_vector(e, WT_KIND_POS_EMBED, 0, i, m->pos_embed + d, (size_t)D, m->max_seq_len + 1);
        for (int l = 0; l < m->num_layers; l++) {
            const ModelLayer *L = &m->layers[l];
            enc_vector(e, WT_KIND_Q, l + 1, i, L->q + (size_t)d * HK, 1, HK);
            enc_vector(e, WT_KIND_K, l + 1, i, L->k + (size_t)d * HK, 1, HK);
            enc_vector(e, WT_KIND_V, l + 1, i, L->v + (size_t)d * HK, 1, HK);
            enc_vector(e, WT_KIND_O, l + 1, i, L->o + d, (size_t)D, HK);
            enc_vector(e, WT_KIND_W1, l + 1, i, L->w1 + (size_t)d * M, 1, M);
            enc_vector(e, WT_KIND_W2, l + 1, i, L->w2 + d, (size_t)D, M);
        }
        enc_vector(e, WT_KIND_UNEMBED, 0, i, m->unembed + (size_t)d * m->n_out, 1, m->n_out);
    }
    free(perm);
    return 0;
}

int wt_encode(const CompiledModel *m, const WtOptions *o, WtTokens *t, char *err, size_t errcap) {
    t->n = 0;
    if (m->num_layers >= WT_LAYER_VOCAB) {
        snprintf(err, errcap, "%d layers: weight tokens allow at most %d", m->num_layers,
                 WT_LAYER_VOCAB - 1);
        return 1;
    }
    Enc e = {.t = t, .norm = o->norm, .err = err, .errcap = errcap, .failed = 0};
    enc_header(&e, m);
    if (o->scheme == WT_SCHEME_RESIDUAL) {
        if (enc_residual(&e, m)) return 1;
    } else if (o->scheme == WT_SCHEME_CHUNKS) {
        enc_chunks(&e, m);
    } else {
        snprintf(err, errcap, "unknown weight-token scheme %d", (int)o->scheme);
        return 1;
    }
    return e.failed;
}

/* ---- canonical residual order -------------------------------------------------------- */

typedef struct SigIdx {
    uint64_t sig;
    int d;
} SigIdx;

static int cmp_sig(const void *a, const void *b) {
    const SigIdx *x = a, *y = b;
    if (x->sig != y->sig) return x->sig < y->sig ? -1 : 1;
    return (x->d > y->d) - (x->d < y->d);
}

/* Multiset (positional = 0) or indexed (positional = 1) hash of x[i * stride], i < len. */
static uint64_t vec_sig(const double *x, size_t stride, int len, int positional) {
    uint64_t s = 0;
    for (int i = 0; i < len; i++) {
        double v = x[(size_t)i * stride];
        if (v == 0.0) continue;
        uint64_t q = (uint64_t)wt_quantize(v);
        s += wt_mix64(q ^ (positional ? wt_mix64((uint64_t)i + 0x51ed27) : 0));
    }
    return s;
}

/* Does direction d have a nonzero weight in sublayer sub (2l: layer l's attention, 2l+1:
 * its MLP)? */
static bool touched(const CompiledModel *m, int sub, int d) {
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    const ModelLayer *L = &m->layers[sub / 2];
    if (sub % 2 == 0) {
        for (int j = 0; j < HK; j++)
            if (L->q[(size_t)d * HK + j] != 0 || L->k[(size_t)d * HK + j] != 0 ||
                L->v[(size_t)d * HK + j] != 0 || L->o[(size_t)j * D + d] != 0)
                return true;
        return false;
    }
    for (int j = 0; j < M; j++)
        if (L->w1[(size_t)d * M + j] != 0 || L->w2[(size_t)j * D + d] != 0) return true;
    return false;
}

int wt_prefix_order(const CompiledModel *m, int n_sub, int *perm, int *nd) {
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    if (n_sub > 2 * m->num_layers) n_sub = 2 * m->num_layers;
    SigIdx *si = malloc(sizeof(SigIdx) * (size_t)(D ? D : 1));
    if (!si) return -1;
    int n = 0;
    for (int d = 0; d < D; d++) {
        bool live = false;
        for (int s = 0; s < n_sub && !live; s++) live = touched(m, s, d);
        if (!live) continue;
        uint64_t h = 0x7654321;
        h = wt_combine(h, vec_sig(m->token_embed + d, (size_t)D, m->vocab_size, 1));
        h = wt_combine(h, vec_sig(m->pos_embed + d, (size_t)D, m->max_seq_len + 1, 1));
        for (int s = 0; s < n_sub; s++) {
            const ModelLayer *L = &m->layers[s / 2];
            if (s % 2 == 0) {
                h = wt_combine(h, vec_sig(L->q + (size_t)d * HK, 1, HK, 0));
                h = wt_combine(h, vec_sig(L->k + (size_t)d * HK, 1, HK, 0));
                h = wt_combine(h, vec_sig(L->v + (size_t)d * HK, 1, HK, 0));
                h = wt_combine(h, vec_sig(L->o + d, (size_t)D, HK, 0));
            } else {
                h = wt_combine(h, vec_sig(L->w1 + (size_t)d * M, 1, M, 0));
                h = wt_combine(h, vec_sig(L->w2 + d, (size_t)D, M, 0));
            }
        }
        si[n].sig = h;
        si[n].d = d;
        n++;
    }
    qsort(si, (size_t)n, sizeof *si, cmp_sig);
    for (int i = 0; i < n; i++) perm[i] = si[i].d;
    *nd = n;
    free(si);
    return 0;
}

int wt_residual_order(const CompiledModel *m, int *perm, int *rank) {
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    SigIdx *si = malloc(sizeof(SigIdx) * (size_t)(D ? D : 1));
    if (!si) return -1;
    for (int d = 0; d < D; d++) {
        uint64_t h = 0x1234567;
        h = wt_combine(h, vec_sig(m->token_embed + d, (size_t)D, m->vocab_size, 1));
        h = wt_combine(h, vec_sig(m->pos_embed + d, (size_t)D, m->max_seq_len + 1, 1));
        for (int l = 0; l < m->num_layers; l++) {
            const ModelLayer *L = &m->layers[l];
            h = wt_combine(h, vec_sig(L->q + (size_t)d * HK, 1, HK, 0));
            h = wt_combine(h, vec_sig(L->k + (size_t)d * HK, 1, HK, 0));
            h = wt_combine(h, vec_sig(L->v + (size_t)d * HK, 1, HK, 0));
            h = wt_combine(h, vec_sig(L->o + d, (size_t)D, HK, 0));
            h = wt_combine(h, vec_sig(L->w1 + (size_t)d * M, 1, M, 0));
            h = wt_combine(h, vec_sig(L->w2 + d, (size_t)D, M, 0));
        }
        h = wt_combine(h, vec_sig(m->unembed + (size_t)d * m->n_out, 1, m->n_out, 1));
        si[d].sig = h;
        si[d].d = d;
    }
    qsort(si, (size_t)D, sizeof *si, cmp_sig);
    for (int i = 0; i < D; i++) {
        perm[i] = si[i].d;
        if (rank) rank[si[i].d] = i;
    }
    free(si);
    return 0;
}
