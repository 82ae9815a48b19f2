/* Small helpers over cJSON shared by the modules that read or write JSON (safetensors
 * headers, model metadata, dataset manifests): parsing with positioned error messages,
 * typed field access that says what was wrong, and safe JSON string output.
 *
 * Error convention: 0 on success, -1 on failure with a message in err (errcap bytes, always
 * NUL-terminated when errcap > 0). `ctx` names what is being read ("model.safetensors:
 * __metadata__.config"); messages read "<ctx>: field "key" ...". */
#ifndef ITRACR_IO_JSON_UTIL_H
#define ITRACR_IO_JSON_UTIL_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

/* Parses len bytes of text (need not be NUL-terminated; NUL bytes inside are an error).
 * Trailing non-whitespace is an error. On error the message names label, line and column. */
int json_parse(const char *label, const char *text, size_t len, cJSON **out, char *err,
               size_t errcap);
/* Reads and parses a whole file; messages name the path. */
int json_read_file(const char *path, cJSON **out, char *err, size_t errcap);

/* "object", "array", "string", "number", "true/false", "null" (for messages). */
const char *json_type_name(const cJSON *item);

/* Typed access to obj[key]; *out is set only on success. A missing field and a field of the
 * wrong type are both errors. */
int json_get_object(const cJSON *obj, const char *key, const char *ctx, const cJSON **out,
                    char *err, size_t errcap);
int json_get_array(const cJSON *obj, const char *key, const char *ctx, const cJSON **out, char *err,
                   size_t errcap);
int json_get_string(const cJSON *obj, const char *key, const char *ctx, const char **out, char *err,
                    size_t errcap);
int json_get_double(const cJSON *obj, const char *key, const char *ctx, double *out, char *err,
                    size_t errcap);
int json_get_bool(const cJSON *obj, const char *key, const char *ctx, int *out, char *err,
                  size_t errcap);
/* An exact integer: cJSON keeps numbers as doubles, so only |v| <= 2^53 - 1 is accepted
 * (larger integers may have been rounded; a rounded one never lands back in this range). */
int json_get_int(const cJSON *obj, const char *key, const char *ctx, int64_t *out, char *err,
                 size_t errcap);
/* The same check for an item (an array element, say). */
int json_as_int(const cJSON *item, const char *ctx, int64_t *out, char *err, size_t errcap);
#define JSON_MAX_EXACT_INT 9007199254740991LL /* 2^53 - 1 */

/* Name of the first key that occurs twice in obj (cJSON keeps both), or NULL. */
const char *json_duplicate_key(const cJSON *obj);

/* 1 if s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF). */
int json_utf8_valid(const char *s, size_t n);

/* Appends s[0..n) as a JSON string literal, quotes included, escaped by cJSON's own printer
 * ('"', '\\' and control characters; other UTF-8 is copied as is). A NUL byte is written as
 * \u0000 and the text after it kept. Returns 0, or -1 when s is not valid UTF-8 (each bad
 * byte is then written as U+FFFD, so the output is still valid UTF-8 and valid JSON). */
int json_write_string(StrBuf *b, const char *s, size_t n);

/* ---- numbers: one format for every JSON writer ---------------------------------------
 * The shortest text that reads back as exactly v (0.0002, not 0.00020000000000000001; 3,
 * 0.1, 1e-07), "null" for NaN and the infinities (JSON has neither). */
#define JSON_NUMBER_CAP 32
size_t json_number_text(double v, char buf[JSON_NUMBER_CAP]);
/* Appends json_number_text(v). */
void json_write_number(StrBuf *b, double v);
/* A cJSON item that prints as json_number_text(v) (cJSON's own printer writes %.17g when
 * %.15g does not read back, e.g. 0.10000000000000001). */
cJSON *json_number(double v);
/* text, when it is a JSON object or array, with every number that has a fraction or an
 * exponent rewritten as json_number_text; everything else (layout, strings, integers) as
 * written. For showing JSON written by others, or by older versions that used %.17g
 * (0.00050000000000000001 becomes 0.0005). Returns a string to free(), or NULL when text is
 * not a JSON object or array. */
char *json_shortest_text(const char *text);

#endif
