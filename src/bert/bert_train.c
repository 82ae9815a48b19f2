/* Training the encoder on a task's input/output pairs (AdamW, warmup then cosine decay), and
 * its accuracy on them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert/bert.h"
#include "util/adam.h"
#include "util/errmsg.h"
#include "util/rng.h"

void bert_train_options_default(BertTrainOptions *o) {
    o->steps = 3000;
    o->batch = 32;
    o->lr = 3e-3;
    o->weight_decay = 0.01;
    o->warmup = 0.05;
    o->seed = 1;
    o->verbose = false;
}

int bert_accuracy(const BertModel *m, const BertTask *t, BertAccuracy *acc, char *err,
                  size_t errcap) {
    memset(acc, 0, sizeof *acc);
    if (bert_task_fits(m, t, err, errcap)) return 1;
    int C = m->cfg.classes, T = t->T, chunk = 256;
    double *logits = malloc(sizeof(double) * (size_t)chunk * T * C);
    if (!logits) abort();
    for (int k0 = 0; k0 < t->n_inputs; k0 += chunk) {
        int B = t->n_inputs - k0 < chunk ? t->n_inputs - k0 : chunk;
        BertBatch bt = {t->ids + (size_t)k0 * T, NULL, t->len + k0, B, T};
        if (bert_forward(m, &bt, logits, err, errcap)) {
            free(logits);
            return 1;
        }
        for (int b = 0; b < B; b++) {
            bool all = true;
            for (int i = 1; i < t->len[k0 + b]; i++) {
                int y = t->tgt[(size_t)(k0 + b) * T + i];
                if (y < 0) continue; /* None: nothing to compare */
                const double *z = logits + ((size_t)b * T + i) * C;
                int best = 0;
                for (int c = 1; c < C; c++) best = z[c] > z[best] ? c : best;
                bool ok = best == y;
                all &= ok;
                acc->positions++, acc->positions_ok += ok;
                if (i - 1 < 64) acc->pos_n[i - 1]++, acc->pos_ok[i - 1] += ok;
            }
            acc->inputs++, acc->inputs_ok += all;
        }
    }
    free(logits);
    return 0;
}

static double lr_at(const BertTrainOptions *o, int step) {
    double warm = o->warmup * o->steps;
    if (step < warm) return o->lr * (step + 1) / warm;
    double p = (step - warm) / fmax(1.0, o->steps - warm);
    return o->lr * (0.1 + 0.9 * 0.5 * (1 + cos(M_PI * p))); /* cosine to a tenth */
}

typedef struct Adam {
    double *m, *v, *g;    /* [n_params] */
    unsigned char *decay; /* [n_params] weight decay applies */
} Adam;

static void adam_init(Adam *a, const BertModel *m) {
    a->m = calloc(m->n_params, sizeof(double));
    a->v = calloc(m->n_params, sizeof(double));
    a->g = calloc(m->n_params, sizeof(double));
    a->decay = calloc(m->n_params, 1);
    BertTensor *t = malloc(sizeof(BertTensor) * BERT_MAX_TENSORS);
    if (!a->m || !a->v || !a->g || !a->decay || !t) abort();
    int n = bert_tensors(&m->cfg, t);
    for (int i = 0; i < n; i++) memset(a->decay + t[i].offset, t[i].decay, t[i].numel);
    free(t);
}

static void adam_step(Adam *a, BertModel *m, const BertTrainOptions *o, int step) {
    adam_update(m->params, a->g, a->m, a->v, m->n_params, step, lr_at(o, step), o->weight_decay,
                a->decay);
}

static void adam_free(Adam *a) {
    free(a->m);
    free(a->v);
    free(a->g);
    free(a->decay);
}

int bert_train(BertModel *m, const BertTask *t, const BertTrainOptions *o, double *final_loss,
               char *err, size_t errcap) {
    if (bert_task_fits(m, t, err, errcap)) return 1;
    if (o->steps < 0 || o->batch < 1 || !(o->lr > 0))
        return err_printf(err, errcap, "bad training options (steps %d, batch %d, lr %g)", o->steps,
                          o->batch, o->lr);
    int T = t->T, B = o->batch;
    int *ids = malloc(sizeof(int) * (size_t)B * T), *tgt = malloc(sizeof(int) * (size_t)B * T);
    int *len = malloc(sizeof(int) * (size_t)B);
    if (!ids || !tgt || !len) abort();
    Adam a;
    adam_init(&a, m);
    Rng r;
    rng_seed(&r, o->seed ^ 0xb0e27ULL); /* not the initialisation's stream */
    double loss = NAN, avg = 0;
    int rc = 0;
    for (int step = 0; step < o->steps; step++) {
        for (int b = 0; b < B; b++) {
            int k = (int)rng_below(&r, (uint64_t)t->n_inputs);
            memcpy(ids + (size_t)b * T, t->ids + (size_t)k * T, sizeof(int) * (size_t)T);
            memcpy(tgt + (size_t)b * T, t->tgt + (size_t)k * T, sizeof(int) * (size_t)T);
            len[b] = t->len[k];
        }
        BertBatch bt = {ids, tgt, len, B, T};
        loss = bert_loss(m, &bt, a.g);
        if (!isfinite(loss)) {
            rc = err_printf(err, errcap, "step %d: the loss is not finite (%g); try a lower --lr",
                            step, loss);
            break;
        }
        avg = step ? 0.95 * avg + 0.05 * loss : loss;
        adam_step(&a, m, o, step);
        if (o->verbose && o->steps >= 10 && (step + 1) % (o->steps / 10) == 0)
            fprintf(stderr, "step %d/%d: loss %.4f (running mean %.4f)\n", step + 1, o->steps, loss,
                    avg);
    }
    if (final_loss) *final_loss = avg;
    adam_free(&a);
    free(ids);
    free(tgt);
    free(len);
    return rc;
}
