/* Shared pieces of the itracr command line: subcommand entry points, exit codes and the
 * small argument helpers every subcommand uses. */
#ifndef ITRACR_CLI_CLI_H
#define ITRACR_CLI_CLI_H
#include <stdbool.h>
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
int cmd_train(int argc, char **argv);
int cmd_decompile(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_lift(int argc, char **argv);

/* True when argv[i] is -h or --help. */
bool cli_is_help(const char *arg);
/* Prints "itracr CMD: msg" to stderr and returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses a positive int option value; returns false (after printing) if malformed. */
bool cli_parse_int(const char *cmd, const char *opt, const char *text, long lo, long hi, long *out);

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
int cli_forward_trace(const struct CompiledModel *m, const Value *xs, int n, const char *json_target,
                      const char *html_target, bool json_out, bool html_out);

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
