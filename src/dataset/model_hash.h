/* A hash of a compiled model for de-duplicating a dataset: two programs whose compiled
 * models are the same up to the naming of residual directions, the order of hidden units,
 * the order of heads in a layer and the order of directions inside a head get the same hash.
 * (The bilinear forms below do not see a head's internal basis at all, but the canonical
 * residual order reads the multiset of each Q, K, V row and O column, which a rotation inside
 * a head changes. Directions whose signatures tie keep the model's order, so some residual
 * permutations change the hash: tests/test_model_hash.c measures how many.)
 *
 * Hashed: the config, the token of each embedding row and the value of each unembedding
 * column (the encoders, under Python equality: True, 1 and 1.0 alike), and the weights
 * rounded to 2^-16, with residual directions in wt_residual_order's name-independent order;
 * per layer, each head as its bilinear forms Q_h K_h^T and V_h O_h ([D, D], invariant to the
 * head's internal basis) and each MLP hidden unit as its (W1 column, W2 row); heads and units
 * enter as multisets. Residual labels, layer info and the program source are never read.
 *
 * Construction (every digest is XXH3-128 over a canonical little-endian byte encoding, with a
 * seed per role):
 *   head  = XXH3_128(n_qk, (i, k, q)..., n_ov, (i, k, q)...)   nonzero entries, canonical order
 *   unit  = XXH3_128((i, 0|1, q)...)                            W1 column, W2 row entries
 *   heads = XXH3_128(sorted head digests), units = XXH3_128(sorted unit digests)
 *   model = XXH3_128(version, config, encoders, embeddings, unembedding, per layer heads, units)
 * (all-zero heads and units are left out; they do not change what the model computes).
 * Collision argument: each encoding is injective (fixed-width fields, lengths given by a count
 * or by the config that precedes them), and sorting makes a multiset's encoding a function of
 * the multiset alone. So two models of different classes have different top-level inputs, or
 * equal top-level inputs only because two different member or multiset inputs gave the same
 * digest: equal hashes need an XXH3-128 collision among the 2 + L(2 + H + M) digests of each
 * model. For N models of k digests each that is at most about (Nk)^2 / 2^129 for inputs that
 * are not crafted against XXH3 (1e7 models x 1e3 digests: ~1.5e-19). Summing member hashes,
 * as an earlier version did, gave no such bound: a sum of many 64-bit words can be matched by
 * another multiset without any collision of the members. XXH3 is not a cryptographic hash;
 * the datasets hashed here are generated, not adversarial. */
#ifndef ITRACR_DATA_MODEL_HASH_H
#define ITRACR_DATA_MODEL_HASH_H
#include <stdint.h>

#include "compiler/model.h"

/* out[0], out[1]: the low and high 64 bits of the model digest. Returns 0, or -1 on OOM. */
int model_hash128(const CompiledModel *m, uint64_t out[2]);

/* Digests of the model's prefixes, for locating where two models first differ: prefix s
 * (0 <= s < 2 * num_layers) is the first s + 1 sublayers (layer 0's attention, layer 0's
 * MLP, layer 1's attention, ...), digested as model_hash128 digests the whole model (heads
 * and units as multisets) over the directions those blocks touch in their own label-free
 * order (wt_prefix_order), with the vocabulary, max_seq_len, causality and those directions'
 * embeddings. So it depends on the blocks up to s and nothing after them: two models that
 * agree up to a renaming of directions there have equal digests, whatever follows (ties in
 * the order may make equal prefixes differ, never the reverse, short of a collision); and
 * once two prefixes differ, every longer one does. out[k] receives prefix from + k for
 * from <= s < min(to, 2 * num_layers). Returns 0, or -1 on OOM. */
int model_prefix_hashes(const CompiledModel *m, int from, int to, uint64_t (*out)[2]);

/* Digests of sublayer s's blocks (block_digest.c): each attention head and each MLP hidden
 * unit in use, with the directions they read named by the sublayers before s (wt_prefix_order) or by their
 * embeddings, and the new directions they write by their place in the block. Two models
 * whose first s sublayers agree give equal digests to equal blocks of sublayer s, so the
 * count of blocks two models share there is credit for a sublayer partly right. out needs
 * room for max(num_heads, mlp_hidden_size) digests; *n gets the count. 0, or -1 on OOM. */
int model_block_digests(const CompiledModel *m, int s, uint64_t (*out)[2], int *n);

#endif
