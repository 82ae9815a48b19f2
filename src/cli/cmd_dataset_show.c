/* itracr dataset show DIR --index I: one sample of a generated dataset as `itracr eval` sees it
 * -- its true program, its setting, and the model its weight tokens were read from, written
 * out so that every other command (decompile, lift, forward, info) can read it. A dataset
 * holds weight tokens, not model files; the model is rebuilt the way eval rebuilds it
 * (eval_given_model: compiled in the sample's setting, transformed again with the sample's
 * seed on a `gen --transform` dataset, and checked against the stored tokens bit for bit). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "dataset/accept.h"
#include "dataset/ds_manifest.h"
#include "eval/eval_run.h"
#include "io/json_util.h"
#include "meta/meta.h"

static const char *usage =
    "usage: itracr dataset show DIR --index I [--split S] [-o MODEL.safetensors] [--force]\n"
    "                           [--json]\n"
    "\n"
    "Prints sample I (0-based, in load order: the numbering of `itracr eval`'s samples) of\n"
    "DIR's split S (default test): its setting (vocabulary, max_seq_len, causal), its\n"
    "generator seed, its weight-token count, the transform of a `gen --transform` dataset,\n"
    "and its true program in RASP text. With -o, also writes the model the sample's weight\n"
    "tokens were read from (the program compiled in its setting; on a transformed dataset\n"
    "that model transformed again with the sample's seed and checked against the stored\n"
    "tokens) as a compiled model, e.g. for `itracr decompile` or `itracr forward`. An\n"
    "existing model file is replaced only with --force.\n"
    "  --json   one JSON object: dir, split, index, samples, seed (null when the shards do\n"
    "           not say it), setting {vocab, max_seq_len, causal}, transform, weight_tokens,\n"
    "           program, model (the -o path or null)\n"
    "Exit 1 when DIR is not a dataset, I is out of range, or the model cannot be rebuilt.\n";

enum { O_INDEX = 1, O_SPLIT, O_OUT, O_FORCE, O_JSON };
static const CliOpt show_opts[] = {{"index", 0, true, O_INDEX},
                                   {"split", 0, true, O_SPLIT},
                                   {"out", 'o', true, O_OUT},
                                   {"force", 0, false, O_FORCE},
                                   {"json", 0, false, O_JSON}};

typedef struct ShowArgs {
    const char *dir, *split, *out;
    long index;
    bool force, json;
} ShowArgs;

/* Returns -1 to go on, else the exit status. */
static int show_args(int argc, char **argv, ShowArgs *a) {
    memset(a, 0, sizeof *a);
    a->split = "test";
    a->index = -1;
    CliOpts p;
    cli_opts_init(&p, "dataset show", argc, argv, show_opts, CLI_NOPTS(show_opts));
    const char *v;
    for (int id; (id = cli_opts_next(&p, &v)) != CLI_END;) {
        switch (id) {
        case CLI_HELP: fputs(usage, stdout); return EXIT_OK;
        case CLI_ERR: return EXIT_USAGE;
        case CLI_POS:
            if (a->dir) return cli_usage_error("dataset show", "unexpected operand '%s'", v);
            a->dir = v;
            break;
        case O_INDEX:
            if (!cli_parse_int("dataset show", "--index", v, 0, 2147483647L, &a->index))
                return EXIT_USAGE;
            break;
        case O_SPLIT: a->split = v; break;
        case O_OUT: a->out = v; break;
        case O_FORCE: a->force = true; break;
        case O_JSON: a->json = true; break;
        }
    }
    if (!a->dir) return cli_usage_error("dataset show", "missing DIR");
    if (a->index < 0) return cli_usage_error("dataset show", "missing --index I");
    return -1;
}

/* What one sample is made of, loaded by show_load and freed by show_free. */
typedef struct ShowState {
    DsGenerator ds;
    TrainData d;
    GenSetting store;
    EvalSetting st;
    EvalTruth tc;
    CompiledModel *tm; /* the transformed model of a `gen --transform` sample, else NULL */
    const CompiledModel *given;
} ShowState;

static void show_free(ShowState *s) {
    compiled_model_free(s->tm);
    eval_truth_free(&s->tc);
    train_data_free(&s->d);
    ds_generator_free(&s->ds);
}

/* Loads the split, the sample's setting, its true program and its given model. Returns 0, or
 * 1 after printing why. */
