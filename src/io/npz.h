/* numpy arrays: `.npy` (one array: magic, version, a Python-dict header, raw data) and `.npz`
 * (a zip of `.npy` members, read with Debian's libzip). Only what Tracr's parameters need is
 * accepted: little-endian float32 or float64 ('<f4', '<f8'), C order, up to NPY_MAX_DIMS
 * dims. Everything is validated before use (magic, version, header syntax and keys, shape
 * integers, data length exactly matching the shape), so a corrupt or truncated file is an
 * error message naming the file and member, never a crash. */
#ifndef ITRACR_IO_NPZ_H
#define ITRACR_IO_NPZ_H
#include <stddef.h>
#include <stdint.h>

#define NPY_MAX_DIMS 8

typedef struct NpyArray {
    char *name; /* npz member name without ".npy" ("" for a lone .npy) */
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    int64_t numel; /* product(shape); 1 for a 0-d scalar */
    double *data;  /* [numel] converted to double, C order */
} NpyArray;

/* Parses one .npy image. Returns 0, or non-zero with a message (prefixed by label). */
int npy_parse(const unsigned char *buf, size_t len, const char *label, NpyArray *out, char *err,
              size_t errcap);
void npy_free(NpyArray *a);

typedef struct NpzFile {
    NpyArray *arrays;
    int n;
} NpzFile;

/* Reads every member of an .npz file (each must be a valid .npy ending in ".npy"; duplicate
 * names are an error). On error f is left empty (npz_free is still safe). */
int npz_read_file(const char *path, NpzFile *f, char *err, size_t errcap);
/* The same from a buffer (copied by libzip's source). */
int npz_read_buffer(const unsigned char *data, size_t len, const char *label, NpzFile *f, char *err,
                    size_t errcap);
void npz_free(NpzFile *f);
const NpyArray *npz_find(const NpzFile *f, const char *name);

#endif
