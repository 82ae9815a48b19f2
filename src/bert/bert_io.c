/* Encoder files: safetensors with HF BERT tensor names, float64, and the metadata key
 * "itracr_bert" (a JSON object: config, vocabulary, output values, the task's source) that
 * makes a file self-describing (docs/bert.md, "File format"). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert/bert.h"
#include "io/json_util.h"
#include "io/safetensors.h"
#include "util/errmsg.h"

#define META_KEY "itracr_bert"
#define FORMAT "itracr-bert-1"

/* Token and output values: JSON strings, numbers (integral: int) and booleans. */
static cJSON *value_json(Value v) {
    switch (v.kind) {
    case VAL_STR: return cJSON_CreateString(v.u.s);
    case VAL_INT: return json_number((double)v.u.i);
    case VAL_FLOAT: return json_number(v.u.f);
    case VAL_BOOL: return cJSON_CreateBool(v.u.b);
    default: return NULL;
    }
}

static int json_value(const cJSON *j, Value *out) {
    if (cJSON_IsString(j)) *out = val_str(j->valuestring);
    else if (cJSON_IsBool(j)) *out = val_bool(cJSON_IsTrue(j));
    else if (cJSON_IsNumber(j) && isfinite(j->valuedouble)) {
        double d = j->valuedouble;
        *out = d == floor(d) && fabs(d) <= JSON_MAX_EXACT_INT ? val_int((int64_t)d) : val_float(d);
    } else return 1;
    return 0;
}

static cJSON *values_json(const Value *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *x = value_json(v[i]);
        if (!x) {
            cJSON_Delete(a);
            return NULL;
        }
        cJSON_AddItemToArray(a, x);
    }
    return a;
}

static char *meta_text(const BertModel *m, char *err, size_t errcap) {
    const BertConfig *c = &m->cfg;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", FORMAT);
    cJSON_AddStringToObject(j, "model_type", "bert");
    cJSON_AddNumberToObject(j, "hidden_size", c->hidden);
    cJSON_AddNumberToObject(j, "num_attention_heads", c->heads);
    cJSON_AddNumberToObject(j, "num_hidden_layers", c->layers);
    cJSON_AddNumberToObject(j, "intermediate_size", c->intermediate);
    cJSON_AddNumberToObject(j, "max_position_embeddings", c->positions);
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab);
    cJSON_AddNumberToObject(j, "num_labels", c->classes);
    cJSON_AddItemToObject(j, "layer_norm_eps", json_number(c->ln_eps));
    cJSON_AddStringToObject(j, "hidden_act", "gelu");
    cJSON_AddBoolToObject(j, "causal", c->causal);
    cJSON_AddNumberToObject(j, "max_seq_len", m->voc.max_seq_len);
    cJSON_AddNumberToObject(j, "bos_id", m->voc.bos_id);
    cJSON_AddNumberToObject(j, "pad_id", m->voc.pad_id);
    cJSON *tok = values_json(m->voc.tokens, m->voc.n_tokens);
    cJSON *out = values_json(m->voc.outputs, m->voc.n_outputs);
    char *s = NULL;
    if (!tok || !out)
        err_printf(err, errcap, "a token or output value is not a string, number or bool");
    else {
        cJSON_AddItemToObject(j, "tokens", tok);
        cJSON_AddItemToObject(j, "outputs", out);
        tok = out = NULL;
        cJSON_AddStringToObject(j, "task", m->voc.task ? m->voc.task : "");
        cJSON_AddStringToObject(j, "source", m->voc.source ? m->voc.source : "");
        s = cJSON_PrintUnformatted(j);
    }
    cJSON_Delete(tok);
    cJSON_Delete(out);
    cJSON_Delete(j);
    return s;
}

int bert_save(const BertModel *m, const char *path, char *err, size_t errcap) {
    if (m->voc.n_tokens != m->cfg.vocab || m->voc.n_outputs != m->cfg.classes)
        return err_printf(err, errcap, "%s: the vocabulary does not match the config", path);
    char *meta = meta_text(m, err, errcap);
    if (!meta) return 1;
    BertTensor *t = malloc(sizeof(BertTensor) * BERT_MAX_TENSORS);
    if (!t) abort();
    int n = bert_tensors(&m->cfg, t);
    StWriter w;
    st_writer_init(&w);
    for (int i = 0; i < n; i++)
        st_writer_add(&w, t[i].name, ST_F64, t[i].ndim, t[i].shape, m->params + t[i].offset);
    st_writer_meta(&w, "format", "pt"); /* what transformers expects of a safetensors file */
    st_writer_meta(&w, META_KEY, meta);
    int rc = st_writer_save(&w, path, err, errcap) ? 1 : 0;
    st_writer_free(&w);
    free(t);
    free(meta);
    return rc;
}

