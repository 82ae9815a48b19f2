/* Tokenizer for .rasp text (statements and Python-subset lambda bodies).
 *
 * Tokens are produced on demand, so the first error in the file is the one reported. A
 * lexical problem (bad character, unterminated string, malformed number) comes back as a
 * TK_ERROR token carrying its message; the parser reports it when it reaches it. Newlines
 * inside (), [] or {} are skipped, so a call may span lines. */
#ifndef ITRACR_RASP_LEXER_H
#define ITRACR_RASP_LEXER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"

typedef enum {
    TK_EOF,
    TK_NEWLINE,
    TK_NAME,
    TK_INT,
    TK_FLOAT,
    TK_STRING,
    TK_LPAREN,
    TK_RPAREN,
    TK_LBRACKET,
    TK_RBRACKET,
    TK_LBRACE,
    TK_RBRACE,
    TK_COMMA,
    TK_COLON,
    TK_ASSIGN, /* = */
    TK_EQ,     /* == */
    TK_NE,     /* != */
    TK_LT,
    TK_LE,
    TK_GT,
    TK_GE,
    TK_PLUS,
    TK_MINUS,
    TK_STAR,
    TK_SLASH,
    TK_DSLASH, /* // */
    TK_PERCENT,
    TK_POW, /* ** */
    TK_AMP,
    TK_PIPE,
    TK_TILDE,
    TK_ERROR,
} TokKind;

typedef struct Token {
    TokKind kind;
    const char *start; /* source text of the token */
    size_t len;
    int line, col;   /* 1-based; col counts bytes */
    int64_t ival;    /* TK_INT */
    double fval;     /* TK_FLOAT */
    const char *str; /* TK_STRING: decoded bytes (arena, NUL-terminated, no NUL inside) */
    size_t str_len;
    const char *err; /* TK_ERROR: what is wrong (arena) */
} Token;

typedef struct Lexer {
    const char *src;
    size_t len, pos;
    int line;
    size_t line_start; /* offset of the current line's first byte */
    int depth;         /* open brackets; newlines are skipped while > 0 */
    Arena *arena;
} Lexer;

void lexer_init(Lexer *L, const char *src, size_t len, Arena *arena);
Token lexer_next(Lexer *L);

/* How a token reads in a message: "')'", "end of line", "end of file", "name 'foo'",
 * "number 3", "string \"a\"". Returns buf. */
const char *lexer_describe(const Token *t, char *buf, size_t cap);

#endif
