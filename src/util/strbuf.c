#include "util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_init(StrBuf *b) {
    b->s = NULL;
    b->len = b->cap = 0;
}

void sb_free(StrBuf *b) {
    free(b->s);
    sb_init(b);
}

static void sb_reserve(StrBuf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        fprintf(stderr, "itracr: out of memory\n");
        abort();
    }
    b->s = s;
    b->cap = cap;
}

void sb_appendn(StrBuf *b, const char *s, size_t n) {
    sb_reserve(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void sb_append(StrBuf *b, const char *s) { sb_appendn(b, s, strlen(s)); }

void sb_vprintf(StrBuf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return;
    sb_reserve(b, (size_t)n);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void sb_printf(StrBuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(b, fmt, ap);
    va_end(ap);
}

char *sb_take(StrBuf *b) {
    char *s = b->s;
    if (!s) {
        s = malloc(1);
        if (!s) abort();
        s[0] = 0;
    }
    sb_init(b);
    return s;
}

char *sb_concat(const char *a, const char *b) {
    StrBuf s;
    sb_init(&s);
    sb_append(&s, a);
    sb_append(&s, b);
    return sb_take(&s);
}
