/* .rasp parser: statements, directives and the calls that build the expression graph
 * (docs/rasp-language.md). Lambda bodies are in parse_lambda.c, operator sugar and Tracr's
 * construction-time simplifications in sugar.c. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rasp/parse_internal.h"
#include "rasp/rasp.h"

/* ---- errors and tokens --------------------------------------------------------------- */

static void verr_at(Parser *P, int line, int col, const char *fmt, va_list ap) {
    int n = snprintf(P->err, P->errcap, "%s:%d:%d: error: ", P->filename, line, col);
    if (n >= 0 && (size_t)n < P->errcap) vsnprintf(P->err + n, P->errcap - (size_t)n, fmt, ap);
}

noreturn void perr_at(Parser *P, int line, int col, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    verr_at(P, line, col, fmt, ap);
    va_end(ap);
    longjmp(P->jb, 1);
}

static noreturn void perr_token(Parser *P, const Token *t) {
    perr_at(P, t->line, t->col, "%s", t->err ? t->err : "bad token");
}

noreturn void perr_expected(Parser *P, const char *fmt, ...) {
    if (P->cur.kind == TK_ERROR) perr_token(P, &P->cur);
    char found[96], what[256];
    lexer_describe(&P->cur, found, sizeof found);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    perr_at(P, P->cur.line, P->cur.col, "found %s; expected %s", found, what);
}

void padvance(Parser *P) {
    if (P->has_nxt) {
        P->cur = P->nxt;
        P->has_nxt = false;
    } else {
        P->cur = lexer_next(&P->lx);
    }
    if (P->cur.kind == TK_ERROR) perr_token(P, &P->cur);
}

const Token *ppeek(Parser *P) {
    if (!P->has_nxt) {
        P->nxt = lexer_next(&P->lx);
        P->has_nxt = true;
    }
    return &P->nxt;
}

bool tok_is_name(const Token *t, const char *name) {
    return t->kind == TK_NAME && strlen(name) == t->len && memcmp(t->start, name, t->len) == 0;
}

void pexpect(Parser *P, TokKind k, const char *what) {
    if (P->cur.kind != k) perr_expected(P, "%s", what);
    padvance(P);
}

void depth_enter(Parser *P) {
    if (++P->depth > PARSE_MAX_DEPTH)
        perr_at(P, P->cur.line, P->cur.col,
                "expression nested too deeply; expected at most %d levels", PARSE_MAX_DEPTH);
}
void depth_leave(Parser *P) { P->depth--; }

/* ---- names --------------------------------------------------------------------------- */

static const char *const reserved_names[] = {"tokens",
                                             "indices",
                                             "Map",
                                             "SequenceMap",
                                             "LinearSequenceMap",
                                             "Select",
                                             "Aggregate",
                                             "SelectorWidth",
                                             "numerical",
                                             "categorical",
                                             "SelectorAnd",
                                             "SelectorOr",
                                             "SelectorNot",
                                             "Full",
                                             "EQ",
                                             "LT",
                                             "LEQ",
                                             "GT",
                                             "GEQ",
                                             "NEQ",
                                             "TRUE",
                                             "FALSE",
                                             "lambda",
                                             "True",
                                             "False",
                                             "None",
                                             "and",
                                             "or",
                                             "not",
                                             "if",
                                             "else",
                                             "in",
                                             "is",
                                             "vocab",
                                             "max_seq_len",
                                             "causal",
                                             "mlp_exactness",
                                             "output",
                                             NULL};

static bool is_reserved(const Token *t) {
    for (int i = 0; reserved_names[i]; i++)
        if (tok_is_name(t, reserved_names[i])) return true;
    return false;
}

