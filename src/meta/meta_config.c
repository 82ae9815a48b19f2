#include "meta/meta.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT (1 << 20)

int meta_config_validate(const MetaConfig *c, char *err, size_t errcap) {
#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(err, errcap, "meta config: " __VA_ARGS__);                                        \
        return -1;                                                                                 \
    } while (0)
    if (c->d_model < 1 || c->d_model > 65536) BAD("d_model %d out of range [1, 65536]", c->d_model);
    if (c->n_head < 1 || c->d_model % c->n_head)
        BAD("n_head %d must divide d_model %d", c->n_head, c->d_model);
    if (c->n_layer < 0 || c->n_layer > 256) BAD("n_layer %d out of range [0, 256]", c->n_layer);
    if (c->mlp_ratio < 1 || c->mlp_ratio > 64)
        BAD("mlp_ratio %d out of range [1, 64]", c->mlp_ratio);
    if (c->payload_dim < 1 || c->payload_dim > LIMIT)
        BAD("payload_dim %d out of range", c->payload_dim);
    if (c->n_id_fields < 0 || c->n_id_fields > META_MAX_ID_FIELDS)
        BAD("n_id_fields %d out of range [0, %d]", c->n_id_fields, META_MAX_ID_FIELDS);
    for (int k = 0; k < c->n_id_fields; k++)
        if (c->id_vocab[k] < 1 || c->id_vocab[k] > LIMIT)
            BAD("id_vocab[%d] = %d out of range", k, c->id_vocab[k]);
    if (c->vocab < 1 || c->vocab > LIMIT) BAD("vocab %d out of range", c->vocab);
    if (c->max_prefix < 0 || c->max_prefix > LIMIT)
        BAD("max_prefix %d out of range", c->max_prefix);
    if (c->max_prog < 1 || c->max_prog > LIMIT) BAD("max_prog %d out of range", c->max_prog);
#undef BAD
    return 0;
}

char *meta_config_to_json(const MetaConfig *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "d_model", c->d_model);
    cJSON_AddNumberToObject(o, "n_head", c->n_head);
    cJSON_AddNumberToObject(o, "n_layer", c->n_layer);
    cJSON_AddNumberToObject(o, "mlp_ratio", c->mlp_ratio);
    cJSON_AddNumberToObject(o, "payload_dim", c->payload_dim);
    cJSON *ids = cJSON_AddArrayToObject(o, "id_vocab");
    for (int k = 0; ids && k < c->n_id_fields; k++)
        cJSON_AddItemToArray(ids, cJSON_CreateNumber(c->id_vocab[k]));
    cJSON_AddNumberToObject(o, "vocab", c->vocab);
    cJSON_AddNumberToObject(o, "max_prefix", c->max_prefix);
    cJSON_AddNumberToObject(o, "max_prog", c->max_prog);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int get_int(const cJSON *o, const char *key, int *out, char *err, size_t errcap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble) {
        snprintf(err, errcap, "meta config JSON: \"%s\" missing or not an integer", key);
        return -1;
    }
    *out = (int)v->valuedouble;
    return 0;
}

int meta_config_from_json(const char *json, MetaConfig *c, char *err, size_t errcap) {
    memset(c, 0, sizeof *c);
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        snprintf(err, errcap, "meta config JSON: not a JSON object");
        return -1;
    }
    int rc = -1;
    if (get_int(o, "d_model", &c->d_model, err, errcap) ||
        get_int(o, "n_head", &c->n_head, err, errcap) ||
        get_int(o, "n_layer", &c->n_layer, err, errcap) ||
        get_int(o, "mlp_ratio", &c->mlp_ratio, err, errcap) ||
        get_int(o, "payload_dim", &c->payload_dim, err, errcap) ||
        get_int(o, "vocab", &c->vocab, err, errcap) ||
        get_int(o, "max_prefix", &c->max_prefix, err, errcap) ||
        get_int(o, "max_prog", &c->max_prog, err, errcap))
        goto done;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(o, "id_vocab");
    if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) > META_MAX_ID_FIELDS) {
        snprintf(err, errcap, "meta config JSON: \"id_vocab\" missing or longer than %d",
                 META_MAX_ID_FIELDS);
        goto done;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, ids) {
        if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int)it->valuedouble) {
            snprintf(err, errcap, "meta config JSON: \"id_vocab\" entries must be integers");
            goto done;
        }
        c->id_vocab[c->n_id_fields++] = (int)it->valuedouble;
    }
    rc = meta_config_validate(c, err, errcap);
