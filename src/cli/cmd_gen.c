/* itracr gen: random RASP programs + compiled weights -> dataset shards. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include <errno.h>
#include <sys/stat.h>

#include "dataset/gen_dir.h"
#include "dataset/gen_driver.h"

static const char *usage =
    "usage: itracr gen -n N -o DIR [options]\n"
    "\n"
    "Samples random typed RASP programs, compiles each one, keeps those whose compiled model\n"
    "matches the interpreter and is not degenerate, drops duplicates (same canonical program,\n"
    "same compiled model, or a classic program), and writes DIR/<split>/shard-*.safetensors\n"
    "plus DIR/manifest.json (docs/dataset.md). Same seed, same bytes, for any --jobs.\n"
    "  -n N                 accepted samples to write\n"
    "  -o DIR               output directory (created; must be missing or empty; locked while\n"
    "                       the run lasts)\n"
    "  --resume             finish a run into DIR that was killed (same settings; the result\n"
    "                       is the same bytes as an uninterrupted run)\n"
    "  --seed S             base seed, 0 to 2^64-1 (default 1); sample i uses seed (S, i)\n"
    "  --jobs J             worker threads (default 1)\n"
    "  --split LIST         default train=0.96,val=0.02,test=0.02\n"
    "  --shard-size K       samples per shard (default 10000)\n"
    "  --ops MIN-MAX        SOps per program (default 1-8)\n"
    "Setting of each program (docs/dataset.md, \"Settings\"). The default is the fixed setting:\n"
    "  --vocab 0,1,2,3,4    its integer tokens\n"
    "  --max-seq-len N      its max_seq_len, 1 to 63 (default 5); with A-B, drawn per program\n"
    "Drawn per program (any of these selects it; the others keep these defaults):\n"
    "  --setting S          fixed (default) or general (every default below, --p-table 0.1,\n"
    "                       --p-pred-table 0.15)\n"
    "  --vocab-size A-B     vocabulary size (default 2-10)\n"
    "  --vocab-kind LIST    int,letters,words,mixed (default all four): {0..n-1}, n of the\n"
    "                       letters a-z, n of 32 short words, or integers and letters\n"
    "  --max-seq-len A-B    max_seq_len (default 2-10)\n"
    "  --causal P           chance that a program is compiled causal (default 0.25)\n"
    "  --p-table P          chance that a Map of a categorical number or bool is a random\n"
    "                       table (program tokens \"table\"; default 0, general 0.1); Maps of\n"
    "                       string tokens are always tables\n"
    "  --p-pred-table P     chance that a new Select's predicate is a table of booleans over\n"
    "                       its keys and queries (a lambda predicate; default 0, general 0.15)\n"
    "  (--vocab-size 5 --max-seq-len 5 --vocab-kind int --causal 0 is the fixed default,\n"
    "  byte for byte)\n"
    "  --categorical-only   no numerical SOps\n"
    "  --max-residual N     residual width cap (default 160)\n"
    "  --max-layers N       layer cap (default 10)\n"
    "  --max-mlp N          MLP hidden width cap (default 128)\n"
    "  --test-inputs N      inputs compared with the interpreter (default 64; all when fewer)\n"
    "  --keep-constant-ops  keep programs with an operation that never varies over the test\n"
    "                       inputs (rejected by default)\n"
    "  --wt-scheme S        weight tokens: chunks (default) or residual\n"
    "  --wt-norm N          asinh (default) or none\n"
    "  --transform T        none (default), rotate (heads and hidden units permuted, then a\n"
    "                       random rotation of the residual stream), compress (a learned\n"
    "                       projection to half the residual width) or distill (a student of\n"
    "                       the same shape trained on the model's outputs): the weight tokens\n"
    "                       are the transformed model's; a transformed model that no longer\n"
    "                       matches the interpreter (distill: the compiled model on >= 99%\n"
    "                       of the inputs) is rejected (reason transform); seeded by the\n"
    "                       sample's seed (docs/transforms.md)\n"
    "  --compress-steps N   Adam steps of --transform compress and distill (default 300)\n"
    "  --exclude DIR        classic programs to exclude (default examples/, if present)\n"
    "  --no-exclude         exclude nothing\n"
    "  --quiet              no progress line or summary\n"
    "A progress line (samples/s, acceptance rate, ETA) is shown when stderr is a terminal.\n";

static int parse_vocab(const char *text, GenConfig *g) {
    int n = 0;
    const char *s = text;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || n == GEN_MAX_VOCAB || v < -1000000 || v > 1000000) return -1;
        g->vocab[n++] = (int)v;
        s = end;
        if (*s == ',' || *s == ' ') s++;
        else if (*s) return -1;
    }
    g->n_vocab = n;
    return n ? 0 : -1;
}

enum {
    O_N = 1,
    O_OUT,
    O_SEED,
    O_JOBS,
    O_SPLIT,
    O_SHARD_SIZE,
    O_OPS,
    O_VOCAB,
    O_MSL,
    O_SETTING,
    O_VOCAB_SIZE,
    O_VOCAB_KIND,
    O_P_TABLE,
    O_P_PRED_TABLE,
    O_CAUSAL,
    O_CAT_ONLY,
    O_MAX_RESIDUAL,
    O_MAX_LAYERS,
    O_MAX_MLP,
    O_TEST_INPUTS,
    O_KEEP_CONST,
    O_WT_SCHEME,
    O_WT_NORM,
    O_TRANSFORM,
    O_COMPRESS_STEPS,
    O_EXCLUDE,
    O_NO_EXCLUDE,
    O_QUIET,
    O_RESUME
};
static const CliOpt gen_opts[] = {
    {NULL, 'n', true, O_N},
    {NULL, 'o', true, O_OUT},
    {"seed", 0, true, O_SEED},
    {"jobs", 0, true, O_JOBS},
    {"split", 0, true, O_SPLIT},
    {"shard-size", 0, true, O_SHARD_SIZE},
    {"ops", 0, true, O_OPS},
    {"vocab", 0, true, O_VOCAB},
    {"max-seq-len", 0, true, O_MSL},
    {"setting", 0, true, O_SETTING},
    {"vocab-size", 0, true, O_VOCAB_SIZE},
    {"vocab-kind", 0, true, O_VOCAB_KIND},
    {"p-table", 0, true, O_P_TABLE},
    {"p-pred-table", 0, true, O_P_PRED_TABLE},
    {"causal", 0, true, O_CAUSAL},
    {"categorical-only", 0, false, O_CAT_ONLY},
    {"max-residual", 0, true, O_MAX_RESIDUAL},
    {"max-layers", 0, true, O_MAX_LAYERS},
    {"max-mlp", 0, true, O_MAX_MLP},
    {"test-inputs", 0, true, O_TEST_INPUTS},
    {"keep-constant-ops", 0, false, O_KEEP_CONST},
    {"wt-scheme", 0, true, O_WT_SCHEME},
    {"wt-norm", 0, true, O_WT_NORM},
    {"transform", 0, true, O_TRANSFORM},
    {"compress-steps", 0, true, O_COMPRESS_STEPS},
    {"exclude", 0, true, O_EXCLUDE},
    {"no-exclude", 0, false, O_NO_EXCLUDE},
    {"quiet", 0, false, O_QUIET},
    {"resume", 0, false, O_RESUME},
};

/* What gen's flags set beyond the GdConfig. */
typedef struct GenFlags {
    long n;
    bool quiet, no_exclude, resume, vocab_list;
    const char *exclude;
} GenFlags;

