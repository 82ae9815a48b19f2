/* Evaluation of lambda bodies with Python 3 semantics on int64/float/bool/str/tuple/None.
 * Every deviation from CPython is an error, never a silently different value: ints that
 * leave int64 raise OverflowError (an ArithmeticError, as in Python for floats). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rasp/pyexpr.h"

/* Strings or tuples longer than this are refused (MemoryError) instead of built. */
#define PY_MAX_SEQ (1u << 20)

static const char *err_class(PyErr e) {
    switch (e) {
    case PYERR_TYPE: return "TypeError";
    case PYERR_INDEX: return "IndexError";
    case PYERR_VALUE: return "ValueError";
    default: return "ArithmeticError";
    }
}

/* Writes "<Class>: <text>" and returns code. cls NULL = the code's default class name. */
__attribute__((format(printf, 5, 6))) static PyErr fail(PyErr code, const char *cls, char *msg,
                                                        size_t cap, const char *fmt, ...) {
    if (msg && cap) {
        int k = snprintf(msg, cap, "%s: ", cls ? cls : err_class(code));
        if (k >= 0 && (size_t)k < cap) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(msg + k, cap - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return code;
}

static bool is_intlike(Value v) { return v.kind == VAL_INT || v.kind == VAL_BOOL; }
static int64_t as_i64(Value v) { return v.kind == VAL_BOOL ? (int64_t)v.u.b : v.u.i; }

static PyErr overflow(char *msg, size_t cap) {
    return fail(PYERR_ARITH, "OverflowError", msg, cap, "integer result does not fit in 64 bits");
}

/* Python's float divmod (Objects/floatobject.c), so signs and -0.0 come out the same. */
static void float_divmod(double vx, double wx, double *floordiv, double *modp) {
    double mod = fmod(vx, wx);
    double div = (vx - mod) / wx;
    if (mod != 0.0) {
        if ((wx < 0) != (mod < 0)) {
            mod += wx;
            div -= 1.0;
        }
    } else {
        mod = copysign(0.0, wx);
    }
    double fd;
    if (div != 0.0) {
        fd = floor(div);
        if (div - fd > 0.5) fd += 1.0;
    } else {
        fd = copysign(0.0, vx / wx);
    }
    *floordiv = fd;
    *modp = mod;
}

static PyErr int_pow(int64_t base, int64_t exp, Value *out, char *msg, size_t cap) {
    int64_t result = 1, b = base;
    while (exp > 0) {
        if (exp & 1)
            if (__builtin_mul_overflow(result, b, &result)) return overflow(msg, cap);
        exp >>= 1;
        if (exp > 0 && __builtin_mul_overflow(b, b, &b)) return overflow(msg, cap);
    }
    *out = val_int(result);
    return PYERR_OK;
}

static PyErr float_pow(double x, double y, Value *out, char *msg, size_t cap) {
    if (x == 0.0 && y < 0.0 && isfinite(y))
        return fail(PYERR_ARITH, "ZeroDivisionError", msg, cap,
                    "0.0 cannot be raised to a negative power");
    if (x < 0.0 && isfinite(x) && isfinite(y) && y != floor(y))
        return fail(PYERR_TYPE, NULL, msg, cap,
                    "negative number raised to a fractional power gives a complex number, "
                    "which is not supported");
    double r = pow(x, y);
    if (isinf(r) && isfinite(x) && isfinite(y))
        return fail(PYERR_ARITH, "OverflowError", msg, cap,
                    "(34, 'Numerical result out of range')");
    *out = val_float(r);
    return PYERR_OK;
}

static PyErr seq_repeat(Value seq, int64_t count, Value *out, char *msg, size_t cap) {
    if (count < 0) count = 0;
    /* An empty sequence stays empty however large the count: no loop over count. */
    if ((seq.kind == VAL_STR && !seq.u.s[0]) || (seq.kind == VAL_TUPLE && seq.u.t->n == 0)) {
        *out = seq;
        return PYERR_OK;
    }
    if (seq.kind == VAL_STR) {
        size_t len = strlen(seq.u.s);
        if (len && (uint64_t)count > PY_MAX_SEQ / len)
            return fail(PYERR_VALUE, "MemoryError", msg, cap, "string too long");
        size_t total = len * (size_t)count;
        char *buf = malloc(total + 1);
        if (!buf) return fail(PYERR_VALUE, "MemoryError", msg, cap, "out of memory");
        for (int64_t i = 0; i < count; i++) memcpy(buf + (size_t)i * len, seq.u.s, len);
        *out = val_strn(buf, total);
        free(buf);
        return PYERR_OK;
    }
    size_t len = seq.u.t->n;
    if (len && (uint64_t)count > PY_MAX_SEQ / len)
        return fail(PYERR_VALUE, "MemoryError", msg, cap, "tuple too long");
    size_t total = len * (size_t)count;
    Value *items = malloc((total ? total : 1) * sizeof *items);
    if (!items) return fail(PYERR_VALUE, "MemoryError", msg, cap, "out of memory");
    for (int64_t i = 0; i < count; i++)
        memcpy(items + (size_t)i * len, seq.u.t->items, len * sizeof *items);
    *out = val_tuple(items, total);
    free(items);
    return PYERR_OK;
}

static PyErr seq_concat(Value a, Value b, Value *out, char *msg, size_t cap) {
    if (a.kind == VAL_STR) {
        size_t la = strlen(a.u.s), lb = strlen(b.u.s);
        if (la + lb > PY_MAX_SEQ)
            return fail(PYERR_VALUE, "MemoryError", msg, cap, "string too long");
        char *buf = malloc(la + lb + 1);
        if (!buf) return fail(PYERR_VALUE, "MemoryError", msg, cap, "out of memory");
        memcpy(buf, a.u.s, la);
        memcpy(buf + la, b.u.s, lb);
        *out = val_strn(buf, la + lb);
        free(buf);
        return PYERR_OK;
    }
    size_t la = a.u.t->n, lb = b.u.t->n;
    if (la + lb > PY_MAX_SEQ) return fail(PYERR_VALUE, "MemoryError", msg, cap, "tuple too long");
    Value *items = malloc((la + lb ? la + lb : 1) * sizeof *items);
    if (!items) return fail(PYERR_VALUE, "MemoryError", msg, cap, "out of memory");
    memcpy(items, a.u.t->items, la * sizeof *items);
    memcpy(items + la, b.u.t->items, lb * sizeof *items);
    *out = val_tuple(items, la + lb);
    free(items);
    return PYERR_OK;
}

PyErr py_binop(PyBinOp op, Value l, Value r, Value *out, char *msg, size_t cap) {
    *out = val_none();
    bool nums = val_is_number(l) && val_is_number(r);
    if (!nums) {
        if (op == PYB_ADD && l.kind == r.kind && (l.kind == VAL_STR || l.kind == VAL_TUPLE))
            return seq_concat(l, r, out, msg, cap);
        if (op == PYB_ADD && (l.kind == VAL_STR || l.kind == VAL_TUPLE))
            return fail(PYERR_TYPE, NULL, msg, cap, "can only concatenate %s (not \"%s\") to %s",
                        val_type_name(l), val_type_name(r), val_type_name(l));
        if (op == PYB_MUL && (l.kind == VAL_STR || l.kind == VAL_TUPLE) && is_intlike(r))
            return seq_repeat(l, as_i64(r), out, msg, cap);
        if (op == PYB_MUL && (r.kind == VAL_STR || r.kind == VAL_TUPLE) && is_intlike(l))
            return seq_repeat(r, as_i64(l), out, msg, cap);
        if (op == PYB_MUL &&
            (l.kind == VAL_STR || l.kind == VAL_TUPLE || r.kind == VAL_STR ||
             r.kind == VAL_TUPLE) &&
            (l.kind == VAL_FLOAT || r.kind == VAL_FLOAT || l.kind == r.kind))
            return fail(PYERR_TYPE, NULL, msg, cap,
                        "can't multiply sequence by non-int of type '%s'",
                        val_type_name(l.kind == VAL_STR || l.kind == VAL_TUPLE ? r : l));
        if (op == PYB_MOD && l.kind == VAL_STR)
            return fail(PYERR_TYPE, NULL, msg, cap, "string formatting with %% is not supported");
        return fail(PYERR_TYPE, NULL, msg, cap, "unsupported operand type(s) for %s: '%s' and '%s'",
                    op == PYB_POW ? "** or pow()" : py_binop_token(op), val_type_name(l),
                    val_type_name(r));
    }
    bool flt = l.kind == VAL_FLOAT || r.kind == VAL_FLOAT;
    if (flt) {
        double x = val_as_double(l), y = val_as_double(r), fd, md;
        switch (op) {
        case PYB_ADD: *out = val_float(x + y); return PYERR_OK;
        case PYB_SUB: *out = val_float(x - y); return PYERR_OK;
        case PYB_MUL: *out = val_float(x * y); return PYERR_OK;
        case PYB_DIV:
            if (y == 0.0)
                return fail(PYERR_ARITH, "ZeroDivisionError", msg, cap, "float division by zero");
            *out = val_float(x / y);
            return PYERR_OK;
        case PYB_FLOORDIV:
        case PYB_MOD:
            if (y == 0.0)
                return fail(PYERR_ARITH, "ZeroDivisionError", msg, cap, "float %s by zero",
                            op == PYB_MOD ? "modulo" : "floor division");
            float_divmod(x, y, &fd, &md);
            *out = val_float(op == PYB_MOD ? md : fd);
            return PYERR_OK;
        case PYB_POW: return float_pow(x, y, out, msg, cap);
        }
        return fail(PYERR_TYPE, NULL, msg, cap, "bad operator");
    }
    int64_t a = as_i64(l), b = as_i64(r), res;
    switch (op) {
    case PYB_ADD:
        if (__builtin_add_overflow(a, b, &res)) return overflow(msg, cap);
        *out = val_int(res);
        return PYERR_OK;
    case PYB_SUB:
        if (__builtin_sub_overflow(a, b, &res)) return overflow(msg, cap);
        *out = val_int(res);
        return PYERR_OK;
    case PYB_MUL:
        if (__builtin_mul_overflow(a, b, &res)) return overflow(msg, cap);
        *out = val_int(res);
        return PYERR_OK;
    case PYB_DIV:
        if (b == 0) return fail(PYERR_ARITH, "ZeroDivisionError", msg, cap, "division by zero");
        /* Exact for |a|,|b| <= 2^53, which is where CPython's correctly rounded int/int
         * division and the double quotient agree. */
        *out = val_float((double)a / (double)b);
        return PYERR_OK;
    case PYB_FLOORDIV:
    case PYB_MOD: {
        if (b == 0)
            return fail(PYERR_ARITH, "ZeroDivisionError", msg, cap, "integer %s by zero",
                        op == PYB_MOD ? "modulo" : "division or modulo");
        if (b == -1) {
            if (op == PYB_MOD) {
                *out = val_int(0);
                return PYERR_OK;
            }
            if (a == INT64_MIN) return overflow(msg, cap);
            *out = val_int(-a);
            return PYERR_OK;
        }
        int64_t q = a / b, m = a % b;
        if (m != 0 && ((m < 0) != (b < 0))) {
            q -= 1;
            m += b;
        }
        *out = val_int(op == PYB_MOD ? m : q);
        return PYERR_OK;
    }
    case PYB_POW:
        if (b >= 0) return int_pow(a, b, out, msg, cap);
        if (a == 0)
            return fail(PYERR_ARITH, "ZeroDivisionError", msg, cap,
                        "0.0 cannot be raised to a negative power");
        return float_pow((double)a, (double)b, out, msg, cap);
    }
    return fail(PYERR_TYPE, NULL, msg, cap, "bad operator");
}

PyErr py_compare(PyCmpOp op, Value l, Value r, bool *out, char *msg, size_t cap) {
    *out = false;
    if (op == PYC_EQ || op == PYC_NE) {
        bool eq = val_eq(l, r);
        *out = op == PYC_EQ ? eq : !eq;
        return PYERR_OK;
    }
    if (val_is_number(l) && val_is_number(r) &&
        ((l.kind == VAL_FLOAT && isnan(l.u.f)) || (r.kind == VAL_FLOAT && isnan(r.u.f))))
        return PYERR_OK; /* every ordering comparison with NaN is False */
    bool ok;
    int c = val_pycmp(l, r, &ok);
    if (!ok)
        return fail(PYERR_TYPE, NULL, msg, cap,
                    "'%s' not supported between instances of '%s' and '%s'", py_cmpop_token(op),
                    val_type_name(l), val_type_name(r));
    switch (op) {
    case PYC_LT: *out = c < 0; break;
    case PYC_LE: *out = c <= 0; break;
    case PYC_GT: *out = c > 0; break;
    case PYC_GE: *out = c >= 0; break;
    default: break;
    }
    return PYERR_OK;
}

/* ---- strings as code points ---------------------------------------------------------- */
static size_t utf8_count(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

/* The k-th code point of s as a new string value (k in range). */
static Value utf8_at(const char *s, size_t k) {
    size_t idx = 0;
    const char *p = s;
    for (; *p; p++) {
        if (((unsigned char)*p & 0xC0) == 0x80) continue;
        if (idx == k) break;
        idx++;
    }
    const char *q = p + 1;
    while (*q && ((unsigned char)*q & 0xC0) == 0x80) q++;
    return val_strn(p, (size_t)(q - p));
}

static PyErr index_value(Value base, Value idx, Value *out, char *msg, size_t cap) {
    if (base.kind != VAL_TUPLE && base.kind != VAL_STR)
        return fail(PYERR_TYPE, NULL, msg, cap, "'%s' object is not subscriptable",
                    val_type_name(base));
    if (!is_intlike(idx))
        return fail(PYERR_TYPE, NULL, msg, cap, "%s indices must be integers or slices, not %s",
                    val_type_name(base), val_type_name(idx));
    int64_t n = base.kind == VAL_TUPLE ? (int64_t)base.u.t->n : (int64_t)utf8_count(base.u.s);
    int64_t i = as_i64(idx);
    if (i < 0) i += n;
    if (i < 0 || i >= n)
        return fail(PYERR_INDEX, NULL, msg, cap, "%s index out of range",
                    base.kind == VAL_TUPLE ? "tuple" : "string");
    *out = base.kind == VAL_TUPLE ? base.u.t->items[i] : utf8_at(base.u.s, (size_t)i);
    return PYERR_OK;
}

/* ---- builtins --------------------------------------------------------------------------- */
static PyErr float_to_int(double f, Value *out, char *msg, size_t cap) {
    if (isnan(f)) return fail(PYERR_VALUE, NULL, msg, cap, "cannot convert float NaN to integer");
    if (isinf(f))
        return fail(PYERR_ARITH, "OverflowError", msg, cap,
                    "cannot convert float infinity to integer");
    if (f >= 9223372036854775808.0 || f < -9223372036854775808.0) return overflow(msg, cap);
    *out = val_int((int64_t)f);
    return PYERR_OK;
}

/* Strips ASCII whitespace and removes underscores that sit between two digits; returns
 * false when an underscore is misplaced (as int()/float() reject it). */
static bool clean_numeric_text(const char *s, char *buf, size_t cap) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r' ||
                 s[n - 1] == '\f' || s[n - 1] == '\v'))
        n--;
    if (n + 1 > cap) return false;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '_') {
            if (i == 0 || i + 1 >= n || s[i - 1] < '0' || s[i - 1] > '9' || s[i + 1] < '0' ||
                s[i + 1] > '9')
                return false;
            continue;
        }
        buf[k++] = s[i];
    }
    buf[k] = 0;
    return true;
}

