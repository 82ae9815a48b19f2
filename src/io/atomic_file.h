/* Atomic file replacement: write to "<path>.tmp.<pid>.<n>" in the same directory, fsync,
 * rename over path, fsync the directory. A crash at any point leaves either the old file or
 * the new one, never a mix; at worst a stale "<path>.tmp.*" file stays behind (it is never
 * read by anything, and may be deleted by hand).
 *
 * Every function returns 0, or non-zero with a message naming the path in err (errcap bytes,
 * always NUL-terminated when errcap > 0). */
#ifndef ITRACR_IO_ATOMIC_FILE_H
#define ITRACR_IO_ATOMIC_FILE_H
#include <stddef.h>

int atomic_write(const char *path, const void *data, size_t len, char *err, size_t errcap);
/* Reads a whole file into a malloc'ed buffer (NUL-terminated for text use; *len excludes the
 * NUL). *data is NULL after an error. */
int read_whole_file(const char *path, unsigned char **data, size_t *len, char *err, size_t errcap);

/* The steps of atomic_write, for output produced piece by piece (a large dataset shard) and
 * for crash tests: atomic_file_open creates the temporary file, atomic_file_write appends,
 * atomic_file_commit fsyncs, renames over the target and fsyncs the directory,
 * atomic_file_abort removes the temporary file. After open succeeds, exactly one of commit
 * or abort must be called (commit cleans up itself when it fails). A commit that fails only
 * in the final directory fsync reports it, but the new content is already in place. */
typedef struct AtomicFile {
    int fd;
    char *path;     /* the target */
    char *tmp_path; /* the temporary file next to it */
} AtomicFile;

int atomic_file_open(AtomicFile *f, const char *path, char *err, size_t errcap);
int atomic_file_write(AtomicFile *f, const void *data, size_t len, char *err, size_t errcap);
int atomic_file_commit(AtomicFile *f, char *err, size_t errcap);
void atomic_file_abort(AtomicFile *f);

#endif
