/* json_util: parse errors with positions, typed getters and their messages, UTF-8
 * validation against hand-picked byte sequences, and string escaping checked both against
 * hand-written expected text and by parsing the output back with cJSON. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/json_util.h"
#include "test.h"

static void test_parse(void) {
    cJSON *j;
    char err[256];
    CHECK(json_parse("x.json", "{\"a\": 1}  \n", 11, &j, err, sizeof err) == 0);
    cJSON_Delete(j);
    /* text need not be NUL-terminated: only len bytes are read */
    const char buf[] = {'[', '1', ']', 'X'};
    CHECK(json_parse("b", buf, 3, &j, err, sizeof err) == 0 && cJSON_IsArray(j));
    cJSON_Delete(j);
    CHECK(json_parse("b", buf, 4, &j, err, sizeof err) != 0 && j == NULL);
    CHECK_MSG(strstr(err, "b:1:4: invalid JSON near \"X\"") != NULL, "%s", err);
    CHECK(json_parse("cfg.json", "{\n  \"a\": 1,\n  \"b\": ]\n}", 21, &j, err, sizeof err) != 0);
    CHECK_MSG(strncmp(err, "cfg.json:3:", 11) == 0 && strstr(err, "invalid JSON"), "%s", err);
    CHECK(json_parse("t", "{\"a\": ", 6, &j, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "unexpected end of input") != NULL, "%s", err);
    CHECK(json_parse("t", "{\"a\":\0}", 7, &j, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "NUL byte at offset 5") != NULL, "%s", err);
    CHECK(json_parse("t", "", 0, &j, err, sizeof err) != 0);
}

static void test_read_file(void) {
    char path[] = "/tmp/itracr_json_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    char err[256];
    CHECK(atomic_write(path, "{\"n\": 3}", 8, err, sizeof err) == 0);
    cJSON *j;
    CHECK(json_read_file(path, &j, err, sizeof err) == 0);
    int64_t n = 0;
    CHECK(json_get_int(j, "n", "f", &n, err, sizeof err) == 0 && n == 3);
    cJSON_Delete(j);
    CHECK(atomic_write(path, "{\"n\": }", 7, err, sizeof err) == 0);
    CHECK(json_read_file(path, &j, err, sizeof err) != 0);
    CHECK(strncmp(err, path, strlen(path)) == 0 && strstr(err, ":1:7: invalid JSON"));
    unlink(path);
    CHECK(json_read_file(path, &j, err, sizeof err) != 0 && strstr(err, "cannot open"));
}

