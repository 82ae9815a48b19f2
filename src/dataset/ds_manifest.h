/* What a dataset folder holds, according to its manifest.json (written last by `gen`): the
 * shards of each split, in order, each with the checksum stored in the shard itself (the
 * XXH64 of its tensors that shard_read_* verifies). Readers take the shards from here, not
 * from a listing of the folder, so a shard left by another run is never mixed in: a shard
 * file the manifest does not list is an error, and so is a listed shard whose checksum is
 * not the manifest's (issue 14 item 3). A folder without manifest.json (shards put together
 * by hand) is read as before, by listing it. Manifests older than the checksums list the
 * shards only; those are checked for presence and strays. */
#ifndef ITRACR_DATA_DS_MANIFEST_H
#define ITRACR_DATA_DS_MANIFEST_H
#include <stdbool.h>
#include <stddef.h>

#include "dataset/shard.h"
#include "rasp/rasp.h"

typedef struct DsShardList {
    char **paths; /* [n] "DIR/split/shard-NNNNNN.safetensors" */
    char **sums;  /* [n] 16 hex digits, or NULL entries (older manifests) */
    int n;
} DsShardList;

/* The shards of split ("" or NULL: every split) listed by DIR/manifest.json. Returns 1 and
 * fills l; 0 when there is no manifest.json (l empty); -1 with a message when the manifest
 * is unreadable, a listed shard is missing or a split folder holds an unlisted shard. */
int ds_manifest_shards(const char *dir, const char *split, DsShardList *l, char *err,
                       size_t errcap);
void ds_shard_list_free(DsShardList *l);
/* Checks a shard read from path against the manifest's checksum want (NULL: nothing to
 * check). Returns 0, or non-zero with a message naming path. */
int ds_manifest_check(const Shard *s, const char *path, const char *want, char *err, size_t errcap);

/* The generator settings a manifest records (its "generator" object): the fixed setting's
 * integer vocabulary and max_seq_len, which decode the dataset's program tokens. */
#define DS_MAX_VOCAB 64
typedef struct DsGenerator {
    Value vocab[DS_MAX_VOCAB];
    int n_vocab, max_seq_len;
    /* the generator drew a setting per sample (its "setting" object, `gen --setting
     * general`): the shards then hold sample_setting, and vocab/max_seq_len above are only
     * the fixed setting's defaults, not what any sample was compiled with */
    bool settings;
    /* gen --transform: the AccTransform every sample's weights went through (ACC_TF_NONE
     * for none) and its Adam steps (compress_steps) */
    int transform, compress_steps;
    char *json; /* the "generator" object as compact JSON (malloc'ed; ds_generator_free) */
} DsGenerator;
/* Reads DIR/manifest.json's generator settings. Returns 0, or non-zero with a message (no
 * manifest: "not a dataset made by `itracr gen`"). */
int ds_manifest_generator(const char *dir, DsGenerator *g, char *err, size_t errcap);
void ds_generator_free(DsGenerator *g);

/* The "transform" section of a manifest (itracr gen --transform). */
typedef struct DsTransformStats {
    char kind[32];
    double attempted, rejected, seconds;
} DsTransformStats;
/* 1 and *t filled when DIR/manifest.json records a transform with attempted > 0; else 0
 * (no manifest, no transform, or a section that does not read). */
int ds_manifest_transform(const char *dir, DsTransformStats *t);

/* The "checksum" metadata of the shard file at path (header only), for the manifest. */
int ds_shard_file_checksum(const char *path, char out[17], char *err, size_t errcap);

#endif
