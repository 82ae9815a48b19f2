/* itracr gen --transform: rotated datasets hold the same programs (and stock model hashes)
 * as the stock dataset of the same seed, with different, denser weight tokens, the same
 * bytes for any number of jobs, and the transform's counters in the stats and the manifest;
 * compressed samples are accepted only when the compressed model still matches, distilled
 * ones when the student matches on >= 99% of the inputs. */
#include <stdlib.h>
#include <unistd.h>

#include "dataset/gen_driver.h"
#include "dataset/shard.h"
#include "io/atomic_file.h"
#include "test.h"


static int run(const char *dir, int transform, long n, int jobs, int steps, GdStats *st) {
    GdConfig c;
    gd_config_default(&c);
    char err[512];
    if (gd_parse_splits(&c, "train=1", err, sizeof err)) return 1;
    c.n = n;
    c.seed = 5;
    c.jobs = jobs;
    c.out_dir = dir;
    c.acc.transform = transform;
    c.acc.compress_steps = steps;
    int rc = gd_run(&c, st, err, sizeof err);
    if (rc) fprintf(stderr, "gd_run: %s\n", err);
    return rc;
}

static unsigned char *slurp(const char *path, size_t *len) {
    unsigned char *b = NULL;
    char err[256];
    return read_whole_file(path, &b, len, err, sizeof err) ? NULL : b;
}

static void test_rotate(void) {
    char a[64], b[64], c[64];
    CHECK(test_tmpdir(a, sizeof a, "gtf_a") == 0 && test_tmpdir(b, sizeof b, "gtf_b") == 0 &&
          test_tmpdir(c, sizeof c, "gtf_c") == 0);
    GdStats sa, sb, sc;
    CHECK(run(a, ACC_TF_NONE, 40, 1, 0, &sa) == 0);
    CHECK(run(b, ACC_TF_ROTATE, 40, 1, 0, &sb) == 0);
    CHECK(run(c, ACC_TF_ROTATE, 40, 2, 0, &sc) == 0);
    CHECK(sa.tf_attempted == 0 && sb.tf_attempted >= 40 && sb.rejected[ACC_R_TRANSFORM] == 0);
    CHECK(sb.accepted == 40 && sb.seeds == sa.seeds); /* a rotation never changes acceptance */
    char pa[128], pb[128], pc[128], err[256];
    snprintf(pa, sizeof pa, "%s/train/shard-000000.safetensors", a);
    snprintf(pb, sizeof pb, "%s/train/shard-000000.safetensors", b);
    snprintf(pc, sizeof pc, "%s/train/shard-000000.safetensors", c);
    Shard x, y;
    CHECK(shard_read_file(pa, &x, err, sizeof err) == 0);
    CHECK(shard_read_file(pb, &y, err, sizeof err) == 0);
    CHECK(x.n == 40 && y.n == 40);
    CHECK(memcmp(x.prog, y.prog, sizeof(int16_t) * (size_t)x.n * PT_ROWS * PT_COLS) == 0);
    CHECK(memcmp(x.mhash, y.mhash, sizeof(uint64_t) * 2 * (size_t)x.n) == 0);
    CHECK(y.total > x.total); /* dense: no zero chunk to drop */
    int differ = 0;
    for (int k = 0; k < x.n; k++) {
        int64_t n0 = x.offsets[k + 1] - x.offsets[k], n1 = y.offsets[k + 1] - y.offsets[k];
        if (n0 != n1 ||
            memcmp(x.payload + x.offsets[k] * WT_WIDTH, y.payload + y.offsets[k] * WT_WIDTH,
                   sizeof(float) * (size_t)n0 * WT_WIDTH) != 0)
            differ++;
    }
    CHECK(differ == x.n);
    shard_free(&x);
    shard_free(&y);
    size_t lb = 0, lc = 0;
    unsigned char *bb = slurp(pb, &lb), *bc = slurp(pc, &lc);
    CHECK(bb && bc && lb == lc && memcmp(bb, bc, lb) == 0); /* same bytes for 1 and 2 jobs */
    free(bb), free(bc);
    char mp[128];
    snprintf(mp, sizeof mp, "%s/manifest.json", b);
    size_t lm = 0;
    unsigned char *mb = slurp(mp, &lm);
    CHECK(mb && strstr((char *)mb, "\"transform\": {\"kind\": \"rotate\""));
    free(mb);
    test_rm_tree(a), test_rm_tree(b), test_rm_tree(c);
}

