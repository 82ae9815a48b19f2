#include "compiler/basis.h"

#include <stdio.h>
#include <string.h>

int dir_cmp(const Dir *a, const Dir *b) {
    if (a->name != b->name) { /* most comparisons are between directions of one node */
        int c = strcmp(a->name, b->name);
        if (c) return c < 0 ? -1 : 1;
    }
    bool an = a->value.kind == VAL_NONE, bn = b->value.kind == VAL_NONE;
    /* None against anything raises TypeError in Python; "name" is a prefix of "name:v". */
    if (an || bn) return an && bn ? 0 : (an ? -1 : 1);
    return val_dir_cmp(a->name, a->value, b->value);
}

bool dir_eq(const Dir *a, const Dir *b) {
    return (a->name == b->name || strcmp(a->name, b->name) == 0) && val_eq(a->value, b->value);
}

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

static void merge_sort(Dir *d, int n, Dir *tmp) {
    if (n < 2) return;
    if (n <= 8) { /* insertion sort: stable and fast on the tiny spaces that dominate */
        for (int i = 1; i < n; i++) {
            Dir x = d[i];
            int j = i - 1;
            while (j >= 0 && dir_cmp(&d[j], &x) > 0) {
                d[j + 1] = d[j];
                j--;
            }
            d[j + 1] = x;
        }
        return;
    }
    int h = n / 2;
    merge_sort(d, h, tmp);
    merge_sort(d + h, n - h, tmp);
    if (dir_cmp(&d[h - 1], &d[h]) <= 0) return;
    memcpy(tmp, d, sizeof(Dir) * (size_t)n);
    int i = 0, j = h, k = 0;
    while (i < h && j < n) d[k++] = dir_cmp(&tmp[j], &tmp[i]) < 0 ? tmp[j++] : tmp[i++];
    while (i < h) d[k++] = tmp[i++];
    while (j < n) d[k++] = tmp[j++];
}

void dir_sort_unique(Dir *d, int *n, Dir *scratch) {
    merge_sort(d, *n, scratch);
    int m = 0;
    for (int i = 0; i < *n; i++)
        if (m == 0 || !dir_eq(&d[m - 1], &d[i])) d[m++] = d[i];
    *n = m;
}

Space space_make(Arena *a, const Dir *d, int n) {
    Space s;
    s.d = arena_alloc(a, sizeof(Dir) * (size_t)(n ? n : 1));
    if (n) memcpy(s.d, d, sizeof(Dir) * (size_t)n);
    s.n = n;
    if (n > 1) {
        Dir small[64];
        Dir *tmp = n <= 64 ? small : arena_alloc(a, sizeof(Dir) * (size_t)n);
        dir_sort_unique(s.d, &s.n, tmp);
    }
    return s;
}

Space space_join(Arena *a, const Space *x, const Space *y) {
    Space s;
    s.d = arena_alloc(a, sizeof(Dir) * (size_t)(x->n + y->n + 1));
    int i = 0, j = 0, k = 0;
    while (i < x->n && j < y->n) {
        int c = dir_cmp(&x->d[i], &y->d[j]);
        if (c == 0 && dir_eq(&x->d[i], &y->d[j])) {
            s.d[k++] = x->d[i++];
            j++;
        } else if (c <= 0) {
            s.d[k++] = x->d[i++];
        } else {
            s.d[k++] = y->d[j++];
        }
    }
    while (i < x->n) s.d[k++] = x->d[i++];
    while (j < y->n) s.d[k++] = y->d[j++];
    s.n = k;
    return s;
}

int space_find(const Space *s, const Dir *d) {
    int lo = 0, hi = s->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = dir_cmp(&s->d[mid], d);
        if (c == 0) {
            if (dir_eq(&s->d[mid], d)) return mid;
            break;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    /* The string fallback of the order is not always transitive on mixed value types;
     * a linear scan keeps lookups correct there. */
    for (int i = 0; i < s->n; i++)
        if (dir_eq(&s->d[i], d)) return i;
    return -1;
}

Space space_from_values(Arena *a, const char *name, const Value *values, size_t n) {
    Dir *d = arena_alloc(a, sizeof(Dir) * (n ? n : 1));
    int m = 0;
    for (size_t i = 0; i < n; i++)
        if (values[i].kind != VAL_NONE) d[m++] = (Dir){name, values[i]};
    return space_make(a, d, m);
}
