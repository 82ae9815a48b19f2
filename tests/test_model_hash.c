/* model_hash128 keeps its equivalence classes: over a few hundred generated programs, two
 * compiled models have the same hash exactly when an independent dense comparison says they
 * are the same model up to residual naming, head order, a head's internal basis and hidden
 * unit order; relabelled and rotated-back copies hash alike; one changed weight changes the
 * hash. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/model.h"
#include "dataset/accept.h"
#include "dataset/model_hash.h"
#include "dataset/weight_tokens.h"
#include "dataset/wt_hash.h"
#include "gen/program_tokens.h"
#include "gen/sampler.h"
#include "rasp/rasp.h"
#include "test.h"
#include "transform/transform.h"
#include "util/rng.h"
#include <xxhash.h>

/* A model's class as plain numbers: config, canonical embeddings, and per layer the sorted
 * dense heads and units. Two models are the same up to the symmetries iff their forms and
 * encoders are equal. Dense and sorted by content: no hashing anywhere. */
typedef struct {
    int64_t *v;
    size_t n, cap;
} Form;

static void put(Form *f, int64_t x) {
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 1024;
        f->v = realloc(f->v, sizeof *f->v * f->cap);
        if (!f->v) abort();
    }
    f->v[f->n++] = x;
}

static size_t g_rec; /* length of the records being sorted */
static int cmp_rec(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    for (size_t i = 0; i < g_rec; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

/* Appends n records of len numbers each (all-zero records dropped), sorted, with their count. */
static void put_sorted(Form *f, int64_t *rec, size_t n, size_t len) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int nz = 0;
        for (size_t j = 0; j < len; j++) nz |= rec[i * len + j] != 0;
        if (nz) memmove(rec + k * len, rec + i * len, sizeof *rec * len), k++;
    }
    g_rec = len;
    qsort(rec, k, sizeof *rec * len, cmp_rec);
    put(f, (int64_t)k);
    for (size_t i = 0; i < k * len; i++) put(f, rec[i]);
}

static void form_layer(Form *f, const CompiledModel *m, const int *p, int l) {
    const ModelLayer *L = &m->layers[l];
    int D = m->residual_dim, H = m->num_heads, ks = m->key_size, HK = H * ks,
        M = m->mlp_hidden_size;
    size_t hl = 2 * (size_t)D * D, ul = 2 * (size_t)D;
    int64_t *heads = calloc((size_t)(H ? H : 1) * hl, sizeof *heads);
    int64_t *units = calloc((size_t)(M ? M : 1) * ul, sizeof *units);
    if (!heads || !units) abort();
    for (int h = 0; h < H; h++)
        for (int i = 0; i < D; i++)
            for (int k = 0; k < D; k++) {
                double qk = 0, ov = 0;
                for (int j = h * ks; j < (h + 1) * ks; j++) {
                    qk += L->q[(size_t)p[i] * HK + j] * L->k[(size_t)p[k] * HK + j];
                    ov += L->v[(size_t)p[i] * HK + j] * L->o[(size_t)j * D + p[k]];
                }
                heads[h * hl + (size_t)i * D + k] = wt_quantize(qk);
                heads[h * hl + (size_t)D * D + (size_t)i * D + k] = wt_quantize(ov);
            }
    for (int u = 0; u < M; u++)
        for (int i = 0; i < D; i++) {
            units[u * ul + 2 * (size_t)i] = wt_quantize(L->w1[(size_t)p[i] * M + u]);
            units[u * ul + 2 * (size_t)i + 1] = wt_quantize(L->w2[(size_t)u * D + p[i]]);
        }
    put_sorted(f, heads, (size_t)H, hl);
    put_sorted(f, units, (size_t)M, ul);
    free(heads);
    free(units);
}

