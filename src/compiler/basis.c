/* The order of directions (Tracr's, docs/tracr.md §2.3) and the spaces built on it:
 * sorting, joins, the union of many sorted spaces (the residual space), lookups. Labels are in
 * basis_labels.c, the hash index in basis_index.c. */
#include "compiler/basis.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* val_dir_cmp of two tuples whose items pair up as same-kind ints, strs, non-NaN floats or
 * such tuples: lexicographic, the first unequal item deciding (Python's tuple <). Returns
 * false, leaving the comparison to val_dir_cmp, for anything else (mixed kinds, NaN). */
static bool tuple_cmp_fast(const ValTuple *a, const ValTuple *b, int *res) {
    if (a == b) {
        *res = 0;
        return true;
    }
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        Value x = a->items[i], y = b->items[i];
        if (x.kind != y.kind) return false;
        int c;
        switch (x.kind) {
        case VAL_INT: c = (x.u.i > y.u.i) - (x.u.i < y.u.i); break;
        case VAL_STR: c = str_order(x.u.s, y.u.s); break;
        case VAL_FLOAT:
            if (isnan(x.u.f) || isnan(y.u.f)) return false;
            c = (x.u.f > y.u.f) - (x.u.f < y.u.f);
            break;
        case VAL_TUPLE:
            if (!tuple_cmp_fast(x.u.t, y.u.t, &c)) return false;
            break;
        default: return false;
        }
        if (c) {
            *res = c;
            return true;
        }
    }
    *res = (a->n > b->n) - (a->n < b->n);
    return true;
}

/* dir_value_cmp beyond same-kind scalars. */
__attribute__((noinline)) static int dir_value_cmp_slow(const Dir *a, const Dir *b) {
    Value x = a->value, y = b->value;
    if (x.kind == VAL_TUPLE && y.kind == VAL_TUPLE) {
        int r;
        if (tuple_cmp_fast(x.u.t, y.u.t, &r)) return r;
    } else if ((x.kind == VAL_INT && y.kind == VAL_FLOAT) ||
               (x.kind == VAL_FLOAT && y.kind == VAL_INT)) {
        /* An int within 2^53 is exactly a double: comparing doubles is Python's exact
         * int-float comparison (and a NaN compares equal to everything, as there). */
        Value iv = x.kind == VAL_INT ? x : y;
        if (iv.u.i >= -(INT64_C(1) << 53) && iv.u.i <= (INT64_C(1) << 53)) {
            double p = x.kind == VAL_INT ? (double)x.u.i : x.u.f,
                   q = y.kind == VAL_INT ? (double)y.u.i : y.u.f;
            return (p > q) - (p < q);
        }
    }
    bool an = x.kind == VAL_NONE, bn = y.kind == VAL_NONE;
    /* None against anything raises TypeError in Python; "name" is a prefix of "name:v". */
    if (an || bn) return an && bn ? 0 : (an ? -1 : 1);
    return val_dir_cmp(a->name, x, y);
}

/* dir_cmp for two directions whose names are equal. */
static inline int dir_value_cmp(const Dir *a, const Dir *b) {
    Value x = a->value, y = b->value;
    if (x.kind == y.kind) {
        /* Same-kind values where val_dir_cmp is the native order (a NaN compares equal to
         * everything there, as here): no call. */
        switch (x.kind) {
        case VAL_NONE: return 0;
        case VAL_INT: return (x.u.i > y.u.i) - (x.u.i < y.u.i);
        case VAL_FLOAT: return (x.u.f > y.u.f) - (x.u.f < y.u.f);
        case VAL_BOOL: return (int)x.u.b - (int)y.u.b;
        case VAL_STR: return str_order(x.u.s, y.u.s);
        default: break;
        }
    }
    return dir_value_cmp_slow(a, b);
}

