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

static const char *usage =
    "usage: itracr train (--data DIR | --stream) -o META.safetensors [--config FILE.json] [--steps N]\n"
    "                    [--resume] [--init CKPT [--init-adam]] [--d-model C] [--layers L] [--heads H]\n"
    "                    [--batch B] [--lr LR] [--lr-min LR] [--warmup W] [--seed S] [--eval-every K]\n"
    "                    [--ckpt-every K] [--max-prefix P] [--log FILE] [--val-seed S]\n"
    "                    [--exclude DIR | --no-exclude] [--weight CLASS=W]... [--dedup-pool M]\n"
    "                    [--stop-at N]\n"
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
    "schedule, data positions and step counts start at 0 either way.\n"
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

static char *cat2(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s", a, b);
    return s;
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
    long d_model, layers, heads, batch, warmup, seed, eval_every, ckpt_every, max_prefix, steps, val_seed, dedup_pool;
    double lr, lr_min;
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
        fprintf(stderr, "itracr train: --stream: the classic programs folder %s is missing (--exclude DIR or --no-exclude)\n", ex);
        return 1;
    }
    if (train_stream_init(s, NULL, &tc->wt, seed, split, ex, tc->max_prefix, err, sizeof err) != 0 ||
        train_stream_set_weight(s, TS_CLASS_LINSEQMAP, tc->w_linseqmap, err, sizeof err) != 0 ||
        train_stream_set_weight(s, TS_CLASS_ONE_ROW, tc->w_one_row, err, sizeof err) != 0 ||
        train_stream_set_weight(s, TS_CLASS_NUM_MAP, tc->w_num_map, err, sizeof err) != 0 ||
        train_stream_set_weight(s, TS_CLASS_MONO_MAP, tc->w_mono_map, err, sizeof err) != 0 ||
        train_stream_set_pool(s, tc->dedup_pool, err, sizeof err) != 0) {
        fprintf(stderr, "itracr train: %s\n", err);
        train_stream_free(s);
        return 1;
    }
    return 0;
}

static int load_config_file(const char *path, TrainConfig *c) {
    unsigned char *data = NULL;
    size_t len = 0;
    char err[512];
    if (read_whole_file(path, &data, &len, err, sizeof err) != 0 ||
        train_config_from_json((const char *)data, c, err, sizeof err) != 0) {
        fprintf(stderr, "itracr train: %s: %s\n", path, err);
        free(data);
        return 1;
    }
    free(data);
    return 0;
}