/* The acceptance hook alone (gd_run computes rounds of 512 samples, too many to compress in
 * a test): compressed samples keep the stock model hash, their weight tokens are the
 * compressed model's, and a compressed model is accepted only when it still matches. */
static void test_compress(void) {
    GenConfig g;
    gen_config_default(&g);
    g.max_residual = 40;
    char err[256];
    GenSampler *smp = gen_sampler_new(&g, err, sizeof err);
    CHECK(smp != NULL);
    if (!smp) return;
    AccSettings stock, comp;
    acc_settings_default(&stock);
    acc_settings_default(&comp);
    comp.transform = ACC_TF_COMPRESS;
    comp.compress_steps = 60;
    AccResult r0, r1;
    acc_result_init(&r0), acc_result_init(&r1);
    int accepted = 0, rejected = 0;
    for (uint64_t seed = 1; seed < 400 && accepted < 3; seed++) {
        if (acc_run(smp, &stock, seed, &r0) != ACC_OK) continue;
        int why = acc_run(smp, &comp, seed, &r1);
        CHECK(r1.tf_attempted && r1.tf_seconds > 0);
        CHECK(why == ACC_OK || why == ACC_R_TRANSFORM);
        if (why != ACC_OK) {
            rejected++;
            CHECK(strstr(r1.detail, "transformed") != NULL);
            continue;
        }
        accepted++;
        CHECK(memcmp(r0.model_hash, r1.model_hash, sizeof r0.model_hash) == 0);
        /* chunk scheme: pos = row, so the rows of the matrices that read the residual stop at
         * ceil(D/2) - 1 */
        int D = r1.meta[ACC_META_RESIDUAL], maxpos = -1;
        for (int t = 0; t < r1.wt.n; t++) {
            int kind = r1.wt.ids[t * WT_N_IDS + WT_ID_KIND],
                pos = r1.wt.ids[t * WT_N_IDS + WT_ID_POS];
            if ((kind == WT_KIND_Q || kind == WT_KIND_K || kind == WT_KIND_V ||
                 kind == WT_KIND_W1) &&
                pos > maxpos)
                maxpos = pos;
        }
        CHECK_MSG(maxpos >= 0 && maxpos <= (D + 1) / 2 - 1, "seed %llu: D %d, last row %d",
                  (unsigned long long)seed, D, maxpos);
    }
    CHECK(accepted == 3);
    fprintf(stderr, "  compress at 60 steps: %d accepted, %d rejected by the transform check\n",
            accepted, rejected);
    acc_result_free(&r0), acc_result_free(&r1);
    gen_sampler_free(smp);
}

/* Distillation through the same hook: an accepted student is dense (its token embedding has
 * no zero), keeps the stock model hash, and was checked on every input. */
static void test_distill(void) {
    GenConfig g;
    gen_config_default(&g);
    g.max_residual = 24;
    char err[256];
    GenSampler *smp = gen_sampler_new(&g, err, sizeof err);
    CHECK(smp != NULL);
    if (!smp) return;
    AccSettings stock, dist;
    acc_settings_default(&stock);
    acc_settings_default(&dist);
    dist.transform = ACC_TF_DISTILL;
    dist.compress_steps = 400;
    AccResult r0, r1;
    acc_result_init(&r0), acc_result_init(&r1);
    int accepted = 0, tried = 0;
    for (uint64_t seed = 1; seed < 400 && accepted < 1 && tried < 8; seed++) {
        if (acc_run(smp, &stock, seed, &r0) != ACC_OK) continue;
        tried++;
        int why = acc_run(smp, &dist, seed, &r1);
        CHECK(r1.tf_attempted && (why == ACC_OK || why == ACC_R_TRANSFORM));
        if (why != ACC_OK) continue;
        accepted++;
        CHECK(memcmp(r0.model_hash, r1.model_hash, sizeof r0.model_hash) == 0);
        CHECK(r1.wt.n >= r0.wt.n);
    }
    CHECK_MSG(accepted == 1, "no student accepted in %d samples", tried);
    acc_result_free(&r0), acc_result_free(&r1);
    gen_sampler_free(smp);
}

int main(void) {
    RUN(test_rotate);
    RUN(test_compress);
    RUN(test_distill);
    TEST_END();
}
