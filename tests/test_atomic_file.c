/* atomic_write and read_whole_file: replacement, cleanup, and a writer killed half-way
 * (a forked child that dies before the rename) leaving the old content intact. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "test.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* Names in tmpdir that contain ".tmp." (leftover temporary files). */
static int count_temp_files(char *first, size_t cap) {
    DIR *d = opendir(tmpdir);
    int n = 0;
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp.")) {
            if (n == 0 && first) snprintf(first, cap, "%s/%s", tmpdir, e->d_name);
            n++;
        }
    closedir(d);
    return n;
}

static int file_is(const char *path, const char *content) {
    unsigned char *data;
    size_t len;
    char err[256];
    if (read_whole_file(path, &data, &len, err, sizeof err) != 0) return 0;
    int ok = len == strlen(content) && memcmp(data, content, len) == 0 && data[len] == '\0';
    free(data);
    return ok;
}

static void test_write_and_overwrite(void) {
    char err[256];
    const char *p = tmp_path("a.txt");
    CHECK_MSG(atomic_write(p, "first version", 13, err, sizeof err) == 0, "%s", err);
    CHECK(file_is(p, "first version"));
    CHECK_MSG(atomic_write(p, "2nd", 3, err, sizeof err) == 0, "%s", err);
    CHECK(file_is(p, "2nd")); /* shorter: no tail of the old content */
    CHECK_MSG(atomic_write(p, "", 0, err, sizeof err) == 0, "%s", err);
    CHECK(file_is(p, ""));
    CHECK(count_temp_files(NULL, 0) == 0);
    /* the file gets ordinary permissions (0666 less umask), not mkstemp's 0600 */
    struct stat st;
    mode_t um = umask(0);
    umask(um);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == (0666 & ~um));
}

static void test_large(void) {
    size_t n = 3u << 20;
    unsigned char *big = malloc(n);
    for (size_t i = 0; i < n; i++) big[i] = (unsigned char)(i * 7 + (i >> 11));
    char err[256];
    const char *p = tmp_path("big.bin");
    CHECK(atomic_write(p, big, n, err, sizeof err) == 0);
    unsigned char *back;
    size_t len;
    CHECK(read_whole_file(p, &back, &len, err, sizeof err) == 0);
    CHECK(len == n && memcmp(back, big, n) == 0);
    free(back);
    free(big);
}

static void test_errors(void) {
    char err[256];
    const char *p = tmp_path("no/such/dir/file");
    CHECK(atomic_write(p, "x", 1, err, sizeof err) != 0);
    CHECK_MSG(strncmp(err, p, strlen(p)) == 0 && strstr(err, "cannot create temporary file"), "%s",
              err);
    CHECK(atomic_write("", "x", 1, err, sizeof err) != 0);
    unsigned char *data = (unsigned char *)"not null";
    size_t len = 5;
    CHECK(read_whole_file(tmp_path("missing"), &data, &len, err, sizeof err) != 0);
    CHECK(data == NULL && len == 0);
    CHECK(strstr(err, "missing: cannot open") != NULL);
    CHECK(read_whole_file(tmpdir, &data, &len, err, sizeof err) != 0);
    CHECK(strstr(err, "is a directory") != NULL);
    /* the target is a directory: the rename fails and the temporary file is removed */
    const char *d = tmp_path("adir");
    CHECK(mkdir(d, 0755) == 0);
    CHECK(atomic_write(d, "x", 1, err, sizeof err) != 0);
    CHECK_MSG(strstr(err, "cannot rename") != NULL, "%s", err);
    CHECK(count_temp_files(NULL, 0) == 0);
    rmdir(d);
    /* err may be omitted */
    CHECK(atomic_write("", "x", 1, NULL, 0) != 0);
}

/* read_whole_file reads to EOF, not to st_size: /proc files report size 0. */
static void test_read_proc(void) {
    unsigned char *data;
    size_t len;
    char err[256];
    CHECK(read_whole_file("/proc/self/status", &data, &len, err, sizeof err) == 0);
    CHECK(len > 0 && strstr((char *)data, "Name:") != NULL);
    free(data);
}

