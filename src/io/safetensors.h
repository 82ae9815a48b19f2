/* safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {str:
 * str}}, then the raw little-endian tensor bytes. The reader validates everything (sizes,
 * offsets, overlaps, dtype/shape consistency, JSON) before handing out a tensor, so a
 * truncated or corrupt file is an error message, never a crash. */
#ifndef ITRACR_IO_SAFETENSORS_H
#define ITRACR_IO_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

typedef enum { ST_F32, ST_F64, ST_I16, ST_I32, ST_I64, ST_U8, ST_I8, ST_U16, ST_U32, ST_U64, ST_F16, ST_BF16, ST_BOOL } StDtype;

size_t st_dtype_size(StDtype d);
const char *st_dtype_name(StDtype d); /* "F32", ... */

#define ST_MAX_DIMS 8

typedef struct StTensor {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;   /* writer: borrowed from the caller; reader: points into the file buffer */
    size_t nbytes;
} StTensor;

typedef struct StMeta {
    char *key, *value;
} StMeta;

/* ---- writing ---- */
typedef struct StWriter {
    StTensor *tensors;
    int n, cap;
    StMeta *meta;
    int n_meta, cap_meta;
} StWriter;

void st_writer_init(StWriter *w);
void st_writer_free(StWriter *w);
/* data is borrowed until st_writer_save returns; shape has ndim entries. */
void st_writer_add(StWriter *w, const char *name, StDtype dtype, int ndim, const int64_t *shape,
                   const void *data);
void st_writer_meta(StWriter *w, const char *key, const char *value);
/* Writes atomically (temporary file in the same directory, fsync, rename). Tensors are
 * stored in name order (as the reference implementation does) with 8-byte aligned header
 * padding. Returns 0, or non-zero with a message in err. */
int st_writer_save(const StWriter *w, const char *path, char *err, size_t errcap);
/* The same bytes into a malloc'ed buffer (for checksums and tests). */
int st_writer_serialize(const StWriter *w, unsigned char **out, size_t *out_len, char *err,
                        size_t errcap);

/* ---- reading ---- */
typedef struct StFile {
    unsigned char *buf;  /* whole file */
    size_t len;
    StTensor *tensors;
    int n;
    StMeta *meta;
    int n_meta;
} StFile;

/* Loads and validates a file / a buffer (copied). Returns 0, or non-zero with a message
 * naming the path and the problem. */
int st_read_file(const char *path, StFile *f, char *err, size_t errcap);
int st_read_buffer(const unsigned char *data, size_t len, StFile *f, char *err, size_t errcap);
void st_file_free(StFile *f);
const StTensor *st_find(const StFile *f, const char *name);
const char *st_meta_get(const StFile *f, const char *key); /* NULL if absent */

#endif
