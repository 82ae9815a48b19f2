/* Program tokens: the meta-model's target (docs/program-tokens.md; the three token formats
 * and which module owns each: docs/tokens.md).
 *
 * A program is a table of int16 token ids [PT_ROWS][PT_COLS]: a START row, one row per
 * operation (op, enc, fn, a1, a2, out) in canonical order, an END row, then PAD rows. Each
 * column has its own small vocabulary; ids 0..2 are PAD, START and END in every column, and
 * the framing rows hold that id in all six columns.
 *
 * Canonical order: rows sorted by the sublayer the compiler puts them in (a Select just
 * before its first consumer's attention sublayer), then by the row's token ids; variables
 * renamed v1..vN in row order; identical operations merged. So two programs with the same
 * table are the same program, and a table decodes to one program or a precise error. */
#ifndef ITRACR_GEN_PROGRAM_TOKENS_H
#define ITRACR_GEN_PROGRAM_TOKENS_H
#include <stddef.h>
#include <stdint.h>

#include "rasp/program.h"
#include "rasp/value.h"

#define PT_COLS 6
#define PT_MAX_VARS 30            /* operation rows (SOps and Selects) */
#define PT_ROWS (PT_MAX_VARS + 2) /* START + rows + END, padded */
#define PT_MAX_INPUT_EXPRS 256    /* expressions pt_encode accepts before merging */

enum { PT_COL_OP, PT_COL_ENC, PT_COL_FN, PT_COL_A1, PT_COL_A2, PT_COL_OUT };

/* Ids shared by every column. */
enum { PT_PAD = 0, PT_START = 1, PT_END = 2 };

/* op column */
enum {
    PT_OP_MAP = 3,
    PT_OP_SEQMAP,
    PT_OP_LINSEQMAP,
    PT_OP_SELECT,
    PT_OP_AGGREGATE,
    PT_OP_SELWIDTH,
    PT_OP_VOCAB
};
/* enc column */
enum { PT_ENC_CAT = 3, PT_ENC_NUM, PT_ENC_NONE, PT_ENC_VOCAB };
/* fn column: "-", the predicates in Pred order (EQ..FALSE), the first PT_LIB_V1 entries of
 * the lambda library in table order, then "table" (the function is written as its table,
 * below). Library entries beyond PT_LIB_V1 would take the ids after "table", so every id
 * keeps its meaning: use pt_fn_lib / pt_fn_of_lib, not id arithmetic. */
enum { PT_FN_NONE = 3, PT_FN_PRED0 = 4, PT_FN_LIB0 = PT_FN_PRED0 + 8 };
#define PT_LIB_V1 43 /* library entries when the table token was added */
#define PT_FN_TABLE (PT_FN_LIB0 + PT_LIB_V1)
/* Library index of fn id (-1: not a library entry) and the fn id of library entry i. */
int pt_fn_lib(int fn);
int pt_fn_of_lib(int i);

/* ---- table functions --------------------------------------------------------------------
 * A Map or SequenceMap with fn "table" lists its function's value for each element of its
 * input's value set, as Tracr infers it, in the compiler's order of that set (a SequenceMap:
 * every (x, y) pair, x-major), exactly the dict `{k: v, ...}[x]` of a table lambda with the
 * keys left implicit. The values are value tokens (their own small vocabulary):
 *   0 PAD, 2 END (closes a table), 3 + (v - PT_VAL_INT_MIN) the int v for
 *   PT_VAL_INT_MIN <= v <= PT_VAL_INT_MAX, then False, True, then t0..t31: the k-th token of
 *   the model's vocabulary in the compiler's order (strings, and ints beyond the range).
 * In the table [PT_ROWS, PT_COLS] the values of all tables follow the END row, row-major, in
 * row order, each table closed by END; the rest is PAD. */
#define PT_VAL_INT_MIN (-16)
#define PT_VAL_INT_MAX 31
enum {
    PT_VAL_INT0 = 3,
    PT_VAL_FALSE = PT_VAL_INT0 + (PT_VAL_INT_MAX - PT_VAL_INT_MIN + 1),
    PT_VAL_TRUE,
    PT_VAL_TOK0,
    PT_VAL_VOCAB = PT_VAL_TOK0 + 32
};
#define PT_MAX_TABLE 100 /* values of one table */
/* vocab[n] in the compiler's order (the order value tokens tK index), into out[32]; returns
 * how many (at most 32). */
