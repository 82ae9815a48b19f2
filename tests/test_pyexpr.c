/* Lambda bodies: Python arithmetic, comparisons and builtins against CPython's results
 * (tables in pyexpr_cases.inc were produced by CPython 3.11), the expression forms,
 * substitution, structural equality and printing. */
#include "rasp/pyexpr.h"
#include "test.h"

typedef struct {
    PyBinOp op;
    Value a, b;
    const char *want;
} BinCase;
typedef struct {
    PyCmpOp op;
    Value a, b;
    const char *want;
} CmpCase;
typedef struct {
    PyBuiltin fn;
    int n;
    Value args[3];
    const char *want;
} CallCase;

static Arena A;

/* "type:repr" or "!ARITH"/"!TYPE"/"!VALUE"/"!INDEX", the format of the tables */
static const char *outcome(PyErr e, Value v) {
    static char buf[256];
    switch (e) {
    case PYERR_OK: {
        int k = snprintf(buf, sizeof buf, "%s:", val_type_name(v));
        val_repr_fmt(v, buf + k, sizeof buf - (size_t)k);
        return buf;
    }
    case PYERR_ARITH: return "!ARITH";
    case PYERR_TYPE: return "!TYPE";
    case PYERR_INDEX: return "!INDEX";
    case PYERR_VALUE: return "!VALUE";
    }
    return "?";
}

static Value tup_1a(void) {
    Value it[2] = {val_int(1), val_str("a")};
    return val_tuple(it, 2);
}
static Value tup_429(void) {
    Value it[3] = {val_int(4), val_int(2), val_int(9)};
    return val_tuple(it, 3);
}
#define TUP_1A tup_1a()
#define TUP_429 tup_429()

static PyExpr *C(Value v) { return py_const(&A, v); }

static void test_binops_vs_cpython(void) {
#define WANT_BIN_CASES
#include "pyexpr_cases.inc"
#undef WANT_BIN_CASES
    int n = (int)(sizeof BIN_CASES / sizeof *BIN_CASES), bad = 0;
    for (int i = 0; i < n; i++) {
        const BinCase *c = &BIN_CASES[i];
        Value out;
        char msg[200];
        /* through the evaluator and through py_binop */
        PyErr e = py_eval(py_binary(&A, c->op, C(c->a), C(c->b)), NULL, &out, msg, sizeof msg);
        const char *got = outcome(e, out);
        if (strcmp(got, c->want) != 0) {
            char ra[64], rb[64];
            val_repr_fmt(c->a, ra, sizeof ra);
            val_repr_fmt(c->b, rb, sizeof rb);
            fprintf(stderr, "  case %d: %s %s %s: got %s (%s), want %s\n", i, ra,
                    py_binop_token(c->op), rb, got, msg, c->want);
            bad++;
        }
        Value out2;
        PyErr e2 = py_binop(c->op, c->a, c->b, &out2, NULL, 0);
        if (e2 != e || (e == PYERR_OK && !val_eq(out, out2) && out.kind != VAL_FLOAT)) bad++;
    }
    CHECK(n > 1500);
    CHECK(bad == 0);
}

/* Regression (found by fuzzing): "" * 10**15 used to loop 10**15 times. CPython answers
 * instantly with "" and () for the tuple. */
static void test_empty_repeat_is_instant(void) {
    Value out;
    char msg[128];
    int64_t big = 1000000000000000LL;
    CHECK(py_eval(py_binary(&A, PYB_MUL, C(val_str("")), C(val_int(big))), NULL, &out, msg,
                  sizeof msg) == PYERR_OK);
    CHECK(out.kind == VAL_STR && out.u.s[0] == 0);
    CHECK(py_eval(py_binary(&A, PYB_MUL, C(val_int(big)), C(val_tuple(NULL, 0))), NULL, &out, msg,
                  sizeof msg) == PYERR_OK);
    CHECK(out.kind == VAL_TUPLE && out.u.t->n == 0);
    CHECK(py_eval(py_binary(&A, PYB_MUL, C(val_str("ab")), C(val_int(big))), NULL, &out, msg,
                  sizeof msg) != PYERR_OK);
}

