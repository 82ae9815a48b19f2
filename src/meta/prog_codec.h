/* Program-token tables <-> the flat token sequence the meta-model reads and writes.
 *
 * The table [PT_ROWS, PT_COLS] (gen/program_tokens.h) becomes one sequence: the six fields of
 * each operation row in column order, row after row, then EOS. The START row is implied by
 * BOS (the decoder's first input) and the END row and padding by EOS. One flat vocabulary is
 * the union of the column vocabularies with per-column offsets (ids below 3, PAD/START/END,
 * are framing and have no flat token):
 *
 *   0 PAD (input padding, never a target)   1 BOS   2 EOS
 *   pc_col_offset(c) + (id - 3)              column c's token id (id >= 3)
 *
 * A row whose fn is "table" is followed by its table (gen/program_tokens.h): its value tokens,
 * then the value token END. So a sequence of n rows without tables has 6n + 1 tokens (EOS
 * included) and its column is t mod 6; the same name in two columns ("-" in a1 and a2, v3 in
 * a1 and out) are different flat tokens and a column constraint is a range test.
 *
 * The vocabulary only grows at its end, so a meta-model keeps its meaning: ids below
 * PC_BASE_VOCAB are the flat tokens from before tables (the fn column then ended with the
 * library's PT_LIB_V1 entries); then "fn:table", the value tokens PC_VAL0.. (value id 3..)
 * and "val:END" (PC_VAL_END), then fn ids beyond "table" (library entries added later). A
 * meta-model trained with PC_BASE_VOCAB outputs still decodes (without tables). */
#ifndef ITRACR_META_PROG_CODEC_H
#define ITRACR_META_PROG_CODEC_H
#include <stddef.h>
#include <stdint.h>

#include "gen/program_tokens.h"

enum { PC_PAD = 0, PC_BOS = 1, PC_EOS = 2, PC_FIRST = 3 };
#define PC_BASE_VOCAB 160
enum { PC_FN_TABLE = PC_BASE_VOCAB, PC_VAL0, PC_VAL_END = PC_VAL0 + (PT_VAL_VOCAB - 3) };
#define PC_COL_VAL PT_COLS /* the "column" pc_unflat gives value tokens */
/* Tokens after BOS at most: 30 rows of 6 fields and EOS (tables use the cells rows leave). */
#define PC_MAX_LEN (PT_MAX_VARS * PT_COLS + 1)

/* Flat vocabulary size (needs the lambda library: 0 when gen_lib_init fails). */
int pc_vocab_size(void);
/* Flat id of column c's token id 3. */
int pc_col_offset(int col);
/* Flat id of (col, id) for id in [3, pt_vocab_size(col)), else -1. */
int pc_flat(int col, int id);
/* Flat id of value token id (3..PT_VAL_VOCAB-1, or PT_END for val:END), else -1. */
int pc_flat_value(int id);
/* Column (PC_COL_VAL for a value token) and id of a flat id >= PC_FIRST; returns 0, or -1
 * for a framing/unknown id. */
int pc_unflat(int flat, int *col, int *id);
/* "BOS", "EOS", "PAD", or "<col>:<name>" (e.g. "op:Map", "a1:v2"); "#<id>" if unknown. */
const char *pc_token_name(int flat, char *buf, size_t cap);

/* table [PT_ROWS * PT_COLS] -> seq [PC_MAX_LEN] (operation rows, each table after its row,
 * then EOS, no BOS), *len.
 * Checks the framing and that every field is a known non-framing id of its column (not the
 * deeper program rules: pt_decode does that). Returns 0, or non-zero with a message. */
int pc_encode(const int16_t *table, int32_t *seq, int *len, char *err, size_t errcap);
/* seq[len] (no BOS; must end with EOS right after a whole number of rows, and have no EOS
 * before) -> framed, padded table [PT_ROWS * PT_COLS]. Returns 0, or non-zero with a message. */
int pc_decode(const int32_t *seq, int len, int16_t *table, char *err, size_t errcap);

#endif