static PyErr int_from_str(const char *s, Value *out, char *msg, size_t cap) {
    char buf[128], rep[96];
    val_repr_fmt(val_str(s), rep, sizeof rep);
    const char *p = buf;
    if (!clean_numeric_text(s, buf, sizeof buf)) goto bad;
    if (*p == '+' || *p == '-') p++;
    if (!*p) goto bad;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9') goto bad;
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno == ERANGE) return overflow(msg, cap);
    *out = val_int(v);
    return PYERR_OK;
bad:
    return fail(PYERR_VALUE, NULL, msg, cap, "invalid literal for int() with base 10: %s", rep);
}

static bool ieq(const char *a, const char *b) { return strcasecmp(a, b) == 0; }

static PyErr float_from_str(const char *s, Value *out, char *msg, size_t cap) {
    char buf[512], rep[96];
    val_repr_fmt(val_str(s), rep, sizeof rep);
    if (!clean_numeric_text(s, buf, sizeof buf)) goto bad;
    const char *p = buf;
    if (*p == '+' || *p == '-') p++;
    if (ieq(p, "inf") || ieq(p, "infinity") || ieq(p, "nan")) {
        double v = (p[0] == 'n' || p[0] == 'N') ? NAN : INFINITY;
        *out = val_float(buf[0] == '-' ? -v : v);
        return PYERR_OK;
    }
    int digits = 0;
    const char *q = p;
    while (*q >= '0' && *q <= '9') q++, digits++;
    if (*q == '.') {
        q++;
        while (*q >= '0' && *q <= '9') q++, digits++;
    }
    if (!digits) goto bad;
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-') q++;
        if (!(*q >= '0' && *q <= '9')) goto bad;
        while (*q >= '0' && *q <= '9') q++;
    }
    if (*q) goto bad;
    *out = val_float(strtod(buf, NULL));
    return PYERR_OK;
