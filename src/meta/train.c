/* The training loop's pieces (meta.h): config, deterministic batches, steps, validation,
 * atomic checkpoints. The command line around them is cli/cmd_train.c. */
#include "io/json_util.h"
#include "meta/meta.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/rng.h"

void train_config_default(TrainConfig *c) {
    memset(c, 0, sizeof *c);
    c->d_model = 128;
    c->n_layer = 4;
    c->n_head = 4;
    c->mlp_ratio = 4;
    c->max_prefix = 512;
    c->batch = 32;
    c->lr = 1e-3;
    c->lr_min = 1e-4;
    c->warmup = 200;
    c->steps = 10000;
    c->weight_decay = 0.1;
    c->clip = 1.0;
    c->seed = 1;
    c->eval_every = 500;
    c->ckpt_every = 500;
    c->log_every = 10;
    c->eval_tf = 256;
    c->eval_decode = 64;
    wt_options_default(&c->wt);
    c->val_seed = 2;
    c->w_linseqmap = c->w_one_row = c->w_num_map = c->w_mono_map = 1;
    snprintf(c->exclude, sizeof c->exclude, "examples");
}

MetaConfig train_meta_config(const TrainConfig *c) {
    MetaConfig m;
    memset(&m, 0, sizeof m);
    m.d_model = c->d_model;
    m.n_head = c->n_head;
    m.n_layer = c->n_layer;
    m.mlp_ratio = c->mlp_ratio;
    m.payload_dim = WT_WIDTH;
    m.n_id_fields = WT_N_IDS;
    wt_id_vocab(m.id_vocab);
    m.vocab = pc_vocab_size();
    m.max_prefix = c->max_prefix;
    m.max_prog = PC_MAX_LEN;
    return m;
}

/* The integer and real fields, by JSON name. */
typedef struct Field {
    const char *name;
    int kind; /* 0 int, 1 long, 2 double, 3 uint64, 4 char[256] */
    size_t off;
} Field;
#define F_(n, k)                                                                                   \
    { #n, k, offsetof(TrainConfig, n) }
static const Field k_fields[] = {
    F_(d_model, 0),      F_(n_layer, 0),   F_(n_head, 0),      F_(mlp_ratio, 0),  F_(max_prefix, 0),
    F_(batch, 0),        F_(lr, 2),        F_(lr_min, 2),      F_(warmup, 1),     F_(steps, 1),
    F_(weight_decay, 2), F_(clip, 2),      F_(seed, 3),        F_(eval_every, 1), F_(ckpt_every, 1),
    F_(log_every, 1),    F_(eval_tf, 0),   F_(eval_decode, 0), F_(stream, 0),     F_(val_seed, 3),
    F_(w_linseqmap, 2),  F_(w_one_row, 2), F_(w_num_map, 2),   F_(w_mono_map, 2), F_(exclude, 4),
    F_(init, 4),         F_(init_step, 1), F_(dedup_pool, 1), F_(general, 2),
};
#undef F_
#define N_FIELDS (int)(sizeof k_fields / sizeof k_fields[0])

char *train_config_to_json(const TrainConfig *c) {
    char buf[4096];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "{");
    for (int i = 0; i < N_FIELDS; i++) {
        const void *p = (const char *)c + k_fields[i].off;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "\"%s\":", k_fields[i].name);
        switch (k_fields[i].kind) {
        case 0: n += (size_t)snprintf(buf + n, sizeof buf - n, "%d", *(const int *)p); break;
        case 1: n += (size_t)snprintf(buf + n, sizeof buf - n, "%ld", *(const long *)p); break;
        case 2: { /* 0.1, not 0.10000000000000001 */
            char num[JSON_NUMBER_CAP];
            json_number_text(*(const double *)p, num);
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", num);
            break;
        }
        case 4: { /* a path (--exclude, --init): escaped, so that the file stays JSON whatever it holds */
            StrBuf q;
            sb_init(&q);
            json_write_string(&q, (const char *)p, strlen((const char *)p));
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", q.s);
            sb_free(&q);
            break;
        }
        default:
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%llu",
                                  (unsigned long long)*(const uint64_t *)p);
            break;
        }
        n += (size_t)snprintf(buf + n, sizeof buf - n, ",");
    }
    snprintf(buf + n, sizeof buf - n, "\"wt_scheme\":\"%s\",\"wt_norm\":\"%s\"}",
             wt_scheme_name(c->wt.scheme), wt_norm_name(c->wt.norm));
    return strdup(buf);
}

