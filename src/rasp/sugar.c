/* What Tracr does while a program is being built: operator sugar on SOps (rasp.SOp's dunder
 * methods), Map fusion (rasp.Map with simplify=True) and selector simplification
 * (selector_and / selector_or / selector_not). docs/tracr.md §1.2–§1.3. */
#include <string.h>

#include "rasp/parse_internal.h"

/* ---- lambda building blocks ---------------------------------------------------------- */

static PyExpr *pnode(Parser *P, PyKind kind, int n_args, int line, int col) {
    PyExpr *e = arena_alloc(P->a, sizeof *e);
    e->kind = kind;
    e->n_args = n_args;
    if (n_args) e->args = arena_alloc(P->a, sizeof(PyExpr *) * (size_t)n_args);
    e->line = line;
    e->col = col;
    return e;
}
static PyExpr *pconst(Parser *P, Value v, int line, int col) {
    PyExpr *e = pnode(P, PY_CONST, 0, line, col);
    e->value = v;
    return e;
}
static PyExpr *pparam(Parser *P, int i, int line, int col) {
    PyExpr *e = pnode(P, PY_PARAM, 0, line, col);
    e->param = i;
    return e;
}
static PyExpr *p2(Parser *P, PyKind kind, PyExpr *l, PyExpr *r, int line, int col) {
    PyExpr *e = pnode(P, kind, 2, line, col);
    e->args[0] = l;
    e->args[1] = r;
    return e;
}
static PyExpr *pbin(Parser *P, PyBinOp op, PyExpr *l, PyExpr *r, int line, int col) {
    PyExpr *e = p2(P, PY_BIN, l, r, line, col);
    e->binop = op;
    return e;
}
static PyExpr *pcmp(Parser *P, PyCmpOp op, PyExpr *l, PyExpr *r, int line, int col) {
    PyExpr *e = p2(P, PY_CMP, l, r, line, col);
    e->ops = arena_alloc(P->a, sizeof(PyCmpOp));
    e->ops[0] = op;
    return e;
}
static PyExpr *pnot(Parser *P, PyExpr *x, int line, int col) {
    PyExpr *e = pnode(P, PY_NOT, 1, line, col);
    e->args[0] = x;
    return e;
}

static Lambda *lambda_new(Parser *P, int n, const char *p0, const char *p1, PyExpr *body) {
    Lambda *f = arena_alloc(P->a, sizeof *f);
    f->n_params = n;
    f->params[0] = p0;
    f->params[1] = n > 1 ? p1 : NULL;
    f->body = body;
    return f;
}

static void check_size(Parser *P, const PyExpr *body, int line, int col, const char *what) {
    int depth = 0;
    if (py_tree_size(body, LAMBDA_MAX_NODES, &depth) > LAMBDA_MAX_NODES || depth > LAMBDA_MAX_DEPTH)
        perr_at(P, line, col,
                "%s gives a function of more than %d nodes; expected a smaller program", what,
                LAMBDA_MAX_NODES);
}

/* ---- expressions --------------------------------------------------------------------- */

int expr_new(Parser *P, ExprKind kind, int line, int col) {
    RaspExpr e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.child[0] = e.child[1] = -1;
    e.enc = ENC_CATEGORICAL;
    e.name = rasp_default_name(kind);
    e.lin_a = e.lin_b = e.default_value = e.full_value = val_none();
    e.pos.line = line;
    e.pos.col = col;
    return rasp_add_expr(P->p, &e);
}

int expr_copy(Parser *P, int idx) {
    RaspExpr e = P->p->exprs[idx];
    /* The copy keeps the name annotation (as Tracr's copy does) but gets its own label. */
    e.label = NULL;
    e.user_named = false;
    return rasp_add_expr(P->p, &e);
}

