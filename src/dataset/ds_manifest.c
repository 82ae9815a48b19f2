/* Dataset manifests as the readers use them (see ds_manifest.h). */
#include "dataset/ds_manifest.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/json_util.h"
#include "util/errmsg.h"

void ds_shard_list_free(DsShardList *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->paths[i]);
        if (l->sums) free(l->sums[i]);
    }
    free(l->paths);
    free(l->sums);
    l->paths = l->sums = NULL;
    l->n = 0;
}

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s", a, b);
    return s;
}

static int add(DsShardList *l, int *cap, char *path, const char *sum) {
    if (l->n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        char **p = realloc(l->paths, sizeof *p * (size_t)*cap),
             **s = p ? realloc(l->sums, sizeof *s * (size_t)*cap) : NULL;
        if (p) l->paths = p;
        if (s) l->sums = s;
        if (!p || !s) return -1;
    }
    l->paths[l->n] = path;
    l->sums[l->n++] = sum ? strdup(sum) : NULL;
    return 0;
}

static int listed(const DsShardList *l, int from, const char *path) {
    for (int i = from; i < l->n; i++)
        if (strcmp(l->paths[i], path) == 0) return 1;
    return 0;
}

/* Every *.safetensors in DIR/split must be among l's entries from index `from`. */
static int no_strays(const char *dir, const char *split, const DsShardList *l, int from, char *err,
                     size_t errcap) {
    char *sub = join(dir, split);
    DIR *d = sub ? opendir(sub) : NULL;
    int rc = 0;
    struct dirent *e;
    while (d && !rc && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 12 || strcmp(e->d_name + n - 12, ".safetensors") != 0) continue;
        char *p = join(sub, e->d_name);
        if (p && !listed(l, from, p))
            rc = err_printf(err, errcap,
                            "%s: manifest.json does not list this shard (left by another run?); "
                            "move it away or regenerate the dataset",
                            p);
        free(p);
    }
    if (d) closedir(d);
    free(sub);
    return rc;
}

int ds_manifest_shards(const char *dir, const char *split, DsShardList *l, char *err,
                       size_t errcap) {
    memset(l, 0, sizeof *l);
    char *mp = join(dir, "manifest.json");
    if (!mp) return err_printf(err, errcap, "out of memory"), -1;
    if (access(mp, F_OK) != 0) {
        free(mp);
        return 0;
    }
    unsigned char *data = NULL;
    size_t len = 0;
    char sub[512];
    int rc = -1, cap = 0;
    cJSON *root = NULL;
    if (read_whole_file(mp, &data, &len, sub, sizeof sub) != 0) {
        err_printf(err, errcap, "%s", sub);
        goto out;
    }
    root = cJSON_ParseWithLength((const char *)data, len);
    const cJSON *splits = cJSON_GetObjectItemCaseSensitive(root, "splits");
    if (!cJSON_IsObject(splits)) {
        err_printf(err, errcap, "%s: not a dataset manifest (no \"splits\" object)", mp);
        goto out;
    }
    const cJSON *sp;
    cJSON_ArrayForEach(sp, splits) {
        if (split && *split && strcmp(sp->string, split) != 0) continue;
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(sp, "shards");
        const cJSON *cs = cJSON_GetObjectItemCaseSensitive(sp, "checksums");
        if (!cJSON_IsArray(sh) ||
            (cs && (!cJSON_IsArray(cs) || cJSON_GetArraySize(cs) != cJSON_GetArraySize(sh)))) {
            err_printf(
                err, errcap,
                "%s: split \"%s\": \"shards\" and \"checksums\" must be arrays of one length", mp,
                sp->string);
            goto out;
        }
        int from = l->n, k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, sh) {
            const cJSON *c = cs ? cJSON_GetArrayItem(cs, k) : NULL;
            k++;
            if (!cJSON_IsString(it) || strstr(it->valuestring, "..") || it->valuestring[0] == '/' ||
                (c && !cJSON_IsString(c))) {
                err_printf(err, errcap, "%s: split \"%s\": malformed shard entry", mp, sp->string);
                goto out;
            }
            char *p = join(dir, it->valuestring);
            if (!p || add(l, &cap, p, c ? c->valuestring : NULL) != 0) {
                free(p);
                err_printf(err, errcap, "out of memory");
                goto out;
            }
            if (access(p, F_OK) != 0) {
                err_printf(err, errcap, "%s: listed in manifest.json but missing", p);
                goto out;
            }
        }
        if (no_strays(dir, sp->string, l, from, err, errcap)) goto out;
    }
    rc = 1;
out:
    cJSON_Delete(root);
    free(data);
    free(mp);
    if (rc < 0) ds_shard_list_free(l);
    return rc;
}

