#include "util/errmsg.h"

#include <stdarg.h>
#include <stdio.h>

int err_printf(char *err, size_t errcap, const char *fmt, ...) {
    if (err && errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return 1;
}
