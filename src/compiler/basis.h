/* Basis directions and vector spaces (docs/tracr.md §2.3).
 *
 * A direction is (name, value); value VAL_NONE stands for Python's None. Spaces are sorted
 * arrays of distinct directions under Tracr's total order, so the position of a direction
 * in a space is its row/column in every matrix built on that space. */
#ifndef ITRACR_COMPILER_BASIS_H
#define ITRACR_COMPILER_BASIS_H
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

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
static inline bool dir_eq(const Dir *a, const Dir *b) {
    return val_eq(a->value, b->value) && (a->name == b->name || strcmp(a->name, b->name) == 0);
}
/* strcmp's sign, deciding on the first byte without a call when it differs. */
static inline int str_order(const char *a, const char *b) {
    if (a == b) return 0;
    if (a[0] != b[0]) return (unsigned char)a[0] < (unsigned char)b[0] ? -1 : 1;
    int c = strcmp(a, b);
    return (c > 0) - (c < 0);
}
/* Python str(direction): "name" or "name:str(value)". Returns the full length. */
size_t dir_str(const Dir *d, char *buf, size_t cap);
char *dir_str_arena(Arena *a, const Dir *d);
/* out[i] = dir_str of d[i] for i < n, the strings in one allocation of a. */
void dir_strs_arena(Arena *a, const Dir *d, int n, const char **out);

/* Sorts d[0..*n) and removes duplicates (the first of equal directions is kept, as a Python
 * set keeps its first member). Stable merge sort: scratch must hold *n directions. */
void dir_sort_unique(Dir *d, int *n, Dir *scratch);
/* A space built from n directions (copied into the arena, sorted, de-duplicated). */
Space space_make(Arena *a, const Dir *d, int n);
/* Sorted union. */
Space space_join(Arena *a, const Space *x, const Space *y);
/* space_make of the concatenation of pieces[0..n) (each a sorted space), computed from the
 * pieces: the same directions in the same order, each the first of its equals in the
 * concatenation. Pieces that are the same array as an earlier piece are skipped. */
Space space_union(Arena *a, const Space *pieces, int n);
/* True when every direction of s has one name and its values are all of one kind under
 * which dir_cmp is a total order (numbers but not NaN, strs, tuples of numbers, tuples of
 * strs): sorting such directions, or tuples built from them item by item, depends only on
 * that order. */
bool space_total_order(const Space *s);
/* Index of d in s, or -1. */
int space_find(const Space *s, const Dir *d);
/* The space {(name, v) : v in values}; values VAL_NONE are skipped (Tracr never makes a
 * categorical direction for None). */
Space space_from_values(Arena *a, const char *name, const Value *values, size_t n);

/* A hash index of a space for many lookups: space_index_find(ix, d) == space_find(s, d)
 * for every d. Directions hash by name content and val_hash, so equal names stored at
 * different addresses and equal values of different kinds (1, 1.0, True) meet. A space
 * holding two equal directions (possible only under the string fallback of the order)
 * answers through space_find itself. The space must not change while indexed. */
typedef struct SpaceIndex {
    Space s;
    int *slot; /* [mask + 1]: index into s.d, -1 empty */
    unsigned mask;
    bool use_find;       /* duplicates: defer to space_find */
    const char *name[8]; /* a small cache of name hashes, by address */
    unsigned long long name_h[8];
} SpaceIndex;
void space_index_init(SpaceIndex *ix, Arena *a, const Space *s);
int space_index_find(SpaceIndex *ix, const Dir *d);

#endif
