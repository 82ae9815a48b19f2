/* Lambda bodies: the Python expression subset of docs/rasp-language.md §6, parsed with Python's
 * precedence (or < and < not < comparisons < + - < * / // % < unary - + < ** < [] and
 * calls; ** is right-associative and binds tighter than a unary minus on its left). */
#include <stdlib.h>
#include <string.h>

#include "rasp/parse_internal.h"

typedef struct LambdaCtx {
    int n_params;
    const char *params[8];
} LambdaCtx;

static PyExpr *node(Parser *P, PyKind kind, const Token *at, int n_args) {
    PyExpr *e = arena_alloc(P->a, sizeof *e);
    e->kind = kind;
    e->n_args = n_args;
    if (n_args > 0) e->args = arena_alloc(P->a, sizeof(PyExpr *) * (size_t)n_args);
    e->line = at->line;
    e->col = at->col;
    return e;
}

static bool is_reserved_py(const Token *t) {
    static const char *const kw[] = {"True", "False", "None",   "and", "or", "not",
                                     "if",   "else",  "lambda", "in",  "is", NULL};
    for (int i = 0; kw[i]; i++)
        if (tok_is_name(t, kw[i])) return true;
    return false;
}

static PyExpr *p_ternary(Parser *P, LambdaCtx *C);

static const struct {
    const char *name;
    PyBuiltin fn;
    int min_args, max_args; /* max -1: any */
} builtins[] = {
    {"abs", PYF_ABS, 1, 1},   {"min", PYF_MIN, 1, 8},     {"max", PYF_MAX, 1, 8},
    {"int", PYF_INT, 0, 1},   {"float", PYF_FLOAT, 0, 1}, {"round", PYF_ROUND, 1, 2},
    {"bool", PYF_BOOL, 0, 1},
};

static PyExpr *p_call(Parser *P, LambdaCtx *C, int b) {
    Token name = P->cur;
    padvance(P); /* name */
    padvance(P); /* ( */
    PyExpr *tmp[64];
    int n = 0;
    while (P->cur.kind != TK_RPAREN) {
        if (n > 0) {
            pexpect(P, TK_COMMA, "',' or ')'");
            if (P->cur.kind == TK_RPAREN) break;
        }
        if (P->cur.kind == TK_NAME && ppeek(P)->kind == TK_ASSIGN)
            perr_expected(P, "a positional argument (keyword arguments are not supported in "
                             "lambda bodies)");
        if (n == 64) perr_expected(P, "')' (at most 64 arguments)");
        tmp[n++] = p_ternary(P, C);
    }
    if (n < builtins[b].min_args || (builtins[b].max_args >= 0 && n > builtins[b].max_args)) {
        const char *plural = n == 1 ? "" : "s";
        if (builtins[b].max_args < 0)
            perr_at(P, name.line, name.col, "%s() called with %d argument%s; expected at least %d",
                    builtins[b].name, n, plural, builtins[b].min_args);
        else if (builtins[b].min_args == builtins[b].max_args)
            perr_at(P, name.line, name.col, "%s() called with %d argument%s; expected %d",
                    builtins[b].name, n, plural, builtins[b].min_args);
        else
            perr_at(P, name.line, name.col, "%s() called with %d argument%s; expected %d to %d",
                    builtins[b].name, n, plural, builtins[b].min_args, builtins[b].max_args);
    }
    padvance(P); /* ) */
    PyExpr *e = node(P, PY_CALL, &name, n);
    e->fn = builtins[b].fn;
    if (n > 0) memcpy(e->args, tmp, sizeof(PyExpr *) * (size_t)n);
    return e;
}

