#include "meta/meta.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta_par.h"

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int meta_model_init(MetaModel *m, const MetaConfig *cfg, uint64_t seed, int max_batch, char *err,
                    size_t errcap) {
    memset(m, 0, sizeof *m);
    if (meta_config_validate(cfg, err, errcap)) return -1;
    if (max_batch < 1 || max_batch > 1 << 16) {
        snprintf(err, errcap, "meta model: max_batch %d out of range [1, 65536]", max_batch);
        return -1;
    }
    m->cfg = *cfg;
    m->max_batch = max_batch;
    m->seed = seed;
    if (meta_layout_build(&m->lay, cfg)) goto oom;
    size_t n = m->lay.n_params;
    m->params = calloc(n, sizeof(float));
    m->grads = calloc(n, sizeof(float));
    m->adam_m = calloc(n, sizeof(float));
    m->adam_v = calloc(n, sizeof(float));
    if (!m->params || !m->grads || !m->adam_m || !m->adam_v) goto oom;
    if (meta_acts_alloc(&m->acts, cfg, max_batch)) goto oom;

    rng_seed(&m->rng, seed);
    double resid_std = 0.02 / sqrt(2.0 * (cfg->n_layer > 0 ? cfg->n_layer : 1));
    for (int i = 0; i < m->lay.n_tensors; i++) {
        const MetaTensorInfo *t = &m->lay.tensors[i];
        float *p = m->params + t->offset;
        if (ends_with(t->name, ".g")) {
            for (size_t j = 0; j < t->numel; j++) p[j] = 1.0f;
        } else if (ends_with(t->name, ".b")) {
            /* calloc left zeros */
        } else {
            double sd = ends_with(t->name, "proj.w") ? resid_std : 0.02;
            for (size_t j = 0; j < t->numel; j++) p[j] = (float)(sd * rng_normal(&m->rng));
        }
    }
    return 0;
oom:
    meta_model_free(m);
    snprintf(err, errcap, "meta model: out of memory");
    return -1;
}

void meta_model_free(MetaModel *m) {
    meta_layout_free(&m->lay);
    free(m->params);
    free(m->grads);
    free(m->adam_m);
    free(m->adam_v);
    meta_acts_free(&m->acts);
    memset(m, 0, sizeof *m);
}

int meta_forward(MetaModel *m, const MetaBatch *b, float *loss, char *err, size_t errcap) {
    if (meta_batch_validate(&m->cfg, b, m->max_batch, err, errcap)) return -1;
    double l = meta_net_forward(&m->acts, &m->cfg, &m->lay, m->params, b);
    if (loss) *loss = (float)l;
    return 0;
}

void meta_backward(MetaModel *m, const MetaBatch *b) {
    meta_net_backward(&m->acts, &m->cfg, &m->lay, m->params, m->grads, b);
}

void meta_zero_grad(MetaModel *m) { memset(m->grads, 0, sizeof(float) * m->lay.n_params); }

MetaAdamW meta_adamw_defaults(void) {
    MetaAdamW h = {0.9f, 0.95f, 1e-8f, 0.1f};
    return h;
}

void meta_adamw_step(MetaModel *m, const MetaAdamW *hp, float lr) {
    m->step++;
    float b1 = hp->beta1, b2 = hp->beta2;
    float c1 = 1.0f - powf(b1, (float)m->step), c2 = 1.0f - powf(b2, (float)m->step);
    for (int i = 0; i < m->lay.n_tensors; i++) {
        const MetaTensorInfo *t = &m->lay.tensors[i];
        float wd = t->decay ? hp->weight_decay : 0.0f;
        float *p = m->params + t->offset, *g = m->grads + t->offset;
        float *mm = m->adam_m + t->offset, *vv = m->adam_v + t->offset;
        long n = (long)t->numel;
        META_PAR(
            n > 65536, "omp parallel for schedule(static)", for (long j = 0; j < n; j++) {
                float gj = g[j];
                mm[j] = b1 * mm[j] + (1.0f - b1) * gj;
                vv[j] = b2 * vv[j] + (1.0f - b2) * gj * gj;
                float mh = mm[j] / c1, vh = vv[j] / c2;
                p[j] -= lr * (mh / (sqrtf(vh) + hp->eps) + wd * p[j]);
            });
    }
}

float meta_clip_grad_norm(MetaModel *m, float max_norm) {
    /* Fixed chunks summed in order: the norm does not depend on the thread count. */
    enum { CHUNK = 1 << 16 };
    size_t n = m->lay.n_params, nch = (n + CHUNK - 1) / CHUNK;
    double total = 0;
    double *part = malloc(sizeof(double) * (nch ? nch : 1));
    if (part) {
        META_PAR(
            nch > 8, "omp parallel for schedule(static)", for (size_t c = 0; c < nch; c++) {
                size_t lo = c * CHUNK, hi = lo + CHUNK < n ? lo + CHUNK : n;
                double s = 0;
                for (size_t j = lo; j < hi; j++) s += (double)m->grads[j] * m->grads[j];
                part[c] = s;
            });
        for (size_t c = 0; c < nch; c++) total += part[c];
        free(part);
    } else {
        for (size_t j = 0; j < n; j++) total += (double)m->grads[j] * m->grads[j];
    }
    float norm = (float)sqrt(total);
    if (max_norm > 0 && norm > max_norm) {
        float s = max_norm / norm;
        for (size_t j = 0; j < n; j++) m->grads[j] *= s;
    }
    return norm;
}

float meta_lr_schedule(const MetaSchedule *s, long step) {
    if (s->warmup > 0 && step < s->warmup) return s->lr_max * (float)(step + 1) / (float)s->warmup;
    if (step >= s->total) return s->lr_min;
    double span = (double)(s->total - s->warmup);
    double frac = span > 0 ? (double)(step - s->warmup) / span : 1.0;
    double cosv = 0.5 * (1.0 + cos(3.141592653589793 * frac));
    return (float)(s->lr_min + (s->lr_max - s->lr_min) * cosv);
}
