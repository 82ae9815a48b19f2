/* safetensors reader/writer: round trips, the exact bytes of a small file worked out by hand
 * from the format specification, a numpy reader as an independent check, and corrupt files
 * that must be rejected with a message naming the problem. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "test.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* A file from a header string and data_len bytes of data (byte i = i & 255). */
static unsigned char *mk(const char *header, size_t data_len, size_t *len) {
    size_t hl = strlen(header);
    *len = 8 + hl + data_len;
    unsigned char *b = malloc(*len);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    for (size_t i = 0; i < data_len; i++) b[8 + hl + i] = (unsigned char)(i & 255);
    return b;
}

static void test_dtypes(void) {
    const char *names[] = {"F32", "F64", "I16", "I32", "I64",  "U8",  "I8",
                           "U16", "U32", "U64", "F16", "BF16", "BOOL"};
    const size_t sizes[] = {4, 8, 2, 4, 8, 1, 1, 2, 4, 8, 2, 2, 1};
    for (int i = 0; i < ST_NUM_DTYPES; i++) {
        StDtype d;
        CHECK_STR(st_dtype_name((StDtype)i), names[i]);
        CHECK(st_dtype_size((StDtype)i) == sizes[i]);
        CHECK(st_dtype_parse(names[i], &d) == 0 && d == (StDtype)i);
    }
    StDtype d;
    CHECK(st_dtype_parse("f32", &d) != 0);
    CHECK(st_dtype_parse("F8_E4M3", &d) != 0);
    CHECK(st_dtype_parse("", &d) != 0);
}

