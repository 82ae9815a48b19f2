/* The lambda library: the one table of named functions that generated programs may use.
 *
 * Every Map, SequenceMap and LinearSequenceMap of a generated program takes its function
 * from this table, and the program-token format names functions by their entry here (the
 * fn column). Entries are only ever appended, so a token id keeps its meaning across
 * datasets. Each entry carries its .rasp lambda source (exactly as rasp_format prints it),
 * the value types it accepts and returns, and the encodings it may be compiled with.
 *
 * Value types are finer than Tracr's encodings because they decide what compiles exactly:
 * INT (small integers), BOOL, FRAC (a numerical mean of 0/1 values: Tracr's inferred value
 * set misses k/l for k > 1, so only functions that depend on x == 0 alone stay exact) and
 * REAL (anything else numerical; no Map accepts it). */
#ifndef ITRACR_GEN_LAMBDA_LIB_H
#define ITRACR_GEN_LAMBDA_LIB_H
#include <stddef.h>

#include "rasp/pyexpr.h"
#include "rasp/value.h"

typedef enum { GEN_FN_MAP, GEN_FN_SEQMAP, GEN_FN_LINEAR } GenFnKind;

/* STR: strings only (a string vocabulary); MIXED: strings and numbers together (a mixed
 * vocabulary: only EQ/NEQ/TRUE Selects compare them without Python's TypeError). No library
 * entry accepts either. */
enum {
    GEN_VT_INT = 1,
    GEN_VT_BOOL = 2,
    GEN_VT_FRAC = 4,
    GEN_VT_REAL = 8,
    GEN_VT_STR = 16,
    GEN_VT_MIXED = 32
};

/* Encoding modes (input encoding -> output encoding). A Map may be compiled in every mode
 * listed; cat->num also needs non-negative results (Tracr's ReLU clips negatives), which
 * the sampler checks on the actual value set. SequenceMap is cat->cat only and
 * LinearSequenceMap num->num only, as Tracr requires. */
enum { GEN_MODE_CC = 1, GEN_MODE_CN = 2, GEN_MODE_NC = 4, GEN_MODE_NN = 8 };

typedef struct GenFn {
    const char *name; /* stable token name, e.g. "add1", "lt_xy", "lin_1_m1" */
    GenFnKind kind;
    const char *src;  /* Map/SequenceMap: "lambda x: x + 1"; Linear: "1, -1" */
    unsigned dom;     /* GEN_VT_* mask the argument(s) may have (both args alike) */
    unsigned range;   /* GEN_VT_* of the results */
    unsigned modes;   /* GEN_MODE_* mask */
    int lin_a, lin_b; /* Linear coefficients */
    /* Filled by gen_lib_init: the parsed lambda (Linear: the a*x + b*y lambda the parser
     * builds) and the coefficient values. Shared, never modified, never freed. */
    Lambda *fn;
    Value va, vb;
} GenFn;

/* Parses every entry's source once (thread-safe, idempotent). Returns 0, or non-zero with
 * the parser's message in err (a broken table is a programming error, but it is reported,
 * not aborted on). Every other gen_lib_ function calls it and returns failure values if it
 * failed. */
int gen_lib_init(char *err, size_t errcap);

int gen_lib_count(void);
const GenFn *gen_lib_get(int i);    /* NULL when out of range or init failed */
int gen_lib_find(const char *name); /* index, or -1 */
/* The entry of kind whose lambda has the same body (py_equal) and arity; -1 if none. */
int gen_lib_lookup_lambda(GenFnKind kind, const Lambda *fn);
/* The Linear entry with coefficients a, b (same kinds, equal values); -1 if none. */
int gen_lib_lookup_linear(Value a, Value b);

/* Calls entry i on args (1 or 2 values). Same outcomes as lambda_call. */
PyErr gen_lib_call(int i, const Value *args, Value *out);

#endif
