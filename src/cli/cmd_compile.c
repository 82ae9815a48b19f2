/* itracr compile: RASP program -> Tracr-identical transformer weights (safetensors). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "compiler/model.h"
#include "io/json_util.h"
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
    "  --json              print one JSON object instead of the summary lines: program,\n"
    "                      output (the -o path or null), ok, error (or null), config (the\n"
    "                      model file's config keys), warnings, verify (null, or inputs,\n"
    "                      exhaustive, mismatches, skipped, none_positions, none_inputs,\n"
    "                      first_mismatch, first_none); on stderr when -o is '-'\n"
    "Warnings about Tracr's silent failures go to stderr.\n";

#define MAX_VOCAB 4096

/* stderr, except with --json -o -: the JSON object is then all that goes there (it holds
 * the warnings and the error), so that it parses. */
static bool g_quiet;
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...) {
    if (g_quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* The first error of a --json run (later ones are on stderr). */
static void json_error(cJSON *jo, const char *msg) {
    if (jo && !cJSON_GetObjectItemCaseSensitive(jo, "error"))
        cJSON_AddStringToObject(jo, "error", msg);
}

/* What the command line asks for. */
typedef struct CompileArgs {
    const char *path, *out_path, *vocab_text;
    long max_seq_len, exactness, verify, seed;
    bool causal, exact, force, json;
} CompileArgs;

/* The command line into a. Returns -1 to go on, else the exit status. */
static int compile_args(int argc, char **argv, CompileArgs *a) {
    *a = (CompileArgs){.verify = -1, .seed = 1};
    enum {
        O_OUT = 1,
        O_VOCAB,
        O_MSL,
        O_EXACTNESS,
        O_VERIFY,
        O_SEED,
        O_CAUSAL,
        O_EXACT,
        O_FORCE,
        O_JSON
    };
    static const CliOpt opts[] = {
        {NULL, 'o', true, O_OUT},        {"vocab", 0, true, O_VOCAB},
        {"max-seq-len", 0, true, O_MSL}, {"mlp-exactness", 0, true, O_EXACTNESS},
        {"verify", 0, true, O_VERIFY},   {"seed", 0, true, O_SEED},
        {"causal", 0, false, O_CAUSAL},  {"exact", 0, false, O_EXACT},
        {"force", 0, false, O_FORCE},    {"json", 0, false, O_JSON}};
    CliOpts ps;
    const char *arg;
    cli_opts_init(&ps, "compile", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &arg)) != CLI_END;) {
        bool ok = true;
        switch (id) {
        case CLI_HELP: fputs(usage, stdout); return EXIT_OK;
        case CLI_ERR: return EXIT_USAGE;
        case O_OUT: a->out_path = arg; break;
        case O_VOCAB: a->vocab_text = arg; break;
        case O_MSL:
            ok = cli_parse_int("compile", "--max-seq-len", arg, 1, RASP_MAX_SEQ_LEN,
                               &a->max_seq_len);
            break;
        case O_EXACTNESS:
            ok = cli_parse_int("compile", "--mlp-exactness", arg, 1, 1000000, &a->exactness);
            break;
        case O_VERIFY:
            ok = cli_parse_int("compile", "--verify", arg, 0, 100000000, &a->verify);
            break;
        case O_SEED: ok = cli_parse_int("compile", "--seed", arg, 0, 0x7fffffffL, &a->seed); break;
        case O_CAUSAL: a->causal = true; break;
        case O_EXACT: a->exact = true; break;
        case O_FORCE: a->force = true; break;
        case O_JSON: a->json = true; break;
        default:
            if (a->path) return cli_usage_error("compile", "unexpected argument '%s'", arg);
            a->path = arg;
        }
        if (!ok) return EXIT_USAGE;
    }
    if (!a->path) return cli_usage_error("compile", "missing PROG.rasp");
    if (!a->out_path && a->verify < 0)
        return cli_usage_error("compile", "missing -o MODEL.safetensors");
    return -1;
}