/* Every dtype, 0-d scalars, empty tensors, awkward metadata: write to disk, read back. */
static void test_round_trip(void) {
    unsigned char pat[13][6 * 8];
    for (int d = 0; d < 13; d++)
        for (int i = 0; i < 48; i++) pat[d][i] = (unsigned char)(d * 17 + i * 5 + 1);
    char names[13][32];
    int64_t s23[2] = {2, 3}, s0[1] = {0}, s302[3] = {3, 0, 2};
    StWriter w;
    st_writer_init(&w);
    for (int d = 0; d < 13; d++) {
        snprintf(names[d], sizeof names[d], "t_%s", st_dtype_name((StDtype)d));
        st_writer_add(&w, names[d], (StDtype)d, 2, s23, pat[d]);
    }
    double scalar = -1.5;
    int32_t iscalar = -7;
    st_writer_add(&w, "scalar_f64", ST_F64, 0, NULL, &scalar);
    st_writer_add(&w, "scalar_i32", ST_I32, 0, NULL, &iscalar);
    st_writer_add(&w, "empty", ST_F32, 1, s0, NULL);
    st_writer_add(&w, "empty3", ST_I16, 3, s302, NULL);
    st_writer_add(&w, "unicode/\xc3\xa9\xe2\x82\xac \"q\"", ST_U8, 0, NULL, pat[0]);
    const char *meta_k[] = {"quote", "unicode", "newline", "ctrl", "empty", ""};
    const char *meta_v[] = {"say \"hi\" \\ back\\slash",
                            "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                            "line1\nline2\r\n\ttab",
                            "\x01\x1f\x7f",
                            "",
                            "empty key"};
    for (int i = 0; i < 6; i++) st_writer_meta(&w, meta_k[i], meta_v[i]);
    char err[512];
    const char *path = tmp_path("rt.safetensors");
    CHECK_MSG(st_writer_save(&w, path, err, sizeof err) == 0, "%s", err);

    StFile f;
    CHECK_MSG(st_read_file(path, &f, err, sizeof err) == 0, "%s", err);
    CHECK(f.n == 18);
    CHECK(f.n_meta == 6);
    for (int d = 0; d < 13; d++) {
        const StTensor *t = st_find(&f, names[d]);
        CHECK(t != NULL);
        if (!t) continue;
        CHECK(t->dtype == (StDtype)d && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
        CHECK(t->nbytes == 6 * st_dtype_size((StDtype)d));
        CHECK(memcmp(t->data, pat[d], t->nbytes) == 0);
        CHECK((uintptr_t)t->data % st_dtype_size((StDtype)d) == 0); /* aligned storage order */
        CHECK(st_numel(t) == 6);
    }
    const StTensor *t = st_find(&f, "scalar_f64");
    CHECK(t && t->ndim == 0 && t->nbytes == 8 && st_numel(t) == 1);
    if (t) {
        double v;
        memcpy(&v, t->data, 8);
        CHECK(v == -1.5);
    }
    t = st_find(&f, "scalar_i32");
    CHECK(t && t->ndim == 0 && t->nbytes == 4 && *(const int32_t *)t->data == -7);
    t = st_find(&f, "empty");
    CHECK(t && t->ndim == 1 && t->shape[0] == 0 && t->nbytes == 0 && st_numel(t) == 0);
    t = st_find(&f, "empty3");
    CHECK(t && t->ndim == 3 && t->shape[0] == 3 && t->shape[1] == 0 && t->shape[2] == 2 &&
          t->nbytes == 0);
    t = st_find(&f, "unicode/\xc3\xa9\xe2\x82\xac \"q\"");
    CHECK(t && t->nbytes == 1 && *(const unsigned char *)t->data == pat[0][0]);
    CHECK(st_find(&f, "nope") == NULL);
    for (int i = 0; i < 6; i++) CHECK_STR(st_meta_get(&f, meta_k[i]), meta_v[i]);
    CHECK(st_meta_get(&f, "missing") == NULL);
    /* Tensors come out in data order, tiling the buffer. */
    size_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | f.buf[i];
    const unsigned char *next = f.buf + 8 + hl;
    for (int i = 0; i < f.n; i++) {
        CHECK(f.tensors[i].data == next);
        next += f.tensors[i].nbytes;
    }
    CHECK(next == f.buf + f.len);
    st_file_free(&f);
    st_writer_free(&w);
}

/* The bytes of a two-tensor file, worked out by hand from the specification: u64 LE header
 * length, compact JSON with __metadata__ first and tensors in storage order (F32 before U8:
 * larger elements first), spaces up to a multiple of 8, then the data. */
static void test_exact_bytes(void) {
    static const char hdr[] = "{\"__metadata__\":{\"k\":\"v\"},"
                              "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                              "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[8,11]}}"
                              "    "; /* 132 bytes of JSON + 4 spaces = 136 = 0x88 */
    unsigned char expect[155];
    const unsigned char len_le[8] = {0x88, 0, 0, 0, 0, 0, 0, 0};
    const unsigned char data[11] = {0x00, 0x00, 0x80, 0x3f, /* 1.0f */
                                    0x00, 0x00, 0x00, 0xc0, /* -2.0f */
                                    1,    2,    3};
    CHECK(sizeof hdr - 1 == 136);
    memcpy(expect, len_le, 8);
    memcpy(expect + 8, hdr, 136);
    memcpy(expect + 144, data, 11);

    float a[2] = {1.0f, -2.0f};
    uint8_t b[3] = {1, 2, 3};
    int64_t s2[1] = {2}, s3[1] = {3};
    char err[256];
    /* Two insertion orders: the bytes must not depend on it. */
    for (int order = 0; order < 2; order++) {
        StWriter w;
        st_writer_init(&w);
        if (order == 0) {
            st_writer_add(&w, "b", ST_U8, 1, s3, b);
            st_writer_meta(&w, "k", "v");
            st_writer_add(&w, "a", ST_F32, 1, s2, a);
        } else {
            st_writer_meta(&w, "k", "v");
            st_writer_add(&w, "a", ST_F32, 1, s2, a);
            st_writer_add(&w, "b", ST_U8, 1, s3, b);
        }
        unsigned char *out;
        size_t len;
        CHECK_MSG(st_writer_serialize(&w, &out, &len, err, sizeof err) == 0, "%s", err);
        CHECK(len == sizeof expect);
        CHECK(len == sizeof expect && memcmp(out, expect, len) == 0);
        free(out);
        /* The file on disk is the same bytes. */
        const char *path = tmp_path("exact.safetensors");
        CHECK_MSG(st_writer_save(&w, path, err, sizeof err) == 0, "%s", err);
        unsigned char *disk;
        CHECK(read_whole_file(path, &disk, &len, err, sizeof err) == 0);
        CHECK(len == sizeof expect && memcmp(disk, expect, len) == 0);
        free(disk);
        st_writer_free(&w);
    }
    /* An empty file is "{}" plus 6 spaces. */
    StWriter w;
    st_writer_init(&w);
    unsigned char *out;
    size_t len;
    CHECK(st_writer_serialize(&w, &out, &len, err, sizeof err) == 0);
    CHECK(len == 16 && memcmp(out, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0);
    free(out);
    st_writer_free(&w);
}