done:
    cJSON_Delete(o);
    return rc;
}

typedef struct {
    MetaLayout *lay;
    int cap;
    size_t off;
} Builder;

static size_t add(Builder *b, const char *name, int ndim, int s0, int s1, int decay) {
    MetaLayout *lay = b->lay;
    if (lay->n_tensors == b->cap) return (size_t)-1; /* capacity is computed exactly below */
    MetaTensorInfo *t = &lay->tensors[lay->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->shape[0] = s0;
    t->shape[1] = ndim == 2 ? s1 : 1;
    t->numel = (size_t)s0 * (size_t)t->shape[1];
    t->offset = b->off;
    t->decay = decay;
    b->off += t->numel;
    return t->offset;
}

int meta_layout_build(MetaLayout *lay, const MetaConfig *c) {
    memset(lay, 0, sizeof *lay);
    int C = c->d_model, M = c->mlp_ratio * c->d_model;
    int cap = 2 + c->n_id_fields + 2 + 12 * c->n_layer + 3;
    lay->tensors = calloc((size_t)cap, sizeof *lay->tensors);
    lay->blocks = calloc((size_t)(c->n_layer ? c->n_layer : 1), sizeof *lay->blocks);
    if (!lay->tensors || !lay->blocks) {
        meta_layout_free(lay);
        return -1;
    }
    Builder b = {lay, cap, 0};
    char nm[META_NAME_MAX];
    /* Embedding tables are not decayed: decay would pull rarely seen rows towards zero. */
    lay->pay_w = add(&b, "embed.payload.w", 2, C, c->payload_dim, 1);
    lay->pay_b = add(&b, "embed.payload.b", 1, C, 0, 0);
    for (int k = 0; k < c->n_id_fields; k++) {
        snprintf(nm, sizeof nm, "embed.id%d", k);
        lay->id_emb[k] = add(&b, nm, 2, c->id_vocab[k], C, 0);
    }
    lay->wte = add(&b, "embed.token", 2, c->vocab, C, 0);
    lay->wpe = add(&b, "embed.pos", 2, c->max_prog, C, 0);
    for (int l = 0; l < c->n_layer; l++) {
        MetaBlockOffsets *o = &lay->blocks[l];
#define T(field, suffix, nd, s0, s1, dec)                                                          \
    snprintf(nm, sizeof nm, "block%d.%s", l, suffix);                                              \
    o->field = add(&b, nm, nd, s0, s1, dec);
        T(ln1_g, "ln1.g", 1, C, 0, 0)
        T(ln1_b, "ln1.b", 1, C, 0, 0)
        T(qkv_w, "attn.qkv.w", 2, 3 * C, C, 1)
        T(qkv_b, "attn.qkv.b", 1, 3 * C, 0, 0)
        T(proj_w, "attn.proj.w", 2, C, C, 1)
        T(proj_b, "attn.proj.b", 1, C, 0, 0)
        T(ln2_g, "ln2.g", 1, C, 0, 0)
        T(ln2_b, "ln2.b", 1, C, 0, 0)
        T(fc_w, "mlp.fc.w", 2, M, C, 1)
        T(fc_b, "mlp.fc.b", 1, M, 0, 0)
        T(fcp_w, "mlp.proj.w", 2, C, M, 1)
        T(fcp_b, "mlp.proj.b", 1, C, 0, 0)
#undef T
    }
    lay->lnf_g = add(&b, "lnf.g", 1, C, 0, 0);
    lay->lnf_b = add(&b, "lnf.b", 1, C, 0, 0);
    lay->head_w = add(&b, "head.w", 2, c->vocab, C, 1);
    lay->n_params = b.off;
    return 0;
}

void meta_layout_free(MetaLayout *lay) {
    free(lay->tensors);
    free(lay->blocks);
    memset(lay, 0, sizeof *lay);
}

const MetaTensorInfo *meta_layout_find(const MetaLayout *lay, const char *name) {
    for (int i = 0; i < lay->n_tensors; i++)
        if (strcmp(lay->tensors[i].name, name) == 0) return &lay->tensors[i];
    return NULL;
}