static Form form_of(const CompiledModel *m) {
    Form f = {0};
    int D = m->residual_dim;
    int *p = malloc(sizeof(int) * (size_t)(D ? D : 1));
    if (!p || wt_residual_order(m, p, NULL)) abort();
    const int cfg[] = {m->num_layers,  m->num_heads,  m->key_size, m->mlp_hidden_size,  D,
                       m->max_seq_len, m->vocab_size, m->n_out,    m->output_numerical, m->causal,
                       m->bos_id,      m->pad_id};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) put(&f, cfg[i]);
    for (int r = 0; r < m->vocab_size; r++)
        for (int i = 0; i < D; i++) put(&f, wt_quantize(m->token_embed[(size_t)r * D + p[i]]));
    for (int r = 0; r <= m->max_seq_len; r++)
        for (int i = 0; i < D; i++) put(&f, wt_quantize(m->pos_embed[(size_t)r * D + p[i]]));
    for (int i = 0; i < D; i++)
        for (int o = 0; o < m->n_out; o++)
            put(&f, wt_quantize(m->unembed[(size_t)p[i] * m->n_out + o]));
    for (int l = 0; l < m->num_layers; l++) form_layer(&f, m, p, l);
    free(p);
    return f;
}

static bool same_model(const CompiledModel *a, const CompiledModel *b) {
    if (a->vocab_size != b->vocab_size || a->n_out != b->n_out) return false;
    for (int r = 0; r < a->vocab_size; r++)
        if (!val_eq(a->tokens[r], b->tokens[r])) return false;
    for (int o = 0; o < a->n_out; o++)
        if (!val_eq(a->out_values[o], b->out_values[o])) return false;
    Form fa = form_of(a), fb = form_of(b);
    bool eq = fa.n == fb.n && memcmp(fa.v, fb.v, sizeof *fa.v * fa.n) == 0;
    free(fa.v);
    free(fb.v);
    return eq;
}

/* Cheap invariants of the class, so that only plausible pairs get the dense comparison. */
static uint64_t bucket(const CompiledModel *m) {
    uint64_t b = (uint64_t)m->residual_dim * 1000003u + (uint64_t)m->num_layers * 1009u +
                 (uint64_t)m->mlp_hidden_size * 31u + (uint64_t)m->vocab_size;
    int64_t s = 0;
    size_t D = (size_t)m->residual_dim;
    for (size_t i = 0; i < (size_t)m->vocab_size * D; i++) s += wt_quantize(m->token_embed[i]);
    for (int l = 0; l < m->num_layers; l++)
        for (size_t i = 0; i < D * (size_t)m->mlp_hidden_size; i++)
            s += wt_quantize(m->layers[l].w1[i]);
    return b ^ ((uint64_t)s * 0x9e3779b97f4a7c15ULL);
}

/* ---- the construction documented in model_hash.h, written out again from the dense forms:
 * model_hash128 must give exactly this digest. ---- */
typedef struct {
    unsigned char *p;
    size_t n, cap;
} Bytes;

