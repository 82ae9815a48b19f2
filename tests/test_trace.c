/* forward --trace's pass (compiler/trace.h) against the production forward pass: on every
 * classic program the traced logits equal model_forward_f64's, every attention row is a
 * distribution (causal models: nothing after the diagonal), the stages chain (each sublayer
 * only adds to the residual it was given: the embeddings are token + position rows), and
 * bad inputs are errors. */
#include <dirent.h>

#include "compiler/model.h"
#include "compiler/trace.h"
#include "rasp/rasp.h"
#include "test.h"

static int check_program(const char *path) {
    RaspProgram p;
    char err[1024];
    CompiledModel *m = NULL;
    CompileOptions o;
    compile_options_default(&o);
    if (rasp_parse_file(path, &p, err, sizeof err) != 0) return 0;
    if (compile_program(&p, &o, &m, err, sizeof err) != 0) {
        rasp_program_free(&p);
        return 0;
    }
    int n = m->max_seq_len < 4 ? m->max_seq_len : 4;
    Value xs[4];
    int nv = 0;
    for (int i = 0; i < m->vocab_size; i++)
        if (i != m->bos_id && i != m->pad_id) xs[nv < n ? nv : n - 1] = m->tokens[i], nv++;
    if (nv < n) n = nv;
    ModelTrace tr;
    CHECK_MSG(model_trace(m, xs, n, &tr, err, sizeof err) == 0, "%s: %s", path, err);
    int T = n + 1;
    double *ref = malloc(sizeof(double) * (size_t)T * m->n_out);
    CHECK(model_forward_f64(m, tr.ids, 1, T, ref, err, sizeof err) == 0);
    double worst = 0;
    for (int i = 0; i < T * m->n_out; i++) {
        double d = fabs(ref[i] - tr.out[i]);
        if (d > worst) worst = d;
    }
    CHECK_MSG(worst < 1e-9, "%s: traced logits differ from the forward pass by %g", path, worst);
    for (int l = 0; l < m->num_layers; l++)
        for (int h = 0; h < tr.H; h++)
            for (int i = 0; i < T; i++) {
                const double *a = tr.attn + (((size_t)l * tr.H + h) * T + i) * T;
                double s = 0;
                for (int j = 0; j < T; j++) {
                    s += a[j];
                    if (m->causal && j > i) CHECK(a[j] == 0);
                }
                CHECK_MSG(fabs(s - 1) < 1e-12, "%s: layer %d head %d row %d sums to %g", path, l, h,
                          i, s);
            }
    for (int t = 0; t < T; t++)
        for (int d = 0; d < m->residual_dim; d++)
            CHECK(tr.resid[(size_t)t * m->residual_dim + d] ==
                  m->token_embed[(size_t)tr.ids[t] * m->residual_dim + d] +
                      m->pos_embed[(size_t)t * m->residual_dim + d]);
    CHECK(tr.n_stages == 1 + 2 * m->num_layers);
    free(ref);
    model_trace_free(&tr);

    Value bad = val_str("definitely-not-a-token");
    CHECK(model_trace(m, &bad, 1, &tr, err, sizeof err) != 0);
    compiled_model_free(m);
    rasp_program_free(&p);
    return 1;
}

static void test_classics(void) {
    DIR *d = opendir("examples");
    CHECK(d != NULL);
    if (!d) return;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".rasp") != 0) continue;
        char path[512];
        snprintf(path, sizeof path, "examples/%s", e->d_name);
        n += check_program(path);
    }
    closedir(d);
    CHECK_MSG(n == 15, "%d classic programs traced", n);
}

int main(void) {
    RUN(test_classics);
    TEST_END();
}
