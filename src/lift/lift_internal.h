/* The lifter's intermediate form: the SOps read back from the weights, in layer order. */
#ifndef ITRACR_LIFT_INTERNAL_H
#define ITRACR_LIFT_INTERNAL_H
#include <stdbool.h>

#include "compiler/model.h"
#include "lift/lift.h"
#include "util/arena.h"

typedef enum { LS_TOKENS, LS_INDICES, LS_MAP, LS_SEQMAP, LS_LINSEQ, LS_AGG, LS_SW } LsKind;

typedef struct LSel {
    int keys, queries;  /* SOp indices */
    unsigned char *tab; /* [n_keys * n_queries], key-major: tab[k * nq + q] */
} LSel;

typedef struct LSop {
    LsKind kind;
    bool numerical;
    int n;     /* categorical: number of values (= dims); numerical: 1 */
    int *dims; /* [n] residual dims, ascending (= value order) */
    int a, b;  /* inputs (Map: a; SequenceMap/LinearSequenceMap: a, b; Aggregate: a) */
    LSel sel;  /* Aggregate, SelectorWidth */
    /* Map with categorical input: out index per input value (-1: None), or the number. */
    int *tab;               /* cat->cat [n_a]; SequenceMap [n_a * n_b] (fst-major) */
    unsigned char *tabfree; /* SequenceMap(f, x, x): [n_a * n_a] entries the weights leave free */
    double *ftab;           /* cat->num [n_a] */
    /* Map with numerical input (discretising MLP): regions of the input value set vs. */
    int n_vs;
    double *vs;    /* [n_vs] input values, ascending */
    int *rtab;     /* num->cat [n_vs] output index */
    double *rftab; /* num->num [n_vs] output number */
    double ca, cb; /* LinearSequenceMap */
    /* numerical value set (numerical SOps), ascending, distinct */
    int n_num;
    double *num;
    /* categorical values, assigned once the whole model is read */
    int cls;     /* union-find parent over SOps with the same values */
    Value *vals; /* [n] */
    bool known;  /* vals identified (vocab, indices, widths, outputs) */
    int layer;   /* transformer layer it was read from (-1: embedding) */
    int sw_dim;  /* selector width: the direction its head writes BOS weight to */
    bool used;   /* read by a later block */
    /* naming (lift_emit.c): the lambda body that agrees with the table, or NULL */
    const PyExpr *named;
    int pred;                 /* Select: a Pred when a comparison agrees, else -1 */
    const PyExpr *pred_named; /* Select: a lambda body that agrees, or NULL */
} LSop;

typedef struct Lift {
    const CompiledModel *m;
    Arena a;
    int D, N;
    int one, bos, pad; /* residual dims (-1 when absent) */
    int *dim_sop;      /* [D] SOp writing the dim, -1 */
    int *dim_sw;       /* [D] pending selector-width head whose BOS output is this dim, -1 */
    LSop *s;
    int n, cap;
    LSel *pending; /* selector-width heads waiting for their MLP (indexed by dim_sw) */
    int *pending_dim;
    int n_pending;
    int output;           /* output SOp */
    const char *out_name; /* its name in the printed program */
    double L;             /* mlp_exactness */
    const char *header;   /* the program's leading comment (NULL: lift's) */
    char *err;
    size_t errcap;
} Lift;

int lift_new_sop(Lift *x, LsKind k, bool numerical, int n, int layer);
/* Reads the embeddings and every layer into x->s. Returns 0 or 1 (message in x->err). */
int lift_scan(Lift *x);
/* Assigns categorical values (lift_values.c). */
int lift_assign_values(Lift *x);
/* Writes the program text; counts functions and named ones. */
char *lift_emit(Lift *x, bool name_functions, int *n_functions, int *n_named);
/* Compares the recompiled model re with x->m under the residual correspondence given by the
 * lifted SOps (re's labels -> x->m's directions), heads and hidden units as multisets.
 * Returns 1 when every weight matches, 0 with the first difference in why. */
int lift_same_weights(const Lift *x, const CompiledModel *re, char *why, size_t cap);
/* The options that compile a program read back from m as m was compiled: vocab[n_vocab], m's
 * max_seq_len, causal flag, MLP exactness, exact mode and BOS/PAD names (kept in bos, pad). */
void lift_compile_options(const CompiledModel *m, const Value *vocab, int n_vocab,
                          CompileOptions *co, char bos[256], char pad[256]);

#endif
