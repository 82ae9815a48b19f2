/* checksum64 (XXH64) against values printed by the xxHash project's own tool
 * (`xxhsum -H1`, xxHash 0.8.1) for the same bytes. */
#include <stdint.h>
#include <string.h>

#include "io/checksum.h"
#include "test.h"

/* byte i of the test message is (i * 31 + 7) & 255 */
static void fill(unsigned char *b, size_t n) {
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)((i * 31 + 7) & 255);
}

static const struct {
    size_t n;
    uint64_t h;
} vectors[] = {
    {0, 0xef46db3751d8e999ULL},   {1, 0xa96c7f0ce858bbb7ULL},    {3, 0x56e6957632a487f9ULL},
    {4, 0xc60d15b1e3ff8f04ULL},   {8, 0x3da5c7aa269683e0ULL},    {31, 0x4a74f3a1a39ad4a1ULL},
    {32, 0x8d57d6a4671cc43dULL},  {33, 0x62c9fd21ed857664ULL},   {64, 0x7bbabbc45729d17eULL},
    {100, 0xefa0ad2d3e70c151ULL}, {1000, 0x99594f4828043d35ULL},
};

static void test_reference_vectors(void) {
    unsigned char buf[1001];
    fill(buf, sizeof buf);
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++)
        CHECK_MSG(checksum64(buf, vectors[i].n, 0) == vectors[i].h, "n=%zu", vectors[i].n);
    CHECK(checksum64("a", 1, 0) == 0xd24ec4f1a98c6e5bULL);
    CHECK(checksum64("abc", 3, 0) == 0x44bc2cf5ad770999ULL);
    /* unaligned input gives the same value */
    CHECK(checksum64(buf + 1, 100, 0) == checksum64(memcpy(buf + 500, buf + 1, 100), 100, 0));
}

static void test_streaming_matches(void) {
    unsigned char buf[1000];
    fill(buf, sizeof buf);
    for (size_t vi = 0; vi < sizeof vectors / sizeof vectors[0]; vi++) {
        size_t n = vectors[vi].n;
        for (size_t step = 1; step <= 70; step += (step < 10 ? 1 : 13)) {
            Checksum64 c;
            checksum64_init(&c, 0);
            for (size_t pos = 0; pos < n; pos += step)
                checksum64_update(&c, buf + pos, pos + step <= n ? step : n - pos);
            CHECK_MSG(checksum64_final(&c) == vectors[vi].h, "n=%zu step=%zu", n, step);
        }
    }
    /* final does not consume the state */
    Checksum64 c;
    checksum64_init(&c, 7);
    checksum64_update(&c, buf, 40);
    uint64_t mid = checksum64_final(&c);
    CHECK(mid == checksum64(buf, 40, 7));
    checksum64_update(&c, buf + 40, 60);
    CHECK(checksum64_final(&c) == checksum64(buf, 100, 7));
}

static void test_seed_and_sensitivity(void) {
    unsigned char buf[256];
    fill(buf, sizeof buf);
    uint64_t h0 = checksum64(buf, 256, 0);
    CHECK(checksum64(buf, 256, 1) != h0);
    /* every single-bit flip changes the value */
    int same = 0;
    for (int i = 0; i < 256 * 8; i++) {
        buf[i / 8] ^= (unsigned char)(1u << (i % 8));
        if (checksum64(buf, 256, 0) == h0) same++;
        buf[i / 8] ^= (unsigned char)(1u << (i % 8));
    }
    CHECK(same == 0);
}

static void test_hex(void) {
    char s[17];
    checksum_hex(0xef46db3751d8e999ULL, s);
    CHECK_STR(s, "ef46db3751d8e999");
    checksum_hex(0x1ULL, s);
    CHECK_STR(s, "0000000000000001");
    uint64_t h;
    CHECK(checksum_parse_hex("EF46db3751d8e999", &h) == 0 && h == 0xef46db3751d8e999ULL);
    CHECK(checksum_parse_hex("ef46db3751d8e99", &h) != 0);   /* 15 digits */
    CHECK(checksum_parse_hex("ef46db3751d8e9990", &h) != 0); /* 17 digits */
    CHECK(checksum_parse_hex("ef46db3751d8e99g", &h) != 0);
    CHECK(checksum_parse_hex(NULL, &h) != 0);
}

int main(void) {
    RUN(test_reference_vectors);
    RUN(test_streaming_matches);
    RUN(test_seed_and_sensitivity);
    RUN(test_hex);
    TEST_END();
}