static void test_getters(void) {
    const char *text = "{\"s\":\"hi\",\"i\":-42,\"big\":9007199254740991,\"big1\":9007199254740992,"
                       "\"huge\":9007199254740994,"
                       "\"f\":1.5,\"b\":true,\"o\":{},\"a\":[1],\"n\":null,\"e\":1e3}";
    cJSON *j;
    char err[256];
    CHECK(json_parse("t", text, strlen(text), &j, err, sizeof err) == 0);
    const char *s = NULL;
    int64_t i = 0;
    double d = 0;
    int b = -1;
    const cJSON *o = NULL, *a = NULL;
    CHECK(json_get_string(j, "s", "cfg", &s, err, sizeof err) == 0 && strcmp(s, "hi") == 0);
    CHECK(json_get_int(j, "i", "cfg", &i, err, sizeof err) == 0 && i == -42);
    CHECK(json_get_int(j, "big", "cfg", &i, err, sizeof err) == 0 && i == 9007199254740991LL);
    CHECK(json_get_int(j, "big1", "cfg", &i, err, sizeof err) != 0);
    CHECK(json_get_int(j, "e", "cfg", &i, err, sizeof err) == 0 && i == 1000);
    CHECK(json_get_double(j, "f", "cfg", &d, err, sizeof err) == 0 && d == 1.5);
    CHECK(json_get_bool(j, "b", "cfg", &b, err, sizeof err) == 0 && b == 1);
    CHECK(json_get_object(j, "o", "cfg", &o, err, sizeof err) == 0 && cJSON_IsObject(o));
    CHECK(json_get_array(j, "a", "cfg", &a, err, sizeof err) == 0 && cJSON_GetArraySize(a) == 1);
    CHECK(json_as_int(a->child, "a[0]", &i, err, sizeof err) == 0 && i == 1);

    i = 77;
    CHECK(json_get_int(j, "huge", "cfg", &i, err, sizeof err) != 0 && i == 77);
    CHECK_STR(err,
              "cfg: field \"huge\" must be an integer of magnitude at most 2^53-1, got number");
    CHECK(json_get_int(j, "f", "cfg", &i, err, sizeof err) != 0);
    CHECK(json_get_string(j, "i", "cfg", &s, err, sizeof err) != 0);
    CHECK_STR(err, "cfg: field \"i\" must be a string, got number");
    CHECK(json_get_string(j, "missing", "model.json: config", &s, err, sizeof err) != 0);
    CHECK_STR(err, "model.json: config: field \"missing\" is missing");
    CHECK(json_get_bool(j, "n", "cfg", &b, err, sizeof err) != 0);
    CHECK_STR(err, "cfg: field \"n\" must be true or false, got null");
    CHECK(json_get_object(j, "a", "cfg", &o, err, sizeof err) != 0);
    CHECK_STR(err, "cfg: field \"a\" must be an object, got array");
    CHECK(json_get_array(j, "o", "cfg", &a, err, sizeof err) != 0);
    CHECK(json_get_double(j, "s", "cfg", &d, err, sizeof err) != 0);
    CHECK(json_get_int(j->child, "x", "cfg.s", &i, err, sizeof err) != 0);
    CHECK_STR(err, "cfg.s: expected an object, got string");
    CHECK(json_as_int(cJSON_GetObjectItem(j, "f"), "v", &i, err, sizeof err) != 0);
    CHECK_STR(err, "v: 1.5 is not an integer of magnitude at most 2^53-1");
    CHECK(json_as_int(cJSON_GetObjectItem(j, "s"), "v", &i, err, sizeof err) != 0);
    CHECK_STR(err, "v: expected an integer, got string");
    CHECK(json_duplicate_key(j) == NULL);
    cJSON_Delete(j);

    const char *dup = "{\"x\":1,\"y\":2,\"x\":3}";
    CHECK(json_parse("t", dup, strlen(dup), &j, err, sizeof err) == 0);
    CHECK_STR(json_duplicate_key(j), "x");
    cJSON_Delete(j);
}

