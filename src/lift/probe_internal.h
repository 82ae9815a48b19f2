/* probe's activation store (probe_acts.c) and its analysis (probe.c). */
#ifndef ITRACR_LIFT_PROBE_INTERNAL_H
#define ITRACR_LIFT_PROBE_INTERNAL_H
#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>
#include <stdlib.h>

#include "compiler/model.h"
#include "lift/lift_internal.h"

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
 * max_inputs seeded random ones (lengths uniform); a numerical output as its number. */
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


/* ---- the reading (probe.c, probe_explain.c, probe_heads.c, probe_mlp.c) ------------------ */
#define MAX_FEATS 96
/* A selection key's weight counts as selected from this share of its row's largest weight. */
#define SEL_SHARE 0.5
/* Explanations are judged by the share of a block's variance left within the groups of a
 * feature's labels. Up to MAX_UV one feature explains a hidden unit (a SequenceMap's unit
 * leaves most of its variance to either input alone); beyond it a pair is preferred. No block
 * is refused for a poor explanation: compressed and distilled models leave much interference,
 * the best explanation is often still the right one, and the final check judges the program. */
#define MAX_UV 0.3
/* ... and the share above which a pair of features is tried as well. */
#define PAIR_FROM_UV 0.1
/* Pairs are tried among this many of the best single features. */
#define PAIR_TOP 10
/* Hidden units whose write is below this share of the layer's largest are not read. */
#define MIN_UNIT_SHARE 0.01
/* A head whose value vectors at the positions carry less than this share of BOS's energy
 * takes its value from BOS alone: a selector width. */
#define SW_VALUE_SHARE 0.3

typedef struct PFeat {
    LsKind kind;
    int n;              /* labels 0..n-1 */
    int *lab;           /* [P] label at each position, -1: none */
    int a, b;           /* MAP: a; SEQMAP: a, b; AGG: a (the copied feature) */
    int sk, sq;         /* AGG, SW: the selector's keys and queries */
    unsigned char *sel; /* [n(sk) * n(sq)] key-major predicate table */
    int *tab;           /* MAP [n(a)], SEQMAP [n(a) * n(b)]: output label */
    int stage;          /* the residual stage from which it can be read */
    bool out;           /* the output table: labels are the model's output columns */
    bool numerical;     /* a numerical SOp (probe_numeric.c): no labels, one number */
    double *ftab;       /* numerical MAP [n(a)]: the number per input label */
    double ca, cb;      /* LINSEQ: ca a + cb b */
    double *nums;       /* numerical with labels [n]: the number of each label, ascending */
} PFeat;

/* The thresholds above, as one variant of the reading (probe_model tries several). */
typedef struct ProbeParams {
    double sel_share;    /* SEL_SHARE */
    double max_uv;       /* MAX_UV */
    double pair_from_uv; /* PAIR_FROM_UV */
    double tau_noise;    /* a write's clusters merge within this many times its noise */
    double cell_cost;    /* a selector table's cost per cell, per (query, key) pair */
    bool tokens_first;   /* selectors that read tokens pay no cell cost (a retry, probe.c) */
} ProbeParams;

typedef struct Probe {
    const CompiledModel *m;
    ProbeParams par;
    PAct A;
    PRef ref; /* the given model's outputs on the check's inputs */
    PFeat f[MAX_FEATS];
    int nf;
    char *err;
    size_t errcap;
} Probe;

/* ITRACR_PROBE_DEBUG=1: each block's explanation on stderr (docs/probe.md). */
static inline bool pf_debug(void) { return getenv("ITRACR_PROBE_DEBUG") != NULL; }

/* A new feature of kind k with n labels, readable from residual stage `stage`: its index, or
 * -1 when MAX_FEATS are in use. */
int pf_new(Probe *p, LsKind k, int n, int stage);
void pf_free_all(Probe *p);
/* Share of the variance of x [P, dim] left within the label groups of feature a (and b). */
double pf_unexplained(const Probe *p, const double *x, int dim, int a, int b, double *sums,
                      double *cnt);
/* The feature (or pair) readable at stage st that best explains x [P, dim]; its share. */
double pf_explain(const Probe *p, const double *x, int dim, int st, int *a, int *b, bool single);
/* The clusters of w [P, dim]'s mean per label of a (and b) into tab; their number. */
int pf_cluster_write(const Probe *p, const double *w, int dim, int a, int b, int *tab);
/* Reads head h / the MLP of layer l into features (w [P, D] scratch). 0, or 1 with p->err. */
int pf_read_head(Probe *p, int l, int h, double *w);
int pf_read_mlp(Probe *p, int l, double *w);
/* The model's numerical output (probe_numeric.c): a numerical Map of a feature or a numerical
 * Aggregate of a 0/1 Map of a head's copied value, whichever fits the output numbers better.
 * Its feature's index, or -1 when there is none (or no room for it). */
int pf_read_numeric_output(Probe *p);
/* After aggregate head fi was read (vv [P, D] its value vectors): when the head averages a
 * 0/1 value (some values write nothing, and some queries select keys of both kinds, which a
 * categorical aggregate cannot), adds the mean as a numerical feature whose labels are its
 * numbers, with the 0/1 Map it averages. The categorical reading stays beside it. */
void pf_numeric_mean(Probe *p, int fi, const double *vv);

#endif