int dir_cmp(const Dir *a, const Dir *b) {
    int c = str_order(a->name, b->name); /* most comparisons are between directions of one node */
    return c ? c : dir_value_cmp(a, b);
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

/* ---- sorting with ranked names ----------------------------------------------------------
 * The residual space is sorted from many directions of a few names, and most comparisons
 * are between different names (a strcmp each). Ranking the distinct names once (rank order =
 * strcmp order, equal strings share a rank) turns those into integer comparisons. The sort
 * below is merge_sort step for step with a comparator that returns what dir_cmp returns, so
 * the result is the same even where the string fallback of the order is not transitive. */
typedef struct RDir {
    unsigned rank;
    Dir d;
} RDir;

static inline int rdir_cmp(const RDir *a, const RDir *b) {
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    return dir_value_cmp(&a->d, &b->d);
}

static void merge_sort_ranked(RDir *d, int n, RDir *tmp) {
    if (n < 2) return;
    if (n <= 8) {
        for (int i = 1; i < n; i++) {
            RDir x = d[i];
            int j = i - 1;
            while (j >= 0 && rdir_cmp(&d[j], &x) > 0) {
                d[j + 1] = d[j];
                j--;
            }
            d[j + 1] = x;
        }
        return;
    }
    int h = n / 2;
    merge_sort_ranked(d, h, tmp);
    merge_sort_ranked(d + h, n - h, tmp);
    if (rdir_cmp(&d[h - 1], &d[h]) <= 0) return;
    memcpy(tmp, d, sizeof(RDir) * (size_t)n);
    int i = 0, j = h, k = 0;
    while (i < h && j < n) d[k++] = rdir_cmp(&tmp[j], &tmp[i]) < 0 ? tmp[j++] : tmp[i++];
    while (i < h) d[k++] = tmp[i++];
    while (j < n) d[k++] = tmp[j++];
}

static int str_ptr_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct name pointers of d[0..n) and their ranks: name_of[i] indexes names[], and
 * rank[k] is the position of names[k]'s string among the distinct strings (equal strings at
 * different addresses share a rank). Returns the number of distinct pointers. */
static int rank_names(Arena *a, const Dir *d, int n, unsigned *name_of, const char **names,
                      unsigned **rank_out) {
    int P = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && d[i].name == d[i - 1].name) {
            name_of[i] = name_of[i - 1];
            continue;
        }
        int k = 0;
        while (k < P && names[k] != d[i].name) k++;
        if (k == P) names[P++] = d[i].name;
        name_of[i] = (unsigned)k;
    }
    const char **sorted = arena_alloc(a, sizeof(char *) * (size_t)(P + 1));
    memcpy(sorted, names, sizeof(char *) * (size_t)P);
    if (P <= 8) { /* insertion sort: few names */
        for (int i = 1; i < P; i++) {
            const char *x = sorted[i];
            int j = i - 1;
            while (j >= 0 && str_order(sorted[j], x) > 0) {
                sorted[j + 1] = sorted[j];
                j--;
            }
            sorted[j + 1] = x;
        }
    } else {
        qsort(sorted, (size_t)P, sizeof(char *), str_ptr_cmp);
    }
    unsigned *rank = arena_alloc(a, sizeof(unsigned) * (size_t)(P + 1));
    for (int k = 0; k < P; k++) {
        int lo = 0, hi = P - 1; /* the first sorted string equal to names[k] */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (str_order(sorted[mid], names[k]) < 0) lo = mid + 1;
            else hi = mid;
        }
        rank[k] = (unsigned)lo;
    }
    *rank_out = rank;
    return P;
}

/* dir_sort_unique(d, n) through ranked names; d[0..*n) is rewritten. */
static void sort_unique_ranked(Arena *a, Dir *d, int *n_io) {
    int n = *n_io;
    const char **names = arena_alloc(a, sizeof(char *) * (size_t)n);
    unsigned *name_of = arena_alloc(a, sizeof(unsigned) * (size_t)n); /* index into names */
    unsigned *rank;
    rank_names(a, d, n, name_of, names, &rank);
    RDir *r = arena_alloc(a, sizeof(RDir) * (size_t)n),
         *tmp = arena_alloc(a, sizeof(RDir) * (size_t)n);
    for (int i = 0; i < n; i++) r[i] = (RDir){rank[name_of[i]], d[i]};
    merge_sort_ranked(r, n, tmp);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || r[m - 1].rank != r[i].rank || !val_eq(r[m - 1].d.value, r[i].d.value))
            r[m++] = r[i];
    for (int i = 0; i < m; i++) d[i] = r[i].d;
    *n_io = m;
}

