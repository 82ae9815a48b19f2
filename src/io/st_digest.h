/* A checksum of the tensors of a safetensors file, stored in its metadata so that a bit flip
 * in the weights is an error when the file is loaded (issue 14 item 6). It is XXH3-128 (the
 * system's libxxhash) over every tensor in name order: name, dtype, shape and bytes, so it
 * does not depend on the storage order, and the metadata (which holds the digest) is not part
 * of it. Files written before the digest existed have no such key and load as before. */
#ifndef ITRACR_IO_ST_DIGEST_H
#define ITRACR_IO_ST_DIGEST_H
#include "io/safetensors.h"

#define ST_DIGEST_KEY "tensors_xxh3_128"
#define ST_DIGEST_HEX 33 /* 32 lowercase hex digits and a NUL */

/* The digest of the tensors added to w so far; adds it as metadata ST_DIGEST_KEY. */
void st_digest_add(StWriter *w);
/* Checks f's ST_DIGEST_KEY against its tensors. Returns 0 when they match or the file has no
 * digest; otherwise non-zero with a message (label names the file). */
int st_digest_check(const StFile *f, const char *label, char *err, size_t errcap);

#endif
