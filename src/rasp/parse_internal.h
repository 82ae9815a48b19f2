/* Shared state of the .rasp parser (parse.c: statements and calls; parse_lambda.c: lambda
 * bodies; sugar.c: operator sugar, Map fusion and selector simplification).
 *
 * Errors unwind with longjmp to rasp_parse: everything allocated on the way lives in the
 * program's arena or its expression array, which the caller frees, so nothing leaks. */
#ifndef ITRACR_RASP_PARSE_INTERNAL_H
#define ITRACR_RASP_PARSE_INTERNAL_H
#include <setjmp.h>
#include <stdnoreturn.h>

#include "rasp/lexer.h"
#include "rasp/program.h"

/* Guards against inputs that would exhaust the stack or blow up lambda bodies (Map fusion
 * substitutes one body into another, so sizes can grow geometrically). */
#define PARSE_MAX_DEPTH 100    /* nesting of one expression */
#define LAMBDA_MAX_NODES 10000 /* tree size of a lambda body, shared nodes counted again */
#define LAMBDA_MAX_DEPTH 1000

typedef struct Sym {
    const char *name;
    size_t len; /* strlen(name) */
    unsigned hash;
    int idx;  /* expression index */
    int line; /* where it was assigned */
    struct Sym *next;
} Sym;

/* Value of a statement-level expression: an SOp, a selector or a constant. */
typedef enum { TERM_SOP, TERM_SEL, TERM_CONST } TermKind;
typedef struct Term {
    TermKind kind;
    int idx;       /* TERM_SOP, TERM_SEL */
    Value v;       /* TERM_CONST */
    int line, col; /* where the expression starts */
} Term;

typedef struct Parser {
    RaspProgram *p;
    Arena *a;
    Lexer lx;
    Token cur, nxt;
    bool has_nxt;
    const char *filename;
    char *err;
    size_t errcap;
    jmp_buf jb;
    Sym **syms; /* hash table [sym_mask + 1], chained; grows with the names so a lookup
                      * stays O(1) for files of any size */
    unsigned sym_mask;
    int n_syms;
    int depth;
    int tokens_idx, indices_idx; /* -1 until first used */
} Parser;

noreturn void perr_at(Parser *P, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "found <cur>; expected <...>" at the current token. */
noreturn void perr_expected(Parser *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void padvance(Parser *P);
const Token *ppeek(Parser *P);
bool tok_is_name(const Token *t, const char *name);
void pexpect(Parser *P, TokKind k, const char *what);
void depth_enter(Parser *P);
void depth_leave(Parser *P);

/* parse_lambda.c: cur is the 'lambda' keyword. want_params is 1 or 2; what names the
 * function's role for messages ("Map's function"). */
Lambda *parse_lambda(Parser *P, int want_params, const char *what);
/* Tree size of e, counting shared nodes each time, stopping at cap+1; *depth_out gets the
 * depth (also capped). */
int py_tree_size(const PyExpr *e, int cap, int *depth_out);

/* sugar.c */
int expr_new(Parser *P, ExprKind kind, int line, int col); /* a blank expression */
int sugar_map(Parser *P, Lambda *f, int inner, bool simplify, int line, int col);
int sugar_sel_not(Parser *P, int sel, int line, int col);
int sugar_sel_combine(Parser *P, bool is_and, int fst, int snd, int line, int col);
/* l OP r for the operators + - * / == != < <= > >= & | (Tracr's dunder methods). */
Term sugar_binary(Parser *P, TokKind op, const Token *op_tok, Term l, Term r);
Term sugar_invert(Parser *P, const Token *op_tok, Term x);
Term sugar_negate(Parser *P, const Token *op_tok, Term x, bool plus);
Term sugar_power(Parser *P, const Token *op_tok, Term l, Term r);
/* An annotated copy, as Tracr's .named()/numerical()/categorical() make one. */
int expr_copy(Parser *P, int idx);

#endif
