/* Growable NUL-terminated string for building text output. */
#ifndef ITRACR_UTIL_STRBUF_H
#define ITRACR_UTIL_STRBUF_H
#include <stdarg.h>
#include <stddef.h>

typedef struct StrBuf {
    char *s; /* always NUL-terminated once anything was appended; NULL when empty */
    size_t len, cap;
} StrBuf;

void sb_init(StrBuf *b);
void sb_free(StrBuf *b);
void sb_append(StrBuf *b, const char *s);
void sb_appendn(StrBuf *b, const char *s, size_t n);
void sb_printf(StrBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(StrBuf *b, const char *fmt, va_list ap);
/* a followed by b in a new string (the caller frees it); aborts when out of memory, as the
 * appends do. */
char *sb_concat(const char *a, const char *b);
/* Hands the string to the caller (never NULL) and leaves b empty. */
char *sb_take(StrBuf *b);

#endif
