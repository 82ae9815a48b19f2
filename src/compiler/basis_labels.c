/* Python str() of directions: the residual and hidden labels of a model. */
#include <stdio.h>
#include <string.h>

#include "compiler/basis.h"

size_t dir_str(const Dir *d, char *buf, size_t cap) {
    size_t n = strlen(d->name), used = n < cap ? n : (cap ? cap - 1 : 0);
    if (cap) {
        memcpy(buf, d->name, used);
        buf[used] = 0;
    }
    if (d->value.kind == VAL_NONE) return n;
    if (used + 1 < cap) {
        buf[used++] = ':';
        buf[used] = 0;
    }
    return n + 1 + val_str_fmt(d->value, buf + used, cap - used);
}

char *dir_str_arena(Arena *a, const Dir *d) {
    char small[256];
    size_t n = dir_str(d, small, sizeof small);
    if (n < sizeof small) return arena_strndup(a, small, n);
    char *s = arena_alloc(a, n + 1);
    dir_str(d, s, n + 1);
    return s;
}

/* Digits of |i| written backwards from end; returns the start. */
static char *int_digits(long long i, char *end) {
    unsigned long long u = i < 0 ? 0 - (unsigned long long)i : (unsigned long long)i;
    do *--end = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (i < 0) *--end = '-';
    return end;
}

/* str() of a tuple of ints, as val_str_fmt writes it ("(1, 0)", "(3,)"), into buf (room for
 * 64 bytes); returns the length, or 0 when the tuple holds something else or is longer. */
static size_t int_tuple_str(const ValTuple *t, char *buf) {
    if (t->n > 2) return 0;
    size_t k = 0;
    buf[k++] = '(';
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i].kind != VAL_INT) return 0;
        if (i) buf[k++] = ',', buf[k++] = ' ';
        char tmp[24], *q = int_digits(t->items[i].u.i, tmp + sizeof tmp);
        memcpy(buf + k, q, (size_t)(tmp + sizeof tmp - q));
        k += (size_t)(tmp + sizeof tmp - q);
    }
    if (t->n == 1) buf[k++] = ',';
    buf[k++] = ')';
    return k;
}

void dir_strs_arena(Arena *a, const Dir *d, int n, const char **out) {
    /* Pass 1: lengths; ints and strs by hand (as val_str_fmt writes them), other values
     * formatted once into a pool when they fit (else again in pass 2). */
    enum { SMALL = 256, POOL = 8192 };
    size_t lenbuf[SMALL];
    int offbuf[SMALL];
    char pool[POOL];
    size_t used = 0, total = 0;
    size_t *len = n <= SMALL ? lenbuf : arena_alloc(a, sizeof(size_t) * (size_t)n);
    int *off =
        n <= SMALL ? offbuf : arena_alloc(a, sizeof(int) * (size_t)n); /* into pool, -1 none */
    for (int i = 0; i < n; i++) {
        size_t k = strlen(d[i].name);
        Value v = d[i].value;
        char tmp[24];
        off[i] = -1;
        switch (v.kind) {
        case VAL_NONE: break;
        case VAL_INT:
            k += 1 + (size_t)(tmp + sizeof tmp - int_digits(v.u.i, tmp + sizeof tmp));
            break;
        case VAL_STR: k += 1 + strlen(v.u.s); break;
        default: {
            size_t vl = 0;
            if (v.kind == VAL_TUPLE && POOL - used > 64) vl = int_tuple_str(v.u.t, pool + used);
            if (!vl) vl = val_str_fmt(v, pool + used, POOL - used);
            if (used + vl < POOL) {
                off[i] = (int)used;
                used += vl + 1;
            }
            k += 1 + vl;
            break;
        }
        }
        len[i] = k;
        total += k + 1;
    }
    char *buf = arena_alloc(a, total + 1), *p = buf;
    for (int i = 0; i < n; i++) {
        out[i] = p;
        size_t k = strlen(d[i].name);
        memcpy(p, d[i].name, k);
        Value v = d[i].value;
        if (v.kind != VAL_NONE) {
            p[k++] = ':';
            if (v.kind == VAL_INT) {
                char tmp[24], *q = int_digits(v.u.i, tmp + sizeof tmp);
                memcpy(p + k, q, (size_t)(tmp + sizeof tmp - q));
            } else if (v.kind == VAL_STR) {
                memcpy(p + k, v.u.s, len[i] - k);
            } else if (off[i] >= 0) {
                memcpy(p + k, pool + off[i], len[i] - k);
            } else {
                val_str_fmt(v, p + k, len[i] - k + 1);
            }
        }
        p[len[i]] = 0;
        p += len[i] + 1;
    }
}
