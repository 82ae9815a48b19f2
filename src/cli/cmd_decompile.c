/* itracr decompile: a compiled model file -> weight tokens -> the meta-model's constrained
 * decode -> a RASP program. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bert/bert.h"
#include "cli/cli.h"
#include "compiler/model.h"
#include "dataset/weight_tokens.h"
#include "eval/decomp_lift.h"
#include "eval/equiv.h"
#include "eval/ood.h"
#include "eval/search.h"
#include "gen/program_tokens.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "meta/meta.h"
#include "rasp/rasp.h"

static const char *usage =
    "usage: itracr decompile MODEL.safetensors [--meta META.safetensors]... [--beam K] [--rows] [--check]\n"
    "                        [--search K] [--budget-ms T] [--seed S] [--order redecode|keep|sample|mix]\n"
    "                        [--alt N] [--json] [--scheme chunks|residual] [--norm asinh|none]\n"
    "                        [--method auto|lift|probe|meta] [--no-prune]\n"
    "                        [--no-repair | --repair-compiles N]\n"
    "\n"
    "--method auto (the default) first lifts the weights exactly (itracr lift: Tracr's layout,\n"
    "else a rotated/permuted/rescaled basis made canonical; docs/lift.md) and prints that\n"
    "program when it is verified, with 'method: lift' on stderr (JSON: \"method\": \"lift\");\n"
    "otherwise it reads the program from the model's activations (itracr decompile --method\n"
    "probe: what each head selects and copies and what each hidden unit follows, on many\n"
    "inputs; docs/probe.md) and prints it when its compiled model gives MODEL's outputs\n"
    "('method: probe', 'verified: function'); otherwise, and always with --rows, it decodes\n"
    "with the meta-model as below ('method: meta'). When neither is verified, probe's program\n"
    "is printed instead of the meta-model's if it agrees with MODEL on more inputs (without\n"
    "--search: on at least 95% of them), with 'verified: none (disagrees on N of M inputs)'.\n"
    "--method lift and --method probe never use the meta-model (--meta not needed; exit 1 when\n"
    "they give no verified program); --method meta is the meta-model alone. When the meta-model decodes a\n"
    "model outside what it was trained on (vocabulary, max_seq_len, residual width, layers,\n"
    "MLP width; from META.safetensors.train.json's dataset, else the generator's defaults),\n"
    "stderr gets 'warning: out of the meta-model's training distribution ...' (JSON: \"ood\").\n"
    "--meta may be given several times: the first meta-model whose training distribution holds\n"
    "MODEL decodes it, else the last one (stderr: 'meta-model: PATH (why)'; JSON: \"meta\").\n"
    "Without --meta, the shipped models/meta-small.safetensors and models/meta-general.safetensors\n"
    "are used (today both hold the same general model: vocabularies of 2..10 ints,\n"
    "letters, words or mixed, lengths 2..10, causal), found in ./models/ or next to the binary.\n"
    "\n"
    "Turns the compiled model into weight tokens, decodes a program with the meta-model (greedy,\n"
    "or beam search of width K; every output is a valid program) and prints it as .rasp text\n"
    "with the model's vocab and max_seq_len. --rows prints the program-token table instead.\n"
    "--check recompiles the prediction and compares it with MODEL on every input (10,000 seeded\n"
    "random ones when there are more than 100,000): exit 0 when equivalent, 1 otherwise.\n"
    "\n"
    "--search K draws up to K candidate programs from the meta-model (the greedy decode, then\n"
    "by turns a seeded sample and the best-scoring one-token change to one of the model's top\n"
    "--alt N tokens (default 3) with the rest re-decoded: --order mix; redecode, keep and\n"
    "sample are the other orders) and checks each against\n"
    "MODEL: 'weights' when it compiles to the same model up to a permutation of residual\n"
    "directions, else 'function' when its compiled model gives MODEL's output on every input\n"
    "(10,000 seeded random ones when there are more than 100,000). The first verified one is\n"
    "printed, else the best-scoring one, and stderr gets the line\n"
    "  verified: weights | function | none (disagrees on N of M inputs)\n"
    "A candidate whose compiled model first differs from MODEL in sublayer s has a wrong row\n"
    "in sublayers <= s, so its one-token changes after sublayer s + 1 are not drawn\n"
    "(--no-prune draws them).\n"
    "When no candidate has MODEL's weights and MODEL's weights are Tracr's, the candidates are\n"
    "repaired: from those right in the most leading sublayers, each row whose block lies at or\n"
    "after the first wrong sublayer is replaced by every row the program tokens allow there,\n"
    "each result compiled, and edits that move the first wrong sublayer later (or bring the\n"
    "compiled model closer in size) are kept; when none does, rows are added, then tables are\n"
    "edited cell by cell, kept when they agree with MODEL on more of a seeded input sample (a\n"
    "beam of 3, at most 16 steps, at most N programs compiled: --repair-compiles N, default\n"
    "20000; --no-repair turns it off; under --budget-ms it gets what is left of T). A repaired\n"
    "program has MODEL's weights ('verified: weights (a repair ...)'; JSON \"repaired\": true,\n"
    "\"search_verified\": the candidates' own verdict, \"repair\": its counts).\n"
    "--budget-ms T bounds the search's wall-clock time; --seed S (default 1) seeds sampling and\n"
    "the input sample. --json prints one JSON object instead (program, rows, verdict, candidates\n"
    "tried, winner index, time). The search sees only MODEL (its weights and forward pass).\n"
    "The weight-token options default to those recorded in META.safetensors.train.json.\n"
    "\n"
    "MODEL may also be a BERT encoder (HF BERT tensor names with a token classifier and the\n"
    "\"itracr_bert\" metadata; itracr bert train writes one, docs/bert.md). An adapter maps it onto\n"
    "the weight-token scheme (LayerNorm gains folded, its normalisation and the writers' biases\n"
    "lost), lift is skipped, and every candidate is checked against the encoder's own forward\n"
    "pass (argmax per position), so 'verified: function' means the program computes what the\n"
    "encoder computes on those inputs; 'weights' cannot occur.\n";

/* The weight-token options the meta-model was trained with (its .train.json), if any.
 * Returns non-zero (after printing why) when the file exists but is not a training config. */
