/* RASP values: constructors, interning, Python equality/hash/ordering and value sets.
 * Formatting (str/repr) lives in value_format.c. */
#include "rasp/value.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- interning ---------------------------------------------------------------------- */
/* One open-addressing table for strings and tuples. Tuples are interned by exact structure
 * (kinds and bit patterns), not by val_eq: (1,) and (True,) are equal in Python but print
 * differently, so they must stay distinct objects. */

typedef struct {
    uint64_t hash;
    int is_tuple;
    const void *obj; /* char * or ValTuple * */
} InternSlot;

static pthread_mutex_t g_intern_mu = PTHREAD_MUTEX_INITIALIZER;
static InternSlot *g_slots;
static size_t g_nslots, g_used;

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "itracr: out of memory\n");
        abort();
    }
    return p;
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return mix64(h);
}

/* Structural identity hash/equality used only for interning. */
static uint64_t struct_hash(Value v);
static bool struct_eq(Value a, Value b) {
    if (a.kind != b.kind) return false;
    switch (a.kind) {
    case VAL_NONE: return true;
    case VAL_BOOL: return a.u.b == b.u.b;
    case VAL_INT: return a.u.i == b.u.i;
    case VAL_FLOAT: return memcmp(&a.u.f, &b.u.f, sizeof(double)) == 0;
    case VAL_STR: return a.u.s == b.u.s || strcmp(a.u.s, b.u.s) == 0;
    case VAL_TUPLE:
        if (a.u.t == b.u.t) return true;
        if (a.u.t->n != b.u.t->n) return false;
        for (size_t i = 0; i < a.u.t->n; i++)
            if (!struct_eq(a.u.t->items[i], b.u.t->items[i])) return false;
        return true;
    }
    return false;
}

static uint64_t struct_hash(Value v) {
    uint64_t h = (uint64_t)v.kind * 0x9e3779b97f4a7c15ULL;
    switch (v.kind) {
    case VAL_NONE: break;
    case VAL_BOOL: h ^= (uint64_t)v.u.b; break;
    case VAL_INT: h ^= (uint64_t)v.u.i; break;
    case VAL_FLOAT: {
        uint64_t bits;
        memcpy(&bits, &v.u.f, sizeof bits);
        h ^= bits;
        break;
    }
    case VAL_STR: h ^= hash_bytes(v.u.s, strlen(v.u.s)); break;
    case VAL_TUPLE:
        for (size_t i = 0; i < v.u.t->n; i++) h = mix64(h ^ struct_hash(v.u.t->items[i]));
        break;
    }
    return mix64(h);
}

static void intern_grow(void) {
    size_t n = g_nslots ? g_nslots * 2 : 1024;
    InternSlot *s = xmalloc(n * sizeof *s);
    memset(s, 0, n * sizeof *s);
    for (size_t i = 0; i < g_nslots; i++) {
        if (!g_slots[i].obj) continue;
        size_t j = g_slots[i].hash & (n - 1);
        while (s[j].obj) j = (j + 1) & (n - 1);
        s[j] = g_slots[i];
    }
    free(g_slots);
    g_slots = s;
    g_nslots = n;
}

static const char *intern_str(const char *str, size_t n) {
    uint64_t h = hash_bytes(str, n);
    pthread_mutex_lock(&g_intern_mu);
    if ((g_used + 1) * 2 > g_nslots) intern_grow();
    size_t j = h & (g_nslots - 1);
    const char *found = NULL;
    while (g_slots[j].obj) {
        if (g_slots[j].hash == h && !g_slots[j].is_tuple) {
            const char *c = g_slots[j].obj;
            if (strncmp(c, str, n) == 0 && c[n] == 0) {
                found = c;
                break;
            }
        }
        j = (j + 1) & (g_nslots - 1);
    }
    if (!found) {
        char *c = xmalloc(n + 1);
        memcpy(c, str, n);
        c[n] = 0;
        g_slots[j] = (InternSlot){h, 0, c};
        g_used++;
        found = c;
    }
    pthread_mutex_unlock(&g_intern_mu);
    return found;
}

