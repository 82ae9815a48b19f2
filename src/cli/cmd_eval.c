/* itracr eval: a trained meta-model against a dataset's held-out split (eval/eval_run.h),
 * the classic programs, the HTML report and the metrics JSON. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "dataset/ds_manifest.h"
#include "eval/eval_lift.h"
#include "eval/eval_run.h"
#include "eval/report.h"
#include "eval/train_log.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "io/out_path.h"
#include "meta/meta.h"
#include "rasp/rasp.h"

static const char *usage =
    "usage: itracr eval --data DIR --meta META.safetensors [--n N] [--beam K] [-o REPORT.html]\n"
    "                   [--json METRICS.json] [--split test] [--seed S] [--log TRAIN.jsonl]\n"
    "                   [--classics DIR | --no-classics] [--examples K] [--jobs J]\n"
    "                   [--no-teacher] [--no-noise] [--no-func] [--quiet]\n"
    "                   [--search K [--budget-ms T] [--order redecode|keep|sample|mix] [--alt N]\n"
    "                    [--no-prune] [--no-repair | --repair-compiles N]] [--probe]\n"
    "\n"
    "Evaluates the meta-model on the first N samples (default: all) of DIR's split (default\n"
    "test): token and row accuracy, exact match, functional equivalence, compile and decode\n"
    "rates for the decoded predictions (greedy, or beam search of width K: the headline), the\n"
    "teacher-forced predictions and a noise baseline (the same decoding with every weight\n"
    "token's payload replaced by seeded Gaussian noise of the same norm; --seed S). The classic\n"
    "programs (DIR/*.rasp of --classics, default examples/) are decompiled and marked exact,\n"
    "equivalent, wrong or out of distribution. -o writes the HTML report (training curves from\n"
    "--log, default META.safetensors.log.jsonl when it exists), --json the numbers.\n"
    "--search K also runs the verified search of `itracr decompile --search K` on every sample\n"
    "(and on the noise baseline, with the noise model as the weights) and reports top-1 and\n"
    "verified@K side by side: exact, equivalent, the share verified by weights or function,\n"
    "and the median and 95th-percentile wall time per sample of each (--budget-ms T per sample;\n"
    "--no-prune: keep the candidates the first differing sublayer rules out, as decompile).\n"
    "The search repairs its candidates as decompile does when none has the given weights; the\n"
    "line 'no repair@K' gives the candidates' own answers from the same run, and the 'repair:'\n"
    "line how many samples the repair gave the answer on (--no-repair turns it off;\n"
    "--repair-compiles N bounds its compiles per sample, default 20000).\n"
    "A dataset generated with drawn settings (gen --setting general) is evaluated sample by\n"
    "sample in each one's own vocabulary, max_seq_len and causality, and the summary and --json\n"
    "(by_setting) break top-1 and verified@K down by vocabulary kind, max_seq_len, vocabulary\n"
    "size, causality and encoding.\n"
    "--probe also reads each sample's given model (the transformed one on a dataset made with\n"
    "gen --transform) with `decompile --method probe` (from its activations, no meta-model)\n"
    "and reports how many it refused, how many programs reproduce the given model's outputs\n"
    "(verified) and how many are equivalent to the true program.\n"
    "Progress is shown when stderr is a terminal. Exit 0, 1 for bad input, 2 for usage.\n";

#define K_MAX_CLASSICS 64

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* DIR/ *.rasp in name order (malloc'ed paths). */
static int list_rasp(const char *dir, char **out, int cap) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".rasp") == 0) {
            size_t k = strlen(dir) + l + 2;
            out[n] = malloc(k);
            if (!out[n]) break;
            snprintf(out[n], k, "%s/%s", dir, e->d_name);
            n++;
        }
    }
    closedir(d);
    qsort(out, (size_t)n, sizeof *out, cmp_str);
    return n;
}

static void json_str(StrBuf *b, const char *s) {
    json_write_string(b, s ? s : "", strlen(s ? s : ""));
}

static void headline_json(StrBuf *b, const EvalMetrics *m) {
    sb_append(b, "{");
    eval_headline_json_fields(m, b);
    sb_append(b, "}");
}

/* The search's per-sample numbers: shares verified and wall-time percentiles. */
typedef struct SearchSummary {
    double share_verified, share_weights, share_function;
    double median, p95, top1_median, top1_p95; /* ms */
    double repair_median, repair_p95;          /* ms, over the samples the repair ran on */
    double cpu_s;                              /* process CPU time so far */
} SearchSummary;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of v[n] (nearest rank; sorts v). */
static double quantile(double *v, int n, double q) {
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int k = (int)ceil(q * n) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* probe's median wall time per sample. */
static double probe_median_ms(const EvalRunResult *rr) {
    if (rr->n == 0) return 0;
    double *t = malloc(sizeof(double) * (size_t)rr->n); /* [n] */
    for (int k = 0; k < rr->n; k++) t[k] = rr->res[k].probe_ms;
    double m = quantile(t, rr->n, 0.5);
    free(t);
    return m;
}

static void search_summary(const EvalRunResult *rr, SearchSummary *s) {
    memset(s, 0, sizeof *s);
    s->cpu_s = (double)clock() / CLOCKS_PER_SEC;
    int n = rr->n;
    double *v = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!v || n == 0) {
        free(v);
        return;
    }
    s->share_weights = (double)rr->n_weights / n;
    s->share_function = (double)rr->n_function / n;
    s->share_verified = s->share_weights + s->share_function;
    for (int k = 0; k < n; k++) v[k] = rr->res[k].ver_ms;
    s->median = quantile(v, n, 0.5);
    s->p95 = quantile(v, n, 0.95);
    for (int k = 0; k < n; k++) v[k] = rr->res[k].top1_ms;
    s->top1_median = quantile(v, n, 0.5);
    s->top1_p95 = quantile(v, n, 0.95);
    int nr = 0;
    for (int k = 0; k < n; k++)
        if (rr->res[k].repair_ran) v[nr++] = rr->res[k].repair_ms;
    if (nr > 0) {
        s->repair_median = quantile(v, nr, 0.5);
        s->repair_p95 = quantile(v, nr, 0.95);
    }
    free(v);
}