/* numpy reads the file on its own, following the specification (no safetensors package). */
static int python_numpy_available(void) {
    if (access("/usr/bin/python3", X_OK) != 0) return 0;
    return system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

static void test_numpy_reads(void) {
    float f32[6] = {0.5f, -1.25f, 3.0f, 1e-3f, -0.0f, 65504.0f};
    double f64[2] = {3.141592653589793, -2.5e300};
    int16_t i16[3] = {-32768, 0, 32767};
    int64_t i64[2] = {-9007199254740993LL, 42};
    uint8_t bools[2] = {1, 0};
    uint16_t bf16[2] = {0x3f80, 0xc000}; /* 1.0, -2.0 */
    uint16_t f16[2] = {0x3c00, 0xc000};  /* 1.0, -2.0 */
    int32_t scalar = 123456;
    int64_t s23[2] = {2, 3}, s2[1] = {2}, s3[1] = {3}, s0[2] = {0, 4};
    StWriter w;
    st_writer_init(&w);
    st_writer_add(&w, "layer/w", ST_F32, 2, s23, f32);
    st_writer_add(&w, "f64", ST_F64, 1, s2, f64);
    st_writer_add(&w, "i16", ST_I16, 1, s3, i16);
    st_writer_add(&w, "i64", ST_I64, 1, s2, i64);
    st_writer_add(&w, "mask", ST_BOOL, 1, s2, bools);
    st_writer_add(&w, "bf16", ST_BF16, 1, s2, bf16);
    st_writer_add(&w, "f16", ST_F16, 1, s2, f16);
    st_writer_add(&w, "scalar", ST_I32, 0, NULL, &scalar);
    st_writer_add(&w, "empty", ST_F32, 2, s0, NULL);
    st_writer_meta(&w, "format", "itracr-test/1");
    st_writer_meta(&w, "text", "caf\xc3\xa9 \"x\"\n");
    char err[256];
    const char *path = tmp_path("numpy.safetensors");
    CHECK_MSG(st_writer_save(&w, path, err, sizeof err) == 0, "%s", err);
    st_writer_free(&w);

    const char *script = tmp_path("check.py");
    FILE *fp = fopen(script, "w");
    CHECK(fp != NULL);
    if (!fp) return;
    fputs("import json, struct, sys\n"
          "import numpy as np\n"
          "raw = open(sys.argv[1], 'rb').read()\n"
          "(n,) = struct.unpack('<Q', raw[:8])\n"
          "assert n % 8 == 0, n\n"
          "text = raw[8:8 + n].decode('utf-8')\n"
          "assert text.startswith('{') and text.rstrip(' ') == text.strip()\n"
          "hdr = json.loads(text)\n"
          "data = raw[8 + n:]\n"
          "meta = hdr.pop('__metadata__')\n"
          "assert meta == {'format': 'itracr-test/1', 'text': 'caf\\u00e9 \"x\"\\n'}, meta\n"
          "dt = {'F32': '<f4', 'F64': '<f8', 'I16': '<i2', 'I32': '<i4', 'I64': '<i8',\n"
          "      'BOOL': '?', 'F16': '<f2', 'BF16': '<u2'}\n"
          "spans = sorted(tuple(v['data_offsets']) for v in hdr.values())\n"
          "pos = 0\n"
          "for b, e in spans:\n"
          "    assert b == pos, (b, pos)\n"
          "    pos = e\n"
          "assert pos == len(data)\n"
          "t = {}\n"
          "for k, v in hdr.items():\n"
          "    b, e = v['data_offsets']\n"
          "    a = np.frombuffer(data[b:e], dtype=dt[v['dtype']]).reshape(v['shape'])\n"
          "    assert b % a.dtype.itemsize == 0, k\n"
          "    t[k] = a\n"
          "assert sorted(t) == "
          "sorted(['layer/w','f64','i16','i64','mask','bf16','f16','scalar','empty'])\n"
          "assert t['layer/w'].shape == (2, 3)\n"
          "assert t['layer/w'].tolist() == np.array([[0.5, -1.25, 3.0], [1e-3, -0.0, 65504.0]], "
          "'<f4').tolist()\n"
          "assert t['f64'].tolist() == [3.141592653589793, -2.5e300]\n"
          "assert t['i16'].tolist() == [-32768, 0, 32767]\n"
          "assert t['i64'].tolist() == [-9007199254740993, 42]\n"
          "assert t['mask'].tolist() == [True, False]\n"
          "bf = (t['bf16'].astype('<u4') << 16).view('<f4')\n"
          "assert bf.tolist() == [1.0, -2.0]\n"
          "assert t['f16'].tolist() == [1.0, -2.0]\n"
          "assert t['scalar'].shape == () and int(t['scalar']) == 123456\n"
          "assert t['empty'].shape == (0, 4)\n"
          "print('numpy ok')\n",
          fp);
    fclose(fp);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", script, path);
    int rc = system(cmd);
    CHECK_MSG(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "python check failed (%d)", rc);
}

/* Each corrupt variant: rejected, the message starts with the file's name and says what. */
static void expect_reject(const unsigned char *buf, size_t len, const char *needle, int line) {
    StFile f;
    char err[512] = "";
    int rc = st_read_buffer_named(buf, len, "model.safetensors", &f, err, sizeof err);
    if (rc == 0) {
        fprintf(stderr, "  FAIL line %d: accepted, expected error containing \"%s\"\n", line,
                needle);
        t_failed_checks++;
        t_cur_failed = 1;
    } else if (strncmp(err, "model.safetensors: ", 19) != 0 || !strstr(err, needle)) {
        fprintf(stderr, "  FAIL line %d: message \"%s\" lacks \"%s\"\n", line, err, needle);
        t_failed_checks++;
        t_cur_failed = 1;
    }
    CHECK(f.n == 0 && f.n_meta == 0 && f.buf == NULL && f.tensors == NULL);
    st_file_free(&f);
}

static void reject_hdr(const char *header, size_t data_len, const char *needle, int line) {
    size_t len;
    unsigned char *b = mk(header, data_len, &len);
    expect_reject(b, len, needle, line);
    free(b);
}
#define REJECT(h, n, needle) reject_hdr(h, n, needle, __LINE__)

#define T(name, dt, shape, b, e)                                                                   \
    "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static void test_corrupt(void) {
    size_t len;
    /* sanity: the helper builds a valid file */
    unsigned char *ok = mk("{" T("a", "F32", "[2]", 0, 8) "}", 8, &len);
    StFile f;
    char err[256];
    CHECK_MSG(st_read_buffer(ok, len, &f, err, sizeof err) == 0, "%s", err);
    st_file_free(&f);

    /* 1. shorter than the length field */
    expect_reject(ok, 5, "truncated: 5 bytes, too short", __LINE__);
    /* 2. header longer than the file */
    expect_reject(ok, len - 9 - 8 + 8, "truncated: header says", __LINE__);
    /* 3. header length over the 100 MB limit */
    unsigned char big[16] = {0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0, '{', '}'}; /* 100000001 */
    expect_reject(big, sizeof big, "exceeds the 100000000-byte limit", __LINE__);
    unsigned char huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    expect_reject(huge, sizeof huge, "exceeds the 100000000-byte limit", __LINE__);
    free(ok);
    /* 4. empty header */
    REJECT("", 0, "header is empty");
    /* 5. not JSON / not an object / trailing garbage */
    REJECT("{\"a\":", 0, "invalid JSON");
    REJECT("[1,2]   ", 0, "does not start with '{'");
    REJECT(" {}     ", 0, "does not start with '{'");
    REJECT("{} x    ", 0, "invalid JSON");
    /* 6. header not UTF-8, escaped NUL */
    REJECT("{\"\xc3\x28\":{}}", 0, "not valid UTF-8");
    REJECT("{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0, "escaped NUL");
    /* 7. unknown / mistyped dtype */
    REJECT("{" T("a", "F8", "[2]", 0, 2) "}", 2, "tensor \"a\": unknown dtype \"F8\"");
    REJECT("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
           "field \"dtype\" must be a string, got number");
    /* 8. entry missing a field or not an object */
    REJECT("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "field \"shape\" is missing");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "field \"data_offsets\" is missing");
    REJECT("{\"a\":[1]}", 0, "tensor \"a\": entry must be an object, got array");
    /* 9. shape entries that are not non-negative integers */
    REJECT("{" T("a", "F32", "[-1]", 0, 0) "}", 0, "shape entry 0 is not an integer");
    REJECT("{" T("a", "F32", "[2, 1.5]", 0, 12) "}", 12, "shape entry 1 is not an integer");
    REJECT("{" T("a", "F32", "[\"2\"]", 0, 8) "}", 8, "shape entry 0 is not an integer");
    REJECT("{" T("a", "F32", "[1,1,1,1,1,1,1,1,1]", 0, 4) "}", 4, "9 dimensions, at most 8");
    /* 10. shape and offsets disagree */
    REJECT("{" T("a", "F32", "[3]", 0, 8) "}", 8,
           "data_offsets [0, 8] span 8 bytes, but shape [3] of F32 needs 12");
    /* 11. size overflow: (2^53-1)^2 * 4 */
    REJECT("{" T("a", "F32", "[9007199254740991, 9007199254740991]", 0, 0) "}", 0, "overflows");
    REJECT("{" T("a", "F64", "[4294967296, 4294967296]", 0, 0) "}", 0, "overflows");
    /* 12. malformed data_offsets */
    REJECT("{" T("a", "F32", "[1]", 4, 0) "}", 4, "end before they begin");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8,
           "data_offsets must be two integers");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1e300]}}", 4,
           "data_offsets must be two integers");
    /* 13. out of bounds */
    REJECT("{" T("a", "F32", "[2]", 0, 8) "}", 4, "go past the end of the 4-byte data buffer");
    /* 14. overlap */
    REJECT("{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[1]", 4, 8) "}", 8, "overlaps tensor");
    /* 15. gap */
    REJECT("{" T("a", "F32", "[1]", 0, 4) "," T("b", "F32", "[1]", 8, 12) "}", 12,
           "gap in the data buffer: bytes [4, 8) belong to no tensor (next is \"b\")");
    REJECT("{" T("a", "F32", "[1]", 4, 8) "}", 8, "bytes [0, 4) belong to no tensor");
    /* 16. trailing bytes no tensor covers */
    REJECT("{" T("a", "F32", "[1]", 0, 4) "}", 6, "cover 4 bytes of the 6-byte data buffer");
    REJECT("{}", 1, "cover 0 bytes of the 1-byte data buffer");
    /* 17. metadata not strings */
    REJECT("{\"__metadata__\":{\"k\":1}}", 0,
           "__metadata__ value of \"k\" must be a string, got number");
    REJECT("{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, "must be a string, got object");
    REJECT("{\"__metadata__\":[\"k\"]}", 0, "__metadata__ must be an object of strings, got array");
    /* 18. duplicates */
    REJECT("{" T("a", "F32", "[1]", 0, 4) "," T("a", "F32", "[1]", 4, 8) "}", 8,
           "duplicate entry \"a\"");
    REJECT("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "__metadata__: duplicate key \"k\"");
    REJECT("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate entry \"__metadata__\"");
}

