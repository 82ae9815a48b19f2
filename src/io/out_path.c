/* Output path guard (see out_path.h). */
#include "io/out_path.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "util/errmsg.h"

#define MAX_LINKS 40

bool out_path_same_file(const char *a, const char *b) {
    struct stat x, y;
    return a && b && stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev &&
           x.st_ino == y.st_ino;
}

/* Follows symlinks from path to the first name that is not one (which may not exist yet).
 * Returns a malloc'ed path, or NULL with errno set (ELOOP, ENOMEM, ...). */
static char *resolve_links(const char *path) {
    char *cur = strdup(path);
    for (int hop = 0; cur && hop <= MAX_LINKS; hop++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) return cur;
        char link[4096];
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0) {
            free(cur);
            return NULL;
        }
        link[n] = '\0';
        char *next;
        const char *slash = strrchr(cur, '/');
        if (link[0] == '/' || !slash) {
            next = strdup(link);
        } else { /* relative to the link's own directory */
            size_t dl = (size_t)(slash - cur) + 1;
            next = malloc(dl + (size_t)n + 1);
            if (next) {
                memcpy(next, cur, dl);
                memcpy(next + dl, link, (size_t)n + 1);
            }
        }
        free(cur);
        cur = next;
    }
    if (cur) {
        free(cur);
        errno = ELOOP;
    }
    return NULL;
}

/* The metadata "format" of a safetensors file, malloc'ed; NULL when fd is not one or has no
 * format. Reads only the header. */
static char *st_format_of(int fd) {
    unsigned char le[8];
    if (pread(fd, le, 8, 0) != 8) return NULL;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | le[i];
    if (n < 2 || n > ST_MAX_HEADER) return NULL;
    char *h = malloc((size_t)n);
    if (!h) return NULL;
    char *fmt = NULL;
    if (pread(fd, h, (size_t)n, 8) == (ssize_t)n) {
        cJSON *root = cJSON_ParseWithLength(h, (size_t)n);
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(md, "format");
        if (cJSON_IsString(f)) fmt = strdup(f->valuestring);
        cJSON_Delete(root);
    }
    free(h);
    return fmt;
}

/* Whether the regular file fd may be replaced by this output. */
static int check_existing(const char *path, int fd, off_t size, const OutPathSpec *s, char *err,
                          size_t errcap) {
    if (s->st_format) {
        char *fmt = st_format_of(fd);
        int rc = 0;
        if (!fmt) {
            rc = err_printf(err, errcap,
                            "%s: exists and is not an itracr %s file; refusing to "
                            "overwrite it",
                            path, s->what);
        } else if (strcmp(fmt, s->st_format) != 0) {
            rc = err_printf(err, errcap,
                            "%s: exists and holds \"%s\" data (%s), not a %s; "
                            "refusing to overwrite it",
                            path, fmt,
                            strncmp(fmt, "itracr-shard", 12) == 0 ? "a dataset shard"
                                                                  : "another kind",
                            s->what);
        } else if (!s->replace) {
            rc =
                err_printf(err, errcap, "%s: %s exists; pass --force to replace it", path, s->what);
        }
        free(fmt);
        return rc;
    }
    if (size == 0) return 0;
    size_t pl = s->text_prefix ? strlen(s->text_prefix) : 0;
    char head[64];
    if (s->text_prefix && pl <= sizeof head && pread(fd, head, pl, 0) == (ssize_t)pl &&
        memcmp(head, s->text_prefix, pl) == 0)
        return 0;
    return err_printf(err, errcap,
                      "%s: exists and is not a %s itracr wrote; refusing to "
                      "overwrite it",
                      path, s->what);
}

int out_path_prepare(const char *path, const OutPathSpec *s, char **target, char *err,
                     size_t errcap) {
    *target = NULL;
    if (!path || !*path) return err_printf(err, errcap, "empty output path");
    if (strcmp(path, "-") == 0) {
        if (s->allow_stdout) return 0;
        return err_printf(err, errcap, "'-' (standard output) cannot receive the %s", s->what);
    }
    char *t = resolve_links(path);
    if (!t) return err_printf(err, errcap, "%s: cannot resolve: %s", path, strerror(errno));
    struct stat st;
    if (stat(t, &st) != 0) {
        if (errno == ENOENT) {
            *target = t;
            return 0;
        }
        err_printf(err, errcap, "%s: cannot stat: %s", path, strerror(errno));
        free(t);
        return -1;
    }
    int rc = 0;
    if (S_ISDIR(st.st_mode)) {
        rc = err_printf(err, errcap, "%s: is a directory", path);
    } else if (!S_ISREG(st.st_mode)) {
        rc = err_printf(err, errcap,
                        "%s: is a device, FIFO or socket, not a regular file; "
                        "refusing to replace it%s",
                        path, s->allow_stdout ? " (use '-' for standard output)" : "");
    }
    for (int i = 0; rc == 0 && s->inputs && s->inputs[i]; i++)
        if (out_path_same_file(t, s->inputs[i]))
            rc = err_printf(err, errcap, "%s: is also an input (%s); refusing to overwrite it",
                            path, s->inputs[i]);
    if (rc == 0) {
        int fd = open(t, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = err_printf(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        } else {
            rc = check_existing(path, fd, st.st_size, s, err, errcap);
            close(fd);
        }
    }
    if (rc) {
        free(t);
        return -1;
    }
    *target = t;
    return 0;
}

int out_write(const char *target, const void *data, size_t len, char *err, size_t errcap) {
    if (target) return atomic_write(target, data, len, err, errcap);
    if ((len && fwrite(data, 1, len, stdout) != len) || fflush(stdout) != 0 || ferror(stdout))
        return err_printf(err, errcap, "standard output: write failed: %s", strerror(errno));
    return 0;
}
