/* Compression (src/transform/compress*.c): the loss gradient against central finite
 * differences (on the compiled model and on a softened copy whose attention is not
 * saturated), the fold at full width is the identity, and a small program compressed to
 * half its width reproduces its outputs on every input within a test-sized budget. */
#include <math.h>

#include "compile_helpers.h"
#include "compiler/model.h"
#include "rasp/rasp.h"
#include "test.h"
#include "transform/transform.h"

/* Checks 40 random entries of dL/dP (and the largest ones) against central differences. */
static void grad_check(const CompiledModel *m, const char *what) {
    int D = m->residual_dim, dim = D / 2 + 1, B = 3,
        T = m->max_seq_len + 1 < 5 ? m->max_seq_len + 1 : 5;
    Rng g;
    rng_seed(&g, 42);
    int *ids = malloc(sizeof(int) * (size_t)B * T);
    for (int b = 0; b < B; b++) {
        ids[b * T] = m->bos_id;
        for (int t = 1; t < T; t++) {
            int id;
            do id = (int)(rng_next(&g) % (uint64_t)m->vocab_size);
            while (id == m->bos_id || id == m->pad_id);
            ids[b * T + t] = id;
        }
    }
    /* near an orthonormal projection, where training starts */
    double *q = malloc(sizeof(double) * (size_t)D * D),
           *p = malloc(sizeof(double) * (size_t)dim * D);
    double *gr = malloc(sizeof(double) * (size_t)dim * D);
    char err[128];
    CHECK(tf_haar_orthogonal(D, &g, q, err, sizeof err) == 0);
    for (size_t i = 0; i < (size_t)dim * D; i++) p[i] = q[i] + 0.05 * rng_normal(&g);
    TfCompressLoss *c = tf_closs_new(m, dim, ids, B, T, 0.7);
    double l0 = tf_closs_eval(c, p, gr);
    CHECK(isfinite(l0) && l0 > 0);
    double gmax = 0;
    size_t imax = 0;
    for (size_t i = 0; i < (size_t)dim * D; i++)
        if (fabs(gr[i]) > gmax) gmax = fabs(gr[i]), imax = i;
    CHECK_MSG(gmax > 0, "%s: zero gradient", what);
    double worst = 0;
    for (int s = 0; s < 41; s++) {
        size_t i = s == 0 ? imax : (size_t)(rng_next(&g) % ((uint64_t)dim * D));
        double h = 1e-5, keep = p[i];
        p[i] = keep + h;
        double lp = tf_closs_eval(c, p, NULL);
        p[i] = keep - h;
        double lm = tf_closs_eval(c, p, NULL);
        p[i] = keep;
        double fd = (lp - lm) / (2 * h);
        double e = fabs(fd - gr[i]) / (fabs(fd) + fabs(gr[i]) + 1e-3 * gmax);
        if (e > worst) worst = e;
    }
    CHECK_MSG(worst < 1e-4, "%s: worst relative gradient error %g (largest |g| %g)", what, worst,
              gmax);
    /* the loss is the one the batch evaluates: same P, same value */
    CHECK(tf_closs_eval(c, p, NULL) == l0);
    tf_closs_free(c);
    free(ids), free(q), free(p), free(gr);
}

static void test_gradients(void) {
    const char *progs[] = {"tests/fixtures/tracr/reverse.rasp",
                           "tests/fixtures/tracr/frac_prevs.rasp",
                           "tests/fixtures/tracr/hist.rasp"};
    for (int i = 0; i < 3; i++) {
        CompiledModel *m = tc_compile_file(progs[i]);
        CHECK(m != NULL);
        if (!m) continue;
        grad_check(m, progs[i]);
        /* softened: attention scores / 40 so that the softmax has real gradients */
        CompiledModel *s = tf_model_clone(m);
        for (int l = 0; l < s->num_layers; l++)
            for (size_t k = 0; k < (size_t)s->residual_dim * s->num_heads * s->key_size; k++)
                s->layers[l].q[k] /= 40;
        grad_check(s, "softened");
        compiled_model_free(s);
        compiled_model_free(m);
    }
}

/* Width D: training starts at an orthogonal P, so with no steps the fold is a rotation. */
static void test_full_width_fold(void) {
    CompiledModel *m = tc_compile_file("tests/fixtures/tracr/hist.rasp");
    CHECK(m != NULL);
    if (!m) return;
    TfCompressOptions o;
    tf_compress_options_default(&o);
    o.dim = m->residual_dim;
    o.steps = 0;
    CompiledModel *c = NULL;
    TfCompressReport rep;
    char err[256];
    CHECK(tf_compress(m, &o, &c, &rep, err, sizeof err) == 0);
    CHECK(rep.loss_first < 1e-20);
    TfCompare cmp;
    CHECK(tf_compare(c, m, 5000, 1, 1e-9, 1e-9, &cmp, err, sizeof err) == 0);
    CHECK(cmp.n_positions > 0 && cmp.n_positions_match == cmp.n_positions);
    CHECK(cmp.max_abs_diff < 1e-8 * (1 + cmp.max_ref_abs));
    o.dim = m->residual_dim + 1;
    CompiledModel *bad = NULL;
    CHECK(tf_compress(m, &o, &bad, &rep, err, sizeof err) != 0 && bad == NULL);
    compiled_model_free(c);
    compiled_model_free(m);
}

/* length (residual 15) to 8: on every input up to max_seq_len, at least 95% of the output
 * positions decode as in the original (measured: 98.3%; a random projection without
 * training reaches 28-63% over seeds 1-3). */
static void test_compress_half(void) {
    CompiledModel *m = tc_compile_file("tests/fixtures/tracr/length.rasp");
    CHECK(m != NULL);
    if (!m) return;
    TfCompressOptions o;
    tf_compress_options_default(&o);
    o.dim = (m->residual_dim + 1) / 2;
    o.steps = 500;
    o.restarts = 8;
    o.batch = 16;
    o.seed = 1;
    CompiledModel *c = NULL;
    TfCompressReport rep;
    char err[256];
    CHECK(tf_compress(m, &o, &c, &rep, err, sizeof err) == 0);
    if (!c) return;
    CHECK(c->residual_dim == o.dim);
    CHECK(rep.loss_last < 0.5 * rep.loss_first);
    unsigned char *buf = NULL;
    size_t len = 0;
    CompiledModel *back = NULL;
    CHECK(model_serialize(c, &buf, &len, err, sizeof err) == 0);
    CHECK(model_load_buffer(buf, len, &back, err, sizeof err) == 0);
    TfCompare cmp;
    CHECK(back && tf_compare(back, m, 100000, 1, 1e-3, 1e-4, &cmp, err, sizeof err) == 0);
    CHECK(cmp.exhaustive);
    double acc = (double)cmp.n_positions_match / (double)cmp.n_positions;
    CHECK_MSG(acc >= 0.95, "accuracy %.4f (%ld/%ld), loss %g -> %g", acc, cmp.n_positions_match,
              cmp.n_positions, rep.loss_first, rep.loss_last);
    free(buf);
    compiled_model_free(back);
    compiled_model_free(c);
    compiled_model_free(m);
}

int main(void) {
    RUN(test_gradients);
    RUN(test_full_width_fold);
    RUN(test_compress_half);
    TEST_END();
}
