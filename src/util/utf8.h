/* UTF-8 as Python's decoder accepts it: the one validator of the lexer (.rasp text) and the
 * JSON reader (safetensors headers, metadata). */
#ifndef ITRACR_UTIL_UTF8_H
#define ITRACR_UTIL_UTF8_H
#include <stddef.h>

/* Length of the valid UTF-8 sequence at s[0..n) (n >= 1), or 0 if it is not valid: overlong
 * forms, surrogates and code points above U+10FFFF are invalid. */
static inline size_t utf8_seq_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

#endif
