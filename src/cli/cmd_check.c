/* itracr check: every reason a program cannot be compiled, before compiling it. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *usage =
    "usage: itracr check PROG.rasp [--vocab \"a,b,c\"] [--max-seq-len N]\n"
    "\n"
    "Runs Tracr's static validation and every check Tracr only trips over while compiling\n"
    "(value sets, unsupported nodes, composite selectors, functions that raise on their\n"
    "value set, programs that do not depend on tokens) and prints one line per problem.\n"
    "Exit status: 0 compilable, 1 problems found or bad program, 2 usage error.\n";

#define MAX_VOCAB 4096

int cmd_check(int argc, char **argv) {
    const char *path = NULL, *vocab_text = NULL, *v;
    long max_seq_len = 0;
    enum { O_VOCAB = 1, O_MSL };
    static const CliOpt opts[] = {{"vocab", 0, true, O_VOCAB}, {"max-seq-len", 0, true, O_MSL}};
    CliOpts ps;
    cli_opts_init(&ps, "check", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        switch (id) {
        case CLI_HELP: fputs(usage, stdout); return EXIT_OK;
        case CLI_ERR: return EXIT_USAGE;
        case O_VOCAB: vocab_text = v; break;
        case O_MSL:
            if (!cli_parse_int("check", "--max-seq-len", v, 1, RASP_MAX_SEQ_LEN, &max_seq_len)) return EXIT_USAGE;
            break;
        default:
            if (path) return cli_usage_error("check", "unexpected argument '%s'", v);
            path = v;
        }
    }
    if (!path) return cli_usage_error("check", "missing PROG.rasp");
    RaspProgram p;
    if (!cli_load_program(path, &p)) return EXIT_BAD_INPUT;
    Value *vocab = p.vocab;
    int n_vocab = p.n_vocab;
    Value *own_vocab = NULL;
    int rc = EXIT_OK;
    if (vocab_text) {
        own_vocab = malloc(sizeof(Value) * MAX_VOCAB);
        if (!own_vocab) abort();
        n_vocab = cli_parse_vocab(&p, vocab_text, own_vocab, MAX_VOCAB);
        vocab = own_vocab;
    }
    if (!max_seq_len) max_seq_len = p.max_seq_len;
    if (n_vocab <= 0 || !max_seq_len) {
        fprintf(stderr, "%s: %s\n", path,
                n_vocab <= 0 ? "no vocabulary (add a `vocab {...}` line or pass --vocab)"
                             : "no max_seq_len (add a `max_seq_len N` line or pass --max-seq-len)");
        rc = EXIT_BAD_INPUT;
    } else {
        RaspReport r;
        rasp_report_init(&r);
        rasp_validate_compilable(&p, vocab, n_vocab, (int)max_seq_len, &r);
        for (int i = 0; i < r.n; i++) printf("%s: %s\n", path, r.items[i].msg);
        if (r.n) {
            printf("%s: %d problem%s; Tracr would refuse to compile this program\n", path, r.n,
                   r.n == 1 ? "" : "s");
            rc = EXIT_BAD_INPUT;
        } else {
            printf("%s: ok\n", path);
        }
        rasp_report_free(&r);
    }
    free(own_vocab);
    rasp_program_free(&p);
    return rc;
}
