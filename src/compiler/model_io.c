/* Model files: safetensors with Tracr's Haiku parameter names, float32 tensors, and the
 * metadata of docs/compiler.md "Model file" (format, config, token_ids, residual_labels, output, source, plus
 * layers and warnings). Loading checks every field and every shape before building the model. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/model.h"
#include "io/safetensors.h"
#include "io/st_digest.h"
#include "util/errmsg.h"

#define MODEL_FORMAT "itracr-model/1"


/* ---- Value <-> JSON ------------------------------------------------------------------ */
static cJSON *value_to_json(Value v) {
    char buf[64];
    switch (v.kind) {
    case VAL_NONE: return cJSON_CreateNull();
    case VAL_BOOL: return cJSON_CreateBool(v.u.b);
    case VAL_INT: return cJSON_CreateNumber((double)v.u.i);
    case VAL_FLOAT:
        if (!isfinite(v.u.f))
            return cJSON_CreateString(isnan(v.u.f) ? "nan" : v.u.f > 0 ? "inf" : "-inf");
        val_float_repr(v.u.f, buf, sizeof buf); /* "1.0": keeps the float-ness visible */
        return cJSON_CreateRaw(buf);
    case VAL_STR: return cJSON_CreateString(v.u.s);
    case VAL_TUPLE: {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < v.u.t->n; i++)
            cJSON_AddItemToArray(a, value_to_json(v.u.t->items[i]));
        return a;
    }
    }
    return cJSON_CreateNull();
}

/* JSON numbers with an integral value load as ints (cJSON does not keep the text); a float
 * token such as 1.0 therefore comes back as 1, which compares equal. */
static int json_to_value(const cJSON *j, Value *out, int depth) {
    if (depth > 16) return 1;
    if (cJSON_IsNull(j)) *out = val_none();
    else if (cJSON_IsBool(j)) *out = val_bool(cJSON_IsTrue(j));
    else if (cJSON_IsString(j)) *out = val_str(j->valuestring);
    else if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0) *out = val_int((int64_t)d);
        else *out = val_float(d);
    } else if (cJSON_IsArray(j)) {
        int n = cJSON_GetArraySize(j);
        Value items[64];
        if (n > 64) return 1;
        int k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, j) {
            if (json_to_value(it, &items[k++], depth + 1)) return 1;
        }
        *out = val_tuple(items, (size_t)n);
    } else return 1;
    return 0;
}

/* ---- saving -------------------------------------------------------------------------- */
typedef struct SaveBufs {
    float **bufs;
    int n, cap;
} SaveBufs;

static void add_tensor(StWriter *w, SaveBufs *sb, const char *name, const double *src, int64_t r,
                       int64_t c, int ndim) {
    size_t n = (size_t)r * (size_t)(ndim == 2 ? c : 1);
    float *f = calloc(n ? n : 1, sizeof(float));
    if (src)
        for (size_t i = 0; i < n; i++) f[i] = (float)src[i];
    if (sb->n == sb->cap) {
        sb->cap = sb->cap ? 2 * sb->cap : 32;
        sb->bufs = realloc(sb->bufs, sizeof(float *) * (size_t)sb->cap);
    }
    sb->bufs[sb->n++] = f;
    int64_t shape[2] = {r, c};
    st_writer_add(w, name, ST_F32, ndim, shape, f);
}

static cJSON *str_array(const char *const *s, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(s[i]));
    return a;
}

static void meta_json(StWriter *w, const char *key, cJSON *j) {
    char *s = cJSON_PrintUnformatted(j);
    st_writer_meta(w, key, s);
    free(s);
    cJSON_Delete(j);
}

