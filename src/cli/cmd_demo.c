/* itracr demo: the main job on an embedded default — parse, compile, verify and run a
 * classic program, then decompile an in-distribution program's weights with the shipped
 * meta-model (demo_inverse.c), so a newcomer sees both directions in one command. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "compiler/model.h"

static const char *usage =
    "usage: itracr demo [-o MODEL.safetensors [--force]] [--program PROG.rasp] [--meta META.safetensors]\n"
    "                   [--no-inverse]\n"
    "\n"
    "Compiles an embedded copy of Tracr's make_reverse (or PROG.rasp), checks the compiled\n"
    "transformer against the interpreter on every input up to max_seq_len, prints a few runs\n"
    "side by side and, with -o, writes the model (an existing model is replaced only with\n"
    "--force; any other file is never replaced). Then the inverse direction: an embedded\n"
    "program from the shipped meta-model's training distribution is compiled and its weights\n"
    "decompiled with models/meta-small.safetensors (found in the current directory or next\n"
    "to the binary; --meta names another), greedy and with the verified search, printing\n"
    "true vs predicted and the verdict. Without the meta-model that part says so and is skipped.\n";

static const char *demo_source =
    "# reverse: the input, reversed (Tracr's lib.make_reverse(rasp.tokens))\n"
    "vocab {\"a\", \"b\", \"c\", \"d\"}\n"
    "max_seq_len 5\n"
    "\n"
    "all_true_selector = Select(tokens, tokens, TRUE)\n"
    "length = SelectorWidth(all_true_selector)\n"
    "opp_idx = length - indices\n"
    "opp_idx_m1 = opp_idx - 1\n"
    "reverse_selector = Select(indices, opp_idx_m1, EQ)\n"
    "reverse = Aggregate(reverse_selector, tokens)\n";

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void print_seq(const Value *v, int n) {
    for (int i = 0; i < n; i++) {
        if (i) putchar(' ');
        cli_print_value(stdout, v[i]);
    }
}

int cmd_demo(int argc, char **argv) {
    const char *out_path = NULL, *prog_path = NULL, *meta = NULL;
    bool inverse = true;
    bool force = false;
    enum { O_OUT = 1, O_PROGRAM, O_FORCE, O_META, O_NO_INVERSE };
    static const CliOpt opts[] = {{NULL, 'o', true, O_OUT},
                                  {"program", 0, true, O_PROGRAM},
                                  {"force", 0, false, O_FORCE},
                                  {"meta", 0, true, O_META},
                                  {"no-inverse", 0, false, O_NO_INVERSE}};
    CliOpts ps;
    const char *arg;
    cli_opts_init(&ps, "demo", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &arg)) != CLI_END;) {
        switch (id) {
        case CLI_HELP: fputs(usage, stdout); return EXIT_OK;
        case CLI_ERR: return EXIT_USAGE;
        case O_OUT: out_path = arg; break;
        case O_PROGRAM: prog_path = arg; break;
        case O_FORCE: force = true; break;
        case O_META: meta = arg; break;
        case O_NO_INVERSE: inverse = false; break;
        default: return cli_usage_error("demo", "unexpected argument '%s'", arg);
        }
    }
    if (out_path) { /* the output guard (io/out_path.h); stdout carries the demo's text */
        const char *inputs[] = {prog_path, NULL};
        OutPathSpec os = {
            .what = "model", .inputs = inputs, .st_format = "itracr-model/1", .replace = force};
        if (!cli_output("demo", out_path, &os, &out_path)) return EXIT_BAD_INPUT;
    }
    RaspProgram p;
    char err[4096];
    if (prog_path) {
        if (!cli_load_program(prog_path, &p)) return EXIT_BAD_INPUT;
    } else if (rasp_parse("<demo:reverse.rasp>", demo_source, &p, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err); /* cannot happen unless the parser regresses */
        return EXIT_BAD_INPUT;
    }
    printf("== program ==\n%s\n", p.source ? p.source : "");

    CompileOptions opt;
    compile_options_default(&opt);
    CompiledModel *m = NULL;
    double t0 = now_us();
    int crc = compile_program(&p, &opt, &m, err, sizeof err);
    double t1 = now_us();
    if (crc != 0) {
        fprintf(stderr, "cannot compile:\n%s\n", err);
        rasp_program_free(&p);
        return EXIT_BAD_INPUT;
    }
    printf("== compiled in %.1f us ==\n", t1 - t0);
    model_print_info(stdout, m, false);
    for (int i = 0; i < m->n_warnings; i++) printf("warning: %s\n", m->warnings[i]);

    VerifyReport rep;
    int rc = EXIT_OK;
    int v = compile_verify(m, &p, 100000, 1, &rep, err, sizeof err);
    if (v < 0) {
        fprintf(stderr, "verify failed: %s\n", err);
        rc = EXIT_BAD_INPUT;
    } else {
        printf("\n== forward pass vs interpreter: %d inputs%s, %d mismatches ==\n", rep.n_inputs,
               rep.exhaustive ? " (every input up to max_seq_len)" : "", rep.n_mismatch);
        if (v > 0) {
            printf("first mismatch: %s\n", rep.first_mismatch);
            rc = EXIT_BAD_INPUT;
        }
    }

    /* A few inputs side by side: the first vocabulary tokens in rotating order. */
    int nv = m->vocab_size - 2, N = m->max_seq_len;
    Value *xs = calloc((size_t)N, sizeof(Value)), *ev = calloc((size_t)N, sizeof(Value)),
          *md = calloc((size_t)N, sizeof(Value));
    double *raw = calloc((size_t)N, sizeof(double));
    if (!xs || !ev || !md || !raw) abort();
    Value *toks = calloc((size_t)nv, sizeof(Value));
    if (!toks) abort();
    for (int id = 0, k = 0; id < m->vocab_size; id++)
        if (id != m->bos_id && id != m->pad_id) toks[k++] = m->tokens[id];
    for (int len = 1; len <= N && rc == EXIT_OK; len += (N > 3 ? 2 : 1)) {
        for (int i = 0; i < len; i++) xs[i] = toks[(i * 3 + len) % nv];
        if (rasp_interp(&p, xs, len, m->causal, ev, err, sizeof err) != 0 ||
            model_run(m, xs, len, false, md, raw, err, sizeof err) != 0) {
            printf("input of length %d: %s\n", len, err);
            continue;
        }
        printf("input: ");
        print_seq(xs, len);
        printf("\n  interpreter: ");
        print_seq(ev, len);
        printf("\n  transformer: ");
        if (m->output_numerical)
            for (int i = 0; i < len; i++) printf(i ? " %.4g" : "%.4g", raw[i]);
        else print_seq(md, len);
        putchar('\n');
    }
    free(xs);
    free(ev);
    free(md);
    free(raw);
    free(toks);
    if (out_path && rc == EXIT_OK) {
        if (model_save(m, out_path, err, sizeof err) != 0) {
            fprintf(stderr, "itracr demo: %s\n", err);
            rc = EXIT_BAD_INPUT;
        } else {
            printf("\nwrote %s\n", out_path);
        }
    }
    compiled_model_free(m);
    rasp_program_free(&p);
    if (rc == EXIT_OK && inverse) rc = demo_inverse(meta);
    return rc;
}