int train_config_from_json(const char *json, TrainConfig *c, char *err, size_t errcap) {
    cJSON *o = cJSON_Parse(json);
    if (!o || !cJSON_IsObject(o)) {
        snprintf(err, errcap, "config is not a JSON object");
        cJSON_Delete(o);
        return 1;
    }
    int rc = 0;
    for (const cJSON *it = o->child; it && !rc; it = it->next) {
        if (strcmp(it->string, "wt_scheme") == 0 || strcmp(it->string, "wt_norm") == 0) {
            int bad = !cJSON_IsString(it) ||
                      (it->string[3] == 's' ? wt_scheme_parse(it->valuestring, &c->wt.scheme)
                                            : wt_norm_parse(it->valuestring, &c->wt.norm)) != 0;
            if (bad) {
                snprintf(err, errcap, "config key \"%s\": unknown value", it->string);
                rc = 1;
            }
            continue;
        }
        int i = 0;
        while (i < N_FIELDS && strcmp(k_fields[i].name, it->string) != 0) i++;
        if (i == N_FIELDS) {
            snprintf(err, errcap, "config: unknown key \"%s\"", it->string);
            rc = 1;
            break;
        }
        if (k_fields[i].kind == 4) {
            const char *v = cJSON_IsString(it) ? it->valuestring : NULL;
            int bad = !v || strlen(v) >= 256;
            for (const char *q = v; !bad && *q; q++)
                bad = *q == '"' || *q == '\\' || (unsigned char)*q < 0x20;
            if (bad) {
                snprintf(
                    err, errcap,
                    "config key \"%s\" must be a string of at most 255 characters without quotes or backslashes",
                    it->string);
                rc = 1;
                break;
            }
            snprintf((char *)c + k_fields[i].off, 256, "%s", v);
            continue;
        }
        if (!cJSON_IsNumber(it)) {
            snprintf(err, errcap, "config key \"%s\" must be a number", it->string);
            rc = 1;
            break;
        }
        double v = it->valuedouble;
        void *p = (char *)c + k_fields[i].off;
        if (k_fields[i].kind != 2 && (v != floor(v) || fabs(v) > 9e15)) {
            snprintf(err, errcap, "config key \"%s\" must be an integer", it->string);
            rc = 1;
            break;
        }
        switch (k_fields[i].kind) {
        case 0:
            if (fabs(v) > 2e9) {
                snprintf(err, errcap, "config key \"%s\" out of range", it->string);
                rc = 1;
            } else *(int *)p = (int)v;
            break;
        case 1: *(long *)p = (long)v; break;
        case 2: *(double *)p = v; break;
        default:
            if (v < 0) {
                snprintf(err, errcap, "config key \"%s\" must be >= 0", it->string);
                rc = 1;
            } else *(uint64_t *)p = (uint64_t)v;
            break;
        }
    }
    cJSON_Delete(o);
    return rc;
}

int train_config_check(const TrainConfig *c, char *err, size_t errcap) {
    if (c->batch < 1 || c->batch > 4096)
        return snprintf(err, errcap, "batch must be in 1..4096"), 1;
    if (c->steps < 1) return snprintf(err, errcap, "steps must be >= 1"), 1;
    if (c->warmup < 0) return snprintf(err, errcap, "warmup must be >= 0"), 1;
    if (!(c->lr > 0) || !(c->lr_min >= 0) || c->lr_min > c->lr)
        return snprintf(err, errcap, "need 0 <= lr_min <= lr and lr > 0"), 1;
    if (!(c->clip >= 0) || !(c->weight_decay >= 0))
        return snprintf(err, errcap, "clip and weight_decay must be >= 0"), 1;
    if (c->eval_every < 0 || c->ckpt_every < 0 || c->log_every < 1)
        return snprintf(err, errcap, "eval_every/ckpt_every must be >= 0, log_every >= 1"), 1;
    if (c->eval_tf < 0 || c->eval_decode < 0)
        return snprintf(err, errcap, "eval sample counts must be >= 0"), 1;
    if (c->max_prefix < 1 || c->max_prefix > WT_MAX_TOKENS)
        return snprintf(err, errcap, "max_prefix out of range"), 1;
    if (c->stream != 0 && c->stream != 1) return snprintf(err, errcap, "stream must be 0 or 1"), 1;
    if (!(c->w_linseqmap >= 1 && c->w_linseqmap <= 1000) ||
        !(c->w_one_row >= 1 && c->w_one_row <= 1000) ||
        !(c->w_num_map >= 1 && c->w_num_map <= 1000) ||
        !(c->w_mono_map >= 1 && c->w_mono_map <= 1000))
        return snprintf(err, errcap, "class weights must be in [1, 1000]"), 1;
    if (c->dedup_pool < 0 || c->dedup_pool > 100000000L)
        return snprintf(err, errcap, "dedup_pool must be in 0..1e8"), 1;
    if (!(c->general >= 0 && c->general <= 1))
        return snprintf(err, errcap, "general must be in [0, 1]"), 1;
    if (c->init_step < 0) return snprintf(err, errcap, "init_step must be >= 0"), 1;
    MetaConfig m = train_meta_config(c);
    return meta_config_validate(&m, err, errcap);
}