static void build_writer(const CompiledModel *m, StWriter *w, SaveBufs *sb) {
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    char name[128];
    add_tensor(w, sb, "token_embed/embeddings", m->token_embed, m->vocab_size, D, 2);
    add_tensor(w, sb, "pos_embed/embeddings", m->pos_embed, m->max_seq_len + 1, D, 2);
    for (int l = 0; l < m->num_layers; l++) {
        const ModelLayer *L = &m->layers[l];
        const char *nm[4] = {"query", "key", "value", "linear"};
        const double *ws[4] = {L->q, L->k, L->v, L->o};
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "transformer/layer_%d/attn/%s/w", l, nm[k]);
            add_tensor(w, sb, name, ws[k], k < 3 ? D : HK, k < 3 ? HK : D, 2);
            snprintf(name, sizeof name, "transformer/layer_%d/attn/%s/b", l, nm[k]);
            add_tensor(w, sb, name, NULL, k < 3 ? HK : D, 0, 1);
        }
        snprintf(name, sizeof name, "transformer/layer_%d/mlp/linear_1/w", l);
        add_tensor(w, sb, name, L->w1, D, M, 2);
        snprintf(name, sizeof name, "transformer/layer_%d/mlp/linear_1/b", l);
        add_tensor(w, sb, name, NULL, M, 0, 1);
        snprintf(name, sizeof name, "transformer/layer_%d/mlp/linear_2/w", l);
        add_tensor(w, sb, name, L->w2, M, D, 2);
        snprintf(name, sizeof name, "transformer/layer_%d/mlp/linear_2/b", l);
        add_tensor(w, sb, name, NULL, D, 0, 1);
    }
    add_tensor(w, sb, "unembed/w", m->unembed, D, m->n_out, 2);

    st_writer_meta(w, "format", MODEL_FORMAT);
    meta_json(w, "config", model_config_json(m));
    cJSON *t = cJSON_CreateArray();
    for (int i = 0; i < m->vocab_size; i++) {
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, value_to_json(m->tokens[i]));
        cJSON_AddItemToArray(pair, cJSON_CreateNumber(i));
        cJSON_AddItemToArray(t, pair);
    }
    meta_json(w, "token_ids", t);
    meta_json(w, "residual_labels", str_array(m->residual_labels, m->residual_dim));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", m->output_name);
    cJSON_AddStringToObject(o, "encoding", m->output_numerical ? "numerical" : "categorical");
    cJSON *vals = cJSON_CreateArray();
    if (!m->output_numerical)
        for (int j = 0; j < m->n_out; j++)
            cJSON_AddItemToArray(vals, value_to_json(m->out_values[j]));
    cJSON_AddItemToObject(o, "values", vals);
    meta_json(w, "output", o);
    st_writer_meta(w, "source", m->source ? m->source : "");
    if (m->transform && m->transform[0]) st_writer_meta(w, "transform", m->transform);
    cJSON *layers = cJSON_CreateArray();
    for (int l = 0; m->info && l < m->num_layers; l++) {
        const ModelLayerInfo *in = &m->info[l];
        cJSON *lj = cJSON_CreateObject(), *a = cJSON_CreateObject(), *mm = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "heads", in->n_heads);
        cJSON_AddItemToObject(a, "nodes", str_array(in->head_nodes, in->n_heads));
        cJSON_AddNumberToObject(mm, "hidden", in->mlp_hidden);
        cJSON_AddItemToObject(mm, "nodes", str_array(in->mlp_nodes, in->n_mlp_nodes));
        cJSON_AddItemToObject(mm, "hidden_labels", str_array(in->hidden_labels, in->mlp_hidden));
        cJSON_AddItemToObject(lj, "attn", a);
        cJSON_AddItemToObject(lj, "mlp", mm);
        cJSON_AddItemToArray(layers, lj);
    }
    meta_json(w, "layers", layers);
    meta_json(w, "warnings", str_array(m->warnings, m->n_warnings));
    st_digest_add(w);
}

static void free_bufs(SaveBufs *sb) {
    for (int i = 0; i < sb->n; i++) free(sb->bufs[i]);
    free(sb->bufs);
}

