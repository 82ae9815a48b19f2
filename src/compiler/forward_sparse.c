/* Float64 forward pass (docs/tracr.md §2.7) on the weights' non-zeros; see forward_sparse.h.
 *
 * Besides skipping zero weights, each layer works on compacted activations: only the heads
 * whose value map is non-zero (a head with zero values adds exactly 0 to the residual) and
 * only the hidden units that W2 reads (the others are multiplied by zero rows) are
 * computed. Every term left out is an exact zero, so this is the dense pass up to the
 * order of summation. */
#include "compiler/forward_sparse.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One non-empty row of a sparse matrix: its (compacted) index and where its entries start. */
typedef struct SpRow {
    int row, off;
} SpRow;

/* A weight matrix on compacted spaces [rows, cols]: rs[0..n) are its non-empty rows (rs[n].off
 * ends the last), with entries col/val[rs[i].off .. rs[i+1].off). */
typedef struct SpMat {
    int rows, cols, n;
    SpRow *rs;
    int *col;
    double *val;
} SpMat;

typedef struct SpLayer {
    int n_live;    /* heads with a non-zero value map, in head order */
    int m_live;    /* hidden units W2 reads */
    SpMat q, k, v; /* [D, n_live*ks] */
    SpMat o;       /* [n_live*ks, D] */
    SpMat w1;      /* [D, m_live] */
    SpMat w2;      /* [m_live, D] */
} SpLayer;

/* Positions of one matrix's arrays in the growing lists (pointers are fixed at the end). */
typedef struct SpPos {
    size_t rs, col, val;
} SpPos;

struct FwdSparse {
    SpLayer *layers; /* [num_layers] */
    SpMat unembed;
    SpRow *rbuf;
    int *cbuf;
    double *vbuf;
    /* Activations, kept between runs: freeing and re-allocating them per batch returns the
     * pages to the kernel and faults them back in, which costs more than the pass itself. */
    double *work;
    size_t work_n;
};

/* Weights above this make x * w overflow-prone; the dense path then keeps inf/NaN semantics. */
static const double WMAX = 1e100;

typedef struct Build {
    SpRow *rb;
    size_t nr, capr;
    int *cb;
    double *vb;
    size_t ne, cape;
    bool ok;
} Build;

/* Doubles *p's capacity; false (p untouched) on OOM. */
static bool grow(void **p, size_t *cap, size_t elem) {
    size_t c = *cap ? 2 * *cap : 1024;
    void *q = realloc(*p, c * elem);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

/* True when w[0..n) is all zero (+0 or -0): the plan scans every weight, so this runs over
 * the whole model; eight doubles per step in generic vectors. */
typedef uint64_t U64x4 __attribute__((vector_size(32)));
static bool all_zero(const double *w, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        U64x4 a, b;
        memcpy(&a, w + i, sizeof a);
        memcpy(&b, w + i + 4, sizeof b);
        a = (a | b) << 1; /* << 1 drops the sign: -0.0 is zero */
        if ((a[0] | a[1] | a[2] | a[3]) != 0) return false;
    }
    for (; i < n; i++)
        if (w[i] != 0) return false;
    return true;
}

/* Scans w [rows, cols]; rowmap/colmap (NULL: identity) give each row/column its compacted
 * index or -1 to drop it. */
static void sp_scan(Build *b, SpMat *s, SpPos *pos, const double *w, int rows, int cols,
                    const int *rowmap, int out_rows, const int *colmap, int out_cols) {
    s->rows = out_rows;
    s->cols = out_cols;
    pos->rs = b->nr;
    pos->col = pos->val = b->ne;
    int n = 0, k = 0;
    for (int d = 0; d < rows; d++) {
        int rd = rowmap ? rowmap[d] : d;
        const double *r = w + (size_t)d * cols;
        if (rd < 0 || all_zero(r, cols)) continue;
        int k0 = k;
        for (int c = 0; c < cols; c++) {
            if (r[c] == 0) continue;
            if (!(fabs(r[c]) <= WMAX)) b->ok = false; /* NaN too */
            int cc = colmap ? colmap[c] : c;
            if (cc < 0) continue;
            if (b->ne == b->cape) {
                size_t cap = b->cape;
                if (!grow((void **)&b->cb, &cap, sizeof(int)) ||
                    !grow((void **)&b->vb, &b->cape, sizeof(double))) {
                    b->ok = false; /* OOM: the caller gets NULL and runs the dense pass */
                    return;
                }
            }
            b->cb[b->ne] = cc;
            b->vb[b->ne++] = r[c];
            k++;
        }
        if (k == k0) continue;
        if (b->nr == b->capr && !grow((void **)&b->rb, &b->capr, sizeof(SpRow))) {
            b->ok = false;
            return;
        }
        b->rb[b->nr++] = (SpRow){rd, k0};
        n++;
    }
    if (b->nr == b->capr && !grow((void **)&b->rb, &b->capr, sizeof(SpRow))) {
        b->ok = false;
        return;
    }
    b->rb[b->nr++] = (SpRow){-1, k};
    s->n = n;
}

