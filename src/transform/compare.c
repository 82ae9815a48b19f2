/* Behaviour of a transformed model against its reference on every input (transform.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transform/transform.h"
#include "util/errmsg.h"

enum { CMP_BATCH = 256 };

/* Real tokens (BOS and PAD excluded) of m into ids; returns their count. */
static int real_tokens(const CompiledModel *m, int *ids) {
    int n = 0;
    for (int i = 0; i < m->vocab_size; i++)
        if (i != m->bos_id && i != m->pad_id) ids[n++] = i;
    return n;
}

/* Whether ref's row [n_out] has a defined categorical value (see transform.h). */
static bool clear_winner(const double *row, int n) {
    if (n == 1) return true;
    double t1 = -INFINITY, t2 = -INFINITY, big = 0;
    for (int j = 0; j < n; j++) {
        if (row[j] > t1) t2 = t1, t1 = row[j];
        else if (row[j] > t2) t2 = row[j];
        if (fabs(row[j]) > big) big = fabs(row[j]);
    }
    return t1 - t2 > 0.5 * big && t1 - t2 > 1e-3;
}

static void compare_batch(const CompiledModel *a, const CompiledModel *ref, const int *ids, int B,
                          int T, const double *ya, const double *yr, double rtol, double atol,
                          TfCompare *rep) {
    int NO = ref->n_out, NA = a->n_out;
    for (int b = 0; b < B; b++) {
        bool all = true;
        for (int t = 1; t < T; t++) {
            const double *ra = ya + ((size_t)b * T + t) * NA, *rr = yr + ((size_t)b * T + t) * NO;
            for (int j = 0; j < NO; j++) {
                /* rows of different columns have no entrywise difference */
                double d = NA == NO ? fabs(ra[j] - rr[j]) : 0;
                if (!(d <= rep->max_abs_diff)) rep->max_abs_diff = d; /* NaN sticks */
                if (fabs(rr[j]) > rep->max_ref_abs) rep->max_ref_abs = fabs(rr[j]);
            }
            bool ok;
            if (ref->output_numerical) {
                ok = fabs(ra[0] - rr[0]) <= atol + rtol * fabs(rr[0]);
            } else if (!clear_winner(rr, NO)) {
                rep->n_skipped++;
                continue;
            } else {
                ok = val_eq(model_decode_row(a, ra, NULL), model_decode_row(ref, rr, NULL));
            }
            rep->n_positions++;
            if (ok) {
                rep->n_positions_match++;
            } else {
                if (all && !rep->first_mismatch[0]) {
                    int len =
                        snprintf(rep->first_mismatch, sizeof rep->first_mismatch, "input ids [");
                    for (int u = 1; u < T && len < 200; u++)
                        len += snprintf(rep->first_mismatch + len,
                                        sizeof rep->first_mismatch - (size_t)len, "%s%d",
                                        u > 1 ? " " : "", ids[b * T + u]);
                    snprintf(rep->first_mismatch + len, sizeof rep->first_mismatch - (size_t)len,
                             "], position %d: %.6g vs %.6g", t - 1, ra[0], rr[0]);
                }
                all = false;
            }
        }
        rep->n_inputs++;
        if (all) rep->n_inputs_match++;
    }
}

int tf_compare(const CompiledModel *a, const CompiledModel *ref, long max_inputs, uint64_t seed,
               double rtol, double atol, TfCompare *rep, char *err, size_t errcap) {
    memset(rep, 0, sizeof *rep);
    if (a->vocab_size != ref->vocab_size || a->max_seq_len != ref->max_seq_len ||
        (ref->output_numerical && a->n_out != ref->n_out) ||
        a->output_numerical != ref->output_numerical || a->bos_id != ref->bos_id)
        return err_printf(err, errcap, "the models differ in vocabulary, length or output");
    int N = ref->max_seq_len, T1 = N + 1;
    int *tok = malloc(sizeof(int) * (size_t)ref->vocab_size); /* [V] real token ids */
    int *ids = malloc(sizeof(int) * (size_t)CMP_BATCH * T1);  /* [B, T] */
    double *ya = malloc(sizeof(double) * (size_t)CMP_BATCH * T1 * a->n_out); /* [B, T, a's n_out] */
    double *yr = malloc(sizeof(double) * (size_t)CMP_BATCH * T1 * ref->n_out);
    if (!tok || !ids || !ya || !yr) abort();
    int V = real_tokens(ref, tok), rc = 0;
    double total = 0;
    for (int n = 1; n <= N; n++) total += pow((double)V, n);
    rep->exhaustive = total <= (double)max_inputs;
    Rng g;
    rng_seed(&g, seed);
    for (int n = 1; n <= N && !rc; n++) {
        int T = n + 1;
        long count = rep->exhaustive ? (long)pow((double)V, n)
                                     : (long)((double)max_inputs / N + (n <= max_inputs % N));
        for (long start = 0; start < count && !rc; start += CMP_BATCH) {
            int B = (int)(count - start < CMP_BATCH ? count - start : CMP_BATCH);
            for (int b = 0; b < B; b++) {
                int *row = ids + (size_t)b * T;
                row[0] = ref->bos_id;
                long code = start + b;
                for (int t = 1; t < T; t++) {
                    if (rep->exhaustive) {
                        row[t] = tok[code % V];
                        code /= V;
                    } else {
                        row[t] = tok[rng_next(&g) % (uint64_t)V];
                    }
                }
            }
            rc = model_forward_f64_sparse(a, NULL, ids, B, T, ya, err, errcap) ||
                 model_forward_f64_sparse(ref, NULL, ids, B, T, yr, err, errcap);
            if (!rc) compare_batch(a, ref, ids, B, T, ya, yr, rtol, atol, rep);
        }
    }
    free(tok), free(ids), free(ya), free(yr);
    return rc;
}