/* ---- trainer ------------------------------------------------------------------------- */

static int alloc_buffers(Trainer *t, char *err, size_t errcap) {
    size_t B = (size_t)t->max_batch, P = (size_t)t->tc.max_prefix;
    t->payload = malloc(sizeof(float) * B * P * WT_WIDTH);
    t->ids = malloc(sizeof(int32_t) * B * P * WT_N_IDS);
    t->plen = malloc(sizeof(int32_t) * B);
    t->tokens = malloc(sizeof(int32_t) * B * PC_MAX_LEN);
    t->targets = malloc(sizeof(int32_t) * B * PC_MAX_LEN);
    t->perm = malloc(sizeof(int) * (size_t)(t->data && t->data->n ? t->data->n : 1));
    t->perm_epoch = -1;
    train_data_init(&t->sbuf[0]);
    train_data_init(&t->sbuf[1]);
    t->sstep[0] = t->sstep[1] = -1;
    if (!t->payload || !t->ids || !t->plen || !t->tokens || !t->targets || !t->perm) {
        snprintf(err, errcap, "out of memory");
        return 1;
    }
    return 0;
}

static void stream_join(Trainer *t);

static void free_buffers(Trainer *t) {
    stream_join(t);
    train_data_free(&t->sbuf[0]);
    train_data_free(&t->sbuf[1]);
    free(t->payload);
    free(t->ids);
    free(t->plen);
    free(t->tokens);
    free(t->targets);
    free(t->perm);
}

static int trainer_init_cfg(Trainer *t, const TrainConfig *tc, const TrainData *data,
                            const MetaConfig *mc, char *err, size_t errcap) {
    memset(t, 0, sizeof *t);
    t->tc = *tc;
    t->data = data;
    t->max_batch = tc->batch;
    if (train_config_check(tc, err, errcap) != 0) return 1;
    if (meta_model_init(&t->m, mc, tc->seed, t->max_batch, err, errcap) != 0) return 1;
    if (alloc_buffers(t, err, errcap) != 0) {
        trainer_free(t);
        return 1;
    }
    return 0;
}

int trainer_init(Trainer *t, const TrainConfig *tc, const TrainData *data, char *err,
                 size_t errcap) {
    MetaConfig mc = train_meta_config(tc);
    return trainer_init_cfg(t, tc, data, &mc, err, errcap);
}

/* The trainer around m, a checkpoint just loaded from ckpt (owned from here on: freed on
 * failure), whose model config must match tc's. */
static int trainer_adopt(Trainer *t, const TrainConfig *tc, const TrainData *data, MetaModel *m,
                         const char *ckpt, char *err, size_t errcap) {
    memset(t, 0, sizeof *t);
    t->tc = *tc;
    t->data = data;
    t->max_batch = tc->batch;
    t->m = *m;
    MetaConfig want = train_meta_config(tc);
    const MetaConfig *got = &t->m.cfg;
    /* A model trained before the vocabulary grew (tables) keeps its output size; a target it
     * cannot emit is refused by meta_forward's index check rather than silently dropped. */
    if (got->vocab != want.vocab && meta_vocab_known(got->vocab)) want.vocab = got->vocab;
    if (got->d_model != want.d_model || got->n_layer != want.n_layer ||
        got->n_head != want.n_head || got->mlp_ratio != want.mlp_ratio ||
        got->max_prefix != want.max_prefix || got->vocab != want.vocab ||
        got->max_prog != want.max_prog || got->payload_dim != want.payload_dim) {
        snprintf(err, errcap, "%s: the checkpoint's model config differs from the training config",
                 ckpt);
        meta_model_free(&t->m);
        return 1;
    }
    if (alloc_buffers(t, err, errcap) != 0) {
        trainer_free(t);
        return 1;
    }
    return 0;
}