static const char *classic_verdict(const EvalClassic *c) {
    return c->ood ? "out of distribution" : report_verdict(c->exact, c->func);
}

/* "  12.34%", or "     n/a" for a rate with nothing to count (e.g. equivalence under --no-func). */
static const char *pct(char *buf, size_t cap, double x) {
    if (isnan(x)) snprintf(buf, cap, "%7s", "n/a");
    else snprintf(buf, cap, "%6.2f%%", 100 * x);
    return buf;
}

static void pct_line(FILE *f, const char *label, const EvalMetrics *m) {
    char a[16], b[16], c[16], d[16], e[16], g[16];
    fprintf(f, "%-15s exact %s  equivalent %s  token acc %s  row acc %s  compiles %s  decodes %s\n",
            label, pct(a, sizeof a, eval_exact_rate(m)), pct(b, sizeof b, eval_equiv_rate(m)),
            pct(c, sizeof c, eval_token_acc(m)), pct(d, sizeof d, eval_row_acc(m)),
            pct(e, sizeof e, eval_compile_rate(m)), pct(g, sizeof g, eval_decode_rate(m)));
}

/* A table of sample `sample` decoded to .rasp text in the sample's setting (malloc'ed; NULL
 * if it does not decode: the report then shows the error itself). */
static char *table_rasp(const int16_t *t, const EvalRunOptions *ro, int sample) {
    RaspProgram p;
    char err[256];
    char *s = NULL;
    GenSetting gs;
    EvalSetting st;
    if (eval_run_setting(ro, sample, &gs, &st) != 0) return NULL;
    if (pt_decode(t, st.vocab, st.n_vocab, st.max_seq_len, &p, err, sizeof err) == 0) {
        p.causal = st.causal; /* the text says `causal` as the sample was compiled */
        s = rasp_format(&p);
    }
    rasp_program_free(&p);
    return s;
}

/* What the command line asks for. */
typedef struct EvalArgs {
    const char *data_dir, *meta, *out_html, *out_json, *split, *log_path, *classics_dir, *order;
    long n, beam, seed, n_examples, jobs, search_k, budget, alt;
    bool quiet, no_classics, progress, no_prune, no_repair;
    long repair_compiles;
    EvalRunOptions ro;
    const char *html_target, *json_target; /* after the output guard; NULL: standard output */
} EvalArgs;

/* What is loaded and measured, freed by eval_state_free. */
typedef struct EvalState {
    MetaModel mm;
    bool have_mm, have_tc, have_log;
    TrainConfig tc;
    char *train_raw, *mcfg_json; /* META.train.json's text; the meta-model config as JSON */
    TrainData d;
    DsGenerator ds;
    const int32_t *settings; /* d.setting when the settings are drawn, NULL: ds's for all */
    WtOptions wt;
    EvalRunResult rr;
    SearchSummary ss;
    EvalLiftStats ls;
    TrainLog log;
    char *cpaths[K_MAX_CLASSICS];
    EvalClassic classics[K_MAX_CLASSICS];
    int n_classics, n_cpaths;
} EvalState;

enum {
    O_QUIET = 1,
    O_NO_CLASSICS,
    O_NO_TEACHER,
    O_NO_NOISE,
    O_NO_FUNC,
    O_DATA,
    O_META,
    O_N,
    O_BEAM,
    O_OUT,
    O_JSON,
    O_SPLIT,
    O_SEED,
    O_LOG,
    O_CLASSICS,
    O_EXAMPLES,
    O_JOBS,
    O_SEARCH,
    O_BUDGET,
    O_ORDER,
    O_ALT,
    O_NO_PRUNE,
    O_NO_REPAIR,
    O_REPAIR_COMPILES,
    O_PROBE
};
static const CliOpt eval_opts[] = {
    {"no-prune", 0, false, O_NO_PRUNE},
    {"no-repair", 0, false, O_NO_REPAIR},
    {"repair-compiles", 0, true, O_REPAIR_COMPILES},
    {"probe", 0, false, O_PROBE},
    {"quiet", 0, false, O_QUIET},
    {"no-classics", 0, false, O_NO_CLASSICS},
    {"no-teacher", 0, false, O_NO_TEACHER},
    {"no-noise", 0, false, O_NO_NOISE},
    {"no-func", 0, false, O_NO_FUNC},
    {"data", 0, true, O_DATA},
    {"meta", 0, true, O_META},
    {"n", 0, true, O_N},
    {"beam", 0, true, O_BEAM},
    {NULL, 'o', true, O_OUT},
    {"json", 0, true, O_JSON},
    {"split", 0, true, O_SPLIT},
    {"seed", 0, true, O_SEED},
    {"log", 0, true, O_LOG},
    {"classics", 0, true, O_CLASSICS},
    {"examples", 0, true, O_EXAMPLES},
    {"jobs", 0, true, O_JOBS},
    {"search", 0, true, O_SEARCH},
    {"budget-ms", 0, true, O_BUDGET},
    {"order", 0, true, O_ORDER},
    {"alt", 0, true, O_ALT},
};

