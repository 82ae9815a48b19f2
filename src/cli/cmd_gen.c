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
    "  --setting S          fixed (default) or general (every default below, --p-table 0.1)\n"
    "  --vocab-size A-B     vocabulary size (default 2-10)\n"
    "  --vocab-kind LIST    int,letters,words,mixed (default all four): {0..n-1}, n of the\n"
    "                       letters a-z, n of 32 short words, or integers and letters\n"
    "  --max-seq-len A-B    max_seq_len (default 2-10)\n"
    "  --causal P           chance that a program is compiled causal (default 0.25)\n"
    "  --p-table P          chance that a Map of a categorical number or bool is a random\n"
    "                       table (program tokens \"table\"; default 0, general 0.1); Maps of\n"
    "                       string tokens are always tables\n"
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

/* "A-B" or "A" into lo..hi. */
static int parse_range(const char *v, int *lo, int *hi) {
    int used = 0;
    if (sscanf(v, "%d-%d%n", lo, hi, &used) == 2 && v[used] == 0) return 0;
    if (sscanf(v, "%d%n", lo, &used) == 1 && v[used] == 0) {
        *hi = *lo;
        return 0;
    }
    return -1;
}

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

int cmd_gen(int argc, char **argv) {
    GdConfig c;
    gd_config_default(&c);
    long n = -1;
    bool quiet = false, no_exclude = false, resume = false, vocab_list = false;
    const char *exclude = NULL;
    char err[512];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            return EXIT_OK;
        }
