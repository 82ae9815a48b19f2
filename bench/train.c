/* Train-speed benchmark of the meta-model: a fixed realistic config trained for a fixed
 * number of steps on synthetic data (forward, backward, clip, AdamW), reporting tokens/s
 * (B * (P + T) sequence positions per step), achieved GFLOP/s and the sgemm peak measured in
 * the same run. bench/train_torch.py runs the same config in PyTorch; bench/train.sh runs
 * both and prints the ratio.
 *   usage: train [steps] [threads]      (defaults 10, 2) */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "meta/meta.h"
#include "util/rng.h"

/* Keep in sync with bench/train_torch.py. */
enum { D = 256, HEADS = 8, LAYERS = 4, RATIO = 4, F = 64, V = 128, P = 128, T = 64, B = 16 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double sgemm_peak(void) {
    int n = 1536;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
          *c = malloc(sizeof(float) * n * n);
    if (!a || !b || !c) return 0;
    for (long i = 0; i < (long)n * n; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double g = 2.0 * n * n * n / (now() - t0) / 1e9;
        best = g > best ? g : best;
    }
    free(a), free(b), free(c);
    return best;
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 10, threads = argc > 2 ? atoi(argv[2]) : 2;
    if (steps < 1 || threads < 1) {
        fprintf(stderr, "usage: train [steps >= 1] [threads >= 1]\n");
        return 2;
    }
    omp_set_num_threads(threads); /* the meta kernels run OpenBLAS single-threaded (meta.h) */
    MetaConfig cfg = {0};
    cfg.d_model = D, cfg.n_head = HEADS, cfg.n_layer = LAYERS, cfg.mlp_ratio = RATIO;
    cfg.payload_dim = F, cfg.n_id_fields = 3, cfg.id_vocab[0] = 16, cfg.id_vocab[1] = 16,
    cfg.id_vocab[2] = P;
    cfg.vocab = V, cfg.max_prefix = P, cfg.max_prog = T;
    char err[256];
    MetaModel m;
    if (meta_model_init(&m, &cfg, 1, B, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    static float pay[B * P * F];
    static int32_t ids[B * P * 3], plen[B], tok[B * T], tgt[B * T];
    Rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < B * P * F; i++) pay[i] = (float)rng_normal(&r);
    for (int b = 0; b < B; b++) {
        plen[b] = P - (b * 7) % 32; /* variable prefix lengths, as in real batches */
        for (int p = 0; p < P; p++) {
            ids[(b * P + p) * 3 + 0] = (int32_t)rng_below(&r, 16);
            ids[(b * P + p) * 3 + 1] = (int32_t)rng_below(&r, 16);
            ids[(b * P + p) * 3 + 2] = p;
        }
        for (int t = 0; t < T; t++) tok[b * T + t] = (int32_t)rng_below(&r, V);
        for (int t = 0; t < T; t++) tgt[b * T + t] = t + 1 < T ? tok[b * T + t + 1] : -1;
    }
    MetaBatch batch = {B, P, T, pay, ids, plen, tok, tgt};
    MetaAdamW hp = meta_adamw_defaults();
    MetaSchedule sch = {3e-4f, 3e-5f, 2, 1000};
    float loss = 0;
    double t0 = 0;
    for (int s = -2; s < steps; s++) { /* two warm-up steps */
        if (s == 0) t0 = now();
        meta_zero_grad(&m);
        if (meta_forward(&m, &batch, &loss, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        meta_backward(&m, &batch);
        meta_clip_grad_norm(&m, 1.0f);
        meta_adamw_step(&m, &hp, meta_lr_schedule(&sch, m.step));
    }
    double dt = now() - t0;
    double L = P + T, N = (double)B * L, C = D, M = (double)RATIO * D, hs = (double)D / HEADS;
    double fwd = 2.0 * N * LAYERS * (3 * C * C + C * C + 2 * C * M) /* block linears */
                 + 4.0 * B * HEADS * L * L * hs * LAYERS            /* QK^T and AV */
                 + 2.0 * B * T * C * V + 2.0 * B * P * F * C;       /* head, payload */
    double gflops = 3.0 * fwd * steps / dt / 1e9;
    double tok_s = N * steps / dt;
    openblas_set_num_threads(threads); /* the peak: OpenBLAS's own threading on the same cores */
    double peak = sgemm_peak();
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf(
        "itracr: config d=%d heads=%d layers=%d mlp=%dx P=%d T=%d batch=%d vocab=%d payload=%d threads=%d\n",
        D, HEADS, LAYERS, RATIO, P, T, B, V, F, threads);
    printf("itracr: %d steps in %.3f s, final loss %.4f, params %zu\n", steps, dt, loss,
           m.lay.n_params);
    printf("itracr: openblas core %s, OPENBLAS_CORETYPE=%s, blas %s\n", meta_blas_corename(),
           ct ? ct : "(unset)", meta_blas_enabled() ? "on" : "off (plain loops)");
    printf("itracr_tok_s=%.1f gflops=%.2f peak_gflops=%.2f\n", tok_s, gflops, peak);
    meta_model_free(&m);
    return 0;
}