static void b_u64(Bytes *b, uint64_t x) {
    if (b->n + 8 > b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4096;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    for (int i = 0; i < 8; i++) b->p[b->n++] = (unsigned char)(x >> (8 * i));
}

static void b_value(Bytes *b, Value v) {
    if (v.kind == VAL_NONE) {
        b_u64(b, 0);
    } else if (v.kind == VAL_BOOL || v.kind == VAL_INT ||
               (v.kind == VAL_FLOAT && v.u.f == floor(v.u.f) && fabs(v.u.f) < 9.2e18)) {
        int64_t i = v.kind == VAL_BOOL ? v.u.b : v.kind == VAL_INT ? v.u.i : (int64_t)v.u.f;
        b_u64(b, 1), b_u64(b, (uint64_t)i);
    } else if (v.kind == VAL_FLOAT) {
        uint64_t bits;
        memcpy(&bits, &v.u.f, sizeof bits);
        b_u64(b, 2), b_u64(b, bits);
    } else if (v.kind == VAL_STR) {
        size_t n = strlen(v.u.s);
        b_u64(b, 3), b_u64(b, n);
        for (size_t i = 0; i < n; i++) { /* bytes, unpadded */
            if (b->n + 8 > b->cap) b_u64(b, 0), b->n -= 8;
            b->p[b->n++] = (unsigned char)v.u.s[i];
        }
    } else {
        b_u64(b, 4), b_u64(b, v.u.t->n);
        for (size_t i = 0; i < v.u.t->n; i++) b_value(b, v.u.t->items[i]);
    }
}

static int cmp_xxh(const void *pa, const void *pb) {
    const XXH128_hash_t *a = pa, *b = pb;
    if (a->high64 != b->high64) return a->high64 < b->high64 ? -1 : 1;
    return a->low64 < b->low64 ? -1 : a->low64 > b->low64;
}

static XXH128_hash_t spec_multiset(XXH128_hash_t *d, size_t n, uint64_t seed) {
    qsort(d, n, sizeof *d, cmp_xxh);
    Bytes b = {0};
    for (size_t i = 0; i < n; i++) b_u64(&b, d[i].high64), b_u64(&b, d[i].low64);
    XXH128_hash_t h = XXH3_128bits_withSeed(b.p, b.n, seed);
    free(b.p);
    return h;
}

/* One layer: dense canonical Q_h K_h^T, V_h O_h and units (as in form_layer), encoded. */
static void spec_layer(Bytes *top, const CompiledModel *m, const int *p, int l) {
    const ModelLayer *L = &m->layers[l];
    int D = m->residual_dim, H = m->num_heads, ks = m->key_size, HK = H * ks,
        M = m->mlp_hidden_size;
    XXH128_hash_t *hd = malloc(sizeof *hd * (size_t)(H + M + 1));
    size_t nh = 0, nu = 0;
    for (int h = 0; h < H; h++) {
        Bytes b = {0};
        for (int part = 0; part < 2; part++) {
            size_t at = b.n, cnt = 0;
            b_u64(&b, 0);
            for (int i = 0; i < D; i++)
                for (int k = 0; k < D; k++) {
                    double v = 0;
                    for (int j = h * ks; j < (h + 1) * ks; j++)
                        v += part ? L->v[(size_t)p[i] * HK + j] * L->o[(size_t)j * D + p[k]]
                                  : L->q[(size_t)p[i] * HK + j] * L->k[(size_t)p[k] * HK + j];
                    int64_t q = wt_quantize(v);
                    if (q)
                        b_u64(&b, (uint64_t)i), b_u64(&b, (uint64_t)k), b_u64(&b, (uint64_t)q),
                            cnt++;
                }
            for (int i = 0; i < 8; i++) b.p[at + (size_t)i] = (unsigned char)(cnt >> (8 * i));
        }
        if (b.n > 16) hd[nh++] = XXH3_128bits_withSeed(b.p, b.n, 1);
        free(b.p);
    }
    XXH128_hash_t heads = spec_multiset(hd, nh, 3);
    for (int u = 0; u < M; u++) {
        Bytes b = {0};
        for (int i = 0; i < D; i++) {
            int64_t a = wt_quantize(L->w1[(size_t)p[i] * M + u]);
            int64_t c = wt_quantize(L->w2[(size_t)u * D + p[i]]);
            if (a) b_u64(&b, (uint64_t)i), b_u64(&b, 0), b_u64(&b, (uint64_t)a);
            if (c) b_u64(&b, (uint64_t)i), b_u64(&b, 1), b_u64(&b, (uint64_t)c);
        }
        if (b.n) hd[nu++] = XXH3_128bits_withSeed(b.p, b.n, 2);
        free(b.p);
    }
    XXH128_hash_t units = spec_multiset(hd, nu, 4);
    b_u64(top, heads.high64), b_u64(top, heads.low64);
    b_u64(top, units.high64), b_u64(top, units.low64);
    free(hd);
}

static void spec_hash(const CompiledModel *m, uint64_t out[2]) {
    int D = m->residual_dim;
    int *p = malloc(sizeof(int) * (size_t)(D ? D : 1));
    if (!p || wt_residual_order(m, p, NULL)) abort();
    Bytes b = {0};
    b_u64(&b, 2); /* the encoding's version */
    const int cfg[] = {m->num_layers,  m->num_heads,  m->key_size, m->mlp_hidden_size,  D,
                       m->max_seq_len, m->vocab_size, m->n_out,    m->output_numerical, m->causal,
                       m->bos_id,      m->pad_id};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) b_u64(&b, (uint64_t)(int64_t)cfg[i]);
    for (int r = 0; r < m->vocab_size; r++) b_value(&b, m->tokens[r]);
    for (int o = 0; o < m->n_out; o++) b_value(&b, m->out_values[o]);
    for (int r = 0; r < m->vocab_size; r++)
        for (int i = 0; i < D; i++)
            b_u64(&b, (uint64_t)wt_quantize(m->token_embed[(size_t)r * D + p[i]]));
    for (int r = 0; r <= m->max_seq_len; r++)
        for (int i = 0; i < D; i++)
            b_u64(&b, (uint64_t)wt_quantize(m->pos_embed[(size_t)r * D + p[i]]));
    for (int i = 0; i < D; i++)
        for (int o = 0; o < m->n_out; o++)
            b_u64(&b, (uint64_t)wt_quantize(m->unembed[(size_t)p[i] * m->n_out + o]));
    for (int l = 0; l < m->num_layers; l++) spec_layer(&b, m, p, l);
    XXH128_hash_t h = XXH3_128bits_withSeed(b.p, b.n, 5);
    out[0] = h.low64, out[1] = h.high64;
    free(b.p);
    free(p);
}

