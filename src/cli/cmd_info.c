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
    const char *path;
    bool json;
    int rc =
        cli_opts_operand_flag("info", argc, argv, usage, "json", "MODEL.safetensors", &path, &json);
    if (rc >= 0) return rc;
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
