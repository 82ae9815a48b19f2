/* Craft blocks: the MLPs and attention heads Tracr builds for each RASP operation
 * (docs/tracr.md §2.4), as dense matrices on labelled spaces.
 *
 * Builders take spaces, value sets and callbacks rather than program nodes, so each can be
 * unit-tested against hand-computed weights. Everything is allocated in the caller's arena.
 * Every builder returns 0, or non-zero with a message in ctx->err (a user function that
 * fails where Tracr would crash, an output outside its space, mismatched spaces). */
#ifndef ITRACR_COMPILER_BLOCKS_H
#define ITRACR_COMPILER_BLOCKS_H
#include <stdbool.h>
#include <stddef.h>

#include "compiler/basis.h"
#include "rasp/pyexpr.h"
#include "rasp/value.h"
#include "util/arena.h"

typedef struct MlpBlock {
    Space in, hidden, out;
    double *w1; /* [in.n, hidden.n] */
    double *w2; /* [hidden.n, out.n] */
} MlpBlock;

typedef struct AttnBlock {
    Space q, k;  /* query-side and key-side spaces of the bilinear map */
    double *wqk; /* [q.n, k.n] */
    Space v, o;  /* value (input) and output spaces of the OV map */
    double *wov; /* [v.n, o.n] */
} AttnBlock;

/* A user function: f(args) -> out. PYERR_ARITH = Python ArithmeticError. */
typedef struct BlkFn {
    PyErr (*call)(void *ctx, const Value *args, Value *out, char *msg, size_t cap);
    void *ctx;
} BlkFn;
/* A selector predicate on (key, query). */
typedef struct BlkPred {
    PyErr (*call)(void *ctx, Value key, Value query, bool *out, char *msg, size_t cap);
    void *ctx;
} BlkPred;

/* Adapters for program lambdas and Select comparisons. */
BlkFn blk_fn_lambda(const Lambda *f);
/* Calls f(x, x) on one argument: the SequenceMap-of-one-node path. */
BlkFn blk_fn_lambda_diag(const Lambda *f);
/* pred is a Pred (rasp/program.h); lambda is used for PRED_LAMBDA. state must outlive the
 * BlkPred (two words). */
typedef struct BlkPredState {
    int pred;
    const Lambda *fn;
} BlkPredState;
BlkPred blk_pred_make(BlkPredState *state);

typedef struct BlkCtx {
    Arena *arena;
    Dir one, bos; /* ("one", None), ("tokens", compiler_bos) */
    double L;     /* mlp_exactness */
    char *err;
    size_t errcap;
    const char *where; /* node label for messages */
} BlkCtx;

/* §2.4.1: categorical -> categorical Map. in/out: the input/output node bases. */
int blk_map_cat(const BlkCtx *c, const Space *in, const char *out_name, const Space *out, BlkFn f,
                MlpBlock *m);
/* §2.4.2: categorical -> numerical Map; out_dir = (label, None). allow_negative (exact
 * mode only) adds a second hidden unit so that f < 0 survives the ReLU. */
int blk_map_cat_num(const BlkCtx *c, const Space *in, Dir out_dir, BlkFn f, bool allow_negative,
                    const char *hidden_name, MlpBlock *m);
/* §2.4.3: discretising MLP on numerical input x with the given input values. Categorical
 * output when out_space != NULL (directions (out_name, f(x))), numerical (out_dir) else. */
int blk_discretising(const BlkCtx *c, Dir x, const Value *in_values, size_t n_in, BlkFn f,
                     const char *hidden_name, const Space *out_space, Dir out_dir, MlpBlock *m);
/* §2.4.4: categorical SequenceMap of two different nodes. */
int blk_seqmap_cat(const BlkCtx *c, const Space *x1, const Space *x2, const char *out_name,
                   const Space *out, BlkFn f, const char *hidden_name, MlpBlock *m);
/* §2.4.5: numerical a*x + b*y (x and y may be the same direction). */
int blk_linseqmap(const BlkCtx *c, Dir x, Dir y, double a, double b, const char *hidden_name,
                  Dir out_dir, MlpBlock *m);
/* §2.4.6: categorical_attn for Aggregate: Q0/K0 the query/key node bases, vs the aggregated
 * node's basis, o the output basis (paired positionally with vs). */
int blk_attn_aggregate(const BlkCtx *c, const Space *q0, const Space *k0, BlkPred pred,
                       const Space *vs, const Space *o, AttnBlock *h);
/* §2.4.7: SelectorWidth head + discretising MLP + clean-BOS unit. label: the node label;
 * categorical output when out_space != NULL, else numerical on (label, None). The MLP's
 * hidden space includes ("_hidden_clean_bos_", None). attn_out_dir receives A. */
int blk_selector_width(const BlkCtx *c, const Space *q0, const Space *k0, BlkPred pred,
                       const char *label, int max_seq_len, const Space *out_space, AttnBlock *h,
                       MlpBlock *m, Dir *attn_out_dir);

/* out[out.n] = relu(in[in.n] W1) W2: used to check discretising MLPs at compile time. */
void blk_mlp_apply(const MlpBlock *m, const double *in, double *out);
/* f(x) = round(1/x - 1) with Python's rounding, the SelectorWidth output map. */
PyErr blk_sw_fn(void *ctx, const Value *args, Value *out, char *msg, size_t cap);

#endif
