/* In-memory training data (meta.h). */
#include "meta/meta.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset/ds_manifest.h"
#include "dataset/shard.h"

void train_data_init(TrainData *d) {
    memset(d, 0, sizeof *d);
    wt_options_default(&d->wt);
}

void train_data_free(TrainData *d) {
    free(d->prog);
    free(d->off);
    free(d->payload);
    free(d->ids);
    free(d->setting);
    free(d->sample_seed);
    train_data_init(d);
}

void train_data_clear(TrainData *d) {
    d->n = 0;
    d->total = 0;
    d->max_p = 0;
    d->skipped = 0;
    d->setting_rows = 0;
    d->seed_rows = 0;
    if (d->off) d->off[0] = 0;
}

int train_data_add(TrainData *d, const int16_t *table, const float *payload, const int16_t *ids,
                   int P, int max_p) {
    if (P <= 0 || (max_p > 0 && P > max_p)) {
        d->skipped++;
        return 0;
    }
    if (d->n + 1 > d->cap) {
        int nc = d->cap ? d->cap * 2 : 256;
        int16_t *np = realloc(d->prog, sizeof(int16_t) * PT_ROWS * PT_COLS * (size_t)nc);
        if (!np) return -1;
        d->prog = np;
        int64_t *no = realloc(d->off, sizeof(int64_t) * ((size_t)nc + 1));
        if (!no) return -1;
        d->off = no;
        if (d->cap == 0) d->off[0] = 0;
        d->cap = nc;
    }
    if (d->total + P > d->tcap) {
        int64_t nt = d->tcap ? d->tcap * 2 : 65536;
        while (nt < d->total + P) nt *= 2;
        float *npay = realloc(d->payload, sizeof(float) * WT_WIDTH * (size_t)nt);
        if (!npay) return -1;
        d->payload = npay;
        int16_t *nid = realloc(d->ids, sizeof(int16_t) * WT_N_IDS * (size_t)nt);
        if (!nid) return -1;
        d->ids = nid;
        d->tcap = nt;
    }
    memcpy(d->prog + (size_t)d->n * PT_ROWS * PT_COLS, table, sizeof(int16_t) * PT_ROWS * PT_COLS);
    memcpy(d->payload + (size_t)d->total * WT_WIDTH, payload, sizeof(float) * WT_WIDTH * (size_t)P);
    memcpy(d->ids + (size_t)d->total * WT_N_IDS, ids, sizeof(int16_t) * WT_N_IDS * (size_t)P);
    d->total += P;
    d->n++;
    d->off[d->n] = d->total;
    if (P > d->max_p) d->max_p = P;
    return 0;
}

/* Reads scheme and norm from the shard's "weight_tokens" metadata when present. */
static void read_wt_meta(TrainData *d, const Shard *s) {
    const char *j = st_meta_get(&s->f, "weight_tokens");
    if (!j) return;
    cJSON *o = cJSON_Parse(j);
    if (!o) return;
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "scheme");
    const cJSON *no = cJSON_GetObjectItemCaseSensitive(o, "norm");
    WtOptions w;
    wt_options_default(&w);
    int ok = 1;
    if (cJSON_IsString(sc) && wt_scheme_parse(sc->valuestring, &w.scheme) != 0) ok = 0;
    if (cJSON_IsString(no) && wt_norm_parse(no->valuestring, &w.norm) != 0) ok = 0;
    if (ok) {
        d->wt = w;
        d->have_wt = 1;
    }
    cJSON_Delete(o);
}

/* buf ([*cap rows] of row_bytes, rows used) with room for one more row: buf itself, or a
 * larger copy (*cap updated); NULL on OOM, buf then unchanged. */
static void *grow_rows(void *buf, int *cap, int rows, size_t row_bytes) {
    if (rows < *cap) return buf;
    int nc = *cap ? 2 * *cap : 256;
    void *nb = realloc(buf, row_bytes * (size_t)nc);
    if (nb) *cap = nc;
    return nb;
}

/* Appends a setting row [GEN_SETTING_COLS] for the sample just added. Returns 0, or -1 on
 * OOM. */
static int add_setting(TrainData *d, const int32_t *row) {
    const size_t rb = sizeof(int32_t) * GEN_SETTING_COLS;
    int32_t *ns = grow_rows(d->setting, &d->setting_cap, d->setting_rows, rb);
    if (!ns) return -1;
    d->setting = ns;
    memcpy(d->setting + (size_t)d->setting_rows++ * GEN_SETTING_COLS, row, rb);
    return 0;
}

