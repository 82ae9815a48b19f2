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
    static const CliOpt opts[] = {{"json", 0, false, 1}};
    CliOpts ps;
    const char *v;
    cli_opts_init(&ps, "info", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        if (id == CLI_HELP) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (id == CLI_ERR) {
            return EXIT_USAGE;
        } else if (id == 1) {
            json = true;
        } else if (!path) {
            path = v;
        } else {
            return cli_usage_error("info", "unexpected argument '%s'", v);
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