int model_save(const CompiledModel *m, const char *path, char *err, size_t errcap) {
    StWriter w;
    SaveBufs sb = {0};
    st_writer_init(&w);
    build_writer(m, &w, &sb);
    int rc = st_writer_save(&w, path, err, errcap);
    st_writer_free(&w);
    free_bufs(&sb);
    return rc;
}

int model_serialize(const CompiledModel *m, unsigned char **buf, size_t *len, char *err,
                    size_t errcap) {
    StWriter w;
    SaveBufs sb = {0};
    st_writer_init(&w);
    build_writer(m, &w, &sb);
    int rc = st_writer_serialize(&w, buf, len, err, errcap);
    st_writer_free(&w);
    free_bufs(&sb);
    return rc;
}

/* ---- loading ------------------------------------------------------------------------- */
static int get_int(const cJSON *o, const char *key, int lo, int hi, int *out, char *err,
                   size_t cap) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(j))
        return err_printf(err, cap, "metadata config: \"%s\" is missing or not a number", key);
    double d = j->valuedouble;
    if (d != floor(d) || d < lo || d > hi)
        return err_printf(err, cap, "metadata config: \"%s\" = %g is not an integer in %d..%d", key,
                          d, lo, hi);
    *out = (int)d;
    return 0;
}

static const cJSON *meta_parse(const StFile *f, const char *key, cJSON **hold, char *err,
                               size_t cap) {
    const char *s = st_meta_get(f, key);
    if (!s) {
        err_printf(err, cap, "metadata \"%s\" is missing", key);
        return NULL;
    }
    *hold = cJSON_Parse(s);
    if (!*hold) err_printf(err, cap, "metadata \"%s\" is not valid JSON", key);
    return *hold;
}

static int load_tensor(const StFile *f, const char *name, int64_t r, int64_t c, int ndim,
                       double *dst, char *err, size_t cap) {
    const StTensor *t = st_find(f, name);
    if (!t) return err_printf(err, cap, "tensor \"%s\" is missing", name);
    if (t->dtype != ST_F32 && t->dtype != ST_F64)
        return err_printf(err, cap, "tensor \"%s\" has dtype %s; expected F32 or F64", name,
                          st_dtype_name(t->dtype));
    if (t->ndim != ndim || t->shape[0] != r || (ndim == 2 && t->shape[1] != c)) {
        if (ndim == 2)
            return err_printf(err, cap,
                              "tensor \"%s\" has the wrong shape; the config needs [%lld, %lld]",
                              name, (long long)r, (long long)c);
        return err_printf(err, cap, "tensor \"%s\" has the wrong shape; the config needs [%lld]",
                          name, (long long)r);
    }
    size_t n = (size_t)r * (size_t)(ndim == 2 ? c : 1);
    for (size_t i = 0; i < n; i++) {
        double v;
        if (t->dtype == ST_F32) {
            float x;
            memcpy(&x, (const unsigned char *)t->data + 4 * i, 4);
            v = x;
        } else {
            memcpy(&v, (const unsigned char *)t->data + 8 * i, 8);
        }
        if (!isfinite(v))
            return err_printf(err, cap, "tensor \"%s\" holds a non-finite value", name);
        if (dst) dst[i] = v;
        else if (v != 0)
            return err_printf(err, cap, "tensor \"%s\": non-zero biases are not supported", name);
    }
    return 0;
}

static const char **load_str_array(Arena *a, const cJSON *arr, int *n_out, const char *what,
                                   char *err, size_t cap) {
    if (!cJSON_IsArray(arr)) {
        err_printf(err, cap, "%s is not an array", what);
        return NULL;
    }
    int n = cJSON_GetArraySize(arr), k = 0;
    const char **s = arena_alloc(a, sizeof(char *) * (size_t)(n + 1));
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (!cJSON_IsString(it)) {
            err_printf(err, cap, "%s[%d] is not a string", what, k);
            return NULL;
        }
        s[k++] = arena_strdup(a, it->valuestring);
    }
    *n_out = n;
    return s;
}