/* --verify N: the forward pass against the interpreter. Prints the verify line (text) or
 * fills jo's "verify" (--json). Returns the exit status. */
static int verify_model(const CompiledModel *m, const RaspProgram *p, const CompileArgs *a,
                        FILE *info, cJSON *jo) {
    VerifyReport rep;
    char err[4096];
    int v =
        compile_verify(m, p, (int)a->verify, (unsigned long long)a->seed, &rep, err, sizeof err);
    if (v < 0) {
        say("%s: verify failed: %s\n", a->path, err);
        json_error(jo, err);
        return EXIT_BAD_INPUT;
    }
    if (jo) {
        cJSON *vj = cJSON_AddObjectToObject(jo, "verify");
        cJSON_AddNumberToObject(vj, "inputs", rep.n_inputs);
        cJSON_AddBoolToObject(vj, "exhaustive", rep.exhaustive);
        cJSON_AddNumberToObject(vj, "mismatches", rep.n_mismatch);
        cJSON_AddNumberToObject(vj, "skipped", rep.n_skipped);
        cJSON_AddNumberToObject(vj, "none_positions", rep.n_none);
        cJSON_AddNumberToObject(vj, "none_inputs", rep.n_none_inputs);
        cJSON_AddStringToObject(vj, "first_mismatch", rep.first_mismatch);
        cJSON_AddStringToObject(vj, "first_none", rep.first_none);
    } else {
        fprintf(
            info,
            "verify: %d input%s%s, %d mismatch%s, %d skipped (interpreter error), %d None position%s\n",
            rep.n_inputs, rep.n_inputs == 1 ? "" : "s", rep.exhaustive ? " (all)" : "",
            rep.n_mismatch, rep.n_mismatch == 1 ? "" : "es", rep.n_skipped, rep.n_none,
            rep.n_none == 1 ? "" : "s");
    }
    if (rep.n_none > 0) /* Tracr's models have no None: say where the output is meaningless */
        say("%s: warning: verify: RASP gives None at %d position%s (in %d input%s), where the model "
            "outputs a value instead; e.g. %s\n",
            a->path, rep.n_none, rep.n_none == 1 ? "" : "s", rep.n_none_inputs,
            rep.n_none_inputs == 1 ? "" : "s", rep.first_none);
    if (!jo && v > 0) fprintf(info, "first mismatch: %s\n", rep.first_mismatch);
    return v > 0 ? EXIT_BAD_INPUT : EXIT_OK;
}

/* -o: the model file. Returns the exit status. */
static int write_model(const CompiledModel *m, const CompileArgs *a, const char *target, FILE *info,
                       cJSON *jo) {
    unsigned char *bytes = NULL;
    size_t nbytes = 0;
    char err[4096];
    int bad = model_serialize(m, &bytes, &nbytes, err, sizeof err) != 0 ||
              out_write(target, bytes, nbytes, err, sizeof err) != 0;
    free(bytes);
    if (bad) {
        say("itracr compile: %s\n", err);
        json_error(jo, err);
        return EXIT_BAD_INPUT;
    }
    if (!jo)
        fprintf(info, "%s: %d layers, %d heads, key_size %d, mlp %d, residual %d -> %s\n", a->path,
                m->num_layers, m->num_heads, m->key_size, m->mlp_hidden_size, m->residual_dim,
                a->out_path);
    return EXIT_OK;
}

/* The compile options of the command line (*vocab: the --vocab tokens, the caller frees).
 * Returns 0, or EXIT_USAGE after printing why. */
