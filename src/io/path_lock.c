/* Output locks (see path_lock.h). */
#include "io/path_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/errmsg.h"

int path_lock(const char *path, const char *what, char *err, size_t errcap) {
    struct stat st;
    int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    int fd = is_dir ? open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                    : open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        err_printf(err, errcap, "%s: cannot open to lock it: %s", path, strerror(errno));
        return -1;
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            err_printf(err, errcap,
                       "%s is in use by another itracr process (%s); wait for it to finish", path,
                       what);
        else err_printf(err, errcap, "%s: cannot lock: %s", path, strerror(e));
        return -1;
    }
    return fd;
}

void path_unlock(int fd) {
    if (fd >= 0) close(fd);
}
