/* Lambda bodies back to Python source, with the fewest parentheses that keep the tree.
 *
 * Precedence levels follow Python's grammar (higher binds tighter):
 *   1 if-else, 2 or, 3 and, 4 not, 5 comparisons, 8 + -, 9 * / // %, 10 unary - +,
 *   11 **, 12 atoms/calls/subscripts.
 * A negative number constant prints as "-1" and therefore has unary precedence; a PY_NEG
 * applied to a non-negative number constant prints as "-(1)" so that the two trees stay
 * distinct for a parser that folds "-1" into a constant. Floats print as repr, which reads
 * back to the same double; inf is written 1e999 (a literal that overflows to inf). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rasp/pyexpr.h"
#include "util/bufout.h"


enum {
    P_IF = 1,
    P_OR = 2,
    P_AND = 3,
    P_NOT = 4,
    P_CMP = 5,
    P_ADD = 8,
    P_MUL = 9,
    P_UNARY = 10,
    P_POW = 11,
    P_ATOM = 12
};

static bool const_is_negative(Value v) {
    return (v.kind == VAL_INT && v.u.i < 0) ||
           (v.kind == VAL_FLOAT && signbit(v.u.f) && !isnan(v.u.f));
}

static int prec_of(const PyExpr *e) {
    switch (e->kind) {
    case PY_CONST: return const_is_negative(e->value) ? P_UNARY : P_ATOM;
    case PY_PARAM: return P_ATOM;
    case PY_NEG:
    case PY_POS: return P_UNARY;
    case PY_NOT: return P_NOT;
    case PY_BIN:
        switch (e->binop) {
        case PYB_ADD:
        case PYB_SUB: return P_ADD;
        case PYB_POW: return P_POW;
        default: return P_MUL;
        }
    case PY_CMP: return P_CMP;
    case PY_AND: return P_AND;
    case PY_OR: return P_OR;
    case PY_IF: return P_IF;
    case PY_TUPLE:
    case PY_INDEX:
    case PY_LOOKUP:
    case PY_CALL: return P_ATOM;
    }
    return P_ATOM;
}

static void put_value(BufOut *o, Value v) {
    char tmp[64];
    switch (v.kind) {
    case VAL_NONE: bufout_s(o, "None"); break;
    case VAL_BOOL: bufout_s(o, v.u.b ? "True" : "False"); break;
    case VAL_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i);
        bufout_s(o, tmp);
        break;
    case VAL_FLOAT:
        if (isinf(v.u.f)) bufout_s(o, v.u.f < 0 ? "-1e999" : "1e999");
        else if (isnan(v.u.f)) bufout_s(o, "float(\"nan\")");
        else {
            val_float_repr(v.u.f, tmp, sizeof tmp);
            bufout_s(o, tmp);
        }
        break;
    case VAL_STR: val_quoted_fmt(o, v.u.s, '"'); break;
    case VAL_TUPLE:
        bufout_s(o, "(");
        for (size_t i = 0; i < v.u.t->n; i++) {
            if (i) bufout_s(o, ", ");
            put_value(o, v.u.t->items[i]);
        }
        if (v.u.t->n == 1) bufout_s(o, ",");
        bufout_s(o, ")");
        break;
    }
}

static void fmt(BufOut *o, const PyExpr *e, const char *const *names, int min_prec);

static void fmt_child(BufOut *o, const PyExpr *e, const char *const *names, int min_prec) {
    fmt(o, e, names, min_prec);
}

static void fmt(BufOut *o, const PyExpr *e, const char *const *names, int min_prec) {
    int p = prec_of(e);
    bool paren = p < min_prec;
    if (paren) bufout_s(o, "(");
    switch (e->kind) {
    case PY_CONST: put_value(o, e->value); break;
    case PY_PARAM:
        bufout_s(o, names && e->param >= 0 && e->param < 2 && names[e->param]
                        ? names[e->param]
                        : (e->param ? "y" : "x"));
        break;
    case PY_NEG:
    case PY_POS: {
        bufout_s(o, e->kind == PY_NEG ? "-" : "+");
        const PyExpr *x = e->args[0];
        /* keep -(1) apart from the constant -1 */
        bool force = x->kind == PY_CONST && val_is_number(x->value) && !const_is_negative(x->value);
        fmt_child(o, x, names, force ? P_ATOM + 1 : P_UNARY);
        break;
    }
    case PY_NOT:
        bufout_s(o, "not ");
        fmt_child(o, e->args[0], names, P_NOT);
        break;
    case PY_BIN:
        if (e->binop == PYB_POW) {
            fmt_child(o, e->args[0], names, P_ATOM);
            bufout_s(o, " ** ");
            fmt_child(o, e->args[1], names, P_UNARY);
        } else {
            fmt_child(o, e->args[0], names, p);
            bufout_s(o, " ");
            bufout_s(o, py_binop_token(e->binop));
            bufout_s(o, " ");
            fmt_child(o, e->args[1], names, p + 1);
        }
        break;
    case PY_CMP:
        for (int i = 0; i < e->n_args; i++) {
            if (i) {
                bufout_s(o, " ");
                bufout_s(o, py_cmpop_token(e->ops[i - 1]));
                bufout_s(o, " ");
            }
            fmt_child(o, e->args[i], names, P_CMP + 1);
        }
        break;
    case PY_AND:
    case PY_OR:
        fmt_child(o, e->args[0], names, p);
        bufout_s(o, e->kind == PY_AND ? " and " : " or ");
        fmt_child(o, e->args[1], names, p + 1);
        break;
    case PY_IF:
        fmt_child(o, e->args[0], names, P_IF + 1);
        bufout_s(o, " if ");
        fmt_child(o, e->args[1], names, P_IF + 1);
        bufout_s(o, " else ");
        fmt_child(o, e->args[2], names, P_IF);
        break;
    case PY_TUPLE:
        bufout_s(o, "(");
        for (int i = 0; i < e->n_args; i++) {
            if (i) bufout_s(o, ", ");
            fmt_child(o, e->args[i], names, P_IF);
        }
        if (e->n_args == 1) bufout_s(o, ",");
        bufout_s(o, ")");
        break;
    case PY_INDEX:
        fmt_child(o, e->args[0], names, P_ATOM);
        bufout_s(o, "[");
        fmt_child(o, e->args[1], names, P_IF);
        bufout_s(o, "]");
        break;
    case PY_LOOKUP:
        bufout_s(o, "{");
        for (int i = 1; i + 1 < e->n_args; i += 2) {
            if (i > 1) bufout_s(o, ", ");
            fmt_child(o, e->args[i], names, P_IF);
            bufout_s(o, ": ");
            fmt_child(o, e->args[i + 1], names, P_IF);
        }
        bufout_s(o, "}[");
        fmt_child(o, e->args[0], names, P_IF);
        bufout_s(o, "]");
        break;
    case PY_CALL:
        bufout_s(o, py_builtin_name(e->fn));
        bufout_s(o, "(");
        for (int i = 0; i < e->n_args; i++) {
            if (i) bufout_s(o, ", ");
            fmt_child(o, e->args[i], names, P_IF);
        }
        bufout_s(o, ")");
        break;
    }
    if (paren) bufout_s(o, ")");
}

size_t py_format(const PyExpr *e, const char *const *param_names, char *buf, size_t cap) {
    BufOut o = {buf, cap, 0};
    fmt(&o, e, param_names, P_IF);
    bufout_end(&o);
    return o.len;
}
