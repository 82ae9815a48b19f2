/* The dataset generator (see gen_driver.h). */
#include "dataset/gen_driver.h"

#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dataset/ds_manifest.h"
#include "dataset/shard.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "rasp/rasp.h"
#include "util/strbuf.h"

void gd_config_default(GdConfig *c) {
    memset(c, 0, sizeof *c);
    gen_config_default(&c->gen);
    acc_settings_default(&c->acc);
    c->n = 1000;
    c->seed = 1;
    c->jobs = 1;
    c->shard_size = 10000;
    char err[64];
    gd_parse_splits(c, "train=0.96,val=0.02,test=0.02", err, sizeof err);
}

int gd_parse_splits(GdConfig *c, const char *text, char *err, size_t errcap) {
    int n = 0;
    double sum = 0;
    const char *s = text;
    while (*s) {
        const char *eq = strchr(s, '=');
        const char *end = strchr(s, ',');
        if (!end) end = s + strlen(s);
        if (!eq || eq > end || eq == s || eq - s >= 16 || n == GD_MAX_SPLITS) {
            snprintf(err, errcap, "bad split list \"%s\": expected NAME=FRACTION,... (at most %d)",
                     text, GD_MAX_SPLITS);
            return 1;
        }
        char name[16];
        memcpy(name, s, (size_t)(eq - s));
        name[eq - s] = 0;
        for (const char *q = name; *q; q++)
            if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                  (*q >= '0' && *q <= '9') || *q == '_' || *q == '-')) {
                snprintf(err, errcap, "bad split name \"%s\" (letters, digits, _ and - only)",
                         name);
                return 1;
            }
        char *num_end;
        double f = strtod(eq + 1, &num_end);
        if (num_end != end || !(f >= 0) || f > 1) {
            snprintf(err, errcap, "bad fraction for split %s", name);
            return 1;
        }
        for (int i = 0; i < n; i++)
            if (strcmp(c->split_name[i], name) == 0) {
                snprintf(err, errcap, "split %s given twice", name);
                return 1;
            }
        memcpy(c->split_name[n], name, sizeof name);
        c->split_frac[n++] = f;
        sum += f;
        s = *end ? end + 1 : end;
    }
    if (n == 0 || sum < 0.999 || sum > 1.001) {
        snprintf(err, errcap, "split fractions must add up to 1 (got %g)", sum);
        return 1;
    }
    c->n_splits = n;
    return 0;
}

/* ---- 128-bit hash set ---------------------------------------------------------------- */

typedef struct HashSet {
    uint64_t *k; /* [cap, 2]; {0, 0} = empty */
    size_t cap, used;
} HashSet;

static int hs_grow(HashSet *h) {
    size_t cap = h->cap ? h->cap * 2 : 1024;
    uint64_t *k = calloc(cap * 2, sizeof *k);
    if (!k) return -1;
    for (size_t i = 0; i < h->cap; i++) {
        uint64_t a = h->k[2 * i], b = h->k[2 * i + 1];
        if (!a && !b) continue;
        size_t j = a & (cap - 1);
        while (k[2 * j] || k[2 * j + 1]) j = (j + 1) & (cap - 1);
        k[2 * j] = a;
        k[2 * j + 1] = b;
    }
    free(h->k);
    h->k = k;
    h->cap = cap;
    return 0;
}

/* Inserts key; 1 if it was already there, 0 if added, -1 on OOM. */
static int hs_insert(HashSet *h, const uint64_t key[2]) {
    uint64_t a = key[0], b = key[1];
    if (!a && !b) b = 1; /* {0, 0} marks empty slots */
    if ((h->used + 1) * 2 > h->cap && hs_grow(h)) return -1;
    size_t j = a & (h->cap - 1);
    while (h->k[2 * j] || h->k[2 * j + 1]) {
        if (h->k[2 * j] == a && h->k[2 * j + 1] == b) return 1;
        j = (j + 1) & (h->cap - 1);
    }
    h->k[2 * j] = a;
    h->k[2 * j + 1] = b;
    h->used++;
    return 0;
}

