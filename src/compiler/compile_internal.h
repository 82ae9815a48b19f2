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
    Space basis;             /* output basis of an SOp */
    const ValueSet *vals;    /* value set the blocks are built from */
    const ValueSet *cvals;   /* value set with numerical means completed ({k/l}) */
    bool incomplete;         /* cvals has values that vals lacks */
    MlpKind mk;
    MlpBlock mlp;
    AttnBlock attn;
    Dir sw_attn_dir;         /* SelectorWidth: A */
    int attn_slot, mlp_slot; /* transformer layers, -1 if none */
} CNode;

typedef struct CCtx {
    const RaspProgram *p;
    Arena *a;                /* scratch for this compilation */
    int n;                   /* graph nodes (BFS order from the sink) */
    CNode *nodes;            /* [n] */
    int *node_of;            /* [n_exprs]: node id or -1 */
    BlkCtx bc;
    int N;
    bool exact;
    double L;
    int key_size;
    Space resid;             /* the residual space (after assembly) */
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

#endif
