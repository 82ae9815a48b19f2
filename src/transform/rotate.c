/* Random orthogonal change of basis of the residual stream (transform.h). */
#include <cblas.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transform/tf_internal.h"
#include "util/errmsg.h"

/* LAPACK (Fortran interface; OpenBLAS ships it and Debian has no LAPACKE header in the
 * packages the project already needs). Column-major. */
extern void dgeqrf_(const int *m, const int *n, double *a, const int *lda, double *tau,
                    double *work, const int *lwork, int *info);
extern void dorgqr_(const int *m, const int *n, const int *k, double *a, const int *lda,
                    const double *tau, double *work, const int *lwork, int *info);

int tf_haar_orthogonal(int n, Rng *r, double *q, char *err, size_t errcap) {
    if (n < 1) return err_printf(err, errcap, "orthogonal matrix of size %d", n);
    size_t nn = (size_t)n * (size_t)n;
    double *a = malloc(sizeof(double) * nn); /* [n, n] column-major */
    double *tau = malloc(sizeof(double) * (size_t)n);
    double *sgn = malloc(sizeof(double) * (size_t)n);
    int lwork = 64 * n, info = 0;
    double *work = malloc(sizeof(double) * (size_t)lwork);
    if (!a || !tau || !sgn || !work) {
        free(a), free(tau), free(sgn), free(work);
        return err_printf(err, errcap, "out of memory");
    }
    for (size_t i = 0; i < nn; i++) a[i] = rng_normal(r);
    dgeqrf_(&n, &n, a, &n, tau, work, &lwork, &info);
    if (info == 0) {
        /* Q diag(sign(R_jj)) is Haar-distributed; Q alone is not (Mezzadri 2007). */
        for (int j = 0; j < n; j++) sgn[j] = a[(size_t)j * n + j] < 0 ? -1.0 : 1.0;
        dorgqr_(&n, &n, &n, a, &n, tau, work, &lwork, &info);
    }
    if (info == 0)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) q[(size_t)i * n + j] = a[(size_t)j * n + i] * sgn[j];
    free(a), free(tau), free(sgn), free(work);
    if (info != 0) return err_printf(err, errcap, "LAPACK QR failed (info %d)", info);
    return 0;
}

/* w [rows, D] <- w r (r [D, D]) */
static void right_mul(double *w, int rows, int D, const double *r, double *tmp) {
    if (rows == 0) return;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, D, D, 1, w, D, r, D, 0, tmp, D);
    memcpy(w, tmp, sizeof(double) * (size_t)rows * D);
}

/* w [D, cols] <- rinv w */
static void left_mul(double *w, int D, int cols, const double *rinv, double *tmp) {
    if (cols == 0) return;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, D, cols, D, 1, rinv, D, w, cols, 0, tmp,
                cols);
    memcpy(w, tmp, sizeof(double) * (size_t)D * cols);
}

void tf_change_basis(CompiledModel *m, const double *r, const double *rinv) {
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    int widest = m->vocab_size;
    int cand[4] = {m->max_seq_len + 1, HK, M, m->n_out};
    for (int i = 0; i < 4; i++)
        if (cand[i] > widest) widest = cand[i];
    double *tmp = malloc(sizeof(double) * (size_t)widest * D); /* [widest, D] or [D, widest] */
    if (!tmp) abort();
    right_mul(m->token_embed, m->vocab_size, D, r, tmp);
    right_mul(m->pos_embed, m->max_seq_len + 1, D, r, tmp);
    for (int l = 0; l < m->num_layers; l++) {
        ModelLayer *L = &m->layers[l];
        left_mul(L->q, D, HK, rinv, tmp);
        left_mul(L->k, D, HK, rinv, tmp);
        left_mul(L->v, D, HK, rinv, tmp);
        right_mul(L->o, HK, D, r, tmp);
        left_mul(L->w1, D, M, rinv, tmp);
        right_mul(L->w2, M, D, r, tmp);
    }
    left_mul(m->unembed, D, m->n_out, rinv, tmp);
    free(tmp);
}

int tf_rotate(CompiledModel *m, uint64_t seed, char *err, size_t errcap) {
    int D = m->residual_dim;
    double *r = malloc(sizeof(double) * (size_t)D * D);  /* [D, D] */
    double *rt = malloc(sizeof(double) * (size_t)D * D); /* [D, D] = r^T = r^-1 */
    if (!r || !rt) {
        free(r), free(rt);
        return err_printf(err, errcap, "out of memory");
    }
    Rng g;
    rng_seed(&g, seed ^ 0x726f74617465ULL); /* "rotate": other transforms of the same seed differ */
    int rc = tf_haar_orthogonal(D, &g, r, err, errcap);
    if (!rc) {
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++) rt[(size_t)j * D + i] = r[(size_t)i * D + j];
        tf_change_basis(m, r, rt);
        tf_relabel_residual(m, "rot");
        tf_note(m, "rotate", seed);
    }
    free(r), free(rt);
    return rc;
}
