/* The evaluation report: one self-contained HTML page (inline CSS and SVG; no scripts, no
 * network) with the headline numbers, breakdown charts, confusions, example programs side by
 * side, the training curves, the classic programs and the settings; and the training curves
 * alone as a standalone SVG (`itracr report`). docs/evaluation.md shows what each part means. */
#ifndef ITRACR_EVAL_REPORT_H
#define ITRACR_EVAL_REPORT_H
#include <stdbool.h>
#include <stdint.h>

#include "eval/metrics.h"
#include "eval/train_log.h"
#include "util/strbuf.h"

/* One (true, predicted) program shown side by side. */
typedef struct ReportExample {
    const char *title;                        /* e.g. "test sample 17" */
    const int16_t *true_tokens, *pred_tokens; /* [PT_ROWS * PT_COLS] */
    const char *true_rasp, *pred_rasp;        /* NULL: decoded here (no vocabulary directive) */
    EvalFunc func;                            /* the functional check (UNCHECKED allowed) */
    const char *detail;                       /* its message (decode/compile error, first
                                               differing input); may be NULL */
} ReportExample;

/* A classic program (fixtures/tracr) and what the decompiler made of it. */
typedef struct ReportClassic {
    const char *name;
    bool exact;            /* the prediction is the program's own table */
    EvalFunc func;         /* EQUIVALENT: "equivalent"; anything else: "wrong" */
    const char *detail;    /* may be NULL */
    const char *pred_rasp; /* may be NULL */
} ReportClassic;

typedef struct ReportKV {
    const char *key, *value;
} ReportKV;

typedef struct ReportInput {
    const char *title;          /* NULL: "itracr evaluation" */
    const EvalMetrics *decoded; /* the headline (required) */
    const EvalMetrics *teacher; /* teacher-forced predictions; may be NULL */
    const EvalMetrics *noise;   /* the same model with noise weights; may be NULL */
    const ReportExample *examples;
    int n_examples;
    const TrainLog *log;      /* may be NULL */
    const ReportKV *settings; /* model and dataset settings */
    int n_settings;
    const ReportClassic *classics;
    int n_classics;
    /* verified@K (eval --search): the search's answers beside top-1; NULL when not run */
    const EvalMetrics *verified, *noise_verified;
    const char *verified_label; /* e.g. "verified@64" */
    const char *verified_note;  /* shares verified, K, budget, timings (one line) */
} ReportInput;

/* "exact", "equivalent" or "wrong". */
const char *report_verdict(bool exact, EvalFunc func);

/* Appends the whole HTML page. */
void report_html(StrBuf *b, const ReportInput *in);
/* Writes the page to path (atomically). Returns 0 or non-zero with a message. */
int report_write_html(const char *path, const ReportInput *in, char *err, size_t errcap);

/* The training curves (loss; validation token accuracy and exact match; learning rate) as
 * one <svg> of width x height at (x, y); standalone adds the XML declaration's namespace. */
void report_curves_svg(StrBuf *b, const TrainLog *log, double x, double y, bool standalone);
#define REPORT_CURVES_W 980
#define REPORT_CURVES_H 300

#endif