bad:
    return fail(PYERR_VALUE, NULL, msg, cap, "could not convert string to float: %s", rep);
}

PyErr py_int(Value v, Value *out, char *msg, size_t cap) {
    *out = val_none();
    switch (v.kind) {
    case VAL_BOOL:
    case VAL_INT: *out = val_int(as_i64(v)); return PYERR_OK;
    case VAL_FLOAT: return float_to_int(trunc(v.u.f), out, msg, cap);
    case VAL_STR: return int_from_str(v.u.s, out, msg, cap);
    default:
        return fail(
            PYERR_TYPE, NULL, msg, cap,
            "int() argument must be a string, a bytes-like object or a real number, not '%s'",
            val_type_name(v));
    }
}

/* round(x, nd) for a float x: the correctly rounded decimal (ties to even on the exact
 * binary value), as CPython's dtoa-based double_round. */
static PyErr round_float_nd(double x, int64_t nd, Value *out, char *msg, size_t cap) {
    if (!isfinite(x) || nd > 323) {
        *out = val_float(x);
        return PYERR_OK;
    }
    if (nd < -308 || x == 0.0) {
        *out = val_float(x == 0.0 ? x : copysign(0.0, x));
        return PYERR_OK;
    }
    char buf[1024];
    if (nd >= 0) {
        snprintf(buf, sizeof buf, "%.*f", (int)nd, x);
    } else {
        /* Round to 10^-nd: keep (exponent + 1 + nd) significant digits. */
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.40e", x);
        int e10 = atoi(strchr(tmp, 'e') + 1);
        int sig = e10 + 1 + (int)nd;
        if (sig > 0) {
            snprintf(buf, sizeof buf, "%.*e", sig - 1, x);
        } else if (sig == 0) {
            /* |x| in [10^(k-1), 10^k) with k = -nd: compare with the half 0.5*10^k. */
            double half = 0.5 * pow(10.0, (double)-nd);
            double ax = fabs(x);
            double r = ax > half ? pow(10.0, (double)-nd) : 0.0;
            snprintf(buf, sizeof buf, "%.17g", copysign(r, x));
            if (r == 0.0) {
                *out = val_float(copysign(0.0, x));
                return PYERR_OK;
            }
        } else {
            *out = val_float(copysign(0.0, x));
            return PYERR_OK;
        }
    }
    double r = strtod(buf, NULL);
    if (isinf(r))
        return fail(PYERR_ARITH, "OverflowError", msg, cap, "rounded value too large to represent");
    if (r == 0.0) r = copysign(0.0, x);
    *out = val_float(r);
    return PYERR_OK;
}