/* ---- loading ---------------------------------------------------------------------------- */

typedef struct Loader {
    const char *path;
    StFile f;
    const char *prefix; /* "" or "bert." */
    cJSON *meta;
} Loader;

static const StTensor *find(const Loader *L, const char *name) {
    char full[160];
    snprintf(full, sizeof full, "%s%s", L->prefix, name);
    const StTensor *t = st_find(&L->f, full);
    return t ? t : st_find(&L->f, name); /* HF's token classifier: "bert." body, "classifier" */
}

/* Rows and columns of a 2-d (or 1-d: cols 1) tensor, or -1 when absent / other rank. */
static int dims(const Loader *L, const char *name, int64_t *rows, int64_t *cols) {
    const StTensor *t = find(L, name);
    if (!t || t->ndim < 1 || t->ndim > 2) return -1;
    *rows = t->shape[0];
    *cols = t->ndim == 2 ? t->shape[1] : 1;
    return 0;
}

static int meta_int(const Loader *L, const char *key, int64_t dflt, bool required, int *out,
                    char *err, size_t errcap) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(L->meta, key);
    if (!j && !required) {
        *out = (int)dflt;
        return 0;
    }
    int64_t v;
    char ctx[300];
    snprintf(ctx, sizeof ctx, "%s: metadata %s", L->path, META_KEY);
    if (json_get_int(L->meta, key, ctx, &v, err, errcap)) return 1;
    if (v < -1 || v > 1 << 30)
        return err_printf(err, errcap, "%s: field \"%s\" is %lld", ctx, key, (long long)v);
    *out = (int)v;
    return 0;
}

/* The config from the tensors' shapes and the metadata's heads/eps/causal. */
static int read_config(Loader *L, BertConfig *c, char *err, size_t errcap) {
    int64_t r, k, x;
    if (dims(L, "embeddings.word_embeddings.weight", &r, &k) || k < 1)
        return err_printf(err, errcap, "%s: no 2-d tensor %sembeddings.word_embeddings.weight",
                          L->path, L->prefix);
    c->vocab = (int)r, c->hidden = (int)k;
    if (dims(L, "embeddings.position_embeddings.weight", &r, &x) || x != k)
        return err_printf(err, errcap,
                          "%s: %sembeddings.position_embeddings.weight is missing or not [P, %lld]",
                          L->path, L->prefix, (long long)k);
    c->positions = (int)r;
    int l = 0;
    for (char nm[128];; l++) {
        snprintf(nm, sizeof nm, "encoder.layer.%d.attention.self.query.weight", l);
        if (!find(L, nm)) break;
    }
    if (l < 1)
        return err_printf(
            err, errcap,
            "%s: no encoder.layer.0.attention.self.query.weight: not an HF BERT encoder", L->path);
    c->layers = l;
    if (dims(L, "encoder.layer.0.intermediate.dense.weight", &r, &x) || x != k)
        return err_printf(
            err, errcap,
            "%s: encoder.layer.0.intermediate.dense.weight is missing or not [I, %lld]", L->path,
            (long long)k);
    c->intermediate = (int)r;
    if (dims(L, "classifier.weight", &r, &x) || x != k)
        return err_printf(
            err, errcap,
            "%s: no classifier.weight [C, %lld]: the adapter needs a per-position classifier over the output values (a token-classification head)",
            L->path, (long long)k);
    c->classes = (int)r;
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(L->meta, "layer_norm_eps");
    c->ln_eps = cJSON_IsNumber(eps) ? eps->valuedouble : 1e-12;
    c->causal = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(L->meta, "causal"));
    return meta_int(L, "num_attention_heads", 0, true, &c->heads, err, errcap) ||
           bert_config_check(c, err, errcap);
}

