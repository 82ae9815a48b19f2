/* Training samples generated on the fly (`itracr train --stream`): no dataset on disk, no
 * epoch repeats, memory independent of the run's length.
 *
 * The sample at global position g (g = step * batch + b) is a function of (seed, g) only:
 * candidate seeds gen_sample_seed(base_g, j), j = 0, 1, ..., with base_g =
 * gen_sample_seed(seed ^ TS_SEED_SALT, g), go through the generator's own per-sample path
 * (acc_sample + acc_finish: sample, accept, compile, weight tokens with the run's
 * WtOptions), and the first one that passes is the sample. A candidate passes when it is
 * accepted, its program is not a classic program (gd_classic_hashes of the exclude folder),
 * its program hash falls in the kept split under the rule of `itracr gen` (gd_pick_split,
 * train=0.96,val=0.02,test=0.02) and it has at most max_prefix weight tokens. So the
 * held-out test programs of ANY generated dataset (same split rule) are never trained on,
 * and a resumed run regenerates exactly the batches an uninterrupted one would have seen.
 *
 * Frequency thinning (optional, train_stream_set_pool): `itracr gen` de-duplicates, so in a
 * dataset drawn from N seeds a program the sampler draws with probability p appears about
 * min(1, pN) times, while a raw stream repeats it pN times (a third of raw draws repeat a
 * frequent small program). To train on the datasets' distribution, the stream draws a pool
 * of M programs (acc_sample only, seeds from (seed, TS_POOL_SALT)) and keeps a candidate
 * whose program occurs c > 1 times in the pool with probability 1 / c, which is min(1,
 * 1/(pN)) for N = M. The pool is a function of (seed, M), so determinism is kept.
 *
 * Class weights (optional, default all 1): a candidate whose program belongs to a class
 * (TS_CLASS_*) passes only with probability w / w_max, w the largest weight of its classes
 * (1 when none) and w_max the largest weight given, the coin drawn from the candidate's
 * seed. That up-weights rare classes relative to the rest without changing determinism. */
#ifndef ITRACR_META_TRAIN_STREAM_H
#define ITRACR_META_TRAIN_STREAM_H
#include <stddef.h>
#include <stdint.h>

#include "dataset/accept.h"
#include "dataset/gen_driver.h"
#include "meta/train_data.h"

#define TS_SEED_SALT 0x73747265616d31ULL /* "stream1": stream seeds never equal gen's */
#define TS_POOL_SALT 0x706f6f6c31ULL   /* "pool1" */
#define TS_MAX_CLASSICS 256

/* Program classes that can be up-weighted. */
enum {
    TS_CLASS_LINSEQMAP,  /* some row is a LinearSequenceMap */
    TS_CLASS_ONE_ROW,    /* a single operation */
    TS_CLASS_NUM_MAP,    /* some row is a numerical Map */
    TS_CLASS_MONO_MAP,   /* some row is a Map by an injective integer lambda (add1, add2, sub1,
                          * sub2, mul2, neg, rsub4, sq): a relabelling of its input's values,
                          * the weakest rows of the shipped model (4-46% row accuracy) */
    TS_CLASS_COUNT
};
const char *ts_class_name(int c); /* "linseqmap", "one_row", "num_map", "mono_map" */

typedef struct TrainStream {
    GdConfig gd;              /* generator settings (gen, acc with the run's WtOptions) and splits */
    uint64_t seed;
    int split;                /* index in gd.split_name of the split kept */
    int max_prefix;           /* weight tokens per sample at most */
    double class_w[TS_CLASS_COUNT]; /* >= 1; 1 = no up-weighting */
    uint64_t classic[TS_MAX_CLASSICS][2];
    int n_classic;
    uint64_t *pool_key;       /* [pool_cap, 2] program hashes of the pool ({0,0} empty) */
    uint32_t *pool_cnt;       /* [pool_cap] their counts */
    size_t pool_cap;
    long pool_m;              /* pool draws (0: no frequency thinning) */
    GenSampler *samp;         /* one per stream: a stream is used by one thread at a time */
    AccResult res;
    /* counters since init (candidates tried, and why they were passed over) */
    long tried, failed, wrong_split, classic_hits, too_long, thinned, freq_thinned;
} TrainStream;

/* gen: the generator settings (NULL: gen_config_default); wt: the weight-token options;
 * split: "train", "val" or "test"; exclude_dir: classic programs to exclude (NULL: none).
 * Returns 0, or non-zero with a message. */
int train_stream_init(TrainStream *s, const GenConfig *gen, const WtOptions *wt, uint64_t seed,
                      const char *split, const char *exclude_dir, int max_prefix, char *err, size_t errcap);
void train_stream_free(TrainStream *s);
/* Sets the weight of class c (>= 1). */
int train_stream_set_weight(TrainStream *s, int c, double w, char *err, size_t errcap);
/* Draws the frequency pool of m programs (m = 0: thinning off). Returns 0, or non-zero with
 * a message (out of memory). */
int train_stream_set_pool(TrainStream *s, long m, char *err, size_t errcap);
/* How often the pool holds the program of hash h (0 when not in the pool). */
uint32_t train_stream_pool_count(const TrainStream *s, const uint64_t h[2]);
/* Appends the samples at positions g0 .. g0 + n - 1 to d (in order). Returns 0, or non-zero
 * with a message (no candidate passed in 1,000,000 tries, out of memory). */
int train_stream_fill(TrainStream *s, long g0, int n, TrainData *d, char *err, size_t errcap);
/* Classes of a program-token table: bit c set for class c. */
unsigned ts_classes(const int16_t *table);

#endif
