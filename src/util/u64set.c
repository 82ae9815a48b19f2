/* A set of 64-bit hashes (u64set.h). */
#include "util/u64set.h"

#include <stdlib.h>

int u64set_add(U64Set *s, uint64_t h) {
    if (h == 0) h = 1;
    if (2 * (s->n + 1) > s->cap) { /* at most half full: probes stay short */
        size_t cap = s->cap ? 2 * s->cap : 1024;
        uint64_t *slot = calloc(cap, sizeof *slot);
        if (!slot) return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i]) {
                size_t j = s->slot[i] & (cap - 1);
                while (slot[j]) j = (j + 1) & (cap - 1);
                slot[j] = s->slot[i];
            }
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    size_t j = h & (s->cap - 1);
    while (s->slot[j]) {
        if (s->slot[j] == h) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->slot[j] = h;
    s->n++;
    return 1;
}

void u64set_free(U64Set *s) {
    free(s->slot);
    s->slot = NULL;
    s->cap = s->n = 0;
}
