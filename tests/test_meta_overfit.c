/* A tiny meta-model (d=32, 2 layers) must overfit 6 synthetic samples — random weight-token
 * payloads of different lengths, each mapped to its own fixed random program — to 100% exact
 * greedy decodes within a few seconds. The same trained model checks the decoders: the
 * KV-cached greedy decode agrees with teacher-forced full forwards, beam search finds the
 * same programs, and a constraint callback is obeyed. */
#include <stdint.h>
#include <stdlib.h>

#include "meta/meta.h"
#include "test.h"
#include "util/rng.h"

enum { NS = 6, P = 8, T = 10, F = 12, K = 2, V = 16, BOS = 0, EOS = 1 };

static float g_pay[NS * P * F];
static int32_t g_ids[NS * P * K], g_plen[NS], g_tok[NS * T], g_tgt[NS * T], g_prog[NS][T],
    g_len[NS];
static MetaModel g_m;
static int g_trained;

static MetaConfig cfg(void) {
    MetaConfig c = {0};
    c.d_model = 32, c.n_head = 4, c.n_layer = 2, c.mlp_ratio = 4, c.payload_dim = F;
    c.n_id_fields = K, c.id_vocab[0] = 4, c.id_vocab[1] = P;
    c.vocab = V, c.max_prefix = P, c.max_prog = T;
    return c;
}

static void make_data(void) {
    Rng r;
    rng_seed(&r, 2024);
    for (int s = 0; s < NS; s++) {
        g_plen[s] = 5 + s % 4; /* 5..8 weight tokens: the batch carries padding */
        for (int p = 0; p < P; p++) {
            for (int f = 0; f < F; f++)
                g_pay[(s * P + p) * F + f] = (float)(2 * rng_uniform(&r) - 1);
            g_ids[(s * P + p) * K + 0] = (int32_t)rng_below(&r, 4);
            g_ids[(s * P + p) * K + 1] = p;
        }
        g_len[s] = 5 + (s * 3) % 5; /* program tokens before EOS: 5..9 */
        for (int t = 0; t < g_len[s]; t++) g_prog[s][t] = 2 + (int32_t)rng_below(&r, V - 2);
        g_prog[s][g_len[s]] = EOS;
        /* input: BOS y1 .. yn (then padding); target: y1 .. yn EOS (then ignored) */
        for (int t = 0; t < T; t++) {
            g_tok[s * T + t] = t == 0 ? BOS : (t <= g_len[s] ? g_prog[s][t - 1] : 0);
            g_tgt[s * T + t] = t <= g_len[s] ? g_prog[s][t] : -1;
        }
    }
}

static MetaPrefix prefix_of(int s) {
    MetaPrefix pre = {g_plen[s], g_pay + (size_t)s * P * F, g_ids + (size_t)s * P * K};
    return pre;
}

static void test_overfit(void) {
    make_data();
    MetaConfig c = cfg();
    char err[256];
    CHECK(meta_model_init(&g_m, &c, 42, NS, err, sizeof err) == 0);
    MetaBatch b = {NS, P, T, g_pay, g_ids, g_plen, g_tok, g_tgt};
    MetaAdamW hp = meta_adamw_defaults();
    hp.weight_decay = 0.0f;
    MetaSchedule sch = {1e-2f, 1e-3f, 20, 400};
    float loss = 0, first = 0;
    for (int step = 0; step < 400; step++) {
        meta_zero_grad(&g_m);
        CHECK(meta_forward(&g_m, &b, &loss, err, sizeof err) == 0);
        if (step == 0) first = loss;
        meta_backward(&g_m, &b);
        meta_clip_grad_norm(&g_m, 1.0f);
        meta_adamw_step(&g_m, &hp, meta_lr_schedule(&sch, g_m.step));
    }
    printf("overfit: loss %.4f -> %.6f\n", first, loss);
    CHECK(first > 2.0f && loss < 0.01f);
    int exact = 0;
    for (int s = 0; s < NS; s++) {
        MetaPrefix pre = prefix_of(s);
        MetaDecodeOpts o = {BOS, EOS, T, NULL, NULL, 0};
        int32_t out[T];
        int n = 0;
        CHECK(meta_decode_greedy(&g_m, &pre, &o, out, &n, err, sizeof err) == 0);
        exact += n == g_len[s] + 1 && memcmp(out, g_prog[s], sizeof(int32_t) * (size_t)n) == 0;
    }
    CHECK_MSG(exact == NS, "%d of %d exact", exact, NS);
    g_trained = 1;
}

/* The KV-cached decode must equal argmax of a full forward on the decoded prefix. Uses an
 * untrained model so the decoded sequences are arbitrary, not memorised. */
