/* The decoding constraint: which flat program token (prog_codec.h) may come next so that
 * every finished sequence decodes (pt_decode) to a valid program.
 *
 * Rules, per field of the row being written:
 *   - a field takes only tokens of its column (t mod 6), out only the row's own variable;
 *   - op/enc/fn/a1/a2 follow pt_tokens_to_ops' row rules (Select: enc '-', a predicate,
 *     two categorical SOps; Aggregate: a Select then an SOp of its encoding; ...);
 *   - an argument names tokens, indices or a variable defined in an earlier row;
 *   - EOS only at the start of a row, when every row but the last is used and the last is an
 *     SOp; no more than PT_MAX_VARS rows;
 *   - look-ahead: a token is allowed only if the row can still be completed and the rows left
 *     can still consume every unused variable (so decoding never reaches a dead end where no
 *     token is allowed, and never runs out of rows).
 * Stateless: the state is recomputed from the sequence at every call (at most 181 tokens). */
#ifndef ITRACR_META_CONSTRAIN_H
#define ITRACR_META_CONSTRAIN_H
#include <stdint.h>

#include "rasp/value.h"

/* The model a decoding is for: with its vocabulary (n_vocab > 0), the constraint also
 * applies rasp_validate_compilable's rules on it (a library function must not raise on its
 * input's value set, order predicates must compare the values, a numerical mean needs 0/1,
 * a categorical Aggregate must fit its head, the finished program must validate) and allows
 * tables (their length is the input's value-set size, their values those of the
 * vocabulary). model_vocab: the meta-model's output size (0: pc_vocab_size()); a
 * meta-model of PC_BASE_VOCAB outputs never gets a table token. */
typedef struct PcContext {
    const Value *vocab; /* the model's tokens, any order */
    int n_vocab;
    int max_seq_len;
    int model_vocab;
} PcContext;

/* As pc_allowed, for ctx (NULL: the rules without a vocabulary, and no tables). */
int pc_allowed_ctx(const PcContext *ctx, const int32_t *seq, int n, unsigned char *allowed);

/* seq[n]: the flat tokens so far, without BOS. allowed[pc_vocab_size()] is overwritten: 1
 * for the tokens that may come next. Returns the number allowed (0 after EOS or for a
 * sequence that already broke the rules), or -1 if seq has an unknown token. */
int pc_allowed(const int32_t *seq, int n, unsigned char *allowed);

/* MetaConstraintFn adapter (meta_decode.h): prog[0] is BOS, user a PcContext (or NULL).
 * Clears the disallowed entries of allowed[model_vocab]; returns non-zero when nothing is
 * allowed (a sequence that is not a valid prefix). */
int pc_constraint_fn(void *user, const int32_t *prog, int n, unsigned char *allowed);

#endif
