/* model_forward_f64 (the sparse pass of compiler/forward_sparse.c) against a plain dense
 * forward written here from docs/tracr.md §2.7, on every classic program and random
 * inputs of every length, and against the same reference when a weight is not finite (the
 * pass must then fall back to dense arithmetic, NaN included). */
#include <math.h>

#include "compiler/model.h"
#include "rasp/rasp.h"
#include "test.h"

static unsigned long long S = 0x5eed5eedULL;
static unsigned rnd(unsigned n) {
    S ^= S << 13;
    S ^= S >> 7;
    S ^= S << 17;
    return (unsigned)(S % n);
}

/* Dense reference: x = tok + pos; per layer x += softmax(q k^T / sqrt(ks)) v Wo (per head,
 * causal mask if set), x += relu(x W1) W2; out = x U. ids [T], out [T, n_out]. */
static void ref_forward(const CompiledModel *m, const int *ids, int T, double *out) {
    int D = m->residual_dim, H = m->num_heads, ks = m->key_size, HK = H * ks,
        M = m->mlp_hidden_size;
    double *x = calloc((size_t)T * D, sizeof(double)), *q = calloc((size_t)T * HK, sizeof(double));
    double *k = calloc((size_t)T * HK, sizeof(double)), *v = calloc((size_t)T * HK, sizeof(double));
    double *z = calloc((size_t)T * HK, sizeof(double)),
           *h = calloc((size_t)T * M + 1, sizeof(double));
    double *a = calloc((size_t)T, sizeof(double));
    for (int t = 0; t < T; t++)
        for (int d = 0; d < D; d++)
            x[t * D + d] = m->token_embed[(size_t)ids[t] * D + d] + m->pos_embed[(size_t)t * D + d];
    for (int l = 0; l < m->num_layers; l++) {
        const ModelLayer *L = &m->layers[l];
        for (int t = 0; t < T; t++)
            for (int c = 0; c < HK; c++) {
                double sq = 0, sk = 0, sv = 0;
                for (int d = 0; d < D; d++) {
                    sq += x[t * D + d] * L->q[(size_t)d * HK + c];
                    sk += x[t * D + d] * L->k[(size_t)d * HK + c];
                    sv += x[t * D + d] * L->v[(size_t)d * HK + c];
                }
                q[t * HK + c] = sq, k[t * HK + c] = sk, v[t * HK + c] = sv, z[t * HK + c] = 0;
            }
        for (int hd = 0; hd < H; hd++)
            for (int i = 0; i < T; i++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    double s = 0;
                    for (int c = 0; c < ks; c++)
                        s += q[i * HK + hd * ks + c] * k[j * HK + hd * ks + c];
                    a[j] = (m->causal && j > i) ? -1e30 : s / sqrt((double)ks);
                    if (a[j] > mx) mx = a[j];
                }
                for (int j = 0; j < T; j++) sum += (a[j] = exp(a[j] - mx));
                for (int j = 0; j < T; j++)
                    for (int c = 0; c < ks; c++)
                        z[i * HK + hd * ks + c] += a[j] / sum * v[j * HK + hd * ks + c];
            }
        for (int t = 0; t < T; t++)
            for (int d = 0; d < D; d++) {
                double s = 0;
                for (int c = 0; c < HK; c++) s += z[t * HK + c] * L->o[(size_t)c * D + d];
                x[t * D + d] += s;
            }
        for (int t = 0; t < T; t++)
            for (int c = 0; c < M; c++) {
                double s = 0;
                for (int d = 0; d < D; d++) s += x[t * D + d] * L->w1[(size_t)d * M + c];
                h[t * M + c] = s < 0 ? 0 : s; /* relu keeps NaN, as jax.nn.relu */
            }
        for (int t = 0; t < T; t++)
            for (int d = 0; d < D; d++) {
                double s = 0;
                for (int c = 0; c < M; c++) s += h[t * M + c] * L->w2[(size_t)c * D + d];
                x[t * D + d] += s;
            }
    }
    for (int t = 0; t < T; t++)
        for (int o = 0; o < m->n_out; o++) {
            double s = 0;
            for (int d = 0; d < D; d++) s += x[t * D + d] * m->unembed[(size_t)d * m->n_out + o];
            out[t * m->n_out + o] = s;
        }
    free(x), free(q), free(k), free(v), free(z), free(h), free(a);
}

