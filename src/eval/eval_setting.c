/* Per-sample settings for the evaluation (eval_setting.h). */
#include "eval/eval_setting.h"

#include <stdlib.h>
#include <string.h>

#include "dataset/ds_manifest.h"
#include "dataset/shard.h"
#include "util/errmsg.h"

int eval_setting_of(const int32_t *settings, int sample, const Value *vocab, int n_vocab,
                    int max_seq_len, GenSetting *store, EvalSetting *out) {
    if (!settings) {
        *out = (EvalSetting){vocab, n_vocab, max_seq_len, false, 0};
        return 0;
    }
    if (gen_setting_from_row(settings + (size_t)sample * GEN_SETTING_COLS, store) != 0) return -1;
    *out =
        (EvalSetting){store->vocab, store->n_vocab, store->max_seq_len, store->causal, store->kind};
    return 0;
}

/* Appends the settings of the samples of the shard at path (checked against the manifest's
 * checksum want) to rows[*got..]; the samples train_data_add skips (no weight tokens) are
 * skipped here too, so that row k stays sample k. Returns 0, or non-zero with a message. */
static int load_one(const char *path, const char *want, int32_t *rows, int n, int *got, char *err,
                    size_t errcap) {
    Shard s;
    if (shard_read_file(path, &s, err, errcap) != 0) return 1;
    int rc = ds_manifest_check(&s, path, want, err, errcap);
    if (!rc && !s.setting)
        rc = err_printf(err, errcap,
                        "%s: the manifest says the settings are drawn per sample, but this shard "
                        "has no sample_setting",
                        path);
    for (int i = 0; !rc && i < s.n; i++) {
        if (s.offsets[i + 1] - s.offsets[i] <= 0) continue;
        if (*got >= n) {
            rc = err_printf(err, errcap, "%s: more samples than were loaded (%d)", path, n);
            break;
        }
        memcpy(rows + (size_t)*got * GEN_SETTING_COLS, s.setting + (size_t)i * GEN_SETTING_COLS,
               sizeof(int32_t) * GEN_SETTING_COLS);
        (*got)++;
    }
    shard_free(&s);
    return rc;
}

int eval_settings_load(const char *dir, const char *split, int n, int32_t **rows, char *err,
                       size_t errcap) {
    *rows = NULL;
    DsShardList ml;
    int have = ds_manifest_shards(dir, split, &ml, err, errcap);
    if (have < 0) return 1;
    if (have == 0) return err_printf(err, errcap, "%s: no manifest.json", dir);
    int32_t *r = malloc(sizeof(int32_t) * GEN_SETTING_COLS * (size_t)(n > 0 ? n : 1));
    int rc = r ? 0 : err_printf(err, errcap, "out of memory"), got = 0;
    for (int i = 0; i < ml.n && !rc; i++)
        rc = load_one(ml.paths[i], ml.sums[i], r, n, &got, err, errcap);
    ds_shard_list_free(&ml);
    if (!rc && got != n)
        rc =
            err_printf(err, errcap, "%s: the %s split has %d samples with settings, %d were loaded",
                       dir, split, got, n);
    if (rc) free(r);
    else *rows = r;
    return rc;
}
