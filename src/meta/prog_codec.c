/* Flat program tokens (prog_codec.h). */
#include "meta/prog_codec.h"

#include <stdio.h>
#include <string.h>

#include "gen/lambda_lib.h"

static const char *const k_colname[PT_COLS] = {"op", "enc", "fn", "a1", "a2", "out"};

int pc_col_offset(int col) {
    int off = PC_FIRST;
    for (int c = 0; c < col && c < PT_COLS; c++) off += pt_vocab_size(c) - 3;
    return off;
}

int pc_vocab_size(void) {
    char err[200];
    if (gen_lib_init(err, sizeof err) != 0) return 0;
    return pc_col_offset(PT_COLS);
}

int pc_flat(int col, int id) {
    if (col < 0 || col >= PT_COLS || id < 3 || id >= pt_vocab_size(col)) return -1;
    return pc_col_offset(col) + id - 3;
}

int pc_unflat(int flat, int *col, int *id) {
    if (flat < PC_FIRST) return -1;
    for (int c = 0; c < PT_COLS; c++) {
        int lo = pc_col_offset(c), n = pt_vocab_size(c) - 3;
        if (flat >= lo && flat < lo + n) {
            *col = c;
            *id = flat - lo + 3;
            return 0;
        }
    }
    return -1;
}

const char *pc_token_name(int flat, char *buf, size_t cap) {
    static const char *const special[3] = {"PAD", "BOS", "EOS"};
    int col, id;
    if (flat >= 0 && flat < PC_FIRST) snprintf(buf, cap, "%s", special[flat]);
    else if (pc_unflat(flat, &col, &id) == 0) snprintf(buf, cap, "%s:%s", k_colname[col], pt_token_name(col, id));
    else snprintf(buf, cap, "#%d", flat);
    return buf;
}

int pc_encode(const int16_t *table, int32_t *seq, int *len, char *err, size_t errcap) {
    *len = 0;
    char e2[200];
    if (gen_lib_init(e2, sizeof e2) != 0) {
        snprintf(err, errcap, "lambda library: %s", e2);
        return 1;
    }
    for (int c = 0; c < PT_COLS; c++)
        if (table[c] != PT_START) {
            snprintf(err, errcap, "row 0: expected the START row");
            return 1;
        }
    int n = 0;
    for (int row = 1; row < PT_ROWS; row++) {
        const int16_t *t = table + row * PT_COLS;
        if (t[0] == PT_END) {
            for (int c = 1; c < PT_COLS; c++)
                if (t[c] != PT_END) {
                    snprintf(err, errcap, "row %d: incomplete END row", row);
                    return 1;
                }
            seq[n++] = PC_EOS;
            *len = n;
            return 0;
        }
        for (int c = 0; c < PT_COLS; c++) {
            int f = pc_flat(c, t[c]);
            if (f < 0) {
                snprintf(err, errcap, "row %d: id %d is not an operation token of column %s", row, t[c],
                         k_colname[c]);
                return 1;
            }
            seq[n++] = f;
        }
    }
    snprintf(err, errcap, "missing END row");
    return 1;
}

int pc_decode(const int32_t *seq, int len, int16_t *table, char *err, size_t errcap) {
    memset(table, 0, sizeof(int16_t) * PT_ROWS * PT_COLS);
    for (int c = 0; c < PT_COLS; c++) table[c] = PT_START;
    if (len < 1 || len > PC_MAX_LEN || seq[len - 1] != PC_EOS) {
        snprintf(err, errcap, "sequence of %d tokens does not end with EOS", len);
        return 1;
    }
    if ((len - 1) % PT_COLS != 0) {
        snprintf(err, errcap, "EOS at position %d is not at the start of a row", len - 1);
        return 1;
    }
    int rows = (len - 1) / PT_COLS;
    for (int i = 0; i < len - 1; i++) {
        int col, id;
        if (pc_unflat(seq[i], &col, &id) != 0 || col != i % PT_COLS) {
            char nb[64];
            snprintf(err, errcap, "position %d: %s is not a token of column %s", i,
                     pc_token_name(seq[i], nb, sizeof nb), k_colname[i % PT_COLS]);
            return 1;
        }
        table[(1 + i / PT_COLS) * PT_COLS + col] = (int16_t)id;
    }
    for (int c = 0; c < PT_COLS; c++) table[(rows + 1) * PT_COLS + c] = PT_END;
    return 0;
}