/* ---- the previous model_hash128 (sums of splitmix64 mixes), kept as the reference for the
 * classes: the new hash must split models exactly where this one did. ---- */
static uint64_t old_entry(uint64_t seed, int a, int b, int64_t q) {
    return wt_mix64(wt_combine(wt_combine(seed, (uint64_t)a * 4099u + (uint64_t)b), (uint64_t)q));
}

/* Both halves of the hash are computed in one traversal: every quantity (a quantized
 * weight, a head's bilinear entry) is computed once and mixed into each half with its own
 * seed; half i equals a separate pass with seed S[i]. */

/* Multiset hashes (per seed: h[i] with seed s[i]) of the nonzero entries of X_h Y_h^T where
 * X, Y are [D, HK] row-major and the head owns columns c0 .. c0+ks-1 (Y given with its own
 * strides so that it serves both K ([D, HK]) and O^T ([HK, D])). */
static void old_bilinear(const uint64_t s[2], uint64_t h[2], const double *x, size_t xr, size_t xc,
                         const double *y, size_t yr, size_t yc, int D, int c0, int ks,
                         const int *rank, int *nzx, int *nzy) {
    int nx = 0, ny = 0;
    for (int a = 0; a < D; a++) {
        int nz = 0, nz2 = 0;
        for (int j = 0; j < ks; j++) {
            nz |= x[(size_t)a * xr + (size_t)(c0 + j) * xc] != 0.0;
            nz2 |= y[(size_t)a * yr + (size_t)(c0 + j) * yc] != 0.0;
        }
        if (nz) nzx[nx++] = a;
        if (nz2) nzy[ny++] = a;
    }
    h[0] = h[1] = 0;
    for (int i = 0; i < nx; i++) {
        int a = nzx[i];
        for (int k = 0; k < ny; k++) {
            int b = nzy[k];
            double v = 0;
            for (int j = 0; j < ks; j++)
                v += x[(size_t)a * xr + (size_t)(c0 + j) * xc] *
                     y[(size_t)b * yr + (size_t)(c0 + j) * yc];
            int64_t q = wt_quantize(v);
            if (!q) continue;
            h[0] += old_entry(s[0], rank[a], rank[b], q);
            h[1] += old_entry(s[1], rank[a], rank[b], q);
        }
    }
}

static inline void old_comb2(uint64_t h[2], uint64_t x) {
    h[0] = wt_combine(h[0], x);
    h[1] = wt_combine(h[1], x);
}

