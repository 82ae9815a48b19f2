/* Top-1 (and verified@K) broken down by the samples' settings (issue 12; docs/evaluation.md,
 * "Per-sample settings"): by vocabulary kind, max_seq_len, vocabulary size, causality and
 * encoding (every row of the true program categorical, or some row numerical). Only a
 * dataset with per-sample settings has these groups to tell apart. */
#ifndef ITRACR_EVAL_EVAL_BREAKDOWN_H
#define ITRACR_EVAL_EVAL_BREAKDOWN_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "eval/eval_setting.h"
#include "eval/metrics.h"
#include "util/strbuf.h"

/* One group of samples. equivalent is over func_checked, the samples whose check ran
 * (eval_metrics_add's rule: neither unchecked nor with a true program that failed). */
typedef struct EvalSetCounts {
    long n, exact, func_checked, equivalent;
    long ver_exact, ver_func_checked, ver_equivalent; /* verified@K's answers */
} EvalSetCounts;

/* max_seq_len groups 1..EVAL_BD_MAX_LEN (gen draws 1..63; the functional check runs up to
 * 64); a longer one is counted in the last group, named ">=64". */
#define EVAL_BD_MAX_LEN 64

typedef struct EvalBreakdown {
    bool verified;                       /* verified@K was counted */
    EvalSetCounts kind[GEN_VOCAB_KINDS]; /* index: the bit of GEN_VOCAB_* */
    EvalSetCounts max_seq_len[EVAL_BD_MAX_LEN + 1];
    EvalSetCounts vocab_size[GEN_MAX_VOCAB + 1]; /* the setting's tokens (BOS, PAD not counted) */
    EvalSetCounts causal[2];                     /* 0 non-causal, 1 causal */
    EvalSetCounts encoding[2];                   /* 0 categorical, 1 numerical */
} EvalBreakdown;

/* True when some operation row of truth [PT_ROWS * PT_COLS] has a numerical output. */
bool eval_table_numerical(const int16_t *truth);

/* Adds one sample in setting s: its truth, the top-1 table and verdict, and (ver not NULL)
 * the verified@K table and verdict. b starts zeroed. */
void eval_breakdown_add(EvalBreakdown *b, const EvalSetting *s, const int16_t *truth,
                        const int16_t *top1, EvalFunc top1_func, const int16_t *ver,
                        EvalFunc ver_func);

/* The breakdown as one JSON object: {"vocab_kind": {"int": {"n", "exact", "equivalent",
 * "verified_exact", "verified_equivalent"}, ...}, "max_seq_len": {...}, "vocab_size": {...},
 * "causal": {"non-causal", "causal"}, "encoding": {"categorical", "numerical"}}; rates in
 * [0, 1], null where nothing was counted (the verified ones without --search); groups
 * without samples left out, as by_length does. */
void eval_breakdown_json(const EvalBreakdown *b, StrBuf *sb);

/* The same as a table on f, one line per group; ver_label names verified@K's columns. */
void eval_breakdown_print(const EvalBreakdown *b, const char *ver_label, FILE *f);

#endif
