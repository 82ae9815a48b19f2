/* Values: Python equality/hash merging, ordering (docs/tracr.md §2.3), str/repr.
 * Expected strings come from CPython 3.11 (repr/str of the same values). */
#include <pthread.h>

#include "rasp/value.h"
#include "test.h"

static const char *S(Value v) {
    static char buf[8][128];
    static int k;
    k = (k + 1) % 8;
    val_str_fmt(v, buf[k], sizeof buf[k]);
    return buf[k];
}
static const char *R(Value v) {
    static char buf[8][128];
    static int k;
    k = (k + 1) % 8;
    val_repr_fmt(v, buf[k], sizeof buf[k]);
    return buf[k];
}
static const char *F(double f) {
    static char buf[8][64];
    static int k;
    k = (k + 1) % 8;
    val_float_repr(f, buf[k], sizeof buf[k]);
    return buf[k];
}

static void test_equality_and_hash(void) {
    Value one = val_int(1), onef = val_float(1.0), t = val_bool(true);
    CHECK(val_eq(one, onef) && val_eq(one, t) && val_eq(onef, t));
    CHECK(val_hash(one) == val_hash(onef) && val_hash(one) == val_hash(t));
    CHECK(val_eq(val_int(0), val_bool(false)) && val_hash(val_int(0)) == val_hash(val_float(-0.0)));
    CHECK(!val_eq(val_int(1), val_str("1")));
    CHECK(!val_eq(val_float(0.5), val_int(0)));
    CHECK(val_eq(val_none(), val_none()));
    CHECK(!val_eq(val_none(), val_int(0)));
    CHECK(!val_eq(val_float(NAN), val_float(NAN)));
    /* 2**53 + 1 is not equal to the float 2**53 (Python compares exactly) */
    CHECK(!val_eq(val_int(9007199254740993LL), val_float(9007199254740992.0)));
    CHECK(val_eq(val_int(9007199254740992LL), val_float(9007199254740992.0)));
    Value a[2] = {val_int(1), val_str("a")}, b[2] = {val_float(1.0), val_str("a")};
    Value ta = val_tuple(a, 2), tb = val_tuple(b, 2);
    CHECK(val_eq(ta, tb) && val_hash(ta) == val_hash(tb));
    CHECK(ta.u.t !=
          tb.u.t); /* interned by exact content: (1,'a') and (1.0,'a') print differently */
    CHECK(val_tuple(a, 2).u.t == ta.u.t);
    CHECK(val_str("abc").u.s == val_strn("abcdef", 3).u.s);
}

static void test_set_first_representative(void) {
    ValueSet s;
    valset_init(&s);
    CHECK(valset_add(&s, val_bool(true)));
    CHECK(!valset_add(&s, val_int(1)));
    CHECK(!valset_add(&s, val_float(1.0)));
    CHECK(valset_add(&s, val_float(0.5)));
    CHECK(valset_add(&s, val_str("1")));
    CHECK(s.n == 3);
    CHECK(s.items[0].kind == VAL_BOOL); /* {True, 1, 1.0} == {True} */
    CHECK(valset_contains(&s, val_int(1)));
    ValueSet c;
    valset_init(&c);
    valset_copy(&c, &s);
    CHECK(c.n == 3 && c.items[2].kind == VAL_STR);
    valset_free(&c);
    valset_free(&s);
}