static void test_utf8(void) {
    static const struct {
        const char *s;
        int ok;
    } cases[] = {
        {"", 1},
        {"plain ascii", 1},
        {"\xc3\xa9", 1},         /* U+00E9 */
        {"\xe2\x82\xac", 1},     /* U+20AC */
        {"\xf0\x9f\x98\x80", 1}, /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 1}, /* U+10FFFF */
        {"\xed\x9f\xbf", 1},     /* U+D7FF, last before the surrogates */
        {"\xc0\x80", 0},         /* overlong NUL */
        {"\xc1\xbf", 0},         /* overlong */
        {"\xe0\x80\xaf", 0},     /* overlong '/' */
        {"\xf0\x80\x80\xaf", 0}, /* overlong */
        {"\xed\xa0\x80", 0},     /* U+D800 surrogate */
        {"\xf4\x90\x80\x80", 0}, /* U+110000 */
        {"\xf5\x80\x80\x80", 0}, /* bad lead byte */
        {"\x80", 0},             /* lone continuation */
        {"\xc3", 0},             /* truncated */
        {"\xe2\x82", 0},         /* truncated */
        {"\xc3\x28", 0},         /* bad continuation */
        {"\xff", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_MSG(json_utf8_valid(cases[i].s, strlen(cases[i].s)) == cases[i].ok, "case %zu", i);
}

static void test_write_string(void) {
    StrBuf b;
    sb_init(&b);
    const char *in = "a\"b\\c\nd\te\x01\x1f\x7f\xc3\xa9/";
    CHECK(strlen(in) == 15 && json_write_string(&b, in, 15) == 0);
    CHECK_STR(b.s, "\"a\\\"b\\\\c\\nd\\te\\u0001\\u001f\x7f\xc3\xa9/\"");
    sb_free(&b);
    sb_init(&b);
    CHECK(json_write_string(&b, "", 0) == 0);
    CHECK_STR(b.s, "\"\"");
    sb_free(&b);
    sb_init(&b);
    CHECK(json_write_string(&b, "x\xffy", 3) != 0);
    CHECK_STR(b.s, "\"x\xef\xbf\xbdy\"");
    sb_free(&b);
    /* every byte 1..127 and some multi-byte text survive cJSON parsing unchanged */
    char all[200];
    size_t n = 0;
    for (int c = 1; c < 128; c++) all[n++] = (char)c;
    memcpy(all + n, "\xe2\x82\xac\xf0\x9f\x98\x80", 7);
    n += 7;
    all[n] = '\0';
    sb_init(&b);
    CHECK(json_write_string(&b, all, n) == 0);
    cJSON *j = cJSON_Parse(b.s);
    CHECK(j && cJSON_IsString(j) && strcmp(j->valuestring, all) == 0);
    cJSON_Delete(j);
    sb_free(&b);
}

/* json_write_string is cJSON's printer: byte for byte the same text as cJSON_PrintUnformatted
 * of the string, over random strings of control characters, quotes, backslashes, ASCII and
 * multi-byte UTF-8 (NUL-free and valid: the two cases cJSON cannot take are tested below). */
static void test_write_string_is_cjson(void) {
    static const char *pieces[] = {"\"",
                                   "\\",
                                   "\n",
                                   "\t",
                                   "\r",
                                   "\b",
                                   "\f",
                                   "\x01",
                                   "\x1f",
                                   "\x7f",
                                   "/",
                                   "a",
                                   "Z",
                                   " ",
                                   "\xc3\xa9",
                                   "\xe2\x80\xa8",
                                   "\xe2\x82\xac",
                                   "\xf0\x9f\x98\x80",
                                   "<",
                                   "</script>"};
    uint64_t x = 88172645463325252ULL;
    for (int t = 0; t < 2000; t++) {
        char in[400];
        size_t n = 0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int k = (int)(x % 40);
        for (int i = 0; i < k; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            const char *p = pieces[x % (sizeof pieces / sizeof pieces[0])];
            memcpy(in + n, p, strlen(p));
            n += strlen(p);
        }
        in[n] = '\0';
        StrBuf b;
        sb_init(&b);
        CHECK(json_write_string(&b, in, n) == 0);
        cJSON *it = cJSON_CreateString(in);
        char *ref = cJSON_PrintUnformatted(it);
        CHECK_MSG(b.s && ref && strcmp(b.s, ref) == 0, "case %d: %s vs %s", t, b.s, ref);
        cJSON_free(ref);
        cJSON_Delete(it);
        sb_free(&b);
    }
}

/* What cJSON cannot take. Invalid UTF-8 (each kind json_utf8_valid refuses) becomes U+FFFD per
 * bad byte, the call returns -1, and the output is still valid UTF-8 and valid JSON that
 * keeps the good text around it; a NUL byte is written as \u0000 and the text after it is
 * kept (cJSON alone would stop at the NUL). */
static void test_write_string_unsafe(void) {
    static const struct {
        const char *in, *want;
    } bad[] = {
        {"a\xc0\x80z", "\"a\xef\xbf\xbd\xef\xbf\xbdz\""},                 /* overlong NUL */
        {"a\xed\xa0\x80z", "\"a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\""}, /* surrogate */
        {"\xf4\x90\x80\x80",
         "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* > U+10FFFF */
        {"\x80", "\"\xef\xbf\xbd\""},                             /* lone continuation */
        {"x\xe2\x82", "\"x\xef\xbf\xbd\xef\xbf\xbd\""},           /* truncated at the end */
        {"\xc3\x28\"", "\"\xef\xbf\xbd(\\\"\""},                  /* bad continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        StrBuf b;
        sb_init(&b);
        CHECK_MSG(json_write_string(&b, bad[i].in, strlen(bad[i].in)) == -1, "case %zu", i);
        CHECK_MSG(b.s && strcmp(b.s, bad[i].want) == 0, "case %zu: %s", i, b.s);
        CHECK(b.s && json_utf8_valid(b.s, b.len));
        cJSON *j = b.s ? cJSON_Parse(b.s) : NULL;
        CHECK_MSG(j && cJSON_IsString(j), "case %zu", i);
        cJSON_Delete(j);
        sb_free(&b);
    }
    StrBuf b;
    sb_init(&b);
    CHECK(json_write_string(&b, "a\0b\"\0", 5) == 0);
    CHECK_STR(b.s, "\"a\\u0000b\\\"\\u0000\"");
    sb_free(&b);
    sb_init(&b);
    CHECK(json_write_string(&b, "\0", 1) == 0);
    CHECK_STR(b.s, "\"\\u0000\"");
    sb_free(&b);
}

/* json_shortest_text rewrites only fractional/exponent numbers outside strings; the layout,
 * strings (escaped quotes included) and integers of any size stay as written. */
static void test_shortest_text(void) {
    char *t =
        json_shortest_text("{\"a\": 0.10000000000000001,\n \"s\": \"x\\\" 0.20000000000000001\","
                           " \"n\": [18446744073709551615, -2.5E+3, 1e400, 7]}");
    CHECK(t != NULL);
    if (t)
        CHECK_STR(t, "{\"a\": 0.1,\n \"s\": \"x\\\" 0.20000000000000001\", \"n\": "
                     "[18446744073709551615, -2500, 1e400, 7]}");
    free(t);
    t = json_shortest_text("[0.00020000000000000001]");
    CHECK(t && strcmp(t, "[0.0002]") == 0);
    free(t);
    CHECK(json_shortest_text("0.10000000000000001") == NULL); /* not an object or array */
    CHECK(json_shortest_text("models/meta-small.safetensors") == NULL);
    CHECK(json_shortest_text("{\"a\": 1") == NULL);
    CHECK(json_shortest_text(NULL) == NULL);
}

/* json_number_text against an independent reference: the text reads back as the same
 * double, and no shorter %.*g text does (brute force over every precision below). */
static void check_shortest(double v) {
    char buf[JSON_NUMBER_CAP], tmp[400];
    json_number_text(v, buf);
    CHECK(strtod(buf, NULL) == v);
    int digits =
        0; /* significant digits in buf: leading zeros and an integer's trailing zeros excluded */
    for (const char *p = buf; *p && *p != 'e'; p++) digits += *p >= '0' && *p <= '9';
    for (const char *p = buf; *p == '-' || *p == '0' || *p == '.'; p++) digits -= *p == '0';
    if (!strpbrk(buf, ".e"))
        for (const char *p = buf + strlen(buf) - 1; p > buf && *p == '0'; p--) digits--;
    for (int prec = 1; prec < digits; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        CHECK(strtod(tmp, NULL) != v);
    }
}

static void test_number(void) {
    char buf[JSON_NUMBER_CAP];
    const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.0002, "0.0002"},
        {0.1, "0.1"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.0 / 3, "0.3333333333333333"},
        {3, "3"},
        {100, "100"},
        {-2.5, "-2.5"},
        {1e-7, "1e-07"},
        {0, "0"},
        {1e21, "1e+21"},
        {123456789, "123456789"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_number_text(cases[i].v, buf);
        CHECK_STR(buf, cases[i].want);
    }
    json_number_text(NAN, buf);
    CHECK_STR(buf, "null");
    json_number_text(-INFINITY, buf);
    CHECK_STR(buf, "null");
    /* random doubles of every magnitude (bits from a fixed LCG), and short decimals */
    uint64_t x = 12345;
    for (int i = 0; i < 20000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t bits = x;
        double v;
        memcpy(&v, &bits, sizeof v);
        if (isfinite(v)) check_shortest(v);
        check_shortest((double)(int64_t)(x >> 40) / 1000.0);
    }
    /* cJSON prints the raw item as is, and it parses back */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "lr", json_number(0.0002));
    char *t = cJSON_PrintUnformatted(o);
    CHECK_STR(t, "{\"lr\":0.0002}");
    cJSON *back = cJSON_Parse(t);
    CHECK(back && cJSON_GetObjectItem(back, "lr")->valuedouble == 0.0002);
    cJSON_Delete(back);
    free(t);
    cJSON_Delete(o);
}

int main(void) {
    RUN(test_parse);
    RUN(test_read_file);
    RUN(test_getters);
    RUN(test_utf8);
    RUN(test_write_string);
    RUN(test_write_string_is_cjson);
    RUN(test_write_string_unsafe);
    RUN(test_shortest_text);
    RUN(test_number);
    TEST_END();
}
