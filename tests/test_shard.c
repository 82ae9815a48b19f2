/* Dataset shards: round trip, rejection of damaged shards, and the numpy reader of
 * docs/dataset.md run against a real shard. */
#include <unistd.h>

#include "dataset/shard.h"
#include "test.h"

static uint64_t rng = 12345;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* n fake accepted samples with ids in range. */
static void fill(ShardBuilder *b, int n) {
    AccResult r;
    acc_result_init(&r);
    int voc[WT_N_IDS];
    wt_id_vocab(voc);
    for (int s = 0; s < n; s++) {
        for (int i = 0; i < PT_ROWS * PT_COLS; i++)
            r.tokens[i] = (int16_t)(next() % (uint64_t)pt_vocab_size(i % PT_COLS));
        for (int k = 0; k < ACC_META_COLS; k++) r.meta[k] = (int32_t)(next() % 100);
        r.model_hash[0] = next();
        r.model_hash[1] = next();
        int nt = 1 + (int)(next() % 20);
        r.wt.n = 0;
        r.wt.cap = nt;
        r.wt.payload = realloc(r.wt.payload, sizeof(float) * WT_WIDTH * (size_t)nt);
        r.wt.ids = realloc(r.wt.ids, sizeof(int16_t) * WT_N_IDS * (size_t)nt);
        for (int t = 0; t < nt; t++) {
            for (int j = 0; j < WT_WIDTH; j++)
                r.wt.payload[t * WT_WIDTH + j] = (float)((int)(next() % 2001) - 1000) / 64.0f;
            for (int j = 0; j < WT_N_IDS; j++)
                r.wt.ids[t * WT_N_IDS + j] = (int16_t)(next() % (uint64_t)voc[j]);
        }
        r.wt.n = nt;
        CHECK(shard_builder_add(b, &r, 1000 + s) == 0);
    }
    acc_result_free(&r);
}

static char *find_bytes(unsigned char *buf, size_t len, const char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, s, n) == 0) return (char *)buf + i;
    return NULL;
}

static const char *EXTRA[] = {"seed", "7", "split", "train"};

static void test_round_trip(void) {
    ShardBuilder b;
    shard_builder_init(&b);
    fill(&b, 37);
    unsigned char *buf;
    size_t len;
    char err[512];
    CHECK(shard_serialize(&b, EXTRA, 2, &buf, &len, err, sizeof err) == 0);
    Shard s;
    CHECK_MSG(shard_read_buffer(buf, len, "mem", &s, err, sizeof err) == 0, "%s", err);
    CHECK(s.n == 37 && s.total == b.total);
    if (s.n == 37) {
        CHECK(memcmp(s.prog, b.prog, sizeof(int16_t) * 37 * PT_ROWS * PT_COLS) == 0);
        CHECK(memcmp(s.payload, b.payload, sizeof(float) * WT_WIDTH * (size_t)b.total) == 0);
        CHECK(memcmp(s.ids, b.ids, sizeof(int16_t) * WT_N_IDS * (size_t)b.total) == 0);
        CHECK(memcmp(s.offsets, b.offsets, sizeof(int64_t) * 38) == 0);
        CHECK(memcmp(s.meta, b.meta, sizeof(int32_t) * 37 * ACC_META_COLS) == 0);
        CHECK(s.index[5] == 1005 && s.mhash[3] == b.mhash[3]);
        CHECK_STR(st_meta_get(&s.f, "format"), SHARD_FORMAT);
        CHECK_STR(st_meta_get(&s.f, "seed"), "7");
        CHECK_STR(st_meta_get(&s.f, "n_samples"), "37");
    }
    shard_free(&s);
    /* same content, same bytes */
    unsigned char *buf2;
    size_t len2;
    CHECK(shard_serialize(&b, EXTRA, 2, &buf2, &len2, err, sizeof err) == 0);
    CHECK(len == len2 && memcmp(buf, buf2, len) == 0);
    free(buf2);
    /* an empty shard is valid */
    ShardBuilder e;
    shard_builder_init(&e);
    CHECK(shard_serialize(&e, NULL, 0, &buf2, &len2, err, sizeof err) == 0);
    CHECK_MSG(shard_read_buffer(buf2, len2, "empty", &s, err, sizeof err) == 0, "%s", err);
    CHECK(s.n == 0 && s.total == 0);
    shard_free(&s);
    free(buf2);
    shard_builder_free(&e);
    free(buf);
    shard_builder_free(&b);
}

static void expect_reject(const unsigned char *buf, size_t len, const char *needle) {
    Shard s;
    char err[512] = "";
    int rc = shard_read_buffer(buf, len, "bad", &s, err, sizeof err);
    CHECK(rc != 0);
    CHECK_MSG(strstr(err, needle) != NULL, "message \"%s\" lacks \"%s\"", err, needle);
    shard_free(&s);
}