/* The message for a real truncated file names its path. */
static void test_truncated_file(void) {
    size_t len;
    unsigned char *b = mk("{" T("w", "F32", "[300]", 0, 1200) "}", 1200, &len);
    char err[512];
    const char *path = tmp_path("model.safetensors");
    CHECK(atomic_write(path, b, 38, err, sizeof err) == 0); /* cut inside the 59-byte header */
    StFile f;
    CHECK(st_read_file(path, &f, err, sizeof err) != 0);
    char want[600];
    snprintf(want, sizeof want, "%s: truncated: header says %zu bytes, file has %zu", path,
             len - 8 - 1200, (size_t)30);
    CHECK(len - 8 - 1200 == 59);
    CHECK_MSG(strncmp(err, want, strlen(want)) == 0, "got \"%s\", want \"%s\"", err, want);
    CHECK(atomic_write(path, b, len - 1, err, sizeof err) == 0); /* cut inside the data */
    CHECK(st_read_file(path, &f, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "go past the end of the 1199-byte data buffer") != NULL, "%s", err);
    CHECK(strncmp(err, path, strlen(path)) == 0);
    CHECK(st_read_file(tmp_path("does-not-exist.safetensors"), &f, err, sizeof err) != 0);
    CHECK(strstr(err, "does-not-exist.safetensors: cannot open") != NULL);
    free(b);
}

