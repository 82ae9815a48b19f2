/* The hashed ValueSet (rasp/value.c): membership and insertion must agree with a plain
 * linear scan under Python's equality (1 == 1.0 == True, first representative kept), across
 * growth, sorting, clearing, copying, and items appended behind the set's back. */
#include "rasp/value.h"
#include "test.h"

static unsigned long long S = 0x9e3779b97f4a7c15ULL;
static unsigned rnd(unsigned n) {
    S ^= S << 13;
    S ^= S >> 7;
    S ^= S << 17;
    return (unsigned)(S % n);
}

/* A random value from a small universe with many cross-kind equalities. */
static Value rand_value(void) {
    int k = (int)rnd(40);
    switch (rnd(6)) {
    case 0: return val_int(k - 20);
    case 1: return val_float((k - 20) / 2.0); /* integral half the time: equal to an int */
    case 2: return val_bool(k & 1);
    case 3: {
        char b[8];
        snprintf(b, sizeof b, "s%d", k);
        return val_str(b);
    }
    case 4: {
        Value it[2] = {val_int(k % 5), val_float(k % 3)};
        return val_tuple(it, 2);
    }
    default: return k == 0 ? val_none() : val_int(k * 1000);
    }
}

static bool lin_contains(const Value *ref, size_t n, Value v) {
    for (size_t i = 0; i < n; i++)
        if (val_eq(ref[i], v)) return true;
    return false;
}

static void test_random_against_linear(void) {
    for (int round = 0; round < 50; round++) {
        ValueSet s;
        valset_init(&s);
        Value ref[512];
        size_t nref = 0;
        int n_ops = 20 + (int)rnd(400);
        for (int i = 0; i < n_ops; i++) {
            Value v = rand_value();
            bool want_new = !lin_contains(ref, nref, v);
            CHECK(valset_add(&s, v) == want_new);
            if (want_new) ref[nref++] = v;
            Value w = rand_value();
            CHECK(valset_contains(&s, w) == lin_contains(ref, nref, w));
        }
        /* insertion order and first representatives kept */
        CHECK(s.n == nref);
        for (size_t i = 0; i < nref && i < s.n; i++)
            CHECK(s.items[i].kind == ref[i].kind && val_eq(s.items[i], ref[i]));
        ValueSet c;
        valset_init(&c);
        valset_copy(&c, &s);
        CHECK(c.n == s.n);
        for (size_t i = 0; i < nref; i++) CHECK(valset_contains(&c, ref[i]));
        valset_sort(&c, "x"); /* positions move: lookups must still work */
        for (size_t i = 0; i < nref; i++) CHECK(valset_contains(&c, ref[i]));
        for (size_t i = 0; i < nref; i++) CHECK(!valset_add(&c, ref[i]));
        CHECK(c.n == nref);
        valset_clear(&c);
        CHECK(c.n == 0);
        for (size_t i = 0; i < nref; i++) CHECK(!valset_contains(&c, ref[i]));
        for (size_t i = 0; i < nref; i++) CHECK(valset_add(&c, ref[i]));
        valset_free(&c);
        valset_free(&s);
    }
}

static void test_cross_kind_large(void) {
    ValueSet s;
    valset_init(&s);
    for (int i = 0; i < 1000; i++) CHECK(valset_add(&s, val_int(i)));
    CHECK(!valset_add(&s, val_float(7.0)));
    CHECK(!valset_add(&s, val_bool(true)));
    CHECK(!valset_add(&s, val_bool(false)));
    CHECK(valset_add(&s, val_float(7.5)));
    CHECK(valset_contains(&s, val_float(999.0)) && !valset_contains(&s, val_float(1000.0)));
    CHECK(valset_contains(&s, val_float(-0.0)));
    CHECK(valset_add(&s, val_float(NAN))); /* NaN equals nothing: added */
    CHECK(s.items[1].kind == VAL_INT);     /* the first representative */
    valset_free(&s);
}

/* Items appended directly (as code outside value.c may do) are found, and the next add
 * re-indexes them. */
static void test_direct_append(void) {
    ValueSet s;
    valset_init(&s);
    for (int i = 0; i < 20; i++) valset_add(&s, val_int(i)); /* cap 32: indexed */
    CHECK(s.cap > s.n);
    s.items[s.n++] = val_str("late");
    CHECK(valset_contains(&s, val_str("late")));
    CHECK(!valset_add(&s, val_str("late")));
    CHECK(valset_add(&s, val_str("later")));
    CHECK(valset_contains(&s, val_str("late")) && valset_contains(&s, val_int(19)));
    s.n = 5; /* truncated behind its back */
    CHECK(!valset_contains(&s, val_int(10)));
    CHECK(valset_add(&s, val_int(10)));
    CHECK(s.n == 6 && valset_contains(&s, val_int(10)) && !valset_contains(&s, val_int(12)));
    valset_free(&s);
}

int main(void) {
    RUN(test_random_against_linear);
    RUN(test_cross_kind_large);
    RUN(test_direct_append);
    TEST_END();
}
