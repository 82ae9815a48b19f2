/* The training set as the trainer sees it: program-token tables and weight tokens of N
 * samples, in memory. Filled from dataset shards (data/shard.h) or sample by sample (tests,
 * generated on the fly). */
#ifndef ITRACR_META_TRAIN_DATA_H
#define ITRACR_META_TRAIN_DATA_H
#include <stddef.h>
#include <stdint.h>

#include "dataset/weight_tokens.h"
#include "gen/program_tokens.h"

typedef struct TrainData {
    int n;              /* samples */
    int16_t *prog;      /* [n, PT_ROWS * PT_COLS] */
    int64_t *off;       /* [n + 1] sample i owns weight tokens off[i] .. off[i+1]-1 */
    float *payload;     /* [total, WT_WIDTH] */
    int16_t *ids;       /* [total, WT_N_IDS] */
    int64_t total;
    int cap;
    int64_t tcap;
    int max_p;          /* largest weight-token count of a sample */
    long skipped;       /* samples refused by add (too many weight tokens, bad table) */
    int have_wt;        /* wt below came from a shard's metadata */
    WtOptions wt;       /* weight-token scheme/norm of the shards */
} TrainData;

void train_data_init(TrainData *d);
void train_data_free(TrainData *d);
/* Empties d and keeps its buffers (for reuse). */
void train_data_clear(TrainData *d);
/* Appends one sample (table [PT_ROWS*PT_COLS], P weight tokens payload [P,WT_WIDTH], ids
 * [P,WT_N_IDS]). Samples with P > max_p (when max_p > 0) or P == 0 are counted in skipped and
 * not added. Returns 0, or -1 on OOM. */
int train_data_add(TrainData *d, const int16_t *table, const float *payload, const int16_t *ids,
                   int P, int max_p);
/* Appends every sample of a shard file (validated by shard_read_file). */
int train_data_load_shard(TrainData *d, const char *path, int max_p, char *err, size_t errcap);
/* Loads split ("train", "val", "test") of a dataset directory: every *.safetensors file
 * under DIR/split/, or else DIR/split*.safetensors, in name order. Returns 0, or non-zero
 * with a message (no shard found, a damaged shard). */
int train_data_load_split(TrainData *d, const char *dir, const char *split, int max_p, char *err,
                          size_t errcap);

#endif
