#include "io/json_util.h"
#include "util/errmsg.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "util/utf8.h"


int json_parse(const char *label, const char *text, size_t len, cJSON **out, char *err,
               size_t errcap) {
    *out = NULL;
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        err_printf(err, errcap, "%s: invalid JSON: NUL byte at offset %zu", label,
                   (size_t)(nul - text));
        return -1;
    }
    /* cJSON wants a NUL-terminated string to detect trailing garbage. */
    char *copy = malloc(len + 1);
    if (!copy) {
        err_printf(err, errcap, "%s: out of memory", label);
        return -1;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(copy, &end, 1);
    if (!root) {
        size_t pos = (end && end >= copy && end <= copy + len) ? (size_t)(end - copy) : 0;
        size_t line = 1, col = 1;
        for (size_t i = 0; i < pos; i++) {
            if (copy[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        char near[24];
        size_t k = 0;
        for (size_t i = pos; i < len && k < 16; i++) {
            unsigned char ch = (unsigned char)copy[i];
            near[k++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
        }
        near[k] = '\0';
        if (pos >= len)
            err_printf(err, errcap, "%s:%zu:%zu: invalid JSON: unexpected end of input", label,
                       line, col);
        else
            err_printf(err, errcap, "%s:%zu:%zu: invalid JSON near \"%s\"", label, line, col, near);
        free(copy);
        return -1;
    }
    free(copy);
    *out = root;
    return 0;
}

int json_read_file(const char *path, cJSON **out, char *err, size_t errcap) {
    unsigned char *data;
    size_t len;
    *out = NULL;
    if (read_whole_file(path, &data, &len, err, errcap) != 0) return -1;
    int rc = json_parse(path, (const char *)data, len, out, err, errcap);
    free(data);
    return rc;
}

const char *json_type_name(const cJSON *item) {
    if (!item) return "missing";
    if (cJSON_IsObject(item)) return "object";
    if (cJSON_IsArray(item)) return "array";
    if (cJSON_IsString(item)) return "string";
    if (cJSON_IsNumber(item)) return "number";
    if (cJSON_IsBool(item)) return "true/false";
    if (cJSON_IsNull(item)) return "null";
    return "invalid";
}

/* obj[key] with the "missing"/"not an object" errors shared by every getter. */
static const cJSON *field(const cJSON *obj, const char *key, const char *ctx, char *err,
                          size_t errcap) {
    if (!cJSON_IsObject(obj)) {
        err_printf(err, errcap, "%s: expected an object, got %s", ctx, json_type_name(obj));
        return NULL;
    }
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it) err_printf(err, errcap, "%s: field \"%s\" is missing", ctx, key);
    return it;
}

static int wrong_type(const cJSON *it, const char *key, const char *ctx, const char *want,
                      char *err, size_t errcap) {
    err_printf(err, errcap, "%s: field \"%s\" must be %s, got %s", ctx, key, want,
               json_type_name(it));
    return -1;
}

int json_get_object(const cJSON *obj, const char *key, const char *ctx, const cJSON **out,
                    char *err, size_t errcap) {
    const cJSON *it = field(obj, key, ctx, err, errcap);
    if (!it) return -1;
    if (!cJSON_IsObject(it)) return wrong_type(it, key, ctx, "an object", err, errcap);
    *out = it;
    return 0;
}

int json_get_array(const cJSON *obj, const char *key, const char *ctx, const cJSON **out, char *err,
                   size_t errcap) {
    const cJSON *it = field(obj, key, ctx, err, errcap);
    if (!it) return -1;
    if (!cJSON_IsArray(it)) return wrong_type(it, key, ctx, "an array", err, errcap);
    *out = it;
    return 0;
}

int json_get_string(const cJSON *obj, const char *key, const char *ctx, const char **out, char *err,
                    size_t errcap) {
    const cJSON *it = field(obj, key, ctx, err, errcap);
    if (!it) return -1;
    if (!cJSON_IsString(it) || !it->valuestring)
        return wrong_type(it, key, ctx, "a string", err, errcap);
    *out = it->valuestring;
    return 0;
}

int json_get_double(const cJSON *obj, const char *key, const char *ctx, double *out, char *err,
                    size_t errcap) {
    const cJSON *it = field(obj, key, ctx, err, errcap);
    if (!it) return -1;
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return wrong_type(it, key, ctx, "a finite number", err, errcap);
    *out = it->valuedouble;
    return 0;
}

int json_get_bool(const cJSON *obj, const char *key, const char *ctx, int *out, char *err,
                  size_t errcap) {
    const cJSON *it = field(obj, key, ctx, err, errcap);
    if (!it) return -1;
    if (!cJSON_IsBool(it)) return wrong_type(it, key, ctx, "true or false", err, errcap);
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return 0;
}

static int exact_int(const cJSON *it, int64_t *out) {
    if (!cJSON_IsNumber(it)) return 0;
    double v = it->valuedouble;
    if (!isfinite(v) || v != floor(v) || fabs(v) > (double)JSON_MAX_EXACT_INT) return 0;
    *out = (int64_t)v;
    return 1;
}

int json_get_int(const cJSON *obj, const char *key, const char *ctx, int64_t *out, char *err,
                 size_t errcap) {
    const cJSON *it = field(obj, key, ctx, err, errcap);
    if (!it) return -1;
    if (!exact_int(it, out))
        return wrong_type(it, key, ctx, "an integer of magnitude at most 2^53-1", err, errcap);
    return 0;
}

int json_as_int(const cJSON *item, const char *ctx, int64_t *out, char *err, size_t errcap) {
    if (!exact_int(item, out)) {
        if (cJSON_IsNumber(item))
            err_printf(err, errcap, "%s: %.17g is not an integer of magnitude at most 2^53-1", ctx,
                       item->valuedouble);
        else err_printf(err, errcap, "%s: expected an integer, got %s", ctx, json_type_name(item));
        return -1;
    }
    return 0;
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *json_duplicate_key(const cJSON *obj) {
    size_t n = 0;
    for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next) n++;
    if (n < 2) return NULL;
    const char **keys = malloc(n * sizeof *keys);
    if (!keys) return NULL;
    size_t k = 0;
    for (const cJSON *c = obj->child; c; c = c->next) keys[k++] = c->string ? c->string : "";
    qsort(keys, n, sizeof *keys, cmp_str_ptr);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0) dup = keys[i];
    free(keys);
    return dup;
}

int json_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t l = utf8_seq_len(p + i, n - i);
        if (l == 0) return 0;
        i += l;
    }
    return 1;
}