/* What the reference reader accepts and so must we. */
static void test_accepted_variants(void) {
    StFile f;
    char err[256];
    size_t len;
    /* null metadata, unknown extra fields, whitespace, padding, tensors listed out of data
     * order, a zero-size tensor sharing an offset */
    unsigned char *b =
        mk("{ \"b\" : {\"shape\":[1],\"dtype\":\"U8\",\"data_offsets\":[4,5],\"x\":1},"
           "\"__metadata__\":null,"
           "\"a\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]},"
           "\"z\":{\"dtype\":\"F64\",\"shape\":[0,7],\"data_offsets\":[4,4]}}   ",
           5, &len);
    CHECK_MSG(st_read_buffer(b, len, &f, err, sizeof err) == 0, "%s", err);
    CHECK(f.n == 3 && f.n_meta == 0);
    if (f.n == 3) {
        CHECK_STR(f.tensors[0].name, "a");
        CHECK(f.tensors[0].ndim == 0 && f.tensors[0].nbytes == 4);
        CHECK(st_find(&f, "b")->nbytes == 1 && *(const unsigned char *)st_find(&f, "b")->data == 4);
        CHECK(st_find(&f, "z")->nbytes == 0);
    }
    st_file_free(&f);
    free(b);
}

static void expect_write_error(StWriter *w, const char *needle, int line) {
    unsigned char *out = (unsigned char *)"x";
    size_t len = 99;
    char err[256] = "";
    int rc = st_writer_serialize(w, &out, &len, err, sizeof err);
    if (rc == 0 || !strstr(err, needle)) {
        fprintf(stderr, "  FAIL line %d: rc %d, message \"%s\" lacks \"%s\"\n", line, rc, err,
                needle);
        t_failed_checks++;
        t_cur_failed = 1;
    }
    CHECK(out == NULL && len == 0);
    if (rc == 0) free(out);
    st_writer_free(w);
}