/* The format tag and the "config" object: the model's sizes. *cfg holds the parsed config
 * (the caller deletes it; check_special_ids reads it again). */
static int load_config(const StFile *f, CompiledModel *m, cJSON **cfg, char *err, size_t cap) {
    const char *fmt = st_meta_get(f, "format");
    if (!fmt) return err_printf(err, cap, "metadata \"format\" is missing (not an itracr model)");
    if (strcmp(fmt, MODEL_FORMAT) != 0)
        return err_printf(err, cap, "metadata \"format\" is \"%s\"; expected \"%s\"", fmt,
                          MODEL_FORMAT);
    const cJSON *c = meta_parse(f, "config", cfg, err, cap);
    if (!c) return 1;
    if (!cJSON_IsObject(c)) return err_printf(err, cap, "metadata \"config\" is not an object");
    const int BIG = 1 << 20;
    if (get_int(c, "num_layers", 1, 4096, &m->num_layers, err, cap) ||
        get_int(c, "num_heads", 1, 4096, &m->num_heads, err, cap) ||
        get_int(c, "key_size", 1, BIG, &m->key_size, err, cap) ||
        get_int(c, "mlp_hidden_size", 1, BIG, &m->mlp_hidden_size, err, cap) ||
        get_int(c, "residual_dim", 1, BIG, &m->residual_dim, err, cap) ||
        get_int(c, "max_seq_len", 1, BIG, &m->max_seq_len, err, cap) ||
        get_int(c, "mlp_exactness", 1, 1 << 30, &m->mlp_exactness, err, cap))
        return 1;
    const cJSON *cz = cJSON_GetObjectItemCaseSensitive(c, "causal");
    if (!cJSON_IsBool(cz))
        return err_printf(err, cap, "metadata config: \"causal\" is missing or not a boolean");
    m->causal = cJSON_IsTrue(cz);
    m->exact = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "exact"));
    if ((double)m->residual_dim * (m->num_heads * (double)m->key_size + m->mlp_hidden_size) *
            m->num_layers >
        2e9)
        return err_printf(err, cap, "metadata config describes a model too large to load");
    return 0;
}

/* "token_ids" (the vocabulary by id), then the optional "source" and "transform". */
static int load_tokens(const StFile *f, CompiledModel *m, char *err, size_t cap) {
    cJSON *tok = NULL;
    int rc = 1;
    const cJSON *t = meta_parse(f, "token_ids", &tok, err, cap);
    if (!t) goto out;
    if (!cJSON_IsArray(t) || cJSON_GetArraySize(t) < 2) {
        err_printf(err, cap,
                   "metadata \"token_ids\" is not an array of at least 2 [token, id] pairs");
        goto out;
    }
    m->vocab_size = cJSON_GetArraySize(t);
    m->tokens = arena_alloc(&m->arena, sizeof(Value) * (size_t)m->vocab_size);
    bool *seen = arena_alloc(&m->arena, (size_t)m->vocab_size);
    const cJSON *pair;
    cJSON_ArrayForEach(pair, t) {
        const cJSON *tv = cJSON_GetArrayItem(pair, 0), *iv = cJSON_GetArrayItem(pair, 1);
        Value v;
        if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || !cJSON_IsNumber(iv) ||
            json_to_value(tv, &v, 0)) {
            err_printf(err, cap, "metadata \"token_ids\": every entry must be [token, id]");
            goto out;
        }
        double d = iv->valuedouble;
        if (d != floor(d) || d < 0 || d >= m->vocab_size || seen[(int)d]) {
            err_printf(err, cap, "metadata \"token_ids\": id %g is out of range or repeated", d);
            goto out;
        }
        seen[(int)d] = true;
        m->tokens[(int)d] = v;
    }
    m->bos_id = m->pad_id = -1;
    const char *src = st_meta_get(f, "source");
    m->source = arena_strdup(&m->arena, src ? src : "");
    const char *tfm = st_meta_get(f, "transform"); /* optional: only transformed models have it */
    m->transform = arena_strdup(&m->arena, tfm ? tfm : "");
    rc = 0;
