/* Error reporting through a caller's message buffer, the convention of every fallible
 * function in itracr: (char *err, size_t errcap). */
#ifndef ITRACR_UTIL_ERRMSG_H
#define ITRACR_UTIL_ERRMSG_H
#include <stddef.h>

/* Formats into err (if err is not NULL and errcap > 0) and returns 1, so that a caller can
 * write `return err_printf(err, cap, "...")`. */
int err_printf(char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
