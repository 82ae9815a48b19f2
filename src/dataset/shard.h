/* Dataset shards (docs/dataset.md): one safetensors file of N samples.
 *
 * Tensors (N samples, T weight tokens in all, F = WT_WIDTH, K = WT_N_IDS):
 *   program_tokens  I16 [N, PT_ROWS, PT_COLS]  canonical program tokens
 *   wt_payload      F32 [T, F]                 weight tokens of every sample, concatenated
 *   wt_ids          I16 [T, K]                 their ids (kind, layer, pos, sub)
 *   wt_offsets      I64 [N + 1]                sample i owns tokens offsets[i] .. offsets[i+1]-1
 *   sample_meta     I32 [N, ACC_META_COLS]     vocab size, max_seq_len, residual width, layers,
 *                                              ops, rows, MLP width, heads
 *   sample_index    I64 [N]                    the generator's sample index (its seed is
 *                                              gen_sample_seed(seed, index))
 *   model_hash      U64 [N, 2]                 model_hash128 of the compiled model
 *   sample_setting  I32 [N, GEN_SETTING_COLS]  only when the settings vary (ShardBuilder
 *                                              .settings): each sample's vocabulary,
 *                                              max_seq_len and causality (sampler.h), with
 *                                              "vocab_symbols" (JSON) in the metadata
 * __metadata__: "format" (SHARD_FORMAT), "n_samples", "program_vocab" (JSON: sizes and token
 * names per column), "weight_tokens" (JSON: scheme, norm, width, id names and vocab sizes,
 * kind names), "meta_columns" (JSON list), "checksum" (XXH64, seed 0, of the tensors' data
 * bytes concatenated in tensor-name byte order, 16 hex digits), plus what the writer's caller
 * adds ("generator", "seed", "split", "shard").
 *
 * The reader checks the format version, the checksum, every tensor's dtype and shape, the
 * offsets (0, non-decreasing, ending at T) and the id ranges, and fails with a clear message. */
#ifndef ITRACR_DATA_SHARD_H
#define ITRACR_DATA_SHARD_H
#include <stddef.h>
#include <stdint.h>

#include "dataset/accept.h"
#include "io/safetensors.h"

#define SHARD_FORMAT "itracr-shard/1"

/* Accumulates accepted samples for one shard. */
typedef struct ShardBuilder {
    int n, cap;
    int16_t *prog;    /* [cap, PT_ROWS * PT_COLS] */
    int32_t *meta;    /* [cap, ACC_META_COLS] */
    int64_t *index;   /* [cap] */
    uint64_t *mhash;  /* [cap, 2] */
    int64_t *offsets; /* [cap + 1] */
    float *payload;   /* [tcap, WT_WIDTH] */
    int16_t *ids;     /* [tcap, WT_N_IDS] */
    int64_t total, tcap;
    int32_t *setting; /* [cap, GEN_SETTING_COLS] */
    WtOptions wt;     /* recorded in the metadata (default: wt_options_default) */
    bool settings;    /* write sample_setting (otherwise a shard is what it was before) */
    bool tables;      /* the program vocabulary in the metadata lists "table" and the
                        * value tokens (samples may hold tables) */
} ShardBuilder;

void shard_builder_init(ShardBuilder *b);
void shard_builder_free(ShardBuilder *b);
void shard_builder_clear(ShardBuilder *b); /* keeps the buffers */
/* Appends an accepted sample (r->reason == ACC_OK). Returns 0, -1 on OOM, or -2 when b->settings
 * is set and the sample's setting has no integer form (gen_setting_to_row). */
int shard_builder_add(ShardBuilder *b, const AccResult *r, int64_t index);

/* Writes b atomically to path with the extra metadata keys extra[2*i] = extra[2*i+1]
 * (n_extra pairs). Returns 0, or non-zero with a message. */
int shard_write(const ShardBuilder *b, const char *path, const char *const *extra, int n_extra,
                char *err, size_t errcap);
/* The same bytes in a malloc'ed buffer. */
int shard_serialize(const ShardBuilder *b, const char *const *extra, int n_extra,
                    unsigned char **out, size_t *out_len, char *err, size_t errcap);

/* A validated shard; pointers go into f's buffer. */
typedef struct Shard {
    StFile f;
    int n;
    int64_t total;
    const int16_t *prog;    /* [n, PT_ROWS * PT_COLS] */
    const float *payload;   /* [total, WT_WIDTH] */
    const int16_t *ids;     /* [total, WT_N_IDS] */
    const int64_t *offsets; /* [n + 1] */
    const int32_t *meta;    /* [n, ACC_META_COLS] */
    const int64_t *index;   /* [n] */
    const uint64_t *mhash;  /* [n, 2] */
    const int32_t *setting; /* [n, GEN_SETTING_COLS], NULL when the shard has none (then
                              * every sample has the generator's fixed setting) */
} Shard;

int shard_read_file(const char *path, Shard *s, char *err, size_t errcap);
int shard_read_buffer(const unsigned char *data, size_t len, const char *label, Shard *s, char *err,
                      size_t errcap);
void shard_free(Shard *s);

/* XXH64 of the tensors' data in name order (the "checksum" metadata). */
uint64_t shard_checksum(const StTensor *const *tensors, int n);

#endif