out:
    cJSON_Delete(tok);
    return rc;
}

/* "residual_labels", one per residual direction. */
static int load_residual_labels(const StFile *f, CompiledModel *m, char *err, size_t cap) {
    cJSON *lab = NULL;
    int rc = 1;
    const cJSON *l = meta_parse(f, "residual_labels", &lab, err, cap);
    if (!l) goto out;
    int nl = 0;
    m->residual_labels =
        load_str_array(&m->arena, l, &nl, "metadata \"residual_labels\"", err, cap);
    if (!m->residual_labels) goto out;
    if (nl != m->residual_dim) {
        err_printf(err, cap,
                   "metadata \"residual_labels\" has %d labels; config residual_dim is %d", nl,
                   m->residual_dim);
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(lab);
    return rc;
}

/* BOS and PAD: the token directions that no vocabulary entry fills, recognised by the
 * standard names. The config's vocab_size, bos_id and pad_id are optional (older files), but
 * when given they must agree with token_ids: a model whose metadata contradicts itself is
 * refused rather than run with one of the two readings. */
static int check_special_ids(const cJSON *c, CompiledModel *m, char *err, size_t cap) {
    for (int i = 0; i < m->vocab_size; i++) {
        if (m->tokens[i].kind == VAL_STR && strcmp(m->tokens[i].u.s, "compiler_bos") == 0)
            m->bos_id = i;
        if (m->tokens[i].kind == VAL_STR && strcmp(m->tokens[i].u.s, "compiler_pad") == 0)
            m->pad_id = i;
    }
    if (cJSON_GetObjectItemCaseSensitive(c, "vocab_size")) {
        int vs;
        if (get_int(c, "vocab_size", 2, 1 << 30, &vs, err, cap)) return 1;
        if (vs != m->vocab_size)
            return err_printf(err, cap,
                              "metadata config: vocab_size %d, but token_ids has %d tokens", vs,
                              m->vocab_size);
    }
    const char *special[2] = {"bos_id", "pad_id"};
    int *special_id[2] = {&m->bos_id, &m->pad_id};
    for (int k = 0; k < 2; k++) {
        if (!cJSON_GetObjectItemCaseSensitive(c, special[k])) continue;
        int id;
        if (get_int(c, special[k], 0, m->vocab_size - 1, &id, err, cap)) return 1;
        if (*special_id[k] >= 0 && *special_id[k] != id)
            return err_printf(err, cap,
                              "metadata config: %s %d, but token_ids gives the %s token id %d",
                              special[k], id, k ? "compiler_pad" : "compiler_bos", *special_id[k]);
        *special_id[k] = id;
    }
    if (m->pad_id >= 0 && m->pad_id == m->bos_id)
        return err_printf(err, cap, "metadata config: bos_id and pad_id are both %d", m->bos_id);
    if (m->bos_id < 0) return err_printf(err, cap, "metadata \"token_ids\" has no BOS token");
    return 0;
}

/* "output": the output SOp's name, encoding and (categorical) values. */
static int load_output(const StFile *f, CompiledModel *m, char *err, size_t cap) {
    cJSON *outj = NULL;
    int rc = 1;
    const cJSON *o = meta_parse(f, "output", &outj, err, cap);
    if (!o) goto out;
    const cJSON *on = cJSON_GetObjectItemCaseSensitive(o, "name"),
                *oe = cJSON_GetObjectItemCaseSensitive(o, "encoding"),
                *ov = cJSON_GetObjectItemCaseSensitive(o, "values");
    if (!cJSON_IsString(on) || !cJSON_IsString(oe) || !cJSON_IsArray(ov) ||
        (strcmp(oe->valuestring, "categorical") != 0 &&
         strcmp(oe->valuestring, "numerical") != 0)) {
        err_printf(err, cap,
                   "metadata \"output\" needs name, encoding (categorical|numerical) and values");
        goto out;
    }
    m->output_name = arena_strdup(&m->arena, on->valuestring);
    m->output_numerical = strcmp(oe->valuestring, "numerical") == 0;
    m->n_out = m->output_numerical ? 1 : cJSON_GetArraySize(ov);
    if (m->n_out < 1) {
        err_printf(err, cap, "metadata \"output\" has no values");
        goto out;
    }
    m->out_values = arena_alloc(&m->arena, sizeof(Value) * (size_t)m->n_out);
    if (!m->output_numerical) {
        int k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, ov) {
            if (json_to_value(it, &m->out_values[k++], 0)) {
                err_printf(err, cap, "metadata \"output\": unreadable value");
                goto out;
            }
        }
    }
    rc = 0;
out:
    cJSON_Delete(outj);
    return rc;
}