static void test_compare_vs_cpython(void) {
#define WANT_CMP_CASES
#include "pyexpr_cases.inc"
#undef WANT_CMP_CASES
    int n = (int)(sizeof CMP_CASES / sizeof *CMP_CASES), bad = 0;
    for (int i = 0; i < n; i++) {
        const CmpCase *c = &CMP_CASES[i];
        Value out;
        PyErr e = py_eval(py_cmp2(&A, c->op, C(c->a), C(c->b)), NULL, &out, NULL, 0);
        const char *got = e ? "!TYPE" : (val_truthy(out) ? "True" : "False");
        if (e && e != PYERR_TYPE) got = "?";
        if (strcmp(got, c->want) != 0) {
            fprintf(stderr, "  cmp case %d: got %s want %s\n", i, got, c->want);
            bad++;
        }
    }
    CHECK(n == 8 * 8 * 6);
    CHECK(bad == 0);
}

static void test_builtins_vs_cpython(void) {
#define WANT_CALL_CASES
#include "pyexpr_cases.inc"
#undef WANT_CALL_CASES
    int n = (int)(sizeof CALL_CASES / sizeof *CALL_CASES), bad = 0;
    for (int i = 0; i < n; i++) {
        const CallCase *c = &CALL_CASES[i];
        PyExpr *args[3];
        for (int k = 0; k < c->n; k++) args[k] = C(c->args[k]);
        Value out;
        char msg[200];
        PyErr e = py_eval(py_call(&A, c->fn, args, c->n), NULL, &out, msg, sizeof msg);
        const char *got = outcome(e, out);
        if (strcmp(got, c->want) != 0) {
            fprintf(stderr, "  call case %d (%s): got %s (%s), want %s\n", i,
                    py_builtin_name(c->fn), got, msg, c->want);
            bad++;
        }
    }
    CHECK(bad == 0);
}

static PyExpr *X(void) { return py_param(&A, 0); }
static PyExpr *Y(void) { return py_param(&A, 1); }

static const char *run1(PyExpr *e, Value x) {
    Value out;
    Value args[2] = {x, val_none()};
    return outcome(py_eval(e, args, &out, NULL, 0), out);
}

static void test_forms(void) {
    /* 1 < x < 3: chain */
    PyCmpOp ops[2] = {PYC_LT, PYC_LT};
    PyExpr *cargs[3] = {C(val_int(1)), X(), C(val_int(3))};
    PyExpr *chain = py_cmp_chain(&A, ops, cargs, 3);
    CHECK_STR(run1(chain, val_int(2)), "bool:True");
    CHECK_STR(run1(chain, val_int(3)), "bool:False");
    /* short-circuit: 5 < x < "a" is False for x = 1 without comparing 1 < "a" */
    PyExpr *cargs2[3] = {C(val_int(5)), X(), C(val_str("a"))};
    CHECK_STR(run1(py_cmp_chain(&A, ops, cargs2, 3), val_int(1)), "bool:False");
    CHECK_STR(run1(py_cmp_chain(&A, ops, cargs2, 3), val_int(7)), "!TYPE");
    /* and/or return an operand (CPython: 0 or 'x' -> 'x', '' and 1 -> '', None or 0 -> 0) */
    CHECK_STR(run1(py_boolop(&A, PY_OR, X(), C(val_str("x"))), val_int(0)), "str:'x'");
    CHECK_STR(run1(py_boolop(&A, PY_AND, X(), C(val_int(1))), val_str("")), "str:''");
    CHECK_STR(run1(py_boolop(&A, PY_OR, X(), C(val_int(0))), val_none()), "int:0");
    /* the right operand is not evaluated when the left decides */
    PyExpr *div0 = py_binary(&A, PYB_DIV, C(val_int(1)), C(val_int(0)));
    CHECK_STR(run1(py_boolop(&A, PY_AND, X(), div0), val_int(0)), "int:0");
    CHECK_STR(run1(py_boolop(&A, PY_AND, X(), div0), val_int(1)), "!ARITH");
    /* x if x > 0 else -x; only the chosen branch runs */
    PyExpr *ife =
        py_ifexp(&A, X(), py_cmp2(&A, PYC_GT, X(), C(val_int(0))), py_unary(&A, PY_NEG, X()));
    CHECK_STR(run1(ife, val_int(-4)), "int:4");
    CHECK_STR(run1(py_ifexp(&A, C(val_int(1)), X(), div0), val_bool(true)), "int:1");
    /* not, unary minus/plus on bool */
    CHECK_STR(run1(py_unary(&A, PY_NOT, X()), val_str("")), "bool:True");
    CHECK_STR(run1(py_unary(&A, PY_NEG, X()), val_bool(true)), "int:-1");
    CHECK_STR(run1(py_unary(&A, PY_POS, X()), val_bool(true)), "int:1");
    CHECK_STR(run1(py_unary(&A, PY_NEG, X()), val_int(INT64_MIN)), "!ARITH");
    CHECK_STR(run1(py_unary(&A, PY_NEG, X()), val_str("a")), "!TYPE");
    CHECK_STR(run1(py_unary(&A, PY_NEG, X()), val_none()), "!TYPE");
    /* tuples and indexing: (x, 'a', 2.5)[-1] == 2.5 */
    PyExpr *items[3] = {X(), C(val_str("a")), C(val_float(2.5))};
    PyExpr *tup = py_tuple(&A, items, 3);
    CHECK_STR(run1(tup, val_int(1)), "tuple:(1, 'a', 2.5)");
    CHECK_STR(run1(py_index(&A, tup, C(val_int(-1))), val_int(1)), "float:2.5");
    CHECK_STR(run1(py_index(&A, tup, C(val_bool(true))), val_int(1)), "str:'a'");
    CHECK_STR(run1(py_index(&A, tup, C(val_int(3))), val_int(1)), "!INDEX");
    CHECK_STR(run1(py_index(&A, tup, C(val_int(-4))), val_int(1)), "!INDEX");
    CHECK_STR(run1(py_index(&A, tup, C(val_float(0.0))), val_int(1)), "!TYPE");
    CHECK_STR(run1(py_index(&A, X(), C(val_int(0))), val_int(5)), "!TYPE");
    CHECK_STR(run1(py_index(&A, X(), C(val_int(-1))), val_str("h\xc3\xa9")), "str:'\xc3\xa9'");
    PyExpr *one[1] = {X()};
    CHECK_STR(run1(py_tuple(&A, one, 1), val_int(1)), "tuple:(1,)");
    /* two parameters: lambda k, q: q == k + 1 */
    PyExpr *pred = py_cmp2(&A, PYC_EQ, Y(), py_binary(&A, PYB_ADD, X(), C(val_int(1))));
    Value kq[2] = {val_int(2), val_int(3)}, out;
    CHECK(py_eval(pred, kq, &out, NULL, 0) == PYERR_OK && out.kind == VAL_BOOL && out.u.b);
    /* lambda_call binds parameters the same way */
    Lambda lam = {2, {"k", "q"}, pred};
    CHECK(lambda_call(&lam, kq, &out, NULL, 0) == PYERR_OK && out.u.b);
}