static void test_pycmp(void) {
    bool ok;
    CHECK(val_pycmp(val_int(1), val_float(1.5), &ok) < 0 && ok);
    CHECK(val_pycmp(val_bool(true), val_int(0), &ok) > 0 && ok);
    CHECK(val_pycmp(val_str("b"), val_str("ab"), &ok) > 0 && ok);
    val_pycmp(val_str("a"), val_int(1), &ok);
    CHECK(!ok);
    val_pycmp(val_none(), val_int(1), &ok);
    CHECK(!ok);
    Value a[2] = {val_int(1), val_str("a")}, b[2] = {val_int(1), val_str("b")}, c[1] = {val_int(1)};
    CHECK(val_pycmp(val_tuple(a, 2), val_tuple(b, 2), &ok) < 0 && ok);
    CHECK(val_pycmp(val_tuple(c, 1), val_tuple(a, 2), &ok) < 0 && ok); /* prefix is smaller */
    Value d[2] = {val_int(1), val_int(2)};
    val_pycmp(val_tuple(a, 2), val_tuple(d, 2), &ok); /* 'a' < 2 raises */
    CHECK(!ok);
    /* int vs float beyond 2**53 compares exactly */
    CHECK(val_pycmp(val_int(9007199254740993LL), val_float(9007199254740992.0), &ok) > 0 && ok);
}

static void test_dir_order(void) {
    /* §2.3: numbers sort before letter-initial strings via "name:value" */
    CHECK(val_dir_cmp("tokens", val_int(1), val_str("compiler_bos")) < 0);
    CHECK(val_dir_cmp("tokens", val_str("compiler_bos"), val_int(1)) > 0);
    CHECK(val_dir_cmp("tokens", val_str("a"), val_str("compiler_bos")) < 0);
    CHECK(val_dir_cmp("tokens", val_str("d"), val_str("compiler_bos")) > 0);
    /* None-valued direction first */
    CHECK(val_dir_cmp("x", val_none(), val_int(-5)) < 0);
    CHECK(val_dir_cmp("x", val_none(), val_str("")) < 0);
    CHECK(val_dir_cmp("x", val_int(3), val_none()) > 0);
    CHECK(val_dir_cmp("x", val_none(), val_none()) == 0);
    CHECK(val_dir_cmp("x", val_float(-0.5), val_int(0)) < 0);
    CHECK(val_dir_cmp("x", val_bool(true), val_int(1)) == 0);
    /* "x:-1" < "x:1" < "x:a" when mixed with strings: '-' < digits */
    CHECK(val_dir_cmp("x", val_int(10), val_str("9")) < 0); /* "10" < "9" as strings */

    ValueSet s;
    valset_init(&s);
    valset_add(&s, val_str("compiler_pad"));
    valset_add(&s, val_int(3));
    valset_add(&s, val_str("compiler_bos"));
    valset_add(&s, val_int(1));
    valset_add(&s, val_int(2));
    valset_sort(&s, "tokens");
    /* docs/tracr.md §2.6: vocab {1,2,3} gives ids 1,2,3,bos,pad */
    CHECK(s.n == 5 && val_eq(s.items[0], val_int(1)) && val_eq(s.items[2], val_int(3)));
    CHECK_STR(S(s.items[3]), "compiler_bos");
    CHECK_STR(S(s.items[4]), "compiler_pad");
    valset_clear(&s);
    const char *abc[] = {"d", "compiler_pad", "a", "compiler_bos", "c", "b"};
    for (int i = 0; i < 6; i++) valset_add(&s, val_str(abc[i]));
    valset_sort(&s, "tokens");
    /* vocab {a,b,c,d}: a0 b1 c2 bos3 pad4 d5 */
    const char *want[] = {"a", "b", "c", "compiler_bos", "compiler_pad", "d"};
    for (int i = 0; i < 6; i++) CHECK_STR(S(s.items[i]), want[i]);
    valset_free(&s);
}

