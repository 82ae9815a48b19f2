/* itracr check: every reason a program cannot be compiled, before compiling it. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "io/json_util.h"

static const char *usage =
    "usage: itracr check PROG.rasp [--vocab \"a,b,c\"] [--max-seq-len N] [--json]\n"
    "\n"
    "Runs Tracr's static validation and every check Tracr only trips over while compiling\n"
    "(value sets, unsupported nodes, composite selectors, functions that raise on their\n"
    "value set, programs that do not depend on tokens) and prints one line per problem.\n"
    "  --json   print one JSON object instead: program (the path), ok, problems (a list of\n"
    "           {expr, message}; expr is the statement's index, -1 for the whole program),\n"
    "           error (why nothing was checked, or null), vocab_size, max_seq_len\n"
    "Exit status: 0 compilable, 1 problems found or bad program, 2 usage error.\n";

#define MAX_VOCAB 4096

/* --json: the verdict as one object (the usage text lists the fields). */
static void print_json(const char *path, const RaspReport *r, const char *error, int n_vocab,
                       long max_seq_len) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "program", path);
    cJSON_AddBoolToObject(o, "ok", !error && r->n == 0);
    cJSON *pr = cJSON_AddArrayToObject(o, "problems");
    for (int i = 0; i < r->n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "expr", r->items[i].expr);
        cJSON_AddStringToObject(e, "message", r->items[i].msg);
        cJSON_AddItemToArray(pr, e);
    }
    if (error) cJSON_AddStringToObject(o, "error", error);
    else cJSON_AddNullToObject(o, "error");
    cJSON_AddNumberToObject(o, "vocab_size", n_vocab > 0 ? n_vocab : 0);
    cJSON_AddNumberToObject(o, "max_seq_len", (double)max_seq_len);
    char *text = cJSON_Print(o);
    if (text) printf("%s\n", text);
    free(text);
    cJSON_Delete(o);
}

int cmd_check(int argc, char **argv) {
    const char *path = NULL, *vocab_text = NULL, *v;
    long max_seq_len = 0;
    enum { O_VOCAB = 1, O_MSL, O_JSON };
    static const CliOpt opts[] = {
        {"vocab", 0, true, O_VOCAB}, {"max-seq-len", 0, true, O_MSL}, {"json", 0, false, O_JSON}};
    bool json = false;
    CliOpts ps;
    cli_opts_init(&ps, "check", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        switch (id) {
        case CLI_HELP: fputs(usage, stdout); return EXIT_OK;
        case CLI_ERR: return EXIT_USAGE;
        case O_VOCAB: vocab_text = v; break;
        case O_JSON: json = true; break;
        case O_MSL:
            if (!cli_parse_int("check", "--max-seq-len", v, 1, RASP_MAX_SEQ_LEN, &max_seq_len))
                return EXIT_USAGE;
            break;
        default:
            if (path) return cli_usage_error("check", "unexpected argument '%s'", v);
            path = v;
        }
    }
    if (!path) return cli_usage_error("check", "missing PROG.rasp");
    RaspProgram p;
    char perr[1024];
    if (rasp_parse_file(path, &p, perr, sizeof perr) != 0) { /* file:line:col */
        fprintf(stderr, "%s\n", perr);
        if (json) {
            RaspReport none;
            rasp_report_init(&none);
            print_json(path, &none, perr, 0, 0);
        }
        return EXIT_BAD_INPUT;
    }
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
    RaspReport r;
    rasp_report_init(&r);
    if (n_vocab <= 0 || !max_seq_len) {
        const char *why = n_vocab <= 0
                              ? "no vocabulary (add a `vocab {...}` line or pass --vocab)"
                              : "no max_seq_len (add a `max_seq_len N` line or pass --max-seq-len)";
        fprintf(stderr, "%s: %s\n", path, why);
        if (json) print_json(path, &r, why, n_vocab, max_seq_len);
        rc = EXIT_BAD_INPUT;
    } else {
        rasp_validate_compilable(&p, vocab, n_vocab, (int)max_seq_len, &r);
        if (json) print_json(path, &r, NULL, n_vocab, max_seq_len);
        for (int i = 0; !json && i < r.n; i++) printf("%s: %s\n", path, r.items[i].msg);
        if (r.n && !json)
            printf("%s: %d problem%s; Tracr would refuse to compile this program\n", path, r.n,
                   r.n == 1 ? "" : "s");
        else if (!json) printf("%s: ok\n", path);
        rc = r.n ? EXIT_BAD_INPUT : EXIT_OK;
    }
    rasp_report_free(&r);
    free(own_vocab);
    rasp_program_free(&p);
    return rc;
}
