/* Weight tokens: the meta-model's input, made from a compiled model alone (the three token
 * formats and which module owns each: docs/tokens.md).
 *
 * wt_encode reads only what a model file holds -- the weights, the config, the token table
 * (the value of each embedding row) and the output decoding (the value of each unembedding
 * column) -- never the program, its labels or its source. It writes a sequence of tokens,
 * each a fixed-width float vector payload[WT_WIDTH] plus WT_N_IDS small integer ids
 * (kind, layer, pos, sub), each id below its cap (docs/dataset.md, "Weight tokens").
 *
 * Every scheme starts with the same header tokens:
 *   CONFIG       one token: the config numbers (layers, heads, key size, ...)
 *   TOKEN_VALUE  one per embedding row r (pos = r): the token's value and type flags
 *   OUT_VALUE    one per unembedding column c (pos = c): the column's value and flags
 * Without the last two, `x + 1` and `x + 2` on the same inputs compile to identical matrices.
 *
 * Schemes (WtScheme):
 *   WT_SCHEME_CHUNKS    each matrix in a fixed order, row-major, every row cut into
 *                       WT_WIDTH-wide chunks (pos = row, sub = chunk); all-zero chunks are
 *                       dropped, the kept ones keep their ids.
 *   WT_SCHEME_RESIDUAL  one group per residual direction (pos = the direction's index in a
 *                       canonical, name-independent order, wt_residual_order): its column of
 *                       the embeddings, and per layer its row of Q, K, V, W1, its column of
 *                       O and W2 (what the layer reads from it and writes to it), its row of
 *                       the unembedding; each such vector cut into chunks (sub), zero chunks
 *                       dropped.
 * Normalisation (WtNorm): WT_NORM_ASINH (default) maps every weight w to asinh(w): zeros stay
 * zero, small weights are unchanged, Tracr's large constants (softmax coldness, MLP slopes,
 * around 1e2..1e4) are compressed to ~5..10; it needs no per-sample statistics, so equal
 * weights give equal payloads in every sample. WT_NORM_NONE keeps the raw values. */
#ifndef ITRACR_DATA_WEIGHT_TOKENS_H
#define ITRACR_DATA_WEIGHT_TOKENS_H
#include <stddef.h>
#include <stdint.h>

#include "compiler/model.h"

#define WT_WIDTH 64 /* F: floats per token */
#define WT_N_IDS 4  /* K: ids per token */
enum { WT_ID_KIND, WT_ID_LAYER, WT_ID_POS, WT_ID_SUB };

/* kind ids (0 is reserved for padding and never emitted) */
enum {
    WT_KIND_PAD,
    WT_KIND_CONFIG,
    WT_KIND_TOKEN_VALUE,
    WT_KIND_OUT_VALUE,
    WT_KIND_TOKEN_EMBED,
    WT_KIND_POS_EMBED,
    WT_KIND_Q,
    WT_KIND_K,
    WT_KIND_V,
    WT_KIND_O,
    WT_KIND_W1,
    WT_KIND_W2,
    WT_KIND_UNEMBED,
    WT_KIND_COUNT
};

/* Id caps (vocabulary sizes): layer id 0 = not in a layer, l + 1 = transformer layer l. */
#define WT_KIND_VOCAB WT_KIND_COUNT
#define WT_LAYER_VOCAB 32   /* so at most 31 layers */
#define WT_POS_VOCAB 2048   /* rows / residual directions / token ids / output columns */
#define WT_SUB_VOCAB 64     /* chunks per row: rows up to 64 * WT_WIDTH = 4096 wide */
#define WT_MAX_TOKENS 16384 /* tokens per model */

typedef enum { WT_SCHEME_CHUNKS, WT_SCHEME_RESIDUAL, WT_SCHEME_COUNT } WtScheme;
typedef enum { WT_NORM_ASINH, WT_NORM_NONE, WT_NORM_COUNT } WtNorm;

typedef struct WtOptions {
    WtScheme scheme;
    WtNorm norm;
} WtOptions;

void wt_options_default(WtOptions *o);             /* chunks, asinh */
const char *wt_scheme_name(WtScheme s);            /* "chunks", "residual" */
const char *wt_norm_name(WtNorm n);                /* "asinh", "none" */
int wt_scheme_parse(const char *s, WtScheme *out); /* 0, or -1 for an unknown name */
int wt_norm_parse(const char *s, WtNorm *out);
const char *wt_kind_name(int kind); /* "config", "q", ...; NULL if out of range */
/* The id caps in WT_ID_ order: ids[k] < vocab[k]. */
void wt_id_vocab(int vocab[WT_N_IDS]);

typedef struct WtTokens {
    int n;          /* tokens */
    float *payload; /* [n, WT_WIDTH] */
    int16_t *ids;   /* [n, WT_N_IDS] */
    int cap;
} WtTokens;

void wt_tokens_init(WtTokens *t);
void wt_tokens_free(WtTokens *t);

/* Encodes m into t (previous content replaced; t must be initialised). Returns 0, or
 * non-zero with a message when the model exceeds a cap (too many layers, rows wider than
 * WT_SUB_VOCAB chunks, more than WT_MAX_TOKENS tokens). */
int wt_encode(const CompiledModel *m, const WtOptions *o, WtTokens *t, char *err, size_t errcap);

/* A canonical order of the residual directions that does not depend on their labels:
 * directions sorted by a signature of their content (embedding columns by token id and
 * position, unembedding row by output column, and per layer the multiset of values in their
 * rows/columns of each matrix), ties kept in the model's order. perm[i] = the model's
 * direction at canonical index i; rank[d] (may be NULL) = canonical index of direction d.
 * perm and rank have residual_dim entries. Returns 0, or -1 on OOM. */
int wt_residual_order(const CompiledModel *m, int *perm, int *rank);
/* The same for a prefix of the model: the directions that the blocks of its first n_sub
 * sublayers (layer 0's attention, layer 0's MLP, layer 1's attention, ...) read or write,
 * sorted by a signature of their embedding columns and their weights in those blocks only,
 * ties in the model's order. Blocks after the prefix, and directions only they touch, do not
 * change it. perm[0 .. *nd) = the model's directions in that order (perm has residual_dim
 * entries). Returns 0, or -1 on OOM. */
int wt_prefix_order(const CompiledModel *m, int n_sub, int *perm, int *nd);

#endif
