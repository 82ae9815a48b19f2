/* Per-sample settings for the evaluation (eval_setting.h). */
#include "eval/eval_setting.h"

#include <stdlib.h>
#include <string.h>

int eval_setting_of(const int32_t *settings, int sample, const Value *vocab, int n_vocab,
                    int max_seq_len, GenSetting *store, EvalSetting *out) {
    if (!settings) {
        *out = (EvalSetting){vocab, n_vocab, max_seq_len, false, 0};
        return 0;
    }
    if (gen_setting_from_row(settings + (size_t)sample * GEN_SETTING_COLS, store) != 0) return -1;
    *out =
        (EvalSetting){store->vocab, store->n_vocab, store->max_seq_len, store->causal, store->kind};
    return 0;
}