static void test_damaged(void) {
    ShardBuilder b;
    shard_builder_init(&b);
    fill(&b, 9);
    unsigned char *buf;
    size_t len;
    char err[512];
    CHECK(shard_serialize(&b, NULL, 0, &buf, &len, err, sizeof err) == 0);
    /* a flipped bit in the data */
    buf[len - 3] ^= 0x10;
    expect_reject(buf, len, "checksum mismatch");
    buf[len - 3] ^= 0x10;
    /* truncated */
    expect_reject(buf, len - 100, "bad");
    /* another format version (same length, so the header stays valid JSON) */
    char *f = find_bytes(buf, len, SHARD_FORMAT);
    CHECK(f != NULL);
    if (f) {
        f[strlen(SHARD_FORMAT) - 1] = '9';
        expect_reject(buf, len, "not a shard of format itracr-shard/1");
        f[strlen(SHARD_FORMAT) - 1] = '1';
    }
    free(buf);
    /* offsets that go backwards, with a checksum that matches them */
    int64_t keep = b.offsets[3];
    b.offsets[3] = b.offsets[4] + 1;
    CHECK(shard_serialize(&b, NULL, 0, &buf, &len, err, sizeof err) == 0);
    expect_reject(buf, len, "inconsistent offsets");
    free(buf);
    b.offsets[3] = keep;
    /* offsets that do not end at the token count */
    b.offsets[b.n] -= 1;
    CHECK(shard_serialize(&b, NULL, 0, &buf, &len, err, sizeof err) == 0);
    expect_reject(buf, len, "inconsistent offsets");
    free(buf);
    b.offsets[b.n] += 1;
    /* a weight-token id beyond its vocabulary */
    b.ids[WT_ID_POS] = WT_POS_VOCAB;
    CHECK(shard_serialize(&b, NULL, 0, &buf, &len, err, sizeof err) == 0);
    expect_reject(buf, len, "out of range");
    free(buf);
    b.ids[WT_ID_POS] = 0;
    /* a program token beyond its column's vocabulary */
    b.prog[PT_COL_OP] = (int16_t)pt_vocab_size(PT_COL_OP);
    CHECK(shard_serialize(&b, NULL, 0, &buf, &len, err, sizeof err) == 0);
    expect_reject(buf, len, "program token");
    free(buf);
    shard_builder_free(&b);
}

/* Extracts the ```python block of docs/dataset.md and runs it with /usr/bin/python3 on a
 * shard written by shard_write; it prints n_samples, tokens, sum of program tokens and the
 * sum of the payload, which must match. */
static void test_python_reader(void) {
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
        fprintf(stderr, "  (skipped: /usr/bin/python3 with numpy not available)\n");
        return;
    }
    FILE *doc = fopen("docs/dataset.md", "r");
    CHECK(doc != NULL);
    if (!doc) return;
    char dir[64];
    CHECK(test_tmpdir(dir, sizeof dir, "shard") == 0);
    char py[256], shard[256], outp[256];
    snprintf(py, sizeof py, "%s/read.py", dir);
    snprintf(shard, sizeof shard, "%s/s.safetensors", dir);
    snprintf(outp, sizeof outp, "%s/out.txt", dir);
    FILE *pf = fopen(py, "w");
    char line[1024];
    int in = 0, lines = 0;
    while (fgets(line, sizeof line, doc)) {
        if (!in && strncmp(line, "```python", 9) == 0) {
            in = 1;
            continue;
        }
        if (in && strncmp(line, "```", 3) == 0) break;
        if (in) {
            fputs(line, pf);
            lines++;
        }
    }
    fclose(doc);
    fclose(pf);
    CHECK(lines > 5);
    ShardBuilder b;
    shard_builder_init(&b);
    fill(&b, 23);
    char err[512];
    CHECK(shard_write(&b, shard, EXTRA, 2, err, sizeof err) == 0);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s > %s", py, shard, outp);
    CHECK(system(cmd) == 0);
    FILE *o = fopen(outp, "r");
    long n = -1, total = -1, psum = -1;
    double wsum = 0;
    CHECK(o && fscanf(o, "%ld %ld %ld %lf", &n, &total, &psum, &wsum) == 4);
    if (o) fclose(o);
    long want_psum = 0;
    double want_wsum = 0;
    for (int i = 0; i < b.n * PT_ROWS * PT_COLS; i++) want_psum += b.prog[i];
    for (int64_t i = 0; i < b.total * WT_WIDTH; i++) want_wsum += b.payload[i];
    CHECK(n == 23);
    CHECK(total == b.total);
    CHECK(psum == want_psum);
    CHECK_NEAR(wsum, want_wsum, 1e-3 * (1 + fabs(want_wsum)));
    shard_builder_free(&b);
    unlink(py);
    unlink(shard);
    unlink(outp);
    rmdir(dir);
}

int main(void) {
    RUN(test_round_trip);
    RUN(test_damaged);
    RUN(test_python_reader);
    TEST_END();
}
