/* Distillation (src/transform/distill.c): the gradient of the student's loss with respect to
 * every weight matrix against central finite differences (categorical and numerical
 * teachers, causal and not, same width and narrower), and students of `length`'s shape (and
 * of residual width 6 instead of 15) trained from a random start reproducing the compiled
 * model on every input within a test-sized budget. */
#include <math.h>

#include "compile_helpers.h"
#include "compiler/model.h"
#include "rasp/rasp.h"
#include "test.h"
#include "transform/transform.h"

/* Three entries of each weight matrix (and the largest gradient) against central differences. */
static void grad_check(const CompiledModel *m, int width, const char *what) {
    CompiledModel *view = tf_model_clone(m); /* only for the offsets of the matrices */
    if (width > 0) {
        view->residual_dim = width;
        model_alloc_weights(view);
    }
    int D = view->residual_dim;
    size_t nw = (size_t)(view->unembed - view->token_embed) + (size_t)D * m->n_out;
    int HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    Rng g;
    rng_seed(&g, 17);
    double *w = malloc(sizeof(double) * nw), *gr = malloc(sizeof(double) * nw);
    for (size_t i = 0; i < nw; i++) w[i] = 0.5 * rng_normal(&g);
    int B = 3, len[3], ids[64], r = 0;
    for (int b = 0; b < B; b++) {
        len[b] = 1 + (m->max_seq_len < 4 ? m->max_seq_len : 4) - b % 2;
        ids[r++] = m->bos_id;
        for (int t = 1; t < len[b]; t++) {
            int id;
            do id = (int)(rng_next(&g) % (uint64_t)m->vocab_size);
            while (id == m->bos_id || id == m->pad_id);
            ids[r++] = id;
        }
    }
    TfDistillLoss *c = tf_dloss_new(m, width, ids, len, B);
    double l0 = tf_dloss_eval(c, w, gr);
    CHECK(isfinite(l0) && l0 > 0);
    /* regions: token, pos, per layer q k v o w1 w2, unembed */
    size_t start[64], size[64];
    int nreg = 0;
    start[nreg] = 0, size[nreg++] = (size_t)m->vocab_size * D;
    start[nreg] = (size_t)(view->pos_embed - view->token_embed),
    size[nreg++] = (size_t)(m->max_seq_len + 1) * D;
    for (int l = 0; l < m->num_layers && nreg < 60; l++) {
        const ModelLayer *L = &view->layers[l];
        const double *ps[6] = {L->q, L->k, L->v, L->o, L->w1, L->w2};
        size_t ns[6] = {(size_t)D * HK, (size_t)D * HK, (size_t)D * HK,
                        (size_t)HK * D, (size_t)D * M,  (size_t)M * D};
        for (int k = 0; k < 6; k++)
            start[nreg] = (size_t)(ps[k] - view->token_embed), size[nreg++] = ns[k];
    }
    start[nreg] = (size_t)(view->unembed - view->token_embed), size[nreg++] = (size_t)D * m->n_out;
    double gmax = 0;
    size_t imax = 0;
    for (size_t i = 0; i < nw; i++)
        if (fabs(gr[i]) > gmax) gmax = fabs(gr[i]), imax = i;
    double worst = 0;
    int nonzero = 0;
    for (int k = -1; k < 3 * nreg; k++) {
        size_t i = k < 0 ? imax : start[k / 3] + (size_t)(rng_next(&g) % (uint64_t)size[k / 3]);
        double h = 1e-5, keep = w[i];
        w[i] = keep + h;
        double lp = tf_dloss_eval(c, w, NULL);
        w[i] = keep - h;
        double lm = tf_dloss_eval(c, w, NULL);
        w[i] = keep;
        double fd = (lp - lm) / (2 * h);
        double e = fabs(fd - gr[i]) / (fabs(fd) + fabs(gr[i]) + 1e-4 * gmax);
        if (e > worst) worst = e;
        nonzero += fabs(gr[i]) > 1e-3 * gmax;
    }
    CHECK_MSG(worst < 1e-4, "%s: worst relative gradient error %g (largest |g| %g)", what, worst,
              gmax);
    CHECK_MSG(nonzero > nreg, "%s: only %d of the sampled gradients are non-zero", what, nonzero);
    tf_dloss_free(c);
    free(w), free(gr);
    compiled_model_free(view);
}

static void test_gradients(void) {
    const char *paths[] = {"tests/fixtures/tracr/reverse.rasp",
                           "tests/fixtures/tracr/frac_prevs.rasp",
                           "tests/fixtures/tracr/detect_pattern.rasp"};
    for (int i = 0; i < 3; i++) {
        CompiledModel *m = tc_compile_file(paths[i]);
        CHECK(m != NULL);
        if (!m) continue;
        grad_check(m, 0, paths[i]);
        if (i == 0) grad_check(m, 9, "reverse, student width 9");
        compiled_model_free(m);
    }
    CompiledModel *m = tc_compile_text(
        "vocab {0, 1, 2}\nmax_seq_len 4\ncausal\n"
        "s = Select(indices, indices, LEQ)\n"
        "a = numerical(Aggregate(s, numerical(Map(lambda x: 1 if x == 1 else 0, tokens)), "
        "default=0))\n");
    CHECK(m != NULL && m->causal);
    if (m) grad_check(m, 0, "causal numerical");
    compiled_model_free(m);
}

static void test_distill_length(void) {
    CompiledModel *m = tc_compile_file("tests/fixtures/tracr/length.rasp");
    CHECK(m != NULL);
    if (!m) return;
    TfDistillOptions o;
    tf_distill_options_default(&o);
    o.steps = 1000;
    CompiledModel *s = NULL;
    TfDistillReport rep;
    char err[256];
    CHECK(tf_distill(m, &o, &s, &rep, err, sizeof err) == 0);
    CHECK_MSG(rep.accepted && rep.input_accuracy >= 0.99, "accuracy %.4f, loss %g -> %g",
              rep.input_accuracy, rep.loss_first, rep.loss_last);
    CHECK(rep.loss_last < 0.1 * rep.loss_first);
    /* the student is an ordinary model: through a file, every input still matches */
    unsigned char *buf = NULL;
    size_t len = 0;
    CompiledModel *back = NULL;
    TfCompare cmp;
    CHECK(s && model_serialize(s, &buf, &len, err, sizeof err) == 0);
    CHECK(model_load_buffer(buf, len, &back, err, sizeof err) == 0);
    CHECK(back && tf_compare(back, m, 100000, 1, 1e-3, 1e-4, &cmp, err, sizeof err) == 0);
    CHECK(cmp.exhaustive && cmp.n_inputs_match == cmp.n_inputs);
    /* and it is not the compiled model: its weights are dense */
    size_t nz = 0, n = (size_t)m->vocab_size * m->residual_dim;
    for (size_t i = 0; i < n; i++) nz += back->token_embed[i] != 0;
    CHECK(nz == n);
    free(buf);
    compiled_model_free(back);
    compiled_model_free(s);
    /* a narrower student (width 6 of 15) still learns length exactly */
    o.width = 6;
    CHECK(tf_distill(m, &o, &s, &rep, err, sizeof err) == 0);
    CHECK(s && s->residual_dim == 6);
    CHECK_MSG(rep.accepted, "width 6: accuracy %.4f", rep.input_accuracy);
    compiled_model_free(s);
    compiled_model_free(m);
}

int main(void) {
    RUN(test_gradients);
    RUN(test_distill_length);
    TEST_END();
}