static void sp_fix(SpMat *s, const SpPos *pos, const Build *b) {
    s->rs = b->rb + pos->rs;
    s->col = b->cb + pos->col;
    s->val = b->vb + pos->val;
}

/* Embeddings are read densely; they only need to be finite and moderate. */
static bool moderate(const double *w, size_t n) {
    bool ok = true;
    for (size_t i = 0; i < n; i++) ok &= fabs(w[i]) <= WMAX;
    return ok;
}

FwdSparse *fwd_sparse_new(const CompiledModel *m) {
    const int D = m->residual_dim, H = m->num_heads, ks = m->key_size, HK = H * ks,
              M = m->mlp_hidden_size;
    const int NL = m->num_layers, NO = m->n_out;
    if (!moderate(m->token_embed, (size_t)m->vocab_size * D) ||
        !moderate(m->pos_embed, (size_t)(m->max_seq_len + 1) * D))
        return NULL;
    FwdSparse *s = calloc(1, sizeof *s);
    SpLayer *layers = calloc((size_t)(NL ? NL : 1), sizeof(SpLayer));
    SpPos *pos = malloc(sizeof(SpPos) * (size_t)(6 * NL + 1));
    int *hmap = malloc(sizeof(int) * (size_t)(HK + 1)),
        *mmap_ = malloc(sizeof(int) * (size_t)(M + 1));
    if (!s || !layers || !pos || !hmap || !mmap_) {
        free(s);
        free(layers);
        free(pos);
        free(hmap);
        free(mmap_);
        return NULL;
    }
    s->layers = layers;
    Build b = {0};
    b.ok = true;
    for (int l = 0; l < NL && b.ok; l++) {
        const ModelLayer *L = &m->layers[l];
        SpLayer *S = &s->layers[l];
        /* live heads: a non-zero in the head's value columns */
        int nl = 0;
        for (int h = 0; h < H; h++) {
            bool live = false;
            for (int d = 0; d < D && !live; d++)
                live = !all_zero(L->v + (size_t)d * HK + (size_t)h * ks, ks);
            for (int c = 0; c < ks; c++) hmap[h * ks + c] = live ? nl * ks + c : -1;
            nl += live;
        }
        S->n_live = nl;
        /* hidden units W2 reads */
        int ml = 0;
        for (int j = 0; j < M; j++) mmap_[j] = all_zero(L->w2 + (size_t)j * D, D) ? -1 : ml++;
        S->m_live = ml;
        sp_scan(&b, &S->q, &pos[6 * l + 0], L->q, D, HK, NULL, D, hmap, nl * ks);
        sp_scan(&b, &S->k, &pos[6 * l + 1], L->k, D, HK, NULL, D, hmap, nl * ks);
        sp_scan(&b, &S->v, &pos[6 * l + 2], L->v, D, HK, NULL, D, hmap, nl * ks);
        sp_scan(&b, &S->o, &pos[6 * l + 3], L->o, HK, D, hmap, nl * ks, NULL, D);
        sp_scan(&b, &S->w1, &pos[6 * l + 4], L->w1, D, M, NULL, D, mmap_, ml);
        sp_scan(&b, &S->w2, &pos[6 * l + 5], L->w2, M, D, mmap_, ml, NULL, D);
    }
    if (b.ok) sp_scan(&b, &s->unembed, &pos[6 * NL], m->unembed, D, NO, NULL, D, NULL, NO);
    s->rbuf = b.rb;
    s->cbuf = b.cb;
    s->vbuf = b.vb;
    if (!b.ok) { /* the positions may be unset: nothing below may read them */
        free(pos);
        free(hmap);
        free(mmap_);
        fwd_sparse_free(s);
        return NULL;
    }
    for (int l = 0; l < NL; l++) {
        SpLayer *S = &s->layers[l];
        sp_fix(&S->q, &pos[6 * l + 0], &b);
        sp_fix(&S->k, &pos[6 * l + 1], &b);
        sp_fix(&S->v, &pos[6 * l + 2], &b);
        sp_fix(&S->o, &pos[6 * l + 3], &b);
        sp_fix(&S->w1, &pos[6 * l + 4], &b);
        sp_fix(&S->w2, &pos[6 * l + 5], &b);
    }
    sp_fix(&s->unembed, &pos[6 * NL], &b);
    free(pos);
    free(hmap);
    free(mmap_);
    return s;
}

