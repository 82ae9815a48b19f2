/* itracr fmt: print a program in canonical form, as a Tracr script or as program tokens. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "gen/lambda_lib.h"
#include "gen/program_tokens.h"

static const char *usage =
    "usage: itracr fmt PROG.rasp [--tracr | --tokens]\n"
    "\n"
    "Prints PROG.rasp in canonical form: the settings, one explicit call per expression\n"
    "(operator sugar expanded, fused Maps shown as one lambda), then `output`. Parsing the\n"
    "result gives the same program.\n"
    "--tracr prints it instead as a Python script for Tracr's own rasp module, ending with\n"
    "compile_rasp_to_model on the file's vocab and max_seq_len, so the program can be checked\n"
    "in Tracr itself (`python3 prog.py a b c` compiles it and runs the model on a b c).\n"
    "--tokens prints its program tokens, the meta-model's target (docs/program-tokens.md):\n"
    "one `op enc fn a1 a2 out` line per row in canonical order, then one line of values per\n"
    "table; or, exit 1, `no token form: REASON` (e.g. a float table value).\n";

enum { O_TRACR = 1, O_TOKENS };

/* The program's token table on stdout, or why it has none on stderr. */
static int print_tokens(const char *path, const RaspProgram *p) {
    char err[512];
    int16_t t[PT_ROWS * PT_COLS];
    if (gen_lib_init(err, sizeof err) != 0 || pt_encode(p, t, err, sizeof err) != 0) {
        fprintf(stderr, "itracr fmt: %s: no token form: %s\n", path, err);
        return EXIT_BAD_INPUT;
    }
    char *s = pt_format_table(t);
    fputs(s, stdout);
    free(s);
    return EXIT_OK;
}

int cmd_fmt(int argc, char **argv) {
    const CliOpt opts[] = {{"tracr", 0, false, O_TRACR}, {"tokens", 0, false, O_TOKENS}};
    CliOpts ps;
    const char *v, *path = NULL;
    int mode = 0;
    cli_opts_init(&ps, "fmt", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        if (id == CLI_HELP) {
            fputs(usage, stdout);
            return EXIT_OK;
        }
        if (id == CLI_ERR) return EXIT_USAGE;
        if (id == O_TRACR || id == O_TOKENS) {
            if (mode && mode != id) return cli_usage_error("fmt", "--tracr and --tokens exclude each other");
            mode = id;
        } else if (!path) {
            path = v;
        } else {
            return cli_usage_error("fmt", "unexpected argument '%s'", v);
        }
    }
    if (!path) return cli_usage_error("fmt", "missing PROG.rasp");
    RaspProgram p;
    if (!cli_load_program(path, &p)) return EXIT_BAD_INPUT;
    int rc = EXIT_OK;
    if (mode == O_TOKENS) {
        rc = print_tokens(path, &p);
    } else {
        char *text = mode == O_TRACR ? rasp_format_tracr(&p) : rasp_format(&p);
        fputs(text, stdout);
        free(text);
    }
    rasp_program_free(&p);
    return rc;
}
