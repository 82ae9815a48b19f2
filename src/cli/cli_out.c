/* The output guard (io/out_path.h) as the subcommands call it: one line per output. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "io/out_path.h"

/* The resolved targets live until exit (a command runs once per process), so callers keep
 * plain const char * and nothing needs freeing on their many error paths. */
#define MAX_OUTPUTS 16
static char *g_targets[MAX_OUTPUTS];
static int g_n;

bool cli_output(const char *cmd, const char *path, const OutPathSpec *spec, const char **target) {
    char err[1024], *t = NULL;
    *target = NULL;
    if (out_path_prepare(path, spec, &t, err, sizeof err) != 0) {
        fprintf(stderr, "itracr %s: %s\n", cmd, err);
        return false;
    }
    if (t && g_n == MAX_OUTPUTS) abort(); /* a programming error: no command has that many */
    if (t) g_targets[g_n++] = t;
    *target = t;
    return true;
}

int cli_finish(int rc) {
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "itracr: standard output: write failed: %s\n",
                errno ? strerror(errno) : "I/O error");
        return rc == EXIT_OK ? EXIT_BAD_INPUT : rc;
    }
    return rc;
}