static void old_hash_both(const CompiledModel *m, const uint64_t seed[2], uint64_t h[2],
                          const int *perm, const int *rank, int *nzx, int *nzy) {
    int D = m->residual_dim, H = m->num_heads, ks = m->key_size, HK = H * ks,
        M = m->mlp_hidden_size;
    h[0] = wt_mix64(seed[0]);
    h[1] = wt_mix64(seed[1]);
    const int cfg[] = {m->num_layers,  m->num_heads,  m->key_size, m->mlp_hidden_size,  D,
                       m->max_seq_len, m->vocab_size, m->n_out,    m->output_numerical, m->causal,
                       m->bos_id,      m->pad_id};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) old_comb2(h, (uint64_t)cfg[i]);
    for (int r = 0; r < m->vocab_size; r++) old_comb2(h, val_hash(m->tokens[r]));
    for (int c = 0; c < m->n_out; c++) old_comb2(h, val_hash(m->out_values[c]));
    for (int r = 0; r < m->vocab_size; r++)
        for (int i = 0; i < D; i++)
            old_comb2(h, (uint64_t)wt_quantize(m->token_embed[(size_t)r * D + perm[i]]));
    for (int r = 0; r <= m->max_seq_len; r++)
        for (int i = 0; i < D; i++)
            old_comb2(h, (uint64_t)wt_quantize(m->pos_embed[(size_t)r * D + perm[i]]));
    for (int i = 0; i < D; i++)
        for (int c = 0; c < m->n_out; c++)
            old_comb2(h, (uint64_t)wt_quantize(m->unembed[(size_t)perm[i] * m->n_out + c]));
    const uint64_t s1[2] = {seed[0] ^ 1, seed[1] ^ 1}, s2[2] = {seed[0] ^ 2, seed[1] ^ 2};
    for (int l = 0; l < m->num_layers; l++) {
        const ModelLayer *L = &m->layers[l];
        uint64_t heads[2] = {0, 0}, units[2] = {0, 0};
        for (int hd = 0; hd < H; hd++) {
            uint64_t qk[2], ov[2];
            old_bilinear(s1, qk, L->q, (size_t)HK, 1, L->k, (size_t)HK, 1, D, hd * ks, ks, rank,
                         nzx, nzy);
            /* V_h O_h: O is [HK, D], so O^T's row b is column b of O. */
            old_bilinear(s2, ov, L->v, (size_t)HK, 1, L->o, 1, (size_t)D, D, hd * ks, ks, rank, nzx,
                         nzy);
            for (int t = 0; t < 2; t++)
                if (qk[t] || ov[t]) heads[t] += wt_mix64(wt_combine(qk[t], ov[t]));
        }
        for (int j = 0; j < M; j++) {
            uint64_t u[2] = {0, 0};
            for (int i = 0; i < D; i++) {
                int64_t a = wt_quantize(L->w1[(size_t)perm[i] * M + j]);
                int64_t b = wt_quantize(L->w2[(size_t)j * D + perm[i]]);
                for (int t = 0; t < 2; t++) {
                    if (a) u[t] += old_entry(seed[t] ^ 3, i, 0, a);
                    if (b) u[t] += old_entry(seed[t] ^ 4, i, 1, b);
                }
            }
            for (int t = 0; t < 2; t++)
                if (u[t]) units[t] += wt_mix64(u[t]);
        }
        for (int t = 0; t < 2; t++) h[t] = wt_combine(wt_combine(h[t], heads[t]), units[t]);
    }
}

static int old_hash128(const CompiledModel *m, uint64_t out[2]) {
    int D = m->residual_dim > 0 ? m->residual_dim : 1;
    int *buf = malloc(sizeof(int) * (size_t)D * 4);
    if (!buf) return -1;
    int *perm = buf, *rank = buf + D, *nzx = buf + 2 * D, *nzy = buf + 3 * D;
    if (wt_residual_order(m, perm, rank)) {
        free(buf);
        return -1;
    }
    static const uint64_t seeds[2] = {0x6d6f64656c31ULL, 0x6d6f64656c32ULL};
    old_hash_both(m, seeds, out, perm, rank, nzx, nzy);
    free(buf);
    return 0;
}