/* Applies one option of eval_opts. Returns false after a usage error. */
static bool eval_option(int id, const char *v, EvalArgs *a) {
    switch (id) {
    case O_QUIET: a->quiet = true; return true;
    case O_NO_CLASSICS: a->no_classics = true; return true;
    case O_NO_TEACHER: a->ro.teacher = false; return true;
    case O_NO_NOISE: a->ro.noise = false; return true;
    case O_NO_FUNC: a->ro.func = false; return true;
    case O_NO_PRUNE: a->no_prune = true; return true;
    case O_NO_REPAIR: a->no_repair = true; return true;
    case O_REPAIR_COMPILES:
        return cli_parse_int("eval", "--repair-compiles", v, 1, 100000000, &a->repair_compiles);
    case O_PROBE: a->ro.probe = true; return true;
    case O_DATA: a->data_dir = v; return true;
    case O_META: a->meta = v; return true;
    case O_OUT: a->out_html = v; return true;
    case O_JSON: a->out_json = v; return true;
    case O_SPLIT: a->split = v; return true;
    case O_LOG: a->log_path = v; return true;
    case O_CLASSICS: a->classics_dir = v; return true;
    case O_ORDER: a->order = v; return true;
    case O_SEARCH: return cli_parse_int("eval", "--search", v, 1, 100000, &a->search_k);
    case O_BUDGET: return cli_parse_int("eval", "--budget-ms", v, 1, 3600000, &a->budget);
    case O_ALT: return cli_parse_int("eval", "--alt", v, 0, 16, &a->alt);
    case O_N: return cli_parse_int("eval", "--n", v, 1, 100000000, &a->n);
    case O_BEAM: return cli_parse_int("eval", "--beam", v, 1, 64, &a->beam);
    case O_SEED: return cli_parse_int("eval", "--seed", v, 0, 2147483647L, &a->seed);
    case O_EXAMPLES: return cli_parse_int("eval", "--examples", v, 0, 1000, &a->n_examples);
    case O_JOBS: return cli_parse_int("eval", "--jobs", v, 1, 256, &a->jobs);
    default: cli_usage_error("eval", "unexpected argument '%s'", v); return false;
    }
}

/* The command line into a, the outputs through the guard. Returns -1 to go on, else the
 * exit status. */
