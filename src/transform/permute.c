/* Head and hidden-unit permutations and positive rescalings (transform.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "transform/tf_internal.h"
#include "util/errmsg.h"

static void shuffle(int *p, int n, Rng *g) {
    for (int i = 0; i < n; i++) p[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rng_next(g) % (uint64_t)(i + 1));
        int t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

/* Columns of w [rows, cols], in blocks of width bw: new block b = old block perm[b]. */
static void permute_cols(double *w, int rows, int cols, int bw, const int *perm, double *tmp) {
    memcpy(tmp, w, sizeof(double) * (size_t)rows * cols);
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < cols / bw; b++)
            memcpy(w + (size_t)r * cols + (size_t)b * bw,
                   tmp + (size_t)r * cols + (size_t)perm[b] * bw, sizeof(double) * (size_t)bw);
}

/* Rows of w [rows, cols], in blocks of bw rows: new block b = old block perm[b]. */
static void permute_rows(double *w, int rows, int cols, int bw, const int *perm, double *tmp) {
    size_t blk = (size_t)bw * cols;
    memcpy(tmp, w, sizeof(double) * (size_t)rows * cols);
    for (int b = 0; b < rows / bw; b++)
        memcpy(w + (size_t)b * blk, tmp + (size_t)perm[b] * blk, sizeof(double) * blk);
}

int tf_permute(CompiledModel *m, uint64_t seed, char *err, size_t errcap) {
    int D = m->residual_dim, H = m->num_heads, ks = m->key_size, HK = H * ks,
        M = m->mlp_hidden_size;
    int *perm = malloc(sizeof(int) * (size_t)(H > M ? H : M));
    double *tmp = malloc(sizeof(double) * (size_t)D * (size_t)(HK > M ? HK : M)); /* one matrix */
    if (!perm || !tmp) {
        free(perm), free(tmp);
        return err_printf(err, errcap, "out of memory");
    }
    Rng g;
    rng_seed(&g, seed ^ 0x7065726d757465ULL); /* "permute" */
    for (int l = 0; l < m->num_layers; l++) {
        ModelLayer *L = &m->layers[l];
        shuffle(perm, H, &g);
        permute_cols(L->q, D, HK, ks, perm, tmp);
        permute_cols(L->k, D, HK, ks, perm, tmp);
        permute_cols(L->v, D, HK, ks, perm, tmp);
        permute_rows(L->o, HK, D, ks, perm, tmp);
        shuffle(perm, M, &g);
        permute_cols(L->w1, D, M, 1, perm, tmp);
        permute_rows(L->w2, M, D, 1, perm, tmp);
    }
    m->info = NULL; /* its head and unit labels are in the old order */
    tf_note(m, "permute", seed);
    free(perm), free(tmp);
    return 0;
}

/* log-uniform in [1/4, 4] */
static double draw_scale(Rng *g) { return exp((2.0 * rng_uniform(g) - 1.0) * log(4.0)); }

int tf_scale(CompiledModel *m, uint64_t seed, char *err, size_t errcap) {
    (void)err, (void)errcap;
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    Rng g;
    rng_seed(&g, seed ^ 0x7363616c65ULL); /* "scale" */
    for (int l = 0; l < m->num_layers; l++) {
        ModelLayer *L = &m->layers[l];
        for (int c = 0; c < HK; c++) {
            double s = draw_scale(&g), t = draw_scale(&g);
            for (int d = 0; d < D; d++) {
                L->q[(size_t)d * HK + c] *= s;
                L->k[(size_t)d * HK + c] /= s;
                L->v[(size_t)d * HK + c] *= t;
                L->o[(size_t)c * D + d] /= t;
            }
        }
        for (int j = 0; j < M; j++) {
            double s = draw_scale(&g);
            for (int d = 0; d < D; d++) {
                L->w1[(size_t)d * M + j] *= s;
                L->w2[(size_t)j * D + d] /= s;
            }
        }
    }
    tf_note(m, "scale", seed);
    return 0;
}