static int read_train_wt(const char *meta, WtOptions *wt) {
    char *p = train_sidecar_path(meta), err[1024];
    TrainConfig tc;
    bool found = false;
    int rc = p ? train_sidecar_read(p, &tc, &found, NULL, NULL, err, sizeof err) : -1;
    if (rc) fprintf(stderr, "itracr decompile: %s\n", p ? err : "out of memory");
    else if (found) *wt = tc.wt;
    free(p);
    return rc;
}

/* "verified: weights" / "verified: function" / "verified: none (disagrees on N of M inputs)" */
static const char *verdict_line(const SearchResult *r, char *buf, size_t cap) {
    if (r->verdict != SEARCH_NONE)
        snprintf(buf, cap, "verified: %s", search_verdict_name(r->verdict));
    else if (r->n_inputs > 0)
        snprintf(buf, cap, "verified: none (disagrees on %ld of %ld inputs)", r->n_disagree,
                 r->n_inputs);
    else if (r->tried > 0 && r->guarded == r->tried)
        /* the constraint made each one compilable, but far larger than the model */
        snprintf(buf, cap,
                 "verified: none (every candidate far larger than the model: not checked)");
    else snprintf(buf, cap, "verified: none (does not compile)");
    return buf;
}

/* A BERT encoder (bert/bert.h): *cm is its adapted form, for weight tokens; verification runs
 * the encoder itself (so->equiv.truth_forward), and the weights check is off. 0 or 1. */