int sugar_map(Parser *P, Lambda *f, int inner, bool simplify, int line, int col) {
    const RaspExpr *in = &P->p->exprs[inner];
    if (simplify && in->kind == EXPR_MAP) {
        /* Map(f, Map(g, x)) is Map(f∘g, x): the inner node and its annotations go away. */
        const Lambda *g = in->fn;
        PyExpr *subst[2] = {g->body, NULL};
        PyExpr *body = py_substitute(P->a, f->body, subst);
        check_size(P, body, line, col, "fusing this Map with the Map it applies to");
        f = lambda_new(P, 1, g->params[0], NULL, body);
        inner = in->child[0];
    }
    int m = expr_new(P, EXPR_MAP, line, col);
    RaspExpr *e = &P->p->exprs[m];
    e->fn = f;
    e->child[0] = inner;
    e->no_simplify = !simplify;
    return m;
}

static int seqmap_new(Parser *P, Lambda *f, int fst, int snd, int line, int col) {
    int m = expr_new(P, EXPR_SEQMAP, line, col);
    RaspExpr *e = &P->p->exprs[m];
    e->fn = f;
    e->child[0] = fst;
    e->child[1] = snd;
    return m;
}

/* ---- selectors ----------------------------------------------------------------------- */

/* The predicate of a Select as a body over (key = param 0, query = param 1). */
static PyExpr *pred_body(Parser *P, const RaspExpr *s, int line, int col) {
    static const PyCmpOp cmp[] = {[PRED_EQ] = PYC_EQ, [PRED_LT] = PYC_LT,  [PRED_LEQ] = PYC_LE,
                                  [PRED_GT] = PYC_GT, [PRED_GEQ] = PYC_GE, [PRED_NEQ] = PYC_NE};
    switch (s->pred) {
    case PRED_LAMBDA: return s->fn->body;
    case PRED_TRUE: return pconst(P, val_bool(true), line, col);
    case PRED_FALSE: return pconst(P, val_bool(false), line, col);
    default:
        return pcmp(P, cmp[s->pred], pparam(P, 0, line, col), pparam(P, 1, line, col), line, col);
    }
}

static void pred_names(const RaspExpr *s, const char **k, const char **q) {
    if (s->pred == PRED_LAMBDA && s->fn->params[0] && s->fn->params[1]) {
        *k = s->fn->params[0];
        *q = s->fn->params[1];
    }
}

static int select_new(Parser *P, int keys, int queries, Lambda *f, int line, int col) {
    int s = expr_new(P, EXPR_SELECT, line, col);
    RaspExpr *e = &P->p->exprs[s];
    e->child[0] = keys;
    e->child[1] = queries;
    e->pred = PRED_LAMBDA;
    e->fn = f;
    return s;
}

int sugar_sel_not(Parser *P, int sel, int line, int col) {
    const RaspExpr *s = &P->p->exprs[sel];
    if (s->kind == EXPR_SELECT) {
        const char *k = "k", *q = "q";
        pred_names(s, &k, &q);
        PyExpr *body = pnot(P, pred_body(P, s, line, col), line, col);
        check_size(P, body, line, col, "negating this Select");
        int keys = s->child[0], queries = s->child[1];
        return select_new(P, keys, queries, lambda_new(P, 2, k, q, body), line, col);
    }
    int n = expr_new(P, EXPR_SEL_NOT, line, col);
    P->p->exprs[n].child[0] = sel;
    return n;
}

/* p(c, q) or p(k, c): a Full's fill value baked into one side of a predicate. */
static PyExpr *bake(Parser *P, PyExpr *body, int side, Value c, int line, int col) {
    PyExpr *subst[2];
    subst[side] = pconst(P, c, line, col);
    subst[1 - side] = pparam(P, 1 - side, line, col);
    return py_substitute(P->a, body, subst);
}

