/* Name-independent hash of a compiled model (see model_hash.h for what is hashed and why
 * two models in different classes collide only through an XXH3-128 collision). */
#include "dataset/model_hash.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "dataset/weight_tokens.h"
#include "dataset/wt_hash.h"

/* Seeds separate the roles, so that a head's encoding can never be read as a unit's or as
 * a multiset's even where the bytes agree. The version word in the header changes whenever
 * the encoding does. */
enum { SEED_HEAD = 1, SEED_UNIT = 2, SEED_HEADS = 3, SEED_UNITS = 4, SEED_MODEL = 5, SEED_PREFIX = 6 };
#define ENC_VERSION 2u

/* A growable byte string: the canonical encoding of one digest's input. */
typedef struct {
    unsigned char *p;
    size_t n, cap;
    int oom;
} Enc;

static void enc_bytes(Enc *e, const void *src, size_t n) {
    if (e->oom) return;
    if (e->n + n > e->cap) {
        size_t cap = e->cap ? e->cap : 4096;
        while (cap < e->n + n) cap *= 2;
        unsigned char *p = realloc(e->p, cap);
        if (!p) {
            e->oom = 1;
            return;
        }
        e->p = p;
        e->cap = cap;
    }
    memcpy(e->p + e->n, src, n);
    e->n += n;
}

/* Little-endian, so that a stored hash means the same on every host. */
static void enc_u64(Enc *e, uint64_t x) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(x >> (8 * i));
    enc_bytes(e, b, 8);
}

static void enc_i64(Enc *e, int64_t x) { enc_u64(e, (uint64_t)x); }

/* A value under Python equality, the equivalence val_hash and val_eq use: True, 1 and 1.0
 * encode alike (tag 1 and the integer); every encoding is self-delimiting (a tag, then a
 * fixed width or a length), so a list of values encodes injectively. */
static void enc_value(Enc *e, Value v) {
    switch (v.kind) {
    case VAL_NONE: enc_u64(e, 0); return;
    case VAL_BOOL: enc_u64(e, 1), enc_i64(e, v.u.b ? 1 : 0); return;
    case VAL_INT: enc_u64(e, 1), enc_i64(e, v.u.i); return;
    case VAL_FLOAT: {
        double f = v.u.f;
        if (f == floor(f) && f >= -9223372036854775808.0 && f < 9223372036854775808.0) {
            enc_u64(e, 1), enc_i64(e, (int64_t)f);
            return;
        }
        uint64_t bits;
        memcpy(&bits, &f, sizeof bits);
        enc_u64(e, 2), enc_u64(e, bits);
        return;
    }
    case VAL_STR: {
        size_t n = strlen(v.u.s);
        enc_u64(e, 3), enc_u64(e, n), enc_bytes(e, v.u.s, n);
        return;
    }
    case VAL_TUPLE:
        enc_u64(e, 4), enc_u64(e, v.u.t->n);
        for (size_t i = 0; i < v.u.t->n; i++) enc_value(e, v.u.t->items[i]);
        return;
    }
}

typedef struct {
    const CompiledModel *m;
    int nd;          /* directions in perm: residual_dim, or those a prefix touches */
    const int *perm; /* canonical index -> model's residual direction */
    int *nzy;        /* [D] scratch: canonical indices whose Y row is nonzero */
    Enc e;           /* scratch for one member's encoding */
    XXH128_hash_t *heads, *units;
} Ctx;

static XXH128_hash_t digest(const Enc *e, uint64_t seed) {
    return XXH3_128bits_withSeed(e->p, e->n, seed);
}

/* The nonzero quantized entries of X_h Y_h^T in canonical coordinates, as a count and then
 * (row, col, value) records in row-major canonical order: the sparse [D, D] matrix itself.
 * X, Y are [D, HK] row-major and the head owns columns c0 .. c0+ks-1 (Y has its own strides
 * so that it serves both K ([D, HK]) and O^T ([HK, D])). Returns the number of entries. */
