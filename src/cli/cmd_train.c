/* itracr train: train the meta-model on a generated dataset (meta/train.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "io/atomic_file.h"
#include "io/path_lock.h"
#include "meta/meta.h"
#include "util/strbuf.h"

static const char *usage =
    "usage: itracr train (--data DIR | --stream) -o META.safetensors [--config FILE.json] [--steps N]\n"
    "                    [--resume] [--init CKPT [--init-adam]] [--d-model C] [--layers L] [--heads H]\n"
    "                    [--batch B] [--lr LR] [--lr-min LR] [--warmup W] [--seed S] [--eval-every K]\n"
    "                    [--ckpt-every K] [--max-prefix P] [--log FILE] [--val-seed S]\n"
    "                    [--exclude DIR | --no-exclude] [--weight CLASS=W]... [--dedup-pool M]\n"
    "                    [--general P] [--stop-at N]\n"
    "\n"
    "Trains the meta-model on DIR's train split (validation metrics on DIR's val split, when\n"
    "present), or with --stream on fresh samples generated for every batch (default generator\n"
    "settings, the weight-token options of the config): the sample at position step*batch+b is\n"
    "a function of (--seed, position), only programs of the train split of `itracr gen`'s split\n"
    "rule are kept (so no test program of any generated dataset is trained on), the classic\n"
    "programs in --exclude (default examples/) are dropped, and a thread generates the next\n"
    "batch while a step runs. Validation then uses the val split of the stream of --val-seed.\n"
    "--weight CLASS=W (CLASS linseqmap, one_row, num_map or mono_map: a Map by add1, add2,\n"
    "sub1, sub2, mul2, neg, rsub4 or sq; W >= 1) makes programs of the class W times as likely\n"
    "relative to the others (by thinning the others).\n"
    "--dedup-pool M makes the stream follow the distribution of a de-duplicated dataset of about\n"
    "M seeds: a program drawn c > 1 times in a pool of M draws is kept with probability 1/c\n"
    "(`itracr gen -n 60000` tries ~144,000 seeds; 0, the default, is the raw sampler).\n"
    "--init CKPT starts from CKPT's parameters (its model config and weight-token options come\n"
    "from CKPT.train.json when present); --init-adam keeps its AdamW state as well. The\n"
    "schedule, data positions and step counts start at 0 either way. With --layers L above\n"
    "CKPT's layer count the model grows: CKPT's blocks spread evenly over the L, and each new\n"
    "block starts as identity (its output projections zero), so training continues from\n"
    "CKPT's function with the added depth.\n"
    "--general P draws each stream sample in the general setting of `itracr gen --setting\n"
    "general` (vocabularies of 2..10 ints, letters, words or mixed, lengths 2..10, causal models,\n"
    "table lambdas) with probability P, else in the default fixed setting; P > 0 also widens the\n"
    "output vocabulary of an --init model trained before tables (new rows; old logits kept).\n"
    "--stop-at N checkpoints and exits at step N without changing the schedule (whose length\n"
    "stays --steps), so a long schedule can be run in pieces.\n"
    "\n"
    "Files: -o is the checkpoint (parameters + AdamW state, written atomically every\n"
    "--ckpt-every steps and at the end); its training config goes to META.safetensors.train.json\n"
    "and the log (JSON lines: step, loss, lr, val_token_acc, val_exact) to --log (default\n"
    "META.safetensors.log.jsonl). --config is a JSON object with any of the keys of that config\n"
    "file; flags override it. --resume continues from -o with the saved config (only --steps may\n"
    "change; other settings, and a --data other than the one recorded, are refused) and the\n"
    "same batches, so the loss curve equals an uninterrupted run's. An existing checkpoint at\n"
    "-o is replaced only with --force (a fresh run) or continued with --resume.\n"
    "Progress (loss, tokens/s, ETA) is shown when stderr is a terminal.\n";

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long rss_mb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = -1;
    fclose(f);
    return res < 0 ? -1 : res * sysconf(_SC_PAGESIZE) / (1024 * 1024);
}

/* Keeps the log lines of steps <= step (what the checkpoint had seen), so a resumed log reads
 * like an uninterrupted one. */
