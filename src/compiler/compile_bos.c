/* The residual stream at the BOS position after the whole model, for the warnings
 * (compile_warn.c): the dense pass over the weights, or the same sums from the cells that
 * assembly wrote (compile_internal.h, LayerCells). */
#include <math.h>
#include <string.h>

#include "compiler/compile_internal.h"

double compile_bos_sparse_min_cells = 8192;
void (*compile_bos_observer)(const double *x, int D);

/* The dense pass. */
static void bos_residual(CCtx *c, double *x) {
    const CompiledModel *m = c->model;
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    double *z = arena_alloc(c->a, sizeof(double) * ((size_t)HK + 1)),
           *h = arena_alloc(c->a, sizeof(double) * ((size_t)M + 1));
    for (int d = 0; d < D; d++) x[d] = m->token_embed[(size_t)m->bos_id * D + d] + m->pos_embed[d];
    for (int l = 0; l < m->num_layers; l++) {
        const ModelLayer *L = &m->layers[l];
        for (int k = 0; k < HK; k++) z[k] = 0;
        for (int d = 0; d < D; d++) /* x is sparse at BOS */
            if (x[d] != 0)
                for (int k = 0; k < HK; k++) z[k] += x[d] * L->v[(size_t)d * HK + k];
        for (int k = 0; k < HK; k++)
            if (z[k] != 0)
                for (int d = 0; d < D; d++) x[d] += z[k] * L->o[(size_t)k * D + d];
        for (int k = 0; k < M; k++) h[k] = 0;
        for (int d = 0; d < D; d++)
            if (x[d] != 0)
                for (int k = 0; k < M; k++) h[k] += x[d] * L->w1[(size_t)d * M + k];
        for (int k = 0; k < M; k++)
            if (h[k] > 0)
                for (int d = 0; d < D; d++) x[d] += h[k] * L->w2[(size_t)k * D + d];
    }
}

/* A matrix's non-zeros by rows (CSR), built from the writes of assembly into one workspace
 * that serves every matrix in turn (each is used before the next is built). */
typedef struct Csr {
    int *start;  /* [rows + 1] */
    int *col;    /* [cells] */
    double *val; /* [cells] */
    int *order;  /* [cells] scratch: write indices grouped by row */
    int *fill;   /* [rows] scratch */
    int *stamp;  /* [cols]: the tag of the last row that held the column (tags never repeat) */
    int *pos;    /* [cols]: where that row's entry for the column is */
    int tag;
} Csr;

/* Repeated writes of one cell (dups: LayerCells.repeats) are summed in write
 * order: the dense cell received them by += from 0.0 in that order (a V or O cell is
 * written once). Returns false on a non-finite value. */
static bool csr_build(Csr *m, const CellList *cl, int rows, bool dups) {
    memset(m->start, 0, sizeof(int) * (size_t)(rows + 1));
    for (int i = 0; i < cl->n; i++) m->start[cl->row[i] + 1]++;
    for (int r = 0, run = 0; r < rows; r++) {
        m->fill[r] = run;
        run += m->start[r + 1];
        m->start[r + 1] = run;
    }
    if (!dups) {
        for (int i = 0; i < cl->n; i++) {
            int t = m->fill[cl->row[i]]++;
            m->col[t] = cl->col[i];
            m->val[t] = cl->val[i];
            if (!isfinite(cl->val[i])) return false;
        }
        return true;
    }
    for (int i = 0; i < cl->n; i++)
        m->order[m->fill[cl->row[i]]++] = i; /* stable: write order per row */
    int k = 0;
    for (int r = 0; r < rows; r++) {
        int b = m->start[r], e = m->start[r + 1];
        m->start[r] = k;
        int tag = ++m->tag;
        for (int t = b; t < e; t++) {
            int i = m->order[t], cc = cl->col[i];
            if (m->stamp[cc] == tag) {
                m->val[m->pos[cc]] += cl->val[i];
                continue;
            }
            m->stamp[cc] = tag;
            m->pos[cc] = k;
            m->col[k] = cc;
            m->val[k++] = cl->val[i];
        }
        for (int t = m->start[r]; t < k; t++)
            if (!isfinite(m->val[t])) return false;
    }
    m->start[rows] = k;
    return true;
}