static int eval_args(int argc, char **argv, EvalArgs *a) {
    *a = (EvalArgs){.split = "test", .beam = 1, .seed = 1, .n_examples = 12, .alt = 3};
    eval_run_options_default(&a->ro);
    CliOpts ps;
    const char *v;
    cli_opts_init(&ps, "eval", argc, argv, eval_opts, CLI_NOPTS(eval_opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        if (id == CLI_HELP) {
            fputs(usage, stdout);
            return EXIT_OK;
        }
        if (id == CLI_ERR || !eval_option(id, v, a)) return EXIT_USAGE;
    }
    if (!a->data_dir) return cli_usage_error("eval", "missing --data DIR");
    if (!a->meta) return cli_usage_error("eval", "missing --meta META.safetensors");
    if (a->classics_dir && a->no_classics)
        return cli_usage_error("eval", "--classics and --no-classics together");
    if (strchr(a->split, '/') || !a->split[0])
        return cli_usage_error("eval", "bad --split '%s'", a->split);
    if (a->order && meta_cand_mode_parse(a->order, &a->ro.search_opt.cands.mode) != 0)
        return cli_usage_error("eval", "unknown --order '%s' (redecode, keep, sample or mix)",
                               a->order);
    if ((a->budget || a->order) && !a->search_k)
        return cli_usage_error("eval", "--budget-ms and --order need --search K");
    if (a->search_k && a->beam > 1)
        return cli_usage_error("eval", "--search and --beam exclude each other");
    a->ro.search = (int)a->search_k;
    a->ro.search_opt.budget_ms = (double)a->budget;
    a->ro.search_opt.cands.n_alt = (int)a->alt;
    a->ro.search_opt.prune = !a->no_prune;
    if (a->no_repair) a->ro.search_opt.repair.max_steps = 0;
    if (a->repair_compiles) a->ro.search_opt.repair.max_compiles = a->repair_compiles;
    search_options_seed(&a->ro.search_opt, (uint64_t)a->seed);
    a->progress = !a->quiet && isatty(STDERR_FILENO);
    const char *inputs[] = {a->meta, a->data_dir, a->log_path ? a->log_path : a->meta, NULL};
    OutPathSpec html_os = {.what = "HTML report",
                           .inputs = inputs,
                           .text_prefix = "<!DOCTYPE html>",
                           .allow_stdout = true},
                json_os = {.what = "JSON report",
                           .inputs = inputs,
                           .text_prefix = "{",
                           .allow_stdout = true};
    if ((a->out_html && !cli_output("eval", a->out_html, &html_os, &a->html_target)) ||
        (a->out_json && !cli_output("eval", a->out_json, &json_os, &a->json_target)))
        return EXIT_BAD_INPUT;
    return -1;
}

/* The checkpoint, its training config, the dataset's settings and split. Returns 0, or 1
 * after printing why. */
static int eval_load(const EvalArgs *a, EvalState *s) {
    char err[1024];
    if (!is_dir(a->data_dir)) {
        fprintf(stderr, "itracr eval: %s: no such dataset directory\n", a->data_dir);
        return 1;
    }
    if (access(a->meta, F_OK) != 0) {
        fprintf(stderr, "itracr eval: %s: no such checkpoint\n", a->meta);
        return 1;
    }
    if (meta_checkpoint_load(&s->mm, a->meta, (int)a->beam, err, sizeof err) != 0) {
        fprintf(stderr, "itracr eval: %s\n", err);
        return 1;
    }
    s->have_mm = true;
    char *side = train_sidecar_path(a->meta);
    bool found = false;
    int bad = train_sidecar_read(side, &s->tc, &found, NULL, &s->train_raw, err, sizeof err);
    free(side);
    if (bad) {
        fprintf(stderr, "itracr eval: %s\n", err);
        return 1;
    }
    s->have_tc = found;
    if (ds_manifest_generator(a->data_dir, &s->ds, err, sizeof err) != 0 ||
        train_data_load_split(&s->d, a->data_dir, a->split, 0, err, sizeof err) != 0) {
        fprintf(stderr, "itracr eval: %s\n", err);
        return 1;
    }
    wt_options_default(&s->wt);
    if (s->d.have_wt) s->wt = s->d.wt;
    else if (s->have_tc) s->wt = s->tc.wt;
    const WtOptions *dw = &s->d.wt, *tw = &s->tc.wt;
    if (s->have_tc && s->d.have_wt && (tw->scheme != dw->scheme || tw->norm != dw->norm)) {
        fprintf(stderr,
                "itracr eval: %s has weight tokens %s/%s but the meta-model was trained on %s/%s\n",
                a->data_dir, wt_scheme_name(dw->scheme), wt_norm_name(dw->norm),
                wt_scheme_name(tw->scheme), wt_norm_name(tw->norm));
        return 1;
    }
    if (s->d.n < 1) {
        fprintf(stderr, "itracr eval: %s: the %s split has no samples\n", a->data_dir, a->split);
        return 1;
    }
    /* drawn settings: every sample is evaluated in its own (eval/eval_setting.h) */
    if (s->ds.settings) {
        if (s->d.setting_rows != s->d.n) {
            fprintf(stderr,
                    "itracr eval: %s: the manifest says the settings are drawn per sample, but "
                    "%d of the %d samples of the %s split have no sample_setting\n",
                    a->data_dir, s->d.n - s->d.setting_rows, s->d.n, a->split);
            return 1;
        }
        s->settings = s->d.setting;
    }
    return 0;
}

/* The held-out samples. Returns 0, or 1 after printing why. */
static int eval_samples(EvalArgs *a, EvalState *s) {
    char err[1024];
    EvalRunOptions *ro = &a->ro;
    ro->beam = (int)a->beam;
    ro->seed = (uint64_t)a->seed;
    ro->vocab = s->ds.vocab;
    ro->n_vocab = s->ds.n_vocab;
    ro->max_seq_len = s->ds.max_seq_len;
    ro->settings = s->settings;
    /* a transformed dataset: the search reads (and checks against) the transformed weights */
    ro->transform = s->ds.transform;
    ro->compress_steps = s->ds.compress_steps;
    ro->sample_seed = s->d.seed_rows == s->d.n ? s->d.sample_seed : NULL;
    ro->wt = s->wt;
    ro->jobs = (int)a->jobs;
    ro->progress = a->progress;
    if (eval_run(&s->mm, &s->d, (int)a->n, ro, &s->rr, err, sizeof err) != 0) {
        fprintf(stderr, "itracr eval: %s\n", err);
        return 1;
    }
    if (s->rr.n == 0) {
        fprintf(
            stderr,
            "itracr eval: no %s sample fits the meta-model (%ld have more than %d weight tokens)\n",
            a->split, s->rr.skipped_prefix, s->mm.cfg.max_prefix);
        return 1;
    }
    return 0;
}

/* The classic programs of --classics (default examples/, skipped when missing). Returns 0,
 * or 1 after printing why. */
static int eval_classics(const EvalArgs *a, EvalState *s) {
    if (a->no_classics) return 0;
    const char *cdir = a->classics_dir ? a->classics_dir : "examples";
    if (!is_dir(cdir)) {
        if (a->classics_dir) {
            fprintf(stderr, "itracr eval: %s: no such directory\n", cdir);
            return 1;
        }
        if (!a->quiet)
            fprintf(stderr, "itracr eval: note: no examples/ here; classic programs skipped\n");
        return 0;
    }
    char err[1024];
    s->n_cpaths = list_rasp(cdir, s->cpaths, K_MAX_CLASSICS);
    for (int i = 0; i < s->n_cpaths; i++) {
        if (a->progress) fprintf(stderr, "\rclassic programs: %d/%d   ", i + 1, s->n_cpaths);
        SearchOptions cso = a->ro.search_opt;
        cso.max_candidates = a->ro.search;
        /* with drawn settings there is no one training setting to compare the classic's with */
        if (eval_classic_search(&s->mm, s->cpaths[i], &s->wt, (int)a->beam,
                                a->ro.search ? &cso : NULL, s->settings ? NULL : s->ds.vocab,
                                s->ds.n_vocab, s->ds.max_seq_len, &a->ro.equiv,
                                &s->classics[s->n_classics], err, sizeof err) != 0) {
            fprintf(stderr, "itracr eval: %s: %s\n", s->cpaths[i], err);
            return 1;
        }
        s->n_classics++;
    }
    if (a->progress) fprintf(stderr, "\r%40s\r", "");
    return 0;
}

/* The summary on standard output, then the lift ceiling (the exact decompiler on the same
 * models, docs/lift.md). Returns 0, or 1 after printing why. */
static int eval_summary(const EvalArgs *a, EvalState *s) {
    const EvalRunResult *rr = &s->rr;
    const SearchSummary *ss = &s->ss;
    search_summary(rr, &s->ss); /* its CPU time counts the classics too */
    printf(
        "evaluated %d %s samples of %s in %.1f s (%ld skipped: more than %d weight tokens; %ld decode errors)\n",
        rr->n, a->split, a->data_dir, rr->seconds, rr->skipped_prefix, s->mm.cfg.max_prefix,
        rr->decode_errors);
    pct_line(stdout, a->beam > 1 ? "decoded (beam)" : "decoded", &rr->decoded);
    if (a->ro.teacher) pct_line(stdout, "teacher-forced", &rr->teacher);
    if (a->ro.noise) pct_line(stdout, "noise baseline", &rr->noise);
    if (a->ro.search) {
        char lab[32];
        snprintf(lab, sizeof lab, "verified@%ld", a->search_k);
        pct_line(stdout, lab, &rr->verified);
        if (a->ro.search_opt.repair.max_steps > 0) {
            snprintf(lab, sizeof lab, "no repair@%ld", a->search_k);
            pct_line(stdout, lab, &rr->verified_alone);
        }
        if (a->ro.noise) pct_line(stdout, "noise verified", &rr->noise_verified);
        printf(
            "verified@%ld: %.2f%% of samples verified (weights %.2f%%, function %.2f%%); per sample: top-1 median "
            "%.1f ms, p95 %.1f ms; search median %.1f ms, p95 %.1f ms (wall); CPU %.1f s in all\n",
            a->search_k, 100 * ss->share_verified, 100 * ss->share_weights,
            100 * ss->share_function, ss->top1_median, ss->top1_p95, ss->median, ss->p95,
            ss->cpu_s);
        if (a->ro.search_opt.repair.max_steps > 0)
            printf("repair: %ld of the %ld samples no drawn candidate verified by weights were "
                   "repaired to the given weights; the candidates alone verify %.2f%%; repair "
                   "median %.1f ms, p95 %.1f ms over the samples it ran on\n",
                   rr->n_repaired, rr->n_repair_ran,
                   rr->n ? 100.0 * rr->n_alone_verified / rr->n : 0.0, ss->repair_median,
                   ss->repair_p95);
    }
    if (rr->have_breakdown) {
        char lab[32];
        snprintf(lab, sizeof lab, "verified@%ld", a->search_k);
        eval_breakdown_print(&rr->by_setting, lab, stdout);
    }
    if (a->ro.probe)
        printf("probe (activations, no meta-model): %ld/%d equivalent to the true program "
               "(%.1f%%), %ld reproduce the given model's outputs, %ld refused; median %.1f ms\n",
               rr->probe_equivalent, rr->n + rr->probe_extra,
               rr->n + rr->probe_extra ? 100.0 * rr->probe_equivalent / (rr->n + rr->probe_extra)
                                       : 0.0,
               rr->probe_verified, rr->probe_refused, probe_median_ms(rr));
    if (a->ro.probe)
        printf("the true program itself reproduces the given model's outputs on %ld of them "
               "(the ceiling of 'reproduce' where the weights only approximate it)\n",
               rr->probe_truth_verified);
    if (a->ro.probe && a->ro.noise) {
        int tot = rr->n + rr->probe_extra;
        printf("probe on noise weights (the baseline): %ld/%d equivalent to the true program "
               "(%.1f%%), %ld reproduce the noise model's outputs\n",
               rr->noise_probe_equivalent, tot, tot ? 100.0 * rr->noise_probe_equivalent / tot : 0.0,
               rr->noise_probe_verified);
    }
    if (a->ro.probe && a->search_k > 0) {
        int tot = rr->n + rr->probe_extra;
        printf("probe, else the meta-model's search (decompile's order without lift): %ld/%d "
               "equivalent (%.1f%%), %ld verified\n",
               rr->either_equivalent, tot, tot ? 100.0 * rr->either_equivalent / tot : 0.0,
               rr->either_verified);
        printf("the meta-model's search, else probe: %ld/%d exact (%.1f%%), %ld/%d equivalent "
               "(%.1f%%)\n",
               rr->search_first_exact, tot, tot ? 100.0 * rr->search_first_exact / tot : 0.0,
               rr->search_first_equivalent, tot,
               tot ? 100.0 * rr->search_first_equivalent / tot : 0.0);
    }
    for (int i = 0; i < s->n_classics; i++)
        printf("classic %-20s %-20s %s\n", s->classics[i].name, classic_verdict(&s->classics[i]),
               s->classics[i].detail);
    char err[1024];
    EvalLiftStats *ls = &s->ls;
    if (eval_lift_ceiling(&s->d, rr->sample, rr->n, s->ds.vocab, s->ds.n_vocab, s->ds.max_seq_len,
                          s->settings, s->cpaths, s->n_cpaths, ls, err, sizeof err)) {
        fprintf(stderr, "itracr eval: lift: %s\n", err);
        return 1;
    }
    printf(
        "lift (exact decompiler, ceiling): samples verified %d/%d (%.1f%%), %d with every function named; "
        "classics verified %d/%d; median %.2f ms\n",
        ls->verified, ls->n, ls->n ? 100.0 * ls->verified / ls->n : 0.0, ls->named_all,
        ls->classics_verified, ls->classics, ls->median_ms);
    printf(
        "lift on the same models rotated + permuted (basis canonicalised): verified %d/%d (%.1f%%), "
        "%d with the recompiled weights equal to the canonicalised ones; median %.2f ms\n",
        ls->rot_verified, ls->n, ls->n ? 100.0 * ls->rot_verified / ls->n : 0.0, ls->rot_exact,
        ls->rot_median_ms);
    if (s->ds.transform == ACC_TF_COMPRESS || s->ds.transform == ACC_TF_DISTILL)
        printf("(both lift rows read the stock models: this dataset's weights are %s, which lift "
               "refuses)\n",
               s->ds.transform == ACC_TF_COMPRESS ? "compressed" : "distilled");
    return 0;
}

/* The report's examples: half successes, half failures, the first of each in sample order.
 * ex_text[3 k .. 3 k + 2] hold example k's title and texts. Returns the count. */
static int pick_examples(const EvalArgs *a, const EvalState *s, ReportExample *ex, char **ex_text) {
    int n_ex = 0, want_ok = (int)(a->n_examples + 1) / 2, want_bad = (int)a->n_examples - want_ok;
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < s->rr.n && n_ex < a->n_examples; k++) {
            const EvalSampleResult *x = &s->rr.res[k];
            const int16_t *truth = s->d.prog + (size_t)s->rr.sample[k] * PT_ROWS * PT_COLS;
            EvalPair pr;
            eval_compare(truth, x->dec, &pr);
            bool ok = pr.exact || x->dec_func == EVAL_FN_EQUIVALENT;
            if (pass == 0 && (!ok || want_ok == 0)) continue;
            if (pass == 1 && (ok || want_bad == 0)) continue;
            if (pass == 0) want_ok--;
            else want_bad--;
            char title[64];
            snprintf(title, sizeof title, "%s sample %d", a->split, s->rr.sample[k]);
            ex_text[3 * n_ex] = strdup(title);
            ex_text[3 * n_ex + 1] = table_rasp(truth, &a->ro, s->rr.sample[k]);
            ex_text[3 * n_ex + 2] = table_rasp(x->dec, &a->ro, s->rr.sample[k]);
            ReportExample e = {ex_text[3 * n_ex],     truth,       x->dec,   ex_text[3 * n_ex + 1],
                               ex_text[3 * n_ex + 2], x->dec_func, x->detail};
            ex[n_ex++] = e;
        }
    return n_ex;
}