static PyExpr *p_atom(Parser *P, LambdaCtx *C) {
    Token t = P->cur;
    switch (t.kind) {
    case TK_INT: {
        padvance(P);
        PyExpr *e = node(P, PY_CONST, &t, 0);
        e->value = val_int(t.ival);
        return e;
    }
    case TK_FLOAT: {
        padvance(P);
        PyExpr *e = node(P, PY_CONST, &t, 0);
        e->value = val_float(t.fval);
        return e;
    }
    case TK_STRING: {
        padvance(P);
        PyExpr *e = node(P, PY_CONST, &t, 0);
        e->value = val_strn(t.str, t.str_len);
        return e;
    }
    case TK_LPAREN: {
        padvance(P);
        if (P->cur.kind == TK_RPAREN) {
            padvance(P);
            return node(P, PY_TUPLE, &t, 0);
        }
        PyExpr *first = p_ternary(P, C);
        if (P->cur.kind == TK_RPAREN) {
            padvance(P);
            return first;
        }
        if (P->cur.kind != TK_COMMA) perr_expected(P, "',' or ')'");
        PyExpr *tmp[64];
        int n = 0;
        tmp[n++] = first;
        while (P->cur.kind == TK_COMMA) {
            padvance(P);
            if (P->cur.kind == TK_RPAREN) break;
            if (n == 64) perr_expected(P, "')' (tuples have at most 64 items)");
            tmp[n++] = p_ternary(P, C);
        }
        pexpect(P, TK_RPAREN, "',' or ')'");
        PyExpr *e = node(P, PY_TUPLE, &t, n);
        memcpy(e->args, tmp, sizeof(PyExpr *) * (size_t)n);
        return e;
    }
    case TK_LBRACE: {
        /* a table: a dict display that is subscripted at once, {k: v, ...}[x]. The pairs
         * live in the arena (a parse error unwinds with longjmp, so nothing is malloc'ed). */
        padvance(P);
        int n = 0, cap = 16;
        PyExpr **kv = arena_alloc(P->a, sizeof(PyExpr *) * (size_t)cap * 2);
        while (P->cur.kind != TK_RBRACE) {
            if (n > 0) {
                if (P->cur.kind != TK_COMMA) perr_expected(P, "',' or '}' in the table");
                padvance(P);
                if (P->cur.kind == TK_RBRACE) break;
            }
            if (n == 1 << 20) perr_expected(P, "'}' (tables have at most 2^20 entries)");
            if (n == cap) {
                PyExpr **g = arena_alloc(P->a, sizeof(PyExpr *) * (size_t)cap * 4);
                memcpy(g, kv, sizeof(PyExpr *) * (size_t)cap * 2);
                kv = g;
                cap *= 2;
            }
            kv[2 * n] = p_ternary(P, C);
            if (P->cur.kind != TK_COLON) perr_expected(P, "':' after a table key");
            padvance(P);
            kv[2 * n + 1] = p_ternary(P, C);
            n++;
        }
        padvance(P); /* } */
        if (P->cur.kind != TK_LBRACKET)
            perr_expected(
                P, "'[' after the table (a dict is only supported subscripted: {k: v, ...}[x])");
        padvance(P);
        PyExpr *ix = p_ternary(P, C);
        pexpect(P, TK_RBRACKET, "']' closing the table subscript");
        PyExpr *e = node(P, PY_LOOKUP, &t, 1 + 2 * n);
        e->args[0] = ix;
        memcpy(e->args + 1, kv, sizeof(PyExpr *) * (size_t)n * 2);
        return e;
    }
    case TK_NAME: {
        for (int i = 0; i < C->n_params; i++) {
            if (strlen(C->params[i]) == t.len && memcmp(C->params[i], t.start, t.len) == 0) {
                if (ppeek(P)->kind == TK_LPAREN)
                    perr_at(P, t.line, t.col,
                            "call of the parameter '%s'; expected a call of abs, min, max, int, "
                            "float, round or bool",
                            C->params[i]);
                padvance(P);
                PyExpr *e = node(P, PY_PARAM, &t, 0);
                e->param = i;
                return e;
            }
        }
        if (tok_is_name(&t, "True") || tok_is_name(&t, "False") || tok_is_name(&t, "None")) {
            padvance(P);
            PyExpr *e = node(P, PY_CONST, &t, 0);
            e->value = t.start[0] == 'N' ? val_none() : val_bool(t.start[0] == 'T');
            return e;
        }
        for (size_t b = 0; b < sizeof builtins / sizeof builtins[0]; b++) {
            if (tok_is_name(&t, builtins[b].name)) {
                if (ppeek(P)->kind != TK_LPAREN)
                    perr_at(P, t.line, t.col,
                            "builtin '%s' used as a value; expected a call %s(...)",
                            builtins[b].name, builtins[b].name);
                return p_call(P, C, (int)b);
            }
        }
        if (tok_is_name(&t, "lambda"))
            perr_at(P, t.line, t.col, "nested lambda; expected an expression of the parameters");
        if (is_reserved_py(&t)) perr_expected(P, "an expression");
        char list[80] = "";
        for (int i = 0; i < C->n_params; i++) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, C->params[i], sizeof list - strlen(list) - 1);
        }
        int n = t.len > 60 ? 60 : (int)t.len;
        perr_at(P, t.line, t.col,
                "unknown name '%.*s' in lambda; expected a parameter (%s), a "
                "literal or a builtin call",
                n, t.start, list);
    }
    default: perr_expected(P, "an expression");
    }
}

