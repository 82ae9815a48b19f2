/* The training config sidecar (see meta.h). */
#include "meta/meta.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "util/errmsg.h"
#include "util/strbuf.h"

char *train_sidecar_path(const char *meta) {
    size_t n = strlen(meta) + sizeof ".train.json";
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s.train.json", meta);
    return p;
}

char *train_log_path(const char *meta) { return sb_concat(meta, ".log.jsonl"); }

char *train_sidecar_json(const TrainConfig *tc, const char *data_dir) {
    char *js = train_config_to_json(tc); /* "{...}" */
    char *dq = NULL;
    if (data_dir) { /* the folder as a JSON string, escaped by cJSON */
        cJSON *d = cJSON_CreateString(data_dir);
        dq = d ? cJSON_PrintUnformatted(d) : NULL;
        cJSON_Delete(d);
    }
    size_t n = (js ? strlen(js) : 0) + (dq ? strlen(dq) : 0) + 16;
    char *out = js && (!data_dir || dq) ? malloc(n) : NULL;
    if (out) {
        if (dq) snprintf(out, n, "{\"data\":%s,%s\n", dq, js + 1);
        else snprintf(out, n, "%s\n", js);
    }
    free(js);
    free(dq);
    return out;
}

int train_sidecar_read(const char *path, TrainConfig *tc, bool *found, char **data_dir, char **raw,
                       char *err, size_t errcap) {
    train_config_default(tc);
    *found = false;
    if (data_dir) *data_dir = NULL;
    if (raw) *raw = NULL;
    if (access(path, F_OK) != 0 && errno == ENOENT) return 0;
    unsigned char *data = NULL;
    size_t len = 0;
    char sub[512];
    if (read_whole_file(path, &data, &len, sub, sizeof sub) != 0)
        return err_printf(err, errcap, "%s", sub);
    cJSON *o = cJSON_ParseWithLength((const char *)data, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        free(data);
        return err_printf(err, errcap, "%s: not a training config (not a JSON object)", path);
    }
    cJSON *d = cJSON_DetachItemFromObjectCaseSensitive(o, "data");
    int rc = 0;
    if (d && !cJSON_IsString(d)) rc = err_printf(err, errcap, "%s: \"data\" is not a string", path);
    char *rest = rc ? NULL : cJSON_PrintUnformatted(o);
    if (!rc && (!rest || train_config_from_json(rest, tc, sub, sizeof sub) != 0))
        rc = err_printf(err, errcap, "%s: %s", path, rest ? sub : "out of memory");
    if (!rc) {
        *found = true;
        if (data_dir && d) *data_dir = strdup(d->valuestring);
        if (raw) {
            *raw = (char *)data;
            data = NULL;
        }
    }
    free(rest);
    cJSON_Delete(d);
    cJSON_Delete(o);
    free(data);
    return rc;
}