static int show_load(const ShowArgs *a, ShowState *s) {
    char err[1024];
    if (ds_manifest_generator(a->dir, &s->ds, err, sizeof err) != 0 ||
        train_data_load_split(&s->d, a->dir, a->split, 0, err, sizeof err) != 0) {
        fprintf(stderr, "itracr dataset show: %s\n", err);
        return 1;
    }
    int i = (int)a->index;
    if (a->index >= s->d.n) {
        fprintf(stderr, "itracr dataset show: %s: the %s split has %d samples (index 0..%d)\n",
                a->dir, a->split, s->d.n, s->d.n - 1);
        return 1;
    }
    if (s->ds.settings && s->d.setting_rows != s->d.n) {
        fprintf(stderr, "itracr dataset show: %s: the manifest says the settings are drawn per "
                        "sample, but the shards of the %s split do not store them\n",
                a->dir, a->split);
        return 1;
    }
    if (eval_setting_of(s->ds.settings ? s->d.setting : NULL, i, s->ds.vocab, s->ds.n_vocab,
                        s->ds.max_seq_len, &s->store, &s->st) != 0) {
        fprintf(stderr, "itracr dataset show: sample %d: its setting does not read\n", i);
        return 1;
    }
    const int16_t *truth = s->d.prog + (size_t)i * PT_ROWS * PT_COLS;
    if (eval_truth_compile(&s->tc, truth, &s->st, err, sizeof err) < 0) {
        fprintf(stderr, "itracr dataset show: sample %d: its program does not compile: %s\n", i,
                err);
        return 1;
    }
    EvalRunOptions o;
    eval_run_options_default(&o);
    o.transform = s->ds.transform;
    o.compress_steps = s->ds.compress_steps;
    o.sample_seed = s->d.seed_rows == s->d.n ? s->d.sample_seed : NULL;
    wt_options_default(&o.wt);
    if (s->d.have_wt) o.wt = s->d.wt;
    int P = (int)(s->d.off[i + 1] - s->d.off[i]);
    const float *payload = s->d.payload + (size_t)s->d.off[i] * WT_WIDTH;
    const int16_t *ids = s->d.ids + (size_t)s->d.off[i] * WT_N_IDS;
    if (eval_given_model(&s->tc, truth, &s->st, &o, i, payload, ids, P, &s->tm, err,
                         sizeof err) != 0) {
        fprintf(stderr, "itracr dataset show: sample %d: %s\n", i, err);
        return 1;
    }
    s->given = s->tm ? s->tm : s->tc.cm;
    return 0;
}

static int write_model(const ShowArgs *a, const CompiledModel *m) {
    const char *inputs[] = {a->dir, NULL};
    OutPathSpec os = {.what = "model",
                      .inputs = inputs,
                      .st_format = "itracr-model/1",
                      .replace = a->force,
                      .allow_stdout = false};
    char err[1024];
    char *target = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    int bad = out_path_prepare(a->out, &os, &target, err, sizeof err) != 0 ||
              model_serialize(m, &buf, &len, err, sizeof err) != 0 ||
              out_write(target, buf, len, err, sizeof err) != 0;
    if (bad) fprintf(stderr, "itracr dataset show: %s\n", err);
    free(buf);
    free(target);
    return bad;
}

static void print_text(const ShowArgs *a, const ShowState *s, const char *prog) {
    int i = (int)a->index;
    printf("sample %d of %s (%s split, %d samples)\n", i, a->dir, a->split, s->d.n);
    if (s->d.seed_rows == s->d.n) printf("seed: %llu\n", (unsigned long long)s->d.sample_seed[i]);
    printf("setting: vocab {");
    for (int k = 0; k < s->st.n_vocab; k++) {
        if (k) fputs(", ", stdout);
        cli_print_value(stdout, s->st.vocab[k]);
    }
    printf("}, max_seq_len %d, %s\n", s->st.max_seq_len, s->st.causal ? "causal" : "non-causal");
    printf("transform: %s\n", acc_transform_name(s->ds.transform));
    printf("weight tokens: %lld\n", (long long)(s->d.off[i + 1] - s->d.off[i]));
    printf("program:\n%s", prog);
    if (a->out) printf("model: %s\n", a->out);
}

/* s as a JSON string literal (cJSON does the escaping). */
static void put_json_string(const char *s) {
    cJSON *j = cJSON_CreateString(s);
    char *t = j ? cJSON_PrintUnformatted(j) : NULL;
    fputs(t ? t : "null", stdout);
    free(t);
    cJSON_Delete(j);
}

static void print_json(const ShowArgs *a, const ShowState *s, const char *prog) {
    int i = (int)a->index;
    printf("{\"dir\": ");
    put_json_string(a->dir);
    printf(", \"split\": ");
    put_json_string(a->split);
    printf(", \"index\": %d, \"samples\": %d, \"seed\": ", i, s->d.n);
    if (s->d.seed_rows == s->d.n) printf("%llu", (unsigned long long)s->d.sample_seed[i]);
    else printf("null");
    printf(", \"setting\": {\"vocab\": [");
    for (int k = 0; k < s->st.n_vocab; k++) {
        if (k) fputs(", ", stdout);
        cli_print_json_value(stdout, s->st.vocab[k]);
    }
    printf("], \"max_seq_len\": %d, \"causal\": %s}, \"transform\": \"%s\", \"weight_tokens\": "
           "%lld, \"program\": ",
           s->st.max_seq_len, s->st.causal ? "true" : "false",
           acc_transform_name(s->ds.transform), (long long)(s->d.off[i + 1] - s->d.off[i]));
    put_json_string(prog);
    printf(", \"model\": ");
    if (a->out) put_json_string(a->out);
    else printf("null");
    printf("}\n");
}

int dataset_show(int argc, char **argv) {
    ShowArgs a;
    int rc = show_args(argc, argv, &a);
    if (rc >= 0) return rc;
    ShowState s;
    memset(&s, 0, sizeof s);
    train_data_init(&s.d);
    eval_truth_init(&s.tc);
    rc = EXIT_BAD_INPUT;
    if (show_load(&a, &s) == 0 && (!a.out || write_model(&a, s.given) == 0)) {
        char *prog = rasp_format(&s.tc.prog);
        if (prog) {
            if (a.json) print_json(&a, &s, prog);
            else print_text(&a, &s, prog);
            rc = EXIT_OK;
        }
        free(prog);
    }
    show_free(&s);
    return cli_finish(rc);
}
