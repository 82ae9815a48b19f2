/* itracr import: a model compiled by Tracr itself (Haiku parameters + encoder JSON) into an
 * itracr model file. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "compiler/model.h"
#include "compiler/model_import.h"

static const char *usage =
    "usage: itracr import WEIGHTS.npz|WEIGHTS.safetensors --meta ENCODING.json -o MODEL.safetensors\n"
    "\n"
    "Converts a model compiled by Tracr (its assembled parameters under Haiku's names, as numpy's\n"
    ".npz or safetensors) and a JSON with its input encoding and output decoding into an itracr\n"
    "model file that forward, info, lift and decompile accept. docs/import.md shows the Python\n"
    "lines that write both files from a Tracr model. The residual directions get neutral labels\n"
    "(r0, r1, ...): Tracr's labels are not part of its parameters.\n"
    "\n"
    "  --meta FILE   the encoding JSON (default: WEIGHTS with its extension replaced by .json)\n"
    "  -o FILE       where to write the model (required)\n";

int cmd_import(int argc, char **argv) {
    const char *wpath = NULL, *meta = NULL, *out = NULL;
    enum { O_META = 1, O_OUT };
    static const CliOpt opts[] = {{"meta", 0, true, O_META}, {NULL, 'o', true, O_OUT}};
    CliOpts ps;
    const char *v;
    cli_opts_init(&ps, "import", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        if (id == CLI_HELP) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (id == CLI_ERR) {
            return EXIT_USAGE;
        } else if (id == O_META) {
            meta = v;
        } else if (id == O_OUT) {
            out = v;
        } else if (!wpath) {
            wpath = v;
        } else {
            return cli_usage_error("import", "unexpected argument '%s'", v);
        }
    }
    if (!wpath) return cli_usage_error("import", "missing WEIGHTS file");
    if (!out) return cli_usage_error("import", "missing -o MODEL.safetensors");
    char *dflt = NULL;
    if (!meta) {
        size_t n = strlen(wpath);
        const char *dot = strrchr(wpath, '.'), *slash = strrchr(wpath, '/');
        if (dot && (!slash || dot > slash)) n = (size_t)(dot - wpath);
        dflt = malloc(n + 6);
        if (!dflt) abort();
        memcpy(dflt, wpath, n);
        strcpy(dflt + n, ".json");
        meta = dflt;
    }
    char err[1024];
    CompiledModel *m = NULL;
    int rc = EXIT_OK;
    if (model_import_files(wpath, meta, &m, err, sizeof err) != 0 ||
        model_save(m, out, err, sizeof err) != 0) {
        fprintf(stderr, "itracr import: %s\n", err);
        rc = EXIT_BAD_INPUT;
    } else {
        printf(
            "imported %s: %d layers, %d heads x %d, mlp %d, residual %d, vocab %d, max_seq_len %d, %s output -> %s\n",
            wpath, m->num_layers, m->num_heads, m->key_size, m->mlp_hidden_size, m->residual_dim,
            m->vocab_size - 2, m->max_seq_len, m->output_numerical ? "numerical" : "categorical",
            out);
    }
    compiled_model_free(m);
    free(dflt);
    return rc;
}