int sugar_sel_combine(Parser *P, bool is_and, int fst, int snd, int line, int col) {
    const RaspExpr *a = &P->p->exprs[fst], *b = &P->p->exprs[snd];
    if (a->kind == EXPR_SELECT && b->kind == EXPR_SELECT) {
        const RaspExpr *E = P->p->exprs;
        PyExpr *pa = pred_body(P, a, line, col), *pb = pred_body(P, b, line, col);
        int ck = -1, cq = -1;
        /* The same order of checks as Tracr's _attempt_simplify: later matches win. */
        if (E[a->child[0]].kind == EXPR_FULL) {
            ck = b->child[0];
            pa = bake(P, pa, 0, E[a->child[0]].full_value, line, col);
        }
        if (E[b->child[0]].kind == EXPR_FULL) {
            ck = a->child[0];
            pb = bake(P, pb, 0, E[b->child[0]].full_value, line, col);
        }
        if (E[a->child[1]].kind == EXPR_FULL) {
            cq = b->child[1];
            pa = bake(P, pa, 1, E[a->child[1]].full_value, line, col);
        }
        if (E[b->child[1]].kind == EXPR_FULL) {
            cq = a->child[1];
            pb = bake(P, pb, 1, E[b->child[1]].full_value, line, col);
        }
        if (a->child[0] == b->child[0]) ck = a->child[0];
        if (a->child[1] == b->child[1]) cq = a->child[1];
        if (ck >= 0 && cq >= 0) {
            const char *k = "k", *q = "q";
            pred_names(b, &k, &q);
            pred_names(a, &k, &q);
            PyExpr *body = p2(P, is_and ? PY_AND : PY_OR, pa, pb, line, col);
            check_size(P, body, line, col, "combining these Selects");
            return select_new(P, ck, cq, lambda_new(P, 2, k, q, body), line, col);
        }
    }
    int n = expr_new(P, is_and ? EXPR_SEL_AND : EXPR_SEL_OR, line, col);
    P->p->exprs[n].child[0] = fst;
    P->p->exprs[n].child[1] = snd;
    return n;
}

/* ---- operator sugar ------------------------------------------------------------------ */

static const char *op_text(TokKind k) {
    switch (k) {
    case TK_PLUS: return "+";
    case TK_MINUS: return "-";
    case TK_STAR: return "*";
    case TK_SLASH: return "/";
    case TK_DSLASH: return "//";
    case TK_PERCENT: return "%";
    case TK_POW: return "**";
    case TK_EQ: return "==";
    case TK_NE: return "!=";
    case TK_LT: return "<";
    case TK_LE: return "<=";
    case TK_GT: return ">";
    case TK_GE: return ">=";
    case TK_AMP: return "&";
    case TK_PIPE: return "|";
    case TK_TILDE: return "~";
    default: return "?";
    }
}

/* lhs OP rhs as a lambda body. */
static PyExpr *op_body(Parser *P, TokKind op, PyExpr *l, PyExpr *r, int line, int col) {
    switch (op) {
    case TK_PLUS: return pbin(P, PYB_ADD, l, r, line, col);
    case TK_MINUS: return pbin(P, PYB_SUB, l, r, line, col);
    case TK_STAR: return pbin(P, PYB_MUL, l, r, line, col);
    case TK_SLASH: return pbin(P, PYB_DIV, l, r, line, col);
    case TK_DSLASH: return pbin(P, PYB_FLOORDIV, l, r, line, col);
    case TK_PERCENT: return pbin(P, PYB_MOD, l, r, line, col);
    case TK_POW: return pbin(P, PYB_POW, l, r, line, col);
    case TK_EQ: return pcmp(P, PYC_EQ, l, r, line, col);
    case TK_NE: return pcmp(P, PYC_NE, l, r, line, col);
    case TK_LT: return pcmp(P, PYC_LT, l, r, line, col);
    case TK_LE: return pcmp(P, PYC_LE, l, r, line, col);
    case TK_GT: return pcmp(P, PYC_GT, l, r, line, col);
    case TK_GE: return pcmp(P, PYC_GE, l, r, line, col);
    case TK_AMP: return p2(P, PY_AND, l, r, line, col);
    case TK_PIPE: return p2(P, PY_OR, l, r, line, col);
    default: return NULL;
    }
}

