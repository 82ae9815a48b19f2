/* itracr import (see model_import.h): Tracr's Haiku parameters + encoder JSON -> model. */
#include "compiler/model_import.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_util.h"
#include "io/npz.h"
#include "io/safetensors.h"
#include "util/errmsg.h"

static const ImportTensor *find(const ImportTensor *t, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0) return &t[i];
    return NULL;
}

/* Copies tensor name of shape [r, c] into dst; a missing tensor is an error. */
static int take2(const ImportTensor *t, int n, const char *name, int64_t r, int64_t c, double *dst,
                 char *err, size_t cap) {
    const ImportTensor *x = find(t, n, name);
    if (!x) return err_printf(err, cap, "parameter \"%s\" is missing", name);
    if (x->ndim != 2 || x->shape[0] != r || x->shape[1] != c)
        return err_printf(err, cap,
                          "parameter \"%s\" has shape [%lld%s%lld]; expected [%lld, %lld]", name,
                          (long long)x->shape[0], x->ndim == 2 ? ", " : "",
                          x->ndim == 2 ? (long long)x->shape[1] : 0LL, (long long)r, (long long)c);
    size_t N = (size_t)r * (size_t)c;
    for (size_t i = 0; i < N; i++) {
        if (!isfinite(x->data[i]))
            return err_printf(err, cap, "parameter \"%s\" holds a non-finite value", name);
        dst[i] = x->data[i];
    }
    return 0;
}

/* An optional bias must be all zero (Tracr's always are; the forward pass has none). */
static int check_bias(const ImportTensor *t, int n, const char *name, int64_t len, char *err,
                      size_t cap) {
    const ImportTensor *x = find(t, n, name);
    if (!x) return 0;
    if (x->ndim != 1 || x->shape[0] != len)
        return err_printf(err, cap, "parameter \"%s\" has the wrong shape; expected [%lld]", name,
                          (long long)len);
    for (int64_t i = 0; i < len; i++)
        if (x->data[i] != 0)
            return err_printf(err, cap, "parameter \"%s\": non-zero biases are not supported",
                              name);
    return 0;
}

static int json_value(const cJSON *j, Value *out, int depth) {
    if (depth > 8) return 1;
    if (cJSON_IsNull(j)) *out = val_none();
    else if (cJSON_IsBool(j)) *out = val_bool(cJSON_IsTrue(j));
    else if (cJSON_IsString(j)) *out = val_str(j->valuestring);
    else if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        *out = (d == floor(d) && fabs(d) < 9007199254740992.0) ? val_int((int64_t)d) : val_float(d);
    } else if (cJSON_IsArray(j)) {
        int n = cJSON_GetArraySize(j);
        if (n > 64) return 1;
        Value items[64];
        int k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, j) if (json_value(it, &items[k++], depth + 1)) return 1;
        *out = val_tuple(items, (size_t)n);
    } else return 1;
    return 0;
}

static int opt_int(const cJSON *o, const char *key, int64_t dflt, int64_t lo, int64_t hi,
                   int64_t *out, char *err, size_t cap) {
    if (!cJSON_GetObjectItemCaseSensitive(o, key)) {
        if (dflt < lo) return err_printf(err, cap, "import JSON: field \"%s\" is missing", key);
        *out = dflt;
        return 0;
    }
    if (json_get_int(o, key, "import JSON", out, err, cap)) return 1;
    if (*out < lo || *out > hi)
        return err_printf(err, cap, "import JSON: field \"%s\" = %lld is outside %lld..%lld", key,
                          (long long)*out, (long long)lo, (long long)hi);
    return 0;
}

/* The sizes: from the parameters' shapes (residual, vocabulary, layers, attention columns, MLP
 * width) and the JSON (max_seq_len, heads, key_size, exactness, causal), checked against each
 * other. */