/* Appends one NUL-free, valid UTF-8 piece through cJSON's own string printer, without the
 * quotes it adds. */
static void write_piece(StrBuf *b, const char *piece) {
    cJSON *it = cJSON_CreateString(piece);
    char *text = it ? cJSON_PrintUnformatted(it) : NULL;
    if (!text) abort(); /* out of memory: StrBuf aborts too, and callers cannot report it */
    size_t len = strlen(text);
    if (len >= 2) sb_appendn(b, text + 1, len - 2);
    cJSON_free(text);
    cJSON_Delete(it);
}

/* cJSON does the escaping. What it cannot take is handled first: a NUL byte would end its C
 * string (the rest would be lost), so the text is printed in NUL-free pieces joined by
 * \u0000; and it copies bytes >= 0x80 unchecked, so invalid UTF-8 would make invalid JSON:
 * each bad byte becomes U+FFFD and the call returns -1. */
int json_write_string(StrBuf *b, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    StrBuf piece;
    sb_init(&piece);
    int rc = 0;
    size_t i = 0;
    sb_append(b, "\"");
    for (;;) {
        piece.len = 0;
        sb_append(&piece, ""); /* an empty piece is "" too, not NULL */
        while (i < n && p[i] != 0) {
            size_t l = p[i] < 0x80 ? 1 : utf8_seq_len(p + i, n - i);
            if (l == 0) {
                sb_append(&piece, "\xEF\xBF\xBD"); /* U+FFFD */
                rc = -1;
                i++;
            } else {
                sb_appendn(&piece, s + i, l);
                i += l;
            }
        }
        write_piece(b, piece.s);
        if (i >= n) break;
        sb_append(b, "\\u0000");
        i++;
    }
    sb_append(b, "\"");
    sb_free(&piece);
    return rc;
}

size_t json_number_text(double v, char buf[JSON_NUMBER_CAP]) {
    if (!isfinite(v)) return (size_t)snprintf(buf, JSON_NUMBER_CAP, "null");
    if (v == trunc(v) && fabs(v) < 1e16)
        return (size_t)snprintf(buf, JSON_NUMBER_CAP, "%.0f", v); /* 100, not 1e+02 */
    /* the first precision whose correctly rounded form reads back; 17 always does */
    int n = 0;
    for (int prec = 1; prec <= 17; prec++) {
        n = snprintf(buf, JSON_NUMBER_CAP, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return (size_t)n;
}

void json_write_number(StrBuf *b, double v) {
    char buf[JSON_NUMBER_CAP];
    json_number_text(v, buf);
    sb_append(b, buf);
}

cJSON *json_number(double v) {
    char buf[JSON_NUMBER_CAP];
    json_number_text(v, buf);
    return cJSON_CreateRaw(buf);
}

/* A textual rewrite, not parse and print: the layout, the strings and integers of any size
 * (a 64-bit seed is not a double) stay as written; only fractional and exponent numbers
 * change, to the shortest text of the double they read as. */
char *json_shortest_text(const char *text) {
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    bool ok = j && (cJSON_IsObject(j) || cJSON_IsArray(j));
    cJSON_Delete(j);
    if (!ok) return NULL;
    StrBuf b;
    sb_init(&b);
    sb_append(&b, "");
    for (const char *p = text; *p;) {
        if (*p == '"') { /* a string, escapes included, copied as is */
            const char *q = p + 1;
            while (*q && *q != '"') q += (*q == '\\' && q[1]) ? 2 : 1;
            if (*q) q++;
            sb_appendn(&b, p, (size_t)(q - p));
            p = q;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            size_t n = strspn(p, "+-.0123456789eE");
            double v = strtod(p, NULL);
            if (strcspn(p, ".eE") < n && isfinite(v)) { /* 1e400 stays, not "null" */
                char buf[JSON_NUMBER_CAP];
                json_number_text(v, buf);
                sb_append(&b, buf);
            } else {
                sb_appendn(&b, p, n);
            }
            p += n;
        } else {
            sb_appendn(&b, p++, 1);
        }
    }
    return sb_take(&b);
}
