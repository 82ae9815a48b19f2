/* The RASP language: parsing, printing, evaluation, value-set inference and validation.
 * Every function reports failure through a message buffer and a non-zero return; none of
 * them aborts on bad input. */
#ifndef ITRACR_RASP_RASP_H
#define ITRACR_RASP_RASP_H
#include <stdio.h>

#include "rasp/program.h"
#include "rasp/value.h"

/* The longest input any program may declare (`max_seq_len`) or be given (--max-seq-len of
 * check and compile): one cap for the directive and the flags, so that a small file cannot
 * ask for unbounded work (a compiled model grows with max_seq_len, and value sets with
 * SelectorWidth grow with its square). docs/rasp.md states it. */
#define RASP_MAX_SEQ_LEN 4096

/* ---- parsing (rasp/parse.c) ---------------------------------------------------------- */
/* Parses .rasp text. On error returns non-zero and writes
 * "FILE:LINE:COL: error: <what was found>; expected <what>" into err; *out is left empty
 * (initialised, nothing to free beyond rasp_program_free). */
int rasp_parse(const char *filename, const char *text, RaspProgram *out, char *err, size_t errcap);
int rasp_parse_file(const char *path, RaspProgram *out, char *err, size_t errcap);
/* Parses one input value (a token of --input) with the vocabulary's type: if every vocab
 * entry is an int, "3" is the int 3; strings are taken as is; Python literals otherwise. */
Value rasp_parse_token(const RaspProgram *p, const char *text);

/* ---- printing (rasp/format.c) -------------------------------------------------------- */
/* Canonical text: directives, then one assignment per expression reachable from the output
 * in index order (tokens/indices are not assigned), then "output NAME". parse(format(p))
 * gives the same program (same labels, kinds, encodings, functions, settings). */
char *rasp_format(const RaspProgram *p); /* malloc'ed, caller frees */
/* The same program as a Python script for Tracr's own `rasp` module (one `.named()` call per
 * expression, then compile_rasp_to_model with the file's settings), so a program can be
 * checked in Tracr itself. malloc'ed, caller frees. */
char *rasp_format_tracr(const RaspProgram *p);

/* ---- evaluation (rasp/interp.c) -------------------------------------------------------- */
/* Values of every expression reachable from the output on one input. */
typedef struct RaspTrace {
    int n; /* input length */
    int n_exprs;
    Value *sop;          /* [n_exprs][n]: SOp values (unused rows for selectors) */
    unsigned char *sel;  /* [n_exprs][n][n]: selector matrices, [query][key] */
    unsigned char *done; /* [n_exprs]: evaluated */
} RaspTrace;

void rasp_trace_free(RaspTrace *t);
/* Tracr's evaluator (causal=true: causal_eval). Returns 0, or non-zero with the Python-style
 * error (e.g. "aggregate: ValueError: cannot average non-numeric values") in err. */
int rasp_interp_trace(const RaspProgram *p, const Value *xs, int n, bool causal, RaspTrace *t,
                      char *err, size_t errcap);
/* Output SOp values only: out[n]. */
int rasp_interp(const RaspProgram *p, const Value *xs, int n, bool causal, Value *out, char *err,
                size_t errcap);
/* The predicate of Select e on (key, query), as Tracr's Comparison.__call__ (None raises
 * ValueError; an order between a string and a number TypeError) or e's lambda (its truth
 * value). Returns 0, or non-zero with Python's message. */
int rasp_select_pred(const RaspExpr *e, Value key, Value query, bool *out, char *msg, size_t cap);

/* ---- value sets (rasp/infer.c) ------------------------------------------------------- */
/* Tracr's basis_inference (docs/tracr.md §2.2) for every expression reachable from the
 * output: sets[i] is initialised for every i < n_exprs (empty for selectors/unreached).
 * Returns non-zero with Tracr's reason when inference fails (numerical mean of non-0/1
 * values, unsupported SOp). */
/* Largest |V_fst| * |V_snd| a SequenceMap may take (itracr's limit; Tracr has none and runs
 * out of memory instead). */
#define RASP_MAX_PRODUCT 65536
int rasp_infer_value_sets(const RaspProgram *p, const Value *vocab, int n_vocab, int max_seq_len,
                          ValueSet *sets, char *err, size_t errcap);
void rasp_free_value_sets(ValueSet *sets, int n);

/* ---- validation (rasp/validate.c) ---------------------------------------------------- */
typedef struct RaspIssue {
    int expr;      /* index of the offending expression, -1 for the whole program */
    char msg[320]; /* "<label>: <reason>" as Tracr's validator words it */
} RaspIssue;

typedef struct RaspReport {
    RaspIssue *items;
    int n, cap;
} RaspReport;

void rasp_report_init(RaspReport *r);
void rasp_report_free(RaspReport *r);
void rasp_report_add(RaspReport *r, int expr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Tracr's static_validate. Returns the number of issues added. */
int rasp_validate_static(const RaspProgram *p, RaspReport *r);
/* Tracr's dynamic_validate on one input. */
int rasp_validate_dynamic(const RaspProgram *p, const Value *xs, int n, RaspReport *r);
/* Everything that stops compilation (static checks plus the ones Tracr only trips over while
 * compiling: value-set failures, Full/composite selectors where a Select is needed, a
 * categorical function that raises on its value set, no model block, no dependency on
 * tokens, bos/pad in the vocabulary). */
int rasp_validate_compilable(const RaspProgram *p, const Value *vocab, int n_vocab, int max_seq_len,
                             RaspReport *r);

#endif