static void test_writer_errors(void) {
    StWriter w;
    float v[2] = {1, 2};
    int64_t s1[1] = {1}, sneg[1] = {-1}, s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    st_writer_init(&w);
    st_writer_add(&w, "a", ST_F32, 1, s1, v);
    st_writer_add(&w, "a", ST_F32, 1, s1, v + 1);
    expect_write_error(&w, "duplicate tensor name \"a\"", __LINE__);
    st_writer_init(&w);
    st_writer_add(&w, "a", ST_F32, 1, s1, v);
    st_writer_add(&w, "b", ST_U8, 1, s1, v);
    st_writer_add(&w, "a", ST_U8, 1, s1, v); /* same name, other dtype size */
    expect_write_error(&w, "duplicate tensor name \"a\"", __LINE__);
    st_writer_init(&w);
    st_writer_add(&w, "__metadata__", ST_F32, 1, s1, v);
    expect_write_error(&w, "reserved", __LINE__);
    st_writer_init(&w);
    st_writer_add(&w, "bad\xff", ST_F32, 1, s1, v);
    expect_write_error(&w, "not valid UTF-8", __LINE__);
    st_writer_init(&w);
    st_writer_add(&w, "a", ST_F32, 9, s9, v);
    expect_write_error(&w, "9 dimensions", __LINE__);
    st_writer_init(&w);
    st_writer_add(&w, "a", ST_F32, 1, sneg, v);
    expect_write_error(&w, "negative dimension", __LINE__);
    st_writer_init(&w);
    st_writer_add(&w, "a", ST_F32, 1, s1, NULL);
    expect_write_error(&w, "data is NULL", __LINE__);
    st_writer_init(&w);
    st_writer_add(&w, "a", (StDtype)99, 1, s1, v);
    expect_write_error(&w, "invalid dtype 99", __LINE__);
    st_writer_init(&w);
    st_writer_meta(&w, "k", "1");
    st_writer_meta(&w, "k", "2");
    expect_write_error(&w, "duplicate metadata key \"k\"", __LINE__);
    st_writer_init(&w);
    st_writer_meta(&w, "k", "\xc0\x80"); /* overlong NUL */
    expect_write_error(&w, "metadata value", __LINE__);
    /* save reports the path and writes nothing */
    st_writer_init(&w);
    st_writer_add(&w, "a", ST_F32, 1, sneg, v);
    char err[256];
    const char *path = tmp_path("never.safetensors");
    CHECK(st_writer_save(&w, path, err, sizeof err) != 0);
    CHECK(strncmp(err, path, strlen(path)) == 0);
    CHECK(access(path, F_OK) != 0);
    st_writer_free(&w);
}

