/* itracr run: evaluate a program with the reference interpreter. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *usage =
    "usage: itracr run PROG.rasp --input \"a b c\" [--causal] [--json]\n"
    "\n"
    "Evaluates PROG.rasp on the input with Tracr's RASP semantics and prints the output\n"
    "sequence (None where RASP gives None). Tokens are separated by spaces and read with the\n"
    "vocabulary's type (an all-integer vocabulary makes \"3\" the integer 3).\n"
    "  --input TEXT  the input tokens (required)\n"
    "  --causal      causal evaluation (each position sees only itself and earlier ones);\n"
    "                the default is the program's `causal` directive\n"
    "  --json        print a JSON array (null for None)\n"
    "Like `forward` on the compiled model, every token must be in the program's vocabulary\n"
    "(when it has one), BOS is not an input token, and the input may not be longer than its\n"
    "max_seq_len (when it has one).\n"
    "Exit status: 0 ok, 1 bad program, bad input or evaluation error, 2 usage error.\n";

#define MAX_INPUT 4096

/* The input checks `forward` makes on a compiled model, so that the interpreter and the
 * model accept the same inputs. Returns 0, or non-zero after printing why. */
static int check_input(const RaspProgram *p, const char *text, const Value *xs, int n) {
    if (p->max_seq_len > 0 && n > p->max_seq_len) {
        fprintf(stderr, "itracr run: input of %d tokens is longer than max_seq_len %d\n", n,
                p->max_seq_len);
        return 1;
    }
    const char *s = text;
    for (int i = 0; i < n; i++) {
        s += strspn(s, " \t");
        int len = (int)strcspn(s, " \t");
        int match = -1;
        for (int k = 0; match < 0 && k < p->n_vocab; k++)
            if (val_eq(p->vocab[k], xs[i])) match = k;
        char shown[64];
        val_str_fmt(match >= 0 ? p->vocab[match] : xs[i], shown, sizeof shown);
        bool reread = strlen(shown) != (size_t)len || strncmp(shown, s, (size_t)len) != 0;
        if (p->has_vocab && match >= 0 && reread) {
            /* forward matches a token by its printed form, so it refuses "01" for 1: so does run,
             * rather than read it as another spelling */
            fprintf(stderr, "itracr run: token '%.*s' is not spelled as in the vocabulary (%s)\n",
                    len, s, shown);
            return 1;
        }
        if ((p->has_vocab && match < 0) ||
            (len == 3 && strncmp(s, "BOS", 3) == 0 && !p->has_vocab)) {
            fprintf(stderr, "itracr run: token '%.*s'%s%s%s is not in the program's vocabulary\n",
                    len, s, reread ? " (read as " : "", reread ? shown : "", reread ? ")" : "");
            return 1;
        }
        s += len;
    }
    return 0;
}

int cmd_run(int argc, char **argv) {
    const char *path = NULL, *input = NULL;
    bool causal = false, json = false;
    enum { O_INPUT = 1, O_CAUSAL, O_JSON };
    static const CliOpt opts[] = {
        {"input", 0, true, O_INPUT}, {"causal", 0, false, O_CAUSAL}, {"json", 0, false, O_JSON}};
    CliOpts ps;
    const char *v;
    cli_opts_init(&ps, "run", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        switch (id) {
        case CLI_HELP: fputs(usage, stdout); return EXIT_OK;
        case CLI_ERR: return EXIT_USAGE;
        case O_INPUT: input = v; break;
        case O_CAUSAL: causal = true; break;
        case O_JSON: json = true; break;
        default:
            if (path) return cli_usage_error("run", "unexpected argument '%s'", v);
            path = v;
        }
    }
    if (!path) return cli_usage_error("run", "missing PROG.rasp");
    if (!input) return cli_usage_error("run", "missing --input");

    RaspProgram p;
    if (!cli_load_program(path, &p)) return EXIT_BAD_INPUT;
    causal = causal || p.causal;
    Value *xs = malloc(sizeof(Value) * MAX_INPUT);  /* [n] */
    Value *out = malloc(sizeof(Value) * MAX_INPUT); /* [n] */
    if (!xs || !out) abort();
    int rc = EXIT_OK;
    int n = cli_split_input(&p, input, xs, MAX_INPUT);
    char err[1024];
    if (n < 0) {
        fprintf(stderr, "itracr run: input longer than %d tokens\n", MAX_INPUT);
        rc = EXIT_BAD_INPUT;
    } else if (check_input(&p, input, xs, n) != 0) {
        rc = EXIT_BAD_INPUT;
    } else if (rasp_interp(&p, xs, n, causal, out, err, sizeof err) != 0) {
        fprintf(stderr, "%s: evaluation failed: %s\n", path, err);
        rc = EXIT_BAD_INPUT;
    } else {
        if (json) putchar('[');
        for (int i = 0; i < n; i++) {
            if (i) fputs(json ? ", " : " ", stdout);
            if (json) cli_print_json_value(stdout, out[i]);
            else cli_print_value(stdout, out[i]);
        }
        puts(json ? "]" : "");
    }
    free(xs);
    free(out);
    rasp_program_free(&p);
    return rc;
}
