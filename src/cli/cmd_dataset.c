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
    "usage: itracr dataset stats DIR [--json]\n"
    "       itracr dataset show DIR --index I [--split S] [-o MODEL.safetensors] [--json]\n"
    "                          (one sample and its model: itracr dataset show --help)\n"
    "\n"
    "Reads every shard under DIR (DIR/*.safetensors and DIR/*/*.safetensors, or one shard\n"
    "file), checking each one (format, checksum, offsets), and prints the distribution of the\n"
    "settings (vocabulary size and kind, max_seq_len, causal), op counts, op types and their\n"
    "encodings, lambda-library entries and predicates, layers, residual widths and\n"
    "weight-token counts, and counts duplicate programs and compiled models across all the\n"
    "shards. When DIR/manifest.json records a transform (itracr gen --transform), also its\n"
    "acceptance rate and cost per sample. Exit 1 when a shard is damaged.\n"
    "  --json   print the same numbers as one JSON object instead: dir, samples, shards,\n"
    "           duplicate_programs, duplicate_models, causal; histograms vocab_size,\n"
    "           max_seq_len, ops, layers, residual_width, weight_tokens, each {min, median,\n"
    "           mean, max, buckets: [{from, to, count}]}; counts vocab_kind, op_types,\n"
    "           functions ({name: count}) and encodings ({op: {categorical, numerical}});\n"
    "           numerical_maps_of_numerical, predicate_tables; transform {kind, attempted,\n"
    "           rejected, seconds} or null (docs/dataset.md)\n";

/* The transform section of DIR/manifest.json (itracr gen --transform), if any. */
static void print_transform(const char *dir) {
    DsTransformStats t;
    if (!ds_manifest_transform(dir, &t)) return;
    printf(
        "transform %s: %.0f samples transformed, %.0f rejected (%.1f%% accepted), %.2f ms per sample "
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

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}
static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Prints a histogram of v[n] (sorted) in buckets of width w. */
static void histogram(const char *title, const long *v, long n, long w) {
    if (n == 0) return;
    double sum = 0;
    for (long i = 0; i < n; i++) sum += (double)v[i];
    printf("%s: min %ld  median %ld  mean %.1f  max %ld\n", title, v[0], v[n / 2], sum / (double)n,
           v[n - 1]);
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

/* The same histogram as JSON: {min, median, mean, max, buckets: [{from, to, count}]}. */
static cJSON *histogram_json(const long *v, long n, long w) {
    cJSON *h = cJSON_CreateObject();
    double sum = 0;
    for (long i = 0; i < n; i++) sum += (double)v[i];
    cJSON_AddNumberToObject(h, "min", n ? (double)v[0] : 0);
    cJSON_AddNumberToObject(h, "median", n ? (double)v[n / 2] : 0);
    cJSON_AddItemToObject(h, "mean", json_number(n ? sum / (double)n : 0));
    cJSON_AddNumberToObject(h, "max", n ? (double)v[n - 1] : 0);
    cJSON *b = cJSON_AddArrayToObject(h, "buckets");
    for (long i = 0; i < n;) {
        long lo = v[i] / w * w, c = 0;
        while (i < n && v[i] / w * w == lo) i++, c++;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "from", (double)lo);
        cJSON_AddNumberToObject(e, "to", (double)(lo + w - 1));
        cJSON_AddNumberToObject(e, "count", (double)c);
        cJSON_AddItemToArray(b, e);
    }
    return h;
}

static void counts(const char *title, int col, const long *cnt, int lo, long total) {
    printf("%s:\n", title);
    for (int id = lo; id < pt_vocab_size(col); id++)
        if (cnt[id])
            printf("  %-20s %9ld %5.1f%%\n", pt_token_name(col, id), cnt[id],
                   100.0 * (double)cnt[id] / (double)total);
}

static cJSON *counts_json(int col, const long *cnt, int lo) {
    cJSON *o = cJSON_CreateObject();
    for (int id = lo; id < pt_vocab_size(col); id++)
        if (cnt[id]) cJSON_AddNumberToObject(o, pt_token_name(col, id), (double)cnt[id]);
    return o;
}

/* What the shards hold, sample by sample ([n] arrays, sorted once read) and in counts. */
typedef struct DsStats {
    long n, cap;
    long *ops, *res, *wt, *layers, *vsize, *slen; /* [n] */
    Key2 *pk, *mk;                                /* [n] program and compiled-model hashes */
    long kind_cnt[GEN_VOCAB_KINDS + 1], causal;
    long enc_cnt[64][2], num_map_from_num; /* rows by op and encoding (cat, num) */
    long pred_tables;                      /* Selects with a predicate table (fn "table") */
    long op_cnt[64], fn_cnt[512], rows_total;
    long dup_programs, dup_models;
} DsStats;

static void ds_stats_grow(DsStats *st, long need) {
    if (need <= st->cap) return;
    st->cap = need * 2;
    long **cols[] = {&st->ops, &st->res, &st->wt, &st->layers, &st->vsize, &st->slen};
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
        *cols[c] = realloc(*cols[c], sizeof(long) * (size_t)st->cap);
        if (!*cols[c]) abort();
    }
    st->pk = realloc(st->pk, sizeof *st->pk * (size_t)st->cap);
    st->mk = realloc(st->mk, sizeof *st->mk * (size_t)st->cap);
    if (!st->pk || !st->mk) abort();
}

