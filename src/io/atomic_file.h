/* Atomic file replacement: write to "<path>.tmp.<pid>" in the same directory, fsync, rename
 * over path, fsync the directory. A crash at any point leaves either the old file or the new
 * one, never a mix. */
#ifndef ITRACR_IO_ATOMIC_FILE_H
#define ITRACR_IO_ATOMIC_FILE_H
#include <stddef.h>

int atomic_write(const char *path, const void *data, size_t len, char *err, size_t errcap);
/* Reads a whole file into a malloc'ed buffer (NUL-terminated for text use). */
int read_whole_file(const char *path, unsigned char **data, size_t *len, char *err, size_t errcap);

#endif
