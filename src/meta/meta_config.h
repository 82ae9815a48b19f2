/* Meta-model configuration and the parameter layout: every parameter tensor lives in one flat
 * float array; the layout names each tensor (name, shape, offset) so that optimizer state,
 * checkpoints and the double-precision test build all share the same addressing. */
#ifndef ITRACR_META_CONFIG_H
#define ITRACR_META_CONFIG_H
#include <stddef.h>
#include <stdint.h>

#define META_MAX_ID_FIELDS 8
#define META_NAME_MAX 48

typedef struct MetaConfig {
    int d_model;    /* C: residual width */
    int n_head;     /* H: d_model % n_head == 0 */
    int n_layer;
    int mlp_ratio;  /* MLP hidden width = mlp_ratio * d_model */
    int payload_dim;                   /* F: float payload per weight token */
    int n_id_fields;                   /* K: small integer ids per weight token */
    int id_vocab[META_MAX_ID_FIELDS];  /* vocabulary size of each id field */
    int vocab;      /* V: program token vocabulary */
    int max_prefix; /* largest P (weight tokens per sample) */
    int max_prog;   /* largest T (program tokens per sample); size of the position table */
} MetaConfig;

/* Returns 0, or non-zero with a message in err. */
int meta_config_validate(const MetaConfig *c, char *err, size_t errcap);
/* Serialises the config as one-line JSON into a malloc'ed string (NULL on OOM). */
char *meta_config_to_json(const MetaConfig *c);
/* Parses meta_config_to_json's output; returns 0, or non-zero with a message. */
int meta_config_from_json(const char *json, MetaConfig *c, char *err, size_t errcap);

typedef struct MetaTensorInfo {
    char name[META_NAME_MAX];
    int ndim;       /* 1 or 2 */
    int shape[2];
    size_t offset;  /* in floats, into the flat parameter array */
    size_t numel;
    int decay;      /* 1: AdamW weight decay applies (matrices of linear layers) */
} MetaTensorInfo;

/* Offsets (in floats) of one transformer block's tensors. */
typedef struct MetaBlockOffsets {
    size_t ln1_g, ln1_b;   /* [C] */
    size_t qkv_w, qkv_b;   /* [3C, C], [3C]; rows: q of all heads, then k, then v */
    size_t proj_w, proj_b; /* [C, C], [C] */
    size_t ln2_g, ln2_b;   /* [C] */
    size_t fc_w, fc_b;     /* [M, C], [M] */
    size_t fcp_w, fcp_b;   /* [C, M], [C] */
} MetaBlockOffsets;

typedef struct MetaLayout {
    size_t pay_w, pay_b;                 /* [C, F], [C] */
    size_t id_emb[META_MAX_ID_FIELDS];   /* [id_vocab[k], C] */
    size_t wte;                          /* [V, C] */
    size_t wpe;                          /* [max_prog, C] */
    MetaBlockOffsets *blocks;            /* [n_layer] */
    size_t lnf_g, lnf_b;                 /* [C] */
    size_t head_w;                       /* [V, C] (no bias) */
    MetaTensorInfo *tensors;
    int n_tensors;
    size_t n_params;
} MetaLayout;

/* The config must be valid. Returns 0, or -1 on OOM. */
int meta_layout_build(MetaLayout *lay, const MetaConfig *c);
void meta_layout_free(MetaLayout *lay);
const MetaTensorInfo *meta_layout_find(const MetaLayout *lay, const char *name);

#endif