static int truncate_log(const char *path, long step, char *err, size_t errcap) {
    unsigned char *data = NULL;
    size_t len = 0;
    if (access(path, F_OK) != 0) return 0;
    if (read_whole_file(path, &data, &len, err, errcap) != 0) return 1;
    char *out = malloc(len + 1);
    size_t n = 0;
    if (!out) {
        free(data);
        snprintf(err, errcap, "out of memory");
        return 1;
    }
    char *line = (char *)data;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (!nl) break; /* a torn last line (killed mid-write) is dropped */
        *nl = 0;
        cJSON *o = cJSON_Parse(line);
        const cJSON *s = o ? cJSON_GetObjectItemCaseSensitive(o, "step") : NULL;
        if (cJSON_IsNumber(s) && s->valuedouble <= (double)step) {
            size_t l = strlen(line);
            memcpy(out + n, line, l);
            out[n + l] = '\n';
            n += l + 1;
        }
        cJSON_Delete(o);
        line = nl + 1;
    }
    int rc = atomic_write(path, out, n, err, errcap);
    free(out);
    free(data);
    return rc;
}

typedef struct Flags {
    long d_model, layers, heads, batch, warmup, seed, eval_every, ckpt_every, max_prefix, steps,
        val_seed, dedup_pool;
    double lr, lr_min, general; /* general: -1 when not given */
    int stream, no_exclude;
    const char *exclude;
    double w[TS_CLASS_COUNT]; /* 0: not given */
} Flags;

static void apply_flags(const Flags *f, TrainConfig *c) {
    if (f->d_model >= 0) c->d_model = (int)f->d_model;
    if (f->layers >= 0) c->n_layer = (int)f->layers;
    if (f->heads >= 0) c->n_head = (int)f->heads;
    if (f->batch >= 0) c->batch = (int)f->batch;
    if (f->warmup >= 0) c->warmup = f->warmup;
    if (f->seed >= 0) c->seed = (uint64_t)f->seed;
    if (f->eval_every >= 0) c->eval_every = f->eval_every;
    if (f->ckpt_every >= 0) c->ckpt_every = f->ckpt_every;
    if (f->max_prefix >= 0) c->max_prefix = (int)f->max_prefix;
    if (f->steps >= 0) c->steps = f->steps;
    if (f->lr > 0) {
        c->lr = f->lr;
        if (c->lr_min > c->lr) c->lr_min = c->lr / 10;
    }
    if (f->lr_min >= 0) c->lr_min = f->lr_min;
    if (f->val_seed >= 0) c->val_seed = (uint64_t)f->val_seed;
    if (f->dedup_pool >= 0) c->dedup_pool = f->dedup_pool;
    if (f->general >= 0) c->general = f->general;
    if (f->stream) c->stream = 1;
    if (f->no_exclude) c->exclude[0] = 0;
    if (f->exclude) snprintf(c->exclude, sizeof c->exclude, "%s", f->exclude);
    if (f->w[TS_CLASS_LINSEQMAP] > 0) c->w_linseqmap = f->w[TS_CLASS_LINSEQMAP];
    if (f->w[TS_CLASS_ONE_ROW] > 0) c->w_one_row = f->w[TS_CLASS_ONE_ROW];
    if (f->w[TS_CLASS_NUM_MAP] > 0) c->w_num_map = f->w[TS_CLASS_NUM_MAP];
    if (f->w[TS_CLASS_MONO_MAP] > 0) c->w_mono_map = f->w[TS_CLASS_MONO_MAP];
}

/* Parses CLASS=W for --weight. */
static int parse_weight(const char *v, Flags *f) {
    const char *eq = strchr(v, '=');
    if (!eq) return 0;
    for (int c = 0; c < TS_CLASS_COUNT; c++) {
        const char *name = ts_class_name(c);
        if (strlen(name) == (size_t)(eq - v) && strncmp(v, name, (size_t)(eq - v)) == 0) {
            char *end;
            double w = strtod(eq + 1, &end);
            if (*end || !(w >= 1) || w > 1000) return 0;
            f->w[c] = w;
            return 1;
        }
    }
    return 0;
}

/* The stream of tc (train or val split), classic programs from tc->exclude. */
static int open_stream(TrainStream *s, const TrainConfig *tc, uint64_t seed, const char *split) {
    char err[512];
    const char *ex = tc->exclude[0] ? tc->exclude : NULL;
    if (ex && access(ex, R_OK) != 0) {
        fprintf(
            stderr,
            "itracr train: --stream: the classic programs folder %s is missing (--exclude DIR or --no-exclude)\n",
            ex);
        return 1;
    }
    if (train_stream_init(s, NULL, &tc->wt, seed, split, ex, tc->max_prefix, err, sizeof err) !=
            0 ||
        train_stream_set_weight(s, TS_CLASS_LINSEQMAP, tc->w_linseqmap, err, sizeof err) != 0 ||
        train_stream_set_weight(s, TS_CLASS_ONE_ROW, tc->w_one_row, err, sizeof err) != 0 ||
        train_stream_set_weight(s, TS_CLASS_NUM_MAP, tc->w_num_map, err, sizeof err) != 0 ||
        train_stream_set_weight(s, TS_CLASS_MONO_MAP, tc->w_mono_map, err, sizeof err) != 0 ||
        train_stream_set_pool(s, tc->dedup_pool, err, sizeof err) != 0 ||
        train_stream_set_general(s, tc->general, err, sizeof err) != 0) {
        fprintf(stderr, "itracr train: %s\n", err);
        train_stream_free(s);
        return 1;
    }
    return 0;
}

