/* Exact decompilation of Tracr-compiled models ("lift"): from the weights alone (no residual
 * labels, no meta-model) recover the RASP program, then prove it by recompiling.
 *
 * The weights of a Tracr model are a program written out in a fixed shape
 * (tracr-reference §2.4): one-hot token/position embeddings, categorical MLPs that are
 * lookup tables, discretising MLPs with thresholds at the midpoints of a known value set,
 * attention heads whose query-key form is a predicate table with a BOS column, and the
 * selector-width pair. lift reads each block back into its RASP operation, with every
 * function as a table over its input values; docs/lift.md describes the rules, including
 * the canonical names given to intermediate values that the weights do not identify.
 *
 * The proof: the printed program is parsed again, compiled with the model's settings, and
 * must give the same canonical model hash (data/model_hash.h: weights equal up to residual
 * and hidden-unit permutation and value renaming) and the same outputs on every input up
 * to max_seq_len (or on LIFT_MAX_INPUTS seeded random ones when there are more). A model
 * that does not have Tracr's shape is refused with the first block that does not fit. */
#ifndef ITRACR_LIFT_LIFT_H
#define ITRACR_LIFT_LIFT_H
#include <stdbool.h>
#include <stddef.h>

#include "compiler/model.h"

#define LIFT_MAX_INPUTS 256

typedef struct LiftOptions {
    bool name_functions; /* replace tables by named lambdas where one agrees (default on) */
    bool verify;         /* recompile and compare (default on) */
    int max_inputs;      /* forward-pass comparison budget (0: LIFT_MAX_INPUTS) */
    bool canon;          /* when the Tracr layout does not fit, canonicalise the basis of a
                            * rotated / permuted / rescaled model (lift/canon.h; default on) */
} LiftOptions;

void lift_options_default(LiftOptions *o);

typedef struct LiftResult {
    char *program;          /* the .rasp text (malloc'ed), NULL when refused */
    int n_sops;             /* lifted SOps (tokens/indices excluded) */
    int n_functions;        /* Map/SequenceMap functions and Select predicates */
    int n_named;            /* of those, printed by name rather than as a table */
    bool verified;          /* recompiled hash equal and all compared outputs equal */
    bool weights_equal;     /* every weight equal under the lifted residual correspondence */
    bool hash_equal;        /* canonical model hash equal (ties in its order can make it differ) */
    int n_inputs;           /* inputs compared by the forward pass */
    bool exhaustive;        /* every input up to max_seq_len was compared */
    int n_output_diffs;     /* output positions that differ */
    char first_diff[200];   /* the first of them, "" if none */
    char verdict[512];      /* one line for people */
    bool canonical;         /* lifted from the canonicalised basis (lift/canon.h): the outputs
                            * were compared with the given model's; weights_equal compares the
                            * recompiled model with the canonicalised one */
    unsigned canon_variant; /* the sign choice that fit (lift_canon's variant) */
} LiftResult;

/* Lifts m: Tracr's layout first, then (opt->canon) its canonicalised basis. Returns 0 with r filled (r->verified says whether the proof held), or 1 when the
 * model is refused, with the reason (naming the first block that does not fit) in err. */
int lift_model(const CompiledModel *m, const LiftOptions *opt, LiftResult *r, char *err,
               size_t errcap);
void lift_result_free(LiftResult *r);

#endif
