/* A set of 64-bit hashes (open addressing, linear probing), for remembering which programs or
 * token sequences a search has already produced. 0 is the empty slot, so a hash of 0 is
 * stored as 1. Zero-initialise a U64Set before the first add. */
#ifndef ITRACR_UTIL_U64SET_H
#define ITRACR_UTIL_U64SET_H
#include <stddef.h>
#include <stdint.h>

typedef struct U64Set {
    uint64_t *slot; /* [cap] (0: empty), cap a power of two */
    size_t cap, n;
} U64Set;

/* Adds h: 1 if it was new, 0 if already there, -1 on OOM (the set is unchanged then). */
int u64set_add(U64Set *s, uint64_t h);
void u64set_free(U64Set *s);
#endif
