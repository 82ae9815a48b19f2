/* Decompiling checked against the weights (docs/evaluation.md, "Search and verification").
 *
 * Given a compiled model -- the only thing the search sees, with its weight tokens and its
 * forward pass -- and a meta-model, draw up to K candidate programs from the meta-model
 * (meta/meta.h, best first by its own score) and check each:
 *   weights   the candidate compiles (the given model's vocabulary, max_seq_len, causal flag,
 *             exact mode and MLP exactness) to the same model up to a permutation of residual
 *             directions: the same config and the same model_hash128 (data/model_hash.h).
 *   function  otherwise, the candidate's compiled model gives the given model's output on
 *             every input up to max_seq_len over its vocabulary (eval/equiv.h with no true
 *             program: every position compared; a seeded sample of n_random inputs when there
 *             are more than max_exhaustive). Only the given model's forward pass is used, so
 *             the check works on weights that are not Tracr's (rotated, trained, ...).
 * The candidates decode under the constraint on the given model's vocabulary and length
 * (meta_cands_new's PcContext), so each one validates and compiles there.
 * Phase 1 runs the cheap weights check on each candidate as it is drawn and stops at the
 * first match; phase 2 (when none matched) runs the function check on the drawn candidates in
 * score order and stops at the first match; otherwise the best-scoring candidate that compiles
 * (else the best-scoring one) is returned with the number of inputs it disagrees on.
 *
 * Every compile is guarded: a candidate whose inferred value sets would make it much larger
 * than the given model (residual width, SequenceMap products) is not compiled, and the
 * compiler's own caps apply. Deterministic for a given seed as long as the time budget is
 * not what stops it (the budget is wall clock; phase 1 stops at 3/4 of it so that phase 2 has
 * the rest). */
#ifndef ITRACR_EVAL_SEARCH_H
#define ITRACR_EVAL_SEARCH_H
#include <stdbool.h>
#include <stdint.h>

#include "compiler/model.h"
#include "eval/equiv.h"
#include "gen/program_tokens.h"
#include "meta/meta.h"

typedef enum { SEARCH_NONE = 0, SEARCH_FUNCTION, SEARCH_WEIGHTS } SearchVerdict;

/* ---- repair (search_repair.c) -----------------------------------------------------------
 * When the weights are Tracr's, the given model's prefix digests (model_prefix_hashes) say in
 * which sublayer a candidate first goes wrong; everything before it is right. The repair is a
 * beam search over single-row edits: from the best candidates (most leading sublayers right),
 * each row whose block lies at or after the first wrong sublayer is replaced by every row the
 * program tokens allow there (every operation, argument, encoding, predicate and library
 * function; smallest edits first), each result canonicalised, compiled and digested, and an
 * edit is kept only when the first wrong sublayer moves later, or the compiled model is
 * closer in structure (heads, hidden units and residual width per sublayer). When no row
 * edit moves on, rows are added (a new output, a new argument in front of a row); then
 * tables are edited cell by cell (a function as its table), kept when the compiled model
 * agrees with the given one on more output positions of a seeded sample of inputs. It stops at the first program
 * whose compiled model has the given model's weights. Deterministic: the limits are counts
 * unless budget_ms is set. */
typedef struct RepairOptions {
    int max_steps;     /* edits applied one after another at most (16; 0: no repair) */
    int beam;          /* programs kept per step (3) */
    long max_compiles; /* compiles at most, the seeds included (20000; 0: no limit) */
    double budget_ms;  /* wall-clock limit (0: none) */
} RepairOptions;
void repair_options_default(RepairOptions *o);

typedef struct RepairResult {
    bool found;            /* table holds a program with the given weights */
    int steps;             /* edit steps run from the last start (on success: edits from a seed) */
    int restarts;          /* starts from the next best seeds after a beam ran out */
    long tried, compiled;  /* distinct programs built, of which compiled */
    long fn_scored;        /* of which scored on the function sample (table edits) */
    int best_progress;     /* most leading sublayers any program tried got right */
    int sublayers;         /* the given model's sublayers (best_progress out of them) */
    bool out_of_budget;    /* a limit stopped it */
    double ms;             /* wall time */
    int16_t table[PT_ROWS * PT_COLS];
} RepairResult;
const char *search_verdict_name(SearchVerdict v); /* "none", "function", "weights" */

typedef struct SearchOptions {
    int max_candidates;    /* K: candidates drawn at most (64); 1: the greedy decode only */
    double budget_ms;      /* wall-clock budget of the whole search (0: none) */
    MetaCandOptions cands; /* order of the candidates (and the seed of sampling) */
    EquivOptions equiv;    /* the function check's inputs (its seed too) */
    bool function_check;   /* phase 2 and the disagreement count (default on) */
    bool weights_check;    /* phase 1 (default on); off when the given model's weights are not
                            * its function (equiv.truth_forward set: an adapted encoder) */
    /* With the weights check: a candidate whose compiled model differs from the given one
     * first in sublayer s (model_prefix_hashes) has an error in a row of sublayers <= s, so
     * its children that change only rows after sublayer s + 1 leave the queue
     * (meta_cands_limit_last; default on). */
    bool prune;
    /* With the weights check, when no drawn candidate matches the weights: the repair below
     * starts from the drawn candidates (max_steps 0: off). */
    RepairOptions repair;
} SearchOptions;

