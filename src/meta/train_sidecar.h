/* META.safetensors.train.json, the training config `train` writes next to a checkpoint:
 * the TrainConfig keys (train_config_to_json) plus "data", the dataset folder it was
 * trained on, so that `train --resume` can refuse another one. One reader for every
 * command, so a garbage file is an error everywhere rather than silently ignored. */
#ifndef ITRACR_META_TRAIN_SIDECAR_H
#define ITRACR_META_TRAIN_SIDECAR_H
#include <stdbool.h>
#include <stddef.h>

#include "meta/train.h"

/* The sidecar's path for a checkpoint path (malloc'ed): META.train.json. */
char *train_sidecar_path(const char *meta);
/* The default training log of a checkpoint (malloc'ed): META.log.jsonl, JSON lines
 * {"step":..,"loss":..,"lr":..,...} that `train` appends and eval/report read (eval/report.h,
 * train_log_load). */
char *train_log_path(const char *meta);
/* The file's text: tc as JSON with "data": data_dir (omitted when NULL), and a newline. */
char *train_sidecar_json(const TrainConfig *tc, const char *data_dir);
/* Reads path. Absent: returns 0 with *found false and tc at its defaults. Present and valid:
 * 0 with *found true, tc filled, *data_dir the recorded folder or NULL (older files), *raw
 * the file text (either may be NULL to ignore; the caller frees them). Anything else
 * (unreadable, not JSON, unknown keys, bad values): non-zero with a message naming path. */
int train_sidecar_read(const char *path, TrainConfig *tc, bool *found, char **data_dir, char **raw, char *err,
                       size_t errcap);

#endif