Space space_make(Arena *a, const Dir *d, int n) {
    Space s;
    s.d = arena_alloc(a, sizeof(Dir) * (size_t)(n ? n : 1));
    if (n) memcpy(s.d, d, sizeof(Dir) * (size_t)n);
    s.n = n;
    if (n > 16) {
        sort_unique_ranked(a, s.d, &s.n);
    } else if (n > 1) {
        Dir small[16];
        dir_sort_unique(s.d, &s.n, small);
    }
    return s;
}

/* Value classes under which dir_cmp is a total preorder whose ties are exactly dir_eq, when
 * a name's values are all of one class (None aside): numbers (not NaN), strs, tuples of
 * numbers (not NaN), tuples of strs. Other mixes (NaN, numbers with strs, a number with a
 * tuple, tuples of mixed items) meet the string fallback, which need not be transitive. */
enum { VC_NUM = 1, VC_STR = 2, VC_TUPNUM = 4, VC_TUPSTR = 8, VC_OTHER = 16 };
static unsigned value_class(Value v) {
    switch (v.kind) {
    case VAL_NONE: return 0;
    case VAL_BOOL:
    case VAL_INT: return VC_NUM;
    case VAL_FLOAT: return v.u.f == v.u.f ? VC_NUM : VC_OTHER;
    case VAL_STR: return VC_STR;
    case VAL_TUPLE: {
        unsigned c = 0;
        for (size_t i = 0; i < v.u.t->n; i++) {
            unsigned k = value_class(v.u.t->items[i]);
            if (k != VC_NUM && k != VC_STR) return VC_OTHER;
            c |= k;
        }
        return c == VC_NUM ? VC_TUPNUM : c == VC_STR ? VC_TUPSTR : c == 0 ? VC_TUPNUM : VC_OTHER;
    }
    }
    return VC_OTHER;
}

bool space_total_order(const Space *s) {
    unsigned cls = 0;
    for (int i = 0; i < s->n; i++) {
        if (i > 0 && s->d[i].name != s->d[0].name && strcmp(s->d[i].name, s->d[0].name) != 0)
            return false;
        cls |= value_class(s->d[i].value);
    }
    return !(cls & VC_OTHER) && !(cls & (cls - 1)) && cls;
}

/* A stretch of one piece whose directions share a name pointer: sorted by value. */
typedef struct NameRun {
    const Dir *d;
    int n;
    unsigned rank; /* of the name's string */
} NameRun;

/* space_make of the whole concatenation, step for step (the general case). */
static Space union_by_sort(Arena *a, const Space *pieces, int n_pieces, int total) {
    Dir *all = arena_alloc(a, sizeof(Dir) * (size_t)(total + 1));
    int k = 0;
    for (int p = 0; p < n_pieces; p++) {
        memcpy(all + k, pieces[p].d, sizeof(Dir) * (size_t)pieces[p].n);
        k += pieces[p].n;
    }
    Space s = {all, total};
    if (total > 16) sort_unique_ranked(a, s.d, &s.n);
    else if (total > 1) {
        Dir small[16];
        dir_sort_unique(s.d, &s.n, small);
    }
    return s;
}