static void ds_stats_free(DsStats *st) {
    free(st->ops), free(st->res), free(st->wt), free(st->layers), free(st->vsize), free(st->slen);
    free(st->pk), free(st->mk);
}

/* The program-token rows of one sample: op types, encodings, functions. */
static void add_rows(DsStats *st, const int16_t *t) {
    for (int r = 1; r < PT_ROWS; r++) {
        int op = t[r * PT_COLS + PT_COL_OP], fn = t[r * PT_COLS + PT_COL_FN];
        if (op < PT_OP_MAP) break; /* END */
        st->rows_total++;
        if (op < 64) st->op_cnt[op]++;
        int enc = t[r * PT_COLS + PT_COL_ENC];
        if (op < 64 && (enc == PT_ENC_CAT || enc == PT_ENC_NUM))
            st->enc_cnt[op][enc == PT_ENC_NUM]++;
        int a1 = t[r * PT_COLS + PT_COL_A1];
        if (op == PT_OP_MAP && enc == PT_ENC_NUM && a1 >= PT_ARG_V1 &&
            t[(a1 - PT_ARG_V1 + 1) * PT_COLS + PT_COL_ENC] == PT_ENC_NUM)
            st->num_map_from_num++;
        if (fn < 512) st->fn_cnt[fn]++;
        st->pred_tables += op == PT_OP_SELECT && fn == PT_FN_TABLE;
    }
}

/* Sample k of shard s. */
static void add_sample(DsStats *st, const Shard *s, int k) {
    long n = st->n;
    const int32_t *m = s->meta + (size_t)k * ACC_META_COLS;
    st->ops[n] = m[ACC_META_OPS];
    st->res[n] = m[ACC_META_RESIDUAL];
    st->layers[n] = m[ACC_META_LAYERS];
    if (s->setting) {
        const int32_t *g = s->setting + (size_t)k * GEN_SETTING_COLS;
        st->vsize[n] = g[GEN_SET_N_VOCAB];
        st->slen[n] = g[GEN_SET_MAX_SEQ_LEN];
        int kk = 0;
        while (kk < GEN_VOCAB_KINDS && g[GEN_SET_KIND] != 1 << kk) kk++;
        st->kind_cnt[kk]++;
        st->causal += g[GEN_SET_CAUSAL] != 0;
    } else {
        /* a fixed-setting shard: the compiled vocabulary holds BOS and PAD too */
        st->vsize[n] = m[ACC_META_VOCAB] - 2;
        st->slen[n] = m[ACC_META_MAX_SEQ_LEN];
        st->kind_cnt[GEN_VOCAB_KINDS]++;
    }
    st->wt[n] = (long)(s->offsets[k + 1] - s->offsets[k]);
    const int16_t *t = s->prog + (size_t)k * PT_ROWS * PT_COLS;
    uint64_t h[2];
    acc_tokens_hash(t, h);
    st->pk[n] = (Key2){h[0], h[1]};
    st->mk[n] = (Key2){s->mhash[2 * k], s->mhash[2 * k + 1]};
    st->n++;
    add_rows(st, t);
}

/* The shards of DIR: those its manifest lists (checksums checked), else those under it
 * (*.safetensors in DIR and its subfolders) in name order, else DIR itself as one shard.
 * Returns 0, or 1 after printing why. */
