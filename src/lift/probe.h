/* Decompiling from activations ("probe"): read the program a model computes from what its
 * heads and hidden units do on inputs, not from the layout of its weights.
 *
 * lift (lift.h) needs Tracr's layout, or a rotation of it. A compressed model (a learned
 * projection of the residual stream to fewer dimensions, transform.h) has neither, but its
 * blocks still compute the program's operations approximately: each head attends where the
 * Select's predicate holds and writes a vector that depends on the aggregated value, each
 * hidden unit's activation depends on the SOps its Map or SequenceMap reads. probe runs the
 * model on many inputs and tracks every SOp as a labelling of the positions (docs/probe.md):
 *   - tokens and indices are known;
 *   - a head's selection (keys whose weight is at least half the row's largest) is explained
 *     by the pair of known SOps (keys, queries) whose values determine it: its predicate is
 *     the table of that function; the head's write is explained by the known SOp whose value
 *     at the selected keys it copies (a categorical Aggregate), or it counts the selected keys
 *     when BOS is always among them (SelectorWidth);
 *   - each hidden unit's activation is explained by the known SOp (or pair) whose values
 *     determine it; units with the same explanation form one Map (SequenceMap), whose output
 *     values are the clusters of the units' summed write;
 *   - the output is a table of the SOp whose values determine the model's decoded outputs.
 * The program is written with table lambdas (named where a library lambda agrees, as lift
 * does), compiled with the model's settings and checked against the model's own outputs
 * (transform.h's tf_compare: categorical positions where the model has a clear winner).
 * Only the given model is used: its weights and its forward pass. Numerical SOps are not
 * read yet (refused with the block). */
#ifndef ITRACR_LIFT_PROBE_H
#define ITRACR_LIFT_PROBE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler/model.h"

#define PROBE_MAX_INPUTS 4096

typedef struct ProbeOptions {
    int max_inputs;     /* inputs whose activations are read (0: PROBE_MAX_INPUTS) */
    long check_inputs;  /* inputs of the final comparison (0: 20000; every input when fewer) */
    uint64_t seed;      /* the input samples */
    bool name_functions; /* library names where a lambda agrees with a table (default on) */
    int variants;        /* threshold variants tried (0: all; docs/probe.md) */
    /* A model compared with m's outputs exactly as probe's program is (NULL: none). An
     * evaluation passes the true program's model: when even it does not reproduce a
     * compressed or distilled model, no program can, and "verified" has that ceiling. */
    const CompiledModel *reference;
} ProbeOptions;

void probe_options_default(ProbeOptions *o);

typedef struct ProbeResult {
    char *program;         /* .rasp text (malloc'ed) */
    int n_sops;            /* SOps in the program (tokens/indices excluded) */
    bool verified;         /* every compared output position equals the model's */
    long n_inputs, n_inputs_match, n_positions, n_positions_match;
    bool exhaustive;       /* the comparison ran every input up to max_seq_len */
    char verdict[512];
    CompiledModel *model;  /* the program compiled with the model's settings (owned) */
    int variant;           /* the threshold variant that gave it (0: the default) */
    int reference_verified; /* o->reference reproduces m's outputs: 1, 0, or -1 (no
                              * reference, or its comparison failed); set on refusals too */
} ProbeResult;

/* Reads m's program from its activations. Returns 0 with r filled (r->verified says whether
 * the program reproduces m's outputs), or 1 with the reason in err: the first block that no
 * known SOp explains, or a program that does not compile (r->reference_verified is the only
 * field then set). */
int probe_model(const CompiledModel *m, const ProbeOptions *o, ProbeResult *r, char *err,
                size_t errcap);
void probe_result_free(ProbeResult *r);

#endif
