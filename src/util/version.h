/* The release of itracr, reported by `itracr --version` and the pkg-config file. Bump it with
 * VERSION in the Makefile (a test checks that they agree). */
#ifndef ITRACR_UTIL_VERSION_H
#define ITRACR_UTIL_VERSION_H
#define ITRACR_VERSION "0.3.0"
#endif
