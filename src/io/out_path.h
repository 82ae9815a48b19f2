/* The one guard every command runs on a path it is about to write (issue 14, items 1-2).
 *
 * What it refuses, so that no command destroys data it was not asked to replace:
 *  - a path that is one of the command's inputs (same device and inode: `compile p.rasp -o
 *    p.rasp`, `report --log L -o L`), directories, devices, FIFOs and sockets (the atomic
 *    rename would swap a file in for `/dev/full`); '-' means standard output instead, where
 *    the command allows it;
 *  - an existing file that this kind of output could not have produced: for safetensors
 *    outputs a file whose metadata "format" is not the expected one (a dataset shard, a
 *    compiled model given to `train -o`, any foreign file); for text outputs a file that does
 *    not start with the expected prefix (an SVG is not written over a .rasp source);
 *  - an existing safetensors output of the right format unless the caller says it may be
 *    replaced (--force, or train's --resume).
 * A symlink is followed: the target is what gets written (and checked), so the atomic
 * rename replaces the target's content and the link stays a link. */
#ifndef ITRACR_IO_OUT_PATH_H
#define ITRACR_IO_OUT_PATH_H
#include <stdbool.h>
#include <stddef.h>

typedef struct OutPathSpec {
    const char *what;          /* for messages: "model", "SVG", "log", ... */
    const char *const *inputs; /* paths the command reads; NULL-terminated, may be NULL */
    const char *st_format;     /* safetensors output: the metadata "format" it writes */
    const char *text_prefix;   /* text output: an existing file must start with this (or be
                                  * empty); NULL accepts none (any existing file is refused) */
    bool replace;              /* an existing output of the right kind may be replaced */
    bool allow_stdout;         /* '-' means standard output */
} OutPathSpec;

/* Checks path against spec. On success returns 0 and sets *target to the path to write
 * (malloc'ed; the symlink's final target when path is one), or to NULL for standard output.
 * Otherwise returns non-zero with a message naming path. */
int out_path_prepare(const char *path, const OutPathSpec *spec, char **target, char *err,
                     size_t errcap);

/* Writes data to target atomically, or to standard output when target is NULL (what
 * out_path_prepare gives for '-'). Every write and the flush are checked. Returns 0, or
 * non-zero with a message. */
int out_write(const char *target, const void *data, size_t len, char *err, size_t errcap);

/* True when a and b name the same existing file (device and inode). */
bool out_path_same_file(const char *a, const char *b);

#endif