/* bos_residual from the written cells: the same sums in the same order (per output, rows
 * ascending; the skipped terms are the dense pass's products with zero weights, which add
 * nothing to a finite sum). Returns false where that argument fails (a non-finite weight
 * or value, where 0 * inf makes the dense pass differ); the caller then runs the dense pass. */
static bool bos_residual_sparse(CCtx *c, double *x) {
    const CompiledModel *m = c->model;
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    int big = D > HK ? D : HK, cells = 0;
    if (M > big) big = M;
    for (int l = 0; l < m->num_layers; l++) {
        const LayerCells *lc = &c->cells[l];
        int n = lc->v.n > lc->o.n ? lc->v.n : lc->o.n;
        if (lc->w1.n > n) n = lc->w1.n;
        if (lc->w2.n > n) n = lc->w2.n;
        if (n > cells) cells = n;
    }
    Arena *a = c->a;
    double *z = arena_alloc(a, sizeof(double) * (size_t)(HK + 1));
    double *h = arena_alloc(a, sizeof(double) * (size_t)(M + 1));
    Csr w;
    w.start = arena_alloc(a, sizeof(int) * (size_t)(big + 2));
    w.fill = arena_alloc(a, sizeof(int) * (size_t)(big + 1));
    w.stamp = arena_alloc(a, sizeof(int) * (size_t)(big + 1));
    w.pos = arena_alloc(a, sizeof(int) * (size_t)(big + 1));
    w.col = arena_alloc(a, sizeof(int) * (size_t)(cells + 1));
    w.order = arena_alloc(a, sizeof(int) * (size_t)(cells + 1));
    w.val = arena_alloc(a, sizeof(double) * (size_t)(cells + 1));
    w.tag = 0;
    for (int d = 0; d < D; d++) x[d] = m->token_embed[(size_t)m->bos_id * D + d] + m->pos_embed[d];
    for (int l = 0; l < m->num_layers; l++) {
        const LayerCells *lc = &c->cells[l];
        for (int k = 0; k < HK; k++) z[k] = 0;
        if (!csr_build(&w, &lc->v, D, false)) return false;
        for (int d = 0; d < D; d++)
            if (x[d] != 0)
                for (int i = w.start[d]; i < w.start[d + 1]; i++) z[w.col[i]] += x[d] * w.val[i];
        if (!csr_build(&w, &lc->o, HK, false)) return false;
        for (int k = 0; k < HK; k++)
            if (z[k] != 0) {
                if (!isfinite(z[k])) return false;
                for (int i = w.start[k]; i < w.start[k + 1]; i++) x[w.col[i]] += z[k] * w.val[i];
            }
        for (int d = 0; d < D; d++)
            if (!isfinite(x[d])) return false;
        for (int k = 0; k < M; k++) h[k] = 0;
        if (!csr_build(&w, &lc->w1, D, lc->repeats)) return false;
        for (int d = 0; d < D; d++)
            if (x[d] != 0)
                for (int i = w.start[d]; i < w.start[d + 1]; i++) h[w.col[i]] += x[d] * w.val[i];
        if (!csr_build(&w, &lc->w2, M, lc->repeats)) return false;
        for (int k = 0; k < M; k++)
            if (h[k] > 0) {
                if (!isfinite(h[k])) return false;
                for (int i = w.start[k]; i < w.start[k + 1]; i++) x[w.col[i]] += h[k] * w.val[i];
            }
        for (int d = 0; d < D; d++)
            if (!isfinite(x[d])) return false;
    }
    return true;
}

/* Both passes give the same bits; the sparse one pays for its row lists, which only wide
 * layers repay. */
bool compile_bos_uses_cells(int D, int HK, int M) {
    return (double)D * (HK + M) >= compile_bos_sparse_min_cells;
}

void compile_bos_residual(CCtx *c, double *x) {
    const CompiledModel *m = c->model;
    if (!c->cells || !bos_residual_sparse(c, x)) bos_residual(c, x);
    if (compile_bos_observer) compile_bos_observer(x, m->residual_dim);
}
