/* Lambda-body ASTs: construction, substitution and structural equality. Evaluation is in
 * pyexpr_eval.c, printing in pyexpr_format.c. */
#include "rasp/pyexpr.h"

#include <string.h>

static PyExpr *node(Arena *a, PyKind kind, int n_args) {
    PyExpr *e = arena_alloc(a, sizeof *e);
    e->kind = kind;
    e->n_args = n_args;
    if (n_args > 0) e->args = arena_alloc(a, (size_t)n_args * sizeof *e->args);
    return e;
}

PyExpr *py_const(Arena *a, Value v) {
    PyExpr *e = node(a, PY_CONST, 0);
    e->value = v;
    return e;
}

PyExpr *py_param(Arena *a, int index) {
    PyExpr *e = node(a, PY_PARAM, 0);
    e->param = index;
    return e;
}

PyExpr *py_unary(Arena *a, PyKind kind, PyExpr *x) {
    PyExpr *e = node(a, kind, 1);
    e->args[0] = x;
    return e;
}

PyExpr *py_binary(Arena *a, PyBinOp op, PyExpr *l, PyExpr *r) {
    PyExpr *e = node(a, PY_BIN, 2);
    e->binop = op;
    e->args[0] = l;
    e->args[1] = r;
    return e;
}

PyExpr *py_cmp_chain(Arena *a, const PyCmpOp *ops, PyExpr *const *args, int n_args) {
    PyExpr *e = node(a, PY_CMP, n_args);
    e->ops = arena_alloc(a, (size_t)(n_args - 1) * sizeof *e->ops);
    memcpy(e->ops, ops, (size_t)(n_args - 1) * sizeof *e->ops);
    memcpy(e->args, args, (size_t)n_args * sizeof *e->args);
    return e;
}

PyExpr *py_cmp2(Arena *a, PyCmpOp op, PyExpr *l, PyExpr *r) {
    PyExpr *args[2] = {l, r};
    return py_cmp_chain(a, &op, args, 2);
}

PyExpr *py_boolop(Arena *a, PyKind kind, PyExpr *l, PyExpr *r) {
    PyExpr *e = node(a, kind, 2);
    e->args[0] = l;
    e->args[1] = r;
    return e;
}

PyExpr *py_call(Arena *a, PyBuiltin fn, PyExpr *const *args, int n) {
    PyExpr *e = node(a, PY_CALL, n);
    e->fn = fn;
    if (n) memcpy(e->args, args, (size_t)n * sizeof *e->args);
    return e;
}

PyExpr *py_ifexp(Arena *a, PyExpr *then_, PyExpr *cond, PyExpr *else_) {
    PyExpr *e = node(a, PY_IF, 3);
    e->args[0] = then_;
    e->args[1] = cond;
    e->args[2] = else_;
    return e;
}

PyExpr *py_tuple(Arena *a, PyExpr *const *items, int n) {
    PyExpr *e = node(a, PY_TUPLE, n);
    if (n) memcpy(e->args, items, (size_t)n * sizeof *e->args);
    return e;
}

PyExpr *py_index(Arena *a, PyExpr *base, PyExpr *index) {
    PyExpr *e = node(a, PY_INDEX, 2);
    e->args[0] = base;
    e->args[1] = index;
    return e;
}

PyExpr *py_lookup(Arena *a, PyExpr *index, PyExpr *const *keys, PyExpr *const *vals, int n) {
    PyExpr *e = node(a, PY_LOOKUP, 1 + 2 * n);
    e->args[0] = index;
    for (int i = 0; i < n; i++) {
        e->args[1 + 2 * i] = keys[i];
        e->args[2 + 2 * i] = vals[i];
    }
    return e;
}

PyExpr *py_substitute(Arena *a, const PyExpr *e, PyExpr *const *subst) {
    if (e->kind == PY_PARAM) return subst[e->param];
    if (e->kind == PY_CONST) return (PyExpr *)e; /* immutable leaves can be shared */
    PyExpr *c = arena_alloc(a, sizeof *c);
    *c = *e;
    if (e->n_args > 0) {
        c->args = arena_alloc(a, (size_t)e->n_args * sizeof *c->args);
        for (int i = 0; i < e->n_args; i++) c->args[i] = py_substitute(a, e->args[i], subst);
    }
    if (e->kind == PY_CMP) {
        c->ops = arena_alloc(a, (size_t)(e->n_args - 1) * sizeof *c->ops);
        memcpy(c->ops, e->ops, (size_t)(e->n_args - 1) * sizeof *c->ops);
    }
    return c;
}

/* Same kinds all the way down (1, 1.0 and True differ; so do 0.0 and -0.0). */
static bool const_eq(Value a, Value b) {
    if (a.kind != b.kind) return false;
    if (a.kind == VAL_FLOAT) return memcmp(&a.u.f, &b.u.f, sizeof(double)) == 0;
    if (a.kind != VAL_TUPLE) return val_eq(a, b);
    if (a.u.t->n != b.u.t->n) return false;
    for (size_t i = 0; i < a.u.t->n; i++)
        if (!const_eq(a.u.t->items[i], b.u.t->items[i])) return false;
    return true;
}

bool py_equal(const PyExpr *a, const PyExpr *b) {
    if (a == b) return true;
    if (!a || !b || a->kind != b->kind || a->n_args != b->n_args) return false;
    switch (a->kind) {
    case PY_CONST: return const_eq(a->value, b->value);
    case PY_PARAM: return a->param == b->param;
    case PY_BIN:
        if (a->binop != b->binop) return false;
        break;
    case PY_CALL:
        if (a->fn != b->fn) return false;
        break;
    case PY_CMP:
        for (int i = 0; i < a->n_args - 1; i++)
            if (a->ops[i] != b->ops[i]) return false;
        break;
    default: break;
    }
    for (int i = 0; i < a->n_args; i++)
        if (!py_equal(a->args[i], b->args[i])) return false;
    return true;
}

const char *py_builtin_name(PyBuiltin fn) {
    static const char *names[] = {"abs", "min", "max", "int", "float", "round", "bool"};
    return (unsigned)fn < sizeof names / sizeof *names ? names[fn] : "?";
}

const char *py_binop_token(PyBinOp op) {
    static const char *t[] = {"+", "-", "*", "/", "//", "%", "**"};
    return (unsigned)op < sizeof t / sizeof *t ? t[op] : "?";
}

const char *py_cmpop_token(PyCmpOp op) {
    static const char *t[] = {"==", "!=", "<", "<=", ">", ">="};
    return (unsigned)op < sizeof t / sizeof *t ? t[op] : "?";
}
