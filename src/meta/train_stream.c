/* Training samples generated on the fly (meta.h). */
#include "meta/meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/program_tokens.h"
#include "util/rng.h"

#define TS_MAX_TRIES 1000000L /* candidates per position before giving up */

static const char *const k_class_names[TS_CLASS_COUNT] = {"linseqmap", "one_row", "num_map",
                                                          "mono_map"};

static int is_mono_fn(int fn) {
    static const char *const names[] = {"add1", "add2", "sub1",  "sub2",
                                        "mul2", "neg",  "rsub4", "sq"};
    const char *n = pt_token_name(PT_COL_FN, fn);
    for (size_t i = 0; n && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(n, names[i]) == 0) return 1;
    return 0;
}

const char *ts_class_name(int c) { return c >= 0 && c < TS_CLASS_COUNT ? k_class_names[c] : NULL; }

unsigned ts_classes(const int16_t *table) {
    unsigned m = 0;
    int rows = 0;
    for (int r = 1; r < PT_ROWS; r++) {
        const int16_t *row = table + (size_t)r * PT_COLS;
        if (row[PT_COL_OP] == PT_END || row[PT_COL_OP] == PT_PAD) break;
        rows++;
        if (row[PT_COL_OP] == PT_OP_LINSEQMAP) m |= 1u << TS_CLASS_LINSEQMAP;
        if (row[PT_COL_OP] == PT_OP_MAP && row[PT_COL_ENC] == PT_ENC_NUM)
            m |= 1u << TS_CLASS_NUM_MAP;
        if (row[PT_COL_OP] == PT_OP_MAP && is_mono_fn(row[PT_COL_FN])) m |= 1u << TS_CLASS_MONO_MAP;
    }
    if (rows == 1) m |= 1u << TS_CLASS_ONE_ROW;
    return m;
}

int train_stream_init(TrainStream *s, const GenConfig *gen, const WtOptions *wt, uint64_t seed,
                      const char *split, const char *exclude_dir, int max_prefix, char *err,
                      size_t errcap) {
    memset(s, 0, sizeof *s);
    gd_config_default(&s->gd); /* the split rule of `itracr gen` */
    if (gen) s->gd.gen = *gen;
    s->gd.acc.wt = *wt;
    s->seed = seed;
    s->max_prefix = max_prefix;
    for (int c = 0; c < TS_CLASS_COUNT; c++) s->class_w[c] = 1;
    s->split = -1;
    for (int i = 0; i < s->gd.n_splits; i++)
        if (strcmp(s->gd.split_name[i], split) == 0) s->split = i;
    if (s->split < 0) {
        snprintf(err, errcap, "stream: unknown split \"%s\" (train, val or test)", split);
        return 1;
    }
    if (exclude_dir) {
        int total = 0;
        s->n_classic = gd_classic_hashes(exclude_dir, s->classic, TS_MAX_CLASSICS, &total);
        if (s->n_classic < 0) {
            snprintf(err, errcap, "stream: cannot read the classic programs in %s", exclude_dir);
            return 1;
        }
    }
    if (!(s->samp = gen_sampler_new(&s->gd.gen, err, errcap))) return 1;
    acc_result_init(&s->res);
    return 0;
}

static size_t pool_slot(const TrainStream *s, const uint64_t h[2]) {
    size_t j = (size_t)(h[0] ^ (h[1] >> 7)) & (s->pool_cap - 1);
    while ((s->pool_key[2 * j] || s->pool_key[2 * j + 1]) &&
           !(s->pool_key[2 * j] == h[0] && s->pool_key[2 * j + 1] == h[1]))
        j = (j + 1) & (s->pool_cap - 1);
    return j;
}

uint32_t train_stream_pool_count(const TrainStream *s, const uint64_t h[2]) {
    return s->pool_cap ? s->pool_cnt[pool_slot(s, h)] : 0;
}

int train_stream_set_pool(TrainStream *s, long m, char *err, size_t errcap) {
    free(s->pool_key);
    free(s->pool_cnt);
    s->pool_key = NULL;
    s->pool_cnt = NULL;
    s->pool_cap = 0;
    s->pool_m = 0;
    if (m <= 0) return 0;
    size_t cap = 1024;
    while (cap < (size_t)m * 2) cap *= 2; /* at most m distinct programs: load <= 1/2 */
    s->pool_key = calloc(cap * 2, sizeof *s->pool_key);
    s->pool_cnt = calloc(cap, sizeof *s->pool_cnt);
    if (!s->pool_key || !s->pool_cnt) {
        snprintf(err, errcap, "out of memory (frequency pool of %ld)", m);
        return 1;
    }
    s->pool_cap = cap;
    s->pool_m = m;
    for (long i = 0; i < m; i++) {
        if (acc_sample(s->samp, gen_sample_seed(s->seed ^ TS_POOL_SALT, (uint64_t)i), &s->res) !=
            ACC_OK)
            continue;
        uint64_t h[2] = {s->res.prog_hash[0], s->res.prog_hash[1]};
        if (!h[0] && !h[1]) h[1] = 1; /* {0,0} marks empty slots */
        size_t j = pool_slot(s, h);
        s->pool_key[2 * j] = h[0];
        s->pool_key[2 * j + 1] = h[1];
        s->pool_cnt[j]++;
    }
    return 0;
}

