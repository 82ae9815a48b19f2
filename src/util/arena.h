/* Bump allocator: everything a parsed program owns (AST nodes, strings, expression
 * records) lives in one arena and is released together, so no node needs its own free. */
#ifndef ITRACR_UTIL_ARENA_H
#define ITRACR_UTIL_ARENA_H
#include <stddef.h>

typedef struct ArenaBlock ArenaBlock;
typedef struct Arena {
    ArenaBlock *head; /* newest block first */
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
/* Zeroed, 16-byte aligned; aborts on out-of-memory (callers cannot recover anyway). */
void *arena_alloc(Arena *a, size_t size);
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);

#endif