static int load_bert(const char *path, BertModel *bm, CompiledModel **cm, SearchOptions *so,
                     char *err, size_t errcap) {
    if (bert_load(path, bm, err, errcap)) return 1;
    if (bert_to_compiled(bm, cm, err, errcap)) return 1;
    so->weights_check = false;
    so->equiv.truth_forward = bert_equiv_forward;
    so->equiv.truth_ctx = bm;
    return 0;
}

/* The model to decompile: a compiled model file, or an encoder through load_bert. 0 or 1. */
static int load_given(const char *path, BertModel *bm, bool *is_bert, CompiledModel **cm,
                      SearchOptions *so, char *err, size_t errcap) {
    memset(bm, 0, sizeof *bm);
    *is_bert = bert_sniff(path);
    return *is_bert ? load_bert(path, bm, cm, so, err, errcap)
                    : model_load(path, cm, err, errcap) != 0;
}

/* --method lift or probe: that path alone. */
static int decompile_lift_only(const char *path, bool json, bool probe) {
    char err[1024];
    CompiledModel *m = NULL;
    if (bert_sniff(path)) {
        fprintf(stderr,
                "itracr decompile: %s is a BERT encoder: lift and probe read only compiled models (use "
                "--method meta or auto)\n",
                path);
        return EXIT_BAD_INPUT;
    }
    if (model_load(path, &m, err, sizeof err) != 0) {
        fprintf(stderr, "itracr decompile: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    int ok = probe ? decomp_probe_try(m, json, NULL, NULL, err, sizeof err)
                   : decomp_lift_try(m, json, err, sizeof err);
    if (!ok) fprintf(stderr, "itracr decompile: %s\n", err);
    compiled_model_free(m);
    return ok ? EXIT_OK : EXIT_BAD_INPUT;
}

/* Outside the meta-model's training domain (eval/ood.h): the reasons in why (cap bytes), else
 * "". Text output warns on stderr; JSON carries "ood" only then, so in-domain output is as before. */
static int out_of_domain(const char *meta, const CompiledModel *m, bool json, char *why,
                         size_t cap) {
    MetaDomain d;
    char err[512];
    why[0] = 0;
    if (meta_domain_read(meta, &d, err, sizeof err)) {
        fprintf(stderr, "itracr decompile: %s\n", err);
        return 1;
    }
    if (meta_domain_check(&d, m, why, cap) && !json)
        fprintf(stderr, "warning: out of the meta-model's training distribution (%s): %s\n",
                d.source, why);
    return 0;
}

static void print_json(const RaspProgram *prog, const int16_t *table, const SearchResult *r,
                       const SearchOptions *o, const char *fallback, const char *ood,
                       const char *meta) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "meta", meta);
    if (fallback) { /* --method auto fell back: say so (--method meta prints what it always did) */
        cJSON_AddStringToObject(j, "method", "meta");
        cJSON_AddStringToObject(j, "lift", fallback);
    }
    char *txt = rasp_format(prog), *rows = pt_format_table(table), line[128];
    cJSON_AddStringToObject(j, "program", txt ? txt : "");
    cJSON_AddStringToObject(j, "rows", rows ? rows : "");
    cJSON_AddStringToObject(j, "verified", search_verdict_name(r->verdict));
    cJSON_AddStringToObject(j, "verified_line", verdict_line(r, line, sizeof line));
    cJSON_AddItemToObject(j, "disagree", json_number((double)r->n_disagree));
    cJSON_AddItemToObject(j, "inputs", json_number((double)r->n_inputs));
    cJSON_AddBoolToObject(j, "exhaustive", r->exhaustive);
    cJSON_AddItemToObject(j, "winner", json_number(r->winner));
    cJSON_AddItemToObject(j, "tried", json_number(r->tried));
    cJSON_AddItemToObject(j, "compiled", json_number(r->compiled));
    cJSON_AddItemToObject(j, "function_checks", json_number(r->func_checked));
    cJSON_AddItemToObject(j, "score", json_number(r->score));
    cJSON_AddItemToObject(j, "ms", json_number(r->ms));
    cJSON_AddBoolToObject(j, "out_of_budget", r->out_of_budget);
    cJSON_AddStringToObject(j, "search_verified", search_verdict_name(r->search_verdict));
    cJSON_AddBoolToObject(j, "repaired", r->repaired);
    if (r->repair_ran) {
        cJSON *rj = cJSON_AddObjectToObject(j, "repair");
        cJSON_AddBoolToObject(rj, "found", r->repair.found);
        cJSON_AddItemToObject(rj, "steps", json_number(r->repair.steps));
        cJSON_AddItemToObject(rj, "tried", json_number((double)r->repair.tried));
        cJSON_AddItemToObject(rj, "compiled", json_number((double)r->repair.compiled));
        cJSON_AddItemToObject(rj, "fn_scored", json_number((double)r->repair.fn_scored));
        cJSON_AddItemToObject(rj, "restarts", json_number(r->repair.restarts));
        cJSON_AddItemToObject(rj, "best_progress", json_number(r->repair.best_progress));
        cJSON_AddItemToObject(rj, "sublayers", json_number(r->repair.sublayers));
        cJSON_AddItemToObject(rj, "ms", json_number(r->repair.ms));
        cJSON_AddBoolToObject(rj, "out_of_budget", r->repair.out_of_budget);
    }
    cJSON_AddItemToObject(j, "max_candidates", json_number(o->max_candidates));
    cJSON_AddItemToObject(j, "budget_ms", json_number(o->budget_ms));
    cJSON_AddStringToObject(j, "order", meta_cand_mode_name(o->cands.mode));
    char seed[24]; /* exact: a seed above 2^53 is not a double */
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->cands.seed);
    cJSON_AddItemToObject(j, "seed", cJSON_CreateRaw(seed));
    if (r->detail[0]) cJSON_AddStringToObject(j, "detail", r->detail);
    if (ood[0]) cJSON_AddStringToObject(j, "ood", ood);
    char *out = cJSON_PrintUnformatted(j);
    if (out) printf("%s\n", out);
    free(out);
    free(txt);
    free(rows);
    cJSON_Delete(j);
}