static void test_kv_cache_matches_forward(void) {
    MetaConfig c = cfg();
    char err[256];
    MetaModel m;
    CHECK(meta_model_init(&m, &c, 5, 1, err, sizeof err) == 0);
    for (size_t i = 0; i < m.lay.n_params; i++) m.params[i] *= 20.0f; /* sharper logits */
    for (int s = 0; s < NS; s++) {
        MetaPrefix pre = prefix_of(s);
        MetaDecodeOpts o = {BOS, -1, T, NULL, NULL, 0};
        int32_t out[T], tok[T];
        int n = 0;
        CHECK(meta_decode_greedy(&m, &pre, &o, out, &n, err, sizeof err) == 0);
        CHECK(n == T);
        tok[0] = BOS;
        for (int t = 1; t < T; t++) tok[t] = out[t - 1];
        MetaBatch b = {1, pre.P, T, pre.payload, pre.ids, &pre.P, tok, NULL};
        CHECK(meta_forward(&m, &b, NULL, err, sizeof err) == 0);
        int agree = 1;
        for (int t = 0; t < T; t++) {
            const float *z = m.acts.logits + (size_t)t * V;
            int best = 0;
            for (int v = 1; v < V; v++)
                if (z[v] > z[best]) best = v;
            if (best != out[t]) agree = 0;
            /* and the cached logits agree numerically */
        }
        CHECK_MSG(agree, "sample %d: cached decode differs from full forward", s);
    }
    meta_model_free(&m);
}

static int forbid_3(void *user, const int32_t *prog, int n, unsigned char *allowed) {
    int *calls = user;
    (*calls)++;
    CHECK(prog[0] == BOS && n >= 1);
    allowed[g_prog[0][0]] = 0; /* the first token the model would choose for sample 0 */
    return 0;
}
static int stop_at_2(void *user, const int32_t *prog, int n, unsigned char *allowed) {
    return n == 2;
}
static int allow_none(void *user, const int32_t *prog, int n, unsigned char *allowed) {
    memset(allowed, 0, V);
    return 0;
}

static void test_beam_and_constraints(void) {
    if (!g_trained) return;
    char err[256];
    for (int s = 0; s < NS; s++) {
        MetaPrefix pre = prefix_of(s);
        MetaDecodeOpts o = {BOS, EOS, T, NULL, NULL, 0};
        int32_t out[T];
        int n = 0;
        float sc = 0;
        CHECK(meta_decode_beam(&g_m, &pre, &o, 4, out, &n, &sc, err, sizeof err) == 0);
        CHECK(n == g_len[s] + 1 && memcmp(out, g_prog[s], sizeof(int32_t) * (size_t)n) == 0);
        CHECK(sc <= 0.0f && sc > -0.1f);
    }
    MetaPrefix pre = prefix_of(0);
    int calls = 0;
    MetaDecodeOpts o = {BOS, EOS, T, forbid_3, &calls, 0};
    int32_t out[T];
    int n = 0;
    CHECK(meta_decode_greedy(&g_m, &pre, &o, out, &n, err, sizeof err) == 0);
    CHECK(calls == n && n >= 1);
    for (int i = 0; i < n; i++) CHECK(out[i] != g_prog[0][0]);
    calls = 0;
    CHECK(meta_decode_beam(&g_m, &pre, &o, 3, out, &n, NULL, err, sizeof err) == 0);
    for (int i = 0; i < n; i++) CHECK(out[i] != g_prog[0][0]);
    o.allow = stop_at_2;
    CHECK(meta_decode_greedy(&g_m, &pre, &o, out, &n, err, sizeof err) != 0 &&
          strstr(err, "position 2"));
    CHECK(meta_decode_beam(&g_m, &pre, &o, 2, out, &n, NULL, err, sizeof err) != 0);
    o.allow = allow_none;
    CHECK(meta_decode_greedy(&g_m, &pre, &o, out, &n, err, sizeof err) != 0 &&
          strstr(err, "no token allowed"));
    CHECK(meta_decode_beam(&g_m, &pre, &o, 2, out, &n, NULL, err, sizeof err) != 0 &&
          strstr(err, "no token allowed"));
    /* bad arguments are errors, not crashes */
    o.allow = NULL;
    o.max_len = T + 1;
    CHECK(meta_decode_greedy(&g_m, &pre, &o, out, &n, err, sizeof err) != 0);
    o.max_len = T;
    MetaPrefix bad = {P + 1, pre.payload, pre.ids};
    CHECK(meta_decode_greedy(&g_m, &bad, &o, out, &n, err, sizeof err) != 0);
    CHECK(meta_decode_beam(&g_m, &pre, &o, 0, out, &n, NULL, err, sizeof err) != 0);
}

int main(void) {
    RUN(test_overfit);
    RUN(test_kv_cache_matches_forward);
    RUN(test_beam_and_constraints);
    meta_model_free(&g_m);
    TEST_END();
}
