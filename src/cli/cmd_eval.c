/* itracr eval: a trained meta-model against a dataset's held-out split (eval/eval_run.h),
 * the classic programs, the HTML report and the metrics JSON. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "eval/eval_lift.h"
#include "eval/eval_run.h"
#include "eval/report.h"
#include "eval/train_log.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "io/out_path.h"
#include "meta/meta_checkpoint.h"
#include "meta/train.h"
#include "meta/train_sidecar.h"
#include "rasp/rasp.h"

static const char *usage =
    "usage: itracr eval --data DIR --meta META.safetensors [--n N] [--beam K] [-o REPORT.html]\n"
    "                   [--json METRICS.json] [--split test] [--seed S] [--log TRAIN.jsonl]\n"
    "                   [--classics DIR | --no-classics] [--examples K] [--jobs J]\n"
    "                   [--no-teacher] [--no-noise] [--no-func] [--quiet]\n"
    "                   [--search K [--budget-ms T] [--order redecode|keep|sample] [--alt N]]\n"
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
    "and the median and 95th-percentile wall time per sample of each (--budget-ms T per sample).\n"
    "Progress is shown when stderr is a terminal. Exit 0, 1 for bad input, 2 for usage.\n";

#define K_MAX_CLASSICS 64

static char *cat2(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s", a, b);
    return s;
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The dataset's generator settings from DIR/manifest.json: vocab (integers), max_seq_len and
 * the weight-token options. */
typedef struct DataSettings {
    Value vocab[64];
    int n_vocab, max_seq_len;
    char *generator_json; /* malloc'ed */
} DataSettings;

static int read_manifest(const char *dir, DataSettings *ds, char *err, size_t errcap) {
    memset(ds, 0, sizeof *ds);
    char *path = cat2(dir, "/manifest.json");
    cJSON *root = NULL;
    int rc = 1;
    if (!path) {
        snprintf(err, errcap, "out of memory");
        return 1;
    }
    if (access(path, F_OK) != 0) {
        snprintf(err, errcap, "%s: not a dataset made by `itracr gen` (no manifest.json)", dir);
        goto done;
    }
    if (json_read_file(path, &root, err, errcap) != 0) goto done;
    const cJSON *gen = NULL, *vocab = NULL;
    int64_t msl = 0;
    if (json_get_object(root, "generator", path, &gen, err, errcap) != 0) goto done;
    if (json_get_array(gen, "vocab", path, &vocab, err, errcap) != 0) goto done;
    if (json_get_int(gen, "max_seq_len", path, &msl, err, errcap) != 0) goto done;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        int64_t v;
        if (json_as_int(it, "generator.vocab", &v, err, errcap) != 0) goto done;
        if (ds->n_vocab >= 64) {
            snprintf(err, errcap, "%s: vocab has more than 64 tokens", path);
            goto done;
        }
        ds->vocab[ds->n_vocab++] = val_int(v);
    }
    if (ds->n_vocab < 1 || msl < 1 || msl > 1024) {
        snprintf(err, errcap, "%s: bad generator vocab/max_seq_len", path);
        goto done;
    }
    ds->max_seq_len = (int)msl;
    ds->generator_json = cJSON_PrintUnformatted(gen);
    rc = 0;
done:
    cJSON_Delete(root);
    free(path);
    return rc;
}

/* The training config written next to the checkpoint (META.train.json), if any; *bad is set
 * (after printing why) when the file exists but is not a training config. */