/* Swaps the first two internal directions of every head (Q_h, K_h, V_h columns and O_h rows):
 * Q_h K_h^T and V_h O_h stay. A rotation inside a head would keep them too, but the canonical
 * residual order reads the multiset of each Q, K, V row and O column, which only a
 * permutation keeps (see the note in model_hash.h). */
static void swap_head_dirs(CompiledModel *m) {
    int D = m->residual_dim, HK = m->num_heads * m->key_size, ks = m->key_size;
    for (int l = 0; l < m->num_layers; l++) {
        ModelLayer *L = &m->layers[l];
        for (int h = 0; h < m->num_heads && ks >= 2; h++) {
            int j0 = h * ks, j1 = h * ks + 1;
            double *cols[3] = {L->q, L->k, L->v}, t;
            for (int c = 0; c < 3; c++)
                for (int d = 0; d < D; d++) {
                    double *x = cols[c] + (size_t)d * HK;
                    t = x[j0], x[j0] = x[j1], x[j1] = t;
                }
            for (int d = 0; d < D; d++) {
                double *o0 = L->o + (size_t)j0 * D + d, *o1 = L->o + (size_t)j1 * D + d;
                t = *o0, *o0 = *o1, *o1 = t;
            }
        }
    }
}

/* Sets the float residue a rotation and its inverse leave on exact zeros back to zero (every
 * other weight keeps its residue, which the 2^-16 rounding absorbs). The canonical residual
 * order tells an exact zero from a residue, so without this a rotated-back copy sorts its
 * directions differently. */
static void snap_zeros(double *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) < 1e-9) x[i] = 0;
}

static void snap_model(CompiledModel *m) {
    size_t D = (size_t)m->residual_dim, HK = (size_t)m->num_heads * m->key_size,
           M = (size_t)m->mlp_hidden_size;
    snap_zeros(m->token_embed, (size_t)m->vocab_size * D);
    snap_zeros(m->pos_embed, (size_t)(m->max_seq_len + 1) * D);
    snap_zeros(m->unembed, D * (size_t)m->n_out);
    for (int l = 0; l < m->num_layers; l++) {
        ModelLayer *L = &m->layers[l];
        snap_zeros(L->q, D * HK), snap_zeros(L->k, D * HK), snap_zeros(L->v, D * HK);
        snap_zeros(L->o, HK * D), snap_zeros(L->w1, D * M), snap_zeros(L->w2, M * D);
    }
}

/* Moves the model's direction perm[i] to index i (r and rt: [D, D] scratch). */
static void permute_residual(CompiledModel *c, const int *perm, double *r, double *rt) {
    int D = c->residual_dim;
    memset(r, 0, sizeof *r * (size_t)D * D);
    memset(rt, 0, sizeof *rt * (size_t)D * D);
    for (int i = 0; i < D; i++) r[(size_t)perm[i] * D + i] = rt[(size_t)i * D + perm[i]] = 1;
    tf_change_basis(c, r, rt);
}

/* A copy of m with every symmetry applied: heads and hidden units permuted, each head's
 * internal directions permuted, residual directions reordered, and the residual stream rotated
 * by a random orthogonal matrix and back. */
static CompiledModel *relabelled(const CompiledModel *m, uint64_t seed) {
    CompiledModel *c = tf_model_clone(m);
    char err[256];
    int D = m->residual_dim;
    double *r = calloc((size_t)D * D, sizeof *r), *rt = calloc((size_t)D * D, sizeof *rt);
    int *perm = malloc(sizeof(int) * (size_t)D);
    if (!c || !r || !rt || !perm || tf_permute(c, seed, err, sizeof err)) abort();
    swap_head_dirs(c);
    Rng g;
    rng_seed(&g, seed);
    /* directions stored in m's canonical order: a reordering that keeps the relative order of
     * directions whose signatures tie, the one freedom the canonical order does not remove */
    if (wt_residual_order(m, perm, NULL)) abort();
    permute_residual(c, perm, r, rt);
    if (tf_haar_orthogonal(D, &g, r, err, sizeof err)) abort();
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) rt[(size_t)j * D + i] = r[(size_t)i * D + j];
    tf_change_basis(c, r, rt);
    tf_change_basis(c, rt, r);
    snap_model(c);
    free(r);
    free(rt);
    free(perm);
    return c;
}

