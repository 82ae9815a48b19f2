/* itracr lift: exact decompilation of a Tracr-compiled model from its weights alone. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "compiler/model.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "lift/lift.h"

static const char *usage =
    "usage: itracr lift MODEL.safetensors [-o PROGRAM.rasp] [--json] [--tables] [--no-verify]\n"
    "           [--inputs N]\n"
    "\n"
    "Reads the RASP program back from a Tracr-shaped model's weights alone (no residual labels,\n"
    "no meta-model): the SOps and their layers, every MLP as a table over its input values\n"
    "(numerical MLPs as their regions), every head's Select predicate as a table over (key,\n"
    "query) values, aggregates and selector widths. Functions print by name when a library\n"
    "lambda or a small grammar of arithmetic/comparison expressions agrees on the whole domain,\n"
    "else as a table lambda {value: result, ...}[x]. Intermediate values that the weights do\n"
    "not identify are canonical (docs/lift.md). The program is then recompiled and checked:\n"
    "same canonical model hash and the same outputs on every input up to max_seq_len (or N\n"
    "seeded inputs when there are more). A model whose residual stream was rotated, heads and\n"
    "hidden units permuted or rescaled (itracr transform) is read in the basis its weights are\n"
    "Tracr-sparse in (canonicalised) and proved on its own outputs. A model that is not\n"
    "Tracr-shaped (trained, noisy, compressed) is refused with the first block that does not fit.\n"
    "\n"
    "  -o FILE      write the program there (default: stdout)\n"
    "  --json       print the verdict and counts as JSON (with the program text)\n"
    "  --tables     print every function as a table (no naming)\n"
    "  --no-verify  skip the recompilation proof\n"
    "  --inputs N   forward-pass comparison budget (default 256; every input when there are no more)\n"
    "\n"
    "Exit status: 0 lifted and verified, 1 refused, not verified or bad input, 2 usage.\n";

/* A JSON string through the project's one escaper (io/json_util.h: cJSON's, with invalid
 * UTF-8 replaced, so that a refusal naming an odd file still prints as valid JSON). */
static void json_str(FILE *f, const char *s) {
    StrBuf b;
    sb_init(&b);
    json_write_string(&b, s, strlen(s));
    fputs(b.s, f);
    sb_free(&b);
}

int cmd_lift(int argc, char **argv) {
    const char *path = NULL, *out = NULL;
    bool json = false;
    LiftOptions o;
    lift_options_default(&o);
    enum { O_OUT = 1, O_JSON, O_TABLES, O_NO_VERIFY, O_INPUTS };
    static const CliOpt opts[] = {{NULL, 'o', true, O_OUT},
                                  {"json", 0, false, O_JSON},
                                  {"tables", 0, false, O_TABLES},
                                  {"no-verify", 0, false, O_NO_VERIFY},
                                  {"inputs", 0, true, O_INPUTS}};
    CliOpts ps;
    const char *v;
    long inputs;
    cli_opts_init(&ps, "lift", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        switch (id) {
        case CLI_HELP: fputs(usage, stdout); return EXIT_OK;
        case CLI_ERR: return EXIT_USAGE;
        case O_OUT: out = v; break;
        case O_JSON: json = true; break;
        case O_TABLES: o.name_functions = false; break;
        case O_NO_VERIFY: o.verify = false; break;
        case O_INPUTS:
            if (!cli_parse_int("lift", "--inputs", v, 1, 10000000, &inputs)) return EXIT_USAGE;
            o.max_inputs = (int)inputs;
            break;
        default:
            if (path) return cli_usage_error("lift", "unexpected argument '%s'", v);
            path = v;
        }
    }
    if (!path) return cli_usage_error("lift", "missing MODEL.safetensors");
    char err[1024];
    CompiledModel *m = NULL;
    if (model_load(path, &m, err, sizeof err) != 0) {
        fprintf(stderr, "itracr lift: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    LiftResult r;
    int rc = EXIT_OK;
    if (lift_model(m, &o, &r, err, sizeof err) != 0) {
        if (json) {
            printf("{\"lifted\": false, \"refusal\": ");
            json_str(stdout, err);
            printf("}\n");
        }
        fprintf(stderr, "itracr lift: refused: %s\n", err);
        compiled_model_free(m);
        return EXIT_BAD_INPUT;
    }
    if (out) {
        if (atomic_write(out, r.program, strlen(r.program), err, sizeof err) != 0) {
            fprintf(stderr, "itracr lift: %s\n", err);
            rc = EXIT_BAD_INPUT;
        }
    }
    if (json) {
        printf(
            "{\"lifted\": true, \"verified\": %s, \"weights_equal\": %s, \"hash_equal\": %s, \"inputs\": %d, \"exhaustive\": %s, "
            "\"output_diffs\": %d, \"sops\": %d, \"functions\": %d, \"named\": %d, \"canonicalised\": %s, \"verdict\": ",
            r.verified ? "true" : "false", r.weights_equal ? "true" : "false",
            r.hash_equal ? "true" : "false", r.n_inputs, r.exhaustive ? "true" : "false",
            r.n_output_diffs, r.n_sops, r.n_functions, r.n_named, r.canonical ? "true" : "false");
        json_str(stdout, r.verdict);
        printf(", \"program\": ");
        json_str(stdout, r.program);
        printf("}\n");
    } else {
        if (!out) fputs(r.program, stdout);
        fprintf(out ? stdout : stderr, "lift: %d SOps, %d/%d functions named; %s\n", r.n_sops,
                r.n_named, r.n_functions, r.verdict);
    }
    if (o.verify && !r.verified) rc = EXIT_BAD_INPUT;
    lift_result_free(&r);
    compiled_model_free(m);
    return rc;
}