/* The command line, parsed. */
#define MAX_METAS 4
#define SHIPPED_METAS 2
static const char *const shipped_metas[SHIPPED_METAS] = {"models/meta-small.safetensors",
                                                         "models/meta-general.safetensors"};

typedef struct DecompArgs {
    const char *model_path, *meta, *scheme, *norm, *order;
    const char *metas[MAX_METAS]; /* --meta, in order; meta is the one chosen for the model */
    char *found[SHIPPED_METAS];   /* the shipped ones (owned) when --meta is not given */
    int n_metas;
    long beam, search_k, budget, alt;
    uint64_t seed;
    bool rows, check, json, no_prune, no_repair;
    long repair_compiles;
    DecompMethod method;
} DecompArgs;

/* Returns -1 to go on, else the exit status (help printed or a usage error said). */
static int parse_args(int argc, char **argv, DecompArgs *a) {
    *a = (DecompArgs){.beam = 1, .alt = 3, .seed = 1, .method = DECOMP_AUTO};
    enum {
        O_ROWS = 1,
        O_CHECK,
        O_JSON,
        O_META,
        O_BEAM,
        O_SCHEME,
        O_NORM,
        O_SEARCH,
        O_BUDGET,
        O_SEED,
        O_ORDER,
        O_ALT,
        O_METHOD,
        O_NO_PRUNE,
        O_NO_REPAIR,
        O_REPAIR
    };
    static const CliOpt opts[] = {{"rows", 0, false, O_ROWS},       {"check", 0, false, O_CHECK},
                                  {"json", 0, false, O_JSON},       {"meta", 0, true, O_META},
                                  {"beam", 0, true, O_BEAM},        {"scheme", 0, true, O_SCHEME},
                                  {"norm", 0, true, O_NORM},        {"search", 0, true, O_SEARCH},
                                  {"budget-ms", 0, true, O_BUDGET}, {"seed", 0, true, O_SEED},
                                  {"order", 0, true, O_ORDER},      {"alt", 0, true, O_ALT},
                                  {"method", 0, true, O_METHOD},    {"no-prune", 0, false, O_NO_PRUNE},
                                  {"no-repair", 0, false, O_NO_REPAIR},
                                  {"repair-compiles", 0, true, O_REPAIR}};
    CliOpts ps;
    const char *v;
    cli_opts_init(&ps, "decompile", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        bool ok = true;
        switch (id) {
        case CLI_HELP: fputs(usage, stdout); return EXIT_OK;
        case CLI_ERR: return EXIT_USAGE;
        case O_ROWS: a->rows = true; break;
        case O_CHECK: a->check = true; break;
        case O_JSON: a->json = true; break;
        case O_NO_PRUNE: a->no_prune = true; break;
        case O_NO_REPAIR: a->no_repair = true; break;
        case O_REPAIR:
            ok = cli_parse_int("decompile", "--repair-compiles", v, 1, 100000000,
                               &a->repair_compiles);
            break;
        case O_META:
            if (a->n_metas == MAX_METAS)
                return cli_usage_error("decompile", "at most %d --meta", MAX_METAS);
            a->metas[a->n_metas++] = v;
            break;
        case O_SCHEME: a->scheme = v; break;
        case O_NORM: a->norm = v; break;
        case O_ORDER: a->order = v; break;
        case O_METHOD:
            if (decomp_method_parse(v, &a->method))
                return cli_usage_error("decompile", "unknown --method '%s' (auto, lift, probe or meta)",
                                       v);
            break;
        case O_SEARCH:
            ok = cli_parse_int("decompile", "--search", v, 1, 100000, &a->search_k);
            break;
        case O_BUDGET:
            ok = cli_parse_int("decompile", "--budget-ms", v, 1, 3600000, &a->budget);
            break;
        case O_ALT: ok = cli_parse_int("decompile", "--alt", v, 0, 16, &a->alt); break;
        case O_SEED: ok = cli_parse_u64("decompile", "--seed", v, &a->seed); break;
        case O_BEAM: ok = cli_parse_int("decompile", "--beam", v, 1, 64, &a->beam); break;
        default:
            if (a->model_path) return cli_usage_error("decompile", "unexpected argument '%s'", v);
            a->model_path = v;
        }
        if (!ok) return EXIT_USAGE;
    }
    if (!a->model_path) return cli_usage_error("decompile", "missing MODEL.safetensors");
    return -1;
}