static int read_values(const Loader *L, const char *key, int n, Value **out, Arena *a, char *err,
                       size_t errcap) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(L->meta, key);
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != n)
        return err_printf(
            err, errcap,
            "%s: metadata %s: \"%s\" must be an array of %d values (the tensors' shapes say so)",
            L->path, META_KEY, key, n);
    *out = arena_alloc(a, sizeof(Value) * (size_t)n);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (json_value(it, &(*out)[i]))
            return err_printf(err, errcap,
                              "%s: metadata %s: %s[%d] is not a string, number or bool", L->path,
                              META_KEY, key, i);
        i++;
    }
    return 0;
}

static const char *meta_str(const Loader *L, const char *key, Arena *a) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(L->meta, key);
    return arena_strdup(a, cJSON_IsString(s) ? s->valuestring : "");
}

static int read_vocab(Loader *L, BertModel *m, char *err, size_t errcap) {
    BertVocab *v = &m->voc;
    v->n_tokens = m->cfg.vocab;
    v->n_outputs = m->cfg.classes;
    if (read_values(L, "tokens", v->n_tokens, &v->tokens, &m->arena, err, errcap) ||
        read_values(L, "outputs", v->n_outputs, &v->outputs, &m->arena, err, errcap) ||
        meta_int(L, "bos_id", 0, true, &v->bos_id, err, errcap) ||
        meta_int(L, "pad_id", 0, true, &v->pad_id, err, errcap) ||
        meta_int(L, "max_seq_len", m->cfg.positions - 1, false, &v->max_seq_len, err, errcap))
        return 1;
    if (v->bos_id < 0 || v->bos_id >= v->n_tokens || v->pad_id < 0 || v->pad_id >= v->n_tokens ||
        v->bos_id == v->pad_id)
        return err_printf(
            err, errcap,
            "%s: bos_id %d / pad_id %d: two different rows of the %d word embeddings expected",
            L->path, v->bos_id, v->pad_id, v->n_tokens);
    if (v->n_tokens < 3)
        return err_printf(err, errcap,
                          "%s: %d word rows: at least one input token besides BOS and PAD expected",
                          L->path, v->n_tokens);
    if (v->max_seq_len < 1 || v->max_seq_len + 1 > m->cfg.positions || v->max_seq_len > 64)
        return err_printf(err, errcap,
                          "%s: max_seq_len %d: 1..min(64, positions - 1 = %d) expected", L->path,
                          v->max_seq_len, m->cfg.positions - 1);
    for (int i = 0; i < v->n_tokens; i++)
        for (int j = 0; j < i; j++)
            if (val_eq(v->tokens[i], v->tokens[j]))
                return err_printf(err, errcap, "%s: token %d repeats token %d", L->path, i, j);
    v->source = meta_str(L, "source", &m->arena);
    v->task = meta_str(L, "task", &m->arena);
    return 0;
}

/* Copies tensor t (F32 or F64, the expected shape, finite) into dst. */
static int copy_tensor(const Loader *L, const BertTensor *t, double *dst, char *err,
                       size_t errcap) {
    const StTensor *s = find(L, t->name);
    if (!s) return err_printf(err, errcap, "%s: missing tensor %s%s", L->path, L->prefix, t->name);
    int64_t cols = s->ndim == 2 ? s->shape[1] : 1;
    if (s->ndim != t->ndim || s->shape[0] != t->shape[0] || cols != t->shape[1])
        return err_printf(err, errcap, "%s: %s%s has %d dims [%lld, %lld], expected [%lld, %lld]",
                          L->path, L->prefix, t->name, s->ndim, (long long)s->shape[0],
                          (long long)cols, (long long)t->shape[0], (long long)t->shape[1]);
    if (s->dtype != ST_F32 && s->dtype != ST_F64)
        return err_printf(err, errcap, "%s: %s%s is %s, expected F32 or F64", L->path, L->prefix,
                          t->name, st_dtype_name(s->dtype));
    for (size_t i = 0; i < t->numel; i++) {
        if (s->dtype == ST_F64) memcpy(&dst[i], (const char *)s->data + 8 * i, 8);
        else {
            float f;
            memcpy(&f, (const char *)s->data + 4 * i, 4);
            dst[i] = f;
        }
        if (!isfinite(dst[i]))
            return err_printf(err, errcap, "%s: %s%s[%zu] is not finite", L->path, L->prefix,
                              t->name, i);
    }
    return 0;
}

/* Names besides the expected ones that HF BERT files carry and the encoder does not use. */
static bool ignorable(const char *name) {
    return strncmp(name, "pooler.", 7) == 0 || strcmp(name, "embeddings.position_ids") == 0 ||
           strcmp(name, "embeddings.token_type_embeddings.weight") == 0;
}

