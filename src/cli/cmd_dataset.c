/* itracr dataset stats DIR: distributions over the shards of a generated dataset. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "dataset/ds_manifest.h"
#include "dataset/shard.h"
#include "io/json_util.h"

static const char *usage =
    "usage: itracr dataset stats DIR\n"
    "\n"
    "Reads every shard under DIR (DIR/*.safetensors and DIR/*/*.safetensors, or one shard\n"
    "file), checking each one (format, checksum, offsets), and prints the distribution of the\n"
    "settings (vocabulary size and kind, max_seq_len, causal), op counts, op types and their\n"
    "encodings, lambda-library entries and predicates, layers, residual widths and\n"
    "weight-token counts, and counts duplicate programs and compiled models across all the\n"
    "shards. When DIR/manifest.json records a transform (itracr gen --transform), also its\n"
    "acceptance rate and cost per sample. Exit 1 when a shard is damaged.\n";

/* The transform section of DIR/manifest.json (itracr gen --transform), if any. */
static void print_transform(const char *dir) {
    DsTransformStats t;
    if (!ds_manifest_transform(dir, &t)) return;
    printf("transform %s: %.0f samples transformed, %.0f rejected (%.1f%% accepted), %.2f ms per sample "
           "(manifest.json)\n",
           t.kind, t.attempted, t.rejected, 100.0 * (t.attempted - t.rejected) / t.attempted,
           1000.0 * t.seconds / t.attempted);
}

typedef struct PathList {
    char **p;
    int n, cap;
} PathList;

static void pl_add(PathList *l, const char *s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->p = realloc(l->p, sizeof *l->p * (size_t)l->cap);
    }
    l->p[l->n++] = strdup(s);
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void scan(const char *dir, int depth, PathList *out) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(len);
        snprintf(p, len, "%s/%s", dir, e->d_name);
        size_t l = strlen(e->d_name);
        if (is_dir(p)) {
            if (depth > 0) scan(p, depth - 1, out);
        } else if (l > 12 && strcmp(e->d_name + l - 12, ".safetensors") == 0) {
            pl_add(out, p);
        }
        free(p);
    }
    closedir(d);
}

typedef struct Key2 {
    uint64_t a, b;
} Key2;

static int cmp_key2(const void *x, const void *y) {
    const Key2 *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    return (p->b > q->b) - (p->b < q->b);
}

