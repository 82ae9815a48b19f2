/* Reading the training log (JSON lines). */
#include "eval/train_log.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "io/json_util.h"

static const char *const k_fields[TL_N_FIELDS] = {"loss", "lr", "val_token_acc", "val_exact"};

const char *train_log_field_name(int f) { return f >= 0 && f < TL_N_FIELDS ? k_fields[f] : "?"; }

void train_log_free(TrainLog *log) {
    free(log->step);
    for (int f = 0; f < TL_N_FIELDS; f++) free(log->field[f]);
    memset(log, 0, sizeof *log);
}

/* Reads one line into (step, fields). Returns 0 when it is a valid record. */
static int parse_line(const char *s, size_t n, double *step, double *vals) {
    cJSON *j = NULL;
    char e[128];
    int rc = 1;
    if (json_parse("log", s, n, &j, e, sizeof e) || !cJSON_IsObject(j)) goto done;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "step");
    if (!cJSON_IsNumber(st) || !isfinite(st->valuedouble)) goto done;
    *step = st->valuedouble;
    for (int f = 0; f < TL_N_FIELDS; f++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k_fields[f]);
        if (!v || cJSON_IsNull(v)) vals[f] = NAN;
        else if (cJSON_IsNumber(v)) vals[f] = v->valuedouble;
        else goto done;
    }
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

int train_log_parse(const char *text, size_t len, TrainLog *log, char *err, size_t errcap) {
    memset(log, 0, sizeof *log);
    size_t cap = 0;
    long line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        line++;
        const char *s = text + pos;
        size_t n = end - pos;
        pos = end + 1;
        size_t k = 0;
        while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r')) k++;
        if (k == n) continue; /* blank */
        double step, vals[TL_N_FIELDS];
        if (parse_line(s, n, &step, vals)) {
            if (!log->n_bad) log->first_bad_line = line;
            log->n_bad++;
            continue;
        }
        if ((size_t)log->n == cap) {
            cap = cap ? cap * 2 : 64;
            double *ns = realloc(log->step, cap * sizeof(double));
            if (!ns) abort();
            log->step = ns;
            for (int f = 0; f < TL_N_FIELDS; f++) {
                double *nf = realloc(log->field[f], cap * sizeof(double));
                if (!nf) abort();
                log->field[f] = nf;
            }
        }
        log->step[log->n] = step;
        for (int f = 0; f < TL_N_FIELDS; f++) log->field[f][log->n] = vals[f];
        log->n++;
    }
    if (log->n == 0) {
        if (log->n_bad)
            snprintf(err, errcap,
                     "no valid record (%ld malformed line%s, the first is line %ld; "
                     "each line must be a JSON object with a numeric \"step\")",
                     log->n_bad, log->n_bad == 1 ? "" : "s", log->first_bad_line);
        else snprintf(err, errcap, "the log is empty");
        train_log_free(log);
        return 1;
    }
    return 0;
}

int train_log_load(const char *path, TrainLog *log, char *err, size_t errcap) {
    memset(log, 0, sizeof *log);
    unsigned char *data = NULL;
    size_t len = 0;
    if (read_whole_file(path, &data, &len, err, errcap)) return 1;
    char e2[256];
    int rc = train_log_parse((const char *)data, len, log, e2, sizeof e2);
    if (rc) snprintf(err, errcap, "%s: %s", path, e2);
    free(data);
    return rc;
}