static int hs_contains(const HashSet *h, const uint64_t key[2]) {
    if (!h->cap) return 0;
    uint64_t a = key[0], b = key[1];
    if (!a && !b) b = 1;
    size_t j = a & (h->cap - 1);
    while (h->k[2 * j] || h->k[2 * j + 1]) {
        if (h->k[2 * j] == a && h->k[2 * j + 1] == b) return 1;
        j = (j + 1) & (h->cap - 1);
    }
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------- */

static int make_dir(const char *path, char *err, size_t errcap) {
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return 0;
    }
    snprintf(err, errcap, "%s: cannot create directory: %s", path, strerror(errno));
    return 1;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int gd_classic_hashes(const char *dir, uint64_t (*out)[2], int cap, int *total) {
    *total = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    char *names[256];
    int n = 0, kept = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".rasp") == 0) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        if (!names[i]) continue;
        StrBuf path;
        sb_init(&path);
        sb_printf(&path, "%s/%s", dir, names[i]);
        RaspProgram p;
        char err[512];
        (*total)++;
        if (rasp_parse_file(path.s, &p, err, sizeof err) == 0) {
            int16_t tok[PT_ROWS * PT_COLS];
            if (pt_encode(&p, tok, err, sizeof err) == 0 && kept < cap)
                acc_tokens_hash(tok, out[kept++]);
        }
        rasp_program_free(&p);
        sb_free(&path);
        free(names[i]);
    }
    return kept;
}

/* Adds the canonical tokens of every .rasp program in dir that has a token form. */
static void load_classics(const char *dir, HashSet *set, GdStats *st) {
    uint64_t h[256][2];
    int total = 0;
    int n = gd_classic_hashes(dir, h, 256, &total);
    st->classic_total += total;
    for (int i = 0; i < n; i++) {
        hs_insert(set, h[i]);
        st->classic_expressible++;
    }
}

static char *generator_json(const GdConfig *c) {
    const GenConfig *g = &c->gen;
    StrBuf b;
    sb_init(&b);
    sb_printf(&b, "{\"min_ops\":%d,\"max_ops\":%d,\"vocab\":[", g->min_ops, g->max_ops);
    for (int i = 0; i < g->n_vocab; i++) sb_printf(&b, "%s%d", i ? "," : "", g->vocab[i]);
    sb_printf(&b, "],\"max_seq_len\":%d,\"op_weight\":[", g->max_seq_len);
    for (int i = 0; i < GEN_K_COUNT; i++) sb_printf(&b, "%s%.17g", i ? "," : "", g->op_weight[i]);
    sb_append(&b, "],\"pred_weight\":[");
    for (int i = 0; i < 8; i++) sb_printf(&b, "%s%.17g", i ? "," : "", g->pred_weight[i]);
    sb_printf(&b,
              "],\"p_numerical\":%.17g,\"p_reuse_select\":%.17g,\"categorical_only\":%s,"
              "\"max_values\":%d,\"max_residual\":%d,\"max_layers\":%d,\"max_mlp_width\":%d,"
              "\"max_tries\":%d,\"n_test\":%d,\"reject_const_ops\":%s,\"wt_scheme\":\"%s\","
              "\"wt_norm\":\"%s\",\"splits\":{",
              g->p_numerical, g->p_reuse_select, g->categorical_only ? "true" : "false",
              g->max_values, g->max_residual, g->max_layers, g->max_mlp_width, g->max_tries,
              c->acc.n_test, c->acc.reject_const_ops ? "true" : "false",
              wt_scheme_name(c->acc.wt.scheme), wt_norm_name(c->acc.wt.norm));
    for (int i = 0; i < c->n_splits; i++)
        sb_printf(&b, "%s\"%s\":%.17g", i ? "," : "", c->split_name[i], c->split_frac[i]);
    sb_append(&b, "}");
    if (c->acc.transform != ACC_TF_NONE) /* absent by default: stock datasets keep their bytes */
        sb_printf(&b, ",\"transform\":\"%s\",\"compress_steps\":%d",
                  acc_transform_name(c->acc.transform), c->acc.compress_steps);
    if (gen_config_varies(g)) {
        /* only for drawn settings, so that a fixed-setting dataset keeps its old bytes */
        sb_printf(&b, ",\"setting\":{\"vocab_size\":[%d,%d],\"vocab_kinds\":[", g->vocab_min,
                  g->vocab_max);
        for (int k = 0, first = 1; k < GEN_VOCAB_KINDS; k++)
            if (g->vocab_kinds & (1u << k)) {
                sb_printf(&b, "%s\"%s\"", first ? "" : ",", gen_vocab_kind_name(1 << k));
                first = 0;
            }
        sb_printf(&b, "],\"max_seq_len\":[%d,%d],\"p_causal\":%.17g}", g->len_min, g->len_max,
                  g->p_causal);
    }
    if (g->p_table > 0) sb_printf(&b, ",\"p_table\":%.17g", g->p_table);
    if (g->p_pred_table > 0) sb_printf(&b, ",\"p_pred_table\":%.17g", g->p_pred_table);
    sb_append(&b, "}");
    return sb_take(&b);
}