static int check_names(const Loader *L, const BertTensor *t, int n, char *err, size_t errcap) {
    size_t pl = strlen(L->prefix);
    for (int i = 0; i < L->f.n; i++) {
        const char *nm = L->f.tensors[i].name;
        if (pl && strncmp(nm, L->prefix, pl) == 0) nm += pl;
        bool known = ignorable(nm);
        for (int j = 0; j < n && !known; j++) known = strcmp(nm, t[j].name) == 0;
        if (!known)
            return err_printf(err, errcap,
                              "%s: unexpected tensor %s (not part of an HF BERT encoder with a "
                              "token classifier)",
                              L->path, L->f.tensors[i].name);
    }
    return 0;
}

/* Token type 0 everywhere: its embedding row is a constant added at every position. */
static int fold_token_type(const Loader *L, BertModel *m, char *err, size_t errcap) {
    BertTensor tt = {"embeddings.token_type_embeddings.weight", 2, {0, m->cfg.hidden}, 0, 0, 0};
    int64_t r, c;
    if (dims(L, tt.name, &r, &c)) return 0;
    if (r < 1 || c != m->cfg.hidden)
        return err_printf(err, errcap, "%s: %s is [%lld, %lld], expected [types, %d]", L->path,
                          tt.name, (long long)r, (long long)c, m->cfg.hidden);
    tt.shape[0] = r;
    tt.numel = (size_t)(r * c);
    double *row = malloc(sizeof(double) * tt.numel);
    if (!row) abort();
    int rc = copy_tensor(L, &tt, row, err, errcap);
    for (int p = 0; !rc && p < m->cfg.positions; p++)
        for (int d = 0; d < m->cfg.hidden; d++) m->w.pos[(size_t)p * m->cfg.hidden + d] += row[d];
    free(row);
    return rc;
}

static int load_into(Loader *L, BertModel *m, char *err, size_t errcap) {
    L->prefix = st_find(&L->f, "embeddings.word_embeddings.weight") ? "" : "bert.";
    if (!find(L, "embeddings.word_embeddings.weight"))
        return err_printf(err, errcap,
                          "%s: no tensor embeddings.word_embeddings.weight: not an HF BERT "
                          "encoder",
                          L->path);
    const char *mt = st_meta_get(&L->f, META_KEY);
    if (!mt)
        return err_printf(err, errcap,
                          "%s: no \"%s\" metadata: add the config and vocabulary JSON described in "
                          "docs/bert.md",
                          L->path, META_KEY);
    char label[300];
    snprintf(label, sizeof label, "%s: metadata %s", L->path, META_KEY);
    if (json_parse(label, mt, strlen(mt), &L->meta, err, errcap)) return 1;
    if (!cJSON_IsObject(L->meta)) return err_printf(err, errcap, "%s: not a JSON object", label);
    BertConfig c;
    if (read_config(L, &c, err, errcap) || bert_alloc(m, &c, err, errcap)) return 1;
    if (read_vocab(L, m, err, errcap)) return 1;
    BertTensor *t = malloc(sizeof(BertTensor) * BERT_MAX_TENSORS);
    if (!t) abort();
    int n = bert_tensors(&m->cfg, t), rc = check_names(L, t, n, err, errcap);
    for (int i = 0; i < n && !rc; i++)
        rc = copy_tensor(L, &t[i], m->params + t[i].offset, err, errcap);
    free(t);
    return rc || fold_token_type(L, m, err, errcap);
}

int bert_load(const char *path, BertModel *m, char *err, size_t errcap) {
    memset(m, 0, sizeof *m);
    arena_init(&m->arena);
    Loader L = {.path = path};
    if (st_read_file(path, &L.f, err, errcap)) return 1;
    int rc = load_into(&L, m, err, errcap);
    cJSON_Delete(L.meta);
    st_file_free(&L.f);
    if (rc) {
        bert_free(m);
        memset(m, 0, sizeof *m);
        arena_init(&m->arena);
    }
    return rc;
}

int bert_sniff(const char *path) {
    StFile f;
    char err[256];
    if (st_read_file(path, &f, err, sizeof err)) return 0;
    int yes = st_find(&f, "embeddings.word_embeddings.weight") ||
              st_find(&f, "bert.embeddings.word_embeddings.weight");
    st_file_free(&f);
    return yes;
}