/* The report's settings table (kv[17]; the strings live in txt). */
typedef struct SettingsText {
    char n[64], skip[64], beam[32], seed[32], time[64], params[64], equiv[160], step[32];
} SettingsText;

static int settings_kv(const EvalArgs *a, const EvalState *s, SettingsText *t, ReportKV *kv) {
    const EquivOptions *eq = &a->ro.equiv;
    snprintf(t->n, sizeof t->n, "%d of %d", s->rr.n, s->d.n);
    snprintf(t->skip, sizeof t->skip, "%ld (more than %d weight tokens)", s->rr.skipped_prefix,
             s->mm.cfg.max_prefix);
    snprintf(t->beam, sizeof t->beam, a->beam > 1 ? "beam %ld" : "greedy", a->beam);
    snprintf(t->seed, sizeof t->seed, "%ld", a->seed);
    snprintf(t->time, sizeof t->time, "%.1f s", s->rr.seconds);
    snprintf(t->params, sizeof t->params, "%zu", s->mm.lay.n_params);
    snprintf(t->step, sizeof t->step, "%ld", s->mm.step);
    char rtol[JSON_NUMBER_CAP], atol[JSON_NUMBER_CAP]; /* %g would cut them to 6 digits */
    json_number_text(eq->rtol, rtol);
    json_number_text(eq->atol, atol);
    snprintf(t->equiv, sizeof t->equiv,
             "exhaustive up to %ld inputs, else %d random (seed %llu); rtol %s, atol %s",
             eq->max_exhaustive, eq->n_random, (unsigned long long)eq->seed, rtol, atol);
    ReportKV all[] = {
        {"meta-model checkpoint", a->meta},
        {"meta-model config", s->mcfg_json ? s->mcfg_json : ""},
        {"parameters", t->params},
        {"training steps", t->step},
        {"training config",
         s->train_raw ? s->train_raw : "(no .train.json next to the checkpoint)"},
        {"dataset", a->data_dir},
        {"split", a->split},
        {"samples evaluated", t->n},
        {"samples skipped", t->skip},
        {"generator", s->ds.json ? s->ds.json : ""},
        {"weight tokens", wt_scheme_name(s->wt.scheme)},
        {"weight-token norm", wt_norm_name(s->wt.norm)},
        {"decoding", t->beam},
        {"noise baseline",
         "every weight token's payload replaced by Gaussian noise of the same L2 norm; ids kept"},
        {"noise seed", t->seed},
        {"functional check", t->equiv},
        {"evaluation time", t->time},
    };
    memcpy(kv, all, sizeof all);
    return (int)(sizeof all / sizeof all[0]);
}

