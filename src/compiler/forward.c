/* Forward pass of the assembled model, input encoding and output decoding
 * (docs/tracr.md §2.7 and §3). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/forward_sparse.h"
#include "compiler/model.h"

#define REAL double
#define GEMM cblas_dgemm
#define FWD_NAME(s) fwd64##s
#include "compiler/forward_impl.h"
#undef REAL
#undef GEMM
#undef FWD_NAME
#define REAL float
#define GEMM cblas_sgemm
#define FWD_NAME(s) fwd32##s
#include "compiler/forward_impl.h"
#undef REAL
#undef GEMM
#undef FWD_NAME

/* All weights are one contiguous block starting at token_embed (compile and load both
 * allocate them so). */
static size_t weight_count(const CompiledModel *m) {
    size_t D = (size_t)m->residual_dim, HK = (size_t)m->num_heads * m->key_size,
           M = (size_t)m->mlp_hidden_size;
    size_t per_layer = 3 * D * HK + HK * D + 2 * D * M;
    return (size_t)m->vocab_size * D + (size_t)(m->max_seq_len + 1) * D +
           per_layer * m->num_layers + D * (size_t)m->n_out;
}

static int check_ids(const CompiledModel *m, const int *ids, int B, int T, char *err,
                     size_t errcap) {
    if (B < 0 || T < 1 || T > m->max_seq_len + 1) {
        snprintf(err, errcap, "input length %d is outside 1..%d (BOS included)", T,
                 m->max_seq_len + 1);
        return 1;
    }
    for (int i = 0; i < B * T; i++)
        if (ids[i] < 0 || ids[i] >= m->vocab_size) {
            snprintf(err, errcap, "token id %d is outside 0..%d", ids[i], m->vocab_size - 1);
            return 1;
        }
    return 0;
}

int model_forward_f64(const CompiledModel *m, const int *token_ids, int B, int T, double *out,
                      char *err, size_t errcap) {
    if (check_ids(m, token_ids, B, T, err, errcap)) return 1;
    if (B == 0) return 0;
    FwdSparse *s = fwd_sparse_new(m);
    if (!s || fwd_sparse_run(m, s, token_ids, B, T, out))
        fwd64_run(m, m->token_embed, token_ids, B, T, out);
    fwd_sparse_free(s);
    return 0;
}

int model_forward_f64_sparse(const CompiledModel *m, FwdSparse *s, const int *token_ids, int B,
                             int T, double *out, char *err, size_t errcap) {
    if (check_ids(m, token_ids, B, T, err, errcap)) return 1;
    if (B == 0) return 0;
    if (!s || fwd_sparse_run(m, s, token_ids, B, T, out))
        fwd64_run(m, m->token_embed, token_ids, B, T, out);
    return 0;
}

int model_forward_f32(const CompiledModel *m, const int *token_ids, int B, int T, float *out,
                      char *err, size_t errcap) {
    if (check_ids(m, token_ids, B, T, err, errcap)) return 1;
    if (B == 0) return 0;
    size_t n = weight_count(m);
    float *w = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) w[i] = (float)m->token_embed[i];
    fwd32_run(m, w, token_ids, B, T, out);
    free(w);
    return 0;
}

int model_token_id(const CompiledModel *m, Value v) {
    for (int i = 0; i < m->vocab_size; i++)
        if (val_eq(m->tokens[i], v)) return i;
    return -1;
}

int model_encode(const CompiledModel *m, const Value *xs, int n, int *ids, char *err,
                 size_t errcap) {
    if (n > m->max_seq_len) {
        snprintf(err, errcap, "input has %d tokens; the model accepts at most max_seq_len = %d", n,
                 m->max_seq_len);
        return 1;
    }
    ids[0] = m->bos_id;
    for (int i = 0; i < n; i++) {
        ids[i + 1] = model_token_id(m, xs[i]);
        if (ids[i + 1] < 0) {
            char vb[128];
            val_repr_fmt(xs[i], vb, sizeof vb);
            snprintf(err, errcap, "token %s (position %d) is not in the vocabulary", vb, i);
            return 1;
        }
    }
    return 0;
}

Value model_decode_row(const CompiledModel *m, const double *row, double *raw) {
    if (m->output_numerical) {
        if (raw) *raw = row[0];
        return val_float(row[0]);
    }
    int best = 0;
    for (int j = 1; j < m->n_out; j++)
        if (row[j] > row[best]) best = j;
    if (raw) *raw = row[best];
    return m->out_values[best];
}

int model_run(const CompiledModel *m, const Value *xs, int n, bool use_f64, Value *out_decoded,
              double *out_raw, char *err, size_t errcap) {
    int *ids = malloc(sizeof(int) * (size_t)(n + 1));
    double *y = malloc(sizeof(double) * (size_t)(n + 1) * (size_t)m->n_out);
    int rc = model_encode(m, xs, n, ids, err, errcap);
    if (!rc) {
        if (use_f64) {
            rc = model_forward_f64(m, ids, 1, n + 1, y, err, errcap);
        } else {
            float *yf = malloc(sizeof(float) * (size_t)(n + 1) * (size_t)m->n_out);
            rc = model_forward_f32(m, ids, 1, n + 1, yf, err, errcap);
            for (size_t i = 0; i < (size_t)(n + 1) * (size_t)m->n_out; i++) y[i] = yf[i];
            free(yf);
        }
    }
    if (!rc)
        for (int i = 0; i < n; i++) {
            double raw;
            Value d = model_decode_row(m, y + (size_t)(i + 1) * m->n_out, &raw);
            if (out_decoded) out_decoded[i] = d;
            if (out_raw) out_raw[i] = raw;
        }
    free(ids);
    free(y);
    return rc;
}