/* Every tensor, shaped as the config says (biases must be zero), and no other. */
static int load_weights(const StFile *f, CompiledModel *m, char *err, size_t cap) {
    model_alloc_weights(m);
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    char name[128];
    if (load_tensor(f, "token_embed/embeddings", m->vocab_size, D, 2, m->token_embed, err, cap) ||
        load_tensor(f, "pos_embed/embeddings", m->max_seq_len + 1, D, 2, m->pos_embed, err, cap) ||
        load_tensor(f, "unembed/w", D, m->n_out, 2, m->unembed, err, cap))
        return 1;
    for (int li = 0; li < m->num_layers; li++) {
        ModelLayer *L = &m->layers[li];
        const char *nm[4] = {"query", "key", "value", "linear"};
        double *ws[4] = {L->q, L->k, L->v, L->o};
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "transformer/layer_%d/attn/%s/w", li, nm[k]);
            if (load_tensor(f, name, k < 3 ? D : HK, k < 3 ? HK : D, 2, ws[k], err, cap)) return 1;
            snprintf(name, sizeof name, "transformer/layer_%d/attn/%s/b", li, nm[k]);
            if (load_tensor(f, name, k < 3 ? HK : D, 0, 1, NULL, err, cap)) return 1;
        }
        snprintf(name, sizeof name, "transformer/layer_%d/mlp/linear_1/w", li);
        if (load_tensor(f, name, D, M, 2, L->w1, err, cap)) return 1;
        snprintf(name, sizeof name, "transformer/layer_%d/mlp/linear_1/b", li);
        if (load_tensor(f, name, M, 0, 1, NULL, err, cap)) return 1;
        snprintf(name, sizeof name, "transformer/layer_%d/mlp/linear_2/w", li);
        if (load_tensor(f, name, M, D, 2, L->w2, err, cap)) return 1;
        snprintf(name, sizeof name, "transformer/layer_%d/mlp/linear_2/b", li);
        if (load_tensor(f, name, D, 0, 1, NULL, err, cap)) return 1;
    }

    /* Every tensor must be one the config accounts for: a file holding more layers than
     * num_layers says would otherwise run as a shallower model. */
    int expected = 3 + 12 * m->num_layers;
    if (f->n != expected) {
        const char *extra = NULL;
        for (int i = 0; i < f->n && !extra; i++) {
            int li = -1;
            if (sscanf(f->tensors[i].name, "transformer/layer_%d/", &li) == 1 &&
                (li < 0 || li >= m->num_layers))
                extra = f->tensors[i].name;
        }
        if (extra)
            return err_printf(err, cap, "tensor \"%s\" is beyond config num_layers %d", extra,
                              m->num_layers);
        return err_printf(err, cap, "the file holds %d tensors; config num_layers %d needs %d",
                          f->n, m->num_layers, expected);
    }
    return 0;
}