static int list_shards(const char *dir, PathList *l, DsShardList *ml, int *have_m) {
    char merr[1024];
    *have_m = is_dir(dir) ? ds_manifest_shards(dir, NULL, ml, merr, sizeof merr) : 0;
    if (*have_m < 0) {
        fprintf(stderr, "itracr dataset: %s\n", merr);
        return 1;
    }
    if (*have_m) {
        l->p = ml->paths, l->n = l->cap = ml->n;
        ml->paths = NULL;
    } else if (is_dir(dir)) {
        scan(dir, 1, l);
    } else {
        pl_add(l, dir);
    }
    if (l->n == 0) {
        fprintf(stderr, "itracr dataset: no shards (*.safetensors) under %s\n", dir);
        return 1;
    }
    if (!*have_m) qsort(l->p, (size_t)l->n, sizeof *l->p, cmp_str);
    return 0;
}

/* Reads the shards of l into st. Returns 0, or 1 after printing why. */
static int collect(const PathList *l, const DsShardList *ml, int have_m, DsStats *st) {
    for (int i = 0; i < l->n; i++) {
        Shard s;
        char err[512];
        if (shard_read_file(l->p[i], &s, err, sizeof err)) {
            fprintf(stderr, "itracr dataset: %s\n", err);
            return 1;
        }
        if (have_m && ds_manifest_check(&s, l->p[i], ml->sums[i], err, sizeof err)) {
            fprintf(stderr, "itracr dataset: %s\n", err);
            shard_free(&s);
            return 1;
        }
        ds_stats_grow(st, st->n + s.n);
        for (int k = 0; k < s.n; k++) add_sample(st, &s, k);
        shard_free(&s);
    }
    st->dup_programs = count_dups(st->pk, st->n);
    st->dup_models = count_dups(st->mk, st->n);
    long *cols[] = {st->ops, st->res, st->wt, st->layers, st->vsize, st->slen};
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
        qsort(cols[c], (size_t)st->n, sizeof(long), cmp_long);
    return 0;
}

static const char *kind_name(int k) {
    return k < GEN_VOCAB_KINDS ? gen_vocab_kind_name(1 << k) : "fixed (int)";
}

static void print_text(const char *dir, int n_shards, const DsStats *st) {
    long n = st->n;
    printf("%ld samples in %d shards under %s\n", n, n_shards, dir);
    printf(
        "duplicate programs: %ld, duplicate compiled-model hashes: %ld (all shards together)\n\n",
        st->dup_programs, st->dup_models);
    histogram("vocabulary size", st->vsize, n, 1);
    histogram("\nmax_seq_len", st->slen, n, 1);
    printf("\nvocabulary kind:\n");
    for (int k = 0; k <= GEN_VOCAB_KINDS; k++)
        if (st->kind_cnt[k])
            printf("  %-20s %9ld %5.1f%%\n", kind_name(k), st->kind_cnt[k],
                   100.0 * (double)st->kind_cnt[k] / (double)n);
    printf("causal: %ld (%.1f%%)\n\n", st->causal,
           100.0 * (double)st->causal / (double)(n ? n : 1));
    if (is_dir(dir)) print_transform(dir);
    histogram("ops per program (SOps)", st->ops, n, 1);
    histogram("\nlayers", st->layers, n, 1);
    histogram("\nresidual width", st->res, n, 16);
    histogram("\nweight tokens per sample", st->wt, n, 64);
    printf("\n");
    counts("op types (all rows)", PT_COL_OP, st->op_cnt, PT_OP_MAP, st->rows_total);
    printf("\nencodings (categorical / numerical rows):\n");
    for (int op = PT_OP_MAP; op < PT_OP_VOCAB; op++)
        if (op != PT_OP_SELECT && (st->enc_cnt[op][0] || st->enc_cnt[op][1]))
            printf("  %-20s %9ld %9ld\n", pt_token_name(PT_COL_OP, op), st->enc_cnt[op][0],
                   st->enc_cnt[op][1]);
    printf("  numerical Maps of a numerical SOp: %ld\n", st->num_map_from_num);
    printf("  Selects with a predicate table: %ld\n", st->pred_tables);
    long fn_total = 0;
    for (int id = PT_FN_PRED0; id < 512; id++) fn_total += st->fn_cnt[id];
    counts("\nfunctions (predicates and lambda-library entries)", PT_COL_FN, st->fn_cnt,
           PT_FN_PRED0, fn_total ? fn_total : 1);
}