int trainer_init_resume(Trainer *t, const TrainConfig *tc, const TrainData *data, const char *ckpt,
                        char *err, size_t errcap) {
    memset(t, 0, sizeof *t);
    if (train_config_check(tc, err, errcap) != 0) return 1;
    MetaModel m;
    if (meta_checkpoint_load(&m, ckpt, tc->batch, err, errcap) != 0) return 1;
    return trainer_adopt(t, tc, data, &m, ckpt, err, errcap);
}

/* The output vocabulary a run from src needs: src's own, which may be an older, smaller one
 * (before tables), unless the run draws general-setting samples, whose tables need the
 * value tokens. */
static int vocab_needed(const TrainConfig *tc, const MetaModel *src) {
    return tc->general > 0 && src->cfg.vocab < pc_vocab_size() ? pc_vocab_size() : src->cfg.vocab;
}

/* A model of tc's config, deeper than src's or with a larger output vocabulary, grown from
 * it (meta_model_grow). */
static int trainer_init_grown(Trainer *t, const TrainConfig *tc, const TrainData *data,
                              const MetaModel *src, int keep_adam, char *err, size_t errcap) {
    MetaConfig mc = train_meta_config(tc);
    mc.vocab = vocab_needed(tc, src);
    if (trainer_init_cfg(t, tc, data, &mc, err, errcap) != 0) return 1;
    if (meta_model_grow(&t->m, src, keep_adam, err, errcap) != 0) {
        trainer_free(t);
        return 1;
    }
    return 0;
}

int trainer_init_from(Trainer *t, const TrainConfig *tc, const TrainData *data, const char *ckpt,
                      int keep_adam, char *err, size_t errcap) {
    memset(t, 0, sizeof *t);
    if (train_config_check(tc, err, errcap) != 0) return 1;
    MetaModel src; /* loaded once: grown into a deeper model, else adopted as it is */
    if (meta_checkpoint_load(&src, ckpt, tc->batch, err, errcap) != 0) return 1;
    int rc;
    if (src.cfg.n_layer < tc->n_layer || src.cfg.vocab < vocab_needed(tc, &src)) {
        rc = trainer_init_grown(t, tc, data, &src, keep_adam, err, errcap);
        meta_model_free(&src);
    } else {
        rc = trainer_adopt(t, tc, data, &src, ckpt, err, errcap);
    }
    if (rc != 0) return 1;
    if (keep_adam) {
        t->tc.init_step = t->m.step;
    } else {
        size_t np = t->m.lay.n_params;
        memset(t->m.adam_m, 0, sizeof(float) * np);
        memset(t->m.adam_v, 0, sizeof(float) * np);
        t->m.step = 0;
        t->tc.init_step = 0;
    }
    snprintf(t->tc.init, sizeof t->tc.init, "%s", ckpt);
    return 0;
}

void trainer_set_stream(Trainer *t, TrainStream *s) { t->stream = s; }

long trainer_run_step(const Trainer *t) { return t->m.step - t->tc.init_step; }

void trainer_free(Trainer *t) {
    meta_model_free(&t->m);
    free_buffers(t);
    memset(t, 0, sizeof *t);
}

int trainer_sample_at(Trainer *t, long g) {
    int n = t->data->n;
    long e = g / n;
    if (e != t->perm_epoch) {
        Rng r;
        /* one stream per (seed, epoch), independent of the model's initialisation stream */
        rng_seed(&r,
                 t->tc.seed * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(e + 1) * 0xD1B54A32D192ED03ULL);
        for (int i = 0; i < n; i++) t->perm[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = (int)rng_below(&r, (uint64_t)i + 1);
            int tmp = t->perm[i];
            t->perm[i] = t->perm[j];
            t->perm[j] = tmp;
        }
        t->perm_epoch = e;
    }
    return t->perm[g % n];
}

