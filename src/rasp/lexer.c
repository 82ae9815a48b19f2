/* .rasp tokenizer: names, Python number and string literals, operators. */
#include "rasp/lexer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

void lexer_init(Lexer *L, const char *src, size_t len, Arena *arena) {
    memset(L, 0, sizeof *L);
    L->src = src;
    L->len = len;
    L->line = 1;
    L->arena = arena;
}

static int peekc(const Lexer *L, size_t off) {
    return L->pos + off < L->len ? (unsigned char)L->src[L->pos + off] : -1;
}

static bool is_name_start(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_name_char(int c) { return is_name_start(c) || is_digit(c); }
static int hex_val(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static Token make_error(Lexer *L, Token t, const char *fmt, const char *arg) {
    char buf[160];
    snprintf(buf, sizeof buf, fmt, arg);
    t.kind = TK_ERROR;
    t.err = arena_strdup(L->arena, buf);
    return t;
}

static size_t utf8_put(char *out, unsigned cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static Token lex_number(Lexer *L, Token t) {
    size_t s = L->pos;
    bool is_float = false;
    while (is_digit(peekc(L, 0))) L->pos++;
    if (peekc(L, 0) == '.') {
        is_float = true;
        L->pos++;
        while (is_digit(peekc(L, 0))) L->pos++;
    }
    if (peekc(L, 0) == 'e' || peekc(L, 0) == 'E') {
        size_t save = L->pos;
        L->pos++;
        if (peekc(L, 0) == '+' || peekc(L, 0) == '-') L->pos++;
        if (!is_digit(peekc(L, 0))) {
            L->pos = save + 1;
            t.len = L->pos - s;
            return make_error(L, t, "invalid number literal%s; expected digits after the exponent",
                              "");
        }
        while (is_digit(peekc(L, 0))) L->pos++;
        is_float = true;
    }
    t.len = L->pos - s;
    if (is_name_char(peekc(L, 0)) || peekc(L, 0) == '.') {
        while (is_name_char(peekc(L, 0)) || peekc(L, 0) == '.') L->pos++;
        t.len = L->pos - s;
        return make_error(L, t, "invalid number literal%s; expected digits, '.' or an exponent",
                          "");
    }
    const char *txt = L->src + s;
    if (is_float) {
        char *copy = arena_strndup(L->arena, txt, t.len);
        t.kind = TK_FLOAT;
        t.fval = strtod(copy, NULL); /* overflow gives inf, as Python's float literals do */
        return t;
    }
    if (t.len > 1 && txt[0] == '0') {
        for (size_t i = 0; i < t.len; i++)
            if (txt[i] != '0')
                return make_error(L, t,
                                  "leading zeros in an integer literal%s; expected a decimal "
                                  "number without leading zeros",
                                  "");
    }
    int64_t v = 0;
    for (size_t i = 0; i < t.len; i++) {
        int d = txt[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return make_error(L, t, "integer literal too large%s; expected a value below 2**63",
                              "");
        v = v * 10 + d;
    }
    t.kind = TK_INT;
    t.ival = v;
    return t;
}

static Token lex_string(Lexer *L, Token t) {
    int q = peekc(L, 0);
    size_t s = L->pos;
    size_t i = s + 1;
    /* find the closing quote first: the decoded text is never longer than the raw text */
    for (;;) {
        if (i >= L->len || L->src[i] == '\n' || L->src[i] == '\r') {
            L->pos = i;
            t.len = i - s;
            return make_error(
                L, t, "unterminated string; expected a closing %s before the end of the line",
                q == '"' ? "'\"'" : "\"'\"");
        }
        if (L->src[i] == q) break;
        if (L->src[i] == '\\') {
            if (i + 1 >= L->len || L->src[i + 1] == '\n' || L->src[i + 1] == '\r') {
                i++;
                continue; /* reported as unterminated on the next turn */
            }
            i += 2;
            continue;
        }
        i++;
    }
    size_t end = i; /* index of the closing quote */
    L->pos = end + 1;
    t.len = L->pos - s;
    char *out = arena_alloc(L->arena, end - s + 1);
    size_t o = 0;
    const unsigned char *u = (const unsigned char *)L->src;
    for (size_t k = s + 1; k < end;) {
        unsigned c = u[k];
        if (c != '\\') {
            if (c < 0x20 && c != '\t') {
                char b[8];
                snprintf(b, sizeof b, "\\x%02x", c);
                Token e = t;
                e.col = t.col + (int)(k - s);
                return make_error(
                    L, e, "bad character %s in string; expected printable text or an escape", b);
            }
            size_t n = utf8_seq_len(u + k, end - k);
            if (n == 0) {
                char b[8];
                snprintf(b, sizeof b, "\\x%02x", c);
                Token e = t;
                e.col = t.col + (int)(k - s);
                return make_error(L, e, "invalid UTF-8 byte %s in string; expected UTF-8 text", b);
            }
            memcpy(out + o, u + k, n);
            o += n;
            k += n;
            continue;
        }
        /* escape sequence; k + 1 < end is guaranteed by the scan above */
        int e = u[k + 1];
        long cp = -1;
        size_t used = 2;
        switch (e) {
        case '\\': cp = '\\'; break;
        case '\'': cp = '\''; break;
        case '"': cp = '"'; break;
        case 'a': cp = 7; break;
        case 'b': cp = 8; break;
        case 'f': cp = 12; break;
        case 'n': cp = 10; break;
        case 'r': cp = 13; break;
        case 't': cp = 9; break;
        case 'v': cp = 11; break;
        case 'x':
        case 'u':
        case 'U': {
            size_t nd = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            unsigned long v = 0;
            for (size_t d = 0; d < nd; d++) {
                int h = k + 2 + d < end ? hex_val(u[k + 2 + d]) : -1;
                if (h < 0) {
                    Token er = t;
                    er.col = t.col + (int)(k - s);
                    return make_error(L, er, "truncated \\%s escape; expected hexadecimal digits",
                                      e == 'x'   ? "x"
                                      : e == 'u' ? "u"
                                                 : "U");
                }
                v = v * 16 + (unsigned long)h;
            }
            used = 2 + nd;
            if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
                Token er = t;
                er.col = t.col + (int)(k - s);
                return make_error(
                    L, er, "invalid code point in escape%s; expected a Unicode scalar value", "");
            }
            cp = (long)v;
            break;
        }
        default:
            if (e >= '0' && e <= '7') {
                unsigned v = 0;
                size_t nd = 0;
                while (nd < 3 && k + 1 + nd < end && u[k + 1 + nd] >= '0' && u[k + 1 + nd] <= '7') {
                    v = v * 8 + (u[k + 1 + nd] - '0');
                    nd++;
                }
                used = 1 + nd;
                cp = (long)v;
            }
            break;
        }
        if (cp < 0) {
            /* unknown escape: Python keeps the backslash */
            out[o++] = '\\';
            k += 1;
            continue;
        }
        if (cp == 0) {
            Token er = t;
            er.col = t.col + (int)(k - s);
            return make_error(L, er, "NUL character in string%s; expected a non-zero character",
                              "");
        }
        o += utf8_put(out + o, (unsigned)cp);
        k += used;
    }
    out[o] = 0;
    t.kind = TK_STRING;
    t.str = out;
    t.str_len = o;
    return t;
}

Token lexer_next(Lexer *L) {
    Token t;
    for (;;) {
        int c = peekc(L, 0);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
            L->pos++;
        } else if (c == '#') {
            while (peekc(L, 0) != -1 && peekc(L, 0) != '\n') L->pos++;
        } else if (c == '\n' && L->depth > 0) {
            L->pos++;
            L->line++;
            L->line_start = L->pos;
        } else {
            break;
        }
    }
    memset(&t, 0, sizeof t);
    t.start = L->src + L->pos;
    t.line = L->line;
    t.col = (int)(L->pos - L->line_start) + 1;
    t.len = 1;
    int c = peekc(L, 0);
    if (c == -1) {
        t.kind = TK_EOF;
        t.len = 0;
        return t;
    }
    if (c == '\n') {
        L->pos++;
        L->line++;
        L->line_start = L->pos;
        t.kind = TK_NEWLINE;
        return t;
    }
    if (is_name_start(c)) {
        size_t s = L->pos;
        while (is_name_char(peekc(L, 0))) L->pos++;
        t.kind = TK_NAME;
        t.len = L->pos - s;
        return t;
    }
    if (is_digit(c) || (c == '.' && is_digit(peekc(L, 1)))) return lex_number(L, t);
    if (c == '"' || c == '\'') return lex_string(L, t);
    int c1 = peekc(L, 1);
    L->pos++;
    switch (c) {
    case '(':
        L->depth++;
        t.kind = TK_LPAREN;
        return t;
    case '[':
        L->depth++;
        t.kind = TK_LBRACKET;
        return t;
    case '{':
        L->depth++;
        t.kind = TK_LBRACE;
        return t;
    case ')':
        if (L->depth > 0) L->depth--;
        t.kind = TK_RPAREN;
        return t;
    case ']':
        if (L->depth > 0) L->depth--;
        t.kind = TK_RBRACKET;
        return t;
    case '}':
        if (L->depth > 0) L->depth--;
        t.kind = TK_RBRACE;
        return t;
    case ',': t.kind = TK_COMMA; return t;
    case ':': t.kind = TK_COLON; return t;
    case '+': t.kind = TK_PLUS; return t;
    case '-': t.kind = TK_MINUS; return t;
    case '%': t.kind = TK_PERCENT; return t;
    case '&': t.kind = TK_AMP; return t;
    case '|': t.kind = TK_PIPE; return t;
    case '~': t.kind = TK_TILDE; return t;
    case '*':
        if (c1 == '*') {
            L->pos++;
            t.len = 2;
            t.kind = TK_POW;
            return t;
        }
        t.kind = TK_STAR;
        return t;
    case '/':
        if (c1 == '/') {
            L->pos++;
            t.len = 2;
            t.kind = TK_DSLASH;
            return t;
        }
        t.kind = TK_SLASH;
        return t;
    case '=':
        if (c1 == '=') {
            L->pos++;
            t.len = 2;
            t.kind = TK_EQ;
            return t;
        }
        t.kind = TK_ASSIGN;
        return t;
    case '!':
        if (c1 == '=') {
            L->pos++;
            t.len = 2;
            t.kind = TK_NE;
            return t;
        }
        break;
    case '<':
        if (c1 == '=') {
            L->pos++;
            t.len = 2;
            t.kind = TK_LE;
            return t;
        }
        t.kind = TK_LT;
        return t;
    case '>':
        if (c1 == '=') {
            L->pos++;
            t.len = 2;
            t.kind = TK_GE;
            return t;
        }
        t.kind = TK_GT;
        return t;
    default: break;
    }
    /* a character that is not part of the language: name it readably */
    char b[16];
    const unsigned char *u = (const unsigned char *)L->src + L->pos - 1;
    size_t n = c >= 0x80 ? utf8_seq_len(u, L->len - (L->pos - 1)) : 0;
    if (c >= 0x21 && c < 0x7F) {
        snprintf(b, sizeof b, "'%c'", c);
    } else if (n > 1) {
        b[0] = '\'';
        memcpy(b + 1, u, n);
        b[n + 1] = '\'';
        b[n + 2] = 0;
        L->pos += n - 1;
        t.len = n;
    } else {
        snprintf(b, sizeof b, "\\x%02x", (unsigned)c);
    }
    return make_error(L, t, "bad character %s; expected a name, a number, a string or an operator",
                      b);
}

const char *lexer_describe(const Token *t, char *buf, size_t cap) {
    static const char *const ops[] = {
        [TK_LPAREN] = "(",  [TK_RPAREN] = ")", [TK_LBRACKET] = "[", [TK_RBRACKET] = "]",
        [TK_LBRACE] = "{",  [TK_RBRACE] = "}", [TK_COMMA] = ",",    [TK_COLON] = ":",
        [TK_ASSIGN] = "=",  [TK_EQ] = "==",    [TK_NE] = "!=",      [TK_LT] = "<",
        [TK_LE] = "<=",     [TK_GT] = ">",     [TK_GE] = ">=",      [TK_PLUS] = "+",
        [TK_MINUS] = "-",   [TK_STAR] = "*",   [TK_SLASH] = "/",    [TK_DSLASH] = "//",
        [TK_PERCENT] = "%", [TK_POW] = "**",   [TK_AMP] = "&",      [TK_PIPE] = "|",
        [TK_TILDE] = "~",
    };
    int n = t->len > 40 ? 40 : (int)t->len;
    const char *ell = t->len > 40 ? "..." : "";
    switch (t->kind) {
    case TK_EOF: snprintf(buf, cap, "end of file"); break;
    case TK_NEWLINE: snprintf(buf, cap, "end of line"); break;
    case TK_NAME: snprintf(buf, cap, "name '%.*s%s'", n, t->start, ell); break;
    case TK_INT:
    case TK_FLOAT: snprintf(buf, cap, "number %.*s%s", n, t->start, ell); break;
    case TK_STRING: snprintf(buf, cap, "string %.*s%s", n, t->start, ell); break;
    case TK_ERROR: snprintf(buf, cap, "%s", t->err ? t->err : "bad token"); break;
    default: snprintf(buf, cap, "'%s'", ops[t->kind] ? ops[t->kind] : "?"); break;
    }
    return buf;
}
