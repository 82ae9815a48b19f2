/* Decompilation metrics: how close predicted program-token tables are to the true ones
 * (docs/evaluation.md defines every number precisely).
 *
 * Tables are int16 [PT_ROWS, PT_COLS] as in gen/program_tokens.h: row 0 START, operation
 * rows, an END row, PAD rows. A prediction may be any table at all (a model can emit
 * garbage): ids out of range, no END row, END in the wrong columns. None of it crashes.
 *
 * Scored rows of a (true, pred) pair: with L(t) = the number of rows after START before the
 * first row whose op column is END or PAD (PT_ROWS - 1 if there is none), the rows
 * 1 .. min(max(L(true), L(pred)) + 1, PT_ROWS - 1): every operation row of either table and
 * the true END row. Rows missing from the shorter table compare against its END/PAD tokens,
 * so missing and extra rows count as wrong.
 *   token accuracy: equal cells / (scored rows * 6)   (the END row included)
 *   row accuracy:   rows with all 6 cells equal / max(L(true), L(pred))   (END row excluded)
 *   exact match:    L(true) == L(pred), rows 0 .. L(true)+1 equal, and the values of the
 *                   table functions (the cells after the END row up to the END closing the
 *                   true table's last table) equal; what follows them is ignored
 * Set-level numbers are micro averages (summed counts), except exact/decode/compile/
 * equivalence which are rates over programs. Teacher-forced and decoded predictions are two
 * EvalMetrics fed by the same code. */
#ifndef ITRACR_EVAL_METRICS_H
#define ITRACR_EVAL_METRICS_H
#include <stdbool.h>
#include <stdint.h>

#include "gen/program_tokens.h"
#include "util/strbuf.h"

/* What recompiling a prediction showed (eval/equiv.h computes it). */
typedef enum {
    EVAL_FN_UNCHECKED = 0, /* not run: only the token metrics (and decoding) are counted */
    EVAL_FN_NO_DECODE,     /* the table is not a valid program (pt_decode failed) */
    EVAL_FN_NO_COMPILE,    /* decodes, but the compiler rejects it */
    EVAL_FN_DIFFERENT,     /* compiles, and some input gives a different output */
    EVAL_FN_EQUIVALENT,    /* compiles, and every checked input gives the same output */
    EVAL_FN_TRUE_FAILED    /* the true program itself did not compile: pair left out of the
                              functional numbers (counted in true_failed) */
} EvalFunc;

const char *eval_func_name(EvalFunc f); /* "unchecked", "no-decode", ... */
const char *eval_col_name(int col);     /* "op", "enc", "fn", "a1", "a2", "out" */

/* One (true, pred) comparison. */
typedef struct EvalPair {
    int true_len, pred_len; /* L(true), L(pred) */
    int scored_rows;        /* rows compared (END row included) */
    int tok_total, tok_correct;
    int row_total, row_correct;
    int col_correct[PT_COLS]; /* per column, over the scored rows */
    bool exact;
} EvalPair;

/* L(t) as defined above. */
int eval_table_len(const int16_t *t);
void eval_compare(const int16_t *truth, const int16_t *pred, EvalPair *out);

/* Counts over one true program length. */
typedef struct EvalLenStats {
    long programs, exact, decodes, func_checked, compiles, equivalent;
    long tok_total, tok_correct, row_total, row_correct;
} EvalLenStats;

/* Counts over the true rows with one op (or fn) id: only the true operation rows 1..L(true)
 * of a pair, each compared with the prediction's cells in the same row. */
typedef struct EvalRowStats {
    long rows, rows_correct; /* all 6 cells equal */
    long tok_total, tok_correct;
    long key_correct; /* the keyed cell itself (the op cell, or the fn cell) */
} EvalRowStats;

typedef struct EvalConfusion {
    int col;
    int true_id, pred_id; /* pred_id == pt_vocab_size(col): an id out of range */
    long count;
} EvalConfusion;

typedef struct EvalMetrics {
    long n; /* pairs added */
    long exact, decodes;
    long func_checked; /* pairs with a functional check (not unchecked, not true-failed) */
    long compiles, equivalent, true_failed;
    long equivalent_not_exact; /* the functional check found a different but equivalent program */
    long tok_total, tok_correct, row_total, row_correct;
    long col_total, col_correct[PT_COLS]; /* col_total: scored rows (the same for every column) */
    EvalLenStats by_len[PT_MAX_VARS + 1]; /* index: L(true), clamped to PT_MAX_VARS */
    EvalRowStats by_op[PT_OP_VOCAB];      /* index: true op id */
    EvalRowStats *by_fn;                  /* [n_fn]: index: true fn id */
    int n_fn;                             /* pt_vocab_size(PT_COL_FN) */
    long *confusion[PT_COLS];             /* [V_c, V_c + 1]: true id x pred id, wrong cells only */
    int conf_v[PT_COLS];                  /* V_c */
} EvalMetrics;

/* Returns 0, or non-zero when the lambda library failed to load (the fn vocabulary is then
 * unknown). */
int eval_metrics_init(EvalMetrics *m);
void eval_metrics_free(EvalMetrics *m);
/* Adds one pair. func is the recompilation outcome; with EVAL_FN_UNCHECKED the pair counts
 * as decoding when pt_tokens_to_ops accepts the prediction. */
void eval_metrics_add(EvalMetrics *m, const int16_t *truth, const int16_t *pred, EvalFunc func);
/* dst += src (both initialised; for per-thread accumulators). */
void eval_metrics_merge(EvalMetrics *dst, const EvalMetrics *src);

/* num / den, NaN when den == 0. */
double eval_rate(long num, long den);
/* Headline numbers (NaN where nothing was counted). compile/equiv are over func_checked. */
double eval_token_acc(const EvalMetrics *m);
double eval_row_acc(const EvalMetrics *m);
double eval_exact_rate(const EvalMetrics *m);
double eval_decode_rate(const EvalMetrics *m);
double eval_compile_rate(const EvalMetrics *m);
double eval_equiv_rate(const EvalMetrics *m);

/* The k most frequent wrong (true -> pred) tokens of column col, most frequent first, ties
 * by true id then pred id. Returns how many were written (<= k). */
int eval_top_confusions(const EvalMetrics *m, int col, EvalConfusion *out, int k);

/* Appends the metrics as one JSON object (rates as numbers or null, breakdowns keyed by
 * token names). */
void eval_metrics_json(const EvalMetrics *m, StrBuf *b);
/* Appends the six headline rates as JSON members, without braces: "exact": x, "equivalent",
 * "compiles", "decodes", "token_acc", "row_acc" (null where nothing was counted). */
void eval_headline_json_fields(const EvalMetrics *m, StrBuf *b);

#endif