/* Everything a run holds, freed by run_free. */
typedef struct TrainRun {
    /* the command line */
    const char *data_dir, *out, *cfg_path, *log_path, *init;
    int resume, init_adam, force;
    long stop_at;
    Flags fl;
    /* files: the config sidecar and the default log (owned), the config's target */
    char *side, *deflog, *data_abs;
    const char *side_w;
    int resuming;
    int init_layers; /* layers of --init's checkpoint (fewer than the run's: it grows) */
    TrainConfig tc;
    TrainData train, val;
    TrainStream stream, vstream;
    int have_val, have_trainer;
    Trainer t;
    FILE *logf;
} TrainRun;

enum {
    O_RESUME = 1,
    O_STREAM,
    O_INIT_ADAM,
    O_NO_EXCLUDE,
    O_FORCE,
    O_DATA,
    O_OUT,
    O_CONFIG,
    O_LOG,
    O_INIT,
    O_STOP_AT,
    O_EXCLUDE,
    O_WEIGHT,
    O_LR_MIN,
    O_LR,
    O_GENERAL,
    O_STEPS,
    O_D_MODEL,
    O_LAYERS,
    O_HEADS,
    O_BATCH,
    O_WARMUP,
    O_SEED,
    O_VAL_SEED,
    O_DEDUP_POOL,
    O_EVAL_EVERY,
    O_CKPT_EVERY,
    O_MAX_PREFIX
};
static const CliOpt train_opts[] = {
    {"resume", 0, false, O_RESUME},
    {"stream", 0, false, O_STREAM},
    {"init-adam", 0, false, O_INIT_ADAM},
    {"no-exclude", 0, false, O_NO_EXCLUDE},
    {"force", 0, false, O_FORCE},
    {"data", 0, true, O_DATA},
    {"out", 'o', true, O_OUT},
    {"config", 0, true, O_CONFIG},
    {"log", 0, true, O_LOG},
    {"init", 0, true, O_INIT},
    {"stop-at", 0, true, O_STOP_AT},
    {"exclude", 0, true, O_EXCLUDE},
    {"weight", 0, true, O_WEIGHT},
    {"lr-min", 0, true, O_LR_MIN},
    {"lr", 0, true, O_LR},
    {"general", 0, true, O_GENERAL},
    {"steps", 0, true, O_STEPS},
    {"d-model", 0, true, O_D_MODEL},
    {"layers", 0, true, O_LAYERS},
    {"heads", 0, true, O_HEADS},
    {"batch", 0, true, O_BATCH},
    {"warmup", 0, true, O_WARMUP},
    {"seed", 0, true, O_SEED},
    {"val-seed", 0, true, O_VAL_SEED},
    {"dedup-pool", 0, true, O_DEDUP_POOL},
    {"eval-every", 0, true, O_EVAL_EVERY},
    {"ckpt-every", 0, true, O_CKPT_EVERY},
    {"max-prefix", 0, true, O_MAX_PREFIX},
};

/* The integer options: where each goes and its range. */
static long *int_option(int id, TrainRun *r, long *lo, long *hi) {
    Flags *f = &r->fl;
    *lo = 1, *hi = 1L << 40;
    switch (id) {
    case O_STOP_AT: *lo = 0; return &r->stop_at;
    case O_STEPS: return &f->steps;
    case O_D_MODEL: *hi = 4096; return &f->d_model;
    case O_LAYERS: *hi = 64; return &f->layers;
    case O_HEADS: *hi = 64; return &f->heads;
    case O_BATCH: *hi = 4096; return &f->batch;
    case O_WARMUP: *lo = 0; return &f->warmup;
    case O_SEED: *lo = 0; return &f->seed;
    case O_VAL_SEED: *lo = 0; return &f->val_seed;
    case O_DEDUP_POOL: *lo = 0, *hi = 100000000L; return &f->dedup_pool;
    case O_EVAL_EVERY: *lo = 0; return &f->eval_every;
    case O_CKPT_EVERY: *lo = 0; return &f->ckpt_every;
    case O_MAX_PREFIX: *hi = 16384; return &f->max_prefix;
    default: return NULL;
    }
}

