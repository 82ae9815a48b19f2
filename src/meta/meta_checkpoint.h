/* Meta-model checkpoints as safetensors: for every parameter tensor NAME of the layout,
 * "param.NAME", "adam_m.NAME" and "adam_v.NAME" (F32, the tensor's shape); __metadata__:
 * format "itracr-meta/1", config (meta_config_to_json), step, seed and rng (the PRNG state as
 * four 16-digit hex words). Written atomically; resuming from a checkpoint continues
 * training bit-identically. */
#ifndef ITRACR_META_CHECKPOINT_H
#define ITRACR_META_CHECKPOINT_H
#include <stddef.h>

#include "meta/meta_model.h"

int meta_checkpoint_save(const MetaModel *m, const char *path, char *err, size_t errcap);
/* Initialises *m (max_batch as for meta_model_init) from a checkpoint. Every tensor must be
 * present with dtype F32 and the shape the config implies, and nothing else may be there.
 * Returns 0, or non-zero with a message naming the path and the problem (m is then empty). */
int meta_checkpoint_load(MetaModel *m, const char *path, int max_batch, char *err, size_t errcap);

#endif