static int import_config(const ImportTensor *t, int n, const cJSON *meta, CompiledModel *m,
                         char *err, size_t cap) {
    if (!cJSON_IsObject(meta)) return err_printf(err, cap, "import JSON: not an object");
    const char *dup = json_duplicate_key(meta);
    if (dup) return err_printf(err, cap, "import JSON: field \"%s\" appears twice", dup);
    const ImportTensor *te = find(t, n, "token_embed/embeddings"),
                       *pe = find(t, n, "pos_embed/embeddings"), *ue = find(t, n, "unembed/w");
    if (!te || !pe || !ue)
        return err_printf(err, cap, "parameter \"%s\" is missing (is this a Tracr model?)",
                          !te   ? "token_embed/embeddings"
                          : !pe ? "pos_embed/embeddings"
                                : "unembed/w");
    if (te->ndim != 2 || pe->ndim != 2 || ue->ndim != 2)
        return err_printf(err, cap, "embedding and unembedding parameters must be matrices");
    int64_t D = te->shape[1], V = te->shape[0];
    if (D < 1 || D > (1 << 20) || V < 3 || V > (1 << 20))
        return err_printf(err, cap, "token_embed/embeddings has an unusable shape [%lld, %lld]",
                          (long long)V, (long long)D);
    int L = 0;
    char name[160];
    for (;;) {
        snprintf(name, sizeof name, "transformer/layer_%d/attn/query/w", L);
        if (!find(t, n, name)) break;
        if (++L > 4096) return err_printf(err, cap, "too many layers");
    }
    if (L == 0)
        return err_printf(err, cap, "parameter \"transformer/layer_0/attn/query/w\" is missing");
    const ImportTensor *q0 = find(t, n, "transformer/layer_0/attn/query/w");
    snprintf(name, sizeof name, "transformer/layer_0/mlp/linear_1/w");
    const ImportTensor *w10 = find(t, n, name);
    if (!w10) return err_printf(err, cap, "parameter \"%s\" is missing", name);
    if (q0->ndim != 2 || w10->ndim != 2)
        return err_printf(err, cap, "layer parameters must be matrices");
    int64_t HK = q0->shape[1], M = w10->shape[1];

    int64_t N, H, ks, ex, causal_i = 0;
    if (opt_int(meta, "max_seq_len", -1, 1, 1 << 20, &N, err, cap) ||
        opt_int(meta, "num_heads", -1, 1, 4096, &H, err, cap) ||
        opt_int(meta, "key_size", HK / H, 1, 1 << 20, &ks, err, cap) ||
        opt_int(meta, "mlp_exactness", 100, 1, 1 << 30, &ex, err, cap))
        return 1;
    if (cJSON_GetObjectItemCaseSensitive(meta, "causal")) {
        int b;
        if (json_get_bool(meta, "causal", "import JSON", &b, err, cap)) return 1;
        causal_i = b;
    }
    if (H * ks != HK)
        return err_printf(err, cap,
                          "import JSON: num_heads %lld x key_size %lld != %lld attention columns",
                          (long long)H, (long long)ks, (long long)HK);
    if (pe->shape[0] != N + 1)
        return err_printf(err, cap,
                          "pos_embed/embeddings has %lld rows; max_seq_len %lld needs %lld",
                          (long long)pe->shape[0], (long long)N, (long long)N + 1);
    if ((double)D * ((double)HK * 4 + 2.0 * (double)M) * L > COMPILE_MAX_WEIGHTS)
        return err_printf(err, cap, "the model is too large to import");

    m->num_layers = L;
    m->num_heads = (int)H;
    m->key_size = (int)ks;
    m->mlp_hidden_size = (int)M;
    m->residual_dim = (int)D;
    m->max_seq_len = (int)N;
    m->causal = causal_i;
    m->mlp_exactness = (int)ex;
    m->vocab_size = (int)V;
    return 0;
}