static Term term_const(Value v, int line, int col) {
    Term t = {TERM_CONST, -1, v, line, col};
    return t;
}
static Term term_sop(int idx, int line, int col) {
    Term t = {TERM_SOP, idx, val_none(), line, col};
    return t;
}

/* Length of a string or tuple constant, 0 otherwise. */
static uint64_t seq_len(Value v) {
    if (v.kind == VAL_STR) return strlen(v.u.s);
    if (v.kind == VAL_TUPLE) return v.u.t->n;
    return 0;
}

/* Python evaluates an operator on two constants before any SOp sees it. Folded strings and
 * tuples are interned for the life of the process, so their size is bounded here. */
static Term fold(Parser *P, PyExpr *body, const Token *op, int line, int col) {
    if (body->kind == PY_BIN && (body->binop == PYB_MUL || body->binop == PYB_ADD)) {
        Value l = body->args[0]->value, r = body->args[1]->value;
        uint64_t n;
        if (body->binop == PYB_ADD) {
            n = seq_len(l) + seq_len(r);
        } else {
            bool l_seq = l.kind == VAL_STR || l.kind == VAL_TUPLE;
            Value seq = l_seq ? l : r, k = l_seq ? r : l;
            int64_t count = k.kind == VAL_INT ? k.u.i : k.kind == VAL_BOOL ? k.u.b : 0;
            /* a huge count is refused even for an empty string: repeating costs per count */
            n = count > 1024 ? (uint64_t)count : count > 0 ? seq_len(seq) * (uint64_t)count : 0;
            if (seq.kind != VAL_STR && seq.kind != VAL_TUPLE) n = 0;
        }
        if (n > 1024)
            perr_at(P, op->line, op->col,
                    "constant string or tuple too long; expected at most 1024 items");
    }
    Value v;
    char msg[160];
    if (py_eval(body, NULL, &v, msg, sizeof msg) != PYERR_OK)
        perr_at(P, op->line, op->col,
                "constant expression raises %s; expected a computable constant", msg);
    if (v.kind == VAL_FLOAT && v.u.f != v.u.f)
        perr_at(P, op->line, op->col, "constant expression gives nan; expected a number");
    return term_const(v, line, col);
}

static noreturn void not_on_selector(Parser *P, const Term *t, const char *op) {
    perr_at(P, t->line, t->col,
            "found a selector as an operand of '%s'; expected an SOp or a constant", op);
}

