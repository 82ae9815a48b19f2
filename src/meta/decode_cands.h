/* Candidate programs for one compiled model, best first by the meta-model's own score: the
 * greedy decode, then alternatives that change one token of an earlier candidate to one of
 * the model's top-k tokens at that position (under the decoding constraint, constrain.h).
 *
 * Orders (docs/meta-model.md, "Search"):
 *   MC_REDECODE  best-first over "change position t of candidate c to its j-th alternative,
 *                then decode the rest greedily" (the suffix is re-decoded so the program stays
 *                consistent with the change). Each candidate's children change only positions
 *                after its own forced change, so no sequence is produced twice (Lawler's
 *                partition of the k-best problem); the priority of a child is its parent's
 *                score with the changed token's log-probability swapped in.
 *   MC_KEEP      the same tree, but a child keeps its parent's suffix when that suffix is still
 *                valid (no model run: the probe's "one-cell change"), re-decoding only when it
 *                is not; scores and alternatives are the parent's.
 *   MC_SAMPLE    the greedy decode, then seeded ancestral samples at temperature temp,
 *                duplicates skipped.
 * Scores are sums of token log-probabilities under the model's full softmax. Deterministic:
 * ties go to the earlier candidate, the earlier position, the better alternative; samples
 * come from the seed only. */
#ifndef ITRACR_META_DECODE_CANDS_H
#define ITRACR_META_DECODE_CANDS_H
#include <stddef.h>
#include <stdint.h>

#include "meta/meta_model.h"

typedef enum { MC_REDECODE = 0, MC_KEEP, MC_SAMPLE } MetaCandMode;

typedef struct MetaCandOptions {
    MetaCandMode mode;  /* MC_REDECODE */
    int n_alt;          /* alternatives per position (top-k after the taken token): 3 */
    uint64_t seed;      /* MC_SAMPLE: 1 */
    float temp;         /* MC_SAMPLE temperature: 1 */
} MetaCandOptions;

void meta_cand_options_default(MetaCandOptions *o);
/* "redecode" / "keep" / "sample" -> mode; 0, or -1 when unknown. */
int meta_cand_mode_parse(const char *s, MetaCandMode *mode);
const char *meta_cand_mode_name(MetaCandMode mode);

typedef struct MetaCands MetaCands;

/* payload [P, WT_WIDTH], ids [P, WT_N_IDS] as for meta_decode_table; m->max_batch >= 1 and m
 * must outlive the generator. NULL with a message on a format mismatch, a too long prefix,
 * or OOM. */
MetaCands *meta_cands_new(MetaModel *m, const float *payload, const int16_t *ids, int P,
                          const MetaCandOptions *o, char *err, size_t errcap);
void meta_cands_free(MetaCands *c);

/* The next candidate: table [PT_ROWS * PT_COLS] and its score. Returns 1, 0 when no
 * candidate is left, -1 on an error (message). The first one is the greedy decode. */
int meta_cands_next(MetaCands *c, int16_t *table, double *score, char *err, size_t errcap);

/* Meta-model positions run so far (the decoding cost). */
long meta_cands_model_steps(const MetaCands *c);

#endif