/* -o: the HTML report. Returns 0, or 1 after printing why. */
static int eval_html(const EvalArgs *a, EvalState *s) {
    int cap = (int)(a->n_examples > 0 ? a->n_examples : 1), rc = 1;
    ReportExample *ex = calloc((size_t)cap, sizeof *ex);
    char **ex_text = calloc((size_t)cap * 3, sizeof *ex_text), err[1024];
    if (!ex || !ex_text) {
        fprintf(stderr, "itracr eval: out of memory\n");
        goto done;
    }
    int n_ex = pick_examples(a, s, ex, ex_text);
    ReportClassic rc_[K_MAX_CLASSICS];
    for (int i = 0; i < s->n_classics; i++) {
        const EvalClassic *c = &s->classics[i];
        rc_[i] = (ReportClassic){c->name, c->exact, c->func, c->detail, c->pred_rasp};
    }
    SettingsText st;
    ReportKV kv[24];
    int n_kv = settings_kv(a, s, &st, kv);
    const SearchSummary *ss = &s->ss;
    char s_vlab[48], s_vnote[512];
    snprintf(s_vlab, sizeof s_vlab, "verified@%ld", a->search_k);
    snprintf(
        s_vnote, sizeof s_vnote,
        "verified@%ld: up to %ld candidates per sample (order %s, top-%ld alternatives per position%s), "
        "the first that compiles to the given weights (weights) or matches their forward pass on every "
        "input (function); %.2f%% of samples verified (weights %.2f%%, function %.2f%%). Wall time per "
        "sample: top-1 median %.1f ms, p95 %.1f ms; search median %.1f ms, p95 %.1f ms.",
        a->search_k, a->search_k, meta_cand_mode_name(a->ro.search_opt.cands.mode), a->alt,
        a->budget ? ", time budget per sample" : "", 100 * ss->share_verified,
        100 * ss->share_weights, 100 * ss->share_function, ss->top1_median, ss->top1_p95,
        ss->median, ss->p95);
    const EvalRunResult *rr = &s->rr;
    const EvalRunOptions *ro = &a->ro;
    ReportInput in = {NULL,
                      &rr->decoded,
                      ro->teacher ? &rr->teacher : NULL,
                      ro->noise ? &rr->noise : NULL,
                      ex,
                      n_ex,
                      s->have_log ? &s->log : NULL,
                      kv,
                      n_kv,
                      rc_,
                      s->n_classics,
                      ro->search ? &rr->verified : NULL,
                      ro->search && ro->noise ? &rr->noise_verified : NULL,
                      s_vlab,
                      ro->search ? s_vnote : NULL};
    StrBuf hb;
    sb_init(&hb);
    report_html(&hb, &in);
    rc = out_write(a->html_target, hb.s, hb.len, err, sizeof err) != 0;
    if (rc) fprintf(stderr, "itracr eval: %s\n", err);
    sb_free(&hb);
    for (int i = 0; i < n_ex * 3; i++) free(ex_text[i]);
done:
    free(ex_text);
    free(ex);
    return rc;
}