static void test_messages(void) {
    char msg[200];
    Value out;
    CHECK(py_binop(PYB_DIV, val_int(1), val_int(0), &out, msg, sizeof msg) == PYERR_ARITH);
    CHECK_STR(msg, "ZeroDivisionError: division by zero");
    CHECK(out.kind == VAL_NONE);
    CHECK(py_binop(PYB_FLOORDIV, val_int(1), val_int(0), &out, msg, sizeof msg) == PYERR_ARITH);
    CHECK_STR(msg, "ZeroDivisionError: integer division or modulo by zero");
    CHECK(py_binop(PYB_ADD, val_int(1), val_str("a"), &out, msg, sizeof msg) == PYERR_TYPE);
    CHECK_STR(msg, "TypeError: unsupported operand type(s) for +: 'int' and 'str'");
    CHECK(py_binop(PYB_ADD, val_str("a"), val_int(1), &out, msg, sizeof msg) == PYERR_TYPE);
    CHECK_STR(msg, "TypeError: can only concatenate str (not \"int\") to str");
    CHECK(py_binop(PYB_SUB, val_none(), val_int(1), &out, msg, sizeof msg) == PYERR_TYPE);
    CHECK_STR(msg, "TypeError: unsupported operand type(s) for -: 'NoneType' and 'int'");
    bool b;
    CHECK(py_compare(PYC_LT, val_str("a"), val_int(1), &b, msg, sizeof msg) == PYERR_TYPE);
    CHECK_STR(msg, "TypeError: '<' not supported between instances of 'str' and 'int'");
    CHECK(py_binop(PYB_MUL, val_int(INT64_MAX), val_int(2), &out, msg, sizeof msg) == PYERR_ARITH);
    CHECK(strncmp(msg, "OverflowError", 13) == 0);
    CHECK(py_int(val_str("x"), &out, msg, sizeof msg) == PYERR_VALUE);
    CHECK_STR(msg, "ValueError: invalid literal for int() with base 10: 'x'");
    /* huge repetition is refused instead of allocated */
    CHECK(py_binop(PYB_MUL, val_str("ab"), val_int(INT64_MAX), &out, msg, sizeof msg) ==
          PYERR_VALUE);
}