int train_stream_set_general(TrainStream *s, double p, char *err, size_t errcap) {
    if (!(p >= 0 && p <= 1)) {
        snprintf(err, errcap, "the share of general-setting samples must be in [0, 1]");
        return 1;
    }
    if (s->samp_gen) gen_sampler_free(s->samp_gen);
    s->samp_gen = NULL;
    s->p_general = p;
    if (p == 0) return 0;
    GenConfig g;
    gen_config_general(&g);
    if (!(s->samp_gen = gen_sampler_new(&g, err, errcap))) return 1;
    return 0;
}

void train_stream_free(TrainStream *s) {
    free(s->pool_key);
    free(s->pool_cnt);
    if (s->samp_gen) gen_sampler_free(s->samp_gen);
    if (s->samp) {
        gen_sampler_free(s->samp);
        acc_result_free(&s->res);
    }
    memset(s, 0, sizeof *s);
}

int train_stream_set_weight(TrainStream *s, int c, double w, char *err, size_t errcap) {
    if (c < 0 || c >= TS_CLASS_COUNT || !(w >= 1) || w > 1000) {
        snprintf(err, errcap, "class weight must be in [1, 1000]");
        return 1;
    }
    s->class_w[c] = w;
    return 0;
}

static int is_classic(const TrainStream *s, const uint64_t h[2]) {
    for (int i = 0; i < s->n_classic; i++)
        if (s->classic[i][0] == h[0] && s->classic[i][1] == h[1]) return 1;
    return 0;
}

/* The thinning coin of a candidate (meta.h): 1 to keep it. */
static int keep_by_class(TrainStream *s, uint64_t cand_seed, const int16_t *table) {
    double wmax = 1;
    for (int c = 0; c < TS_CLASS_COUNT; c++)
        if (s->class_w[c] > wmax) wmax = s->class_w[c];
    if (wmax <= 1) return 1;
    unsigned m = ts_classes(table);
    double w = 1;
    for (int c = 0; c < TS_CLASS_COUNT; c++)
        if ((m >> c & 1) && s->class_w[c] > w) w = s->class_w[c];
    uint64_t st = cand_seed ^ 0x636c617373ULL; /* "class": independent of the sampler's draws */
    double u = (double)(rng_splitmix64(&st) >> 11) * 0x1p-53;
    return u < w / wmax;
}

int train_stream_fill(TrainStream *s, long g0, int n, TrainData *d, char *err, size_t errcap) {
    AccResult *r = &s->res;
    for (int k = 0; k < n; k++) {
        uint64_t base = gen_sample_seed(s->seed ^ TS_SEED_SALT, (uint64_t)(g0 + k));
        /* the setting of the position: a coin of its own, drawn only when general samples
         * are asked for, so that a stream without them is unchanged */
        GenSampler *samp = s->samp;
        if (s->samp_gen) {
            uint64_t st = base ^ 0x67656e6572616cULL; /* "general" */
            if ((double)(rng_splitmix64(&st) >> 11) * 0x1p-53 < s->p_general) {
                samp = s->samp_gen;
                s->general++;
            }
        }
        long j = 0;
        for (;; j++) {
            if (j == TS_MAX_TRIES) {
                snprintf(err, errcap, "stream: no sample passed in %ld candidates at position %ld",
                         j, g0 + k);
                return 1;
            }
            uint64_t seed = gen_sample_seed(base, (uint64_t)j);
            s->tried++;
            /* the checks that need no compilation first */
            if (acc_sample(samp, seed, r) != ACC_OK) {
                s->failed++;
                continue;
            }
            if (is_classic(s, r->prog_hash)) {
                s->classic_hits++;
                continue;
            }
            if (gd_pick_split(&s->gd, r->prog_hash) != s->split) {
                s->wrong_split++;
                continue;
            }
            if (s->pool_cap) {
                uint64_t h[2] = {r->prog_hash[0], r->prog_hash[1]};
                if (!h[0] && !h[1]) h[1] = 1;
                uint32_t c = train_stream_pool_count(s, h);
                uint64_t st = seed ^ 0x6672657131ULL; /* "freq1" */
                if (c > 1 && (double)(rng_splitmix64(&st) >> 11) * 0x1p-53 * c >= 1.0) {
                    s->freq_thinned++;
                    continue;
                }
            }
            if (!keep_by_class(s, seed, r->tokens)) {
                s->thinned++;
                continue;
            }
            if (acc_finish(samp, &s->gd.acc, seed, r) != ACC_OK) {
                s->failed++;
                continue;
            }
            if (r->wt.n > s->max_prefix) {
                s->too_long++;
                continue;
            }
            break;
        }
        int before = d->n;
        if (train_data_add(d, r->tokens, r->wt.payload, r->wt.ids, r->wt.n, s->max_prefix) != 0) {
            snprintf(err, errcap, "out of memory");
            return 1;
        }
        if (d->n != before + 1) { /* cannot happen: P was checked above */
            snprintf(err, errcap, "stream: internal error: a sample was refused");
            return 1;
        }
    }
    return 0;
}