static PyErr builtin_round(const Value *args, int n, Value *out, char *msg, size_t cap) {
    if (n < 1 || n > 2)
        return fail(PYERR_TYPE, NULL, msg, cap, "round() takes at most 2 arguments (%d given)", n);
    Value x = args[0];
    bool has_nd = n == 2 && args[1].kind != VAL_NONE;
    if (has_nd && !is_intlike(args[1]))
        return fail(PYERR_TYPE, NULL, msg, cap, "'%s' object cannot be interpreted as an integer",
                    val_type_name(args[1]));
    if (!val_is_number(x))
        return fail(PYERR_TYPE, NULL, msg, cap, "type %s doesn't define __round__ method",
                    val_type_name(x));
    if (!has_nd) {
        if (is_intlike(x)) {
            *out = val_int(as_i64(x));
            return PYERR_OK;
        }
        return float_to_int(rint(x.u.f), out, msg, cap); /* rint: ties to even */
    }
    int64_t nd = as_i64(args[1]);
    if (x.kind == VAL_FLOAT) return round_float_nd(x.u.f, nd, out, msg, cap);
    int64_t v = as_i64(x);
    if (nd >= 0) {
        *out = val_int(v);
        return PYERR_OK;
    }
    if (nd < -18) {
        *out = val_int(0);
        return PYERR_OK;
    }
    int64_t p = 1;
    for (int64_t i = 0; i < -nd; i++) p *= 10;
    int64_t q = v / p, r = v % p;
    if (r < 0) {
        q -= 1;
        r += p;
    }
    /* r in [0, p): round half to even */
    if (r > p - r || (r == p - r && (q & 1))) q += 1;
    int64_t res;
    if (__builtin_mul_overflow(q, p, &res)) return overflow(msg, cap);
    *out = val_int(res);
    return PYERR_OK;
}