/* The token encoder ("token_ids") and the BOS and PAD tokens. */
static int import_tokens(const cJSON *meta, CompiledModel *m, char *err, size_t cap) {
    int64_t V = m->vocab_size;
    const cJSON *tid;
    if (json_get_array(meta, "token_ids", "import JSON", &tid, err, cap)) return 1;
    if (cJSON_GetArraySize(tid) != V)
        return err_printf(err, cap,
                          "import JSON: \"token_ids\" has %d entries; token_embed has %lld rows",
                          cJSON_GetArraySize(tid), (long long)V);
    m->tokens = arena_alloc(&m->arena, sizeof(Value) * (size_t)V);
    char *seen = arena_alloc(&m->arena, (size_t)V);
    const cJSON *pair;
    cJSON_ArrayForEach(pair, tid) {
        int64_t id;
        Value v;
        if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 ||
            json_value(cJSON_GetArrayItem(pair, 0), &v, 0) ||
            json_as_int(cJSON_GetArrayItem(pair, 1), "import JSON: token_ids", &id, err, cap))
            return err_printf(err, cap,
                              "import JSON: every \"token_ids\" entry must be [token, id]");
        if (id < 0 || id >= V || seen[id])
            return err_printf(err, cap, "import JSON: token id %lld is out of range or repeated",
                              (long long)id);
        if (v.kind == VAL_STR) v = val_str(arena_strdup(&m->arena, v.u.s));
        seen[id] = 1;
        m->tokens[id] = v;
    }
    const char *bos, *pad;
    if (json_get_string(meta, "bos", "import JSON", &bos, err, cap) ||
        json_get_string(meta, "pad", "import JSON", &pad, err, cap))
        return 1;
    m->bos_id = model_token_id(m, val_str(bos));
    m->pad_id = model_token_id(m, val_str(pad));
    if (m->bos_id < 0 || m->pad_id < 0 || m->bos_id == m->pad_id)
        return err_printf(err, cap, "import JSON: the %s token \"%s\" is not in \"token_ids\"",
                          m->bos_id < 0 ? "BOS" : "PAD", m->bos_id < 0 ? bos : pad);
    return 0;
}

/* The output decoder ("output": name, encoding, values), one value per unembedding column. */
static int import_output(const ImportTensor *t, int n, const cJSON *meta, CompiledModel *m,
                         char *err, size_t cap) {
    const ImportTensor *ue = find(t, n, "unembed/w");
    const cJSON *o;
    const char *oname, *oenc;
    if (json_get_object(meta, "output", "import JSON", &o, err, cap) ||
        json_get_string(o, "name", "import JSON: output", &oname, err, cap) ||
        json_get_string(o, "encoding", "import JSON: output", &oenc, err, cap))
        return 1;
    if (strcmp(oenc, "categorical") != 0 && strcmp(oenc, "numerical") != 0)
        return err_printf(
            err, cap, "import JSON: output encoding \"%s\" is neither categorical nor numerical",
            oenc);
    m->output_name = arena_strdup(&m->arena, oname);
    m->output_numerical = strcmp(oenc, "numerical") == 0;
    int64_t ncols = ue->shape[1];
    if (ue->shape[0] != m->residual_dim)
        return err_printf(err, cap, "unembed/w has %lld rows; expected %lld",
                          (long long)ue->shape[0], (long long)m->residual_dim);
    m->n_out = (int)ncols;
    if (m->output_numerical && ncols != 1)
        return err_printf(err, cap, "unembed/w has %lld columns; a numerical output has 1",
                          (long long)ncols);
    m->out_values = arena_alloc(&m->arena, sizeof(Value) * (size_t)(ncols ? ncols : 1));
    if (m->output_numerical) return 0;
    const cJSON *vals;
    if (json_get_array(o, "values", "import JSON: output", &vals, err, cap)) return 1;
    if (cJSON_GetArraySize(vals) != ncols)
        return err_printf(err, cap, "import JSON: output has %d values; unembed/w has %lld columns",
                          cJSON_GetArraySize(vals), (long long)ncols);
    int k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, vals) {
        if (json_value(it, &m->out_values[k], 0))
            return err_printf(err, cap, "import JSON: output value %d is not a JSON scalar or list",
                              k);
        if (m->out_values[k].kind == VAL_STR)
            m->out_values[k] = val_str(arena_strdup(&m->arena, m->out_values[k].u.s));
        k++;
    }
    return 0;
}