static const ValTuple *intern_tuple(const Value *items, size_t n) {
    /* Same recipe as struct_hash on a tuple, without building one. */
    uint64_t h = (uint64_t)VAL_TUPLE * 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < n; i++) h = mix64(h ^ struct_hash(items[i]));
    h = mix64(h);
    pthread_mutex_lock(&g_intern_mu);
    if ((g_used + 1) * 2 > g_nslots) intern_grow();
    size_t j = h & (g_nslots - 1);
    const ValTuple *found = NULL;
    while (g_slots[j].obj) {
        if (g_slots[j].hash == h && g_slots[j].is_tuple) {
            const ValTuple *t = g_slots[j].obj;
            if (t->n == n) {
                size_t i = 0;
                while (i < n && struct_eq(t->items[i], items[i])) i++;
                if (i == n) {
                    found = t;
                    break;
                }
            }
        }
        j = (j + 1) & (g_nslots - 1);
    }
    if (!found) {
        ValTuple *t = xmalloc(sizeof(ValTuple) + n * sizeof(Value));
        t->n = n;
        if (n) memcpy(t->items, items, n * sizeof(Value));
        g_slots[j] = (InternSlot){h, 1, t};
        g_used++;
        found = t;
    }
    pthread_mutex_unlock(&g_intern_mu);
    return found;
}

/* ---- constructors --------------------------------------------------------------------- */
Value val_str(const char *s) { return val_strn(s, strlen(s)); }
Value val_str_once(const char *s, _Atomic(const char *) *slot) {
    const char *p = atomic_load_explicit(slot, memory_order_acquire);
    if (!p) {
        p = val_str(s).u.s;
        atomic_store_explicit(slot, p, memory_order_release);
    }
    return (Value){.kind = VAL_STR, .u.s = p};
}
Value val_strn(const char *s, size_t n) {
    return (Value){.kind = VAL_STR, .u.s = intern_str(s, n)};
}
Value val_tuple(const Value *items, size_t n) {
    return (Value){.kind = VAL_TUPLE, .u.t = intern_tuple(items, n)};
}

/* Interned tuples never move or die, so their addresses can be kept; threads that race on a
 * slot store the same address. */
enum { PAIR_CACHE_A = 1024 };
static _Atomic(const ValTuple *) g_pairs[PAIR_CACHE_A][2];

Value val_int_pair(int64_t a, int64_t b) {
    Value it[2] = {val_int(a), val_int(b)};
    if (a < 0 || a >= PAIR_CACHE_A || (b != 0 && b != 1)) return val_tuple(it, 2);
    _Atomic(const ValTuple *) *slot = &g_pairs[a][b];
    const ValTuple *t = atomic_load_explicit(slot, memory_order_acquire);
    if (!t) {
        t = intern_tuple(it, 2);
        atomic_store_explicit(slot, t, memory_order_release);
    }
    return (Value){.kind = VAL_TUPLE, .u.t = t};
}

/* ---- numeric comparison ---------------------------------------------------------------- */
/* Exact comparison of two numbers as Python does it (an int against a float compares the
 * mathematical values, not a rounded double). Returns -1, 0, 1, or 2 when unordered (NaN). */
static int num_cmp(Value a, Value b) {
    if (a.kind == VAL_FLOAT || b.kind == VAL_FLOAT) {
        if (a.kind == VAL_FLOAT && b.kind == VAL_FLOAT) {
            if (isnan(a.u.f) || isnan(b.u.f)) return 2;
            return (a.u.f > b.u.f) - (a.u.f < b.u.f);
        }
        bool swap = a.kind != VAL_FLOAT; /* make a the float */
        double f = swap ? b.u.f : a.u.f;
        int64_t i =
            swap ? (a.kind == VAL_BOOL ? a.u.b : a.u.i) : (b.kind == VAL_BOOL ? b.u.b : b.u.i);
        int r;
        if (isnan(f)) return 2;
        if (f >= 9223372036854775808.0) r = 1;
        else if (f < -9223372036854775808.0) r = -1;
        else {
            double fl = floor(f);
            int64_t fi = (int64_t)fl;
            if (fi != i) r = fi < i ? -1 : 1;
            else r = f > fl ? 1 : 0;
        }
        return swap ? -r : r;
    }
    int64_t x = a.kind == VAL_BOOL ? a.u.b : a.u.i;
    int64_t y = b.kind == VAL_BOOL ? b.u.b : b.u.i;
    return (x > y) - (x < y);
}

