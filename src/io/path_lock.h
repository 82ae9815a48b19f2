/* An advisory exclusive lock (flock) that says "one itracr process writes here": gen locks
 * its output folder, train a "<checkpoint>.lock" file next to its checkpoint. The kernel
 * drops the lock when the process ends, however it ends, so a killed run never leaves a
 * stale lock behind (the empty .lock file may stay; it means nothing by itself). */
#ifndef ITRACR_IO_PATH_LOCK_H
#define ITRACR_IO_PATH_LOCK_H
#include <stddef.h>

/* Locks path (an existing directory, or a file created when missing) without waiting.
 * Returns the descriptor to keep open (>= 0), or -1 with a message: another process holds
 * it, or it cannot be opened. */
int path_lock(const char *path, const char *what, char *err, size_t errcap);
void path_unlock(int fd); /* closes it; -1 is ignored */

#endif
