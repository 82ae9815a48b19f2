/* The dataset generator behind `itracr gen`: samples programs, accepts them (accept.h),
 * de-duplicates, splits and writes shards.
 *
 * Determinism: sample i is made from gen_sample_seed(seed, i) alone. Worker threads
 * (OpenMP, `jobs` of them) fill a round of consecutive indices; one writer consumes the
 * rounds in index order -- de-duplication, split assignment, shard writing and every
 * counter happen there -- and stops at the index that completes n accepted samples. So the
 * files are the same bytes for any number of jobs. The writer consumes round r while the
 * workers compute round r + 1 (one of the threads writes first, then joins the loop), so
 * shard writing does not stall the workers.
 *
 * De-duplication (exact, global over all splits): a sample is dropped when its canonical
 * program tokens equal those of a classic program (exclude_dir/\*.rasp that have a token
 * form), or of an earlier kept sample (128-bit hash of the table), or when its compiled
 * model has the model_hash128 of an earlier kept sample. The fixed rule: the sample with
 * the lowest index is kept. The split of a kept sample is a function of its program hash.
 * Workers skip compiling a program the writer had seen before the previous round (rounds
 * of 512 indices, whatever the jobs), which only changes the reason a duplicate is counted
 * under.
 *
 * Output: OUT/<split>/shard-NNNNNN.safetensors (shard.h) and OUT/manifest.json. */
#ifndef ITRACR_DATA_GEN_DRIVER_H
#define ITRACR_DATA_GEN_DRIVER_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dataset/accept.h"
#include "gen/sampler.h"

#define GD_MAX_SPLITS 4

typedef struct GdConfig {
    GenConfig gen;
    AccSettings acc;
    long n; /* accepted samples to produce */
    uint64_t seed;
    int jobs;
    int shard_size; /* samples per shard (default 10000) */
    int n_splits;
    char split_name[GD_MAX_SPLITS][16];
    double split_frac[GD_MAX_SPLITS]; /* sum 1 */
    const char *out_dir;
    const char *exclude_dir; /* classic programs to exclude; NULL for none */
    bool progress;           /* progress line on stderr */
    long max_seeds;          /* give up after this many indices (0: 1000 * n + 100000) */
} GdConfig;

void gd_config_default(GdConfig *c); /* train=0.96, val=0.02, test=0.02; jobs 1; seed 1 */
/* Parses "train=0.96,val=0.02,test=0.02". Returns 0, or non-zero with a message. */
int gd_parse_splits(GdConfig *c, const char *text, char *err, size_t errcap);

typedef struct GdStats {
    long accepted, seeds;
    long rejected[ACC_R_COUNT];
    long sampler_rejects[GEN_R_COUNT];
    long dup_canonical, dup_model, classic;
    long per_split[GD_MAX_SPLITS];
    long shards;
    long const_op;     /* accepted samples with an operation that never varies */
    long wt_tokens;    /* weight tokens written */
    long tf_attempted; /* samples the transform ran on (AccSettings.transform) */
    double tf_seconds; /* their transform time, summed over the worker threads */
    int classic_total, classic_expressible;
    double seconds;
} GdStats;

/* The split of a kept sample: a function of its program hash only (the high 53 bits of
 * h[1] as a uniform number against the cumulative fractions), so a program falls in the
 * same split whatever the seed that drew it. Returns an index into c->split_name. */
int gd_pick_split(const GdConfig *c, const uint64_t h[2]);
/* acc_tokens_hash of every classic program dir/\*.rasp that has a token form, in name order:
 * at most cap into out; *total counts the .rasp files read. Returns how many were stored, or
 * -1 when dir cannot be opened. */
int gd_classic_hashes(const char *dir, uint64_t (*out)[2], int cap, int *total);
/* What makes a run's output: seed, n, shard size and the generator settings, as one line of
 * JSON (malloc'ed). `gen --resume` finishes a killed run only when this is unchanged. */
char *gd_run_identity(const GdConfig *c);

/* Runs the generator. Returns 0, or non-zero with a message. */
int gd_run(const GdConfig *c, GdStats *st, char *err, size_t errcap);
void gd_print_summary(FILE *f, const GdConfig *c, const GdStats *st);

#endif
