/* Lambda bodies: a Python expression subset, as an AST evaluated on Values.
 *
 * Nodes live in the owning program's arena. Map fusion substitutes one body into another,
 * so a node may be shared by several trees (the AST is a DAG); nothing ever frees a node
 * on its own. */
#ifndef ITRACR_RASP_PYEXPR_H
#define ITRACR_RASP_PYEXPR_H
#include "rasp/value.h"
#include "util/arena.h"

typedef enum {
    PY_CONST,  /* value */
    PY_PARAM,  /* param: index of the lambda parameter (0 or 1) */
    PY_NEG,    /* -a */
    PY_POS,    /* +a */
    PY_NOT,    /* not a */
    PY_BIN,    /* a binop b */
    PY_CMP,    /* chain: args[0] ops[0] args[1] ops[1] args[2] ... (n_args >= 2) */
    PY_AND,    /* a and b (returns an operand, as Python) */
    PY_OR,     /* a or b */
    PY_IF,     /* args[0] if args[1] else args[2] */
    PY_TUPLE,  /* (args...) */
    PY_INDEX,  /* args[0][args[1]] */
    PY_CALL,   /* builtin(args...) */
    PY_LOOKUP, /* a table: {args[1]: args[2], args[3]: args[4], ...}[args[0]] (a dict display
                 * subscripted at once; Python's KeyError when no key equals the index) */
} PyKind;

typedef enum { PYB_ADD, PYB_SUB, PYB_MUL, PYB_DIV, PYB_FLOORDIV, PYB_MOD, PYB_POW } PyBinOp;
typedef enum { PYC_EQ, PYC_NE, PYC_LT, PYC_LE, PYC_GT, PYC_GE } PyCmpOp;
typedef enum { PYF_ABS, PYF_MIN, PYF_MAX, PYF_INT, PYF_FLOAT, PYF_ROUND, PYF_BOOL } PyBuiltin;

typedef struct PyExpr PyExpr;
struct PyExpr {
    PyKind kind;
    Value value;   /* PY_CONST */
    int param;     /* PY_PARAM */
    PyBinOp binop; /* PY_BIN */
    PyBuiltin fn;  /* PY_CALL */
    PyCmpOp *ops;  /* PY_CMP: n_args-1 operators */
    PyExpr **args; /* operands; unary ops and PY_BIN use args[0], args[1] */
    int n_args;
    int line, col; /* source position (1-based) for error messages */
};

/* A lambda: parameter names and a body. n_params is 1 (Map) or 2 (SequenceMap, predicate). */
typedef struct Lambda {
    int n_params;
    const char *params[2];
    PyExpr *body;
} Lambda;

/* Evaluation outcome. Python's ArithmeticError family (ZeroDivisionError, OverflowError) is
 * PYERR_ARITH: value-set inference skips such inputs. Everything else is an error Tracr
 * would not catch (TypeError, IndexError, ValueError). */
typedef enum { PYERR_OK = 0, PYERR_ARITH, PYERR_TYPE, PYERR_INDEX, PYERR_VALUE } PyErr;

/* Evaluates body with args[i] bound to parameter i. On error *out is None and msg (if not
 * NULL) receives a Python-style message such as "ZeroDivisionError: division by zero". */
PyErr py_eval(const PyExpr *e, const Value *args, Value *out, char *msg, size_t msg_cap);
PyErr lambda_call(const Lambda *f, const Value *args, Value *out, char *msg, size_t msg_cap);

/* Constructors (arena-allocated). */
PyExpr *py_const(Arena *a, Value v);
PyExpr *py_param(Arena *a, int index);
PyExpr *py_unary(Arena *a, PyKind kind, PyExpr *x);
PyExpr *py_binary(Arena *a, PyBinOp op, PyExpr *l, PyExpr *r);
PyExpr *py_cmp2(Arena *a, PyCmpOp op, PyExpr *l, PyExpr *r);
PyExpr *py_boolop(Arena *a, PyKind kind /* PY_AND or PY_OR */, PyExpr *l, PyExpr *r);

/* A copy of e in which PY_PARAM i is replaced by subst[i] (shared, not copied). Used for
 * Map fusion (f(g(x))) and for baking Full constants into predicates. */
PyExpr *py_substitute(Arena *a, const PyExpr *e, PyExpr *const *subst);

/* Writes e as Python source, fully parenthesised where precedence needs it, using
 * param_names for PY_PARAM. Returns the full length like snprintf. */
size_t py_format(const PyExpr *e, const char *const *param_names, char *buf, size_t cap);

/* Structural equality (same tree shape, operators and constants; val_eq on constants plus
 * equal kinds, so 1 and 1.0 differ). */
bool py_equal(const PyExpr *a, const PyExpr *b);

/* ---- additions (implementation-side helpers; the parser and compiler may use them) ---- */
/* More constructors for the node kinds above (arena-allocated; args are shared). */
PyExpr *py_call(Arena *a, PyBuiltin fn, PyExpr *const *args, int n);
PyExpr *py_ifexp(Arena *a, PyExpr *then_, PyExpr *cond,
                 PyExpr *else_); /* then_ if cond else else_ */
PyExpr *py_tuple(Arena *a, PyExpr *const *items, int n);
PyExpr *py_index(Arena *a, PyExpr *base, PyExpr *index);
/* {keys[i]: vals[i]}[index] (n pairs; keys and vals shared, not copied). */
PyExpr *py_lookup(Arena *a, PyExpr *index, PyExpr *const *keys, PyExpr *const *vals, int n);
/* args[0] ops[0] args[1] ... ; n_args >= 2, ops has n_args-1 entries (copied). */
PyExpr *py_cmp_chain(Arena *a, const PyCmpOp *ops, PyExpr *const *args, int n_args);

/* Python's binary operators and comparisons on values (the same code py_eval runs). */
PyErr py_binop(PyBinOp op, Value l, Value r, Value *out, char *msg, size_t msg_cap);
PyErr py_compare(PyCmpOp op, Value l, Value r, bool *out, char *msg, size_t msg_cap);
/* Python's int(v) (truncation; OverflowError for inf is PYERR_ARITH). */
PyErr py_int(Value v, Value *out, char *msg, size_t msg_cap);

const char *py_builtin_name(PyBuiltin fn); /* "abs", "min", ... */
const char *py_binop_token(PyBinOp op);    /* "+", "//", "**", ... */
const char *py_cmpop_token(PyCmpOp op);    /* "==", "<=", ... */

#endif