static bool hash_eq(const uint64_t a[2], const uint64_t b[2]) {
    return a[0] == b[0] && a[1] == b[1];
}

/* Adds 0.5 to the first nonzero MLP input weight (or embedding weight). */
static void change_one_weight(CompiledModel *m) {
    for (int l = 0; l < m->num_layers; l++)
        for (size_t i = 0; i < (size_t)m->residual_dim * m->mlp_hidden_size; i++)
            if (m->layers[l].w1[i] != 0.0) {
                m->layers[l].w1[i] += 0.5;
                return;
            }
    m->token_embed[0] += 0.5;
}

#define N_SEEDS 320

static void test_classes(void) {
    GenConfig g;
    gen_config_default(&g);
    g.max_residual = 48;
    char err[256];
    GenSampler *smp = gen_sampler_new(&g, err, sizeof err);
    CHECK_MSG(smp != NULL, "%s", err);
    if (!smp) return;
    CompiledModel *ms[N_SEEDS];
    uint64_t h[N_SEEDS][2], oh[N_SEEDS][2], b[N_SEEDS];
    int n = 0;
    AccResult r;
    acc_result_init(&r);
    CompileOptions co;
    compile_options_default(&co);
    for (uint64_t seed = 1; n < N_SEEDS && seed < 4 * N_SEEDS; seed++) {
        if (acc_sample(smp, seed, &r) != ACC_OK) continue;
        const GenSetting *st = &r.sample.setting;
        RaspProgram p;
        CompiledModel *m = NULL;
        if (!pt_build_program(r.sample.rows, r.sample.n_rows, st->vocab, st->n_vocab,
                              st->max_seq_len, &p, err, sizeof err)) {
            p.causal = st->causal;
            if (compile_program(&p, &co, &m, err, sizeof err)) m = NULL;
        }
        rasp_program_free(&p);
        if (!m || m->residual_dim > g.max_residual) {
            compiled_model_free(m);
            continue;
        }
        CHECK(model_hash128(m, h[n]) == 0 && old_hash128(m, oh[n]) == 0);
        uint64_t sh[2];
        spec_hash(m, sh);
        CHECK_MSG(hash_eq(h[n], sh), "seed %llu: not the documented construction",
                  (unsigned long long)seed);
        b[n] = bucket(m);
        ms[n++] = m;
    }
    acc_result_free(&r);
    gen_sampler_free(smp);
    CHECK(n >= 250);
    /* equal models <=> equal hashes, over every pair */
    long equal_pairs = 0, checked = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            bool he = hash_eq(h[i], h[j]), oe = hash_eq(oh[i], oh[j]);
            CHECK_MSG(he == oe, "models %d, %d: the old hash says %s", i, j,
                      oe ? "equal" : "different");
            if (!he && !oe && b[i] != b[j]) continue; /* different invariants */
            bool se = same_model(ms[i], ms[j]);
            checked++;
            equal_pairs += se;
            CHECK_MSG(he == se, "models %d, %d: hash %s, models %s", i, j, he ? "equal" : "differ",
                      se ? "equal" : "differ");
        }
    /* the generator's programs do compile to the same model now and then */
    CHECK(equal_pairs > 0);
    fprintf(stderr, "  %d models, %ld pairs compared densely, %ld equal\n", n, checked,
            equal_pairs);
    long perm_equal = 0;
    for (int i = 0; i < n; i++) {
        CompiledModel *c = relabelled(ms[i], (uint64_t)i + 11);
        uint64_t hc[2];
        CHECK(model_hash128(c, hc) == 0);
        CHECK_MSG(hash_eq(h[i], hc), "model %d: a relabelled copy hashes differently", i);
        CHECK(same_model(ms[i], c));
        change_one_weight(c);
        CHECK(model_hash128(c, hc) == 0);
        CHECK_MSG(!hash_eq(h[i], hc) && h[i][0] != hc[0] && h[i][1] != hc[1],
                  "model %d: one changed weight keeps the hash", i);
        compiled_model_free(c);
        /* any residual permutation: ties in the canonical order keep the model's order, so
         * the hash may change, but exactly when the old hash and the dense form change */
        c = tf_model_clone(ms[i]);
        int D = c->residual_dim, *perm = malloc(sizeof(int) * (size_t)D);
        double *rm = malloc(sizeof(double) * (size_t)D * D), *rt = malloc(sizeof *rt * D * D);
        if (!perm || !rm || !rt) abort();
        Rng pg;
        rng_seed(&pg, (uint64_t)i);
        for (int k = 0; k < D; k++) perm[k] = k;
        for (int k = D - 1; k > 0; k--) {
            int j = (int)rng_below(&pg, (uint64_t)k + 1), t = perm[k];
            perm[k] = perm[j], perm[j] = t;
        }
        permute_residual(c, perm, rm, rt);
        uint64_t ho[2];
        CHECK(model_hash128(c, hc) == 0 && old_hash128(c, ho) == 0);
        bool se = same_model(ms[i], c);
        CHECK(hash_eq(h[i], hc) == se && hash_eq(oh[i], ho) == se);
        perm_equal += se;
        free(perm), free(rm), free(rt);
        compiled_model_free(c);
        compiled_model_free(ms[i]);
    }
    fprintf(stderr, "  random residual permutations: %ld of %d keep the class\n", perm_equal, n);
}

