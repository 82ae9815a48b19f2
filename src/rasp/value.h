/* RASP values with Python's semantics: None, bool, int, float, str, tuple.
 *
 * Values are small and passed by copy. Strings and tuples are interned in a process-wide,
 * thread-safe table and never freed, so a Value never owns memory and pointer equality of
 * two interned strings means string equality. (LeakSanitizer does not report memory that
 * a global still reaches.) Ints are int64; an operation that would leave int64 raises
 * OverflowError, which Python also classes as an ArithmeticError. */
#ifndef ITRACR_RASP_VALUE_H
#define ITRACR_RASP_VALUE_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/bufout.h"

typedef enum { VAL_NONE, VAL_BOOL, VAL_INT, VAL_FLOAT, VAL_STR, VAL_TUPLE } ValKind;

typedef struct ValTuple ValTuple;

typedef struct Value {
    ValKind kind;
    union {
        bool b;
        int64_t i;
        double f;
        const char *s;     /* interned, NUL-terminated */
        const ValTuple *t; /* interned */
    } u;
} Value;

struct ValTuple {
    size_t n;
    Value items[];
};

/* The scalar constructors and predicates are inline: lambda evaluation, value-set building
 * and direction ordering call them in their innermost loops. */
static inline Value val_none(void) { return (Value){.kind = VAL_NONE}; }
static inline Value val_bool(bool b) { return (Value){.kind = VAL_BOOL, .u.b = b}; }
static inline Value val_int(int64_t i) { return (Value){.kind = VAL_INT, .u.i = i}; }
static inline Value val_float(double f) { return (Value){.kind = VAL_FLOAT, .u.f = f}; }
Value val_str(const char *s); /* interns s */
/* val_str(s) for a string that does not change (a literal), interning it once: *slot keeps
 * the interned pointer (start it NULL; interned strings are never freed, and threads that
 * race store the same pointer). */
Value val_str_once(const char *s, _Atomic(const char *) *slot);
Value val_strn(const char *s, size_t n);       /* interns s[0..n) */
Value val_tuple(const Value *items, size_t n); /* interns */
/* val_tuple of the two ints (a, b); small pairs (the discretising MLPs' hidden units) are
 * interned once per process. */
Value val_int_pair(int64_t a, int64_t b);

/* Python's type name: "NoneType", "bool", "int", "float", "str" or "tuple" (the words of
 * the TypeErrors the interpreter raises). */
static inline const char *val_type_name(Value v) {
    switch (v.kind) {
    case VAL_NONE: return "NoneType";
    case VAL_BOOL: return "bool";
    case VAL_INT: return "int";
    case VAL_FLOAT: return "float";
    case VAL_STR: return "str";
    case VAL_TUPLE: return "tuple";
    }
    return "?";
}

/* bool, int or float */
static inline bool val_is_number(Value v) {
    return v.kind == VAL_BOOL || v.kind == VAL_INT || v.kind == VAL_FLOAT;
}
/* Numeric value as double (bool -> 0/1). Only for val_is_number values. */
static inline double val_as_double(Value v) {
    switch (v.kind) {
    case VAL_BOOL: return v.u.b ? 1.0 : 0.0;
    case VAL_INT: return (double)v.u.i;
    case VAL_FLOAT: return v.u.f;
    default: return 0.0;
    }
}
/* Python truthiness. */
static inline bool val_truthy(Value v) {
    switch (v.kind) {
    case VAL_NONE: return false;
    case VAL_BOOL: return v.u.b;
    case VAL_INT: return v.u.i != 0;
    case VAL_FLOAT: return v.u.f != 0.0;
    case VAL_STR: return v.u.s[0] != 0;
    case VAL_TUPLE: return v.u.t->n != 0;
    }
    return false;
}

/* Python ==: 1 == 1.0 == True, 0 == False, str by content, tuples elementwise;
 * different kinds otherwise unequal; None == None. */
bool val_eq_slow(Value a, Value b); /* val_eq in full (tuples, numbers of two kinds) */
static inline bool val_eq(Value a, Value b) {
    /* Same-kind scalars and identical interned objects need no call. */
    if (a.kind == b.kind) {
        switch (a.kind) {
        case VAL_NONE: return true;
        case VAL_BOOL: return a.u.b == b.u.b;
        case VAL_INT: return a.u.i == b.u.i;
        case VAL_FLOAT: return a.u.f == b.u.f;
        case VAL_STR: /* interned: equal strings are one object */ return a.u.s == b.u.s;
        case VAL_TUPLE:
            if (a.u.t == b.u.t) return true;
            break;
        }
    } else if (!val_is_number(a) || !val_is_number(b)) {
        return false; /* different kinds are equal only as numbers */
    }
    return val_eq_slow(a, b);
}
/* Hash consistent with val_eq (equal numbers hash alike whatever their kind). */
uint64_t val_hash(Value v);

/* Python's < for the kinds where Python defines it (numbers with numbers, str with str,
 * tuple with tuple lexicographically). Returns 0 and sets *ok=false when Python would
 * raise TypeError; otherwise *ok=true and returns -1/0/1. */
int val_pycmp(Value a, Value b, bool *ok);

/* The total order of residual directions (docs/tracr.md §2.3) for two directions with
 * equal names: native comparison when Python allows it, else the comparison of the
 * "name:value" strings. name is needed for that fallback. */
int val_dir_cmp(const char *name, Value a, Value b);

/* Python str(v) (strings bare) and repr(v) (strings quoted as Python would), written into
 * buf (always NUL-terminated, truncated to cap). Return the full length like snprintf. */
size_t val_str_fmt(Value v, char *buf, size_t cap);
size_t val_repr_fmt(Value v, char *buf, size_t cap);
/* Appends s to o as a Python string literal in quote q (' or "), with Python's escapes. */
void val_quoted_fmt(BufOut *o, const char *s, char q);
/* Python repr of a double: shortest round-trip digits, "1.0", "1e-05", "inf", "nan". */
size_t val_float_repr(double f, char *buf, size_t cap);

/* A set of values with Python set semantics: inserting a value equal to a member keeps
 * the member (the first representative wins). Members are kept in insertion order;
 * valset_sort orders them by val_dir_cmp-style native order (numbers ascending, etc.). */
typedef struct ValueSet {
    Value *items;
    size_t n, cap;
} ValueSet;

void valset_init(ValueSet *s);
void valset_free(ValueSet *s);
void valset_clear(ValueSet *s);
bool valset_contains(const ValueSet *s, Value v);
/* Returns true if v was added (it was not a member). */
bool valset_add(ValueSet *s, Value v);
void valset_copy(ValueSet *dst, const ValueSet *src);
/* Sorts members with val_dir_cmp(name, ...) (pass the node label as name). */
void valset_sort(ValueSet *s, const char *name);

#endif