/* Every weight matrix, with zero biases. */
static int import_weights(const ImportTensor *t, int n, CompiledModel *m, char *err, size_t cap) {
    int64_t D = m->residual_dim, V = m->vocab_size, N = m->max_seq_len, ncols = m->n_out;
    int64_t HK = (int64_t)m->num_heads * m->key_size, M = m->mlp_hidden_size;
    char name[160];
    model_alloc_weights(m);
    if (take2(t, n, "token_embed/embeddings", V, D, m->token_embed, err, cap) ||
        take2(t, n, "pos_embed/embeddings", N + 1, D, m->pos_embed, err, cap) ||
        take2(t, n, "unembed/w", D, ncols, m->unembed, err, cap))
        return 1;
    for (int l = 0; l < m->num_layers; l++) {
        ModelLayer *ly = &m->layers[l];
        const char *nm[4] = {"query", "key", "value", "linear"};
        double *ws[4] = {ly->q, ly->k, ly->v, ly->o};
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "transformer/layer_%d/attn/%s/w", l, nm[k]);
            if (take2(t, n, name, k < 3 ? D : HK, k < 3 ? HK : D, ws[k], err, cap)) return 1;
            snprintf(name, sizeof name, "transformer/layer_%d/attn/%s/b", l, nm[k]);
            if (check_bias(t, n, name, k < 3 ? HK : D, err, cap)) return 1;
        }
        snprintf(name, sizeof name, "transformer/layer_%d/mlp/linear_1/w", l);
        if (take2(t, n, name, D, M, ly->w1, err, cap)) return 1;
        snprintf(name, sizeof name, "transformer/layer_%d/mlp/linear_1/b", l);
        if (check_bias(t, n, name, M, err, cap)) return 1;
        snprintf(name, sizeof name, "transformer/layer_%d/mlp/linear_2/w", l);
        if (take2(t, n, name, M, D, ly->w2, err, cap)) return 1;
        snprintf(name, sizeof name, "transformer/layer_%d/mlp/linear_2/b", l);
        if (check_bias(t, n, name, D, err, cap)) return 1;
    }
    return check_bias(t, n, "unembed/b", ncols, err, cap);
}

/* Every parameter must have been used: a stray name means a different architecture (layer
 * norm, a missing layer in the numbering). */
static int check_param_names(const ImportTensor *t, int n, int L, char *err, size_t cap) {
    for (int i = 0; i < n; i++) {
        const char *s = t[i].name;
        int li;
        char rest[64];
        if (strcmp(s, "token_embed/embeddings") == 0 || strcmp(s, "pos_embed/embeddings") == 0 ||
            strcmp(s, "unembed/w") == 0 || strcmp(s, "unembed/b") == 0)
            continue;
        if (sscanf(s, "transformer/layer_%d/%63s", &li, rest) == 2 && li >= 0 && li < L &&
            (strstr(rest, "attn/") == rest || strstr(rest, "mlp/") == rest)) {
            static const char *ok[] = {"attn/query/w",   "attn/key/w",     "attn/value/w",
                                       "attn/linear/w",  "attn/query/b",   "attn/key/b",
                                       "attn/value/b",   "attn/linear/b",  "mlp/linear_1/w",
                                       "mlp/linear_1/b", "mlp/linear_2/w", "mlp/linear_2/b"};
            int hit = 0;
            for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) hit |= strcmp(rest, ok[k]) == 0;
            if (hit) continue;
        }
        return err_printf(
            err, cap, "parameter \"%s\" is not part of Tracr's model (layer norm is not supported)",
            s);
    }
    return 0;
}

static int build(const ImportTensor *t, int n, const cJSON *meta, CompiledModel *m, char *err,
                 size_t cap) {
    if (import_config(t, n, meta, m, err, cap) || import_tokens(meta, m, err, cap) ||
        import_output(t, n, meta, m, err, cap) || import_weights(t, n, m, err, cap) ||
        check_param_names(t, n, m->num_layers, err, cap))
        return 1;
    int64_t D = m->residual_dim;
    char name[160];
    m->residual_labels = arena_alloc(&m->arena, sizeof(char *) * (size_t)D);
    for (int64_t i = 0; i < D; i++) {
        snprintf(name, sizeof name, "r%lld", (long long)i);
        m->residual_labels[i] = arena_strdup(&m->arena, name);
    }
    m->info = arena_alloc(&m->arena, sizeof(ModelLayerInfo) * (size_t)m->num_layers);
    m->source = "";
    return 0;
}

int model_import(const ImportTensor *t, int n, const cJSON *meta, CompiledModel **out, char *err,
                 size_t errcap) {
    CompiledModel *m = calloc(1, sizeof *m);
    arena_init(&m->arena);
    *out = NULL;
    if (build(t, n, meta, m, err, errcap)) {
        compiled_model_free(m);
        return 1;
    }
    *out = m;
    return 0;
}

