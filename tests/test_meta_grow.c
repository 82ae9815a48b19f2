/* Growing a meta-model in depth: the grown model computes exactly the shallow one's loss and
 * logits, its new blocks learn from the first step, and mismatched shapes are refused. A
 * wider output vocabulary keeps every old token's logit and learns the new tokens. */
#include <stdint.h>
#include <stdlib.h>

#include "meta/meta.h"
#include "meta_toy.h"
#include "test.h"
#include "util/rng.h"


static float train_steps(MetaModel *m, int n) {
    MetaBatch b = {B, P, T, pay, ids, plen, tok, tgt};
    MetaAdamW hp = meta_adamw_defaults();
    char err[256];
    float loss = 0;
    for (int i = 0; i < n; i++) {
        meta_zero_grad(m);
        CHECK(meta_forward(m, &b, &loss, err, sizeof err) == 0);
        meta_backward(m, &b);
        meta_clip_grad_norm(m, 1.0f);
        meta_adamw_step(m, &hp, 3e-3f);
    }
    return loss;
}

static float loss_of(MetaModel *m) {
    MetaBatch b = {B, P, T, pay, ids, plen, tok, tgt};
    char err[256];
    float loss = -1;
    CHECK(meta_forward(m, &b, &loss, err, sizeof err) == 0);
    return loss;
}

static double tensor_abs_sum(const MetaModel *m, const char *name) {
    const MetaTensorInfo *t = meta_layout_find(&m->lay, name);
    double s = 0;
    for (size_t i = 0; t && i < t->numel; i++) s += fabs(m->params[t->offset + i]);
    return s;
}

static void check_grow(int l, int L, int keep_adam) {
    char err[256];
    MetaConfig cs = toy_cfg(l), cd = toy_cfg(L);
    MetaModel src, dst;
    CHECK(meta_model_init(&src, &cs, 5, B, err, sizeof err) == 0);
    train_steps(&src, 6); /* parameters and moments away from their initialisation */
    float want = loss_of(&src);
    float *want_logits = malloc(sizeof(float) * B * T * V);
    memcpy(want_logits, src.acts.logits, sizeof(float) * B * T * V);
    CHECK(meta_model_init(&dst, &cd, 77, B, err, sizeof err) == 0);
    CHECK_MSG(meta_model_grow(&dst, &src, keep_adam, err, sizeof err) == 0, "%s", err);
    CHECK(dst.step == (keep_adam ? src.step : 0));
    float got = loss_of(&dst);
    CHECK_MSG(got == want, "%d -> %d layers: loss %.9g, want %.9g", l, L, got, want);
    CHECK(memcmp(dst.acts.logits, want_logits, sizeof(float) * B * T * V) == 0);
    /* the old blocks sit where meta_grow_place puts them, with their moments when kept */
    for (int i = 0; i < l; i++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "block%d.attn.qkv.w", i);
        snprintf(b, sizeof b, "block%d.attn.qkv.w", meta_grow_place(i, l, L));
        const MetaTensorInfo *ts = meta_layout_find(&src.lay, a),
                             *td = meta_layout_find(&dst.lay, b);
        CHECK(ts && td &&
              memcmp(src.params + ts->offset, dst.params + td->offset, sizeof(float) * ts->numel) ==
                  0);
        CHECK(ts && td &&
              (memcmp(src.adam_v + ts->offset, dst.adam_v + td->offset,
                      sizeof(float) * ts->numel) == 0) == (keep_adam != 0));
    }
    /* a new block starts as identity, then learns: its output projection moves at once */
    int fresh = -1;
    for (int j = 0; j < L && fresh < 0; j++) {
        int used = 0;
        for (int i = 0; i < l; i++) used |= meta_grow_place(i, l, L) == j;
        if (!used) fresh = j;
    }
    if (L > l) {
        char nm[64];
        snprintf(nm, sizeof nm, "block%d.mlp.proj.w", fresh);
        CHECK(tensor_abs_sum(&dst, nm) == 0.0);
        float before = loss_of(&dst);
        float after = train_steps(&dst, 20);
        CHECK(tensor_abs_sum(&dst, nm) > 0.0);
        CHECK_MSG(after < before, "%d -> %d: loss %g -> %g", l, L, before, after);
    }
    free(want_logits);
    meta_model_free(&src);
    meta_model_free(&dst);
}

