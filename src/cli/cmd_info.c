/* itracr info: describe a compiled model file. */
#include <string.h>

#include "cli/cli.h"
#include "compiler/model.h"

static const char *usage =
    "usage: itracr info MODEL.safetensors [--json]\n"
    "\n"
    "Prints the model's config, a per-layer table of attention heads and MLP widths, and the\n"
    "residual-stream labels.\n";

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("info", "unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage_error("info", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!path) return cli_usage_error("info", "missing MODEL.safetensors");
    char err[1024];
    CompiledModel *m = NULL;
    if (model_load(path, &m, err, sizeof err) != 0) {
        fprintf(stderr, "itracr info: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    model_print_info(stdout, m, json);
    compiled_model_free(m);
    return EXIT_OK;
}
