/* Meta-model checkpoints: save, load and continue training gives a loss trajectory and
 * parameters bit-identical to an uninterrupted run; damaged or mismatched files are clear
 * errors. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "meta/meta.h"
#include "meta_toy.h"
#include "test.h"
#include "util/rng.h"

static char dir[64];

static void steps(MetaModel *m, int n, float *losses) {
    MetaBatch b = {B, P, T, pay, ids, plen, tok, tgt};
    MetaAdamW hp = meta_adamw_defaults();
    MetaSchedule s = {5e-3f, 5e-4f, 2, 8};
    char err[256];
    for (int i = 0; i < n; i++) {
        meta_zero_grad(m);
        CHECK(meta_forward(m, &b, &losses[i], err, sizeof err) == 0);
        meta_backward(m, &b);
        meta_clip_grad_norm(m, 1.0f);
        meta_adamw_step(m, &hp, meta_lr_schedule(&s, m->step));
    }
}

static void test_resume_bit_identical(void) {
    MetaConfig c = toy_cfg(2);
    char err[256], path[128];
    snprintf(path, sizeof path, "%s/meta.safetensors", dir);
    MetaModel a, r;
    CHECK(meta_model_init(&a, &c, 17, B, err, sizeof err) == 0);
    float la[8], lr[8];
    steps(&a, 3, la);
    CHECK(meta_checkpoint_save(&a, path, err, sizeof err) == 0);
    steps(&a, 5, la + 3);
    CHECK_MSG(meta_checkpoint_load(&r, path, B, err, sizeof err) == 0, "%s", err);
    CHECK(r.step == 3 && r.seed == 17 && memcmp(&r.cfg, &c, sizeof c) == 0);
    steps(&r, 5, lr + 3);
    CHECK(memcmp(la + 3, lr + 3, sizeof(float) * 5) == 0);
    CHECK(memcmp(a.params, r.params, sizeof(float) * a.lay.n_params) == 0);
    CHECK(memcmp(a.adam_v, r.adam_v, sizeof(float) * a.lay.n_params) == 0);
    CHECK(la[7] < la[0]);
    meta_model_free(&a);
    meta_model_free(&r);
}

static void test_damaged(void) {
    MetaConfig c = toy_cfg(2);
    char err[256], path[128], bad[128];
    snprintf(path, sizeof path, "%s/ok.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    MetaModel a, r;
    CHECK(meta_model_init(&a, &c, 3, B, err, sizeof err) == 0);
    CHECK(meta_checkpoint_save(&a, path, err, sizeof err) == 0);
    /* truncated */
    FILE *fi = fopen(path, "rb");
    CHECK(fi != NULL);
    static unsigned char buf[1 << 20];
    size_t n = fi ? fread(buf, 1, sizeof buf, fi) : 0;
    if (fi) fclose(fi);
    FILE *fo = fopen(bad, "wb");
    fwrite(buf, 1, n - 10, fo);
    fclose(fo);
    CHECK(meta_checkpoint_load(&r, bad, B, err, sizeof err) != 0 && strstr(err, "bad.safetensors"));
    /* missing file */
    CHECK(meta_checkpoint_load(&r, "/nonexistent/x.safetensors", B, err, sizeof err) != 0);
    /* a tensor with the wrong shape: rewrite with one shape changed */
    StWriter w;
    st_writer_init(&w);
    StFile f;
    CHECK(st_read_file(path, &f, err, sizeof err) == 0);
    for (int i = 0; i < f.n; i++) {
        StTensor *t = &f.tensors[i];
        int64_t shape[2] = {t->shape[0], t->ndim > 1 ? t->shape[1] : 0};
        if (strcmp(t->name, "param.block1.mlp.fc.w") == 0) shape[0] = shape[0] / 2;
        st_writer_add(&w, t->name, t->dtype, t->ndim, shape, t->data);
    }
    for (int i = 0; i < f.n_meta; i++) st_writer_meta(&w, f.meta[i].key, f.meta[i].value);
    CHECK(st_writer_save(&w, bad, err, sizeof err) == 0);
    st_writer_free(&w);
    CHECK(meta_checkpoint_load(&r, bad, B, err, sizeof err) != 0 &&
          strstr(err, "param.block1.mlp.fc.w"));
    /* a config that disagrees with the tensors */
    st_writer_init(&w);
    for (int i = 0; i < f.n; i++)
        st_writer_add(&w, f.tensors[i].name, f.tensors[i].dtype, f.tensors[i].ndim,
                      f.tensors[i].shape, f.tensors[i].data);
    for (int i = 0; i < f.n_meta; i++) {
        const char *v = f.meta[i].value;
        char cbuf[512];
        if (strcmp(f.meta[i].key, "config") == 0) {
            MetaConfig c2 = c;
            c2.vocab = 10;
            char *js = meta_config_to_json(&c2);
            snprintf(cbuf, sizeof cbuf, "%s", js);
            free(js);
            v = cbuf;
        }
        st_writer_meta(&w, f.meta[i].key, v);
    }
    CHECK(st_writer_save(&w, bad, err, sizeof err) == 0);
    st_writer_free(&w);
    CHECK(meta_checkpoint_load(&r, bad, B, err, sizeof err) != 0 && strstr(err, "embed.token"));
    st_file_free(&f);
    meta_model_free(&a);
}

int main(void) {
    toy_fill(9);
    if (test_tmpdir(dir, sizeof dir, "meta_ckpt") != 0) return 1;
    RUN(test_resume_bit_identical);
    RUN(test_damaged);
    test_rm_tree(dir);
    TEST_END();
}
