/* gen's output folder: lock, run marker, resume (see gen_dir.h). */
#include "dataset/gen_dir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/path_lock.h"
#include "util/errmsg.h"
#include "util/strbuf.h"

static char *join(const char *a, const char *b) {
    StrBuf s;
    sb_init(&s);
    sb_printf(&s, "%s/%s", a, b);
    return sb_take(&s);
}

/* Removes "*.tmp.*" files (atomic_file.h's temporaries) in dir; a killed writer leaves them. */
static void remove_orphans(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) {
            char *p = join(dir, e->d_name);
            unlink(p);
            free(p);
        }
    if (d) closedir(d);
}

/* Whether dir holds anything besides . and .. */
static int non_empty(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && !n && (e = readdir(d)))
        n = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d) closedir(d);
    return n;
}

int gen_dir_prepare(const GdConfig *c, bool resume, char *err, size_t errcap) {
    const char *dir = c->out_dir;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return err_printf(err, errcap, "%s: cannot create directory: %s", dir, strerror(errno)), -1;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_printf(err, errcap, "%s: not a directory", dir), -1;
    int fd = path_lock(dir, "a gen run", err, errcap);
    if (fd < 0) return -1;
    char *manifest = join(dir, "manifest.json"), *marker = join(dir, GEN_DIR_MARKER);
    char *want = gd_run_identity(c);
    int rc = 0;
    if (access(manifest, F_OK) == 0) {
        rc = err_printf(err, errcap,
                        "%s already holds a finished dataset (manifest.json); use a new directory",
                        dir);
    } else if (access(marker, F_OK) == 0) {
        unsigned char *have = NULL;
        size_t len = 0;
        if (!resume)
            rc = err_printf(
                err, errcap,
                "%s holds a gen run that did not finish; complete it with --resume (and the "
                "same settings) or use a new directory",
                dir);
        else if (read_whole_file(marker, &have, &len, err, errcap) != 0) rc = -1;
        else if (len != strlen(want) || memcmp(have, want, len) != 0)
            rc = err_printf(
                err, errcap,
                "%s: the unfinished run there had other settings (%s); --resume needs the "
                "same seed, -n, --shard-size, splits and generator options",
                dir, marker);
        free(have);
        if (!rc) { /* the killed run's temporaries: never read, but they would stay forever */
            remove_orphans(dir);
            for (int s = 0; s < c->n_splits; s++) {
                char *sub = join(dir, c->split_name[s]);
                remove_orphans(sub);
                free(sub);
            }
        }
    } else if (non_empty(dir)) {
        rc = err_printf(err, errcap,
                        "%s is not empty and holds no gen run; use a new or empty directory", dir);
    } else {
        rc = atomic_write(marker, want, strlen(want), err, errcap);
    }
    free(manifest);
    free(marker);
    free(want);
    if (rc) {
        path_unlock(fd);
        return -1;
    }
    return fd;
}

void gen_dir_finish(const GdConfig *c, int lock_fd) {
    char *marker = join(c->out_dir, GEN_DIR_MARKER);
    unlink(marker);
    free(marker);
    path_unlock(lock_fd);
}
