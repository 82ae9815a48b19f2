/* The meta-model's training log: JSON lines {"step":..,"loss":..,"lr":..,"val_token_acc":..,
 * "val_exact":..}. Every field but step may be missing (validation runs only now and then);
 * a line that is not a JSON object with a numeric step, or has a non-numeric field, is
 * skipped and counted. */
#ifndef ITRACR_EVAL_TRAIN_LOG_H
#define ITRACR_EVAL_TRAIN_LOG_H
#include <stddef.h>

enum { TL_LOSS, TL_LR, TL_VAL_TOKEN_ACC, TL_VAL_EXACT, TL_N_FIELDS };

typedef struct TrainLog {
    int n;                      /* records */
    double *step;               /* [n] */
    double *field[TL_N_FIELDS]; /* [n] each, NaN where the record lacks the field */
    long n_bad;                 /* malformed lines skipped (blank lines are not counted) */
    long first_bad_line;        /* 1-based line number of the first one, 0 if none */
} TrainLog;

const char *train_log_field_name(int f); /* "loss", "lr", "val_token_acc", "val_exact" */

/* Parses text[len]. Returns 0, or non-zero with a message when no line is a valid record
 * (then log is empty). */
int train_log_parse(const char *text, size_t len, TrainLog *log, char *err, size_t errcap);
/* Reads path; messages name it. */
int train_log_load(const char *path, TrainLog *log, char *err, size_t errcap);
void train_log_free(TrainLog *log);

#endif
