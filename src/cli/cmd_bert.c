/* itracr bert train | eval: a BERT-shaped encoder trained from scratch on a RASP task's
 * input/output pairs (docs/bert.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bert/bert.h"
#include "cli/cli.h"
#include "io/out_path.h"

static const char *usage =
    "usage: itracr bert train --task TASK.rasp -o ENC.safetensors [--layers L] [--hidden D]\n"
    "                         [--heads H] [--intermediate I] [--steps S] [--batch B] [--lr R]\n"
    "                         [--seed S] [--max-inputs N] [--force] [--quiet]\n"
    "       itracr bert eval ENC.safetensors [--task TASK.rasp] [--max-inputs N] [--seed S]\n"
    "\n"
    "train: a post-LN BERT encoder (word + learned position embeddings, L layers of H-head\n"
    "self-attention with biases, LayerNorm, GELU MLP, a per-position classifier over the task's\n"
    "output values; causal when the program is) trained from scratch with AdamW on the task's\n"
    "input/output pairs from the RASP interpreter: every input of lengths 1..max_seq_len over\n"
    "its vocab when there are at most --max-inputs (default 20000) of them, else that many\n"
    "seeded random ones. Defaults: 2 layers, hidden 32, 4 heads, intermediate 4 x hidden,\n"
    "3000 steps of 32 sequences, lr 3e-3 (warmup, cosine to a tenth), weight decay 0.01, seed 1.\n"
    "Writes safetensors with HF BERT tensor names and the config, vocabulary and task source in\n"
    "the metadata \"itracr_bert\", then prints its accuracy on the task's inputs.\n"
    "\n"
    "eval: argmax per position against the task (the source stored in the file, or --task):\n"
    "accuracy per position index, over all positions, and over whole inputs.\n"
    "`itracr decompile ENC.safetensors --meta META --search K` reads such a file too.\n";

typedef struct TrainArgs {
    const char *task, *out;
    long layers, hidden, heads, inter, steps, batch, max_inputs;
    double lr;
    uint64_t seed;
    bool force, quiet;
} TrainArgs;

static void print_accuracy(const BertTask *t, const BertAccuracy *a) {
    printf("inputs: %d (%s)\n", t->n_inputs, t->exhaustive ? "all" : "a seeded sample");
    printf("per position:");
    for (int i = 0; i < 64 && i < t->T - 1; i++)
        if (a->pos_n[i])
            printf(" %d: %.2f%%", i, 100.0 * (double)a->pos_ok[i] / (double)a->pos_n[i]);
    printf("\n");
    printf("position accuracy: %.2f%% (%ld of %ld)\n",
           a->positions ? 100.0 * (double)a->positions_ok / (double)a->positions : 0.0,
           a->positions_ok, a->positions);
    printf("sequence accuracy: %.2f%% (%ld of %ld)\n",
           a->inputs ? 100.0 * (double)a->inputs_ok / (double)a->inputs : 0.0, a->inputs_ok,
           a->inputs);
}

static int parse_train(int argc, char **argv, TrainArgs *a) {
    enum {
        O_TASK = 1,
        O_OUT,
        O_L,
        O_D,
        O_H,
        O_I,
        O_STEPS,
        O_BATCH,
        O_LR,
        O_SEED,
        O_MAX,
        O_FORCE,
        O_QUIET
    };
    static const CliOpt opts[] = {
        {"task", 0, true, O_TASK},   {"output", 'o', true, O_OUT},   {"layers", 0, true, O_L},
        {"hidden", 0, true, O_D},    {"heads", 0, true, O_H},        {"intermediate", 0, true, O_I},
        {"steps", 0, true, O_STEPS}, {"batch", 0, true, O_BATCH},    {"lr", 0, true, O_LR},
        {"seed", 0, true, O_SEED},   {"max-inputs", 0, true, O_MAX}, {"force", 0, false, O_FORCE},
        {"quiet", 0, false, O_QUIET}};
    *a = (TrainArgs){.layers = 2,
                     .hidden = 32,
                     .heads = 4,
                     .steps = 3000,
                     .batch = 32,
                     .max_inputs = 20000,
                     .lr = 3e-3,
                     .seed = 1};
    CliOpts ps;
    const char *v;
    cli_opts_init(&ps, "bert", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        bool ok = true;
        switch (id) {
        case CLI_HELP: fputs(usage, stdout); return EXIT_OK;
        case CLI_ERR: return EXIT_USAGE;
        case O_TASK: a->task = v; break;
        case O_OUT: a->out = v; break;
        case O_L: ok = cli_parse_int("bert", "--layers", v, 1, 24, &a->layers); break;
        case O_D: ok = cli_parse_int("bert", "--hidden", v, 1, 4096, &a->hidden); break;
        case O_H: ok = cli_parse_int("bert", "--heads", v, 1, 4096, &a->heads); break;
        case O_I: ok = cli_parse_int("bert", "--intermediate", v, 1, 16384, &a->inter); break;
        case O_STEPS: ok = cli_parse_int("bert", "--steps", v, 0, 10000000, &a->steps); break;
        case O_BATCH: ok = cli_parse_int("bert", "--batch", v, 1, 65536, &a->batch); break;
        case O_MAX:
            ok = cli_parse_int("bert", "--max-inputs", v, 1, 10000000, &a->max_inputs);
            break;
        case O_LR: ok = cli_parse_real("bert", "--lr", v, 0, 10, CLI_OPEN_LO, &a->lr); break;
        case O_SEED: ok = cli_parse_u64("bert", "--seed", v, &a->seed); break;
        case O_FORCE: a->force = true; break;
        case O_QUIET: a->quiet = true; break;
        default: return cli_usage_error("bert", "unexpected argument '%s'", v);
        }
        if (!ok) return EXIT_USAGE;
    }
    if (!a->task) return cli_usage_error("bert", "train: missing --task TASK.rasp");
    if (!a->out) return cli_usage_error("bert", "train: missing -o ENC.safetensors");
    if (a->hidden % a->heads)
        return cli_usage_error("bert", "--hidden %ld is not a multiple of --heads %ld", a->hidden,
                               a->heads);
    if (!a->inter) a->inter = 4 * a->hidden;
    return -1;
}

static int bert_train_cmd(int argc, char **argv) {
    TrainArgs a;
    int rc = parse_train(argc, argv, &a);
    if (rc >= 0) return rc;
    const char *inputs[] = {a.task, NULL}, *target;
    OutPathSpec os = {
        .what = "BERT encoder", .inputs = inputs, .st_format = "pt", .replace = a.force};
    if (!cli_output("bert", a.out, &os, &target)) return EXIT_BAD_INPUT;
    char err[1024];
    BertTask t;
    BertModel m;
    bool have_m = false;
    rc = EXIT_BAD_INPUT;
    if (bert_task_load(a.task, a.max_inputs, a.seed, &t, err, sizeof err)) goto done;
    BertConfig cfg = {.vocab = t.voc.n_tokens,
                      .positions = t.T,
                      .hidden = (int)a.hidden,
                      .heads = (int)a.heads,
                      .layers = (int)a.layers,
                      .intermediate = (int)a.inter,
                      .classes = t.voc.n_outputs,
                      .ln_eps = 1e-12,
                      .causal = t.prog.causal};
    if (bert_alloc(&m, &cfg, err, sizeof err)) {
        bert_free(&m);
        goto done;
    }
    have_m = true;
    bert_set_vocab(&m, &t.voc);
    bert_init(&m, a.seed);
    BertTrainOptions o;
    bert_train_options_default(&o);
    o.steps = (int)a.steps, o.batch = (int)a.batch, o.lr = a.lr, o.seed = a.seed;
    o.verbose = !a.quiet;
    double loss = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (bert_train(&m, &t, &o, &loss, err, sizeof err)) goto done;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (bert_save(&m, target, err, sizeof err)) goto done;
    BertAccuracy acc;
    if (bert_accuracy(&m, &t, &acc, err, sizeof err)) goto done;
    printf("trained %s: %d layers, hidden %d, %d heads, intermediate %d, %zu parameters, %d "
           "steps, final loss %.4f, %.1f s\n",
           a.task, cfg.layers, cfg.hidden, cfg.heads, cfg.intermediate, m.n_params, o.steps, loss,
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    print_accuracy(&t, &acc);
    printf("wrote %s\n", a.out);
    rc = EXIT_OK;
done:
    if (rc) fprintf(stderr, "itracr bert: %s\n", err);
    if (have_m) bert_free(&m);
    bert_task_free(&t);
    return rc;
}

static int bert_eval_cmd(int argc, char **argv) {
    enum { O_TASK = 1, O_MAX, O_SEED };
    static const CliOpt opts[] = {
        {"task", 0, true, O_TASK}, {"max-inputs", 0, true, O_MAX}, {"seed", 0, true, O_SEED}};
    const char *path = NULL, *task = NULL, *v;
    long max_inputs = 20000;
    uint64_t seed = 1;
    CliOpts ps;
    cli_opts_init(&ps, "bert", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        bool ok = true;
        switch (id) {
        case CLI_HELP: fputs(usage, stdout); return EXIT_OK;
        case CLI_ERR: return EXIT_USAGE;
        case O_TASK: task = v; break;
        case O_MAX: ok = cli_parse_int("bert", "--max-inputs", v, 1, 10000000, &max_inputs); break;
        case O_SEED: ok = cli_parse_u64("bert", "--seed", v, &seed); break;
        default:
            if (path) return cli_usage_error("bert", "unexpected argument '%s'", v);
            path = v;
        }
        if (!ok) return EXIT_USAGE;
    }
    if (!path) return cli_usage_error("bert", "eval: missing ENC.safetensors");
    char err[1024];
    BertModel m;
    if (bert_load(path, &m, err, sizeof err)) {
        fprintf(stderr, "itracr bert: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    if (!task && !m.voc.source[0]) {
        bert_free(&m);
        fprintf(stderr, "itracr bert: %s: no task source in the file; pass --task\n", path);
        return EXIT_BAD_INPUT;
    }
    BertTask t;
    BertAccuracy acc;
    int rc = EXIT_BAD_INPUT;
    const char *label = task ? task : m.voc.task[0] ? m.voc.task : "<embedded task>";
    if (!bert_task_load_text(label, task ? NULL : m.voc.source, max_inputs, seed, &t, err,
                             sizeof err) &&
        !bert_accuracy(&m, &t, &acc, err, sizeof err)) {
        printf("encoder %s on task %s\n", path, label);
        print_accuracy(&t, &acc);
        rc = EXIT_OK;
    } else fprintf(stderr, "itracr bert: %s\n", err);
    bert_task_free(&t);
    bert_free(&m);
    return rc;
}

int cmd_bert(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "train") == 0) return cli_finish(bert_train_cmd(argc - 1, argv + 1));
    if (strcmp(argv[1], "eval") == 0) return cli_finish(bert_eval_cmd(argc - 1, argv + 1));
    return cli_usage_error("bert", "unknown action '%s' (train or eval)", argv[1]);
}