bool val_eq_slow(Value a, Value b) {
    if (a.kind == b.kind) { /* the common case: no cross-kind number comparison */
        switch (a.kind) {
        case VAL_NONE: return true;
        case VAL_BOOL: return a.u.b == b.u.b;
        case VAL_INT: return a.u.i == b.u.i;
        case VAL_FLOAT: return a.u.f == b.u.f; /* NaN unequal, 0.0 == -0.0: as num_cmp */
        case VAL_STR: return a.u.s == b.u.s || strcmp(a.u.s, b.u.s) == 0;
        case VAL_TUPLE:
            if (a.u.t == b.u.t) return true;
            if (a.u.t->n != b.u.t->n) return false;
            for (size_t i = 0; i < a.u.t->n; i++)
                if (!val_eq(a.u.t->items[i], b.u.t->items[i])) return false;
            return true;
        }
        return false;
    }
    if (val_is_number(a) && val_is_number(b)) return num_cmp(a, b) == 0;
    return false;
}

uint64_t val_hash(Value v) {
    switch (v.kind) {
    case VAL_NONE: return 0x5bd1e995ULL;
    case VAL_BOOL: return mix64((uint64_t)v.u.b);
    case VAL_INT: return mix64((uint64_t)v.u.i);
    case VAL_FLOAT: {
        double f = v.u.f;
        /* Integral floats hash like the equal int. */
        if (f == floor(f) && f >= -9223372036854775808.0 && f < 9223372036854775808.0)
            return mix64((uint64_t)(int64_t)f);
        if (f == 0.0) return mix64(0);
        uint64_t bits;
        memcpy(&bits, &f, sizeof bits);
        return mix64(bits ^ 0xabcdef1234567ULL);
    }
    case VAL_STR: return hash_bytes(v.u.s, strlen(v.u.s));
    case VAL_TUPLE: {
        uint64_t h = 0x345678ULL;
        for (size_t i = 0; i < v.u.t->n; i++) h = mix64(h ^ val_hash(v.u.t->items[i])) + i;
        return h;
    }
    }
    return 0;
}

int val_pycmp(Value a, Value b, bool *ok) {
    *ok = true;
    if (val_is_number(a) && val_is_number(b)) {
        int r = num_cmp(a, b);
        return r == 2 ? 0 : r;
    }
    if (a.kind == VAL_STR && b.kind == VAL_STR) {
        int r = strcmp(a.u.s, b.u.s); /* UTF-8 byte order == code point order */
        return (r > 0) - (r < 0);
    }
    if (a.kind == VAL_TUPLE && b.kind == VAL_TUPLE) {
        size_t n = a.u.t->n < b.u.t->n ? a.u.t->n : b.u.t->n;
        for (size_t i = 0; i < n; i++) {
            Value x = a.u.t->items[i], y = b.u.t->items[i];
            if (val_eq(x, y)) continue;
            return val_pycmp(x, y, ok); /* the first differing item decides */
        }
        return (a.u.t->n > b.u.t->n) - (a.u.t->n < b.u.t->n);
    }
    *ok = false;
    return 0;
}

int val_dir_cmp(const char *name, Value a, Value b) {
    if (val_eq(a, b)) return 0;
    bool ok;
    int r = val_pycmp(a, b, &ok);
    if (ok) return r;
    /* Python raised TypeError: Tracr compares str(direction) instead. */
    char sa[256], sb[256];
    char *pa = sa, *pb = sb;
    size_t na = val_str_fmt(a, NULL, 0), nb = val_str_fmt(b, NULL, 0);
    if (na >= sizeof sa) pa = xmalloc(na + 1);
    if (nb >= sizeof sb) pb = xmalloc(nb + 1);
    val_str_fmt(a, pa, na + 1);
    val_str_fmt(b, pb, nb + 1);
    /* Both strings start with "name"; None gives exactly "name", otherwise "name:<str>". */
    (void)name;
    int res;
    if (a.kind == VAL_NONE) res = -1; /* "name" is a proper prefix of "name:..." */
    else if (b.kind == VAL_NONE) res = 1;
    else {
        int c = strcmp(pa, pb);
        res = (c > 0) - (c < 0);
    }
    if (pa != sa) free(pa);
    if (pb != sb) free(pb);
    return res;
}

/* ---- value sets ------------------------------------------------------------------------ */
/* Membership is hashed once a set has room for IDX_MIN members: the items buffer then
 * carries, after its cap Values, an open-addressing index (val_hash, linear probing, load
 * <= 1/2) of the first n_indexed items. Keeping the index inside the items allocation
 * leaves ValueSet's layout (value.h) unchanged, and valset_free's free(items) frees it.
 * Code outside this file may append to items directly (n grows past n_indexed): lookups
 * then fall back to a linear scan and valset_add re-indexes, so a stale index is never
 * trusted. */
