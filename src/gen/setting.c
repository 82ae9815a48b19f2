/* Per-program settings as integer rows (sampler.h, "settings as integers"): the form the
 * dataset shards store, and a one-line description for reports. */
#include <stdio.h>
#include <string.h>

#include "gen/sampler.h"

/* The symbols string vocabularies draw from: the letters, then these words (ascending; none
 * is a name Tracr's compiler reserves, BOS and PAD, and no word is a single letter, so a
 * mixed vocabulary stays unambiguous). Append only: a code is an index here. */
static const char *const k_symbols[GEN_N_SYMBOLS] = {
    "a",   "b",   "c",   "d",   "e",   "f",   "g",   "h",   "i",   "j",   "k",   "l",
    "m",   "n",   "o",   "p",   "q",   "r",   "s",   "t",   "u",   "v",   "w",   "x",
    "y",   "z",   "and", "ant", "bee", "big", "cat", "cow", "cup", "day", "dog", "egg",
    "fox", "hat", "hen", "ice", "jam", "key", "map", "net", "owl", "pen", "pig", "red",
    "run", "sea", "sun", "the", "top", "up",  "van", "wax", "yes", "zoo"};

const char *gen_symbol(int k) { return k >= 0 && k < GEN_N_SYMBOLS ? k_symbols[k] : NULL; }

static int value_code(Value v, int32_t *code) {
    if (v.kind == VAL_INT && v.u.i >= 0 && v.u.i < (1 << 30)) {
        *code = (int32_t)v.u.i;
        return 0;
    }
    if (v.kind == VAL_STR)
        for (int k = 0; k < GEN_N_SYMBOLS; k++)
            if (strcmp(v.u.s, k_symbols[k]) == 0) {
                *code = -(1 + k);
                return 0;
            }
    return -1;
}

int gen_setting_to_row(const GenSetting *g, int32_t *row) {
    memset(row, 0, sizeof(int32_t) * GEN_SETTING_COLS);
    if (g->n_vocab < 1 || g->n_vocab > GEN_MAX_VOCAB) return -1;
    row[GEN_SET_KIND] = g->kind;
    row[GEN_SET_N_VOCAB] = g->n_vocab;
    row[GEN_SET_MAX_SEQ_LEN] = g->max_seq_len;
    row[GEN_SET_CAUSAL] = g->causal;
    for (int i = 0; i < g->n_vocab; i++)
        if (value_code(g->vocab[i], &row[GEN_SET_VOCAB0 + i])) return -1;
    return 0;
}

int gen_setting_from_row(const int32_t *row, GenSetting *g) {
    memset(g, 0, sizeof *g);
    int n = row[GEN_SET_N_VOCAB];
    if (!gen_vocab_kind_name(row[GEN_SET_KIND]) || n < 1 || n > GEN_MAX_VOCAB ||
        row[GEN_SET_MAX_SEQ_LEN] < 1 || row[GEN_SET_MAX_SEQ_LEN] > 1024 ||
        (row[GEN_SET_CAUSAL] != 0 && row[GEN_SET_CAUSAL] != 1))
        return -1;
    g->kind = row[GEN_SET_KIND];
    g->n_vocab = n;
    g->max_seq_len = row[GEN_SET_MAX_SEQ_LEN];
    g->causal = row[GEN_SET_CAUSAL] != 0;
    for (int i = 0; i < n; i++) {
        int32_t c = row[GEN_SET_VOCAB0 + i];
        if (c >= 0) g->vocab[i] = val_int(c);
        else if (c >= -GEN_N_SYMBOLS) g->vocab[i] = val_str(k_symbols[-c - 1]);
        else return -1;
        for (int j = 0; j < i; j++)
            if (val_eq(g->vocab[j], g->vocab[i])) return -1;
    }
    return 0;
}

void gen_setting_describe(const GenSetting *g, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "%s %d [",
                                gen_vocab_kind_name(g->kind) ? gen_vocab_kind_name(g->kind) : "?",
                                g->n_vocab);
    for (int i = 0; i < g->n_vocab && n < cap; i++) {
        char v[64];
        val_str_fmt(g->vocab[i], v, sizeof v);
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? " " : "", v);
    }
    if (n < cap)
        snprintf(buf + n, cap - n, "] len %d%s", g->max_seq_len, g->causal ? " causal" : "");
}