/* Fills the batch buffers with samples idx[B] of d. Returns 0 or non-zero (bad table). */
static int build_batch(Trainer *t, const TrainData *d, const int *idx, int B, MetaBatch *b,
                       char *err, size_t errcap) {
    int P = 0, T = 1;
    int32_t seq[PC_MAX_LEN];
    int lens[4096];
    for (int i = 0; i < B; i++) {
        int s = idx[i];
        int p = (int)(d->off[s + 1] - d->off[s]);
        if (p > P) P = p;
        if (pc_encode(d->prog + (size_t)s * PT_ROWS * PT_COLS, seq, &lens[i], err, errcap) != 0)
            return 1;
        if (lens[i] > T) T = lens[i];
    }
    if (P > t->tc.max_prefix) {
        snprintf(err, errcap, "sample with %d weight tokens > max_prefix %d", P, t->tc.max_prefix);
        return 1;
    }
    long count = 0;
    for (int i = 0; i < B; i++) {
        int s = idx[i];
        int p = (int)(d->off[s + 1] - d->off[s]);
        const float *src = d->payload + d->off[s] * WT_WIDTH;
        const int16_t *sid = d->ids + d->off[s] * WT_N_IDS;
        memcpy(t->payload + (size_t)i * P * WT_WIDTH, src, sizeof(float) * WT_WIDTH * (size_t)p);
        memset(t->payload + ((size_t)i * P + (size_t)p) * WT_WIDTH, 0,
               sizeof(float) * WT_WIDTH * (size_t)(P - p));
        for (int k = 0; k < p * WT_N_IDS; k++)
            t->ids[(size_t)i * P * WT_N_IDS + (size_t)k] = sid[k];
        for (int k = p * WT_N_IDS; k < P * WT_N_IDS; k++)
            t->ids[(size_t)i * P * WT_N_IDS + (size_t)k] = 0;
        t->plen[i] = p;
        pc_encode(d->prog + (size_t)s * PT_ROWS * PT_COLS, seq, &lens[i], err, errcap);
        int32_t *tok = t->tokens + (size_t)i * T, *tgt = t->targets + (size_t)i * T;
        for (int j = 0; j < T; j++) {
            tok[j] = j == 0 ? PC_BOS : (j <= lens[i] - 1 ? seq[j - 1] : PC_PAD);
            tgt[j] = j < lens[i] ? seq[j] : -1;
        }
        count += p + lens[i];
    }
    t->P = P;
    t->T = T;
    t->tok_count = count;
    MetaBatch mb = {B, P, T, t->payload, t->ids, t->plen, t->tokens, t->targets};
    *b = mb;
    return 0;
}

/* ---- streamed batches ----------------------------------------------------------------- */

static void *stream_main(void *arg) {
    Trainer *t = arg;
    TrainData *d = &t->sbuf[t->th_slot];
    train_data_clear(d);
    t->th_rc = train_stream_fill(t->stream, t->th_step * t->tc.batch, t->tc.batch, d, t->th_err,
                                 sizeof t->th_err);
    if (t->th_rc == 0) t->sstep[t->th_slot] = t->th_step;
    return NULL;
}

static void stream_join(Trainer *t) {
    if (!t->th_on) return;
    pthread_join(t->th, NULL);
    t->th_on = 0;
}

/* Starts filling slot with the batch of run step (on a thread; synchronously when async is 0
 * or the thread cannot start). Returns 0, or non-zero with a message (synchronous only). */
static int stream_start(Trainer *t, int slot, long step, int async, char *err, size_t errcap) {
    t->th_slot = slot;
    t->th_step = step;
    t->th_rc = 0;
    t->sstep[slot] = -1;
    if (async && pthread_create(&t->th, NULL, stream_main, t) == 0) {
        t->th_on = 1;
        return 0;
    }
    stream_main(t);
    if (t->th_rc) snprintf(err, errcap, "%s", t->th_err);
    return t->th_rc;
}

/* The samples of run step `step` (generated now unless prefetched), then the prefetch of the
 * next step started. Returns the slot, or -1 with a message. */
static int stream_batch(Trainer *t, long step, char *err, size_t errcap) {
    stream_join(t);
    if (t->th_rc) {
        snprintf(err, errcap, "%s", t->th_err);
        return -1;
    }
    int slot = t->sstep[0] == step ? 0 : t->sstep[1] == step ? 1 : -1;
    if (slot < 0) {
        slot = 0;
        if (stream_start(t, slot, step, 0, err, errcap) != 0) return -1;
    }
    if (step + 1 < t->tc.steps) stream_start(t, slot ^ 1, step + 1, 1, err, errcap);
    return slot;
}