static void test_same_function(void) {
    check_grow(2, 2, 0);
    check_grow(2, 3, 0);
    check_grow(2, 5, 1);
    check_grow(1, 4, 1);
    check_grow(3, 8, 0);
}

static void test_place(void) {
    for (int l = 1; l <= 6; l++)
        for (int L = l; L <= 12; L++) {
            CHECK(meta_grow_place(0, l, L) == 0);
            if (l > 1) CHECK(meta_grow_place(l - 1, l, L) == L - 1);
            for (int i = 1; i < l; i++)
                CHECK(meta_grow_place(i, l, L) > meta_grow_place(i - 1, l, L));
        }
    CHECK(meta_grow_place(1, 4, 6) == 2 && meta_grow_place(2, 4, 6) == 3);
}

static void test_refused(void) {
    char err[256];
    MetaConfig c3 = toy_cfg(3), c2 = toy_cfg(2), wide = toy_cfg(4);
    wide.d_model = 32;
    MetaModel a, b, w;
    CHECK(meta_model_init(&a, &c3, 1, B, err, sizeof err) == 0);
    CHECK(meta_model_init(&b, &c2, 1, B, err, sizeof err) == 0);
    CHECK(meta_model_init(&w, &wide, 1, B, err, sizeof err) == 0);
    CHECK(meta_model_grow(&b, &a, 0, err, sizeof err) != 0 && strstr(err, "at least its 3"));
    CHECK(meta_model_grow(&w, &a, 0, err, sizeof err) != 0);
    meta_model_free(&a);
    meta_model_free(&b);
    meta_model_free(&w);
}

/* Vocabulary V -> V + 4 (and two layers more): the old tokens' logits are the old model's,
 * bit for bit, since the new rows only add columns to the head; the new rows are trainable
 * (a target among them gets likelier); and a vocabulary may not shrink. */
static void test_vocab(void) {
    char err[256];
    enum { W = V + 4 };
    MetaConfig cs = toy_cfg(2), cd = toy_cfg(4);
    cd.vocab = W;
    MetaModel src, dst;
    CHECK(meta_model_init(&src, &cs, 5, B, err, sizeof err) == 0);
    train_steps(&src, 6);
    loss_of(&src);
    float *want = malloc(sizeof(float) * B * T * V);
    memcpy(want, src.acts.logits, sizeof(float) * B * T * V);
    CHECK(meta_model_init(&dst, &cd, 77, B, err, sizeof err) == 0);
    CHECK_MSG(meta_model_grow(&dst, &src, 1, err, sizeof err) == 0, "%s", err);
    loss_of(&dst);
    int same = 1;
    for (int p = 0; p < B * T; p++)
        same &= memcmp(dst.acts.logits + (size_t)p * W, want + (size_t)p * V,
                       sizeof(float) * V) == 0;
    CHECK(same);
    /* teach the new token W - 1 at every position: its probability must rise */
    int32_t keep[B * T];
    memcpy(keep, tgt, sizeof keep);
    for (int i = 0; i < B * T; i++) tgt[i] = W - 1;
    float before = loss_of(&dst), after = train_steps(&dst, 10);
    CHECK_MSG(after < before, "loss on a new token %g -> %g", before, after);
    memcpy(tgt, keep, sizeof keep);
    CHECK(meta_model_grow(&src, &dst, 0, err, sizeof err) != 0 && strstr(err, "vocabulary"));
    free(want);
    meta_model_free(&src);
    meta_model_free(&dst);
}

int main(void) {
    toy_fill(9);
    RUN(test_same_function);
    RUN(test_place);
    RUN(test_refused);
    RUN(test_vocab);
    TEST_END();
}