static PyErr builtin_minmax(bool is_max, const Value *args, int n, Value *out, char *msg,
                            size_t cap) {
    const char *name = is_max ? "max" : "min";
    if (n == 0)
        return fail(PYERR_TYPE, NULL, msg, cap, "%s expected at least 1 argument, got 0", name);
    const Value *items = args;
    size_t count = (size_t)n;
    Value tmp[64];
    Value *heap = NULL;
    if (n == 1) {
        Value it = args[0];
        if (it.kind == VAL_TUPLE) {
            items = it.u.t->items;
            count = it.u.t->n;
        } else if (it.kind == VAL_STR) {
            count = utf8_count(it.u.s);
            Value *buf = count <= 64 ? tmp : (heap = malloc(count * sizeof *heap));
            if (!buf) return fail(PYERR_VALUE, "MemoryError", msg, cap, "out of memory");
            for (size_t i = 0; i < count; i++) buf[i] = utf8_at(it.u.s, i);
            items = buf;
        } else {
            return fail(PYERR_TYPE, NULL, msg, cap, "'%s' object is not iterable",
                        val_type_name(it));
        }
        if (count == 0)
            return fail(PYERR_VALUE, NULL, msg, cap, "%s() arg is an empty sequence", name);
    }
    Value best = items[0];
    PyErr e = PYERR_OK;
    for (size_t i = 1; i < count; i++) {
        bool better;
        e = py_compare(is_max ? PYC_GT : PYC_LT, items[i], best, &better, msg, cap);
        if (e) break;
        if (better) best = items[i];
    }
    free(heap);
    if (e) return e;
    *out = best;
    return PYERR_OK;
}