static long count_dups(Key2 *k, long n) {
    qsort(k, (size_t)n, sizeof *k, cmp_key2);
    long d = 0;
    for (long i = 1; i < n; i++) d += cmp_key2(&k[i - 1], &k[i]) == 0;
    return d;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Prints a histogram of v[n] in buckets of width w. */
static void histogram(const char *title, long *v, long n, long w) {
    if (n == 0) return;
    qsort(v, (size_t)n, sizeof *v, cmp_long);
    double sum = 0;
    for (long i = 0; i < n; i++) sum += (double)v[i];
    printf("%s: min %ld  median %ld  mean %.1f  max %ld\n", title, v[0], v[n / 2], sum / (double)n, v[n - 1]);
    long i = 0;
    while (i < n) {
        long lo = v[i] / w * w, c = 0;
        while (i < n && v[i] / w * w == lo) i++, c++;
        int bar = (int)(50.0 * (double)c / (double)n + 0.5);
        if (w == 1) printf("  %8ld      %8ld %5.1f%% ", lo, c, 100.0 * (double)c / (double)n);
        else printf("  %6ld-%-6ld %8ld %5.1f%% ", lo, lo + w - 1, c, 100.0 * (double)c / (double)n);
        for (int b = 0; b < bar; b++) putchar('#');
        putchar('\n');
    }
}

static void counts(const char *title, int col, const long *cnt, int lo, long total) {
    printf("%s:\n", title);
    for (int id = lo; id < pt_vocab_size(col); id++)
        if (cnt[id]) printf("  %-20s %9ld %5.1f%%\n", pt_token_name(col, id), cnt[id], 100.0 * (double)cnt[id] / (double)total);
}

static int stats(const char *dir) {
    PathList l = {0};
    DsShardList ml = {0}; /* a dataset with a manifest: the shards it lists, checksums checked */
    char merr[1024];
    int have_m = is_dir(dir) ? ds_manifest_shards(dir, NULL, &ml, merr, sizeof merr) : 0;
    if (have_m < 0) {
        fprintf(stderr, "itracr dataset: %s\n", merr);
        return EXIT_BAD_INPUT;
    }
    if (have_m) {
        l.p = ml.paths, l.n = l.cap = ml.n;
        ml.paths = NULL;
    } else if (is_dir(dir)) {
        scan(dir, 1, &l);
    } else {
        pl_add(&l, dir);
    }
    if (l.n == 0) {
        fprintf(stderr, "itracr dataset: no shards (*.safetensors) under %s\n", dir);
        return EXIT_BAD_INPUT;
    }
    if (!have_m) qsort(l.p, (size_t)l.n, sizeof *l.p, cmp_str);
    long n = 0, cap = 0;
    long *ops = NULL, *res = NULL, *wt = NULL, *layers = NULL, *vsize = NULL, *slen = NULL;
    long kind_cnt[GEN_VOCAB_KINDS + 1] = {0}, causal = 0;
    /* rows by op and encoding; numerical Maps by input encoding (num->num, cat->num) */
    long enc_cnt[64][2] = {{0}}, num_map_from_num = 0;
    Key2 *pk = NULL, *mk = NULL;
    long op_cnt[64] = {0}, fn_cnt[512] = {0}, rows_total = 0;
    int rc = EXIT_OK;
    for (int i = 0; i < l.n; i++) {
        Shard s;
        char err[512];
        if (shard_read_file(l.p[i], &s, err, sizeof err)) {
            fprintf(stderr, "itracr dataset: %s\n", err);
            rc = EXIT_BAD_INPUT;
            break;
        }
        if (have_m && ds_manifest_check(&s, l.p[i], ml.sums[i], err, sizeof err)) {
            fprintf(stderr, "itracr dataset: %s\n", err);
            shard_free(&s);
            rc = EXIT_BAD_INPUT;
            break;
        }
        if (n + s.n > cap) {
            cap = (n + s.n) * 2;
            ops = realloc(ops, sizeof *ops * (size_t)cap);
            res = realloc(res, sizeof *res * (size_t)cap);
            wt = realloc(wt, sizeof *wt * (size_t)cap);
            layers = realloc(layers, sizeof *layers * (size_t)cap);
            vsize = realloc(vsize, sizeof *vsize * (size_t)cap);
            slen = realloc(slen, sizeof *slen * (size_t)cap);
            pk = realloc(pk, sizeof *pk * (size_t)cap);
            mk = realloc(mk, sizeof *mk * (size_t)cap);
        }
        for (int k = 0; k < s.n; k++) {
            const int32_t *m = s.meta + (size_t)k * ACC_META_COLS;
            ops[n] = m[ACC_META_OPS];
            res[n] = m[ACC_META_RESIDUAL];
            layers[n] = m[ACC_META_LAYERS];
            if (s.setting) {
                const int32_t *g = s.setting + (size_t)k * GEN_SETTING_COLS;
                vsize[n] = g[GEN_SET_N_VOCAB];
                slen[n] = g[GEN_SET_MAX_SEQ_LEN];
                int kk = 0;
                while (kk < GEN_VOCAB_KINDS && g[GEN_SET_KIND] != 1 << kk) kk++;
                kind_cnt[kk]++;
                causal += g[GEN_SET_CAUSAL] != 0;
            } else {
                /* a fixed-setting shard: the compiled vocabulary holds BOS and PAD too */
                vsize[n] = m[ACC_META_VOCAB] - 2;
                slen[n] = m[ACC_META_MAX_SEQ_LEN];
                kind_cnt[GEN_VOCAB_KINDS]++;
            }
            wt[n] = (long)(s.offsets[k + 1] - s.offsets[k]);
            const int16_t *t = s.prog + (size_t)k * PT_ROWS * PT_COLS;
            uint64_t h[2];
            acc_tokens_hash(t, h);
            pk[n] = (Key2){h[0], h[1]};
            mk[n] = (Key2){s.mhash[2 * k], s.mhash[2 * k + 1]};
            n++;
            for (int r = 1; r < PT_ROWS; r++) {
                int op = t[r * PT_COLS + PT_COL_OP], fn = t[r * PT_COLS + PT_COL_FN];
                if (op < PT_OP_MAP) break; /* END */
                rows_total++;
                if (op < 64) op_cnt[op]++;
                int enc = t[r * PT_COLS + PT_COL_ENC];
                if (op < 64 && (enc == PT_ENC_CAT || enc == PT_ENC_NUM)) enc_cnt[op][enc == PT_ENC_NUM]++;
                int a1 = t[r * PT_COLS + PT_COL_A1];
                if (op == PT_OP_MAP && enc == PT_ENC_NUM && a1 >= PT_ARG_V1 &&
                    t[(a1 - PT_ARG_V1 + 1) * PT_COLS + PT_COL_ENC] == PT_ENC_NUM)
                    num_map_from_num++;
                if (fn < 512) fn_cnt[fn]++;
            }
        }
        shard_free(&s);
    }
    if (rc == EXIT_OK) {
        printf("%ld samples in %d shards under %s\n", n, l.n, dir);
        printf("duplicate programs: %ld, duplicate compiled-model hashes: %ld (all shards together)\n\n",
               count_dups(pk, n), count_dups(mk, n));
        histogram("vocabulary size", vsize, n, 1);
        histogram("\nmax_seq_len", slen, n, 1);
        printf("\nvocabulary kind:\n");
        for (int k = 0; k <= GEN_VOCAB_KINDS; k++)
            if (kind_cnt[k])
                printf("  %-20s %9ld %5.1f%%\n", k < GEN_VOCAB_KINDS ? gen_vocab_kind_name(1 << k) : "fixed (int)",
                       kind_cnt[k], 100.0 * (double)kind_cnt[k] / (double)n);
        printf("causal: %ld (%.1f%%)\n\n", causal, 100.0 * (double)causal / (double)(n ? n : 1));
        if (is_dir(dir)) print_transform(dir);
        histogram("ops per program (SOps)", ops, n, 1);
        histogram("\nlayers", layers, n, 1);
        histogram("\nresidual width", res, n, 16);
        histogram("\nweight tokens per sample", wt, n, 64);
        printf("\n");
        counts("op types (all rows)", PT_COL_OP, op_cnt, PT_OP_MAP, rows_total);
        printf("\nencodings (categorical / numerical rows):\n");
        for (int op = PT_OP_MAP; op < PT_OP_VOCAB; op++)
            if (op != PT_OP_SELECT && (enc_cnt[op][0] || enc_cnt[op][1]))
                printf("  %-20s %9ld %9ld\n", pt_token_name(PT_COL_OP, op), enc_cnt[op][0], enc_cnt[op][1]);
        printf("  numerical Maps of a numerical SOp: %ld\n", num_map_from_num);
        long fn_total = 0;
        for (int id = PT_FN_PRED0; id < 512; id++) fn_total += fn_cnt[id];
        counts("\nfunctions (predicates and lambda-library entries)", PT_COL_FN, fn_cnt, PT_FN_PRED0,
               fn_total ? fn_total : 1);
    }
    for (int i = 0; i < l.n; i++) free(l.p[i]);
    free(l.p);
    ml.n = have_m ? l.n : 0; /* the paths went to l */
    for (int i = 0; i < ml.n; i++) free(ml.sums[i]);
    free(ml.sums);
    free(ops);
    free(res);
    free(wt);
    free(layers);
    free(vsize);
    free(slen);
    free(pk);
    free(mk);
    return rc;
}

int cmd_dataset(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "stats") != 0) return cli_usage_error("dataset", "unknown subcommand '%s'", argv[1]);
    CliOpts ps;
    const char *v, *dir = NULL;
    cli_opts_init(&ps, "dataset stats", argc - 1, argv + 1, NULL, 0);
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        if (id == CLI_HELP) {
            fputs(usage, stdout);
            return EXIT_OK;
        }
        if (id == CLI_ERR) return EXIT_USAGE;
        if (dir) return cli_usage_error("dataset stats", "unexpected argument '%s'", v);
        dir = v;
    }
    if (!dir) return cli_usage_error("dataset stats", "missing DIR");
    return stats(dir);
}