int pt_sorted_vocab(const Value *vocab, int n, Value *out);
/* Value token of v (vocab[n_vocab] in the compiler's order, may be NULL); -1 if none. Ints
 * and bools take their own tokens first. */
int pt_value_token(Value v, const Value *vocab, int n_vocab);
/* The value of token id; returns 0, or -1 for an unknown id or a tK beyond the vocabulary. */
int pt_token_value(int id, const Value *vocab, int n_vocab, Value *out);
/* "3", "-16", "True", "t2", "END", "PAD"; NULL if unknown. */
const char *pt_value_name(int id);
/* a1/a2 columns: "-", tokens, indices, v1..vPT_MAX_VARS */
enum { PT_ARG_NONE = 3, PT_ARG_TOKENS, PT_ARG_INDICES, PT_ARG_V1 };
#define PT_ARG_VOCAB (PT_ARG_V1 + PT_MAX_VARS)
/* out column: v1..vPT_MAX_VARS */
enum { PT_OUT_V1 = 3 };
#define PT_OUT_VOCAB (PT_OUT_V1 + PT_MAX_VARS)

/* One operation in index form (children before parents). arg[] holds an operation index
 * (>= 0) or one of the PT_SRC_ codes. op/enc/fn are the column ids above. */
enum { PT_SRC_NONE = -1, PT_SRC_TOKENS = -2, PT_SRC_INDICES = -3 };
typedef struct PtOp {
    int16_t op, enc, fn;
    int16_t arg[2];
    int16_t ntab;              /* fn == PT_FN_TABLE: the table's values tab[ntab] */
    int16_t tab[PT_MAX_TABLE]; /* value tokens */
} PtOp;

/* ---- vocabularies -------------------------------------------------------------------- */
int pt_vocab_size(int col);
/* Name of token id in col ("Map", "cat", "add1", "v3", "START", ...); NULL if unknown. */
const char *pt_token_name(int col, int id);
/* Id of name in col, or -1. */
int pt_token_id(int col, const char *name);

/* ---- layers (layer_alloc.c) ---------------------------------------------------------- */
/* Runs the compiler's layer allocation (compiler/alloc.h, docs/tracr.md §2.5) on ops[n]
 * (n <= PT_MAX_INPUT_EXPRS). sub[i] = the craft sublayer the op writes: 2(l-1) for an
 * Aggregate (attention), 2(l-1)+1 for Map, SequenceMap, LinearSequenceMap and
 * SelectorWidth (MLP), -1 for a Select (no block). mlp_layer[i] (may be NULL) = the
 * transformer layer holding the op's MLP, -1 if it has none. Returns the number of
 * transformer layers, 0 when there is no block. */
int pt_layer_alloc(const PtOp *ops, int n, int *sub, int *mlp_layer);
/* The canonical sort key: 2*sublayer+1 for an SOp; 2*s for a Select, s = the attention
 * sublayer of its earliest consumer. Ops not reachable from output get -1. key[n]. */
void pt_sort_keys(const PtOp *ops, int n, int output, int *key);

/* ---- canonical form (canonical.c) ---------------------------------------------------- */
/* Canonical rows of the program ops[n] with output `output`: ops not reachable from the
 * output are dropped, identical operations merged, rows ordered as described above with
 * args renumbered. out needs room for PT_MAX_VARS rows. Returns 0, or non-zero with a
 * message (too many rows, a cycle or a forward reference). */
int pt_canonicalize(const PtOp *ops, int n, int output, PtOp *out, int *n_out, char *err,
                    size_t errcap);

/* ---- tables (program_tokens.c) ------------------------------------------------------- */
/* Writes rows[n] (n <= PT_MAX_VARS, args referring to earlier rows) as a framed, padded
 * table tokens[PT_ROWS * PT_COLS], table values after the END row (values that do not fit
 * are dropped: check pt_tables_fit first). */
void pt_ops_to_tokens(const PtOp *rows, int n, int16_t *tokens);
/* True when the tables of rows[n] fit after the END row. */
int pt_tables_fit(const PtOp *rows, int n);
/* Reads and checks a table: framing, known ids, the columns each op needs, variables
 * defined before use, arguments of the right kind and encoding, every row but the last
 * used, the last row an SOp. rows needs room for PT_MAX_VARS. Returns 0 or non-zero with
 * "row K: ..." (K counts the START row as 0) in err. */