static int read_all(const char *path, unsigned char **buf, size_t *len, char *err, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_printf(err, cap, "%s: cannot open", path);
    unsigned char hdr[4] = {0};
    size_t got = fread(hdr, 1, 4, f);
    fclose(f);
    *len = got;
    memcpy(*buf = malloc(4), hdr, 4);
    return 0;
}

int model_import_files(const char *weights_path, const char *json_path, CompiledModel **out,
                       char *err, size_t errcap) {
    *out = NULL;
    unsigned char *head = NULL;
    size_t hl = 0;
    if (read_all(weights_path, &head, &hl, err, errcap)) return 1;
    int is_zip = hl == 4 && memcmp(head, "PK\x03\x04", 4) == 0;
    int is_zip_empty = hl == 4 && memcmp(head, "PK\x05\x06", 4) == 0;
    free(head);
    cJSON *meta = NULL;
    if (json_read_file(json_path, &meta, err, errcap)) return 1;
    ImportTensor *ts = NULL;
    int n = 0, rc = 1;
    NpzFile z = {0};
    StFile sf = {0};
    double **conv = NULL;
    char sub[600];
    if (is_zip || is_zip_empty) {
        if (npz_read_file(weights_path, &z, err, errcap)) goto out;
        ts = calloc((size_t)z.n + 1, sizeof *ts);
        for (int i = 0; i < z.n; i++) {
            const NpyArray *a = &z.arrays[i];
            if (a->ndim > 2) {
                err_printf(err, errcap,
                           "%s: array \"%s\" has %d dims; Tracr's parameters have 1 or 2",
                           weights_path, a->name, a->ndim);
                goto out;
            }
            ts[n].name = a->name;
            ts[n].ndim = a->ndim;
            ts[n].shape[0] = a->ndim > 0 ? a->shape[0] : 1;
            ts[n].shape[1] = a->ndim > 1 ? a->shape[1] : 1;
            ts[n].data = a->data;
            n++;
        }
    } else {
        if (st_read_file(weights_path, &sf, err, errcap)) goto out;
        ts = calloc((size_t)sf.n + 1, sizeof *ts);
        conv = calloc((size_t)sf.n + 1, sizeof *conv);
        for (int i = 0; i < sf.n; i++) {
            const StTensor *x = &sf.tensors[i];
            if (x->dtype != ST_F32 && x->dtype != ST_F64) {
                err_printf(err, errcap, "%s: tensor \"%s\" has dtype %s; expected F32 or F64",
                           weights_path, x->name, st_dtype_name(x->dtype));
                goto out;
            }
            if (x->ndim < 1 || x->ndim > 2) {
                err_printf(err, errcap,
                           "%s: tensor \"%s\" has %d dims; Tracr's parameters have 1 or 2",
                           weights_path, x->name, x->ndim);
                goto out;
            }
            int64_t ne = st_numel(x);
            conv[i] = malloc(sizeof(double) * (size_t)(ne ? ne : 1));
            for (int64_t k = 0; k < ne; k++) {
                if (x->dtype == ST_F32) {
                    float f;
                    memcpy(&f, (const unsigned char *)x->data + 4 * k, 4);
                    conv[i][k] = f;
                } else {
                    memcpy(&conv[i][k], (const unsigned char *)x->data + 8 * k, 8);
                }
            }
            ts[n].name = x->name;
            ts[n].ndim = x->ndim;
            ts[n].shape[0] = x->shape[0];
            ts[n].shape[1] = x->ndim > 1 ? x->shape[1] : 1;
            ts[n].data = conv[i];
            n++;
        }
    }
    if (model_import(ts, n, meta, out, sub, sizeof sub)) {
        err_printf(err, errcap, "%s: %s", weights_path, sub);
        goto out;
    }
    rc = 0;
out:
    if (conv)
        for (int i = 0; i < sf.n; i++) free(conv[i]);
    free(conv);
    free(ts);
    npz_free(&z);
    st_file_free(&sf);
    cJSON_Delete(meta);
    return rc;
}
