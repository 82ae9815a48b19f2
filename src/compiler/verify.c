/* forward == interpreter, on every input up to max_seq_len or on a seeded random sample. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/model.h"
#include "rasp/rasp.h"

static unsigned long long rng_next(unsigned long long *s) {
    unsigned long long x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static bool outputs_match(const CompiledModel *m, Value got, double raw, Value want) {
    if (m->output_numerical) {
        if (!val_is_number(want)) return false;
        double w = val_as_double(want);
        return fabs(raw - w) <= 1e-5 + 0.005 * fabs(w);
    }
    return val_eq(got, want);
}

/* "input [xs] position t: model GOT, RASP WANT" (WANT None when want is NULL), for the
 * report's first mismatch or first undefined position. */
static void describe_position(const CompiledModel *m, const Value *xs, int len, int t, Value got,
                              double raw, const Value *want, char *out, size_t cap) {
    char in[200] = "", gb[64], wb[64] = "None";
    size_t used = 0;
    for (int u = 0; u < len && used < sizeof in - 40; u++) {
        char vb[32];
        val_repr_fmt(xs[u], vb, sizeof vb);
        used += (size_t)snprintf(in + used, sizeof in - used, "%s%s", u ? " " : "", vb);
    }
    if (m->output_numerical) snprintf(gb, sizeof gb, "%.9g", raw);
    else val_repr_fmt(got, gb, sizeof gb);
    if (want) val_repr_fmt(*want, wb, sizeof wb);
    snprintf(out, cap, "input [%s] position %d: model %s, RASP %s", in, t, gb, wb);
}

int compile_verify(const CompiledModel *m, const RaspProgram *p, int n, unsigned long long seed,
                   VerifyReport *rep, char *err, size_t errcap) {
    memset(rep, 0, sizeof *rep);
    int V = 0;
    Value *voc = malloc(sizeof(Value) * (size_t)m->vocab_size);
    for (int i = 0; i < m->vocab_size; i++)
        if (i != m->bos_id && i != m->pad_id) voc[V++] = m->tokens[i];
    int N = m->max_seq_len;
    double total = 0;
    for (int l = 1; l <= N; l++) total += pow((double)V, l);
    rep->exhaustive = total <= (double)n;
    if (V == 0) {
        free(voc);
        snprintf(err, errcap, "the model has an empty vocabulary");
        return -1;
    }
    unsigned long long st = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
    if (!st) st = 1;
    const int BATCH = 256;
    int *ids = malloc(sizeof(int) * (size_t)BATCH * (N + 1));
    int *digits = malloc(sizeof(int) * (size_t)BATCH * N);
    double *y = malloc(sizeof(double) * (size_t)BATCH * (N + 1) * m->n_out);
    Value *xs = malloc(sizeof(Value) * (size_t)N), *want = malloc(sizeof(Value) * (size_t)N);
    int rc = 0;
    FwdSparse *sp = fwd_sparse_new(m); /* once for every batch */
    for (int len = 1; len <= N && rc >= 0; len++) {
        long long count;
        if (rep->exhaustive) count = (long long)llround(pow((double)V, len));
        else { /* spread the sample over lengths in proportion to 1 (short) .. N */
            count = n / N + (len <= n % N ? 1 : 0);
        }
        long long done = 0;
        while (done < count && rc >= 0) {
            int b = (int)(count - done < BATCH ? count - done : BATCH);
            for (int k = 0; k < b; k++) {
                long long code = done + k;
                ids[k * (len + 1)] = m->bos_id;
                for (int t = 0; t < len; t++) {
                    int d;
                    if (rep->exhaustive) {
                        d = (int)(code % V);
                        code /= V;
                    } else {
                        d = (int)(rng_next(&st) % (unsigned long long)V);
                    }
                    digits[k * N + t] = d;
                    ids[k * (len + 1) + t + 1] = model_token_id(m, voc[d]);
                }
            }
            if (model_forward_f64_sparse(m, sp, ids, b, len + 1, y, err, errcap)) {
                rc = -1;
                break;
            }
            for (int k = 0; k < b; k++) {
                for (int t = 0; t < len; t++) xs[t] = voc[digits[k * N + t]];
                char e2[256];
                rep->n_inputs++;
                if (rasp_interp(p, xs, len, m->causal, want, e2, sizeof e2)) {
                    rep->n_skipped++;
                    continue;
                }
                bool bad = false, none = false;
                for (int t = 0; t < len; t++) {
                    double raw;
                    Value got =
                        model_decode_row(m, y + ((size_t)k * (len + 1) + t + 1) * m->n_out, &raw);
                    if (want[t].kind == VAL_NONE) {
                        /* nothing to compare with, but not a match either: the model's value
                         * here is meaningless, and a user reading the model cannot tell */
                        rep->n_none++;
                        if (!none && !rep->first_none[0])
                            describe_position(m, xs, len, t, got, raw, NULL, rep->first_none,
                                              sizeof rep->first_none);
                        none = true;
                        continue;
                    }
                    rep->n_positions++;
                    if (!outputs_match(m, got, raw, want[t])) {
                        if (!bad && !rep->first_mismatch[0])
                            describe_position(m, xs, len, t, got, raw, &want[t],
                                              rep->first_mismatch, sizeof rep->first_mismatch);
                        bad = true;
                    }
                }
                if (none) rep->n_none_inputs++;
                if (bad) {
                    rep->n_mismatch++;
                    rc = 1;
                }
            }
            done += b;
        }
    }
    fwd_sparse_free(sp);
    free(voc);
    free(ids);
    free(digits);
    free(y);
    free(xs);
    free(want);
    return rc;
}