static bool read_train_config(const char *meta, TrainConfig *tc, char **raw, bool *bad) {
    char *p = train_sidecar_path(meta), err[1024];
    bool found = false;
    *bad = !p || train_sidecar_read(p, tc, &found, NULL, raw, err, sizeof err) != 0;
    if (*bad) fprintf(stderr, "itracr eval: %s\n", p ? err : "out of memory");
    free(p);
    return found && !*bad;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

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

static void json_str(StrBuf *b, const char *s) { json_write_string(b, s ? s : "", strlen(s ? s : "")); }

static void headline_json(StrBuf *b, const EvalMetrics *m) {
    sb_append(b, "{");
    eval_headline_json_fields(m, b);
    sb_append(b, "}");
}

/* The search's per-sample numbers: shares verified and wall-time percentiles. */
typedef struct SearchSummary {
    double share_verified, share_weights, share_function;
    double median, p95, top1_median, top1_p95; /* ms */
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
    fprintf(f, "%-15s exact %s  equivalent %s  token acc %s  row acc %s  compiles %s  decodes %s\n", label,
            pct(a, sizeof a, eval_exact_rate(m)), pct(b, sizeof b, eval_equiv_rate(m)), pct(c, sizeof c, eval_token_acc(m)),
            pct(d, sizeof d, eval_row_acc(m)), pct(e, sizeof e, eval_compile_rate(m)), pct(g, sizeof g, eval_decode_rate(m)));
}

/* A table decoded to .rasp text with the dataset's vocabulary (malloc'ed; NULL if it does
 * not decode: the report then shows the error itself). */
static char *table_rasp(const int16_t *t, const DataSettings *ds) {
    RaspProgram p;
    char err[256];
    char *s = NULL;
    if (pt_decode(t, ds->vocab, ds->n_vocab, ds->max_seq_len, &p, err, sizeof err) == 0) s = rasp_format(&p);
    rasp_program_free(&p);
    return s;
}

int cmd_eval(int argc, char **argv) {
    const char *data_dir = NULL, *meta = NULL, *out_html = NULL, *out_json = NULL, *split = "test";
    const char *log_path = NULL, *classics_dir = NULL;
    long n = 0, beam = 1, seed = 1, n_examples = 12, jobs = 0, search_k = 0, budget = 0, alt = 3;
    const char *order = NULL;
    bool quiet = false, no_classics = false;
    EvalRunOptions ro;
    eval_run_options_default(&ro);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--quiet") == 0) quiet = true;
        else if (strcmp(a, "--no-classics") == 0) no_classics = true;
        else if (strcmp(a, "--no-teacher") == 0) ro.teacher = false;
        else if (strcmp(a, "--no-noise") == 0) ro.noise = false;
        else if (strcmp(a, "--no-func") == 0) ro.func = false;
        else if (strcmp(a, "--data") == 0 || strcmp(a, "--meta") == 0 || strcmp(a, "--n") == 0 ||
                 strcmp(a, "--beam") == 0 || strcmp(a, "-o") == 0 || strcmp(a, "--json") == 0 ||
                 strcmp(a, "--split") == 0 || strcmp(a, "--seed") == 0 || strcmp(a, "--log") == 0 ||
                 strcmp(a, "--classics") == 0 || strcmp(a, "--examples") == 0 || strcmp(a, "--jobs") == 0 ||
                 strcmp(a, "--search") == 0 || strcmp(a, "--budget-ms") == 0 || strcmp(a, "--order") == 0 ||
                 strcmp(a, "--alt") == 0) {
            if (i + 1 >= argc) return cli_usage_error("eval", "%s needs a value", a);
            const char *v = argv[++i];
            if (strcmp(a, "--data") == 0) data_dir = v;
            else if (strcmp(a, "--meta") == 0) meta = v;
            else if (strcmp(a, "-o") == 0) out_html = v;
            else if (strcmp(a, "--json") == 0) out_json = v;
            else if (strcmp(a, "--split") == 0) split = v;
            else if (strcmp(a, "--log") == 0) log_path = v;
            else if (strcmp(a, "--classics") == 0) classics_dir = v;
            else if (strcmp(a, "--order") == 0) order = v;
            else if (strcmp(a, "--search") == 0) {
                if (!cli_parse_int("eval", a, v, 1, 100000, &search_k)) return EXIT_USAGE;
            } else if (strcmp(a, "--budget-ms") == 0) {
                if (!cli_parse_int("eval", a, v, 1, 3600000, &budget)) return EXIT_USAGE;
            } else if (strcmp(a, "--alt") == 0) {
                if (!cli_parse_int("eval", a, v, 0, 16, &alt)) return EXIT_USAGE;
            } else if (strcmp(a, "--n") == 0) {
                if (!cli_parse_int("eval", a, v, 1, 100000000, &n)) return EXIT_USAGE;
            } else if (strcmp(a, "--beam") == 0) {
                if (!cli_parse_int("eval", a, v, 1, 64, &beam)) return EXIT_USAGE;
            } else if (strcmp(a, "--seed") == 0) {
                if (!cli_parse_int("eval", a, v, 0, 2147483647L, &seed)) return EXIT_USAGE;
            } else if (strcmp(a, "--examples") == 0) {
                if (!cli_parse_int("eval", a, v, 0, 1000, &n_examples)) return EXIT_USAGE;
            } else if (!cli_parse_int("eval", a, v, 1, 256, &jobs)) return EXIT_USAGE;
        } else if (a[0] == '-' && a[1]) return cli_usage_error("eval", "unknown option '%s'", a);
        else return cli_usage_error("eval", "unexpected argument '%s'", a);
    }
    if (!data_dir) return cli_usage_error("eval", "missing --data DIR");
    if (!meta) return cli_usage_error("eval", "missing --meta META.safetensors");
    if (classics_dir && no_classics) return cli_usage_error("eval", "--classics and --no-classics together");
    if (strchr(split, '/') || !split[0]) return cli_usage_error("eval", "bad --split '%s'", split);
    if (order && meta_cand_mode_parse(order, &ro.search_opt.cands.mode) != 0)
        return cli_usage_error("eval", "unknown --order '%s' (redecode, keep or sample)", order);
    if ((budget || order) && !search_k) return cli_usage_error("eval", "--budget-ms and --order need --search K");
    if (search_k && beam > 1) return cli_usage_error("eval", "--search and --beam exclude each other");
    ro.search = (int)search_k;
    ro.search_opt.budget_ms = (double)budget;
    ro.search_opt.cands.n_alt = (int)alt;
    search_options_seed(&ro.search_opt, (uint64_t)seed);
    bool progress = !quiet && isatty(STDERR_FILENO);
    const char *eval_inputs[] = {meta, data_dir, log_path ? log_path : meta, NULL};
    OutPathSpec html_os = {.what = "HTML report", .inputs = eval_inputs, .text_prefix = "<!DOCTYPE html>",
                           .allow_stdout = true},
                json_os = {.what = "JSON report", .inputs = eval_inputs, .text_prefix = "{", .allow_stdout = true};
    const char *html_target = NULL, *json_target = NULL; /* NULL: standard output */
    if ((out_html && !cli_output("eval", out_html, &html_os, &html_target)) ||
        (out_json && !cli_output("eval", out_json, &json_os, &json_target)))
        return EXIT_BAD_INPUT;

    char err[1024];
    int rc = EXIT_BAD_INPUT;
    MetaModel mm;
    bool have_mm = false;
    TrainData d;
    train_data_init(&d);
    DataSettings ds;
    memset(&ds, 0, sizeof ds);
    EvalRunResult rr;
    memset(&rr, 0, sizeof rr);
    TrainLog log;
    memset(&log, 0, sizeof log);
    bool have_log = false;
    char *train_raw = NULL, *deflog = NULL, *mcfg_json = NULL;
    char *cpaths[K_MAX_CLASSICS];
    EvalClassic classics[K_MAX_CLASSICS];
    int n_classics = 0, n_cpaths = 0;
    ReportExample *ex = NULL;
    char **ex_text = NULL;
    int n_ex = 0;
    StrBuf js;
    sb_init(&js);

    /* ---- inputs ---- */
    if (!is_dir(data_dir)) {
        fprintf(stderr, "itracr eval: %s: no such dataset directory\n", data_dir);
        goto done;
    }
    if (access(meta, F_OK) != 0) {
        fprintf(stderr, "itracr eval: %s: no such checkpoint\n", meta);
        goto done;
    }
    if (meta_checkpoint_load(&mm, meta, (int)beam, err, sizeof err) != 0) {
        fprintf(stderr, "itracr eval: %s\n", err);
        goto done;
    }
    have_mm = true;
    TrainConfig tc;
    bool bad_tc = false, have_tc = read_train_config(meta, &tc, &train_raw, &bad_tc);
    if (bad_tc) goto done;
    if (read_manifest(data_dir, &ds, err, sizeof err) != 0) {
        fprintf(stderr, "itracr eval: %s\n", err);
        goto done;
    }
    if (train_data_load_split(&d, data_dir, split, 0, err, sizeof err) != 0) {
        fprintf(stderr, "itracr eval: %s\n", err);
        goto done;
    }
    WtOptions wt;
    wt_options_default(&wt);
    if (d.have_wt) wt = d.wt;
    else if (have_tc) wt = tc.wt;
    if (have_tc && d.have_wt && (tc.wt.scheme != d.wt.scheme || tc.wt.norm != d.wt.norm)) {
        fprintf(stderr, "itracr eval: %s has weight tokens %s/%s but the meta-model was trained on %s/%s\n", data_dir,
                wt_scheme_name(d.wt.scheme), wt_norm_name(d.wt.norm), wt_scheme_name(tc.wt.scheme),
                wt_norm_name(tc.wt.norm));
        goto done;
    }
    if (d.n < 1) {
        fprintf(stderr, "itracr eval: %s: the %s split has no samples\n", data_dir, split);
        goto done;
    }

    /* ---- the held-out samples ---- */
    ro.beam = (int)beam;
    ro.seed = (uint64_t)seed;
    ro.vocab = ds.vocab;
    ro.n_vocab = ds.n_vocab;
    ro.max_seq_len = ds.max_seq_len;
    ro.jobs = (int)jobs;
    ro.progress = progress;
    if (eval_run(&mm, &d, (int)n, &ro, &rr, err, sizeof err) != 0) {
        fprintf(stderr, "itracr eval: %s\n", err);
        goto done;
    }
    if (rr.n == 0) {
        fprintf(stderr, "itracr eval: no %s sample fits the meta-model (%ld have more than %d weight tokens)\n", split,
                rr.skipped_prefix, mm.cfg.max_prefix);
        goto done;
    }

    /* ---- classic programs ---- */
    if (!no_classics) {
        const char *cdir = classics_dir ? classics_dir : "examples";
        if (!is_dir(cdir)) {
            if (classics_dir) {
                fprintf(stderr, "itracr eval: %s: no such directory\n", cdir);
                goto done;
            }
            if (!quiet) fprintf(stderr, "itracr eval: note: no examples/ here; classic programs skipped\n");
        } else {
            n_cpaths = list_rasp(cdir, cpaths, K_MAX_CLASSICS);
            for (int i = 0; i < n_cpaths; i++) {
                if (progress) fprintf(stderr, "\rclassic programs: %d/%d   ", i + 1, n_cpaths);
                SearchOptions cso = ro.search_opt;
                cso.max_candidates = ro.search;
                if (eval_classic_search(&mm, cpaths[i], &wt, (int)beam, ro.search ? &cso : NULL, ds.vocab, ds.n_vocab,
                                 ds.max_seq_len, &ro.equiv,
                                 &classics[n_classics], err, sizeof err) != 0) {
                    fprintf(stderr, "itracr eval: %s: %s\n", cpaths[i], err);
                    goto done;
                }
                n_classics++;
            }
            if (progress) fprintf(stderr, "\r%40s\r", "");
        }
    }

    /* ---- summary on stdout ---- */
    printf("evaluated %d %s samples of %s in %.1f s (%ld skipped: more than %d weight tokens; %ld decode errors)\n",
           rr.n, split, data_dir, rr.seconds, rr.skipped_prefix, mm.cfg.max_prefix, rr.decode_errors);
    pct_line(stdout, beam > 1 ? "decoded (beam)" : "decoded", &rr.decoded);
    if (ro.teacher) pct_line(stdout, "teacher-forced", &rr.teacher);
    if (ro.noise) pct_line(stdout, "noise baseline", &rr.noise);
    SearchSummary ss;
    search_summary(&rr, &ss);
    if (ro.search) {
        char lab[32];
        snprintf(lab, sizeof lab, "verified@%ld", search_k);
        pct_line(stdout, lab, &rr.verified);
        if (ro.noise) pct_line(stdout, "noise verified", &rr.noise_verified);
        printf("verified@%ld: %.2f%% of samples verified (weights %.2f%%, function %.2f%%); per sample: top-1 median "
               "%.1f ms, p95 %.1f ms; search median %.1f ms, p95 %.1f ms (wall); CPU %.1f s in all\n",
               search_k, 100 * ss.share_verified, 100 * ss.share_weights, 100 * ss.share_function, ss.top1_median,
               ss.top1_p95, ss.median, ss.p95, ss.cpu_s);
    }
    for (int i = 0; i < n_classics; i++)
        printf("classic %-20s %-20s %s\n", classics[i].name, classic_verdict(&classics[i]), classics[i].detail);
    /* the ceiling: the exact decompiler on the same models (docs/lift.md) */
    EvalLiftStats ls;
    if (eval_lift_ceiling(&d, rr.sample, rr.n, ds.vocab, ds.n_vocab, ds.max_seq_len, cpaths, n_cpaths, &ls, err, sizeof err)) {
        fprintf(stderr, "itracr eval: lift: %s\n", err);
        goto done;
    }
    printf("lift (exact decompiler, ceiling): samples verified %d/%d (%.1f%%), %d with every function named; "
           "classics verified %d/%d; median %.2f ms\n",
           ls.verified, ls.n, ls.n ? 100.0 * ls.verified / ls.n : 0.0, ls.named_all, ls.classics_verified, ls.classics,
           ls.median_ms);
    printf("lift on the same models rotated + permuted (basis canonicalised): verified %d/%d (%.1f%%), "
           "%d with the recompiled weights equal to the canonicalised ones; median %.2f ms\n",
           ls.rot_verified, ls.n, ls.n ? 100.0 * ls.rot_verified / ls.n : 0.0, ls.rot_exact, ls.rot_median_ms);

    /* ---- report ---- */
    if (!log_path) {
        deflog = cat2(meta, ".log.jsonl");
        if (deflog && access(deflog, F_OK) == 0) log_path = deflog;
    }
    if (log_path && out_html) {
        if (train_log_load(log_path, &log, err, sizeof err) != 0) fprintf(stderr, "itracr eval: warning: %s\n", err);
        else have_log = true;
    }
    mcfg_json = meta_config_to_json(&mm.cfg);
    if (out_html) {
        ex = calloc((size_t)(n_examples > 0 ? n_examples : 1), sizeof *ex);
        ex_text = calloc((size_t)(n_examples > 0 ? n_examples : 1) * 3, sizeof *ex_text);
        if (!ex || !ex_text) {
            fprintf(stderr, "itracr eval: out of memory\n");
            goto done;
        }
        /* half successes, half failures, the first of each in sample order */
        int want_ok = (int)(n_examples + 1) / 2, want_bad = (int)n_examples - want_ok;
        for (int pass = 0; pass < 2; pass++)
            for (int k = 0; k < rr.n && n_ex < n_examples; k++) {
                const EvalSampleResult *x = &rr.res[k];
                const int16_t *truth = d.prog + (size_t)rr.sample[k] * PT_ROWS * PT_COLS;
                EvalPair pr;
                eval_compare(truth, x->dec, &pr);
                bool ok = pr.exact || x->dec_func == EVAL_FN_EQUIVALENT;
                if (pass == 0 && (!ok || want_ok == 0)) continue;
                if (pass == 1 && (ok || want_bad == 0)) continue;
                if (pass == 0) want_ok--;
                else want_bad--;
                char title[64];
                snprintf(title, sizeof title, "%s sample %d", split, rr.sample[k]);
                ex_text[3 * n_ex] = strdup(title);
                ex_text[3 * n_ex + 1] = table_rasp(truth, &ds);
                ex_text[3 * n_ex + 2] = table_rasp(x->dec, &ds);
                ReportExample e = {ex_text[3 * n_ex], truth, x->dec, ex_text[3 * n_ex + 1], ex_text[3 * n_ex + 2],
                                   x->dec_func, x->detail};
                ex[n_ex++] = e;
            }
        ReportClassic rc_[K_MAX_CLASSICS];
        for (int i = 0; i < n_classics; i++) {
            ReportClassic c = {classics[i].name, classics[i].exact, classics[i].func, classics[i].detail,
                               classics[i].pred_rasp};
            rc_[i] = c;
        }
        char s_n[64], s_skip[64], s_beam[32], s_seed[32], s_time[64], s_params[64], s_equiv[160], s_step[32];
        snprintf(s_n, sizeof s_n, "%d of %d", rr.n, d.n);
        snprintf(s_skip, sizeof s_skip, "%ld (more than %d weight tokens)", rr.skipped_prefix, mm.cfg.max_prefix);
        snprintf(s_beam, sizeof s_beam, beam > 1 ? "beam %ld" : "greedy", beam);
        snprintf(s_seed, sizeof s_seed, "%ld", seed);
        snprintf(s_time, sizeof s_time, "%.1f s", rr.seconds);
        snprintf(s_params, sizeof s_params, "%zu", mm.lay.n_params);
        snprintf(s_step, sizeof s_step, "%ld", mm.step);
        snprintf(s_equiv, sizeof s_equiv, "exhaustive up to %ld inputs, else %d random (seed %llu); rtol %g, atol %g",
                 ro.equiv.max_exhaustive, ro.equiv.n_random, (unsigned long long)ro.equiv.seed, ro.equiv.rtol,
                 ro.equiv.atol);
        ReportKV kv[] = {
            {"meta-model checkpoint", meta},
            {"meta-model config", mcfg_json ? mcfg_json : ""},
            {"parameters", s_params},
            {"training steps", s_step},
            {"training config", train_raw ? train_raw : "(no .train.json next to the checkpoint)"},
            {"dataset", data_dir},
            {"split", split},
            {"samples evaluated", s_n},
            {"samples skipped", s_skip},
            {"generator", ds.generator_json ? ds.generator_json : ""},
            {"weight tokens", wt_scheme_name(wt.scheme)},
            {"weight-token norm", wt_norm_name(wt.norm)},
            {"decoding", s_beam},
            {"noise baseline", "every weight token's payload replaced by Gaussian noise of the same L2 norm; ids kept"},
            {"noise seed", s_seed},
            {"functional check", s_equiv},
            {"evaluation time", s_time},
        };
        char s_vlab[48], s_vnote[512];
        snprintf(s_vlab, sizeof s_vlab, "verified@%ld", search_k);
        snprintf(s_vnote, sizeof s_vnote,
                 "verified@%ld: up to %ld candidates per sample (order %s, top-%ld alternatives per position%s), "
                 "the first that compiles to the given weights (weights) or matches their forward pass on every "
                 "input (function); %.2f%% of samples verified (weights %.2f%%, function %.2f%%). Wall time per "
                 "sample: top-1 median %.1f ms, p95 %.1f ms; search median %.1f ms, p95 %.1f ms.",
                 search_k, search_k, meta_cand_mode_name(ro.search_opt.cands.mode), alt,
                 budget ? ", time budget per sample" : "", 100 * ss.share_verified, 100 * ss.share_weights,
                 100 * ss.share_function, ss.top1_median, ss.top1_p95, ss.median, ss.p95);
        ReportInput in = {NULL, &rr.decoded, ro.teacher ? &rr.teacher : NULL, ro.noise ? &rr.noise : NULL, ex, n_ex,
                          have_log ? &log : NULL, kv, (int)(sizeof kv / sizeof kv[0]), rc_, n_classics,
                          ro.search ? &rr.verified : NULL, ro.search && ro.noise ? &rr.noise_verified : NULL, s_vlab,
                          ro.search ? s_vnote : NULL};
        StrBuf hb;
        sb_init(&hb);
        report_html(&hb, &in);
        int wrc = out_write(html_target, hb.s, hb.len, err, sizeof err);
        sb_free(&hb);
        if (wrc != 0) {
            fprintf(stderr, "itracr eval: %s\n", err);
            goto done;
        }
    }
    if (out_json) {
        sb_append(&js, "{\"headline\": ");
        headline_json(&js, &rr.decoded);
        sb_append(&js, ",\n \"verified\": ");
        if (ro.search) {
            sb_append(&js, "{");
            eval_headline_json_fields(&rr.verified, &js);
            sb_printf(&js, ", \"K\": %ld, \"budget_ms\": %ld, \"order\": \"%s\", \"alt\": %ld, \"share_verified\": %.6f, "
                           "\"share_weights\": %.6f, \"share_function\": %.6f, \"median_ms\": %.3f, \"p95_ms\": %.3f, "
                           "\"top1_median_ms\": %.3f, \"top1_p95_ms\": %.3f, \"search_errors\": %ld, \"noise\": ",
                      search_k, budget, meta_cand_mode_name(ro.search_opt.cands.mode), alt, ss.share_verified,
                      ss.share_weights, ss.share_function, ss.median, ss.p95, ss.top1_median, ss.top1_p95,
                      rr.search_errors);
            if (ro.noise) headline_json(&js, &rr.noise_verified);
            else sb_append(&js, "null");
            sb_append(&js, "}");
        } else sb_append(&js, "null");
        sb_append(&js, ",\n \"teacher_forced_headline\": ");
        if (ro.teacher) headline_json(&js, &rr.teacher);
        else sb_append(&js, "null");
        sb_append(&js, ",\n \"noise_headline\": ");
        if (ro.noise) headline_json(&js, &rr.noise);
        else sb_append(&js, "null");
        sb_append(&js, ",\n \"decoded\": ");
        eval_metrics_json(&rr.decoded, &js);
        sb_append(&js, ",\n \"teacher_forced\": ");
        if (ro.teacher) eval_metrics_json(&rr.teacher, &js);
        else sb_append(&js, "null");
        sb_append(&js, ",\n \"noise\": ");
        if (ro.noise) eval_metrics_json(&rr.noise, &js);
        else sb_append(&js, "null");
        sb_printf(&js, ",\n \"noise_method\": \"gaussian payload, same per-token L2 norm, ids kept\", \"noise_seed\": %ld",
                  seed);
        sb_printf(&js, ",\n \"lift_ceiling\": {\"samples\": %d, \"lifted\": %d, \"verified\": %d, \"named_all\": %d, "
                  "\"classics\": %d, \"classics_verified\": %d, \"median_ms\": %.3f}",
                  ls.n, ls.lifted, ls.verified, ls.named_all, ls.classics, ls.classics_verified, ls.median_ms);
        sb_printf(&js, ",\n \"lift_rotated\": {\"samples\": %d, \"lifted\": %d, \"verified\": %d, \"exact\": %d, "
                  "\"median_ms\": %.3f}",
                  ls.n, ls.rot_lifted, ls.rot_verified, ls.rot_exact, ls.rot_median_ms);
        sb_append(&js, ",\n \"classics\": [");
        for (int i = 0; i < n_classics; i++) {
            sb_append(&js, i ? ",\n  " : "\n  ");
            sb_append(&js, "{\"name\": ");
            json_str(&js, classics[i].name);
            sb_append(&js, ", \"verdict\": ");
            json_str(&js, classic_verdict(&classics[i]));
            sb_append(&js, ", \"check\": ");
            json_str(&js, eval_func_name(classics[i].func));
            sb_printf(&js, ", \"weight_tokens\": %d, \"verified\": ", classics[i].n_wt);
            if (classics[i].searched) json_str(&js, search_verdict_name(classics[i].verdict));
            else sb_append(&js, "null");
            sb_append(&js, ", \"detail\": ");
            json_str(&js, classics[i].detail);
            sb_append(&js, ", \"decompiled\": ");
            if (classics[i].pred_rasp) json_str(&js, classics[i].pred_rasp);
            else sb_append(&js, "null");
            sb_append(&js, "}");
        }
        sb_append(&js, "],\n \"data\": ");
        json_str(&js, data_dir);
        sb_append(&js, ", \"split\": ");
        json_str(&js, split);
        sb_append(&js, ", \"meta\": ");
        json_str(&js, meta);
        sb_printf(&js, ", \"samples\": %d, \"split_samples\": %d, \"skipped_over_prefix\": %ld, \"decode_errors\": %ld, "
                       "\"beam\": %ld, \"seconds\": %.2f, \"meta_config\": %s, \"generator\": %s}\n",
                  rr.n, d.n, rr.skipped_prefix, rr.decode_errors, beam, rr.seconds, mcfg_json ? mcfg_json : "null",
                  ds.generator_json ? ds.generator_json : "null");
        if (out_write(json_target, js.s, js.len, err, sizeof err) != 0) {
            fprintf(stderr, "itracr eval: %s\n", err);
            goto done;
        }
    }
    rc = EXIT_OK;
done:
    sb_free(&js);
    for (int i = 0; ex_text && i < n_ex * 3; i++) free(ex_text[i]);
    free(ex_text);
    free(ex);
    for (int i = 0; i < n_classics; i++) eval_classic_free(&classics[i]);
    for (int i = 0; i < n_cpaths; i++) free(cpaths[i]);
    if (have_log) train_log_free(&log);
    free(mcfg_json);
    free(deflog);
    free(train_raw);
    free(ds.generator_json);
    eval_run_result_free(&rr);
    train_data_free(&d);
    if (have_mm) meta_model_free(&mm);
    return rc;
}
