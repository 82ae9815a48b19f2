/* itracr decompile: a compiled model file -> weight tokens -> the meta-model's constrained
 * decode -> a RASP program. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "compiler/model.h"
#include "data/weight_tokens.h"
#include "eval/equiv.h"
#include "gen/program_tokens.h"
#include "io/atomic_file.h"
#include "meta/decode_table.h"
#include "meta/meta_checkpoint.h"
#include "meta/train.h"
#include "rasp/rasp.h"

static const char *usage =
    "usage: itracr decompile MODEL.safetensors --meta META.safetensors [--beam K] [--rows] [--check]\n"
    "                        [--scheme chunks|residual] [--norm asinh|none]\n"
    "\n"
    "Turns the compiled model into weight tokens, decodes a program with the meta-model (greedy,\n"
    "or beam search of width K; every output is a valid program) and prints it as .rasp text\n"
    "with the model's vocab and max_seq_len. --rows prints the program-token table instead.\n"
    "--check recompiles the prediction and compares it with MODEL on every input (10,000 seeded\n"
    "random ones when there are more than 100,000): exit 0 when equivalent, 1 otherwise.\n"
    "The weight-token options default to those recorded in META.safetensors.train.json.\n";

/* The weight-token options the meta-model was trained with (its .train.json), if any. */
static void read_train_wt(const char *meta, WtOptions *wt) {
    size_t n = strlen(meta) + 16;
    char *p = malloc(n);
    if (!p) return;
    snprintf(p, n, "%s.train.json", meta);
    unsigned char *data = NULL;
    size_t len = 0;
    char err[256];
    if (access(p, F_OK) == 0 && read_whole_file(p, &data, &len, err, sizeof err) == 0) {
        TrainConfig tc;
        train_config_default(&tc);
        if (train_config_from_json((const char *)data, &tc, err, sizeof err) == 0) *wt = tc.wt;
    }
    free(data);
    free(p);
}

int cmd_decompile(int argc, char **argv) {
    const char *model_path = NULL, *meta = NULL, *scheme = NULL, *norm = NULL;
    long beam = 1;
    bool rows = false, check = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--rows") == 0) rows = true;
        else if (strcmp(a, "--check") == 0) check = true;
        else if (strcmp(a, "--meta") == 0 || strcmp(a, "--beam") == 0 || strcmp(a, "--scheme") == 0 ||
                 strcmp(a, "--norm") == 0) {
            if (i + 1 >= argc) return cli_usage_error("decompile", "%s needs a value", a);
            const char *v = argv[++i];
            if (strcmp(a, "--meta") == 0) meta = v;
            else if (strcmp(a, "--scheme") == 0) scheme = v;
            else if (strcmp(a, "--norm") == 0) norm = v;
            else if (!cli_parse_int("decompile", a, v, 1, 64, &beam)) return EXIT_USAGE;
        } else if (a[0] == '-' && a[1]) return cli_usage_error("decompile", "unknown option '%s'", a);
        else if (!model_path) model_path = a;
        else return cli_usage_error("decompile", "unexpected argument '%s'", a);
    }
    if (!model_path) return cli_usage_error("decompile", "missing MODEL.safetensors");
    if (!meta) return cli_usage_error("decompile", "missing --meta META.safetensors");
    WtOptions wt;
    wt_options_default(&wt);
    read_train_wt(meta, &wt);
    if (scheme && wt_scheme_parse(scheme, &wt.scheme) != 0) return cli_usage_error("decompile", "unknown --scheme '%s'", scheme);
    if (norm && wt_norm_parse(norm, &wt.norm) != 0) return cli_usage_error("decompile", "unknown --norm '%s'", norm);

    char err[1024];
    int rc = EXIT_BAD_INPUT;
    CompiledModel *cm = NULL;
    MetaModel mm;
    int have_mm = 0;
    WtTokens toks;
    wt_tokens_init(&toks);
    RaspProgram prog;
    rasp_program_init(&prog);
    Value *vocab = NULL;
    if (model_load(model_path, &cm, err, sizeof err) != 0) {
        fprintf(stderr, "itracr decompile: %s\n", err);
        goto done;
    }
    if (wt_encode(cm, &wt, &toks, err, sizeof err) != 0) {
        fprintf(stderr, "itracr decompile: %s: %s\n", model_path, err);
        goto done;
    }
    if (meta_checkpoint_load(&mm, meta, (int)beam, err, sizeof err) != 0) {
        fprintf(stderr, "itracr decompile: %s\n", err);
        goto done;
    }
    have_mm = 1;
    vocab = malloc(sizeof(Value) * (size_t)(cm->vocab_size > 0 ? cm->vocab_size : 1));
    int nv = 0;
    for (int i = 0; vocab && i < cm->vocab_size; i++)
        if (i != cm->bos_id && i != cm->pad_id) vocab[nv++] = cm->tokens[i];
    /* decoding constrained to programs that validate on this model's vocabulary */
    PcContext on_model = {vocab, nv, cm->max_seq_len, 0};
    int16_t table[PT_ROWS * PT_COLS];
    if (meta_decode_table_for(&mm, toks.payload, toks.ids, toks.n, (int)beam, &on_model, table, err, sizeof err) != 0) {
        fprintf(stderr, "itracr decompile: %s: %s\n", model_path, err);
        goto done;
    }
    if (pt_decode(table, vocab, nv, cm->max_seq_len, &prog, err, sizeof err) != 0) {
        fprintf(stderr, "itracr decompile: the decoded table is not a program: %s\n", err);
        goto done;
    }
    prog.causal = cm->causal;
    if (rows) {
        char *s = pt_format_table(table);
        if (s) fputs(s, stdout);
        free(s);
    } else {
        char *s = rasp_format(&prog);
        if (s) fputs(s, stdout);
        free(s);
    }
    rc = EXIT_OK;
    if (check) {
        CompileOptions co;
        compile_options_default(&co);
        co.causal = cm->causal;
        co.exact = cm->exact;
        EquivOptions eo;
        equiv_options_default(&eo);
        EquivResult r;
        if (equiv_check_tokens(cm, NULL, NULL, table, &co, &eo, &r, err, sizeof err) != 0) {
            fprintf(stderr, "itracr decompile: check: %s\n", err);
            rc = EXIT_BAD_INPUT;
        } else {
            int eq = r.status == EVAL_FN_EQUIVALENT;
            if (r.status == EVAL_FN_EQUIVALENT || r.status == EVAL_FN_DIFFERENT)
                fprintf(stderr, "check: %s on %ld %s inputs%s%s\n", eq ? "equivalent" : "different", r.n_inputs,
                        r.exhaustive ? "(all)" : "random", r.detail[0] ? ": " : "", r.detail);
            else fprintf(stderr, "check: %s: %s\n", eval_func_name(r.status), r.detail);
            rc = eq ? EXIT_OK : EXIT_BAD_INPUT;
        }
    }
done:
    free(vocab);
    rasp_program_free(&prog);
    wt_tokens_free(&toks);
    if (have_mm) meta_model_free(&mm);
    if (cm) compiled_model_free(cm);
    return rc;
}