int cmd_train(int argc, char **argv) {
    const char *data_dir = NULL, *out = NULL, *cfg_path = NULL, *log_path = NULL, *init = NULL;
    int resume = 0, init_adam = 0, force = 0;
    long stop_at = -1;
    Flags fl = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, -1, 0, 0, NULL, {0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *target = NULL;
        long lo = 1, hi = 1L << 40;
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--resume") == 0) {
            resume = 1;
            continue;
        } else if (strcmp(a, "--stream") == 0) {
            fl.stream = 1;
            continue;
        } else if (strcmp(a, "--init-adam") == 0) {
            init_adam = 1;
            continue;
        } else if (strcmp(a, "--no-exclude") == 0) {
            fl.no_exclude = 1;
            continue;
        } else if (strcmp(a, "--force") == 0) {
            force = 1;
            continue;
        }
        if (!v) return cli_usage_error("train", "'%s' needs a value (or is unknown)", a);
        if (strcmp(a, "--data") == 0) data_dir = v;
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--out") == 0) out = v;
        else if (strcmp(a, "--config") == 0) cfg_path = v;
        else if (strcmp(a, "--log") == 0) log_path = v;
        else if (strcmp(a, "--init") == 0) init = v;
        else if (strcmp(a, "--stop-at") == 0) target = &stop_at, lo = 0;
        else if (strcmp(a, "--exclude") == 0) fl.exclude = v;
        else if (strcmp(a, "--weight") == 0) {
            if (!parse_weight(v, &fl))
                return cli_usage_error("train", "--weight expects CLASS=W (linseqmap, one_row, num_map or mono_map; W in [1, 1000]), got '%s'", v);
        } else if (strcmp(a, "--lr-min") == 0) {
            char *end;
            fl.lr_min = strtod(v, &end);
            if (*end || !(fl.lr_min >= 0) || fl.lr_min > 10) return cli_usage_error("train", "--lr-min expects a number in [0, 10], got '%s'", v);
        } else if (strcmp(a, "--lr") == 0) {
            char *end;
            fl.lr = strtod(v, &end);
            if (*end || !(fl.lr > 0) || fl.lr > 10) return cli_usage_error("train", "--lr expects a number in (0, 10], got '%s'", v);
        } else if (strcmp(a, "--steps") == 0) target = &fl.steps;
        else if (strcmp(a, "--d-model") == 0) target = &fl.d_model, hi = 4096;
        else if (strcmp(a, "--layers") == 0) target = &fl.layers, hi = 64;
        else if (strcmp(a, "--heads") == 0) target = &fl.heads, hi = 64;
        else if (strcmp(a, "--batch") == 0) target = &fl.batch, hi = 4096;
        else if (strcmp(a, "--warmup") == 0) target = &fl.warmup, lo = 0;
        else if (strcmp(a, "--seed") == 0) target = &fl.seed, lo = 0;
        else if (strcmp(a, "--val-seed") == 0) target = &fl.val_seed, lo = 0;
        else if (strcmp(a, "--dedup-pool") == 0) target = &fl.dedup_pool, lo = 0, hi = 100000000L;
        else if (strcmp(a, "--eval-every") == 0) target = &fl.eval_every, lo = 0;
        else if (strcmp(a, "--ckpt-every") == 0) target = &fl.ckpt_every, lo = 0;
        else if (strcmp(a, "--max-prefix") == 0) target = &fl.max_prefix, hi = 16384;
        else return cli_usage_error("train", "unknown option '%s'", a);
        if (target && !cli_parse_int("train", a, v, lo, hi, target)) return EXIT_USAGE;
        i++;
    }
    if (!data_dir && !fl.stream && !resume) return cli_usage_error("train", "missing --data DIR (or --stream)");
    if (data_dir && fl.stream) return cli_usage_error("train", "--data and --stream exclude each other");
    if (init_adam && !init) return cli_usage_error("train", "--init-adam needs --init CKPT");
    if (init && resume) return cli_usage_error("train", "--init starts a run; --resume continues one (give one)");
    if (!out) return cli_usage_error("train", "missing -o META.safetensors");

    char err[1024];
    char *side = cat2(out, ".train.json");
    char *deflog = cat2(out, ".log.jsonl");
    if (!log_path) log_path = deflog;
    const char *side_w = side; /* where the config is read and written (a symlink's target) */
    {   /* the output guard: never a dataset shard, an input, a device; an existing
         * checkpoint only with --resume or --force */
        const char *inputs[] = {data_dir, cfg_path ? cfg_path : data_dir, NULL};
        OutPathSpec ck = {.what = "checkpoint", .inputs = inputs, .st_format = "itracr-meta/1",
                          .replace = resume || force};
        OutPathSpec js = {.what = "training config", .inputs = inputs, .text_prefix = "{"};
        OutPathSpec lg = {.what = "training log", .inputs = inputs, .text_prefix = "{\"step\""};
        const char *t_out, *t_side, *t_log;
        if (!cli_output("train", out, &ck, &t_out) || !cli_output("train", side, &js, &t_side) ||
            !cli_output("train", log_path, &lg, &t_log)) {
            free(side);
            free(deflog);
            return EXIT_BAD_INPUT;
        }
        out = t_out;
        log_path = t_log;
        side_w = t_side;
        /* one run per checkpoint: a second train on the same -o fails here, before it has
         * touched the log or the config (the lock ends with the process) */
        char *lock_path = cat2(out, ".lock");
        if (!lock_path) snprintf(err, sizeof err, "out of memory");
        int lk = lock_path ? path_lock(lock_path, "a train run", err, sizeof err) : -1;
        free(lock_path);
        if (lk < 0) {
            fprintf(stderr, "itracr train: %s\n", err);
            free(side);
            free(deflog);
            return EXIT_BAD_INPUT;
        }
    }
    TrainConfig tc;
    train_config_default(&tc);
    int rc = EXIT_BAD_INPUT;
    int resuming = resume && access(out, F_OK) == 0;
    if (resume && !resuming) fprintf(stderr, "itracr train: no checkpoint at %s yet: starting fresh\n", out);
    char *data_abs = data_dir ? realpath(data_dir, NULL) : NULL; /* recorded in the sidecar; NULL: missing */
    if (resuming) {
        /* the saved config rules a resumed run: a flag that would change it is refused rather
         * than silently ignored */
        const char *conflict = cfg_path ? "--config" : fl.lr > 0 ? "--lr" : fl.d_model >= 0 ? "--d-model"
                             : fl.layers >= 0 ? "--layers" : fl.heads >= 0 ? "--heads" : fl.batch >= 0 ? "--batch"
                             : fl.warmup >= 0 ? "--warmup" : fl.seed >= 0 ? "--seed"
                             : fl.eval_every >= 0 ? "--eval-every" : fl.ckpt_every >= 0 ? "--ckpt-every"
                             : fl.max_prefix >= 0 ? "--max-prefix" : fl.lr_min >= 0 ? "--lr-min"
                             : fl.stream ? "--stream" : fl.val_seed >= 0 ? "--val-seed"
                             : fl.dedup_pool >= 0 ? "--dedup-pool" : fl.exclude ? "--exclude"
                             : fl.no_exclude ? "--no-exclude" : init_adam ? "--init-adam" : NULL;
        for (int k = 0; !conflict && k < TS_CLASS_COUNT; k++)
            if (fl.w[k] > 0) conflict = "--weight";
        if (conflict) {
            fprintf(stderr, "itracr train: --resume continues with the config saved in %s; %s cannot change it "
                    "(only --steps can; start a new run with --force to change it)\n", side_w, conflict);
            goto done0;
        }
        bool found = false;
        char *rec_data = NULL;
        if (train_sidecar_read(side_w, &tc, &found, &rec_data, NULL, err, sizeof err) != 0 || !found) {
            fprintf(stderr, "itracr train: %s\n", found ? err : "no training config next to the checkpoint");
            goto done0;
        }
        char *rec_abs = rec_data ? realpath(rec_data, NULL) : NULL;
        if (rec_data && (!data_abs || !rec_abs || strcmp(rec_abs, data_abs) != 0)) {
            fprintf(stderr, "itracr train: %s was trained on --data %s; resuming it on %s would mix datasets\n",
                    out, rec_data, data_dir);
            free(rec_data);
            free(rec_abs);
            goto done0;
        }
        free(rec_data);
        free(rec_abs);
        if (fl.steps >= 0) tc.steps = fl.steps;
    } else {
        if (init) { /* the starting checkpoint's config is the base: model shape, weight tokens */
            char *ij = cat2(init, ".train.json");
            int have = ij && access(ij, F_OK) == 0;
            int bad = have && load_config_file(ij, &tc) != 0;
            free(ij);
            if (bad) goto done0;
            tc.stream = 0;
            tc.init_step = 0;
        }
        if (cfg_path && load_config_file(cfg_path, &tc) != 0) goto done0;
        apply_flags(&fl, &tc);
    }
    if (!tc.stream && !data_dir) {
        fprintf(stderr, "itracr train: %s trains on a dataset: give --data DIR\n", out);
        goto done0;
    }
    if (tc.stream && data_dir) {
        fprintf(stderr, "itracr train: %s trains on a stream: --data is not used\n", out);
        goto done0;
    }
    if (train_config_check(&tc, err, sizeof err) != 0) {
        fprintf(stderr, "itracr train: bad config: %s\n", err);
        goto done0;
    }

    TrainData train, val;
    TrainStream stream, vstream;
    memset(&stream, 0, sizeof stream);
    memset(&vstream, 0, sizeof vstream);
    train_data_init(&train);
    train_data_init(&val);
    double t0 = now_s();
    int have_val = 0;
    if (tc.stream) {
        if (open_stream(&stream, &tc, tc.seed, "train") != 0) goto done1;
        int nv = tc.eval_tf > tc.eval_decode ? tc.eval_tf : tc.eval_decode;
        if (nv > 0 && tc.eval_every > 0) {
            if (open_stream(&vstream, &tc, tc.val_seed, "val") != 0) goto done1;
            if (train_stream_fill(&vstream, 0, nv, &val, err, sizeof err) != 0) {
                fprintf(stderr, "itracr train: validation samples: %s\n", err);
                goto done1;
            }
            have_val = 1;
        }
        fprintf(stderr, "data: streamed (seed %llu, train split, %d classic programs excluded); %d val samples of the val split of seed %llu made in %.1f s\n",
                (unsigned long long)tc.seed, stream.n_classic, val.n, (unsigned long long)tc.val_seed, now_s() - t0);
    } else {
        if (train_data_load_split(&train, data_dir, "train", tc.max_prefix, err, sizeof err) != 0) {
            fprintf(stderr, "itracr train: %s\n", err);
            goto done1;
        }
        if (train.n == 0) {
            fprintf(stderr, "itracr train: %s: no usable training samples\n", data_dir);
            goto done1;
        }
        have_val = train_data_load_split(&val, data_dir, "val", tc.max_prefix, err, sizeof err) == 0 && val.n > 0;
        if (!have_val) fprintf(stderr, "itracr train: no validation split (%s): validation metrics off\n", err);
        if (train.have_wt) tc.wt = train.wt;
        fprintf(stderr, "data: %d train samples (%ld dropped: more than %d weight tokens), %d val, %.1f M weight tokens, loaded in %.1f s\n",
                train.n, train.skipped, tc.max_prefix, val.n, (double)train.total / 1e6, now_s() - t0);
    }

    Trainer t;
    const TrainData *tdata = tc.stream ? NULL : &train;
    if (resuming) {
        if (trainer_init_resume(&t, &tc, tdata, out, err, sizeof err) != 0) {
            fprintf(stderr, "itracr train: %s\n", err);
            goto done1;
        }
        if (truncate_log(log_path, trainer_run_step(&t), err, sizeof err) != 0) {
            fprintf(stderr, "itracr train: %s\n", err);
            trainer_free(&t);
            goto done1;
        }
        fprintf(stderr, "resumed %s at step %ld\n", out, trainer_run_step(&t));
    } else {
        int irc = init ? trainer_init_from(&t, &tc, tdata, init, init_adam, err, sizeof err)
                       : trainer_init(&t, &tc, tdata, err, sizeof err);
        if (irc != 0) {
            fprintf(stderr, "itracr train: %s\n", err);
            goto done1;
        }
        tc = t.tc; /* init and init_step */
        if (init)
            fprintf(stderr, "initialised from %s (%s; its AdamW step count %ld kept for bias correction)\n", init,
                    init_adam ? "parameters and AdamW state" : "parameters only", tc.init_step);
        FILE *lf = fopen(log_path, "w"); /* a fresh run starts an empty log */
        if (!lf || fclose(lf) != 0) {
            fprintf(stderr, "itracr train: cannot create log %s: %s\n", log_path, strerror(errno));
            trainer_free(&t);
            goto done1;
        }
    }
    if (tc.stream) trainer_set_stream(&t, &stream);
    {
        char *js = train_sidecar_json(&tc, data_abs);
        size_t jl = js ? strlen(js) : 0;
        if (!js) snprintf(err, sizeof err, "out of memory");
        if (!js || atomic_write(side_w, js, jl, err, sizeof err) != 0) {
            fprintf(stderr, "itracr train: %s\n", err);
            free(js);
            trainer_free(&t);
            goto done1;
        }
        free(js);
    }
    FILE *logf = fopen(log_path, "a");
    if (!logf) {
        fprintf(stderr, "itracr train: cannot open log %s\n", log_path);
        trainer_free(&t);
        goto done1;
    }
    size_t np = t.m.lay.n_params;
    fprintf(stderr, "model: d_model %d, %d layers, %d heads, %zu parameters (%.1f MB with gradients and AdamW state)\n",
            tc.d_model, tc.n_layer, tc.n_head, np, (double)np * 16 / 1e6);
    fprintf(stderr, "training: batch %d, lr %g -> %g, warmup %ld, steps %ld, seed %llu; log %s\n", tc.batch,
            tc.lr, tc.lr_min, tc.warmup, tc.steps, (unsigned long long)tc.seed, log_path);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int tty = isatty(2);
    double start = now_s(), win_t = start;
    long win_tok = 0, start_step = trainer_run_step(&t);
    rc = EXIT_OK;
    long end = stop_at >= 0 && stop_at < tc.steps ? stop_at : tc.steps;
    while (trainer_run_step(&t) < end && !g_stop) {
        float loss, lr;
        double ts = now_s();
        if (trainer_step(&t, &loss, &lr, err, sizeof err) != 0) {
            fprintf(stderr, "itracr train: step %ld: %s\n", trainer_run_step(&t), err);
            rc = EXIT_BAD_INPUT;
            break;
        }
        if (!isfinite(loss)) {
            fprintf(stderr, "itracr train: step %ld: loss is not finite; stopping\n", trainer_run_step(&t));
            rc = EXIT_BAD_INPUT;
            break;
        }
        win_tok += t.tok_count;
        long step = trainer_run_step(&t); /* steps done */
        if (step == start_step + 1)
            fprintf(stderr, "first step: %.0f ms (batch P=%d, T=%d), resident memory %ld MB\n", 1e3 * (now_s() - ts),
                    t.P, t.T, rss_mb());
        int do_eval = have_val && tc.eval_every > 0 && (step % tc.eval_every == 0 || step == tc.steps);
        int do_log = step % tc.log_every == 0 || do_eval || step == tc.steps;
        double now = now_s();
        if (do_log) {
            double tok_s = win_tok / (now - win_t + 1e-9);
            fprintf(logf, "{\"step\":%ld,\"loss\":%.6f,\"lr\":%.6g,\"tok_s\":%.0f,\"elapsed_s\":%.1f", step, loss, lr, tok_s,
                    now - start);
            if (do_eval) {
                double acc = 0, ex = 0, te = now_s();
                if (trainer_eval(&t, &val, tc.eval_tf, tc.eval_decode, &acc, &ex, err, sizeof err) != 0) {
                    fprintf(stderr, "itracr train: validation: %s\n", err);
                    rc = EXIT_BAD_INPUT;
                    break;
                }
                fprintf(logf, ",\"val_token_acc\":%.6f,\"val_exact\":%.6f,\"eval_s\":%.1f", acc, ex, now_s() - te);
                if (tty) fprintf(stderr, "\n");
                fprintf(stderr, "step %ld: val token acc %.4f, exact %.4f (%d / %d samples)\n", step, acc, ex,
                        tc.eval_tf < val.n ? tc.eval_tf : val.n, tc.eval_decode < val.n ? tc.eval_decode : val.n);
            }
            fprintf(logf, "}\n");
            if (fflush(logf) != 0 || ferror(logf)) { /* a full disk must not pass silently */
                fprintf(stderr, "itracr train: log %s: write failed: %s\n", log_path, strerror(errno));
                rc = EXIT_BAD_INPUT;
                break;
            }
            if (tty) {
                double per = (now - start) / (double)(step - start_step);
                double eta = per * (double)(tc.steps - step);
                fprintf(stderr, "\rstep %ld/%ld  loss %.4f  lr %.2e  %.0f tok/s  ETA %02d:%02d:%02d   ", step, tc.steps, loss,
                        lr, tok_s, (int)(eta / 3600), (int)fmod(eta / 60, 60), (int)fmod(eta, 60));
            }
            win_tok = 0;
            win_t = now_s();
        }
        if ((tc.ckpt_every > 0 && step % tc.ckpt_every == 0) || step == tc.steps || step == end) {
            if (trainer_save(&t, out, err, sizeof err) != 0) {
                fprintf(stderr, "itracr train: checkpoint: %s\n", err);
                rc = EXIT_BAD_INPUT;
                break;
            }
        }
    }
    if (g_stop && rc == EXIT_OK) {
        if (trainer_save(&t, out, err, sizeof err) != 0) {
            fprintf(stderr, "itracr train: checkpoint: %s\n", err);
            rc = EXIT_BAD_INPUT;
        } else fprintf(stderr, "\ninterrupted: checkpoint at step %ld in %s (continue with --resume)\n", trainer_run_step(&t), out);
    }
    if (tty) fprintf(stderr, "\n");
    if (rc == EXIT_OK && !g_stop)
        fprintf(stderr, "done: %ld steps in %.1f s; model %s\n", trainer_run_step(&t) - start_step, now_s() - start, out);
    if (tc.stream)
        fprintf(stderr, "stream: %ld candidates tried: %ld rejected by the generator, %ld in another split, %ld classic, %ld over %d weight tokens, %ld thinned by frequency, %ld by class weights\n",
                stream.tried, stream.failed, stream.wrong_split, stream.classic_hits, stream.too_long, tc.max_prefix,
                stream.freq_thinned, stream.thinned);
    if (fclose(logf) != 0 && rc == EXIT_OK) {
        fprintf(stderr, "itracr train: log %s: close failed: %s\n", log_path, strerror(errno));
        rc = EXIT_BAD_INPUT;
    }
    trainer_free(&t);
done1:
    train_stream_free(&stream);
    train_stream_free(&vstream);
    train_data_free(&train);
    train_data_free(&val);
done0:
    free(data_abs);
    free(side);
    free(deflog);
    return rc;
}