#define NEED()                                                                   \
    do {                                                                         \
        if (!v) return cli_usage_error("gen", "%s needs a value", a);            \
        i++;                                                                     \
    } while (0)
        if (strcmp(a, "-n") == 0) {
            NEED();
            if (!cli_parse_int("gen", a, v, 0, 1000000000L, &n)) return EXIT_USAGE;
        } else if (strcmp(a, "-o") == 0) {
            NEED();
            c.out_dir = v;
        } else if (strcmp(a, "--seed") == 0) {
            NEED();
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (!*v || *end || v[0] == '-' || errno == ERANGE)
                return cli_usage_error("gen", "bad --seed '%s' (an integer from 0 to 18446744073709551615)", v);
            c.seed = s;
        } else if (strcmp(a, "--jobs") == 0) {
            NEED();
            if (!cli_parse_int("gen", a, v, 1, 256, &x)) return EXIT_USAGE;
            c.jobs = (int)x;
        } else if (strcmp(a, "--split") == 0) {
            NEED();
            if (gd_parse_splits(&c, v, err, sizeof err)) return cli_usage_error("gen", "%s", err);
        } else if (strcmp(a, "--shard-size") == 0) {
            NEED();
            if (!cli_parse_int("gen", a, v, 1, 100000000L, &x)) return EXIT_USAGE;
            c.shard_size = (int)x;
        } else if (strcmp(a, "--ops") == 0) {
            NEED();
            int lo, hi, used = 0;
            if (sscanf(v, "%d-%d%n", &lo, &hi, &used) == 2 && v[used] == 0) {
                c.gen.min_ops = lo;
                c.gen.max_ops = hi;
            } else if (sscanf(v, "%d%n", &lo, &used) == 1 && v[used] == 0) {
                c.gen.min_ops = c.gen.max_ops = lo;
            } else {
                return cli_usage_error("gen", "bad --ops '%s' (MIN-MAX)", v);
            }
        } else if (strcmp(a, "--vocab") == 0) {
            NEED();
            if (parse_vocab(v, &c.gen)) return cli_usage_error("gen", "bad --vocab '%s' (integers, e.g. 0,1,2)", v);
            vocab_list = true;
        } else if (strcmp(a, "--max-seq-len") == 0) {
            NEED();
            int lo, hi;
            if (parse_range(v, &lo, &hi) || lo < 1 || hi < lo || hi > 63)
                return cli_usage_error("gen", "bad --max-seq-len '%s' (N or A-B within [1, 63])", v);
            c.gen.max_seq_len = hi;
            c.gen.len_min = lo;
            c.gen.len_max = hi;
            if (lo != hi) c.gen.vary = true;
        } else if (strcmp(a, "--setting") == 0) {
            NEED();
            if (strcmp(v, "general") == 0) {
                c.gen.vary = true;
                c.gen.p_table = 0.1;
            }
            else if (strcmp(v, "fixed") != 0) return cli_usage_error("gen", "unknown --setting '%s' (fixed or general)", v);
        } else if (strcmp(a, "--vocab-size") == 0) {
            NEED();
            if (parse_range(v, &c.gen.vocab_min, &c.gen.vocab_max))
                return cli_usage_error("gen", "bad --vocab-size '%s' (A-B)", v);
            c.gen.vary = true;
        } else if (strcmp(a, "--vocab-kind") == 0) {
            NEED();
            if (gen_parse_vocab_kinds(v, &c.gen.vocab_kinds))
                return cli_usage_error("gen", "bad --vocab-kind '%s' (a list of int, letters, words, mixed)", v);
            c.gen.vary = true;
        } else if (strcmp(a, "--p-table") == 0) {
            NEED();
            char *end;
            double p = strtod(v, &end);
            if (!*v || *end || !(p >= 0 && p <= 1)) return cli_usage_error("gen", "bad --p-table '%s' (a probability)", v);
            c.gen.p_table = p;
        } else if (strcmp(a, "--causal") == 0) {
            NEED();
            char *end;
            double p = strtod(v, &end);
            if (!*v || *end || !(p >= 0 && p <= 1)) return cli_usage_error("gen", "bad --causal '%s' (a probability)", v);
            c.gen.p_causal = p;
            c.gen.vary = true;
        } else if (strcmp(a, "--categorical-only") == 0) {
            c.gen.categorical_only = true;
        } else if (strcmp(a, "--max-residual") == 0) {
            NEED();
            if (!cli_parse_int("gen", a, v, 1, 100000, &x)) return EXIT_USAGE;
            c.gen.max_residual = (int)x;
        } else if (strcmp(a, "--max-layers") == 0) {
            NEED();
            if (!cli_parse_int("gen", a, v, 1, WT_LAYER_VOCAB - 1, &x)) return EXIT_USAGE;
            c.gen.max_layers = (int)x;
        } else if (strcmp(a, "--max-mlp") == 0) {
            NEED();
            if (!cli_parse_int("gen", a, v, 1, 100000, &x)) return EXIT_USAGE;
            c.gen.max_mlp_width = (int)x;
        } else if (strcmp(a, "--test-inputs") == 0) {
            NEED();
            if (!cli_parse_int("gen", a, v, 1, 100000, &x)) return EXIT_USAGE;
            c.acc.n_test = (int)x;
        } else if (strcmp(a, "--keep-constant-ops") == 0) {
            c.acc.reject_const_ops = false;
        } else if (strcmp(a, "--wt-scheme") == 0) {
            NEED();
            if (wt_scheme_parse(v, &c.acc.wt.scheme)) return cli_usage_error("gen", "unknown --wt-scheme '%s'", v);
        } else if (strcmp(a, "--wt-norm") == 0) {
            NEED();
            if (wt_norm_parse(v, &c.acc.wt.norm)) return cli_usage_error("gen", "unknown --wt-norm '%s'", v);
        } else if (strcmp(a, "--transform") == 0) {
            NEED();
            if (acc_transform_parse(v, &c.acc.transform)) return cli_usage_error("gen", "unknown --transform '%s'", v);
        } else if (strcmp(a, "--compress-steps") == 0) {
            NEED();
            if (!cli_parse_int("gen", a, v, 1, 1000000, &x)) return EXIT_USAGE;
            c.acc.compress_steps = (int)x;
        } else if (strcmp(a, "--exclude") == 0) {
            NEED();
            exclude = v;
        } else if (strcmp(a, "--no-exclude") == 0) {
            no_exclude = true;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (strcmp(a, "--resume") == 0) {
            resume = true;
        } else {
            return cli_usage_error("gen", "unknown argument '%s'", a);
        }
#undef NEED
    }
    if (n < 0) return cli_usage_error("gen", "-n N is required");
    if (!c.out_dir) return cli_usage_error("gen", "-o DIR is required");
    if (vocab_list && c.gen.vary)
        return cli_usage_error("gen", "--vocab fixes the vocabulary; it cannot be combined with a drawn setting");
    gen_config_normalize(&c.gen);
    if (gen_config_check(&c.gen, err, sizeof err)) return cli_usage_error("gen", "%s", err);
    c.n = n;
    if (!no_exclude) {
        struct stat xs;
        if (exclude && (stat(exclude, &xs) != 0 || !S_ISDIR(xs.st_mode))) {
            fprintf(stderr, "itracr gen: --exclude %s: not a directory of .rasp programs\n", exclude);
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