static PyErr call_builtin(PyBuiltin fn, const Value *args, int n, Value *out, char *msg,
                          size_t cap) {
    switch (fn) {
    case PYF_ABS: {
        if (n != 1)
            return fail(PYERR_TYPE, NULL, msg, cap, "abs() takes exactly one argument (%d given)",
                        n);
        Value x = args[0];
        if (x.kind == VAL_FLOAT) *out = val_float(fabs(x.u.f));
        else if (is_intlike(x)) {
            int64_t v = as_i64(x);
            if (v == INT64_MIN) return overflow(msg, cap);
            *out = val_int(v < 0 ? -v : v);
        } else
            return fail(PYERR_TYPE, NULL, msg, cap, "bad operand type for abs(): '%s'",
                        val_type_name(x));
        return PYERR_OK;
    }
    case PYF_MIN: return builtin_minmax(false, args, n, out, msg, cap);
    case PYF_MAX: return builtin_minmax(true, args, n, out, msg, cap);
    case PYF_INT:
        if (n == 0) {
            *out = val_int(0);
            return PYERR_OK;
        }
        if (n != 1) return fail(PYERR_TYPE, NULL, msg, cap, "int() with a base is not supported");
        return py_int(args[0], out, msg, cap);
    case PYF_FLOAT:
        if (n == 0) {
            *out = val_float(0.0);
            return PYERR_OK;
        }
        if (n != 1)
            return fail(PYERR_TYPE, NULL, msg, cap, "float expected at most 1 argument, got %d", n);
        if (val_is_number(args[0])) {
            *out = val_float(val_as_double(args[0]));
            return PYERR_OK;
        }
        if (args[0].kind == VAL_STR) return float_from_str(args[0].u.s, out, msg, cap);
        return fail(PYERR_TYPE, NULL, msg, cap,
                    "float() argument must be a string or a real number, not '%s'",
                    val_type_name(args[0]));
    case PYF_ROUND: return builtin_round(args, n, out, msg, cap);
    case PYF_BOOL:
        if (n > 1)
            return fail(PYERR_TYPE, NULL, msg, cap, "bool expected at most 1 argument, got %d", n);
        *out = val_bool(n == 1 && val_truthy(args[0]));
        return PYERR_OK;
    }
    return fail(PYERR_TYPE, NULL, msg, cap, "unknown builtin");
}

/* ---- the evaluator ------------------------------------------------------------------------ */
/* The fast paths below compute exactly what py_binop/py_compare compute for the operand kinds
 * they accept (ints that do not overflow, floats, strs) and leave everything else, errors
 * included, to those functions. */

/* l op r for two ints where the result needs no error path (x + 1, x - y, x * 2, x % 2,
 * x // 2 on small ints). */
static inline bool int_binop_fast(PyBinOp op, int64_t a, int64_t b, Value *out) {
    int64_t r;
    switch (op) {
    case PYB_ADD:
        if (__builtin_add_overflow(a, b, &r)) return false;
        break;
    case PYB_SUB:
        if (__builtin_sub_overflow(a, b, &r)) return false;
        break;
    case PYB_MUL:
        if (__builtin_mul_overflow(a, b, &r)) return false;
        break;
    case PYB_FLOORDIV:
    case PYB_MOD: {
        if (b <= 0) return false;
        int64_t q = a / b, m = a % b;
        if (m < 0) {
            q -= 1;
            m += b;
        }
        r = op == PYB_MOD ? m : q;
        break;
    }
    default: return false;
    }
    *out = (Value){.kind = VAL_INT, .u.i = r};
    return true;
}

/* An int or float operand as the double Python's mixed arithmetic and comparisons use, when
 * that double is exact (|int| <= 2^53, where int-float comparisons agree with double ones). */
static inline bool exact_double(Value v, double *d) {
    if (v.kind == VAL_FLOAT) {
        *d = v.u.f;
        return true;
    }
    if (v.kind == VAL_INT && v.u.i >= -(INT64_C(1) << 53) && v.u.i <= (INT64_C(1) << 53)) {
        *d = (double)v.u.i;
        return true;
    }
    return false;
}

