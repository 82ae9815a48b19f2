/* Python str()/repr() of values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rasp/value.h"
#include "util/bufout.h"

size_t val_float_repr(double f, char *buf, size_t cap) {
    BufOut o = {buf, cap, 0};
    if (isnan(f)) {
        bufout_s(&o, "nan");
    } else if (isinf(f)) {
        bufout_s(&o, f < 0 ? "-inf" : "inf");
    } else if (f == 0.0) {
        bufout_s(&o, signbit(f) ? "-0.0" : "0.0");
    } else {
        /* Shortest digit string that reads back to the same double: the first precision
         * whose correctly rounded form reads back. For a normal double whose shortest form
         * has k <= 15 digits, the 15-digit form is that one padded with zeros (half an ulp
         * is less than half a unit in the 15th digit, so both are the decimal nearest f),
         * and trailing zeros are stripped below: trying 1, 2, 3, 15, 16 and 17 digits gives
         * the string that trying every precision gives. Subnormals (fewer bits) try all. */
        char tmp[40];
        static const int normal_prec[] = {1, 2, 3, 15, 16, 17};
        bool normal = fabs(f) >= 2.2250738585072014e-308;
        for (int t = 0; t < (normal ? 6 : 17); t++) {
            int prec = normal ? normal_prec[t] : t + 1;
            snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
            if (strtod(tmp, NULL) == f) break;
        }
        /* tmp = [-]d[.ddd]e[+-]XX */
        bool neg = tmp[0] == '-';
        const char *p = tmp + neg;
        char digits[24];
        int nd = 0;
        for (; *p && *p != 'e'; p++)
            if (*p >= '0' && *p <= '9') digits[nd++] = *p;
        while (nd > 1 && digits[nd - 1] == '0') nd--;
        digits[nd] = 0;
        int exp10 = atoi(p + 1); /* value = d.ddd * 10^exp10 */
        char res[64];
        int k = 0;
        if (neg) res[k++] = '-';
        if (exp10 >= -4 && exp10 < 16) {
            if (exp10 < 0) {
                res[k++] = '0';
                res[k++] = '.';
                for (int i = 0; i < -exp10 - 1; i++) res[k++] = '0';
                for (int i = 0; i < nd; i++) res[k++] = digits[i];
            } else {
                for (int i = 0; i <= exp10; i++) res[k++] = i < nd ? digits[i] : '0';
                res[k++] = '.';
                if (nd > exp10 + 1)
                    for (int i = exp10 + 1; i < nd; i++) res[k++] = digits[i];
                else res[k++] = '0';
            }
            res[k] = 0;
        } else {
            res[k++] = digits[0];
            if (nd > 1) {
                res[k++] = '.';
                for (int i = 1; i < nd; i++) res[k++] = digits[i];
            }
            k += snprintf(res + k, sizeof res - (size_t)k, "e%c%02d", exp10 < 0 ? '-' : '+',
                          exp10 < 0 ? -exp10 : exp10);
        }
        bufout_s(&o, res);
    }
    bufout_end(&o);
    return o.len;
}

static void fmt_value(BufOut *o, Value v, bool repr);

void val_quoted_fmt(BufOut *o, const char *s, char q) {
    bufout_n(o, &q, 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '\\') bufout_s(o, "\\\\");
        else if (*p == (unsigned char)q) {
            esc[0] = '\\';
            esc[1] = q;
            bufout_n(o, esc, 2);
        } else if (*p == '\n') bufout_s(o, "\\n");
        else if (*p == '\r') bufout_s(o, "\\r");
        else if (*p == '\t') bufout_s(o, "\\t");
        else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", *p);
            bufout_s(o, esc);
        } else bufout_n(o, (const char *)p, 1);
    }
    bufout_n(o, &q, 1);
}

static void fmt_str_repr(BufOut *o, const char *s) {
    /* Python prefers single quotes unless the string has ' and no ". */
    bool has_sq = strchr(s, '\'') != NULL, has_dq = strchr(s, '"') != NULL;
    val_quoted_fmt(o, s, (has_sq && !has_dq) ? '"' : '\'');
}

static void fmt_value(BufOut *o, Value v, bool repr) {
    char tmp[64];
    switch (v.kind) {
    case VAL_NONE: bufout_s(o, "None"); break;
    case VAL_BOOL: bufout_s(o, v.u.b ? "True" : "False"); break;
    case VAL_INT: { /* by hand: labels of every direction pass here */
        uint64_t u = v.u.i < 0 ? 0 - (uint64_t)v.u.i : (uint64_t)v.u.i;
        char *e = tmp + sizeof tmp, *q = e;
        do *--q = (char)('0' + u % 10);
        while ((u /= 10) != 0);
        if (v.u.i < 0) *--q = '-';
        bufout_n(o, q, (size_t)(e - q));
        break;
    }
    case VAL_FLOAT:
        val_float_repr(v.u.f, tmp, sizeof tmp);
        bufout_s(o, tmp);
        break;
    case VAL_STR:
        if (repr) fmt_str_repr(o, v.u.s);
        else bufout_s(o, v.u.s);
        break;
    case VAL_TUPLE:
        bufout_s(o, "(");
        for (size_t i = 0; i < v.u.t->n; i++) {
            if (i) bufout_s(o, ", ");
            fmt_value(o, v.u.t->items[i], true); /* str(tuple) shows repr of items */
        }
        if (v.u.t->n == 1) bufout_s(o, ",");
        bufout_s(o, ")");
        break;
    }
}

size_t val_str_fmt(Value v, char *buf, size_t cap) {
    BufOut o = {buf, cap, 0};
    fmt_value(&o, v, false);
    bufout_end(&o);
    return o.len;
}

size_t val_repr_fmt(Value v, char *buf, size_t cap) {
    BufOut o = {buf, cap, 0};
    fmt_value(&o, v, true);
    bufout_end(&o);
    return o.len;
}
