/* The whole meta-model's forward and backward over a flat parameter array (layout from
 * meta_config.h), written once over REAL: float for the model, _f64 for gradient checks.
 *
 * Sequence of sample b: L = P + T positions. Weight tokens p < P: embedding =
 * payload[b,p] @ payload_w^T + payload_b + sum_k id_emb_k[ids[b,p,k]] for p < prefix_len[b];
 * padding weight tokens (p >= prefix_len[b]) are zero vectors that no position ever attends
 * to. Program tokens t < T: token_emb[tokens[b,t]] + pos_emb[t]. Then n_layer pre-LayerNorm
 * blocks (x += attn(ln1(x)); x += mlp(ln2(x))) with the prefix-LM mask (meta_layers.h), a
 * final LayerNorm and the head, applied to program positions only: logits [B,T,V]. */
#ifndef ITRACR_META_NET_H
#define ITRACR_META_NET_H
#include <stddef.h>
#include <stdint.h>

#include "meta/meta_config.h"

typedef struct MetaBatch {
    int B, P, T;               /* P may be 0 (no weight tokens); T >= 1 */
    const float *payload;      /* [B,P,F] (rows p >= prefix_len[b] are not read) */
    const int32_t *ids;        /* [B,P,K] (rows p >= prefix_len[b] are not read) */
    const int32_t *prefix_len; /* [B], each in [0, P] */
    const int32_t *tokens;     /* [B,T] program input tokens, each in [0, V) */
    const int32_t *targets;    /* [B,T] next-token targets in [0, V) or -1 (ignored); may be
                                * NULL (forward only computes logits) */
} MetaBatch;

/* Checks sizes against the config and max_batch and every index against its vocabulary.
 * Returns 0, or non-zero with a message naming the first bad entry. */
int meta_batch_validate(const MetaConfig *c, const MetaBatch *b, int max_batch, char *err,
                        size_t errcap);

#define META_REAL float
#define META_FN(n) n
#include "meta/meta_net_decl.h"
#undef META_REAL
#undef META_FN

#define META_REAL double
#define META_FN(n) n##_f64
#include "meta/meta_net_decl.h"
#undef META_REAL
#undef META_FN

#endif
