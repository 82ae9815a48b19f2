/* Weight tokens and the compiled-model hash: the tokens rebuild every matrix exactly (up to
 * float32), carry the token and output values, and the hash ignores residual/hidden order. */
#include <math.h>

#include "compile_helpers.h"
#include "compiler/model.h"
#include "dataset/model_hash.h"
#include "dataset/weight_tokens.h"
#include "rasp/rasp.h"
#include "test.h"

static const char *PROG_ADD1 = "vocab {0, 1, 2, 3}\nmax_seq_len 4\n"
                               "a = Map(lambda x: x + 1, tokens)\n"
                               "s = Select(indices, indices, LEQ)\n"
                               "n = numerical(Map(lambda x: 1 if x < 2 else 0, a))\n"
                               "f = numerical(Aggregate(s, n, default=0))\n";
static const char *PROG_ADD2 = "vocab {0, 1, 2, 3}\nmax_seq_len 4\n"
                               "a = Map(lambda x: x + 1, tokens)\n"
                               "b = Map(lambda x: x + 1, a, simplify=False)\n";
static const char *PROG_ADD3 = "vocab {0, 1, 2, 3}\nmax_seq_len 4\n"
                               "a = Map(lambda x: x + 1, tokens)\n"
                               "b = Map(lambda x: x + 2, a, simplify=False)\n";

/* Rebuilds the matrix (kind, layer) [rows, cols] from chunk-scheme tokens. */
static void rebuild_chunks(const WtTokens *t, int kind, int layer, double *a, int rows, int cols) {
    memset(a, 0, sizeof(double) * (size_t)rows * cols);
    for (int i = 0; i < t->n; i++) {
        const int16_t *id = t->ids + (size_t)i * WT_N_IDS;
        if (id[WT_ID_KIND] != kind || id[WT_ID_LAYER] != layer) continue;
        int r = id[WT_ID_POS], c0 = id[WT_ID_SUB] * WT_WIDTH;
        for (int j = 0; j < WT_WIDTH && c0 + j < cols; j++)
            a[(size_t)r * cols + c0 + j] = sinh((double)t->payload[(size_t)i * WT_WIDTH + j]);
    }
}

static int mat_close(const double *a, const double *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i] - b[i]) > 1e-5 * (1 + fabs(b[i]))) return 0;
    return 1;
}