enum { IDX_MIN = 16 };

typedef struct SetIdx {
    size_t n_indexed;
    size_t mask;     /* slots - 1; slots = 2 * cap (a power of two) */
    int32_t slots[]; /* index into items, -1 empty */
} SetIdx;

static SetIdx *set_idx(const ValueSet *s) {
    if (s->cap < IDX_MIN) return NULL;
    return (SetIdx *)(void *)((char *)s->items + s->cap * sizeof(Value));
}

static size_t set_bytes(size_t cap) {
    size_t b = cap * sizeof(Value);
    if (cap >= IDX_MIN) b += sizeof(SetIdx) + 2 * cap * sizeof(int32_t);
    return b;
}

static void idx_rebuild(ValueSet *s) {
    SetIdx *ix = set_idx(s);
    if (!ix) return;
    ix->mask = 2 * s->cap - 1;
    memset(ix->slots, 0xff, 2 * s->cap * sizeof(int32_t));
    ix->n_indexed = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t j = val_hash(s->items[i]) & ix->mask;
        while (ix->slots[j] >= 0) j = (j + 1) & ix->mask;
        ix->slots[j] = (int32_t)i;
    }
    ix->n_indexed = s->n;
}

void valset_init(ValueSet *s) {
    s->items = NULL;
    s->n = s->cap = 0;
}
void valset_free(ValueSet *s) {
    free(s->items);
    valset_init(s);
}
void valset_clear(ValueSet *s) {
    s->n = 0;
    if (set_idx(s)) idx_rebuild(s);
}

static bool linear_contains(const ValueSet *s, Value v) {
    for (size_t i = 0; i < s->n; i++)
        if (val_eq(s->items[i], v)) return true;
    return false;
}

bool valset_contains(const ValueSet *s, Value v) {
    const SetIdx *ix = set_idx(s);
    if (!ix || ix->n_indexed != s->n) return linear_contains(s, v);
    for (size_t j = val_hash(v) & ix->mask; ix->slots[j] >= 0; j = (j + 1) & ix->mask)
        if (val_eq(s->items[ix->slots[j]], v)) return true;
    return false;
}

bool valset_add(ValueSet *s, Value v) {
    SetIdx *ix = set_idx(s);
    if (ix && ix->n_indexed != s->n) {
        idx_rebuild(s);
    }
    size_t slot = 0;
    if (ix) {
        size_t j = val_hash(v) & ix->mask;
        for (; ix->slots[j] >= 0; j = (j + 1) & ix->mask)
            if (val_eq(s->items[ix->slots[j]], v)) return false;
        slot = j;
    } else if (linear_contains(s, v)) {
        return false;
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 8;
        Value *p = realloc(s->items, set_bytes(nc));
        if (!p) {
            fprintf(stderr, "itracr: out of memory\n");
            abort();
        }
        s->items = p;
        s->cap = nc;
        s->items[s->n++] = v;
        idx_rebuild(s);
        return true;
    }
    s->items[s->n] = v;
    if (ix) {
        ix->slots[slot] = (int32_t)s->n;
        ix->n_indexed = s->n + 1;
    }
    s->n++;
    return true;
}

void valset_copy(ValueSet *dst, const ValueSet *src) {
    valset_clear(dst);
    for (size_t i = 0; i < src->n; i++) valset_add(dst, src->items[i]);
}

/* Stable merge sort (Python's sort is stable; equal members cannot occur in a set, but a
 * stable sort keeps the result independent of the comparison's tie handling anyway). */
static void merge_sort(Value *a, Value *tmp, size_t n, const char *name) {
    if (n < 2) return;
    size_t m = n / 2;
    merge_sort(a, tmp, m, name);
    merge_sort(a + m, tmp, n - m, name);
    size_t i = 0, j = m, k = 0;
    while (i < m && j < n) tmp[k++] = val_dir_cmp(name, a[j], a[i]) < 0 ? a[j++] : a[i++];
    while (i < m) tmp[k++] = a[i++];
    while (j < n) tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
}

void valset_sort(ValueSet *s, const char *name) {
    if (s->n < 2) return;
    Value *tmp = xmalloc(s->n * sizeof *tmp);
    merge_sort(s->items, tmp, s->n, name);
    free(tmp);
    idx_rebuild(s); /* positions moved */
}