/* ', "key": number' (json_number_text: the shortest text that reads back). */
static void json_kv_num(StrBuf *b, const char *key, double v) {
    sb_printf(b, ", \"%s\": ", key);
    json_write_number(b, v);
}

/* The "verified" object of --json: the search's metrics and per-sample times. */
static void json_verified(StrBuf *js, const EvalArgs *a, const EvalState *s) {
    const SearchSummary *ss = &s->ss;
    sb_append(js, "{");
    eval_headline_json_fields(&s->rr.verified, js);
    sb_printf(js, ", \"K\": %ld, \"budget_ms\": %ld, \"order\": \"%s\", \"alt\": %ld", a->search_k,
              a->budget, meta_cand_mode_name(a->ro.search_opt.cands.mode), a->alt);
    if (a->no_prune) sb_append(js, ", \"prune\": false");
    sb_printf(js, ", \"repair\": %s, \"repair_ran\": %ld, \"repaired\": %ld",
              a->ro.search_opt.repair.max_steps > 0 ? "true" : "false", s->rr.n_repair_ran,
              s->rr.n_repaired);
    json_kv_num(js, "repair_median_ms", ss->repair_median);
    json_kv_num(js, "repair_p95_ms", ss->repair_p95);
    json_kv_num(js, "share_verified_alone",
                s->rr.n ? (double)s->rr.n_alone_verified / s->rr.n : 0.0);
    sb_append(js, ", \"alone\": ");
    headline_json(js, &s->rr.verified_alone);
    json_kv_num(js, "share_verified", ss->share_verified);
    json_kv_num(js, "share_weights", ss->share_weights);
    json_kv_num(js, "share_function", ss->share_function);
    json_kv_num(js, "median_ms", ss->median);
    json_kv_num(js, "p95_ms", ss->p95);
    json_kv_num(js, "top1_median_ms", ss->top1_median);
    json_kv_num(js, "top1_p95_ms", ss->top1_p95);
    sb_printf(js, ", \"search_errors\": %ld, \"noise\": ", s->rr.search_errors);
    if (a->ro.noise) headline_json(js, &s->rr.noise_verified);
    else sb_append(js, "null");
    sb_append(js, "}");
}

/* One classic program in --json. */
static void json_classic(StrBuf *js, const EvalClassic *c) {
    sb_append(js, "{\"name\": ");
    json_str(js, c->name);
    sb_append(js, ", \"verdict\": ");
    json_str(js, classic_verdict(c));
    sb_append(js, ", \"check\": ");
    json_str(js, eval_func_name(c->func));
    sb_printf(js, ", \"weight_tokens\": %d, \"verified\": ", c->n_wt);
    if (c->searched) json_str(js, search_verdict_name(c->verdict));
    else sb_append(js, "null");
    sb_append(js, ", \"detail\": ");
    json_str(js, c->detail);
    sb_append(js, ", \"decompiled\": ");
    if (c->pred_rasp) json_str(js, c->pred_rasp);
    else sb_append(js, "null");
    sb_append(js, "}");
}

/* A metrics object, or null when that evaluation was off. */
static void json_metrics_or_null(StrBuf *js, const char *key, const EvalMetrics *m, bool on,
                                 bool headline) {
    sb_printf(js, ",\n \"%s\": ", key);
    if (!on) sb_append(js, "null");
    else if (headline) headline_json(js, m);
    else eval_metrics_json(m, js);
}

