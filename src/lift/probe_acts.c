/* probe's activation store: the model's residual stream, attention and outputs on many
 * inputs (probe_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "compiler/trace.h"
#include "lift/probe_internal.h"
#include "util/errmsg.h"
#include "util/rng.h"

/* The store is float32: the analysis compares activations at the scale of their values,
 * far above float32's rounding, and halving it doubles the inputs that fit. */
#define PROBE_MAX_FLOATS (24L * 1024 * 1024)

void probe_acts_free(PAct *a) {
    free(a->vid), free(a->len), free(a->off), free(a->tok), free(a->tpos), free(a->inp);
    free(a->resid), free(a->attn), free(a->out);
    memset(a, 0, sizeof *a);
}

int probe_acts(const CompiledModel *m, int max_inputs, uint64_t seed, PAct *a, char *err,
               size_t errcap) {
    memset(a, 0, sizeof *a);
    int N = m->max_seq_len, D = m->residual_dim, L = m->num_layers, H = m->num_heads;
    a->N = N, a->D = D, a->L = L, a->H = H, a->S = 1 + 2 * L, a->n_out = m->n_out;
    a->vid = malloc(sizeof(int) * (size_t)m->vocab_size); /* [nv] */
    for (int i = 0; i < m->vocab_size; i++)
        if (i != m->bos_id && i != m->pad_id) a->vid[a->nv++] = i;
    if (a->nv == 0 || N < 1) {
        probe_acts_free(a);
        return err_printf(err, errcap, "the model has no input tokens");
    }
    /* floats per input: the stream at every stage and the attention of every head */
    size_t T1 = (size_t)N + 1;
    size_t per = T1 * ((size_t)a->S * D + (size_t)L * H * T1) + T1 * (size_t)m->n_out;
    long cap = (long)(PROBE_MAX_FLOATS / per);
    if (cap < 1) {
        probe_acts_free(a);
        return err_printf(err, errcap, "the model is too large to probe (%zu floats per input)",
                          per);
    }
    if (max_inputs > cap) max_inputs = (int)cap;
    double total = 0, pw = 1;
    for (int n = 1; n <= N; n++) total += (pw *= a->nv);
    bool all = total <= max_inputs;
    int n_in = all ? (int)total : max_inputs;
    a->n_in = n_in;
    a->len = malloc(sizeof(int) * (size_t)n_in);                   /* [n_in] */
    a->off = malloc(sizeof(int) * (size_t)n_in);                   /* [n_in] */
    int *seq = malloc(sizeof(int) * (size_t)n_in * (size_t)N);     /* [n_in, N] vocab indices */
    Rng g;
    rng_seed(&g, seed ^ 0x9e0be5u);
    int i = 0;
    if (all) {
        for (int n = 1; n <= N; n++) {
            int dig[64] = {0};
            for (;;) {
                a->len[i] = n;
                memcpy(seq + (size_t)i * N, dig, sizeof(int) * (size_t)n);
                i++;
                int t = n - 1;
                while (t >= 0 && ++dig[t] == a->nv) dig[t--] = 0;
                if (t < 0) break;
            }
        }
    } else {
        /* long inputs show more of each selection; every length still appears. A quarter
         * draw their tokens from one or two of the vocabulary's: uniform tokens almost never
         * repeat one token across a long input, and such inputs are where selections reach
         * every key or none (the largest selector widths), values a table must still hold */
        for (; i < n_in; i++) {
            int n = 1 + (int)rng_below(&g, (uint64_t)N);
            if (rng_below(&g, 2)) n = N;
            a->len[i] = n;
            int few[2] = {(int)rng_below(&g, (uint64_t)a->nv), (int)rng_below(&g, (uint64_t)a->nv)};
            int k = rng_below(&g, 4) == 0 ? 1 + (int)rng_below(&g, 2) : 0;
            for (int t = 0; t < n; t++)
                seq[(size_t)i * N + t] = k ? few[rng_below(&g, (uint64_t)k)]
                                           : (int)rng_below(&g, (uint64_t)a->nv);
        }
    }
    a->P = 0;
    for (i = 0; i < n_in; i++) a->off[i] = a->P, a->P += a->len[i];
    a->tok = malloc(sizeof(int) * (size_t)a->P);  /* [P] */
    a->tpos = malloc(sizeof(int) * (size_t)a->P); /* [P] */
    a->inp = malloc(sizeof(int) * (size_t)a->P);  /* [P] */
    a->resid = calloc((size_t)a->S * n_in * T1 * (size_t)D, sizeof(float));
    a->attn = calloc((size_t)L * H * n_in * T1 * T1, sizeof(float));
    a->out = malloc(sizeof(float) * (size_t)a->P * (size_t)m->n_out);
    Value *xs = malloc(sizeof(Value) * (size_t)N);
    if (!a->tok || !a->tpos || !a->inp || !a->resid || !a->attn || !a->out || !xs) abort();
    int rc = 0;
    for (i = 0; i < n_in && !rc; i++) {
        int n = a->len[i];
        for (int t = 0; t < n; t++) {
            int v = seq[(size_t)i * N + t];
            xs[t] = m->tokens[a->vid[v]];
            a->tok[a->off[i] + t] = v;
            a->tpos[a->off[i] + t] = t;
            a->inp[a->off[i] + t] = i;
        }
        ModelTrace tr;
        if (model_trace(m, xs, n, &tr, err, errcap)) {
            rc = 1;
            break;
        }
        for (int s = 0; s < a->S; s++) {
            float *dst = a->resid + (((size_t)s * n_in + i) * T1) * (size_t)D;
            const double *src = tr.resid + (size_t)s * (n + 1) * D;
            for (size_t k = 0; k < (size_t)(n + 1) * D; k++) dst[k] = (float)src[k];
        }
        for (int l = 0; l < L; l++)
            for (int h = 0; h < H; h++) {
                float *dst = a->attn + (((size_t)l * H + h) * n_in + i) * T1 * T1;
                const double *src = tr.attn + (((size_t)l * H + h) * (n + 1)) * (n + 1);
                for (int q = 0; q <= n; q++)
                    for (int k = 0; k <= n; k++) dst[q * T1 + k] = (float)src[q * (n + 1) + k];
            }
        for (int t = 1; t <= n; t++)
            for (int c = 0; c < m->n_out; c++)
                a->out[(size_t)(a->off[i] + t - 1) * m->n_out + c] =
                    (float)tr.out[(size_t)t * m->n_out + c];
        model_trace_free(&tr);
    }
    free(seq);
    free(xs);
    if (rc) probe_acts_free(a);
    return rc;
}