static PyExpr *p_postfix(Parser *P, LambdaCtx *C) {
    PyExpr *e = p_atom(P, C);
    while (P->cur.kind == TK_LBRACKET) {
        Token t = P->cur;
        padvance(P);
        depth_enter(P);
        PyExpr *ix = p_ternary(P, C);
        depth_leave(P);
        pexpect(P, TK_RBRACKET, "']' (slices are not supported)");
        PyExpr *n = node(P, PY_INDEX, &t, 2);
        n->args[0] = e;
        n->args[1] = ix;
        e = n;
    }
    return e;
}

static PyExpr *p_factor(Parser *P, LambdaCtx *C);

static PyExpr *p_power(Parser *P, LambdaCtx *C) {
    PyExpr *base = p_postfix(P, C);
    if (P->cur.kind != TK_POW) return base;
    Token t = P->cur;
    padvance(P);
    depth_enter(P);
    PyExpr *ex = p_factor(P, C); /* right operand may carry a unary sign: 2 ** -1 */
    depth_leave(P);
    PyExpr *n = node(P, PY_BIN, &t, 2);
    n->binop = PYB_POW;
    n->args[0] = base;
    n->args[1] = ex;
    return n;
}

static PyExpr *p_factor(Parser *P, LambdaCtx *C) {
    Token t = P->cur;
    if (t.kind == TK_MINUS || t.kind == TK_PLUS) {
        padvance(P);
        bool literal = P->cur.kind == TK_INT || P->cur.kind == TK_FLOAT;
        depth_enter(P);
        PyExpr *x = p_factor(P, C);
        depth_leave(P);
        /* A signed number literal is one constant, so that printing and re-parsing give the
         * same tree: the printer writes a negative constant as "-1" and a negation of a
         * positive constant as "-(1)". */
        if (t.kind == TK_MINUS && literal && x->kind == PY_CONST &&
            (x->value.kind == VAL_INT || x->value.kind == VAL_FLOAT)) {
            PyExpr *c = node(P, PY_CONST, &t, 0);
            c->value = x->value.kind == VAL_INT ? val_int(-x->value.u.i) : val_float(-x->value.u.f);
            return c;
        }
        PyExpr *n = node(P, t.kind == TK_MINUS ? PY_NEG : PY_POS, &t, 1);
        n->args[0] = x;
        return n;
    }
    if (t.kind == TK_TILDE)
        perr_expected(P, "an expression ('~' is not supported in lambda bodies; use 'not')");
    return p_power(P, C);
}