/* Applies one option of train_opts. Returns false after a usage error. */
static bool train_option(int id, const char *v, TrainRun *r) {
    long lo, hi, *target = int_option(id, r, &lo, &hi);
    if (target) {
        char name[32];
        for (int k = 0; k < CLI_NOPTS(train_opts); k++)
            if (train_opts[k].id == id) snprintf(name, sizeof name, "--%s", train_opts[k].name);
        return cli_parse_int("train", name, v, lo, hi, target);
    }
    switch (id) {
    case O_RESUME: r->resume = 1; return true;
    case O_STREAM: r->fl.stream = 1; return true;
    case O_INIT_ADAM: r->init_adam = 1; return true;
    case O_NO_EXCLUDE: r->fl.no_exclude = 1; return true;
    case O_FORCE: r->force = 1; return true;
    case O_DATA: r->data_dir = v; return true;
    case O_OUT: r->out = v; return true;
    case O_CONFIG: r->cfg_path = v; return true;
    case O_LOG: r->log_path = v; return true;
    case O_INIT: r->init = v; return true;
    case O_EXCLUDE: r->fl.exclude = v; return true;
    case O_WEIGHT:
        if (parse_weight(v, &r->fl)) return true;
        cli_usage_error(
            "train",
            "--weight expects CLASS=W (linseqmap, one_row, num_map or mono_map; W in [1, 1000]), "
            "got '%s'",
            v);
        return false;
    case O_LR_MIN: return cli_parse_real("train", "--lr-min", v, 0, 10, 0, &r->fl.lr_min);
    case O_LR: return cli_parse_real("train", "--lr", v, 0, 10, CLI_OPEN_LO, &r->fl.lr);
    case O_GENERAL: return cli_parse_real("train", "--general", v, 0, 1, 0, &r->fl.general);
    default: cli_usage_error("train", "unexpected argument '%s'", v); return false;
    }
}