char *gd_run_identity(const GdConfig *c) {
    char *g = generator_json(c);
    StrBuf b;
    sb_init(&b);
    sb_printf(
        &b,
        "{\"format\":\"itracr-gen-run/1\",\"seed\":%llu,\"n\":%ld,\"shard_size\":%d,\"exclude\":%s,"
        "\"generator\":%s}\n",
        (unsigned long long)c->seed, c->n, c->shard_size, c->exclude_dir ? "true" : "false", g);
    free(g);
    return sb_take(&b);
}

int gd_pick_split(const GdConfig *c, const uint64_t h[2]) {
    double u = (double)(h[1] >> 11) * 0x1p-53, acc = 0;
    for (int i = 0; i < c->n_splits; i++) {
        acc += c->split_frac[i];
        if (u < acc) return i;
    }
    return c->n_splits - 1;
}

typedef struct Writer {
    const GdConfig *c;
    const char *gen_json;
    char seed_text[32];
    ShardBuilder sb[GD_MAX_SPLITS];
    int shard_no[GD_MAX_SPLITS];
    StrBuf files[GD_MAX_SPLITS]; /* JSON list of shard file names per split */
    StrBuf sums[GD_MAX_SPLITS];  /* JSON list of their checksums */
} Writer;

static int flush_shard(Writer *w, int s, GdStats *st, char *err, size_t errcap) {
    const GdConfig *c = w->c;
    if (w->sb[s].n == 0) return 0;
    char name[64], path[4096], shard_text[32];
    snprintf(name, sizeof name, "shard-%06d.safetensors", w->shard_no[s]);
    snprintf(path, sizeof path, "%s/%s/%s", c->out_dir, c->split_name[s], name);
    snprintf(shard_text, sizeof shard_text, "%d", w->shard_no[s]);
    const char *extra[] = {"generator", w->gen_json,      "seed",  w->seed_text,
                           "split",     c->split_name[s], "shard", shard_text};
    if (shard_write(&w->sb[s], path, extra, 4, err, errcap)) return 1;
    char sum[17];
    if (ds_shard_file_checksum(path, sum, err, errcap)) return 1;
    sb_printf(&w->files[s], "%s\"%s/%s\"", w->shard_no[s] ? "," : "", c->split_name[s], name);
    sb_printf(&w->sums[s], "%s\"%s\"", w->shard_no[s] ? "," : "", sum);
    w->shard_no[s]++;
    st->shards++;
    shard_builder_clear(&w->sb[s]);
    return 0;
}