static unsigned sym_hash(const char *s, size_t n) {
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static Sym *sym_find(Parser *P, const Token *t) {
    if (!P->syms) return NULL;
    unsigned h = sym_hash(t->start, t->len);
    for (Sym *s = P->syms[h & P->sym_mask]; s; s = s->next)
        if (s->hash == h && s->len == t->len && memcmp(s->name, t->start, t->len) == 0) return s;
    return NULL;
}

/* Doubles the table when it is half full (names are never reassigned, so the order within
 * a chain does not matter). The old table stays in the arena: at most as much again. */
static void sym_grow(Parser *P) {
    unsigned cap = P->syms ? 2 * (P->sym_mask + 1) : 256;
    Sym **t = arena_alloc(P->a, sizeof *t * cap);
    memset(t, 0, sizeof *t * cap);
    for (unsigned b = 0; P->syms && b <= P->sym_mask; b++)
        for (Sym *s = P->syms[b], *nx; s; s = nx) {
            nx = s->next;
            s->next = t[s->hash & (cap - 1)];
            t[s->hash & (cap - 1)] = s;
        }
    P->syms = t;
    P->sym_mask = cap - 1;
}

static Sym *sym_add(Parser *P, const Token *t, int idx) {
    if (!P->syms || (unsigned)P->n_syms >= (P->sym_mask + 1) / 2) sym_grow(P);
    Sym *s = arena_alloc(P->a, sizeof *s);
    s->name = arena_strndup(P->a, t->start, t->len);
    s->len = t->len;
    s->hash = sym_hash(t->start, t->len);
    s->idx = idx;
    s->line = t->line;
    s->next = P->syms[s->hash & P->sym_mask];
    P->syms[s->hash & P->sym_mask] = s;
    P->n_syms++;
    return s;
}

static int primitive(Parser *P, ExprKind kind, const Token *at) {
    int *slot = kind == EXPR_TOKENS ? &P->tokens_idx : &P->indices_idx;
    if (*slot < 0) {
        *slot = expr_new(P, kind, at->line, at->col);
        RaspExpr *e = &P->p->exprs[*slot];
        e->label = e->name = rasp_default_name(kind);
    }
    return *slot;
}

static bool is_primitive(Parser *P, int idx) {
    return idx == P->tokens_idx || idx == P->indices_idx;
}

/* ---- calls --------------------------------------------------------------------------- */

typedef enum { A_SOP, A_SEL, A_CONST, A_NUM, A_BOOL, A_LAMBDA1, A_LAMBDA2, A_PRED } ArgType;
typedef enum {
    C_MAP,
    C_SEQMAP,
    C_LINSEQMAP,
    C_SELECT,
    C_AGGREGATE,
    C_SELWIDTH,
    C_NUMERICAL,
    C_CATEGORICAL,
    C_SEL_AND,
    C_SEL_OR,
    C_SEL_NOT,
    C_FULL
} CallId;

typedef struct CallSpec {
    const char *name;
    CallId id;
    int n_req, n_max;
    ArgType type[4];
    const char *kw[4]; /* keyword name of an optional argument */
    const char *role[4];
} CallSpec;

static const CallSpec call_specs[] = {
    {"Map",
     C_MAP,
     2,
     3,
     {A_LAMBDA1, A_SOP, A_BOOL},
     {NULL, NULL, "simplify"},
     {"Map's function", NULL, NULL}},
    {"SequenceMap", C_SEQMAP, 3, 3, {A_LAMBDA2, A_SOP, A_SOP}, {NULL}, {"SequenceMap's function"}},
    {"LinearSequenceMap", C_LINSEQMAP, 4, 4, {A_SOP, A_SOP, A_NUM, A_NUM}, {NULL}, {NULL}},
    {"Select",
     C_SELECT,
     3,
     3,
     {A_SOP, A_SOP, A_PRED},
     {NULL},
     {NULL, NULL, "a predicate (key, query)"}},
    {"Aggregate", C_AGGREGATE, 2, 3, {A_SEL, A_SOP, A_CONST}, {NULL, NULL, "default"}, {NULL}},
    {"SelectorWidth", C_SELWIDTH, 1, 1, {A_SEL}, {NULL}, {NULL}},
    {"numerical", C_NUMERICAL, 1, 1, {A_SOP}, {NULL}, {NULL}},
    {"categorical", C_CATEGORICAL, 1, 1, {A_SOP}, {NULL}, {NULL}},
    {"SelectorAnd", C_SEL_AND, 2, 2, {A_SEL, A_SEL}, {NULL}, {NULL}},
    {"SelectorOr", C_SEL_OR, 2, 2, {A_SEL, A_SEL}, {NULL}, {NULL}},
    {"SelectorNot", C_SEL_NOT, 1, 1, {A_SEL}, {NULL}, {NULL}},
    {"Full", C_FULL, 1, 1, {A_CONST}, {NULL}, {NULL}},
};

static const char *arg_desc(ArgType t) {
    switch (t) {
    case A_SOP: return "an SOp";
    case A_SEL: return "a selector";
    case A_CONST: return "a constant";
    case A_NUM: return "a number";
    case A_BOOL: return "True or False";
    case A_LAMBDA1: return "a lambda with 1 parameter";
    case A_LAMBDA2: return "a lambda with 2 parameters";
    case A_PRED: return "a predicate (EQ, LT, LEQ, GT, GEQ, NEQ, TRUE, FALSE or lambda k, q: ...)";
    }
    return "?";
}

static const char *term_desc(const Term *t) {
    if (t->kind == TERM_SOP) return "an SOp";
    if (t->kind == TERM_SEL) return "a selector";
    switch (t->v.kind) {
    case VAL_NONE: return "None";
    case VAL_BOOL: return "a bool";
    case VAL_INT: return "an int";
    case VAL_FLOAT: return "a float";
    case VAL_STR: return "a string";
    default: return "a tuple";
    }
}

typedef struct Arg {
    bool given;
    Term t;
    Lambda *fn;
    Pred pred;
} Arg;

static Term p_expr(Parser *P);

static void parse_arg(Parser *P, const CallSpec *cs, int i, Arg *out) {
    ArgType ty = cs->type[i];
    Token start = P->cur;
    out->given = true;
    if (ty == A_LAMBDA1 || ty == A_LAMBDA2) {
        out->fn = parse_lambda(P, ty == A_LAMBDA1 ? 1 : 2, cs->role[i]);
        return;
    }
    if (ty == A_PRED) {
        static const char *const preds[] = {"EQ", "LT", "LEQ", "GT", "GEQ", "NEQ", "TRUE", "FALSE"};
        for (int k = 0; k < 8; k++) {
            if (tok_is_name(&start, preds[k])) {
                padvance(P);
                out->pred = (Pred)k;
                return;
            }
        }
        if (!tok_is_name(&start, "lambda"))
            perr_expected(P, "%s as argument %d of Select", arg_desc(ty), i + 1);
        out->pred = PRED_LAMBDA;
        out->fn = parse_lambda(P, 2, "a Select predicate takes key and query");
        return;
    }
    if (start.kind == TK_NAME && tok_is_name(&start, "lambda"))
        perr_at(P, start.line, start.col, "found a lambda; expected %s as argument %d of %s",
                arg_desc(ty), i + 1, cs->name);
    Term t = p_expr(P);
    out->t = t;
    bool ok;
    switch (ty) {
    case A_SOP: ok = t.kind == TERM_SOP; break;
    case A_SEL: ok = t.kind == TERM_SEL; break;
    case A_CONST: ok = t.kind == TERM_CONST && t.v.kind != VAL_TUPLE; break;
    case A_NUM: ok = t.kind == TERM_CONST && (t.v.kind == VAL_INT || t.v.kind == VAL_FLOAT); break;
    case A_BOOL: ok = t.kind == TERM_CONST && t.v.kind == VAL_BOOL; break;
    default: ok = false; break;
    }
    if (!ok)
        perr_at(P, t.line, t.col, "found %s; expected %s as argument %d of %s", term_desc(&t),
                arg_desc(ty), i + 1, cs->name);
}

static Term build_call(Parser *P, const CallSpec *cs, Arg *a, const Token *at) {
    int line = at->line, col = at->col;
    Term r = {TERM_SOP, -1, val_none(), line, col};
    RaspExpr *e;
    switch (cs->id) {
    case C_MAP:
        r.idx = sugar_map(P, a[0].fn, a[1].t.idx, a[2].given ? a[2].t.v.u.b : true, line, col);
        break;
    case C_SEQMAP:
        r.idx = expr_new(P, EXPR_SEQMAP, line, col);
        e = &P->p->exprs[r.idx];
        e->fn = a[0].fn;
        e->child[0] = a[1].t.idx;
        e->child[1] = a[2].t.idx;
        break;
    case C_LINSEQMAP: {
        /* Tracr's function: lambda x, y: fst_fac * x + snd_fac * y */
        Arena *A = P->a;
        PyExpr *body =
            py_binary(A, PYB_ADD, py_binary(A, PYB_MUL, py_const(A, a[2].t.v), py_param(A, 0)),
                      py_binary(A, PYB_MUL, py_const(A, a[3].t.v), py_param(A, 1)));
        Lambda *f = arena_alloc(A, sizeof *f);
        f->n_params = 2;
        f->params[0] = "x";
        f->params[1] = "y";
        f->body = body;
        r.idx = expr_new(P, EXPR_LINSEQMAP, line, col);
        e = &P->p->exprs[r.idx];
        e->fn = f;
        e->child[0] = a[0].t.idx;
        e->child[1] = a[1].t.idx;
        e->lin_a = a[2].t.v;
        e->lin_b = a[3].t.v;
        break;
    }
    case C_SELECT:
        r.kind = TERM_SEL;
        r.idx = expr_new(P, EXPR_SELECT, line, col);
        e = &P->p->exprs[r.idx];
        e->child[0] = a[0].t.idx;
        e->child[1] = a[1].t.idx;
        e->pred = a[2].pred;
        e->fn = a[2].pred == PRED_LAMBDA ? a[2].fn : NULL;
        break;
    case C_AGGREGATE:
        r.idx = expr_new(P, EXPR_AGGREGATE, line, col);
        e = &P->p->exprs[r.idx];
        e->child[0] = a[0].t.idx;
        e->child[1] = a[1].t.idx;
        e->default_value = a[2].given ? a[2].t.v : val_none();
        break;
    case C_SELWIDTH:
        r.idx = expr_new(P, EXPR_SELWIDTH, line, col);
        P->p->exprs[r.idx].child[0] = a[0].t.idx;
        break;
    case C_NUMERICAL:
    case C_CATEGORICAL: {
        Encoding enc = cs->id == C_NUMERICAL ? ENC_NUMERICAL : ENC_CATEGORICAL;
        int x = a[0].t.idx;
        if (is_primitive(P, x)) {
            /* every copy of tokens/indices is the one graph node "tokens"/"indices"; a
             * numerical annotation on it sticks so that the validator can report it */
            if (enc == ENC_NUMERICAL) P->p->exprs[x].enc = ENC_NUMERICAL;
            r.idx = x;
        } else {
            r.idx = expr_copy(P, x);
            P->p->exprs[r.idx].enc = enc;
        }
        break;
    }
    case C_SEL_AND:
    case C_SEL_OR:
        r.kind = TERM_SEL;
        r.idx = expr_new(P, cs->id == C_SEL_AND ? EXPR_SEL_AND : EXPR_SEL_OR, line, col);
        P->p->exprs[r.idx].child[0] = a[0].t.idx;
        P->p->exprs[r.idx].child[1] = a[1].t.idx;
        break;
    case C_SEL_NOT:
        r.kind = TERM_SEL;
        r.idx = expr_new(P, EXPR_SEL_NOT, line, col);
        P->p->exprs[r.idx].child[0] = a[0].t.idx;
        break;
    case C_FULL:
        r.idx = expr_new(P, EXPR_FULL, line, col);
        P->p->exprs[r.idx].full_value = a[0].t.v;
        break;
    }
    return r;
}

static Term parse_call(Parser *P, const CallSpec *cs) {
    Token at = P->cur;
    padvance(P); /* name */
    if (P->cur.kind != TK_LPAREN) perr_expected(P, "'(' after %s", cs->name);
    padvance(P);
    Arg args[4];
    memset(args, 0, sizeof args);
    int n = 0;
    bool seen_kw = false;
    for (;;) {
        if (P->cur.kind == TK_RPAREN) {
            if (n < cs->n_req)
                perr_expected(P, "%s as argument %d of %s", arg_desc(cs->type[n]), n + 1, cs->name);
            break;
        }
        if (n > 0 || seen_kw) {
            pexpect(P, TK_COMMA, "',' or ')'");
            if (P->cur.kind == TK_RPAREN) continue;
        }
        if (P->cur.kind == TK_NAME && ppeek(P)->kind == TK_ASSIGN) {
            Token kw = P->cur;
            int k = -1;
            for (int i = 0; i < cs->n_max; i++)
                if (cs->kw[i] && tok_is_name(&kw, cs->kw[i])) k = i;
            if (k < 0) {
                int len = kw.len > 40 ? 40 : (int)kw.len;
                if (cs->id == C_MAP)
                    perr_at(P, kw.line, kw.col,
                            "unknown keyword argument '%.*s'; expected simplify=", len, kw.start);
                if (cs->id == C_AGGREGATE)
                    perr_at(P, kw.line, kw.col,
                            "unknown keyword argument '%.*s'; expected default=", len, kw.start);
                perr_at(P, kw.line, kw.col,
                        "unknown keyword argument '%.*s'; expected %s takes no keyword arguments",
                        len, kw.start, cs->name);
            }
            if (args[k].given)
                perr_at(P, kw.line, kw.col, "argument '%s' given twice; expected it once",
                        cs->kw[k]);
            padvance(P);
            padvance(P);
            seen_kw = true;
            parse_arg(P, cs, k, &args[k]);
            if (k < cs->n_req) n = k + 1;
            continue;
        }
        if (seen_kw) perr_expected(P, "a keyword argument (positional arguments come first)");
        if (n >= cs->n_max) {
            if (cs->n_req == cs->n_max)
                perr_expected(P, "')' (%s takes %d argument%s)", cs->name, cs->n_max,
                              cs->n_max == 1 ? "" : "s");
            perr_expected(P, "')' (%s takes %d or %d arguments)", cs->name, cs->n_req, cs->n_max);
        }
        depth_enter(P);
        parse_arg(P, cs, n, &args[n]);
        depth_leave(P);
        n++;
    }
    padvance(P); /* ) */
    return build_call(P, cs, args, &at);
}

/* ---- statement-level expressions ----------------------------------------------------- */

static Term term_const(Value v, const Token *at) {
    Term t = {TERM_CONST, -1, v, at->line, at->col};
    return t;
}

static Term p_atom(Parser *P) {
    Token t = P->cur;
    switch (t.kind) {
    case TK_INT: padvance(P); return term_const(val_int(t.ival), &t);
    case TK_FLOAT: padvance(P); return term_const(val_float(t.fval), &t);
    case TK_STRING: padvance(P); return term_const(val_strn(t.str, t.str_len), &t);
    case TK_LPAREN: {
        padvance(P);
        Term x = p_expr(P);
        pexpect(P, TK_RPAREN, "')'");
        x.line = t.line;
        x.col = t.col;
        return x;
    }
    case TK_NAME: {
        if (tok_is_name(&t, "tokens") || tok_is_name(&t, "indices")) {
            padvance(P);
            Term r = {TERM_SOP, primitive(P, t.start[0] == 't' ? EXPR_TOKENS : EXPR_INDICES, &t),
                      val_none(), t.line, t.col};
            return r;
        }
        if (tok_is_name(&t, "True") || tok_is_name(&t, "False") || tok_is_name(&t, "None")) {
            padvance(P);
            return term_const(t.start[0] == 'N' ? val_none() : val_bool(t.start[0] == 'T'), &t);
        }
        for (size_t i = 0; i < sizeof call_specs / sizeof call_specs[0]; i++)
            if (tok_is_name(&t, call_specs[i].name)) return parse_call(P, &call_specs[i]);
        if (tok_is_name(&t, "lambda"))
            perr_at(P, t.line, t.col,
                    "found a lambda; expected an SOp, a selector or a constant (lambdas are "
                    "arguments of Map, SequenceMap and Select)");
        if (is_reserved(&t)) {
            if (t.len <= 5 && t.start[0] >= 'A' && t.start[0] <= 'Z')
                perr_expected(P, "an expression (predicates are the third argument of Select)");
            perr_expected(P, "an expression");
        }
        Sym *s = sym_find(P, &t);
        if (!s) {
            int n = t.len > 60 ? 60 : (int)t.len;
            perr_at(P, t.line, t.col,
                    "unknown name '%.*s'; expected a name assigned on an earlier line", n, t.start);
        }
        padvance(P);
        Term r = {rasp_is_selector(P->p->exprs[s->idx].kind) ? TERM_SEL : TERM_SOP, s->idx,
                  val_none(), t.line, t.col};
        return r;
    }
    default: perr_expected(P, "an expression");
    }
}

static Term p_factor(Parser *P);

static Term p_power(Parser *P) {
    Term l = p_atom(P);
    if (P->cur.kind != TK_POW) return l;
    Token op = P->cur;
    padvance(P);
    Term r = p_factor(P);
    Term x = sugar_power(P, &op, l, r);
    x.line = l.line;
    x.col = l.col;
    return x;
}

static Term p_factor(Parser *P) {
    Token op = P->cur;
    if (op.kind != TK_MINUS && op.kind != TK_PLUS && op.kind != TK_TILDE) return p_power(P);
    padvance(P);
    depth_enter(P);
    Term x = p_factor(P);
    depth_leave(P);
    Term r =
        op.kind == TK_TILDE ? sugar_invert(P, &op, x) : sugar_negate(P, &op, x, op.kind == TK_PLUS);
    r.line = op.line;
    r.col = op.col;
    return r;
}

static Term p_binary_level(Parser *P, int level);

/* levels, loosest first: 0 '|', 1 '&', 2 '+ -', 3 '* / // %' */
static bool level_has(int level, TokKind k) {
    switch (level) {
    case 0: return k == TK_PIPE;
    case 1: return k == TK_AMP;
    case 2: return k == TK_PLUS || k == TK_MINUS;
    default: return k == TK_STAR || k == TK_SLASH || k == TK_DSLASH || k == TK_PERCENT;
    }
}

static Term p_binary_level(Parser *P, int level) {
    Term l = level == 3 ? p_factor(P) : p_binary_level(P, level + 1);
    while (level_has(level, P->cur.kind)) {
        Token op = P->cur;
        padvance(P);
        Term r = level == 3 ? p_factor(P) : p_binary_level(P, level + 1);
        Term x = sugar_binary(P, op.kind, &op, l, r);
        x.line = l.line;
        x.col = l.col;
        l = x;
    }
    return l;
}

static bool is_cmp(TokKind k) {
    return k == TK_EQ || k == TK_NE || k == TK_LT || k == TK_LE || k == TK_GT || k == TK_GE;
}

static Term p_expr(Parser *P) {
    depth_enter(P);
    Term l = p_binary_level(P, 0);
    if (is_cmp(P->cur.kind)) {
        Token op = P->cur;
        padvance(P);
        Term r = p_binary_level(P, 0);
        Term x = sugar_binary(P, op.kind, &op, l, r);
        x.line = l.line;
        x.col = l.col;
        l = x;
        if (is_cmp(P->cur.kind))
            perr_expected(P,
                          "one comparison (chained comparisons are not supported outside lambdas)");
    }
    depth_leave(P);
    return l;
}

/* ---- statements ---------------------------------------------------------------------- */

typedef struct Directives {
    int vocab_line, seq_line, causal_line, exact_line, output_line;
    Token output;
} Directives;

static void check_dup(Parser *P, const Token *t, int *seen_line) {
    if (*seen_line) {
        int n = (int)t->len;
        perr_at(P, t->line, t->col,
                "duplicate '%.*s' directive (first on line %d); expected one per program", n,
                t->start, *seen_line);
    }
    *seen_line = t->line;
}

static int positive_int(Parser *P, const char *what) {
    if (P->cur.kind != TK_INT || P->cur.ival <= 0)
        perr_expected(P, "a positive integer after %s", what);
    if (P->cur.ival > INT_MAX) perr_expected(P, "a positive integer below 2**31 after %s", what);
    int v = (int)P->cur.ival;
    padvance(P);
    return v;
}

static void parse_vocab(Parser *P) {
    RaspProgram *p = P->p;
    pexpect(P, TK_LBRACE, "'{' starting the vocabulary");
    Value *items = NULL;
    int *table = NULL;
    int n = 0, cap = 0;
    while (P->cur.kind != TK_RBRACE) {
        if (n > 0) {
            pexpect(P, TK_COMMA, "',' or '}'");
            if (P->cur.kind == TK_RBRACE) break;
        }
        Term t = p_expr(P);
        if (t.kind != TERM_CONST || t.v.kind == VAL_NONE || t.v.kind == VAL_TUPLE)
            perr_at(P, t.line, t.col,
                    "found %s in the vocabulary; expected an int, float, string or bool",
                    term_desc(&t));
        /* the duplicate check through a hash table of item indices [2 * cap] (-1: empty),
         * so a large vocabulary parses in linear time */
        size_t mask = cap ? 2 * (size_t)cap - 1 : 0, j = 0;
        bool dup = false;
        if (cap)
            for (j = val_hash(t.v) & mask; table[j] >= 0 && !dup; j = dup ? j : (j + 1) & mask)
                dup = val_eq(items[table[j]], t.v);
        if (dup) continue; /* Python set semantics: the first representative stays */
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            Value *x = arena_alloc(P->a, sizeof(Value) * (size_t)cap);
            if (n) memcpy(x, items, sizeof(Value) * (size_t)n);
            items = x;
            mask = 2 * (size_t)cap - 1;
            table = arena_alloc(P->a, sizeof(int) * (mask + 1));
            memset(table, 0xff, sizeof(int) * (mask + 1));
            for (int i = 0; i < n; i++) {
                size_t k = val_hash(items[i]) & mask;
                while (table[k] >= 0) k = (k + 1) & mask;
                table[k] = i;
            }
            for (j = val_hash(t.v) & mask; table[j] >= 0; j = (j + 1) & mask) {}
        }
        table[j] = n;
        items[n++] = t.v;
    }
    if (n == 0) perr_expected(P, "at least one vocabulary value");
    padvance(P); /* } */
    p->vocab = items;
    p->n_vocab = n;
    p->has_vocab = true;
}