static void test_chunks_rebuild(void) {
    CompiledModel *m = tc_compile_text(PROG_ADD1);
    CHECK(m != NULL);
    if (!m) return;
    WtTokens t;
    wt_tokens_init(&t);
    WtOptions o;
    wt_options_default(&o);
    char err[256];
    CHECK(wt_encode(m, &o, &t, err, sizeof err) == 0);
    /* header: config, one token per vocabulary row, one per output column */
    CHECK(t.ids[WT_ID_KIND] == WT_KIND_CONFIG);
    CHECK_NEAR(t.payload[0], asinh((double)m->num_layers), 1e-6);
    CHECK_NEAR(t.payload[4], asinh((double)m->residual_dim), 1e-6);
    for (int r = 0; r < m->vocab_size; r++) {
        const int16_t *id = t.ids + (size_t)(1 + r) * WT_N_IDS;
        const float *pl = t.payload + (size_t)(1 + r) * WT_WIDTH;
        CHECK(id[WT_ID_KIND] == WT_KIND_TOKEN_VALUE && id[WT_ID_POS] == r);
        if (r == m->bos_id) CHECK(pl[8] == 1.0f);
        else if (r == m->pad_id) CHECK(pl[9] == 1.0f);
        else CHECK(pl[0] == (float)val_as_double(m->tokens[r]) && pl[4] == 1.0f);
    }
    int base = 1 + m->vocab_size;
    CHECK(m->output_numerical == 1 && m->n_out == 1);
    CHECK(t.ids[(size_t)base * WT_N_IDS + WT_ID_KIND] == WT_KIND_OUT_VALUE);
    CHECK(t.payload[(size_t)base * WT_WIDTH + 10] == 1.0f);
    /* no all-zero chunk is kept */
    for (int i = base + 1; i < t.n; i++) {
        int nz = 0;
        for (int j = 0; j < WT_WIDTH; j++) nz |= t.payload[(size_t)i * WT_WIDTH + j] != 0;
        CHECK(nz);
    }
    /* every matrix comes back */
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    size_t big = (size_t)(D + HK + M + m->vocab_size + 8) * (D + HK + M + 8);
    double *a = malloc(sizeof(double) * big);
    rebuild_chunks(&t, WT_KIND_TOKEN_EMBED, 0, a, m->vocab_size, D);
    CHECK(mat_close(a, m->token_embed, (size_t)m->vocab_size * D));
    rebuild_chunks(&t, WT_KIND_POS_EMBED, 0, a, m->max_seq_len + 1, D);
    CHECK(mat_close(a, m->pos_embed, (size_t)(m->max_seq_len + 1) * D));
    for (int l = 0; l < m->num_layers; l++) {
        const ModelLayer *L = &m->layers[l];
        rebuild_chunks(&t, WT_KIND_Q, l + 1, a, D, HK);
        CHECK(mat_close(a, L->q, (size_t)D * HK));
        rebuild_chunks(&t, WT_KIND_K, l + 1, a, D, HK);
        CHECK(mat_close(a, L->k, (size_t)D * HK));
        rebuild_chunks(&t, WT_KIND_V, l + 1, a, D, HK);
        CHECK(mat_close(a, L->v, (size_t)D * HK));
        rebuild_chunks(&t, WT_KIND_O, l + 1, a, HK, D);
        CHECK(mat_close(a, L->o, (size_t)HK * D));
        rebuild_chunks(&t, WT_KIND_W1, l + 1, a, D, M);
        CHECK(mat_close(a, L->w1, (size_t)D * M));
        rebuild_chunks(&t, WT_KIND_W2, l + 1, a, M, D);
        CHECK(mat_close(a, L->w2, (size_t)M * D));
    }
    rebuild_chunks(&t, WT_KIND_UNEMBED, 0, a, D, m->n_out);
    CHECK(mat_close(a, m->unembed, (size_t)D * m->n_out));
    /* the ids stay below their caps */
    int voc[WT_N_IDS];
    wt_id_vocab(voc);
    for (int i = 0; i < t.n * WT_N_IDS; i++) CHECK(t.ids[i] >= 0 && t.ids[i] < voc[i % WT_N_IDS]);
    free(a);
    wt_tokens_free(&t);
    compiled_model_free(m);
}

/* x + 1 then + 1 and x + 1 then + 2 compile to the same matrices; only the output values
 * tell them apart. */
static void test_values_distinguish(void) {
    CompiledModel *a = tc_compile_text(PROG_ADD2), *b = tc_compile_text(PROG_ADD3);
    CHECK(a && b);
    if (!a || !b) return;
    CHECK(a->residual_dim == b->residual_dim && a->n_out == b->n_out);
    size_t D = (size_t)a->residual_dim;
    CHECK(memcmp(a->layers[0].w1, b->layers[0].w1, sizeof(double) * D * a->mlp_hidden_size) == 0);
    for (int s = 0; s < WT_SCHEME_COUNT; s++) {
        WtOptions o = {.scheme = (WtScheme)s, .norm = WT_NORM_ASINH};
        WtTokens ta, tb;
        wt_tokens_init(&ta);
        wt_tokens_init(&tb);
        char err[256];
        CHECK(wt_encode(a, &o, &ta, err, sizeof err) == 0 &&
              wt_encode(b, &o, &tb, err, sizeof err) == 0);
        CHECK(ta.n == tb.n);
        int out_diff = 0, other_diff = 0;
        for (int i = 0; i < ta.n && ta.n == tb.n; i++) {
            int d = memcmp(ta.payload + (size_t)i * WT_WIDTH, tb.payload + (size_t)i * WT_WIDTH,
                           sizeof(float) * WT_WIDTH) != 0;
            if (ta.ids[(size_t)i * WT_N_IDS] == WT_KIND_OUT_VALUE) out_diff += d;
            else other_diff += d;
        }
        CHECK(out_diff > 0);
        CHECK(other_diff == 0);
        uint64_t ha[2], hb[2];
        CHECK(model_hash128(a, ha) == 0 && model_hash128(b, hb) == 0);
        CHECK(ha[0] != hb[0] && ha[1] != hb[1]);
        wt_tokens_free(&ta);
        wt_tokens_free(&tb);
    }
    compiled_model_free(a);
    compiled_model_free(b);
}