Space space_union(Arena *a, const Space *pieces, int n_pieces) {
    /* Pieces that repeat an earlier array add nothing: their directions are already in the
     * concatenation, earlier. The rest is cut into runs of one name pointer. */
    int total = 0, n_runs = 0;
    for (int p = 0; p < n_pieces; p++) total += pieces[p].n;
    NameRun *runs = arena_alloc(a, sizeof(NameRun) * (size_t)(total + 1));
    const char **names = arena_alloc(a, sizeof(char *) * (size_t)(total + 1));
    unsigned *name_of = arena_alloc(a, sizeof(unsigned) * (size_t)(total + 1)); /* per run */
    for (int p = 0; p < n_pieces; p++) {
        const Space *x = &pieces[p];
        bool dup = false;
        for (int q = 0; q < p && !dup; q++) dup = pieces[q].d == x->d && pieces[q].n >= x->n;
        if (dup) continue;
        for (int i = 0; i < x->n;) {
            int e = i + 1;
            while (e < x->n && x->d[e].name == x->d[i].name) e++;
            runs[n_runs++] = (NameRun){x->d + i, e - i, 0};
            i = e;
        }
    }
    /* Rank the run names (rank_names works on directions: the first of each run). */
    Dir *heads = arena_alloc(a, sizeof(Dir) * (size_t)(n_runs + 1));
    for (int r = 0; r < n_runs; r++) heads[r] = runs[r].d[0];
    unsigned *rank;
    int P = rank_names(a, heads, n_runs, name_of, names, &rank);
    /* Classes per rank: with mixed classes the order may not be transitive, and only the
     * step-for-step sort of the whole concatenation is the same as space_make. */
    unsigned *cls = arena_alloc(a, sizeof(unsigned) * (size_t)(P + 1));
    for (int r = 0; r < n_runs; r++) {
        runs[r].rank = rank[name_of[r]];
        unsigned c = 0;
        for (int i = 0; i < runs[r].n; i++) c |= value_class(runs[r].d[i].value);
        cls[runs[r].rank] |= c;
    }
    for (int r = 0; r < P; r++)
        if ((cls[r] & VC_OTHER) || (cls[r] & (cls[r] - 1))) /* OTHER, or more than one class */
            return union_by_sort(a, pieces, n_pieces, total);
    /* A total preorder: a stable sort by (rank, value), keeping the first of equals, is the
     * unique result. Runs in rank order (stable), then each rank's runs merged in turn, the
     * merged prefix winning ties. */
    for (int i = 1; i < n_runs; i++) {
        NameRun x = runs[i];
        int j = i - 1;
        while (j >= 0 && runs[j].rank > x.rank) {
            runs[j + 1] = runs[j];
            j--;
        }
        runs[j + 1] = x;
    }
    Space s;
    s.d = arena_alloc(a, sizeof(Dir) * (size_t)(total + 1));
    s.n = 0;
    Dir *tmp = NULL;
    for (int r = 0; r < n_runs;) {
        int g = r + 1;
        while (g < n_runs && runs[g].rank == runs[r].rank) g++;
        Dir *acc = s.d + s.n; /* the merged runs of this rank so far */
        int m = 0;
        for (int i = 0; i < runs[r].n; i++) /* a run is sorted; drop equal neighbours */
            if (m == 0 || dir_value_cmp(&acc[m - 1], &runs[r].d[i]) != 0) acc[m++] = runs[r].d[i];
        for (int q = r + 1; q < g; q++) {
            if (!tmp) tmp = arena_alloc(a, sizeof(Dir) * (size_t)(total + 1));
            const Dir *y = runs[q].d;
            int ny = runs[q].n, i = 0, j = 0, k = 0;
            while (i < m || j < ny) {
                const Dir *next;
                if (j == ny) next = &acc[i++];
                else if (i == m) next = &y[j++];
                else {
                    int c = dir_value_cmp(&y[j], &acc[i]);
                    next = c < 0 ? &y[j++] : &acc[i++];
                }
                if (k == 0 || dir_value_cmp(&tmp[k - 1], next) != 0) tmp[k++] = *next;
            }
            memcpy(acc, tmp, sizeof(Dir) * (size_t)k);
            m = k;
        }
        s.n += m;
        r = g;
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
