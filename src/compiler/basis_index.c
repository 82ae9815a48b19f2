/* The hash index of a space (basis.h, SpaceIndex): lookups that answer as space_find. */
#include <stdint.h>
#include <string.h>

#include "compiler/basis.h"

static unsigned long long name_hash(const char *s) {
    unsigned long long h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* A hash consistent with val_eq, cheaper than val_hash for the common kinds: an interned
 * string is equal only to itself (its address), a number hashes by its integer value when
 * it has one (1 == 1.0 == True). */
static unsigned long long tuple_hash(const ValTuple *t);
static inline unsigned long long value_hash(Value v) {
    switch (v.kind) {
    case VAL_NONE: return 0x5bd1e995ULL;
    case VAL_BOOL: return (unsigned long long)v.u.b;
    case VAL_INT: return (unsigned long long)v.u.i;
    case VAL_STR: return (unsigned long long)(uintptr_t)v.u.s >> 4;
    case VAL_FLOAT:
        if (v.u.f >= -9.2e18 && v.u.f <= 9.2e18) { /* not NaN, and the cast is defined */
            long long i = (long long)v.u.f;
            if ((double)i == v.u.f) return (unsigned long long)i;
        }
        return val_hash(v);
    case VAL_TUPLE: return tuple_hash(v.u.t);
    }
    return 0;
}

/* Tuples are equal elementwise (val_eq), so their items' hashes combine. */
static unsigned long long tuple_hash(const ValTuple *t) {
    unsigned long long h = 0x345678ULL + t->n;
    for (size_t i = 0; i < t->n; i++) h = (h ^ value_hash(t->items[i])) * 0x100000001b3ULL;
    return h;
}

static inline unsigned long long dir_hash(SpaceIndex *ix, const Dir *d) {
    /* Directions of one node share a name address, and few names recur: cache by address. */
    unsigned slot = (unsigned)((uintptr_t)d->name >> 4) & 7;
    if (ix->name[slot] != d->name) {
        ix->name[slot] = d->name;
        ix->name_h[slot] = name_hash(d->name);
    }
    unsigned long long h = (ix->name_h[slot] ^ value_hash(d->value)) * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 32);
}

void space_index_init(SpaceIndex *ix, Arena *a, const Space *s) {
    ix->s = *s;
    memset(ix->name, 0, sizeof ix->name);
    ix->use_find = false;
    unsigned slots = 16;
    while (slots < 2u * (unsigned)s->n) slots *= 2;
    ix->mask = slots - 1;
    ix->slot = arena_alloc(a, sizeof(int) * slots);
    memset(ix->slot, 0xff, sizeof(int) * slots);
    for (int i = 0; i < s->n; i++) {
        unsigned j = (unsigned)dir_hash(ix, &s->d[i]) & ix->mask;
        for (; ix->slot[j] >= 0; j = (j + 1) & ix->mask)
            if (dir_eq(&s->d[ix->slot[j]], &s->d[i])) ix->use_find = true;
        ix->slot[j] = i;
    }
}

int space_index_find(SpaceIndex *ix, const Dir *d) {
    if (ix->use_find) return space_find(&ix->s, d);
    for (unsigned j = (unsigned)dir_hash(ix, d) & ix->mask; ix->slot[j] >= 0;
         j = (j + 1) & ix->mask)
        if (dir_eq(&ix->s.d[ix->slot[j]], d)) return ix->slot[j];
    return -1;
}