static void test_float_repr(void) {
    CHECK_STR(F(0.2), "0.2");
    CHECK_STR(F(1.0), "1.0");
    CHECK_STR(F(-1 + 1 * 4 / 5.0), "-0.19999999999999996");
    CHECK_STR(F(1e-05), "1e-05");
    CHECK_STR(F(1e16), "1e+16");
    CHECK_STR(F(1e15), "1000000000000000.0");
    CHECK_STR(F(0.0001), "0.0001");
    CHECK_STR(F(123456789012345678.0), "1.2345678901234568e+17");
    CHECK_STR(F(1.5e-7), "1.5e-07");
    CHECK_STR(F(-0.0), "-0.0");
    CHECK_STR(F(1.0 / 3), "0.3333333333333333");
    CHECK_STR(F(2.0 / 3), "0.6666666666666666");
    CHECK_STR(F(1e22), "1e+22");
    CHECK_STR(F(5e-324), "5e-324");
    CHECK_STR(F(1.7976931348623157e308), "1.7976931348623157e+308");
    CHECK_STR(F(100.0), "100.0");
    CHECK_STR(F(0.1 + 0.2), "0.30000000000000004");
    CHECK_STR(F(INFINITY), "inf");
    CHECK_STR(F(-INFINITY), "-inf");
    CHECK_STR(F(NAN), "nan");
}

static void test_str_repr(void) {
    CHECK_STR(S(val_bool(true)), "True");
    CHECK_STR(S(val_bool(false)), "False");
    CHECK_STR(S(val_none()), "None");
    CHECK_STR(S(val_int(-42)), "-42");
    CHECK_STR(S(val_str("abc")), "abc");
    CHECK_STR(R(val_str("abc")), "'abc'");
    CHECK_STR(R(val_str("a\"b")), "'a\"b'");
    CHECK_STR(R(val_str("it's")), "\"it's\"");
    CHECK_STR(R(val_str("a\nb")), "'a\\nb'");
    Value t1[2] = {val_int(1), val_str("a")};
    CHECK_STR(S(val_tuple(t1, 2)), "(1, 'a')");
    Value t2[1] = {val_int(1)};
    CHECK_STR(S(val_tuple(t2, 1)), "(1,)");
    CHECK_STR(S(val_tuple(NULL, 0)), "()");
    Value t3[1] = {val_str("it's")};
    CHECK_STR(S(val_tuple(t3, 1)), "(\"it's\",)");
    Value inner[2] = {val_int(2), val_str("b")};
    Value t4[4] = {val_float(1.0), val_bool(true), val_none(), val_tuple(inner, 2)};
    CHECK_STR(S(val_tuple(t4, 4)), "(1.0, True, None, (2, 'b'))");
    /* truncation keeps NUL-termination and returns the full length */
    char small[4];
    CHECK(val_str_fmt(val_str("abcdef"), small, sizeof small) == 6);
    CHECK_STR(small, "abc");
}

static void test_truthy(void) {
    CHECK(!val_truthy(val_none()) && !val_truthy(val_int(0)) && !val_truthy(val_float(0.0)));
    CHECK(!val_truthy(val_str("")) && val_truthy(val_str("0")) && !val_truthy(val_tuple(NULL, 0)));
    CHECK(val_truthy(val_float(NAN)));
    CHECK(val_is_number(val_bool(true)) && !val_is_number(val_str("1")));
    CHECK(val_as_double(val_bool(true)) == 1.0);
}

static void *intern_worker(void *arg) {
    long id = (long)arg;
    for (int i = 0; i < 2000; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "s%d", i % 500);
        Value v = val_str(buf);
        if (strcmp(v.u.s, buf) != 0) return (void *)1;
        Value items[2] = {val_int(i % 300), v};
        Value t = val_tuple(items, 2);
        if (t.u.t->n != 2 || !val_eq(t.u.t->items[1], v)) return (void *)1;
    }
    (void)id;
    return NULL;
}

static void test_threaded_interning(void) {
    pthread_t th[4];
    for (long i = 0; i < 4; i++) pthread_create(&th[i], NULL, intern_worker, (void *)i);
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        bad += r != NULL;
    }
    CHECK(bad == 0);
    CHECK(val_str("s7").u.s == val_str("s7").u.s);
}

int main(void) {
    RUN(test_equality_and_hash);
    RUN(test_set_first_representative);
    RUN(test_pycmp);
    RUN(test_dir_order);
    RUN(test_float_repr);
    RUN(test_str_repr);
    RUN(test_truthy);
    RUN(test_threaded_interning);
    TEST_END();
}
