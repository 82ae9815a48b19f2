/* probe's activation store (probe_acts.c) and its analysis (probe.c). */
#ifndef ITRACR_LIFT_PROBE_INTERNAL_H
#define ITRACR_LIFT_PROBE_INTERNAL_H
#include <stdbool.h>
#include <stdint.h>

#include "compiler/model.h"

/* What the model does on n_in inputs. Positions are the inputs' non-BOS positions, input
 * after input: P of them. */
typedef struct PAct {
    int n_in, N, D, L, H, S, n_out; /* S = 1 + 2 L stages */
    int nv;                         /* real tokens (BOS and PAD left out) */
    int *vid;                       /* [nv] their token ids, in m->tokens order */
    int *len;                       /* [n_in] */
    int *off;                       /* [n_in] its first position */
    int P;
    int *tok;     /* [P] vocabulary index 0..nv-1 */
    int *tpos;    /* [P] 0-based position in its input */
    int *inp;     /* [P] input */
    float *resid; /* [S, n_in, N+1, D]: the stream after the embeddings and each sublayer */
    float *attn;  /* [L, H, n_in, N+1, N+1]: row = query (BOS row included), column = key */
    float *out;   /* [P, n_out] unembedded outputs */
} PAct;

/* Runs m on every input up to max_seq_len when there are at most max_inputs (and they fit the
 * store's memory cap), else on a seeded sample of random lengths and tokens. 0, or 1 with a
 * message. */
int probe_acts(const CompiledModel *m, int max_inputs, uint64_t seed, PAct *a, char *err,
               size_t errcap);
void probe_acts_free(PAct *a);

static inline const float *pa_resid(const PAct *a, int stage, int input) {
    return a->resid + (((size_t)stage * a->n_in + input) * (size_t)(a->N + 1)) * (size_t)a->D;
}
static inline const float *pa_attn(const PAct *a, int layer, int head, int input) {
    size_t T1 = (size_t)(a->N + 1);
    return a->attn + (((size_t)layer * a->H + head) * a->n_in + input) * T1 * T1;
}

/* The given model's outputs on the check's inputs, computed once for every variant's program
 * (probe_check.c): every input up to max_seq_len when there are at most max_inputs, else
 * max_inputs seeded random ones (lengths uniform). Categorical outputs only. */
typedef struct PRef {
    int N, n_in;
    bool exhaustive;
    int *len;   /* [n_in] */
    int *ids;   /* [n_in, N + 1] the given model's token ids, BOS first */
    Value *out; /* [n_in, N] its decoded value, VAL_NONE where it has no clear winner */
} PRef;

int probe_ref_init(const CompiledModel *m, const PAct *a, long max_inputs, uint64_t seed,
                   PRef *r, char *err, size_t errcap);
void probe_ref_free(PRef *r);

typedef struct PCompare {
    long n_inputs, n_inputs_match, n_positions, n_positions_match;
    char first[256]; /* the first differing input and position, "" if none */
} PCompare;

/* Runs cand on r's inputs and compares its decoded values where r has one. 0, or 1 with a
 * message. */
int probe_ref_compare(const PRef *r, const CompiledModel *given, const CompiledModel *cand,
                      PCompare *c, char *err, size_t errcap);

#endif