static inline bool binop_fast(PyBinOp op, Value l, Value r, Value *out) {
    if (l.kind == VAL_INT && r.kind == VAL_INT) return int_binop_fast(op, l.u.i, r.u.i, out);
    double x, y;
    if ((l.kind != VAL_FLOAT && r.kind != VAL_FLOAT) || !exact_double(l, &x) ||
        !exact_double(r, &y))
        return false;
    switch (op) { /* py_binop's float branch */
    case PYB_ADD: *out = val_float(x + y); return true;
    case PYB_SUB: *out = val_float(x - y); return true;
    case PYB_MUL: *out = val_float(x * y); return true;
    case PYB_DIV:
        if (y == 0.0) return false;
        *out = val_float(x / y);
        return true;
    default: return false;
    }
}

/* l op r for ints, strs and exact numbers. Returns false when py_compare is needed. */
static inline bool cmp_fast(PyCmpOp op, Value l, Value r, bool *res) {
    int c;
    if (l.kind == VAL_INT && r.kind == VAL_INT) {
        c = (l.u.i > r.u.i) - (l.u.i < r.u.i);
    } else if (l.kind == VAL_STR && r.kind == VAL_STR) {
        if (l.u.s == r.u.s) c = 0;
        else if (op == PYC_EQ || op == PYC_NE) c = 1; /* interned: distinct pointers differ */
        else {
            c = strcmp(l.u.s, r.u.s);
            c = (c > 0) - (c < 0);
        }
    } else {
        double x, y;
        if ((l.kind != VAL_FLOAT && r.kind != VAL_FLOAT) || !exact_double(l, &x) ||
            !exact_double(r, &y))
            return false;
        /* C's comparisons are Python's here, NaN included (== false, != true, orderings
         * false). */
        switch (op) {
        case PYC_EQ: *res = x == y; return true;
        case PYC_NE: *res = x != y; return true;
        case PYC_LT: *res = x < y; return true;
        case PYC_LE: *res = x <= y; return true;
        case PYC_GT: *res = x > y; return true;
        case PYC_GE: *res = x >= y; return true;
        default: return false;
        }
    }
    switch (op) {
    case PYC_EQ: *res = c == 0; break;
    case PYC_NE: *res = c != 0; break;
    case PYC_LT: *res = c < 0; break;
    case PYC_LE: *res = c <= 0; break;
    case PYC_GT: *res = c > 0; break;
    case PYC_GE: *res = c >= 0; break;
    default: return false;
    }
    return true;
}

static PyErr eval(const PyExpr *e, const Value *params, Value *out, char *msg, size_t cap);

/* A constant or a (valid) parameter: read in place. */
static inline bool atom(const PyExpr *e, const Value *params, Value *out) {
    if (e->kind == PY_CONST) {
        *out = e->value;
        return true;
    }
    if (e->kind == PY_PARAM && (e->param == 0 || e->param == 1)) {
        *out = params[e->param];
        return true;
    }
    return false;
}

/* Constants, parameters and a binary operator on two of them (x + 1, k * 2) are evaluated
 * in place rather than through a call: most lambda bodies are one or two such levels. */
static inline PyErr eval_arg(const PyExpr *e, const Value *params, Value *out, char *msg,
                             size_t cap) {
    if (atom(e, params, out)) return PYERR_OK;
    Value a, b;
    if (e->kind == PY_BIN && atom(e->args[0], params, &a) && atom(e->args[1], params, &b)) {
        if (binop_fast(e->binop, a, b, out)) return PYERR_OK;
        return py_binop(e->binop, a, b, out, msg, cap);
    }
    return eval(e, params, out, msg, cap);
}

/* The rarer node kinds, out of line so that eval's frame stays small. */
__attribute__((noinline)) static PyErr eval_tuple(const PyExpr *e, const Value *params, Value *out,
                                                  char *msg, size_t cap) {
    Value small[8] = {{0}};
    PyErr err;
    Value *items = e->n_args <= 8 ? small : malloc((size_t)e->n_args * sizeof *items);
    if (!items) return fail(PYERR_VALUE, "MemoryError", msg, cap, "out of memory");
    for (int i = 0; i < e->n_args; i++) {
        if ((err = eval_arg(e->args[i], params, &items[i], msg, cap))) {
            if (items != small) free(items);
            return err;
        }
    }
    *out = val_tuple(items, (size_t)e->n_args);
    if (items != small) free(items);
    return PYERR_OK;
}

__attribute__((noinline)) static PyErr eval_call(const PyExpr *e, const Value *params, Value *out,
                                                 char *msg, size_t cap) {
    Value args[8];
    PyErr err;
    if (e->n_args > 8) return fail(PYERR_TYPE, NULL, msg, cap, "too many arguments");
    for (int i = 0; i < e->n_args; i++)
        if ((err = eval_arg(e->args[i], params, &args[i], msg, cap))) return err;
    err = call_builtin(e->fn, args, e->n_args, out, msg, cap);
    if (err) *out = val_none();
    return err;
}