/* The search and weight-token options from the arguments and the meta-model's training
 * config. Returns -1 to go on, else the exit status. */
static int meta_options(const DecompArgs *a, SearchOptions *so, WtOptions *wt) {
    search_options_default(so);
    search_options_seed(so, a->seed);
    so->cands.n_alt = (int)a->alt;
    so->prune = !a->no_prune;
    if (a->no_repair || !a->search_k) so->repair.max_steps = 0; /* K = 1 alone: the model's */
    if (a->repair_compiles) so->repair.max_compiles = a->repair_compiles;
    if (a->order && meta_cand_mode_parse(a->order, &so->cands.mode) != 0)
        return cli_usage_error("decompile", "unknown --order '%s' (redecode, keep, sample or mix)",
                               a->order);
    if (a->search_k && a->beam > 1)
        return cli_usage_error("decompile", "--search and --beam exclude each other");
    so->max_candidates = a->search_k > 0 ? (int)a->search_k : 1;
    so->budget_ms = (double)a->budget;
    wt_options_default(wt); /* checked here; applied over the chosen model's in wt_options */
    if (a->scheme && wt_scheme_parse(a->scheme, &wt->scheme) != 0)
        return cli_usage_error("decompile", "unknown --scheme '%s'", a->scheme);
    if (a->norm && wt_norm_parse(a->norm, &wt->norm) != 0)
        return cli_usage_error("decompile", "unknown --norm '%s'", a->norm);
    return -1;
}

