/* The config keys of a model file, one table for the writer (model_io.c) and `info`
 * (info.c); the reader (model_io.c, load_from_file) checks each key's range. */
#include <cjson/cJSON.h>
#include <stddef.h>

#include "compiler/model.h"

typedef struct ConfigKey {
    const char *key;
    bool is_bool;  /* a bool field, else an int field */
    size_t offset; /* into CompiledModel */
} ConfigKey;

#define INT_KEY(f)                                                                                 \
    { #f, false, offsetof(CompiledModel, f) }
#define BOOL_KEY(f)                                                                                \
    { #f, true, offsetof(CompiledModel, f) }
static const ConfigKey k_config[] = {
    INT_KEY(num_layers),   INT_KEY(num_heads),   INT_KEY(key_size), INT_KEY(mlp_hidden_size),
    INT_KEY(residual_dim), INT_KEY(max_seq_len), BOOL_KEY(causal),  INT_KEY(mlp_exactness),
    INT_KEY(vocab_size),   BOOL_KEY(exact),      INT_KEY(bos_id),   INT_KEY(pad_id),
};

cJSON *model_config_json(const CompiledModel *m) {
    cJSON *c = cJSON_CreateObject();
    const char *base = (const char *)m;
    for (size_t i = 0; i < sizeof k_config / sizeof k_config[0]; i++) {
        const ConfigKey *k = &k_config[i];
        if (k->is_bool) cJSON_AddBoolToObject(c, k->key, *(const bool *)(base + k->offset));
        else cJSON_AddNumberToObject(c, k->key, *(const int *)(base + k->offset));
    }
    return c;
}
