/* safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {str:
 * str}}, then the raw little-endian tensor bytes. The reader validates everything (sizes,
 * offsets, overlaps, dtype/shape consistency, JSON) before handing out a tensor, so a
 * truncated or corrupt file is an error message, never a crash. */
#ifndef ITRACR_IO_SAFETENSORS_H
#define ITRACR_IO_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    ST_F32,
    ST_F64,
    ST_I16,
    ST_I32,
    ST_I64,
    ST_U8,
    ST_I8,
    ST_U16,
    ST_U32,
    ST_U64,
    ST_F16,
    ST_BF16,
    ST_BOOL
} StDtype;

#define ST_NUM_DTYPES 13
size_t st_dtype_size(StDtype d);
const char *st_dtype_name(StDtype d); /* "F32", ... */
/* The dtype named s ("F32", ...). Returns 0, or -1 for an unknown name. */
int st_dtype_parse(const char *s, StDtype *d);

/* Limits the reader enforces: the reference implementation's header limit, and the JSON
 * integer range that cJSON represents exactly (shapes and offsets beyond it are rejected). */
#define ST_MAX_HEADER 100000000ULL

#define ST_MAX_DIMS 8

typedef struct StTensor {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data; /* writer: borrowed from the caller; reader: points into the file buffer */
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
/* Writes atomically (temporary file in the same directory, fsync, rename).
 * Layout, deterministic (equal input gives identical bytes, whatever the order of the add
 * and meta calls):
 *  - the header is compact JSON: "__metadata__" first (keys in byte order), then the
 *    tensors in data order, each as {"dtype":..,"shape":[..],"data_offsets":[b,e]};
 *    it is padded with spaces to a multiple of 8 bytes, so the data starts 8-aligned;
 *  - tensors are stored by decreasing dtype size, then by name in byte (strcmp) order (the
 *    reference implementation sorts by dtype alignment then name), so every tensor's data is
 *    aligned to its element size in the file and in a reader's buffer.
 * add and meta cannot fail: bad input is reported here (see st_writer_serialize for what is
 * rejected). Returns 0, or non-zero with a message in err. */
int st_writer_save(const StWriter *w, const char *path, char *err, size_t errcap);
/* The same bytes into a malloc'ed buffer (for checksums and tests). Rejected: duplicate
 * tensor names or metadata keys, a tensor named "__metadata__", text that is not valid UTF-8,
 * ndim outside [0, ST_MAX_DIMS], negative dims or dims over 2^53-1, a NULL data pointer for a
 * non-empty tensor, sizes that overflow. */
int st_writer_serialize(const StWriter *w, unsigned char **out, size_t *out_len, char *err,
                        size_t errcap);

/* ---- reading ---- */
typedef struct StFile {
    unsigned char *buf; /* whole file */
    size_t len;
    StTensor *tensors;
    int n;
    StMeta *meta;
    int n_meta;
} StFile;

/* Loads and validates a file / a buffer (copied). Returns 0, or non-zero with a message
 * naming the path and the problem. The rules are the reference implementation's: header
 * length within the file and at most ST_MAX_HEADER, header valid UTF-8 JSON starting with
 * '{', every tensor entry {dtype known, shape of non-negative integers, data_offsets [b, e]}
 * with e - b == product(shape) * dtype size, tensors contiguous, non-overlapping and
 * covering the data buffer exactly, "__metadata__" an object of strings; also rejected here:
 * duplicate names or keys, more than ST_MAX_DIMS dims, integers over 2^53-1, escaped NUL
 * characters. tensors[] are in data order; their data points into buf, and is aligned to
 * the element size when the file's offsets are (files of this writer and of the reference
 * writer always are) -- otherwise memcpy it. On error f is left empty (st_file_free is
 * still safe). */
int st_read_file(const char *path, StFile *f, char *err, size_t errcap);
int st_read_buffer(const unsigned char *data, size_t len, StFile *f, char *err, size_t errcap);
/* st_read_buffer with label naming the buffer in messages (st_read_buffer says "<buffer>"). */
int st_read_buffer_named(const unsigned char *data, size_t len, const char *label, StFile *f,
                         char *err, size_t errcap);
void st_file_free(StFile *f);
/* product(shape); 1 for a 0-d scalar. */
int64_t st_numel(const StTensor *t);
const StTensor *st_find(const StFile *f, const char *name);
const char *st_meta_get(const StFile *f, const char *key); /* NULL if absent */

#endif