static int write_manifest(Writer *w, const GdStats *st, char *err, size_t errcap) {
    const GdConfig *c = w->c;
    StrBuf b;
    sb_init(&b);
    sb_printf(&b, "{\n  \"format\": \"itracr-dataset/1\",\n  \"seed\": %s,\n  \"n\": %ld,\n",
              w->seed_text, c->n);
    sb_printf(&b, "  \"generator\": %s,\n  \"splits\": {", w->gen_json);
    for (int s = 0; s < c->n_splits; s++)
        sb_printf(&b, "%s\n    \"%s\": {\"samples\": %ld, \"shards\": [%s], \"checksums\": [%s]}",
                  s ? "," : "", c->split_name[s], st->per_split[s],
                  w->files[s].s ? w->files[s].s : "", w->sums[s].s ? w->sums[s].s : "");
    sb_printf(&b, "\n  },\n  \"seeds_tried\": %ld,\n  \"rejected\": {", st->seeds);
    for (int r = 1; r < ACC_R_COUNT; r++)
        sb_printf(&b, "%s\"%s\": %ld", r > 1 ? ", " : "", acc_reason_name(r), st->rejected[r]);
    sb_printf(
        &b,
        "},\n  \"duplicates\": {\"canonical\": %ld, \"compiled_model\": %ld, \"classic\": %ld},\n",
        st->dup_canonical, st->dup_model, st->classic);
    sb_printf(&b, "  \"classic_programs\": {\"total\": %d, \"expressible\": %d},\n",
              st->classic_total, st->classic_expressible);
    if (c->acc.transform != ACC_TF_NONE)
        sb_printf(&b,
                  "  \"transform\": {\"kind\": \"%s\", \"attempted\": %ld, \"rejected\": %ld, "
                  "\"seconds\": %.3f},\n",
                  acc_transform_name(c->acc.transform), st->tf_attempted,
                  st->rejected[ACC_R_TRANSFORM], st->tf_seconds);
    sb_printf(&b, "  \"accepted_with_constant_op\": %ld,\n  \"weight_tokens\": %ld\n}\n",
              st->const_op, st->wt_tokens);
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", c->out_dir);
    int rc = atomic_write(path, b.s, b.len, err, errcap);
    sb_free(&b);
    return rc;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress(const GdConfig *c, const GdStats *st, double t0, bool final) {
    double el = now_s() - t0;
    double rate = el > 0 ? (double)st->accepted / el : 0;
    double eta = rate > 0 ? (double)(c->n - st->accepted) / rate : 0;
    int w = 30, fill = c->n ? (int)((double)w * (double)st->accepted / (double)c->n) : w;
    char bar[64];
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
    bar[w] = 0;
    fprintf(stderr, "\r[%s] %ld/%ld  %.0f samples/s  accept %.1f%%  ETA %dm%02ds ", bar,
            st->accepted, c->n, rate,
            st->seeds ? 100.0 * (double)st->accepted / (double)st->seeds : 0.0, (int)(eta / 60),
            (int)eta % 60);
    if (final) fputc('\n', stderr);
    fflush(stderr);
}

/* ---- the run ------------------------------------------------------------------------- */

/* What the writer owns: only the thread that runs write_round touches it. */
typedef struct RunState {
    const GdConfig *c;
    GdStats *st;
    Writer *w;
    HashSet *prog_set, *model_set;
    const HashSet *classic_set;
    char *err;
    size_t errcap;
} RunState;

/* Consumes one round of results in index order (de-duplication, split, shard), stopping at
 * the sample that completes n. Returns 0, or non-zero with a message. */
static int write_round(RunState *rs, AccResult *res, int count, long base) {
    const GdConfig *c = rs->c;
    GdStats *st = rs->st;
    for (int k = 0; k < count && st->accepted < c->n; k++) {
        AccResult *r = &res[k];
        st->seeds++;
        if (r->tf_attempted) {
            st->tf_attempted++;
            st->tf_seconds += r->tf_seconds;
        }
        for (int g = 0; g < GEN_R_COUNT; g++) st->sampler_rejects[g] += r->sampler_rejects[g];
        if (r->reason != ACC_OK) {
            st->rejected[r->reason]++;
            continue;
        }
        if (hs_contains(rs->classic_set, r->prog_hash)) {
            st->classic++;
            continue;
        }
        int d = hs_insert(rs->prog_set, r->prog_hash);
        if (d == 1) {
            st->dup_canonical++;
            continue;
        }
        if (r->skipped) { /* cannot happen: its hash was seen in an earlier round */
            snprintf(rs->err, rs->errcap, "internal error: a skipped sample was not a duplicate");
            return 1;
        }
        int dm = d < 0 ? -1 : hs_insert(rs->model_set, r->model_hash);
        if (dm == 1) {
            st->dup_model++;
            continue;
        }
        if (dm < 0) {
            snprintf(rs->err, rs->errcap, "out of memory");
            return 1;
        }
        int s = gd_pick_split(c, r->prog_hash);
        int added = shard_builder_add(&rs->w->sb[s], r, base + k);
        if (added) {
            snprintf(rs->err, rs->errcap,
                     added == -2 ? "a sample's setting has no integer form" : "out of memory");
            return 1;
        }
        st->accepted++;
        st->per_split[s]++;
        st->wt_tokens += r->wt.n;
        if (r->has_const_op) st->const_op++;
        if (rs->w->sb[s].n >= c->shard_size && flush_shard(rs->w, s, st, rs->err, rs->errcap))
            return 1;
    }
    return 0;
}

/* Adds the programs of a written round to the set the workers read (a program seen there is
 * not compiled again). Returns 0, or -1 on OOM. */
static int note_programs(HashSet *seen, const HashSet *classic, const AccResult *res, int count) {
    for (int k = 0; k < count; k++)
        if (res[k].reason == ACC_OK && !hs_contains(classic, res[k].prog_hash) &&
            hs_insert(seen, res[k].prog_hash) < 0)
            return -1;
    return 0;
}

int gd_run(const GdConfig *c, GdStats *st, char *err, size_t errcap) {
    memset(st, 0, sizeof *st);
    if (gen_config_check(&c->gen, err, errcap)) return 1;
    if (c->n < 0 || c->jobs < 1 || c->jobs > 256 || c->shard_size < 1 || c->n_splits < 1) {
        snprintf(err, errcap, "bad generator settings (n >= 0, jobs 1..256, shard size >= 1)");
        return 1;
    }
    if (make_dir(c->out_dir, err, errcap)) return 1;
    for (int s = 0; s < c->n_splits; s++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", c->out_dir, c->split_name[s]);
        if (make_dir(p, err, errcap)) return 1;
    }
    openblas_set_num_threads(1); /* the workers are the parallelism; BLAS calls are tiny */
    int jobs = c->jobs;
    GenSampler **samp = calloc((size_t)jobs, sizeof *samp);
    const int round = 512; /* fixed: see the parallel loop */
    /* Two result buffers [2, round]: the workers fill one while the writer consumes the other. */
    AccResult *res = malloc(sizeof *res * (size_t)round * 2);
    HashSet prog_set = {0}, model_set = {0}, classic_set = {0}, seen = {0};
    Writer w;
    memset(&w, 0, sizeof w);
    w.c = c;
    int rc = 0;
    if (!samp || !res) {
        snprintf(err, errcap, "out of memory");
        free(samp);
        free(res);
        return 1;
    }
    for (int i = 0; i < 2 * round; i++) acc_result_init(&res[i]);
    for (int j = 0; j < jobs && !rc; j++)
        if (!(samp[j] = gen_sampler_new(&c->gen, err, errcap))) rc = 1;
    w.gen_json = generator_json(c);
    snprintf(w.seed_text, sizeof w.seed_text, "%llu", (unsigned long long)c->seed);
    for (int s = 0; s < c->n_splits; s++) {
        shard_builder_init(&w.sb[s]);
        w.sb[s].wt = c->acc.wt;
        w.sb[s].settings = gen_config_varies(&c->gen);
        w.sb[s].tables = w.sb[s].settings || c->gen.p_table > 0 || c->gen.p_pred_table > 0;
        sb_init(&w.files[s]);
        sb_append(&w.files[s], "");
        sb_init(&w.sums[s]);
        sb_append(&w.sums[s], "");
    }
    if (c->exclude_dir) load_classics(c->exclude_dir, &classic_set, st);
    RunState rs = {c, st, &w, &prog_set, &model_set, &classic_set, err, errcap};
    long max_seeds = c->max_seeds > 0 ? c->max_seeds : 1000 * c->n + 100000;
    double t0 = now_s(), last = t0;
    long base = 0;     /* first index of the next round to compute */
    long pending = -1; /* first index of the computed round the writer has not consumed */
    AccResult *pres = NULL;
    int cur = 0; /* the buffer the next round goes to */
    while (!rc && st->accepted < c->n) {
        /* The writer runs alongside the workers (a pipeline of depth one) unless the pending
         * round might complete n -- it adds at most its ACC_OK samples -- or no round is left
         * to compute: then it runs alone, so that no round is computed in vain. */
        bool alone = false;
        if (pending >= 0) {
            long ok = 0;
            for (int k = 0; k < round; k++) ok += pres[k].reason == ACC_OK;
            alone = st->accepted + ok >= c->n || base >= max_seeds;
        }
        if (alone) {
            rc = write_round(&rs, pres, round, pending);
            if (!rc && note_programs(&seen, &classic_set, pres, round)) {
                snprintf(err, errcap, "out of memory");
                rc = 1;
            }
            pending = -1;
            continue;
        }
        if (base >= max_seeds) {
            snprintf(err, errcap, "gave up after %ld seeds with %ld of %ld samples accepted", base,
                     st->accepted, c->n);
            rc = 1;
            break;
        }
        AccResult *cres = res + (size_t)cur * round;
        int wrc = 0;
        /* The workers read `seen` and the classic set only; `seen` changes between regions
         * and holds the programs of every round written so far, which is a function of the
         * round structure alone (not of the jobs), so what a worker skips is too. */
#pragma omp parallel num_threads(jobs)
        {
#pragma omp single nowait
            if (pending >= 0) wrc = write_round(&rs, pres, round, pending);
#pragma omp for schedule(dynamic, 4)
            for (int k = 0; k < round; k++) {
                int t = omp_get_thread_num();
                uint64_t seed = gen_sample_seed(c->seed, (uint64_t)(base + k));
                AccResult *r = &cres[k];
                r->skipped = false;
                if (acc_sample(samp[t], seed, r) != ACC_OK) continue;
                if (hs_contains(&classic_set, r->prog_hash) || hs_contains(&seen, r->prog_hash)) {
                    r->skipped =
                        true; /* the writer drops it as a duplicate: no need to compile it */
                    continue;
                }
                acc_finish(samp[t], &c->acc, seed, r);
            }
        }
        rc = wrc;
        if (!rc && pending >= 0 && note_programs(&seen, &classic_set, pres, round)) {
            snprintf(err, errcap, "out of memory");
            rc = 1;
        }
        pending = base;
        pres = cres;
        cur ^= 1;
        base += round;
        if (c->progress && now_s() - last > 0.2) {
            last = now_s();
            progress(c, st, t0, false);
        }
    }
    for (int s = 0; s < c->n_splits && !rc; s++)
        if (flush_shard(&w, s, st, err, errcap)) rc = 1;
    st->seconds = now_s() - t0;
    if (c->progress) progress(c, st, t0, true);
    if (!rc) rc = write_manifest(&w, st, err, errcap);
    for (int s = 0; s < c->n_splits; s++) {
        shard_builder_free(&w.sb[s]);
        sb_free(&w.files[s]);
        sb_free(&w.sums[s]);
    }
    free((char *)w.gen_json);
    for (int i = 0; i < 2 * round; i++) acc_result_free(&res[i]);
    free(res);
    for (int j = 0; j < jobs; j++) gen_sampler_free(samp[j]);
    free(samp);
    free(prog_set.k);
    free(model_set.k);
    free(classic_set.k);
    free(seen.k);
    return rc;
}

void gd_print_summary(FILE *f, const GdConfig *c, const GdStats *st) {
    fprintf(f, "accepted %ld samples from %ld seeds in %.2fs (%.0f accepted/s, %d jobs)\n",
            st->accepted, st->seeds, st->seconds,
            st->seconds > 0 ? (double)st->accepted / st->seconds : 0.0, c->jobs);
    for (int s = 0; s < c->n_splits; s++)
        fprintf(f, "  %-8s %ld\n", c->split_name[s], st->per_split[s]);
    fprintf(f, "rejected:");
    for (int r = 1; r < ACC_R_COUNT; r++)
        if (st->rejected[r]) fprintf(f, " %s %ld", acc_reason_name(r), st->rejected[r]);
    fprintf(
        f,
        "\nduplicates dropped: canonical %ld, compiled-model %ld, classic programs %ld (%d of %d "
        "classic programs expressible)\n",
        st->dup_canonical, st->dup_model, st->classic, st->classic_expressible, st->classic_total);
    long cand = st->accepted + st->dup_canonical + st->dup_model + st->classic +
                st->rejected[ACC_R_CONST_OP];
    fprintf(
        f,
        "samples with an op that never varies: %ld rejected (%.2f%% of the samples passing every other check), %ld kept\n",
        st->rejected[ACC_R_CONST_OP],
        cand ? 100.0 * (double)st->rejected[ACC_R_CONST_OP] / (double)cand : 0.0, st->const_op);
    static const char *const gr[GEN_R_COUNT] = {"stuck",     "layers", "mlp",   "residual",
                                                "no_tokens", "head",   "tables"};
    fprintf(f, "sampler restarts:");
    for (int g = 0; g < GEN_R_COUNT; g++) fprintf(f, " %s %ld", gr[g], st->sampler_rejects[g]);
    if (st->tf_attempted)
        fprintf(
            f,
            "\ntransform %s: %ld samples transformed, %ld rejected (%.1f%% accepted), %.2f ms per sample",
            acc_transform_name(c->acc.transform), st->tf_attempted, st->rejected[ACC_R_TRANSFORM],
            100.0 * (double)(st->tf_attempted - st->rejected[ACC_R_TRANSFORM]) /
                (double)st->tf_attempted,
            1000.0 * st->tf_seconds / (double)st->tf_attempted);
    fprintf(f, "\nshards written: %ld, weight tokens: %ld (%.1f per sample)\n", st->shards,
            st->wt_tokens, st->accepted ? (double)st->wt_tokens / (double)st->accepted : 0.0);
}