static const char *PROGS[] = {"count",   "count_less_freq", "detect_pattern",   "frac_prevs",
                              "hist",    "length",          "nary_sequencemap", "pair_balance",
                              "reverse", "shift_by",        "shuffle_dyck",     "shuffle_dyck2",
                              "sort",    "sort_freq",       "sort_unique"};

static CompiledModel *compile_fixture(const char *name, RaspProgram *p) {
    char path[256], err[512];
    snprintf(path, sizeof path, "tests/fixtures/tracr/%s.rasp", name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    CompiledModel *m = NULL;
    if (rasp_parse(path, text, p, err, sizeof err)) return NULL;
    if (compile_program(p, NULL, &m, err, sizeof err)) {
        rasp_program_free(p);
        return NULL;
    }
    return m;
}

/* Compares model_forward_f64 with ref_forward on B random inputs of each length. Returns the
 * largest deviation relative to 1 + |reference|; NaN where exactly one side is NaN. */
static double compare(const CompiledModel *m, int B) {
    int N = m->max_seq_len, NO = m->n_out;
    double worst = 0;
    char err[256];
    for (int T = 1; T <= N + 1; T++) {
        int *ids = malloc(sizeof(int) * (size_t)B * T);
        double *got = malloc(sizeof(double) * (size_t)B * T * NO),
               *want = malloc(sizeof(double) * (size_t)T * NO);
        for (int b = 0; b < B; b++) {
            ids[b * T] = m->bos_id;
            for (int t = 1; t < T; t++) {
                int id;
                do id = (int)rnd((unsigned)m->vocab_size);
                while (id == m->bos_id || id == m->pad_id);
                ids[b * T + t] = id;
            }
        }
        CHECK(model_forward_f64(m, ids, B, T, got, err, sizeof err) == 0);
        for (int b = 0; b < B; b++) {
            ref_forward(m, ids + b * T, T, want);
            for (int i = 0; i < T * NO; i++) {
                double g = got[(size_t)b * T * NO + i], w = want[i];
                if (isnan(g) != isnan(w)) return NAN;
                if (isnan(w)) continue;
                double d = fabs(g - w) / (1 + fabs(w));
                if (d > worst) worst = d;
            }
        }
        free(ids), free(got), free(want);
    }
    return worst;
}

static void test_matches_dense_reference(void) {
    for (size_t i = 0; i < sizeof PROGS / sizeof PROGS[0]; i++) {
        RaspProgram p;
        CompiledModel *m = compile_fixture(PROGS[i], &p);
        CHECK_MSG(m != NULL, "%s does not compile", PROGS[i]);
        if (!m) continue;
        double dev = compare(m, 7);
        CHECK_MSG(dev <= 1e-12, "%s: sparse forward deviates by %g from the dense reference",
                  PROGS[i], dev);
        compiled_model_free(m);
        rasp_program_free(&p);
    }
}

/* A NaN or a huge weight: the sparse pass would drop 0 * NaN terms, so it must not be used. */
static void test_non_finite_weights_fall_back(void) {
    RaspProgram p;
    CompiledModel *m = compile_fixture("frac_prevs", &p);
    CHECK(m != NULL);
    if (!m) return;
    int D = m->residual_dim, M = m->mlp_hidden_size;
    m->layers[0].w1[(size_t)(D - 1) * M] = NAN; /* a row that is zero in most inputs */
    double dev = compare(m, 3);
    CHECK_MSG(!isnan(dev) && dev <= 1e-12, "NaN weight: deviation %g", dev);
    m->layers[0].w1[(size_t)(D - 1) * M] = 1e300;
    dev = compare(m, 3);
    CHECK_MSG(!isnan(dev), "huge weight: NaN pattern differs");
    compiled_model_free(m);
    rasp_program_free(&p);
}

int main(void) {
    RUN(test_matches_dense_reference);
    RUN(test_non_finite_weights_fall_back);
    TEST_END();
}