int trainer_step(Trainer *t, float *loss, float *lr, char *err, size_t errcap) {
    int B = t->tc.batch;
    int idx[4096];
    long step = trainer_run_step(t);
    const TrainData *d = t->data;
    if (t->stream) {
        int slot = stream_batch(t, step, err, errcap);
        if (slot < 0) return 1;
        d = &t->sbuf[slot];
        for (int i = 0; i < B; i++) idx[i] = i;
    } else {
        if (!d || d->n < 1) {
            snprintf(err, errcap, "no training samples");
            return 1;
        }
        for (int i = 0; i < B; i++) idx[i] = trainer_sample_at(t, step * (long)B + i);
    }
    MetaBatch b;
    if (build_batch(t, d, idx, B, &b, err, errcap) != 0) return 1;
    meta_zero_grad(&t->m);
    if (meta_forward(&t->m, &b, loss, err, errcap) != 0) return 1;
    meta_backward(&t->m, &b);
    if (t->tc.clip > 0) meta_clip_grad_norm(&t->m, (float)t->tc.clip);
    MetaAdamW hp = meta_adamw_defaults();
    hp.weight_decay = (float)t->tc.weight_decay;
    MetaSchedule sch = {(float)t->tc.lr, (float)t->tc.lr_min, t->tc.warmup, t->tc.steps};
    *lr = meta_lr_schedule(&sch, step);
    meta_adamw_step(&t->m, &hp, *lr);
    return 0;
}

int trainer_eval(Trainer *t, const TrainData *d, int n_tf, int n_dec, double *tok_acc,
                 double *exact, char *err, size_t errcap) {
    *tok_acc = 0;
    *exact = 0;
    if (n_tf > d->n) n_tf = d->n;
    if (n_dec > d->n) n_dec = d->n;
    long right = 0, total = 0;
    int V = t->m.cfg.vocab;
    for (int s0 = 0; s0 < n_tf; s0 += t->max_batch) {
        int B = n_tf - s0 < t->max_batch ? n_tf - s0 : t->max_batch;
        int idx[4096];
        for (int i = 0; i < B; i++) idx[i] = s0 + i;
        MetaBatch b;
        if (build_batch(t, d, idx, B, &b, err, errcap) != 0) return 1;
        b.targets = NULL;
        if (meta_forward(&t->m, &b, NULL, err, errcap) != 0) return 1;
        for (int i = 0; i < B; i++)
            for (int j = 0; j < t->T; j++) {
                int y = t->targets[(size_t)i * t->T + j];
                if (y < 0) continue;
                const float *z = t->m.acts.logits + ((size_t)i * t->T + j) * V;
                int best = 0;
                for (int v = 1; v < V; v++)
                    if (z[v] > z[best]) best = v;
                right += best == y;
                total++;
            }
    }
    if (total) *tok_acc = (double)right / (double)total;
    int ok = 0;
    for (int s = 0; s < n_dec; s++) {
        int16_t table[PT_ROWS * PT_COLS];
        char e2[256];
        int P = (int)(d->off[s + 1] - d->off[s]);
        if (meta_decode_table(&t->m, d->payload + d->off[s] * WT_WIDTH,
                              d->ids + d->off[s] * WT_N_IDS, P, 1, table, e2, sizeof e2) != 0)
            continue; /* a failed decode counts as wrong */
        ok += memcmp(table, d->prog + (size_t)s * PT_ROWS * PT_COLS, sizeof table) == 0;
    }
    if (n_dec) *exact = (double)ok / (double)n_dec;
    return 0;
}

int trainer_save(const Trainer *t, const char *path, char *err, size_t errcap) {
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    if (!tmp) {
        snprintf(err, errcap, "out of memory");
        return 1;
    }
    snprintf(tmp, n, "%s.tmp", path);
    if (meta_checkpoint_save(&t->m, tmp, err, errcap) != 0) {
        free(tmp);
        return 1;
    }
    const char *crash = getenv("ITRACR_TEST_CRASH_IN_CHECKPOINT");
    if (crash && strcmp(crash, "1") == 0)
        _exit(3); /* test hook: die with only the temp file written */
    if (rename(tmp, path) != 0) {
        snprintf(err, errcap, "%s: cannot rename %s over it", path, tmp);
        free(tmp);
        return 1;
    }
    free(tmp);
    return 0;
}
