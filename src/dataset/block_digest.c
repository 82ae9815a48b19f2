/* Digests of the blocks of one sublayer (model_block_digests, model_hash.h): the credit a
 * prefix digest cannot give when one of several blocks of a sublayer is right. A block is an
 * attention head or an MLP hidden unit.
 *
 * A direction a block reads is named without labels: by its canonical index in the order of
 * the sublayers before (wt_prefix_order), else by its embedding columns (tokens, indices,
 * one). A direction the block writes that nothing before it touches is new: it is named by
 * its place among the block's new directions, taken in the order the block's members reach
 * them (members sorted by what they read). So two models that agree on the sublayers before
 * give the same digest to the same block, whatever the new directions are called. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "dataset/model_hash.h"
#include "dataset/weight_tokens.h"
#include "dataset/wt_hash.h"

enum { ID_PREFIX = 1, ID_EMBED = 2, ID_NEW = 3 };

typedef struct {
    uint64_t a, b; /* an entry: (reader id or direction, value) or (id, id) pairs */
    int64_t q;
} Entry;

static int cmp_entry(const void *pa, const void *pb) {
    const Entry *x = pa, *y = pb;
    if (x->a != y->a) return x->a < y->a ? -1 : 1;
    if (x->b != y->b) return x->b < y->b ? -1 : 1;
    return x->q < y->q ? -1 : x->q > y->q;
}

static uint64_t hash_entries(Entry *e, size_t n, uint64_t seed) {
    qsort(e, n, sizeof *e, cmp_entry);
    return XXH3_64bits_withSeed(e, n * sizeof *e, seed);
}

/* id[d] for every direction: prefix index, embedding signature, or 0 (new). */
static int direction_ids(const CompiledModel *m, int s, uint64_t *id) {
    int D = m->residual_dim, nd = 0;
    int *perm = malloc(sizeof(int) * (size_t)(D > 0 ? D : 1));
    if (!perm) return -1;
    for (int d = 0; d < D; d++) id[d] = 0;
    if (s > 0 && wt_prefix_order(m, s, perm, &nd)) {
        free(perm);
        return -1;
    }
    for (int i = 0; i < nd; i++) id[perm[i]] = wt_combine(ID_PREFIX, (uint64_t)i);
    free(perm);
    for (int d = 0; d < D; d++) {
        if (id[d]) continue;
        uint64_t h = ID_EMBED;
        bool any = false;
        for (int r = 0; r < m->vocab_size; r++) {
            int64_t q = wt_quantize(m->token_embed[(size_t)r * D + d]);
            any |= q != 0;
            h = wt_combine(h, (uint64_t)q);
        }
        for (int r = 0; r <= m->max_seq_len; r++) {
            int64_t q = wt_quantize(m->pos_embed[(size_t)r * D + d]);
            any |= q != 0;
            h = wt_combine(h, (uint64_t)q);
        }
        if (any) id[d] = h;
    }
    return 0;
}

/* The MLP of layer l: one digest per hidden unit in use (Tracr writes one unit per output
 * value of a categorical Map -- it reads the input values that map to it -- and a few per
 * threshold of a numerical one), with the new directions a unit writes named in the order of
 * their weights. A unit of a Map that is right matches whatever the Map's output is called. */
static int mlp_blocks(const CompiledModel *m, int l, const uint64_t *id, uint64_t (*out)[2],
                      int *n) {
    const ModelLayer *L = &m->layers[l];
    int D = m->residual_dim, M = m->mlp_hidden_size;
    Entry *e = malloc(sizeof(Entry) * (size_t)(2 * D + 2));
    Entry *w = malloc(sizeof(Entry) * (size_t)(D + 1));
    if (!e || !w) {
        free(e);
        free(w);
        return -1;
    }
    *n = 0;
    for (int j = 0; j < M; j++) {
        size_t ne = 0, nw = 0;
        for (int d = 0; d < D; d++) {
            int64_t q = wt_quantize(L->w1[(size_t)d * M + j]);
            if (q) e[ne++] = (Entry){id[d] ? id[d] : wt_combine(ID_NEW, 0), 0, q};
            int64_t v = wt_quantize(L->w2[(size_t)j * D + d]);
            if (v && id[d]) e[ne++] = (Entry){id[d], 1, v};
            else if (v) w[nw++] = (Entry){0, 0, v};
        }
        if (!ne && !nw) continue;
        /* new directions: their values in order, named by that order */
        qsort(w, nw, sizeof *w, cmp_entry);
        for (size_t k = 0; k < nw; k++) e[ne++] = (Entry){wt_combine(ID_NEW, k + 1), 1, w[k].q};
        uint64_t u = hash_entries(e, ne, 12);
        XXH128_hash_t h = XXH3_128bits_withSeed(&u, sizeof u, 13);
        out[*n][0] = h.low64;
        out[*n][1] = h.high64;
        (*n)++;
    }
    free(e);
    free(w);
    return 0;
}