/* The weight-token options: those the chosen meta-model was trained with, then --scheme and
 * --norm (already checked by meta_options). Returns 0, or 1 after printing why. */
static int wt_options(const DecompArgs *a, WtOptions *wt) {
    wt_options_default(wt);
    if (read_train_wt(a->meta, wt) != 0) return 1;
    if (a->scheme) wt_scheme_parse(a->scheme, &wt->scheme);
    if (a->norm) wt_norm_parse(a->norm, &wt->norm);
    return 0;
}

/* The meta-models to choose from: --meta, else the shipped ones that are found. Returns -1
 * to go on, else the exit status. */
static int collect_metas(DecompArgs *a) {
    if (a->n_metas == 0)
        for (int i = 0; i < SHIPPED_METAS; i++)
            if ((a->found[i] = cli_find_shipped(shipped_metas[i])))
                a->metas[a->n_metas++] = a->found[i];
    if (a->n_metas == 0)
        return cli_usage_error("decompile",
                               "missing --meta META.safetensors (no shipped meta-model found)");
    return -1;
}

/* a->meta: the first meta-model whose training domain holds m, else the last; said on stderr
 * when there was a choice. Returns 0, or 1 after printing why (an unreadable sidecar). */
static int choose_meta(DecompArgs *a, const CompiledModel *m) {
    a->meta = a->metas[a->n_metas - 1];
    const char *why = "none holds the model: the last";
    for (int i = 0; i < a->n_metas; i++) {
        MetaDomain d;
        char err[512], out[512];
        if (meta_domain_read(a->metas[i], &d, err, sizeof err)) {
            fprintf(stderr, "itracr decompile: %s\n", err);
            return 1;
        }
        if (meta_domain_check(&d, m, out, sizeof out) == 0) {
            a->meta = a->metas[i];
            why = "its training distribution holds the model";
            break;
        }
    }
    if (a->n_metas > 1 && !a->json) fprintf(stderr, "meta-model: %s (%s)\n", a->meta, why);
    return 0;
}

/* --check: the decoded table recompiled and compared with cm on every input (an encoder:
 * with its own forward pass, as the search's equivalence options say). An exit status. */