static size_t enc_bilinear(Ctx *c, const double *x, size_t xr, size_t xc, const double *y,
                           size_t yr, size_t yc, int c0, int ks) {
    int D = c->nd, ny = 0;
    for (int k = 0; k < D; k++) {
        int b = c->perm[k], nz = 0;
        for (int j = 0; j < ks && !nz; j++) nz = y[(size_t)b * yr + (size_t)(c0 + j) * yc] != 0.0;
        if (nz) c->nzy[ny++] = k;
    }
    size_t at = c->e.n, n = 0;
    enc_u64(&c->e, 0); /* the count, patched below */
    for (int i = 0; i < D && ny; i++) {
        int a = c->perm[i], nz = 0;
        for (int j = 0; j < ks && !nz; j++) nz = x[(size_t)a * xr + (size_t)(c0 + j) * xc] != 0.0;
        if (!nz) continue;
        for (int t = 0; t < ny; t++) {
            int k = c->nzy[t], b = c->perm[k];
            double v = 0;
            for (int j = 0; j < ks; j++)
                v += x[(size_t)a * xr + (size_t)(c0 + j) * xc] *
                     y[(size_t)b * yr + (size_t)(c0 + j) * yc];
            int64_t q = wt_quantize(v);
            if (!q) continue;
            enc_u64(&c->e, (uint64_t)i), enc_u64(&c->e, (uint64_t)k), enc_i64(&c->e, q);
            n++;
        }
    }
    if (!c->e.oom)
        for (int i = 0; i < 8; i++) c->e.p[at + (size_t)i] = (unsigned char)(n >> (8 * i));
    return n;
}

static int cmp_digest(const void *pa, const void *pb) {
    const XXH128_hash_t *a = pa, *b = pb;
    if (a->high64 != b->high64) return a->high64 < b->high64 ? -1 : 1;
    return a->low64 < b->low64 ? -1 : a->low64 > b->low64;
}

/* A multiset of digests: sorted, then hashed as one array (count implied by the length). */
static XXH128_hash_t multiset(Enc *e, XXH128_hash_t *d, size_t n, uint64_t seed) {
    qsort(d, n, sizeof *d, cmp_digest);
    e->n = 0;
    for (size_t i = 0; i < n; i++) enc_u64(e, d[i].high64), enc_u64(e, d[i].low64);
    return digest(e, seed);
}

/* Layer l's heads as one multiset digest, appended to the model's encoding `top`. A head
 * with no nonzero entry is left out: it adds nothing to the computation. */
static void enc_heads(Ctx *c, Enc *top, int l) {
    const CompiledModel *m = c->m;
    const ModelLayer *L = &m->layers[l];
    int D = m->residual_dim, H = m->num_heads, ks = m->key_size, HK = H * ks;
    size_t nh = 0;
    for (int hd = 0; hd < H; hd++) {
        c->e.n = 0;
        size_t n = enc_bilinear(c, L->q, (size_t)HK, 1, L->k, (size_t)HK, 1, hd * ks, ks);
        /* V_h O_h: O is [HK, D], so O^T's row b is column b of O. */
        n += enc_bilinear(c, L->v, (size_t)HK, 1, L->o, 1, (size_t)D, hd * ks, ks);
        if (n) c->heads[nh++] = digest(&c->e, SEED_HEAD);
    }
    XXH128_hash_t hh = multiset(&c->e, c->heads, nh, SEED_HEADS);
    enc_u64(top, hh.high64), enc_u64(top, hh.low64);
}

/* Layer l's MLP hidden units as one multiset digest (all-zero units left out), appended to
 * `top`. */
static void enc_units(Ctx *c, Enc *top, int l) {
    const CompiledModel *m = c->m;
    const ModelLayer *L = &m->layers[l];
    int D = m->residual_dim, M = m->mlp_hidden_size;
    size_t nu = 0;
    for (int j = 0; j < M; j++) {
        /* (canonical direction, 0 = W1 column / 1 = W2 row, value) records */
        c->e.n = 0;
        for (int i = 0; i < c->nd; i++) {
            int64_t a = wt_quantize(L->w1[(size_t)c->perm[i] * M + j]);
            int64_t b = wt_quantize(L->w2[(size_t)j * D + c->perm[i]]);
            if (a) enc_u64(&c->e, (uint64_t)i), enc_u64(&c->e, 0), enc_i64(&c->e, a);
            if (b) enc_u64(&c->e, (uint64_t)i), enc_u64(&c->e, 1), enc_i64(&c->e, b);
        }
        if (c->e.n) c->units[nu++] = digest(&c->e, SEED_UNIT);
    }
    XXH128_hash_t hu = multiset(&c->e, c->units, nu, SEED_UNITS);
    enc_u64(top, hu.high64), enc_u64(top, hu.low64);
}

/* The model's encoding: version, config, encoders, embeddings and unembedding in canonical
 * residual order, then per layer its two multiset digests. Every part's length follows from
 * the config that comes first, so the encoding is injective. */