__attribute__((noinline)) static PyErr eval_unary(const PyExpr *e, Value a, Value *out, char *msg,
                                                  size_t cap) {
    if (a.kind == VAL_FLOAT) *out = val_float(e->kind == PY_NEG ? -a.u.f : a.u.f);
    else if (is_intlike(a)) {
        int64_t v = as_i64(a);
        if (e->kind == PY_NEG && v == INT64_MIN) return overflow(msg, cap);
        *out = val_int(e->kind == PY_NEG ? -v : v);
    } else
        return fail(PYERR_TYPE, NULL, msg, cap, "bad operand type for unary %s: '%s'",
                    e->kind == PY_NEG ? "-" : "+", val_type_name(a));
    return PYERR_OK;
}

/* Intermediate results are only meaningful on PYERR_OK: py_eval clears *out on an error. */
static PyErr eval(const PyExpr *e, const Value *params, Value *out, char *msg, size_t cap) {
    Value a, b;
    PyErr err;
    switch (e->kind) {
    case PY_CONST: *out = e->value; return PYERR_OK;
    case PY_PARAM:
        if (e->param < 0 || e->param > 1)
            return fail(PYERR_VALUE, NULL, msg, cap, "bad parameter index");
        *out = params[e->param];
        return PYERR_OK;
    case PY_NEG:
    case PY_POS:
        if ((err = eval_arg(e->args[0], params, &a, msg, cap))) return err;
        return eval_unary(e, a, out, msg, cap);
    case PY_NOT:
        if ((err = eval_arg(e->args[0], params, &a, msg, cap))) return err;
        *out = val_bool(!val_truthy(a));
        return PYERR_OK;
    case PY_BIN:
        if ((err = eval_arg(e->args[0], params, &a, msg, cap))) return err;
        if ((err = eval_arg(e->args[1], params, &b, msg, cap))) return err;
        if (binop_fast(e->binop, a, b, out)) return PYERR_OK;
        return py_binop(e->binop, a, b, out, msg, cap);
    case PY_CMP: {
        if ((err = eval_arg(e->args[0], params, &a, msg, cap))) return err;
        for (int i = 1; i < e->n_args; i++) {
            bool r;
            if ((err = eval_arg(e->args[i], params, &b, msg, cap))) return err;
            if (!cmp_fast(e->ops[i - 1], a, b, &r) &&
                (err = py_compare(e->ops[i - 1], a, b, &r, msg, cap)))
                return err;
            if (!r) {
                *out = val_bool(false);
                return PYERR_OK;
            }
            a = b;
        }
        *out = val_bool(true);
        return PYERR_OK;
    }
    case PY_AND:
    case PY_OR:
        if ((err = eval_arg(e->args[0], params, &a, msg, cap))) return err;
        if (val_truthy(a) == (e->kind == PY_OR)) {
            *out = a;
            return PYERR_OK;
        }
        return eval_arg(e->args[1], params, out, msg, cap);
    case PY_IF:
        if ((err = eval_arg(e->args[1], params, &a, msg, cap))) return err;
        return eval_arg(e->args[val_truthy(a) ? 0 : 2], params, out, msg, cap);
    case PY_TUPLE: return eval_tuple(e, params, out, msg, cap);
    case PY_INDEX:
        if ((err = eval_arg(e->args[0], params, &a, msg, cap))) return err;
        if ((err = eval_arg(e->args[1], params, &b, msg, cap))) return err;
        return index_value(a, b, out, msg, cap);
    case PY_CALL: return eval_call(e, params, out, msg, cap);
    case PY_LOOKUP:
        if ((err = eval_arg(e->args[0], params, &a, msg, cap))) return err;
        /* the last equal key wins, as in a Python dict display */
        for (int i = e->n_args - 2; i >= 1; i -= 2) {
            if ((err = eval_arg(e->args[i], params, &b, msg, cap))) return err;
            if (val_eq(a, b)) return eval_arg(e->args[i + 1], params, out, msg, cap);
        }
        {
            char r[64];
            val_repr_fmt(a, r, sizeof r);
            return fail(PYERR_INDEX, NULL, msg, cap, "KeyError: %s", r);
        }
    }
    return fail(PYERR_VALUE, NULL, msg, cap, "bad expression node");
}

PyErr py_eval(const PyExpr *e, const Value *args, Value *out, char *msg, size_t msg_cap) {
    if (msg && msg_cap) msg[0] = 0;
    PyErr err = eval_arg(e, args, out, msg, msg_cap);
    if (err) *out = val_none();
    return err;
}

PyErr lambda_call(const Lambda *f, const Value *args, Value *out, char *msg, size_t msg_cap) {
    return py_eval(f->body, args, out, msg, msg_cap);
}