static const char *fmt(PyExpr *e) {
    static char buf[256];
    const char *names[2] = {"x", "y"};
    py_format(e, names, buf, sizeof buf);
    return buf;
}

static void test_format(void) {
    PyExpr *x = X(), *y = Y();
    CHECK_STR(fmt(py_binary(&A, PYB_SUB, x, C(val_int(1)))), "x - 1");
    /* left-associative: (x - y) - 1 needs no parentheses, x - (y - 1) does */
    CHECK_STR(fmt(py_binary(&A, PYB_SUB, py_binary(&A, PYB_SUB, x, y), C(val_int(1)))),
              "x - y - 1");
    CHECK_STR(fmt(py_binary(&A, PYB_SUB, x, py_binary(&A, PYB_SUB, y, C(val_int(1))))),
              "x - (y - 1)");
    CHECK_STR(fmt(py_binary(&A, PYB_MUL, py_binary(&A, PYB_ADD, x, y), C(val_int(2)))),
              "(x + y) * 2");
    CHECK_STR(fmt(py_binary(
                  &A, PYB_ADD, x,
                  py_binary(&A, PYB_DIV, py_binary(&A, PYB_MUL, C(val_int(1)), y), C(val_int(5))))),
              "x + 1 * y / 5");
    /* power: right-associative, binds tighter than unary minus on its left */
    CHECK_STR(fmt(py_binary(&A, PYB_POW, x, py_binary(&A, PYB_POW, y, C(val_int(2))))),
              "x ** y ** 2");
    CHECK_STR(fmt(py_binary(&A, PYB_POW, py_binary(&A, PYB_POW, x, y), C(val_int(2)))),
              "(x ** y) ** 2");
    CHECK_STR(fmt(py_unary(&A, PY_NEG, py_binary(&A, PYB_POW, x, C(val_int(2))))), "-x ** 2");
    CHECK_STR(fmt(py_binary(&A, PYB_POW, py_unary(&A, PY_NEG, x), C(val_int(2)))), "(-x) ** 2");
    CHECK_STR(fmt(py_binary(&A, PYB_POW, C(val_int(-1)), x)), "(-1) ** x");
    CHECK_STR(fmt(py_binary(&A, PYB_POW, x, C(val_int(-1)))), "x ** -1");
    CHECK_STR(fmt(py_unary(&A, PY_NEG, C(val_int(1)))), "-(1)");
    CHECK_STR(fmt(py_binary(&A, PYB_MUL, C(val_int(-1)), x)), "-1 * x");
    CHECK_STR(fmt(py_binary(&A, PYB_SUB, x, C(val_int(-1)))), "x - -1");
    /* boolean operators and not */
    CHECK_STR(fmt(py_unary(&A, PY_NOT, py_boolop(&A, PY_AND, x, y))), "not (x and y)");
    CHECK_STR(fmt(py_boolop(&A, PY_OR, py_boolop(&A, PY_AND, x, y), C(val_bool(false)))),
              "x and y or False");
    CHECK_STR(fmt(py_boolop(&A, PY_AND, x, py_boolop(&A, PY_OR, y, C(val_none())))),
              "x and (y or None)");
    CHECK_STR(fmt(py_boolop(&A, PY_AND, x, py_boolop(&A, PY_AND, y, x))), "x and (y and x)");
    CHECK_STR(fmt(py_cmp2(&A, PYC_EQ, py_unary(&A, PY_NOT, x), y)), "(not x) == y");
    CHECK_STR(fmt(py_cmp2(&A, PYC_LT, py_cmp2(&A, PYC_LT, x, y), C(val_int(1)))), "(x < y) < 1");
    CHECK_STR(fmt(py_unary(&A, PY_NOT, py_cmp2(&A, PYC_LT, x, y))), "not x < y");
    /* conditional expressions */
    PyExpr *ife = py_ifexp(&A, x, py_cmp2(&A, PYC_GT, x, C(val_int(0))), C(val_int(0)));
    CHECK_STR(fmt(ife), "x if x > 0 else 0");
    CHECK_STR(fmt(py_ifexp(&A, ife, y, C(val_int(1)))), "(x if x > 0 else 0) if y else 1");
    CHECK_STR(fmt(py_ifexp(&A, C(val_int(1)), y, ife)), "1 if y else x if x > 0 else 0");
    CHECK_STR(fmt(py_binary(&A, PYB_ADD, ife, C(val_int(1)))), "(x if x > 0 else 0) + 1");
    /* tuples, indexing, calls */
    PyExpr *it[2] = {x, y};
    CHECK_STR(fmt(py_tuple(&A, it, 2)), "(x, y)");
    CHECK_STR(fmt(py_tuple(&A, it, 1)), "(x,)");
    CHECK_STR(fmt(py_index(&A, x, C(val_int(0)))), "x[0]");
    CHECK_STR(fmt(py_index(&A, py_binary(&A, PYB_ADD, x, y), C(val_int(-1)))), "(x + y)[-1]");
    CHECK_STR(fmt(py_call(&A, PYF_ROUND, it, 2)), "round(x, y)");
    CHECK_STR(fmt(py_call(&A, PYF_MAX, it, 2)), "max(x, y)");
    /* constants: floats as repr, strings double-quoted with escapes */
    CHECK_STR(fmt(C(val_float(0.1))), "0.1");
    CHECK_STR(fmt(C(val_float(1.0))), "1.0");
    CHECK_STR(fmt(C(val_float(1e-05))), "1e-05");
    CHECK_STR(fmt(C(val_float(INFINITY))), "1e999");
    CHECK_STR(fmt(C(val_str("a\"b\\c\n"))), "\"a\\\"b\\\\c\\n\"");
    CHECK_STR(fmt(C(tup_1a())), "(1, \"a\")");
    CHECK_STR(fmt(C(val_none())), "None");
    /* parameter names come from the caller */
    const char *names[2] = {"k", "q"};
    char buf[64];
    CHECK(py_format(py_cmp2(&A, PYC_EQ, Y(), X()), names, buf, sizeof buf) == 6);
    CHECK_STR(buf, "q == k");
}

