/* meta_domain_read, meta_domain_check (see ood.h). */
#include "eval/ood.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/json_util.h"
#include "meta/meta.h"
#include "util/errmsg.h"

static void from_config(MetaDomain *d, const GenConfig *g) {
    d->vary = g->vary;
    d->n_vocab = g->n_vocab;
    memcpy(d->vocab, g->vocab, sizeof(int) * (size_t)g->n_vocab);
    d->max_seq_len = g->max_seq_len;
    d->vocab_min = g->vocab_min, d->vocab_max = g->vocab_max;
    d->len_min = g->len_min, d->len_max = g->len_max;
    d->max_residual = g->max_residual, d->max_layers = g->max_layers,
    d->max_mlp_width = g->max_mlp_width;
}

/* An integer key of obj when present (keeps *v otherwise). */
static void get_int(const cJSON *obj, const char *key, int *v) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsNumber(it)) *v = it->valueint;
}

static void get_range(const cJSON *obj, const char *key, int *lo, int *hi) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_GetArraySize(it) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(it, 0)) &&
        cJSON_IsNumber(cJSON_GetArrayItem(it, 1)))
        *lo = cJSON_GetArrayItem(it, 0)->valueint, *hi = cJSON_GetArrayItem(it, 1)->valueint;
}

/* The generator block of DIR/manifest.json over d's defaults. */
static int from_manifest(const char *path, MetaDomain *d, char *err, size_t errcap) {
    cJSON *root = NULL;
    if (json_read_file(path, &root, err, errcap)) return 1;
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(root, "generator");
    const cJSON *voc = cJSON_GetObjectItemCaseSensitive(g, "vocab"), *it;
    if (cJSON_IsArray(voc) && cJSON_GetArraySize(voc) <= GEN_MAX_VOCAB) {
        d->n_vocab = 0;
        cJSON_ArrayForEach(it, voc) if (cJSON_IsNumber(it)) d->vocab[d->n_vocab++] = it->valueint;
    }
    get_int(g, "max_seq_len", &d->max_seq_len);
    get_int(g, "max_residual", &d->max_residual);
    get_int(g, "max_layers", &d->max_layers);
    get_int(g, "max_mlp_width", &d->max_mlp_width);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(g, "setting");
    if (cJSON_IsObject(s)) {
        d->vary = true;
        get_range(s, "vocab_size", &d->vocab_min, &d->vocab_max);
        get_range(s, "max_seq_len", &d->len_min, &d->len_max);
    }
    cJSON_Delete(root);
    return 0;
}

int meta_domain_read(const char *meta, MetaDomain *d, char *err, size_t errcap) {
    GenConfig g;
    gen_config_default(&g);
    memset(d, 0, sizeof *d);
    from_config(d, &g);
    char *side = train_sidecar_path(meta), *data = NULL;
    if (!side) return err_printf(err, errcap, "out of memory");
    TrainConfig tc;
    bool found = false;
    int rc = train_sidecar_read(side, &tc, &found, &data, NULL, err, errcap);
    snprintf(d->source, sizeof d->source, "the generator's defaults%s",
             found ? " (a streamed run)" : " (no training config)");
    if (!rc && found && tc.stream && tc.general > 0) {
        /* a stream that drew general-setting samples: its ranges hold the fixed setting */
        gen_config_general(&g);
        from_config(d, &g);
        snprintf(d->source, sizeof d->source,
                 "the general setting's defaults (a streamed run, %.0f%% general)",
                 100 * tc.general);
    }
    if (!rc && found && data && !tc.stream) {
        size_t n = strlen(data) + 16;
        char *man = malloc(n);
        snprintf(man, n, "%s/manifest.json", data);
        if (access(man, R_OK) == 0) {
            rc = from_manifest(man, d, err, errcap);
            snprintf(d->source, sizeof d->source, "%.280s", man);
        }
        free(man);
    }
    free(data);
    free(side);
    return rc;
}

static int add(char *why, size_t cap, int n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int add(char *why, size_t cap, int n, const char *fmt, ...) {
    size_t L = strlen(why);
    if (L + 3 < cap) {
        if (n) snprintf(why + L, cap - L, "; "), L += 2;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why + L, cap - L, fmt, ap);
        va_end(ap);
    }
    return n + 1;
}

/* "{0, 1, 2}" */
static void int_set(const int *v, int n, char *buf, size_t cap) {
    size_t L = (size_t)snprintf(buf, cap, "{");
    for (int i = 0; i < n && L + 16 < cap; i++)
        L += (size_t)snprintf(buf + L, cap - L, "%s%d", i ? ", " : "", v[i]);
    snprintf(buf + L, cap - L, "}");
}

int meta_domain_check(const MetaDomain *d, const CompiledModel *m, char *why, size_t cap) {
    int n = 0, nv = 0;
    bool same = true, ints = true;
    why[0] = 0;
    for (int i = 0; i < m->vocab_size; i++) {
        if (i == m->bos_id || i == m->pad_id) continue;
        bool in = false;
        for (int k = 0; k < d->n_vocab && !in; k++)
            in = m->tokens[i].kind == VAL_INT && m->tokens[i].u.i == d->vocab[k];
        same &= in;
        ints &= m->tokens[i].kind == VAL_INT;
        nv++;
    }
    char set[GEN_MAX_VOCAB * 12 + 8];
    int_set(d->vocab, d->n_vocab, set, sizeof set);
    if (!d->vary && (!same || nv != d->n_vocab))
        n = add(why, cap, n, "vocab of %d %s tokens, trained on %s", nv,
                ints ? "integer" : "non-integer", set);
    if (d->vary && (nv < d->vocab_min || nv > d->vocab_max))
        n = add(why, cap, n, "vocab of %d tokens, trained on %d..%d", nv, d->vocab_min,
                d->vocab_max);
    if (!d->vary && m->max_seq_len != d->max_seq_len)
        n = add(why, cap, n, "max_seq_len %d, trained on %d", m->max_seq_len, d->max_seq_len);
    if (d->vary && (m->max_seq_len < d->len_min || m->max_seq_len > d->len_max))
        n = add(why, cap, n, "max_seq_len %d, trained on %d..%d", m->max_seq_len, d->len_min,
                d->len_max);
    if (m->residual_dim > d->max_residual)
        n = add(why, cap, n, "residual width %d, trained on at most %d", m->residual_dim,
                d->max_residual);
    if (m->num_layers > d->max_layers)
        n = add(why, cap, n, "%d layers, trained on at most %d", m->num_layers, d->max_layers);
    if (m->mlp_hidden_size > d->max_mlp_width)
        n = add(why, cap, n, "MLP width %d, trained on at most %d", m->mlp_hidden_size,
                d->max_mlp_width);
    return n;
}
