/* Import of a model made by Tracr itself: the assembled model's parameters with Haiku's names
 * (token_embed/embeddings, pos_embed/embeddings, transformer/layer_i/attn/{query,key,value,
 * linear}/w, transformer/layer_i/mlp/linear_{1,2}/w, unembed/w, optional all-zero /b biases)
 * as a numpy .npz or a safetensors file, plus a small JSON with what the weights do not say:
 *
 *   {"token_ids": [[token, id], ...],      every token of the input encoder, BOS/PAD included
 *    "bos": "compiler_bos", "pad": "compiler_pad",
 *    "max_seq_len": 5, "causal": false, "num_heads": 1,
 *    "key_size": 12,                       optional (columns / num_heads)
 *    "mlp_exactness": 100,                 optional (default 100)
 *    "output": {"name": "reverse", "encoding": "categorical" | "numerical",
 *               "values": [...]}}          the value of each unembedding column (categorical)
 *
 * docs/import.md shows the few lines of Python that write both files. Sizes (D, vocab,
 * layers, hidden width) come from the tensor shapes, which must all agree. The result is an
 * ordinary itracr model: the residual directions get the neutral labels "r0", "r1", ...
 * (the model format requires a label per direction; Tracr's are not in the parameters). */
#ifndef ITRACR_COMPILER_MODEL_IMPORT_H
#define ITRACR_COMPILER_MODEL_IMPORT_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler/model.h"

/* One named parameter, already converted to double, C order. */
typedef struct ImportTensor {
    const char *name;
    int ndim;
    int64_t shape[2];
    const double *data;
} ImportTensor;

/* Builds a model from tensors t[n] and the parsed sidecar JSON. Returns 0 and *out, or
 * non-zero with a message naming the tensor or JSON field at fault. */
int model_import(const ImportTensor *t, int n, const cJSON *meta, CompiledModel **out, char *err,
                 size_t errcap);
/* Reads weights_path (.npz when it starts with a zip signature, else safetensors) and
 * json_path, then model_import. */
int model_import_files(const char *weights_path, const char *json_path, CompiledModel **out,
                       char *err, size_t errcap);

#endif