/* --json: the numbers. Returns 0, or 1 after printing why. */
static int eval_json(const EvalArgs *a, const EvalState *s) {
    const EvalRunResult *rr = &s->rr;
    const EvalLiftStats *ls = &s->ls;
    StrBuf js;
    sb_init(&js);
    sb_append(&js, "{\"headline\": ");
    headline_json(&js, &rr->decoded);
    sb_append(&js, ",\n \"verified\": ");
    if (a->ro.search) json_verified(&js, a, s);
    else sb_append(&js, "null");
    /* only with per-sample settings: a fixed-setting dataset's JSON keeps its bytes */
    if (rr->have_breakdown) {
        sb_append(&js, ",\n \"by_setting\": ");
        eval_breakdown_json(&rr->by_setting, &js);
    }
    json_metrics_or_null(&js, "teacher_forced_headline", &rr->teacher, a->ro.teacher, true);
    json_metrics_or_null(&js, "noise_headline", &rr->noise, a->ro.noise, true);
    json_metrics_or_null(&js, "decoded", &rr->decoded, true, false);
    json_metrics_or_null(&js, "teacher_forced", &rr->teacher, a->ro.teacher, false);
    json_metrics_or_null(&js, "noise", &rr->noise, a->ro.noise, false);
    sb_printf(
        &js,
        ",\n \"noise_method\": \"gaussian payload, same per-token L2 norm, ids kept\", \"noise_seed\": %ld",
        a->seed);
    sb_printf(
        &js,
        ",\n \"lift_ceiling\": {\"samples\": %d, \"lifted\": %d, \"verified\": %d, \"named_all\": %d, "
        "\"classics\": %d, \"classics_verified\": %d",
        ls->n, ls->lifted, ls->verified, ls->named_all, ls->classics, ls->classics_verified);
    json_kv_num(&js, "median_ms", ls->median_ms);
    sb_append(&js, "}");
    if (a->ro.probe) {
        sb_printf(&js,
                  ",\n \"probe\": {\"samples\": %d, \"equivalent\": %ld, \"verified\": %ld, "
                  "\"refused\": %ld",
                  rr->n + rr->probe_extra, rr->probe_equivalent, rr->probe_verified,
                  rr->probe_refused);
        sb_printf(&js, ", \"truth_verified\": %ld", rr->probe_truth_verified);
        json_kv_num(&js, "median_ms", probe_median_ms(rr));
        if (a->search_k > 0)
            sb_printf(&js,
                      ", \"then_search\": {\"equivalent\": %ld, \"verified\": %ld}"
                      ", \"after_search\": {\"exact\": %ld, \"equivalent\": %ld}",
                      rr->either_equivalent, rr->either_verified, rr->search_first_exact,
                      rr->search_first_equivalent);
        if (a->ro.noise)
            sb_printf(&js, ", \"noise\": {\"equivalent\": %ld, \"verified\": %ld}",
                      rr->noise_probe_equivalent, rr->noise_probe_verified);
        sb_append(&js, "}");
    }
    sb_printf(
        &js,
        ",\n \"lift_rotated\": {\"samples\": %d, \"lifted\": %d, \"verified\": %d, \"exact\": %d",
        ls->n, ls->rot_lifted, ls->rot_verified, ls->rot_exact);
    json_kv_num(&js, "median_ms", ls->rot_median_ms);
    sb_append(&js, "}");
    sb_append(&js, ",\n \"classics\": [");
    for (int i = 0; i < s->n_classics; i++) {
        sb_append(&js, i ? ",\n  " : "\n  ");
        json_classic(&js, &s->classics[i]);
    }
    sb_append(&js, "],\n \"data\": ");
    json_str(&js, a->data_dir);
    sb_append(&js, ", \"split\": ");
    json_str(&js, a->split);
    sb_append(&js, ", \"meta\": ");
    json_str(&js, a->meta);
    sb_printf(
        &js,
        ", \"samples\": %d, \"split_samples\": %d, \"skipped_over_prefix\": %ld, \"decode_errors\": %ld, "
        "\"beam\": %ld",
        rr->n, s->d.n, rr->skipped_prefix, rr->decode_errors, a->beam);
    json_kv_num(&js, "seconds", rr->seconds);
    sb_printf(&js, ", \"meta_config\": %s, \"generator\": %s}\n",
              s->mcfg_json ? s->mcfg_json : "null", s->ds.json ? s->ds.json : "null");
    char err[1024];
    int rc = out_write(a->json_target, js.s, js.len, err, sizeof err) != 0;
    if (rc) fprintf(stderr, "itracr eval: %s\n", err);
    sb_free(&js);
    return rc;
}

/* The training curves for the report: --log, else META.log.jsonl when it exists. */
static void eval_load_log(const EvalArgs *a, EvalState *s) {
    char *deflog = a->log_path ? NULL : train_log_path(a->meta), err[1024];
    const char *path = a->log_path ? a->log_path : access(deflog, F_OK) == 0 ? deflog : NULL;
    if (path && a->out_html) {
        if (train_log_load(path, &s->log, err, sizeof err) != 0)
            fprintf(stderr, "itracr eval: warning: %s\n", err);
        else s->have_log = true;
    }
    free(deflog);
}

static void eval_state_free(EvalState *s) {
    for (int i = 0; i < s->n_classics; i++) eval_classic_free(&s->classics[i]);
    for (int i = 0; i < s->n_cpaths; i++) free(s->cpaths[i]);
    if (s->have_log) train_log_free(&s->log);
    free(s->mcfg_json);
    free(s->train_raw);
    ds_generator_free(&s->ds);
    eval_run_result_free(&s->rr);
    train_data_free(&s->d);
    if (s->have_mm) meta_model_free(&s->mm);
}

int cmd_eval(int argc, char **argv) {
    EvalArgs a;
    int rc = eval_args(argc, argv, &a);
    if (rc >= 0) return rc;
    EvalState *s = calloc(1, sizeof *s);
    if (!s) abort();
    train_data_init(&s->d);
    rc = EXIT_BAD_INPUT;
    if (eval_load(&a, s) || eval_samples(&a, s) || eval_classics(&a, s) || eval_summary(&a, s))
        goto done;
    eval_load_log(&a, s);
    s->mcfg_json = meta_config_to_json(&s->mm.cfg);
    if (a.out_html && eval_html(&a, s)) goto done;
    if (a.out_json && eval_json(&a, s)) goto done;
    rc = EXIT_OK;
done:
    eval_state_free(s);
    free(s);
    return rc;
}
