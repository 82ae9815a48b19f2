/* A checksum of the content of a safetensors file, stored in its metadata so that a bit flip
 * in the weights or the metadata (token ids, output values) is an error when the file is
 * loaded (issue 14 item 6). It is XXH3-128 (the system's libxxhash) over every tensor in
 * name order (name, dtype, shape, bytes), then every metadata entry in key order except the
 * digest itself, so it does not depend on the storage order. Files written before the digest
 * existed have no such key and load as before. */
#ifndef ITRACR_IO_ST_DIGEST_H
#define ITRACR_IO_ST_DIGEST_H
#include "io/safetensors.h"

#define ST_DIGEST_KEY "tensors_xxh3_128"
#define ST_DIGEST_HEX 33 /* 32 lowercase hex digits and a NUL */

/* The digest of the tensors and metadata added to w so far (call it last); adds it as
 * metadata ST_DIGEST_KEY. */
void st_digest_add(StWriter *w);
/* Checks f's ST_DIGEST_KEY against its tensors. Returns 0 when they match or the file has no
 * digest; otherwise non-zero with a message (label names the file). */
int st_digest_check(const StFile *f, const char *label, char *err, size_t errcap);

#endif