/* --json: the numbers of print_text as one object (documented in the usage text). */
static void print_json(const char *dir, int n_shards, const DsStats *st) {
    long n = st->n;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "dir", dir);
    cJSON_AddNumberToObject(o, "samples", (double)n);
    cJSON_AddNumberToObject(o, "shards", n_shards);
    cJSON_AddNumberToObject(o, "duplicate_programs", (double)st->dup_programs);
    cJSON_AddNumberToObject(o, "duplicate_models", (double)st->dup_models);
    cJSON_AddItemToObject(o, "vocab_size", histogram_json(st->vsize, n, 1));
    cJSON_AddItemToObject(o, "max_seq_len", histogram_json(st->slen, n, 1));
    cJSON *kinds = cJSON_AddObjectToObject(o, "vocab_kind");
    for (int k = 0; k <= GEN_VOCAB_KINDS; k++)
        if (st->kind_cnt[k]) cJSON_AddNumberToObject(kinds, kind_name(k), (double)st->kind_cnt[k]);
    cJSON_AddNumberToObject(o, "causal", (double)st->causal);
    DsTransformStats t;
    if (is_dir(dir) && ds_manifest_transform(dir, &t)) {
        cJSON *tj = cJSON_AddObjectToObject(o, "transform");
        cJSON_AddStringToObject(tj, "kind", t.kind);
        cJSON_AddNumberToObject(tj, "attempted", t.attempted);
        cJSON_AddNumberToObject(tj, "rejected", t.rejected);
        cJSON_AddItemToObject(tj, "seconds", json_number(t.seconds));
    } else {
        cJSON_AddNullToObject(o, "transform");
    }
    cJSON_AddItemToObject(o, "ops", histogram_json(st->ops, n, 1));
    cJSON_AddItemToObject(o, "layers", histogram_json(st->layers, n, 1));
    cJSON_AddItemToObject(o, "residual_width", histogram_json(st->res, n, 16));
    cJSON_AddItemToObject(o, "weight_tokens", histogram_json(st->wt, n, 64));
    cJSON_AddItemToObject(o, "op_types", counts_json(PT_COL_OP, st->op_cnt, PT_OP_MAP));
    cJSON *enc = cJSON_AddObjectToObject(o, "encodings");
    for (int op = PT_OP_MAP; op < PT_OP_VOCAB; op++)
        if (op != PT_OP_SELECT && (st->enc_cnt[op][0] || st->enc_cnt[op][1])) {
            cJSON *e = cJSON_AddObjectToObject(enc, pt_token_name(PT_COL_OP, op));
            cJSON_AddNumberToObject(e, "categorical", (double)st->enc_cnt[op][0]);
            cJSON_AddNumberToObject(e, "numerical", (double)st->enc_cnt[op][1]);
        }
    cJSON_AddNumberToObject(o, "numerical_maps_of_numerical", (double)st->num_map_from_num);
    cJSON_AddNumberToObject(o, "predicate_tables", (double)st->pred_tables);
    cJSON_AddItemToObject(o, "functions", counts_json(PT_COL_FN, st->fn_cnt, PT_FN_PRED0));
    char *text = cJSON_Print(o);
    if (text) printf("%s\n", text);
    free(text);
    cJSON_Delete(o);
}

static int stats(const char *dir, bool json) {
    PathList l = {0};
    DsShardList ml = {0};
    DsStats st = {0};
    int have_m = 0, rc = EXIT_BAD_INPUT;
    if (list_shards(dir, &l, &ml, &have_m) == 0 && collect(&l, &ml, have_m, &st) == 0) {
        if (json) print_json(dir, l.n, &st);
        else print_text(dir, l.n, &st);
        rc = EXIT_OK;
    }
    for (int i = 0; i < l.n; i++) free(l.p[i]);
    free(l.p);
    ml.n = have_m ? l.n : 0; /* the paths went to l */
    for (int i = 0; i < ml.n; i++) free(ml.sums[i]);
    free(ml.sums);
    ds_stats_free(&st);
    return rc;
}

int cmd_dataset(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "show") == 0) return dataset_show(argc - 1, argv + 1);
    if (strcmp(argv[1], "stats") != 0)
        return cli_usage_error("dataset", "unknown subcommand '%s'", argv[1]);
    const char *dir;
    bool json;
    int rc = cli_opts_operand_flag("dataset stats", argc - 1, argv + 1, usage, "json", "DIR", &dir,
                                   &json);
    if (rc >= 0) return rc;
    return stats(dir, json);
}