/* Appends the seed of the sample just added. Returns 0, or -1 on OOM. */
static int add_seed(TrainData *d, uint64_t seed) {
    uint64_t *ns = grow_rows(d->sample_seed, &d->seed_cap, d->seed_rows, sizeof(uint64_t));
    if (!ns) return -1;
    d->sample_seed = ns;
    d->sample_seed[d->seed_rows++] = seed;
    return 0;
}

/* The shard's generator seed (its "seed" metadata, decimal). Returns 0, or -1 when absent. */
static int shard_seed(const Shard *s, uint64_t *seed) {
    const char *t = st_meta_get(&s->f, "seed");
    if (!t || !*t) return -1;
    char *end;
    unsigned long long v = strtoull(t, &end, 10);
    if (*end) return -1;
    *seed = (uint64_t)v;
    return 0;
}

/* train_data_load_shard with the checksum the dataset's manifest lists (NULL: none). */
static int load_shard_checked(TrainData *d, const char *path, const char *want, int max_p,
                              char *err, size_t errcap) {
    Shard s;
    if (shard_read_file(path, &s, err, errcap) != 0) return 1;
    if (ds_manifest_check(&s, path, want, err, errcap) != 0) {
        shard_free(&s);
        return 1;
    }
    read_wt_meta(d, &s);
    uint64_t base = 0;
    bool seeded = s.index && shard_seed(&s, &base) == 0;
    for (int i = 0; i < s.n; i++) {
        int64_t a = s.offsets[i], b = s.offsets[i + 1];
        int before = d->n;
        if (train_data_add(d, s.prog + (size_t)i * PT_ROWS * PT_COLS, s.payload + a * WT_WIDTH,
                           s.ids + a * WT_N_IDS, (int)(b - a), max_p) != 0 ||
            (d->n > before && s.setting &&
             add_setting(d, s.setting + (size_t)i * GEN_SETTING_COLS) != 0) ||
            (d->n > before && seeded &&
             add_seed(d, gen_sample_seed(base, (uint64_t)s.index[i])) != 0)) {
            shard_free(&s);
            snprintf(err, errcap, "%s: out of memory", path);
            return 1;
        }
    }
    shard_free(&s);
    return 0;
}

int train_data_load_shard(TrainData *d, const char *path, int max_p, char *err, size_t errcap) {
    return load_shard_checked(d, path, NULL, max_p, err, errcap);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Shard paths in dir whose name starts with prefix ("" for all), sorted. */
static int list_shards(const char *dir, const char *prefix, char ***out, int *n) {
    *out = NULL;
    *n = 0;
    DIR *dp = opendir(dir);
    if (!dp) return 0;
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(dp))) {
        if (!ends_with(e->d_name, ".safetensors") ||
            strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(*out, sizeof(char *) * (size_t)cap);
            if (!nv) break;
            *out = nv;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(len);
        if (!p) break;
        snprintf(p, len, "%s/%s", dir, e->d_name);
        (*out)[(*n)++] = p;
    }
    closedir(dp);
    if (*n) qsort(*out, (size_t)*n, sizeof(char *), cmp_str);
    return 0;
}

int train_data_load_split(TrainData *d, const char *dir, const char *split, int max_p, char *err,
                          size_t errcap) {
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", dir, split);
    char **paths = NULL;
    int n = 0;
    /* a dataset with a manifest: exactly the shards it lists, with their checksums */
    DsShardList ml;
    int have = ds_manifest_shards(dir, split, &ml, err, errcap);
    if (have < 0) return 1;
    if (have > 0) {
        int rc = 0;
        if (ml.n == 0)
            rc = 1, snprintf(err, errcap, "%s: manifest.json lists no %s shards", dir, split);
        for (int i = 0; i < ml.n && !rc; i++)
            rc = load_shard_checked(d, ml.paths[i], ml.sums[i], max_p, err, errcap);
        ds_shard_list_free(&ml);
        return rc;
    }
    struct stat sb;
    if (stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode)) list_shards(sub, "", &paths, &n);
    if (n == 0) list_shards(dir, split, &paths, &n);
    if (n == 0) {
        snprintf(err, errcap, "%s: no %s shards (%s/*.safetensors or %s/%s*.safetensors)", dir,
                 split, sub, dir, split);
        free(paths);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (!rc) rc = train_data_load_shard(d, paths[i], max_p, err, errcap);
        free(paths[i]);
    }
    free(paths);
    return rc;
}
