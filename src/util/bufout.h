/* Appending to a caller's fixed buffer with snprintf's contract: the text is truncated to
 * fit (always NUL-terminated once finished) while len counts the full length, so callers
 * can return it and let their caller retry with a larger buffer. */
#ifndef ITRACR_UTIL_BUFOUT_H
#define ITRACR_UTIL_BUFOUT_H
#include <stddef.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t cap, len;
} BufOut;

static inline void bufout_n(BufOut *o, const char *s, size_t n) {
    if (o->cap && o->len + 1 < o->cap) {
        size_t room = o->cap - 1 - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}
static inline void bufout_s(BufOut *o, const char *s) { bufout_n(o, s, strlen(s)); }
/* Writes the terminating NUL. */
static inline void bufout_end(BufOut *o) {
    if (o->cap) o->buf[o->len < o->cap ? o->len : o->cap - 1] = 0;
}

#endif
