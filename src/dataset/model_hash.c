/* Name-independent hash of a compiled model (see model_hash.h). */
#include "dataset/model_hash.h"

#include <stdlib.h>
#include <string.h>

#include "dataset/weight_tokens.h"
#include "dataset/wt_hash.h"

/* Hash of one (row, col, value) entry of a [D, D] form, in canonical coordinates. */
static uint64_t entry(uint64_t seed, int a, int b, int64_t q) {
    return wt_mix64(wt_combine(wt_combine(seed, (uint64_t)a * 4099u + (uint64_t)b), (uint64_t)q));
}

/* Both halves of the hash are computed in one traversal: every quantity (a quantized
 * weight, a head's bilinear entry) is computed once and mixed into each half with its own
 * seed; half i equals a separate pass with seed S[i]. */

/* Multiset hashes (per seed: h[i] with seed s[i]) of the nonzero entries of X_h Y_h^T where
 * X, Y are [D, HK] row-major and the head owns columns c0 .. c0+ks-1 (Y given with its own
 * strides so that it serves both K ([D, HK]) and O^T ([HK, D])). */
static void bilinear(const uint64_t s[2], uint64_t h[2], const double *x, size_t xr, size_t xc,
                     const double *y, size_t yr, size_t yc, int D, int c0, int ks, const int *rank,
                     int *nzx, int *nzy) {
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
            h[0] += entry(s[0], rank[a], rank[b], q);
            h[1] += entry(s[1], rank[a], rank[b], q);
        }
    }
}

static inline void comb2(uint64_t h[2], uint64_t x) {
    h[0] = wt_combine(h[0], x);
    h[1] = wt_combine(h[1], x);
}

static void hash_both(const CompiledModel *m, const uint64_t seed[2], uint64_t h[2],
                      const int *perm, const int *rank, int *nzx, int *nzy) {
    int D = m->residual_dim, H = m->num_heads, ks = m->key_size, HK = H * ks,
        M = m->mlp_hidden_size;
    h[0] = wt_mix64(seed[0]);
    h[1] = wt_mix64(seed[1]);
    const int cfg[] = {m->num_layers,  m->num_heads,  m->key_size, m->mlp_hidden_size,  D,
                       m->max_seq_len, m->vocab_size, m->n_out,    m->output_numerical, m->causal,
                       m->bos_id,      m->pad_id};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) comb2(h, (uint64_t)cfg[i]);
    for (int r = 0; r < m->vocab_size; r++) comb2(h, val_hash(m->tokens[r]));
    for (int c = 0; c < m->n_out; c++) comb2(h, val_hash(m->out_values[c]));
    for (int r = 0; r < m->vocab_size; r++)
        for (int i = 0; i < D; i++)
            comb2(h, (uint64_t)wt_quantize(m->token_embed[(size_t)r * D + perm[i]]));
    for (int r = 0; r <= m->max_seq_len; r++)
        for (int i = 0; i < D; i++)
            comb2(h, (uint64_t)wt_quantize(m->pos_embed[(size_t)r * D + perm[i]]));
    for (int i = 0; i < D; i++)
        for (int c = 0; c < m->n_out; c++)
            comb2(h, (uint64_t)wt_quantize(m->unembed[(size_t)perm[i] * m->n_out + c]));
    const uint64_t s1[2] = {seed[0] ^ 1, seed[1] ^ 1}, s2[2] = {seed[0] ^ 2, seed[1] ^ 2};
    for (int l = 0; l < m->num_layers; l++) {
        const ModelLayer *L = &m->layers[l];
        uint64_t heads[2] = {0, 0}, units[2] = {0, 0};
        for (int hd = 0; hd < H; hd++) {
            uint64_t qk[2], ov[2];
            bilinear(s1, qk, L->q, (size_t)HK, 1, L->k, (size_t)HK, 1, D, hd * ks, ks, rank, nzx,
                     nzy);
            /* V_h O_h: O is [HK, D], so O^T's row b is column b of O. */
            bilinear(s2, ov, L->v, (size_t)HK, 1, L->o, 1, (size_t)D, D, hd * ks, ks, rank, nzx,
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
                    if (a) u[t] += entry(seed[t] ^ 3, i, 0, a);
                    if (b) u[t] += entry(seed[t] ^ 4, i, 1, b);
                }
            }
            for (int t = 0; t < 2; t++)
                if (u[t]) units[t] += wt_mix64(u[t]);
        }
        for (int t = 0; t < 2; t++) h[t] = wt_combine(wt_combine(h[t], heads[t]), units[t]);
    }
}

int model_hash128(const CompiledModel *m, uint64_t out[2]) {
    int D = m->residual_dim > 0 ? m->residual_dim : 1;
    int *buf = malloc(sizeof(int) * (size_t)D * 4);
    if (!buf) return -1;
    int *perm = buf, *rank = buf + D, *nzx = buf + 2 * D, *nzy = buf + 3 * D;
    if (wt_residual_order(m, perm, rank)) {
        free(buf);
        return -1;
    }
    static const uint64_t seeds[2] = {0x6d6f64656c31ULL, 0x6d6f64656c32ULL};
    hash_both(m, seeds, out, perm, rank, nzx, nzy);
    free(buf);
    return 0;
}
