/* Decoding one compiled model's weight tokens into a program-token table: the flat sequence
 * (prog_codec.h) decoded greedily or by beam search under the validity constraint
 * (constrain.h), then turned back into a table. */
#ifndef ITRACR_META_DECODE_TABLE_H
#define ITRACR_META_DECODE_TABLE_H
#include <stddef.h>
#include <stdint.h>

#include "meta/constrain.h"
#include "meta/meta_model.h"

/* The weight tokens' ids [P, WT_N_IDS] as the int32 the model's batches take (malloc'ed;
 * NULL when out of memory). */
int32_t *meta_ids_widen(const int16_t *ids, int P);

/* payload [P, WT_WIDTH], ids [P, WT_N_IDS] -> table [PT_ROWS * PT_COLS]. beam <= 1: greedy.
 * Returns 0, or non-zero with a message (more weight tokens than the model takes, a decoding
 * error, no EOS within the length limit). */
int meta_decode_table(MetaModel *m, const float *payload, const int16_t *ids, int P, int beam,
                      int16_t *table, char *err, size_t errcap);
/* The same, right after a meta_forward of m on this same prefix (batch of one, e.g. the
 * teacher-forced pass): the prefix's keys and values come from that pass (reuse_prefix in
 * meta_decode.h), which saves one encoding of the prefix. */
int meta_decode_table_reuse(MetaModel *m, const float *payload, const int16_t *ids, int P, int beam,
                            int16_t *table, char *err, size_t errcap);
/* meta_decode_table for the compiled model whose vocabulary and max_seq_len `model` gives
 * (constrain.h, PcContext): the decoded program validates on them, and may hold tables. */
int meta_decode_table_for(MetaModel *m, const float *payload, const int16_t *ids, int P, int beam,
                          const PcContext *model, int16_t *table, char *err, size_t errcap);
/* A meta-model output size this build decodes: pc_vocab_size(), or PC_BASE_VOCAB (a model
 * trained before tables). */
int meta_vocab_known(int vocab);

#endif