static void parse_statement(Parser *P, Directives *D, Sym **last) {
    Token t = P->cur;
    if (t.kind != TK_NAME) perr_expected(P, "a statement (NAME = EXPR or a directive)");
    if (ppeek(P)->kind == TK_ASSIGN) {
        if (is_reserved(&t)) {
            int n = (int)t.len;
            perr_at(P, t.line, t.col,
                    "cannot assign to the reserved name '%.*s'; expected a new name", n, t.start);
        }
        Sym *old = sym_find(P, &t);
        if (old)
            perr_at(P, t.line, t.col,
                    "name '%s' is already assigned (line %d); expected a new name", old->name,
                    old->line);
        padvance(P);
        padvance(P);
        Term x = p_expr(P);
        if (x.kind == TERM_CONST)
            perr_at(P, x.line, x.col,
                    "found %s; expected an SOp or a selector (Full(VALUE) makes a constant SOp)",
                    term_desc(&x));
        int idx = x.idx;
        if (!is_primitive(P, idx)) {
            /* Tracr's .named() returns an annotated copy; the unnamed original stays
             * unreachable and is dropped when the program is compacted */
            idx = expr_copy(P, idx);
            RaspExpr *e = &P->p->exprs[idx];
            e->name = e->label = arena_strndup(P->a, t.start, t.len);
            e->user_named = true;
        }
        *last = sym_add(P, &t, idx);
        return;
    }
    padvance(P);
    if (tok_is_name(&t, "vocab")) {
        check_dup(P, &t, &D->vocab_line);
        parse_vocab(P);
    } else if (tok_is_name(&t, "max_seq_len")) {
        check_dup(P, &t, &D->seq_line);
        if (P->cur.kind == TK_INT && P->cur.ival > RASP_MAX_SEQ_LEN)
            perr_expected(P, "a max_seq_len of at most %d", RASP_MAX_SEQ_LEN);
        P->p->max_seq_len = positive_int(P, "max_seq_len");
    } else if (tok_is_name(&t, "mlp_exactness")) {
        check_dup(P, &t, &D->exact_line);
        P->p->mlp_exactness = positive_int(P, "mlp_exactness");
    } else if (tok_is_name(&t, "causal")) {
        check_dup(P, &t, &D->causal_line);
        P->p->causal = true;
    } else if (tok_is_name(&t, "output")) {
        check_dup(P, &t, &D->output_line);
        if (P->cur.kind != TK_NAME) perr_expected(P, "the name of the output SOp");
        D->output = P->cur;
        padvance(P);
    } else {
        /* a name that is neither assigned nor a directive: say what should follow it */
        perr_expected(P, "'=' (or a directive: vocab, max_seq_len, causal, mlp_exactness, output)");
    }
}