/* The encoders enter under Python equality (1 == 1.0, and True == 1, as val_eq), and a
 * different output value changes the hash. */
static void test_encoders(void) {
    GenConfig g;
    gen_config_default(&g);
    char err[256];
    GenSampler *smp = gen_sampler_new(&g, err, sizeof err);
    CHECK(smp != NULL);
    if (!smp) return;
    AccResult r;
    acc_result_init(&r);
    CompileOptions co;
    compile_options_default(&co);
    CompiledModel *m = NULL;
    for (uint64_t seed = 1; seed < 200 && !m; seed++) {
        if (acc_sample(smp, seed, &r) != ACC_OK) continue;
        const GenSetting *st = &r.sample.setting;
        RaspProgram p;
        if (!pt_build_program(r.sample.rows, r.sample.n_rows, st->vocab, st->n_vocab,
                              st->max_seq_len, &p, err, sizeof err)) {
            p.causal = st->causal;
            if (compile_program(&p, &co, &m, err, sizeof err)) m = NULL;
            if (m && (m->output_numerical || m->n_out < 2 || m->out_values[0].kind != VAL_INT)) {
                compiled_model_free(m);
                m = NULL;
            }
        }
        rasp_program_free(&p);
    }
    acc_result_free(&r);
    gen_sampler_free(smp);
    CHECK(m != NULL);
    if (!m) return;
    uint64_t h0[2], h1[2];
    CHECK(model_hash128(m, h0) == 0);
    Value keep = m->out_values[0];
    if (keep.u.i == 0 || keep.u.i == 1) {
        m->out_values[0] = val_bool(keep.u.i == 1);
        CHECK(model_hash128(m, h1) == 0 && hash_eq(h0, h1));
    }
    m->out_values[0] = val_float((double)keep.u.i);
    CHECK(model_hash128(m, h1) == 0 && hash_eq(h0, h1));
    m->out_values[0] = val_float((double)keep.u.i + 0.5);
    CHECK(model_hash128(m, h1) == 0 && !hash_eq(h0, h1));
    m->out_values[0] = keep;
    compiled_model_free(m);
}

int main(void) {
    RUN(test_classes);
    RUN(test_encoders);
    TEST_END();
}