int ds_manifest_check(const Shard *s, const char *path, const char *want, char *err,
                      size_t errcap) {
    if (!want) return 0;
    const char *got = st_meta_get(&s->f, "checksum");
    if (!got || strcmp(got, want) != 0)
        return err_printf(err, errcap,
                          "%s: checksum %s, but manifest.json lists %s: not the shard this dataset "
                          "was written with",
                          path, got ? got : "(none)", want);
    return 0;
}

int ds_shard_file_checksum(const char *path, char out[17], char *err, size_t errcap) {
    FILE *f = fopen(path, "rb");
    unsigned char le[8];
    char *h = NULL;
    int rc = -1;
    uint64_t n = 0;
    if (!f || fread(le, 1, 8, f) != 8) goto out;
    for (int i = 7; i >= 0; i--) n = (n << 8) | le[i];
    if (n < 2 || n > ST_MAX_HEADER || !(h = malloc((size_t)n)) || fread(h, 1, (size_t)n, f) != n)
        goto out;
    cJSON *root = cJSON_ParseWithLength(h, (size_t)n);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "__metadata__"), "checksum");
    if (cJSON_IsString(c) && strlen(c->valuestring) == 16) {
        memcpy(out, c->valuestring, 17);
        rc = 0;
    }
    cJSON_Delete(root);
out:
    if (f) fclose(f);
    free(h);
    if (rc)
        err_printf(err, errcap, "%s: cannot read the checksum back from the shard just written",
                   path);
    return rc;
}

int ds_manifest_generator(const char *dir, DsGenerator *g, char *err, size_t errcap) {
    memset(g, 0, sizeof *g);
    char *path = join(dir, "manifest.json");
    cJSON *root = NULL;
    int rc = 1;
    if (!path) return err_printf(err, errcap, "out of memory");
    if (access(path, F_OK) != 0) {
        err_printf(err, errcap, "%s: not a dataset made by `itracr gen` (no manifest.json)", dir);
        goto done;
    }
    if (json_read_file(path, &root, err, errcap) != 0) goto done;
    const cJSON *gen = NULL, *vocab = NULL, *it;
    int64_t msl = 0;
    if (json_get_object(root, "generator", path, &gen, err, errcap) != 0 ||
        json_get_array(gen, "vocab", path, &vocab, err, errcap) != 0 ||
        json_get_int(gen, "max_seq_len", path, &msl, err, errcap) != 0)
        goto done;
    cJSON_ArrayForEach(it, vocab) {
        int64_t v;
        if (json_as_int(it, "generator.vocab", &v, err, errcap) != 0) goto done;
        if (g->n_vocab >= DS_MAX_VOCAB) {
            err_printf(err, errcap, "%s: vocab has more than %d tokens", path, DS_MAX_VOCAB);
            goto done;
        }
        g->vocab[g->n_vocab++] = val_int(v);
    }
    if (g->n_vocab < 1 || msl < 1 || msl > 1024) {
        err_printf(err, errcap, "%s: bad generator vocab/max_seq_len", path);
        goto done;
    }
    g->max_seq_len = (int)msl;
    g->settings = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(gen, "setting"));
    const cJSON *tf = cJSON_GetObjectItemCaseSensitive(gen, "transform");
    if (tf) {
        int64_t steps = 0;
        if (!cJSON_IsString(tf) || acc_transform_parse(tf->valuestring, &g->transform) != 0) {
            err_printf(err, errcap,
                       "%s: generator.transform is not one of none, rotate, compress, distill",
                       path);
            goto done;
        }
        if (json_get_int(gen, "compress_steps", path, &steps, err, errcap) != 0) goto done;
        if (steps < 0 || steps > 1000000000) {
            err_printf(err, errcap, "%s: generator.compress_steps %lld is out of range", path,
                       (long long)steps);
            goto done;
        }
        g->compress_steps = (int)steps;
    }
    g->json = cJSON_PrintUnformatted(gen);
    rc = 0;
done:
    cJSON_Delete(root);
    free(path);
    return rc;
}

void ds_generator_free(DsGenerator *g) {
    free(g->json);
    g->json = NULL;
}

int ds_manifest_transform(const char *dir, DsTransformStats *t) {
    char *path = join(dir, "manifest.json"), err[256];
    cJSON *j = NULL;
    int found = 0;
    if (path && json_read_file(path, &j, err, sizeof err) == 0) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, "transform");
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(x, "kind"),
                    *a = cJSON_GetObjectItemCaseSensitive(x, "attempted");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(x, "rejected"),
                    *s = cJSON_GetObjectItemCaseSensitive(x, "seconds");
        if (cJSON_IsString(k) && cJSON_IsNumber(a) && cJSON_IsNumber(r) && cJSON_IsNumber(s) &&
            a->valuedouble > 0) {
            snprintf(t->kind, sizeof t->kind, "%s", k->valuestring);
            t->attempted = a->valuedouble, t->rejected = r->valuedouble,
            t->seconds = s->valuedouble;
            found = 1;
        }
    }
    cJSON_Delete(j);
    free(path);
    return found;
}