/* Keeps only the expressions reachable from the output, in index order. */
static void compact(RaspProgram *p) {
    int n = p->n_exprs;
    int *map = malloc(sizeof(int) * (size_t)(n ? n : 1));
    int *stack = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!map || !stack) {
        fprintf(stderr, "itracr: out of memory\n");
        abort();
    }
    for (int i = 0; i < n; i++) map[i] = -1;
    int sp = 0;
    stack[sp++] = p->output;
    map[p->output] = 0;
    while (sp) {
        const RaspExpr *e = &p->exprs[stack[--sp]];
        for (int c = 0; c < 2; c++)
            if (e->child[c] >= 0 && map[e->child[c]] < 0) {
                map[e->child[c]] = 0;
                stack[sp++] = e->child[c];
            }
    }
    /* tokens and indices first (they have no children), so that the order does not depend on
     * where a primitive was first mentioned: formatting and re-parsing keep the indices */
    int k = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
            if (map[i] < 0) continue;
            ExprKind kind = p->exprs[i].kind;
            if (pass == 0 && kind == EXPR_TOKENS) map[i] = k++;
            if (pass == 1 && kind == EXPR_INDICES) map[i] = k++;
        }
    }
    RaspExpr *old = malloc(sizeof(RaspExpr) * (size_t)(n ? n : 1));
    if (!old) {
        fprintf(stderr, "itracr: out of memory\n");
        abort();
    }
    memcpy(old, p->exprs, sizeof(RaspExpr) * (size_t)n);
    for (int i = 0; i < n; i++) {
        if (map[i] < 0) continue;
        ExprKind kind = old[i].kind;
        if (kind != EXPR_TOKENS && kind != EXPR_INDICES) map[i] = k++;
    }
    for (int i = 0; i < n; i++) {
        if (map[i] < 0) continue;
        RaspExpr e = old[i];
        for (int c = 0; c < 2; c++)
            if (e.child[c] >= 0) e.child[c] = map[e.child[c]];
        p->exprs[map[i]] = e;
    }
    p->output = map[p->output];
    p->n_exprs = k;
    free(old);
    free(map);
    free(stack);
}