/* K 64, no budget, the default candidate order, the default repair, default equivalence inputs, seed s for both. */
void search_options_default(SearchOptions *o);
void search_options_seed(SearchOptions *o, uint64_t seed);

typedef struct SearchResult {
    int16_t table[PT_ROWS * PT_COLS]; /* the returned program */
    SearchVerdict verdict;
    int winner;                /* index of the returned candidate in draw order (0: greedy) */
    int tried;                 /* candidates drawn */
    int compiled;              /* of which compiled */
    int guarded;               /* of which were not compiled because they would be too large */
    int func_checked;          /* function checks run */
    int pruned;                /* queued candidates dropped by the prefix check (prune) */
    double score;              /* the returned candidate's log-probability */
    long n_disagree, n_inputs; /* verdict none: inputs it disagrees on, of n_inputs run */
    bool exhaustive;           /* the function check ran every input */
    bool out_of_budget;        /* the time budget stopped the search */
    long model_steps;          /* meta-model positions run */
    double ms;                 /* wall-clock time of the search */
    char detail[512];          /* none: the first differing input, or why nothing compiled */
    /* the drawn candidates alone, before any repair: their verdict and returned program */
    SearchVerdict search_verdict;
    int16_t search_table[PT_ROWS * PT_COLS];
    bool repair_ran;   /* the repair was tried (no drawn candidate matched the weights) */
    bool repaired;     /* the returned program is a repair (verdict weights) */
    RepairResult repair;
} SearchResult;

/* The search above on the given model and its weight tokens (payload [P, WT_WIDTH], ids
 * [P, WT_N_IDS]; normally wt_encode of given). mm->max_batch >= 1. Returns 0 with the result,
 * or non-zero with a message (a meta-model/format mismatch, a decoding error, OOM). */
int search_decompile(MetaModel *mm, const CompiledModel *given, const float *payload,
                     const int16_t *ids, int P, const SearchOptions *o, SearchResult *r, char *err,
                     size_t errcap);

/* ---- the checks, one candidate at a time ---------------------------------------------- */
typedef struct SearchGiven {
    const CompiledModel *m;
    uint64_t hash[2]; /* model_hash128 of m */
    uint64_t (*prefix)[2]; /* [n_prefix] model_prefix_hashes of m */
    int n_prefix;
    Value *vocab;     /* [n_vocab] m's input tokens (BOS and PAD left out) */
    int n_vocab;
} SearchGiven;

/* Prepares the given model (hash, vocabulary). Returns 0, or -1 with a message (OOM). */
int search_given_init(SearchGiven *g, const CompiledModel *m, char *err, size_t errcap);
void search_given_free(SearchGiven *g);
/* Where candidate table (compiled: c) first differs from the given model, as a limit for
 * meta_cands_limit_last (search.c); -1 when no sublayer differs. */
int search_error_limit(const SearchGiven *g, const CompiledModel *c, const int16_t *table);
/* The same from c's progress (search_progress). */
int search_error_limit_at(const SearchGiven *g, const CompiledModel *c, int progress,
                          const int16_t *table);
/* The number of leading sublayers of c whose prefix digests equal the given model's (0..the
 * smaller sublayer count); -1 on OOM. */
int search_progress(const SearchGiven *g, const CompiledModel *c);
/* The repair above from seeds[n_seeds, PT_ROWS * PT_COLS] (best first; ones that do not
 * decode are skipped). Returns 0 with res (res->found: res->table matches the weights), or -1
 * with a message (OOM). */
int search_repair(const SearchGiven *g, const int16_t *seeds, int n_seeds,
                  const RepairOptions *o, RepairResult *res, char *err, size_t errcap);

/* Compiles table for the given model (its vocab, max_seq_len, causal, exact, MLP exactness),
 * guarded. Returns 0 and *out, or 1 with the reason in why (does not decode, too large, does
 * not compile). */
int search_compile(const SearchGiven *g, const int16_t *table, CompiledModel **out, char *why,
                   size_t whycap);
/* The weights check: same config and the same canonical hash. */
bool search_same_weights(const SearchGiven *g, const CompiledModel *cand);
/* The function check: 0 with r (status EQUIVALENT or DIFFERENT), -1 with a message. */
int search_same_function(const SearchGiven *g, const CompiledModel *cand, const EquivOptions *eo,
                         EquivResult *r, char *err, size_t errcap);

#endif