static PyExpr *p_term(Parser *P, LambdaCtx *C) {
    PyExpr *l = p_factor(P, C);
    for (;;) {
        Token t = P->cur;
        PyBinOp op;
        if (t.kind == TK_STAR) op = PYB_MUL;
        else if (t.kind == TK_SLASH) op = PYB_DIV;
        else if (t.kind == TK_DSLASH) op = PYB_FLOORDIV;
        else if (t.kind == TK_PERCENT) op = PYB_MOD;
        else return l;
        padvance(P);
        PyExpr *r = p_factor(P, C);
        PyExpr *n = node(P, PY_BIN, &t, 2);
        n->binop = op;
        n->args[0] = l;
        n->args[1] = r;
        l = n;
    }
}

static PyExpr *p_arith(Parser *P, LambdaCtx *C) {
    PyExpr *l = p_term(P, C);
    for (;;) {
        Token t = P->cur;
        if (t.kind != TK_PLUS && t.kind != TK_MINUS) break;
        padvance(P);
        PyExpr *r = p_term(P, C);
        PyExpr *n = node(P, PY_BIN, &t, 2);
        n->binop = t.kind == TK_PLUS ? PYB_ADD : PYB_SUB;
        n->args[0] = l;
        n->args[1] = r;
        l = n;
    }
    if (P->cur.kind == TK_AMP || P->cur.kind == TK_PIPE)
        perr_expected(P, "'and'/'or' (bitwise operators are not supported in lambda bodies)");
    return l;
}

static bool cmp_op(TokKind k, PyCmpOp *op) {
    switch (k) {
    case TK_EQ: *op = PYC_EQ; return true;
    case TK_NE: *op = PYC_NE; return true;
    case TK_LT: *op = PYC_LT; return true;
    case TK_LE: *op = PYC_LE; return true;
    case TK_GT: *op = PYC_GT; return true;
    case TK_GE: *op = PYC_GE; return true;
    default: return false;
    }
}

static PyExpr *p_comparison(Parser *P, LambdaCtx *C) {
    Token first = P->cur;
    PyExpr *l = p_arith(P, C);
    PyCmpOp op;
    if (!cmp_op(P->cur.kind, &op)) {
        if (tok_is_name(&P->cur, "in") || tok_is_name(&P->cur, "is"))
            perr_expected(P, "a comparison with == != < <= > >= ('in' and 'is' are not supported)");
        return l;
    }
    PyExpr *args[64];
    PyCmpOp ops[63];
    int n = 0;
    args[n++] = l;
    while (cmp_op(P->cur.kind, &op)) {
        if (n == 64) perr_expected(P, "at most 63 comparisons in one chain");
        padvance(P);
        ops[n - 1] = op;
        args[n++] = p_arith(P, C);
    }
    PyExpr *e = node(P, PY_CMP, &first, n);
    memcpy(e->args, args, sizeof(PyExpr *) * (size_t)n);
    e->ops = arena_alloc(P->a, sizeof(PyCmpOp) * (size_t)(n - 1));
    memcpy(e->ops, ops, sizeof(PyCmpOp) * (size_t)(n - 1));
    return e;
}

static PyExpr *p_not(Parser *P, LambdaCtx *C) {
    Token t = P->cur;
    if (tok_is_name(&t, "not")) {
        padvance(P);
        depth_enter(P);
        PyExpr *x = p_not(P, C);
        depth_leave(P);
        PyExpr *n = node(P, PY_NOT, &t, 1);
        n->args[0] = x;
        return n;
    }
    return p_comparison(P, C);
}

static PyExpr *p_and(Parser *P, LambdaCtx *C) {
    PyExpr *l = p_not(P, C);
    while (tok_is_name(&P->cur, "and")) {
        Token t = P->cur;
        padvance(P);
        PyExpr *r = p_not(P, C);
        PyExpr *n = node(P, PY_AND, &t, 2);
        n->args[0] = l;
        n->args[1] = r;
        l = n;
    }
    return l;
}