static void test_substitute_and_equal(void) {
    /* f(x) = x + 1, g(x) = x * 2: f(g(x)) = x * 2 + 1 */
    PyExpr *f = py_binary(&A, PYB_ADD, X(), C(val_int(1)));
    PyExpr *g = py_binary(&A, PYB_MUL, X(), C(val_int(2)));
    PyExpr *sub[2] = {g, NULL};
    PyExpr *fg = py_substitute(&A, f, sub);
    CHECK_STR(fmt(fg), "x * 2 + 1");
    CHECK_STR(run1(fg, val_int(5)), "int:11");
    CHECK_STR(fmt(f), "x + 1"); /* the original is untouched */
    CHECK(py_equal(
        fg, py_binary(&A, PYB_ADD, py_binary(&A, PYB_MUL, X(), C(val_int(2))), C(val_int(1)))));
    CHECK(!py_equal(f, g));
    CHECK(!py_equal(C(val_int(1)), C(val_float(1.0))));
    CHECK(!py_equal(C(val_int(1)), C(val_bool(true))));
    CHECK(!py_equal(C(val_float(0.0)), C(val_float(-0.0))));
    CHECK(py_equal(C(tup_1a()), C(tup_1a())));
    Value t2[2] = {val_float(1.0), val_str("a")};
    CHECK(!py_equal(C(tup_1a()), C(val_tuple(t2, 2))));
    CHECK(!py_equal(X(), Y()));
    PyCmpOp o1[2] = {PYC_LT, PYC_LT}, o2[2] = {PYC_LT, PYC_LE};
    PyExpr *a3[3] = {X(), Y(), C(val_int(3))};
    CHECK(!py_equal(py_cmp_chain(&A, o1, a3, 3), py_cmp_chain(&A, o2, a3, 3)));
    CHECK(py_equal(py_cmp_chain(&A, o1, a3, 3), py_cmp_chain(&A, o1, a3, 3)));
    /* baking a constant into a predicate: p(k, q) = q == k + 1 with k := 4 */
    PyExpr *pred = py_cmp2(&A, PYC_EQ, Y(), py_binary(&A, PYB_ADD, X(), C(val_int(1))));
    PyExpr *bake[2] = {C(val_int(4)), Y()};
    CHECK_STR(fmt(py_substitute(&A, pred, bake)), "y == 4 + 1");
}

int main(void) {
    arena_init(&A);
    RUN(test_empty_repeat_is_instant);
    RUN(test_binops_vs_cpython);
    RUN(test_compare_vs_cpython);
    RUN(test_builtins_vs_cpython);
    RUN(test_forms);
    RUN(test_messages);
    RUN(test_format);
    RUN(test_substitute_and_equal);
    arena_free(&A);
    TEST_END();
}
