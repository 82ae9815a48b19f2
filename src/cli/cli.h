/* Shared pieces of the itracr command line: subcommand entry points, exit codes and the
 * small argument helpers every subcommand uses. */
#ifndef ITRACR_CLI_CLI_H
#define ITRACR_CLI_CLI_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "io/out_path.h"
#include "rasp/rasp.h"

/* Exit status (README, "Exit status"). */
enum { EXIT_OK = 0, EXIT_BAD_INPUT = 1, EXIT_USAGE = 2 };

typedef int (*CliMain)(int argc, char **argv);

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_fmt(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_transform(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
/* `dataset show` (cmd_dataset_show.c); argv[0] is "show". */
int dataset_show(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_decompile(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_lift(int argc, char **argv);
int cmd_bert(int argc, char **argv);

/* True when argv[i] is -h or --help. */
bool cli_is_help(const char *arg);
/* A file shipped with the checkout, by its path relative to the checkout (e.g.
 * "models/meta-small.safetensors"): ./rel, else next to the binary (build/release/itracr ->
 * the checkout's; bin/itracr -> share/itracr/). Returns a malloc'ed path or NULL. */
char *cli_find_shipped(const char *rel);
/* Prints "itracr CMD: msg (see itracr CMD --help)" to stderr and returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- Options (cli_opts.c) ---------------------------------------------------------------
 * Every subcommand declares its options as a table and reads them with cli_opts_next, one
 * getopt_long loop for all of them: "--name value" and "--name=value" (short: "-o value",
 * "-ovalue"), operands returned in place wherever they stand, "--" ends the options, -h and
 * --help added to every table. An unknown option (abbreviations included), a missing value
 * or a value given to a flag prints one message naming the command and the option. */
typedef struct CliOpt {
    const char *name; /* long name without "--" (NULL: short only) */
    char short_name;  /* 'o' for -o, or 0 */
    bool has_arg;     /* takes a value */
    int id;           /* what cli_opts_next returns for it; > 0 */
} CliOpt;

/* cli_opts_next's other results. */
enum { CLI_END = 0, CLI_POS = -1, CLI_ERR = -2, CLI_HELP = -3 };
#define CLI_MAX_OPTS 64

#include <getopt.h>
typedef struct CliOpts {
    const char *cmd;
    int argc, n;
    char **argv;
    const CliOpt *opts;
    struct option longs[CLI_MAX_OPTS + 2];
    char shorts[3 * CLI_MAX_OPTS + 4];
    bool done; /* "--" seen or getopt finished: the rest are operands */
} CliOpts;

/* argv[0] is the subcommand's name (as main passes it); opts[n] its table. */
void cli_opts_init(CliOpts *p, const char *cmd, int argc, char **argv, const CliOpt *opts, int n);
/* The next option's id with *val its value (NULL for a flag); CLI_POS with *val an operand;
 * CLI_HELP for -h/--help; CLI_ERR after printing the usage error (exit EXIT_USAGE); CLI_END. */
int cli_opts_next(CliOpts *p, const char **val);
#define CLI_NOPTS(t) ((int)(sizeof(t) / sizeof((t)[0])))

/* The whole command line of a command that takes one operand and one flag (fmt, info,
 * dataset stats): *operand is the operand ("missing WHAT" when absent), *flag_set whether
 * --FLAG was given. Returns -1 to go on, else the exit status (help printed, or a usage
 * error said). */
int cli_opts_operand_flag(const char *cmd, int argc, char **argv, const char *usage,
                          const char *flag, const char *what, const char **operand, bool *flag_set);

/* Checked numbers for option values: garbage, trailing text, overflow and values out of
 * range print "itracr CMD: bad OPT 'TEXT': expects ..." and return false (exit EXIT_USAGE). */
bool cli_parse_int(const char *cmd, const char *opt, const char *text, long lo, long hi, long *out);
/* 0 to 2^64-1 (seeds); no sign, 2^64 and above are errors. */
bool cli_parse_u64(const char *cmd, const char *opt, const char *text, uint64_t *out);
/* A finite number in [lo, hi]; CLI_OPEN_LO / CLI_OPEN_HI exclude an end. */
enum { CLI_OPEN_LO = 1, CLI_OPEN_HI = 2 };
bool cli_parse_real(const char *cmd, const char *opt, const char *text, double lo, double hi,
                    unsigned open, double *out);
/* "N" (a = b = N) or "A-B" with lo <= A <= B <= hi. */
bool cli_parse_range(const char *cmd, const char *opt, const char *text, long lo, long hi, long *a,
                     long *b);

/* Runs the output guard (io/out_path.h) on path. Returns false after printing "itracr CMD:
 * why"; else *target is the path to write (symlinks followed; valid until exit), or NULL
 * for standard output ('-', when spec allows it). */
bool cli_output(const char *cmd, const char *path, const OutPathSpec *spec, const char **target);

/* A command's exit status, made EXIT_BAD_INPUT (after saying so) when what it printed on
 * standard output could not all be written (a full disk, a closed pipe): no command exits
 * 0 with its output lost. */
int cli_finish(int rc);

/* forward --trace / --trace-html (cli/forward_trace.c): writes the trace of m on xs[n] as JSON
 * to json_target and/or as an HTML page to html_target (NULL target: standard output).
 * Returns an exit status. */
struct CompiledModel;
int cli_forward_trace(const struct CompiledModel *m, const Value *xs, int n,
                      const char *json_target, const char *html_target, bool json_out,
                      bool html_out);

/* Parses PATH into p; on failure prints the parser's file:line:col message and returns
 * false (p is then empty but initialised). */
bool cli_load_program(const char *path, RaspProgram *p);

/* Splits an --input string on spaces into values typed by the program's vocabulary.
 * Returns the count (<= cap) or -1 when there are more than cap tokens. */
int cli_split_input(const RaspProgram *p, const char *text, Value *out, int cap);
/* Parses a --vocab list "a,b,c" or "a b c" with rasp_parse_token rules. Returns count. */
int cli_parse_vocab(const RaspProgram *p, const char *text, Value *out, int cap);

/* Writes one value as JSON (null, true/false, numbers, strings, tuples as arrays). */
void cli_print_json_value(FILE *f, Value v);
/* Writes one value as Python's str would (None, True, 1.0, text). */
void cli_print_value(FILE *f, Value v);

/* demo_inverse.c: the inverse half of `itracr demo` (meta: NULL finds the shipped model). */
int demo_inverse(const char *meta);

#endif
