/* Shared state of one compilation (compile.c builds it, compile_warn.c and valsets.c read
 * it). Not a public interface. */
#ifndef ITRACR_COMPILER_COMPILE_INTERNAL_H
#define ITRACR_COMPILER_COMPILE_INTERNAL_H
#include "compiler/alloc.h"
#include "compiler/blocks.h"
#include "compiler/model.h"
#include "rasp/rasp.h"

typedef enum { MK_NONE, MK_CAT, MK_CATNUM, MK_DISC, MK_SEQ, MK_LIN, MK_SW } MlpKind;

typedef struct CNode {
    int expr;
    const RaspExpr *e;
    bool sop;
    AllocKind kind;
    Space basis;           /* output basis of an SOp */
    const ValueSet *vals;  /* value set the blocks are built from */
    const ValueSet *cvals; /* value set with numerical means completed ({k/l}) */
    bool incomplete;       /* cvals has values that vals lacks */
    MlpKind mk;
    MlpBlock mlp;
    AttnBlock attn;
    Dir sw_attn_dir;         /* SelectorWidth: A */
    int attn_slot, mlp_slot; /* transformer layers, -1 if none */
} CNode;

/* The non-zero writes of assembly into one weight matrix, in write order: cell (row, col)
 * received val (V and O are assigned, W1 and W2 added into; a cell repeats when several
 * blocks add into it). The BOS pass of the warnings works from these instead of scanning
 * the dense matrices. */
typedef struct CellList {
    int *row, *col; /* [n] */
    double *val;    /* [n] */
    int n, cap;
} CellList;
typedef struct LayerCells {
    CellList v, o, w1, w2; /* of ModelLayer's v, o, w1, w2 (rows, cols as there) */
    bool repeats;          /* W1/W2 cells may repeat (MLPs share a hidden unit, or a block's
                              * directions share a row) */
} LayerCells;

typedef struct CCtx {
    const RaspProgram *p;
    Arena *a;     /* scratch for this compilation */
    int n;        /* graph nodes (BFS order from the sink) */
    CNode *nodes; /* [n] */
    int *node_of; /* [n_exprs]: node id or -1 */
    BlkCtx bc;
    int N;
    bool exact;
    double L;
    int key_size;
    Space resid;                /* the residual space (after assembly) */
    SpaceIndex rix;             /* its index */
    LayerCells *cells;          /* [num_layers]: written cells (after assembly); NULL when a head's
                              * value directions share a row (V is assigned, not added: the
                              * warnings then read the dense weights) */
    const CompiledModel *model; /* the assembled model (after assembly) */
    /* warnings */
    const char **warn;
    int n_warn, cap_warn;
} CCtx;

/* valsets.c: fills cvals/incomplete of every node from vals (Tracr's sets), completing the
 * numerical-mean sets to every achievable k/l. store: [n_exprs] sets owned by the caller. */
void cvs_complete(CCtx *c, ValueSet *store);
/* compile_warn.c: the compile-time warnings of §5.2 (after blocks, slots and key_size). */
void compile_warnings(CCtx *c);
void compile_warn_add(CCtx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* compile_bos.c: the residual stream at the BOS position after the whole model, computed on
 * the input [BOS] alone (there the BOS query can only attend to itself, as it does in longer
 * inputs unless its own query or key values are disturbed). x: [D]. After assembly. */
void compile_bos_residual(CCtx *c, double *x);
/* Whether the BOS pass of a model of these sizes reads LayerCells (else assembly need not
 * record them). */
bool compile_bos_uses_cells(int D, int HK, int M);
/* Layers with at least this many V and W1 cells (D * (H*ks + M)) take the sparse BOS pass of
 * the warnings, smaller ones the dense pass (the same result). Tests set it to 0 to run the
 * sparse pass everywhere. */
extern double compile_bos_sparse_min_cells;
/* Test hook: when set, receives the BOS residual [D] of every compilation. */
extern void (*compile_bos_observer)(const double *x, int D);

/* Sorts v[n] ascending by insertion (value sets are small; stable, no allocation). */
static inline void compile_sort_doubles(double *v, size_t n) {
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && v[b - 1] > v[b]; b--) {
            double t = v[b];
            v[b] = v[b - 1];
            v[b - 1] = t;
        }
}

#endif