static int cmp_label(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A user's name can coincide with the label Tracr's numbering gives an unnamed expression
 * ("map_3"); the graph needs unique labels, so that name is rejected. */
static void check_labels(Parser *P) {
    RaspProgram *p = P->p;
    const char **labels = malloc(sizeof(char *) * (size_t)(p->n_exprs ? p->n_exprs : 1));
    if (!labels) {
        fprintf(stderr, "itracr: out of memory\n");
        abort();
    }
    int n = 0;
    for (int i = 0; i < p->n_exprs; i++)
        if (p->exprs[i].label) labels[n++] = p->exprs[i].label;
    qsort(labels, (size_t)n, sizeof *labels, cmp_label);
    const char *dup = NULL;
    for (int i = 1; i < n && !dup; i++)
        if (strcmp(labels[i - 1], labels[i]) == 0) dup = labels[i];
    free(labels); /* the labels themselves live in the arena */
    if (!dup) return;
    Token t;
    memset(&t, 0, sizeof t);
    t.kind = TK_NAME;
    t.start = dup;
    t.len = strlen(dup);
    const Sym *s = sym_find(P, &t);
    int len = t.len > 60 ? 60 : (int)t.len;
    perr_at(P, s ? s->line : 1, 1,
            "name '%.*s' is also the label of an unnamed expression; expected another name", len,
            dup);
}

static void parse_program(Parser *P) {
    Directives D;
    memset(&D, 0, sizeof D);
    Sym *last = NULL;
    padvance(P);
    for (;;) {
        while (P->cur.kind == TK_NEWLINE) padvance(P);
        if (P->cur.kind == TK_EOF) break;
        parse_statement(P, &D, &last);
        if (P->cur.kind != TK_NEWLINE && P->cur.kind != TK_EOF) perr_expected(P, "end of line");
    }
    if (!last)
        perr_at(P, P->cur.line, P->cur.col,
                "program has no assignment; expected at least one NAME = EXPR");
    int out;
    if (D.output_line) {
        Sym *s = sym_find(P, &D.output);
        int n = D.output.len > 60 ? 60 : (int)D.output.len;
        if (!s)
            perr_at(P, D.output.line, D.output.col,
                    "output of undefined name '%.*s'; expected a name assigned "
                    "in this program",
                    n, D.output.start);
        if (rasp_is_selector(P->p->exprs[s->idx].kind))
            perr_at(P, D.output.line, D.output.col, "output '%.*s' is a selector; expected an SOp",
                    n, D.output.start);
        out = s->idx;
    } else {
        if (rasp_is_selector(P->p->exprs[last->idx].kind))
            perr_at(P, last->line, 1,
                    "the last assignment '%s' is a selector; expected an SOp as the output "
                    "(or an 'output NAME' line)",
                    last->name);
        out = last->idx;
    }
    if (is_primitive(P, out)) {
        const Sym *s = D.output_line ? sym_find(P, &D.output) : last;
        perr_at(P, s->line, 1,
                "the output '%s' is %s itself; expected a computed SOp (e.g. Map(lambda x: x, %s))",
                s->name, rasp_default_name(P->p->exprs[out].kind),
                rasp_default_name(P->p->exprs[out].kind));
    }
    P->p->output = out;
    compact(P->p);
    rasp_assign_labels(P->p);
    check_labels(P);
}

static int parse_text(const char *filename, const char *text, size_t len, RaspProgram *out,
                      char *err, size_t errcap) {
    rasp_program_init(out);
    if (err && errcap) err[0] = 0;
    Parser *P = calloc(1, sizeof *P);
    if (!P) {
        fprintf(stderr, "itracr: out of memory\n");
        abort();
    }
    char dummy[1];
    P->p = out;
    P->a = &out->arena;
    P->filename = filename ? filename : "<input>";
    P->err = err && errcap ? err : dummy;
    P->errcap = err && errcap ? errcap : sizeof dummy;
    P->tokens_idx = P->indices_idx = -1;
    char *src = arena_alloc(P->a, len + 1);
    memcpy(src, text, len);
    src[len] = 0;
    out->source = src;
    out->filename = arena_strdup(P->a, P->filename);
    lexer_init(&P->lx, src, len, P->a);
    int rc = 0;
    if (setjmp(P->jb) == 0) {
        parse_program(P);
    } else {
        rasp_program_free(out);
        rasp_program_init(out);
        rc = 1;
    }
    free(P);
    return rc;
}

int rasp_parse(const char *filename, const char *text, RaspProgram *out, char *err, size_t errcap) {
    return parse_text(filename, text ? text : "", text ? strlen(text) : 0, out, err, errcap);
}

int rasp_parse_file(const char *path, RaspProgram *out, char *err, size_t errcap) {
    rasp_program_init(out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err && errcap)
            snprintf(err, errcap, "%s: error: cannot open: %s", path, strerror(errno));
        return 1;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, "itracr: out of memory\n");
            abort();
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap) break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        if (err && errcap)
            snprintf(err, errcap, "%s: error: cannot read: %s", path, strerror(errno));
        free(buf);
        return 1;
    }
    /* a NUL byte inside the file is reported by the lexer as a bad character */
    int rc = parse_text(path, buf, len, out, err, errcap);
    free(buf);
    return rc;
}