static PyExpr *p_or(Parser *P, LambdaCtx *C) {
    PyExpr *l = p_and(P, C);
    while (tok_is_name(&P->cur, "or")) {
        Token t = P->cur;
        padvance(P);
        PyExpr *r = p_and(P, C);
        PyExpr *n = node(P, PY_OR, &t, 2);
        n->args[0] = l;
        n->args[1] = r;
        l = n;
    }
    return l;
}

static PyExpr *p_ternary(Parser *P, LambdaCtx *C) {
    depth_enter(P);
    Token start = P->cur;
    PyExpr *then = p_or(P, C);
    if (!tok_is_name(&P->cur, "if")) {
        depth_leave(P);
        return then;
    }
    padvance(P);
    PyExpr *cond = p_or(P, C);
    if (!tok_is_name(&P->cur, "else")) perr_expected(P, "'else'");
    padvance(P);
    PyExpr *other = p_ternary(P, C);
    PyExpr *n = node(P, PY_IF, &start, 3);
    n->args[0] = then;
    n->args[1] = cond;
    n->args[2] = other;
    depth_leave(P);
    return n;
}

Lambda *parse_lambda(Parser *P, int want_params, const char *what) {
    Token lam = P->cur;
    if (!tok_is_name(&lam, "lambda"))
        perr_expected(P, "a lambda with %d parameter%s (%s)", want_params,
                      want_params == 1 ? "" : "s", what);
    padvance(P);
    LambdaCtx C = {0};
    while (P->cur.kind != TK_COLON) {
        if (C.n_params > 0) {
            pexpect(P, TK_COMMA, "',' or ':'");
            if (P->cur.kind == TK_COLON) break;
        }
        Token t = P->cur;
        if (t.kind != TK_NAME || is_reserved_py(&t)) perr_expected(P, "a parameter name");
        if (C.n_params == 8) perr_expected(P, "':' (at most 8 parameters)");
        char *name = arena_strndup(P->a, t.start, t.len);
        for (int i = 0; i < C.n_params; i++)
            if (strcmp(C.params[i], name) == 0)
                perr_at(P, t.line, t.col, "duplicate parameter '%s'; expected distinct names",
                        name);
        C.params[C.n_params++] = name;
        padvance(P);
    }
    padvance(P); /* : */
    if (C.n_params != want_params)
        perr_at(P, lam.line, lam.col, "lambda with %d parameter%s; expected %d (%s)", C.n_params,
                C.n_params == 1 ? "" : "s", want_params, what);
    PyExpr *body = p_ternary(P, &C);
    int depth = 0;
    if (py_tree_size(body, LAMBDA_MAX_NODES, &depth) > LAMBDA_MAX_NODES || depth > LAMBDA_MAX_DEPTH)
        perr_at(P, lam.line, lam.col, "lambda body too large; expected at most %d nodes",
                LAMBDA_MAX_NODES);
    Lambda *f = arena_alloc(P->a, sizeof *f);
    f->n_params = want_params;
    f->params[0] = C.params[0];
    f->params[1] = want_params > 1 ? C.params[1] : NULL;
    f->body = body;
    return f;
}

static int tree_size(const PyExpr *e, int cap, int d, int *maxd, int *count) {
    if (*count > cap) return *count;
    (*count)++;
    if (d > *maxd) *maxd = d;
    if (d > LAMBDA_MAX_DEPTH) {
        *count = cap + 1; /* too deep counts as too large */
        return *count;
    }
    for (int i = 0; i < e->n_args && *count <= cap; i++)
        tree_size(e->args[i], cap, d + 1, maxd, count);
    return *count;
}

int py_tree_size(const PyExpr *e, int cap, int *depth_out) {
    int count = 0, maxd = 0;
    tree_size(e, cap, 1, &maxd, &count);
    if (depth_out) *depth_out = maxd;
    return count;
}
