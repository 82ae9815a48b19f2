/* XXH64, written from the xxHash specification (doc/xxhash_spec.md in the xxHash project).
 * Input words are read little-endian with memcpy so unaligned buffers are fine. */
#include "io/checksum.h"

#include <string.h>

static const uint64_t P1 = 0x9E3779B185EBCA87ULL;
static const uint64_t P2 = 0xC2B2AE3D27D4EB4FULL;
static const uint64_t P3 = 0x165667B19E3779F9ULL;
static const uint64_t P4 = 0x85EBCA77C2B2AE63ULL;
static const uint64_t P5 = 0x27D4EB2F165667C5ULL;

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t read64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static inline uint32_t read32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t lane_round(uint64_t acc, uint64_t input) {
    acc += input * P2;
    acc = rotl64(acc, 31);
    return acc * P1;
}

static inline uint64_t merge_lane(uint64_t acc, uint64_t lane) {
    acc ^= lane_round(0, lane);
    return acc * P1 + P4;
}

/* Folds the last (< 32) bytes and avalanches. h already holds the converged lanes + length. */
static uint64_t finish(uint64_t h, const unsigned char *p, size_t n) {
    while (n >= 8) {
        h ^= lane_round(0, read64(p));
        h = rotl64(h, 27) * P1 + P4;
        p += 8;
        n -= 8;
    }
    if (n >= 4) {
        h ^= (uint64_t)read32(p) * P1;
        h = rotl64(h, 23) * P2 + P3;
        p += 4;
        n -= 4;
    }
    while (n > 0) {
        h ^= (uint64_t)(*p) * P5;
        h = rotl64(h, 11) * P1;
        p++;
        n--;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

static uint64_t converge(const uint64_t v[4]) {
    uint64_t h = rotl64(v[0], 1) + rotl64(v[1], 7) + rotl64(v[2], 12) + rotl64(v[3], 18);
    for (int i = 0; i < 4; i++) h = merge_lane(h, v[i]);
    return h;
}

static void stripe(uint64_t v[4], const unsigned char *p) {
    for (int i = 0; i < 4; i++) v[i] = lane_round(v[i], read64(p + 8 * i));
}

void checksum64_init(Checksum64 *c, uint64_t seed) {
    memset(c, 0, sizeof *c);
    c->seed = seed;
    c->v[0] = seed + P1 + P2;
    c->v[1] = seed + P2;
    c->v[2] = seed;
    c->v[3] = seed - P1;
}

void checksum64_update(Checksum64 *c, const void *data, size_t len) {
    const unsigned char *p = data;
    if (len == 0) return;
    c->total_len += len;
    if (c->buf_len > 0) {
        size_t take = 32 - c->buf_len;
        if (take > len) take = len;
        memcpy(c->buf + c->buf_len, p, take);
        c->buf_len += take;
        p += take;
        len -= take;
        if (c->buf_len < 32) return;
        stripe(c->v, c->buf);
        c->buf_len = 0;
    }
    while (len >= 32) {
        stripe(c->v, p);
        p += 32;
        len -= 32;
    }
    memcpy(c->buf, p, len);
    c->buf_len = len;
}

uint64_t checksum64_final(const Checksum64 *c) {
    uint64_t h = c->total_len >= 32 ? converge(c->v) : c->seed + P5;
    h += c->total_len;
    return finish(h, c->buf, c->buf_len);
}

uint64_t checksum64(const void *data, size_t len, uint64_t seed) {
    Checksum64 c;
    checksum64_init(&c, seed);
    checksum64_update(&c, data, len);
    return checksum64_final(&c);
}

void checksum_hex(uint64_t h, char out[17]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = digits[h & 15];
        h >>= 4;
    }
    out[16] = '\0';
}

int checksum_parse_hex(const char *s, uint64_t *h) {
    uint64_t v = 0;
    if (!s) return -1;
    for (int i = 0; i < 16; i++) {
        char ch = s[i];
        int d;
        if (ch >= '0' && ch <= '9') d = ch - '0';
        else if (ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
        else if (ch >= 'A' && ch <= 'F') d = ch - 'A' + 10;
        else return -1;
        v = (v << 4) | (uint64_t)d;
    }
    if (s[16] != '\0') return -1;
    *h = v;
    return 0;
}
