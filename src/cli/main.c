/* itracr: entry point and subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/version.h"

typedef struct {
    const char *name;
    CliMain fn;
    const char *summary;
} Command;

static const Command commands[] = {
    {"demo", cmd_demo, "compile and run an embedded example program end to end"},
    {"run", cmd_run, "evaluate a .rasp program with the interpreter"},
    {"check", cmd_check, "report every reason a program cannot compile"},
    {"fmt", cmd_fmt, "print a program in canonical form"},
    {"compile", cmd_compile, "compile a program to transformer weights (safetensors)"},
    {"forward", cmd_forward, "run a compiled model on an input"},
    {"info", cmd_info, "describe a compiled model"},
    {"transform", cmd_transform,
     "rotate, permute, rescale or compress a model without changing its function"},
    {"report", cmd_report, "draw the training curves of a training log as SVG"},
    {"gen", cmd_gen, "generate a dataset of random programs and their compiled weights"},
    {"dataset", cmd_dataset, "statistics of a generated dataset"},
    {"train", cmd_train, "train the meta-model on a generated dataset"},
    {"decompile", cmd_decompile, "decode a compiled model back into a RASP program"},
    {"eval", cmd_eval,
     "evaluate the meta-model on held-out samples and classic programs (HTML report)"},
    {"lift", cmd_lift, "decompile a Tracr-compiled model exactly from its weights, with a proof"},
    {"bert", cmd_bert,
     "train a BERT-shaped encoder on a RASP task's input/output pairs, or evaluate one"},
    {"import", cmd_import,
     "import a model compiled by Tracr (.npz or safetensors + encoding JSON)"},
};

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: itracr COMMAND [ARGS]   (itracr COMMAND --help for details)\n"
        "       itracr --version\n\n"
        "Inverse Tracr: compiles RASP programs to Tracr's transformer weights, generates datasets\n"
        "of them, and trains and evaluates a meta-model that decompiles weights back to programs.\n"
        "\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("itracr %s\n", ITRACR_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return cli_finish(commands[i].fn(argc - 1, argv + 1));
    fprintf(stderr, "itracr: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