/* Optional: per-layer usage ("layers") and "warnings". */
static int load_layer_info(const StFile *f, CompiledModel *m, char *err, size_t cap) {
    cJSON *lay = NULL, *wr = NULL;
    int rc = 1;
    m->info = arena_alloc(&m->arena, sizeof(ModelLayerInfo) * (size_t)m->num_layers);
    const char *ls = st_meta_get(f, "layers");
    if (ls && (lay = cJSON_Parse(ls)) && cJSON_IsArray(lay) &&
        cJSON_GetArraySize(lay) == m->num_layers) {
        for (int li = 0; li < m->num_layers; li++) {
            const cJSON *lj = cJSON_GetArrayItem(lay, li);
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(lj, "attn"),
                        *mm = cJSON_GetObjectItemCaseSensitive(lj, "mlp");
            ModelLayerInfo *in = &m->info[li];
            int n1 = 0, n2 = 0, n3 = 0;
            in->head_nodes = load_str_array(&m->arena, cJSON_GetObjectItemCaseSensitive(a, "nodes"),
                                            &n1, "layers", err, cap);
            in->mlp_nodes = load_str_array(&m->arena, cJSON_GetObjectItemCaseSensitive(mm, "nodes"),
                                           &n2, "layers", err, cap);
            in->hidden_labels =
                load_str_array(&m->arena, cJSON_GetObjectItemCaseSensitive(mm, "hidden_labels"),
                               &n3, "layers", err, cap);
            if (!in->head_nodes || !in->mlp_nodes || !in->hidden_labels || n1 > m->num_heads ||
                n3 > m->mlp_hidden_size) {
                err_printf(err, cap, "metadata \"layers\" is malformed");
                goto out;
            }
            in->n_heads = n1;
            in->n_mlp_nodes = n2;
            in->mlp_hidden = n3;
        }
    }
    const char *ws = st_meta_get(f, "warnings");
    if (ws && (wr = cJSON_Parse(ws)) && cJSON_IsArray(wr)) {
        m->warnings =
            load_str_array(&m->arena, wr, &m->n_warnings, "metadata \"warnings\"", err, cap);
        if (!m->warnings) goto out;
    }
    rc = 0;
out:
    cJSON_Delete(lay);
    cJSON_Delete(wr);
    return rc;
}

static int load_from_file(const StFile *f, CompiledModel *m, char *err, size_t cap) {
    cJSON *cfg = NULL;
    int rc = load_config(f, m, &cfg, err, cap) || load_tokens(f, m, err, cap) ||
             load_residual_labels(f, m, err, cap) || check_special_ids(cfg, m, err, cap) ||
             load_output(f, m, err, cap) || load_weights(f, m, err, cap) ||
             load_layer_info(f, m, err, cap);
    cJSON_Delete(cfg);
    return rc;
}

static int load_common(StFile *f, CompiledModel **out, char *err, size_t errcap) {
    CompiledModel *m = calloc(1, sizeof *m);
    arena_init(&m->arena);
    int rc = load_from_file(f, m, err, errcap);
    if (rc == 0) rc = st_digest_check(f, "model", err, errcap);
    st_file_free(f);
    if (rc) {
        compiled_model_free(m);
        m = NULL;
    }
    *out = m;
    return rc;
}

int model_load(const char *path, CompiledModel **out, char *err, size_t errcap) {
    StFile f;
    *out = NULL;
    if (st_read_file(path, &f, err, errcap)) return 1;
    char sub[400];
    if (load_common(&f, out, sub, sizeof sub)) return err_printf(err, errcap, "%s: %s", path, sub);
    return 0;
}

int model_load_buffer(const unsigned char *buf, size_t len, CompiledModel **out, char *err,
                      size_t errcap) {
    StFile f;
    *out = NULL;
    if (st_read_buffer(buf, len, &f, err, errcap)) return 1;
    return load_common(&f, out, err, errcap);
}
