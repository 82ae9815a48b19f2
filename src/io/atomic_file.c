/* Atomic replacement with POSIX rename(2): rename within one directory replaces the target
 * in a single step, so readers see the old or the new file. The data is fsync'ed before the
 * rename (else a crash could leave the new name pointing at unwritten blocks) and the
 * directory after it (else the rename itself could be lost). */
#include "io/atomic_file.h"
#include "util/errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* Distinguishes concurrent writers of the same path inside one process. */
static atomic_uint tmp_counter;

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Directory part of path ("." when there is none), malloc'ed. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return dup_str(".");
    if (slash == path) return dup_str("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

static void free_names(AtomicFile *f) {
    free(f->path);
    free(f->tmp_path);
    f->path = f->tmp_path = NULL;
    f->fd = -1;
}

int atomic_file_open(AtomicFile *f, const char *path, char *err, size_t errcap) {
    f->fd = -1;
    f->path = f->tmp_path = NULL;
    if (!path || !*path) {
        err_printf(err, errcap, "atomic write: empty path");
        return -1;
    }
    size_t cap = strlen(path) + 64;
    f->path = dup_str(path);
    f->tmp_path = malloc(cap);
    if (!f->path || !f->tmp_path) {
        err_printf(err, errcap, "%s: out of memory", path);
        free_names(f);
        return -1;
    }
    /* O_EXCL never reuses a name: a stale temp file of a crashed process with the same pid
     * just makes us take the next number. */
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned n = atomic_fetch_add(&tmp_counter, 1);
        snprintf(f->tmp_path, cap, "%s.tmp.%ld.%u", path, (long)getpid(), n);
        f->fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (f->fd >= 0) return 0;
        if (errno != EEXIST) break;
    }
    err_printf(err, errcap, "%s: cannot create temporary file %s: %s", path, f->tmp_path,
               strerror(errno));
    free_names(f);
    return -1;
}

int atomic_file_write(AtomicFile *f, const void *data, size_t len, char *err, size_t errcap) {
    const unsigned char *p = data;
    while (len > 0) {
        size_t chunk = len > ((size_t)1 << 30) ? ((size_t)1 << 30) : len;
        ssize_t w = write(f->fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            err_printf(err, errcap, "%s: write failed: %s", f->path, strerror(errno));
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int fsync_dir(const char *path, char *err, size_t errcap) {
    char *dir = dir_of(path);
    if (!dir) {
        err_printf(err, errcap, "%s: out of memory", path);
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0) {
        err_printf(err, errcap, "%s: cannot open directory %s: %s", path, dir, strerror(errno));
        rc = -1;
    } else {
        /* Some file systems cannot fsync a directory (EINVAL); the rename has happened,
         * so that is not worth failing the write for. */
        if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP) {
            err_printf(err, errcap, "%s: fsync of directory %s failed: %s", path, dir,
                       strerror(errno));
            rc = -1;
        }
        close(fd);
    }
    free(dir);
    return rc;
}

int atomic_file_commit(AtomicFile *f, char *err, size_t errcap) {
    if (fsync(f->fd) != 0) {
        err_printf(err, errcap, "%s: fsync failed: %s", f->path, strerror(errno));
        atomic_file_abort(f);
        return -1;
    }
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0) {
        err_printf(err, errcap, "%s: close failed: %s", f->path, strerror(errno));
        atomic_file_abort(f);
        return -1;
    }
    if (rename(f->tmp_path, f->path) != 0) {
        err_printf(err, errcap, "%s: cannot rename %s over it: %s", f->path, f->tmp_path,
                   strerror(errno));
        atomic_file_abort(f);
        return -1;
    }
    int rc = fsync_dir(f->path, err, errcap);
    free_names(f);
    return rc;
}

void atomic_file_abort(AtomicFile *f) {
    if (f->fd >= 0) close(f->fd);
    if (f->tmp_path) unlink(f->tmp_path);
    free_names(f);
}

int atomic_write(const char *path, const void *data, size_t len, char *err, size_t errcap) {
    AtomicFile f;
    if (atomic_file_open(&f, path, err, errcap) != 0) return -1;
    if (atomic_file_write(&f, data, len, err, errcap) != 0) {
        atomic_file_abort(&f);
        return -1;
    }
    return atomic_file_commit(&f, err, errcap);
}

int read_whole_file(const char *path, unsigned char **data, size_t *len, char *err, size_t errcap) {
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_printf(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err_printf(err, errcap, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        err_printf(err, errcap, "%s: is a directory", path);
        close(fd);
        return -1;
    }
    /* st_size is only a hint (pipes and /proc files report 0, files may grow): read to EOF.
     * Room for one byte past the size lets the final read see EOF without a reallocation. */
    size_t cap = (S_ISREG(st.st_mode) && st.st_size > 0) ? (size_t)st.st_size + 2 : 4096;
    size_t n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        err_printf(err, errcap, "%s: out of memory (%zu bytes)", path, cap);
        close(fd);
        return -1;
    }
    for (;;) {
        if (n + 1 >= cap) {
            size_t ncap = cap * 2;
            unsigned char *nb = ncap > cap ? realloc(buf, ncap) : NULL;
            if (!nb) {
                err_printf(err, errcap, "%s: out of memory", path);
                free(buf);
                close(fd);
                return -1;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            err_printf(err, errcap, "%s: read failed: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return -1;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}