int pt_tokens_to_ops(const int16_t *tokens, PtOp *rows, int *n, char *err, size_t errcap);

/* Builds the RaspProgram of rows[n] (assumed checked): tokens/indices as used, then one
 * expression per row labelled v1..vN with the library's lambdas (shared, not copied),
 * output = the last row. vocab may be NULL (then the program has no vocab directive).
 * A table row becomes a lambda over its input's value set (inferred with vocab, which a
 * table needs); it fails when the table's length is not the size of that set or a value
 * token is not a value here. A Map's table may read a numerical SOp (its inferred value set:
 * what Tracr's discretising MLP is built from). */
int pt_build_program(const PtOp *rows, int n, const Value *vocab, int n_vocab, int max_seq_len,
                     RaspProgram *out, char *err, size_t errcap);

/* program -> canonical table tokens[PT_ROWS * PT_COLS]. A Map/SequenceMap lambda is written
 * as the library entry with the same body; otherwise (with the program's vocab) as the
 * library entry of its kind that gives the same values (same types) on the whole input
 * value set, else as its table. Fails with the offending label when an expression has no
 * token form (a table value without a value token, a SequenceMap or Select table on a numerical input, a table over
 * more than PT_MAX_TABLE inputs, a lambda predicate, Full, composite selectors, an
 * Aggregate default other than None/0) or the program is too big. */
int pt_encode(const RaspProgram *p, int16_t *tokens, char *err, size_t errcap);
/* Row r of rows[n] (assumed checked) written as its table (fn "table"): a Map, SequenceMap or
 * Select with categorical inputs, the function evaluated on its inputs' value sets in the
 * compiler's order (a Select's cells key-major). *inner: the size of the second input's set
 * (1 for a Map). Returns 0, or non-zero with why (no value token, too many cells, ...). */
int pt_row_as_table(const PtOp *rows, int n, int r, const Value *vocab, int n_vocab,
                    int max_seq_len, PtOp *out, int *inner, char *err, size_t errcap);
/* Values renamed to their ranks (pt_encode, pt_row_rank_table): the k-th of n values in the
 * compiler's order becomes the int pt_rank0(n) + k, 0 when n <= 32, else PT_VAL_INT_MIN;
 * returns INT_MIN when n is 0 or more than the int value tokens hold. */
int pt_rank0(size_t n);
/* The sizes of row r's input value sets (size[2]; 1 for a missing second input): tokens the
 * vocabulary, indices max_seq_len, an earlier row its inferred value set. The arguments must
 * be categorical. Returns 0, or non-zero with why. */
int pt_row_input_sizes(const PtOp *rows, int n, int r, const Value *vocab, int n_vocab,
                       int max_seq_len, size_t *size, char *err, size_t errcap);
/* Row r of rows[n] (a Map or SequenceMap with categorical inputs) with its function replaced
 * by the ranks of its inputs: each input (pair) its own value, in the compiler's order of
 * the input value set, x-major (second_major: y-major, i.e. ordered by the second argument
 * first). What Tracr compiles for an injective function whose order follows its inputs',
 * e.g. the sort keys x + i/5. Returns 0, or non-zero with why. */
int pt_row_rank_table(const PtOp *rows, int n, int r, const Value *vocab, int n_vocab,
                      int max_seq_len, bool second_major, PtOp *out, char *err, size_t errcap);
/* table -> program (see pt_tokens_to_ops and pt_build_program). On error *out is left
 * initialised and empty. vocab: the model's tokens (any order). */
int pt_decode(const int16_t *tokens, const Value *vocab, int n_vocab, int max_seq_len,
              RaspProgram *out, char *err, size_t errcap);

/* Every id in range: rows up to the first END row (all of them if none) by their column's
 * vocabulary, the cells after it by the value tokens'. Returns -1, or the first bad cell. */
int pt_first_bad_cell(const int16_t *tokens);

/* Human-readable table, one "op enc fn a1 a2 out" line per row including START/END, then
 * one line of value tokens per table ("False True END"); unknown ids as "#<id>". malloc'ed. */
char *pt_format_table(const int16_t *tokens);

#endif