Term sugar_binary(Parser *P, TokKind op, const Token *op_tok, Term l, Term r) {
    int line = op_tok->line, col = op_tok->col;
    const char *os = op_text(op);
    bool logical = op == TK_AMP || op == TK_PIPE;
    if (l.kind == TERM_SEL || r.kind == TERM_SEL) {
        if (!logical) not_on_selector(P, l.kind == TERM_SEL ? &l : &r, os);
        if (l.kind != TERM_SEL)
            perr_at(P, l.line, l.col,
                    "found %s as an operand of '%s' with a selector; expected a selector",
                    l.kind == TERM_SOP ? "an SOp" : "a constant", os);
        if (r.kind != TERM_SEL)
            perr_at(P, r.line, r.col,
                    "found %s as an operand of '%s' with a selector; expected a selector",
                    r.kind == TERM_SOP ? "an SOp" : "a constant", os);
        Term t = {TERM_SEL, sugar_sel_combine(P, op == TK_AMP, l.idx, r.idx, line, col), val_none(),
                  l.line, l.col};
        return t;
    }
    if (op == TK_DSLASH || op == TK_PERCENT) {
        if (l.kind == TERM_CONST && r.kind == TERM_CONST)
            return fold(
                P, op_body(P, op, pconst(P, l.v, line, col), pconst(P, r.v, line, col), line, col),
                op_tok, l.line, l.col);
        perr_at(P, line, col,
                "operator '%s' is not defined on SOps; expected + - * / or a comparison "
                "(or write a Map)",
                os);
    }
    if (l.kind == TERM_CONST && r.kind == TERM_CONST) {
        if (logical)
            perr_at(P, line, col, "operator '%s' on two constants; expected an SOp operand", os);
        return fold(P,
                    op_body(P, op, pconst(P, l.v, line, col), pconst(P, r.v, line, col), line, col),
                    op_tok, l.line, l.col);
    }
    if (l.kind == TERM_SOP && r.kind == TERM_SOP) {
        PyExpr *body = op_body(P, op, pparam(P, 0, line, col), pparam(P, 1, line, col), line, col);
        return term_sop(seqmap_new(P, lambda_new(P, 2, "x", "y", body), l.idx, r.idx, line, col),
                        l.line, l.col);
    }
    PyExpr *x = pparam(P, 0, line, col);
    PyExpr *body;
    int sop;
    if (l.kind == TERM_SOP) {
        sop = l.idx;
        body = op_body(P, op, x, pconst(P, r.v, line, col), line, col);
    } else {
        /* constant OP sop: Python falls back to the SOp's reflected method */
        sop = r.idx;
        PyExpr *c = pconst(P, l.v, line, col);
        switch (op) {
        case TK_LT: body = op_body(P, TK_GT, x, c, line, col); break;
        case TK_LE: body = op_body(P, TK_GE, x, c, line, col); break;
        case TK_GT: body = op_body(P, TK_LT, x, c, line, col); break;
        case TK_GE: body = op_body(P, TK_LE, x, c, line, col); break;
        case TK_EQ:
        case TK_NE: body = op_body(P, op, x, c, line, col); break;
        case TK_PIPE: body = op_body(P, op, x, c, line, col); break; /* Tracr's __ror__: x or c */
        default: body = op_body(P, op, c, x, line, col); break;
        }
    }
    return term_sop(sugar_map(P, lambda_new(P, 1, "x", NULL, body), sop, true, line, col), l.line,
                    l.col);
}

Term sugar_invert(Parser *P, const Token *op_tok, Term x) {
    int line = op_tok->line, col = op_tok->col;
    if (x.kind == TERM_SEL) {
        Term t = {TERM_SEL, sugar_sel_not(P, x.idx, line, col), val_none(), line, col};
        return t;
    }
    if (x.kind == TERM_CONST)
        perr_at(P, line, col, "operator '~' on a constant; expected an SOp or a selector");
    PyExpr *body = pnot(P, pparam(P, 0, line, col), line, col);
    return term_sop(sugar_map(P, lambda_new(P, 1, "x", NULL, body), x.idx, true, line, col), line,
                    col);
}

Term sugar_negate(Parser *P, const Token *op_tok, Term x, bool plus) {
    if (x.kind != TERM_CONST)
        perr_at(
            P, op_tok->line, op_tok->col,
            "unary '%s' on %s; expected a constant (Tracr's SOps have no unary %s; write -1 * sop)",
            plus ? "+" : "-", x.kind == TERM_SOP ? "an SOp" : "a selector",
            plus ? "plus" : "minus");
    PyExpr *e = pnode(P, plus ? PY_POS : PY_NEG, 1, op_tok->line, op_tok->col);
    e->args[0] = pconst(P, x.v, op_tok->line, op_tok->col);
    return fold(P, e, op_tok, op_tok->line, op_tok->col);
}

Term sugar_power(Parser *P, const Token *op_tok, Term l, Term r) {
    if (l.kind != TERM_CONST || r.kind != TERM_CONST)
        perr_at(P, op_tok->line, op_tok->col,
                "operator '**' is not defined on SOps; expected constants (or write a Map)");
    int line = op_tok->line, col = op_tok->col;
    return fold(P,
                pbin(P, PYB_POW, pconst(P, l.v, line, col), pconst(P, r.v, line, col), line, col),
                op_tok, l.line, l.col);
}