/* The nonzero entries of X_h Y_h^T for the head owning columns c0 .. c0+ks-1 of X [D, HK]
 * (row a, column j at a * HK + j) and Y (row b, column j at b * yb + j * yj) into e, as
 * (ida[a], idb[b] or b itself when idb is NULL, value). Returns the count. */
static size_t head_form(const double *x, const double *y, size_t yb, size_t yj, int D, int HK,
                        int c0, int ks, const uint64_t *ida, const uint64_t *idb, Entry *e) {
    size_t ne = 0;
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double v = 0;
            for (int j = c0; j < c0 + ks; j++)
                v += x[(size_t)a * HK + j] * y[(size_t)b * yb + (size_t)j * yj];
            int64_t q = wt_quantize(v);
            if (q) e[ne++] = (Entry){ida[a], idb ? idb[b] : (uint64_t)b, q};
        }
    return ne;
}

/* The heads of layer l, one block each: Q_h K_h^T over the directions' names, V_h O_h from
 * a read direction to a named or new one. */
static int attn_blocks(const CompiledModel *m, int l, const uint64_t *id, uint64_t (*out)[2],
                       int *n) {
    const ModelLayer *L = &m->layers[l];
    int D = m->residual_dim, H = m->num_heads, ks = m->key_size, HK = H * ks;
    Entry *e = malloc(sizeof(Entry) * ((size_t)D * D + 1));
    uint64_t *local = malloc(sizeof(uint64_t) * (size_t)(D + 1));
    if (!e || !local) {
        free(e);
        free(local);
        return -1;
    }
    *n = 0;
    for (int h = 0; h < H; h++) {
        size_t ne = head_form(L->q, L->k, HK, 1, D, HK, h * ks, ks, id, id, e);
        uint64_t qk = ne ? hash_entries(e, ne, 21) : 0;
        /* V O: new directions named in the order of (read direction's name, value) */
        ne = head_form(L->v, L->o, 1, (size_t)D, D, HK, h * ks, ks, id, NULL, e);
        if (!qk && !ne) continue;
        qsort(e, ne, sizeof *e, cmp_entry);
        for (int d = 0; d < D; d++) local[d] = 0;
        uint64_t next = 1;
        for (size_t i = 0; i < ne; i++) {
            int b = (int)e[i].b;
            if (!id[b] && !local[b]) local[b] = wt_combine(ID_NEW, next++);
            e[i].b = id[b] ? id[b] : local[b];
        }
        uint64_t ov = ne ? hash_entries(e, ne, 22) : 0;
        uint64_t both[2] = {qk, ov};
        XXH128_hash_t d = XXH3_128bits_withSeed(both, sizeof both, 23);
        out[*n][0] = d.low64;
        out[*n][1] = d.high64;
        (*n)++;
    }
    free(e);
    free(local);
    return 0;
}

int model_block_digests(const CompiledModel *m, int s, uint64_t (*out)[2], int *n) {
    *n = 0;
    if (s < 0 || s >= 2 * m->num_layers) return 0;
    uint64_t *id = malloc(sizeof(uint64_t) * (size_t)(m->residual_dim > 0 ? m->residual_dim : 1));
    if (!id) return -1;
    int rc = direction_ids(m, s, id);
    if (rc == 0)
        rc = s % 2 == 0 ? attn_blocks(m, s / 2, id, out, n) : mlp_blocks(m, s / 2, id, out, n);
    free(id);
    return rc;
}
