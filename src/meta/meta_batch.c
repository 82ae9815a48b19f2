#include <stdio.h>

#include "meta/meta.h"

int meta_batch_validate(const MetaConfig *c, const MetaBatch *b, int max_batch, char *err,
                        size_t errcap) {
#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(err, errcap, "meta batch: " __VA_ARGS__);                                         \
        return -1;                                                                                 \
    } while (0)
    if (b->B < 1 || b->B > max_batch) BAD("batch size %d out of range [1, %d]", b->B, max_batch);
    if (b->P < 0 || b->P > c->max_prefix)
        BAD("prefix length %d out of range [0, %d]", b->P, c->max_prefix);
    if (b->T < 1 || b->T > c->max_prog)
        BAD("program length %d out of range [1, %d]", b->T, c->max_prog);
    if (!b->prefix_len || !b->tokens || (b->P > 0 && (!b->payload || (c->n_id_fields && !b->ids))))
        BAD("missing input array");
    int K = c->n_id_fields;
    for (int s = 0; s < b->B; s++) {
        int np = b->prefix_len[s];
        if (np < 0 || np > b->P) BAD("sample %d: prefix_len %d out of range [0, %d]", s, np, b->P);
        for (int p = 0; p < np; p++)
            for (int k = 0; k < K; k++) {
                int v = b->ids[((size_t)s * b->P + p) * K + k];
                if (v < 0 || v >= c->id_vocab[k])
                    BAD("sample %d weight token %d: id field %d = %d out of range [0, %d)", s, p, k,
                        v, c->id_vocab[k]);
            }
        for (int t = 0; t < b->T; t++) {
            int v = b->tokens[(size_t)s * b->T + t];
            if (v < 0 || v >= c->vocab)
                BAD("sample %d: token %d = %d out of range [0, %d)", s, t, v, c->vocab);
            if (b->targets) {
                v = b->targets[(size_t)s * b->T + t];
                if (v < -1 || v >= c->vocab)
                    BAD("sample %d: target %d = %d out of range [-1, %d)", s, t, v, c->vocab);
            }
        }
    }
#undef BAD
    return 0;
}
