/* probe's check: the given model's outputs on the check's inputs, computed once, against each
 * variant's compiled program (probe_internal.h). The given model may be dense (compressed,
 * distilled): running it once instead of once per variant halves the check's cost. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lift/probe_internal.h"
#include "util/errmsg.h"
#include "util/rng.h"

enum { REF_BATCH = 256 };

void probe_ref_free(PRef *r) {
    free(r->len), free(r->ids), free(r->out);
    memset(r, 0, sizeof *r);
}

/* The decoded value of a categorical row [n] where its top score beats the second by more
 * than half the row's largest magnitude and by 1e-3 (transform.h's rule: Tracr's rows are all
 * zero where the program's value is None), else None. */
static Value clear_value(const CompiledModel *m, const double *row) {
    if (m->output_numerical) return val_float(row[0]);
    int n = m->n_out, arg = 0;
    double t1 = -INFINITY, t2 = -INFINITY, big = 0;
    for (int j = 0; j < n; j++) {
        if (row[j] > t1) t2 = t1, t1 = row[j], arg = j;
        else if (row[j] > t2) t2 = row[j];
        if (fabs(row[j]) > big) big = fabs(row[j]);
    }
    if (n > 1 && !(t1 - t2 > 0.5 * big && t1 - t2 > 1e-3)) return val_none();
    return m->out_values[arg];
}

int probe_ref_init(const CompiledModel *m, const PAct *a, long max_inputs, uint64_t seed,
                   PRef *r, char *err, size_t errcap) {
    memset(r, 0, sizeof *r);
    int N = m->max_seq_len, T1 = N + 1;
    double total = 0, pw = 1;
    for (int n = 1; n <= N; n++) total += (pw *= a->nv);
    r->N = N;
    r->exhaustive = total <= (double)max_inputs;
    r->n_in = r->exhaustive ? (int)total : (int)max_inputs;
    r->len = malloc(sizeof(int) * (size_t)r->n_in);                 /* [n_in] */
    r->ids = malloc(sizeof(int) * (size_t)r->n_in * T1);            /* [n_in, N + 1] */
    r->out = malloc(sizeof(Value) * (size_t)r->n_in * (size_t)N);  /* [n_in, N] */
    double *y = malloc(sizeof(double) * REF_BATCH * (size_t)T1 * m->n_out); /* [B, T, n_out] */
    int *bid = malloc(sizeof(int) * REF_BATCH * (size_t)T1);                /* [B, T] */
    if (!r->len || !r->ids || !r->out || !y || !bid) abort();
    Rng g;
    rng_seed(&g, seed ^ 0xc4ec5u);
    int i = 0;
    for (int n = 1; n <= N; n++) {
        long count = r->exhaustive ? (long)llround(pow(a->nv, n))
                                   : max_inputs / N + (n <= max_inputs % N);
        for (long c = 0; c < count && i < r->n_in; c++, i++) {
            r->len[i] = n;
            int *row = r->ids + (size_t)i * T1;
            row[0] = m->bos_id;
            long code = c;
            for (int t = 1; t <= n; t++) {
                int v = r->exhaustive ? (int)(code % a->nv) : (int)rng_below(&g, (uint64_t)a->nv);
                code /= a->nv;
                row[t] = a->vid[v];
            }
        }
    }
    r->n_in = i;
    int rc = 0;
    for (int s = 0; s < r->n_in && !rc;) { /* batches of one length */
        int n = r->len[s], B = 0;
        while (s + B < r->n_in && B < REF_BATCH && r->len[s + B] == n) {
            memcpy(bid + (size_t)B * (n + 1), r->ids + (size_t)(s + B) * T1, sizeof(int) * (n + 1));
            B++;
        }
        if (model_forward_f64_sparse(m, NULL, bid, B, n + 1, y, err, errcap)) {
            rc = 1;
            break;
        }
        for (int b = 0; b < B; b++)
            for (int t = 1; t <= n; t++)
                r->out[(size_t)(s + b) * N + t - 1] =
                    clear_value(m, y + ((size_t)b * (n + 1) + t) * m->n_out);
        s += B;
    }
    free(y), free(bid);
    if (rc) probe_ref_free(r);
    return rc;
}

/* Equal decoded values; numerical outputs within eval's relative tolerance (equiv.h, 0.005)
 * plus 1e-3, since a compressed or distilled model only approximates its numbers. */
static bool same_output(const CompiledModel *given, Value want, Value got) {
    if (!given->output_numerical) return val_eq(got, want);
    if (want.kind != VAL_FLOAT || got.kind != VAL_FLOAT) return false;
    return fabs(got.u.f - want.u.f) <= 1e-3 + 5e-3 * fabs(want.u.f);
}

int probe_ref_compare(const PRef *r, const CompiledModel *given, const CompiledModel *cand,
                      PCompare *c, char *err, size_t errcap) {
    memset(c, 0, sizeof *c);
    int N = r->N, T1 = N + 1;
    int *map = malloc(sizeof(int) * (size_t)given->vocab_size); /* [V] given id -> cand id */
    for (int v = 0; v < given->vocab_size; v++) map[v] = model_token_id(cand, given->tokens[v]);
    double *y = malloc(sizeof(double) * REF_BATCH * (size_t)T1 * cand->n_out); /* [B, T, n_out] */
    int *bid = malloc(sizeof(int) * REF_BATCH * (size_t)T1);                   /* [B, T] */
    FwdSparse *sp = fwd_sparse_new(cand);
    int rc = 0;
    for (int s = 0; s < r->n_in && !rc;) {
        int n = r->len[s], B = 0;
        while (s + B < r->n_in && B < REF_BATCH && r->len[s + B] == n) {
            for (int t = 0; t <= n; t++) {
                int id = map[r->ids[(size_t)(s + B) * T1 + t]];
                if (id < 0) {
                    rc = err_printf(err, errcap, "the program's model lacks a token of the given model");
                    break;
                }
                bid[(size_t)B * (n + 1) + t] = id;
            }
            if (rc) break;
            B++;
        }
        if (rc || model_forward_f64_sparse(cand, sp, bid, B, n + 1, y, err, errcap)) {
            rc = 1;
            break;
        }
        for (int b = 0; b < B; b++) {
            bool all = true;
            for (int t = 1; t <= n; t++) {
                Value want = r->out[(size_t)(s + b) * N + t - 1];
                if (want.kind == VAL_NONE) continue;
                Value got = model_decode_row(cand, y + ((size_t)b * (n + 1) + t) * cand->n_out, NULL);
                c->n_positions++;
                if (same_output(given, want, got)) {
                    c->n_positions_match++;
                    continue;
                }
                if (all && !c->first[0]) {
                    int k = snprintf(c->first, sizeof c->first, "input");
                    for (int u = 1; u <= n && k < 160; u++) {
                        char v[48];
                        val_repr_fmt(given->tokens[r->ids[(size_t)(s + b) * T1 + u]], v, sizeof v);
                        k += snprintf(c->first + k, sizeof c->first - (size_t)k, " %s", v);
                    }
                    char v1[48], v2[48];
                    val_repr_fmt(want, v1, sizeof v1);
                    val_repr_fmt(got, v2, sizeof v2);
                    snprintf(c->first + k, sizeof c->first - (size_t)k,
                             ", position %d: model %s, program %s", t - 1, v1, v2);
                }
                all = false;
            }
            c->n_inputs++;
            c->n_inputs_match += all;
        }
        s += B;
    }
    fwd_sparse_free(sp);
    free(map), free(y), free(bid);
    return rc;
}