/* Applies one option of gen_opts with value v. Returns false after a usage error. */
static bool gen_option(int id, const char *v, GdConfig *c, GenFlags *f) {
    long x = 0, lo, hi;
    bool ok = true;
    char err[512];
    switch (id) {
    case O_N: return cli_parse_int("gen", "-n", v, 0, 1000000000L, &f->n);
    case O_OUT: c->out_dir = v; return true;
    case O_SEED: return cli_parse_u64("gen", "--seed", v, &c->seed);
    case O_JOBS: ok = cli_parse_int("gen", "--jobs", v, 1, 256, &x), c->jobs = (int)x; return ok;
    case O_SPLIT:
        if (gd_parse_splits(c, v, err, sizeof err) == 0) return true;
        cli_usage_error("gen", "%s", err);
        return false;
    case O_SHARD_SIZE:
        ok = cli_parse_int("gen", "--shard-size", v, 1, 100000000L, &x), c->shard_size = (int)x;
        return ok;
    case O_OPS:
        if (!cli_parse_range("gen", "--ops", v, 0, 1000000, &lo, &hi)) return false;
        c->gen.min_ops = (int)lo, c->gen.max_ops = (int)hi;
        return true;
    case O_VOCAB:
        f->vocab_list = true;
        if (parse_vocab(v, &c->gen) == 0) return true;
        cli_usage_error("gen", "bad --vocab '%s' (integers, e.g. 0,1,2)", v);
        return false;
    case O_MSL:
        if (!cli_parse_range("gen", "--max-seq-len", v, 1, 63, &lo, &hi)) return false;
        c->gen.max_seq_len = (int)hi, c->gen.len_min = (int)lo, c->gen.len_max = (int)hi;
        if (lo != hi) c->gen.vary = true;
        return true;
    case O_SETTING:
        if (strcmp(v, "general") == 0)
            c->gen.vary = true, c->gen.p_table = 0.1, c->gen.p_pred_table = 0.15;
        else if (strcmp(v, "fixed") != 0)
            ok = false, cli_usage_error("gen", "unknown --setting '%s' (fixed or general)", v);
        return ok;
    case O_VOCAB_SIZE:
        if (!cli_parse_range("gen", "--vocab-size", v, 0, 1000000, &lo, &hi)) return false;
        c->gen.vocab_min = (int)lo, c->gen.vocab_max = (int)hi, c->gen.vary = true;
        return true;
    case O_VOCAB_KIND:
        c->gen.vary = true;
        if (gen_parse_vocab_kinds(v, &c->gen.vocab_kinds) == 0) return true;
        cli_usage_error("gen", "bad --vocab-kind '%s' (a list of int, letters, words, mixed)", v);
        return false;
    case O_P_TABLE: return cli_parse_real("gen", "--p-table", v, 0, 1, 0, &c->gen.p_table);
    case O_P_PRED_TABLE:
        return cli_parse_real("gen", "--p-pred-table", v, 0, 1, 0, &c->gen.p_pred_table);
    case O_CAUSAL:
        return c->gen.vary = true, cli_parse_real("gen", "--causal", v, 0, 1, 0, &c->gen.p_causal);
    case O_CAT_ONLY: c->gen.categorical_only = true; return true;
    case O_MAX_RESIDUAL:
        ok = cli_parse_int("gen", "--max-residual", v, 1, 100000, &x), c->gen.max_residual = (int)x;
        return ok;
    case O_MAX_LAYERS:
        ok = cli_parse_int("gen", "--max-layers", v, 1, WT_LAYER_VOCAB - 1, &x),
        c->gen.max_layers = (int)x;
        return ok;
    case O_MAX_MLP:
        ok = cli_parse_int("gen", "--max-mlp", v, 1, 100000, &x), c->gen.max_mlp_width = (int)x;
        return ok;
    case O_TEST_INPUTS:
        ok = cli_parse_int("gen", "--test-inputs", v, 1, 100000, &x), c->acc.n_test = (int)x;
        return ok;
    case O_KEEP_CONST: c->acc.reject_const_ops = false; return true;
    case O_WT_SCHEME:
        if (wt_scheme_parse(v, &c->acc.wt.scheme) == 0) return true;
        cli_usage_error("gen", "unknown --wt-scheme '%s'", v);
        return false;
    case O_WT_NORM:
        if (wt_norm_parse(v, &c->acc.wt.norm) == 0) return true;
        cli_usage_error("gen", "unknown --wt-norm '%s'", v);
        return false;
    case O_TRANSFORM:
        if (acc_transform_parse(v, &c->acc.transform) == 0) return true;
        cli_usage_error("gen", "unknown --transform '%s'", v);
        return false;
    case O_COMPRESS_STEPS:
        ok = cli_parse_int("gen", "--compress-steps", v, 1, 1000000, &x),
        c->acc.compress_steps = (int)x;
        return ok;
    case O_EXCLUDE: f->exclude = v; return true;
    case O_NO_EXCLUDE: f->no_exclude = true; return true;
    case O_QUIET: f->quiet = true; return true;
    case O_RESUME: f->resume = true; return true;
    default: cli_usage_error("gen", "unexpected argument '%s'", v); return false;
    }
}