/* The command line into r. Returns -1 to go on, else the exit status. */
static int train_args(int argc, char **argv, TrainRun *r) {
    CliOpts ps;
    const char *v;
    cli_opts_init(&ps, "train", argc, argv, train_opts, CLI_NOPTS(train_opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        if (id == CLI_HELP) {
            fputs(usage, stdout);
            return EXIT_OK;
        }
        if (id == CLI_ERR || !train_option(id, v, r)) return EXIT_USAGE;
    }
    if (!r->data_dir && !r->fl.stream && !r->resume)
        return cli_usage_error("train", "missing --data DIR (or --stream)");
    if (r->data_dir && r->fl.stream)
        return cli_usage_error("train", "--data and --stream exclude each other");
    if (r->init_adam && !r->init) return cli_usage_error("train", "--init-adam needs --init CKPT");
    if (r->init && r->resume)
        return cli_usage_error("train", "--init starts a run; --resume continues one (give one)");
    if (!r->out) return cli_usage_error("train", "missing -o META.safetensors");
    return -1;
}

/* The output guard on the checkpoint, its config and its log (never a dataset shard, an
 * input, a device; an existing checkpoint only with --resume or --force), then the lock:
 * a second train on the same -o fails here, before it has touched the log or the config
 * (the lock ends with the process). Returns 0, or 1 after printing why. */
static int train_outputs(TrainRun *r) {
    char err[1024];
    r->side = train_sidecar_path(r->out);
    r->deflog = train_log_path(r->out);
    if (!r->log_path) r->log_path = r->deflog;
    const char *inputs[] = {r->data_dir, r->cfg_path ? r->cfg_path : r->data_dir, NULL};
    OutPathSpec ck = {.what = "checkpoint",
                      .inputs = inputs,
                      .st_format = "itracr-meta/1",
                      .replace = r->resume || r->force};
    OutPathSpec js = {.what = "training config", .inputs = inputs, .text_prefix = "{"};
    OutPathSpec lg = {.what = "training log", .inputs = inputs, .text_prefix = "{\"step\""};
    if (!cli_output("train", r->out, &ck, &r->out) ||
        !cli_output("train", r->side, &js, &r->side_w) ||
        !cli_output("train", r->log_path, &lg, &r->log_path))
        return 1;
    char *lock_path = sb_concat(r->out, ".lock");
    int lk = path_lock(lock_path, "a train run", err, sizeof err);
    free(lock_path);
    if (lk < 0) {
        fprintf(stderr, "itracr train: %s\n", err);
        return 1;
    }
    return 0;
}

/* The first flag that would change a resumed run's saved config, or NULL. */
static const char *resume_conflict(const TrainRun *r) {
    const Flags *f = &r->fl;
    const char *c = r->cfg_path          ? "--config"
                    : f->lr > 0          ? "--lr"
                    : f->d_model >= 0    ? "--d-model"
                    : f->layers >= 0     ? "--layers"
                    : f->heads >= 0      ? "--heads"
                    : f->batch >= 0      ? "--batch"
                    : f->warmup >= 0     ? "--warmup"
                    : f->seed >= 0       ? "--seed"
                    : f->eval_every >= 0 ? "--eval-every"
                    : f->ckpt_every >= 0 ? "--ckpt-every"
                    : f->max_prefix >= 0 ? "--max-prefix"
                    : f->lr_min >= 0     ? "--lr-min"
                    : f->stream          ? "--stream"
                    : f->val_seed >= 0   ? "--val-seed"
                    : f->dedup_pool >= 0 ? "--dedup-pool"
                    : f->general >= 0    ? "--general"
                    : f->exclude         ? "--exclude"
                    : f->no_exclude      ? "--no-exclude"
                    : r->init_adam       ? "--init-adam"
                                         : NULL;
    for (int k = 0; !c && k < TS_CLASS_COUNT; k++)
        if (f->w[k] > 0) c = "--weight";
    return c;
}

/* A resumed run: the saved config rules, and a flag that would change it is refused rather
 * than silently ignored; so is another dataset. Returns 0, or 1 after printing why. */
static int config_resume(TrainRun *r) {
    char err[1024];
    const char *conflict = resume_conflict(r);
    if (conflict) {
        fprintf(stderr,
                "itracr train: --resume continues with the config saved in %s; %s cannot change it "
                "(only --steps can; start a new run with --force to change it)\n",
                r->side_w, conflict);
        return 1;
    }
    bool found = false;
    char *rec_data = NULL;
    if (train_sidecar_read(r->side_w, &r->tc, &found, &rec_data, NULL, err, sizeof err) != 0 ||
        !found) {
        fprintf(stderr, "itracr train: %s\n",
                found ? err : "no training config next to the checkpoint");
        return 1;
    }
    char *rec_abs = rec_data ? realpath(rec_data, NULL) : NULL;
    int bad = rec_data && (!r->data_abs || !rec_abs || strcmp(rec_abs, r->data_abs) != 0);
    if (bad)
        fprintf(stderr,
                "itracr train: %s was trained on --data %s; resuming it on %s would mix datasets\n",
                r->out, rec_data, r->data_dir);
    free(rec_data);
    free(rec_abs);
    if (r->fl.steps >= 0) r->tc.steps = r->fl.steps;
    return bad;
}

/* A fresh run: defaults, then --init's saved config (model shape, weight tokens), then
 * --config, then the flags. Returns 0, or 1 after printing why. */
static int config_fresh(TrainRun *r) {
    char err[1024];
    if (r->init) {
        char *ij = train_sidecar_path(r->init);
        bool found = false;
        int bad = train_sidecar_read(ij, &r->tc, &found, NULL, NULL, err, sizeof err);
        free(ij);
        if (bad) {
            fprintf(stderr, "itracr train: %s\n", err);
            return 1;
        }
        r->tc.stream = 0;
        r->tc.init_step = 0;
        r->init_layers = r->tc.n_layer;
    }
    if (r->cfg_path) {
        unsigned char *data = NULL;
        size_t len = 0;
        int bad = read_whole_file(r->cfg_path, &data, &len, err, sizeof err) != 0 ||
                  train_config_from_json((const char *)data, &r->tc, err, sizeof err) != 0;
        free(data);
        if (bad) {
            fprintf(stderr, "itracr train: %s: %s\n", r->cfg_path, err);
            return 1;
        }
    }
    apply_flags(&r->fl, &r->tc);
    return 0;
}

/* The config of this run, checked. Returns 0, or 1 after printing why. */
static int train_configure(TrainRun *r) {
    char err[1024];
    train_config_default(&r->tc);
    r->resuming = r->resume && access(r->out, F_OK) == 0;
    if (r->resume && !r->resuming)
        fprintf(stderr, "itracr train: no checkpoint at %s yet: starting fresh\n", r->out);
    r->data_abs = r->data_dir ? realpath(r->data_dir, NULL)
                              : NULL; /* recorded in the sidecar; NULL: missing */
    if (r->resuming ? config_resume(r) : config_fresh(r)) return 1;
    if (!r->tc.stream && !r->data_dir) {
        fprintf(stderr, "itracr train: %s trains on a dataset: give --data DIR\n", r->out);
        return 1;
    }
    if (r->tc.stream && r->data_dir) {
        fprintf(stderr, "itracr train: %s trains on a stream: --data is not used\n", r->out);
        return 1;
    }
    if (train_config_check(&r->tc, err, sizeof err) != 0) {
        fprintf(stderr, "itracr train: bad config: %s\n", err);
        return 1;
    }
    return 0;
}

/* The training samples (stream or dataset) and the validation samples. Returns 0, or 1
 * after printing why. */
static int train_load_data(TrainRun *r) {
    char err[1024];
    TrainConfig *tc = &r->tc;
    double t0 = now_s();
    if (tc->stream) {
        if (open_stream(&r->stream, tc, tc->seed, "train") != 0) return 1;
        int nv = tc->eval_tf > tc->eval_decode ? tc->eval_tf : tc->eval_decode;
        if (nv > 0 && tc->eval_every > 0) {
            if (open_stream(&r->vstream, tc, tc->val_seed, "val") != 0) return 1;
            if (train_stream_fill(&r->vstream, 0, nv, &r->val, err, sizeof err) != 0) {
                fprintf(stderr, "itracr train: validation samples: %s\n", err);
                return 1;
            }
            r->have_val = 1;
        }
        fprintf(
            stderr,
            "data: streamed (seed %llu, train split, %d classic programs excluded); %d val samples of the "
            "val split of seed %llu made in %.1f s\n",
            (unsigned long long)tc->seed, r->stream.n_classic, r->val.n,
            (unsigned long long)tc->val_seed, now_s() - t0);
        return 0;
    }
    if (train_data_load_split(&r->train, r->data_dir, "train", tc->max_prefix, err, sizeof err) !=
        0) {
        fprintf(stderr, "itracr train: %s\n", err);
        return 1;
    }
    if (r->train.n == 0) {
        fprintf(stderr, "itracr train: %s: no usable training samples\n", r->data_dir);
        return 1;
    }
    r->have_val =
        train_data_load_split(&r->val, r->data_dir, "val", tc->max_prefix, err, sizeof err) == 0 &&
        r->val.n > 0;
    if (!r->have_val)
        fprintf(stderr, "itracr train: no validation split (%s): validation metrics off\n", err);
    if (r->train.have_wt) tc->wt = r->train.wt;
    fprintf(
        stderr,
        "data: %d train samples (%ld dropped: more than %d weight tokens), %d val, %.1f M weight tokens, "
        "loaded in %.1f s\n",
        r->train.n, r->train.skipped, tc->max_prefix, r->val.n, (double)r->train.total / 1e6,
        now_s() - t0);
    return 0;
}

/* The trainer (resumed, from --init or new), its log (a resumed log cut to the checkpoint's
 * step; a fresh run's emptied) and the config sidecar. Returns 0, or 1 after printing why. */
static int train_start(TrainRun *r) {
    char err[1024];
    Trainer *t = &r->t;
    const TrainData *tdata = r->tc.stream ? NULL : &r->train;
    int irc = r->resuming ? trainer_init_resume(t, &r->tc, tdata, r->out, err, sizeof err)
              : r->init
                  ? trainer_init_from(t, &r->tc, tdata, r->init, r->init_adam, err, sizeof err)
                  : trainer_init(t, &r->tc, tdata, err, sizeof err);
    if (irc != 0) {
        fprintf(stderr, "itracr train: %s\n", err);
        return 1;
    }
    r->have_trainer = 1;
    if (r->resuming) {
        if (truncate_log(r->log_path, trainer_run_step(t), err, sizeof err) != 0) {
            fprintf(stderr, "itracr train: %s\n", err);
            return 1;
        }
        fprintf(stderr, "resumed %s at step %ld\n", r->out, trainer_run_step(t));
    } else {
        r->tc = t->tc; /* init and init_step */
        if (r->init)
            fprintf(stderr,
                    "initialised from %s (%s; its AdamW step count %ld kept for bias correction)\n",
                    r->init, r->init_adam ? "parameters and AdamW state" : "parameters only",
                    r->tc.init_step);
        if (r->init && r->init_layers < r->tc.n_layer)
            fprintf(stderr,
                    "grown from %d to %d layers: the new blocks start as identity (their output "
                    "projections zero), so the model starts with --init's function\n",
                    r->init_layers, r->tc.n_layer);
        FILE *lf = fopen(r->log_path, "w"); /* a fresh run starts an empty log */
        if (!lf || fclose(lf) != 0) {
            fprintf(stderr, "itracr train: cannot create log %s: %s\n", r->log_path,
                    strerror(errno));
            return 1;
        }
    }
    if (r->tc.stream) trainer_set_stream(t, &r->stream);
    char *js = train_sidecar_json(&r->tc, r->data_abs);
    if (!js) snprintf(err, sizeof err, "out of memory");
    int bad = !js || atomic_write(r->side_w, js, strlen(js), err, sizeof err) != 0;
    free(js);
    if (bad) {
        fprintf(stderr, "itracr train: %s\n", err);
        return 1;
    }
    r->logf = fopen(r->log_path, "a");
    if (!r->logf) {
        fprintf(stderr, "itracr train: cannot open log %s\n", r->log_path);
        return 1;
    }
    size_t np = t->m.lay.n_params;
    const TrainConfig *tc = &r->tc;
    fprintf(
        stderr,
        "model: d_model %d, %d layers, %d heads, %zu parameters (%.1f MB with gradients and AdamW state)\n",
        tc->d_model, tc->n_layer, tc->n_head, np, (double)np * 16 / 1e6);
    fprintf(stderr, "training: batch %d, lr %g -> %g, warmup %ld, steps %ld, seed %llu; log %s\n",
            tc->batch, tc->lr, tc->lr_min, tc->warmup, tc->steps, (unsigned long long)tc->seed,
            r->log_path);
    /* A forced OpenBLAS kernel (OPENBLAS_CORETYPE) can make a step ~8x slower on AVX-512
     * machines (docs/experiments.md): say which kernel runs, and that it was forced. */
    const char *ct = getenv("OPENBLAS_CORETYPE");
    fprintf(stderr, "blas: OpenBLAS kernel %s%s%s\n", meta_blas_corename(),
            ct && *ct ? ", forced by OPENBLAS_CORETYPE=" : "", ct && *ct ? ct : "");
    return 0;
}

/* Timing of the loop, for the log and the progress line. */
typedef struct Pace {
    double start, win_t;
    long win_tok, start_step;
    int tty;
} Pace;

/* The log line of a step (with validation when due) and the progress line. Returns 0, or 1
 * after printing why. */
static int log_step(TrainRun *r, Pace *pc, long step, float loss, float lr) {
    const TrainConfig *tc = &r->tc;
    char err[1024];
    int do_eval =
        r->have_val && tc->eval_every > 0 && (step % tc->eval_every == 0 || step == tc->steps);
    if (!(step % tc->log_every == 0 || do_eval || step == tc->steps)) return 0;
    double now = now_s(), tok_s = pc->win_tok / (now - pc->win_t + 1e-9);
    fprintf(r->logf, "{\"step\":%ld,\"loss\":%.6f,\"lr\":%.6g,\"tok_s\":%.0f,\"elapsed_s\":%.1f",
            step, loss, lr, tok_s, now - pc->start);
    if (do_eval) {
        double acc = 0, ex = 0, te = now_s();
        if (trainer_eval(&r->t, &r->val, tc->eval_tf, tc->eval_decode, &acc, &ex, err,
                         sizeof err) != 0) {
            fprintf(stderr, "itracr train: validation: %s\n", err);
            return 1;
        }
        fprintf(r->logf, ",\"val_token_acc\":%.6f,\"val_exact\":%.6f,\"eval_s\":%.1f", acc, ex,
                now_s() - te);
        if (pc->tty) fprintf(stderr, "\n");
        fprintf(stderr, "step %ld: val token acc %.4f, exact %.4f (%d / %d samples)\n", step, acc,
                ex, tc->eval_tf < r->val.n ? tc->eval_tf : r->val.n,
                tc->eval_decode < r->val.n ? tc->eval_decode : r->val.n);
    }
    fprintf(r->logf, "}\n");
    if (fflush(r->logf) != 0 || ferror(r->logf)) { /* a full disk must not pass silently */
        fprintf(stderr, "itracr train: log %s: write failed: %s\n", r->log_path, strerror(errno));
        return 1;
    }
    if (pc->tty) {
        double per = (now - pc->start) / (double)(step - pc->start_step),
               eta = per * (double)(tc->steps - step);
        fprintf(stderr, "\rstep %ld/%ld  loss %.4f  lr %.2e  %.0f tok/s  ETA %02d:%02d:%02d   ",
                step, tc->steps, loss, lr, tok_s, (int)(eta / 3600), (int)fmod(eta / 60, 60),
                (int)fmod(eta, 60));
    }
    pc->win_tok = 0;
    pc->win_t = now_s();
    return 0;
}

/* Steps until --steps, --stop-at or a signal; checkpoints every --ckpt-every steps and at
 * the end. Returns the exit status. */
static int train_loop(TrainRun *r, Pace *pc) {
    char err[1024];
    Trainer *t = &r->t;
    const TrainConfig *tc = &r->tc;
    long end = r->stop_at >= 0 && r->stop_at < tc->steps ? r->stop_at : tc->steps;
    while (trainer_run_step(t) < end && !g_stop) {
        float loss, lr;
        double ts = now_s();
        if (trainer_step(t, &loss, &lr, err, sizeof err) != 0) {
            fprintf(stderr, "itracr train: step %ld: %s\n", trainer_run_step(t), err);
            return EXIT_BAD_INPUT;
        }
        if (!isfinite(loss)) {
            fprintf(stderr, "itracr train: step %ld: loss is not finite; stopping\n",
                    trainer_run_step(t));
            return EXIT_BAD_INPUT;
        }
        pc->win_tok += t->tok_count;
        long step = trainer_run_step(t); /* steps done */
        if (step == pc->start_step + 1)
            fprintf(stderr, "first step: %.0f ms (batch P=%d, T=%d), resident memory %ld MB\n",
                    1e3 * (now_s() - ts), t->P, t->T, rss_mb());
        if (log_step(r, pc, step, loss, lr)) return EXIT_BAD_INPUT;
        if ((tc->ckpt_every > 0 && step % tc->ckpt_every == 0) || step == tc->steps ||
            step == end) {
            if (trainer_save(t, r->out, err, sizeof err) != 0) {
                fprintf(stderr, "itracr train: checkpoint: %s\n", err);
                return EXIT_BAD_INPUT;
            }
        }
    }
    return EXIT_OK;
}

/* After the loop: the checkpoint of an interrupted run, the closing lines, the log's close.
 * Returns the exit status. */
static int train_finish(TrainRun *r, const Pace *pc, int rc) {
    char err[1024];
    Trainer *t = &r->t;
    if (g_stop && rc == EXIT_OK) {
        if (trainer_save(t, r->out, err, sizeof err) != 0) {
            fprintf(stderr, "itracr train: checkpoint: %s\n", err);
            rc = EXIT_BAD_INPUT;
        } else
            fprintf(stderr,
                    "\ninterrupted: checkpoint at step %ld in %s (continue with --resume)\n",
                    trainer_run_step(t), r->out);
    }
    if (pc->tty) fprintf(stderr, "\n");
    if (rc == EXIT_OK && !g_stop)
        fprintf(stderr, "done: %ld steps in %.1f s; model %s\n",
                trainer_run_step(t) - pc->start_step, now_s() - pc->start, r->out);
    const TrainStream *s = &r->stream;
    if (r->tc.stream)
        fprintf(
            stderr,
            "stream: %ld candidates tried: %ld rejected by the generator, %ld in another split, %ld classic, "
            "%ld over %d weight tokens, %ld thinned by frequency, %ld by class weights\n",
            s->tried, s->failed, s->wrong_split, s->classic_hits, s->too_long, r->tc.max_prefix,
            s->freq_thinned, s->thinned);
    int bad_close = fclose(r->logf) != 0;
    r->logf = NULL;
    if (bad_close && rc == EXIT_OK) {
        fprintf(stderr, "itracr train: log %s: close failed: %s\n", r->log_path, strerror(errno));
        rc = EXIT_BAD_INPUT;
    }
    return rc;
}

static void run_free(TrainRun *r) {
    if (r->logf) fclose(r->logf);
    if (r->have_trainer) trainer_free(&r->t);
    train_stream_free(&r->stream);
    train_stream_free(&r->vstream);
    train_data_free(&r->train);
    train_data_free(&r->val);
    free(r->data_abs);
    free(r->side);
    free(r->deflog);
}

int cmd_train(int argc, char **argv) {
    TrainRun *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->stop_at = -1;
    r->fl = (Flags){-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, -1, -1, 0, 0, NULL, {0}};
    train_data_init(&r->train);
    train_data_init(&r->val);
    int rc = train_args(argc, argv, r);
    if (rc < 0) {
        rc = EXIT_BAD_INPUT;
        if (train_outputs(r) == 0 && train_configure(r) == 0 && train_load_data(r) == 0 &&
            train_start(r) == 0) {
            signal(SIGINT, on_signal);
            signal(SIGTERM, on_signal);
            Pace pc = {.start = now_s(), .tty = isatty(2), .start_step = trainer_run_step(&r->t)};
            pc.win_t = pc.start;
            rc = train_finish(r, &pc, train_loop(r, &pc));
        }
    }
    run_free(r);
    free(r);
    return rc;
}