static void enc_model(Ctx *c, Enc *top) {
    const CompiledModel *m = c->m;
    int D = m->residual_dim;
    const int cfg[] = {m->num_layers,  m->num_heads,  m->key_size, m->mlp_hidden_size,  D,
                       m->max_seq_len, m->vocab_size, m->n_out,    m->output_numerical, m->causal,
                       m->bos_id,      m->pad_id};
    enc_u64(top, ENC_VERSION);
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) enc_i64(top, cfg[i]);
    for (int r = 0; r < m->vocab_size; r++) enc_value(top, m->tokens[r]);
    for (int o = 0; o < m->n_out; o++) enc_value(top, m->out_values[o]);
    for (int r = 0; r < m->vocab_size; r++)
        for (int i = 0; i < D; i++)
            enc_i64(top, wt_quantize(m->token_embed[(size_t)r * D + c->perm[i]]));
    for (int r = 0; r <= m->max_seq_len; r++)
        for (int i = 0; i < D; i++)
            enc_i64(top, wt_quantize(m->pos_embed[(size_t)r * D + c->perm[i]]));
    for (int i = 0; i < D; i++)
        for (int o = 0; o < m->n_out; o++)
            enc_i64(top, wt_quantize(m->unembed[(size_t)c->perm[i] * m->n_out + o]));
    for (int l = 0; l < m->num_layers; l++) enc_heads(c, top, l), enc_units(c, top, l);
}

/* c's buffers for m (perm and nzy [residual_dim] each, heads, units); 0, or -1 on OOM
 * (ctx_free still frees what was allocated). */
static int ctx_alloc(Ctx *c, const CompiledModel *m) {
    int D = m->residual_dim > 0 ? m->residual_dim : 1;
    size_t H = m->num_heads > 0 ? (size_t)m->num_heads : 1;
    size_t M = m->mlp_hidden_size > 0 ? (size_t)m->mlp_hidden_size : 1;
    int *perm = malloc(sizeof(int) * (size_t)D * 2);
    *c = (Ctx){.m = m, .nd = m->residual_dim, .perm = perm, .nzy = perm ? perm + D : NULL};
    c->heads = malloc(sizeof *c->heads * H);
    c->units = malloc(sizeof *c->units * M);
    return perm && c->heads && c->units ? 0 : -1;
}

static void ctx_free(Ctx *c, Enc *top) {
    free(top->p);
    free(c->e.p);
    free(c->heads);
    free(c->units);
    free((int *)c->perm);
}

int model_hash128(const CompiledModel *m, uint64_t out[2]) {
    Ctx c;
    Enc top = {0};
    int rc = -1;
    if (!ctx_alloc(&c, m) && !wt_residual_order(m, (int *)c.perm, NULL)) {
        enc_model(&c, &top);
        if (!top.oom && !c.e.oom) {
            XXH128_hash_t h = digest(&top, SEED_MODEL);
            out[0] = h.low64;
            out[1] = h.high64;
            rc = 0;
        }
    }
    ctx_free(&c, &top);
    return rc;
}

/* The digest of prefix s into out (c: perm and scratch for m, top: the encoding buffer).
 * Returns 0, or -1 on OOM. */
static int prefix_digest(Ctx *c, Enc *top, int s, uint64_t out[2]) {
    const CompiledModel *m = c->m;
    if (wt_prefix_order(m, s + 1, (int *)c->perm, &c->nd)) return -1;
    /* what the prefix's blocks are read against: the vocabulary, the positions and the
     * embeddings of the directions they touch, in the prefix's own canonical order */
    top->n = 0;
    const int cfg[] = {m->max_seq_len, m->vocab_size, m->causal, m->bos_id, m->pad_id, s};
    enc_u64(top, ENC_VERSION);
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) enc_i64(top, cfg[i]);
    for (int r = 0; r < m->vocab_size; r++) enc_value(top, m->tokens[r]);
    for (int r = 0; r < m->vocab_size; r++)
        for (int i = 0; i < c->nd; i++)
            enc_i64(top, wt_quantize(m->token_embed[(size_t)r * m->residual_dim + c->perm[i]]));
    for (int r = 0; r <= m->max_seq_len; r++)
        for (int i = 0; i < c->nd; i++)
            enc_i64(top, wt_quantize(m->pos_embed[(size_t)r * m->residual_dim + c->perm[i]]));
    for (int j = 0; j <= s; j++) {
        if (j % 2 == 0) enc_heads(c, top, j / 2);
        else enc_units(c, top, j / 2);
    }
    if (top->oom || c->e.oom) return -1;
    XXH128_hash_t h = digest(top, SEED_PREFIX);
    out[0] = h.low64;
    out[1] = h.high64;
    return 0;
}

int model_prefix_hashes(const CompiledModel *m, int from, int to, uint64_t (*out)[2]) {
    if (to > 2 * m->num_layers) to = 2 * m->num_layers;
    if (from < 0) from = 0;
    Ctx c;
    Enc top = {0};
    int rc = ctx_alloc(&c, m);
    for (int s = from; s < to && rc == 0; s++) rc = prefix_digest(&c, &top, s, out[s - from]);
    ctx_free(&c, &top);
    return rc;
}
