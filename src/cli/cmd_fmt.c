/* itracr fmt: print a program in canonical form. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *usage =
    "usage: itracr fmt PROG.rasp [--tracr]\n"
    "\n"
    "Prints PROG.rasp in canonical form: the settings, one explicit call per expression\n"
    "(operator sugar expanded, fused Maps shown as one lambda), then `output`. Parsing the\n"
    "result gives the same program.\n"
    "--tracr prints it instead as a Python script for Tracr's own rasp module, ending with\n"
    "compile_rasp_to_model on the file's vocab and max_seq_len, so the program can be checked\n"
    "in Tracr itself (`python3 prog.py a b c` compiles it and runs the model on a b c).\n";

int cmd_fmt(int argc, char **argv) {
    const char *path;
    bool tracr;
    int rc = cli_opts_operand_flag("fmt", argc, argv, usage, "tracr", "PROG.rasp", &path, &tracr);
    if (rc >= 0) return rc;
    RaspProgram p;
    if (!cli_load_program(path, &p)) return EXIT_BAD_INPUT;
    char *text = tracr ? rasp_format_tracr(&p) : rasp_format(&p);
    fputs(text, stdout);
    free(text);
    rasp_program_free(&p);
    return EXIT_OK;
}