static CompiledModel *copy_model(const CompiledModel *m) {
    unsigned char *buf;
    size_t len;
    char err[256];
    CompiledModel *c = NULL;
    if (model_serialize(m, &buf, &len, err, sizeof err)) return NULL;
    if (model_load_buffer(buf, len, &c, err, sizeof err)) c = NULL;
    free(buf);
    return c;
}

/* Swaps residual directions d1, d2 in every matrix (what renaming variables can do). */
static void swap_residual(CompiledModel *m, int d1, int d2) {
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
#define SWAPCOL(a, rows)                                                                           \
    for (int r = 0; r < (rows); r++) {                                                             \
        double t_ = (a)[(size_t)r * D + d1];                                                       \
        (a)[(size_t)r * D + d1] = (a)[(size_t)r * D + d2];                                         \
        (a)[(size_t)r * D + d2] = t_;                                                              \
    }
#define SWAPROW(a, cols)                                                                           \
    for (int c = 0; c < (cols); c++) {                                                             \
        double t_ = (a)[(size_t)d1 * (cols) + c];                                                  \
        (a)[(size_t)d1 * (cols) + c] = (a)[(size_t)d2 * (cols) + c];                               \
        (a)[(size_t)d2 * (cols) + c] = t_;                                                         \
    }
    SWAPCOL(m->token_embed, m->vocab_size);
    SWAPCOL(m->pos_embed, m->max_seq_len + 1);
    for (int l = 0; l < m->num_layers; l++) {
        ModelLayer *L = &m->layers[l];
        SWAPROW(L->q, HK);
        SWAPROW(L->k, HK);
        SWAPROW(L->v, HK);
        SWAPCOL(L->o, HK);
        SWAPROW(L->w1, M);
        SWAPCOL(L->w2, M);
    }
    SWAPROW(m->unembed, m->n_out);
#undef SWAPCOL
#undef SWAPROW
}

/* Swaps MLP hidden units j1, j2 of layer l. */
static void swap_hidden(CompiledModel *m, int l, int j1, int j2) {
    int D = m->residual_dim, M = m->mlp_hidden_size;
    ModelLayer *L = &m->layers[l];
    for (int d = 0; d < D; d++) {
        double t = L->w1[(size_t)d * M + j1];
        L->w1[(size_t)d * M + j1] = L->w1[(size_t)d * M + j2];
        L->w1[(size_t)d * M + j2] = t;
    }
    for (int d = 0; d < D; d++) {
        double t = L->w2[(size_t)j1 * D + d];
        L->w2[(size_t)j1 * D + d] = L->w2[(size_t)j2 * D + d];
        L->w2[(size_t)j2 * D + d] = t;
    }
}

