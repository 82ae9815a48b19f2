/* itracr compile: RASP program -> Tracr-identical transformer weights (safetensors). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "compiler/model.h"
#include "io/out_path.h"

static const char *usage =
    "usage: itracr compile PROG.rasp -o MODEL.safetensors [options]\n"
    "\n"
    "Compiles PROG.rasp into the transformer Tracr would build and writes it as safetensors\n"
    "(Haiku tensor names plus unembed/w; config, tokens, residual labels, output decoding and\n"
    "the program text in the metadata).\n"
    "  -o PATH             output file (written atomically; '-': standard output). An\n"
    "                      existing model is replaced only with --force; any other file\n"
    "                      (the source, a dataset shard, a device) is never replaced\n"
    "  --force             replace an existing model file at -o\n"
    "  --vocab \"a,b,c\"     vocabulary (overrides the program's `vocab`)\n"
    "  --max-seq-len N     longest input (overrides `max_seq_len`; 1 to 4096)\n"
    "  --causal            causal attention mask (Tracr's causal=True)\n"
    "  --mlp-exactness L   discretising MLP sharpness (Tracr's default 100)\n"
    "  --exact             fix what Tracr gets silently wrong (docs/compiler.md)\n"
    "  --verify N          compare the compiled forward pass with the interpreter on N random\n"
    "                      inputs (all inputs when there are fewer); exit 1 on a mismatch\n"
    "  --seed S            seed for --verify inputs (default 1)\n"
    "Warnings about Tracr's silent failures go to stderr.\n";

#define MAX_VOCAB 4096

int cmd_compile(int argc, char **argv) {
    const char *path = NULL, *out_path = NULL, *vocab_text = NULL;
    long max_seq_len = 0, exactness = 0, verify = -1, seed = 1;
    bool causal = false, exact = false, force = false;
    enum { O_OUT = 1, O_VOCAB, O_MSL, O_EXACTNESS, O_VERIFY, O_SEED, O_CAUSAL, O_EXACT, O_FORCE };
    static const CliOpt opts[] = {{NULL, 'o', true, O_OUT},           {"vocab", 0, true, O_VOCAB},
                                  {"max-seq-len", 0, true, O_MSL},     {"mlp-exactness", 0, true, O_EXACTNESS},
                                  {"verify", 0, true, O_VERIFY},       {"seed", 0, true, O_SEED},
                                  {"causal", 0, false, O_CAUSAL},      {"exact", 0, false, O_EXACT},
                                  {"force", 0, false, O_FORCE}};
    CliOpts ps;
    const char *arg;
    cli_opts_init(&ps, "compile", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &arg)) != CLI_END;) {
        bool ok = true;
        switch (id) {
        case CLI_HELP: fputs(usage, stdout); return EXIT_OK;
        case CLI_ERR: return EXIT_USAGE;
        case O_OUT: out_path = arg; break;
        case O_VOCAB: vocab_text = arg; break;
        case O_MSL: ok = cli_parse_int("compile", "--max-seq-len", arg, 1, RASP_MAX_SEQ_LEN, &max_seq_len); break;
        case O_EXACTNESS: ok = cli_parse_int("compile", "--mlp-exactness", arg, 1, 1000000, &exactness); break;
        case O_VERIFY: ok = cli_parse_int("compile", "--verify", arg, 0, 100000000, &verify); break;
        case O_SEED: ok = cli_parse_int("compile", "--seed", arg, 0, 0x7fffffffL, &seed); break;
        case O_CAUSAL: causal = true; break;
        case O_EXACT: exact = true; break;
        case O_FORCE: force = true; break;
        default:
            if (path) return cli_usage_error("compile", "unexpected argument '%s'", arg);
            path = arg;
        }
        if (!ok) return EXIT_USAGE;
    }
    if (!path) return cli_usage_error("compile", "missing PROG.rasp");
    if (!out_path && verify < 0) return cli_usage_error("compile", "missing -o MODEL.safetensors");

    char *target = NULL; /* -o after the output guard; NULL: standard output */
    if (out_path) {
        const char *inputs[] = {path, NULL};
        OutPathSpec os = {.what = "model", .inputs = inputs, .st_format = "itracr-model/1",
                          .replace = force, .allow_stdout = true};
        char oerr[1024];
        if (out_path_prepare(out_path, &os, &target, oerr, sizeof oerr) != 0) {
            fprintf(stderr, "itracr compile: %s\n", oerr);
            return EXIT_BAD_INPUT;
        }
    }
    RaspProgram p;
    if (!cli_load_program(path, &p)) {
        free(target);
        return EXIT_BAD_INPUT;
    }
    CompileOptions opt;
    compile_options_default(&opt);
    Value *vocab = NULL;
    if (vocab_text) {
        vocab = malloc(sizeof(Value) * MAX_VOCAB);
        if (!vocab) abort();
        opt.n_vocab = cli_parse_vocab(&p, vocab_text, vocab, MAX_VOCAB);
        if (opt.n_vocab <= 0) {
            free(vocab);
            free(target);
            rasp_program_free(&p);
            return cli_usage_error("compile", "--vocab needs at least one token");
        }
        opt.vocab = vocab;
    }
    opt.max_seq_len = (int)max_seq_len;
    opt.causal = causal ? 1 : -1;
    opt.mlp_exactness = (int)exactness;
    opt.exact = exact;

    int rc = EXIT_OK;
    char err[4096];
    FILE *info = out_path && !target ? stderr : stdout; /* stdout may carry the model */
    CompiledModel *m = NULL;
    if (compile_program(&p, &opt, &m, err, sizeof err) != 0) {
        fprintf(stderr, "%s: cannot compile:\n%s\n", path, err);
        rc = EXIT_BAD_INPUT;
        goto done;
    }
    for (int i = 0; i < m->n_warnings; i++) fprintf(stderr, "%s: warning: %s\n", path, m->warnings[i]);
    if (verify >= 0) {
        VerifyReport rep;
        int v = compile_verify(m, &p, (int)verify, (unsigned long long)seed, &rep, err, sizeof err);
        if (v < 0) {
            fprintf(stderr, "%s: verify failed: %s\n", path, err);
            rc = EXIT_BAD_INPUT;
        } else {
            fprintf(info, "verify: %d input%s%s, %d mismatch%s, %d skipped (interpreter error), %d None position%s\n",
                   rep.n_inputs, rep.n_inputs == 1 ? "" : "s", rep.exhaustive ? " (all)" : "",
                   rep.n_mismatch, rep.n_mismatch == 1 ? "" : "es", rep.n_skipped, rep.n_none,
                   rep.n_none == 1 ? "" : "s");
            if (rep.n_none > 0) /* Tracr's models have no None: say where the output is meaningless */
                fprintf(stderr,
                        "%s: warning: verify: RASP gives None at %d position%s (in %d input%s), where the model "
                        "outputs a value instead; e.g. %s\n",
                        path, rep.n_none, rep.n_none == 1 ? "" : "s", rep.n_none_inputs,
                        rep.n_none_inputs == 1 ? "" : "s", rep.first_none);
            if (v > 0) {
                fprintf(info, "first mismatch: %s\n", rep.first_mismatch);
                rc = EXIT_BAD_INPUT;
            }
        }
    }
    if (out_path) {
        unsigned char *bytes = NULL;
        size_t nbytes = 0;
        if (model_serialize(m, &bytes, &nbytes, err, sizeof err) != 0 ||
            out_write(target, bytes, nbytes, err, sizeof err) != 0) {
            free(bytes);
            fprintf(stderr, "itracr compile: %s\n", err);
            rc = EXIT_BAD_INPUT;
        } else {
            free(bytes);
            fprintf(info, "%s: %d layers, %d heads, key_size %d, mlp %d, residual %d -> %s\n", path,
                   m->num_layers, m->num_heads, m->key_size, m->mlp_hidden_size, m->residual_dim,
                   out_path);
        }
    }
done:
    free(target);
    compiled_model_free(m);
    free(vocab);
    rasp_program_free(&p);
    return rc;
}
