/* itracr report: the training curves of a training log as a standalone SVG. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "eval/report.h"
#include "io/atomic_file.h"
#include "io/out_path.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: itracr report --log train.jsonl -o curves.svg\n"
            "\n"
            "Draws the training curves (loss, validation token accuracy and exact match,\n"
            "learning rate) of a training log as one standalone SVG file.\n"
            "\n"
            "  --log FILE   JSON lines: {\"step\":..,\"loss\":..,\"lr\":..,\"val_token_acc\":..,\n"
            "               \"val_exact\":..}; fields other than step may be missing.\n"
            "               Malformed lines are skipped with a warning.\n"
            "  -o FILE      the SVG to write ('-': standard output)\n");
}

int cmd_report(int argc, char **argv) {
    const char *log_path = NULL, *out = NULL;
    enum { O_LOG = 1, O_OUT };
    static const CliOpt opts[] = {{"log", 0, true, O_LOG}, {"output", 'o', true, O_OUT}};
    CliOpts ps;
    const char *v;
    cli_opts_init(&ps, "report", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        if (id == CLI_HELP) {
            help(stdout);
            return EXIT_OK;
        } else if (id == CLI_ERR) {
            return EXIT_USAGE;
        } else if (id == O_LOG) {
            log_path = v;
        } else if (id == O_OUT) {
            out = v;
        } else {
            return cli_usage_error("report", "unexpected argument '%s'", v);
        }
    }
    if (!log_path) return cli_usage_error("report", "--log is required");
    if (!out) return cli_usage_error("report", "-o is required");
    char err[1024];
    char *target = NULL; /* NULL: standard output */
    const char *inputs[] = {log_path, NULL};
    OutPathSpec os = {
        .what = "SVG", .inputs = inputs, .text_prefix = "<?xml", .allow_stdout = true};
    if (out_path_prepare(out, &os, &target, err, sizeof err) != 0) {
        fprintf(stderr, "itracr report: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    TrainLog log;
    if (train_log_load(log_path, &log, err, sizeof err)) {
        fprintf(stderr, "itracr report: %s\n", err);
        free(target);
        return EXIT_BAD_INPUT;
    }
    if (log.n_bad)
        fprintf(
            stderr,
            "itracr report: warning: %s: skipped %ld malformed line%s (the first is line %ld)\n",
            log_path, log.n_bad, log.n_bad == 1 ? "" : "s", log.first_bad_line);
    StrBuf b;
    sb_init(&b);
    sb_append(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    report_curves_svg(&b, &log, 0, 0, true);
    sb_append(&b, "\n");
    int rc = EXIT_OK;
    if (out_write(target, b.s, b.len, err, sizeof err)) {
        fprintf(stderr, "itracr report: %s\n", err);
        rc = EXIT_BAD_INPUT;
    } else if (target) {
        fprintf(stderr, "itracr report: wrote %s (%d records)\n", out, log.n);
    }
    free(target);
    sb_free(&b);
    train_log_free(&log);
    return rc;
}