int cmd_gen(int argc, char **argv) {
    GdConfig c;
    gd_config_default(&c);
    GenFlags fl = {.n = -1};
    char err[512];
    CliOpts ps;
    const char *v;
    cli_opts_init(&ps, "gen", argc, argv, gen_opts, CLI_NOPTS(gen_opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        if (id == CLI_HELP) {
            fputs(usage, stdout);
            return EXIT_OK;
        }
        if (id == CLI_ERR || !gen_option(id, v, &c, &fl)) return EXIT_USAGE;
    }
    long n = fl.n;
    bool quiet = fl.quiet, no_exclude = fl.no_exclude, resume = fl.resume,
         vocab_list = fl.vocab_list;
    const char *exclude = fl.exclude;
    if (n < 0) return cli_usage_error("gen", "-n N is required");
    if (!c.out_dir) return cli_usage_error("gen", "-o DIR is required");
    if (vocab_list && c.gen.vary)
        return cli_usage_error(
            "gen", "--vocab fixes the vocabulary; it cannot be combined with a drawn setting");
    gen_config_normalize(&c.gen);
    if (gen_config_check(&c.gen, err, sizeof err)) return cli_usage_error("gen", "%s", err);
    c.n = n;
    if (!no_exclude) {
        struct stat xs;
        if (exclude && (stat(exclude, &xs) != 0 || !S_ISDIR(xs.st_mode))) {
            fprintf(stderr, "itracr gen: --exclude %s: not a directory of .rasp programs\n",
                    exclude);
            return EXIT_BAD_INPUT;
        }
        if (exclude) c.exclude_dir = exclude;
        else if (access("examples", F_OK) == 0) c.exclude_dir = "examples";
    }
    int lock_fd = gen_dir_prepare(&c, resume, err, sizeof err);
    if (lock_fd < 0) {
        fprintf(stderr, "itracr gen: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    c.progress = !quiet && isatty(2);
    GdStats st;
    if (gd_run(&c, &st, err, sizeof err)) {
        fprintf(stderr, "itracr gen: %s\n", err);
        return EXIT_BAD_INPUT; /* the marker stays: --resume finishes the run */
    }
    gen_dir_finish(&c, lock_fd);
    if (!quiet) gd_print_summary(stderr, &c, &st);
    return EXIT_OK;
}
