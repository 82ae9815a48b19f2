/* itracr forward: run a compiled model file on one input. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "compiler/model.h"

static const char *usage =
    "usage: itracr forward MODEL.safetensors --input \"a b c\" [--json] [--f64]\n"
    "\n"
    "Runs the compiled transformer (float32 like Tracr/JAX; --f64 in double precision) on the\n"
    "input (BOS is added) and prints the decoded output at each real position: the value of\n"
    "the argmax column for categorical outputs, the raw float for numerical ones.\n"
    "Tokens are matched against the model's vocabulary by their printed form.\n"
    "  --trace FILE.json       also write the residual stream after the embeddings and after\n"
    "                          every attention and MLP sublayer (labelled by the residual\n"
    "                          directions), each head's attention pattern and the logits\n"
    "  --trace-html FILE.html  the same as one self-contained HTML page of heat maps\n"
    "                          ('-' for either: standard output, instead of the decoded line)\n";

/* Token id whose printed form is text, or -1. */
static int find_token(const CompiledModel *m, const char *text) {
    char buf[256];
    for (int id = 0; id < m->vocab_size; id++) {
        if (id == m->bos_id || id == m->pad_id) continue;
        val_str_fmt(m->tokens[id], buf, sizeof buf);
        if (strcmp(buf, text) == 0) return id;
    }
    return -1;
}

int cmd_forward(int argc, char **argv) {
    const char *path = NULL, *input = NULL, *trace_json = NULL, *trace_html = NULL;
    bool json = false, f64 = false;
    enum { O_INPUT = 1, O_JSON, O_F64, O_TRACE, O_TRACE_HTML };
    static const CliOpt opts[] = {{"input", 0, true, O_INPUT},
                                  {"json", 0, false, O_JSON},
                                  {"f64", 0, false, O_F64},
                                  {"trace", 0, true, O_TRACE},
                                  {"trace-html", 0, true, O_TRACE_HTML}};
    CliOpts ps;
    const char *arg;
    cli_opts_init(&ps, "forward", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &arg)) != CLI_END;) {
        switch (id) {
        case CLI_HELP: fputs(usage, stdout); return EXIT_OK;
        case CLI_ERR: return EXIT_USAGE;
        case O_INPUT: input = arg; break;
        case O_JSON: json = true; break;
        case O_F64: f64 = true; break;
        case O_TRACE: trace_json = arg; break;
        case O_TRACE_HTML: trace_html = arg; break;
        default:
            if (path) return cli_usage_error("forward", "unexpected argument '%s'", arg);
            path = arg;
        }
    }
    if (!path) return cli_usage_error("forward", "missing MODEL.safetensors");
    if (!input) return cli_usage_error("forward", "missing --input");

    char err[1024];
    const char *inputs[] = {path, NULL}, *tj = NULL, *th = NULL; /* trace targets; NULL: stdout */
    OutPathSpec js = {.what = "trace", .inputs = inputs, .text_prefix = "{", .allow_stdout = true},
                hs = {.what = "trace page",
                      .inputs = inputs,
                      .text_prefix = "<!DOCTYPE html>",
                      .allow_stdout = true};
    if ((trace_json && !cli_output("forward", trace_json, &js, &tj)) ||
        (trace_html && !cli_output("forward", trace_html, &hs, &th)))
        return EXIT_BAD_INPUT;
    bool trace_to_stdout = (trace_json && !tj) || (trace_html && !th);
    CompiledModel *m = NULL;
    if (model_load(path, &m, err, sizeof err) != 0) {
        fprintf(stderr, "itracr forward: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    int cap = m->max_seq_len;
    Value *xs = calloc((size_t)cap + 1, sizeof(Value));    /* [n] */
    Value *dec = calloc((size_t)cap + 1, sizeof(Value));   /* [n] */
    double *raw = calloc((size_t)cap + 1, sizeof(double)); /* [n] */
    if (!xs || !dec || !raw) abort();
    int n = 0, rc = EXIT_OK;
    char *copy = strdup(input), *save = NULL;
    if (!copy) abort();
    for (char *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (n == cap) {
            fprintf(stderr, "itracr forward: input longer than max_seq_len %d\n", cap);
            rc = EXIT_BAD_INPUT;
            break;
        }
        int id = find_token(m, tok);
        if (id < 0) {
            fprintf(stderr, "itracr forward: token '%s' is not in the model's vocabulary\n", tok);
            rc = EXIT_BAD_INPUT;
            break;
        }
        xs[n++] = m->tokens[id];
    }
    free(copy);
    if (rc == EXIT_OK && model_run(m, xs, n, f64, dec, raw, err, sizeof err) != 0) {
        fprintf(stderr, "itracr forward: %s\n", err);
        rc = EXIT_BAD_INPUT;
    }
    if (rc == EXIT_OK && (trace_json || trace_html))
        rc = cli_forward_trace(m, xs, n, tj, th, trace_json != NULL, trace_html != NULL);
    if (rc == EXIT_OK && !trace_to_stdout) {
        if (json) putchar('[');
        for (int i = 0; i < n; i++) {
            if (i) fputs(json ? ", " : " ", stdout);
            Value v = m->output_numerical ? val_float(raw[i]) : dec[i];
            if (json) cli_print_json_value(stdout, v);
            else cli_print_value(stdout, v);
        }
        puts(json ? "]" : "");
    }
    free(xs);
    free(dec);
    free(raw);
    compiled_model_free(m);
    return rc;
}
