/* The output folder of `itracr gen` (issue 14 item 3): one run at a time, never mixed with
 * another run's files.
 *  - The folder is locked (io/path_lock.h) for the whole run: a second gen into it fails.
 *  - A run starts only in a missing or empty folder, and first writes DIR/.itracr-gen-run
 *    (its gd_run_identity); manifest.json, written last, marks a finished run, and the
 *    marker is then removed.
 *  - A folder with the marker but no manifest is a killed run: a plain gen refuses it,
 *    `gen --resume` with the same settings finishes it. Generation is a function of the
 *    settings alone, so it runs again from the first sample and rewrites every shard with
 *    the same bytes (only the compute is repeated), after removing the killed run's
 *    orphan temporary files.
 *  - Anything else (a finished dataset, someone's files) is refused. */
#ifndef ITRACR_DATA_GEN_DIR_H
#define ITRACR_DATA_GEN_DIR_H
#include <stdbool.h>
#include <stddef.h>

#include "dataset/gen_driver.h"

#define GEN_DIR_MARKER ".itracr-gen-run"

/* Creates and locks c->out_dir and checks what it holds. Returns the lock descriptor
 * (>= 0; keep it until the run ends), or -1 with a message. */
int gen_dir_prepare(const GdConfig *c, bool resume, char *err, size_t errcap);
/* After a successful run: removes the marker and releases the lock. */
void gen_dir_finish(const GdConfig *c, int lock_fd);

#endif