static int check_decoded(const CompiledModel *cm, const int16_t *table, const SearchOptions *so) {
    char err[1024];
    CompileOptions co;
    compile_options_default(&co);
    co.causal = cm->causal;
    co.exact = cm->exact;
    EquivOptions eo;
    equiv_options_default(&eo);
    eo.truth_forward = so->equiv.truth_forward, eo.truth_ctx = so->equiv.truth_ctx;
    EquivResult r;
    if (equiv_check_tokens(cm, NULL, NULL, table, &co, &eo, &r, err, sizeof err) != 0) {
        fprintf(stderr, "itracr decompile: check: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    int eq = r.status == EVAL_FN_EQUIVALENT;
    if (r.status == EVAL_FN_EQUIVALENT || r.status == EVAL_FN_DIFFERENT)
        fprintf(stderr, "check: %s on %ld %s inputs%s%s\n", eq ? "equivalent" : "different",
                r.n_inputs, r.exhaustive ? "(all)" : "random", r.detail[0] ? ": " : "", r.detail);
    else fprintf(stderr, "check: %s: %s\n", eval_func_name(r.status), r.detail);
    return eq ? EXIT_OK : EXIT_BAD_INPUT;
}

/* The decoded program on stdout (text, rows or JSON) and, after a search, the verdict line. */
static void print_decoded(const DecompArgs *a, const RaspProgram *prog, const int16_t *table,
                          const SearchResult *sr, const SearchOptions *so, bool searching,
                          const char *fallback, const char *ood) {
    if (a->json) {
        print_json(prog, table, sr, so, fallback, ood, a->meta);
        return;
    }
    char *s = a->rows ? pt_format_table(table) : rasp_format(prog);
    if (s) fputs(s, stdout);
    free(s);
    if (searching) {
        char line[128];
        if (sr->repaired)
            fprintf(stderr,
                    "%s (a repair of the %d candidates tried: %d edit step%s, %ld programs "
                    "compiled; %.0f ms)\n",
                    verdict_line(sr, line, sizeof line), sr->tried, sr->repair.steps,
                    sr->repair.steps == 1 ? "" : "s", sr->repair.compiled, sr->ms);
        else
            fprintf(stderr, "%s (candidate %d of %d tried, 1 is the greedy decode; %.0f ms)\n",
                    verdict_line(sr, line, sizeof line), sr->winner + 1, sr->tried, sr->ms);
    }
}

/* Whether probe's unverified program r beats the meta-model's answer: with a search whose
 * answer is not verified, r disagrees with the model on a smaller share of inputs; without a
 * search, r agrees on at least 95% of them. */
static bool closer_than_meta(const ProbeResult *r, const SearchResult *sr) {
    if (r->n_inputs <= 0) return false;
    double off = (double)(r->n_inputs - r->n_inputs_match) / (double)r->n_inputs;
    if (!sr) return off <= 0.05;
    if (sr->verdict != SEARCH_NONE) return false;
    return sr->n_inputs <= 0 || off < (double)sr->n_disagree / (double)sr->n_inputs;
}

int cmd_decompile(int argc, char **argv) {
    DecompArgs a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    if (a.method == DECOMP_LIFT || a.method == DECOMP_PROBE)
        return decompile_lift_only(a.model_path, a.json, a.method == DECOMP_PROBE);
    SearchOptions so;
    WtOptions wt;
    if ((rc = meta_options(&a, &so, &wt)) >= 0) return rc;
    if ((rc = collect_metas(&a)) >= 0) goto free_found;
    /* --json or a search option without --search: verify the greedy decode alone */
    bool searching = a.search_k > 0 || a.json || a.budget > 0 || a.order;

    char err[1024];
    rc = EXIT_BAD_INPUT;
    CompiledModel *cm = NULL;
    MetaModel mm;
    int have_mm = 0;
    WtTokens toks;
    wt_tokens_init(&toks);
    RaspProgram prog;
    rasp_program_init(&prog);
    Value *vocab = NULL;
    const char *fallback = NULL;
    ProbeResult closest; /* auto: probe's program when it is not verified */
    memset(&closest, 0, sizeof closest);
    BertModel bm;
    bool is_bert;
    if (load_given(a.model_path, &bm, &is_bert, &cm, &so, err, sizeof err)) {
        fprintf(stderr, "itracr decompile: %s\n", err);
        goto done;
    }
    if (choose_meta(&a, cm)) goto done;
    if (wt_options(&a, &wt)) goto done;
    char lift_why[1024] = "", lift_only[1024] = "";
    /* auto: --meta must name a meta-model even when lift answers (loaded first, as before) */
    if (a.method == DECOMP_AUTO &&
        meta_checkpoint_load(&mm, a.meta, (int)a.beam, err, sizeof err) != 0) {
        fprintf(stderr, "itracr decompile: %s\n", err);
        goto done;
    }
    have_mm = a.method == DECOMP_AUTO;
    if (is_bert) /* the adapted weights are not the encoder's function: nothing to lift */
        snprintf(lift_why, sizeof lift_why, "a BERT encoder, read through the adapter");
    else if (a.method == DECOMP_AUTO && !a.rows &&
             decomp_lift_try(cm, a.json, lift_why, sizeof lift_why)) {
        rc = EXIT_OK;
        goto done;
    } else if (a.method == DECOMP_AUTO && !a.rows) {
        char probe_why[512];
        if (decomp_probe_try(cm, a.json, lift_why, &closest, probe_why, sizeof probe_why)) {
            rc = EXIT_OK;
            goto done;
        }
        snprintf(lift_only, sizeof lift_only, "%s", lift_why);
        /* probe's program is checked: check the meta-model's too, so that the text and JSON
         * answers pick the same program by the same comparison */
        if (closest.program) searching = true;
        size_t L = strlen(lift_why);
        snprintf(lift_why + L, sizeof lift_why - L, "; %.400s", probe_why);
    }
    fallback = a.method == DECOMP_AUTO ? (a.rows ? "--rows" : lift_why) : NULL;
    char ood[512];
    if (out_of_domain(a.meta, cm, a.json, ood, sizeof ood)) goto done;
    if (wt_encode(cm, &wt, &toks, err, sizeof err) != 0) {
        fprintf(stderr, "itracr decompile: %s: %s\n", a.model_path, err);
        goto done;
    }
    if (!have_mm && meta_checkpoint_load(&mm, a.meta, (int)a.beam, err, sizeof err) != 0) {
        fprintf(stderr, "itracr decompile: %s\n", err);
        goto done;
    }
    have_mm = 1;
    vocab = malloc(sizeof(Value) * (size_t)(cm->vocab_size > 0 ? cm->vocab_size : 1));
    int nv = 0;
    for (int i = 0; vocab && i < cm->vocab_size; i++)
        if (i != cm->bos_id && i != cm->pad_id) vocab[nv++] = cm->tokens[i];
    /* decoding constrained to programs that validate on this model's vocabulary */
    PcContext on_model = {vocab, nv, cm->max_seq_len, 0, NULL};
    int16_t table[PT_ROWS * PT_COLS];
    SearchResult sr;
    if (searching) {
        if (search_decompile(&mm, cm, toks.payload, toks.ids, toks.n, &so, &sr, err, sizeof err) !=
            0) {
            fprintf(stderr, "itracr decompile: %s: %s\n", a.model_path, err);
            goto done;
        }
        memcpy(table, sr.table, sizeof table);
    } else if (meta_decode_table_for(&mm, toks.payload, toks.ids, toks.n, (int)a.beam, &on_model,
                                     table, err, sizeof err) != 0) {
        fprintf(stderr, "itracr decompile: %s: %s\n", a.model_path, err);
        goto done;
    }
    if (pt_decode(table, vocab, nv, cm->max_seq_len, &prog, err, sizeof err) != 0) {
        fprintf(stderr, "itracr decompile: the decoded table is not a program: %s\n", err);
        goto done;
    }
    prog.causal = cm->causal;
    if (closest.program && closer_than_meta(&closest, searching ? &sr : NULL)) {
        /* probe's unverified program agrees with the model on more inputs than the meta-model's
         * (or, without a search, on nearly all): the better answer (a compressed model only
         * approximates its program, so a right program can miss a few inputs) */
        if (!a.json)
            fprintf(stderr, "the meta-model's answer is not verified and probe's agrees with the "
                            "model on more inputs: printing probe's\n");
        decomp_probe_print(&closest, a.json, 0, lift_only);
        rc = EXIT_OK;
        goto done;
    }
    if (fallback && !a.json) fprintf(stderr, "method: meta (%s)\n", fallback);
    print_decoded(&a, &prog, table, &sr, &so, searching, fallback, ood);
    rc = a.check ? check_decoded(cm, table, &so) : EXIT_OK;
done:
    probe_result_free(&closest);
    free(vocab);
    rasp_program_free(&prog);
    wt_tokens_free(&toks);
    if (have_mm) meta_model_free(&mm);
    if (cm) compiled_model_free(cm);
    if (is_bert) bert_free(&bm);
free_found:
    for (int i = 0; i < SHIPPED_METAS; i++) free(a.found[i]);
    return rc;
}