static void test_hash_invariance(void) {
    CompiledModel *m = tc_compile_text(PROG_ADD1);
    CHECK(m != NULL);
    if (!m) return;
    uint64_t h0[2], h1[2];
    CHECK(model_hash128(m, h0) == 0);
    CompiledModel *c = copy_model(m);
    CHECK(c != NULL);
    if (!c) {
        compiled_model_free(m);
        return;
    }
    CHECK(model_hash128(c, h1) == 0);
    CHECK(h0[0] == h1[0] && h0[1] == h1[1]);
    /* relabelling: permuted residual directions and hidden units give the same hash and the
     * same residual-scheme tokens, but different chunk-scheme tokens */
    for (int d = 0; d + 1 < c->residual_dim; d += 2) swap_residual(c, d, d + 1);
    swap_hidden(c, 0, 0, c->mlp_hidden_size - 1);
    CHECK(model_hash128(c, h1) == 0);
    CHECK(h0[0] == h1[0] && h0[1] == h1[1]);
    WtOptions o = {.scheme = WT_SCHEME_CHUNKS, .norm = WT_NORM_ASINH};
    WtTokens ta, tb;
    wt_tokens_init(&ta);
    wt_tokens_init(&tb);
    char err[256];
    CHECK(wt_encode(m, &o, &ta, err, sizeof err) == 0 &&
          wt_encode(c, &o, &tb, err, sizeof err) == 0);
    CHECK(ta.n != tb.n ||
          memcmp(ta.payload, tb.payload, sizeof(float) * WT_WIDTH * (size_t)ta.n) != 0 ||
          memcmp(ta.ids, tb.ids, sizeof(int16_t) * WT_N_IDS * (size_t)ta.n) != 0);
    /* residual order: direction perm[i] of m and of c carry the same content */
    int D = m->residual_dim;
    int *pm = malloc(sizeof(int) * (size_t)D), *pc = malloc(sizeof(int) * (size_t)D);
    CHECK(wt_residual_order(m, pm, NULL) == 0 && wt_residual_order(c, pc, NULL) == 0);
    for (int i = 0; i < D; i++)
        for (int r = 0; r < m->vocab_size; r++)
            CHECK(m->token_embed[(size_t)r * D + pm[i]] == c->token_embed[(size_t)r * D + pc[i]]);
    free(pm);
    free(pc);
    /* a changed weight changes the hash */
    c->layers[0].w1[0] += 0.5;
    CHECK(model_hash128(c, h1) == 0);
    CHECK(h0[0] != h1[0] && h0[1] != h1[1]);
    wt_tokens_free(&ta);
    wt_tokens_free(&tb);
    compiled_model_free(c);
    compiled_model_free(m);
}

/* The residual scheme: each token is one direction's row/column of one matrix. */
static void test_residual_scheme(void) {
    CompiledModel *m = tc_compile_text(PROG_ADD1);
    CHECK(m != NULL);
    if (!m) return;
    WtOptions o = {.scheme = WT_SCHEME_RESIDUAL, .norm = WT_NORM_NONE};
    WtTokens t;
    wt_tokens_init(&t);
    char err[256];
    CHECK(wt_encode(m, &o, &t, err, sizeof err) == 0);
    int D = m->residual_dim, M = m->mlp_hidden_size, HK = m->num_heads * m->key_size;
    int *perm = malloc(sizeof(int) * (size_t)D);
    wt_residual_order(m, perm, NULL);
    int seen_w1 = 0, seen_o = 0;
    for (int i = 0; i < t.n; i++) {
        const int16_t *id = t.ids + (size_t)i * WT_N_IDS;
        const float *pl = t.payload + (size_t)i * WT_WIDTH;
        int d = perm[id[WT_ID_POS]], c0 = id[WT_ID_SUB] * WT_WIDTH;
        if (id[WT_ID_KIND] == WT_KIND_W1) {
            const double *w1 = m->layers[id[WT_ID_LAYER] - 1].w1;
            for (int j = 0; j < WT_WIDTH && c0 + j < M; j++)
                CHECK(pl[j] == (float)w1[(size_t)d * M + c0 + j]);
            seen_w1++;
        } else if (id[WT_ID_KIND] == WT_KIND_O) {
            const double *ow = m->layers[id[WT_ID_LAYER] - 1].o;
            for (int j = 0; j < WT_WIDTH && c0 + j < HK; j++)
                CHECK(pl[j] == (float)ow[(size_t)(c0 + j) * D + d]);
            seen_o++;
        }
    }
    CHECK(seen_w1 > 0 && seen_o > 0);
    free(perm);
    wt_tokens_free(&t);
    compiled_model_free(m);
}

int main(void) {
    RUN(test_chunks_rebuild);
    RUN(test_values_distinguish);
    RUN(test_hash_invariance);
    RUN(test_residual_scheme);
    TEST_END();
}
