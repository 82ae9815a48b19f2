/* Constrained decoding to a program-token table (meta.h). */
#include "meta/meta.h"

#include <stdio.h>
#include <stdlib.h>

#include "dataset/weight_tokens.h"

int32_t *meta_ids_widen(const int16_t *ids, int P) {
    int32_t *w = malloc(sizeof(int32_t) * WT_N_IDS * (size_t)(P > 0 ? P : 1));
    if (w)
        for (long i = 0; i < (long)P * WT_N_IDS; i++) w[i] = ids[i];
    return w;
}

static int decode_table(MetaModel *m, const float *payload, const int16_t *ids, int P, int beam,
                        int reuse, const PcContext *model, int16_t *table, char *err,
                        size_t errcap) {
    if (P > m->cfg.max_prefix) {
        snprintf(err, errcap, "%d weight tokens, but the meta-model takes at most %d", P,
                 m->cfg.max_prefix);
        return 1;
    }
    if (m->cfg.payload_dim != WT_WIDTH || m->cfg.n_id_fields != WT_N_IDS ||
        !meta_vocab_known(m->cfg.vocab)) {
        snprintf(
            err, errcap,
            "the meta-model's config does not match the token formats (payload %d, ids %d, vocab %d)",
            m->cfg.payload_dim, m->cfg.n_id_fields, m->cfg.vocab);
        return 1;
    }
    int32_t *ids32 = meta_ids_widen(ids, P);
    if (!ids32) {
        snprintf(err, errcap, "out of memory");
        return 1;
    }
    MetaPrefix pre = {P, payload, ids32};
    int max_len = m->cfg.max_prog < PC_MAX_LEN ? m->cfg.max_prog : PC_MAX_LEN;
    /* the constraint clears only the model's outputs (a meta-model from before tables has
     * PC_BASE_VOCAB of them and never gets a table) */
    PcContext ctx = {NULL, 0, 0, m->cfg.vocab, NULL};
    if (model) {
        ctx = *model;
        ctx.model_vocab = m->cfg.vocab;
        ctx.cache = pc_cache_new(); /* NULL: slower, same result */
    }
    MetaDecodeOpts o = {PC_BOS, PC_EOS, max_len, pc_constraint_fn, &ctx, reuse};
    int32_t out[PC_MAX_LEN];
    int n = 0, rc;
    if (beam <= 1) rc = meta_decode_greedy(m, &pre, &o, out, &n, err, errcap);
    else rc = meta_decode_beam(m, &pre, &o, beam, out, &n, NULL, err, errcap);
    free(ids32);
    pc_cache_free(ctx.cache);
    if (rc != 0) return rc;
    return pc_decode(out, n, table, err, errcap);
}

int meta_vocab_known(int vocab) { return vocab == pc_vocab_size() || vocab == PC_BASE_VOCAB; }

int meta_decode_table(MetaModel *m, const float *payload, const int16_t *ids, int P, int beam,
                      int16_t *table, char *err, size_t errcap) {
    return decode_table(m, payload, ids, P, beam, 0, NULL, table, err, errcap);
}

int meta_decode_table_reuse(MetaModel *m, const float *payload, const int16_t *ids, int P, int beam,
                            int16_t *table, char *err, size_t errcap) {
    return decode_table(m, payload, ids, P, beam, 1, NULL, table, err, errcap);
}

int meta_decode_table_for(MetaModel *m, const float *payload, const int16_t *ids, int P, int beam,
                          const PcContext *model, int16_t *table, char *err, size_t errcap) {
    return decode_table(m, payload, ids, P, beam, 0, model, table, err, errcap);
}
