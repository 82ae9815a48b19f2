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
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "-o") == 0) {
            if (!has_val) return cli_usage_error("compile", "-o needs a path");
            out_path = argv[++i];
        } else if (strcmp(a, "--vocab") == 0) {
            if (!has_val) return cli_usage_error("compile", "--vocab needs a value");
            vocab_text = argv[++i];
        } else if (strcmp(a, "--max-seq-len") == 0) {
            if (!has_val) return cli_usage_error("compile", "--max-seq-len needs a value");
            if (!cli_parse_int("compile", a, argv[++i], 1, RASP_MAX_SEQ_LEN, &max_seq_len)) return EXIT_USAGE;
        } else if (strcmp(a, "--mlp-exactness") == 0) {
            if (!has_val) return cli_usage_error("compile", "--mlp-exactness needs a value");
            if (!cli_parse_int("compile", a, argv[++i], 1, 1000000, &exactness)) return EXIT_USAGE;
        } else if (strcmp(a, "--verify") == 0) {
            if (!has_val) return cli_usage_error("compile", "--verify needs a count");
            if (!cli_parse_int("compile", a, argv[++i], 0, 100000000, &verify)) return EXIT_USAGE;
        } else if (strcmp(a, "--seed") == 0) {
            if (!has_val) return cli_usage_error("compile", "--seed needs a value");
            if (!cli_parse_int("compile", a, argv[++i], 0, 0x7fffffffL, &seed)) return EXIT_USAGE;
        } else if (strcmp(a, "--causal") == 0) {
            causal = true;
        } else if (strcmp(a, "--exact") == 0) {
            exact = true;
        } else if (strcmp(a, "--force") == 0) {
            force = true;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("compile", "unknown option '%s'", a);
        } else if (!path) {
            path = a;
        } else {
            return cli_usage_error("compile", "unexpected argument '%s'", a);
        }
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
