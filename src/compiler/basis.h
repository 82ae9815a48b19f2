/* Basis directions and vector spaces (tracr-reference §2.3).
 *
 * A direction is (name, value); value VAL_NONE stands for Python's None. Spaces are sorted
 * arrays of distinct directions under Tracr's total order, so the position of a direction
 * in a space is its row/column in every matrix built on that space. */
#ifndef ITRACR_COMPILER_BASIS_H
#define ITRACR_COMPILER_BASIS_H
#include <stdbool.h>
#include <stddef.h>

#include "rasp/value.h"
#include "util/arena.h"

typedef struct Dir {
    const char *name; /* borrowed: a program label, an arena string or a literal */
    Value value;      /* VAL_NONE: the direction has no value ("name" alone) */
} Dir;

typedef struct Space {
    Dir *d; /* [n], sorted by dir_cmp, distinct */
    int n;
} Space;

/* Tracr's order: names by code point, then values natively, falling back to the
 * "name:value" strings where Python would raise TypeError. */
int dir_cmp(const Dir *a, const Dir *b);
bool dir_eq(const Dir *a, const Dir *b);
/* Python str(direction): "name" or "name:str(value)". Returns the full length. */
size_t dir_str(const Dir *d, char *buf, size_t cap);
char *dir_str_arena(Arena *a, const Dir *d);

/* Sorts d[0..*n) and removes duplicates (the first of equal directions is kept, as a Python
 * set keeps its first member). Stable merge sort: scratch must hold *n directions. */
void dir_sort_unique(Dir *d, int *n, Dir *scratch);
/* A space built from n directions (copied into the arena, sorted, de-duplicated). */
Space space_make(Arena *a, const Dir *d, int n);
/* Sorted union. */
Space space_join(Arena *a, const Space *x, const Space *y);
/* Index of d in s, or -1. */
int space_find(const Space *s, const Dir *d);
/* The space {(name, v) : v in values}; values VAL_NONE are skipped (Tracr never makes a
 * categorical direction for None). */
Space space_from_values(Arena *a, const char *name, const Value *values, size_t n);

#endif