static int compile_opts(const CompileArgs *a, const RaspProgram *p, CompileOptions *opt,
                        Value **vocab) {
    compile_options_default(opt);
    *vocab = NULL;
    if (a->vocab_text) {
        *vocab = malloc(sizeof(Value) * MAX_VOCAB);
        if (!*vocab) abort();
        opt->n_vocab = cli_parse_vocab(p, a->vocab_text, *vocab, MAX_VOCAB);
        if (opt->n_vocab <= 0)
            return cli_usage_error("compile", "--vocab needs at least one token");
        opt->vocab = *vocab;
    }
    opt->max_seq_len = (int)a->max_seq_len;
    opt->causal = a->causal ? 1 : -1;
    opt->mlp_exactness = (int)a->exactness;
    opt->exact = a->exact;
    return 0;
}

/* Compiles, verifies and writes; jo (--json) gets the results. Returns the exit status. */
static int compile_run(const CompileArgs *a, const RaspProgram *p, const char *target, FILE *info,
                       cJSON *jo) {
    CompileOptions opt;
    Value *vocab = NULL;
    int rc = compile_opts(a, p, &opt, &vocab);
    CompiledModel *m = NULL;
    char err[4096];
    if (rc) {
        /* a usage error: printed */
    } else if (compile_program(p, &opt, &m, err, sizeof err) != 0) {
        say("%s: cannot compile:\n%s\n", a->path, err);
        json_error(jo, err);
        rc = EXIT_BAD_INPUT;
    } else {
        for (int i = 0; i < m->n_warnings; i++) say("%s: warning: %s\n", a->path, m->warnings[i]);
        if (jo) {
            cJSON_AddItemToObject(jo, "config", model_config_json(m));
            cJSON_AddItemToObject(jo, "warnings",
                                  cJSON_CreateStringArray(m->warnings, m->n_warnings));
        }
        if (a->verify >= 0) rc = verify_model(m, p, a, info, jo);
        if (a->out_path) {
            int wrc = write_model(m, a, target, info, jo);
            if (wrc) rc = wrc;
        }
    }
    compiled_model_free(m);
    free(vocab);
    return rc;
}

int cmd_compile(int argc, char **argv) {
    CompileArgs a;
    int rc = compile_args(argc, argv, &a);
    if (rc >= 0) return rc;
    char *target = NULL; /* -o after the output guard; NULL: standard output */
    if (a.out_path) {
        const char *inputs[] = {a.path, NULL};
        OutPathSpec os = {.what = "model",
                          .inputs = inputs,
                          .st_format = "itracr-model/1",
                          .replace = a.force,
                          .allow_stdout = true};
        char oerr[1024];
        if (out_path_prepare(a.out_path, &os, &target, oerr, sizeof oerr) != 0) {
            say("itracr compile: %s\n", oerr);
            return EXIT_BAD_INPUT;
        }
    }
    FILE *info = a.out_path && !target ? stderr : stdout; /* stdout may carry the model */
    g_quiet = a.json && info == stderr;
    cJSON *jo = a.json ? cJSON_CreateObject() : NULL;
    if (jo) {
        cJSON_AddStringToObject(jo, "program", a.path);
        if (a.out_path) cJSON_AddStringToObject(jo, "output", a.out_path);
        else cJSON_AddNullToObject(jo, "output");
    }
    RaspProgram p;
    char perr[1024];
    if (rasp_parse_file(a.path, &p, perr, sizeof perr) != 0) { /* file:line:col */
        say("%s\n", perr);
        json_error(jo, perr);
        rc = EXIT_BAD_INPUT;
    } else {
        rc = compile_run(&a, &p, target, info, jo);
        rasp_program_free(&p);
    }
    if (jo) {
        cJSON_AddBoolToObject(jo, "ok", rc == EXIT_OK);
        if (!cJSON_GetObjectItemCaseSensitive(jo, "error")) cJSON_AddNullToObject(jo, "error");
        if (!cJSON_GetObjectItemCaseSensitive(jo, "verify")) cJSON_AddNullToObject(jo, "verify");
        char *text = rc != EXIT_USAGE ? cJSON_Print(jo) : NULL;
        if (text) fprintf(info, "%s\n", text);
        free(text);
        cJSON_Delete(jo);
    }
    free(target);
    return rc;
}
