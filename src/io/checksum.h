/* 64-bit content checksum for integrity checks (dataset shards, checkpoints).
 *
 * The algorithm is XXH64 (Yann Collet's xxHash, 64-bit variant, seed given by the caller,
 * 0 by default), implemented here from its public specification: the values are the same as
 * `xxhsum -H1` / `xxhash.xxh64(data, seed).intdigest()`, so a shard's checksum can be checked
 * outside itracr. It is fast (several GB/s) and detects accidental corruption; it is NOT a
 * cryptographic hash and gives no protection against deliberate tampering.
 *
 * Printed form: 16 lowercase hex digits (checksum_hex), the same text xxhsum prints. */
#ifndef ITRACR_IO_CHECKSUM_H
#define ITRACR_IO_CHECKSUM_H
#include <stddef.h>
#include <stdint.h>

/* One-shot checksum of len bytes. */
uint64_t checksum64(const void *data, size_t len, uint64_t seed);

/* Streaming form: feeding the bytes in any split gives the same value as checksum64. */
typedef struct Checksum64 {
    uint64_t v[4]; /* the four lane accumulators */
    uint64_t total_len;
    unsigned char buf[32]; /* bytes not yet folded into a full 32-byte stripe */
    size_t buf_len;
    uint64_t seed;
} Checksum64;

void checksum64_init(Checksum64 *c, uint64_t seed);
void checksum64_update(Checksum64 *c, const void *data, size_t len);
uint64_t checksum64_final(const Checksum64 *c); /* does not change c: more updates may follow */

/* Writes 16 lowercase hex digits and a NUL into out[17]. */
void checksum_hex(uint64_t h, char out[17]);
/* Parses exactly 16 hex digits (either case). Returns 0, or -1 if s is not such a string. */
int checksum_parse_hex(const char *s, uint64_t *h);

#endif
