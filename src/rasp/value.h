/* RASP values with Python's semantics: None, bool, int, float, str, tuple.
 *
 * Values are small and passed by copy. Strings and tuples are interned in a process-wide,
 * thread-safe table and never freed, so a Value never owns memory and pointer equality of
 * two interned strings means string equality. (LeakSanitizer does not report memory that
 * a global still reaches.) Ints are int64; an operation that would leave int64 raises
 * OverflowError, which Python also classes as an ArithmeticError. */
#ifndef ITRACR_RASP_VALUE_H
#define ITRACR_RASP_VALUE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { VAL_NONE, VAL_BOOL, VAL_INT, VAL_FLOAT, VAL_STR, VAL_TUPLE } ValKind;

typedef struct ValTuple ValTuple;

typedef struct Value {
    ValKind kind;
    union {
        bool b;
        int64_t i;
        double f;
        const char *s;      /* interned, NUL-terminated */
        const ValTuple *t;  /* interned */
    } u;
} Value;

struct ValTuple {
    size_t n;
    Value items[];
};

Value val_none(void);
Value val_bool(bool b);
Value val_int(int64_t i);
Value val_float(double f);
Value val_str(const char *s);              /* interns s */
Value val_strn(const char *s, size_t n);   /* interns s[0..n) */
Value val_tuple(const Value *items, size_t n); /* interns */

bool val_is_number(Value v); /* bool, int or float */
/* Numeric value as double (bool -> 0/1). Only for val_is_number values. */
double val_as_double(Value v);
/* Python truthiness. */
bool val_truthy(Value v);

/* Python ==: 1 == 1.0 == True, 0 == False, str by content, tuples elementwise;
 * different kinds otherwise unequal; None == None. */
bool val_eq(Value a, Value b);
/* Hash consistent with val_eq (equal numbers hash alike whatever their kind). */
uint64_t val_hash(Value v);

/* Python's < for the kinds where Python defines it (numbers with numbers, str with str,
 * tuple with tuple lexicographically). Returns 0 and sets *ok=false when Python would
 * raise TypeError; otherwise *ok=true and returns -1/0/1. */
int val_pycmp(Value a, Value b, bool *ok);

/* The total order of residual directions (tracr-reference §2.3) for two directions with
 * equal names: native comparison when Python allows it, else the comparison of the
 * "name:value" strings. name is needed for that fallback. */
int val_dir_cmp(const char *name, Value a, Value b);

/* Python str(v) (strings bare) and repr(v) (strings quoted as Python would), written into
 * buf (always NUL-terminated, truncated to cap). Return the full length like snprintf. */
size_t val_str_fmt(Value v, char *buf, size_t cap);
size_t val_repr_fmt(Value v, char *buf, size_t cap);
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