static void test_abort_removes_temp(void) {
    AtomicFile f;
    char err[256];
    const char *p = tmp_path("ab.txt");
    CHECK(atomic_write(p, "keep", 4, err, sizeof err) == 0);
    CHECK(atomic_file_open(&f, p, err, sizeof err) == 0);
    CHECK(atomic_file_write(&f, "discard", 7, err, sizeof err) == 0);
    CHECK(count_temp_files(NULL, 0) == 1);
    atomic_file_abort(&f);
    CHECK(count_temp_files(NULL, 0) == 0);
    CHECK(file_is(p, "keep"));
    /* streamed writes in pieces */
    CHECK(atomic_file_open(&f, p, err, sizeof err) == 0);
    CHECK(atomic_file_write(&f, "new ", 4, err, sizeof err) == 0);
    CHECK(atomic_file_write(&f, "content", 7, err, sizeof err) == 0);
    CHECK(file_is(p, "keep")); /* nothing visible before commit */
    CHECK(atomic_file_commit(&f, err, sizeof err) == 0);
    CHECK(file_is(p, "new content"));
    CHECK(count_temp_files(NULL, 0) == 0);
}

/* A writer killed (SIGKILL, no cleanup) after writing the temporary file, before the rename:
 * the target keeps its old content; a later write still succeeds. */
static void test_crash_before_rename(void) {
    char err[256];
    const char *p = tmp_path("crash.txt");
    CHECK(atomic_write(p, "old content", 11, err, sizeof err) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        AtomicFile f;
        if (atomic_file_open(&f, p, NULL, 0) != 0) _exit(3);
        if (atomic_file_write(&f, "NEW HALF-WRITTEN", 16, NULL, 0) != 0) _exit(4);
        raise(SIGKILL);
        _exit(5);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
    CHECK(file_is(p, "old content"));
    char stale[600] = "";
    CHECK(count_temp_files(stale, sizeof stale) == 1);
    CHECK(file_is(stale, "NEW HALF-WRITTEN")); /* the child did get that far */
    CHECK(atomic_write(p, "after crash", 11, err, sizeof err) == 0);
    CHECK(file_is(p, "after crash"));
    CHECK(file_is(stale, "NEW HALF-WRITTEN")); /* never read or reused */
    unlink(stale);

    /* killed right after a successful write: the new content is there in full */
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        if (atomic_write(p, "complete new", 12, NULL, 0) != 0) _exit(3);
        raise(SIGKILL);
        _exit(5);
    }
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(file_is(p, "complete new"));
    CHECK(count_temp_files(NULL, 0) == 0);
}

/* A stale temporary file with the very name the next write would pick does not block it. */
static void test_stale_name_collision(void) {
    char err[256];
    const char *p = tmp_path("coll.txt");
    AtomicFile f;
    CHECK(atomic_file_open(&f, p, err, sizeof err) == 0);
    /* Predict the next names (same pid, counter + 1 .. + 3) and occupy them. */
    unsigned n = 0;
    CHECK(sscanf(strrchr(f.tmp_path, '.') + 1, "%u", &n) == 1);
    char occupied[3][700];
    for (int i = 0; i < 3; i++) {
        snprintf(occupied[i], sizeof occupied[i], "%s.tmp.%ld.%u", p, (long)getpid(), n + 1 + i);
        FILE *fp = fopen(occupied[i], "w");
        CHECK(fp != NULL);
        if (fp) fclose(fp);
    }
    atomic_file_abort(&f);
    CHECK(atomic_write(p, "ok", 2, err, sizeof err) == 0);
    CHECK(file_is(p, "ok"));
    for (int i = 0; i < 3; i++) unlink(occupied[i]);
    CHECK(count_temp_files(NULL, 0) == 0);
}

int main(void) {
    if (test_tmpdir(tmpdir, sizeof tmpdir, "af") != 0) return 1;
    RUN(test_write_and_overwrite);
    RUN(test_large);
    RUN(test_errors);
    RUN(test_read_proc);
    RUN(test_abort_removes_temp);
    RUN(test_crash_before_rename);
    RUN(test_stale_name_collision);
    test_rm_tree(tmpdir);
    TEST_END();
}