/* Boundary cases of the validation code (also the spots the fuzzer probes hardest). */
static void test_edge_inputs(void) {
    StFile f;
    char err[256];
    size_t len;
    /* an escaped backslash followed by "u0000" is the text \u0000, not a NUL */
    unsigned char *b = mk("{\"__metadata__\":{\"k\":\"\\\\u0000\"}}", 0, &len);
    CHECK_MSG(st_read_buffer(b, len, &f, err, sizeof err) == 0, "%s", err);
    CHECK_STR(st_meta_get(&f, "k"), "\\u0000");
    st_file_free(&f);
    free(b);
    /* zero elements: a huge dimension next to a zero one is fine */
    b = mk("{" T("a", "F32", "[9007199254740991, 0]", 0, 0) "}", 0, &len);
    CHECK_MSG(st_read_buffer(b, len, &f, err, sizeof err) == 0, "%s", err);
    CHECK(f.n == 1 && f.tensors[0].nbytes == 0 && f.tensors[0].shape[0] == 9007199254740991LL);
    st_file_free(&f);
    free(b);
    REJECT("{", 0, "invalid JSON");
    REJECT("{\"a\\", 0, "invalid JSON"); /* ends in a backslash */
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
           "data_offsets must be two integers");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[]}}", 4,
           "data_offsets must be two integers");
    /* 2^53 + 1 parses as the double 2^53: beyond the exact range, so rejected */
    REJECT("{" T("a", "F32", "[9007199254740993]", 0, 0) "}", 0, "shape entry 0 is not an integer");
    REJECT("{" T("a", "F32", "[9007199254740992]", 0, 0) "}", 0, "shape entry 0 is not an integer");
    /* deep nesting is an error, not a stack overflow */
    char deep[5000];
    strcpy(deep, "{\"a\":");
    for (int i = 0; i < 4000; i++) strcat(deep + 5 + i, "[");
    strcat(deep, "}");
    REJECT(deep, 0, "invalid JSON");
    /* the 8-byte length alone, and a length of exactly the remaining bytes with no data */
    unsigned char zero[8] = {0};
    expect_reject(zero, 8, "header is empty", __LINE__);
}

int main(void) {
    if (test_tmpdir(tmpdir, sizeof tmpdir, "st") != 0) return 1;
    RUN(test_dtypes);
    RUN(test_round_trip);
    RUN(test_exact_bytes);
    if (python_numpy_available()) RUN(test_numpy_reads);
    else printf("SKIP test_numpy_reads: /usr/bin/python3 with numpy not found (not counted)\n");
    RUN(test_corrupt);
    RUN(test_truncated_file);
    RUN(test_accepted_variants);
    RUN(test_writer_errors);
    RUN(test_edge_inputs);
    test_rm_tree(tmpdir);
    TEST_END();
}
