/* A RASP program: a DAG of expressions (SOps and selectors), as Tracr builds it.
 *
 * Expressions are stored in one array in creation order; children always have smaller
 * indices than their parents, so index order is a topological order. Each expression has a
 * unique label (the node id of Tracr's graph): the user's name for assigned expressions,
 * else Tracr's default name plus "_<id>" (see rasp_assign_labels). */
#ifndef ITRACR_RASP_PROGRAM_H
#define ITRACR_RASP_PROGRAM_H
#include "rasp/pyexpr.h"
#include "rasp/value.h"
#include "util/arena.h"

typedef enum {
    EXPR_TOKENS,
    EXPR_INDICES,
    EXPR_MAP,       /* child[0] = inner; fn (1 param) */
    EXPR_SEQMAP,    /* child[0] = fst, child[1] = snd; fn (2 params) */
    EXPR_LINSEQMAP, /* child[0] = fst, child[1] = snd; fn = a*x + b*y; lin_a, lin_b */
    EXPR_FULL,      /* full_value */
    EXPR_SELECT,    /* child[0] = keys, child[1] = queries; pred (+ fn if PRED_LAMBDA) */
    EXPR_AGGREGATE, /* child[0] = selector, child[1] = sop; default_value */
    EXPR_SELWIDTH,  /* child[0] = selector */
    EXPR_SEL_AND,   /* child[0], child[1] selectors */
    EXPR_SEL_OR,
    EXPR_SEL_NOT, /* child[0] */
} ExprKind;

typedef enum { ENC_CATEGORICAL, ENC_NUMERICAL } Encoding;

/* Select predicates. PRED_LAMBDA: fn(key, query). */
typedef enum {
    PRED_EQ,
    PRED_LT,
    PRED_LEQ,
    PRED_GT,
    PRED_GEQ,
    PRED_NEQ,
    PRED_TRUE,
    PRED_FALSE,
    PRED_LAMBDA
} Pred;

typedef struct SrcPos {
    int line, col; /* 1-based; 0 when the expression was built by code, not parsed */
} SrcPos;

typedef struct RaspExpr {
    ExprKind kind;
    const char *label;   /* unique within the program */
    const char *name;    /* name annotation (user name, or Tracr's default class name) */
    bool user_named;     /* name came from an assignment or was set explicitly */
    Encoding enc;        /* SOps only; selectors are ENC_CATEGORICAL and ignore it */
    int child[2];        /* indices into RaspProgram.exprs, -1 when unused */
    Lambda *fn;          /* Map, SequenceMap, LinearSequenceMap (built), Select with PRED_LAMBDA */
    Pred pred;           /* Select */
    Value lin_a, lin_b;  /* LinearSequenceMap coefficients (ints or floats as written) */
    Value default_value; /* Aggregate */
    Value full_value;    /* Full */
    bool no_simplify;    /* Map written with simplify=False */
    SrcPos pos;
} RaspExpr;

typedef struct RaspProgram {
    Arena arena;     /* owns every lambda, string and the exprs array */
    RaspExpr *exprs; /* [n_exprs], children before parents */
    int n_exprs, cap_exprs;
    int output; /* index of the output SOp, -1 if none */

    /* Compile settings written in the file (flags may override them at compile time). */
    Value *vocab; /* [n_vocab], in the order written, de-duplicated */
    int n_vocab;
    bool has_vocab;
    int max_seq_len; /* 0 if not given */
    bool causal;
    int mlp_exactness; /* 0 if not given (then 100) */

    const char *filename; /* for messages */
    const char *source;   /* full text, NUL-terminated, arena-owned; NULL if built by code */
} RaspProgram;

void rasp_program_init(RaspProgram *p);
void rasp_program_free(RaspProgram *p);
/* Appends an expression (copied) and returns its index. */
int rasp_add_expr(RaspProgram *p, const RaspExpr *e);

bool rasp_is_sop(ExprKind k);      /* everything except selectors */
bool rasp_is_selector(ExprKind k); /* Select, SelectorAnd/Or/Not */
/* Tracr's default name for a class: "tokens", "map", "sequence_map", "select", ... */
const char *rasp_default_name(ExprKind k);
const char *rasp_pred_name(Pred p);     /* "EQ", "LT", ..., "TRUE", "FALSE", "lambda" */
const char *rasp_kind_name(ExprKind k); /* "Map", "SequenceMap", ... as written in .rasp */

/* Labels for unnamed expressions: Tracr numbers nodes in the BFS discovery order from the
 * sink; an unnamed node gets "<default name>_<id>". Called by the parser once the output
 * is known; idempotent. Expressions not reachable from the output keep their own labels. */
void rasp_assign_labels(RaspProgram *p);

/* The expressions reachable from the output, in BFS order from the sink as Tracr's
 * rasp_to_graph discovers them (children in child order). Returns the count; order
 * receives indices (size n_exprs). */
int rasp_bfs_order(const RaspProgram *p, int *order);

/* Added: the expressions reachable from root in DFS post-order (children before parents,
 * first child first), the order Tracr's recursive evaluator and basis_inference finish
 * nodes in. Returns the count written to order (size n_exprs), -1 when root is invalid. */
int rasp_post_order(const RaspProgram *p, int root, int *order);
/* The same in caller memory (no allocation): stack [n_exprs] ints, state [2 * n_exprs] bytes. */
int rasp_post_order_into(const RaspProgram *p, int root, int *order, int *stack,
                         unsigned char *state);

#endif
