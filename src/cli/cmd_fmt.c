/* itracr fmt: print a program in canonical form. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *usage =
    "usage: itracr fmt PROG.rasp\n"
    "\n"
    "Prints PROG.rasp in canonical form: the settings, one explicit call per expression\n"
    "(operator sugar expanded, fused Maps shown as one lambda), then `output`. Parsing the\n"
    "result gives the same program.\n";

int cmd_fmt(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("fmt", "unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage_error("fmt", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!path) return cli_usage_error("fmt", "missing PROG.rasp");
    RaspProgram p;
    if (!cli_load_program(path, &p)) return EXIT_BAD_INPUT;
    char *text = rasp_format(&p);
    fputs(text, stdout);
    free(text);
    rasp_program_free(&p);
    return EXIT_OK;
}