void fwd_sparse_free(FwdSparse *s) {
    if (!s) return;
    free(s->layers);
    free(s->rbuf);
    free(s->cbuf);
    free(s->vbuf);
    free(s->work);
    free(s);
}

/* C[R, A->cols] (+)= X[R, A->rows] A. Zero entries of X are skipped (A is finite). */
static void spmm(double *C, const double *X, const SpMat *A, int R, bool acc) {
    const int n = A->rows, m = A->cols, nr = A->n;
    if (!acc) memset(C, 0, sizeof(double) * (size_t)R * (size_t)m);
    for (int r = 0; r < R; r++) {
        const double *x = X + (size_t)r * n;
        double *c = C + (size_t)r * m;
        for (int i = 0; i < nr; i++) {
            double xv = x[A->rs[i].row];
            if (xv == 0) continue;
            for (int k = A->rs[i].off; k < A->rs[i + 1].off; k++) c[A->col[k]] += xv * A->val[k];
        }
    }
}

int fwd_sparse_run(const CompiledModel *m, FwdSparse *s, const int *ids, int B, int T,
                   double *out) {
    const int D = m->residual_dim, ks = m->key_size, BT = B * T;
    int HKmax = 1, Mmax = 1;
    for (int l = 0; l < m->num_layers; l++) {
        if (s->layers[l].n_live * ks > HKmax) HKmax = s->layers[l].n_live * ks;
        if (s->layers[l].m_live > Mmax) Mmax = s->layers[l].m_live;
    }
    size_t need = (size_t)BT * ((size_t)D + 4 * (size_t)HKmax + (size_t)Mmax) + (size_t)T + 8;
    if (need > s->work_n) {
        free(s->work);
        s->work = malloc(sizeof(double) * need);
        s->work_n = s->work ? need : 0;
        if (!s->work) return -1;
    }
    double *x = s->work;            /* [BT, D] */
    double *q = x + (size_t)BT * D; /* q, k, v, z: [BT, HKc] each */
    double *k = q + (size_t)BT * HKmax, *v = k + (size_t)BT * HKmax, *z = v + (size_t)BT * HKmax;
    double *hid = z + (size_t)BT * HKmax;  /* [BT, Mc] */
    double *att = hid + (size_t)BT * Mmax; /* [T] one query row */
    for (int r = 0; r < BT; r++) {
        double *row = x + (size_t)r * D;
        const double *te = m->token_embed + (size_t)ids[r] * D,
                     *pe = m->pos_embed + (size_t)(r % T) * D;
        for (int d = 0; d < D; d++) row[d] = te[d] + pe[d];
    }
    const double scale = 1.0 / sqrt((double)ks);
    for (int l = 0; l < m->num_layers; l++) {
        const SpLayer *S = &s->layers[l];
        const int HK = S->n_live * ks, M = S->m_live;
        if (S->n_live > 0) {
            spmm(q, x, &S->q, BT, false);
            spmm(k, x, &S->k, BT, false);
            spmm(v, x, &S->v, BT, false);
            memset(z, 0, sizeof(double) * (size_t)BT * HK);
            for (int h = 0; h < S->n_live; h++)
                for (int b = 0; b < B; b++)
                    for (int i = 0; i < T; i++) {
                        const double *qi = q + ((size_t)b * T + i) * HK + (size_t)h * ks;
                        double mx = -INFINITY;
                        for (int j = 0; j < T; j++) {
                            double sc;
                            if (m->causal && j > i) {
                                sc = -1e30;
                            } else {
                                const double *kj = k + ((size_t)b * T + j) * HK + (size_t)h * ks;
                                sc = 0;
                                for (int c = 0; c < ks; c++) sc += qi[c] * kj[c];
                                sc *= scale;
                            }
                            att[j] = sc;
                            if (sc > mx) mx = sc;
                        }
                        double sum = 0;
                        for (int j = 0; j < T; j++) {
                            att[j] = exp(att[j] - mx);
                            sum += att[j];
                        }
                        double *zi = z + ((size_t)b * T + i) * HK + (size_t)h * ks;
                        for (int j = 0; j < T; j++) {
                            double a = att[j] / sum;
                            if (a == 0) continue;
                            const double *vj = v + ((size_t)b * T + j) * HK + (size_t)h * ks;
                            for (int c = 0; c < ks; c++) zi[c] += a * vj[c];
                        }
                    }
            spmm(x, z, &S->o, BT, true);
        }
        if (M > 0) {
            spmm(hid, x, &S->w1, BT, false);
            for (size_t i = 0; i < (size_t)BT * M; i++)
                if (hid[i] < 0) hid[i] = 0;
            spmm(x, hid, &S->w2, BT, true);
        }
    }
    spmm(out, x, &s->unembed, BT, false);
    return 0;
}
